"""Array helpers shared by the tessellation, the cell graph, the input checks and the output order.

``numpy.unique(..., axis=0)`` sorts rows through a structured view and is slow
on the millions of coordinate rows a city produces; :func:`group_rows` gives the
same grouping with one ``lexsort``.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["group_rows", "positions_by_value", "geometry_order", "outline_keys", "outline_groups", "on_threads"]


def group_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort the rows of ``keys`` and number the groups of equal rows.

    Parameters
    ----------
    keys : ndarray, shape (n, m)
        Rows to group (exact equality; normalise ``-0.0`` and round first if needed; no NaN).

    Returns
    -------
    order : ndarray of int, shape (n,)
        A stable sort of the rows: equal rows are consecutive, in input order.
    group : ndarray of int, shape (n,)
        The group number of ``keys[order]`` (0, 1, ...; increasing along ``order``).

    Examples
    --------
    >>> order, group = group_rows(np.array([[1, 2], [0, 5], [1, 2]]))
    >>> order.tolist(), group.tolist()
    ([1, 0, 2], [0, 1, 1])
    """
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = _row_sort(keys)
    new = np.empty(n, dtype=bool)
    new[0] = True
    if keys.dtype == np.float64 and keys.ndim == 2 and keys.shape[1] == 2:
        # a row of two floats as one complex number: one gather and one comparison per row (equal exactly
        # when both parts are)
        ordered = np.ascontiguousarray(keys).view(np.complex128)[order, 0]
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    else:
        ordered = keys[order]
        np.any(ordered[1:] != ordered[:-1], axis=1, out=new[1:])
    return order, np.cumsum(new) - 1


def positions_by_value(values: np.ndarray) -> dict:
    """The positions of each value of ``values`` (ascending), found with one sort instead of one scan per value.

    Examples
    --------
    >>> {k: v.tolist() for k, v in positions_by_value(np.array(["b", "a", "b"])).items()}
    {'a': [1], 'b': [0, 2]}
    """
    values = np.asarray(values)
    if not len(values):
        return {}
    order = np.argsort(values, kind="stable")
    names, starts = np.unique(values[order], return_index=True)
    return dict(zip(names.tolist(), np.split(order, starts[1:])))


def _row_sort(keys: np.ndarray) -> np.ndarray:
    """A stable lexicographic sort of the rows of ``keys`` (first column first): ``np.lexsort(keys.T[::-1])``.

    Float rows of an even width (coordinates, segments) are sorted a pair of
    columns at a time, each pair viewed as one complex number (numpy orders
    complex numbers by real part, then imaginary part), last pair first, each
    pass stable: the same order as ``lexsort`` (for keys without NaN) in a
    fraction of its time.
    """
    if keys.dtype != np.float64 or keys.ndim != 2 or keys.shape[1] % 2:
        return np.lexsort(keys.T[::-1])
    pairs = np.ascontiguousarray(keys).view(np.complex128)
    order = np.argsort(pairs[:, -1], kind="stable")
    for column in range(pairs.shape[1] - 2, -1, -1):
        order = order[np.argsort(pairs[order, column], kind="stable")]
    return order


def geometry_order(geoms: np.ndarray) -> np.ndarray:
    """Positions of ``geoms`` sorted by their WKB (missing geometries first), stable.

    A row order that depends on the geometries only, not on the input's row
    order.  The keys stay Python strings (an object array): a fixed-width
    unicode array of long WKB texts would take gigabytes on a city's buildings.

    Examples
    --------
    >>> import shapely
    >>> a, b = shapely.Point(2, 0), shapely.Point(1, 0)
    >>> geometry_order(np.array([a, None, b, a], dtype=object)).tolist()  # by WKB bytes, not by value
    [1, 0, 3, 2]
    """
    geoms = np.asarray(geoms, dtype=object)
    keys = np.full(len(geoms), "", dtype=object)
    present = ~shapely.is_missing(geoms)
    if present.any():
        keys[present] = shapely.to_wkb(geoms[present], hex=True)
    return np.argsort(keys, kind="stable")


#: element-wise geometry functions run on threads only for arrays at least this long (below, the threads cost more):
#: ``shapely.is_valid`` of 5,000 building footprints takes ~12 ms, ~8 ms on two threads, 14,000 ~38 ms and ~20 ms
#: (dense taipei set, 2 cores)
THREADED_MINIMUM = 5_000
#: the same for large polygons (grids): ``is_valid`` of 1,233 grids takes ~20 ms, ~11 ms on two threads
THREADED_MINIMUM_LARGE = 500


def outline_keys(geoms: np.ndarray) -> np.ndarray:
    """Per geometry, a key equal for geometries drawn with exactly the same outline: the WKB of its normalised form.

    Normalising first makes a ring's starting vertex, its direction and the order of its parts irrelevant, so the
    same footprint digitised twice from another corner has the same key.  This is the one test of "the same outline"
    in gridgeo: the input check warns about such buildings, the tessellation gives them one cell and an update keeps
    them in one grid.

    Examples
    --------
    >>> import shapely
    >>> a = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])
    >>> b = shapely.Polygon([(10, 10), (10, 0), (0, 0), (0, 10)])  # the same square, from another corner, clockwise
    >>> keys = outline_keys(np.array([a, b, shapely.box(0, 0, 10, 11)]))
    >>> bool(keys[0] == keys[1]), bool(keys[0] == keys[2])
    (True, False)
    """
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return np.zeros(0, dtype=object)
    return np.asarray(shapely.to_wkb(shapely.normalize(geoms)), dtype=object)


def outline_groups(geoms: np.ndarray) -> np.ndarray:
    """Per geometry, a group number shared by the geometries drawn with exactly its outline (:func:`outline_keys`).

    Examples
    --------
    >>> import shapely
    >>> outline_groups(np.array([shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10), shapely.box(0, 0, 10, 10)])).tolist()
    [0, 1, 0]
    """
    keys = outline_keys(geoms)
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    _, group = np.unique(keys, return_inverse=True)
    return group.astype(np.int64)


def on_threads(func, geoms: np.ndarray, *, threads: int | None = None, minimum: int = THREADED_MINIMUM) -> np.ndarray:
    """``func(geoms)`` for an element-wise shapely function, computed a slice per core on threads.

    Shapely releases the GIL while GEOS works, so the slices run side by side;
    the result is the same array (each element depends on its geometry
    alone).  Arrays shorter than ``minimum`` (fewer for large geometries such
    as grids), and one core, run in one call.  ``geoms`` is read,
    never changed; functions that prepare or cache on the geometries (the
    predicates of prepared geometries) are not for this.

    Examples
    --------
    >>> boxes = np.array([shapely.box(i, 0, i + 1, 1) for i in range(5)])
    >>> on_threads(shapely.area, boxes, threads=2).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    if threads is None:
        from .parallel import default_workers

        threads = default_workers()
    if threads <= 1 or len(geoms) < minimum:
        return func(geoms)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return np.concatenate(list(pool.map(func, np.array_split(geoms, threads))))
