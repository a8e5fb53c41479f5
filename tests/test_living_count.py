"""A repair whose grid count cannot settle tries the next admissible count before partitioning the community afresh.

Where a few buildings hold most households (290–370 each), the grids there can fail to settle at the count they
have, while one grid fewer fits: that retires one grid in the repaired region instead of redrawing the whole
community. On real data (monaco with 10 % of its buildings removed at random, seed 0) MON-006 is repaired in a
region of four grids, with every guarantee of a fresh run.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

import gridgeo
from gridgeo.cells.adjacency import CellGraph
from gridgeo.living.redraw import _fit_count
from gridgeo.living.update import update

from .test_living_plans import OPTIONS, change_buildings, check_living, load


class _Context:
    band = (300, 500)


def _path(weights):
    n = len(weights)
    rows, cols = list(range(n - 1)) + list(range(1, n)), list(range(1, n)) + list(range(n - 1))
    shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return CellGraph(np.asarray(weights), np.ones(n), np.full(n, 4.0), np.zeros((n, 2)), shared, sp.csr_matrix((n, n)))


def test_fit_count_reaches_the_count_asked_for():
    # 1,391 households in four grids admit three or four; asked for three, the smallest grid is dissolved
    graph = _path([374, 296, 4, 290, 144, 283])
    labels = np.array([0, 1, 1, 2, 2, 3])
    big = graph.weight > 500
    fixed = np.zeros(graph.n, dtype=bool)
    rng = np.random.default_rng(0)
    kept, _, _ = _fit_count(graph, labels.copy(), _Context, rng, big, fixed)
    assert kept.max() + 1 == 4  # the nearest count to the four grids there are
    fewer, _, _ = _fit_count(graph, labels.copy(), _Context, rng, big, fixed, count=3)
    assert fewer.max() + 1 == 3
    assert np.bincount(fewer, weights=graph.weight).sum() == graph.weight.sum()
    unfit, _, _ = _fit_count(graph, labels.copy(), _Context, rng, big, fixed, count=7)  # not admissible: ignored
    assert unfit.max() + 1 == 4


def test_a_lumpy_community_is_repaired_with_one_grid_fewer_not_afresh(tmp_path, caplog):
    communities, buildings = load("monaco")
    removed = change_buildings(buildings, share=0.10, seed=0, concentrated=False)
    fewer = buildings.drop(buildings.index[removed])
    plan = gridgeo.partition(communities, buildings, **OPTIONS)
    with caplog.at_level(logging.DEBUG, logger="gridgeo.living.repair"):
        result = update(plan.to_files(tmp_path / "v1"), fewer, audit=False)
    check_living(plan, result, fewer)
    afresh = [r.getMessage() for r in caplog.records if "needs the whole community" in r.getMessage()]
    assert not any("MON-006" in message for message in afresh), afresh
    before = plan.grids[plan.grids["community_id"] == "MON-006"]
    after = result.grids[result.grids["community_id"] == "MON-006"]
    assert (after["households"] > 0).sum() == (before["households"] > 0).sum() - 1  # one grid retired
    # a grid the repair did not reach keeps its code and its households
    kept = set(before["grid_code"]) & set(after["grid_code"]) - set(result.changes["grids_modified"]) - set(result.changes["grids_reshaped"])
    assert kept, "every grid of MON-006 changed"
    for code in kept:
        assert int(before.loc[before["grid_code"] == code, "households"].iloc[0]) == int(after.loc[after["grid_code"] == code, "households"].iloc[0])
    assert result.changes["households_moved"] >= result.changes["households_moved_lower_bound"]
