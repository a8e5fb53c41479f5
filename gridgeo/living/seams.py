"""Seams: make re-drawn grids meet the grids kept around them exactly (a valid polygonal coverage).

A plan that is updated or edited keeps most grid polygons byte for byte and
re-draws a few.  The re-drawn ones are computed in the local metric CRS and
reprojected, so their edges along a kept neighbour carry coordinates that differ
from the neighbour's in the last digits, and the points where two re-drawn grids
meet the kept boundary are new vertices in the middle of a kept edge.  Either
makes the community's grids an invalid coverage (``shapely.coverage_is_valid``
is false) although no gap or overlap can be seen.

:func:`fit_to_kept` mends the re-drawn polygons only — the kept ones are never
changed — in the output CRS:

0. needles are cut off: a piece of a ring that goes out and comes back to
   within ``tolerance`` of where it left (a spike with a vertex on its way back,
   a sliver loop hanging on a point), no wider than ``tolerance``, whose
   vertices no neighbour shares.  A dissolve of cells can leave one where two
   re-drawn grids meet; step 3 would give its two ends one value, the ring would
   touch itself, and undoing the junction moves of that polygon (below) would
   leave its edges along a kept grid unmatched;
1. every vertex of a re-drawn polygon within ``tolerance`` of a kept vertex
   takes that vertex's exact coordinates;
2. every other vertex within ``tolerance`` of a kept edge (a junction where two
   re-drawn grids meet a kept one) moves to the nearer end of that edge, the same
   way in every re-drawn polygon that holds it, so the re-drawn grids still
   meet each other exactly (a kept grid never gains a vertex);
3. the re-drawn polygons' own vertices within ``tolerance`` of each other
   (grids re-drawn in different steps) take one value;
4. the vertices of kept and of other re-drawn polygons that lie on a re-drawn
   edge are inserted into it (``shapely.snap``), so both sides of a shared edge
   hold the same vertices.

A polygon that this would make invalid keeps the junctions that made it so
(step 2 is undone for the vertices at the point where GEOS finds it invalid,
in every polygon holding them; every other junction move stays); one still
invalid is repaired when that keeps it one polygon of the same area, and
otherwise left as it came, so that the caller's check reports the community
(:mod:`gridgeo.living.seamguard`): a broken guarantee is an error, never a
silent result.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = ["fit_exactly", "fit_to_kept", "meet_exactly", "seam_tolerance"]

#: largest distance, in metres, between two coordinates that stand for the same vertex
SEAM_TOLERANCE_M = 1e-3
#: largest share of a polygon's area that repairing a fitted polygon may change
_AREA_KEPT = 1e-8


def seam_tolerance(crs) -> float:
    """The seam tolerance (:data:`SEAM_TOLERANCE_M`) in the units of ``crs``.

    Examples
    --------
    >>> seam_tolerance(32651)
    0.001
    >>> round(seam_tolerance(4326) * 111_320, 6)
    0.001
    """
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        return SEAM_TOLERANCE_M / 111_320.0
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return SEAM_TOLERANCE_M / (factor or 1.0)


def _kept_segments(kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points of every edge of the ``kept`` polygons' rings."""
    rings = shapely.get_rings(kept)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    return coords[:-1][same], coords[1:][same]


def fit_to_kept(redrawn, kept, *, tolerance: float) -> np.ndarray:
    """The ``redrawn`` polygons with their edges along the ``kept`` polygons matching them exactly.

    Parameters
    ----------
    redrawn : array of Polygon or MultiPolygon
        Polygons to mend (a new array is returned; the input is not changed).
    kept : array of Polygon or MultiPolygon
        Polygons that must not change (the grids kept around the re-drawn ones).
    tolerance : float
        Largest distance, in the polygons' units, between coordinates that stand
        for the same vertex (see :func:`seam_tolerance`).

    Returns
    -------
    numpy.ndarray
        The mended polygons, in the order of ``redrawn``.

    Examples
    --------
    Two re-drawn rectangles whose shared corner sits in the middle of a kept edge,
    one corner a hair inside the kept polygon:

    >>> import shapely
    >>> kept = [shapely.Polygon([(0, 0), (4, 0), (4, 1), (0, 1)])]
    >>> redrawn = [shapely.Polygon([(0, 0.99999999), (2.1, 1), (2.1, 3), (0, 3)]),
    ...            shapely.Polygon([(2.1, 1), (4, 1), (4, 3), (2.1, 3)])]
    >>> bool(shapely.coverage_is_valid(kept + redrawn))
    False
    >>> fitted = fit_to_kept(redrawn, kept, tolerance=1e-6)
    >>> bool(shapely.coverage_is_valid(kept + list(fitted)))
    True
    >>> [[2.1, 1.0] in shapely.get_coordinates(g).tolist() for g in fitted]  # the junction moved to a kept vertex
    [False, False]
    """
    kept = np.asarray(kept, dtype=object)
    redrawn = _without_needles(_without_slits(np.asarray(redrawn, dtype=object), tolerance), kept, tolerance)
    if not len(redrawn):
        return redrawn
    kept_coords = np.unique(shapely.get_coordinates(kept), axis=0) if len(kept) else np.zeros((0, 2))
    coords = shapely.get_coordinates(redrawn)
    unique, inverse = np.unique(coords, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    target = unique.copy()
    on_vertex = np.zeros(len(unique), dtype=bool)
    if len(kept_coords):
        distance, nearest = cKDTree(kept_coords).query(unique)
        on_vertex = distance <= tolerance
        target[on_vertex] = kept_coords[nearest[on_vertex]]
    # junctions: vertices on a kept edge, away from its ends, move to the nearer end
    starts, ends = _kept_segments(kept) if len(kept) else (np.zeros((0, 2)), np.zeros((0, 2)))
    junction = np.zeros(len(unique), dtype=bool)
    rest = np.flatnonzero(~on_vertex)
    if len(rest) and len(starts):
        segments = shapely.linestrings(np.stack([starts, ends], axis=1))
        segment_tree = shapely.STRtree(segments)
        point_at, segment_at = segment_tree.query_nearest(shapely.points(unique[rest]), max_distance=tolerance, all_matches=False)
        if len(point_at):
            rows = rest[point_at]
            a, b = starts[segment_at], ends[segment_at]
            to_a = np.hypot(*(unique[rows] - a).T) <= np.hypot(*(unique[rows] - b).T)
            target[rows] = np.where(to_a[:, None], a, b)
            junction[rows] = True
    _merge_close(target, ~on_vertex & ~junction, tolerance)
    fitted = _mend(redrawn, target[inverse], kept_coords, tolerance)
    if junction.any() and not _sound(fitted).all():
        # a junction move that leaves a polygon invalid is undone for every polygon holding that vertex: the moves
        # ending an edge that passes where GEOS finds the polygon invalid; all of an invalid polygon's when GEOS
        # names no point (an invalidity no junction made, a needle's ends made one, is left to the repair below)
        _, owner = shapely.get_coordinates(redrawn, return_index=True)
        for _ in range(_LOCAL_UNDO):
            invalid = np.flatnonzero(~_sound(fitted))
            moved = np.zeros(len(unique), dtype=bool)
            moved[np.unique(inverse[np.isin(owner, invalid)])] = True
            moved &= junction & (target != unique).any(axis=1)
            if not len(invalid) or not moved.any():
                break
            ends = _ends_at_invalid(fitted[invalid], tolerance)
            undo = moved if ends is None else moved & _among(target, ends)
            if not undo.any():
                break
            target[undo] = unique[undo]
            fitted = _mend(redrawn, target[inverse], kept_coords, tolerance)
    for i in np.flatnonzero(~_sound(fitted)):
        fitted[i] = _repaired(fitted[i], redrawn[i])
    return fitted


#: rounds of junction moves undone where a polygon is invalid
_LOCAL_UNDO = 4
_AT = re.compile(r"\[(\S+) (\S+)\]")


def _ends_at_invalid(geoms: np.ndarray, tolerance: float) -> np.ndarray | None:
    """The vertices of ``geoms`` that can have made each of them invalid where GEOS finds it so: those within
    ``tolerance`` of that point, and the ends of edges passing it away from their ends; None when GEOS names no point
    for one of them."""
    ends = []
    for geom, reason in zip(geoms, shapely.is_valid_reason(geoms)):
        hit = _AT.search(reason or "")
        try:
            point = np.array([float(hit.group(1)), float(hit.group(2))]) if hit else None
        except ValueError:
            point = None
        if point is None or not np.isfinite(point).all():
            return None
        coords, ring = shapely.get_coordinates(shapely.get_rings(geom), return_index=True)
        same = ring[1:] == ring[:-1]
        a, b = coords[:-1][same], coords[1:][same]
        ab = b - a
        t = np.clip(((point - a) * ab).sum(axis=1) / np.maximum((ab * ab).sum(axis=1), 1e-300), 0.0, 1.0)
        through = np.hypot(*(a + t[:, None] * ab - point).T) <= tolerance
        through &= (np.hypot(*(a - point).T) > tolerance) & (np.hypot(*(b - point).T) > tolerance)
        at_point = coords[np.hypot(*(coords - point).T) <= tolerance]
        ends.append(np.vstack([at_point, a[through], b[through]]))
    return np.vstack(ends) if ends else np.zeros((0, 2))


def _among(coords: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether each row of ``coords`` is exactly one of ``points``."""
    wanted = set(map(tuple, points.tolist()))
    return np.fromiter((tuple(c) in wanted for c in coords.tolist()), dtype=bool, count=len(coords))


def _repaired(geom, before):
    """``geom`` made valid, its largest piece, when that keeps the area of ``geom`` or of ``before`` (a collapsed
    sliver of a millimetre is all it loses: the fitted ring touching itself where a needle's ends became one point);
    else ``before`` (the audit then names it)."""
    parts = shapely.get_parts(shapely.make_valid(geom))
    parts = parts[shapely.get_type_id(parts) == 3]
    if len(parts):
        largest = parts[int(np.argmax(shapely.area(parts)))]
        for area in (shapely.area(geom), shapely.area(before)):
            if abs(shapely.area(largest) - area) <= _AREA_KEPT * area:
                return largest
    return before


def _sound(geoms: np.ndarray) -> np.ndarray:
    """Whether each geometry is a valid polygon or multipolygon."""
    return shapely.is_valid(geoms) & np.isin(shapely.get_type_id(geoms), (3, 6))


def _without_slits(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """``geoms`` without holes of no real area (slits left by a dissolve), which the fit would collapse."""
    out = geoms.copy()
    tiny = 1e4 * tolerance * tolerance
    for i, geom in enumerate(geoms):
        parts = shapely.get_parts(geom)
        if not any(len(part.interiors) for part in parts):
            continue
        kept = [shapely.Polygon(part.exterior, [ring for ring in part.interiors if shapely.area(shapely.Polygon(ring)) > tiny]) for part in parts]
        out[i] = kept[0] if shapely.get_type_id(geom) == 3 else shapely.MultiPolygon(kept)
    return out


def _without_needles(geoms: np.ndarray, kept: np.ndarray, tolerance: float) -> np.ndarray:
    """``geoms`` without needles: pieces of a ring that go out and come back to within ``tolerance`` of where they
    left, enclosing no more than a strip ``tolerance`` wide (a spike with a vertex on its way back, a sliver loop
    hanging on a point), and whose vertices lie on no other polygon's boundary (no neighbour shares them).

    A dissolve of cells can leave such a needle where two re-drawn grids meet.  It is valid by a hair, but the fit
    gives its two ends one value and the ring then touches itself.

    Examples
    --------
    >>> import shapely
    >>> square = [(0, 0), (4, 0), (4, 4), (2, 4), (2, 6), (2, 5), (2.0000001, 4), (0, 4)]
    >>> [round(float(shapely.area(g)), 6) for g in _without_needles(np.array([shapely.Polygon(square)]), np.array([]), 1e-6)]
    [16.0]
    >>> int(shapely.get_num_coordinates(_without_needles(np.array([shapely.Polygon(square)]), np.array([]), 1e-6)[0]))
    6
    """
    out = geoms.copy()
    if not len(geoms):
        return out
    boundaries = shapely.boundary(np.concatenate([geoms, kept]))
    tree = shapely.STRtree(boundaries)

    def shared(points: np.ndarray, own: int) -> bool:
        hits = tree.query(shapely.points(points), predicate="dwithin", distance=tolerance)[1]
        return bool((hits != own).any())

    for i, geom in enumerate(geoms):
        parts = shapely.get_parts(geom)
        rebuilt, changed = [], False
        for part in parts:
            rings = []
            for ring in [part.exterior, *part.interiors]:
                coords = _ring_without_needles(shapely.get_coordinates(ring)[:-1], tolerance, functools.partial(shared, own=i))
                changed |= coords is not None
                rings.append(shapely.get_coordinates(ring) if coords is None else np.vstack([coords, coords[:1]]))
            rebuilt.append(shapely.Polygon(rings[0], rings[1:]))
        if changed:
            out[i] = rebuilt[0] if shapely.get_type_id(geom) == 3 else shapely.MultiPolygon(rebuilt)
    return out


def _ring_without_needles(ring: np.ndarray, tolerance: float, shared) -> np.ndarray | None:
    """The open ring ``ring`` without needles (see :func:`_without_needles`), or None when it has none."""
    changed = False
    while len(ring) >= 4:
        n = len(ring)
        pairs = cKDTree(ring).query_pairs(tolerance, output_type="ndarray")
        if not len(pairs):
            break
        doubled = np.vstack([ring, ring])
        length = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(doubled, axis=0).T))])
        low, high = pairs.min(axis=1), pairs.max(axis=1)
        starts, ends = np.concatenate([low, high]), np.concatenate([high, low + n])  # a piece and the rest of the ring
        span = length[ends] - length[starts]
        steps = ends - starts
        candidates = np.flatnonzero((steps >= 2) & (steps <= n - 3) & (span > 4 * tolerance))
        removed = False
        for k in candidates[np.lexsort((starts[candidates], -span[candidates]))]:
            piece = doubled[starts[k] : ends[k] + 1] - doubled[starts[k]]  # about its first vertex: no cancellation
            area = 0.5 * abs(float(np.sum(piece[:-1, 0] * piece[1:, 1] - piece[1:, 0] * piece[:-1, 1])))
            if area > 0.5 * tolerance * span[k]:
                continue
            inner = np.arange(starts[k] + 1, ends[k] + 1) % n  # the far end goes too: it stands where the needle starts
            if not shared(ring[inner[:-1]]):
                ring = np.delete(ring, inner, axis=0)
                removed = changed = True
                break
        if not removed:
            break
    return ring if changed else None


def _merge_close(coords: np.ndarray, free: np.ndarray, tolerance: float) -> None:
    """Give the ``free`` coordinates that lie within ``tolerance`` of each other one value: the smallest of their group (in place)."""
    at = np.flatnonzero(free)
    if len(at) < 2:
        return
    pairs = cKDTree(coords[at]).query_pairs(tolerance, output_type="ndarray")
    if not len(pairs):
        return
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(at), len(at)))
    _, group = connected_components(graph, directed=False)
    first = np.full(group.max() + 1, len(at))
    np.minimum.at(first, group, np.arange(len(at)))  # coordinates are sorted: the first of a group is its smallest
    coords[at] = coords[at[first[group]]]


def _mend(redrawn: np.ndarray, coords: np.ndarray, kept_coords: np.ndarray, tolerance: float) -> np.ndarray:
    """``redrawn`` with new coordinates, repeated points dropped, and every vertex of a kept or another
    re-drawn polygon that lies on one of their edges inserted into it."""
    moved = shapely.remove_repeated_points(shapely.transform(redrawn, lambda _: coords), tolerance=0.0)
    own, owner = shapely.get_coordinates(moved, return_index=True)
    everything = np.vstack([kept_coords, own])
    source = np.concatenate([np.full(len(kept_coords), -1), owner])
    out = np.empty(len(moved), dtype=object)
    bounds = shapely.bounds(moved)
    for i, geom in enumerate(moved):
        x0, y0, x1, y1 = bounds[i]
        near = (
            (everything[:, 0] >= x0 - tolerance) & (everything[:, 0] <= x1 + tolerance)
            & (everything[:, 1] >= y0 - tolerance) & (everything[:, 1] <= y1 + tolerance)
            & (source != i)
        )
        out[i] = shapely.snap(geom, shapely.multipoints(np.unique(everything[near], axis=0)), tolerance) if near.any() else geom
    return out


def meet_exactly(redrawn, kept=(), *, may_touch_kept: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``redrawn`` (and ``kept``) cleaned into a valid coverage when :func:`fit_to_kept` left a seam that does not match.

    The last resort: GEOS's coverage cleaner (``shapely.coverage_clean``, no
    snapping, no gap filling) nodes the polygons and gives each overlap to one
    side.  Its re-drawn polygons are taken when each stays a single valid polygon
    of the same area.  The kept polygons stay as they are; with
    ``may_touch_kept`` a kept polygon with an edge that does not match may take
    its cleaned form too, when that changes its area by no more than a
    millionth (a hook a fraction of a millimetre long where it meets a re-drawn
    grid) — the caller then reports that grid as re-drawn.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The re-drawn and the kept polygons.

    Examples
    --------
    >>> import shapely
    >>> a = shapely.Polygon([(0, 0), (2, 0), (2.000001, 1), (0, 1)])
    >>> b = shapely.Polygon([(2, 0), (4, 0), (4, 1), (2, 1)])  # overlaps a by a sliver
    >>> bool(shapely.coverage_is_valid([a, b]))
    False
    >>> mended, _ = meet_exactly([a, b])
    >>> bool(shapely.coverage_is_valid(mended))
    True
    """
    redrawn = np.asarray(redrawn, dtype=object)
    kept = np.asarray(kept, dtype=object)
    everything = np.concatenate([redrawn, kept])
    if not len(redrawn) or shapely.coverage_is_valid(everything):
        return redrawn, kept
    cleaned = shapely.coverage_clean(everything, snapping_distance=0.0)
    mended, held = cleaned[: len(redrawn)], cleaned[len(redrawn) :]
    area = shapely.area(redrawn)
    if not (_sound(mended) & (shapely.get_type_id(mended) == shapely.get_type_id(redrawn)) & (np.abs(shapely.area(mended) - area) <= 1e-6 * area)).all():
        return redrawn, kept
    if all(shapely.equals_exact(held, kept, tolerance=0.0)):
        return mended, kept
    if not may_touch_kept:
        return redrawn, kept
    edges = shapely.coverage_invalid_edges(everything)[len(redrawn) :]
    unmatched = ~(shapely.is_missing(edges) | shapely.is_empty(edges))
    changed = unmatched & ~shapely.equals_exact(shapely.normalize(held), shapely.normalize(kept), tolerance=0.0)
    touched = kept.copy()
    touched[changed] = held[changed]
    same = _sound(touched) & (shapely.get_type_id(touched) == shapely.get_type_id(kept))
    same &= np.abs(shapely.area(touched) - shapely.area(kept)) <= 1e-6 * shapely.area(kept)
    if not same.all() or not shapely.coverage_is_valid(np.concatenate([mended, touched])):
        return redrawn, kept
    return mended, touched


#: tolerances tried in turn, as multiples of the seam tolerance: two kept vertices closer than the tolerance
#: (a hook a fraction of a millimetre long) make the snapping ambiguous, and a smaller one settles it
_LADDER = (1.0, 0.1, 0.01, 10.0)


def fit_exactly(redrawn, kept, *, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_to_kept` then :func:`meet_exactly`, at the first tolerance of a short ladder that gives a
    valid coverage with ``kept``; failing that, :func:`meet_exactly` may touch a kept polygon (else the
    result at ``tolerance``, which the audit then reports).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The re-drawn polygons, and the kept ones (unchanged but for a kept polygon the last step had to touch:
        compare them with ``kept`` to tell).

    Examples
    --------
    >>> import shapely
    >>> kept = [shapely.box(0, 0, 4, 1)]
    >>> redrawn = [shapely.Polygon([(0, 1), (2.1, 1.0000000001), (2.1, 3), (0, 3)]), shapely.Polygon([(2.1, 1.0000000001), (4, 1), (4, 3), (2.1, 3)])]
    >>> fitted, same = fit_exactly(redrawn, kept, tolerance=1e-6)
    >>> bool(shapely.coverage_is_valid(list(same) + list(fitted))), same[0] is kept[0]
    (True, True)
    """
    kept = np.asarray(kept, dtype=object)
    first = None
    for factor in _LADDER:
        fitted, _ = meet_exactly(fit_to_kept(redrawn, kept, tolerance=tolerance * factor), kept)
        if shapely.coverage_is_valid(np.concatenate([fitted, kept])):
            return fitted, kept
        first = fitted if first is None else first
    return meet_exactly(first, kept, may_touch_kept=True)
