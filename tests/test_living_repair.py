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

import gridgeo
from gridgeo.cells.adjacency import build_cell_graph
from gridgeo.cells.tessellate import split_parts, tessellate_part
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.living.state import _borders
from gridgeo.living.update import update

from .test_living_bound import OPTIONS, load, run_case
from .test_living_corridors import community_case
from .test_living_plans import check_living


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
    # taipei +5 % spread (seed 0), community 6300700033 (052 in the whole dataset, 001 alone): grid 001-02 goes 34
    # households above the band, with an added 34-household building on its border with 001-03, which has room; the
    # update used to move 71 existing households to 001-04 instead.  (A community is partitioned and repaired on its
    # own: alone, it gets the plan it gets in the whole dataset, under its own code.)
    plan, result, after = community_case("taipei_wanhua_datong", "6300700033", 0, tmp_path)
    check_living(plan, result, after)
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
    assert "001-02" in checked


def test_added_buildings_go_to_a_neighbour_without_band(tmp_path):
    # shanghai_bund +5 % spread (seed 2), SHA-B029 (024 in the whole dataset, 001 alone): grid 001-03 goes 82
    # households above the band with an added 111-household building; its neighbours with room are behind existing
    # households, but it borders grids that hold a building above the maximum (no band), and the added building
    # reaches one of them through cells without households.  The kept-cell optimum moves nobody; the update used to
    # move 96 existing households to 001-01 (:func:`gridgeo.living.repair._repair_cheapest`,
    # :func:`gridgeo.living.addedgroup.give_added`)
    plan, result, after = community_case("shanghai_bund", "SHA-B029", 2, tmp_path)
    check_living(plan, result, after)
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    before = dict(zip(plan.buildings["building_code"], plan.buildings["grid_code"]))
    grids = result.grids.set_index("grid_code")
    community = grids.loc["001-03", "community_code"]
    codes = set(grids.index[grids["community_code"] == community])
    placed = result.buildings
    # the added buildings lying in 001-03 as the plan drew it: the grid held them before the repair
    polygon = plan.grids.set_index("grid_code").geometry["001-03"]
    added = placed[~placed["building_code"].isin(before)]
    inside = added[shapely.within(shapely.point_on_surface(added.geometry.to_numpy()), polygon)]
    left = inside[inside["grid_code"] != "001-03"]
    assert len(left) and int(grids.loc["001-03", "households"]) + int(left["households"].sum()) > high
    assert low <= int(grids.loc["001-03", "households"]) <= high
    # nobody who was there before moved in that community
    assert sum(m["households"] for m in result.changes["buildings_moved"] if m["from"] in codes) == 0
    # what left went to grids holding a building above the maximum
    largest = placed.groupby("grid_code")["households"].max()
    assert all(int(largest[code]) > high for code in set(left["grid_code"]))


def test_a_large_added_building_goes_to_a_neighbour_that_passes_its_cheapest_part_on(tmp_path):
    # munich_altstadt +5 % spread (seed 0), MUN-005 (005 in the whole dataset, 001 alone): grid 001-12 goes 103
    # households above the band with an added 161-household building on its border with 001-17, which has room for
    # 103 only; 001-17 takes the building and passes its cheapest part on to 001-18 (a chain,
    # :func:`gridgeo.living.repair._repair_cheapest`).  The update used to move 81 existing households of 001-12 to
    # 001-06 instead
    plan, result, after = community_case("munich_altstadt", "MUN-005", 0, tmp_path)
    check_living(plan, result, after)
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    before = dict(zip(plan.buildings["building_code"], plan.buildings["grid_code"]))
    placed = result.buildings
    polygon = plan.grids.set_index("grid_code").geometry["001-12"]
    added = placed[~placed["building_code"].isin(before)]
    inside = added[shapely.within(shapely.point_on_surface(added.geometry.to_numpy()), polygon)]
    old_total = int(plan.buildings.loc[plan.buildings["grid_code"] == "001-12", "households"].sum())
    assert old_total + int(inside["households"].sum()) > high  # the added buildings pushed it above the band
    left = inside[inside["grid_code"] != "001-12"]
    assert len(left) and int(left["households"].max()) > high - int(plan.grids.set_index("grid_code").loc["001-17", "households"])
    # nobody who was there before left 001-12, and the grids are in the band
    assert sum(m["households"] for m in result.changes["buildings_moved"] if m["from"] == "001-12") == 0
    grids = result.grids.set_index("grid_code")
    assert grids.loc[["001-12", "001-17", "001-18"], "households"].between(low, high).all()


def test_an_excess_no_single_border_takes_passes_along_a_chain(tmp_path):
    # taipei_wanhua_datong +5 % spread (seed 1): grid 016-09 of 6300600022 goes 129 households above the band and no
    # connected set of its cells at one border both covers that and fits the neighbour's room; a transfer may hand a
    # neighbour more than its room, which passes the overflow on (:func:`gridgeo.living.exactshed.shed_exactly` with
    # ``overflow``).  The update used to move 225 existing households out of 016-09 (290 in the community, 649 in all
    # against a bound of 310)
    plan, result, after = run_case("taipei_wanhua_datong", "add", 0.05, "spread", 1, tmp_path)
    check_living(plan, result, after)
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    before = plan.buildings.set_index("building_code")
    assert int(before.loc[before["grid_code"] == "016-09", "households"].sum()) <= high  # the added buildings pushed it over
    grids = result.grids.set_index("grid_code")
    community = grids.loc["016-09", "community_code"]
    assert grids.loc[grids["community_code"] == community, "households"].between(low, high).all()
    moved = result.changes["households_moved"]
    out_of_016 = sum(m["households"] for m in result.changes["buildings_moved"] if m["from"].startswith("016-"))
    assert out_of_016 < 290, out_of_016
    # the target for 5 % spread growth: within 1.5 times the reported lower bound
    assert moved <= 1.5 * result.changes["households_moved_lower_bound"], (moved, result.changes["households_moved_lower_bound"])


def test_a_new_grid_of_added_buildings_is_topped_up_across_a_border(tmp_path):
    # munich_altstadt +5 % spread (seed 1), MUN-004 (004 in the whole dataset, 001 alone): a 229-household building
    # is added in 001-01 (439 households), which no neighbour has room for; a new grid is needed.  Topped up inside
    # 001-01 it took 87 existing households; the building lies at the border with 001-02, whose added 16 households
    # and small buildings next to it top it up for fewer (:func:`gridgeo.living.addedgroup.split_added_across`)
    plan, result, after = community_case("munich_altstadt", "MUN-004", 1, tmp_path)
    check_living(plan, result, after)
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    before = set(plan.buildings["building_code"])
    placed = result.buildings
    added = placed[~placed["building_code"].isin(before)]
    largest = added.loc[added["households"].idxmax()]
    assert int(largest["households"]) > high - int(plan.grids["households"].min())  # no grid has room for it
    new_grid = str(largest["grid_code"])
    assert new_grid not in set(plan.grids["grid_code"])  # it is in a new grid
    grids = result.grids.set_index("grid_code")
    community = grids.loc[new_grid, "community_code"]
    assert grids.loc[grids["community_code"] == community, "households"].between(low, high).all()
    moves = [m for m in result.changes["buildings_moved"] if m["to"] == new_grid]
    # existing households of more than one grid could top it up; it took them from one, fewer than the 87 of 001-01
    assert len({m["from"] for m in moves}) == 1 and sum(m["households"] for m in moves) < 87
    assert all(m["from"] != "001-01" for m in result.changes["buildings_moved"])


def test_parts_of_one_tower_drawn_with_one_outline_leave_their_grid_without_band(tmp_path):
    # shanghai_bund draws towers as stacked parts with one outline each (w524195879..84 in SHA-B029: six parts of
    # 358.8 m², 134 to 255 households, 1,167 in all).  They share one cell, which no border can cut: a grid holding
    # them has the excuse of a building above the maximum when they are above it together.  The update judged by
    # single buildings: adding parts to such a grid left it "out of band", the repair tried 83 times in a row and
    # then drew the whole community again (+5 % spread seed 3: 427 households moved there, against 0 needed).
    communities, buildings = load("shanghai_bund")
    community = communities[communities["community_id"] == "SHA-B029"]
    everything = buildings[buildings["community_id"] == "SHA-B029"].reset_index(drop=True)
    tower = ["w524195879", "w524195880", "w524195881", "w524195882", "w524195883", "w524195884"]
    parts = everything[everything["building_id"].isin(tower)]
    assert len(parts) == 6 and shapely.equals(parts.geometry.iloc[0], parts.geometry.to_numpy()).all()
    before = everything[~everything["building_id"].isin(tower[:3])]
    plan = gridgeo.partition(community, before, **OPTIONS)
    # a fresh partition keeps every set of buildings drawn with one outline in one grid (the three parts left here
    # used to be split: the two without samples of their own joined the podium's cell, the nearest samples' site)
    outline = shapely.to_wkb(shapely.normalize(plan.buildings.geometry.to_numpy()))
    assert plan.buildings.groupby(outline)["grid_code"].nunique().max() == 1
    path = plan.to_files(tmp_path / "plan")
    result = update(path, everything)
    check_living(plan, result, everything)
    held = result.buildings[result.buildings["building_id"].isin(tower)]
    assert held["grid_code"].nunique() == 1  # one cell: one grid
    code = held["grid_code"].iloc[0]
    grids = result.grids.set_index("grid_code")
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    assert code in set(plan.grids["grid_code"])  # the grid keeps its code
    assert int(held["households"].sum()) > high and grids.loc[code, "status"] == "oversize_building"
    # nothing else changed: no household that was there before changes grid, and the bound agrees
    assert result.changes["households_moved"] == 0
    assert result.changes["households_moved_lower_bound"] == 0


def test_added_buildings_that_fill_two_new_grids_make_both_without_splitting_the_rest_afresh(tmp_path):
    # monaco +5 % spread (seed 4), MON-002: two added buildings of 306 and 263 households land in one grid of 432.
    # The first becomes a new grid of its own; what was left (709) was split afresh, moving a 104-household building
    # that was there before into the second new grid.  Made the same way as the first (the 263 topped up with the
    # cheapest cells, :func:`gridgeo.living.redraw._more_added_grids`), the second moves fewer.
    plan, result, after = community_case("monaco", "MON-002", 4, tmp_path)
    check_living(plan, result, after)
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    before = set(plan.buildings["building_code"])
    added = result.buildings[~result.buildings["building_code"].isin(before)].sort_values("households", ascending=False)
    first, second = added.iloc[0], added.iloc[1]
    assert (int(first["households"]), int(second["households"])) == (306, 263)
    old_codes = set(plan.grids["grid_code"])
    assert first["grid_code"] not in old_codes and second["grid_code"] not in old_codes and first["grid_code"] != second["grid_code"]
    assert result.grids["households"].between(low, high).all()
    assert result.changes["households_moved"] < 104
