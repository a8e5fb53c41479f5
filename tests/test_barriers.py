"""Grid boundaries follow barrier lines where a feasible partition allows it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.barrier_audit import barrier_audit
from gridgeo.cells.adjacency import build_cell_graph
from gridgeo.partition.crossings import block_alone, explain_crossings
from gridgeo.partition.plan import partition_part
from gridgeo.partition.proof import forced_pockets

CRS = 32651


def _grid_layout(n_side=10, step=20.0):
    footprints = []
    for i in range(n_side):
        for j in range(n_side):
            x, y = i * step + 5, j * step + 5
            footprints.append(shapely.box(x, y, x + 8, y + 8))
    return footprints


def test_a_diagonal_road_splitting_two_feasible_halves_is_never_crossed():
    community = shapely.box(0, 0, 200, 200)
    road = shapely.LineString([(0, 30), (200, 170)])  # diagonal, not aligned with any sweep of the layout
    footprints = _grid_layout()
    above = np.array([road.distance(f) > 0 and f.centroid.y > 30 + 0.7 * f.centroid.x for f in footprints])
    # households: 800 on each side of the road, spread over that side's buildings
    hh = np.zeros(len(footprints), dtype=int)
    for side in (above, ~above):
        idx = np.flatnonzero(side)
        hh[idx] = 800 // len(idx)
        hh[idx[: 800 - hh[idx].sum()]] += 1
    keep = np.array([not road.intersects(f) for f in footprints])
    c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[community], crs=CRS)
    b = gpd.GeoDataFrame({"hh": hh[keep]}, geometry=list(np.array(footprints, dtype=object)[keep]), crs=CRS)
    roads = gpd.GeoDataFrame(geometry=[road], crs=CRS)
    result = gridgeo.partition(c, b, households="hh", barriers=roads)
    assert audit_partition(result, b) == []
    assert result.report["summary"]["barrier_crossings"] == 0
    assert result.report["summary"]["barrier_crossings_min"] == 0
    assert (result.grids["barrier_crossings"] == 0).all()
    assert len(result.grids) == 4 and result.grids["households"].between(300, 500).all()


def test_real_roads_keep_guarantees_and_report_crossings(monaco):
    communities, buildings, roads = monaco
    with_roads = gridgeo.partition(communities, buildings, households="hh_est", barriers=roads)
    assert audit_partition(with_roads, buildings) == []
    s = with_roads.report["summary"]
    assert s["barrier_crossings"] >= s["barrier_crossings_min"]
    assert with_roads.grids["barrier_crossings"].sum() == s["barrier_crossings"]
    assert with_roads.report["parameters"]["barriers"] == 1


def _row(weights, walls):
    """Unit squares in a row with households ``weights`` and vertical walls at the x positions ``walls``."""
    cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(len(weights))])
    lines = np.array([shapely.LineString([(x, -1), (x, 2)]) for x in walls])
    return build_cell_graph(cells, np.array(weights), shapely.centroid(cells), lines)


def _crossings(graph, labels):
    _, block = graph.blocks()
    return sum(len(np.unique(block[labels == g])) - 1 for g in range(int(labels.max()) + 1))


def test_what_a_tower_leaves_of_its_block_joins_the_tower_not_the_next_block():
    # block A: a tower of 800 and a house of 100; a wall; block B: 800 households that split into 2 grids
    graph = _row([800, 100, 200, 200, 200, 200], [2])
    for seed in range(3):
        labels, notes = partition_part(graph, 300, 500, np.random.default_rng(seed))
        assert labels[1] == labels[0] and _crossings(graph, labels) == 0
        assert [n.status for n in notes] == ["oversize_building", "in_band", "in_band"]


def test_a_pocket_out_of_band_in_every_partition_stays_in_its_block():
    # cell 0 (100) is a pocket behind cell 1 (450): their grid is out of band whatever the split
    graph = _row([100, 450, 400, 400, 400, 400], [4])
    labels, notes = partition_part(graph, 300, 500, np.random.default_rng(0))
    assert _crossings(graph, labels) == 0
    assert [n.code for n in notes if n.status == "out_of_band"] == ["proven_pocket"]
    assert [(p.tolist(), v) for p, v in forced_pockets(graph, 300, 500)] == [([0], 1)]


def test_crossing_verdicts():
    rng = np.random.default_rng(0)
    # a block of 100 households cannot stand alone: joining it to its neighbour is necessary
    graph = _row([100, 150, 150, 150, 150], [1])
    rows = explain_crossings(graph, np.array([0, 0, 0, 1, 1]), [None, None], 300, 500, rng)
    assert [(r["verdict"], r["block_verdicts"]) for r in rows] == [("necessary", ["no_count", "alone"])]
    # block A holds a forced pocket (cells 0-1, out of band anyway) and 400 more; block B 600 in two grids:
    # a grid joining them is needless, though A's total (950) has no in-band split
    graph = _row([100, 450, 200, 200, 150, 150, 150, 150], [4])
    rows = explain_crossings(graph, np.array([0, 0, 1, 1, 1, 2, 2, 2]), [None] * 3, 300, 500, rng)
    assert [(r["verdict"], r["block_counts"]) for r in rows] == [("needless", [True, True])]
    assert block_alone(graph, np.arange(4), 300, 500, rng)[0] == "no_split"
    # a block with a tower always stands alone: what the tower leaves may join it
    graph = _row([900, 250, 200, 200], [2])
    assert block_alone(graph, np.arange(2), 300, 500, rng)[0] == "alone"


def test_barrier_audit_matches_the_partition(monaco):
    communities, buildings, roads = monaco
    result = gridgeo.partition(communities, buildings, households="hh_est", barriers=roads)
    audit = barrier_audit(communities, buildings, roads, households="hh_est", result=result)
    s = result.report["summary"]
    assert (audit.crossings, audit.crossings_min) == (s["barrier_crossings"], s["barrier_crossings_min"])
    crossing = result.grids.loc[result.grids["barrier_crossings"] > 0].set_index("grid_code")["barrier_crossings"]
    assert audit.grids.set_index("grid_code")["crossings"].sort_index().to_dict() == crossing.sort_index().to_dict()
    assert audit.count("needless") == 0, audit.grids
