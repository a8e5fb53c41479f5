"""The walking outline network of a community for the routes repair: the paths between building footprints and barriers, as a graph whose edges cross cells."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely

#: ground kept free around every footprint (metres)
CLEARANCE_M = 0.25
_KEY_DECIMALS = 6
_HOLE_VERTICES = 8
_ACROSS = -2


@dataclass(frozen=True)
class _Network:
    """The cells' outlines as a graph: nodes are vertices, edges the usable segments."""

    matrix: sp.csr_matrix
    xy: np.ndarray
    cell_nodes: list
    lo: np.ndarray
    hi: np.ndarray
    lines: np.ndarray
    side_a: np.ndarray
    side_b: np.ndarray

    def avoiding(self, polygons: list, distance: float, *, labels: np.ndarray, receiver: int | None, inner_cost: float | None = None) -> sp.csr_matrix:
        """The graph without the segments within ``distance`` of ``polygons`` (other grids' strips), and without those inside other grids.

        A strip along a segment between two cells of one grid could cut that
        grid in two, so such segments serve only the grid itself; with
        ``inner_cost`` they stay, their length multiplied by it (the checks
        after drawing reject a strip that does cut a grid).
        """
        inner = (self.side_a >= 0) & (self.side_b >= 0) & (self.side_a != self.side_b)
        inner &= labels[np.maximum(self.side_a, 0)] == labels[np.maximum(self.side_b, 0)]
        if receiver is not None:
            inner &= labels[np.maximum(self.side_a, 0)] != receiver
        near = np.zeros(0, dtype=np.int64) if inner_cost is not None else np.flatnonzero(inner)
        if polygons:
            _, close = shapely.STRtree(self.lines).query(np.array(polygons, dtype=object), predicate="dwithin", distance=distance)
            near = np.unique(np.r_[near, close])
        scale = np.ones(len(self.lo))
        if inner_cost is not None:
            scale[inner] = inner_cost
        scale[near] = 0.0
        if not len(near) and inner_cost is None:
            return self.matrix
        n = len(self.xy)
        length = shapely.length(self.lines) * scale
        keep = scale > 0
        lo, hi, length = self.lo[keep], self.hi[keep], length[keep]
        return sp.coo_matrix((np.r_[length, length], (np.r_[lo, hi], np.r_[hi, lo])), shape=(n, n)).tocsr()


def outline_network(cells: np.ndarray, *, blocked_cells: np.ndarray, footprints, barriers, half_width: float) -> _Network:
    """The segments of the cells' outlines a strip of ``2 * half_width`` may follow.

    A segment is usable when it is at least ``half_width`` plus
    :data:`CLEARANCE_M` from every footprint, at least ``half_width`` from
    every barrier line, and not on the outline of a blocked cell.

    Parameters
    ----------
    cells : ndarray of Polygon
        A valid coverage (metric CRS).
    blocked_cells : ndarray of bool
        Per cell, whether no strip may touch it.
    footprints : ndarray of geometries
        Every building of the piece.
    barriers : ndarray of LineString or None
    half_width : float

    Returns
    -------
    _Network
        ``matrix`` (nodes × nodes, segment lengths), ``xy`` per node and
        ``cell_nodes``: per cell, the nodes on its outline.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> cells = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    >>> net = outline_network(cells, blocked_cells=np.zeros(2, bool), footprints=np.array([shapely.box(2, 2, 8, 8)]), barriers=None, half_width=1.0)
    >>> len(net.xy), net.matrix.nnz // 2  # the 7 segments; the footprint blocks none
    (6, 7)
    """
    rings, ring_cell = shapely.get_rings(cells, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    keys = np.round(xy, _KEY_DECIMALS)
    unique, node = np.unique(keys, axis=0, return_inverse=True)
    node = node.ravel()
    start = np.flatnonzero(ring_of[1:] == ring_of[:-1])
    u, v = node[start], node[start + 1]
    seg_cell = ring_cell[ring_of[start]]
    keep = u != v
    u, v, seg_cell = u[keep], v[keep], seg_cell[keep]
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    n = len(unique)
    pair = lo * n + hi
    # the cells on the two sides of each segment (one side only on the piece's outline)
    order = np.lexsort((seg_cell, pair))
    sorted_pair, sorted_cell = pair[order], seg_cell[order]
    head = np.r_[True, sorted_pair[1:] != sorted_pair[:-1]]
    first_cell = dict(zip(sorted_pair[head].tolist(), sorted_cell[head].tolist(), strict=True))
    tail = np.r_[sorted_pair[1:] != sorted_pair[:-1], True]
    last_cell = dict(zip(sorted_pair[tail].tolist(), sorted_cell[tail].tolist(), strict=True))
    blocked_pairs = np.unique(pair[np.asarray(blocked_cells, dtype=bool)[seg_cell]])
    # a cell around a courtyard (a pocket cell in its hole) is also crossed straight from the hole
    # to its outer edge, or the pocket would have no way out
    across = _across_holes(cells, np.asarray(blocked_cells, dtype=bool), unique)
    if len(across):
        a, b = np.minimum(across[:, 0], across[:, 1]), np.maximum(across[:, 0], across[:, 1])
        lo, hi, pair = np.r_[lo, a], np.r_[hi, b], np.r_[pair, a * n + b]
    pairs, first = np.unique(pair, return_index=True)
    lo, hi = lo[first], hi[first]
    side_a = np.array([first_cell.get(p, _ACROSS) for p in pairs.tolist()], dtype=np.int64)
    side_b = np.array([last_cell.get(p, _ACROSS) for p in pairs.tolist()], dtype=np.int64)
    ok = ~np.isin(pairs, blocked_pairs)
    lines = shapely.linestrings(np.stack([unique[lo], unique[hi]], axis=1))
    fps = np.asarray([f for f in footprints if f is not None and not shapely.is_empty(f)], dtype=object)
    if len(fps):
        hit, _ = shapely.STRtree(fps).query(lines, predicate="dwithin", distance=half_width + CLEARANCE_M)
        ok[hit] = False
    if barriers is not None and len(barriers):
        hit, _ = shapely.STRtree(barriers).query(lines, predicate="dwithin", distance=half_width)
        ok[hit] = False
    length = shapely.length(lines)
    ok &= length > 0
    lo, hi, length, lines, side_a, side_b = lo[ok], hi[ok], length[ok], lines[ok], side_a[ok], side_b[ok]
    matrix = sp.coo_matrix((np.r_[length, length], (np.r_[lo, hi], np.r_[hi, lo])), shape=(n, n)).tocsr()
    owner = np.unique(np.stack([ring_cell[ring_of], node]), axis=1)
    bounds = np.searchsorted(owner[0], np.arange(len(cells) + 1))
    cell_nodes = [owner[1, bounds[c] : bounds[c + 1]] for c in range(len(cells))]
    return _Network(matrix, unique, cell_nodes, lo, hi, lines, side_a, side_b)


def _across_holes(cells: np.ndarray, blocked: np.ndarray, unique: np.ndarray) -> np.ndarray:
    """Node pairs (hole vertex, outer vertex) of the same cell joined by a straight segment inside it."""
    holed = np.flatnonzero((shapely.get_num_interior_rings(cells) > 0) & ~blocked)
    out = []
    for c in holed:
        cell = cells[c]
        outer = np.round(shapely.get_coordinates(cell.exterior)[:-1], _KEY_DECIMALS)
        for ring in cell.interiors:
            inner = np.round(shapely.get_coordinates(ring)[:-1], _KEY_DECIMALS)
            inner = inner[:: max(1, len(inner) // _HOLE_VERTICES)]
            d = np.hypot(*(inner[:, None, :] - outer[None, :, :]).transpose(2, 0, 1))
            nearest = np.argsort(d, axis=1, kind="stable")[:, :_HOLE_VERTICES]
            i, j = np.repeat(np.arange(len(inner)), nearest.shape[1]), nearest.ravel()
            segments = shapely.linestrings(np.stack([inner[i], outer[j]], axis=1))
            inside = shapely.covered_by(segments, cell)
            for p, q in zip(inner[i[inside]], outer[j[inside]], strict=True):
                out.append((_node_of(unique, p), _node_of(unique, q)))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def _node_of(unique: np.ndarray, key: np.ndarray) -> int:
    """Index of the row ``key`` in the lexicographically sorted ``unique``."""
    lo, hi = 0, len(unique)
    while lo < hi:
        mid = (lo + hi) // 2
        if tuple(unique[mid]) < tuple(key):
            lo = mid + 1
        else:
            hi = mid
    return lo
