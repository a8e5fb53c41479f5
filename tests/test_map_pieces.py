"""The map's shortcuts give what the plain computations give: grid colours, joint units by reference, display geometry shared."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import gridgeo
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.outputs.map_geometry import _display_geometry, _unit_refs
from gridgeo.outputs.styles import grid_colours


@pytest.fixture(scope="module")
def run(taipei_small):
    communities, buildings = taipei_small
    return gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", seed=7)


def test_grid_colours_differ_between_every_pair_of_grids_that_touch(run):
    grids = run.grids
    colour = grid_colours(grids)
    geoms = grids.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")  # touching or overlapping, as a query finds them
    pairs = left != right
    assert pairs.sum() > len(grids)  # grids of a real run have neighbours
    assert (colour[left[pairs]] != colour[right[pairs]]).all()
    assert colour.min() == 0 and colour.max() < 12
    assert grid_colours(grids.iloc[::-1]).tolist() == colour[::-1].tolist()  # by grid code, not by row order


def _unit_refs_plainly(members, codes):
    """The joint units' buildings, one unit at a time."""
    first = {}
    for i, code in enumerate(codes):
        first.setdefault(str(code), i)
    nref, refs, own = [], [], []
    for text in members:
        names = [m.split(":")[0] for m in text.split(";")] if isinstance(text, str) and text else []
        found = [first.get(name, -1) for name in names]
        if not names or min(found) < 0:
            nref.append(0)
            own.append(True)
            continue
        found = list(dict.fromkeys(found))
        nref.append(len(found))
        refs.extend(found)
        own.append(False)
    return nref, refs, np.array(own, dtype=bool)


def test_unit_refs_are_the_members_one_unit_at_a_time(run):
    members = run.units["members"].tolist()
    codes = run.buildings["building_code"].tolist()
    odd = members + [None, "", "X9:1-2", f"{codes[0]}:1-2;{codes[0]}:3-4", f"{codes[1]}:1-3;nowhere:1-2", float("nan")]
    for given in (members, odd, []):
        nref, refs, own = _unit_refs(given, codes)
        expected = _unit_refs_plainly(given, codes)
        assert nref == expected[0] and refs == expected[1] and own.tolist() == expected[2].tolist()
    assert sum(_unit_refs(members, codes)[0]) >= len(members) > 0  # every unit of a real run refers to its buildings


def test_display_geometry_shared_between_layers_is_the_geometry_converted_alone(run):
    buildings, units = run.buildings, run.units
    metric = local_metric_crs(run.grids)
    alone = _display_geometry(units.geometry, metric, False)
    known = {}
    _display_geometry(buildings.geometry, metric, False, known)
    shared = _display_geometry(units.geometry, metric, False, known)
    assert shapely.equals_exact(np.asarray(alone, dtype=object), np.asarray(shared, dtype=object), tolerance=0).all()
    # the footprints of joint units of one building are the buildings' own converted geometries
    (keys, geoms, done), = known.values()
    assert len(keys) == len(geoms) == len(done) == len(set(shapely.to_wkb(np.concatenate([buildings.geometry.to_numpy(), units.geometry.to_numpy()])).tolist()))
    # a missing geometry stays missing, and the others are in longitude and latitude, 6 decimals
    with_gap = gpd.GeoSeries([None, *buildings.geometry.iloc[:2]], crs=buildings.crs)
    out = _display_geometry(with_gap, metric, False)
    assert out[0] is None and np.allclose(shapely.get_coordinates(out[1:]), np.round(shapely.get_coordinates(out[1:]), 6), atol=0)
    assert (np.abs(shapely.get_coordinates(out[1:])[:, 0] - 121.5) < 1).all()


def test_polygon_layers_encoded_from_one_ragged_array_as_part_by_part(run, monkeypatch):
    from gridgeo.outputs import map_geometry

    metric = local_metric_crs(run.grids)
    holed = shapely.box(121.5, 25.0, 121.6, 25.1).difference(shapely.box(121.52, 25.02, 121.53, 25.03))
    odd = np.array(
        [holed, None, shapely.Polygon(), shapely.MultiPolygon([holed, shapely.box(121.7, 25.0, 121.71, 25.01)]), shapely.MultiPolygon()],
        dtype=object,
    )
    layers = [_display_geometry(getattr(run, name).geometry, metric, False) for name in ("grids", "buildings", "units", "communities")]
    fast = [map_geometry._encode(geoms, (121_000_000, 25_000_000)) for geoms in [*layers, odd]]
    monkeypatch.setattr(map_geometry, "_encode_polygons", lambda geoms, origin: None)
    plain = [map_geometry._encode(geoms, (121_000_000, 25_000_000)) for geoms in [*layers, odd]]
    assert fast == plain and len(fast[1]["xy"]) > 1000
    assert fast[-1]["n"] == [1, 0, 0, 2, 0] and fast[-1]["r"] == [2, 2, 1]
