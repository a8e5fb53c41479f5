"""The repair of an update finds the cheap moves the geometry offers, on real data.

When a grid goes above the band because buildings were added, and one of its added buildings lies on the
border with a neighbour that has room for it, handing that building over (with whatever cells it walls in)
moves at most the existing households of the cells it walls in.  The figure is computed here from the cells
of the two grids, independently of the repair, and the update must not move more households out of the grid
(:func:`gridgeo.living.repair._repair_cheapest`, :mod:`gridgeo.living.addedgroup`).
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse.csgraph import connected_components

from gridgeo.cells.adjacency import build_cell_graph
from gridgeo.cells.tessellate import split_parts, tessellate_part
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.living.state import _borders

from .test_living_bound import run_case


def _handover_figure(metric_grids, code, neighbour, buildings, grid_of, is_new, households, excess, room):
    """Fewest existing households walled in behind one added building of ``code`` bordering ``neighbour``
    whose households cover ``excess`` and fit ``room`` (None when there is none)."""
    geoms = metric_grids.set_index("grid_code").geometry
    parts = split_parts(shapely.union_all([geoms[code], geoms[neighbour]]))
    if len(parts) != 1:
        return None
    members = np.flatnonzero(np.isin(grid_of, [code, neighbour]))
    tess = tessellate_part(parts[0], buildings[members])
    n = len(tess.cells)
    weight = np.bincount(tess.site_of_building, weights=households[members], minlength=n).astype(np.int64)
    old = np.bincount(tess.site_of_building, weights=np.where(is_new[members], 0, households[members]), minlength=n)
    added = np.bincount(tess.site_of_building, weights=is_new[members].astype(float), minlength=n) > 0
    label = np.full(n, -1, dtype=np.int64)
    label[tess.site_of_building] = (grid_of[members] == neighbour).astype(np.int64)
    graph = build_cell_graph(tess.cells, weight, tess.anchors, None, outline_length=float(shapely.length(parts[0])))
    if (label < 0).any():
        return None  # an empty cell: its grid is not known from buildings alone
    indptr, indices = graph.shared.indptr, graph.shared.indices
    best = None
    for c in np.flatnonzero(added & (label == 0) & (old == 0)).tolist():
        if not (label[indices[indptr[c] : indptr[c + 1]]] == 1).any():
            continue
        rest = np.flatnonzero((label == 0) & (np.arange(n) != c))
        count, piece = connected_components(graph.shared[rest][:, rest], directed=False)
        held = np.bincount(piece, weights=old[rest], minlength=count)
        main = int(np.lexsort((-np.bincount(piece, minlength=count), -held))[0])
        cut = rest[piece != main]
        given = int(weight[c] + weight[cut].sum())
        if excess <= given <= room and len(rest) > len(cut):
            paid = int(old[cut].sum())
            best = paid if best is None else min(best, paid)
    return best


def test_an_added_building_on_the_border_goes_to_the_neighbour_with_room(tmp_path):
    # taipei +5 % spread (seed 0): grid 052-02 of 6300700033 goes 34 households above the band, with an added
    # 34-household building on its border with 052-03, which has room; the update used to move 71 existing
    # households to 052-04 instead
    plan, result, after = run_case("taipei_wanhua_datong", "add", 0.05, "spread", 0, tmp_path)
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    metric = local_metric_crs(plan.grids)
    grids = plan.grids.to_crs(metric).reset_index(drop=True)
    placed = result.buildings.to_crs(metric).reset_index(drop=True)
    before = dict(zip(plan.buildings["building_id"].astype(str), plan.buildings["grid_code"]))
    ids = placed["building_id"].astype(str).to_numpy()
    is_new = np.array([b not in before for b in ids])
    households = placed["households"].to_numpy(dtype=np.int64)
    # the grid every building was in before the repair: its own for old buildings, the one it lies in for added ones
    inside = shapely.STRtree(grids.geometry.to_numpy())
    points = shapely.point_on_surface(placed.geometry.to_numpy())
    hit_building, hit_grid = inside.query(points, predicate="within")
    grid_of = np.array([before.get(b) for b in ids], dtype=object)
    grid_of[hit_building[is_new[hit_building]]] = grids["grid_code"].to_numpy()[hit_grid[is_new[hit_building]]]
    totals = {code: int(households[grid_of == code].sum()) for code in grids["grid_code"]}
    moved_from: dict[str, int] = {}
    for move in result.changes["buildings_moved"]:
        moved_from[move["from"]] = moved_from.get(move["from"], 0) + move["households"]
    checked = []
    for ccode in sorted(set(grids["community_code"])):
        rows = np.flatnonzero(grids["community_code"].to_numpy() == ccode)
        codes = grids["grid_code"].to_numpy()[rows]
        over = [c for c in codes if totals[c] > high]
        if len(over) != 1 or any(totals[c] < low for c in codes):
            continue  # one grid to repair in the community: what leaves it is its own repair's
        code = over[0]
        at = int(np.flatnonzero(codes == code)[0])
        for a, b, _ in _borders(grids.geometry.to_numpy()[rows]):
            if at not in (a, b):
                continue
            neighbour = codes[b if a == at else a]
            figure = _handover_figure(grids, code, neighbour, placed.geometry.to_numpy(), grid_of, is_new, households, totals[code] - high, high - totals[neighbour])
            if figure is not None:
                assert moved_from.get(code, 0) <= figure, (code, neighbour, moved_from.get(code, 0), figure)
                checked.append(code)
    assert "052-02" in checked
