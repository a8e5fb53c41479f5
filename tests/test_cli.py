"""The command line, through click's CliRunner, on the sample Shapefiles."""

from __future__ import annotations

import json

import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner

from gridgeo.cli import main

from .conftest import SAMPLE

ARGS = [str(SAMPLE / "communities.shp"), str(SAMPLE / "buildings.shp"), "--households", "hh_est", "--community-id", "comm_id", "--building-id", "bldg_id"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "out"
    result = CliRunner().invoke(main, ["partition", *ARGS, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_partition_writes_every_output(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"partition.gpkg", "grids.geojson", "buildings.geojson", "units.geojson", "report.json"} <= names
    layers = set(pyogrio.list_layers(run_dir / "partition.gpkg")[:, 0])
    assert {"communities", "grids", "buildings", "units"} <= layers


def test_geojson_is_wgs84_and_gpkg_keeps_input_crs(run_dir):
    grids = gpd.read_file(run_dir / "grids.geojson")
    assert grids.crs.to_epsg() == 4326
    gpkg = gpd.read_file(run_dir / "partition.gpkg", layer="grids")
    assert gpkg.crs.to_epsg() == 4326  # the sample is stored in EPSG:4326
    assert {"grid_code", "community_id", "households", "n_buildings", "n_units", "area_m2", "polsby_popper", "status", "reason"} <= set(grids.columns)


def test_chinese_text_survives_the_round_trip(run_dir):
    buildings = gpd.read_file(run_dir / "partition.gpkg", layer="buildings")
    source = gpd.read_file(SAMPLE / "buildings.shp")
    assert buildings["district"].iloc[0] == source["district"].iloc[0]
    assert "區" in buildings["district"].iloc[0]
    assert {"building_code", "grid_code", "households", "households_estimated"} <= set(buildings.columns)


def test_report_json(run_dir):
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["n_defects"] == 0
    assert report["parameters"]["households"] == "hh_est"
    assert len(report["communities"]) == 4


def test_user_error_is_one_clear_message_and_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["partition", str(SAMPLE / "communities.shp"), str(SAMPLE / "buildings.shp"), "--households", "nope", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "buildings.shp" in result.output and "nope" in result.output and "hh_est" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_validate_reports_problems_with_exit_1(tmp_path):
    bad = gpd.read_file(SAMPLE / "buildings.shp")
    bad.loc[[3, 7], "hh_est"] = -1
    path = tmp_path / "bad.gpkg"
    bad.to_file(path, layer="buildings")
    result = CliRunner().invoke(main, ["validate", str(SAMPLE / "communities.shp"), f"{path}:buildings", "--households", "hh_est", "--community-id", "comm_id"])
    assert result.exit_code == 1
    assert "rows 4, 8" in result.output and "negative" in result.output


def test_validate_lists_code_band_and_input_problems_together(tmp_path):
    bad = gpd.read_file(SAMPLE / "buildings.shp")
    bad.loc[[3], "hh_est"] = -1
    path = tmp_path / "bad.gpkg"
    bad.to_file(path, layer="buildings")
    args = [str(SAMPLE / "communities.shp"), f"{path}:buildings", "--households", "hh_est", "--community-id", "comm_id"]
    result = CliRunner().invoke(
        main, ["validate", *args, "--grid-size", "500:300", "--code-scheme", "db11", "--county-code-column", "nope", "--compounds", str(tmp_path / "none.gpkg")]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    for expected in ("500:300 is not a band", "has no column 'nope'", "street-code-column", "row 4", "negative", "none.gpkg: file not found"):
        assert expected in result.output, expected
    assert result.output.startswith("6 problems:")


def test_validate_places_compounds(tmp_path):
    communities = gpd.read_file(SAMPLE / "communities.shp")
    compound = gpd.GeoDataFrame({"name": ["A"]}, geometry=[communities.to_crs(3826).geometry.iloc[0].centroid.buffer(60)], crs=3826)
    compound.to_file(tmp_path / "compounds.gpkg", layer="compounds")
    result = CliRunner().invoke(main, ["validate", *ARGS, "--compounds", str(tmp_path / "compounds.gpkg")])
    assert result.exit_code == 0, result.output
    assert "1 compound: 1 kept whole" in result.output


def test_validate_ok(tmp_path):
    result = CliRunner().invoke(main, ["validate", *ARGS])
    assert result.exit_code == 0
    assert "OK: 4 communities" in result.output


def test_config_file_gives_the_same_run_and_is_written_back(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        "\n".join(
            [
                f'communities = "{SAMPLE / "communities.shp"}"',
                f'buildings = "{SAMPLE / "buildings.shp"}"',
                'households = "hh_est"',
                'community-id = "comm_id"',
                'building_id = "bldg_id"',
                'grid-size = "300:500"',
                "seed = 0",
                "map = false",
                "report = false",
            ]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "from-config"
    result = CliRunner().invoke(main, ["partition", "--config", str(config), "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = (out / "config.toml").read_text(encoding="utf-8")
    assert 'households = "hh_est"' in written and "seed = 0" in written
    # repeating the run from the written configuration gives identical grids
    again = tmp_path / "again"
    result = CliRunner().invoke(main, ["partition", "--config", str(out / "config.toml"), "-o", str(again)])
    assert result.exit_code == 0, result.output
    assert (out / "grids.geojson").read_bytes() == (again / "grids.geojson").read_bytes()


def test_flags_override_the_config_file(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('grid-size = "300:500"\nmap = false\nreport = false\n', encoding="utf-8")
    out = tmp_path / "o"
    result = CliRunner().invoke(main, ["partition", *ARGS, "--config", str(config), "--grid-size", "200:400", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["parameters"]["grid_size"] == [200, 400]


def test_unknown_config_key_is_a_usage_error(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('grid_sise = "300:500"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["partition", *ARGS, "--config", str(config), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "unknown key 'grid_sise'" in result.output


def test_missing_arguments_are_named(tmp_path):
    result = CliRunner().invoke(main, ["partition", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "COMMUNITIES" in result.output and "BUILDINGS" in result.output


def test_unknown_format_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["partition", *ARGS, "--format", "dwg", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown format 'dwg'" in result.output


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "gridgeo" in result.output


def test_barriers_through_the_command_line_and_map_rerender(tmp_path):
    from .conftest import DATA

    out = tmp_path / "roads"
    args = [
        "partition",
        str(DATA / "monaco_communities.gpkg"),
        str(DATA / "monaco_buildings.gpkg"),
        "--households",
        "hh_est",
        "--barriers",
        f"{DATA / 'monaco_roads.gpkg'}:roads",
        "--lang",
        "en",
        "-o",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["parameters"]["barriers"] == 1
    first = (out / "map.html").read_text(encoding="utf-8")
    assert '"lang"' in first or 'lang="en"' in first
    # re-rendering without flags keeps the run's language and barriers
    result = CliRunner().invoke(main, ["map", str(out)])
    assert result.exit_code == 0, result.output
    again = (out / "map.html").read_text(encoding="utf-8")
    assert 'lang="en"' in again
    result = CliRunner().invoke(main, ["map", str(out), "--barriers", f"{DATA / 'monaco_roads.gpkg'}:roads", "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert 'lang="zh' in (out / "map.html").read_text(encoding="utf-8")
    # a Tianditu basemap without a key: the command's options in the fix, as partition says it; the map unchanged
    before = (out / "map.html").read_bytes()
    result = CliRunner(env={"TIANDITU_KEY": ""}).invoke(main, ["map", str(out), "--basemap", "tianditu", "--lang", "en"])
    assert result.exit_code == 2, result.output
    assert "--basemap tianditu: needs a Tianditu key — fix: pass --tianditu-key KEY (or set TIANDITU_KEY), or use --basemap osm" in result.output
    assert "tianditu_key=" not in result.output and (out / "map.html").read_bytes() == before


def test_saved_config_uses_absolute_paths(run_dir):
    text = (run_dir / "config.toml").read_text(encoding="utf-8")
    assert f'communities = "{(SAMPLE / "communities.shp").resolve()}"' in text


def test_validate_missing_file_exits_1(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "none.shp"), str(SAMPLE / "buildings.shp")])
    assert result.exit_code == 1
    assert "file not found" in result.output
