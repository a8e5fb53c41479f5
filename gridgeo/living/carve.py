"""Two repairs an update makes before the usual one: a building grown above the band gets a grid of its own, and a community left without households becomes one grid.

A grid holding a building above the band's maximum has no band, so the usual
repair (:mod:`gridgeo.living.repair`) never touches it.  When a building grows
above the maximum (or an added one above it lands in a grid), its grid would
keep every other building with it, where a fresh partition gives the building a
grid of its own and grids the rest in the band.  :func:`carve_oversize` cuts
such a grid into the cells of its own buildings: each building that grew
above the maximum is a grid of its own, every connected piece of the rest
another (a building that was above the maximum before stays with what the
previous plan joined to it), and the code stays with the piece holding the most households that were there
before (the large building, when it grew).  The other pieces take a temporary
code (:func:`is_carved`) and are repaired as any grid out of the band (joined
to neighbours with room, or kept as new grids in the band); the update numbers
those still there after the community's highest (:func:`name_carved`).  A
piece without households, or one below the band that borders no other grid
(reached only through the large building's cell), stays with the large
building, as a fresh partition joins such a remainder to an oversize grid.
An added building above the maximum gets a grid of its own only when that
moves nobody who was there before: its cell does not cut the others apart,
and every piece is in the band or holds a building above the maximum (none
calls for a repair); otherwise it stays
in the grid holding it, which it excuses, as before.
While the community is repaired the large buildings' grids take no part (they
are held like dedicated grids), and the buildings of the pieces that lost the
code count as added ones: they have changed grid already, so moving them again
moves nobody.

A community whose buildings are all removed (or left without households) is
one grid in a fresh partition.  :func:`merge_cleared` makes it one grid per
connected group of its grids (one for a community in one piece): the lowest
code is kept, the others are retired.

It works on the grids of one community (:class:`~gridgeo.living.state._Grid`,
metric polygons) and never reads or writes files.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from ..partition.engine import _dissolve
from ..partition.notes import DETACHED, INFEASIBLE, OVERSIZE, GridNote, _infeasible_note, make_note
from .redraw import _new_code, _tessellate
from .state import BORDER_M, _borders, _Context, _Grid, _is_bad, _note_for, _shared_boundary, _weight

logger = logging.getLogger(__name__)

__all__ = ["carve_oversize", "is_carved", "merge_cleared", "name_carved", "release"]

#: marks the temporary code of a piece carved off a grid (it sorts after every grid number)
_CARVED = "~"


def is_carved(code: str) -> bool:
    """Whether ``code`` is the temporary code of a piece :func:`carve_oversize` cut off a grid.

    Examples
    --------
    >>> is_carved("003-~001"), is_carved("003-08")
    (True, False)
    """
    return _CARVED in code


def carve_oversize(grids: dict[str, _Grid], dirty: set[str], ctx: _Context) -> list[str]:
    """Give each building that grew above the band (``ctx.grown``) a grid of its own, in place; see the module docstring.

    Only grids in ``dirty`` that are neither dedicated nor locked, hold a grown
    building above the maximum and other households, and hold no pinned
    building are cut; when the buildings above the maximum were all added
    (none in ``ctx.grew``), only when every piece but the one keeping the code
    holds no household that was there before and every other piece is in the
    band or holds a building above the maximum.  The pieces are new grids (``dirty``), the large
    buildings' grids are marked dedicated (the caller clears the mark after the
    repair), ``ctx.is_new`` becomes a copy in which the buildings of the
    pieces that lost the code are added ones, and ``ctx.carved`` is set.

    Returns
    -------
    list of str
        The codes of the grids holding a large building alone (marked dedicated).

    Examples
    --------
    >>> import shapely, numpy as np
    >>> from gridgeo.living.state import _Context, _Grid
    >>> from gridgeo.partition.notes import GridNote
    >>> geoms = np.array([shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 200, 20)])
    >>> households = np.array([900] + [40] * 9)
    >>> ctx = _Context((300, 500), households, geoms, None, 0, "A", "001", 6)
    >>> ctx.grown = ctx.grew = households > 500
    >>> ctx.is_new = np.zeros(10, dtype=bool)
    >>> grids = {"001-01": _Grid("001-01", shapely.box(0, 0, 200, 100), set(range(10)), GridNote())}
    >>> carve_oversize(grids, {"001-01"}, ctx)
    ['001-01']
    >>> {code: sorted(grid.members) for code, grid in grids.items()}
    {'001-01': [0], '001-~001': [1, 2, 3, 4, 5, 6, 7, 8, 9]}
    """
    if ctx.grown is None:
        return []
    low, high = ctx.band
    apart: list[str] = []
    for code in sorted(grids):
        grid = grids[code]
        if code not in dirty or grid.dedicated or grid.locked or is_carved(code) or not grid.members:
            continue
        members = np.array(sorted(grid.members), dtype=np.int64)
        households = ctx.households[members]
        grown = ctx.grown[members] & (households > high)
        if not grown.any() or not int(households[~grown].sum()):
            continue
        if any(int(b) in ctx.pins for b in members):
            continue  # a pinned building keeps its grid as it is
        built = _tessellate(grid.geom, members, ctx)
        if built is None:
            logger.debug("community %s: grid %s is not one piece of cells; its large building keeps its grid", ctx.community_id, code)
            continue
        tess, graph = built
        groups = _pieces(graph, grid, code, grids, tess, ctx)
        if groups is None:
            continue
        polygons = [_dissolve(tess.cells[nodes]) for nodes, _ in groups]
        if any(shapely.get_type_id(p) != 3 for p in polygons):
            logger.debug("community %s: a piece of grid %s is not one polygon; its large building keeps its grid", ctx.community_id, code)
            continue
        group_members = [set(members[np.isin(tess.site_of_building, nodes)].tolist()) for nodes, _ in groups]
        existing = [_existing(m, ctx) for m in group_members]
        heir = min(range(len(groups)), key=lambda g: (-existing[g], -_weight_of(group_members[g], ctx), g))
        if (ctx.grew is None or not ctx.grew[members].any()) and (
            any(existing[g] for g in range(len(groups)) if g != heir)
            or any(not big and _is_bad(_Grid(code, None, own, GridNote()), ctx) for (_, big), own in zip(groups, group_members))
        ):
            # only added buildings are above the maximum: cut only when that moves nobody who was there before, neither
            # by itself (their cells cut those households apart) nor by the repair it calls for (a piece out of band)
            logger.debug("community %s: an added building above the maximum stays in grid %s (a cut would move households)", ctx.community_id, code)
            continue
        previous = grids.pop(code)
        ctx.carved = True
        if ctx.is_new is not None:
            ctx.is_new = ctx.is_new.copy()
        taken = sum(1 for c in list(grids) + sorted(ctx.retired) if is_carved(c))
        for g, ((_, big), polygon, own) in enumerate(zip(groups, polygons, group_members)):
            if g == heir:
                piece_code = code
            else:
                taken += 1
                piece_code = f"{ctx.community_code}-{_CARVED}{taken:03d}"
                if ctx.is_new is not None:
                    ctx.is_new[sorted(own)] = True  # they left the grid's code: moving them again moves nobody
            piece = _Grid(piece_code, polygon, own, previous.note, False, False, None, previous.previous_row if g == heir else None)
            if big:
                piece.dedicated = True  # held apart while the community is repaired (the caller clears it)
                piece.note = make_note(OVERSIZE, "oversize_building", households=int(ctx.households[sorted(own)].max()), high=high)
                apart.append(piece_code)
            else:
                piece.note = _note_for(piece, ctx)
            grids[piece_code] = piece
            dirty.add(piece_code)
        logger.info(
            "community %s: grid %s holds a building above the band's maximum; cut into %d grids (%s)",
            ctx.community_id, code, len(groups), ", ".join(f"{_weight_of(m, ctx)} households" for m in group_members),
        )
    return apart


def _pieces(graph, grid: _Grid, code: str, grids: dict[str, _Grid], tess, ctx: _Context):
    """The cells of each new grid of a cut: (nodes, holds a large building), large ones first; None when nothing is cut off.

    Each cell holding a building that grew above the maximum is a grid; each
    connected piece of the others too (with a building that was above the
    maximum before, and what the previous plan joined to it), unless it has no
    households or is below the band and borders no other grid that may change
    (then it stays with the first large cell it borders, as a fresh partition
    joins it to the oversize grid).
    """
    low, high = ctx.band
    members = np.array(sorted(grid.members), dtype=np.int64)
    grown = np.zeros(graph.n, dtype=bool)  # cells holding a building that grew above the maximum (a cell may hold several)
    grown[tess.site_of_building[ctx.grown[members] & (ctx.households[members] > high)]] = True
    big = np.flatnonzero(grown)
    rest = np.flatnonzero(~grown)
    if not len(big) or not len(rest):
        return None
    groups = [[int(s)] for s in big]
    count, component = connected_components(graph.shared[rest][:, rest], directed=False)
    others = [g for c, g in grids.items() if c != code and not g.dedicated and not g.locked and g.geom is not None]
    cut = []
    for c in range(count):
        nodes = rest[component == c]
        weight = int(graph.weight[nodes].sum())
        if weight and (weight >= low or any(_shared_boundary(_dissolve(tess.cells[nodes]), g.geom) > BORDER_M for g in others)):
            cut.append(nodes.tolist())
            continue
        touching = [k for k, s in enumerate(big) if graph.shared[nodes][:, [int(s)]].sum() > 0]
        groups[touching[0] if touching else 0] += nodes.tolist()
    if not cut:
        return None
    return [(np.array(g, dtype=np.int64), True) for g in groups] + [(np.array(g, dtype=np.int64), False) for g in cut]


def _existing(members: set[int], ctx: _Context) -> int:
    """Households of ``members`` that were there before the update."""
    if not members:
        return 0
    members = np.array(sorted(members), dtype=np.int64)
    return int(ctx.households[members].sum()) if ctx.is_new is None else int(ctx.households[members][~ctx.is_new[members]].sum())


def _weight_of(members: set[int], ctx: _Context) -> int:
    return int(ctx.households[sorted(members)].sum()) if members else 0


def release(grids: dict[str, _Grid], apart: list[str], ctx: _Context) -> None:
    """Clear the mark :func:`carve_oversize` set on the large buildings' grids (those still there), with their note."""
    for code in apart:
        if code in grids and grids[code].dedicated:
            grids[code].dedicated = False
            grids[code].note = _note_for(grids[code], ctx)


def name_carved(grids: dict[str, _Grid], ctx: _Context) -> dict[str, str]:
    """Number the carved pieces still there after the community's highest grid number, in order (in place).

    Temporary codes of pieces the repair joined to other grids are dropped
    from ``ctx.retired``: they never were in a plan.  Returns old → new code.

    Examples
    --------
    >>> import shapely, numpy as np
    >>> from gridgeo.living.state import _Context, _Grid
    >>> from gridgeo.partition.notes import GridNote
    >>> ctx = _Context((300, 500), np.zeros(0), np.zeros(0), None, 0, "A", "003", 6, retired={"003-~002"}, next_number=8)
    >>> grids = {"003-01": _Grid("003-01", None, set(), GridNote()), "003-~001": _Grid("003-~001", None, set(), GridNote())}
    >>> name_carved(grids, ctx), sorted(grids), sorted(ctx.retired)
    ({'003-~001': '003-08'}, ['003-01', '003-08'], [])
    """
    names = {}
    for code in sorted(c for c in grids if is_carved(c)):
        grid = grids.pop(code)
        grid.code = _new_code(ctx)
        grids[grid.code] = grid
        names[code] = grid.code
    ctx.retired -= {c for c in ctx.retired if is_carved(c)}
    return names


def merge_cleared(grids: dict[str, _Grid], ctx: _Context, community_geom, dirty: set[str]) -> bool:
    """Make a community without households one grid per connected group of its grids, in place; see the module docstring.

    Dedicated and locked grids stay.  Of each group of the other grids that
    border one another, the lowest code keeps the union of their polygons and
    buildings, and the others are retired (``ctx.retired``).  Its note is the
    one a fresh partition gives: no buildings, or no households (a detached
    part when the community is in several pieces).  A group holding a pinned
    building, or whose union is not one polygon, keeps its grids, each
    flagged.  Returns False when the community has households (nothing is
    done).

    Examples
    --------
    >>> import shapely, numpy as np
    >>> from gridgeo.living.state import _Context, _Grid
    >>> from gridgeo.partition.notes import GridNote
    >>> ctx = _Context((300, 500), np.zeros(0), np.zeros(0), None, 0, "A", "004", 6)
    >>> grids = {c: _Grid(c, shapely.box(x, 0, x + 10, 10), set(), GridNote()) for c, x in (("004-01", 0), ("004-02", 10))}
    >>> merge_cleared(grids, ctx, shapely.box(0, 0, 20, 10), set())
    True
    >>> sorted(grids), sorted(ctx.retired), grids["004-01"].geom.area, grids["004-01"].note.code
    (['004-01'], ['004-02'], 200.0, 'no_buildings')
    """
    plain = sorted(c for c, g in grids.items() if not g.dedicated and not g.locked)
    if not plain or sum(_weight(grids[c], ctx) for c in plain):
        return False
    low, high = ctx.band
    detached = community_geom is not None and len(shapely.get_parts(community_geom)) > 1
    geoms = [grids[c].geom for c in plain]
    pairs = [(a, b) for a, b, _ in _borders(np.array(geoms, dtype=object))]
    adjacency = sp.coo_matrix((np.ones(len(pairs)), ([a for a, _ in pairs], [b for _, b in pairs])), shape=(len(plain), len(plain)))
    _, group = connected_components(adjacency, directed=False)
    for g in np.unique(group):
        codes = [plain[i] for i in np.flatnonzero(group == g)]
        members = set().union(*(grids[c].members for c in codes))
        if not members:
            note = make_note(DETACHED, "detached_empty") if detached else make_note(INFEASIBLE, "no_buildings")
        else:
            note = _infeasible_note(0, 1, low, high, detached)
        polygon = _dissolve(np.array([grids[c].geom for c in codes], dtype=object)) if len(codes) > 1 else grids[codes[0]].geom
        if any(b in ctx.pins for b in members) or shapely.get_type_id(polygon) != 3:
            for c in codes:
                grids[c].note = note
            continue
        keep = codes[0]
        if len(codes) > 1:
            previous = grids[keep]
            for c in codes:
                del grids[c]
            grids[keep] = _Grid(keep, polygon, members, note, False, False, None, previous.previous_row)
            ctx.retired.update(codes[1:])
            logger.info("community %s: no households left; grids %s made one grid %s", ctx.community_id, ", ".join(codes), keep)
        grids[keep].note = note
        dirty.add(keep)
    return True
