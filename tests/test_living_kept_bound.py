"""The kept-cell bound of an update (``update(..., kept_cell_bound=True)``, ``gridgeo update --kept-cell-bound``).

On a real monaco update (5 % of the buildings added at random, seed 1): the bound is at least the programs' bound
and at most the households the update moved, the plan itself is the same as without it, and it is the same run
after run; a community's repair that is not a layout in whole kept cells (a grid taking a cell that does not touch
it) gets no kept-cell bound, and one that is gets at most what it moved from where the update placed each
building.  The CLI writes the same bound in changes.json, and two worker processes give the same plan and bound.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

import gridgeo
import gridgeo.living.update as update_module
from gridgeo.cli import main
from gridgeo.living.keptcells import kept_sites
from gridgeo.living.keptoptimum import kept_cells_bound
from gridgeo.living.state import _existing_moved

from .test_living_optimum import _copy, repaired_communities
from .test_living_plans import OPTIONS, change_buildings, load


@pytest.fixture(scope="module")
def monaco_update(tmp_path_factory):
    """A monaco plan without 5 % of its buildings (seed 1), the full layer, and the update with and without the bound."""
    communities, buildings = load("monaco")
    added = change_buildings(buildings, share=0.05, seed=1, concentrated=False)
    plan = gridgeo.partition(communities, buildings.drop(buildings.index[added]), **OPTIONS)
    folder = plan.to_files(tmp_path_factory.mktemp("kept_bound") / "plan")
    plain = update_module.update(folder, buildings, audit=True, kept_cell_bound=False)
    sharp = update_module.update(folder, buildings, audit=True)
    return folder, buildings, plain, sharp


def test_the_kept_cell_bound_is_sharper_and_never_above_what_moved(monaco_update):
    folder, buildings, plain, sharp = monaco_update
    moved = sharp.changes["households_moved"]
    assert plain.changes["households_moved_lower_bound"] < sharp.changes["households_moved_lower_bound"] <= moved
    # the plan is the same: only the bound changes
    assert sharp.changes["households_moved"] == plain.changes["households_moved"]
    assert sharp.buildings["grid_code"].tolist() == plain.buildings["grid_code"].tolist()
    assert sharp.grids["geometry"].to_wkb().tolist() == plain.grids["geometry"].to_wkb().tolist()
    again = update_module.update(folder, buildings, audit=False, kept_cell_bound=True)
    assert again.changes["households_moved_lower_bound"] == sharp.changes["households_moved_lower_bound"]


@pytest.fixture(scope="module")
def repaired(monaco_update):
    """The communities the update repairs, as it holds them before and after the repair."""
    folder, buildings, _, _ = monaco_update
    return repaired_communities(folder, buildings)


def test_a_repair_in_kept_cells_is_bounded_by_what_it_moved(repaired):
    bounded = 0
    for start, dirty, ctx, final in repaired:
        bound = kept_cells_bound(start, final, dirty, ctx)
        if bound is not None:
            bounded += 1
            assert 0 <= bound <= _existing_moved(start, final, ctx)
    assert bounded >= 2


def test_a_grid_taking_a_cell_that_does_not_touch_it_gets_no_kept_cell_bound(repaired):
    tried = 0
    for start, dirty, ctx, final in repaired:
        if kept_cells_bound(start, final, dirty, ctx) is None:
            continue
        region = sorted(c for c, g in start.items() if not g.dedicated and not g.locked and g.members)
        members, _, tess, graph, _ = kept_sites(start, region, ctx)
        cell_of = dict(zip(members.tolist(), tess.site_of_building.tolist()))
        adjacency = graph.shared.tocsr()
        codes = sorted(c for c, g in final.items() if g.members)
        for giver in codes:
            for taker in codes:
                theirs = {cell_of[b] for b in final[taker].members}
                # a building of another grid alone in its cell, whose cell touches none of the taker's cells
                far = [
                    b for b in sorted(final[giver].members)
                    if giver != taker and len(final[giver].members) > 1
                    and not set(adjacency.indices[adjacency.indptr[cell_of[b]] : adjacency.indptr[cell_of[b] + 1]].tolist()) & theirs
                    and sum(1 for m in members.tolist() if cell_of[m] == cell_of[b]) == 1
                ]
                if not far:
                    continue
                changed = {code: _copy(grid) for code, grid in final.items()}
                changed[giver].members.discard(far[0])
                changed[taker].members.add(far[0])
                assert kept_cells_bound(start, changed, dirty, ctx) is None
                tried += 1
                break
            else:
                continue
            break
    assert tried >= 1


def test_the_cli_writes_the_same_bound(monaco_update, tmp_path):
    folder, buildings, _, sharp = monaco_update
    buildings.to_file(tmp_path / "new.gpkg", layer="buildings")
    out = tmp_path / "v2"
    result = CliRunner().invoke(main, ["-q", "update", str(folder), "--buildings", str(tmp_path / "new.gpkg"), "-o", str(out), "--kept-cell-bound", "--no-map", "--no-report"])
    assert result.exit_code == 0, result.output
    changes = json.loads((out / "changes.json").read_text(encoding="utf-8"))
    assert changes["households_moved_lower_bound"] == sharp.changes["households_moved_lower_bound"]
    assert changes["households_moved"] == sharp.changes["households_moved"]
    assert np.isfinite(changes["share_households_moved"])


def test_two_worker_processes_give_the_same_plan_and_bound(monaco_update):
    folder, buildings, _, sharp = monaco_update
    forked = update_module.update(folder, buildings, audit=True, kept_cell_bound=True, workers=2)
    assert forked.buildings["grid_code"].tolist() == sharp.buildings["grid_code"].tolist()
    assert forked.grids["grid_code"].tolist() == sharp.grids["grid_code"].tolist()
    assert forked.grids["geometry"].to_wkb().tolist() == sharp.grids["geometry"].to_wkb().tolist()
    assert {k: v for k, v in forked.changes.items() if k != "parent"} == {k: v for k, v in sharp.changes.items() if k != "parent"}


def test_tighter_limits_never_give_a_higher_kept_cell_bound(repaired):
    # the programs are solved in a fixed order and the bound is the best any of them proves: a limit that stops the
    # search sooner (fewer programs, no program with connectivity flows, fewer columns in all) proves a prefix of the
    # same sequence
    seen = []
    for start, dirty, ctx, final in repaired:
        ctx = dataclasses.replace(ctx, kept_known=None)  # (the programs alone, without what the candidate proved)
        full = kept_cells_bound(start, final, dirty, ctx)
        if full is None:
            continue
        first = kept_cells_bound(start, final, dirty, ctx, max_rounds=1)
        no_flows = kept_cells_bound(start, final, dirty, ctx, max_columns=0)
        small = kept_cells_bound(start, final, dirty, ctx, max_work=2000)  # (columns of the programs, summed)
        unlimited = kept_cells_bound(start, final, dirty, ctx, max_work=10**9)
        assert first is not None and no_flows is not None
        assert first <= no_flows <= full <= unlimited <= _existing_moved(start, final, ctx)
        assert (small or 0) <= full
        seen.append((first, full))
    assert any(first < full for first, full in seen)


def test_the_kept_cell_program_is_solved_only_where_the_bound_may_still_rise(monaco_update, monkeypatch):
    # a community whose programs' bound already reaches what it moved is not given to the kept-cell program: the
    # bound is the same as when every community is, with fewer programs solved
    from gridgeo.living import reportbound

    folder, buildings, _, sharp = monaco_update
    solved = []
    real = reportbound.kept_cells_bound

    def counted(*args, **kwargs):
        solved.append(args[3].community_id)
        return real(*args, **kwargs)

    monkeypatch.setattr(reportbound, "kept_cells_bound", counted)
    monkeypatch.setattr(reportbound, "_may_rise", lambda value, moved: True)
    everywhere = update_module.update(folder, buildings, audit=False, kept_cell_bound=True, workers=1)
    every_count = len(solved)
    monkeypatch.undo()
    monkeypatch.setattr(reportbound, "kept_cells_bound", counted)
    solved.clear()
    assert everywhere.changes["households_moved_lower_bound"] == sharp.changes["households_moved_lower_bound"]
    update_module.update(folder, buildings, audit=False, kept_cell_bound=True, workers=1)
    assert 0 < len(solved) < every_count


def test_the_bound_starts_from_what_the_kept_cell_candidate_proved(repaired):
    # the update's last repair candidate solves the kept-cell program of the same grids (gridgeo.living.seamguard):
    # what it proves bounds every repair in whole kept cells, so the kept-cell bound starts from it, and where it
    # reaches what the repair moved no program is solved
    proved = 0
    for start, dirty, ctx, final in repaired:
        alone = kept_cells_bound(start, final, dirty, dataclasses.replace(ctx, kept_known=None))
        both = kept_cells_bound(start, final, dirty, ctx)
        if ctx.kept_known is None or alone is None:
            continue
        proved += 1
        moved = _existing_moved(start, final, ctx)
        assert ctx.kept_known <= moved  # a bound (the repair is a layout of the program)
        assert max(alone, ctx.kept_known) <= both <= moved
    assert proved >= 1


def test_a_proof_that_reaches_what_moved_solves_no_program(monkeypatch):
    import shapely

    from gridgeo.living import keptoptimum
    from gridgeo.living.state import _Context, _Grid
    from gridgeo.partition.notes import GridNote

    geoms = np.array([shapely.box(x + 2, 2, x + 8, 8) for x in range(0, 70, 10)], dtype=object)
    ctx = _Context((300, 500), np.array([120, 200, 200, 100, 200, 200, 200]), geoms, None, 0, "A", "001", 6)
    ctx.is_new = np.array([True, False, False, False, False, False, False])

    def grid(code, x0, x1, members):
        return _Grid(code, shapely.box(x0, 0, x1, 10), set(members), GridNote())

    start = {"001-01": grid("001-01", 0, 30, {0, 1, 2}), "001-02": grid("001-02", 30, 50, {3, 4}), "001-03": grid("001-03", 50, 70, {5, 6})}
    final = {"001-01": grid("001-01", 0, 20, {0, 1}), "001-02": grid("001-02", 20, 50, {2, 3, 4}), "001-03": grid("001-03", 50, 70, {5, 6})}
    assert kept_cells_bound(start, final, {"001-01"}, ctx) == 200  # solved: the optimum
    calls = []
    monkeypatch.setattr(keptoptimum, "kept_cells_optimum", lambda *a, **k: calls.append(1))
    ctx.kept_known = 200
    assert kept_cells_bound(start, final, {"001-01"}, ctx) == 200 and not calls
