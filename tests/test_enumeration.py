"""The in-band connected subsets, enumerated by a loop with bit masks, come in exactly the order of the recursive search.

The integer program numbers its columns by that order, so the same order
means the same programs and the same partitions.  The recursive search is
kept here as the reference, and both run on cell graphs of real data.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.sparse.csgraph import breadth_first_order

from gridgeo.build import community_tasks
from gridgeo.inputs.validate import prepare_inputs
from gridgeo.partition.engine import community_rng, partition_community
from gridgeo.partition.proof import in_band_connected_subsets


def reference_subsets(graph, low, high, budget=200_000):
    """The recursive ESU search the project used until the loop replaced it (verbatim)."""
    n = graph.n
    weights = [int(x) for x in graph.weight]
    neighbours = [set(int(j) for j in graph.shared[i].indices) for i in range(n)]
    good: list[int] = []
    steps = 0

    def extend(bits, border, weight, extension, root):
        nonlocal steps
        steps += 1
        if steps > budget:
            return False
        if weight >= low:
            good.append(bits)
        extension = list(extension)
        while extension:
            w = extension.pop()
            new_weight = weight + weights[w]
            if new_weight > high:
                continue
            exclusive = [u for u in neighbours[w] if u > root and not (bits >> u & 1) and u not in border]
            new_border = border | neighbours[w]
            if not extend(bits | (1 << w), new_border, new_weight, extension + exclusive, root):
                return False
        return True

    for root in range(n):
        if weights[root] > high:
            continue
        start = [u for u in sorted(neighbours[root]) if u > root]
        if not extend(1 << root, set(neighbours[root]) | {root}, weights[root], start, root):
            return None
    return good


@functools.cache
def _graphs(name):
    """Cell graphs of every community piece of a real slice (tests/data), as the engine builds them."""
    from .conftest import read

    communities = read(f"{name}_communities.gpkg", "communities")
    buildings = read(f"{name}_buildings.gpkg", "buildings")
    prep = prepare_inputs(communities, buildings, households="hh_est", building_id="building_id")
    order = np.arange(len(prep.community_ids))
    _, tasks = community_tasks(prep, order, (300, 500), None, 0)
    graphs = []
    for task in tasks:
        trace = []
        partition_community(task.geometry, task.buildings, task.households, band=task.band, rng=community_rng(0, task.community_id), trace=trace)
        graphs += [graph for graph, *_ in trace]
    return graphs


def _regions(graph, size, count, rng):
    """Connected regions of about ``size`` cells (breadth-first balls from random cells)."""
    out = []
    for start in rng.choice(graph.n, size=min(count, graph.n), replace=False):
        nodes = np.sort(breadth_first_order(graph.shared, int(start), directed=False, return_predecessors=False)[:size])
        out.append(graph.subgraph(nodes))
    return out


@pytest.mark.parametrize("name", ["taipei_small", "monaco"])
@pytest.mark.parametrize("band", [(10, 15), (40, 80), (100, 160)])
def test_same_sets_in_the_same_order_as_the_recursive_search(name, band):
    rng = np.random.default_rng(7)
    checked = found = 0
    for graph in _graphs(name):
        for size in (12, 40, 80):
            for sub in _regions(graph, size, 3, rng):
                for budget in (200_000, 2_000):
                    expected = reference_subsets(sub, *band, budget=budget)
                    assert in_band_connected_subsets(sub, *band, budget=budget) == expected
                    checked += 1
                    found += len(expected or [])
    assert checked > 20 and found > 20  # real work was compared, not empty lists


def test_max_sets_stops_early_and_only_past_the_limit():
    graph = _regions(max(_graphs("taipei_small"), key=lambda g: g.n), 40, 1, np.random.default_rng(0))[0]
    every = in_band_connected_subsets(graph, 10, 15, budget=10**7)
    assert every is not None and len(every) > 10
    assert in_band_connected_subsets(graph, 10, 15, budget=10**7, max_sets=len(every)) == every
    assert in_band_connected_subsets(graph, 10, 15, budget=10**7, max_sets=len(every) - 1) is None


def test_kept_answers_are_those_of_a_new_search(monkeypatch):
    """The exact searches keep their answers by the graph's content (gridgeo.partition.memo): asked again about a
    copy of the same cells they answer as a new search would, and a caller changing an answer changes no kept one."""
    from gridgeo.partition import memo, program, proof

    graph = _regions(max(_graphs("taipei_small"), key=lambda g: g.n), 12, 1, np.random.default_rng(0))[0]
    total = int(graph.weight.sum())
    low, high = int(total / 3 * 0.8), int(total / 3 * 1.2)  # three grids fit
    for kept in (proof._SUBSETS, proof._SPLITS, program._PROGRAMS):
        monkeypatch.setattr(kept, "answers", type(kept.answers)())
        monkeypatch.setattr(kept, "held", 0)
    first_state, second_state = {}, {}
    subsets = in_band_connected_subsets(graph, low, high)
    split = proof.exact_split(graph, low, high, 3, state=first_state)
    planned = program.split_program(graph, low, high)
    assert subsets and split is not None and planned.status == "split"
    sizes = [len(proof._SUBSETS.answers), len(proof._SPLITS.answers), len(program._PROGRAMS.answers)]
    assert sizes == [2, 1, 1]  # the program enumerates with its own bounds: another question
    subsets.append(-1)
    split[:] = -1
    planned.labels[:] = -1
    copy = graph.subgraph(np.arange(graph.n))  # the same cells, a new object
    assert in_band_connected_subsets(copy, low, high) == reference_subsets(graph, low, high)
    again = proof.exact_split(copy, low, high, 3, state=second_state)
    assert second_state == first_state == {"complete": True}
    fresh = proof._exact_split(graph, low, high, 3, 20000, proof._BUDGET)[0]
    assert np.array_equal(again, fresh)
    assert np.array_equal(program.split_program(copy, low, high).labels, program._split_program(graph, low, high).labels)
    assert [len(proof._SUBSETS.answers), len(proof._SPLITS.answers), len(program._PROGRAMS.answers)] == sizes  # all kept
    # another band, or other households, is another question
    assert memo.graph_key(graph, "subsets", low, high + 1, 1, None) != memo.graph_key(graph, "subsets", low, high, 1, None)
    heavier = graph.subgraph(np.arange(graph.n))
    heavier.weight = heavier.weight + 1
    assert memo.graph_key(heavier, "split", low, high) != memo.graph_key(graph, "split", low, high)
    # the sets kept are counted against the capacity: the oldest answers go first
    assert proof._SUBSETS.held == sum(1 + len(answer[0] or ()) for answer, _ in proof._SUBSETS.answers.values())
    small = memo.Memo(capacity=len(subsets))
    small.put(b"a", tuple(subsets[:2]), weight=2)
    small.put(b"b", tuple(subsets[2:]), weight=len(subsets) - 2)
    small.put(b"c", (1,), weight=1)
    assert small.get(b"a") is None and small.get(b"b") is not None and small.get(b"c") == (1,)
