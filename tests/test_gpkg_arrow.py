"""GeoPackage layers written through Arrow in one batch: the same bytes as GeoDataFrame.to_file, or not taken."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import gridgeo
from gridgeo.outputs import export, gpkg_arrow

from .conftest import file_hashes


@pytest.fixture(autouse=True)
def fixed_date():
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": export._FIXED_DATE})
    yield
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _both(frame, tmp_path, *, promote):
    """The file of to_file (feature by feature) and of write_arrow_layer, for one layer."""
    tmp_path.mkdir(exist_ok=True)
    plain, arrow = tmp_path / "plain.gpkg", tmp_path / "arrow.gpkg"
    frame.to_file(plain, layer="layer", driver="GPKG", engine="pyogrio", **({"promote_to_multi": True} if promote else {}))
    assert gpkg_arrow.write_arrow_layer(frame, arrow, "layer", promote=promote)
    return _digest(plain), _digest(arrow)


def test_real_layer_with_chunked_text_and_every_plain_type(monaco, tmp_path):
    """Monaco's buildings (real columns), text in Arrow chunks as pandas builds it, booleans, nullable and float columns with gaps."""
    buildings = monaco[1].copy()
    n = len(buildings)
    chunked = pd.array(pd.concat([pd.Series([f"b{i}" for i in range(k, min(k + 50, n))], dtype="str") for k in range(0, n, 50)]).array)
    assert chunked._pa_array.num_chunks > 1
    buildings["code"] = pd.Series(chunked, index=buildings.index)
    buildings["flag"] = np.arange(n) % 3 == 0
    buildings["maybe"] = pd.array([None if i % 7 == 0 else i for i in range(n)], dtype="Int64")
    buildings["share"] = np.where(np.arange(n) % 5 == 0, np.nan, np.arange(n) / 7)
    buildings["text_or_none"] = np.array([None if i % 4 == 0 else "里" for i in range(n)], dtype=object)
    buildings["nothing"] = np.array([None] * n, dtype=object)
    plain, arrow = _both(buildings, tmp_path, promote=False)
    assert plain == arrow
    plain, arrow = _both(buildings[["geometry"]], tmp_path / "alone", promote=False)  # geometry alone
    assert plain == arrow


def test_promoted_units_match_gdal_promotion(monaco, tmp_path, monkeypatch):
    """Single polygons promoted by a WKB header are the file GDAL's promote_to_multi writes, mixed with multi-polygons too."""
    buildings = monaco[1][["geometry"]].copy()  # multi-polygons: their first parts are the polygons
    geoms = shapely.get_geometry(buildings.geometry.to_numpy(), 0)
    buildings = buildings.set_geometry(gpd.GeoSeries(geoms, index=buildings.index, crs=buildings.crs))
    mixed = geoms.copy()
    mixed[::3] = shapely.multipolygons(geoms[::3][:, np.newaxis])  # one-part multi-polygons among the polygons
    buildings["n"] = np.arange(len(buildings))
    plain, arrow = _both(buildings, tmp_path / "one", promote=True)
    assert plain == arrow
    both = buildings.set_geometry(gpd.GeoSeries(mixed, index=buildings.index, crs=buildings.crs))
    assert set(shapely.get_type_id(both.geometry.to_numpy()).tolist()) == {3, 6}
    plain, arrow = _both(both, tmp_path / "two", promote=True)
    assert plain == arrow
    monkeypatch.setattr(gpkg_arrow, "_BINARY_LIMIT", -1)  # 64-bit offsets, as for more than 2 GB of WKB
    monkeypatch.setattr(gpkg_arrow, "_WKB_SLICE", 10)  # and the WKB made 10 rows at a time
    assert _both(both, tmp_path / "three", promote=True) == (plain, arrow)
    assert pyogrio.read_info(tmp_path / "three" / "arrow.gpkg", layer="layer")["geometry_type"] == "MultiPolygon"


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.set_geometry(gpd.GeoSeries([shapely.Point(0, 0), *f.geometry.iloc[1:]], index=f.index, crs=f.crs)),  # two families
        lambda f: f.set_geometry(gpd.GeoSeries([shapely.Polygon(), *f.geometry.iloc[1:]], index=f.index, crs=f.crs)),  # an empty geometry
        lambda f: f.set_index(pd.Index([f"r{i}" for i in range(len(f))], name="row")),  # an index GeoPandas writes
        lambda f: f.assign(when=pd.Timestamp("2024-01-01", tz="Asia/Shanghai")),  # a type left to to_file
    ],
)
def test_other_layers_are_left_to_to_file(monaco, tmp_path, change):
    frame = change(monaco[1].iloc[:20].copy())
    assert not gpkg_arrow.write_arrow_layer(frame, tmp_path / "x.gpkg", "layer")
    assert not (tmp_path / "x.gpkg").exists()


def test_partition_gpkg_is_the_file_of_the_feature_path(taipei_small, tmp_path, monkeypatch):
    """write_outputs gives the same partition.gpkg (and every other file) with and without the Arrow path."""
    result = gridgeo.partition(*taipei_small, households="hh_est")
    export.write_outputs(result, tmp_path / "arrow")
    monkeypatch.setattr(export, "write_arrow_layer", lambda *args, **kwargs: False)
    export.write_outputs(result, tmp_path / "plain")
    assert file_hashes(tmp_path / "arrow") == file_hashes(tmp_path / "plain")


@pytest.mark.parametrize("batch", [1, 7, 50])
def test_layers_in_several_batches_are_the_file_of_one(monaco, tmp_path, monkeypatch, batch):
    """Real buildings written in batches of a few rows (their WKB made batch by batch): the bytes of to_file, every layer after the first too."""
    buildings = monaco[1].copy()
    buildings["code"] = [f"b{i}" for i in range(len(buildings))]
    plain, arrow = tmp_path / "plain.gpkg", tmp_path / "arrow.gpkg"
    for layer, frame, promote in (("first", buildings, False), ("second", buildings.iloc[::-1].reset_index(drop=True), True)):
        frame.to_file(plain, layer=layer, driver="GPKG", engine="pyogrio", **({"promote_to_multi": True} if promote else {}))
    monkeypatch.setattr(gpkg_arrow, "_BATCH", batch)
    assert len(buildings) > 3 * batch  # several batches per layer
    for layer, frame, promote in (("first", buildings, False), ("second", buildings.iloc[::-1].reset_index(drop=True), True)):
        assert gpkg_arrow.write_arrow_layer(frame, arrow, layer, promote=promote)
    assert _digest(plain) == _digest(arrow)
    read = pyogrio.read_dataframe(arrow, layer="second")
    assert read["code"].tolist() == buildings["code"].tolist()[::-1]
    assert shapely.equals(read.geometry.to_numpy(), buildings.geometry.to_numpy()[::-1]).all()


def test_change_counter_set_back_only_where_sqlite_wrote_it(tmp_path):
    """The header's change counter and its copy are set back by the extra batches; a file whose two differ is left alone."""
    path = tmp_path / "x.gpkg"
    header = bytearray(100)
    header[24:28] = header[92:96] = (20).to_bytes(4, "big")
    path.write_bytes(bytes(header) + b"rest")
    gpkg_arrow._count_as_one_batch(path, 5)
    data = path.read_bytes()
    assert int.from_bytes(data[24:28], "big") == int.from_bytes(data[92:96], "big") == 16 and data[100:] == b"rest"
    header[92:96] = (19).to_bytes(4, "big")
    path.write_bytes(bytes(header))
    gpkg_arrow._count_as_one_batch(path, 5)
    assert path.read_bytes() == bytes(header)
