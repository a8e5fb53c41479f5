"""Rough edges of the command line, each checked as a user meets it (sample Shapefiles and real slices in tests/data)."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from gridgeo.cli import main

from .conftest import DATA, REPO, SAMPLE, SHARED, file_hashes

ARGS = [str(SAMPLE / "communities.shp"), str(SAMPLE / "buildings.shp"), "--households", "hh_est", "--community-id", "comm_id", "--building-id", "bldg_id"]
QUICK = ["--no-map", "--no-report"]


def _invoke(args):
    return CliRunner().invoke(main, args)


# -- output folders -------------------------------------------------------------------------------------
def test_demo_on_a_folder_it_may_not_replace_exits_2_cleanly(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    monkeypatch.setattr("gridgeo.cli.demo._sample_folder", lambda: SAMPLE)
    result = _invoke(["demo", "-o", str(folder)])
    assert result.exit_code == 2, result.output
    assert "is not a gridgeo output folder" in result.output
    assert "Internal error" not in result.output and "Exit" not in result.output
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_overwrite_advice_is_a_flag_and_following_it_works(tmp_path):
    out = tmp_path / "out"
    assert _invoke(["partition", *ARGS, *QUICK, "-o", str(out)]).exit_code == 0
    again = _invoke(["partition", *ARGS, *QUICK, "-o", str(out)])
    assert again.exit_code == 2
    assert "pass --overwrite to replace it" in again.output
    assert "overwrite=True" not in again.output
    followed = _invoke(["partition", *ARGS, *QUICK, "-o", str(out), "--overwrite"])
    assert followed.exit_code == 0, followed.output


def test_a_folder_overwrite_would_not_replace_is_refused_as_such_at_once(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    for extra in ([], ["--overwrite"]):  # the same refusal with or without the flag: no advice that leads to a second refusal
        result = _invoke(["partition", *ARGS, *QUICK, "-o", str(folder), *extra])
        assert result.exit_code == 2
        assert "is not a gridgeo output folder" in result.output and "choose a new folder" in result.output
        assert "pass --overwrite" not in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_overwrite_never_deletes_a_file_gridgeo_did_not_write(tmp_path):
    """An earlier output holding a planner's own file is not replaced (the file was deleted with the folder); once the
    file is moved out, --overwrite replaces the output."""
    out = tmp_path / "out"
    assert _invoke(["partition", *ARGS, *QUICK, "-o", str(out)]).exit_code == 0
    (out / "mynotes.txt").write_text("keep me", encoding="utf-8")
    refused = _invoke(["partition", *ARGS, *QUICK, "-o", str(out), "--overwrite"])
    assert refused.exit_code == 2, refused.output
    assert "holds a file gridgeo did not write (mynotes.txt), which --overwrite would delete" in refused.output
    assert (out / "mynotes.txt").read_text(encoding="utf-8") == "keep me" and (out / "report.json").exists()
    (out / "mynotes.txt").unlink()
    assert _invoke(["partition", *ARGS, *QUICK, "-o", str(out), "--overwrite"]).exit_code == 0


# -- validate -------------------------------------------------------------------------------------------
@pytest.fixture()
def overlapping(tmp_path):
    """The real Taipei villages with the first one's boundary pushed 40 m into its neighbours."""
    communities = gpd.read_file(DATA / "taipei_small_communities.gpkg", layer="communities")
    metric = communities.to_crs(3826)
    grown = metric.geometry.copy()
    grown.iloc[0] = grown.iloc[0].buffer(40)
    communities = communities.set_geometry(grown.to_crs(communities.crs))
    path = tmp_path / "communities.gpkg"
    communities.to_file(path, layer="communities")
    expected = shapely.area(shapely.intersection(grown.iloc[0], grown.iloc[1:].union_all()))
    return path, expected


def test_validate_fails_on_overlapping_communities(overlapping):
    path, expected = overlapping
    result = _invoke(["validate", str(path), str(DATA / "taipei_small_buildings.gpkg"), "--building-id", "building_id"])
    assert result.exit_code == 1, result.output
    assert not result.output.startswith("OK")
    problems = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1
    assert "pairs of communities overlap" in problems[0] and "6300600014 & 6300600015" in problems[0]
    assert "clip the boundaries" in problems[0]
    shown = sum(float(m.replace(",", "")) for m in re.findall(r": ([\d,]+) m²", problems[0]))
    assert shown == pytest.approx(expected, rel=0.02)  # the areas measured in the local UTM zone, not TWD97


def test_a_run_on_overlapping_communities_reports_the_overlap_beside_the_coverage(overlapping, tmp_path):
    """The grids of each community tile it (coverage valid within each), but the overlap of the input communities is
    covered twice: report.json and report.html say how much (the report said only 覆盖有效 是, 最大重叠 0)."""
    path, expected = overlapping
    out = tmp_path / "out"
    result = _invoke(["partition", str(path), str(DATA / "taipei_small_buildings.gpkg"), "--households", "hh_est", "--no-map", "-o", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "report.json").read_text(encoding="utf-8"))["summary"]
    assert summary["coverage_valid"] is True
    assert summary["community_overlap_m2"] == pytest.approx(expected, rel=0.02)
    page = (out / "report.html").read_text(encoding="utf-8")
    row = re.search(r'<tr id="summary-community_overlap"><th>(.*?)</th><td class="n bad">([\d,]+)</td>', page)
    assert row and row.group(1).startswith("输入的社区相互重叠") and float(row.group(2).replace(",", "")) == pytest.approx(expected, rel=0.02)


def _messages(output: str) -> list[str]:
    """Every note, problem and logged warning, without its prefix."""
    found = []
    for line in output.splitlines():
        for prefix in ("  note: ", "  - ", "WARNING: "):
            if line.startswith(prefix):
                found.append(line[len(prefix):])
    return found


@pytest.mark.parametrize("building_id", [None, "building_id"])
def test_validate_says_each_thing_once(building_id):
    """Real Taipei slice: estimated households, straddling buildings — each message once (notes on stdout, warnings on stderr)."""
    args = ["validate", str(DATA / "taipei_small_communities.gpkg"), str(DATA / "taipei_small_buildings.gpkg")]
    result = _invoke(args + (["--building-id", building_id] if building_id else []))
    assert result.exit_code == 0, result.output
    messages = _messages(result.output)
    assert any("straddle" in m for m in messages) and any("ESTIMATED" in m for m in messages)
    assert len(messages) == len(set(messages)), result.output


def test_validate_names_buildings_by_their_id(tmp_path):
    """The real shanghai data has nested and identical footprints; with --building-id they are named by it, not by row."""
    shanghai = SHARED / "shanghai_bund"
    if not shanghai.exists():
        pytest.skip("the shared shanghai_bund data is not beside the repository")
    communities, buildings = f"{shanghai / 'communities.gpkg'}:communities", str(shanghai / "buildings.gpkg")
    ids = set(gpd.read_file(shanghai / "buildings.gpkg", layer="buildings", columns=["building_id"], ignore_geometry=True)["building_id"].astype(str))
    by_row = _invoke(["validate", communities, buildings, "--households", "hh_est"])
    by_id = _invoke(["validate", communities, buildings, "--households", "hh_est", "--building-id", "building_id"])
    assert by_row.exit_code == by_id.exit_code == 0, by_id.output
    about_buildings = [m for m in _messages(by_id.output) if m.startswith("buildings.gpkg:")]
    assert any("inside another building's footprint" in m for m in about_buildings)
    assert any("same geometry as another building" in m for m in about_buildings)
    for message in about_buildings:
        assert not re.search(r"\brows? \d", message), message
        named = re.match(r"buildings\.gpkg: (?:\d+ buildings .*\()?building_id ([^ ,;)]+(?:, [^ ,;)]+)*)", message)
        assert named, message
        assert set(named.group(1).split(", ")) <= ids
    assert any(re.search(r"\brows \d", m) for m in _messages(by_row.output))  # without an id column, rows


# -- apply-edits ------------------------------------------------------------------------------------------
def test_apply_edits_summary_counts_the_pins_report_json_lists(tmp_path):
    out, edited = tmp_path / "out", tmp_path / "edited"
    assert _invoke(["partition", *ARGS, *QUICK, "-o", str(out)]).exit_code == 0
    buildings = gpd.read_file(out / "partition.gpkg", layer="buildings")
    grids = gpd.read_file(out / "partition.gpkg", layer="grids")
    first = buildings.iloc[0]
    target = sorted(set(grids.loc[grids["community_id"] == grids.loc[grids["grid_code"] == first["grid_code"], "community_id"].iloc[0], "grid_code"]) - {first["grid_code"]})[0]
    (tmp_path / "edits.csv").write_text(f"building_code,grid_code\n{first['building_code']},{target}\n", encoding="utf-8")
    result = _invoke(["apply-edits", str(out), str(tmp_path / "edits.csv"), "-o", str(edited), *QUICK])
    assert result.exit_code == 0, result.output
    report = json.loads((edited / "report.json").read_text(encoding="utf-8"))
    assert report["pinned_buildings"] == {first["building_code"]: target}
    assert "1 building moved, 0 pinned in place (1 pinned in the plan)" in result.output


# -- help -------------------------------------------------------------------------------------------------
def test_help_has_no_wrapping_artefacts():
    commands = sorted(main.commands)
    for name in ["", *commands]:
        text = _invoke([*([name] if name else []), "--help"]).output
        assert not re.search(r"\w/\s+\w", text), (name, text)
    assert "grids.geojson, buildings.geojson, units.geojson" in re.sub(r"\s+", " ", _invoke(["partition", "--help"]).output)


# -- scripts/partition_city.py ----------------------------------------------------------------------------
def test_partition_city_writes_what_the_command_writes(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import partition_city

    city, cli = tmp_path / "city", tmp_path / "cli"
    assert partition_city.main([*ARGS[:2], str(city), *ARGS[2:]]) == 0
    settings = [item for pair in partition_city.SETTINGS.items() for item in pair]
    assert _invoke(["partition", *ARGS, "-o", str(cli), *settings]).exit_code == 0
    assert sorted(p.name for p in city.iterdir()) == sorted(p.name for p in cli.iterdir())
    assert {"config.toml", "map.html", "report.html", "report.json", "roster.xlsx"} <= {p.name for p in city.iterdir()}
    config = (city / "config.toml").read_text(encoding="utf-8")
    assert 'building_id = "bldg_id"' in config
    again = tmp_path / "again"
    assert _invoke(["partition", "--config", str(city / "config.toml"), "-o", str(again)]).exit_code == 0
    same = ("partition.gpkg", "grids.geojson", "buildings.geojson", "units.geojson")
    assert {k: v for k, v in file_hashes(again).items() if k in same} == {k: v for k, v in file_hashes(city).items() if k in same}
    assert partition_city.main([*ARGS[:2], str(tmp_path / "bad"), "--households", "nope"]) == 2
    assert not (tmp_path / "bad").exists()


def test_shp_encoding_without_shapefiles_says_it_has_no_effect(tmp_path):
    # the README pairs --format shp with --shp-encoding gbk; given alone it wrote no Shapefile and said nothing
    alone = _invoke(["partition", *ARGS, *QUICK, "--shp-encoding", "gbk", "-o", str(tmp_path / "alone")])
    assert alone.exit_code == 0, alone.output
    assert "WARNING: --shp-encoding gbk has no effect: Shapefiles are written only with --format shp" in alone.output
    assert not (tmp_path / "alone" / "shp").exists()
    chinese = _invoke(["partition", *ARGS, *QUICK, "--shp-encoding", "gbk", "--lang", "zh", "-o", str(tmp_path / "zh")])
    assert "警告：--shp-encoding gbk 未起作用：只有加 --format shp 才会输出 Shapefile" in chinese.output, chinese.output
    both = _invoke(["partition", *ARGS, *QUICK, "--format", "shp", "--shp-encoding", "gbk", "-o", str(tmp_path / "both")])
    assert both.exit_code == 0 and "has no effect" not in both.output, both.output
    assert (tmp_path / "both" / "shp" / "grids.cpg").read_text() == "GBK"
