"""Turn a tessellation into the cell graph the partition algorithms work on.

The graph is built once per community part: node weights (households), cell
areas and perimeters, centroids, and for every pair of cells that share a
boundary of positive length the shared length and whether a barrier (road,
river, wall) separates them.  Cells that touch at a point only are not
neighbours: a grid joined at a point would not be one polygon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from ..arrays import group_rows

__all__ = ["CellGraph", "build_cell_graph"]

_MIN_SHARED_M = 1e-6


@dataclass
class CellGraph:
    """Arrays describing one connected community part.

    Attributes
    ----------
    weight : ndarray of int64
        Households per cell.
    area, perimeter : ndarray of float
        Cell area (m²) and perimeter (m).
    xy : ndarray, shape (n, 2)
        Cell centroids.
    shared : scipy.sparse.csr_matrix
        Symmetric; ``shared[i, j]`` is the boundary length cells i and j share.
    barrier : scipy.sparse.csr_matrix
        Symmetric; ``barrier[i, j]`` is the shared length of i and j when a
        barrier separates them, else 0.
    """

    weight: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    xy: np.ndarray
    shared: sp.csr_matrix
    barrier: sp.csr_matrix

    @property
    def n(self) -> int:
        return len(self.weight)

    def blocks(self) -> tuple[int, np.ndarray]:
        """Barrier blocks: the count and the block id per cell (cells joined without crossing a barrier).

        Without barriers every connected piece is one block.
        """
        free = self.shared - self.shared.multiply(self.barrier > 0)
        free.eliminate_zeros()
        return connected_components(free, directed=False)

    def subgraph(self, nodes: np.ndarray) -> CellGraph:
        """The graph induced by ``nodes`` (renumbered 0..len(nodes)-1)."""
        return CellGraph(
            self.weight[nodes],
            self.area[nodes],
            self.perimeter[nodes],
            self.xy[nodes],
            self.shared[nodes][:, nodes].tocsr(),
            self.barrier[nodes][:, nodes].tocsr(),
        )


def build_cell_graph(
    cells: np.ndarray,
    weight: np.ndarray,
    anchors: np.ndarray,
    barriers: np.ndarray | None = None,
    *,
    outline_length: float | None = None,
) -> CellGraph:
    """Build the :class:`CellGraph` of ``cells``.

    Parameters
    ----------
    cells : ndarray of Polygon
        A coverage (cells share edges exactly), metric CRS.
    weight : ndarray of int
        Households per cell.
    anchors : ndarray of Point
        A point inside each cell's building(s); a barrier separates two cells
        when it crosses the segment between their anchors.
    barriers : ndarray of LineString, optional
        Barrier lines in the same CRS.
    outline_length : float, optional
        Boundary length of the area the cells tile.  When given, shared edges are
        found by matching identical boundary segments (fast, exact for a
        tessellation's shared vertices) and checked against it: if the cells'
        perimeters minus twice the shared lengths do not add up to the outline,
        shared edges are measured by geometric intersection instead.

    Returns
    -------
    CellGraph

    Examples
    --------
    >>> import numpy as np, shapely
    >>> cells = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 0, 3, 1)])
    >>> g = build_cell_graph(cells, np.array([1, 2, 3]), shapely.centroid(cells))
    >>> g.shared.nnz
    4
    """
    n = len(cells)
    area = shapely.area(cells)
    perimeter = shapely.length(cells)
    centroids = shapely.centroid(cells)
    xy = shapely.get_coordinates(centroids).reshape(n, 2)
    if n > 1:
        left = None
        if outline_length is not None:
            left, right, lengths = _shared_by_segments(cells)
            exterior = perimeter.sum() - 2.0 * lengths.sum()
            if abs(exterior - outline_length) > 1e-6 * max(outline_length, 1.0) + 1e-6:
                left = None
        if left is None:
            left, right, lengths = _shared_by_intersection(cells)
        edge = lengths > _MIN_SHARED_M
        left, right, lengths = left[edge], right[edge], lengths[edge]
    else:
        left = right = np.zeros(0, dtype=np.int64)
        lengths = np.zeros(0)
    crossed = np.zeros(len(left), dtype=np.float64)
    if barriers is not None and len(barriers) and len(left):
        segments = shapely.linestrings(
            np.stack(
                [shapely.get_coordinates(anchors[left]), shapely.get_coordinates(anchors[right])], axis=1
            )
        )
        btree = shapely.STRtree(barriers)
        seg_idx, _ = btree.query(segments, predicate="intersects")
        crossed[np.unique(seg_idx)] = 1.0
    rows = np.concatenate([left, right])
    cols = np.concatenate([right, left])
    ids = np.concatenate([np.arange(len(left)), np.arange(len(left))]) + 1
    pattern = sp.csr_matrix((ids, (rows, cols)), shape=(n, n))
    pattern.sort_indices()
    edge = pattern.data - 1
    shared = sp.csr_matrix((lengths[edge], pattern.indices.copy(), pattern.indptr.copy()), shape=(n, n))
    barrier = sp.csr_matrix((lengths[edge] * crossed[edge], pattern.indices.copy(), pattern.indptr.copy()), shape=(n, n))
    barrier.eliminate_zeros()
    return CellGraph(np.asarray(weight, dtype=np.int64), area, perimeter, xy, shared, barrier)


def _shared_by_intersection(cells: np.ndarray):
    tree = shapely.STRtree(cells)
    left, right = tree.query(cells, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    lengths = shapely.length(shapely.intersection(shapely.boundary(cells[left]), shapely.boundary(cells[right])))
    return left, right, lengths


def _shared_by_segments(cells: np.ndarray):
    """Shared boundary length of every pair of cells, by matching identical boundary segments.

    Vertices are matched first (rounded to the micrometre), each numbered by
    its rank in the lexicographic order of the rounded coordinates; a segment's
    key is then its two vertex numbers, smaller first, so one integer sort puts
    the segments in the lexicographic order of their rounded endpoints.
    """
    # the Polygon cells' coordinates, ring after ring (exterior first), without a ring object per ring: a segment
    # joins two consecutive coordinates of one cell, except from a ring's last coordinate to the next ring's first
    # (other geometry types have no rings here, as for shapely.get_rings)
    polygons = np.flatnonzero(shapely.get_type_id(cells) == 3)
    coords, which = shapely.get_coordinates(cells[polygons], return_index=True)
    cell_of = polygons[which]
    follows = cell_of[1:] == cell_of[:-1]
    holed = np.flatnonzero(shapely.get_num_interior_rings(cells[polygons]) > 0)
    if len(holed):
        sizes = shapely.get_num_coordinates(cells[polygons])
        rings, ring_of = shapely.get_rings(cells[polygons[holed]], return_index=True)
        # each ring's last coordinate: its cell's first coordinate, plus the sizes of the cell's rings up to it
        through = np.cumsum(shapely.get_num_coordinates(rings))
        before = np.r_[0, through][np.searchsorted(ring_of, np.arange(len(holed)))]
        last = (np.cumsum(sizes) - sizes)[holed][ring_of] + through - before[ring_of] - 1
        follows[last[last < len(follows)]] = False
    order, vertex = group_rows(np.round(coords, 6) + 0.0)
    number = np.empty(len(coords), dtype=np.int64)
    number[order] = vertex
    same_ring = np.flatnonzero(follows)
    a, b = number[same_ring], number[same_ring + 1]
    owner = cell_of[same_ring]
    key = np.minimum(a, b) * (int(vertex[-1]) + 1 if len(vertex) else 1) + np.maximum(a, b)
    order = np.argsort(key, kind="stable")
    key = key[order]
    x, y = np.ascontiguousarray(coords[:, 0]), np.ascontiguousarray(coords[:, 1])  # gathers from columns: cheaper
    length = np.hypot(x[same_ring + 1] - x[same_ring], y[same_ring + 1] - y[same_ring])
    owner, length = owner[order], length[order]
    twin = np.flatnonzero((key[1:] == key[:-1]) & (owner[1:] != owner[:-1]))
    first, second = owner[twin], owner[twin + 1]
    lo, hi = np.minimum(first, second), np.maximum(first, second)
    pair = lo.astype(np.int64) * len(cells) + hi
    unique_pair, which = np.unique(pair, return_inverse=True)
    lengths = np.bincount(which.ravel(), weights=length[twin], minlength=len(unique_pair))
    return unique_pair // len(cells), unique_pair % len(cells), lengths
