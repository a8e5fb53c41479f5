"""A region whose cells wall a pocket in is not searched: the repair of an update gives up on it at once, on real data.

shanghai_bund's community SHA-B032 holds a 378-household block with 201 households behind it: those
households reach the rest of the community only through the block's cell, so a grid holding them either
stays behind the block (201 < 300) or takes the block and all of them (579 > 500).  No split of those cells
into connected grids has every grid in the band (:func:`gridgeo.partition.proof.walled_in`), and the
repair of an update tried region after region there (with a new estate of 5 %, 62 cpu s where 24 sufficed
before the corridors); it now stops at the proof, before the search.  The fresh search of the same cells
leaves a grid out of band too, which the test checks independently of the proof.

Through corridors (:mod:`gridgeo.living.corridorfix`), such a region is also repaired with the pocket set
aside, and the strip then joins only the pocket: the corridors starting from the grids as they are cannot
repair SHA-B032 with a neighbour when a new estate has put every grid far above the band.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import gridgeo
from gridgeo.cells.adjacency import build_cell_graph
from gridgeo.cells.tessellate import split_parts, tessellate_part
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.living import redraw
from gridgeo.living.corridorfix import _corridor_region
from gridgeo.living.state import _Context, _Grid, _is_bad
from gridgeo.partition import mend as mend_module
from gridgeo.partition.mend import mend_band
from gridgeo.partition.notes import GridNote
from gridgeo.partition.plan import partition_part
from gridgeo.partition.proof import forced_pockets, walled_in

from .conftest import SHARED
from .test_living_bound import change_buildings

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


def test_a_walled_in_region_is_joined_through_a_corridor_with_its_pocket_set_aside(tmp_path):
    # SHA-B032 with the new estate of 5 % (seed 0, concentrated) on its own: every grid above the band, the
    # 201 households behind the 378-household block among them.  The corridors starting from the grids as they
    # are fail on a grid with its neighbour (the grids are far above the band); with the pocket set aside, the
    # region is repaired as any region is and the strip only joins the pocket, as after a fresh partition.
    folder = SHARED / "shanghai_bund"
    if not folder.exists():
        pytest.skip(f"{folder} is not present (the shared data sits beside the repository in CI)")
    everything = gpd.read_file(folder / "buildings.gpkg", layer="buildings")
    changed = np.zeros(len(everything), dtype=bool)
    changed[change_buildings(everything, share=0.05, seed=0, concentrated=True)] = True
    mine = (everything["community_id"] == "SHA-B032").to_numpy()
    community = gpd.read_file(folder / "communities.gpkg", layer="communities", where="community_id = 'SHA-B032'")
    plan = gridgeo.partition(community, everything[mine & ~changed], households="hh_est", community_id="community_id", building_id="building_id")
    after = everything[mine].reset_index(drop=True)
    metric = local_metric_crs(community)
    polygons = plan.grids.to_crs(metric)
    geoms = after.to_crs(metric).geometry.to_numpy()
    households = after["hh_est"].to_numpy(dtype=np.int64)
    before = dict(zip(plan.buildings["building_id"].astype(str), plan.buildings["grid_code"]))
    ids = after["building_id"].astype(str).to_numpy()
    is_new = np.array([b not in before for b in ids])
    # every building joins the grid it was in, an added one the grid holding its representative point
    points = shapely.point_on_surface(geoms)
    grids = {}
    for code, polygon in zip(polygons["grid_code"], polygons.geometry):
        members = {i for i in range(len(ids)) if (before.get(ids[i]) == code if not is_new[i] else shapely.covers(polygon, points[i]))}
        grids[code] = _Grid(code, polygon, members, GridNote())
    assert sum(len(g.members) for g in grids.values()) == len(ids)
    ctx = _Context(band=(LOW, HIGH), households=households, geoms=geoms, barriers=None, seed=0, community_id="SHA-B032",
                   community_code=str(plan.grids["community_code"].iloc[0]), max_region=6, is_new=is_new, next_number=len(grids) + 1)
    assert all(_is_bad(g, ctx) for g in grids.values())
    gateway = int(np.flatnonzero(households == 378)[0])
    walled = next(c for c, g in grids.items() if gateway in g.members)
    joined = 0
    for other in sorted(c for c in grids if c != walled):
        region = sorted([walled, other])
        if not shapely.intersects(grids[walled].geom, grids[other].geom):
            continue
        done = _corridor_region(grids, region, ctx, aside=True)
        if done is None:
            continue
        assert _corridor_region(grids, region, ctx) is None  # from the grids as they are: no repair
        replaced, retired = done
        new = list(replaced.values())
        # every grid of the region in the band, its households and buildings kept, one polygon each, one with a strip
        assert all(LOW <= int(households[sorted(g.members)].sum()) <= HIGH for g in new)
        assert set().union(*(g.members for g in new)) == grids[walled].members | grids[other].members
        assert all(shapely.get_type_id(g.geom) == 3 for g in new)
        assert any(g.note.code == "corridor" for g in new)
        assert shapely.coverage_is_valid(np.array([g.geom for g in new], dtype=object))
        assert abs(float(shapely.area(shapely.union_all([g.geom for g in new]))) - float(shapely.area(shapely.union_all([grids[c].geom for c in region])))) < 1.0
        joined += 1
    assert joined
