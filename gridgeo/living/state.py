"""The state of one community while its plan is updated: its grids (kept, re-drawn or new) and what the repair needs to know."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from ..partition.notes import IN_BAND, OUT_OF_BAND, OVERSIZE, GridNote, make_note
from ..partition.refine import _Search


# -- state of one community during the update ----------------------------------------------------------
@dataclass
class _Grid:
    code: str
    geom: object  # metric polygon
    members: set[int]  # indices of new buildings
    note: GridNote
    dedicated: bool = False
    polygon_kept: bool = True  # geometry is the previous run's polygon of this code
    original: object = None  # the previous run's polygon (input CRS) when kept
    previous_row: dict | None = None
    locked: bool = False  # kept as a planner edited it (gridgeo.living.edits): never re-drawn by the repair


@dataclass
class _Context:
    band: tuple[int, int]
    households: np.ndarray
    geoms: np.ndarray  # metric building geometries (new buildings)
    barriers: np.ndarray | None
    seed: int
    community_id: str
    community_code: str
    max_region: int
    retired: set[str] = field(default_factory=set)
    next_number: int = 1
    width: int = 2
    pins: dict[int, str] = field(default_factory=dict)  # pinned building → the grid code it stays in
    compound_of: np.ndarray | None = None  # per building: its compound (one cell when redrawn), -1: none
    compound_geoms: np.ndarray | None = None  # per compound: outline (metric, inside its community)
    compound_size: np.ndarray | None = None  # per compound: its buildings that must stay together
    unit_band: tuple[int, int] | None = None  # joint-unit band: oversize grids that fit no unit cut take in households
    is_new: np.ndarray | None = None  # per building: added since the previous run (moving it moves no existing household)
    #: per building: its outline group (:func:`gridgeo.arrays.outline_groups`): the parts of one tower given as stacked
    #: outlines share one cell, which no grid border can cut, and their sum decides whether a grid has a band
    outline: np.ndarray | None = None
    grown: np.ndarray | None = None  # per building: above the band's maximum now, not in the previous run (added, or grown past it)
    grew: np.ndarray | None = None  # per building: of those, the ones that were there before (grown past it)
    carved: bool = False  # a grid was cut so that such a building has a grid of its own (gridgeo.living.carve)
    transfers: bool = True  # the repair also tries the cheapest single-border transfers (gridgeo.living.shed)
    lookahead: bool = True  # the repair compares candidates by their completed repair (gridgeo.living.repair)
    other_counts: bool = False  # a region may settle at another grid count (the last try before a community is redrawn)
    kept_cell_candidate: bool = True  # the last candidate is the cheapest repair in whole kept cells (gridgeo.living.seamguard)
    #: the fewest existing households a repair in whole kept cells moves, as far as that candidate proved it (None: not
    #: tried): the kept-cell bound starts from it (gridgeo.living.keptoptimum.kept_cells_bound)
    kept_known: int | None = None
    #: cells already drawn in this community, by what they depend on (:func:`_cached`): candidate repairs tessellate
    #: the same grids and regions again and again
    drawn: dict = field(default_factory=dict, repr=False, compare=False)


def _cached(ctx: _Context, key: tuple, draw, *args):
    """``draw(*args)`` for ``key`` in ``ctx``'s community, drawn once; each call gets its own copy of the arrays.

    The key names everything the cells depend on besides the context's buildings, barriers and compounds, which do
    not change while a community is repaired.
    """
    if key not in ctx.drawn:
        ctx.drawn[key] = draw(*args)
    return _fresh(ctx.drawn[key])


def _fresh(value):
    """A copy of tessellations and cell graphs (tuples of them, or None) whose arrays a caller may change."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, tuple):
        return tuple(_fresh(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.copy()
    if hasattr(value, "copy") and hasattr(value, "tocsr"):
        return value.copy()  # (a sparse matrix)
    return type(value)(*(_fresh(getattr(value, name)) for name in value.__dataclass_fields__))


def _set_numbering(ctx: _Context, retired: set[str], number: int) -> None:
    """Put back the codes retired so far and the next grid number (a candidate repair starts from a saved state)."""
    ctx.retired.clear()
    ctx.retired.update(retired)
    ctx.next_number = number


def _restore(grids: dict[str, _Grid], dirty: set[str], ctx: _Context, saved: tuple) -> None:
    """Put ``grids``, ``dirty`` and the numbering back to ``saved``: (grids, dirty, retired codes, next number)."""
    grids.clear()
    grids.update(saved[0])
    dirty.clear()
    dirty.update(saved[1])
    _set_numbering(ctx, saved[2], saved[3])


class _Repair(_Search):
    """The local search of :mod:`gridgeo.partition.refine`, limited to moves that reduce the band miss."""

    def _best_move(self, node):
        best = super()._best_move(node)
        if best is None or best[0][0] >= 0:
            return None
        return best


# -- the repair ----------------------------------------------------------------------------------------
#: two polygons border each other when they share more than this length of boundary (metres)
BORDER_M = 0.05
#: how far (m) a boundary may lie from its neighbour's and still count as shared (two grids' border is one line)
_BORDER_SNAP_M = 0.01


def _shared_boundary(a, b):
    """Length (m) of ``a``'s boundary that lies along ``b`` (element-wise over arrays)."""
    return shapely.length(shapely.intersection(shapely.boundary(a), shapely.buffer(b, _BORDER_SNAP_M)))


def _borders(geoms: np.ndarray) -> list[tuple[int, int, float]]:
    """Pairs of polygons (by position, first < second) sharing a border longer than :data:`BORDER_M`, with its length."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) < 2:
        return []
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return []
    lengths = _shared_boundary(geoms[left], geoms[right])
    return [(int(a), int(b), float(length)) for a, b, length in zip(left, right, lengths) if length > BORDER_M]


def _weight(grid: _Grid, ctx: _Context) -> int:
    return int(ctx.households[sorted(grid.members)].sum()) if grid.members else 0


def largest_cell(households: np.ndarray, outline: np.ndarray | None, members) -> int:
    """The households of the largest cell among the buildings ``members``: a building, or the buildings of one
    outline (:func:`gridgeo.arrays.outline_groups`) among them.

    Examples
    --------
    >>> largest_cell(np.array([300, 250, 400]), np.array([0, 0, 1]), [0, 1, 2])
    550
    >>> largest_cell(np.array([300, 250, 400]), None, [0, 1, 2])
    400
    """
    members = np.asarray(sorted(members), dtype=np.int64)
    if not len(members):
        return 0
    held = households[members]
    if outline is None:
        return int(held.max())
    _, group = np.unique(outline[members], return_inverse=True)
    if len(group) == group.max() + 1:
        return int(held.max())  # (no two share an outline)
    return int(np.bincount(group, weights=held).max())


def _largest(members, ctx: _Context) -> int:
    """The households of the largest cell's buildings among ``members`` (:func:`largest_cell`)."""
    return largest_cell(ctx.households, ctx.outline, members)


def _oversize(grid: _Grid, ctx: _Context) -> bool:
    return bool(grid.members) and _largest(grid.members, ctx) > ctx.band[1]


def _is_bad(grid: _Grid, ctx: _Context) -> bool:
    if grid.dedicated or grid.locked:
        return False
    w = _weight(grid, ctx)
    return not (ctx.band[0] <= w <= ctx.band[1]) and not _oversize(grid, ctx)


def _note_for(grid: _Grid, ctx: _Context) -> GridNote:
    if grid.dedicated:
        return grid.note
    w = _weight(grid, ctx)
    if ctx.band[0] <= w <= ctx.band[1]:
        return GridNote(IN_BAND)
    if _oversize(grid, ctx):
        return make_note(OVERSIZE, "oversize_building", households=_largest(grid.members, ctx), high=ctx.band[1])
    if grid.locked and grid.note.status != "edited_split":
        return make_note(OUT_OF_BAND, "locked_grid", households=w, low=ctx.band[0], high=ctx.band[1])
    return grid.note


def _existing_moved(before: dict[str, _Grid], after: dict[str, _Grid], ctx: _Context) -> int:
    """Households of buildings that were there before the update whose grid code differs between ``before`` and ``after``."""
    code_of = {b: c for c, g in after.items() for b in g.members}
    moved = 0
    for c, g in before.items():
        for b in g.members:
            if (ctx.is_new is None or not ctx.is_new[b]) and code_of.get(b) != c:
                moved += int(ctx.households[b])
    return moved
