"""Results gathered as they finish (gridgeo.parallel.map_completed) and kept compact (gridgeo.gather) give the same partition."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridgeo.build import community_tasks
from gridgeo.gather import gather_result
from gridgeo.governance.codes import community_codes
from gridgeo.inputs.validate import prepare_inputs
from gridgeo.parallel import map_completed, map_ordered
from gridgeo.partition.engine import run_community_task


@pytest.fixture(scope="module")
def tasks(taipei_small):
    communities, buildings = taipei_small
    prep = prepare_inputs(communities, buildings, households="hh_est", building_id="building_id")
    order = np.argsort(community_codes(prep.community_ids).astype(str), kind="stable")
    members, tasks = community_tasks(prep, order, (300, 500), (10, 15), 3)
    return prep, members, tasks


def test_map_completed_gives_every_result_once(tasks):
    _, _, items = tasks
    items = items[:4]
    serial = [run_community_task(t) for t in items]
    seen = dict(map_completed(run_community_task, items, workers=2, weights=[len(t.buildings) for t in items]))
    assert sorted(seen) == list(range(len(items)))
    for i, result in seen.items():
        assert np.array_equal(result.building_grid, serial[i].building_grid)
        assert [bool(shapely.equals_exact(a, b, 0)) for a, b in zip(result.grid_geoms, serial[i].grid_geoms)] == [True] * len(serial[i].grid_geoms)
    assert map_ordered(abs, [-2, 1, -3], workers=2) == [2, 1, 3]
    assert list(map_completed(abs, [-2, 1, -3])) == [(0, 2), (1, 1), (2, 3)]  # serial: in order


def test_gathered_units_are_the_workers_units(tasks):
    """Every unit keeps its households, members and band flag; a unit of one building keeps no geometry of its own,
    and its building's footprint (which the parent holds) is exactly the geometry the worker gave it."""
    prep, member_lists, items = tasks
    singles = unions = 0
    for members, task in zip(member_lists, items):
        result = run_community_task(task)
        gathered = gather_result(result)
        assert gathered.n_grids == len(result.grid_geoms)
        assert np.array_equal(gathered.building_grid, result.building_grid)
        u = 0
        for g, (units, geoms) in enumerate(zip(result.grid_units, result.unit_geoms)):
            assert list(gathered.grid_units(g)) == list(range(u, u + len(units)))
            in_grid = members[result.building_grid == g]
            for unit, geom in zip(units, geoms):
                assert gathered.unit(u) == unit
                if len(unit.members) == 1:
                    assert gathered.unit_geoms[u] is None
                    own = prep.building_geoms[in_grid[unit.members[0][0]]]
                    assert shapely.to_wkb(own) == shapely.to_wkb(geom)
                    singles += 1
                else:
                    assert gathered.unit_geoms[u] is geom
                    unions += 1
                u += 1
        assert u == len(gathered.unit_grid) == len(gathered.unit_starts) - 1
        assert int(gathered.unit_households.sum()) == int(task.households.sum())
    assert singles and unions  # both kinds are covered by this slice


def test_gathered_in_the_worker_is_gathered_in_the_parent(tasks):
    """run_and_gather in a pool of two workers gives, per community, what gather_result gave the parent from the
    full result, its stage times included; what travels back is smaller (no copy of a footprint per unit)."""
    import pickle

    from gridgeo.gather import run_and_gather

    _, _, items = tasks
    items = items[:6]
    in_workers = dict(map_completed(run_and_gather, items, workers=2, weights=[len(t.buildings) for t in items]))
    assert sorted(in_workers) == list(range(len(items)))
    full_bytes = gathered_bytes = 0
    for i, task in enumerate(items):
        full = run_community_task(task)
        expected, got = gather_result(full), in_workers[i]
        assert set(got.timings) == set(full.timings) and "tessellation" in got.timings
        got.timings = None
        for name in ("building_grid", "barrier_crossings", "grid_tours", "unit_grid", "unit_households", "unit_in_band", "unit_starts", "member_building", "member_first", "member_last"):
            assert np.array_equal(getattr(got, name), getattr(expected, name)), name
        assert shapely.to_wkb(got.grid_geoms).tolist() == shapely.to_wkb(expected.grid_geoms).tolist()
        assert [None if g is None else shapely.to_wkb(g) for g in got.unit_geoms] == [None if g is None else shapely.to_wkb(g) for g in expected.unit_geoms]
        assert got.notes == expected.notes and got.barrier_crossings_min == expected.barrier_crossings_min
        full_bytes += len(pickle.dumps(full))
        gathered_bytes += len(pickle.dumps(got))
    assert gathered_bytes < full_bytes


def test_own_footprints_share_the_outputs_objects(taipei_small):
    """In a metric input CRS a unit of one building shares the buildings layer's geometry object (no second copy),
    and every footprint has the WKB of the metric geometry the worker used; in degrees the metric ones are kept."""
    from gridgeo.gather import own_footprints

    communities, buildings = taipei_small
    metric = prepare_inputs(communities.to_crs(3826), buildings.to_crs(3826), households="hh_est", building_id="building_id")
    footprints = own_footprints(metric, chunk=500)
    own = metric.buildings.geometry.to_numpy()
    assert [shapely.to_wkb(a) for a in footprints] == [shapely.to_wkb(a) for a in metric.building_geoms]
    shared = np.array([a is b for a, b in zip(footprints, own)])
    assert shared.mean() > 0.9  # the repaired ones (if any) keep their metric geometry
    degrees = prepare_inputs(communities, buildings, households="hh_est", building_id="building_id")
    assert own_footprints(degrees) is degrees.building_geoms


def test_unit_text_in_arrow_chunks_gives_the_same_layer(taipei_small, monkeypatch, tmp_path):
    """The units' text moved into Arrow a few units at a time gives the frame and files one list per column gave."""
    import gridgeo
    from gridgeo.gather import UnitColumns

    from .conftest import file_hashes

    communities, buildings = taipei_small
    whole = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", seed=3)
    monkeypatch.setattr(UnitColumns, "CHUNK", 7)
    chunked = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", seed=3)
    assert len(chunked.units) > 7 * 3
    assert chunked.units.dtypes.to_dict() == whole.units.dtypes.to_dict()
    assert chunked.units.drop(columns="geometry").equals(whole.units.drop(columns="geometry"))
    rows = whole.units.drop(columns="geometry").to_dict(orient="records")
    import pandas as pd

    assert pd.DataFrame(rows).dtypes.to_dict() == whole.units.drop(columns="geometry").dtypes.to_dict()  # as a dict per row gave
    whole.to_files(tmp_path / "whole")
    chunked.to_files(tmp_path / "chunked")
    assert file_hashes(tmp_path / "chunked") == file_hashes(tmp_path / "whole")
