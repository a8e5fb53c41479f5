"""The update's cheapest transfers end with the cheapest single cell that covers what is still short.

Growing a transfer by the largest cell first overshoots a small excess with a big building; the best-fit candidate
moves the small one. On real data (munich_altstadt with 5 % of its buildings removed at random) the update then
moves close to the reported lower bound, with every guarantee of a fresh run.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import gridgeo
from gridgeo.cells.adjacency import CellGraph
from gridgeo.living.shed import shed_cheaply
from gridgeo.living.update import update

from .test_living_plans import OPTIONS, change_buildings, check_living, load


def _graph(weights, edges):
    n = len(weights)
    rows = [a for a, b in edges] + [b for a, b in edges]
    cols = [b for a, b in edges] + [a for a, b in edges]
    shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return CellGraph(np.asarray(weights), np.ones(n), np.full(n, 4.0), np.zeros((n, 2)), shared, sp.csr_matrix((n, n)))


def test_best_fit_moves_the_small_border_building_not_the_big_one():
    # grid 0 (cells 0-3: 86 households) is 6 above 80; both cell 2 (40) and cell 3 (6) border grid 1 (cells 4-5)
    graph = _graph([20, 20, 40, 6, 10, 20], [(0, 1), (1, 2), (1, 3), (2, 4), (3, 4), (4, 5)])
    labels = np.array([0, 0, 0, 0, 1, 1])
    cost = graph.weight.astype(float)  # every building was there before
    largest_first = shed_cheaply(graph, labels, low=20, high=80, cost=cost)
    best_fit = shed_cheaply(graph, labels, low=20, high=80, cost=cost, best_fit=True)
    for out in (largest_first, best_fit):
        totals = np.bincount(out, weights=graph.weight)
        assert ((20 <= totals) & (totals <= 80)).all()
    assert largest_first.tolist() == [0, 0, 1, 0, 1, 1]  # 40 households moved
    assert best_fit.tolist() == [0, 0, 0, 1, 1, 1]  # 6 households moved
    # a free cell (an added building) on the frontier still goes first
    free = cost.copy()
    free[2] = 0
    assert shed_cheaply(graph, labels, low=20, high=80, cost=free, best_fit=True).tolist() == [0, 0, 1, 0, 1, 1]
    assert labels.tolist() == [0, 0, 0, 0, 1, 1]  # the input is not changed


def test_an_update_with_buildings_removed_moves_close_to_the_bound(tmp_path):
    communities, buildings = load("munich_altstadt")
    removed = change_buildings(buildings, share=0.05, seed=0, concentrated=False)
    fewer = buildings.drop(buildings.index[removed])
    plan = gridgeo.partition(communities, buildings, **OPTIONS)
    result = update(plan.to_files(tmp_path / "v1"), fewer, audit=False)
    check_living(plan, result, fewer)
    moved, bound = result.changes["households_moved"], result.changes["households_moved_lower_bound"]
    assert bound > 0
    assert moved <= 1.2 * bound, (moved, bound)  # the issue asks for 1.5 times at most, 1.2 as a moonshot
