"""Joint-household units (联户) inside a grid.

The grid's buildings are put in a walking order (a nearest-neighbour tour from
the north-west corner); their households form one sequence, and a dynamic
program cuts it into units whose sizes lie in the band with the fewest
buildings split between units (a 60-household block becomes 4–6 units, cut
only along its household sequence).  Sizes near the band's middle break ties.
Every total that is a sum of band sizes (for 10–15: 10–15 and every total of
20 or more) is cut exactly; other totals get as few flagged units as possible.

With a household register (:mod:`gridgeo.inputs.register`) the households of a
building are real doors in the register's walking order (staircase, floor,
door …): :func:`cut_households` cuts that sequence so that units take whole
buildings, then whole staircases, then whole floors wherever the band allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..governance.tourlists import nearest_neighbour_list

__all__ = ["Unit", "walking_order", "cut_units", "cut_households", "fits_units", "fits_units_each"]

#: up to this many points :func:`walking_order` computes all distances at once (8 MB at most)
_TABLE_POINTS = 1000
#: stretch costs of :func:`_cuts_between_buildings` computed at once (2 MB per temporary array); the cut does not depend on it
_STRETCH_BLOCK = 250_000


@dataclass(frozen=True)
class Unit:
    """One joint unit: ``members`` are (building position in walking order, first, last) household numbers (1-based)."""

    households: int
    members: tuple[tuple[int, int, int], ...]
    in_band: bool


def walking_order(xy: np.ndarray) -> np.ndarray:
    """A nearest-neighbour tour through points, starting nearest the north-west corner.

    Examples
    --------
    >>> walking_order(np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])).tolist()
    [1, 2, 0]
    """
    n = len(xy)
    if n <= 1:
        return np.arange(n)
    corner = np.array([xy[:, 0].min(), xy[:, 1].max()])
    current = int(np.lexsort((np.arange(n), np.hypot(*(xy - corner).T)))[0])
    order = np.empty(n, dtype=np.int64)
    if n <= _TABLE_POINTS:
        # every distance at once (row i: the same hypot of the same differences as the loop below), a
        # visited point's column set to infinity: one row read and one argmin per step
        table = np.hypot(xy[None, :, 0] - xy[:, None, 0], xy[None, :, 1] - xy[:, None, 1])
        if n <= _LIST_POINTS and np.isfinite(table).all():
            return np.array(nearest_neighbour_list(table.tolist(), current), dtype=np.int64)  # the same walk, ties to the lower index
        for step in range(n):
            order[step] = current
            table[:, current] = np.inf
            if step < n - 1:
                current = int(np.argmin(table[current]))
        return order
    visited = np.zeros(n, dtype=bool)
    for step in range(n):
        order[step] = current
        visited[current] = True
        if step == n - 1:
            break
        d = np.hypot(xy[:, 0] - xy[current, 0], xy[:, 1] - xy[current, 1])
        d[visited] = np.inf
        current = int(np.argmin(d))
    return order


#: up to this many points :func:`walking_order` steps on Python lists (numpy's cost per call is larger than the work)
_LIST_POINTS = 24


def cut_units(households: np.ndarray, low: int, high: int, *, positions: np.ndarray | None = None) -> list[Unit]:
    """Cut an ordered household sequence into units of ``low``–``high`` households.

    Parameters
    ----------
    households : ndarray of int
        Households per building, in walking order (zeros allowed: such buildings join no unit).
    low, high : int
        Unit size band.
    positions : ndarray of int, optional
        Per building, the number its members report instead of its place in
        ``households`` (the building's row in the caller's table, say).

    Returns
    -------
    list of Unit
        Consecutive units covering every household once.  When the total admits
        no exact cut, units outside the band are as few as possible and flagged.

    Examples
    --------
    >>> [u.households for u in cut_units(np.array([12, 60, 3]), 10, 15)]
    [12, 13, 13, 13, 12, 12]
    >>> [len(u.members) for u in cut_units(np.array([12, 13, 14]), 10, 15)]
    [1, 1, 1]
    >>> [u.households for u in cut_units(np.array([12, 48, 15]), 10, 15)]
    [12, 12, 12, 12, 12, 15]
    >>> [u.members for u in cut_units(np.array([12, 13]), 10, 15, positions=np.array([7, 3]))]
    [((7, 1, 12),), ((3, 1, 13),)]
    """
    households = np.asarray(households, dtype=np.int64)
    total = int(households.sum())
    if total == 0:
        return []
    ends = np.cumsum(households)
    if _decomposable(np.array([total]), low, high)[0]:
        cuts = _cuts_between_buildings(ends[households > 0], low, high)
    else:
        cuts = _cuts_any(total, ends, low, high)
    return _units_from_cuts(households, cuts, low, high, positions)


def cut_households(households: np.ndarray, breaks: list, low: int, high: int, *, positions: np.ndarray | None = None) -> list[Unit]:
    """Cut the households of buildings in walking order into units, splitting as few groups as possible.

    Parameters
    ----------
    households : ndarray of int
        Households per building, in walking order (zeros allowed: such buildings join no unit).
    breaks : list of ndarray
        Per building, one value per pair of consecutive households (length
        ``households[i] - 1``): how many leading order columns the pair shares
        (0: another staircase; 1: the same staircase, another floor; …; see
        :func:`gridgeo.inputs.register.match_register`).
    low, high : int
        Unit size band.
    positions : ndarray of int, optional
        Per building, the number its members report instead of its place in
        ``households``.

    Returns
    -------
    list of Unit
        Consecutive units covering every household once; ``members`` are
        (building position, first, last) household numbers in the building's
        walking order.  Among the cuts with the fewest units out of the band
        (none when the total is a sum of band sizes), the chosen one splits the
        fewest buildings, then the fewest staircases (first order column), then
        the fewest floors (second), …; sizes near the band's middle break ties.
        A household is never split.

    Examples
    --------
    Two staircases of 12 and 14 doors: each becomes one unit.

    >>> [u.households for u in cut_households(np.array([26]), [np.array([1] * 11 + [0] + [1] * 13)], 10, 15)]
    [12, 14]

    Three staircases of 8 floors × 2 doors (48 households): a staircase of 16
    is too big for one unit, so three are split, each between two floors.

    >>> floors = np.array([2, 1] * 7 + [2])
    >>> stairs = [np.concatenate([floors, [0], floors, [0], floors])]
    >>> units = cut_households(np.array([48]), stairs, 10, 15)
    >>> [u.households for u in units], [u.members for u in units][1]
    ([12, 12, 12, 12], ((0, 13, 24),))
    """
    households = np.asarray(households, dtype=np.int64)
    total = int(households.sum())
    if total == 0:
        return []
    levels = 1 + max((int(np.max(b)) for b in breaks if len(b)), default=0)
    # cost of a unit boundary after household p (p = 1 … total-1): one count per group it splits
    split = np.zeros((total + 1, levels), dtype=np.float64)
    offset = 0
    for n, shared in zip(households, breaks):
        n = int(n)
        if n > 1:
            shared = np.asarray(shared, dtype=np.int64)
            if len(shared) != n - 1:
                raise ValueError(f"a building of {n} households needs {n - 1} breaks, got {len(shared)}")
            split[offset + 1 : offset + n, :] = np.arange(levels)[None, :] <= shared[:, None]
        offset += n
    middle = (low + high) / 2.0
    sizes = np.arange(1, max(high, 2 * low - 1) + 1)
    out_of_band = ((sizes < low) | (sizes > high)).astype(np.float64)
    spread = ((sizes - middle) / (high - low + 1)) ** 2
    base = float(total + 1)  # every count (units out of band, groups split) of a cut is at most ``total``
    if base ** (levels + 1) < 2.0**53:
        choice = _cut_by_key(split, sizes, out_of_band, spread, base, total)
    else:
        choice = _cut_by_lexsort(split, sizes, out_of_band, spread, levels, total)
    cuts = []
    p = total
    while p > 0:
        cuts.append(p)
        p -= choice[p]
    return _units_from_cuts(households, [0] + cuts[::-1], low, high, positions)


def _cut_by_key(split, sizes, out_of_band, spread, base: float, total: int) -> np.ndarray:
    """The DP of :func:`cut_households` with its integer costs packed into one exact float (base ``base``)."""
    weights = base ** np.arange(split.shape[1], -1, -1)
    oob_key = out_of_band * weights[0]
    split_key = split @ weights[1:]
    key = np.full(total + 1, np.inf)
    key[0] = 0.0
    spent = np.zeros(total + 1)
    choice = np.zeros(total + 1, dtype=np.int64)
    for p in range(1, total + 1):
        n = min(p, len(sizes))
        prev = p - sizes[:n]
        k = key[prev] + oob_key[:n] + split_key[p]
        s = spent[prev] + spread[:n]
        least = k.min()
        j = int(np.argmin(np.where(k == least, s, np.inf)))
        key[p], spent[p], choice[p] = least, s[j], sizes[j]
    return choice


def _cut_by_lexsort(split, sizes, out_of_band, spread, levels: int, total: int) -> np.ndarray:
    """The DP of :func:`cut_households` comparing cost vectors lexicographically (any size)."""
    best = np.full((total + 1, levels + 2), np.inf)
    best[0] = 0.0
    choice = np.zeros(total + 1, dtype=np.int64)
    for p in range(1, total + 1):
        usable = sizes <= p
        size = sizes[usable]
        cost = best[p - size].copy()
        cost[:, 0] += out_of_band[usable]
        cost[:, 1 : levels + 1] += split[p]
        cost[:, levels + 1] += spread[usable]
        j = int(np.lexsort(cost.T[::-1])[0])
        best[p] = cost[j]
        choice[p] = size[j]
    return choice


def _units_from_cuts(households: np.ndarray, cuts: list[int], low: int, high: int, positions: np.ndarray | None = None) -> list[Unit]:
    """Units between consecutive cut positions of the household sequence (members numbered by ``positions`` when given)."""
    ends = np.cumsum(households)
    starts = np.concatenate([[0], ends[:-1]])
    cut = np.asarray(cuts, dtype=np.int64)
    a, b = cut[:-1], cut[1:]
    # the buildings a unit [a, b) meets are consecutive: those ending after a and starting before b
    lo = np.searchsorted(ends, a, side="right")
    hi = np.searchsorted(starts, b, side="left")
    count = np.maximum(hi - lo, 0)
    # every (unit, building) pair at once, in unit order, then building order; empty buildings join no unit
    unit_of = np.repeat(np.arange(len(a)), count)
    building = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count) + np.repeat(lo, count)
    filled = households[building] > 0
    unit_of, building = unit_of[filled], building[filled]
    first = np.maximum(a[unit_of], starts[building]) - starts[building] + 1
    last = np.minimum(b[unit_of], ends[building]) - starts[building]
    number = building if positions is None else np.asarray(positions, dtype=np.int64)[building]
    members = list(zip(number.tolist(), first.tolist(), last.tolist()))
    bounds = np.searchsorted(unit_of, np.arange(len(a) + 1)).tolist()
    return [
        Unit(size, tuple(members[bounds[u] : bounds[u + 1]]), bool(low <= size <= high))
        for u, size in enumerate((b - a).tolist())
    ]


def fits_units(households: float, low: int, high: int) -> bool:
    """Whether a grid of ``households`` can be cut into units of ``low``–``high`` exactly.

    Examples
    --------
    >>> [h for h in range(9, 31) if not fits_units(h, 10, 15)]
    [9, 16, 17, 18, 19]
    """
    return bool(_decomposable(np.array([int(round(households))]), low, high)[0])


def fits_units_each(households: np.ndarray, low: int, high: int) -> np.ndarray:
    """:func:`fits_units` of every value at once (False where a value is missing or not finite).

    Examples
    --------
    >>> fits_units_each(np.array([9.0, 20.0, np.nan, 16.0]), 10, 15).tolist()
    [False, True, False, False]
    """
    values = np.asarray(households, dtype=float)
    finite = np.isfinite(values)
    rounded = np.zeros(len(values), dtype=np.int64)
    rounded[finite] = np.round(values[finite])  # half to even, as Python's round
    return finite & _decomposable(rounded, low, high)


def _decomposable(lengths: np.ndarray, low: int, high: int) -> np.ndarray:
    """Whether each length is a sum of sizes in [low, high] (some m with m·low ≤ L ≤ m·high)."""
    lengths = np.asarray(lengths)
    m = -(-lengths // high)
    return (lengths > 0) & (m * low <= lengths)


def _cuts_between_buildings(ends: np.ndarray, low: int, high: int) -> list[int]:
    """Exact fewest-splits cut when the total is decomposable.

    A dynamic program over building boundaries: a stretch of L households
    between two chosen boundaries becomes m = ceil(L / high) units of near-equal
    size (all in the band when L is decomposable), costing m − 1 cuts inside
    buildings; cuts that would fall on a building boundary are found as
    shorter stretches.  Ties go to stretches whose units are nearest the band's middle.
    """
    bounds = np.concatenate([[0], ends]).astype(np.int64)
    n = len(bounds)
    best = np.full(n, np.inf)
    best[0] = 0.0
    back = np.zeros(n, dtype=np.int64)
    middle = (low + high) / 2.0
    rows = max(1, _STRETCH_BLOCK // n)  # the stretch costs of this many end boundaries at once
    for j0 in range(1, n, rows):
        # cost of the stretch bounds[i]..bounds[j] for every i < j: (m - 1) cuts inside buildings, ties by spread
        lengths = bounds[j0 : j0 + rows, None] - bounds[None, :]
        ok = _decomposable(lengths, low, high)
        m = -(-lengths // high)
        spread = np.abs(lengths / np.maximum(m, 1) - middle) / (high - low + 1)
        stretch = np.where(ok, (m - 1) + 0.001 * spread, np.inf)
        if n <= _LIST_DP:
            _best_stretches(best, back, stretch.tolist(), j0)
            continue
        for j in range(j0, min(j0 + rows, n)):
            cost = best[:j] + stretch[j - j0, :j]
            i = int(np.argmin(cost))
            best[j] = cost[i]
            back[j] = i
    cuts = []
    j = n - 1
    starts = bounds.tolist()
    while j > 0:
        i = int(back[j])
        length = starts[j] - starts[i]
        # m near-equal sizes, the larger ones first
        m = -(-length // high)
        size, larger = divmod(length, m)
        position = starts[j]
        for k in range(m - 1, -1, -1):
            cuts.append(position)
            position -= size + (k < larger)
        j = i
    return [0] + cuts[::-1]


#: up to this many building boundaries :func:`_cuts_between_buildings` runs its program on lists
_LIST_DP = 64


def _best_stretches(best: np.ndarray, back: np.ndarray, stretch: list, j0: int) -> None:
    """The program's steps ``j0 …`` on Python lists (cheaper than numpy calls on a few buildings).

    The same sums and the same choice as ``argmin(best[:j] + stretch[j - j0, :j])``:
    the first of the cheapest.
    """
    so_far = best.tolist()
    for row_number, row in enumerate(stretch):
        j = j0 + row_number
        least, at = np.inf, 0
        for i in range(j):
            cost = so_far[i] + row[i]
            if cost < least:
                least, at = cost, i
        so_far[j] = least
        best[j] = least
        back[j] = at


def _cuts_any(total: int, ends: np.ndarray, low: int, high: int) -> list[int]:
    """When no exact cut exists: as few units out of band as possible (household-level DP)."""
    on_boundary = np.zeros(total + 1, dtype=bool)
    on_boundary[0] = True
    on_boundary[ends] = True
    middle = (low + high) / 2.0
    sizes = np.arange(1, max(high, 2 * low - 1) + 1)
    out_of_band = (sizes < low) | (sizes > high)
    size_cost = out_of_band * 1000.0 + ((sizes - middle) / (high - low + 1)) ** 2 * 0.01
    best = np.full(total + 1, np.inf)
    best[0] = 0.0
    choice = np.zeros(total + 1, dtype=np.int64)
    for p in range(1, total + 1):
        usable = sizes <= p
        prev = p - sizes[usable]
        cost = best[prev] + size_cost[usable] + (0.0 if on_boundary[p] else 1.0)
        j = int(np.argmin(cost))
        best[p] = cost[j]
        choice[p] = sizes[usable][j]
    cuts = []
    p = total
    while p > 0:
        cuts.append(p)
        p -= choice[p]
    return [0] + cuts[::-1]
