"""Tables as input: a CSV or XLSX of building points (``--x``/``--y`` or ``--wkt``, ``--crs``) is accepted for
BUILDINGS in ``partition`` and ``validate``; a table where a map layer is needed is a clear error, never an internal one.

Built from the real Taipei slice of ``tests/data`` (284 buildings, as their representative points).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import CRSError, InputError
from gridgeo.inputs.io import read_layer, read_point_table

from .conftest import DATA


@pytest.fixture(scope="module")
def taipei():
    return gpd.read_file(DATA / "taipei_small_communities.gpkg"), gpd.read_file(DATA / "taipei_small_buildings.gpkg")


@pytest.fixture()
def tables(taipei, tmp_path):
    """c.gpkg, c.csv (its attributes), b.csv (lon, lat of each building's representative point) and b.xlsx (WKT)."""
    communities, buildings = taipei
    points = buildings.geometry.representative_point()
    attributes = pd.DataFrame(buildings.drop(columns="geometry"))
    communities.to_file(tmp_path / "c.gpkg")
    pd.DataFrame(communities.drop(columns="geometry")).to_csv(tmp_path / "c.csv", index=False)
    attributes.assign(lon=points.x, lat=points.y).to_csv(tmp_path / "b.csv", index=False, encoding="utf-8-sig")
    attributes.assign(wkt=points.to_wkt(rounding_precision=-1)).to_excel(tmp_path / "b.xlsx", index=False)
    return tmp_path


def test_points_from_a_csv_partition_as_the_same_points_from_a_geopackage(taipei, tables):
    communities, buildings = taipei
    from_csv = read_point_table(tables / "b.csv", x="lon", y="lat")
    from_xlsx = read_point_table(tables / "b.xlsx", wkt="wkt")
    assert len(from_csv) == len(from_xlsx) == len(buildings) and from_csv.crs.to_epsg() == 4326
    assert from_csv.geometry.geom_equals_exact(buildings.geometry.representative_point(), tolerance=0).all()
    assert from_xlsx.geometry.geom_equals_exact(from_csv.geometry, tolerance=0).all()
    assert "wkt" not in from_xlsx.columns and {"lon", "lat"} <= set(from_csv.columns)
    assert from_csv["building_id"].tolist() == buildings["building_id"].tolist()
    assert from_csv["hh_est"].dtype.kind == "i" and from_csv["district"].tolist() == buildings["district"].tolist()
    layer = gpd.GeoDataFrame(buildings.drop(columns="geometry"), geometry=buildings.geometry.representative_point(), crs=buildings.crs)
    a = gridgeo.partition(communities, from_csv, households="hh_est", building_id="building_id")
    b = gridgeo.partition(communities, layer, households="hh_est", building_id="building_id")
    columns = ["grid_code", "households", "n_buildings", "status"]
    assert a.grids[columns].equals(b.grids[columns])
    assert a.grids.geometry.geom_equals_exact(b.grids.geometry, tolerance=0).all()
    assert a.buildings["grid_code"].tolist() == b.buildings["grid_code"].tolist()


def test_codes_stay_text_and_blank_coordinates_are_kept_without_geometry(tmp_path, caplog):
    path = tmp_path / "楼栋.csv"
    path.write_text("编号,x,y,户数,note\n007,121.5011,25.0532,24,a\n008,,,12,b\n9,121.502,25.054,3.5,\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="gridgeo.inputs.io"):
        frame = read_point_table(path, x="x", y="y")
    assert frame["编号"].tolist() == ["007", "008", "9"]  # a leading zero marks a code
    assert frame["户数"].tolist() == [24.0, 12.0, 3.5]
    assert frame.geometry.isna().tolist() == [False, True, False]
    assert "楼栋.csv: no coordinates in row 2; kept without geometry" in [r.getMessage() for r in caplog.records]


def test_gbk_csv_needs_its_encoding(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes("名称,lon,lat\n景星里,121.5,25.06\n".encode("gbk"))
    with pytest.raises(InputError, match="pass --encoding gbk"):
        read_point_table(path, x="lon", y="lat")
    assert read_point_table(path, x="lon", y="lat", encoding="gbk")["名称"].tolist() == ["景星里"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "is a table: its coordinate columns must be named — fix: pass --x lon --y lat"),
        ({"x": "lon"}, "only --x names a coordinate column"),
        ({"x": "lon", "y": "lat", "wkt": "lon"}, "both --wkt and --x/--y"),
        ({"x": "lng", "y": "lat"}, "has no column 'lng' (columns: 名称, lon, lat)"),
        ({"x": "lon", "y": "lat", "crs": "EPSG:99999999"}, "--crs: unknown coordinate reference system"),
        ({"wkt": "名称"}, "rows 1, 2: column '名称' is not WKT"),
    ],
)
def test_table_errors_name_the_file_and_the_fix(tmp_path, options, message):
    path = tmp_path / "b.csv"
    path.write_text("名称,lon,lat\n景星里,121.5,25.06\n國順里,121.51,25.07\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_point_table(path, **options)
    assert message in str(info.value) and "fix:" in str(info.value)


def test_coordinates_that_do_not_fit_the_crs_name_the_option_to_give(taipei, tables):
    # a table has no .prj: projected coordinates read with the default --crs, or X and Y swapped, are fixed by an option
    communities, buildings = taipei
    points = buildings.geometry.representative_point()
    metric = points.to_crs(3826)
    pd.DataFrame({"building_id": buildings["building_id"], "E": metric.x, "N": metric.y, "hh_est": buildings["hh_est"]}).to_csv(tables / "twd97.csv", index=False)
    with pytest.raises(CRSError) as info:
        read_point_table(tables / "twd97.csv", x="E", y="N")
    text = str(info.value)
    assert "twd97.csv: coordinates (" in text and "are not longitudes and latitudes" in text
    assert "fix: pass --crs with the CRS of the coordinates" in text and ".prj" not in text
    read = read_point_table(tables / "twd97.csv", x="E", y="N", crs="EPSG:3826")  # the fix works
    assert read.crs.to_epsg() == 3826 and read.to_crs(4326).geometry.geom_equals_exact(points, tolerance=1e-7, align=False).all()
    with pytest.raises(CRSError, match=r"swapped\), .* — fix: swap the coordinate columns: --x lon --y lat \(X is the longitude\)"):
        read_point_table(tables / "b.csv", x="lat", y="lon")
    runner = CliRunner()
    checked = runner.invoke(main, ["validate", str(tables / "c.gpkg"), str(tables / "twd97.csv"), "--x", "E", "--y", "N", "--households", "hh_est"])
    assert checked.exit_code == 1 and "1 problem:" in checked.output and "pass --crs" in checked.output, checked.output
    run = runner.invoke(main, ["partition", str(tables / "c.gpkg"), str(tables / "twd97.csv"), "--x", "E", "--y", "N", "--households", "hh_est", "-o", str(tables / "out")])
    assert run.exit_code == 2 and "pass --crs" in run.output and not (tables / "out").exists(), run.output
    fixed = runner.invoke(main, ["validate", str(tables / "c.gpkg"), str(tables / "twd97.csv"), "--x", "E", "--y", "N", "--crs", "EPSG:3826", "--households", "hh_est"])
    assert fixed.exit_code == 0 and "284 buildings assigned" in fixed.output, fixed.output
    # the other way round: longitudes and latitudes with a projected --crs (the docs' example EPSG:4547, copied)
    with pytest.raises(CRSError) as info:
        read_point_table(tables / "b.csv", x="lon", y="lat", crs="EPSG:4547")
    text = str(info.value)
    assert "b.csv: coordinates (" in text and "look like longitudes and latitudes, yet --crs EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E) is projected" in text
    assert "fix: leave out --crs" in text
    assert read_point_table(tables / "b.csv", x="lon", y="lat").geometry.geom_equals_exact(points, tolerance=0, align=False).all()


def test_workbook_with_several_sheets_needs_a_sheet(tmp_path):
    path = tmp_path / "b.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"lon": [121.5], "lat": [25.06]}).to_excel(writer, sheet_name="楼栋", index=False)
        pd.DataFrame({"note": ["x"]}).to_excel(writer, sheet_name="说明", index=False)
    with pytest.raises(InputError, match=r"has 2 sheets \(楼栋, 说明\)"):
        read_point_table(path, x="lon", y="lat")
    assert len(read_point_table(path, x="lon", y="lat", sheet="楼栋")) == 1


def test_read_layer_refuses_a_table(tables):
    with pytest.raises(InputError, match="c.csv: is a table"):
        read_layer(tables / "c.csv")


def test_validate_reads_a_table_of_points_and_lists_a_table_as_communities(tables):
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", str(tables / "c.gpkg"), str(tables / "b.csv"), "--x", "lon", "--y", "lat", "--households", "hh_est"])
    assert ok.exit_code == 0, ok.output
    assert "OK: 3 communities, 284 buildings assigned, 0 unassigned" in ok.output
    xlsx = runner.invoke(main, ["validate", str(tables / "c.gpkg"), str(tables / "b.xlsx"), "--wkt", "wkt", "--households", "hh_est"])
    assert xlsx.exit_code == 0 and "284 buildings assigned" in xlsx.output, xlsx.output
    bad = runner.invoke(main, ["validate", str(tables / "c.csv"), str(tables / "b.csv"), "--households", "hh_est"])
    assert bad.exit_code == 1, bad.output  # validate's exit code for problems found in the input
    assert "Internal error" not in bad.output and "Traceback" not in bad.output
    assert "2 problems:" in bad.output
    assert "c.csv: is a table (CSV or spreadsheet) without geometry" in bad.output
    assert "b.csv: is a table: its coordinate columns must be named — fix: pass --x lon --y lat" in bad.output


def test_point_options_with_a_map_layer_are_an_error(tables):
    result = CliRunner().invoke(main, ["partition", str(tables / "c.gpkg"), str(tables / "c.gpkg"), "--x", "lon", "--households", "hh_est", "-o", str(tables / "out")])
    assert result.exit_code == 2, result.output
    assert "c.gpkg: is a map layer with its own geometry and CRS, so --x do not apply" in result.output
    assert not (tables / "out").exists()


def test_partition_records_the_table_options_in_its_config(tables):
    out = tables / "out"
    args = ["partition", str(tables / "c.gpkg"), str(tables / "b.csv"), "--x", "lon", "--y", "lat", "--households", "hh_est"]
    result = CliRunner().invoke(main, [*args, "--no-map", "--no-report", "--workers", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    config = (out / "config.toml").read_text(encoding="utf-8")
    assert 'x = "lon"' in config and 'y = "lat"' in config
    again = CliRunner().invoke(main, ["partition", "--config", str(out / "config.toml"), "--no-map", "--no-report", "-o", str(tables / "again")])
    assert again.exit_code == 0, again.output
    assert (tables / "again" / "grids.geojson").read_bytes() == (out / "grids.geojson").read_bytes()


def test_update_reads_a_new_table_as_the_run_read_its_own(taipei, tables):
    """gridgeo update --buildings new.csv: the new table is read with the --x/--y the previous run recorded."""
    out = tables / "v1"
    args = ["partition", str(tables / "c.gpkg"), str(tables / "b.csv"), "--x", "lon", "--y", "lat", "--households", "hh_est", "--building-id", "building_id"]
    first = CliRunner().invoke(main, [*args, "--no-map", "--no-report", "--workers", "1", "-o", str(out)])
    assert first.exit_code == 0, first.output
    table = pd.read_csv(tables / "b.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    table.drop(index=[3, 50, 200]).to_csv(tables / "b2.csv", index=False, encoding="utf-8-sig")
    updated = CliRunner().invoke(main, ["update", str(out), "--buildings", str(tables / "b2.csv"), "--no-map", "--no-report", "-o", str(tables / "v2")])
    assert updated.exit_code == 0, updated.output
    buildings = gpd.read_file(tables / "v2" / "partition.gpkg", layer="buildings")
    assert len(buildings) == 281 and set(buildings["building_id"]) == set(table["building_id"]) - set(table["building_id"].iloc[[3, 50, 200]])
    # a previous run from a map layer has no coordinate columns to go by: a clear error
    plain = tables / "plain"
    layer = gpd.read_file(DATA / "taipei_small_buildings.gpkg")
    layer.to_file(tables / "b.gpkg")
    run = CliRunner().invoke(main, ["partition", str(tables / "c.gpkg"), str(tables / "b.gpkg"), "--households", "hh_est", "--no-map", "--no-report", "-o", str(plain)])
    assert run.exit_code == 0, run.output
    refused = CliRunner().invoke(main, ["update", str(plain), "--buildings", str(tables / "b2.csv"), "-o", str(tables / "v3")])
    assert refused.exit_code == 2 and "b2.csv: is a table, and the previous run read its buildings from a map layer" in refused.output, refused.output
    assert not (tables / "v3").exists()


def test_ids_and_codes_that_look_like_numbers_stay_text(taipei, tables):
    """The village ids of the Taipei slice (6300600014, …) are digits only; in a CSV their column, named …_id, stays
    text, as in the GeoPackage, so it still joins to the village layer's ids. A column of plain numbers otherwise
    named is read as numbers."""
    _, buildings = taipei
    table = pd.read_csv(tables / "b.csv", dtype=str).assign(sheet_code="3842", 编号="0012")
    table.to_csv(tables / "ids.csv", index=False)
    points = read_point_table(tables / "ids.csv", x="lon", y="lat")
    assert points["community_id"].tolist() == buildings["community_id"].astype(str).tolist()
    assert points["community_id"].map(type).eq(str).all() and points["community_id"].str.fullmatch(r"\d{10}").all()
    assert points["sheet_code"].eq("3842").all() and points["编号"].eq("0012").all()
    assert points["hh_est"].dtype.kind == "i"
