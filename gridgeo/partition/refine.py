"""Local search on grid labels: repair the band, then make grids compact.

Boundary cells move one at a time to a neighbouring grid when the move keeps
the donor grid connected and improves, in this order: the total amount by
which grids miss the band, then the sum of the grids' Polsby-Popper scores
(minus small penalties for distance from the band's midpoint and for every
extra barrier block a grid spans: a *block* is a set of cells no barrier line
separates, so a grid spanning two blocks crosses a barrier).  Areas and perimeters are updated from the cell graph
(shared edge lengths), so no geometry is touched while searching.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..cells.adjacency import CellGraph

__all__ = ["refine_labels", "consolidate_blocks"]

_BALANCE_PENALTY = 0.1
_BLOCK_PENALTY = 0.3  # in Polsby-Popper units, per extra block a grid spans
_EPS = 1e-9


def refine_labels(
    graph: CellGraph,
    labels: np.ndarray,
    low: int,
    high: int,
    *,
    frozen: np.ndarray | None = None,
    excused: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    max_moves: int | None = None,
) -> np.ndarray:
    """Improve ``labels`` by single-cell moves; every grid stays connected.

    Parameters
    ----------
    graph : CellGraph
    labels : ndarray of int
        Grid label per cell (0..k-1), each grid connected.
    low, high : int
        The household band.
    frozen : ndarray of bool, optional
        Cells that never move.
    excused : ndarray of bool, optional
        Grids allowed outside the band (an oversize building): they may take
        cells from grids that are over the band, and their own total is not scored.
    closed : ndarray of int, optional
        Grid labels that take no cell (dedicated grids keep exactly their facility).
    max_moves : int, optional
        Stop after this many moves (default: 50 per cell).

    Returns
    -------
    ndarray of int
        New labels (the input is not changed).

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(6)])
    >>> g = build_cell_graph(cells, np.full(6, 10), shapely.centroid(cells))
    >>> refine_labels(g, np.array([0, 1, 1, 1, 1, 1]), 20, 40).tolist()  # 10 + 50 -> 30 + 30
    [0, 0, 0, 1, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = graph.n
    if n <= 1:
        return labels
    k = int(labels.max()) + 1
    if k <= 1:
        return labels
    search = _Search(graph, labels, low, high, k, frozen, excused)
    if closed is not None and len(closed):
        search.closed[np.asarray(closed, dtype=np.int64)[np.asarray(closed) < k]] = True
    search.run(max_moves if max_moves is not None else 50 * n)
    return search.labels


def _blocks(graph: CellGraph) -> np.ndarray | None:
    """Block id per cell (cells joined without crossing a barrier), or None without barriers."""
    if graph.barrier.nnz == 0:
        return None
    return graph.blocks()[1]


class _Search:
    def __init__(self, graph, labels, low, high, k, frozen, excused):
        self.g = graph
        self.labels = labels
        self.low, self.high = low, high
        self.middle = (low + high) / 2.0
        self.span = max(high - low, 1)
        shared = graph.shared
        self.indptr = shared.indptr
        self.indices = shared.indices
        self.lengths = shared.data
        self.block = _blocks(graph)
        self.block_count: list[dict[int, int]] = [dict() for _ in range(k)]
        if self.block is not None:
            for node, lab in enumerate(labels):
                counts = self.block_count[lab]
                counts[self.block[node]] = counts.get(self.block[node], 0) + 1
        self.weight = graph.weight.astype(np.int64)
        self.area = graph.area
        self.perimeter = graph.perimeter
        self.grid_weight = np.bincount(labels, weights=self.weight, minlength=k).astype(np.int64)
        self.grid_area = np.bincount(labels, weights=self.area, minlength=k)
        self.grid_size = np.bincount(labels, minlength=k)
        # perimeter of a grid = sum of its cells' perimeters - 2 * internal shared length
        rows = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))
        internal = labels[rows] == labels[self.indices]
        internal_len = np.bincount(labels[rows][internal], weights=self.lengths[internal], minlength=k)
        self.grid_perimeter = np.bincount(labels, weights=self.perimeter, minlength=k) - internal_len
        self.scale = float(np.sqrt(max(self.grid_area.mean(), 1e-9)))
        self.frozen = np.zeros(len(labels), dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool)
        self.closed = np.zeros(k, dtype=bool)
        self.excused = np.zeros(k, dtype=bool)
        if excused is not None:
            excused = np.asarray(excused, dtype=bool)[:k]
            self.excused[: len(excused)] = excused

    # -- scores ----------------------------------------------------------------------
    @staticmethod
    def _pp(area, perimeter):
        return 4.0 * np.pi * area / (perimeter * perimeter) if perimeter > 0 else 0.0

    def _miss(self, weight, grid=None):
        if grid is not None and self.excused[grid]:
            return 0
        if weight < self.low:
            return self.low - weight
        if weight > self.high:
            return weight - self.high
        return 0

    def _balance(self, weight, grid=None):
        if grid is not None and self.excused[grid]:
            return 0.0
        d = (weight - self.middle) / self.span
        return _BALANCE_PENALTY * d * d

    # -- moves -----------------------------------------------------------------------
    def _neighbour_lengths(self, node):
        labels = self.labels
        out = {}
        for p in range(self.indptr[node], self.indptr[node + 1]):
            lab = labels[self.indices[p]]
            out[lab] = out.get(lab, 0.0) + self.lengths[p]
        return out

    def _block_change(self, node, a, b):
        """Change in the number of blocks spanned (summed over grids) when ``node`` moves a → b."""
        beta = self.block[node]
        leaves = self.block_count[a].get(beta, 0) == 1
        arrives = self.block_count[b].get(beta, 0) == 0
        return int(arrives) - int(leaves)

    def _stays_connected(self, node, grid):
        labels = self.labels
        indptr, indices = self.indptr, self.indices
        targets = {int(j) for j in indices[indptr[node] : indptr[node + 1]] if labels[j] == grid}
        if len(targets) <= 1:
            return True
        start = targets.pop()
        seen = {start, node}
        queue = deque([start])
        while queue and targets:
            current = queue.popleft()
            for j in indices[indptr[current] : indptr[current + 1]]:
                if j in seen or labels[j] != grid:
                    continue
                seen.add(int(j))
                targets.discard(int(j))
                queue.append(int(j))
        return not targets

    def _best_move(self, node):
        a = self.labels[node]
        if self.frozen[node] or self.grid_size[a] <= 1:
            return None
        lengths = self._neighbour_lengths(node)
        if len(lengths) == 1 and a in lengths:
            return None
        w = self.weight[node]
        area = self.area[node]
        perim = self.perimeter[node]
        wa, aa, pa = self.grid_weight[a], self.grid_area[a], self.grid_perimeter[a]
        la = lengths.get(a, 0.0)
        new_pa = pa - perim + 2.0 * la
        new_aa = aa - area
        base_a = self._pp(aa, pa) - self._balance(wa, a)
        gain_a = self._pp(new_aa, new_pa) - self._balance(wa - w, a) - base_a
        miss_a = self._miss(wa - w, a) - self._miss(wa, a)
        best = None
        for b, lb in lengths.items():
            if b == a or self.closed[b]:
                continue
            wb, ab, pb = self.grid_weight[b], self.grid_area[b], self.grid_perimeter[b]
            if self.excused[b] and w > 0 and miss_a >= 0:
                continue  # an oversize grid takes households only to bring a grid back into the band
            miss = miss_a + self._miss(wb + w, b) - self._miss(wb, b)
            if miss > 0:
                continue
            new_pb = pb + perim - 2.0 * lb
            gain = gain_a + (
                self._pp(ab + area, new_pb) - self._balance(wb + w, b) - self._pp(ab, pb) + self._balance(wb, b)
            )
            if self.block is not None:
                gain -= _BLOCK_PENALTY * self._block_change(node, a, b)
            key = (miss, -gain)
            if miss < 0 or gain > _EPS:
                if best is None or key < best[0]:
                    best = (key, b, new_pa, new_pb)
        return best

    def _apply(self, node, b, new_pa, new_pb):
        a = self.labels[node]
        w, area = self.weight[node], self.area[node]
        self.labels[node] = b
        self.grid_weight[a] -= w
        self.grid_weight[b] += w
        self.grid_area[a] -= area
        self.grid_area[b] += area
        self.grid_size[a] -= 1
        self.grid_size[b] += 1
        self.grid_perimeter[a] = new_pa
        self.grid_perimeter[b] = new_pb
        if self.block is not None:
            beta = self.block[node]
            counts = self.block_count[a]
            counts[beta] -= 1
            if counts[beta] == 0:
                del counts[beta]
            self.block_count[b][beta] = self.block_count[b].get(beta, 0) + 1

    def _as_python(self) -> None:
        """Plain lists for the move loop: scalar access to them is several times faster than to arrays
        (the arithmetic is the same IEEE doubles and integers, so the moves are too).  :meth:`run`
        gives ``labels`` back as an array."""
        for name in ("labels", "indptr", "indices", "lengths", "weight", "area", "perimeter", "grid_weight", "grid_area", "grid_size", "grid_perimeter", "frozen", "closed", "excused"):
            setattr(self, name, np.asarray(getattr(self, name)).tolist())
        if self.block is not None:
            self.block = self.block.tolist()

    def run(self, max_moves: int) -> None:
        labels = np.asarray(self.labels)
        rows = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))
        boundary = np.unique(rows[labels[rows] != labels[self.indices]])
        queue = deque(int(i) for i in boundary)
        queued = [False] * len(labels)
        for i in boundary.tolist():
            queued[i] = True
        self._as_python()
        labels = self.labels
        moves = 0
        while queue and moves < max_moves:
            node = queue.popleft()
            queued[node] = False
            best = self._best_move(node)
            if best is None:
                continue
            _, b, new_pa, new_pb = best
            a = labels[node]
            if not self._stays_connected(node, a):
                continue
            self._apply(node, b, new_pa, new_pb)
            moves += 1
            for j in self.indices[self.indptr[node] : self.indptr[node + 1]]:
                if not queued[j]:
                    queued[j] = True
                    queue.append(int(j))
            if not queued[node]:
                queued[node] = True
                queue.append(node)
        self.labels = np.asarray(labels, dtype=np.int64)


def consolidate_blocks(
    graph: CellGraph,
    labels: np.ndarray,
    low: int,
    high: int,
    *,
    frozen: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    rounds: int = 4,
) -> np.ndarray:
    """Move the cells a grid holds of a barrier block to the neighbouring grid that holds more of it.

    Each accepted move takes one barrier crossing away: the donor stops spanning
    that block, the receiver already spans it.  Moves keep both grids connected
    and never take a grid out of the band (or further out of it).

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(6)])
    >>> wall = np.array([shapely.LineString([(2.5, -1), (2.5, 2)])])
    >>> g = build_cell_graph(cells, np.full(6, 10), shapely.centroid(cells), wall)
    >>> consolidate_blocks(g, np.array([0, 0, 0, 0, 1, 1]), 20, 40).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    block = _blocks(graph)
    labels = np.asarray(labels, dtype=np.int64).copy()
    if block is None:
        return labels
    frozen = np.zeros(graph.n, dtype=bool) if frozen is None else frozen
    shut = set() if closed is None else {int(g) for g in closed}
    indptr, indices = graph.shared.indptr, graph.shared.indices
    weight = graph.weight
    for _ in range(rounds):
        moved = False
        k = int(labels.max()) + 1
        grid_weight = np.bincount(labels, weights=weight, minlength=k)
        pairs = {}
        for node in range(graph.n):
            pairs.setdefault((int(labels[node]), int(block[node])), []).append(node)
        spans = np.bincount([g for g, _ in pairs], minlength=k)
        for (a, beta), cells in sorted(pairs.items(), key=lambda item: len(item[1])):
            if spans[a] <= 1 or frozen[cells].any():
                continue
            cells_arr = np.asarray(cells)
            if len(cells_arr) >= (labels == a).sum():
                continue
            holders = [g for (g, bb) in pairs if bb == beta and g != a and len(pairs[(g, bb)]) > len(cells) and g not in shut]
            w = float(weight[cells_arr].sum())
            for b in sorted(holders, key=lambda g: -len(pairs[(g, beta)])):
                before = _miss(grid_weight[a], low, high) + _miss(grid_weight[b], low, high)
                after = _miss(grid_weight[a] - w, low, high) + _miss(grid_weight[b] + w, low, high)
                if after > before:
                    continue
                trial = labels.copy()
                trial[cells_arr] = b
                if not (_connected(trial == a, indptr, indices) and _connected(trial == b, indptr, indices)):
                    continue
                labels = trial
                grid_weight[a] -= w
                grid_weight[b] += w
                spans[a] -= 1
                pairs[(b, beta)] = pairs[(b, beta)] + cells
                pairs[(a, beta)] = []
                moved = True
                break
        if not moved:
            break
    return labels


def _miss(weight, low, high):
    return max(weight - high, low - weight, 0)


def _connected(mask: np.ndarray, indptr, indices) -> bool:
    members = np.flatnonzero(mask)
    if len(members) <= 1:
        return True
    seen = {int(members[0])}
    stack = [int(members[0])]
    while stack:
        v = stack.pop()
        for j in indices[indptr[v] : indptr[v + 1]]:
            if mask[j] and j not in seen:
                seen.add(int(j))
                stack.append(int(j))
    return len(seen) == len(members)
