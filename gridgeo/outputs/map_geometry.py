"""Geometry of the map page: simplified, shifted for Gaode when asked, and encoded as integer deltas.

Each geometry is simplified once in metres (:data:`SIMPLIFY_M`), taken to EPSG:4326
(or GCJ-02), and written once into one flat list per layer as micro-degree
deltas from a page-wide origin (:func:`_encode`); joint units refer to their
buildings instead of repeating their footprints (:func:`_unit_refs`).  Used by
:mod:`gridgeo.outputs.map_data`.
"""

from __future__ import annotations

import math
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..inputs.chinacoords import to_gcj02
from ..inputs.crs import WGS84
from .distinct import group
from .map_json import Ints

SIMPLIFY_M = 0.5
DECIMALS = 6
_SCALE = 10**DECIMALS


# --------------------------------------------------------------------------- geometry


def _display_geometry(geoseries: gpd.GeoSeries, metric, gcj: bool, known: dict | None = None) -> np.ndarray:
    """Simplify in metres, convert to EPSG:4326 (and GCJ-02), round to 6 decimals.

    Every step works geometry by geometry, so equal geometries give equal
    results: each distinct geometry is converted once and its result shared
    (:func:`gridgeo.outputs.distinct.group`).  ``known`` carries the results
    over calls, per CRS: the keys and geometries of the distinct geometries
    converted before and their results, looked up and added in one pass.
    """
    if len(geoseries) == 0:
        return np.asarray([], dtype=object)
    known = {} if known is None else known
    crs = str(geoseries.crs)
    geoms = np.asarray(geoseries.array)
    out = np.full(len(geoms), None, dtype=object)
    present = ~shapely.is_missing(geoms)
    if not present.any():
        return out
    given = geoms[present]
    before = known.get(crs)
    codes, rows, after = group(given, before[:2] if before is not None else None)  # distinct geometries, as GeoJSON finds them
    done = _display(given[rows], geoseries.crs, metric, gcj)
    done = np.concatenate([before[2], done]) if before is not None else done
    if after is not None:
        known[crs] = (*after, done[: len(after[0])])
    out[present] = done[codes]
    return out


def _display(geoms: np.ndarray, crs, metric, gcj: bool) -> np.ndarray:
    """The display geometries of (distinct, present) geometries of ``crs``: simplified in ``metric``, in EPSG:4326 (GCJ-02), rounded."""
    if not len(geoms):
        return np.empty(0, dtype=object)
    g = gpd.GeoSeries(geoms, crs=crs).to_crs(metric)
    simplified = _simplify(np.asarray(g.array))
    if gcj or shapely.has_z(simplified).any():  # GCJ-02 between the two steps; 3D coordinates as GeoPandas takes them
        g = gpd.GeoSeries(simplified, crs=metric).to_crs(4326)
        if gcj:
            g = to_gcj02(g)
        return shapely.transform(np.asarray(g.array), lambda c: np.round(c, DECIMALS))
    if pyproj.CRS.from_user_input(metric).is_exact_same(WGS84):
        return shapely.transform(simplified, lambda c: np.round(c, DECIMALS))
    # to EPSG:4326 and rounded in one pass over the coordinates: GeoPandas' to_crs (the same transformer) and the rounding
    transformer = pyproj.Transformer.from_crs(metric, WGS84, always_xy=True)

    def to_lonlat(xy):
        lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([lon, lat]), DECIMALS)

    return shapely.transform(simplified, to_lonlat)


def _simplify(geoms: np.ndarray) -> np.ndarray:
    """Douglas-Peucker at :data:`SIMPLIFY_M` metres; where that empties a geometry, the topology-preserving simplification.

    The plain simplification is several times faster and gives the same
    result on nearly every footprint and grid; the page draws with the
    even-odd rule, so a ring that touches itself after it is still drawn right.
    """
    out = shapely.simplify(geoms, SIMPLIFY_M, preserve_topology=False)
    bad = (shapely.is_missing(out) | shapely.is_empty(out)) & ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if bad.any():
        out[bad] = shapely.simplify(geoms[bad], SIMPLIFY_M, preserve_topology=True)
    return out


def _finite_boxes(arrays) -> np.ndarray | None:
    """The bounding boxes (minx, miny, maxx, maxy) of every non-empty geometry of ``arrays``; None without any."""
    boxes = []
    for geoms in arrays:
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms):
            b = shapely.bounds(geoms)
            b = b[np.isfinite(b).all(axis=1)]
            if len(b):
                boxes.append(b)
    return np.vstack(boxes) if boxes else None


def _origin(*arrays: np.ndarray) -> tuple[int, int]:
    """The lower left corner of all the display geometries, in micro-degrees."""
    b = _finite_boxes(arrays)
    if b is None:
        return 0, 0
    lo = b[:, :2].min(axis=0)
    return int(math.floor(lo[0] * _SCALE)), int(math.floor(lo[1] * _SCALE))


def _encode(geoms: np.ndarray, origin: tuple[int, int]) -> dict:
    """The geometries as flat integer lists (see the module docstring), in one vectorised pass.

    ``n[i]`` parts of feature ``i`` (0 when missing or empty), ``r[j]`` rings of
    part ``j`` (a line or a point is one ring), ``v[k]`` vertices of ring ``k``
    (a polygon ring without its closing vertex), ``xy`` the vertices as
    micro-degree deltas from the previous vertex (the first from ``origin``).

    Examples
    --------
    >>> import shapely
    >>> g = np.array([shapely.box(0, 0, 1e-6, 2e-6), None, shapely.Point(3e-6, 3e-6)], dtype=object)
    >>> _encode(g, (0, 0))
    {'n': [1, 0, 1], 'r': [1, 1], 'v': [4, 1], 'xy': [1, 0, 0, 2, -1, 0, 0, -2, 3, 3]}
    """
    geoms = np.array(geoms, dtype=object)
    n = len(geoms)
    if n == 0:
        return {"n": [], "r": [], "v": [], "xy": []}
    polygons = _encode_polygons(geoms, origin)
    if polygons is not None:
        return polygons
    every, owner = shapely.get_coordinates(geoms, return_index=True)
    geoms[np.unique(owner[~np.isfinite(every).all(axis=1)])] = None  # a geometry with a non-finite coordinate draws nothing
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    keep = ~shapely.is_empty(parts) & (shapely.get_type_id(parts) >= 0)
    parts, part_of = parts[keep], part_of[keep]
    part_type = shapely.get_type_id(parts)
    polygon = part_type == 3
    rings, ring_of = shapely.get_rings(parts[polygon], return_index=True)
    leaf_part = np.concatenate([np.flatnonzero(polygon)[ring_of], np.flatnonzero(~polygon)])
    leaves = np.concatenate([rings, parts[~polygon]])
    order = np.argsort(leaf_part, kind="stable")
    leaves, leaf_part = leaves[order], leaf_part[order]
    coords, coord_leaf = shapely.get_coordinates(leaves, return_index=True)
    # polygon rings without their closing vertex
    closed = shapely.get_type_id(leaves) == 2
    last = np.searchsorted(coord_leaf, np.arange(len(leaves)), side="right") - 1
    drop = np.zeros(len(coords), dtype=bool)
    has = np.bincount(coord_leaf, minlength=len(leaves)) > 1
    drop[last[closed & has]] = True
    coords, coord_leaf = coords[~drop], coord_leaf[~drop]
    ints = np.rint(coords * _SCALE).astype(np.int64) - np.asarray(origin, dtype=np.int64)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return {  # lists that keep their arrays: the page's JSON writes them at once (gridgeo.outputs.map_json)
        "n": Ints(np.bincount(part_of, minlength=n)),
        "r": Ints(np.bincount(leaf_part, minlength=len(parts))),
        "v": Ints(np.bincount(coord_leaf, minlength=len(leaves))),
        "xy": Ints(deltas),
    }


def _encode_polygons(geoms: np.ndarray, origin: tuple[int, int]) -> dict | None:
    """:func:`_encode` of a layer of polygons and multi-polygons (some missing or empty) from one ragged array; None for any other layer.

    The same lists as the general way (parts, rings, then vertices taken one
    level at a time), from the offsets of :func:`shapely.to_ragged_array`:
    empty polygons have no part, rings leave out their closing vertex.  A
    layer with other geometries or a coordinate that is not finite is left to
    the general way.

    Examples
    --------
    >>> import shapely
    >>> g = np.array([shapely.box(0, 0, 1e-6, 2e-6), None, shapely.Polygon()], dtype=object)
    >>> _encode_polygons(g, (0, 0)) == _encode(np.array([g[0], None, None], dtype=object), (0, 0))
    True
    """
    present = ~shapely.is_missing(geoms)
    if not present.any() or not np.isin(shapely.get_type_id(geoms[present]), (3, 6)).all():
        return None
    _, coords, offsets = shapely.to_ragged_array(np.where(present, geoms, shapely.MultiPolygon()), include_z=False)
    ring_offsets, polygon_rings = offsets[:2]
    feature_polygons = offsets[2] if len(offsets) == 3 else np.arange(len(geoms) + 1)  # polygons only: one each
    if not np.isfinite(coords).all():
        return None
    ring_sizes = np.diff(ring_offsets)
    rings_of_polygon = np.diff(polygon_rings)
    part_of = np.repeat(np.arange(len(geoms)), np.diff(feature_polygons))
    parts = rings_of_polygon > 0  # an empty polygon is no part
    # polygon rings without their closing vertex (a ring of one vertex keeps it)
    closing = ring_offsets[1:][ring_sizes > 1] - 1
    keep = np.ones(len(coords), dtype=bool)
    keep[closing] = False
    ints = np.rint(coords[keep] * _SCALE).astype(np.int64) - np.asarray(origin, dtype=np.int64)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return {
        "n": Ints(np.bincount(part_of[parts], minlength=len(geoms))),
        "r": Ints(rings_of_polygon[parts]),
        "v": Ints(np.where(ring_sizes > 1, ring_sizes - 1, ring_sizes)),
        "xy": Ints(deltas),
    }


def _label_points(geoms: np.ndarray, origin: tuple[int, int]) -> list[int]:
    """A point inside each geometry (its centroid when inside, else a representative point), flat micro-degree x, y from ``origin``."""
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return []
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    safe = np.where(empty, shapely.Point(0, 0), geoms)
    centre = shapely.centroid(safe)
    inside = shapely.contains_properly(safe, centre)
    point = np.where(inside, centre, shapely.point_on_surface(safe))
    xy = np.rint(shapely.get_coordinates(point) * _SCALE).astype(np.int64) - np.asarray(origin, dtype=np.int64)
    return Ints(xy)


def _bounds(*arrays: np.ndarray) -> list[list[float]] | None:
    b = _finite_boxes(arrays)
    if b is None:
        return None
    return [[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]]


def _unit_refs(members: list, building_codes: list) -> tuple[list[int], list[int], np.ndarray]:
    """Which buildings make each joint unit, from its ``members`` (``"code:1-5;code:6-11"``).

    Returns the number of buildings per unit, the flat building indices (in the
    order of the members), and a mask of the units that keep their own
    geometry (no ``members``, or a member that is not a building of the result).

    Examples
    --------
    >>> _unit_refs(["B1:1-5;B2:1-6", "B2:7-12", None, "B9:1-3"], ["B1", "B2"])
    ([2, 1, 0, 0], [0, 1, 1], array([False, False,  True,  True]))
    """
    n = len(members)
    texts = [t if isinstance(t, str) and "\n" not in t else "" for t in members]
    # the building codes of every unit, in C: the ranges cut off, one line per unit, members split on ';'
    text = re.sub(r":[^;\n]*", "", "\n".join(texts)) if n else ""
    # the members of each unit: its ';' plus one, none for an empty line (counted on the bytes, all at once)
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    breaks = np.flatnonzero(raw == ord("\n"))
    empty = np.concatenate([breaks, [len(raw)]]) == np.concatenate([[0], breaks + 1]) if n else np.zeros(0, dtype=bool)
    counts = np.bincount(np.searchsorted(breaks, np.flatnonzero(raw == ord(";"))), minlength=n) + 1
    counts[empty] = 0
    flat = ";".join(filter(None, text.split("\n"))).split(";") if counts.sum() else []
    codes = pd.Index([str(c) for c in building_codes])
    if not codes.is_unique:
        codes = codes.where(~codes.duplicated(), None)  # the first building of a code
    found = codes.get_indexer(flat) if flat else np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(n), counts)
    own = counts == 0
    own[owner[found < 0]] = True
    keep = ~own[owner]
    pairs = pd.DataFrame({"u": owner[keep], "b": found[keep]})
    pairs = pairs[~pairs.duplicated()]  # a building named twice in a unit counts once
    return Ints(np.bincount(pairs["u"].to_numpy(), minlength=n)), Ints(pairs["b"].to_numpy()), own
