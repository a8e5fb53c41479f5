"""GeoJSON text of polygon layers, written column-wise: each distinct geometry once, every number by array arithmetic.

:func:`geometry_texts` gives the GeoJSON geometry objects (text) of an array
of geometries already in EPSG:4326, rounded and oriented: the same text as
shapely's ``to_geojson`` with every number in its shortest form at the given
decimals (``121.4920057``, never ``121.49200570000001``), but without a
Python call per number.  Equal geometries share one text
(:func:`distinct_geometries`), so the joint units of a building divided into
several units are written from one computation.

The fast path covers what the layers of a partition hold: polygons and
multi-polygons in two dimensions, coordinates already rounded to ``precision``
decimals, at least 0.0001 in size (or 0) and small enough that a double
tells numbers of ``precision`` decimals apart (below 2 × 10^8 at 7 decimals).  Everything else
(points, lines, collections, Z, empty parts, other numbers) goes through
shapely's writer and a textual rewrite of the long numbers, which gives the
same text for the geometries the fast path covers.  Used by
:func:`gridgeo.outputs.export.write_geojson`.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
import pyproj
import shapely

from ..inputs.crs import WGS84

__all__ = ["lonlat_texts", "geometry_texts", "distinct_geometries", "trim_numbers"]

#: a decimal number with more than the wanted decimals (the wanted count is filled in)
_LONG_NUMBER = r"-?\d+\.\d{%d,}(?:[eE][-+]?\d+)?"
#: the fast path writes numbers of at most this many decimals (10**precision times a coordinate stays exact in int64)
_MAX_PRECISION = 9
#: Python writes numbers below this size (other than 0) with an exponent (``1e-05``): written by shapely
_MIN_VALUE = 1e-4

#: vertices written at a time (a byte matrix of about 70 bytes a vertex while they are)
_CHUNK_VERTICES = 400_000

_POLYGON, _MULTIPOLYGON = 3, 6
_HEADS = {_POLYGON: ('{"type":"Polygon","coordinates":[[', "]]}"), _MULTIPOLYGON: ('{"type":"MultiPolygon","coordinates":[[[', "]]]}")}
# what comes before a vertex "[x,y]": the first of a feature (nothing; the head is added per feature), the next
# of the same ring, the first of the next ring of the polygon, the first of the next polygon of a multi-polygon
_FIRST, _NEXT, _NEXT_RING, _NEXT_POLYGON = 0, 1, 2, 3
_JOINS = ["", ",", "],[", "]],[["]
_JOIN_WIDTH = max(len(j) for j in _JOINS)


def trim_numbers(texts: np.ndarray, precision: int) -> np.ndarray:
    """GeoJSON geometry texts with every number written in its shortest form at ``precision`` decimals.

    GEOS writes some coordinates rounded to 7 decimals with 17 significant
    digits (``43.748370799999996``); they are rewritten as the shortest text
    of the same double rounded (``43.7483708``).  Geometry texts hold no
    strings but type names, so only numbers match.

    Parameters
    ----------
    texts : ndarray of str (object)
        GeoJSON geometry texts (shapely's ``to_geojson``).
    precision : int
        Decimals to keep.

    Returns
    -------
    ndarray of str (object)

    Examples
    --------
    >>> trim_numbers(np.array(['{"coordinates":[43.748370799999996,7.5]}'], dtype=object), 7).tolist()
    ['{"coordinates":[43.7483708,7.5]}']
    """
    if not len(texts):
        return texts
    pattern = re.compile(_LONG_NUMBER % (precision + 1))
    joined = pattern.sub(lambda m: repr(round(float(m.group()), precision)), "\n".join(texts))
    return np.array(joined.split("\n"), dtype=object)


def distinct_geometries(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct geometries of ``geoms`` (equal WKB: the same type and the same coordinates) and where each row's is.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        Without missing values.

    Returns
    -------
    unique : ndarray of shapely geometries
        The first geometry of each kind, in order of first appearance.
    codes : ndarray of int
        ``unique[codes]`` has the geometries of ``geoms``.

    Examples
    --------
    >>> g = np.array([shapely.box(0, 0, 1, 1), shapely.Point(1, 2), shapely.box(0, 0, 1, 1)], dtype=object)
    >>> unique, codes = distinct_geometries(g)
    >>> len(unique), codes.tolist()
    (2, [0, 1, 0])
    """
    unique, codes, _ = _distinct(geoms)
    return unique, codes


def _distinct(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """:func:`distinct_geometries`, and the WKB of each distinct geometry."""
    if not len(geoms):
        return geoms, np.zeros(0, dtype=np.int64), []
    keys, wkb = pd.factorize(pd.Series(shapely.to_wkb(geoms), dtype=object))
    _, first = np.unique(keys, return_index=True)  # the first row of each (codes count from 0 in order of appearance)
    return geoms[first], keys.astype(np.int64), list(wkb)


def geometry_texts(geoms: np.ndarray, precision: int = 7) -> np.ndarray:
    """The GeoJSON text of each geometry, numbers in their shortest form at ``precision`` decimals.

    The geometries are written as they are (already in EPSG:4326, rounded to
    ``precision`` decimals and oriented); the text equals
    ``trim_numbers(shapely.to_geojson(geoms), precision)``.  Polygons and
    multi-polygons are written with array arithmetic (every vertex at once),
    anything else by shapely.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        Without missing or empty geometries.
    precision : int, default 7
        Decimals of the coordinates.

    Returns
    -------
    ndarray of str (object)

    Examples
    --------
    >>> g = np.array([shapely.box(121.4920057, 25.05, 121.5, 25.0500012), shapely.Point(1.5, 2)], dtype=object)
    >>> geometry_texts(g).tolist()[0]
    '{"type":"Polygon","coordinates":[[[121.5,25.05],[121.5,25.0500012],[121.4920057,25.0500012],[121.4920057,25.05],[121.5,25.05]]]}'
    >>> geometry_texts(g).tolist()[1]
    '{"type":"Point","coordinates":[1.5,2.0]}'
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.empty(len(geoms), dtype=object)
    if not len(geoms):
        return out
    kinds = shapely.get_type_id(geoms)
    done = np.zeros(len(geoms), dtype=bool)
    if 0 <= precision <= _MAX_PRECISION:
        flat = ~shapely.has_z(geoms)
        for kind in (_POLYGON, _MULTIPOLYGON):
            for rows in _chunks(np.flatnonzero((kinds == kind) & flat), geoms):
                texts, ok = _polygon_texts(geoms[rows], kind, precision)
                out[rows[ok]] = texts[ok]
                done[rows[ok]] = True
    rest = np.flatnonzero(~done)
    if len(rest):
        out[rest] = trim_numbers(shapely.to_geojson(geoms[rest]).astype(object), precision)
    return out


def _chunks(rows: np.ndarray, geoms: np.ndarray) -> list[np.ndarray]:
    """``rows`` in consecutive pieces of about :data:`_CHUNK_VERTICES` vertices (the byte matrix of a piece stays small)."""
    if not len(rows):
        return []
    ends = np.cumsum(shapely.get_num_coordinates(geoms[rows]))
    cuts = np.searchsorted(ends, np.arange(_CHUNK_VERTICES, int(ends[-1]), _CHUNK_VERTICES), side="right")
    return [piece for piece in np.split(rows, np.unique(cuts)) if len(piece)]


def _polygon_texts(geoms: np.ndarray, kind: int, precision: int) -> tuple[np.ndarray, np.ndarray]:
    """The texts of polygons (or of multi-polygons: ``kind``) and which of them the fast path wrote.

    Each vertex becomes one row of a byte matrix (what joins it to the one
    before, ``[``, x, ``,``, y, ``]``, and a line break after the last vertex
    of a feature) with a mask of the bytes in use; the masked bytes, read row
    by row, are every feature's coordinates, one per line.
    """
    _, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    if kind == _POLYGON:
        ring_offsets, polygon_rings = offsets
        feature_polygons = np.arange(len(geoms) + 1)
    else:
        ring_offsets, polygon_rings, feature_polygons = offsets
    n = len(geoms)
    ring_sizes = np.diff(ring_offsets)
    polygon_sizes = np.diff(polygon_rings)
    feature_sizes = np.diff(feature_polygons)
    # what the fast path writes: every part has rings, every ring vertices, every number a short text
    ok = feature_sizes > 0
    polygon_of_ring = np.repeat(np.arange(len(polygon_sizes)), polygon_sizes)
    feature_of_polygon = np.repeat(np.arange(n), feature_sizes)
    ok[feature_of_polygon[polygon_sizes == 0]] = False
    ok[feature_of_polygon[polygon_of_ring[ring_sizes == 0]]] = False
    vertex_feature = feature_of_polygon[polygon_of_ring[np.repeat(np.arange(len(ring_sizes)), ring_sizes)]]
    scale = 10.0**precision
    with np.errstate(invalid="ignore", over="ignore"):
        size = np.abs(coords)
        # finite, written without an exponent, and so fine a double that one number of `precision` decimals is nearest to it
        short = np.isfinite(coords) & (np.spacing(size) * scale < 0.5) & ((size >= _MIN_VALUE) | (coords == 0))
        ticks = np.where(short, np.rint(coords * scale), 0.0)
        short &= ticks / scale == coords  # the double nearest to a number of `precision` decimals
    ok[vertex_feature[~short.all(axis=1)]] = False
    texts = np.empty(n, dtype=object)
    keep = ok[vertex_feature]
    if not keep.any():
        return texts, ok
    coords, ticks = coords[keep], ticks[keep].astype(np.int64)
    ring_starts = ring_offsets[:-1][ring_sizes > 0]
    polygon_starts = ring_offsets[polygon_rings[:-1][polygon_sizes > 0]]
    feature_starts = ring_offsets[polygon_rings[feature_polygons[:-1][feature_sizes > 0]]]
    # a feature's vertices are kept or left out together; the marks of a feature left out that fall on the next
    # feature's first vertex are overwritten by its own (feature starts are marked last)
    marks = np.zeros(len(keep), dtype=np.int8) + _NEXT
    marks[ring_starts] = _NEXT_RING
    marks[polygon_starts] = _NEXT_POLYGON
    marks[feature_starts] = _FIRST
    starts = marks[keep]
    ends = np.zeros(len(keep), dtype=bool)
    ends[np.concatenate([feature_starts[1:], [len(keep)]]) - 1] = True
    ends = ends[keep]
    rows = len(coords)
    x_width, y_width = (_number_width(ticks[:, i], precision) for i in (0, 1))
    # the columns of a row: join, "[", x, ",", y, "]", line break
    x_at = _JOIN_WIDTH + 1
    y_at = x_at + x_width + 1
    width = y_at + y_width + 2
    matrix = np.empty((rows, width), dtype=np.uint8)
    mask = np.ones((rows, width), dtype=bool)
    join_bytes, join_mask = _joins()
    matrix[:, :_JOIN_WIDTH] = join_bytes[starts]
    mask[:, :_JOIN_WIDTH] = join_mask[starts]
    matrix[:, x_at - 1] = ord("[")
    _number_bytes(coords[:, 0], ticks[:, 0], precision, matrix[:, x_at : x_at + x_width], mask[:, x_at : x_at + x_width])
    matrix[:, y_at - 1] = ord(",")
    _number_bytes(coords[:, 1], ticks[:, 1], precision, matrix[:, y_at : y_at + y_width], mask[:, y_at : y_at + y_width])
    matrix[:, -2] = ord("]")
    matrix[:, -1] = ord("\n")
    mask[:, -1] = ends
    bodies = matrix[mask].tobytes().decode("ascii").split("\n")[:-1]
    head, tail = _HEADS[kind]
    texts[np.flatnonzero(ok)] = [head + body + tail for body in bodies]
    return texts, ok


@functools.lru_cache(maxsize=1)
def _joins() -> tuple[np.ndarray, np.ndarray]:
    """The bytes of each join (:data:`_JOINS`), left-aligned in :data:`_JOIN_WIDTH` columns, and their mask."""
    join_bytes = np.zeros((len(_JOINS), _JOIN_WIDTH), dtype=np.uint8)
    join_mask = np.zeros((len(_JOINS), _JOIN_WIDTH), dtype=bool)
    for i, join in enumerate(_JOINS):
        join_bytes[i, : len(join)] = np.frombuffer(join.encode("ascii"), dtype=np.uint8)
        join_mask[i, : len(join)] = True
    return join_bytes, join_mask


@functools.lru_cache(maxsize=1)
def _digits4() -> np.ndarray:
    """The four digits of every number 0-9999, zero-padded, as bytes (a 10,000 × 4 table)."""
    numbers = np.arange(10_000)
    return (np.stack([numbers // 1000, numbers // 100 % 10, numbers // 10 % 10, numbers % 10], axis=1) + ord("0")).astype(np.uint8)


def _whole_digits(ticks: np.ndarray, precision: int) -> int:
    """The most integer digits of any of the numbers (``ticks`` / 10**precision), at least one."""
    largest = int(np.abs(ticks).max()) // 10**precision if len(ticks) else 0
    return len(str(largest))


def _number_width(ticks: np.ndarray, precision: int) -> int:
    """The columns of the numbers' texts: a sign, the integer digits, a point and ``precision`` decimals (at least one)."""
    return 1 + _whole_digits(ticks, precision) + 1 + max(precision, 1)


def _digit_columns(numbers: np.ndarray, width: int) -> np.ndarray:
    """The decimal digits of non-negative integers, zero-padded to ``width`` columns, as bytes (four at a time by table)."""
    groups = -(-width // 4)
    out = np.empty((len(numbers), 4 * groups), dtype=np.uint8)
    rest = numbers
    table = _digits4()
    for group in range(groups - 1, -1, -1):
        out[:, 4 * group : 4 * group + 4] = table[rest % 10_000]
        rest = rest // 10_000
    return out[:, 4 * groups - width :]


def _number_bytes(values: np.ndarray, ticks: np.ndarray, precision: int, matrix: np.ndarray, mask: np.ndarray) -> None:
    """Write the shortest text of each number into the rows of a byte ``matrix`` with the ``mask`` of the bytes in use.

    ``ticks`` are ``values`` × 10**precision (exact integers); ``matrix`` has
    :func:`_number_width` columns.  A number is its sign, its integer digits
    without leading zeros (at least one), a point and its decimals without
    trailing zeros (at least one): what Python's ``repr`` writes for a double
    that is the nearest to a number of at most ``precision`` decimals and at
    least 0.0001 in size (or 0).

    Examples
    --------
    >>> ticks = np.array([1215000, -2500, 30000, 0])
    >>> b = np.empty((4, _number_width(ticks, 4)), dtype=np.uint8)
    >>> m = np.ones(b.shape, dtype=bool)
    >>> _number_bytes(np.array([121.5, -0.25, 3.0, -0.0]), ticks, 4, b, m)
    >>> [bytes(row[keep]).decode() for row, keep in zip(b, m)]
    ['121.5', '-0.25', '3.0', '-0.0']
    """
    size = np.abs(ticks)
    unit = 10**precision
    whole, fraction = size // unit, size % unit
    digits = _whole_digits(ticks, precision)
    decimals = max(precision, 1)
    matrix[:, 0] = ord("-")
    mask[:, 0] = np.signbit(values)
    matrix[:, 1 : 1 + digits] = _digit_columns(whole, digits)
    shown = np.ones(len(values), dtype=np.int64)  # integer digits shown: no leading zeros, at least one
    for power in range(1, digits):
        shown += whole >= 10**power
    mask[:, 1 : 1 + digits] = np.arange(digits) >= (digits - shown)[:, None]
    matrix[:, 1 + digits] = ord(".")
    mask[:, 1 + digits] = True
    matrix[:, 2 + digits :] = _digit_columns(fraction, decimals) if precision else ord("0")
    zeros = np.zeros(len(values), dtype=np.int64)  # trailing zeros of the decimals, all but one when there are only zeros
    for power in range(1, decimals):
        zeros += fraction % 10**power == 0
    mask[:, 2 + digits :] = np.arange(decimals) < (decimals - zeros)[:, None]


def lonlat_texts(geoms: np.ndarray, crs, precision: int = 7, *, multi: bool = False, known: dict | None = None) -> np.ndarray:
    """The GeoJSON geometry text of each geometry of ``crs``: in EPSG:4326, rounded, exterior rings counter-clockwise.

    Each distinct geometry is reprojected, rounded and written once
    (:func:`distinct_geometries`); missing and empty geometries are ``null``.
    Single geometries are written as multi-geometries where the layer mixes
    both, or always with ``multi`` (as
    :func:`gridgeo.outputs.export.uniform_geometry` makes them).

    Parameters
    ----------
    geoms : ndarray of shapely geometries
    crs : pyproj.CRS or None
        The CRS of ``geoms`` (None: already longitude and latitude).
    precision : int, default 7
        Decimals of the coordinates.
    multi : bool, default False
        Write every single geometry as a multi-geometry.
    known : dict, optional
        Texts written before, shared between calls (layers): a geometry met
        again (the footprint of a joint unit of one building) is not written
        again, and a single one made multi here is the multi-geometry of its
        text.  Filled with the texts of this call's geometries.

    Returns
    -------
    ndarray of str (object)

    Examples
    --------
    >>> g = np.array([shapely.Point(500000, 0), None, shapely.Point(500000, 0)], dtype=object)
    >>> lonlat_texts(g, "EPSG:32651").tolist()
    ['{"type":"Point","coordinates":[123.0,0.0]}', 'null', '{"type":"Point","coordinates":[123.0,0.0]}']
    >>> known = {}
    >>> lonlat_texts(g[:1], "EPSG:32651", known=known) is not None and len(known)
    1
    >>> lonlat_texts(g[:1], "EPSG:32651", multi=True, known=known).tolist()
    ['{"type":"MultiPoint","coordinates":[[123.0,0.0]]}']
    """
    geoms = np.asarray(geoms, dtype=object)
    texts = np.full(len(geoms), "null", dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return texts
    unique, codes, keys = _distinct(geoms[present])
    promote = _promoted_kinds(shapely.get_type_id(geoms), multi)
    kinds = shapely.get_type_id(unique)
    unique_texts = np.empty(len(unique), dtype=object)
    todo = np.ones(len(unique), dtype=bool)
    layer = (pyproj.CRS(crs).to_wkt() if crs is not None else None, precision)
    if known:
        for i, (key, kind) in enumerate(zip(keys, kinds.tolist())):
            text = known.get((layer, key))
            if text is not None:
                unique_texts[i] = _as_multi(text) if kind in promote else text
                todo[i] = False
    if todo.any():
        rows = np.flatnonzero(todo)
        written = _lonlat_texts(_promoted(unique[rows], promote), crs, precision)
        unique_texts[rows] = written
        if known is not None:
            for i, text in zip(rows.tolist(), written.tolist()):
                if kinds[i] not in promote:  # the text of the geometry as given
                    known[(layer, keys[i])] = text
    texts[present] = unique_texts[codes]
    return texts


def _lonlat_texts(geoms: np.ndarray, crs, precision: int) -> np.ndarray:
    """The texts of (distinct, present) geometries: reprojected and rounded in one pass, oriented, written."""
    if crs is not None and pyproj.CRS(crs) != WGS84:
        # reprojected and rounded in one pass over the coordinates (what to_crs(4326) computes)
        transformer = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)

        def to_lonlat(xy):
            lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
            return np.round(np.column_stack([lon, lat]), precision)

        rounded = shapely.transform(geoms, to_lonlat)
    else:
        rounded = shapely.transform(geoms, lambda xy: np.round(xy, precision))
    # RFC 7946: exterior rings counter-clockwise
    polygonal = np.isin(shapely.get_type_id(geoms), (_POLYGON, _MULTIPOLYGON))
    rounded[polygonal] = shapely.orient_polygons(rounded[polygonal], exterior_cw=False)
    return geometry_texts(rounded, precision)


#: single geometry type → (its multi type, the function making it), as uniform_geometry pairs them
_MULTI_OF = {0: (4, shapely.multipoints), 1: (5, shapely.multilinestrings), 3: (6, shapely.multipolygons)}


def _promoted_kinds(layer_kinds: np.ndarray, multi: bool) -> set[int]:
    """The single geometry types made multi: those of a layer that also holds their multi type, or all with ``multi``.

    The rule of :func:`gridgeo.outputs.export.uniform_geometry`, decided on the whole layer.
    """
    present = set(np.unique(layer_kinds).tolist())
    return {single for single, (several, _) in _MULTI_OF.items() if single in present and (multi or several in present)}


def _promoted(geoms: np.ndarray, promote: set[int]) -> np.ndarray:
    """``geoms`` with the single geometries of the types ``promote`` made one-part multi-geometries."""
    if not promote:
        return geoms
    kinds = shapely.get_type_id(geoms)
    out = geoms
    for single in sorted(promote):
        chosen = kinds == single
        if chosen.any():
            out = geoms.copy() if out is geoms else out
            out[chosen] = _MULTI_OF[single][1](geoms[chosen], indices=np.arange(int(chosen.sum())))
    return out


def _as_multi(text: str) -> str:
    """The text of the one-part multi-geometry of a single geometry's text.

    Examples
    --------
    >>> _as_multi('{"type":"Polygon","coordinates":[[[0.0,0.0],[1.0,0.0],[0.0,1.0],[0.0,0.0]]]}')
    '{"type":"MultiPolygon","coordinates":[[[[0.0,0.0],[1.0,0.0],[0.0,1.0],[0.0,0.0]]]]}'
    """
    head = '{"type":"'
    kind, rest = text[len(head) :].split('","coordinates":', 1)
    return f'{head}Multi{kind}","coordinates":[{rest[:-1]}]}}'
