"""GeoJSON text of polygon layers, written column-wise: each distinct geometry once, every number by array arithmetic.

:func:`geometry_texts` gives the GeoJSON geometry objects (text) of an array
of geometries already in EPSG:4326, rounded and oriented: the same text as
shapely's ``to_geojson`` with every number in its shortest form at the given
decimals (``121.4920057``, never ``121.49200570000001``), but without a
Python call per number (the digits four at a time from tables,
:mod:`gridgeo.outputs.numtext`).  Equal geometries share one text
(:func:`distinct_geometries`), so the joint units of a building divided into
several units are written from one computation.

The writer of the files (:func:`gridgeo.outputs.export.write_geojson`) takes
the texts as *pieces* (:func:`lonlat_pieces`): per feature a kind (a whole
text, or the coordinates of a Polygon or of a MultiPolygon) and the bytes of
its body, so a polygon written as a one-part MultiPolygon (``units``) or met
again in a later layer (the footprint of a joint unit) shares the body of
its first writing, and the features are joined as bytes without a text per
feature.

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
from .distinct import group
from .numtext import compact, fraction_words, integer_words, word

__all__ = ["lonlat_texts", "lonlat_pieces", "feature_bytes", "geometry_texts", "distinct_geometries", "trim_numbers"]

#: a decimal number with more than the wanted decimals (the wanted count is filled in)
_LONG_NUMBER = r"-?\d+\.\d{%d,}(?:[eE][-+]?\d+)?"
#: the fast path writes numbers of at most this many decimals (10**precision times a coordinate stays exact in int64)
_MAX_PRECISION = 9
#: Python writes numbers below this size (other than 0) with an exponent (``1e-05``): written by shapely
_MIN_VALUE = 1e-4

#: vertices written at a time (a matrix of about 50 bytes a vertex while they are)
_CHUNK_VERTICES = 400_000

_POLYGON, _MULTIPOLYGON = 3, 6
#: the kinds of a piece: a whole text (shapely's, or ``null``), the coordinates of a Polygon, of a MultiPolygon
WHOLE, POLYGON_BODY, MULTIPOLYGON_BODY = 0, 1, 2
_BODY_OF = {_POLYGON: POLYGON_BODY, _MULTIPOLYGON: MULTIPOLYGON_BODY}
#: what comes before and after the body of each kind in a geometry's text
_HEADS = (b"", b'{"type":"Polygon","coordinates":[[', b'{"type":"MultiPolygon","coordinates":[[[')
_TAILS = (b"", b"]]}", b"]]]}")
#: a feature: its opening (a comma before all but the first), properties, the geometry's head, body and tail, "}"
_OPEN_FIRST, _OPEN_NEXT = b'{"type":"Feature","properties":', b',{"type":"Feature","properties":'
_MIDS = np.array([b',"geometry":' + head for head in _HEADS], dtype=object)
_ENDS = np.array([tail + b"}" for tail in _TAILS], dtype=object)
# what comes before a vertex "[x,y]": the first of a feature (nothing; the head is added per feature), the next
# of the same ring, the first of the next ring of the polygon, the first of the next polygon of a multi-polygon
_FIRST, _NEXT, _NEXT_RING, _NEXT_POLYGON = 0, 1, 2, 3
_JOINS = [b"", b",", b"],[", b"]],[["]


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
    return _texts(*_geometry_pieces(geoms, precision))


def _texts(kinds: np.ndarray, bodies: np.ndarray) -> np.ndarray:
    """The geometry texts (str) of pieces."""
    out = np.empty(len(bodies), dtype=object)
    out[:] = [(_HEADS[k] + body + _TAILS[k]).decode("ascii") for k, body in zip(kinds.tolist(), bodies.tolist())]
    return out


def _geometry_pieces(geoms: np.ndarray, precision: int) -> tuple[np.ndarray, np.ndarray]:
    """The kind (:data:`WHOLE`, :data:`POLYGON_BODY`, :data:`MULTIPOLYGON_BODY`) and body (bytes) of each geometry's text."""
    geoms = np.asarray(geoms, dtype=object)
    kinds = np.zeros(len(geoms), dtype=np.int8)
    bodies = np.empty(len(geoms), dtype=object)
    if not len(geoms):
        return kinds, bodies
    types = shapely.get_type_id(geoms)
    done = np.zeros(len(geoms), dtype=bool)
    if 0 <= precision <= _MAX_PRECISION:
        flat = ~shapely.has_z(geoms)
        for kind in (_POLYGON, _MULTIPOLYGON):
            for rows in _chunks(np.flatnonzero((types == kind) & flat), geoms):
                written, ok = _polygon_bodies(geoms[rows], kind, precision)
                bodies[rows[ok]] = written[ok]
                kinds[rows[ok]] = _BODY_OF[kind]
                done[rows[ok]] = True
    rest = np.flatnonzero(~done)
    if len(rest):
        texts = trim_numbers(shapely.to_geojson(geoms[rest]).astype(object), precision)
        bodies[rest] = [text.encode("ascii") for text in texts]
    return kinds, bodies


def _chunks(rows: np.ndarray, geoms: np.ndarray) -> list[np.ndarray]:
    """``rows`` in consecutive pieces of about :data:`_CHUNK_VERTICES` vertices (the byte matrix of a piece stays small)."""
    if not len(rows):
        return []
    ends = np.cumsum(shapely.get_num_coordinates(geoms[rows]))
    cuts = np.searchsorted(ends, np.arange(_CHUNK_VERTICES, int(ends[-1]), _CHUNK_VERTICES), side="right")
    return [piece for piece in np.split(rows, np.unique(cuts)) if len(piece)]


def _polygon_bodies(geoms: np.ndarray, kind: int, precision: int) -> tuple[np.ndarray, np.ndarray]:
    """The bodies (bytes) of polygons (or of multi-polygons: ``kind``) and which of them the fast path wrote.

    Each vertex becomes one row of 4-byte words (what joins it to the one
    before with ``[`` and the sign of x, x's digits, ``.``, its decimals,
    ``,`` and the sign of y, y's, ``]`` and a line break after the last vertex
    of a feature), the bytes not used zero (:mod:`gridgeo.outputs.numtext`);
    the rows without their zero bytes are every feature's coordinates, one per line.
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
        # finite, written without an exponent, and so fine a double that one number of `precision` decimals is nearest
        # to it (np.spacing(size) * scale < 0.5: below a power of two, :func:`_fine_below`)
        short = (size < _fine_below(precision)) & ((size >= _MIN_VALUE) | (coords == 0))
        ticks = np.rint(coords * scale)
        short &= ticks / scale == coords  # the double nearest to a number of `precision` decimals
        ticks[~short] = 0.0
    ok[vertex_feature[~short.all(axis=1)]] = False
    bodies = np.empty(n, dtype=object)
    keep = ok[vertex_feature]
    if not keep.any():
        return bodies, ok
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
    negative = np.signbit(coords)
    unit = 10**precision
    x_whole, y_whole = (np.abs(ticks[:, i]) // unit for i in (0, 1))
    x_groups, y_groups = (max(1, -(-len(str(int(whole.max()))) // 4)) for whole in (x_whole, y_whole))
    fraction_groups = max(1, -(-precision // 4))
    width = 2 + x_groups + 1 + fraction_groups + 1 + y_groups + 1 + fraction_groups + 1
    words = np.empty((width, len(coords)), dtype=np.uint32)  # a row per word: each written at once, read across at the end
    opening = _openings()  # the join, "[" and x's sign: two words
    choice = starts.astype(np.intp) * 2 + negative[:, 0]
    words[0] = opening[0][choice]
    words[1] = opening[1][choice]
    at = 2
    for i, (whole, groups) in enumerate(((x_whole, x_groups), (y_whole, y_groups))):
        if i:
            words[at] = np.where(negative[:, 1], word(b",-"), word(b","))
            at += 1
        columns = integer_words(whole, groups)
        for column in columns:
            words[at] = column
            at += 1
        words[at] = word(b".")
        at += 1
        for column in fraction_words(np.abs(ticks[:, i]) - whole * unit, precision):
            words[at] = column
            at += 1
    words[at] = np.where(ends, word(b"]\n"), word(b"]"))
    written = compact(words.T).split(b"\n")[:-1]
    if len(written) != int(ok.sum()):  # pragma: no cover - every feature kept ends with one line break
        raise RuntimeError(f"{len(written)} GeoJSON bodies written for {int(ok.sum())} features")
    bodies[np.flatnonzero(ok)] = written
    return bodies, ok


@functools.cache
def _fine_below(precision: int) -> float:
    """The least power of two whose spacing times 10**precision is 0.5 or more: below it, and only there, doubles tell numbers of ``precision`` decimals apart.

    The spacing of doubles grows with their size, one power of two at a time, so
    ``np.spacing(size) * 10**precision < 0.5`` holds exactly for the sizes
    (finite, not NaN) below this bound.

    Examples
    --------
    >>> _fine_below(7), bool(np.spacing(np.nextafter(_fine_below(7), 0)) * 1e7 < 0.5), bool(np.spacing(_fine_below(7)) * 1e7 < 0.5)
    (268435456.0, True, False)
    """
    bound = 2.0**-60
    while np.spacing(bound) * 10.0**precision < 0.5:
        bound *= 2.0
    return bound


@functools.lru_cache(maxsize=1)
def _openings() -> tuple[np.ndarray, np.ndarray]:
    """The two words before x of every (join, sign of x): the join of :data:`_JOINS`, ``[`` and ``-`` when x is negative."""
    texts = [(join + b"[" + sign).ljust(8, b"\0") for join in _JOINS for sign in (b"", b"-")]
    table = np.frombuffer(b"".join(texts), dtype=np.uint32).reshape(-1, 2)
    return np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, 1])


def lonlat_texts(geoms: np.ndarray, crs, precision: int = 7, *, multi: bool = False, known: dict | None = None) -> np.ndarray:
    """The GeoJSON geometry text of each geometry of ``crs``: in EPSG:4326, rounded, exterior rings counter-clockwise.

    Each distinct geometry is reprojected, rounded and written once
    (:func:`distinct_geometries`); missing and empty geometries are ``null``.
    Single geometries are written as multi-geometries where the layer mixes
    both, or always with ``multi`` (as
    :func:`gridgeo.outputs.export.uniform_geometry` makes them).  The texts of
    :func:`lonlat_pieces`, whole.

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
        again, and a single one made multi here shares the coordinates of its
        text.  Filled with the texts of this call's geometries (per CRS and
        precision).

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
    return _texts(*lonlat_pieces(geoms, crs, precision, multi=multi, known=known))


def lonlat_pieces(geoms: np.ndarray, crs, precision: int = 7, *, multi: bool = False, known: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lonlat_texts` as pieces: per geometry the kind of its text and its body (bytes).

    The text of a geometry is ``head + body + tail`` of its kind
    (:data:`WHOLE`: the body is the text; :data:`POLYGON_BODY`,
    :data:`MULTIPOLYGON_BODY`: the body is the coordinates inside a
    Polygon's or a MultiPolygon's text); :func:`feature_bytes` joins pieces
    into features.  A Polygon made a one-part MultiPolygon keeps its body.

    ``known`` maps ``(CRS as WKT, precision)`` to the keys and geometries of
    the distinct geometries written before (:func:`gridgeo.outputs.distinct.group`),
    their kinds and bodies; the geometries of this call are looked up and
    added in one pass.

    Examples
    --------
    >>> g = np.array([shapely.box(0, 0, 1, 1), None], dtype=object)
    >>> kinds, bodies = lonlat_pieces(g, None, multi=True)
    >>> kinds.tolist(), bodies.tolist()
    ([2, 0], [b'[1.0,0.0],[1.0,1.0],[0.0,1.0],[0.0,0.0],[1.0,0.0]', b'null'])
    """
    geoms = np.asarray(geoms, dtype=object)
    kinds = np.zeros(len(geoms), dtype=np.int8)
    bodies = np.full(len(geoms), b"null", dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return kinds, bodies
    given = geoms[present]
    layer = (pyproj.CRS(crs).to_wkt() if crs is not None else None, precision)
    before = known.get(layer) if known is not None else None
    # each distinct geometry written once; one met in an earlier call (layer) keeps the pieces written then
    codes, rows, after = group(given, before[:2] if before is not None else None)
    new_kinds, new_bodies = _lonlat_pieces(given[rows], crs, precision)
    all_kinds = np.concatenate([before[2], new_kinds]) if before is not None else new_kinds
    all_bodies = np.concatenate([before[3], new_bodies]) if before is not None else new_bodies
    if known is not None and after is not None:
        known[layer] = (*after, all_kinds[: len(after[0])], all_bodies[: len(after[0])])
    row_kinds, row_bodies = all_kinds[codes], all_bodies[codes]
    promote = _promoted_kinds(shapely.get_type_id(geoms), multi)
    if promote:
        chosen = np.isin(shapely.get_type_id(given), sorted(promote))
        row_kinds[chosen & (row_kinds == POLYGON_BODY)] = MULTIPOLYGON_BODY  # the same coordinates, one more bracket
        whole = np.flatnonzero(chosen & (row_kinds == WHOLE))
        if len(whole):
            row_bodies[whole] = [_as_multi(body.decode("ascii")).encode("ascii") for body in row_bodies[whole]]
    kinds[present] = row_kinds
    bodies[present] = row_bodies
    return kinds, bodies


def feature_bytes(properties: list[bytes], kinds: np.ndarray, bodies: np.ndarray, *, first: bool) -> bytes:
    """The GeoJSON features of properties (JSON objects, bytes) and geometry pieces, joined by commas.

    ``first``: the block opens the layer (no comma before its first feature).

    Examples
    --------
    >>> kinds, bodies = lonlat_pieces(np.array([shapely.box(0, 0, 1, 1), None], dtype=object), None)
    >>> print(feature_bytes([b'{"n":1}', b"{}"], kinds, bodies, first=True).decode())
    {"type":"Feature","properties":{"n":1},"geometry":{"type":"Polygon","coordinates":[[[1.0,0.0],[1.0,1.0],[0.0,1.0],[0.0,0.0],[1.0,0.0]]]}},{"type":"Feature","properties":{},"geometry":null}
    """
    if not len(bodies):
        return b""
    parts = np.empty((len(bodies), 5), dtype=object)
    parts[:, 0] = _OPEN_NEXT
    if first:
        parts[0, 0] = _OPEN_FIRST
    parts[:, 1] = properties
    parts[:, 2] = _MIDS[kinds]
    parts[:, 3] = bodies
    parts[:, 4] = _ENDS[kinds]
    return b"".join(parts.ravel().tolist())


def _lonlat_pieces(geoms: np.ndarray, crs, precision: int) -> tuple[np.ndarray, np.ndarray]:
    """The pieces of (distinct, present) geometries: reprojected and rounded in one pass, oriented, written."""
    if not len(geoms):
        return np.zeros(0, dtype=np.int8), np.empty(0, dtype=object)
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
    _mend_rounded(rounded, polygonal, precision)
    rounded[polygonal] = shapely.orient_polygons(rounded[polygonal], exterior_cw=False)
    return _geometry_pieces(rounded, precision)


def _mend_rounded(rounded: np.ndarray, polygonal: np.ndarray, precision: int) -> None:
    """Polygons that rounding made invalid, made valid again in place (same type, no area lost).

    Two vertices closer than the rounding (a spike a few millimetres wide, pieces that nearly touch) fall on one
    point: the ring touches or crosses itself, and GIS tools refuse the feature.  Its valid form by structure,
    without the collapsed spikes, is kept when it is of the same type (a polygon stays a polygon; a multi-polygon's
    parts stay its parts) and its area is the same to a square centimetre; its coordinates are rounded again.

    Examples
    --------
    A square with a spike 4 millimetres wide (in degrees: 4e-8), which rounding to 7 decimals folds onto itself:

    >>> spiked = shapely.Polygon([(0, 0), (1e-3, 0), (1e-3, 5e-4), (2e-3, 5e-4), (2e-3, 5.0004e-4 - 1e-12), (1e-3, 5.0004e-4), (1e-3, 1e-3), (0, 1e-3)])
    >>> rounded = np.array([shapely.transform(spiked, lambda xy: np.round(xy, 7))], dtype=object)
    >>> bool(shapely.is_valid(rounded[0]))
    False
    >>> _mend_rounded(rounded, np.array([True]), 7)
    >>> bool(shapely.is_valid(rounded[0])), rounded[0].geom_type
    (True, 'Polygon')
    """
    broken = np.flatnonzero(polygonal & ~shapely.is_valid(rounded))
    if not len(broken):
        return
    mended = shapely.make_valid(rounded[broken], method="structure", keep_collapsed=False)
    mended = shapely.transform(mended, lambda xy: np.round(xy, precision))
    for i, geom in zip(broken.tolist(), mended):
        kind = shapely.get_type_id(rounded[i])
        if kind == _MULTIPOLYGON and shapely.get_type_id(geom) == _POLYGON:
            geom = shapely.MultiPolygon([geom])
        if shapely.get_type_id(geom) != kind or abs(float(shapely.area(geom)) - float(shapely.area(rounded[i]))) > 1e-12:
            continue  # (in degrees, 1e-12 is about a square centimetre)
        rounded[i] = geom


#: single geometry type → its multi type, as uniform_geometry pairs them
_MULTI_OF = {0: 4, 1: 5, 3: 6}


def _promoted_kinds(layer_kinds: np.ndarray, multi: bool) -> set[int]:
    """The single geometry types made multi: those of a layer that also holds their multi type, or all with ``multi``.

    The rule of :func:`gridgeo.outputs.export.uniform_geometry`, decided on the whole layer.
    """
    present = set(np.unique(layer_kinds).tolist())
    return {single for single, several in _MULTI_OF.items() if single in present and (multi or several in present)}


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
