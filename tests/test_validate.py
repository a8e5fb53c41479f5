"""Input checks: problems are collected, name the file, the rows and the fix."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

import gridgeo
from gridgeo.errors import CRSError, InputError

CRS = 32651


def _layers(n=6, households=None, crs=CRS):
    c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 50)], crs=crs)
    b = gpd.GeoDataFrame(
        {"bid": [f"b{i}" for i in range(n)], "hh": households if households is not None else [60] * n},
        geometry=[shapely.box(10 + 30 * i, 20, 20 + 30 * i, 30) for i in range(n)],
        crs=crs,
    )
    return c, b


def test_missing_crs_names_both_layers():
    c, b = _layers()
    c = c.set_crs(None, allow_override=True)
    b = b.set_crs(None, allow_override=True)
    with pytest.raises(CRSError) as info:
        gridgeo.partition(c, b, households="hh", labels={"communities": "c.shp", "buildings": "b.shp"})
    text = str(info.value)
    assert "c.shp" in text and "b.shp" in text and ".prj" in text


def test_a_missing_crs_is_listed_with_the_other_problems_of_the_layer():
    """Every problem at once: a layer without CRS and with bad counts and ids gets one message naming them all."""
    c, b = _layers(households=[60, None, -3, 60, 60, 60])
    b.loc[4, "bid"] = "b3"
    b = b.set_crs(None, allow_override=True)
    with pytest.raises(InputError) as info:
        gridgeo.partition(c, b, households="hh", building_id="bid", labels={"buildings": "b.gpkg"})
    text = [str(p) for p in info.value.problems]
    assert len(text) == 4 and text[0].startswith("b.gpkg: has no coordinate reference system")
    assert "set the layer's CRS" in text[0] and ".prj" not in text[0]  # (a GeoPackage has no .prj)
    assert "b.gpkg: rows 4, 5: duplicate bid values ('b3')" in text[1]
    assert text[2].startswith("b.gpkg: row 2 (bid b1): households 'hh' is missing")
    assert text[3].startswith("b.gpkg: row 3 (bid b2): households 'hh' is negative")
    # without other problems the error is still the CRS one alone
    with pytest.raises(CRSError):
        gridgeo.partition(c, _layers()[1].set_crs(None, allow_override=True), households="hh")


def test_projected_coordinates_labelled_wgs84_are_caught():
    c, b = _layers()
    c = c.set_crs(4326, allow_override=True)
    b = b.set_crs(4326, allow_override=True)
    c = c.set_geometry(c.geometry.translate(300000, 2700000))
    b = b.set_geometry(b.geometry.translate(300000, 2700000))
    with pytest.raises(CRSError, match="not longitudes and latitudes"):
        gridgeo.partition(c, b, households="hh")


def test_bad_households_are_all_reported_with_rows():
    c, b = _layers(households=[60, None, "abc", -3, 2.5, 60])
    b["hh"] = b["hh"].astype(object)
    with pytest.raises(InputError) as info:
        gridgeo.partition(c, b, households="hh", labels={"buildings": "b.gpkg"})
    problems = info.value.problems
    text = str(info.value)
    assert len(problems) == 4
    assert "row 2" in text and "row 3" in text and "row 4" in text and "row 5" in text
    assert "'abc'" in text and "b.gpkg" in text


def test_duplicate_ids_are_reported():
    c, b = _layers()
    b.loc[3, "bid"] = "b0"
    with pytest.raises(InputError, match="duplicate bid"):
        gridgeo.partition(c, b, households="hh", building_id="bid")


def test_unknown_column_lists_the_available_ones():
    c, b = _layers()
    with pytest.raises(InputError, match="use one of: bid, hh"):
        gridgeo.partition(c, b, households="households")


def test_empty_layer_is_an_error():
    c, b = _layers()
    with pytest.raises(InputError, match="no features"):
        gridgeo.partition(c, b.iloc[:0], households="hh")


def test_buildings_outside_every_community_are_kept_unassigned():
    c, b = _layers()
    b.loc[5, "geometry"] = shapely.box(500, 500, 510, 510)
    result = gridgeo.partition(c, b, households="hh")
    assert len(result.unassigned) == 1
    assert result.unassigned["reason"].iloc[0] == "outside every community"
    assert result.unassigned["bid"].iloc[0] == "b5"
    assert len(result.buildings) == 5


def test_invalid_geometries_are_repaired_and_counted():
    c, b = _layers()
    bowtie = shapely.Polygon([(40, 20), (50, 30), (50, 20), (40, 30)])
    b.loc[1, "geometry"] = bowtie
    result = gridgeo.partition(c, b, households="hh")
    assert any("repaired 1 invalid" in note for note in result.report["notes"])
    assert len(result.buildings) == 6


def test_footprints_inside_another_are_named():
    # an OSM building part drawn inside its building: both kept, the inner one named (row 7), identical twins not
    c, b = _layers()
    part = b.iloc[[2]].assign(bid="part-of-b2", geometry=[shapely.box(42, 22, 48, 28)])
    twin = b.iloc[[4]].assign(bid="twin-of-b4")
    b = gpd.GeoDataFrame(gpd.pd.concat([b, part, twin], ignore_index=True), crs=b.crs)
    result = gridgeo.partition(c, b, households="hh", grid_size=(100, 500))
    nested = [note for note in result.report["notes"] if "inside another building's footprint" in note]
    assert len(nested) == 1 and "row 7 lies inside" in nested[0]
    assert len(result.buildings) == 8 and int(result.grids["households"].sum()) == 8 * 60


def test_differing_crs_is_reprojected():
    c, b = _layers()
    b = b.to_crs(4326)
    result = gridgeo.partition(c, b, households="hh")
    assert any("reprojected" in note for note in result.report["notes"])
    assert result.grids.crs == c.crs


def test_cgcs2000_input_is_computed_in_gauss_kruger():
    c, b = _layers()
    c = c.set_geometry(c.geometry.translate(500000 - 100, 4400000)).set_crs(32650, allow_override=True).to_crs(4490)
    b = b.set_geometry(b.geometry.translate(500000 - 100, 4400000)).set_crs(32650, allow_override=True).to_crs(4490)
    result = gridgeo.partition(c, b, households="hh")
    assert result.report["metric_crs"] == "EPSG:4548"  # CGCS2000 / 3-degree Gauss-Kruger CM 117E
    assert result.grids.crs.to_epsg() == 4490


def test_bad_band_is_an_error():
    c, b = _layers()
    with pytest.raises(InputError, match="MIN:MAX"):
        gridgeo.partition(c, b, households="hh", grid_size="abc")
    with pytest.raises(InputError, match="1 <= MIN <= MAX"):
        gridgeo.partition(c, b, households="hh", grid_size="500:300")


def test_points_without_households_cannot_be_estimated():
    c, b = _layers()
    b = b.set_geometry(b.geometry.centroid)
    with pytest.raises(InputError, match="--households"):
        gridgeo.partition(c, b)


def test_errors_are_value_errors():
    c, b = _layers()
    with pytest.raises(ValueError) as info:
        gridgeo.partition(c, b, households="nope")
    assert isinstance(info.value, gridgeo.GridgeoError)


def test_without_a_community_id_the_id_column_is_suggested():
    # the sample's communities keep their ids in 'comm_id'; without --community-id they are numbered by row,
    # and validate says which column would keep them
    from click.testing import CliRunner

    from gridgeo.cli import main

    sample = Path(__file__).resolve().parents[1] / "sample_shapefiles"
    args = ["validate", str(sample / "communities.shp"), str(sample / "buildings.shp"), "--households", "hh_est"]
    english = CliRunner().invoke(main, [*args, "--lang", "en"])
    assert english.exit_code == 0, english.output
    assert "numbered by row (1..4); 'comm_id' holds a different value in every row: pass --community-id comm_id" in english.output
    chinese = CliRunner().invoke(main, [*args, "--lang", "zh"])
    assert "社区按行号编号（1..4）；字段“comm_id”每行取值各不相同，如要保留这些标识，请加 --community-id comm_id" in chinese.output
    given = CliRunner().invoke(main, [*args, "--community-id", "comm_id", "--lang", "en"])
    assert given.exit_code == 0 and "numbered by row" not in given.output


def test_estimates_give_no_households_to_buildings_of_non_residential_use():
    """Monaco's slice without counts: its hotels, church, chapel, garage, roofs … (OpenStreetMap's `building`) hold
    0 estimated households, the rest their footprint × storeys estimate; the warning names the uses (in Chinese too)."""
    from gridgeo.inputs.households import estimate_households
    from gridgeo.messages import translate

    data = Path(__file__).parent / "data"
    communities = gpd.read_file(data / "monaco_communities.gpkg")
    buildings = gpd.read_file(data / "monaco_buildings.gpkg").drop(columns=["hh_est"])
    result = gridgeo.partition(communities, buildings)
    out = result.buildings.set_index("building_id")
    uses = buildings.set_index("building_id")["building"]
    idle = uses[uses.isin(["roof", "hotel", "commercial", "church", "chapel", "construction", "garage", "public"])].index
    assert len(idle) == 16 and (out.loc[idle, "households"] == 0).all()
    lived = uses.index.difference(idle)
    metric = buildings.set_index("building_id").to_crs(result.grids.estimate_utm_crs()).loc[lived]
    expected, _ = estimate_households(
        metric.geometry.area.to_numpy(), levels=metric["levels"].to_numpy(), height_m=metric["height_m"].to_numpy()
    )
    assert abs(int(out.loc[lived, "households"].sum()) - int(expected.sum())) <= 0.01 * expected.sum()
    assert out["households_estimated"].all() and result.grids["households"].sum() == out["households"].sum()
    note = next(n for n in result.report["notes"] if n.startswith("households ESTIMATED"))
    assert "16 buildings of non-residential use in 'building' (roof 8, hotel 2," in note
    assert "16 栋非住宅用途的建筑（字段“building”：roof 8, hotel 2," in translate(note, "zh")
    # with the counts given, the use changes nothing
    given = gridgeo.partition(communities, gpd.read_file(data / "monaco_buildings.gpkg"), households="hh_est")
    assert given.buildings["households"].sum() == gpd.read_file(data / "monaco_buildings.gpkg")["hh_est"].sum()
