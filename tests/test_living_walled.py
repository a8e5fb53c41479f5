"""A region whose cells wall a pocket in is not searched: the repair of an update gives up on it at once, on real data.

shanghai_bund's community SHA-B032 holds a 378-household block with 201 households behind it: those
households reach the rest of the community only through the block's cell, so a grid holding them either
stays behind the block (201 < 300) or takes the block and all of them (579 > 500).  No split of those cells
into connected grids has every grid in the band (:func:`gridgeo.partition.proof.walled_in`), and the
repair of an update tried region after region there (with a new estate of 5 %, 62 cpu s where 24 sufficed
before the corridors); it now stops at the proof, before the search.  The fresh search of the same cells
leaves a grid out of band too, which the test checks independently of the proof.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridgeo.cells.adjacency import build_cell_graph
from gridgeo.cells.tessellate import split_parts, tessellate_part
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.living import redraw
from gridgeo.living.state import _Context
from gridgeo.partition import mend as mend_module
from gridgeo.partition.mend import mend_band
from gridgeo.partition.plan import partition_part
from gridgeo.partition.proof import forced_pockets, walled_in

from .conftest import SHARED

LOW, HIGH = 300, 500


def _community_graph(name: str, community_id: str):
    folder = SHARED / name
    if not folder.exists():
        pytest.skip(f"{folder} is not present (the shared data sits beside the repository in CI)")
    buildings = gpd.read_file(folder / "buildings.gpkg", layer="buildings", where=f"community_id = '{community_id}'")
    community = gpd.read_file(folder / "communities.gpkg", layer="communities", where=f"community_id = '{community_id}'")
    metric = local_metric_crs(community)
    part = split_parts(shapely.union_all(community.to_crs(metric).geometry.to_numpy()))[0]
    geoms = buildings.to_crs(metric).geometry.to_numpy()
    tess = tessellate_part(part, geoms)
    weight = np.bincount(tess.site_of_building, weights=buildings["hh_est"].to_numpy(), minlength=len(tess.cells)).astype(np.int64)
    return build_cell_graph(tess.cells, weight, tess.anchors, None, outline_length=float(shapely.length(part)))


def test_a_walled_in_pocket_is_proven_and_not_searched(monkeypatch):
    graph = _community_graph("shanghai_bund", "SHA-B032")
    assert (graph.weight <= HIGH).all() and walled_in(graph, LOW, HIGH)
    # the pocket as the proof sees it: below the band alone, above it with its gateway, reached only through it
    pocket, gateway = forced_pockets(graph, LOW, HIGH)[0]
    behind = int(graph.weight[pocket].sum())
    assert behind < LOW < HIGH < behind + int(graph.weight[gateway])
    outside = {int(j) for c in pocket for j in graph.shared[c].indices} - set(pocket.tolist())
    assert outside == {int(gateway)}
    # independently of the proof: a fresh search of the same cells leaves a grid out of the band
    labels, _ = partition_part(graph, LOW, HIGH, np.random.default_rng(0))
    weights = np.bincount(labels, weights=graph.weight)
    assert not ((weights >= LOW) & (weights <= HIGH)).all()
    # the repair's solver returns at once, without the search (which would fail)
    monkeypatch.setattr(redraw, "_fit_count", lambda *a, **k: pytest.fail("searched a walled-in region"))
    ctx = _Context(band=(LOW, HIGH), households=graph.weight, geoms=np.zeros(0, dtype=object), barriers=None, seed=0,
                   community_id="SHA-B032", community_code="027", max_region=6)
    start = np.zeros(graph.n, dtype=np.int64)
    assert redraw._solve_labels(graph, start, ctx, np.random.default_rng(0)) is None


def test_the_exact_step_skips_a_walled_in_group(monkeypatch):
    # the exact re-split of the band's last repair (gridgeo.partition.mend) skips a group whose cells wall a pocket
    # in: the exhaustive search would find no split there; the labels are those the search gives without the test
    graph = _community_graph("shanghai_bund", "SHA-B032")
    pocket, gateway = forced_pockets(graph, LOW, HIGH)[0]
    near = {int(gateway), *pocket.tolist()}
    for c in [int(gateway)]:
        near |= {int(j) for j in graph.shared[c].indices}
    nodes = np.array(sorted(near))
    sub = graph.subgraph(nodes)
    labels = np.zeros(sub.n, dtype=np.int64)
    labels[np.isin(nodes, pocket)] = 1
    assert walled_in(sub, LOW, HIGH)
    calls = []
    real = mend_module.exact_split
    monkeypatch.setattr(mend_module, "exact_split", lambda *a, **k: calls.append(1) or real(*a, **k))
    fast, *_ = mend_band(sub, labels, np.ones(2, dtype=bool), LOW, HIGH, oversize=np.zeros(2, dtype=bool))
    assert not calls
    monkeypatch.setattr(mend_module, "walled_in", lambda *a, **k: False)
    slow, *_ = mend_band(sub, labels, np.ones(2, dtype=bool), LOW, HIGH, oversize=np.zeros(2, dtype=bool))
    assert calls and np.array_equal(fast, slow)
