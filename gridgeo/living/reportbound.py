"""The lower bound an update reports (``households_moved_lower_bound``), checked against the update's own result.

A lower bound is a claim about every repair of a kind; it is only worth
reporting next to what the update moved when the update's repair is of that
kind.  :func:`reported_lower_bound` works per community, on the grids as every
building was placed (each in the previous grid holding it), and picks the
sharpest of three programs of :func:`gridgeo.living.movebound.cheapest_moves`
whose assumptions the update's result meets:

1. **Border transfers with their cost in cells** — the border program with the
   floors of :func:`gridgeo.living.bordercost.transfer_floors` on the borders
   out of the grids the placement left out of the band and their neighbours,
   and new grids in one piece (their parts in each grid carry that grid's
   floor towards the borders of the grids they are made of, when the result's
   new grids meet them: :func:`_fresh_floors_met`);
2. **Border transfers** — the same without the floors;
3. **Any transfers** — every pair of grids of the community counts as
   bordering (without integer variables above :data:`_ANYWHERE_PAIRS` pairs;
   below it, added buildings leave their grid whole, as in the others).

Each program is a relaxation of a set of results: a result is in it when every
grid it keeps (a previous code) ends in the band (or has no band there: it
holds a building above the maximum, or the previous plan flagged it), every
new grid ends in the band, a grid keeps the households of its building above
the maximum, no building enters or leaves a dedicated or locked grid, and —
for the border programs — every building that changes grid goes to a grid
bordering its own, through grids the result retires, or to a new grid whose
buildings all come from one grid and the grids bordering it; for the first,
also the households that were there before crossing each border out of a grid
that is kept are at least the border's floor of all that crosses it.  For
such a result the program's variables can be set to what the result did
(households crossing each border, grids retired, new grids), so its optimum is
at most the households the result moved.  A community whose total admits no
grid count is bounded over the counts next to the gap
(:func:`_infeasible_total_bound`) when its result is a layout the update
excuses.  A community whose result is in none of them (a grid stays out of
the band otherwise: the update partitioned it afresh and the search failed)
adds nothing.

When the result ends with as many grids (taking part) as the community had,
every program also fixes that count (:func:`_count_kept`): the bound is then
over repairs that keep the grid count; a result with another count is bounded
over every count.

Every program (but the third, which has no cells) also
knows that an added building whose cell holds its grid together cuts the
households of the other pieces off when it leaves
(:mod:`gridgeo.living.cutcost`), in the grids where the result keeps the
buildings that stay connected among the grid's own cells (:func:`_cuts_met`).

Unless turned off (``update(..., kept_cell_bound=False)``), a community whose repair
moves whole kept cells — every grid cut into its own cells, every cell kept
whole in one grid (:func:`gridgeo.living.keptoptimum.kept_cells_bound`) — is
also bounded by the cheapest such repair (one keeping the grid count, when the
result keeps it; when it adds grids, the smaller of the cheapest with as many
grids or fewer and, with more, the larger of the cheapest such and the new
grid's floor, :func:`gridgeo.living.keptoptimum.new_grid_floor`), solved as an integer program within
fixed limits (its optimum, or the bound proven when the limits stop it), where
the programs' bound is still below what the community moved (:func:`_may_rise`).
Its households are counted from where the update placed each building; the
households of buildings placed away from their previous grid are taken off,
since the result may count them differently.  The community's bound is the
larger of that figure and its program's.

Beside the programs, a building above the maximum that the result leaves alone
in its grid parted from the other buildings of its previous grid, so the
result moved at least the smaller side (:func:`_isolated_bound`); a community's
bound is the larger of that count and its program's optimum.

A new grid made only of added buildings placed in one grid, one of them above
the maximum (an added building given a grid of its own,
:mod:`gridgeo.living.carve`), is counted in the grid they were placed in
(:func:`_folded`): it moves nobody, and that grid has no band.

Households are counted as :attr:`Partition.changes` counts ``households_moved``:
buildings present in both versions whose grid code changed.  A building whose
new geometry placed it in another grid than its previous one is free in the
programs (it is counted moved unless the repair takes it back).
"""

from __future__ import annotations

import logging
from collections import deque

import numpy as np

from ..arrays import positions_by_value
from ..parallel import map_completed
from ..partition.count import feasible_counts
from .bordercost import transfer_floors
from .cutcost import cut_costs, grid_cells, stays_connected
from .keptoptimum import kept_cells_bound
from .movebound import cheapest_moves
from .state import _borders, largest_cell

logger = logging.getLogger(__name__)

__all__ = ["reported_lower_bound"]

#: the programs, sharpest first (see the module docstring), and the count of buildings given a grid of their own
FLOORS, BORDERS, ANYWHERE, NONE = "border floors", "borders", "anywhere", "none"
ISOLATED = "own grids"
KEPT = "kept cells"
#: above this many pairs of grids, the program in which every pair borders is solved without integer variables
_ANYWHERE_PAIRS = 300


def reported_lower_bound(codes, communities, geoms, home, previous, households, is_new, building_geoms, band, fixed_codes, flagged_codes, final, *, kept=None, workers: int = 1, outline=None) -> tuple[int, dict[str, str]]:
    """The lower bound on households moved, summed over communities, and the program used for each community.

    Parameters
    ----------
    codes, communities, geoms : arrays
        The previous grids: code, community code and polygon (metric CRS).
    home : array of str
        Per building (new layer), the previous grid it was placed in.
    previous : array of str
        Per building, its grid in the previous plan ('' for an added building).
    households, is_new, building_geoms : arrays
        Per building: households, added since the previous plan, footprint (metric).
    band : (int, int)
        The household band.
    fixed_codes, flagged_codes : set of str
        Dedicated, locked and edited grids (they take no part); grids the
        previous plan flagged (no band).
    final : dict
        Code → the update's final grid (``members``: building positions).
    kept : dict, optional
        Community code → the arguments of
        :func:`gridgeo.living.keptoptimum.kept_cells_bound` (the grids before
        and after its repair, the codes changed, its context): the fewest
        existing households a repair in whole kept cells moves, counted from
        where each building was placed, also bounds that community when its
        repair is one.  Solved only where the programs' bound is below what the
        community's result moved.
    workers : int
        Processes bounding communities in parallel (forked from this one); the
        result does not depend on the count.
    outline : array, optional
        Per building, its outline group
        (:func:`gridgeo.arrays.outline_groups`: buildings drawn with one
        outline share one cell): a grid whose largest cell is above the
        maximum has no band.

    Returns
    -------
    (int, dict)
        The bound, and per community code the program whose optimum it adds.
    """
    codes = np.asarray(codes).astype(str)
    communities = np.asarray(communities).astype(str)
    home = np.asarray(home).astype(str)
    is_new = np.asarray(is_new, dtype=bool)
    free_move = is_new | (np.asarray(previous).astype(str) != home)
    final = _folded(final, codes, home, households, is_new, band)
    final_code = np.full(len(home), "", dtype=object)
    for code, grid in final.items():
        if grid.members:
            final_code[sorted(grid.members)] = code
    final_code = final_code.astype(str)
    fixed = np.isin(codes, sorted(fixed_codes))
    flagged = np.isin(codes, sorted(flagged_codes))
    # the buildings placed in each previous grid, and each community's final grids, gathered once
    placed = positions_by_value(home)
    empty = np.zeros(0, dtype=np.int64)
    finals_of: dict[str, dict] = {}
    for c, g in final.items():
        finals_of.setdefault(c.rsplit("-", 1)[0], {})[c] = np.array(sorted(g.members), dtype=np.int64)
    names = sorted(set(communities.tolist()))
    jobs = []
    for ccode in names:
        rows = np.flatnonzero(communities == ccode)
        members = [placed.get(code, empty) for code in codes[rows].tolist()]
        jobs.append((ccode, rows, members, finals_of.get(ccode, {}), (kept or {}).get(ccode)))
    # (forked workers inherit the tasks: nothing large is pickled on the way in, gridgeo.parallel)
    shared = (codes, geoms, final_code, households, free_move, is_new, building_geoms, band, fixed, flagged, outline)
    weights = [sum(len(m) for m in job[2]) for job in jobs]
    found = dict(map_completed(_community_task, [(job, shared) for job in jobs], workers=workers, weights=weights, desc="bounds"))
    total, used = 0, {}
    for position, ccode in enumerate(names):
        value, program = found[position]
        total += value
        used[ccode] = program
    logger.debug("lower bound on households moved: %d (programs per community: %s)", total, used)
    return int(total), used


def _community_task(task: tuple) -> tuple[int, str]:
    """The bound of one community (its part of the job, and what every community shares) and the program (or count)
    it comes from."""
    (ccode, rows, members, finals, kept), shared = task
    codes, geoms, final_code, households, free_move, is_new, building_geoms, band, fixed, flagged, outline = shared
    value, program = _community_bound(codes[rows], geoms[rows], members, finals, final_code, households, free_move, building_geoms, band, fixed[rows], flagged[rows], outline)
    isolated = _isolated_bound(members, finals, final_code, households, free_move, band, fixed[rows])
    if isolated > value:
        value, program = isolated, ISOLATED
    # counted from the placement: a building placed away from its previous grid may count there and not here
    away = sum(int(households[m][free_move[m] & ~is_new[m]].sum()) for m, f in zip(members, fixed[rows]) if not f)
    # what the result moved here at most (a building placed away counted whatever became of it): at that, the
    # bound cannot rise, and the kept-cell program is not solved
    moved = away + sum(int(households[m][~free_move[m] & (final_code[m] != code)].sum()) for m, code in zip(members, codes[rows].tolist()))
    if kept is not None and _may_rise(value, moved):
        found = kept_cells_bound(*kept)
        if found is not None and found - away > value:
            value, program = found - away, KEPT
    return int(value), program


def _may_rise(value: int, moved: int) -> bool:
    """Whether a community's bound ``value`` may still rise: it is below what the community moved (at most
    ``moved``), which no bound exceeds."""
    return value < moved


def _isolated_bound(members, finals, final_code, households, free_move, band, fixed) -> int:
    """Households the result must move because it gives buildings above the maximum a grid of their own.

    A building ``b`` above the band's maximum that was in its previous grid
    ``g`` with other buildings, and that the result leaves alone in its grid
    (:mod:`gridgeo.living.carve`), parts from them: either its grid keeps the
    code ``g`` and every other building of ``g`` holding households moves, or
    it takes another code and ``b`` moves.  So the result moves at least the
    smaller of ``b``'s households and the others' (buildings counted as in the
    programs: an added building, or one placed in another grid than its
    previous one, is free).  Counted for previous grids with exactly one such
    building, and summed over them (their buildings are different); a
    community's bound is the larger of this and its program's optimum.

    Examples
    --------
    >>> import numpy as np
    >>> hh, free = np.array([600, 40, 60, 10]), np.zeros(4, dtype=bool)
    >>> members = [np.array([0, 1, 2]), np.array([3])]
    >>> finals = {"001-01": np.array([0]), "001-02": np.array([1, 2, 3])}
    >>> codes = np.array(["001-01", "001-02", "001-02", "001-02"])
    >>> _isolated_bound(members, finals, codes, hh, free, (300, 500), np.zeros(2, dtype=bool))  # 40 + 60 left it
    100
    """
    high = band[1]
    total = 0
    for grid, m in enumerate(members):
        if fixed[grid] or not len(m):
            continue
        alone = [b for b in m[(households[m] > high) & ~free_move[m]] if final_code[b] and len(finals.get(final_code[b], ())) == 1]
        if len(alone) != 1:
            continue
        b = alone[0]
        others = int(np.where(free_move[m], 0, households[m]).sum()) - int(households[b])
        total += min(int(households[b]), others)
    return total


def _folded(final: dict, codes, home, households, is_new, band) -> dict:
    """``final`` with each new grid made only of added buildings placed in one grid that is still there, one of them
    above the band's maximum (:mod:`gridgeo.living.carve`), given back to that grid (code → buildings).

    The programs have no new grid above the band, but such a grid moves nobody: with its buildings back in the
    grid they were placed in, that grid holds a building above the maximum and has no band, and the households
    moved are the same, so a program that bounds the layout folded so bounds the update's.
    """
    previous = set(np.asarray(codes).astype(str).tolist())
    members = {code: set(grid.members) for code, grid in final.items()}
    for code in sorted(members):
        group = sorted(members[code])
        if code in previous or not group or not is_new[group].all() or int(households[group].max()) <= band[1]:
            continue
        homes = set(home[group].tolist())
        target = homes.pop() if len(homes) == 1 else None
        if target in members and target != code:
            members[target] |= members.pop(code)
    return {code: _Members(group) for code, group in members.items()}


class _Members:
    """A grid of :func:`_folded`: its buildings only."""

    def __init__(self, members: set[int]):
        self.members = members


def _community_bound(codes, geoms, members, finals, final_code, households, free_move, building_geoms, band, fixed, flagged, outline=None) -> tuple[int, str]:
    low, high = band
    k = len(codes)
    old_hh = np.where(free_move, 0, households)
    largest = np.array([largest_cell(households, outline, m) for m in members], dtype=np.int64)  # (its largest cell)
    largest_old = np.array([int(old_hh[m].max()) if len(m) else 0 for m in members], dtype=np.int64)
    free = (largest > high) | flagged
    held = np.where(largest_old > high, largest_old, 0)
    old = np.array([int(old_hh[m].sum()) for m in members], dtype=np.int64)
    new = np.array([int(households[m][free_move[m]].sum()) for m in members], dtype=np.int64)
    constrained = ~free & ~fixed
    totals = old + new
    borders = [(a, b) for a, b, _ in _borders(geoms) if not fixed[a] and not fixed[b]] if k > 1 else []
    everything = int(totals.sum())
    if k and not fixed.any() and not (largest > high).any() and everything and not len(feasible_counts(everything, low, high)):
        return _infeasible_total_bound(codes, geoms, members, finals, final_code, households, free_move, building_geoms, band, borders)
    if not any(constrained[i] and not (low <= totals[i] <= high) for i in range(k)):
        return 0, FLOORS  # every grid in band (or without one) once placed: nothing must move
    program, direct = _program_met(codes, members, finals, final_code, households, old_hh, band, fixed, free, held, borders)
    if program == NONE:
        return 0, NONE
    return _solved(codes, geoms, members, finals, final_code, households, free_move, building_geoms, band, fixed, free, held, borders, program, direct, count=_count_kept(codes, finals, fixed))


def _count_kept(codes, finals, fixed) -> int | None:
    """The community's grid count (of grids taking part) when the result ends with as many as it had, else None.

    Given to the programs, it limits them to repairs that keep the count, the kind such a result is; a result with
    another count (the repair created or retired a grid) is bounded over every count.

    Examples
    --------
    >>> import numpy as np
    >>> codes, fixed = np.array(["001-01", "001-02", "001-03"]), np.array([False, False, True])
    >>> _count_kept(codes, {"001-01": np.array([0, 1]), "001-04": np.array([2]), "001-03": np.array([3])}, fixed)
    2
    >>> _count_kept(codes, {"001-01": np.array([0, 1, 2]), "001-03": np.array([3])}, fixed) is None
    True
    """
    row = {c: i for i, c in enumerate(codes.tolist())}
    ending = sum(1 for c, m in finals.items() if len(m) and not (c in row and fixed[row[c]]))
    return ending if ending == int((~fixed).sum()) else None


def _infeasible_total_bound(codes, geoms, members, finals, final_code, households, free_move, building_geoms, band, borders) -> tuple[int, str]:
    """The bound of a community whose total ``T`` admits no grid count in the band (no grid taking no part, none above the maximum).

    Every layout leaves a grid out of the band, and the update excuses that
    (``infeasible_total``) only for a count next to the gap: ``T // high``
    grids, each at least the minimum (those out of band above the maximum),
    or ``ceil(T / low)`` grids, each at most the maximum (those out of band
    below the minimum), none empty.  A result of that kind is a feasible point
    of the program for its count, with the band opened on the forced side and
    the grid count fixed; the bound is the least optimum over the two counts
    (a repair may take either).  A result of another kind claims nothing.
    """
    low, high = band
    k = len(codes)
    total = int(sum(int(households[m].sum()) for m in members))
    counts = sorted({total // high, -(-total // low)} - {0})

    def opened(count):
        return (low, total) if total > count * high else (1, high)  # above the maximum when the grids are too few

    used = {c: m for c, m in finals.items() if len(m)}
    if len(used) != len(finals) or len(used) not in counts:
        return 0, NONE
    none = np.zeros(k, dtype=bool)
    old_hh = np.where(free_move, 0, households)
    program, direct = _program_met(codes, members, used, final_code, households, old_hh, opened(len(used)), none, none, np.zeros(k, dtype=np.int64), borders)
    if program == NONE:
        return 0, NONE
    values = [
        _solved(codes, geoms, members, used, final_code, households, free_move, building_geoms, opened(c), none, none, np.zeros(k, dtype=np.int64), borders, program, direct, count=c)[0]
        for c in counts
    ]
    return min(values), program


def _solved(codes, geoms, members, finals, final_code, households, free_move, building_geoms, band, fixed, free, held, borders, program, direct, count=None) -> tuple[int, str]:
    """The optimum of ``program`` (sharpened where the result meets the floors and cuts) for one community."""
    low, high = band
    k = len(codes)
    old_hh = np.where(free_move, 0, households)
    smallest = np.array([int(households[m][households[m] > 0].min()) if (households[m] > 0).any() else 1 for m in members], dtype=np.int64)
    old = np.array([int(old_hh[m].sum()) for m in members], dtype=np.int64)
    new = np.array([int(households[m][free_move[m]].sum()) for m in members], dtype=np.int64)
    constrained = ~free & ~fixed
    totals = old + new
    common = dict(band=band, free=free, fixed=fixed, held=held, smallest=smallest, count=count)
    new_buildings = [households[m][free_move[m]] for m in members]
    if program == ANYWHERE:
        everywhere = [(a, b) for a in range(k) for b in range(a + 1, k) if not fixed[a] and not fixed[b]]
        relaxed = len(everywhere) > _ANYWHERE_PAIRS
        whole = None if relaxed else new_buildings  # (the added buildings' variables grow with every pair)
        return cheapest_moves(old, new, everywhere, relaxed=relaxed, new_buildings=whole, **common).bound, ANYWHERE
    floors = fresh = None
    cells: dict = {}  # each grid tessellated once, for the floors and the cuts
    out = {i for i in range(k) if constrained[i] and not (low <= totals[i] <= high)}
    givers = out | {b for a, b in borders if a in out} | {a for a, b in borders if b in out}
    if program == FLOORS:
        near = [{i} for i in range(k)]
        for a, b in borders:
            near[a].add(b)
            near[b].add(a)
        # a joint new grid beside i: its part in a reaches a border of a with i or a grid bordering i
        towards = {(a, -1 - i): near[i] - {a} for i in range(k) if not fixed[i] for a in near[i] if a in givers}
        found = transfer_floors(geoms, members, building_geoms, households, free_move, borders, givers=givers, exact=givers, towards=towards, cells=cells)
        floors = {key: f for key, f in found.items() if key[1] >= 0}
        fresh = {(a, -1 - key): f for (a, key), f in found.items() if key < 0}
        if not direct or not _floors_met(codes, members, final_code, households, old_hh, free_move, floors, constrained):
            program, floors, fresh = BORDERS, None, None
        elif not _fresh_floors_met(codes, members, finals, final_code, households, old_hh, free_move, fresh, constrained, near):
            fresh = None  # the border floors hold, the new grids' do not: new grids as the border program has them
    cuts = _cuts_met(codes, geoms, members, final_code, households, free_move, building_geoms, givers, cells)
    return cheapest_moves(old, new, borders, new_buildings=new_buildings, floors=floors, fresh_floors=fresh, cuts=cuts, **common).bound, program


def _program_met(codes, members, finals, final_code, households, old_hh, band, fixed, free, held, borders) -> tuple[str, bool]:
    """The sharpest program (before the floors are checked) that the update's result of one community is in,
    and whether every building that changed grid went straight across one border (or to a new grid beside its own)."""
    low, high = band
    k = len(codes)
    row = {c: i for i, c in enumerate(codes)}
    for code, m in finals.items():
        i = row.get(code)
        if i is not None and fixed[i]:
            if not np.array_equal(np.sort(members[i]), m):
                return NONE, False
            continue
        if (i is None or not free[i]) and not (low <= int(households[m].sum()) <= high):
            return NONE, False
    for i in range(k):
        if fixed[i] and codes[i] not in finals and len(members[i]):
            return NONE, False
        kept = int(old_hh[members[i]][final_code[members[i]] == codes[i]].sum()) if len(members[i]) else 0
        if kept < held[i]:
            return NONE, False
    # borders: a moved building crosses to a bordering grid, through grids the result retires (and that had a band)
    retired = np.array([codes[i] not in finals for i in range(k)]) & ~free & ~fixed
    near = [set() for _ in range(k)]
    for a, b in borders:
        near[a].add(b)
        near[b].add(a)
    reach = [_reachable(i, near, retired) for i in range(k)]
    home_row = {}
    for i, m in enumerate(members):
        for b in m.tolist():
            home_row[b] = i
    direct = True
    for code, m in finals.items():
        i = row.get(code)
        homes = sorted({home_row[b] for b in m.tolist() if b in home_row} - ({i} if i is not None else set()))
        if any(fixed[h] for h in homes):
            return NONE, False
        if i is not None:
            if any(i not in reach[h] for h in homes):
                return ANYWHERE, False
            direct = direct and all(i in near[h] for h in homes)
        elif homes:
            beside = [j for j in range(k) if not fixed[j] and all(reach[h] & (near[j] | {j}) for h in homes)]
            if not beside:
                return ANYWHERE, False
            direct = direct and any(all(h in near[j] | {j} for h in homes) for j in beside)
    return FLOORS, direct


def _reachable(start: int, near: list[set[int]], retired: np.ndarray) -> set[int]:
    """Grids a building of ``start`` can reach across borders, passing only through retired grids."""
    seen = {start}
    queue = deque([start])
    while queue:
        c = queue.popleft()
        if c != start and not retired[c]:
            continue
        for j in near[c]:
            if j not in seen:
                seen.add(j)
                queue.append(j)
    return seen


def _floors_met(codes, members, final_code, households, old_hh, free_move, floors, constrained) -> bool:
    """Whether the old households that crossed each floored border of the result are at least that border's floor.

    Every building that changed grid went straight across one border (checked
    before); a grid the result retires (and that had a band) has no floor.
    """
    row = {c: i for i, c in enumerate(codes)}
    present = set(final_code.tolist())
    for a, m in enumerate(members):
        added_at = np.cumsum(free_move[m]) - 1  # position of each added building among the grid's added ones
        went = final_code[m]
        if not len(m) or (constrained[a] and codes[a] not in present):
            continue
        for target in sorted(set(went.tolist()) - {codes[a]}):
            b = row.get(target)
            floor = floors.get((a, b)) if b is not None else None
            if floor is None:
                continue  # to a new grid, or across a border without a floor
            crossing = went == target
            moved = m[crossing]
            added = added_at[crossing & free_move[m] & (households[m] > 0)]  # the program has a variable for those with households
            if float(old_hh[moved].sum()) < floor.at(float(households[moved].sum()), added) - 1e-6:
                return False
    return True


def _fresh_floors_met(codes, members, finals, final_code, households, old_hh, free_move, fresh, constrained, near) -> bool:
    """Whether every new grid of the result that holds buildings of two grids or more is a joint grid of the program.

    That is: for some grid ``i`` whose neighbourhood (``near[i]``, itself
    included) holds every grid ``a`` the new grid took buildings from, and for
    each such ``a`` (unless the result retires it), the households that were
    there before among them are at least the floor ``fresh[(a, i)]``
    (:func:`gridgeo.living.bordercost.transfer_floors` with ``towards``) of
    all that it took from ``a``.  A new grid made of one grid's buildings
    alone is the program's solo grid and has no floor.  The program adds up,
    per grid, what the joint grids beside one grid take from it; two joint
    grids taking from the same grid are not checked as a sum, so such a
    result does not meet the floors.
    """
    row = {c: i for i, c in enumerate(codes)}
    present = set(final_code.tolist())
    home_of = {}
    for i, m in enumerate(members):
        for b in m.tolist():
            home_of[b] = i
    taken_from: dict[int, int] = {}
    for code, m in finals.items():
        if code in row:
            continue
        homes = sorted({home_of[b] for b in m.tolist() if b in home_of})
        if len(homes) < 2:
            continue
        for a in homes:
            taken_from[a] = taken_from.get(a, 0) + 1
            if taken_from[a] > 1:
                return False
        if not any(set(homes) <= near[i] and _joint_met(code, homes, i, members, final_code, households, old_hh, free_move, fresh, constrained, present, codes) for i in range(len(codes))):
            return False
    return True


def _joint_met(code, homes, i, members, final_code, households, old_hh, free_move, fresh, constrained, present, codes) -> bool:
    """Whether what the new grid ``code`` took from each of ``homes`` meets the floor of a joint grid beside ``i``."""
    for a in homes:
        if constrained[a] and codes[a] not in present:
            continue  # a retired grid has no floor
        floor = fresh.get((a, i))
        if floor is None:
            continue
        mine = members[a]
        added_at = np.cumsum(free_move[mine]) - 1
        crossing = final_code[mine] == code
        moved = mine[crossing]
        added = added_at[crossing & free_move[mine] & (households[mine] > 0)]
        if float(old_hh[moved].sum()) < floor.at(float(households[moved].sum()), added) - 1e-6:
            return False
    return True


def _cuts_met(codes, geoms, members, final_code, households, free_move, building_geoms, givers, cells: dict) -> list:
    """Per grid, the cut of each added building (:mod:`gridgeo.living.cutcost`), where the result meets its condition.

    Only ``givers`` (the grids out of band once every building is placed and
    their neighbours, as for the floors) are measured; the others get none
    (None: no constraint, a weaker bound).  A grid whose buildings that keep
    its code are not connected among its own cells gets none either: the
    argument needs them connected.  Aligned with the added buildings of each
    grid, in member order.  ``cells``: the grids already tessellated (grid
    position → :func:`gridgeo.living.cutcost.grid_cells`), filled with those
    tessellated here.
    """
    out = [None] * len(codes)
    for i in sorted(givers):
        m = members[i]
        if not len(m) or not free_move[m].any():
            continue
        if i not in cells:
            cells[i] = grid_cells(geoms[i], building_geoms[m], households[m], free_move[m])
        grid = cells[i]
        if grid is None:
            continue
        added = np.flatnonzero(free_move[m])
        cut = cut_costs(grid, added)
        if not (cut > 0).any():
            continue
        if not stays_connected(grid, final_code[m] == codes[i]):
            continue
        out[i] = cut
    return out
