"""Shapefile export: every layer read back whole, Chinese in UTF-8 and GBK, short field names on record."""

from __future__ import annotations

import dataclasses
import hashlib
import logging

import geopandas as gpd
import pandas as pd
import pytest

import gridgeo
from gridgeo.outputs.shapefile import LAYERS, shapefile_field_names, write_shapefiles


@pytest.fixture(scope="module")
def result(sample):
    communities, buildings = sample
    return gridgeo.partition(communities, buildings, households="hh_est")


@pytest.fixture(scope="module", params=["utf-8", "gbk"])
def written(request, result, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"shp-{request.param}") / "shp"
    return request.param, folder, write_shapefiles(result, folder, encoding=request.param)


def test_layers_read_back(written, result):
    encoding, folder, paths = written
    assert [p.name for p in paths] == [f"{name}.shp" for name in LAYERS] + ["fields.csv"]
    for name in LAYERS:
        shp = folder / f"{name}.shp"
        for suffix in (".shx", ".dbf", ".prj", ".cpg"):
            assert shp.with_suffix(suffix).exists()
        assert shp.with_suffix(".cpg").read_text() == {"utf-8": "UTF-8", "gbk": "GBK"}[encoding]
        back = gpd.read_file(shp, encoding=encoding)
        original = getattr(result, name)
        assert len(back) == len(original)
        assert back.crs == original.crs


def test_chinese_text_survives(written, result):
    encoding, folder, _ = written
    names = sorted(result.communities["name"])
    assert any(not n.isascii() for n in names)
    assert sorted(gpd.read_file(folder / "communities.shp", encoding=encoding)["name"]) == names
    # the .cpg alone is enough for a reader
    assert sorted(gpd.read_file(folder / "communities.shp")["name"]) == names


def test_values_and_booleans(written, result):
    encoding, folder, _ = written
    fields = pd.read_csv(folder / "fields.csv", encoding="utf-8-sig")
    short = dict(zip(zip(fields["layer"], fields["field"]), fields["shapefile_field"]))
    grids = gpd.read_file(folder / "grids.shp", encoding=encoding).sort_values(short["grids", "grid_code"])
    expected = result.grids.sort_values("grid_code")
    assert grids[short["grids", "households"]].tolist() == expected["households"].tolist()
    estimated = grids[short["grids", "households_estimated"]]
    assert set(estimated.astype(int)) <= {0, 1}
    assert estimated.astype(int).tolist() == expected["households_estimated"].astype(int).tolist()
    units = gpd.read_file(folder / "units.shp", encoding=encoding)
    assert set(units["in_band"].astype(int)) <= {0, 1}
    assert sorted(units["members"]) == sorted(result.units["members"])


def test_fields_csv_names_short_and_unique(written, result):
    encoding, folder, _ = written
    fields = pd.read_csv(folder / "fields.csv", encoding="utf-8-sig", dtype=str)
    assert list(fields.columns) == ["layer", "field", "shapefile_field"]
    for layer, group in fields.groupby("layer"):
        frame = getattr(result, layer)
        assert group["field"].tolist() == [c for c in frame.columns if c != frame.geometry.name]
        assert all(len(n.encode(encoding)) <= 10 for n in group["shapefile_field"])
        assert group["shapefile_field"].str.casefold().is_unique
        dbf = gpd.read_file(folder / f"{layer}.shp", encoding=encoding, rows=0)
        assert [c for c in dbf.columns if c != "geometry"] == group["shapefile_field"].tolist()
    assert (fields.loc[fields["field"] == "community_code", "shapefile_field"] == "comm_code").all()


def test_field_names_deterministic_and_collision_free():
    columns = ["households", "households_estimated", "hh_estim", "HH_ESTIM_2", "abcdefghijklmno", "abcdefghijXYZ", "名称名称名称名称"]
    first = shapefile_field_names(columns, encoding="utf-8")
    assert first == shapefile_field_names(columns, encoding="utf-8")
    names = list(first.values())
    assert len({n.casefold() for n in names}) == len(names)
    assert all(len(n.encode("utf-8")) <= 10 for n in names)
    assert first["households"] == "households" and first["hh_estim"] == "hh_estim"
    assert first["households_estimated"] != "hh_estim"
    assert first["abcdefghijklmno"] == "abcdefghij" and first["abcdefghijXYZ"] == "abcdefgh_1"
    assert first["名称名称名称名称"] == "名称名"  # whole characters only
    assert shapefile_field_names(["名称名称名称名称"], encoding="gbk") == {"名称名称名称名称": "名称名称名"}


def test_rewrite_is_byte_identical(result, tmp_path):
    a = write_shapefiles(result, tmp_path / "a")
    b = write_shapefiles(result, tmp_path / "b")
    for pa, pb in zip(sorted((tmp_path / "a").iterdir()), sorted((tmp_path / "b").iterdir())):
        assert pa.name == pb.name
        assert hashlib.sha256(pa.read_bytes()).digest() == hashlib.sha256(pb.read_bytes()).digest(), pa.name
    assert len(a) == len(b)


def test_gbk_cannot_encode_raises_and_writes_nothing(result, tmp_path):
    communities = result.communities.copy()
    communities.loc[1, "name"] = "孝德里🏠"
    communities.loc[2, "full_name"] = "Straße"
    bad = dataclasses.replace(result, communities=communities)
    with pytest.raises(gridgeo.InputError) as info:
        write_shapefiles(bad, tmp_path / "shp", encoding="gbk")
    text = str(info.value)
    assert "communities.shp" in text and "'name'" in text and "'full_name'" in text
    assert communities.loc[1, "community_code"] in text and communities.loc[2, "community_code"] in text
    assert "UTF-8" in text and "🏠" in text
    assert "--shp-encoding gb18030" in text  # GBK's superset, for software that wants a Chinese code page
    assert not (tmp_path / "shp").exists()
    # UTF-8 holds them, and so does GB18030 (what the message offers besides UTF-8)
    write_shapefiles(bad, tmp_path / "shp", encoding="utf-8")
    assert "孝德里🏠" in gpd.read_file(tmp_path / "shp" / "communities.shp")["name"].tolist()
    write_shapefiles(bad, tmp_path / "gb", encoding="gb18030")
    assert (tmp_path / "gb" / "communities.cpg").read_text() == "GB18030"
    back = gpd.read_file(tmp_path / "gb" / "communities.shp")["name"].tolist()
    assert "孝德里🏠" in back and "忠德里" in back


def test_long_text_cut_with_warning(result, tmp_path, caplog):
    units = result.units.copy()
    units.loc[units.index[:3], "members"] = "社" * 200  # 600 bytes in UTF-8
    with caplog.at_level(logging.WARNING, logger="gridgeo.outputs.shapefile"):
        write_shapefiles(dataclasses.replace(result, units=units), tmp_path, encoding="utf-8")
    assert any("units.shp" in r.message and "'members'" in r.message and " 3 values" in r.message for r in caplog.records)
    back = gpd.read_file(tmp_path / "units.shp")
    cut = back.loc[back["members"].str.startswith("社"), "members"]
    assert len(cut) == 3 and all(len(v.encode("utf-8")) <= 254 and set(v) == {"社"} for v in cut)


def test_bad_encoding_names(result, tmp_path):
    for encoding in ("no-such-codec", "utf-16"):
        with pytest.raises(gridgeo.InputError):
            write_shapefiles(result, tmp_path, encoding=encoding)


def test_point_buildings_write_multipoint_units(taipei_small, tmp_path):
    # buildings given as points (a CSV of coordinates): a joint unit of one building is a Point, of several a MultiPoint,
    # two Shapefile types; writing units.shp used to stop with GDAL's "non-point (MULTIPOINT) geometry to point shapefile"
    communities, buildings = taipei_small
    points = buildings.set_geometry(buildings.geometry.representative_point())
    result = gridgeo.partition(communities, points, households="hh_est", building_id="building_id")
    kinds = set(result.units.geom_type)
    assert kinds == {"Point", "MultiPoint"}  # the case at hand: both kinds in one layer
    for encoding in ("utf-8", "gbk"):
        folder = tmp_path / encoding
        write_shapefiles(result, folder, encoding=encoding)
        units = gpd.read_file(folder / "units.shp")
        assert set(units.geom_type) == {"MultiPoint"} and units["unit_code"].tolist() == result.units["unit_code"].tolist()
        assert units.geometry.geom_equals(result.units.geometry).all()  # the same points (a Point equals its one-part MultiPoint)
        built = gpd.read_file(folder / "buildings.shp")
        assert set(built.geom_type) == {"Point"} and len(built) == len(points)
        assert built.geometry.geom_equals_exact(result.buildings.geometry, tolerance=1e-9, align=False).all()
        assert set(gpd.read_file(folder / "grids.shp").geom_type) <= {"Polygon", "MultiPolygon"}


def _dbf_fields(path) -> dict[str, tuple[str, int, int]]:
    """Name -> (type, width, decimals) of every field of a .dbf, from its header."""
    data = path.read_bytes()
    count = (int.from_bytes(data[8:10], "little") - 33) // 32
    fields = {}
    for i in range(count):
        record = data[32 + 32 * i : 64 + 32 * i]
        fields[record[:11].split(b"\0")[0].decode("ascii")] = (chr(record[11]), record[16], record[17])
    return fields


def test_whole_numbers_are_long_integer_fields(written, result):
    """Counts and flags are N(9,0) fields, which ArcGIS reads as Long Integer (GDAL's 64-bit N(18,0) reads as
    Double); a whole number of ten digits or more keeps the wide field."""
    _, folder, _ = written
    fields = pd.read_csv(folder / "fields.csv", encoding="utf-8-sig")
    short = dict(zip(zip(fields["layer"], fields["field"]), fields["shapefile_field"]))
    grids = _dbf_fields(folder / "grids.dbf")
    for column in ("households", "n_buildings", "n_units", "households_estimated"):
        assert grids[short["grids", column]] == ("N", 9, 0), column
    assert _dbf_fields(folder / "units.dbf")[short["units", "households"]] == ("N", 9, 0)
    assert grids[short["grids", "area_m2"]] == ("N", 24, 6)  # reals as before
    wide = dataclasses.replace(result, grids=result.grids.assign(register_no=6300600014 + result.grids.index.to_numpy()))
    target = folder.parent / "wide"
    write_shapefiles(wide, target)
    assert _dbf_fields(target / "grids.dbf")["register_n"][2] == 0 and _dbf_fields(target / "grids.dbf")["register_n"][1] > 9
    assert gpd.read_file(target / "grids.shp")["register_n"].tolist() == wide.grids["register_no"].tolist()


def test_points_among_footprints_with_format_shp_are_refused_before_the_run(tmp_path):
    """Two buildings given as points among Monaco's footprints: --format shp stops at once naming the rows (it failed
    after the whole run, naming a file "input"); the same run without shp writes both kinds in the GeoPackage."""
    import pickle

    from click.testing import CliRunner

    from gridgeo.cli import main
    from gridgeo.errors import InputError, Problem

    from .conftest import DATA

    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg")
    buildings.loc[[10, 20], "geometry"] = buildings.loc[[10, 20]].geometry.representative_point()
    buildings.to_file(tmp_path / "b.gpkg", layer="buildings")
    args = ["partition", str(DATA / "monaco_communities.gpkg"), str(tmp_path / "b.gpkg"), "--households", "hh_est", "--no-map", "--no-report"]
    refused = CliRunner().invoke(main, [*args, "--format", "shp", "-o", str(tmp_path / "shp")])
    assert refused.exit_code == 2, refused.output
    assert "b.gpkg: rows 11, 21 are points among polygon footprints" in refused.output and "leave shp out of --format" in refused.output
    assert not (tmp_path / "shp").exists()
    written = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "gpkg")])
    assert written.exit_code == 0, written.output
    kinds = set(gpd.read_file(tmp_path / "gpkg" / "partition.gpkg", layer="buildings").geom_type)
    assert "Point" in kinds and kinds - {"Point"} <= {"Polygon", "MultiPolygon"} and len(kinds) > 1
    # an error sent from a writer process keeps its problems (it came back as one problem of a file named "input")
    error = InputError([Problem("buildings.shp", "mixes point and polygon geometries", "use the GeoPackage"), Problem("units.shp", "rows 3")])
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is InputError and back.problems == error.problems and str(back) == str(error)
