"""Each site's region of the Voronoi diagram of the boundary samples, traced from one Delaunay triangulation.

A site's cell (before clipping) is the union of the Voronoi regions of its
samples.  Its boundary is made only of the Voronoi ridges between two samples
of *different* sites; the ridges between samples of one building, most of
them, lie inside the cell.  So instead of building every sample's region and
dissolving them per site, this module triangulates the samples once, keeps the Delaunay edges whose ends
belong to two sites, and follows them around each site: a Voronoi vertex is
the circumcentre of a triangle, and the next ridge of a site's boundary is
found in the same triangle.  The rings come out closed and oriented (shells
counter-clockwise, holes clockwise) and share their vertices exactly with the
neighbouring site's rings, so the regions form a polygonal coverage.

Three guard points far outside the frame close every relevant region: each
point of the frame is nearer to a sample than to any guard, so the guards
change no region inside it.

The triangulation comes from CDT (``pythoncdt``: incremental insertion with
exact orientation and in-circle predicates), 3 to 6 times faster than Qhull
(:class:`scipy.spatial.Delaunay`) on the samples of a community; Qhull takes
over when CDT refuses the points.  The samples are jittered (no four on a
circle), so their Delaunay triangulation is unique and both give the same
triangles, numbered differently: the rings are traced in the triangulator's
numbering, then started and ordered by a key of each boundary half-edge
made of vertex numbers only (its triangle's vertices from the lowest,
counter-clockwise, then its place there), and each circumcentre is computed
from its triangle's lowest vertex, so the regions are the same to the bit
whichever triangulator ran, without sorting the triangulation (only the
rings, by their smallest key).

Degenerate input (a zero-area triangle, a ring that does not close into a
valid polygon) returns ``None``; the caller then uses GEOS's Voronoi
diagram instead.  The result depends only on the samples and their order.
"""

from __future__ import annotations

import numpy as np
import pythoncdt
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, depth_first_order

__all__ = ["site_regions"]

_GUARD_REACH = 10.0
#: the columns of a triangle turned to start at vertex 0, 1 or 2 (orientation kept)
_TURNS = np.array([[0, 1, 2], [1, 2, 0], [2, 0, 1]])


def site_regions(coords: np.ndarray, labels: np.ndarray, n_sites: int, frame) -> np.ndarray | None:
    """Per site, the union of its samples' Voronoi regions, or ``None`` for degenerate samples.

    Parameters
    ----------
    coords : ndarray of shape (k, 2)
        The samples (distinct points).
    labels : ndarray of int
        The site of each sample, in ``0 .. n_sites - 1``.
    n_sites : int
        Number of sites.
    frame : shapely geometry
        The region must be exact inside this geometry's envelope (the community part);
        outside it a region may end anywhere.

    Returns
    -------
    ndarray of (Multi)Polygon or None
        One geometry per site (an empty Polygon for a site without samples),
        valid and forming a coverage; ``None`` when the triangulation is degenerate.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> coords = np.array([[1.0, 1.0], [1.0, 3.0], [3.0, 1.2], [3.0, 3.1]])
    >>> regions = site_regions(coords, np.array([0, 0, 1, 1]), 2, shapely.box(0, 0, 4, 4))
    >>> [round(float(shapely.area(shapely.intersection(r, shapely.box(0, 0, 4, 4)))), 4) for r in regions]
    [8.0143, 7.9857]
    """
    coords = np.asarray(coords, dtype=float)
    labels = np.asarray(labels, dtype=np.int64)
    if len(coords) < 3:
        return None
    xmin, ymin, xmax, ymax = shapely.bounds(frame)
    xmin, ymin = min(xmin, coords[:, 0].min()), min(ymin, coords[:, 1].min())
    xmax, ymax = max(xmax, coords[:, 0].max()), max(ymax, coords[:, 1].max())
    center = np.array([(xmin + xmax) / 2, (ymin + ymax) / 2])
    # every sample and the whole frame lie within this distance of the centre
    reach = max(np.hypot(xmax - xmin, ymax - ymin) / 2, 1.0)
    # three guards, each _GUARD_REACH·reach from the centre: a frame point is within 2·reach of a sample and
    # at least (_GUARD_REACH - 1)·reach from every guard, so the guards change no region in the frame; three,
    # not four, since four guards on a circle are a degenerate (cocircular) input, which slows Qhull down
    angle = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
    guards = _GUARD_REACH * reach * np.column_stack([np.cos(angle), np.sin(angle)])
    # the triangulators number the points from 3 (CDT's own enclosing vertices are 0-2; their coordinates
    # are never read, only their triangles' orientation, which is ignored)
    points = np.vstack([np.zeros((3, 2)), coords - center, guards])
    label = np.r_[np.full(3, n_sites + 1, dtype=np.int64), labels, np.full(3, n_sites, dtype=np.int64)]
    triangulation = _delaunay(points[3:])
    if triangulation is None:
        return None
    simplices, neighbors, inside = triangulation
    ccw = _orientations(points, simplices, inside)
    if ccw is None:
        return None
    # counter-clockwise triangles: the edge opposite vertex k runs from vertex k+1 to vertex k+2
    flip = inside & ~ccw
    if flip.any():
        simplices[flip] = simplices[flip][:, [0, 2, 1]]
        neighbors[flip] = neighbors[flip][:, [0, 2, 1]]
    site = label[simplices]
    start, end = site[:, [1, 2, 0]], site[:, [2, 0, 1]]
    # a boundary half-edge: its start belongs to a real site, its end to another; the ridge dual to it
    # runs from the neighbour's circumcentre to this triangle's, with the start's site on its left
    t, k = np.nonzero((start != end) & (start < n_sites) & inside[:, None])
    if not len(t):
        return None
    owner = start[t, k]
    # the next ridge around the same site, found in triangle t: across the edge (third vertex -> start)
    # when the third vertex is of another site, else across (end -> third vertex)
    third = site[t, k]
    j = np.where(third != owner, (k + 2) % 3, (k + 1) % 3)
    n = neighbors[t, j]
    if (n < 0).any() or not inside[n].all():
        return None
    around = neighbors[n]  # n's neighbours: t is one of them (the first match, as argmax would find it)
    back = np.where(around[:, 0] == t, 0, np.where(around[:, 1] == t, 1, 2))
    ids = t * 3 + k
    target = n * 3 + back
    # the boundary half-edge each one leads to, by a table over all half-edges (-1: not a boundary half-edge)
    slot = np.full(3 * len(simplices), -1, dtype=np.int64)
    slot[ids] = np.arange(len(ids))
    nxt = slot[target]
    if (nxt < 0).any():
        return None
    # the triangles on a boundary (t is sorted: np.nonzero's order), each turned to start at its lowest vertex
    first = np.r_[True, t[1:] != t[:-1]]
    used, at = t[first], np.cumsum(first) - 1
    lowest = np.argmin(simplices[used], axis=1)
    turned = np.take_along_axis(simplices[used], _TURNS[lowest], 1)
    # each boundary half-edge's place in one order whatever the triangulator: by its triangle's vertex numbers
    # (from the lowest, counter-clockwise), then by its place in the turned triangle
    key = _ranks(turned)[at] * 3 + (k - lowest[at]) % 3
    order, ring = _cycles(nxt, key)
    # a Voronoi vertex per triangle on a boundary (the others are never read), computed from its lowest vertex
    centres = _circumcentres(points, turned)
    if centres is None:
        return None
    corner = at[order]
    vertices = np.column_stack([centres[:, 0][corner] + center[0], centres[:, 1][corner] + center[1]])
    ring_site = owner[order]
    return _polygons(vertices, ring, ring_site, n_sites)


def _delaunay(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The Delaunay triangles of ``points`` (distinct) and their neighbours, or ``None`` for flat input.

    Vertex numbers are ``3 + `` the point's index (CDT's own enclosing
    vertices are 0-2).  Neighbour ``k`` of a triangle lies across the edge
    opposite its vertex ``k`` (scipy's convention), -1 where there is none.
    ``inside`` marks the triangles of the points alone: CDT's triangles on its
    enclosing vertices stay in the arrays (dropping them would renumber the
    others) and are never traced.
    """
    if not np.isfinite(points).all():
        return None
    try:
        triangulation = pythoncdt.Triangulation(
            pythoncdt.VertexInsertionOrder.AUTO, pythoncdt.IntersectingConstraintEdges.NOT_ALLOWED, 0.0
        )
        triangulation.insert_vertices(np.ascontiguousarray(points, dtype=np.float64))
        triangles = triangulation.triangles_array(copy=False)  # read below, while the triangulation lives
    except (RuntimeError, ValueError):  # CDT refuses duplicate points: Qhull decides
        triangles = None
    if triangles is not None and len(triangles):
        simplices = triangles["vertices"].astype(np.int64)
        inside = np.ones(len(simplices), dtype=bool)
        inside[np.flatnonzero(simplices.ravel() < 3) // 3] = False  # a few triangles: a flat test, not a row-wise one
        if inside.any():
            # CDT's neighbour k lies across the edge from vertex k to vertex k + 1, opposite vertex k + 2
            raw = triangles["neighbors"][:, [1, 2, 0]]
            neighbors = raw.astype(np.int64)
            neighbors[raw == pythoncdt.NO_NEIGHBOR] = -1
            return simplices, neighbors, inside
    # imported here: scipy.spatial (and scipy.special with it) takes a tenth of a second, and CDT nearly always answers
    from scipy.spatial import Delaunay, QhullError

    try:
        tri = Delaunay(points)
    except (QhullError, ValueError):  # Qhull refuses flat input
        return None
    simplices = tri.simplices.astype(np.int64) + 3
    return simplices, tri.neighbors.astype(np.int64), np.ones(len(simplices), dtype=bool)


def _ranks(triangles: np.ndarray) -> np.ndarray:
    """Integers in the lexicographic order of the rows of ``triangles`` (vertex numbers, distinct rows).

    The three numbers as one key below 2**60 (so that ``3 * key + 2`` stays an
    int64), else each row's rank.

    Examples
    --------
    >>> rows = np.array([[3, 9, 4], [3, 5, 7], [1, 8, 2]])
    >>> _ranks(rows).argsort().tolist(), _ranks(rows + 2**20).tolist()
    ([2, 1, 0], [2, 1, 0])
    """
    n = int(triangles.max()) + 1
    if n < 2**20:
        return (triangles[:, 0] * n + triangles[:, 1]) * n + triangles[:, 2]
    order = np.lexsort((triangles[:, 2], triangles[:, 1], triangles[:, 0]))
    rank = np.empty(len(triangles), dtype=np.int64)
    rank[order] = np.arange(len(triangles))
    return rank


def _corners(points: np.ndarray, simplices: np.ndarray) -> tuple[np.ndarray, ...]:
    """The x and the y of each triangle's vertex 0, and its edges to vertices 1 and 2 (x, y), as flat arrays.

    One gather per coordinate and vertex from contiguous columns: several times
    cheaper than gathering rows of ``points``, with the same values.
    """
    x, y = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    first, second, third = simplices.T
    ax, ay = x[first], y[first]
    return ax, ay, x[second] - ax, y[second] - ay, x[third] - ax, y[third] - ay


def _orientations(points: np.ndarray, simplices: np.ndarray, inside: np.ndarray) -> np.ndarray | None:
    """Whether each triangle is counter-clockwise; ``None`` when one of those ``inside`` is flat."""
    _, _, abx, aby, acx, acy = _corners(points, simplices)
    cross = abx * acy - aby * acx
    if (inside & ~(np.isfinite(cross) & (cross != 0))).any():
        return None
    return cross > 0


def _circumcentres(points: np.ndarray, simplices: np.ndarray) -> np.ndarray | None:
    """Circumcentre of every triangle (none flat: see :func:`_orientations`); ``None`` when one is not finite.

    Computed from the triangle's vertex 0 and the two edges leaving it; which
    of vertices 1 and 2 comes first does not change a bit of the result.
    """
    ax, ay, abx, aby, acx, acy = _corners(points, simplices)
    cross = abx * acy - aby * acx
    b2 = abx * abx + aby * aby
    c2 = acx * acx + acy * acy
    d = 2.0 * cross
    ux = (acy * b2 - aby * c2) / d
    uy = (abx * c2 - acx * b2) / d
    centres = np.column_stack([ax + ux, ay + uy])
    if not np.all(np.isfinite(centres)):
        return None
    return centres


def _cycles(nxt: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cycles of the permutation ``nxt``: the elements in cycle order, and the cycle of each.

    Cycles are numbered in the order of their element of smallest ``key``
    (distinct keys), each starts there (so the result depends only on ``nxt``
    and the order of the keys, not on how the elements are numbered).  The
    cycles are the weak components of the graph ``i -> nxt[i]``; each cycle's
    last element (the one before its start) is then sent on to the next
    cycle's start instead, which makes one path through every element, and a
    depth-first walk along it from the first cycle's start gives the order:
    two passes in scipy's compiled graph code.

    Examples
    --------
    >>> order, ring = _cycles(np.array([2, 4, 0, 1, 3]), np.array([0, 1, 2, 3, 4]))
    >>> order.tolist(), ring.tolist()
    ([0, 2, 1, 4, 3], [0, 0, 1, 1, 1])
    >>> order, ring = _cycles(np.array([2, 4, 0, 1, 3]), np.array([5, 6, 7, 0, 9]))
    >>> order.tolist(), ring.tolist()
    ([3, 1, 4, 0, 2], [0, 0, 0, 1, 1])
    """
    m = len(nxt)
    ids = np.arange(m)
    # one arrow out of every element: the compressed rows are built directly (no sort of (row, column) pairs);
    # float weights, the type the graph routines work in (no conversion there)
    arrows = np.ones(m)
    graph = sp.csr_matrix((arrows, nxt, np.arange(m + 1)), shape=(m, m))
    count, label = connected_components(graph, directed=True, connection="weak")
    low = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(low, label, key)
    first = np.empty(count, dtype=np.int64)  # each cycle's start: its element of smallest key
    at_low = key == low[label]
    first[label[at_low]] = ids[at_low]
    by_low = np.argsort(low)
    rank = np.empty(count, dtype=np.int64)
    rank[by_low] = np.arange(count)
    onward = np.r_[first[by_low][1:], -1]  # the start of the next cycle; the last cycle ends the path
    succ = nxt.copy()
    last = nxt == first[label]
    succ[last] = onward[rank[label[last]]]
    kept = succ >= 0
    path = sp.csr_matrix((arrows[kept], succ[kept], np.r_[0, np.cumsum(kept)]), shape=(m, m))
    order = depth_first_order(path, int(first[by_low[0]]), directed=True, return_predecessors=False)
    return order, rank[label[order]]


def _polygons(vertices: np.ndarray, ring: np.ndarray, ring_site: np.ndarray, n_sites: int) -> np.ndarray | None:
    """One (Multi)Polygon per site from its rings (``ring`` numbers the rings of ``vertices``, grouped and in order)."""
    starts = np.flatnonzero(np.r_[True, ring[1:] != ring[:-1]])
    size = np.diff(np.r_[starts, len(ring)])
    if (size < 3).any():
        return None
    site = ring_site[starts]
    # twice the signed area of each ring (shoelace, relative to its first vertex): shells > 0, holes < 0
    rel = vertices - np.repeat(vertices[starts], size, axis=0)
    following = np.arange(len(ring)) + 1
    following[starts + size - 1] = starts
    twice = np.add.reduceat(rel[:, 0] * rel[following, 1] - rel[following, 0] * rel[:, 1], starts)
    if (twice == 0).any():
        return None
    shell = twice > 0
    rings = shapely.linearrings(vertices, indices=ring)
    shells_per_site = np.bincount(site[shell], minlength=n_sites)
    if (np.bincount(site, minlength=n_sites)[shells_per_site == 0] > 0).any():
        return None
    # a polygon per shell; a hole belongs to its site's shell, the smallest one holding it when there are several
    shell_ids = np.flatnonzero(shell)
    polygon_of_ring = np.full(len(starts), -1, dtype=np.int64)
    polygon_of_ring[shell_ids] = np.arange(len(shell_ids))
    only_shell = np.full(n_sites, -1, dtype=np.int64)
    only_shell[site[shell_ids]] = shell_ids  # read only for the sites with one shell
    holes = np.flatnonzero(~shell)
    single = shells_per_site[site[holes]] == 1
    polygon_of_ring[holes[single]] = polygon_of_ring[only_shell[site[holes[single]]]]
    for h in holes[~single]:
        candidates = shell_ids[site[shell_ids] == site[h]]
        x, y = vertices[starts[h]]
        inside = shapely.contains_xy(shapely.polygons(rings[candidates]), x, y)
        if not inside.any():
            return None
        best = candidates[inside][np.argmin(twice[candidates[inside]])]
        polygon_of_ring[h] = polygon_of_ring[best]
    # shells first within each polygon
    by_polygon = np.lexsort((~shell, polygon_of_ring))
    polygons = shapely.polygons(rings[by_polygon], indices=polygon_of_ring[by_polygon])
    polygon_site = site[shell_ids]
    regions = np.full(n_sites, None, dtype=object)
    once = shells_per_site[polygon_site] == 1
    regions[polygon_site[once]] = polygons[once]
    several = np.flatnonzero(~once)
    if len(several):
        several = several[np.argsort(polygon_site[several], kind="stable")]
        multi = shapely.multipolygons(polygons[several], indices=polygon_site[several], out=np.full(n_sites, None, dtype=object))
        kept = np.unique(polygon_site[several])
        regions[kept] = multi[kept]
    regions[shapely.is_missing(regions)] = shapely.Polygon()
    if not shapely.is_valid(regions).all():
        return None
    return regions
