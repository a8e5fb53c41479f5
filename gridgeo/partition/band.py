"""Repairing grids outside the household band by moving boundary cells between neighbouring grids, keeping every grid connected."""

from __future__ import annotations

import numpy as np

from .bisect import recursive_bisection
from .refine import refine_labels


def _repair_band(graph, labels, excused, low, high, rng, frozen, rounds: int = 20, closed=None):
    """Merge an out-of-band grid with neighbours and split the union again (ReCom style)."""
    k = len(excused)
    for _ in range(rounds):
        weights = np.bincount(labels, weights=graph.weight, minlength=k)
        bad = [g for g in range(k) if not excused[g] and not (low <= weights[g] <= high)]
        if not bad:
            break
        improved = False
        for g in sorted(bad, key=lambda g: -max(weights[g] - high, low - weights[g])):
            for group in _neighbour_groups(graph, labels, g, excused, k):
                nodes = np.flatnonzero(np.isin(labels, group))
                if frozen[nodes].any():
                    continue
                sub = graph.subgraph(nodes)
                before = sum(_miss(weights[h], low, high) for h in group)
                local = recursive_bisection(sub, len(group), low, high, rng, trees=20)
                after_w = np.bincount(local, weights=sub.weight, minlength=len(group))
                after = sum(_miss(w, low, high) for w in after_w)
                if after < before:
                    trial = labels.copy()
                    for i, h in enumerate(group):
                        trial[nodes[local == i]] = h
                    labels = refine_labels(graph, trial, low, high, frozen=frozen, closed=closed)
                    improved = True
                    break
            if improved:
                break
        if not improved:
            break
    return labels


def _miss(weight, low, high):
    return max(weight - high, low - weight, 0)


def _neighbour_groups(graph, labels, g, excused, k):
    """Groups to merge with grid ``g``: each neighbour alone, then pairs, longest shared border first."""
    members = np.flatnonzero(labels == g)
    rows = graph.shared[members].tocoo()
    border = np.bincount(labels[rows.col], weights=rows.data, minlength=k)
    border[g] = 0
    neighbours = [h for h in np.argsort(-border, kind="stable") if border[h] > 0 and not excused[h]]
    groups = [[g, h] for h in neighbours]
    groups += [[g, h1, h2] for i, h1 in enumerate(neighbours) for h2 in neighbours[i + 1 :]][:10]
    if len(neighbours) > 2:
        groups.append([g, *neighbours])
    return groups
