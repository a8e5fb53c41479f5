"""Proofs that no contiguous in-band split exists, so a defect can be explained exactly.

Two checks, both exact:

* an *enclosed pocket*: the cells of a grid below the band whose only way out
  is one neighbouring cell; every grid holding a pocket cell must then hold
  that gateway cell too, and the pocket plus the gateway exceed the maximum;
* *exhaustive search* for small parts (at most ``MAX_EXHAUSTIVE`` cells): every
  split of the part into connected in-band grids is enumerated.  The same
  search also *finds* the best split when the heuristics missed one.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..adjacency import CellGraph

__all__ = ["enclosed_pocket", "no_split_exists", "exact_split", "MAX_EXHAUSTIVE"]

MAX_EXHAUSTIVE = 16


def enclosed_pocket(graph: CellGraph, cells: np.ndarray, low: int, high: int) -> str | None:
    """A reason when ``cells`` (a grid below the band) is a pocket behind one gateway cell."""
    weight = int(graph.weight[cells].sum())
    if weight >= low:
        return None
    inside = np.zeros(graph.n, dtype=bool)
    inside[cells] = True
    outside = set()
    for i in cells:
        outside.update(int(j) for j in graph.shared[i].indices if not inside[j])
    if len(outside) != 1:
        return None
    gateway = outside.pop()
    total = weight + int(graph.weight[gateway])
    if total <= high:
        return None
    return (
        f"{weight} households enclosed behind one building's cell ({int(graph.weight[gateway])} households): "
        f"any grid holding them must hold that building too ({total} > {high}), and alone they are below "
        f"{low}; no contiguous split within {low}–{high} exists"
    )


def _in_band_connected_subsets(graph: CellGraph, low: int, high: int) -> list[int]:
    n = graph.n
    weights = graph.weight
    neighbours = [set(int(j) for j in graph.shared[i].indices) for i in range(n)]
    good = []
    for bits in range(1, 1 << n):
        members = [i for i in range(n) if bits >> i & 1]
        w = int(weights[members].sum())
        if not (low <= w <= high):
            continue
        seen = {members[0]}
        stack = [members[0]]
        while stack:
            v = stack.pop()
            for j in neighbours[v]:
                if bits >> j & 1 and j not in seen:
                    seen.add(j)
                    stack.append(j)
        if len(seen) == len(members):
            good.append(bits)
    return good


def _covers(n: int, good: list[int], limit: int = 20000):
    """Yield splits of all n cells into subsets from ``good`` (as lists of bit masks)."""
    full = (1 << n) - 1
    by_lowest: dict[int, list[int]] = {}
    for bits in good:
        lowest = (bits & -bits).bit_length() - 1
        by_lowest.setdefault(lowest, []).append(bits)
    found = 0

    def walk(used: int, chosen: list[int]):
        nonlocal found
        if found >= limit:
            return
        if used == full:
            found += 1
            yield list(chosen)
            return
        free = ~used & full
        lowest = (free & -free).bit_length() - 1
        for bits in by_lowest.get(lowest, []):
            if not bits & used:
                chosen.append(bits)
                yield from walk(used | bits, chosen)
                chosen.pop()

    yield from walk(0, [])


def no_split_exists(graph: CellGraph, k_options, low: int, high: int) -> bool:
    """True when no split of the (small, connected) ``graph`` into connected in-band grids exists.

    Only for graphs of at most ``MAX_EXHAUSTIVE`` cells; returns False (nothing proven) above that.
    """
    if graph.n > MAX_EXHAUSTIVE or graph.n == 0:
        return False
    good = _in_band_connected_subsets(graph, low, high)
    return next(_covers(graph.n, good, limit=1), None) is None


def exact_split(graph: CellGraph, low: int, high: int, k: int) -> np.ndarray | None:
    """The best split of a small graph into connected in-band grids, or None when none exists.

    Prefers ``k`` grids, then the shortest total boundary between grids.
    """
    n = graph.n
    if n > MAX_EXHAUSTIVE or n == 0:
        return None
    good = _in_band_connected_subsets(graph, low, high)
    rows, cols = graph.shared.nonzero()
    lengths = np.asarray(graph.shared[rows, cols]).ravel()
    best = None
    for cover in _covers(n, good):
        labels = np.empty(n, dtype=np.int64)
        for label, bits in enumerate(cover):
            labels[[i for i in range(n) if bits >> i & 1]] = label
        cut = float(lengths[labels[rows] != labels[cols]].sum())
        key = (abs(len(cover) - k), cut)
        if best is None or key < best[0]:
            best = (key, labels)
    return None if best is None else best[1]


def components_of(graph: CellGraph, mask: np.ndarray) -> int:
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return 0
    return connected_components(graph.shared[idx][:, idx], directed=False)[0]
