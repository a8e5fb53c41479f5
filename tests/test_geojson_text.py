"""The column-wise GeoJSON writer (gridgeo.outputs.geojson) gives the text of shapely's writer with the long numbers trimmed.

The reference is what write_geojson wrote before: shapely's ``to_geojson`` of
the reprojected, rounded and oriented geometries, then every number with more
than ``precision`` decimals rewritten in its shortest form.  The fast path must
give the same bytes on real footprints, grids and joint units and on random
polygons with every kind of awkward number; geometries it does not cover go
through the reference itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

import gridgeo
from gridgeo.inputs.crs import WGS84
from gridgeo.outputs.export import uniform_geometry, write_geojson
from gridgeo.outputs.geojson import _mend_rounded, distinct_geometries, geometry_texts, lonlat_texts, trim_numbers

DATA = Path(__file__).parent / "data"


def _reference(geoms: np.ndarray, crs, precision: int = 7) -> list[str]:
    """The geometry texts as write_geojson made them before the column-wise writer: shapely's, numbers trimmed."""
    geoms = np.asarray(geoms, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    rounded = geoms.copy()
    if crs is not None and pyproj.CRS(crs) != WGS84:
        transformer = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)

        def to_lonlat(xy):
            lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
            return np.round(np.column_stack([lon, lat]), precision)

        rounded[present] = shapely.transform(geoms[present], to_lonlat)
    else:
        rounded[present] = shapely.transform(geoms[present], lambda xy: np.round(xy, precision))
    polygonal = present & np.isin(shapely.get_type_id(geoms), (3, 6))
    _mend_rounded(rounded, polygonal, precision)  # (a polygon the rounding folded, valid again: tests/test_output_validity.py)
    rounded[polygonal] = shapely.orient_polygons(rounded[polygonal], exterior_cw=False)
    texts = np.full(len(geoms), "null", dtype=object)
    if present.any():
        texts[present] = trim_numbers(shapely.to_geojson(rounded[present]).astype(object), precision)
    return texts.tolist()


@pytest.fixture(scope="module")
def taipei_run():
    communities = gpd.read_file(DATA / "taipei_small_communities.gpkg")
    buildings = gpd.read_file(DATA / "taipei_small_buildings.gpkg")
    return gridgeo.partition(communities, buildings, households="hh_est")


@pytest.mark.parametrize("layer", ["grids", "buildings", "units", "communities"])
@pytest.mark.parametrize("epsg", [4326, 3826, 32651])  # as read (longitude, latitude), TWD97 and UTM: reprojected on the way
def test_real_layers_match_the_reference(taipei_run, layer, epsg):
    frame = uniform_geometry(getattr(taipei_run, layer), multi=layer == "units").to_crs(epsg)
    geoms = frame.geometry.to_numpy()
    texts = lonlat_texts(geoms, frame.crs)
    assert texts.tolist() == _reference(geoms, frame.crs)
    # and the text is GeoJSON of the same shapes, counter-clockwise shells
    back = shapely.from_geojson(texts.astype(str))
    lonlat = frame.to_crs(4326).geometry.to_numpy()
    assert shapely.hausdorff_distance(back, lonlat).max() < 1e-6  # degrees: the 7 decimals, and nothing moved
    for g in back:
        for polygon in getattr(g, "geoms", [g]):
            assert polygon.exterior.is_ccw


def test_joint_units_of_one_building_share_one_text(taipei_run):
    units = uniform_geometry(taipei_run.units, multi=True)
    geoms = units.geometry.to_numpy()
    unique, codes = distinct_geometries(geoms)
    assert len(unique) <= len(geoms) and shapely.equals_exact(unique[codes], geoms, tolerance=0).all()
    texts = lonlat_texts(geoms, units.crs)
    for code in np.unique(codes):
        assert len(set(texts[codes == code])) == 1


def _random_polygons(rng: np.random.Generator, n: int, values) -> np.ndarray:
    """Polygons (some with holes) and multi-polygons whose coordinates are drawn from ``values``."""
    out = []
    for _ in range(n):
        parts = []
        for _ in range(int(rng.integers(1, 4))):
            rings = []
            for _ in range(int(rng.integers(1, 3))):
                xy = rng.choice(values, size=(int(rng.integers(3, 7)), 2))
                rings.append(np.vstack([xy, xy[:1]]))
            parts.append(shapely.Polygon(rings[0], rings[1:]))
        out.append(parts[0] if len(parts) == 1 and rng.random() < 0.5 else shapely.MultiPolygon(parts))
    return np.array(out, dtype=object)


def test_awkward_numbers_match_the_reference():
    rng = np.random.default_rng(17)
    rounded = np.round(rng.uniform(-180, 180, 4000), 7)
    awkward = np.array(
        [0.0, -0.0, 25.0, -180.0, 7.5, 43.7483708, 121.4920057, 1e-4, -1e-4, 1.2e-4, 9e-5, 1e-5, -2.5e-7, 1e-7,
         99.9999999, 100.0, 0.1, 0.3, 1e8, 2.5e8, 123456789.0, 1e16, 1e17, 1.23456789, np.nan, np.inf]
    )  # fmt: skip
    values = np.concatenate([rounded, awkward, rng.uniform(-1, 1, 200)])
    geoms = _random_polygons(rng, 600, values)
    texts = geometry_texts(geoms, 7)
    assert texts.tolist() == trim_numbers(shapely.to_geojson(geoms).astype(object), 7).tolist()
    for precision in (0, 3, 6, 9):
        r = np.round(values, precision)
        geoms = _random_polygons(rng, 200, r)
        assert geometry_texts(geoms, precision).tolist() == trim_numbers(shapely.to_geojson(geoms).astype(object), precision).tolist()


def test_other_geometries_go_through_shapely():
    geoms = np.array(
        [
            shapely.Point(121.5, 25.05),
            shapely.LineString([(0, 0), (1.25, 2)]),
            shapely.Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 2), (0, 0, 1)]),
            shapely.GeometryCollection([shapely.Point(1, 2), shapely.box(0, 0, 1, 1)]),
            shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3.5, 3)]),
            shapely.box(0.5, 0.5, 1.75, 1.0),
            shapely.from_wkt("POLYGON M ((0 0 1, 1.5 0 2, 1 1 3, 0 0 1))"),
            shapely.from_wkt("MULTIPOLYGON ZM (((0 0 1 5, 1 0 2 5, 1 1 3 5, 0 0 1 5)))"),
        ],
        dtype=object,
    )
    assert geometry_texts(geoms).tolist() == trim_numbers(shapely.to_geojson(geoms).astype(object), 7).tolist()


def test_write_geojson_file_is_the_reference(tmp_path, taipei_run):
    path = tmp_path / "units.geojson"
    write_geojson(taipei_run.units, path, multi=True)
    data = json.loads(path.read_text(encoding="utf-8"))
    expected = _reference(uniform_geometry(taipei_run.units, multi=True).geometry.to_numpy(), taipei_run.units.crs)
    assert len(data["features"]) == len(taipei_run.units) == len(expected)
    written = path.read_text(encoding="utf-8")
    for feature_geometry in expected:
        assert f'"geometry":{feature_geometry}}}' in written
    assert {f["geometry"]["type"] for f in data["features"]} == {"MultiPolygon"}


def test_missing_and_empty_geometries_are_null():
    geoms = np.array([None, shapely.Polygon(), shapely.box(0, 0, 1, 1)], dtype=object)
    assert lonlat_texts(geoms, None).tolist()[:2] == ["null", "null"]
    assert lonlat_texts(geoms, None).tolist() == _reference(geoms, None)


@pytest.mark.parametrize("multi", [False, True])
def test_single_geometries_made_multi_as_uniform_geometry_does(multi):
    geoms = [
        shapely.box(121.5, 25.0, 121.5001, 25.0001),
        shapely.MultiPolygon([shapely.box(121.6, 25.0, 121.6001, 25.0001), shapely.box(121.7, 25.0, 121.7001, 25.0001)]),
        shapely.box(121.5, 25.0, 121.5001, 25.0001),
        shapely.Polygon(),
        None,
        shapely.Point(121.5, 25.0),
        shapely.LineString([(121.5, 25.0), (121.6, 25.1)]),
    ]
    for chosen in (geoms, geoms[:1], geoms[5:]):
        frame = gpd.GeoDataFrame(geometry=chosen, crs=4326)
        expected = _reference(uniform_geometry(frame, multi=multi).geometry.to_numpy(), frame.crs)
        assert lonlat_texts(frame.geometry.to_numpy(), frame.crs, multi=multi).tolist() == expected


def test_texts_shared_between_layers_are_the_texts_written_alone(taipei_run):
    """The joint units written after the buildings (their footprints known) get the text they get alone."""
    buildings, units = taipei_run.buildings, taipei_run.units
    # units of one building each, as a dense city has them (a tower divided into several units): the footprints
    one_each = gpd.GeoDataFrame({"unit_code": [f"u{i}" for i in range(len(buildings))]}, geometry=buildings.geometry.to_numpy(), crs=buildings.crs)
    for layer in (units, one_each, pd.concat([one_each, units], ignore_index=True)):
        known = {}
        first = lonlat_texts(buildings.geometry.to_numpy(), buildings.crs, known=known)
        (keys, geoms, kinds, bodies), = known.values()  # one CRS and precision: each distinct footprint once
        distinct = list(dict.fromkeys(shapely.to_wkb(buildings.geometry.to_numpy()).tolist()))
        assert shapely.to_wkb(geoms).tolist() == distinct and len(keys) == len(kinds) == len(bodies) == len(distinct)
        shared = lonlat_texts(layer.geometry.to_numpy(), layer.crs, multi=True, known=known)
        alone = lonlat_texts(layer.geometry.to_numpy(), layer.crs, multi=True)
        assert shared.tolist() == alone.tolist() == _reference(uniform_geometry(layer, multi=True).geometry.to_numpy(), layer.crs)
        assert first.tolist() == lonlat_texts(buildings.geometry.to_numpy(), buildings.crs).tolist()
    # another CRS or precision never takes a text of the first
    other = lonlat_texts(buildings.geometry.to_numpy(), buildings.crs, precision=5, known=known)
    assert other.tolist() == _reference(buildings.geometry.to_numpy(), buildings.crs, precision=5)


def test_layers_written_in_pieces_give_the_same_text(taipei_run, monkeypatch):
    import gridgeo.outputs.geojson as module

    units = uniform_geometry(taipei_run.units, multi=True)
    whole = lonlat_texts(units.geometry.to_numpy(), units.crs)
    monkeypatch.setattr(module, "_CHUNK_VERTICES", 37)  # pieces of a few features, cut anywhere
    assert lonlat_texts(units.geometry.to_numpy(), units.crs).tolist() == whole.tolist() == _reference(units.geometry.to_numpy(), units.crs)
