"""The cheapest set of cells across one border, found by search instead of grown greedily.

:func:`gridgeo.living.shed.shed_cheaply` grows a transfer from the border
between two grids, cheapest cell first.  Greedy growth can overshoot: in
monaco (5 % added at random, seed 2) a grid 76 households above the band's
maximum lies next to a neighbour with room for 124; from their border an empty
cell leads to an added 113-household building, but a 14-household added cell
sits on the border too, is taken first (it costs nothing), and then the 113
no longer fit the neighbour's room, so the transfer moves a 73-household
building that was there before instead.

:func:`shed_exactly` looks at every connected set of the giving grid's cells
that touches the border (up to a budget of sets), keeps the giving grid in one
piece and brings the grid out of band within the band without pushing the
other out of it, and takes the set moving the fewest households that were
there before (then the fewest households, then the fewest cells).  It repairs
the grids out of band one transfer at a time, the cheapest first, as
:func:`~gridgeo.living.shed.shed_cheaply` does.  With ``overflow`` a transfer
may hand a neighbour more than its room (taipei, 5 % added at random, seed 1:
a grid 129 households above the maximum has no connected set at any one border
that covers that and fits the neighbour's room); the neighbour passes the
overflow on in the next transfer, a chain found one border at a time.

Arrays of one :class:`~gridgeo.cells.adjacency.CellGraph` only; no files.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..partition.refine import _connected

__all__ = ["shed_exactly", "cheapest_set", "cheapest_growth"]

#: most sets looked at per pair of grids: past it the best set found so far is used (a count: the result does not depend on the machine)
SETS_BUDGET = 5000
#: border cells a transfer's first set (found without search) is grown from, the cheapest first
SEED_ROOTS = 3


def shed_exactly(graph, labels: np.ndarray, *, low: int, high: int, cost: np.ndarray, frozen: np.ndarray | None = None, excused: np.ndarray | None = None, budget: int = SETS_BUDGET, overflow: bool = False) -> np.ndarray:
    """Labels with out-of-band grids repaired by the cheapest single-border transfers, each found by search.

    Parameters
    ----------
    graph : CellGraph
        Cells (``weight`` = households, ``shared`` = adjacency).
    labels : ndarray of int
        Grid label per cell (0..k-1).
    low, high : int
        The household band.
    cost : ndarray
        Per cell, what moving it costs (the households that were there before the update).
    frozen : ndarray of bool, optional
        Cells that never move.
    excused : ndarray of bool, optional
        Per grid: grids allowed outside the band (they neither give nor take).
    budget : int
        Most sets looked at per pair of grids.
    overflow : bool
        A grid above the band may hand a neighbour more than it has room
        for; the neighbour, then above the band, passes the overflow on in
        a later transfer (a chain of two borders or more, found one transfer
        at a time).  Transfers are ranked by what they move plus the
        overflow (households the next transfer moves at most), and a cell
        that changed hands moves no more; the overflow is less than what
        the giver had too much (a chain's excess shrinks at every border)
        unless the set moves nobody who was there before (added buildings
        and empty cells).  Off: every transfer fits the taker's room.

    Returns
    -------
    ndarray
        New labels (the input is not changed).  A grid that no single
        transfer brings into the band is left as it is (the caller's search
        goes on from there).

    Examples
    --------
    Grid 0 (cells 0–3) holds 10 + 3 + 0 + 6 households, 4 above a band of
    5–15; grid 1 (cell 4, 7 households) has room for 8.  Cells 1 and 2 touch
    the border.  Growing the cheapest cells first would take cell 1 (3, added)
    and then find no room for cell 3 behind cell 2; the search hands over cells
    2 and 3 (6 added households), moving nobody who was there before.

    >>> import numpy as np, scipy.sparse as sp
    >>> from gridgeo.cells.adjacency import CellGraph
    >>> edges = [(0, 1), (0, 2), (1, 4), (2, 4), (2, 3)]
    >>> rows = [a for a, b in edges] + [b for a, b in edges]
    >>> cols = [b for a, b in edges] + [a for a, b in edges]
    >>> shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(5, 5))
    >>> g = CellGraph(np.array([10, 3, 0, 6, 7]), np.ones(5), np.ones(5) * 4, np.zeros((5, 2)), shared, sp.csr_matrix((5, 5)))
    >>> shed_exactly(g, np.array([0, 0, 0, 0, 1]), low=5, high=15, cost=np.array([10, 0, 0, 0, 7])).tolist()
    [0, 0, 1, 1, 1]

    A chain: grids 0 (cells 0–1), 1 (cells 2–3) and 2 (cell 4) in a row.
    Grid 0 holds 4 households too many, and the only cell at its border
    (cell 1, 8 added households) is more than grid 1's room of 5.  With
    ``overflow`` grid 1 takes it (3 too many now) and passes 6 of its own on
    to grid 2.

    >>> edges = [(0, 1), (1, 2), (2, 3), (3, 4)]
    >>> rows = [a for a, b in edges] + [b for a, b in edges]
    >>> cols = [b for a, b in edges] + [a for a, b in edges]
    >>> shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(5, 5))
    >>> g = CellGraph(np.array([11, 8, 4, 6, 7]), np.ones(5), np.ones(5) * 4, np.zeros((5, 2)), shared, sp.csr_matrix((5, 5)))
    >>> labels, cost = np.array([0, 0, 1, 1, 2]), np.array([11, 0, 4, 6, 7])
    >>> shed_exactly(g, labels, low=5, high=15, cost=cost).tolist()  # no single transfer fits
    [0, 0, 1, 1, 2]
    >>> shed_exactly(g, labels, low=5, high=15, cost=cost, overflow=True).tolist()
    [0, 1, 1, 2, 2]
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    if not len(labels):
        return labels
    weight = np.asarray(graph.weight, dtype=np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    frozen = np.zeros(len(labels), dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool).copy()
    k = int(labels.max()) + 1
    excused_k = np.zeros(k, dtype=bool)
    if excused is not None:
        e = np.asarray(excused, dtype=bool)[:k]
        excused_k[: len(e)] = e
    indptr, indices = graph.shared.indptr, graph.shared.indices
    for _ in range(4 * k):
        totals = np.bincount(labels, weights=weight, minlength=k).astype(np.int64)
        out = [g for g in range(k) if not excused_k[g] and not (low <= totals[g] <= high)]
        best = None
        for g in out:
            over = totals[g] > high
            near = sorted({int(labels[j]) for c in np.flatnonzero(labels == g).tolist() for j in indices[indptr[c] : indptr[c + 1]].tolist()} - {g})
            for h in near:
                if excused_k[h]:
                    continue
                room = int(high - totals[h])
                if over:
                    giver, taker, need, cap = g, h, int(totals[g] - high), int(totals[g] - low if overflow else min(room, totals[g] - low))
                else:
                    giver, taker, need, cap = h, g, int(low - totals[g]), int(min(totals[h] - low, high - totals[g]))
                if cap < need:
                    continue
                found = cheapest_set(graph, labels, giver, taker, weight=weight, cost=cost, frozen=frozen, need=need, cap=cap, budget=budget)
                if found is None:
                    continue
                spill = max(0, found[1] - room) if over else 0  # what the taker must pass on (0 unless overflow)
                if spill >= need and found[0] > 0:
                    continue  # a chain's excess shrinks at every border, unless the set moves nobody who was there
                key = (found[0] + spill, found[0], found[1], len(found[2]), g, h)
                if best is None or key < best[0]:
                    best = (key, found[2], taker)
        if best is None:
            break
        labels[best[1]] = best[2]
        if overflow:
            frozen[best[1]] = True  # a chain moves on: what changed hands does not come back
    return labels


def cheapest_set(graph, labels: np.ndarray, giver: int, taker: int, *, weight: np.ndarray, cost: np.ndarray, frozen: np.ndarray, need: int, cap: int, budget: int = SETS_BUDGET):
    """The cheapest connected set of ``giver``'s cells touching ``taker`` with ``need`` to ``cap`` households.

    The rest of ``giver`` stays one piece (and keeps a cell).  Returns
    (cost, households, cells) of the best set, the fewest households that
    were there before first, or None when no set qualifies among the first
    ``budget`` looked at.
    """
    indptr, indices = graph.shared.indptr, graph.shared.indices
    inside = labels == giver
    movable = inside & ~frozen
    roots = [c for c in np.flatnonzero(movable).tolist() if any(labels[j] == taker for j in indices[indptr[c] : indptr[c + 1]].tolist())]
    roots = sorted(roots, key=lambda c: (float(cost[c]), -int(weight[c]), c))
    seed = None
    for root in roots[:SEED_ROOTS]:  # a first set to beat, grown from each of the cheapest cells at the border
        found = _grown_then_pruned(graph, inside, movable, [root], weight, cost, need, cap, None)
        if found is not None and (seed is None or (found[0], found[1], len(found[2])) < (seed[0], seed[1], len(seed[2]))):
            seed = found
    return _search(graph, inside, movable, [[c] for c in roots], weight, cost, need, cap, budget, seed=seed)


def cheapest_growth(graph, inside: np.ndarray, start, *, weight: np.ndarray, cost: np.ndarray, frozen: np.ndarray, need: int, cap: int, budget: int = SETS_BUDGET, labels: np.ndarray | None = None):
    """The cheapest connected set of cells of ``inside`` holding the cells ``start`` (connected), with ``need`` to ``cap`` households.

    The rest of ``inside`` stays one piece (and keeps a cell); with
    ``labels`` (a grid per cell), the rest of each grid it takes cells from
    does instead.  Returns (cost, households, cells) as
    :func:`cheapest_set`, or None.
    """
    start = [int(c) for c in start]
    inside = np.asarray(inside, dtype=bool)
    movable = inside & ~np.asarray(frozen, dtype=bool)
    seed = _grown_then_pruned(graph, inside, movable, start, weight, cost, need, cap, labels)
    return _search(graph, inside, movable, [start], weight, cost, need, cap, budget, labels=labels, seed=seed)


def _grown_then_pruned(graph, inside: np.ndarray, movable: np.ndarray, start: list[int], weight, cost, need: int, cap: int, labels: np.ndarray | None):
    """A first set for :func:`_search` to beat, found without search: (cost, households, cells) or None.

    ``start`` grows by the cheapest movable cell next to it (fewest households
    that were there before, then the most households) until it holds
    ``need``; each grid it cuts in two also gives the pieces it cut off (all
    but the piece holding the most households that were there before); then
    each cell the set can do without (it still holds ``need``, stays
    connected, and the cell's grid stays one piece with it back) goes back,
    the dearest first.  The search alone can spend its budget among sets that
    cut a grid before it meets one that does not (shanghai_bund, 5 % added at
    random, seed 2: a new grid of two added buildings needing 26 households
    more cost 113 where 67 do).

    Examples
    --------
    Added buildings in cells 0 and 2 (joined by the empty cell 1) start a
    new grid that needs 2 households more: cell 6 (1 household) and cell 4
    (2) are the cheapest, but taking cell 4 cuts cell 5 off its grid, so cell
    5 comes too, and then cell 6 is not needed.

    >>> import numpy as np, scipy.sparse as sp
    >>> from gridgeo.cells.adjacency import CellGraph
    >>> edges = [(0, 1), (1, 2), (1, 3), (2, 4), (4, 5), (0, 6), (6, 7)]
    >>> rows = [a for a, b in edges] + [b for a, b in edges]
    >>> cols = [b for a, b in edges] + [a for a, b in edges]
    >>> shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(8, 8))
    >>> weight = np.array([8, 0, 4, 30, 2, 2, 1, 5])
    >>> g = CellGraph(weight, np.ones(8), np.ones(8) * 4, np.zeros((8, 2)), shared, sp.csr_matrix((8, 8)))
    >>> cost = np.array([0, 0, 0, 30, 2, 2, 1, 5])
    >>> inside = np.ones(8, dtype=bool)
    >>> labels = np.array([1, 0, 0, 0, 0, 0, 1, 1])
    >>> _grown_then_pruned(g, inside, inside, [0, 1, 2], weight, cost, 14, 20, labels)
    (4.0, 16, [0, 1, 2, 4, 5])
    """
    indptr, indices = graph.shared.indptr, graph.shared.indices
    grid = np.zeros(len(inside), dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    chosen = np.zeros(len(inside), dtype=bool)
    chosen[start] = True
    held = int(weight[chosen].sum())
    if held > cap:
        return None
    heap: list = []
    queued = set(start)

    def push(c: int) -> None:
        for j in indices[indptr[c] : indptr[c + 1]].tolist():
            if movable[j] and j not in queued:
                queued.add(j)
                heapq.heappush(heap, (float(cost[j]), -int(weight[j]), j))

    for c in start:
        push(c)
    while held < need and heap:
        _, _, c = heapq.heappop(heap)
        if held + int(weight[c]) > cap:
            continue
        chosen[c] = True
        held += int(weight[c])
        push(c)
    if held < need:
        return None
    # the pieces each grid it takes from falls into: all but the one with the most households that were there before join
    for g in sorted({int(grid[c]) for c in np.flatnonzero(chosen)}):
        rest = np.flatnonzero(inside & (grid == g) & ~chosen)
        if not len(rest):
            return None
        count, piece = connected_components(graph.shared[rest][:, rest], directed=False)
        if count > 1:
            keep = max(range(count), key=lambda p: (float(cost[rest[piece == p]].sum()), int(weight[rest[piece == p]].sum()), -p))
            off = rest[piece != keep]
            if not movable[off].all():
                return None
            chosen[off] = True
    held = int(weight[chosen].sum())
    if held > cap or not _connected(chosen, indptr, indices):
        return None  # (a grid in pieces before: what it lost need not touch the set)
    fixed = set(start)
    for c in sorted(np.flatnonzero(chosen).tolist(), key=lambda c: (-float(cost[c]), int(weight[c]), c)):
        if c in fixed or held - int(weight[c]) < need:
            continue
        chosen[c] = False
        if _connected(chosen, indptr, indices) and _connected(inside & (grid == grid[c]) & ~chosen, indptr, indices):
            held -= int(weight[c])
        else:
            chosen[c] = True
    cells = np.flatnonzero(chosen)
    return float(cost[cells].sum()), held, [int(c) for c in cells]


def _search(
    graph, inside: np.ndarray, movable: np.ndarray, starts: list[list[int]], weight, cost, need: int, cap: int, budget: int, labels: np.ndarray | None = None, seed=None
):
    """Every connected set of ``movable`` cells growing from one of ``starts`` (each set once: a set is grown from the
    first start it holds), cheapest first by pruning: the best (cost, households, cells) or None.  ``labels``: what
    must stay one piece is each grid the set takes from, not all of ``inside``.  ``seed``: a set found otherwise
    (cost, households, cells) that the search must beat."""
    indptr, indices = graph.shared.indptr, graph.shared.indices
    if not starts:
        return None
    state = {"best": None if seed is None else ((seed[0], seed[1], len(seed[2])), list(seed[2])), "left": budget}
    nodes_in = [int(c) for c in np.flatnonzero(inside).tolist()]
    near = {c: [int(j) for j in indices[indptr[c] : indptr[c + 1]].tolist() if inside[j]] for c in nodes_in}
    can_move = {c: [j for j in near[c] if movable[j]] for c in nodes_in}
    of_grid: dict[int, list[int]] = {}
    if labels is not None:
        for c in nodes_in:
            of_grid.setdefault(int(labels[c]), []).append(c)

    def rest_connected(chosen: list[int]) -> bool:
        if labels is None:
            return one_piece(nodes_in, set(chosen))
        out = set(chosen)
        return all(one_piece(of_grid[g], out) for g in sorted({int(labels[c]) for c in chosen}))

    def one_piece(nodes: list[int], out: set[int]) -> bool:
        rest = len(nodes) - sum(1 for c in nodes if c in out)
        if rest <= 0:
            return False
        first = next(c for c in nodes if c not in out)
        seen = {first}
        stack = [first]
        while stack:
            for j in near[stack.pop()]:
                if j not in out and j not in seen and (labels is None or labels[j] == labels[first]):
                    seen.add(j)
                    stack.append(j)
        return len(seen) == rest

    def visit(chosen: list[int], households: int, paid: float, candidates: list[int], banned: set[int]) -> None:
        state["left"] -= 1
        if households >= need:
            key = (paid, households, len(chosen))
            if state["best"] is not None and key >= state["best"][0]:
                return  # a larger set costs at least as much and moves more
            if rest_connected(chosen):
                state["best"] = (key, list(chosen))
                return
            # the set cuts the giving grid in two: it may still go with the part it cuts off
        candidates = list(candidates)
        banned = set(banned)
        while candidates and state["left"] > 0:
            c = candidates.pop()
            w, p = int(weight[c]), float(cost[c])
            banned.add(c)
            if households + w > cap or (state["best"] is not None and paid + p > state["best"][0][0]):
                continue
            grown = candidates + [j for j in can_move[c] if j not in banned and j not in candidates]
            visit(chosen + [c], households + w, paid + p, grown, banned)

    banned_roots: set[int] = set()
    for start in starts:
        if state["left"] <= 0:
            break
        w, p = int(weight[start].sum()), float(cost[start].sum())
        banned_roots.update(start)
        if w > cap or (state["best"] is not None and p > state["best"][0][0]):
            continue
        first = sorted({j for c in start for j in can_move.get(c, []) if j not in banned_roots})
        visit(list(start), w, p, first, set(banned_roots))
    if state["best"] is None:
        return None
    (paid, households, _), cells = state["best"]
    return paid, households, np.array(sorted(cells), dtype=np.int64)
