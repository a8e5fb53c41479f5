"""Equal geometries found by a 64-bit key of their coordinates and checked exactly: each distinct geometry written once.

The writers of the GeoJSON layers and of the map convert each distinct
geometry once (the joint units of a building divided into several units
share its footprint): :func:`group` gives every geometry the code of its
distinct geometry.  A geometry's key mixes its type, its number of vertices
and the bits of every coordinate in order (array arithmetic over all
vertices at once, several times cheaper than writing and hashing WKB); two
geometries of one key are the same only when GEOS finds them identical
(``equals_identical``: type, parts, rings and coordinates), and a geometry
that is not goes its own way.  Geometries with Z or M are grouped by their
WKB.  Rows that hold the very same geometry object (the joint units of one
building share its footprint object with the buildings layer) are matched by
identity first, without computing or checking a key.  This module never runs
an algorithm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

__all__ = ["group"]

_MIX = tuple(np.uint64(k) for k in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xFF51AFD7ED558CCD))


def _keys(geoms: np.ndarray) -> np.ndarray:
    """The 64-bit key of each geometry (2D, none missing): its type, vertex count and every coordinate's bits, in order."""
    xy = np.ascontiguousarray(shapely.get_coordinates(geoms))
    counts = shapely.get_num_coordinates(geoms)
    starts = np.cumsum(counts) - counts
    bits = xy.view(np.uint64)
    position = np.arange(len(xy), dtype=np.uint64) - np.repeat(starts.astype(np.uint64), counts)
    with np.errstate(over="ignore"):
        mixed = bits[:, 0] * _MIX[0] + (bits[:, 1] ^ (position * _MIX[2])) * _MIX[1]
        mixed ^= mixed >> np.uint64(31)
        mixed *= _MIX[3]
        keys = np.zeros(len(geoms), dtype=np.uint64)
        some = counts > 0
        if some.any():
            keys[some] = np.add.reduceat(mixed, starts[some])
        keys += counts.astype(np.uint64) * _MIX[2] + shapely.get_type_id(geoms).astype(np.uint64) * _MIX[0]
    return keys


def group(geoms: np.ndarray, before: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The code of each geometry's distinct geometry, counting on from the distinct geometries of ``before``.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        None missing.
    before : (keys, geometries), optional
        The distinct geometries met before (a result's third item): a
        geometry identical to one of them gets its code (below ``len(keys)``).

    Returns
    -------
    codes : ndarray of int64
        Per geometry: below ``len(before[0])`` a geometry met before, else
        ``len(before[0]) + i`` for the ``i``-th of ``rows``.
    rows : ndarray of int64
        The first row of each geometry not met before, in order of its code.
    after : (keys, geometries) or None
        ``before`` with this call's distinct geometries (to pass to the next
        call; their results in the order of the codes), or None when the
        geometries have Z or M (grouped by WKB, shared with no other call).

    Examples
    --------
    >>> a, b = shapely.box(0, 0, 1, 1), shapely.box(0, 0, 2, 1)
    >>> codes, rows, after = group(np.array([a, b, a], dtype=object))
    >>> codes.tolist(), rows.tolist()
    ([0, 1, 0], [0, 1])
    >>> codes, rows, _ = group(np.array([shapely.box(0, 0, 2, 1), shapely.Point(5, 5)], dtype=object), after)
    >>> codes.tolist(), rows.tolist()
    ([1, 2], [1])
    """
    geoms = np.asarray(geoms, dtype=object)
    if shapely.has_z(geoms).any() or shapely.has_m(geoms).any():
        codes, _ = pd.factorize(pd.Series(shapely.to_wkb(geoms), dtype=object))
        shift = len(before[0]) if before is not None else 0  # codes after those of before, none shared
        _, first = np.unique(codes, return_index=True)
        return codes.astype(np.int64) + shift, first.astype(np.int64), None
    known_keys, known_geoms = before if before is not None else (np.zeros(0, dtype=np.uint64), np.empty(0, dtype=object))
    objects, inverse, met = _same_objects(geoms, known_geoms)
    if len(objects) < len(geoms) or (met >= 0).any():  # one object in several rows, or met before: keyed once, or not at all
        codes = np.empty(len(objects), dtype=np.int64)
        codes[met >= 0] = met[met >= 0]
        unmet = np.flatnonzero(met < 0)
        sub_codes, sub_rows, after = _group_keyed(geoms[objects[unmet]], known_keys, known_geoms)
        codes[unmet] = sub_codes
        return codes[inverse], objects[unmet[sub_rows]], after
    return _group_keyed(geoms, known_keys, known_geoms)


def _same_objects(geoms: np.ndarray, known_geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct objects of ``geoms`` (first rows, in order), each row's object, and each object's code before (or -1).

    Objects alive at one time have distinct ids, so equal ids are one object:
    the same geometry without comparing any coordinate.
    """
    ids = np.fromiter(map(id, geoms), dtype=np.int64, count=len(geoms))
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # the objects in the order of their first row
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    objects = first[order]
    met = np.full(len(objects), -1, dtype=np.int64)
    if len(known_geoms) and len(objects):
        known_ids = np.fromiter(map(id, known_geoms), dtype=np.int64, count=len(known_geoms))
        sort = np.argsort(known_ids, kind="stable")
        at = np.minimum(np.searchsorted(known_ids[sort], ids[objects]), len(sort) - 1)
        found = known_ids[sort][at] == ids[objects]
        met[found] = sort[at[found]]
    return objects, rank[inverse.ravel()], met


def _group_keyed(geoms: np.ndarray, known_keys: np.ndarray, known_geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """:func:`group` by keys checked exactly, for geometries (2D) of distinct objects."""
    n = len(known_keys)
    keys = _keys(geoms)
    codes, _ = pd.factorize(np.concatenate([known_keys, keys]))  # the keys before are distinct: their codes are 0..n-1
    codes = codes[n:].astype(np.int64)
    distinct, first = np.unique(codes, return_index=True)
    first_of = np.full(n + len(distinct), -1, dtype=np.int64)
    first_of[distinct] = first
    # every geometry but the first of its key is checked against the first (or the one met before)
    rows = np.arange(len(geoms))
    check = np.flatnonzero(first_of[codes] != rows)
    same = np.zeros(len(check), dtype=bool)
    if len(check):
        earlier = codes[check] < n
        against = np.empty(len(check), dtype=object)
        against[earlier] = known_geoms[codes[check][earlier]]
        against[~earlier] = geoms[first_of[codes[check][~earlier]]]
        same = shapely.equals_identical(geoms[check], against)
    # the distinct geometries of this call: the first of each new key, then each geometry that matched no first
    new = distinct[distinct >= n]
    apart = check[~same]
    firsts = first_of[new]
    renumber = np.full(n + len(distinct), -1, dtype=np.int64)
    renumber[:n] = np.arange(n)
    renumber[new] = n + np.arange(len(new))
    out = renumber[codes]
    out[apart] = n + len(new) + np.arange(len(apart))
    after = (np.concatenate([known_keys, keys[firsts]]), np.concatenate([known_geoms, geoms[firsts]]))
    return out, np.concatenate([firsts, apart]).astype(np.int64), after
