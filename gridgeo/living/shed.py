"""Bring out-of-band grids back into the band by moving the cheapest cells across one border.

When an update adds or removes buildings, a grid above the band's maximum must
give households to a neighbour and a grid below the minimum must take some
from one.  Which cells go matters to the people living there: a household that
was in a grid before the update and changes grid is a household *moved*.  This
module does the transfer on the cell graph of the grids being repaired, paying
for each cell what its existing households cost (cells of added buildings and
empty cells cost nothing):

* for every grid out of the band, and every neighbour that can take (or give)
  households, a connected set of cells is grown from the border between the
  two, always adding the frontier cell with the lowest cost per household
  (ties: nearest the border, then the largest), keeping the giving grid in one
  piece, until the transfer brings the grid into the band without pushing the
  other one out of it;
* of those candidates, the one that costs least is applied; a grid no single
  neighbour can fix takes the best partial transfer and the loop goes on.

It works on arrays of one :class:`~gridgeo.cells.adjacency.CellGraph` and never
reads or writes files.
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np
from scipy.sparse.csgraph import connected_components

__all__ = ["shed_cheaply"]


def shed_cheaply(
    graph,
    labels: np.ndarray,
    *,
    low: int,
    high: int,
    cost: np.ndarray,
    frozen: np.ndarray | None = None,
    excused: np.ndarray | None = None,
    rounds: int | None = None,
    pockets: bool = False,
    best_fit: bool = False,
) -> np.ndarray:
    """Labels with out-of-band grids repaired by the cheapest single-border transfers.

    Parameters
    ----------
    graph : CellGraph
        Cells (``weight`` = households, ``shared`` = adjacency).
    labels : ndarray of int
        Grid label per cell (0..k-1).
    low, high : int
        The household band.
    cost : ndarray
        Per cell, what moving it costs (the households that were there before
        the update).
    frozen : ndarray of bool, optional
        Cells that never move.
    excused : ndarray of bool, optional
        Per grid: grids allowed outside the band (they neither give nor take).
    rounds : int, optional
        Most transfers to make (default: four per grid).
    pockets : bool
        A cell whose move would cut the giving grid in two may move together
        with the cells it cuts off (paying for them too); without it such a
        cell is skipped.
    best_fit : bool
        Once no free cell is left on the frontier, end a transfer with the
        cheapest single frontier cell that covers what is still short, instead
        of growing by the largest cell first (which can overshoot a small need
        with a big building).

    Returns
    -------
    ndarray
        New labels (the input is not changed).  Grids this cannot fix are left
        for the caller's other repairs.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from gridgeo.cells.adjacency import CellGraph
    >>> edges = [(i, i + 1) for i in range(5)]
    >>> rows = [a for a, b in edges] + [b for a, b in edges]
    >>> cols = [b for a, b in edges] + [a for a, b in edges]
    >>> shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(6, 6))
    >>> g = CellGraph(np.array([5, 5, 5, 5, 5, 5]), np.ones(6), np.ones(6) * 4, np.zeros((6, 2)), shared, sp.csr_matrix((6, 6)))
    >>> shed_cheaply(g, np.array([0, 0, 0, 0, 1, 1]), low=10, high=15, cost=np.array([5, 5, 5, 0, 5, 5])).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = len(labels)
    if n == 0:
        return labels
    weight = np.asarray(graph.weight, dtype=np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    frozen = np.zeros(n, dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool)
    k = int(labels.max()) + 1
    excused_k = np.zeros(k, dtype=bool)
    if excused is not None:
        e = np.asarray(excused, dtype=bool)[:k]
        excused_k[: len(e)] = e
    rounds = 4 * k if rounds is None else rounds
    tried: set[tuple[int, ...]] = set()
    for _ in range(rounds):
        totals = np.bincount(labels, weights=weight, minlength=k).astype(np.int64)
        miss = np.where(excused_k, 0, np.maximum(low - totals, 0) + np.maximum(totals - high, 0))
        bad = [int(g) for g in np.argsort(-miss, kind="stable") if miss[g] > 0]
        if not bad:
            break
        done = False
        for g in bad:
            key = (g, int(totals[g]))
            if key in tried:
                continue
            tried.add(key)
            move = _best_transfer(g, labels, totals, weight, cost, frozen, excused_k, graph.shared, low, high, pockets, best_fit)
            if move is not None:
                cells, target = move
                labels[cells] = target
                done = True
                break
        if not done:
            break
    return labels


def _neighbours(c: int, indptr, indices):
    return indices[indptr[c] : indptr[c + 1]]


def _best_transfer(g, labels, totals, weight, cost, frozen, excused, shared, low, high, pockets=False, best_fit=False):
    """The cheapest transfer fixing (or best narrowing) grid ``g``'s miss: (cells, new label) or None."""
    indptr, indices = shared.indptr, shared.indices
    over = totals[g] > high
    members = np.flatnonzero(labels == g)
    near = set()
    for c in members.tolist():
        for j in _neighbours(c, indptr, indices).tolist():
            if labels[j] != g:
                near.add(int(labels[j]))
    best = None
    for h in sorted(near):
        if excused[h]:
            continue
        if over:
            need = int(totals[g] - high)
            cap = int(min(high - totals[h], totals[g] - low))
            giver, taker = g, h
        else:
            need = int(low - totals[g])
            cap = int(min(totals[h] - low, high - totals[g]))
            giver, taker = h, g
        if cap <= 0:
            continue
        cells, moved, paid = _grow(giver, taker, labels, weight, cost, frozen, shared, need, cap, pockets, best_fit)
        if moved <= 0:
            continue
        fixed = moved >= need
        # fixing beats narrowing; then households moved per household transferred; then the fewest cells
        key = (not fixed, paid if fixed else paid / moved - moved * 1e-9, len(cells), h)
        if best is None or key < best[0]:
            best = (key, cells, taker)
    if best is None:
        return None
    return np.array(best[1], dtype=np.int64), best[2]


def _grow(giver, taker, labels, weight, cost, frozen, shared, need, cap, pockets=False, best_fit=False):
    """Cells of ``giver`` grown from its border with ``taker``: (cells, households, cost).

    With ``pockets``, a cell that would cut ``giver`` in two goes with the
    cells it cuts off (none frozen), at their summed cost per household.
    """
    indptr, indices = shared.indptr, shared.indices
    inside = labels == giver
    depth = {}
    heap = []
    for c in np.flatnonzero(inside).tolist():
        if frozen[c]:
            continue
        if any(labels[j] == taker for j in _neighbours(c, indptr, indices).tolist()):
            depth[c] = 0
            heapq.heappush(heap, _priority(c, 0, weight, cost) + ((),))
    taken: list[int] = []
    moved = 0
    paid = 0.0
    left = int(inside.sum())
    while heap and moved < need:
        finish = _finishing_cell(heap, inside, weight, cost, need - moved, cap - moved, left, indptr, indices) if best_fit else None
        if finish is not None:  # it ends the transfer: the frontier is not needed any more
            taken.append(finish)
            moved += int(weight[finish])
            paid += float(cost[finish])
            break
        *_, c, pocket = heapq.heappop(heap)
        if not inside[c] or any(not inside[p] for p in pocket):
            continue
        group = [c, *pocket]
        w = int(weight[group].sum())
        if moved + w > cap or left <= len(group):
            continue
        if not pocket and not _stays_one_piece(c, inside, indptr, indices):
            if pockets:
                cut = _cut_off(c, inside, shared, cost)
                if cut is not None and not frozen[cut].any():
                    group = [c, *cut.tolist()]
                    heapq.heappush(heap, (float(cost[group].sum()) / max(int(weight[group].sum()), 1), depth[c], -int(weight[group].sum()), c, tuple(cut.tolist())))
            continue
        if pocket and not _group_leaves_one_piece(group, inside, shared):
            continue
        for cell in group:
            inside[cell] = False
            left -= 1
            taken.append(cell)
            moved += int(weight[cell])
            paid += float(cost[cell])
            for j in _neighbours(cell, indptr, indices).tolist():
                if inside[j] and not frozen[j] and j not in depth:
                    depth[j] = depth[cell] + 1 if cell in depth else depth[c] + 1
                    heapq.heappush(heap, _priority(j, depth[j], weight, cost) + ((),))
                elif inside[j] and not frozen[j]:
                    heapq.heappush(heap, _priority(j, depth[j], weight, cost) + ((),))  # a cell refused before may fit now
    return taken, moved, paid


def _finishing_cell(heap, inside, weight, cost, short, room, left, indptr, indices):
    """The cheapest frontier cell that alone ends the transfer, when no free cell is on the frontier; else None.

    Growing by the largest cell first can overshoot a small remaining need with
    a big building; a single cell of the frontier whose households cover what
    is still short (and fit the room left) ends the transfer at its own cost.
    """
    if left <= 1 or not heap or heap[0][0] == 0.0:
        return None
    best = None
    for entry in heap:
        c, pocket = entry[3], entry[4]
        if pocket or not inside[c]:
            continue
        w = int(weight[c])
        if w < short or w > room:
            continue
        key = (float(cost[c]), entry[1], w, c)
        if best is not None and key >= best[0]:
            continue
        if _stays_one_piece(c, inside, indptr, indices):
            best = (key, c)
    return None if best is None else best[1]


def _cut_off(c, inside, shared, cost):
    """The cells of ``inside`` that ``c`` would cut off from the part holding the most cost (then the most cells)."""
    rest = np.flatnonzero(inside)
    rest = rest[rest != c]
    count, piece = connected_components(shared[rest][:, rest], directed=False)
    if count < 2:
        return None
    held = np.bincount(piece, weights=cost[rest], minlength=count)
    main = int(np.lexsort((-np.bincount(piece, minlength=count), -held))[0])
    return rest[piece != main]


def _group_leaves_one_piece(group, inside, shared) -> bool:
    """Whether the cells still ``inside`` stay one piece without ``group``."""
    rest = inside.copy()
    rest[group] = False
    nodes = np.flatnonzero(rest)
    return len(nodes) > 0 and connected_components(shared[nodes][:, nodes], directed=False)[0] == 1


def _priority(c, depth, weight, cost):
    w = int(weight[c])
    return (float(cost[c]) / max(w, 1), depth, -w, c)


def _stays_one_piece(c, inside, indptr, indices) -> bool:
    """Whether the cells still ``inside`` stay connected without ``c``."""
    targets = {int(j) for j in _neighbours(c, indptr, indices).tolist() if inside[j] and j != c}
    if len(targets) <= 1:
        return True
    start = targets.pop()
    seen = {start, c}
    queue = deque([start])
    while queue and targets:
        cur = queue.popleft()
        for j in _neighbours(cur, indptr, indices).tolist():
            if j in seen or not inside[j]:
                continue
            seen.add(j)
            targets.discard(j)
            queue.append(j)
    return not targets
