"""The set-partitioning program: exact splits of mid-sized parts, and proofs that none exists."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.cells.adjacency import build_cell_graph
from gridgeo.cells.tessellate import split_parts, tessellate_part
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.partition.program import MAX_PROGRAM, split_program
from gridgeo.partition.proof import MAX_EXHAUSTIVE, exact_split, no_split_exists

from .conftest import DATA


def _check_split(graph, labels, low, high):
    assert labels.shape == (graph.n,)
    for g in np.unique(labels):
        members = np.flatnonzero(labels == g)
        assert low <= graph.weight[members].sum() <= high
        assert connected_components(graph.shared[members][:, members], directed=False)[0] == 1


def _real_graph(taipei_small, community: int):
    """The cell graph of one real Taipei village (hh_est per building)."""
    communities, buildings = taipei_small
    crs = local_metric_crs(communities)
    communities, buildings = communities.to_crs(crs), buildings.to_crs(crs)
    area = communities.geometry.iloc[community]
    inside = buildings[buildings.representative_point().within(area)]
    part = split_parts(area)[0]
    footprints = inside.geometry.to_numpy()
    tess = tessellate_part(part, footprints)
    weight = np.bincount(tess.site_of_building, weights=inside["hh_est"].to_numpy(), minlength=len(tess.cells)).astype(np.int64)
    return build_cell_graph(tess.cells, weight, tess.anchors)


def test_program_splits_a_real_village_into_joint_unit_sized_grids(taipei_small):
    graph = _real_graph(taipei_small, 0)
    assert MAX_EXHAUSTIVE < graph.n <= MAX_PROGRAM  # past the exhaustive search, within the program
    low, high = 10, 15
    small = graph.weight <= high
    # the towers (above the band) are grids of their own; the program splits each stretch of the rest
    nodes = np.flatnonzero(small)
    count, component = connected_components(graph.shared[nodes][:, nodes], directed=False)
    checked = 0
    for c in range(count):
        members = nodes[component == c]
        sub = graph.subgraph(members)
        result = split_program(sub, low, high)
        if result.status == "split":
            _check_split(sub, result.labels, low, high)
            checked += 1
        elif result.status == "none":
            assert sub.n > MAX_EXHAUSTIVE or no_split_exists(sub, low, high)
    assert checked > 0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=5),
    st.integers(min_value=2, max_value=6),
    st.lists(st.integers(min_value=0, max_value=14), min_size=36, max_size=36),
    st.sampled_from([(10, 15), (12, 14), (20, 30)]),
)
def test_program_agrees_with_the_exhaustive_search(rows, cols, draws, band):
    low, high = band
    n = rows * cols
    cells = np.array([shapely.box(i % cols, i // cols, i % cols + 1, i // cols + 1) for i in range(n)])
    graph = build_cell_graph(cells, np.asarray(draws[:n], dtype=np.int64), shapely.centroid(cells))
    result = split_program(graph, low, high)
    # many empty cells (sheds, garages) multiply the candidate grids past the program's bounds: nothing claimed then
    assume(result.status != "unknown")
    dfs = exact_split(graph, low, high, 1, limit=1, budget=10**7)
    if result.status == "split":
        _check_split(graph, result.labels, low, high)
        assert dfs is not None
    else:
        assert dfs is None and no_split_exists(graph, low, high)


def test_a_walled_in_building_is_proven_out_of_band():
    # a layout found by scripts/fuzz.py (--grid-size 10:15 --divide 20): 60 touching buildings, a 9-household
    # building with no way to reach 10-15 households in any split; the program proves it
    case = json.loads((DATA / "fuzz_walled_in_10_15.json").read_text())
    crs = "EPSG:32650"
    communities = gpd.GeoDataFrame({"community_id": ["X"]}, geometry=[shapely.from_wkt(case["community"])], crs=crs)
    buildings = gpd.GeoDataFrame({"hh": case["households"]}, geometry=[shapely.from_wkt(w) for w in case["buildings"]], crs=crs)
    result = gridgeo.partition(communities, buildings, households="hh", grid_size=(10, 15), seed=case["seed"])
    assert audit_partition(result, buildings) == []
    out = result.grids[result.grids["status"] == "out_of_band"]
    assert len(out) == 1
    assert out["reason"].iloc[0].startswith("proven infeasible")
    assert int(out["households"].iloc[0]) == 9
    assert int(result.grids["households"].sum()) == sum(case["households"])


def test_program_leaves_large_parts_alone():
    cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(MAX_PROGRAM + 1)])
    graph = build_cell_graph(cells, np.full(len(cells), 5), shapely.centroid(cells))
    assert split_program(graph, 10, 15).status == "unknown"


@pytest.mark.parametrize("weights, expected", [([5, 6, 4, 7, 3, 9], "split"), ([9, 9, 9], "none"), ([16, 1], "none")])
def test_program_on_a_row(weights, expected):
    cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(len(weights))])
    graph = build_cell_graph(cells, np.asarray(weights), shapely.centroid(cells))
    assert split_program(graph, 10, 15).status == expected
