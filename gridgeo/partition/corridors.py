"""Corridors: join buildings whose cells do not touch, when the band needs it.

The cell graph is one tessellation of a community, not the only one.  When a
grid is still outside the band after every search on the cell graph, its
household counts often do admit an in-band split, only not with these cells:
a big building's cell sits between a small building and the grid it should
join (``proven infeasible ... enclosed behind one building's cell``), or, with
small bands such as ``--grid-size 10:15``, a building of 8 or 9 households
touches only neighbours that would take it above the maximum.

This module widens the search to cells two steps apart (both touching a third
cell, the *via* cell) and draws the link: a strip of the via cell, a few metres
wide, running along the via cell's outline from its edge with the one cell to
its edge with the other.  The strip goes to the grid it joins; the via cell
keeps the rest, its buildings untouched.  A strip is drawn only when

- it crosses no building footprint and no barrier line,
- both the strip and what remains of the via cell are single polygons, and
- every grid it touches still dissolves to one polygon, with the piece's grids
  still a valid coverage (no gap, no overlap).

Otherwise the split on the plain cell graph is kept, with its flags.  Grids
that gained a strip say so in their ``reason`` (status ``in_band``).
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import shapely
import shapely.ops
from scipy.sparse.csgraph import connected_components

from ..cells.adjacency import CellGraph
from ..cells.tessellate import merge_polygons
from .bisect import find_root
from .mend import drop_empty_labels, mend_band, out_of_band_grids
from .notes import IN_BAND, OUT_OF_BAND, GridNote, make_note
from .plan import defect_note

__all__ = ["carve_corridor", "join_through_corridors", "CORRIDOR_WIDTHS_M"]

logger = logging.getLogger(__name__)

#: strip widths tried, widest first (metres)
CORRIDOR_WIDTHS_M = (2.0, 0.5)
#: ground kept free around a building where a strip narrows to pass it (metres)
CLEARANCE_M = 0.25
_ON_EDGE_M = 1e-4
_ATTEMPTS = 3
_ARCS_TRIED = 4


def carve_corridor(via, start, end, *, width: float, footprints=None, barriers=None):
    """A strip of ``via`` along its outline linking its edge with ``start`` to its edge with ``end``.

    Parameters
    ----------
    via : Polygon
        The cell the strip is taken from (metric CRS).
    start, end : Polygon
        Cells that touch ``via`` along a boundary of positive length.
    width : float
        Strip width in metres.
    footprints : ndarray of geometries, optional
        Buildings of ``via``: the strip may not overlap them.
    barriers : ndarray of LineString, optional
        The strip's interior may not cross them.

    Returns
    -------
    (corridor, rest) or None
        Two polygons whose union is ``via``: the strip, which shares one whole
        edge of ``via``'s outline with ``start`` and one with ``end``, and what is left.
        None when no such strip exists (a footprint or barrier in the way, a
        cell too narrow, a rest in pieces).

    Examples
    --------
    >>> import shapely
    >>> via = shapely.box(0, 0, 30, 10)
    >>> west, east = shapely.box(-10, 0, 0, 10), shapely.box(30, 0, 40, 10)
    >>> corridor, rest = carve_corridor(via, west, east, width=1.0, footprints=[shapely.box(10, 3, 20, 7)])
    >>> round(corridor.area), round(rest.area), corridor.intersects(west) and corridor.intersects(east)
    (47, 253, True)
    """
    via = shapely.orient_polygons(via)
    if shapely.get_type_id(via) != 3 or via.is_empty:
        return None
    ring = shapely.get_coordinates(via.exterior)
    m = len(ring) - 1
    if m < 3:
        return None
    mid = shapely.points((ring[:-1] + ring[1:]) / 2)
    on_start = shapely.dwithin(mid, shapely.boundary(start), _ON_EDGE_M)
    on_end = shapely.dwithin(mid, shapely.boundary(end), _ON_EDGE_M)
    if not on_start.any() or not on_end.any():
        return None
    inner = shapely.buffer(via, -width, quad_segs=4)
    if inner.is_empty:
        return None
    strip = shapely.difference(via, inner)
    lengths = np.hypot(*(ring[1:] - ring[:-1]).T)
    outline = shapely.LineString(ring)
    blockers = [] if footprints is None else [g for g in footprints if g is not None and not g.is_empty]
    for first, last in _arcs(on_start, on_end, lengths)[:_ARCS_TRIED]:
        corridor = _strip_between(strip, ring, first, last, width)
        if corridor is None:
            continue
        arc_length = float(lengths[_arc_edges(first, last, m)].sum())
        along = shapely.length(shapely.intersection(shapely.boundary(corridor), outline))
        if abs(along - arc_length) > 1e-6 * max(arc_length, 1.0) + 1e-6:
            continue  # the cuts did not separate the arc from the rest of the strip
        if blockers and any(_overlaps(corridor, g) for g in blockers):
            # a building close to the outline: the strip narrows to pass it, keeping a clearance
            corridor = _round_buildings(corridor, blockers, ring, first, last)
            if corridor is None:
                continue
        if (
            barriers is not None
            and len(barriers)
            and bool(shapely.relate_pattern(corridor, np.asarray(barriers), "T********").any())
        ):
            continue
        rest = shapely.difference(via, corridor)
        if shapely.get_type_id(rest) != 3 or rest.is_empty:
            continue
        return corridor, rest
    return None


def _round_buildings(corridor, blockers, ring: np.ndarray, first: int, last: int):
    """``corridor`` without the ground within :data:`CLEARANCE_M` of the buildings, when it stays one piece with both end edges whole."""
    keep_out = shapely.buffer(shapely.union_all(np.array(blockers, dtype=object)), CLEARANCE_M, quad_segs=4)
    narrowed = shapely.difference(corridor, keep_out)
    if shapely.get_type_id(narrowed) != 3 or narrowed.is_empty:
        return None
    boundary = shapely.boundary(narrowed)
    for edge in (first, last):
        segment = shapely.LineString(ring[[edge, edge + 1]])
        if abs(shapely.length(shapely.intersection(boundary, segment)) - segment.length) > 1e-6:
            return None  # the end edges must stay whole, or the neighbours' vertices would not match
    return narrowed


def _overlaps(corridor, footprint) -> bool:
    if shapely.get_type_id(footprint) in (3, 6):
        return shapely.area(shapely.intersection(corridor, footprint)) > 1e-9
    return bool(shapely.intersects(corridor, footprint))


def _arc_edges(first: int, last: int, m: int) -> np.ndarray:
    return np.arange(first, first + ((last - first) % m) + 1) % m


def _arcs(on_start: np.ndarray, on_end: np.ndarray, lengths: np.ndarray) -> list[tuple[int, int]]:
    """Edge ranges (first, last), walking forward, from the last edge of a run of one cell's edges to the first edge of the other's; shortest first.

    The strip then shares one whole edge with each cell (so their vertices match)
    and no more of the outline than it needs.
    """
    m = len(on_start)
    out = []
    for a, b in ((on_start, on_end), (on_end, on_start)):
        for i in range(m):
            if not a[i] or a[(i + 1) % m] or b[i]:
                continue
            j = i + 1
            while j < i + m and not b[j % m] and not a[j % m]:
                j += 1
            if j < i + m and b[j % m]:
                out.append((i, j % m))
    return sorted(set(out), key=lambda fl: (float(lengths[_arc_edges(fl[0], fl[1], m)].sum()), fl))


def _strip_between(strip, ring: np.ndarray, first: int, last: int, width: float):
    """The piece of ``strip`` along edges ``first..last`` of ``ring`` (cut off at both ends, at most 1.5 widths from them)."""
    m = len(ring) - 1
    cuts = [_cut(ring, first, width, strip), _cut(ring, (last + 1) % m, width, strip)]
    pieces = shapely.get_parts(shapely.ops.split(strip, shapely.MultiLineString(cuts)))
    pieces = pieces[shapely.get_type_id(pieces) == 3]
    if len(pieces) < 2:
        return None
    edges = _arc_edges(first, last, m)
    arc = shapely.LineString(np.vstack([ring[edges], ring[edges[-1] + 1]]))
    piece = _most_along(pieces, arc)
    if piece is None:
        return None
    # where the cell is thinner than the strip, the piece may reach far from the arc: keep the band along it
    near = shapely.get_parts(shapely.intersection(piece, shapely.buffer(arc, 1.5 * width, quad_segs=4)))
    return _most_along(near[shapely.get_type_id(near) == 3], arc)


def _most_along(pieces: np.ndarray, arc):
    """The piece whose boundary runs along the whole of ``arc``, or None."""
    if not len(pieces):
        return None
    contact = shapely.length(shapely.intersection(shapely.boundary(pieces), arc))
    best = int(np.argmax(contact))
    return pieces[best] if abs(contact[best] - arc.length) <= 1e-6 * max(arc.length, 1.0) + 1e-6 else None


def _inward(ring: np.ndarray, edge: int) -> np.ndarray:
    d = ring[edge + 1] - ring[edge]
    norm = np.hypot(*d)
    return np.array([-d[1], d[0]]) / norm if norm else np.zeros(2)


def _cut(ring: np.ndarray, vertex: int, width: float, strip):
    """A segment from ring vertex ``vertex`` straight inwards across a strip of ``width`` (stopping just past it)."""
    m = len(ring) - 1
    direction = _inward(ring, (vertex - 1) % m) + _inward(ring, vertex)
    norm = np.hypot(*direction)
    direction = _inward(ring, vertex) if norm < 1e-9 else direction / norm
    start = ring[vertex]
    line = shapely.LineString([start, start + direction * width * 6])
    # only the first crossing of the strip: a long cut could cross it again where the cell bends
    inside = shapely.get_parts(shapely.line_merge(shapely.intersection(line, strip)))
    first = [p for p in inside if shapely.get_type_id(p) == 1 and shapely.distance(p, shapely.Point(start)) < 1e-9]
    if not first:
        return line
    reach = max(np.hypot(*(shapely.get_coordinates(first[0]) - start).T))
    return shapely.LineString([start, start + direction * (reach + 0.05 * width)])


def bridge_pairs(graph: CellGraph, allowed_via: np.ndarray) -> sp.csr_matrix:
    """Pairs of cells that do not touch but both touch an allowed via cell (symmetric 0/1)."""
    touch = (graph.shared > 0).astype(np.int64).tocsr()
    via = sp.diags(np.asarray(allowed_via, dtype=np.int64), dtype=np.int64)
    two = (touch @ via @ touch).tocsr()
    two.setdiag(0)
    two.eliminate_zeros()
    two = (two > 0).astype(np.int64) - (two > 0).multiply(touch).astype(np.int64)
    two = sp.csr_matrix(two)
    two.eliminate_zeros()
    return two


def join_through_corridors(
    graph: CellGraph,
    labels: np.ndarray,
    notes: list[GridNote],
    cells: np.ndarray,
    footprints: list,
    low: int,
    high: int,
    *,
    allowed_via: np.ndarray,
    barriers: np.ndarray | None = None,
):
    """Re-split out-of-band grids over cells two steps apart, drawing the corridors that joins need.

    Parameters
    ----------
    graph : CellGraph
        The piece's cells.
    labels : ndarray of int
        Grid per cell, as :func:`gridgeo.partition.plan.partition_part` left it.
    notes : list of GridNote
        Per grid.
    cells : ndarray of Polygon
        The piece's cells (metric CRS), aligned with ``graph``.
    footprints : list of ndarray
        Per cell, its buildings' geometries.
    low, high : int
        The household band.
    allowed_via : ndarray of bool
        Per cell, whether a strip may be taken from it (not from a compound or dedicated ground).
    barriers : ndarray of LineString, optional

    Returns
    -------
    (labels, notes, cells, extra) or None
        New labels and notes (in-band grids that gained a strip carry the
        ``corridor`` reason), the cells with strips taken out, and per grid the
        list of strips it gained; None when nothing could be repaired.
    """
    ordinary = np.array([n.status in ("", IN_BAND, OUT_OF_BAND) for n in notes], dtype=bool)
    bad_before = out_of_band_grids(graph, labels, ordinary, low, high)
    if not bad_before:
        return None
    bridges = bridge_pairs(graph, allowed_via)
    for _ in range(_ATTEMPTS):
        if bridges.nnz == 0:
            return None
        wide = CellGraph(
            graph.weight, graph.area, graph.perimeter, graph.xy, (graph.shared + bridges * 1e-3).tocsr(), graph.barrier
        )
        new_labels, new_ordinary, _ = mend_band(wide, labels, ordinary, low, high, oversize=np.zeros(len(ordinary), dtype=bool))
        bad_after = out_of_band_grids(graph, new_labels, new_ordinary, low, high)
        if len(bad_after) >= len(bad_before):
            return None
        drawn = _draw(graph, new_labels, cells, footprints, allowed_via, barriers)
        if drawn is None:
            return None
        new_cells, extra, used, failed = drawn
        if failed:
            bridges = without_pairs(bridges, failed)
            continue
        k = len(new_ordinary)
        if not grids_whole(new_cells, extra, new_labels, k, changed=_touched(labels, new_labels, used, k)):
            bridges = without_pairs(bridges, [(a, b) for a, b, _ in used])
            continue
        logger.debug("corridors: %d strips drawn", len(used))
        return final_notes(graph, new_labels, notes, new_ordinary, new_cells, extra, low, high)
    return None


def without_pairs(links: sp.csr_matrix, pairs) -> sp.csr_matrix:
    """``links`` (symmetric) without the entries of ``pairs`` in either direction."""
    if not pairs:
        return links
    a, b = np.array(pairs, dtype=np.int64).T
    drop = sp.coo_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=links.shape).tocsr()
    out = (links - links.multiply(drop > 0)).tocsr()
    out.eliminate_zeros()
    return out


def _draw(graph, labels, cells, footprints, allowed_via, barriers):
    """Corridors for every grid that is connected only through bridges."""
    cells = cells.copy()
    extra: dict[int, list] = {}
    used: list[tuple[int, int, int]] = []
    failed: list[tuple[int, int]] = []
    touch = graph.shared.tocsr()
    for g in np.unique(labels):
        members = np.flatnonzero(labels == g)
        count, comp = connected_components(touch[members][:, members], directed=False)
        if count == 1:
            continue
        parent = list(range(count))
        where = {int(c): int(comp[i]) for i, c in enumerate(members)}
        candidates = []
        for c in np.flatnonzero(allowed_via & (labels != g)):
            around = touch.indices[touch.indptr[c] : touch.indptr[c + 1]]
            mine = [int(x) for x in around if int(x) in where]
            for i, a in enumerate(mine):
                for b in mine[i + 1 :]:
                    if where[a] != where[b]:
                        length = float(touch[a, c] + touch[b, c])
                        candidates.append((-length, int(c), a, b))
        candidates.sort()
        for _, c, a, b in candidates:
            if find_root(parent, where[a]) == find_root(parent, where[b]):
                continue
            link = _link(cells, c, a, b, footprints[c], barriers)
            if link is None:
                failed.append((a, b))
                continue
            corridor, rest = link
            cells[c] = rest
            extra.setdefault(int(g), []).append(corridor)
            used.append((a, b, c))
            parent[find_root(parent, where[a])] = find_root(parent, where[b])
        if len({find_root(parent, x) for x in range(count)}) > 1:
            if not failed:
                return None
            return cells, extra, used, failed
    return cells, extra, used, []


def _link(cells, c, a, b, footprints, barriers):
    """A strip of cell ``c`` joining cells ``a`` and ``b``, the widest that fits."""
    for width in CORRIDOR_WIDTHS_M:
        link = carve_corridor(cells[c], cells[a], cells[b], width=width, footprints=footprints, barriers=barriers)
        if link is not None:
            return link
    return None


def _touched(old: np.ndarray, new: np.ndarray, used, k: int) -> np.ndarray:
    changed = np.zeros(k, dtype=bool)
    moved = old != new
    changed[np.unique(new[moved])] = True
    for a, _b, c in used:
        changed[new[a]] = True
        changed[new[c]] = True
    return changed


def grids_whole(cells, extra, labels, k, *, changed) -> bool:
    """Every changed grid one polygon, no strip left to a grid without cells, and the piece's grids a valid coverage.

    ``extra`` maps a grid to the strips it holds; ``changed`` is a boolean per grid.
    """
    geoms = []
    for g in range(k):
        members = np.flatnonzero(labels == g)
        strips = extra.get(g, [])
        if not len(members):
            if strips:
                return False
            continue
        pieces = np.concatenate([cells[members], np.array(strips, dtype=object)])
        merged = merge_polygons(pieces) if len(pieces) > 1 else pieces[0]
        if changed[g] and shapely.get_type_id(merged) != 3:
            return False
        geoms.append(merged)
    return bool(shapely.coverage_is_valid(np.array(geoms, dtype=object), gap_width=0.0))


def final_notes(graph, labels, notes, ordinary, cells, extra, low, high):
    """Labels without empty grids, and notes: ordinary grids in band (``corridor`` when they hold strips) or explained defects.

    Returns ``(labels, notes, cells, extra)`` with ``extra`` renumbered like the labels.
    """
    k = len(ordinary)
    notes = list(notes) + [GridNote()] * (k - len(notes))
    labels, keep = drop_empty_labels(labels, k)
    weights = np.bincount(labels, weights=graph.weight, minlength=len(keep))
    final = []
    out_extra = {}
    for new, old in enumerate(keep):
        note = notes[old]
        strips = [s for s in extra.get(int(old), []) if s is not None and not shapely.is_empty(s)]
        if strips:
            out_extra[new] = strips
        if ordinary[old]:
            if low <= weights[new] <= high:
                note = make_note(IN_BAND, "corridor", corridors=len(strips), low=low, high=high) if strips else GridNote(IN_BAND)
            else:
                note = defect_note(graph, labels, new, weights, low, high, ordinary=np.asarray(ordinary, dtype=bool)[keep])
        final.append(note)
    return labels, final, cells, out_extra
