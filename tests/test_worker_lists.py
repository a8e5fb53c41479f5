"""The workers' small loops on Python lists choose exactly what their numpy forms choose.

A community's worker runs thousands of small searches (a walking tour per
grid, a unit cut per grid, the components of both sides of every bisection
cut); on a dozen items numpy's cost per call is larger than the work, so they
run on lists or through a cheaper scipy call.  The results are part of the
outputs (tours, units, grids), so each is checked here against the numpy form
it replaces, on real buildings and real cell graphs (tests/data).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from gridgeo.governance import workload
from gridgeo.governance.workload import straight_distances, tour_length, two_opt, walking_tour
from gridgeo.partition.bisect import _symmetric_components
from gridgeo.units import cut
from gridgeo.units.cut import cut_units

from .conftest import read
from .test_enumeration import _graphs


@pytest.fixture(scope="module")
def taipei():
    """Representative points and households of the real taipei_small buildings."""
    buildings = read("taipei_small_buildings.gpkg", "buildings")
    metric = buildings.to_crs(buildings.estimate_utm_crs())
    xy = shapely.get_coordinates(shapely.point_on_surface(metric.geometry.to_numpy()))
    return xy, metric["hh_est"].to_numpy().astype(np.int64)


@pytest.fixture(scope="module")
def taipei_run_grids():
    """The grid polygons (metric CRS) of every community of the real taipei_small slice, as the workers make them."""
    from gridgeo.build import community_tasks
    from gridgeo.inputs.validate import prepare_inputs
    from gridgeo.partition.engine import run_community_task

    prep = prepare_inputs(
        read("taipei_small_communities.gpkg", "communities"),
        read("taipei_small_buildings.gpkg", "buildings"),
        households="hh_est",
        building_id="building_id",
    )
    _, tasks = community_tasks(prep, np.arange(len(prep.community_ids)), (300, 500), (10, 15), 0)
    return np.concatenate([run_community_task(task).grid_geoms for task in tasks])


def _groups(xy, rng, count, largest):
    """``count`` groups of 2..``largest`` nearby points (a grid's buildings), as indices into ``xy``."""
    out = []
    for _ in range(count):
        centre = xy[rng.integers(len(xy))]
        size = int(rng.integers(2, largest + 1))
        out.append(np.argsort(np.hypot(*(xy - centre).T), kind="stable")[:size])
    return out


def test_tours_on_lists_equal_the_numpy_tours(taipei, monkeypatch):
    xy, _ = taipei
    rng = np.random.default_rng(7)
    groups = _groups(xy, rng, 300, workload._LIST_POINTS)
    on_lists = [walking_tour(straight_distances(xy[g])) for g in groups]
    monkeypatch.setattr(workload, "_LIST_POINTS", 0)
    for g, (order, length) in zip(groups, on_lists):
        expected_order, expected_length = walking_tour(straight_distances(xy[g]))
        assert order.tolist() == expected_order.tolist()
        assert length == expected_length  # the same sums, to the last bit


def test_two_opt_on_lists_stops_after_max_moves_as_numpy_does(taipei, monkeypatch):
    xy, _ = taipei
    rng = np.random.default_rng(8)
    cases = [(straight_distances(xy[g]), int(rng.integers(0, 4))) for g in _groups(xy, rng, 100, workload._LIST_POINTS)]
    start = [rng.permutation(len(d)) for d, _ in cases]
    on_lists = [two_opt(d, s, max_moves=m) for (d, m), s in zip(cases, start)]
    monkeypatch.setattr(workload, "_LIST_POINTS", 0)
    for (d, m), s, tour in zip(cases, start, on_lists):
        assert tour.tolist() == two_opt(d, s, max_moves=m).tolist()


@pytest.mark.parametrize("list_points", [workload._LIST_POINTS, 0])
def test_buildings_at_one_place_in_a_large_grid_get_a_tour(taipei, list_points, monkeypatch):
    # a point at the same place as another may list itself among its nearest neighbours; at the end of the
    # tour this used to index past it (IndexError) in the first 2-opt phase of tours above 16 points
    monkeypatch.setattr(workload, "_LIST_POINTS", list_points)
    lattice = np.array([[i % 4, i // 4] for i in range(16)] + [[0, 3]], dtype=float) * 10.0
    xy, _ = taipei
    real = np.vstack([xy[:20], xy[[3, 7, 11]]])  # three real buildings twice (duplicate geometries)
    for points in (lattice, real):
        dist = straight_distances(points)
        order, length = walking_tour(dist)
        assert sorted(order.tolist()) == list(range(len(points)))
        assert length == pytest.approx(tour_length(dist, order))
        assert length <= tour_length(dist, workload.nearest_neighbour_tour(dist)) + 1e-9


def test_unit_cuts_on_lists_equal_the_numpy_cuts(taipei, monkeypatch):
    _, households = taipei
    rng = np.random.default_rng(9)
    sequences = [households[rng.choice(len(households), size=int(rng.integers(1, 70)), replace=False)] for _ in range(300)]
    bands = [(10, 15), (3, 5), (8, 20)]
    on_lists = [cut_units(s, *bands[i % 3]) for i, s in enumerate(sequences)]
    monkeypatch.setattr(cut, "_LIST_DP", 0)
    for i, (s, units) in enumerate(zip(sequences, on_lists)):
        assert units == cut_units(s, *bands[i % 3])
        assert sum(u.households for u in units) == int(s.sum())


def test_unit_members_take_the_given_positions(taipei):
    _, households = taipei
    rng = np.random.default_rng(10)
    for _ in range(100):
        seq = households[rng.choice(len(households), size=int(rng.integers(1, 40)), replace=False)]
        positions = rng.permutation(len(seq)) + 1000
        plain = cut_units(seq, 10, 15)
        mapped = cut_units(seq, 10, 15, positions=positions)
        assert [(u.households, u.in_band) for u in plain] == [(u.households, u.in_band) for u in mapped]
        assert [[(int(positions[i]), a, z) for i, a, z in u.members] for u in plain] == [list(u.members) for u in mapped]


def test_components_of_both_sides_equal_scipys_undirected_components():
    rng = np.random.default_rng(11)
    checked = 0
    for graph in _graphs("taipei_small"):
        shared = graph.shared.tocsr()
        shared.sort_indices()
        rows = np.repeat(np.arange(graph.n), np.diff(shared.indptr))
        cols = shared.indices
        for _ in range(60):
            mask = rng.random(graph.n) < rng.uniform(0.1, 0.9)
            kept = mask[rows] == mask[cols]  # the edges within a side, as a bisection keeps them
            inside = sp.csr_matrix((np.ones(int(kept.sum())), (rows[kept], cols[kept])), shape=(graph.n, graph.n))
            count, labels = _symmetric_components(inside)
            expected_count, expected = connected_components(inside, directed=False)
            assert count == expected_count
            assert labels.tolist() == expected.tolist()
            checked += 1
    assert checked >= 180


def test_components_are_numbered_by_their_lowest_node(monkeypatch):
    # scipy's strong components come numbered by lowest node today; a numbering in another order is renumbered
    from gridgeo.partition import bisect

    graph = sp.csr_matrix(np.array([[0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=float))
    monkeypatch.setattr(bisect, "connected_components", lambda g, directed, connection: (2, np.array([1, 0, 1, 0], dtype=np.int32)))
    count, labels = _symmetric_components(graph)
    assert count == 2
    assert labels.tolist() == [0, 1, 0, 1]


def test_walking_order_on_lists_equals_the_numpy_order(taipei, monkeypatch):
    xy, _ = taipei
    rng = np.random.default_rng(12)
    groups = _groups(xy, rng, 300, cut._LIST_POINTS)
    on_lists = [cut.walking_order(xy[g]) for g in groups]
    monkeypatch.setattr(cut, "_LIST_POINTS", 0)
    for g, order in zip(groups, on_lists):
        assert order.tolist() == cut.walking_order(xy[g]).tolist()


def test_spikes_found_at_once_are_those_remove_spikes_removes(taipei_run_grids):
    from gridgeo.cells.tessellate import remove_spikes
    from gridgeo.partition.engine import _without_spikes

    grids = list(taipei_run_grids)
    # real grids, and the same grids with a spike drawn out of the shell or of a hole, and as MultiPolygons
    spiked = []
    for polygon in grids[:40]:
        shell = shapely.get_coordinates(polygon.exterior)[:-1]
        x, y = shell[0]
        tip = [(x + 3.0, y + 4.0)]
        spiked.append(shapely.Polygon(np.vstack([shell[:1], tip, shell]), [hole.coords for hole in polygon.interiors]))
        hole = shapely.get_coordinates(shapely.buffer(shapely.point_on_surface(polygon), 0.5, quad_segs=2).exterior)[:-1]
        inner = np.vstack([hole[:1], hole[:1] + 0.2, hole])
        spiked.append(shapely.Polygon(polygon.exterior.coords, [inner]))
    multi = [shapely.MultiPolygon([spiked[0], shapely.box(-10, -10, -5, -5)]), shapely.Polygon()]
    polygons = grids + spiked + multi
    expected = [remove_spikes(p) for p in polygons]
    found = _without_spikes(polygons)
    assert [shapely.to_wkb(p) for p in found] == [shapely.to_wkb(p) for p in expected]
    assert all(a is b for a, b in zip(found[: len(grids)], polygons[: len(grids)]))  # nothing to remove: the same objects
    assert sum(a is not b for a, b in zip(found, polygons)) >= len(spiked)
