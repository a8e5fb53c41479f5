"""The search for splits into in-band connected subsets (``proof._covers``) against a plain recursive search.

``_covers`` runs on an explicit stack; the recursive search below is the definition it must follow: the same
splits in the same order, the same step count at which the budget cuts it short, the same memo of dead states.
Checked on the subsets of real cell graphs (monaco's grids, cut into their buildings' cells) and on random subset
families, with limits and budgets small enough to stop the search at every point.
"""

from __future__ import annotations

import numpy as np
import pytest

from gridgeo.partition.proof import _covers, in_band_connected_subsets

from .test_living_plans import OPTIONS, load


def _reference(n, good, limit=20000, budget=200_000, state=None):
    state = {} if state is None else state
    state["cut_short"] = False
    full = (1 << n) - 1
    by_lowest: dict[int, list[int]] = {}
    for bits in good:
        by_lowest.setdefault((bits & -bits).bit_length() - 1, []).append(bits)
    found = steps = 0
    dead: set[int] = set()

    def walk(used, chosen):
        nonlocal found, steps
        if found >= limit:
            return
        if steps > budget:
            state["cut_short"] = True
            return
        steps += 1
        if used == full:
            found += 1
            yield list(chosen)
            return
        if used in dead:
            return
        before = found
        free = ~used & full
        for bits in by_lowest.get((free & -free).bit_length() - 1, []):
            if not bits & used:
                chosen.append(bits)
                yield from walk(used | bits, chosen)
                chosen.pop()
        if found == before and steps <= budget:
            dead.add(used)

    yield from walk(0, [])


def _same(n, good, limit, budget):
    ours, theirs = {}, {}
    assert list(_covers(n, good, limit=limit, budget=budget, state=ours)) == list(_reference(n, good, limit=limit, budget=budget, state=theirs))
    assert ours == theirs
    # a consumer that takes only the first split (the proof that none exists) sees the same
    assert next(_covers(n, good, limit=1, budget=budget), None) == next(_reference(n, good, limit=1, budget=budget), None)


def test_random_subset_families_give_the_same_splits():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(0, 19))
        # (more than 24 subsets sharing a lowest cell are filtered as an array: both ways are drawn)
        good = sorted({int(b) for b in rng.integers(1, 1 << n, size=int(rng.integers(1, 200)))}) if n else []
        rng.shuffle(good)
        for limit, budget in ((20000, 200_000), (3, 200_000), (20000, int(rng.integers(0, 40)))):
            _same(n, good, limit, budget)


@pytest.fixture(scope="module")
def monaco_graphs():
    import gridgeo

    communities, buildings = load("monaco")
    plan = gridgeo.partition(communities, buildings, **OPTIONS)
    from gridgeo.cells.adjacency import build_cell_graph
    from gridgeo.cells.tessellate import split_parts, tessellate_part

    metric = plan.grids.to_crs(plan.grids.estimate_utm_crs())
    homes = buildings.to_crs(metric.crs)
    graphs = []
    for geom in metric.geometry:
        part = split_parts(geom)[0]
        inside = homes[homes.representative_point().within(part)]
        if not 2 <= len(inside) <= 18:
            continue
        tess = tessellate_part(part, inside.geometry.to_numpy())
        weight = np.bincount(tess.site_of_building, weights=inside["hh_est"].to_numpy(), minlength=len(tess.cells)).astype(np.int64)
        graphs.append(build_cell_graph(tess.cells, weight, tess.anchors, None))
    return graphs


def test_real_cell_graphs_give_the_same_splits(monaco_graphs):
    tried = 0
    for graph in monaco_graphs:
        total = int(graph.weight.sum())
        for parts in (2, 3):
            low, high = max(total // (parts + 1), 1), max(total // parts + 20, 1)
            good = in_band_connected_subsets(graph, low, high)
            if good is None or not len(good):
                continue
            for limit, budget in ((20000, 20_000), (5, 20_000), (20000, 50)):
                _same(graph.n, list(good), limit, budget)
            tried += 1
    assert tried >= 5
