"""A new grid made of added buildings: when an update adds a connected group of buildings, that group can become the new grid.

When a grid of an updated plan must be split (its households fit one more
grid), the split a fresh partition draws moves households that were there
before into the new grid.  Often the buildings added since the previous run
form one connected group of cells, with no existing household in between (a new
estate): made into the new grid, they move nobody.  This module finds such a
group inside one grid and, when it is a little short of the band's minimum,
tops it up with the cheapest neighbouring cells (fewest existing households per
household taken), keeping the rest of the grid in one piece.

The same holds across a border: a grid above the band whose added buildings
lie at its border with a grid that has room can hand them over
(:func:`give_added`), also when they are walled in behind one another (a cell
that would cut the grid in two goes together with the added cells it cuts off).
A grid holding a building above the maximum has no band: it may take them too,
and its empty cells may then join the giving grid where the added ones held it
together.

It works on arrays of one :class:`~gridgeo.cells.adjacency.CellGraph` and never
reads or writes files.
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..partition.refine import _connected
from .exactshed import cheapest_growth
from .shed import _cut_off, _stays_one_piece

__all__ = ["give_added", "split_added_across", "split_added_group"]


def split_added_group(graph, labels: np.ndarray, grid: int, *, existing: np.ndarray, low: int, high: int, frozen: np.ndarray | None = None) -> np.ndarray | None:
    """Labels where a connected group of ``grid``'s cells without existing households is a new grid; None when there is none.

    Parameters
    ----------
    graph : CellGraph
        Cells (``weight`` = households, ``shared`` = adjacency).
    labels : ndarray of int
        Grid label per cell (0..k-1).
    grid : int
        The label of the grid to split.
    existing : ndarray
        Per cell, the households of buildings that were there before the update.
    low, high : int
        The household band.
    frozen : ndarray of bool, optional
        Cells that never leave ``grid`` (pinned buildings, buildings above the band).

    Returns
    -------
    ndarray or None
        New labels (the input is not changed): the group takes the label
        ``labels.max() + 1``.  The group holds between ``low`` and ``high``
        households and the rest of ``grid`` stays one piece.  Of several
        groups, the one leaving the rest of the grid in the band is chosen,
        then the one moving the fewest existing households, then the heaviest.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from gridgeo.cells.adjacency import CellGraph
    >>> edges = [(i, i + 1) for i in range(5)]
    >>> rows = [a for a, b in edges] + [b for a, b in edges]
    >>> cols = [b for a, b in edges] + [a for a, b in edges]
    >>> shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(6, 6))
    >>> g = CellGraph(np.array([5, 5, 5, 5, 5, 5]), np.ones(6), np.ones(6) * 4, np.zeros((6, 2)), shared, sp.csr_matrix((6, 6)))
    >>> split_added_group(g, np.zeros(6, dtype=int), 0, existing=np.array([5, 5, 5, 0, 0, 0]), low=10, high=15).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64)
    weight = np.asarray(graph.weight, dtype=np.int64)
    existing = np.asarray(existing, dtype=np.float64)
    frozen = np.zeros(len(labels), dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool)
    nodes = np.flatnonzero(labels == grid)
    total = int(weight[nodes].sum())
    free = nodes[(existing[nodes] == 0) & ~frozen[nodes]]
    if not len(free):
        return None
    count, piece = connected_components(graph.shared[free][:, free], directed=False)
    indptr, indices = graph.shared.indptr, graph.shared.indices
    best = None
    for p in range(count):
        group = free[piece == p]
        held = int(weight[group].sum())
        if held == 0 or held > high or held >= total:
            continue
        rest = labels == grid
        rest[group] = False
        grown = _top_up(group, labels, (labels == grid) & ~frozen, weight, existing, indptr, indices, low, high) if rest.any() and _connected(rest, indptr, indices) else None
        paid, held, taken = grown if grown is not None else (0.0, 0, None)
        # the cheapest top-up by search (gridgeo.living.exactshed): the greedy one takes the largest cells first
        need, cap = max(low, total - high), min(high, total - low)
        searched = cheapest_growth(graph, labels == grid, group, weight=weight, cost=existing, frozen=frozen, need=need, cap=cap) if need <= cap else None
        if searched is not None and (taken is None or not (low <= total - held <= high) or searched[0] < paid):
            paid, held, taken = searched
        if taken is None:
            continue
        rest = total - held
        key = (not (low <= rest <= high), paid, -held, int(taken.min()))
        if best is None or key < best[0]:
            best = (key, taken)
    if best is None:
        return None
    out = labels.copy()
    out[best[1]] = int(labels.max()) + 1
    return out


def split_added_across(graph, labels: np.ndarray, *, existing: np.ndarray, low: int, high: int, frozen: np.ndarray | None = None, excused: np.ndarray | None = None) -> np.ndarray | None:
    """Labels where a group of added buildings, topped up across grid borders, is a new grid.

    :func:`split_added_group` looks inside one grid.  Added buildings on both
    sides of a border (or joined by cells without households across it), or
    one next to a neighbour's small buildings, can make a new grid where one
    grid's cells alone would move more: each connected group of cells holding
    only added buildings, with at least half the band's minimum, is topped up
    with the cheapest connected cells of any grid taking part (by search,
    :func:`gridgeo.living.exactshed.cheapest_growth`, and greedily, cheapest
    per household first), and becomes the new grid when every grid it takes
    from keeps a cell and stays in one piece.

    Parameters
    ----------
    graph : CellGraph
        Cells (``weight`` = households, ``shared`` = adjacency).
    labels : ndarray of int
        Grid label per cell (0..k-1).
    existing : ndarray
        Per cell, the households of buildings that were there before the update.
    low, high : int
        The household band.
    frozen : ndarray of bool, optional
        Cells that never change grid.
    excused : ndarray of bool, optional
        Per grid: grids without a band (holding a building above the maximum); their cells stay.

    Returns
    -------
    ndarray or None
        New labels (the input is not changed), the new grid labelled
        ``labels.max() + 1`` and holding between ``low`` and ``high``
        households; of several groups, the one moving the fewest existing
        households, then the heaviest.  None when no group can be topped up.

    Examples
    --------
    Two grids of three cells in a row; the added cells 2 and 3 (8 households
    each) meet at the border.  Together with cell 1 (2 households) they make a
    grid of 18, and each grid keeps a cell (within grid 0 alone, the 8 added
    households would need cells 0 and 1: 11 moved).

    >>> import numpy as np, scipy.sparse as sp
    >>> from gridgeo.cells.adjacency import CellGraph
    >>> edges = [(i, i + 1) for i in range(5)]
    >>> rows = [a for a, b in edges] + [b for a, b in edges]
    >>> cols = [b for a, b in edges] + [a for a, b in edges]
    >>> shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(6, 6))
    >>> g = CellGraph(np.array([9, 2, 8, 8, 5, 9]), np.ones(6), np.ones(6) * 4, np.zeros((6, 2)), shared, sp.csr_matrix((6, 6)))
    >>> split_added_across(g, np.array([0, 0, 0, 1, 1, 1]), existing=np.array([9, 2, 0, 0, 5, 9]), low=18, high=25).tolist()
    [0, 2, 2, 2, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64)
    weight = np.asarray(graph.weight, dtype=np.int64)
    existing = np.asarray(existing, dtype=np.float64)
    frozen = np.zeros(len(labels), dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool)
    k = int(labels.max()) + 1 if len(labels) else 0
    excused_k = np.zeros(k, dtype=bool)
    if excused is not None:
        e = np.asarray(excused, dtype=bool)[:k]
        excused_k[: len(e)] = e
    inside = ~excused_k[labels] & ~frozen
    # groups of added buildings that touch, and groups joined by cells without households too (those can be many,
    # then the first groups are topped up with them as needed)
    groups = []
    for free in (np.flatnonzero(inside & (existing == 0) & (weight > 0)), np.flatnonzero(inside & (existing == 0))):
        if len(free):
            count, piece = connected_components(graph.shared[free][:, free], directed=False)
            groups += [free[piece == p] for p in range(count)]
    groups = list({tuple(g.tolist()): g for g in groups}.values())  # (a group without empty cells comes once)
    indptr, indices = graph.shared.indptr, graph.shared.indices
    best = None
    for group in groups:
        held = int(weight[group].sum())
        if held > high or 2 * held < low:
            continue  # too large for a grid, or too small to start one (a new grid of mostly existing households)
        # the cheapest top-up by search, and the greedy one (cheapest cells per household first: the search can spend
        # its budget among many small cells before it finds any set)
        searched = cheapest_growth(graph, inside, group, weight=weight, cost=existing, frozen=frozen, need=low, cap=high, labels=labels)
        for found in (searched, _top_up(group, labels, inside, weight, existing, indptr, indices, low, high)):
            if found is None:
                continue
            paid, held, taken = found
            out = labels.copy()
            out[taken] = k
            if any(not (out == g).any() or not _connected(out == g, indptr, indices) for g in set(labels[taken].tolist())):
                continue  # a grid it takes from would lose its last cell or fall in two
            key = (paid, -held, int(taken.min()))
            if best is None or key < best[0]:
                best = (key, out)
    return None if best is None else best[1]


def _top_up(group, labels, movable, weight, existing, indptr, indices, low, high):
    """``group`` grown by the cheapest ``movable`` cells (fewest existing households per household) until it holds
    ``low``, each grid (``labels``) it takes cells from staying in one piece (and keeping a cell): (cost, households,
    cells) or None.  Each grid is taken to be in one piece without ``group`` (:func:`split_added_group` checks it
    first, :func:`split_added_across` checks the grids it returns)."""
    left = np.ones(len(labels), dtype=bool)
    left[group] = False
    taken = [int(c) for c in group]
    held = int(weight[taken].sum())
    paid = 0.0
    heap: list = []
    seen = set(taken)

    def push(c):
        for j in indices[indptr[c] : indptr[c + 1]].tolist():
            if movable[j] and j not in seen:
                seen.add(j)
                heapq.heappush(heap, (float(existing[j]) / max(int(weight[j]), 1), -int(weight[j]), j))

    for c in taken:
        push(c)
    refused = []
    while held < low and heap:
        *_, c = heapq.heappop(heap)
        mine = left & (labels == labels[c])
        if held + int(weight[c]) > high or mine.sum() <= 1 or not _stays_one_piece(c, mine, indptr, indices):
            refused.append(c)
            continue
        left[c] = False
        taken.append(c)
        held += int(weight[c])
        paid += float(existing[c])
        push(c)
        for r in refused:  # a cell refused before may fit now that its neighbour left
            heapq.heappush(heap, (float(existing[r]) / max(int(weight[r]), 1), -int(weight[r]), r))
        refused = []
    if held < low:
        return None
    return paid, held, np.array(sorted(taken), dtype=np.int64)


def give_added(
    graph, labels: np.ndarray, *, low: int, high: int, existing: np.ndarray, frozen: np.ndarray | None = None, excused: np.ndarray | None = None, takes_excused: bool = False
) -> np.ndarray:
    """Labels with out-of-band grids repaired by handing cells without existing households across one border.

    For every grid out of the band and every neighbour that can take (or
    give) households, cells without existing households are moved from the
    giving grid to the taking one, starting at their border and growing along
    such cells, heaviest first.  A cell whose move would cut the giving grid in
    two is moved together with the part it cuts off when that part has no
    existing household either.  The giving grid stays one piece and no grid is
    pushed out of the band.

    Parameters
    ----------
    graph : CellGraph
        Cells (``weight`` = households, ``shared`` = adjacency).
    labels : ndarray of int
        Grid label per cell (0..k-1).
    low, high : int
        The household band.
    existing : ndarray
        Per cell, the households of buildings that were there before the update.
    frozen : ndarray of bool, optional
        Cells that never move.
    excused : ndarray of bool, optional
        Per grid: grids allowed outside the band (they neither give nor take, unless ``takes_excused``).
    takes_excused : bool
        An excused grid (one holding a building above the maximum has no band) may take what a grid above the
        band hands over, and its empty cells (no households, not frozen) may join the giving grid where a cell's
        leaving would cut it in two, as long as every grid they change stays one piece.

    Returns
    -------
    ndarray
        New labels (the input is not changed); only cells without existing
        households change label.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from gridgeo.cells.adjacency import CellGraph
    >>> edges = [(0, 1), (1, 2), (2, 3), (3, 4), (2, 5)]
    >>> rows = [a for a, b in edges] + [b for a, b in edges]
    >>> cols = [b for a, b in edges] + [a for a, b in edges]
    >>> shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(6, 6))
    >>> g = CellGraph(np.array([5, 5, 2, 3, 3, 1]), np.ones(6), np.ones(6) * 4, np.zeros((6, 2)), shared, sp.csr_matrix((6, 6)))

    Cell 2 (added) walls in cell 5 (added): both go over, and grid 0 comes down to 10.

    >>> give_added(g, np.array([0, 0, 0, 1, 1, 0]), low=5, high=12, existing=np.array([5, 5, 0, 3, 3, 0])).tolist()
    [0, 0, 1, 1, 1, 1]

    When the cell walled in holds existing households, nothing moves.

    >>> give_added(g, np.array([0, 0, 0, 1, 1, 0]), low=5, high=12, existing=np.array([5, 5, 0, 3, 3, 1])).tolist()
    [0, 0, 0, 1, 1, 0]

    A grid without band (cell 3 above the maximum) takes the added cell 1; its empty cell 4 joins grid 0, which cell 1
    held together.

    >>> edges = [(0, 1), (1, 2), (1, 3), (0, 4), (4, 2), (3, 4)]
    >>> rows = [a for a, b in edges] + [b for a, b in edges]
    >>> cols = [b for a, b in edges] + [a for a, b in edges]
    >>> shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(5, 5))
    >>> weight = np.array([5, 3, 5, 20, 0])
    >>> g = CellGraph(weight, np.ones(5), np.ones(5) * 4, np.zeros((5, 2)), shared, sp.csr_matrix((5, 5)))
    >>> kw = dict(low=5, high=12, existing=np.array([5, 0, 5, 20, 0]), frozen=weight > 12, excused=np.array([False, True]))
    >>> give_added(g, np.array([0, 0, 0, 1, 1]), **kw).tolist()
    [0, 0, 0, 1, 1]
    >>> give_added(g, np.array([0, 0, 0, 1, 1]), takes_excused=True, **kw).tolist()
    [0, 1, 0, 1, 0]
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    if not len(labels):
        return labels
    weight = np.asarray(graph.weight, dtype=np.int64)
    existing = np.asarray(existing, dtype=np.float64)
    frozen = np.zeros(len(labels), dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool)
    free = (existing == 0) & ~frozen
    k = int(labels.max()) + 1
    excused_k = np.zeros(k, dtype=bool)
    if excused is not None:
        e = np.asarray(excused, dtype=bool)[:k]
        excused_k[: len(e)] = e
    indptr, indices = graph.shared.indptr, graph.shared.indices
    for _ in range(4 * k):
        totals = np.bincount(labels, weights=weight, minlength=k).astype(np.int64)
        miss = np.where(excused_k, 0, np.maximum(low - totals, 0) + np.maximum(totals - high, 0))
        progress = False
        for g in [int(g) for g in np.argsort(-miss, kind="stable") if miss[g] > 0]:
            over = totals[g] > high
            near = sorted({int(labels[j]) for c in np.flatnonzero(labels == g).tolist() for j in indices[indptr[c] : indptr[c + 1]].tolist()} - {g})
            best = None
            for h in near:
                if excused_k[h] and not (over and takes_excused):
                    continue
                if over:
                    # a grid excused from the band (one holding a building above the maximum) has no maximum
                    room = totals[g] - low if excused_k[h] else min(high - totals[h], totals[g] - low)
                    giver, taker, need, cap = g, h, int(totals[g] - high), int(room)
                else:
                    giver, taker, need, cap = h, g, int(low - totals[g]), int(min(totals[h] - low, high - totals[g]))
                if cap <= 0:
                    continue
                # with takes_excused, empty cells of excused grids may join the giving grid to keep it in one piece
                bridges = (weight == 0) & free & excused_k[labels] if takes_excused else None
                taken, moved, joined = _hand_over(giver, taker, labels, weight, free, existing, graph.shared, need, cap, bridges)
                if moved <= 0:
                    continue
                if joined and not _all_one_piece(labels, taken, taker, joined, giver, indptr, indices):
                    continue
                key = (moved < need, -min(moved, need), len(taken) + len(joined), h)
                if best is None or key < best[0]:
                    best = (key, taken, taker, joined, giver)
            if best is not None:
                labels[best[1]] = best[2]
                labels[best[3]] = best[4]
                progress = True
                break
        if not progress:
            break
    return labels


def _hand_over(giver, taker, labels, weight, free, existing, shared, need, cap, bridges=None):
    """Cells without existing households moved from ``giver`` to ``taker`` (with the parts they cut off): (cells, households, joined).

    ``bridges``: cells of other grids (empty, of grids without a band) that may join ``giver`` when a cell's
    leaving would cut it in two and they join the pieces again (``joined``: those cells).
    """
    indptr, indices = shared.indptr, shared.indices
    inside = labels == giver
    joined: list[int] = []
    heap = []
    seen = set()
    for c in np.flatnonzero(inside & free).tolist():
        if any(labels[j] == taker for j in indices[indptr[c] : indptr[c + 1]].tolist()):
            seen.add(c)
            heapq.heappush(heap, (-int(weight[c]), c))
    taken: list[int] = []
    moved = 0
    while heap and moved < need:
        _, c = heapq.heappop(heap)
        if not inside[c]:
            continue
        w = int(weight[c])
        if moved + w > cap or inside.sum() <= 1:
            continue
        group = [c]
        bridge: list[int] = []
        if not _stays_one_piece(c, inside, indptr, indices):
            cut = _cut_off(c, inside, shared, existing)  # the part without most existing households, then most cells
            if cut is not None:
                if not free[cut].all() or existing[cut].sum() > 0:
                    if bridges is None:
                        continue
                    # empty cells of other grids than the taker first, then of any grid without a band
                    # a cell whose leaving would cut its own grid in two (the taker with what it takes) is tried last
                    after = labels.copy()
                    after[taken + group] = taker
                    safe = bridges.copy()
                    for j in np.flatnonzero(bridges).tolist():
                        safe[j] = _stays_one_piece(j, after == after[j], indptr, indices)
                    for mask in (safe & (labels != taker), safe, bridges):
                        bridge = _bridge(c, inside, labels, mask, shared)
                        if bridge and _all_one_piece(labels, taken + group, taker, joined + bridge, giver, indptr, indices):
                            break
                    else:
                        continue
                else:
                    group += cut.tolist()
        w = int(weight[group].sum())
        if moved + w > cap or len(group) >= int(inside.sum()):
            continue
        inside[group] = False
        inside[bridge] = True
        labels = labels.copy() if bridge else labels
        labels[bridge] = giver
        joined += bridge
        taken += group
        moved += w
        for cell in group:
            for j in indices[indptr[cell] : indptr[cell + 1]].tolist():
                if inside[j] and free[j] and j not in seen:
                    seen.add(j)
                    heapq.heappush(heap, (-int(weight[j]), j))
    return taken, moved, joined


def _all_one_piece(labels, taken, taker, joined, giver, indptr, indices) -> bool:
    """Whether every grid that ``taken`` (to ``taker``) and ``joined`` (to ``giver``) change stays one piece."""
    after = labels.copy()
    after[taken] = taker
    after[joined] = giver
    owners = {int(labels[j]) for j in joined} | {taker, giver}
    return all(_connected(after == g, indptr, indices) for g in owners if (after == g).any())


def _bridge(c, inside, labels, bridges, shared) -> list[int] | None:
    """Cells of ``bridges`` that join the pieces ``inside`` falls into without ``c`` again (their own grids staying one
    piece), or None when there are none."""
    rest = inside.copy()
    rest[c] = False
    nodes = np.flatnonzero(rest)
    count, piece = connected_components(shared[nodes][:, nodes], directed=False)
    if count < 2:
        return []
    allowed = rest | bridges
    allowed[c] = False
    reach = np.flatnonzero(allowed)
    count_all, piece_all = connected_components(shared[reach][:, reach], directed=False)
    where = dict(zip(reach.tolist(), piece_all.tolist()))
    if len({where[int(n)] for n in nodes}) > 1:
        return None
    # the fewest bridge cells on shortest paths from the first piece to every other one
    indptr, indices = shared.indptr, shared.indices
    first = nodes[piece == piece[0]]
    parent = {int(n): -1 for n in first}
    queue = deque(int(n) for n in first)
    while queue:
        cur = queue.popleft()
        for j in indices[indptr[cur] : indptr[cur + 1]].tolist():
            if allowed[j] and j not in parent:
                parent[j] = cur
                queue.append(j)
    chosen: set[int] = set()
    for p in range(1, count):
        cur = int(nodes[piece == p][0])
        while cur != -1:
            if not rest[cur]:
                chosen.add(cur)
            cur = parent[cur]
    out = sorted(chosen)
    for owner in {int(labels[j]) for j in out}:
        left = (labels == owner) & ~np.isin(np.arange(len(labels)), out)
        if left.any() and not _connected(left, indptr, indices):
            return None
    return out
