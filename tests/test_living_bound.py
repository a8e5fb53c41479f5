"""The lower bound an update reports is one: never above the households the update moved, on real data.

``households_moved_lower_bound`` (:mod:`gridgeo.living.reportbound`) is the optimum of a program that the
update's own result must be a feasible point of.  These tests run updates on the real datasets of
``../shared/data`` (the cases of ``scripts/living_matrix.py``, among them monaco with 10 % of the buildings
removed in one cluster, where the bound used to be 223 against 121 households moved), and check the parts of
the proof on real cells: the floor of a border (:mod:`gridgeo.living.bordercost`) is below the old households
of every connected set of cells grown from that border, and the floors only raise the program's optimum.
"""

from __future__ import annotations

import importlib.util
from collections import deque

import geopandas as gpd
import numpy as np
import pytest
import shapely

import gridgeo
from gridgeo.cells.adjacency import build_cell_graph
from gridgeo.cells.tessellate import split_parts, tessellate_part
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.living.bordercost import envelope_lines, floor_of, transfer_floors
from gridgeo.living.movebound import cheapest_moves
from gridgeo.living.state import _borders
from gridgeo.living.update import update

from .conftest import REPO, SHARED

_spec = importlib.util.spec_from_file_location("living_matrix", REPO / "scripts" / "living_matrix.py")
living_matrix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(living_matrix)
change_buildings = living_matrix.change_buildings

OPTIONS = {"households": "hh_est", "community_id": "community_id", "building_id": "building_id"}


def load(name: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    folder = SHARED / name
    if not folder.exists():
        pytest.skip(f"{folder} is not present (the shared data sits beside the repository in CI)")
    return gpd.read_file(folder / "communities.gpkg"), gpd.read_file(folder / "buildings.gpkg")


def run_case(name: str, direction: str, share: float, mode: str, seed: int, tmp_path):
    communities, buildings = load(name)
    picked = change_buildings(buildings, share=share, seed=seed, concentrated=mode == "concentrated")
    fewer = buildings.drop(buildings.index[picked])
    before, after = (fewer, buildings) if direction == "add" else (buildings, fewer)
    plan = gridgeo.partition(communities, before, **OPTIONS)
    path = plan.to_files(tmp_path / f"{name}-{direction}-{mode}-{seed}")
    return plan, update(path, after), after


@pytest.mark.parametrize(
    ("name", "direction", "share", "mode", "seed"),
    [
        ("monaco", "remove", 0.10, "concentrated", 0),  # the case where the bound was 223 against 121 moved
        ("monaco", "add", 0.05, "spread", 1),
        ("monaco", "remove", 0.05, "concentrated", 1),
        ("munich_altstadt", "add", 0.05, "spread", 0),
        ("taipei_wanhua_datong", "remove", 0.05, "spread", 0),  # repairs that move buildings to grids not bordering theirs
    ],
)
def test_the_reported_bound_never_exceeds_the_households_moved(name, direction, share, mode, seed, tmp_path):
    plan, result, _ = run_case(name, direction, share, mode, seed, tmp_path)
    changes = result.changes
    bound = changes["households_moved_lower_bound"]
    assert isinstance(bound, int) and 0 <= bound <= changes["households_moved"]
    # households moved, recomputed from the two plans: buildings present in both whose grid code changed
    before = dict(zip(plan.buildings["building_code"], plan.buildings["grid_code"]))
    moved = sum(int(h) for code, grid, h in result.buildings[["building_code", "grid_code", "households"]].itertuples(index=False) if code in before and before[code] != grid)
    assert moved == changes["households_moved"]


def test_a_community_whose_total_admits_no_grid_count_is_bounded_over_the_counts_next_to_the_gap(tmp_path):
    # monaco, 10 % removed in one cluster: communities 003 (223 households) and 004 (189) fit no count of grids
    # in 300–500; the update leaves each one grid, flagged; the bound takes the fewest households any layout with a
    # count next to the gap (here one grid) moves: community 003's 18, all that moved
    _, result, _ = run_case("monaco", "remove", 0.10, "concentrated", 0, tmp_path)
    low, high = result.report["parameters"]["grid_size"]
    grids = result.grids
    infeasible = set(grids.loc[grids["status"] == "infeasible_total", "community_code"])
    assert infeasible  # the case still has such communities
    moved_there = sum(m["households"] for m in result.changes["buildings_moved"] if m["from"].rsplit("-", 1)[0] in infeasible)
    moved_elsewhere = result.changes["households_moved"] - moved_there
    assert moved_elsewhere < result.changes["households_moved_lower_bound"] <= result.changes["households_moved"]
    for code in infeasible:
        total = int(grids.loc[grids["community_code"] == code, "households"].sum())
        assert not any(low * k <= total <= high * k for k in range(1, total // low + 2))


def _grid_cells(plan, code):
    """The cells of one grid of a real plan (its polygon tessellated among its buildings), with their buildings."""
    metric = local_metric_crs(plan.grids)
    grids = plan.grids.to_crs(metric).reset_index(drop=True)
    buildings = plan.buildings.to_crs(metric)
    row = int(np.flatnonzero(grids["grid_code"].to_numpy() == code)[0])
    members = np.flatnonzero(buildings["grid_code"].to_numpy() == code)
    part = split_parts(grids.geometry.iloc[row])[0]
    tess = tessellate_part(part, buildings.geometry.to_numpy()[members])
    return grids, buildings, row, members, tess, part


def test_a_border_floor_is_below_every_connected_transfer_from_that_border():
    # real cells of a monaco grid, a third of its buildings taken as added (seeded); every set of cells grown
    # from the border with a neighbour, one bordering cell at a time, moves at least the floor's old households
    communities, buildings = load("monaco")
    plan = gridgeo.partition(communities, buildings, **OPTIONS)
    rng = np.random.default_rng(7)
    checked = 0
    for code in plan.grids["grid_code"].tolist()[:6]:
        grids, metric_buildings, row, members, tess, part = _grid_cells(plan, code)
        households = metric_buildings["households"].to_numpy(dtype=np.int64)
        is_new = np.zeros(len(households), dtype=bool)
        is_new[members[rng.random(len(members)) < 1 / 3]] = True
        community = grids["community_code"].to_numpy() == grids["community_code"].iloc[row]
        rows = np.flatnonzero(community)
        geoms = grids.geometry.to_numpy()[rows]
        local = int(np.flatnonzero(rows == row)[0])
        members_of = [np.flatnonzero(metric_buildings["grid_code"].to_numpy() == c) for c in grids["grid_code"].to_numpy()[rows]]
        pairs = [(a, b) for a, b, _ in _borders(geoms)]
        floors = transfer_floors(geoms, members_of, metric_buildings.geometry.to_numpy(), households, is_new, pairs, givers={local}, exact={local})
        n = len(tess.cells)
        old = np.bincount(tess.site_of_building, weights=np.where(is_new[members], 0, households[members]), minlength=n)
        new = np.bincount(tess.site_of_building, weights=np.where(is_new[members], households[members], 0), minlength=n)
        graph = build_cell_graph(tess.cells, (old + new).astype(np.int64), tess.anchors, None, outline_length=float(shapely.length(part))) if n > 1 else None
        for (_, b), floor in floors.items():
            near = shapely.buffer(shapely.boundary(geoms[b]), 0.01)
            border = np.flatnonzero(shapely.length(shapely.intersection(shapely.boundary(tess.cells), near)) > 0.05)
            for _ in range(20):
                # a random connected set grown from a random border cell
                taken, frontier = set(), deque([int(rng.choice(border))])
                while frontier:
                    c = frontier.popleft()
                    if c in taken:
                        continue
                    taken.add(c)
                    x, paid = float(new[sorted(taken)].sum() + old[sorted(taken)].sum()), float(old[sorted(taken)].sum())
                    assert paid >= floor.at(x) - 1e-6, (code, b, x, paid)
                    checked += 1
                    if graph is not None:
                        around = graph.shared.indices[graph.shared.indptr[c] : graph.shared.indptr[c + 1]].tolist()
                        rng.shuffle(around)
                        frontier.extend(j for j in around if j not in taken and rng.random() < 0.7)
    assert checked > 100


def test_the_envelope_is_below_the_floor_it_is_drawn_under():
    rng = np.random.default_rng(3)
    for _ in range(50):
        dist = np.sort(rng.integers(0, 200, 30)).astype(float)
        new = rng.integers(0, 40, 30).astype(float) * (rng.random(30) < 0.4)
        total = float(dist.max() + new.sum())
        lines = envelope_lines(dist, new, total)
        values, first = np.unique(dist, return_index=True)
        reach = np.cumsum(new)[np.r_[first[1:], len(dist)] - 1]
        for x in np.linspace(0.5, total, 40):
            exact = float(np.maximum(values, x - reach).min())
            assert floor_of(lines, x) <= exact + 1e-6
        assert floor_of(lines, 0.0) == 0.0


def test_the_floors_only_raise_the_program_optimum():
    # the program with floors is the program without them plus constraints: on real grids with added
    # buildings (munich, 5 % added at random) its optimum is never lower
    communities, buildings = load("munich_altstadt")
    picked = change_buildings(buildings, share=0.05, seed=0, concentrated=False)
    plan = gridgeo.partition(communities, buildings.drop(buildings.index[picked]), **OPTIONS)
    metric = local_metric_crs(plan.grids)
    grids = plan.grids.to_crs(metric).reset_index(drop=True)
    added = buildings.iloc[picked].to_crs(metric)
    points = shapely.point_on_surface(added.geometry.to_numpy())
    tree = shapely.STRtree(grids.geometry.to_numpy())
    grid_of_added = {}
    for k, hit in zip(*tree.query(points, predicate="within")):
        grid_of_added.setdefault(int(hit), []).append(int(k))
    old_buildings = plan.buildings.to_crs(metric)
    all_geoms = np.concatenate([old_buildings.geometry.to_numpy(), added.geometry.to_numpy()])
    households = np.concatenate([old_buildings["households"].to_numpy(dtype=np.int64), added["hh_est"].to_numpy(dtype=np.int64)])
    is_new = np.r_[np.zeros(len(old_buildings), dtype=bool), np.ones(len(added), dtype=bool)]
    band = tuple(plan.report["parameters"]["grid_size"])
    compared = 0
    for rows in grids.groupby("community_code").groups.values():
        rows = np.asarray(rows)
        members = [np.r_[np.flatnonzero(old_buildings["grid_code"].to_numpy() == grids["grid_code"].iloc[r]), len(old_buildings) + np.array(grid_of_added.get(int(r), []), dtype=np.int64)].astype(np.int64) for r in rows]
        old = np.array([int(households[m][~is_new[m]].sum()) for m in members])
        new = np.array([int(households[m][is_new[m]].sum()) for m in members])
        if all(band[0] <= o + n <= band[1] for o, n in zip(old, new)):
            continue
        geoms = grids.geometry.to_numpy()[rows]
        pairs = [(a, b) for a, b, _ in _borders(geoms)]
        floors = transfer_floors(geoms, members, all_geoms, households, is_new, pairs)
        free = np.array([int(households[m].max()) > band[1] if len(m) else False for m in members])
        whole = [households[m][is_new[m]] for m in members]
        plain = cheapest_moves(old, new, pairs, band=band, free=free, new_buildings=whole).bound
        floored = cheapest_moves(old, new, pairs, band=band, free=free, new_buildings=whole, floors=floors).bound
        assert floored >= plain
        compared += 1
    assert compared
