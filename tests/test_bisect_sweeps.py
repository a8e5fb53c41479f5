"""The straight sweeps of a bisection, taken for every direction at once, cut where the sweeps one by one cut.

The candidate cuts of :mod:`gridgeo.partition.bisect` are ranked by their
score and their place in the list, so the vectorised prefixes must be
exactly those of the one-sweep :func:`_prefix_length`, on real cell graphs.
"""

from __future__ import annotations

import numpy as np

from gridgeo.partition.bisect import _ANGLES, _prefix_length, _prefix_lengths, recursive_bisection

from .test_enumeration import _graphs


def test_every_direction_at_once_cuts_as_each_direction_alone():
    rng = np.random.default_rng(5)
    angles = np.pi * np.arange(_ANGLES) / _ANGLES
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    checked = 0
    for graph in _graphs("taipei_small"):
        w = graph.weight
        order = np.argsort(np.stack([graph.xy @ d for d in directions], axis=1), axis=0, kind="stable")
        cumulative = np.cumsum(w[order], axis=0)
        total = int(w.sum())
        for _ in range(40):
            target = float(rng.uniform(0, total))
            low = int(rng.integers(0, total + 1))
            high = low + int(rng.integers(-5, total // 2 + 2))
            expected = [_prefix_length(cumulative[:, d], target, low, high) for d in range(_ANGLES)]
            assert _prefix_lengths(cumulative, target, low, high).tolist() == expected
            checked += 1
        # the sweep totals of real communities have ties (cells without households): the middle one is taken
        half = float(cumulative[len(cumulative) // 2, 0])
        expected = [_prefix_length(cumulative[:, d], half, 0, total) for d in range(_ANGLES)]
        assert _prefix_lengths(cumulative, half, 0, total).tolist() == expected
    assert checked > 100


def test_bisection_of_a_real_graph_is_connected_and_covers_it():
    graph = max(_graphs("taipei_small"), key=lambda g: g.n)
    k = max(2, int(graph.weight.sum()) // 400)
    labels = recursive_bisection(graph, k, 300, 500, np.random.default_rng(0))
    assert sorted(set(labels.tolist())) == list(range(k))
    from scipy.sparse.csgraph import connected_components

    for label in range(k):
        nodes = np.flatnonzero(labels == label)
        assert connected_components(graph.shared[nodes][:, nodes], directed=False)[0] == 1
