"""The repair of a grid walled in behind one large building: the corridors of a fresh partition, in a region of an update.

When every region the repair of an update tries fails, the grid out of band is often one whose buildings reach
its neighbours only through one large building's cell (shanghai_bund: a 378-household block with 201
households behind it, a 291-household block at the end of a chain of cells).  No set of whole cells can then
leave the grid, and the update used to partition the whole community afresh (moving thousands of households),
where the fresh partition joins those buildings to another grid through a strip of open ground
(:mod:`gridgeo.partition.corridors`, :mod:`gridgeo.partition.routes`).

:func:`repair_through_corridors` does the same locally, before the whole community is partitioned afresh: the
grid with each neighbour (and with all its neighbours) is tessellated again, the corridors of a fresh partition
repair it there, and the region whose every grid ends in the band moving the fewest households that were there
before is kept.  A region whose cells wall a pocket in (a few buildings reached only through one large
building's cell, too few for a grid and too many to join it: :func:`gridgeo.partition.proof.walled_in`) is
also repaired with the pocket set aside, as any region of the repair is, and the corridors then join the
pocket alone, as they do after a fresh partition (besides the corridors starting from the region's grids as
they are; the one moving fewer households that were there before is kept).  Its grids are the region's cells (the via cells without their strips) and strips dissolved;
a grid that gained a strip has the ``corridor`` reason of a fresh partition (status ``in_band``).  Regions with
pinned buildings are not tried (the corridors' search does not keep pins).
"""

from __future__ import annotations

import logging

import numpy as np
import shapely
from scipy.sparse.csgraph import connected_components

from ..partition.engine import _dissolve, _join_through_corridors, community_rng
from ..partition.notes import IN_BAND, OUT_OF_BAND, OVERSIZE, GridNote, make_note
from ..partition.proof import forced_pockets
from .redraw import _existing_per_cell, _inherit, _reassign_loose, _region_sites, _solve_labels
from .state import _Context, _existing_moved, _Grid, _is_bad, _note_for

__all__ = ["repair_through_corridors"]

logger = logging.getLogger(__name__)


def repair_through_corridors(grids: dict[str, _Grid], code: str, ctx: _Context, dirty: set[str], neighbours: list[str]) -> bool:
    """Repair ``code`` with one of ``neighbours`` (each alone, then all of them) through corridors; False when none can.

    ``neighbours`` are the grids bordering ``code`` that may change, longest
    border first.  Each region is tried on a copy, the corridors starting from
    its grids as they are and, when its cells wall a pocket in, from the region
    repaired with the pockets set aside (:func:`_pockets_aside`); of those whose
    grids all end in the band (or excused), the one moving the fewest households
    that were there before (counted by grid code; the first on a tie) is
    applied to ``grids`` (in place, with ``dirty``, ``ctx.retired`` and
    ``ctx.next_number``).
    """
    regions = [[code, n] for n in neighbours]
    if len(neighbours) > 1:
        regions.append([code] + neighbours[: max(ctx.max_region - 1, 1)])
    best = None
    number_before = ctx.next_number
    for region, aside in ((r, a) for r in regions for a in (False, True)):
        if any(ctx.pins.get(b) is not None for c in region for b in grids[c].members):
            continue
        ctx.next_number = number_before
        done = _corridor_region(grids, sorted(region), ctx, aside=aside)
        if done is None:
            continue
        replaced, retired = done
        after = {c: g for c, g in grids.items() if c not in region}
        after.update(replaced)
        moved = _existing_moved(grids, after, ctx)
        if best is None or moved < best[0]:
            best = (moved, sorted(region), replaced, retired, ctx.next_number)
    if best is None:
        ctx.next_number = number_before
        return False
    moved, region, replaced, retired, number = best
    logger.log(
        logging.INFO if ctx.lookahead else logging.DEBUG, "community %s: grid %s repaired with %s through corridors (%d existing households moved)",
        ctx.community_id, code, ", ".join(c for c in region if c != code), moved,
    )
    for c in region:
        del grids[c]
    grids.update(replaced)
    dirty.update(replaced)
    ctx.retired |= retired
    ctx.next_number = number
    return True


def _corridor_region(grids: dict[str, _Grid], region: list[str], ctx: _Context, *, aside: bool = False):
    """The region's grids repaired through corridors: (code → new grid, retired codes), or None when it fails.

    The corridors start from the region's grids as they are; with ``aside``,
    from the region repaired with each pocket its cells wall in set aside
    (:func:`_pockets_aside`): the corridors then only have to join the pockets.
    """
    low, high = ctx.band
    sites = _region_sites(grids, region, ctx)
    if sites is None:
        return None
    members, shape, tess, graph, labels = sites
    _reassign_loose(graph, labels)
    if len(np.unique(labels)) != len(region):
        return None
    if aside:
        labels = _pockets_aside(grids, region, ctx, members, tess, graph, labels)
        if labels is None:
            return None
    k = int(labels.max()) + 1
    weights = np.bincount(labels, weights=graph.weight, minlength=k)
    largest = np.zeros(k)
    np.maximum.at(largest, labels, graph.weight)
    notes = [
        make_note(OVERSIZE, "oversize_building", households=int(largest[g]), high=high) if largest[g] > high
        else GridNote(IN_BAND) if low <= weights[g] <= high else GridNote(OUT_OF_BAND)
        for g in range(k)
    ]
    barriers = None
    if ctx.barriers is not None:
        hits = shapely.STRtree(ctx.barriers).query(shape, predicate="intersects")
        barriers = ctx.barriers[hits] if len(hits) else None
    joined = _join_through_corridors(graph, labels, notes, tess.cells, np.arange(graph.n), tess, ctx.geoms[members], low, high, barriers)
    if joined is None:
        return None
    new_labels, new_notes, cells, strips = joined
    if any(note.status == OUT_OF_BAND for note in new_notes):
        return None
    new_members = [set(members[new_labels[tess.site_of_building] == g].tolist()) for g in range(len(new_notes))]
    if any(not m for m in new_members):
        return None
    polygons = []
    for g in range(len(new_notes)):
        pieces = cells[new_labels == g]
        if g in strips:
            pieces = np.concatenate([pieces, np.array(strips[g], dtype=object)])
        polygon = _dissolve(pieces)
        if shapely.get_type_id(polygon) != 3:
            return None
        polygons.append(polygon)
    codes = _inherit(grids, region, new_members, ctx)
    replaced = {}
    for g, c in enumerate(codes):
        previous = grids.get(c)
        grid = _Grid(c, polygons[g], new_members[g], GridNote(), False, False, None, previous.previous_row if previous is not None else None)
        grid.note = new_notes[g] if new_notes[g].code == "corridor" else _note_for(grid, ctx)
        if _is_bad(grid, ctx):
            return None
        replaced[c] = grid
    return replaced, {c for c in region if c not in codes}


def _pockets_aside(grids, region, ctx: _Context, members, tess, graph, labels):
    """Labels of the region's cells with every pocket walled in (:func:`gridgeo.partition.proof.forced_pockets`) a grid of
    its own and the other cells repaired into the band as a region of the repair is (None when that fails)."""
    low, high = ctx.band
    if (graph.weight > high).any():
        return None
    pockets = forced_pockets(graph, low, high)
    if not pockets:
        return None
    aside = np.zeros(graph.n, dtype=bool)
    for cells, _ in pockets:
        aside[cells] = True
    rest = np.flatnonzero(~aside)
    sub = graph.subgraph(rest)
    if connected_components(sub.shared, directed=False)[0] != 1:
        return None
    existing = _existing_per_cell(ctx, members, tess, graph.n)
    rng = community_rng(ctx.seed, f"{ctx.community_id}:update:{region[0]}")
    solved = _solve_labels(sub, labels[rest], ctx, rng, None, existing[rest])
    if solved is None:
        return None
    out = np.full(graph.n, -1, dtype=np.int64)
    out[rest] = solved
    k = int(solved.max()) + 1
    for cells, _ in pockets:
        free = cells[out[cells] < 0]
        if len(free):  # (pockets may share cells: the first one takes them)
            out[free] = k
            k += 1
    return out
