"""The repair of an updated plan: grids that new or removed buildings push out of the band are re-drawn with their neighbours, along the cheapest flow of households, keeping every other grid as it was."""

from __future__ import annotations

import copy
import logging

import numpy as np
import shapely

from ..partition.count import feasible_counts
from ..partition.engine import community_rng, partition_community
from ..partition.notes import INFEASIBLE, GridNote, make_note
from .bordercost import transfer_floors
from .carve import carve_oversize, merge_cleared, release
from .compounds import _compound_groups
from .corridorfix import repair_through_corridors
from .keptcells import kept_sites
from .movebound import cheapest_moves
from .redraw import _existing_per_cell, _inherit, _moved, _pins_hold, _region_sites, _replace, _solve_labels
from .state import (
    _borders,
    _Context,
    _existing_moved,
    _Grid,
    _is_bad,
    _largest,
    _note_for,
    _oversize,
    _restore,
    _set_numbering,
    _weight,
    largest_cell,
)

logger = logging.getLogger(__name__)


def _cheapest_flow(members: list[np.ndarray], geoms: np.ndarray, households: np.ndarray, is_new: np.ndarray | None, band, fixed: np.ndarray, *, free: np.ndarray | None = None, bound: bool = True, closed: set[tuple[int, int]] = frozenset(), floors: dict | None = None, outline: np.ndarray | None = None):
    """:func:`gridgeo.living.movebound.cheapest_moves` of one community's grids (their buildings ``members`` and polygons).

    A grid holding a building above the band's maximum has no band and keeps
    that building, and so have the ``free`` grids.  ``bound=False`` plans the repair: grids are created out of
    one grid only, and no household crosses the ``closed`` borders (pairs of positions).  ``floors``: the cost in
    cells of crossing a border (:func:`gridgeo.living.bordercost.transfer_floors`).  ``outline``: per building, its
    outline group (:func:`gridgeo.arrays.outline_groups`): a grid whose largest cell is above the maximum has
    no band.
    """
    is_new = np.zeros(len(households), dtype=bool) if is_new is None else is_new
    old = np.array([int(households[m][~is_new[m]].sum()) for m in members], dtype=np.int64)
    new = np.array([int(households[m][is_new[m]].sum()) for m in members], dtype=np.int64)
    largest = np.array([largest_cell(households, outline, m) for m in members], dtype=np.int64)
    largest_old = np.array([int(households[m][~is_new[m]].max()) if (~is_new[m]).any() else 0 for m in members], dtype=np.int64)
    smallest = np.array([int(households[m][households[m] > 0].min()) if (households[m] > 0).any() else 1 for m in members], dtype=np.int64)
    borders = [(a, b) for a, b, _ in _borders(geoms) if (a, b) not in closed and (b, a) not in closed]
    oversize = largest > band[1]
    return cheapest_moves(
        old, new, borders, band=band, free=oversize if free is None else oversize | free, fixed=fixed, held=np.where(largest_old > band[1], largest_old, 0),
        smallest=smallest, fresh_from_neighbours=bound, new_buildings=[households[m][is_new[m]] for m in members], floors=floors,
    )


def _shared_lengths(grids: dict[str, _Grid], codes: list[str]) -> dict[tuple[str, str], float]:
    """Border length shared by every pair of adjacent grids among ``codes``."""
    out = {}
    for a, b, length in _borders(np.array([grids[c].geom for c in codes], dtype=object)):
        out[(codes[a], codes[b])] = out[(codes[b], codes[a])] = length
    return out


def _repair_community(grids: dict[str, _Grid], dirty: set[str], ctx: _Context, community_geom) -> None:
    """Bring every grid of one community back into the band, touching as few grids as possible.

    A grid is repaired when it changed and left the band, or when it holds part
    of a compound that fits in one grid but lies in several; the region always
    holds every grid of the compounds it touches.

    First, a community left without households becomes one grid
    (:func:`gridgeo.living.carve.merge_cleared`), and a grid holding a building
    that grew above the band is cut so that the building has a grid of its own
    (:func:`gridgeo.living.carve.carve_oversize`: those grids take no part in
    the rest of the repair).
    """
    if merge_cleared(grids, ctx, community_geom, dirty):
        return
    apart = carve_oversize(grids, dirty, ctx)
    try:
        _repair_grids(grids, dirty, ctx, community_geom)
    finally:
        release(grids, apart, ctx)


def _repair_grids(grids: dict[str, _Grid], dirty: set[str], ctx: _Context, community_geom) -> None:
    """The repair of :func:`_repair_community` once cleared communities and grown buildings are dealt with."""
    for code, grid in grids.items():
        if code in dirty:
            grid.note = _note_for(grid, ctx)
    attempts = 0
    while True:
        bad = {code for code, grid in grids.items() if code in dirty and _is_bad(grid, ctx)} | _split_compounds(grids, ctx)
        if not bad:
            return
        excused = _infeasible_excused(grids, ctx)
        if bad <= set(excused):
            # the total admits no grid count: the grids stay as they are, each out of band excused by the total
            for c, note in excused.items():
                grids[c].note = note
            return
        attempts += 1
        code = min(bad)
        # first the grids the cheapest flow of households links to this one, then the grids sharing its longest borders
        solved = _repair_cheapest(grids, code, ctx, dirty, community_geom)
        if not solved and not _several_out_of_band(grids, dirty, ctx):
            # (with several, _repair_cheapest has tried the grown region on these same grids already)
            solved = _repair_grown(grids, code, ctx, dirty)
        if not solved:
            # a grid walled in behind a large building: joined to a neighbour through a strip of open ground
            candidates = [c for c, g in grids.items() if not g.dedicated and not g.locked]
            shared = _shared_lengths(grids, candidates) if code in candidates and len(candidates) > 1 else {}
            neighbours = sorted((b for (a, b) in shared if a == code), key=lambda c: (-shared[(code, c)], c))
            solved = bool(neighbours) and repair_through_corridors(grids, code, ctx, dirty, neighbours)
        if not solved:
            solved = _repair_other_count(grids, code, ctx, dirty, community_geom)
        if not solved:
            # (a completion tried on a copy, gridgeo.living.repair._completed_moved, logs at debug level only)
            logger.log(logging.INFO if ctx.lookahead else logging.DEBUG, "community %s: repairing grid %s needs the whole community", ctx.community_id, code)
            _repartition_whole(grids, ctx, community_geom, dirty)
            return
        if attempts > 4 * len(grids) + 10:
            _repartition_whole(grids, ctx, community_geom, dirty)
            return


def _infeasible_excused(grids: dict[str, _Grid], ctx: _Context) -> dict[str, GridNote]:
    """The grids of a community whose total admits no grid count that are out of band only because of that total.

    The community's grids with a band (not dedicated; a community with a locked
    grid is left to the repair) hold ``T`` households, and no count ``k`` puts ``T / k`` in the band: every layout leaves
    a grid out of it, and every grid out of band has the ``infeasible_total``
    excuse a fresh partition gives.  The layout as it is qualifies when no grid
    holds a building above the maximum (a fresh partition would join such a
    remainder to it), none is empty, ``k`` is a count next to the gap (the most
    grids whose mean is above the maximum, ``T // high``, or the fewest whose
    mean is below the minimum, ``ceil(T / low)``: 552 households with 300–500 keep
    one grid or two, not three), and every grid out of band misses on the side
    the total forces for that count: above the maximum when ``k`` grids cannot
    hold ``T`` within it, else below the minimum (a community without households
    is made one grid before, :func:`gridgeo.living.carve.merge_cleared`).
    Returns code → note of each such grid; empty when the total
    admits a count or the layout does not qualify (then the grids are repaired
    as any other).
    """
    low, high = ctx.band
    plain = [c for c, g in grids.items() if not g.dedicated and not g.locked]
    weights = {c: _weight(grids[c], ctx) for c in plain}
    total, k = sum(weights.values()), len(plain)
    if not total:
        return {}
    if not plain or any(g.locked for g in grids.values()) or any(_oversize(grids[c], ctx) or not grids[c].members for c in plain):
        return {}  # (a locked grid's households count in the community's total, but cannot move: no claim is made)
    if len(feasible_counts(total, low, high)):
        return {}
    if k not in (total // high, -(-total // low)):
        return {}  # a count next to the gap only: the most grids still above the maximum, the fewest below the minimum
    above = total > k * high  # k grids are too few for the total: the grids that miss are above the band
    out = [c for c in plain if not (low <= weights[c] <= high)]
    if any((weights[c] > high) != above for c in out):
        return {}
    return {c: make_note(INFEASIBLE, "infeasible_total", total=total, k=k, low=low, high=high) for c in out}


def _several_out_of_band(grids: dict[str, _Grid], dirty: set[str], ctx: _Context) -> bool:
    """Whether more than one changed grid is out of band (not excused)."""
    return sum(1 for c, g in grids.items() if c in dirty and _is_bad(g, ctx)) > 1


def _repair_grown(grids: dict[str, _Grid], code: str, ctx: _Context, dirty: set[str]) -> bool:
    """Repair ``code`` with the neighbour sharing its longest border, growing the region by the grid sharing the
    longest border with it, a grid at a time, up to ``ctx.max_region`` grids; False when none of these can."""
    region = _with_compound_mates(grids, [code], ctx)
    solved = len(region) > 1 and _repair_region(grids, region, ctx, dirty)
    while not solved:
        candidates = [c for c, g in grids.items() if not g.dedicated and not g.locked]
        shared = _shared_lengths(grids, candidates) if len(candidates) > 1 else {}
        border: dict[str, float] = {}
        for (a, b), length in shared.items():
            if a in region and b not in region:
                border[b] = border.get(b, 0.0) + length
        if not border or len(region) >= ctx.max_region:
            break
        region = _with_compound_mates(grids, region + [max(sorted(border), key=lambda c: border[c])], ctx)
        solved = _repair_region(grids, region, ctx, dirty)
    return solved


#: most neighbours tried on their own with a grid out of band (those with the most room first)
_PAIR_TRIES = 6
#: neighbours with room tried as the first link of a chain (:func:`_repair_cheapest`)
_CHAIN_TRIES = 2
#: candidates moving fewer households (leaving more grids out of band) whose completed repair is compared
_LOOKAHEAD = 2
#: the trial of :func:`_repair_cheapest` that grows the region by the longest borders (:func:`_repair_grown`)
_GROWN = ["grown"]
#: the trial of :func:`_repair_cheapest` along the flow whose border crossings cost their cells (bordercost)
_FLOORED = ["floored"]


def _repair_cheapest(grids: dict[str, _Grid], code: str, ctx: _Context, dirty: set[str], community_geom=None) -> bool:
    """Repair ``code`` in the region that moves the fewest existing households; False when none can.

    The candidates: the region along the cheapest flow (:func:`_repair_along_flow`);
    ``code`` with each neighbour that has room for what it has too much (or
    to spare for what it lacks), up to :data:`_PAIR_TRIES` of them (an added
    building on the border with a grid that has room goes there); ``code``
    with every neighbour that has room at once, so that what it has too much
    (or lacks) may cross several borders, each its cheapest part; for a grid
    above the band holding added buildings, ``code`` with its neighbours that
    hold a building above the maximum (no band: added buildings may go there,
    :func:`gridgeo.living.addedgroup.give_added`); and, for a
    grid above the band, ``code`` alone (split in two, the new grid made of
    its added buildings when they form a connected group,
    :func:`gridgeo.living.addedgroup.split_added_group`); and, when several
    grids are out of band, the region grown by the longest borders
    (:func:`_repair_grown`).  Each runs on a copy; the first one leaving the
    fewest grids out of the band, then moving the fewest existing households
    (counted by grid code), is kept, unless one moving fewer households
    (leaving more grids out of band) moves fewer once the community's repair is
    completed from it: the :data:`_LOOKAHEAD` cheapest such candidates (distinct repairs: two regions can give
    the same one) and the
    first one are each completed on a copy (with the usual greedy choice, no
    look-ahead inside), and the candidate whose completion moves the fewest
    existing households is kept (the first one on a tie).
    """
    low, high = ctx.band
    weight = _weight(grids[code], ctx)
    trials: list[list[str] | None] = [None]
    candidates = [c for c, g in grids.items() if not g.dedicated and not g.locked]
    if code in candidates and len(candidates) > 1:
        shared = _shared_lengths(grids, candidates)
        room = {}
        for (a, b), _ in shared.items():
            if a == code and not _oversize(grids[b], ctx):
                w = _weight(grids[b], ctx)
                room[b] = high - w if weight > high else w - low
        roomy = [b for b in sorted(room, key=lambda c: (-room[c], c)) if room[b] > 0]
        trials += [[code, b] for b in roomy[:_PAIR_TRIES]]
        if len(roomy) > 1:
            # every neighbour with room at once: what is too much may go across several borders, each its cheapest part
            trials.append([code] + sorted(roomy[: ctx.max_region - 1]))
        for b in roomy[:_CHAIN_TRIES] if not _several_out_of_band(grids, dirty, ctx) else ():
            # a chain: a neighbour takes what is too much (a large added building it has not the room for) and
            # passes its own cheapest part on to its neighbours with room (only for the last grid out of band:
            # with others still to repair, its cheaper first step can leave a dearer one later)
            passed = {}
            for (x, y), _ in shared.items():
                if x == b and y != code and not _oversize(grids[y], ctx):
                    w = _weight(grids[y], ctx)
                    passed[y] = high - w if weight > high else w - low
            beyond = [c for c in sorted(passed, key=lambda c: (-passed[c], c)) if passed[c] > 0 and c not in room]
            if beyond:
                trials.append([code, b] + sorted(beyond[: ctx.max_region - 2]))
        unbanded = sorted(b for (a, b) in shared if a == code and _oversize(grids[b], ctx))
        if weight > high and unbanded and ctx.is_new is not None and any(ctx.is_new[b] for b in grids[code].members):
            # the neighbours holding a building above the maximum have no band: added buildings may go there,
            # their empty cells keeping the grid in one piece (gridgeo.living.addedgroup.give_added)
            trials.append([code] + unbanded[: ctx.max_region - 1])
    if weight > high and code in candidates:
        trials.append([code])
    if _several_out_of_band(grids, dirty, ctx):
        # the region grown by the longest borders may repair them together
        trials.append(_GROWN)
    if weight > high and ctx.is_new is not None and code in candidates and any(ctx.is_new[b] for b in grids[code].members):
        # the flow that sends added buildings across the borders they lie at (its region may hold several neighbours)
        # (both first regions are computed once here: every trial starts from the same grids)
        first = {None: _flow_region(grids, code, ctx, set())}
        floored = _flow_region(grids, code, ctx, set(), floored=True)
        if sorted(floored) != sorted(first[None]) and len(floored) > 2:
            trials.append(_FLOORED)
            first[True] = floored
    else:
        first = {}
    start = {c: _copy_grid(g) for c, g in grids.items()}
    dirty_before, retired_before, number_before = set(dirty), set(ctx.retired), ctx.next_number
    best = None
    solved_states = []
    for region in trials:
        here = {c: _copy_grid(g) for c, g in start.items()}
        here_dirty = set(dirty_before)
        _set_numbering(ctx, retired_before, number_before)
        if region is None:
            solved = _repair_along_flow(here, code, ctx, here_dirty, first=first.get(None))
        elif region is _GROWN:
            solved = _repair_grown(here, code, ctx, here_dirty)
        elif region is _FLOORED:
            solved = _repair_along_flow(here, code, ctx, here_dirty, floored=True, first=first.get(True))
        else:
            region = _with_compound_mates(here, region, ctx)
            solved = (len(region) > 1 or weight > high) and _repair_region(here, region, ctx, here_dirty)
        if solved:
            # a region that leaves fewer grids to repair first (the flow's may repair several at once), then the
            # fewest existing households moved
            left = sum(1 for c, g in here.items() if c in here_dirty and _is_bad(g, ctx))
            key = (left, _existing_moved(start, here, ctx))
            how = "along the flow" if region is None else "in the region grown by its longest borders" if region is _GROWN else "along the flow with its cells' cost" if region is _FLOORED else "with " + ", ".join(region)
            logger.debug("community %s: grid %s repaired %s: %d grids left out of band, %d existing households moved", ctx.community_id, code, how, *key)
            solved_states.append((key, here, here_dirty, set(ctx.retired), ctx.next_number))
            if best is None or key < best[0]:
                best = solved_states[-1]
            if key[1] == 0:
                break
    cheaper = _distinct(sorted((s for s in solved_states if s[0][1] < best[0][1]), key=lambda s: s[0][1]), best)[:_LOOKAHEAD] if best is not None else []
    if cheaper and ctx.lookahead and community_geom is not None:
        # a region that leaves more grids out of band but moves fewer households: compare the completed repairs
        finished = [(_completed_moved(start, state, ctx, community_geom), rank, state) for rank, state in enumerate([best] + cheaper)]
        moved, _, best = min(finished, key=lambda item: item[:2])
        logger.debug("community %s: grid %s: the completed repairs move %s existing households; %d kept", ctx.community_id, code, [item[0] for item in finished], moved)
    _restore(grids, dirty, ctx, (start, dirty_before, retired_before, number_before) if best is None else best[1:])
    return best is not None


def _distinct(states: list, best) -> list:
    """``states`` without those whose grids hold the same buildings as ``best`` or as an earlier one (two regions
    can give the same repair; completing it twice would take the place of another candidate)."""
    seen = {_layout(best[1])}
    out = []
    for state in states:
        layout = _layout(state[1])
        if layout not in seen:
            seen.add(layout)
            out.append(state)
    return out


def _layout(grids: dict[str, _Grid]) -> tuple:
    return tuple(sorted((code, tuple(sorted(grid.members))) for code, grid in grids.items()))


def _repair_other_count(grids: dict[str, _Grid], code: str, ctx: _Context, dirty: set[str], community_geom) -> bool:
    """The last try before the whole community is partitioned afresh: the cheapest repair and the grown region
    again, their regions now free to settle at another grid count (:func:`gridgeo.living.redraw._other_count`: one grid fewer where a few
    large buildings keep the count they have from settling).

    Kept only when the community's repair completed from it moves fewer existing households than the community
    partitioned afresh (both measured on copies); False otherwise, with ``grids`` as they were.
    """
    if community_geom is None:
        return False
    start = {c: _copy_grid(g) for c, g in grids.items()}
    dirty_before, retired_before, number_before = set(dirty), set(ctx.retired), ctx.next_number
    previous = ctx.other_counts
    ctx.other_counts = True
    try:
        solved = _repair_cheapest(grids, code, ctx, dirty, community_geom) or _repair_grown(grids, code, ctx, dirty)
    finally:
        ctx.other_counts = previous
    if not solved:
        return False
    retired, number = set(ctx.retired), ctx.next_number
    repaired = _completed_moved(start, (None, grids, dirty, retired, number), ctx, community_geom)  # (it works on copies)
    afresh = {c: _copy_grid(g) for c, g in start.items()}
    _set_numbering(ctx, retired_before, number_before)
    _repartition_whole(afresh, ctx, community_geom, set(dirty_before))
    whole = _existing_moved(start, afresh, ctx)
    _set_numbering(ctx, retired, number)
    logger.debug("community %s: grid %s at another grid count: %d existing households moved, afresh %d", ctx.community_id, code, repaired, whole)
    if repaired < whole:
        return True
    _restore(grids, dirty, ctx, (start, dirty_before, retired_before, number_before))
    return False


def _completed_moved(start: dict[str, _Grid], state, ctx: _Context, community_geom) -> int:
    """Existing households moved (from ``start``) once the community's repair is completed from a candidate ``state``
    (on copies, without look-ahead; ``ctx.retired`` and ``ctx.next_number`` are restored)."""
    _, here, here_dirty, retired, number = state
    grids = {c: _copy_grid(g) for c, g in here.items()}
    retired_before, number_before = set(ctx.retired), ctx.next_number
    _set_numbering(ctx, retired, number)
    ctx.lookahead = False
    try:
        _repair_community(grids, set(here_dirty), ctx, community_geom)
    finally:
        ctx.lookahead = True
        _set_numbering(ctx, retired_before, number_before)
    return _existing_moved(start, grids, ctx)


def _copy_grid(grid: _Grid) -> _Grid:
    """A copy of ``grid`` whose buildings can change without changing the original's."""
    out = copy.copy(grid)
    out.members = set(grid.members)
    return out


#: regions tried along the cheapest flow before the repair falls back to growing by the longest border
_FLOW_TRIES = 3


def _repair_along_flow(grids: dict[str, _Grid], code: str, ctx: _Context, dirty: set[str], *, floored: bool = False, first: list[str] | None = None) -> bool:
    """Repair ``code`` with the grids the cheapest flow of households (:mod:`gridgeo.living.movebound`) links to it.

    The flow is computed on the grids as they are now; when its region cannot be
    repaired (the households it would move are not at the border: a building
    walled in behind another), the borders it crossed are closed and the flow is
    computed again, up to :data:`_FLOW_TRIES` times.  ``first``: the first
    flow's region when it is known already (:func:`_flow_region` of these grids).
    """
    closed: set[tuple[str, str]] = set()
    for _ in range(_FLOW_TRIES):
        flowed = first if first is not None and not closed else _flow_region(grids, code, ctx, closed, floored=floored)
        region = _with_compound_mates(grids, flowed, ctx)
        if len(region) < 2:
            return False
        while not _repair_region(grids, region, ctx, dirty):
            # too tight to cut (whole buildings): take in the neighbour with the most room, then try again
            extra = _roomiest_neighbour(grids, region, ctx)
            if extra is None or len(region) >= ctx.max_region:
                break
            region = _with_compound_mates(grids, region + [extra], ctx)
        else:
            return True
        closed |= {(a, b) for a in region for b in region if a != b}
    return False


def _roomiest_neighbour(grids: dict[str, _Grid], region: list[str], ctx: _Context) -> str | None:
    """The grid bordering ``region`` with the most room for what the region has too much of (or too little)."""
    low, high = ctx.band
    plain = [c for c in region if not _oversize(grids[c], ctx)]
    total = sum(_weight(grids[c], ctx) for c in plain)
    crowded = bool(plain) and total > len(plain) * (low + high) / 2
    candidates = [c for c, g in grids.items() if not g.dedicated and not g.locked]
    room = {}
    for (a, b), _ in _shared_lengths(grids, candidates).items():
        if a in region and b not in region and not _oversize(grids[b], ctx):
            w = _weight(grids[b], ctx)
            room[b] = high - w if crowded else w - low
    return max(sorted(room), key=lambda c: room[c]) if room else None


def _flow_region(grids: dict[str, _Grid], code: str, ctx: _Context, closed: set[tuple[str, str]], *, floored: bool = False) -> list[str]:
    """``code`` and the grids the cheapest flow of households links to it, nearest first (at most ``ctx.max_region``).

    Only grids that are still there and may change (not dedicated, not locked)
    take part; households do not cross the ``closed`` borders.  ``floored``:
    crossing a border out of ``code`` costs the households on the way to it
    (:func:`gridgeo.living.bordercost.transfer_floors`), so the flow sends
    its added buildings across the borders they lie at.
    """
    codes = sorted(grids)
    fixed = np.array([grids[c].dedicated or grids[c].locked for c in codes], dtype=bool)
    members = [np.array(sorted(grids[c].members), dtype=np.int64) for c in codes]
    index = {c: i for i, c in enumerate(codes)}
    geoms = np.array([grids[c].geom for c in codes], dtype=object)
    floors = None
    if floored and ctx.is_new is not None:
        pairs = [(a, b) for a, b, _ in _borders(geoms) if not fixed[a] and not fixed[b]]
        floors = transfer_floors(geoms, members, ctx.geoms, ctx.households, ctx.is_new, pairs, givers={index[code]}, exact={index[code]})
    flow = _cheapest_flow(members, geoms, ctx.households, ctx.is_new, ctx.band, fixed, bound=False, closed={(index[a], index[b]) for a, b in closed}, floors=floors, outline=ctx.outline)
    # follow the flow away from the grid: where its households go when it has too many, where they come from
    # when it has too few (another grid out of band elsewhere in the flow is repaired on its own)
    sending = _weight(grids[code], ctx) > ctx.band[1]
    links: dict[str, set[str]] = {}
    for a, b in flow.pairs:
        start, end = (codes[a], codes[b]) if sending else (codes[b], codes[a])
        links.setdefault(start, set()).add(end)
    region, frontier = [code], [code]
    while frontier and len(region) < ctx.max_region:
        frontier = [n for c in frontier for n in sorted(links.get(c, ())) if n not in region]
        for n in dict.fromkeys(frontier):
            if len(region) < ctx.max_region:
                region.append(n)
    return region


def _compounds_in(grid: _Grid, ctx: _Context) -> set[int]:
    if ctx.compound_of is None or not grid.members:
        return set()
    return set(ctx.compound_of[sorted(grid.members)].tolist()) - {-1}


def _split_compounds(grids: dict[str, _Grid], ctx: _Context) -> set[str]:
    """Grids (not locked, not dedicated) holding part of a compound that fits in one grid but lies in several."""
    if ctx.compound_of is None:
        return set()
    holders: dict[int, set[str]] = {}
    for code, grid in grids.items():
        if not grid.dedicated and not grid.locked:
            for compound in _compounds_in(grid, ctx):
                holders.setdefault(compound, set()).add(code)
    return set().union(*(codes for codes in holders.values() if len(codes) > 1)) if holders else set()


def _with_compound_mates(grids: dict[str, _Grid], region: list[str], ctx: _Context) -> list[str]:
    """``region`` and every other grid holding a building of a compound (that fits) it touches."""
    region = list(region)
    if ctx.compound_of is None:
        return region
    while True:
        touched = set().union(*(_compounds_in(grids[c], ctx) for c in region))
        extra = sorted(c for c, g in grids.items() if c not in region and not g.dedicated and not g.locked and _compounds_in(g, ctx) & touched)
        if not extra:
            return region
        region += extra


def _repair_region(grids: dict[str, _Grid], region: list[str], ctx: _Context, dirty: set[str]) -> bool:
    """Repair the grids of ``region`` inside the union of their polygons; False when that is not enough.

    The region's buildings are cut into cells twice: among each other (the
    region tessellated as a whole) and, in an update, each grid among its own
    buildings (:func:`gridgeo.living.keptcells.kept_sites`: the border between two
    grids stays where it was).  Of the two repairs, the one moving fewer
    households that were there before is kept (the first on a tie).
    """
    region = sorted(region)
    best = None
    for kept in (False, True) if ctx.is_new is not None else (False,):
        if best is not None and best[0] == 0:
            break  # nobody who was there before moves: the grids' own cells cannot do better
        solved = _region_labels(grids, region, ctx, kept)
        if solved is not None and (best is None or solved[0] < best[0]):
            best = solved
    if best is None:
        return False
    _, new_members, cells = best
    _replace(grids, region, new_members, cells, ctx, dirty)
    return True


def _region_labels(grids: dict[str, _Grid], region: list[str], ctx: _Context, kept: bool):
    """The repair of ``region`` on its cells (the grids' own ones when ``kept``): (existing households moved, buildings
    per new grid, cells per new grid), or None when it fails."""
    sites = kept_sites(grids, region, ctx) if kept else _region_sites(grids, region, ctx)
    if sites is None:
        return None
    members, _, tess, graph, labels = sites
    code_label = {c: i for i, c in enumerate(region)}
    # a pinned building's site stays in its grid
    pin_of = np.full(graph.n, -1, dtype=np.int64)
    for local, b in enumerate(members.tolist()):
        code = ctx.pins.get(b)
        if code in code_label:
            site = tess.site_of_building[local]
            labels[site] = pin_of[site] = code_label[code]
    rng = community_rng(ctx.seed, f"{ctx.community_id}:update:{region[0]}")
    existing = _existing_per_cell(ctx, members, tess, graph.n)
    site_label = _solve_labels(graph, labels, ctx, rng, pin_of, existing)
    if site_label is None:
        return None
    new_members = [set(members[site_label[tess.site_of_building] == g].tolist()) for g in range(int(site_label.max()) + 1)]
    if kept and any(not _in_band_or_oversize(group, ctx) for group in new_members):
        return None  # a cell of several buildings (mended, or one footprint) above the band excuses no grid: none does
    cells = [tess.cells[site_label == g] for g in range(len(new_members))]
    moved = _moved(labels, site_label, graph.weight, existing) if ctx.is_new is not None else 0.0
    return moved, new_members, cells


def _in_band_or_oversize(group: set[int], ctx: _Context) -> bool:
    """Whether a grid of these buildings is in the band or holds a building above its maximum (it has no band)."""
    if not group:
        return False
    households = ctx.households[sorted(group)]
    return bool(ctx.band[0] <= int(households.sum()) <= ctx.band[1] or _largest(group, ctx) > ctx.band[1])


def _repartition_whole(grids: dict[str, _Grid], ctx: _Context, community_geom, dirty: set[str]) -> None:
    """Partition the community afresh (its dedicated and locked grids stay), inheriting codes by household overlap.

    Compounds that fit are one cell, larger ones' outlines are barriers, as in a
    fresh run.  When the fresh split cannot keep every pinned building in its
    pinned grid, the grids holding pinned buildings are kept as they are too and
    the rest is split afresh.
    """
    for keep_pinned in (False, True):
        holding = {c for c, g in grids.items() if keep_pinned and any(b in ctx.pins for b in g.members)}
        region = sorted(c for c, g in grids.items() if not g.dedicated and not g.locked and c not in holding)
        if not region:
            return
        members = np.array(sorted(set().union(*(grids[c].members for c in region))), dtype=np.int64)
        if not int(ctx.households[members].sum()):
            # no household left to grid (a cleared community): one grid, as a fresh partition draws it
            if not merge_cleared(grids, ctx, community_geom, dirty):
                for c in region:  # (a grid held for its pins has households: the others stay, flagged)
                    grids[c].note = make_note(INFEASIBLE, "no_households")
            return
        kept_apart = any(g.dedicated or g.locked for g in grids.values()) or bool(holding)
        shape = shapely.union_all([grids[c].geom for c in region]) if kept_apart else community_geom
        groups, outlines = _compound_groups(members, shape, ctx.compound_of, ctx.compound_geoms, ctx.compound_size)
        result = partition_community(
            shape, ctx.geoms[members], ctx.households[members], band=ctx.band,
            rng=community_rng(ctx.seed, f"{ctx.community_id}:update"), barriers=ctx.barriers,
            groups=groups, group_geoms=outlines, group_facility=None if outlines is None else np.full(len(outlines), None, dtype=object),
            unit_band=ctx.unit_band,
        )
        k = len(result.grid_geoms)
        new_members = [set(members[result.building_grid == g].tolist()) for g in range(k)]
        label = np.full(len(members), -1, dtype=np.int64)
        pin_of = np.full(len(members), -1, dtype=np.int64)
        for g, group in enumerate(new_members):
            label[np.searchsorted(members, sorted(group))] = g
        for local, b in enumerate(members.tolist()):
            if b in ctx.pins:
                pin_of[local] = region.index(ctx.pins[b]) if ctx.pins[b] in region else -1
        if not keep_pinned and not _pins_hold(label, pin_of):
            logger.info("community %s: a fresh split would move pinned buildings; their grids are kept", ctx.community_id)
            continue
        for c in holding:
            grids[c].locked = True
            grids[c].note = _note_for(grids[c], ctx)
        codes = _inherit(grids, region, new_members, ctx, result.grid_geoms)
        for c in region:
            previous = grids.pop(c)
            if c not in codes:
                ctx.retired.add(c)
            if c in codes:
                g = codes.index(c)
                grids[c] = _Grid(c, result.grid_geoms[g], new_members[g], result.notes[g], False, False, None, previous.previous_row)
        for g, code in enumerate(codes):
            if code not in grids:
                grids[code] = _Grid(code, result.grid_geoms[g], new_members[g], result.notes[g], False, False, None, None)
            dirty.add(code)
        return


