"""Recursive bisection of a connected cell graph into ``k`` balanced, connected parts.

Each step splits a connected set into two connected sides whose household
totals can each be divided into their share of grids within the band.  The
cut is chosen among straight sweeps in many directions (shortest, most
balanced cut wins; cuts along barriers cost little), with spanning-tree cuts as
the fallback when no straight sweep gives a feasible split.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..cells.adjacency import CellGraph

__all__ = ["recursive_bisection"]

_ANGLES = 18
_TREES = 40
_BARRIER_CUT_COST = 0.05
_BALANCE_WEIGHT = 1.0
_CHECKED = 6  # straight cuts checked for connectivity, best first


def recursive_bisection(
    graph: CellGraph, k: int, low: int, high: int, rng: np.random.Generator, *, trees: int = _TREES
) -> np.ndarray:
    """Split a connected ``graph`` into ``k`` connected parts.

    Parameters
    ----------
    graph : CellGraph
        Connected cell graph.
    k : int
        Number of parts.
    low, high : int
        The household band of a part.
    rng : numpy.random.Generator
        Source of randomness for spanning-tree fallbacks.
    trees : int
        How many random spanning trees to try when no straight cut fits.

    Returns
    -------
    ndarray of int
        Part label 0..k-1 per node; every part is connected.  Balance is
        best effort: the refinement step repairs what remains out of band.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(6)])
    >>> g = build_cell_graph(cells, np.full(6, 10), shapely.centroid(cells))
    >>> recursive_bisection(g, 2, 25, 35, np.random.default_rng(0)).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    labels = np.zeros(graph.n, dtype=np.int64)
    context = _Context(graph, low, high, rng, trees)
    parts = context.split(np.arange(graph.n), k)
    for label, nodes in enumerate(parts):
        labels[nodes] = label
    return labels


class _Context:
    def __init__(self, graph: CellGraph, low: int, high: int, rng: np.random.Generator, trees: int):
        self.trees = trees
        self.g = graph
        self.low = low
        self.high = high
        self.rng = rng
        cost = graph.shared - (1.0 - _BARRIER_CUT_COST) * graph.barrier
        cost = sp.csr_matrix(cost)
        cost.sort_indices()
        # the cut costs as an edge list in CSR order: every neighbour pair has a positive cost,
        # so it carries the adjacency too, and a sorted node subset keeps the order
        self.edges = _EdgeCosts(np.repeat(np.arange(graph.n), np.diff(cost.indptr)), cost.indices.astype(np.int64), cost.data)
        self.block = None
        if graph.barrier.nnz:
            self.block = graph.blocks()[1]
        angles = np.pi * np.arange(_ANGLES) / _ANGLES
        self.directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def _side_range(self, total: int, k_a: int, k_b: int) -> tuple[int, int, float]:
        """Households side A may hold so both sides divide into their grid counts, and its target."""
        low_a = max(k_a * self.low, total - k_b * self.high)
        high_a = min(k_a * self.high, total - k_b * self.low)
        return low_a, high_a, total * k_a / (k_a + k_b)

    def split(self, nodes: np.ndarray, k: int) -> list[np.ndarray]:
        if k <= 1 or len(nodes) <= 1:
            return [nodes]
        k_first = k // 2
        side_a, side_b, k_a, k_b = self._bisect(nodes, k_first, k - k_first)
        return self.split(side_a, k_a) + self.split(side_b, k_b)

    # -- one bisection -------------------------------------------------------------
    def _bisect(self, nodes, k1, k2):
        g = self.g
        w = g.weight[nodes]
        total = int(w.sum())
        scale = float(np.sqrt(max(g.area[nodes].sum(), 1e-9)))
        sub_cost = self._sub_edges(nodes)
        xy = g.xy[nodes]
        middle = (self.low + self.high) / 2.0
        orientations = [(k1, k2)] if k1 == k2 else [(k1, k2), (k2, k1)]
        candidates = []  # (violation, score, tie, mask, k_a, k_b) before connectivity repair
        seen = set()
        # the sweeps of every direction at once: column d sorts the cells along direction d
        n = len(nodes)
        order = np.argsort(np.stack([xy @ direction for direction in self.directions], axis=1), axis=0, kind="stable")
        cumulative = np.cumsum(w[order], axis=0)
        position = np.empty_like(order)
        position[order, np.arange(order.shape[1])] = np.arange(n)[:, None]
        sweeps = []  # per orientation: (target, prefix length per direction, side A per direction, edges cut per direction)
        for k_a, k_b in orientations:
            low_a, high_a, target = self._side_range(total, k_a, k_b)
            cut_at = _prefix_lengths(cumulative, target, low_a, high_a)
            masks = (position < cut_at).T
            # the edges each sweep cuts, for every direction in one step (summed one sweep at a time below)
            across = masks[:, sub_cost.rows] & ~masks[:, sub_cost.cols]
            sweeps.append((target, cut_at, masks, across))
        for d in range(order.shape[1]):
            for (k_a, k_b), (target, cut_at, masks, across) in zip(orientations, sweeps):
                mask = masks[d]
                key = (mask.tobytes(), k_a)
                if key in seen:
                    continue
                seen.add(key)
                weight_a = int(cumulative[cut_at[d] - 1, d])
                violation = _band_miss(weight_a, k_a, self.low, self.high) + _band_miss(total - weight_a, k_b, self.low, self.high)
                cut = float(sub_cost.cost[across[d]].sum())  # as _cut_weight(mask, sub_cost)
                score = cut / scale + _BALANCE_WEIGHT * abs(weight_a - target) / middle
                candidates.append((violation, score, len(candidates), mask, k_a, k_b))
        if self.block is not None:
            candidates += self._block_candidates(nodes, w, total, xy, sub_cost, scale, orientations, len(candidates))
        candidates.sort(key=lambda c: c[:3])
        best = None  # (violation, score, mask, k_a, k_b) after connectivity repair
        for violation, score, _, mask, k_a, k_b in candidates[:_CHECKED]:
            candidate = self._evaluate(mask, w, total, sub_cost, scale, k_a, k_b)
            if candidate is not None and (best is None or candidate[:2] < best[:2]):
                best = candidate
            if best is not None and best[0] == 0 and violation == 0 and abs(best[1] - score) < 1e-9:
                break  # the best straight cut was connected as it stood
        if best is None or best[0] > 0:
            fallback = self._tree_cuts(nodes, w, total, sub_cost, scale, orientations)
            if fallback is not None and (best is None or fallback[:2] < best[:2]):
                best = fallback
        if best is None:  # degenerate: give one node to side b
            mask = np.ones(len(nodes), dtype=bool)
            mask[-1] = False
            return nodes[mask], nodes[~mask], k1, k2
        _, _, mask, k_a, k_b = best
        return nodes[mask], nodes[~mask], k_a, k_b

    def _sub_edges(self, nodes: np.ndarray) -> _EdgeCosts:
        """Edges among ``nodes``, renumbered, in CSR order."""
        position = np.full(self.g.n, -1, dtype=np.int64)
        position[nodes] = np.arange(len(nodes))
        edges = self.edges
        rows, cols = position[edges.rows], position[edges.cols]
        keep = (rows >= 0) & (cols >= 0)
        rows, cols, cost = rows[keep], cols[keep], edges.cost[keep]
        if len(nodes) > 1 and (np.diff(nodes) < 0).any():  # unsorted nodes: restore the CSR order
            order = np.lexsort((cols, rows))
            rows, cols, cost = rows[order], cols[order], cost[order]
        return _EdgeCosts(rows, cols, cost)

    def _block_candidates(self, nodes, w, total, xy, sub_cost, scale, orientations, start):
        """Sweeps over whole barrier blocks: their cuts run exactly along barrier lines."""
        _, local = np.unique(self.block[nodes], return_inverse=True)
        n_blocks = int(local.max()) + 1
        if n_blocks < 2:
            return []
        area = self.g.area[nodes]
        block_w = np.bincount(local, weights=w, minlength=n_blocks)
        block_area = np.bincount(local, weights=area, minlength=n_blocks)
        block_xy = np.stack(
            [np.bincount(local, weights=xy[:, i] * area, minlength=n_blocks) / np.maximum(block_area, 1e-9) for i in (0, 1)],
            axis=1,
        )
        middle = (self.low + self.high) / 2.0
        out = []
        seen = set()
        for direction in self.directions:
            order = np.argsort(block_xy @ direction, kind="stable")
            cumulative = np.cumsum(block_w[order])
            for k_a, k_b in orientations:
                low_a, high_a, target = self._side_range(total, k_a, k_b)
                cut_at = _prefix_length(cumulative, target, low_a, high_a)
                weight_a = int(cumulative[cut_at - 1])
                chosen = np.zeros(n_blocks, dtype=bool)
                if low_a <= weight_a <= high_a:
                    chosen[order[:cut_at]] = True
                    mask = chosen[local]
                else:
                    # whole blocks up to the range, then part of the next block (a cut inside one block)
                    whole = int(np.searchsorted(cumulative, low_a, side="left"))
                    if whole >= n_blocks:
                        continue
                    chosen[order[:whole]] = True
                    mask = chosen[local]
                    split = np.flatnonzero(local == order[whole])
                    inner = split[np.argsort(xy[split] @ direction, kind="stable")]
                    base = float(w[mask].sum())
                    partial = base + np.cumsum(w[inner])
                    take = _prefix_length(np.append(partial, np.inf), target, low_a, high_a)
                    mask[inner[:take]] = True
                    weight_a = int(w[mask].sum())
                    if not (low_a <= weight_a <= high_a):
                        continue
                key = (mask.tobytes(), k_a)
                if key in seen:
                    continue
                seen.add(key)
                cut = _cut_weight(mask, sub_cost)
                score = cut / scale + _BALANCE_WEIGHT * abs(weight_a - target) / middle
                out.append((0.0, score, start + len(out), mask, k_a, k_b))
        return out

    def _evaluate(self, mask, w, total, sub_cost, scale, k_a, k_b):
        mask = _make_sides_connected(mask, sub_cost, w)
        if mask is None or mask.all() or not mask.any():
            return None
        weight_a = int(w[mask].sum())
        weight_b = total - weight_a
        violation = _band_miss(weight_a, k_a, self.low, self.high) + _band_miss(
            weight_b, k_b, self.low, self.high
        )
        cut = _cut_weight(mask, sub_cost)
        middle = (self.low + self.high) / 2.0
        target = total * k_a / (k_a + k_b)
        score = cut / scale + _BALANCE_WEIGHT * abs(weight_a - target) / middle
        return (violation, score, mask, k_a, k_b)

    def _tree_cuts(self, nodes, w, total, sub_cost, scale, orientations):
        n = len(nodes)
        if n < 2:
            return None
        upper = sub_cost.rows < sub_cost.cols  # each neighbour pair once, in row-major order
        rows, cols = sub_cost.rows[upper], sub_cost.cols[upper]
        best = None
        for _ in range(self.trees):
            random = self.rng.random(len(rows))
            order, parent = _random_spanning_tree(n, rows, cols, random)
            subtree = w.astype(np.int64).copy()
            for node in order[:0:-1]:
                subtree[parent[node]] += subtree[node]
            children = order[1:]
            for k_a, k_b in orientations:
                low_a, high_a, target = self._side_range(total, k_a, k_b)
                ok = children[(subtree[children] >= low_a) & (subtree[children] <= high_a)]
                if len(ok) == 0:
                    continue
                chosen = ok[np.argsort(np.abs(subtree[ok] - target), kind="stable")[:5]]
                for child in chosen:
                    mask = _subtree_mask(order, parent, child, n)
                    candidate = self._evaluate(mask, w, total, sub_cost, scale, k_a, k_b)
                    if candidate is not None and (best is None or candidate[:2] < best[:2]):
                        best = candidate
            if best is not None and best[0] == 0:
                break
        return best


class _EdgeCosts(NamedTuple):
    """The cut-cost matrix of a bisection's cells as an edge list (both directions, CSR order).

    Every neighbour pair has a positive cost, so the list is the adjacency too.
    """

    rows: np.ndarray
    cols: np.ndarray
    cost: np.ndarray


def _cut_weight(mask: np.ndarray, edges: _EdgeCosts) -> float:
    """Total cost of the edges from side A (``mask``) to side B (``mask @ cost @ ~mask``)."""
    across = mask[edges.rows] & ~mask[edges.cols]
    return float(edges.cost[across].sum())


def find_root(parent: list[int], x: int) -> int:
    """Root of ``x`` in a union-find forest given as a parent list (with path halving)."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _random_spanning_tree(n: int, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray):
    """Breadth-first order and parents of the minimum spanning tree for random edge ``weights``.

    Kruskal with a union-find in plain Python: for the few hundred cells of a
    community it is much cheaper than building sparse matrices for scipy.
    """
    root = list(range(n))
    neighbours = [[] for _ in range(n)]
    joined = 0
    for e in np.argsort(weights, kind="stable").tolist():
        a, b = int(rows[e]), int(cols[e])
        ra, rb = find_root(root, a), find_root(root, b)
        if ra != rb:
            root[ra] = rb
            neighbours[a].append(b)
            neighbours[b].append(a)
            joined += 1
            if joined == n - 1:
                break
    parent = np.full(n, -9999, dtype=np.int64)
    order = [0]
    seen = [False] * n
    seen[0] = True
    for v in order:
        for u in neighbours[v]:
            if not seen[u]:
                seen[u] = True
                parent[u] = v
                order.append(u)
    return np.asarray(order, dtype=np.int64), parent


def _band_miss(weight: int, parts: int, low: int, high: int) -> float:
    if weight < parts * low:
        return float(parts * low - weight)
    if weight > parts * high:
        return float(weight - parts * high)
    return 0.0


def _prefix_length(cumulative: np.ndarray, target: float, low: float, high: float) -> int:
    """Length of the sweep prefix whose total is nearest ``target`` within [low, high]."""
    totals = cumulative[:-1]  # prefix lengths 1 .. n-1: both sides non-empty
    pool = np.flatnonzero((totals >= low) & (totals <= high))
    if not len(pool):
        pool = np.arange(len(totals))
    gaps = np.abs(totals[pool] - target)
    nearest = pool[gaps == gaps.min()]
    return int(nearest[len(nearest) // 2]) + 1


def _prefix_lengths(cumulative: np.ndarray, target: float, low: float, high: float) -> np.ndarray:
    """:func:`_prefix_length` of every column of ``cumulative`` (one sweep per column) at once."""
    totals = cumulative[:-1]  # prefix lengths 1 .. n-1: both sides non-empty
    pool = (totals >= low) & (totals <= high)
    pool[:, ~pool.any(axis=0)] = True
    gaps = np.where(pool, np.abs(totals - target), np.inf)
    nearest = gaps == gaps.min(axis=0)
    middle = nearest.sum(axis=0) // 2  # of several nearest, the middle one
    return np.argmax(np.cumsum(nearest, axis=0) > middle, axis=0) + 1


def _make_sides_connected(mask, edges: _EdgeCosts, w, rounds: int = 6):
    """Move stray components of each side to the other side until both are connected.

    Each side keeps its heaviest component (then the largest, then the one
    holding the lowest cell) and hands the others over.  Components are
    labelled on the whole graph with the edges between the sides dropped, which
    avoids slicing a sparse matrix; ``edges`` must be in CSR order.
    """
    n = len(mask)
    rows, cols = edges.rows, edges.cols
    for _ in range(rounds):
        changed = False
        comp = None  # components of both sides at once (edges within a side), valid until the mask changes
        for side in (True, False):
            on_side = mask == side
            if on_side.sum() <= 1:
                continue
            if comp is None:
                kept = mask[rows] == mask[cols]
                # rows are in CSR order, so the kept edges give the CSR structure directly
                indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[kept], minlength=n))]).astype(np.int32)
                # float64 data and int32 indices are what connected_components works on: no conversion copy
                inside = sp.csr_matrix((np.ones(int(kept.sum())), cols[kept].astype(np.int32), indptr), shape=(n, n))
                count, comp = _symmetric_components(inside)
                if not changed and count == int(mask.any()) + int(not mask.all()):
                    return mask  # one component per side: both are connected as they stand
            members = np.flatnonzero(on_side)
            labels, local = np.unique(comp[members], return_inverse=True)
            if len(labels) <= 1:
                continue
            weights = np.bincount(local, weights=w[members] + 1e-6, minlength=len(labels))
            sizes = np.bincount(local, minlength=len(labels))
            keep = int(np.lexsort((-sizes, -weights))[0])
            mask = mask.copy()
            mask[members[local != keep]] = not side
            changed = True
            comp = None
        if not changed:
            return mask
    return None


def _symmetric_components(graph: sp.csr_matrix) -> tuple[int, np.ndarray]:
    """The connected components of a graph whose edges all come in both directions, numbered by their lowest node.

    For such a graph the strongly connected components are the connected
    ones, and scipy finds them without the transposed copy its undirected
    search builds (a third of the cost on the small graphs of a bisection).
    The labels are those of ``connected_components(graph, directed=False)``:
    a component's number is the rank of its lowest node among the components'.

    Examples
    --------
    >>> g = sp.csr_matrix(np.array([[0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]]))
    >>> count, labels = _symmetric_components(g)
    >>> count, labels.tolist()
    (2, [0, 1, 0, 1])
    """
    count, labels = connected_components(graph, directed=True, connection="strong")
    if count > 1:
        first = np.unique(labels, return_index=True)[1]
        if (np.diff(first) < 0).any():
            rank = np.empty(count, dtype=labels.dtype)
            rank[np.argsort(first, kind="stable")] = np.arange(count, dtype=labels.dtype)
            labels = rank[labels]
    return count, labels


def _subtree_mask(order, parent, child, n):
    mask = np.zeros(n, dtype=bool)
    mask[child] = True
    for node in order:
        p = parent[node]
        if p >= 0 and mask[p]:
            mask[node] = True
    return mask
