"""A walking network built once from road lines, and shortest walking distances over it.

:func:`build_road_network` turns road lines (any CRS; OSM-style layers such as
``roads.gpkg`` layer ``roads``) into an undirected graph in a metric CRS, in a
few vectorised steps:

1. lines are split into their parts and straight segments; coordinates are
   rounded to 1 cm and equal coordinates become one node, so lines that share a
   vertex (a junction) are connected and lines that only cross (a bridge over a
   road) are not;
2. classes nobody walks along are left out when the layer has a class column
   (``highway``, ``cls``, ``fclass`` or ``class``): :data:`NOT_WALKABLE`
   (motorways, railways, tram lines, rivers, streams, canals, …);
3. points join only the pieces of network (connected components) that hold at
   least ``min_share`` (5 %) of its length — in practice the connected street
   network, not a park footway or a driveway that touches nothing else;
4. chains of segments between junctions (the shape points of a curved street)
   become one edge weighted by their length in metres, so the graph searched
   with :func:`scipy.sparse.csgraph.dijkstra` has one node per junction or dead
   end; every segment remembers its chain and its position along it.

A point (a building, a service centre) joins the network at the nearest point
of the nearest segment: its walk is the straight *access leg* to that point,
then along the roads.  The walking distance between two points is therefore
``access(p) + network path + access(q)``, never shorter than the straight line
between them (the path is a real polyline from one to the other).  Where the
network offers no path between two points, the straight-line distance is used
and counted.

The network is built once per run and shared by :mod:`gridgeo.governance.workload` (tours
through a grid's buildings) and :mod:`gridgeo.governance.coverage` (the walk to the nearest
service centre).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph

from ..errors import CRSError, ProblemCollector
from ..inputs.crs import check_coordinates_fit_crs, require_crs

__all__ = ["NOT_WALKABLE", "CLASS_COLUMNS", "FAR_FROM_ROAD_M", "RoadNetwork", "Snap", "build_road_network"]

logger = logging.getLogger(__name__)

#: road classes left out of the walking network (OSM ``highway``/``railway``/``waterway`` values, lower case)
NOT_WALKABLE = frozenset(
    {
        "motorway", "motorway_link", "rail", "light_rail", "tram", "subway", "narrow_gauge", "monorail",
        "funicular", "preserved", "river", "stream", "canal", "drain", "ditch", "riverbank",
        "construction", "proposed", "abandoned", "disused", "razed",
    }
)  # fmt: skip
#: columns searched, in order, for the road class
CLASS_COLUMNS = ("highway", "cls", "fclass", "class")
#: coordinates are rounded to this many decimals (metres) so that shared vertices become one node
_DECIMALS = 2
#: a point this far (m) or more from every road is counted in the notes
FAR_FROM_ROAD_M = 200.0


@dataclass(frozen=True)
class Snap:
    """Where points join the network.

    ``path`` is the chain (or junction-to-junction segment) the point is on,
    ``a`` and ``b`` its end nodes in the graph, ``to_a`` / ``to_b`` the metres
    along it to each end, ``access`` the straight metres from the point to it.
    """

    path: np.ndarray
    a: np.ndarray
    b: np.ndarray
    to_a: np.ndarray
    to_b: np.ndarray
    access: np.ndarray


@dataclass
class RoadNetwork:
    """An undirected walking graph in a metric CRS (see the module docstring).

    Attributes
    ----------
    crs : pyproj.CRS
        The metric CRS.
    nodes : ndarray, shape (N, 2)
        Junctions and dead ends, in metres.
    graph : scipy.sparse.csr_matrix
        Symmetric N × N matrix: the shortest chain between two nodes, in metres.
    segments : ndarray, shape (S, 2, 2)
        The straight segments points may join (ends in metres).
    segment_path, segment_from, segment_to : ndarray
        Each segment's chain and the positions (metres from the chain's first
        node) of its two ends.
    path_a, path_b, path_length : ndarray
        Each chain's end nodes and length.
    length_m : float
        Total length of the walkable lines.
    notes : list of str
        What was left out, in words (for the run report).
    """

    crs: CRS
    nodes: np.ndarray
    graph: sparse.csr_matrix
    segments: np.ndarray
    segment_path: np.ndarray
    segment_from: np.ndarray
    segment_to: np.ndarray
    path_a: np.ndarray
    path_b: np.ndarray
    path_length: np.ndarray
    length_m: float
    notes: list[str] = field(default_factory=list)
    _tree: shapely.STRtree | None = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def snap(self, xy: np.ndarray) -> Snap:
        """Join points (metric coordinates, shape (n, 2)) to the nearest segment.

        Examples
        --------
        >>> import geopandas as gpd, shapely
        >>> roads = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (100, 0)])], crs=32651)
        >>> net = build_road_network(roads, crs=32651)
        >>> s = net.snap(np.array([[30.0, 4.0]]))
        >>> float(s.to_a[0]), float(s.to_b[0]), float(s.access[0])
        (30.0, 70.0, 4.0)
        """
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        if self._tree is None:
            self._tree = shapely.STRtree(shapely.linestrings(self.segments))
        hit = self._tree.query_nearest(shapely.points(xy), all_matches=False)
        seg = hit[1][np.argsort(hit[0], kind="stable")]
        start, end = self.segments[seg, 0], self.segments[seg, 1]
        step = end - start
        seg_len = np.hypot(*step.T)
        t = np.clip(np.einsum("ij,ij->i", xy - start, step) / np.maximum(seg_len**2, 1e-12), 0.0, 1.0)
        access = np.hypot(*(xy - start - step * t[:, None]).T)
        along = self.segment_from[seg] + t * (self.segment_to[seg] - self.segment_from[seg])
        path = self.segment_path[seg]
        length = self.path_length[path]
        along = np.clip(along, 0.0, length)
        return Snap(path, self.path_a[path], self.path_b[path], along, length - along, access)

    def distance_matrix(self, xy: np.ndarray, *, margin_m: float = 500.0) -> tuple[np.ndarray, int]:
        """Walking distances between all pairs of points, over the network.

        Paths are searched within the points' bounding box widened by
        ``margin_m`` (a walk between a grid's buildings rarely leaves its
        neighbourhood), so the cost depends on the grid, not on the city; when
        that leaves two points unconnected the whole network is searched.

        Parameters
        ----------
        xy : ndarray, shape (n, 2)
            Points in the network's metric CRS.
        margin_m : float
            How far beyond the points' bounding box paths may go.

        Returns
        -------
        distances : ndarray, shape (n, n)
            Symmetric, metres: access leg + path + access leg; the straight
            line where the network holds no path.
        n_straight : int
            Pairs (i < j) without a network path.

        Examples
        --------
        >>> import geopandas as gpd, shapely
        >>> roads = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (100, 0), (100, 100)])], crs=32651)
        >>> net = build_road_network(roads, crs=32651)
        >>> d, straight = net.distance_matrix(np.array([[10.0, 5.0], [95.0, 90.0]]))
        >>> float(d[0, 1]), straight
        (190.0, 0)
        """
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        n = len(xy)
        if n == 0:
            return np.zeros((0, 0)), 0
        s = self.snap(xy)
        ends = np.unique(np.concatenate([s.a, s.b]))
        lo = np.minimum(xy.min(axis=0), self.nodes[ends].min(axis=0)) - margin_m
        hi = np.maximum(xy.max(axis=0), self.nodes[ends].max(axis=0)) + margin_m
        inside = np.flatnonzero(np.all((self.nodes >= lo) & (self.nodes <= hi), axis=1))
        local = np.searchsorted(inside, ends)
        between = csgraph.dijkstra(self.graph[inside][:, inside], directed=False, indices=local)[:, local]
        if not np.isfinite(between).all():  # a path may leave the box (round a river or a railway): search everywhere
            between = csgraph.dijkstra(self.graph, directed=False, indices=ends)[:, ends]
        ia, ib = np.searchsorted(ends, s.a), np.searchsorted(ends, s.b)
        da, db = s.to_a, s.to_b
        best = np.minimum.reduce(
            [
                da[:, None] + between[np.ix_(ia, ia)] + da[None, :],
                da[:, None] + between[np.ix_(ia, ib)] + db[None, :],
                db[:, None] + between[np.ix_(ib, ia)] + da[None, :],
                db[:, None] + between[np.ix_(ib, ib)] + db[None, :],
            ]
        )
        same = s.path[:, None] == s.path[None, :]
        best = np.where(same, np.minimum(best, np.abs(da[:, None] - da[None, :])), best)
        distances = s.access[:, None] + best + s.access[None, :]
        missing = ~np.isfinite(distances)
        if missing.any():
            straight = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
            distances = np.where(missing, straight, distances)
        np.fill_diagonal(distances, 0.0)
        return distances, int(np.triu(missing, 1).sum())

    def nearest_source(self, xy: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each point, the walking distance to the nearest of ``sources`` and which one it is.

        One multi-source Dijkstra search over the whole network (each source is
        a virtual node tied to the two ends of its chain), whatever the number
        of points.

        Parameters
        ----------
        xy : ndarray, shape (n, 2)
            Points in the network's metric CRS.
        sources : ndarray, shape (k, 2)
            Source points (service centres) in the same CRS.

        Returns
        -------
        distance : ndarray, shape (n,)
            Metres; ``inf`` where no source is reachable over the network.
        nearest : ndarray of int, shape (n,)
            Index into ``sources``; -1 where none is reachable.

        Examples
        --------
        >>> import geopandas as gpd, shapely
        >>> roads = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (100, 0), (100, 100)])], crs=32651)
        >>> net = build_road_network(roads, crs=32651)
        >>> d, k = net.nearest_source(np.array([[10.0, 5.0]]), np.array([[95.0, 90.0], [300.0, 300.0]]))
        >>> float(d[0]), int(k[0])
        (190.0, 0)
        """
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        sources = np.asarray(sources, dtype=float).reshape(-1, 2)
        n, k, size = len(xy), len(sources), self.n_nodes
        if n == 0 or k == 0:
            return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
        c = self.snap(sources)
        virtual = size + np.arange(k)
        weights = np.maximum(np.concatenate([c.access + c.to_a, c.access + c.to_b]), 1e-9)
        coo = self.graph.tocoo()
        rows = np.concatenate([coo.row, virtual, virtual, c.a, c.b])
        cols = np.concatenate([coo.col, c.a, c.b, virtual, virtual])
        augmented = sparse.csr_matrix((np.concatenate([coo.data, weights, weights]), (rows, cols)), shape=(size + k, size + k))
        reach, _, origin = csgraph.dijkstra(augmented, directed=False, indices=virtual, min_only=True, return_predecessors=True)
        p = self.snap(xy)
        via_a = p.to_a + reach[p.a]
        via_b = p.to_b + reach[p.b]
        distance = np.minimum(via_a, via_b)
        nearest = np.where(via_a <= via_b, origin[p.a], origin[p.b])
        # a point on the same chain as a source may walk straight along it
        for i in np.flatnonzero(np.isin(p.path, c.path)):
            on_path = np.flatnonzero(c.path == p.path[i])
            direct = np.abs(p.to_a[i] - c.to_a[on_path]) + c.access[on_path]
            j = int(np.argmin(direct))
            if direct[j] < distance[i]:
                distance[i], nearest[i] = direct[j], on_path[j] + size
        distance = distance + p.access
        found = np.isfinite(distance) & (nearest >= size)
        return np.where(found, distance, np.inf), np.where(found, nearest - size, -1).astype(np.int64)

    def far_from_roads(self, xy: np.ndarray) -> int:
        """How many points lie :data:`FAR_FROM_ROAD_M` or more from every usable segment."""
        if len(xy) == 0:
            return 0
        return int((self.snap(xy).access >= FAR_FROM_ROAD_M).sum())


def _class_column(frame: gpd.GeoDataFrame) -> str | None:
    return next((c for c in CLASS_COLUMNS if c in frame.columns), None)


def _walkable_lines(frames, names, exclude, crs, problems: ProblemCollector, notes: list[str]) -> list[np.ndarray]:
    parts = []
    for frame, label in zip(frames, names):
        try:
            require_crs(frame, label)
        except CRSError as exc:
            problems.problems.extend(exc.problems)
            continue
        issue = check_coordinates_fit_crs(frame, label)
        if issue:
            problems.problems.append(issue)
            continue
        geoms = frame.geometry.to_numpy()
        lines = np.isin(shapely.get_type_id(geoms), (1, 2, 5)) & ~shapely.is_empty(geoms)
        if (~lines).sum():
            notes.append(f"{label}: {int((~lines).sum())} features that are not lines left out of the walking network")
        column = _class_column(frame)
        if column is not None and len(exclude):
            classes = frame[column].astype(str).str.lower().to_numpy()
            dropped = lines & np.isin(classes, sorted(exclude))
            if dropped.any():
                kinds = ", ".join(f"{c} {n}" for c, n in zip(*np.unique(classes[dropped], return_counts=True)))
                notes.append(f"{label}: {int(dropped.sum())} lines nobody walks along left out ({column}: {kinds})")
            lines &= ~dropped
        if lines.any():
            metric = gpd.GeoSeries(geoms[lines], crs=frame.crs).to_crs(crs).to_numpy()
            parts.append(shapely.force_2d(shapely.get_parts(metric)))
    return parts


def _dedupe_min(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected edges (a, b, w) with a < b, each pair once with its smallest weight; self-loops dropped."""
    a, b = np.minimum(a, b), np.maximum(a, b)
    keep = a != b
    a, b, w = a[keep], b[keep], w[keep]
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[first], b[first], w[first]


def _symmetric(a, b, w, size) -> sparse.csr_matrix:
    return sparse.csr_matrix((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(size, size))


def build_road_network(
    roads: gpd.GeoDataFrame | list[gpd.GeoDataFrame],
    *,
    crs,
    exclude: frozenset[str] | set[str] | None = None,
    min_share: float = 0.05,
    labels: list[str] | None = None,
) -> RoadNetwork:
    """Build the walking network of road lines, once, in the metric ``crs``.

    Parameters
    ----------
    roads : GeoDataFrame or list of GeoDataFrame
        Lines with a CRS (any); polygons and points in them are left out (noted).
    crs : CRS-like
        The metric CRS to compute in (e.g. :func:`gridgeo.inputs.crs.local_metric_crs` of the grids).
    exclude : set of str, optional
        Road classes left out when a class column (:data:`CLASS_COLUMNS`) is
        present; default :data:`NOT_WALKABLE`.  Pass ``set()`` to keep every line.
    min_share : float
        Pieces of network (connected components) holding less than this share
        of the total length take no points; the largest piece always does.
    labels : list of str, optional
        Names of the layers for messages (default ``roads``, ``roads[2]``, …).

    Returns
    -------
    RoadNetwork

    Raises
    ------
    InputError
        Listing every problem: a layer without a CRS or with coordinates that
        do not fit it, or no walkable line at all.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> roads = gpd.GeoDataFrame(
    ...     {"cls": ["residential", "residential", "rail"]},
    ...     geometry=[shapely.LineString([(0, 0), (100, 0), (100, 50)]), shapely.LineString([(100, 0), (200, 0)]),
    ...               shapely.LineString([(0, 10), (100, 10)])],
    ...     crs=32651,
    ... )
    >>> net = build_road_network(roads, crs=32651)
    >>> net.n_nodes, net.length_m
    (4, 250.0)
    """
    frames = list(roads) if isinstance(roads, (list, tuple)) else [roads]
    names = labels or [("roads" if len(frames) == 1 else f"roads[{i + 1}]") for i in range(len(frames))]
    exclude = NOT_WALKABLE if exclude is None else frozenset(str(c).lower() for c in exclude)
    crs = CRS.from_user_input(crs)
    problems = ProblemCollector()
    notes: list[str] = []
    parts = _walkable_lines(frames, names, exclude, crs, problems, notes)
    if not parts and not problems.problems:
        problems.add(", ".join(names), "holds no walkable lines", "give a line layer of roads and paths (FILE.gpkg:LAYER)")
    problems.raise_if_any()
    lines = np.concatenate(parts)
    xy, index = shapely.get_coordinates(lines, return_index=True)
    xy = np.round(xy, _DECIMALS)
    keep = index[:-1] == index[1:]
    start, end = xy[:-1][keep], xy[1:][keep]
    points, inverse = np.unique(np.concatenate([start, end]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    u, v, _ = _dedupe_min(inverse[: len(start)], inverse[len(start) :], np.zeros(len(start)))
    if not len(u):
        problems.add(", ".join(names), "holds no line of any length", "give a line layer of roads and paths")
        problems.raise_if_any()
    length = np.hypot(*(points[v] - points[u]).T)
    size = len(points)
    total = float(length.sum())

    # pieces of network: points join only those holding at least min_share of the length
    _, piece = csgraph.connected_components(_symmetric(u, v, length, size), directed=False)
    piece_length = np.bincount(piece[u], weights=length)
    threshold = min(float(min_share) * total, float(piece_length.max()))
    small = piece_length < threshold
    if small.any():
        notes.append(
            f"{int(small.sum())} pieces of road network not connected to the main network "
            f"({piece_length[small].sum() / 1000.0:.1f} km, {piece_length[small].sum() / total:.1%}) take no buildings or centres"
        )
    used = ~small[piece[u]]
    u, v, length = u[used], v[used], length[used]

    # chains between junctions: nodes of degree 2 are shape points, not graph nodes
    degree = np.bincount(np.concatenate([u, v]), minlength=size)
    junction = (degree != 2) & (degree > 0)
    n_pieces, piece = csgraph.connected_components(_symmetric(u, v, length, size), directed=False)
    has_junction = np.zeros(n_pieces, dtype=bool)
    has_junction[piece[junction]] = True
    ring = (degree == 2) & ~has_junction[piece]  # a closed ring touching nothing: its lowest node becomes a node
    if ring.any():
        lowest = np.full(n_pieces, size)
        np.minimum.at(lowest, piece[ring], np.flatnonzero(ring))
        junction[lowest[lowest < size]] = True
    inner = (degree == 2) & ~junction
    both = inner[u] & inner[v]
    _, chain_of = csgraph.connected_components(_symmetric(u[both], v[both], length[both], size), directed=False)
    chains, chain_of_inner = np.unique(chain_of[inner], return_inverse=True)
    chain = np.full(size, -1, dtype=np.int64)
    chain[inner] = chain_of_inner.reshape(-1)
    n_chains = len(chains)
    edge_chain = np.where(inner[u], chain[u], chain[v])  # -1: junction to junction
    attach = inner[u] != inner[v]
    att = np.flatnonzero(attach)
    att = att[np.lexsort((att, edge_chain[att]))]  # two per chain: the first is its start (a), the second its end (b)
    first, second = att[0::2], att[1::2]
    junction_end = np.where(inner[u], v, u)
    inner_end = np.where(inner[u], u, v)
    # positions along each chain: one multi-source search from a virtual start node per chain
    start_node = size + np.arange(n_chains)
    end_node = size + n_chains + np.arange(n_chains)
    rows = np.concatenate([u[both], start_node, end_node])
    cols = np.concatenate([v[both], inner_end[first], inner_end[second]])
    weights = np.concatenate([length[both], length[first], length[second]])
    if n_chains:
        along = csgraph.dijkstra(
            _symmetric(rows, cols, weights, size + 2 * n_chains), directed=False, indices=start_node, min_only=True
        )
    else:
        along = np.full(size, np.inf)
    chain_length = along[end_node]
    position = along[:size]

    # graph nodes are the junctions; chains and junction-to-junction segments are its edges
    node_index = np.full(size, -1, dtype=np.int64)
    node_index[junction] = np.arange(int(junction.sum()))
    direct = np.flatnonzero(edge_chain < 0)
    path_a = np.concatenate([node_index[junction_end[first]], node_index[u[direct]]])
    path_b = np.concatenate([node_index[junction_end[second]], node_index[v[direct]]])
    path_length = np.concatenate([chain_length, length[direct]])
    segment_path = np.where(edge_chain >= 0, edge_chain, 0)
    segment_path[direct] = n_chains + np.arange(len(direct))
    from_pos = np.where(inner[u], position[u], 0.0)
    to_pos = np.where(inner[v], position[v], 0.0)
    is_second = np.zeros(len(u), dtype=bool)
    is_second[second] = True
    # the junction end of an attaching segment sits at 0 (chain start) or at the chain's length (its end)
    own_length = np.append(chain_length, 0.0)[edge_chain]  # -1 picks the appended 0
    from_pos = np.where(attach & ~inner[u] & is_second, own_length, from_pos)
    to_pos = np.where(attach & ~inner[v] & is_second, own_length, to_pos)
    from_pos[direct], to_pos[direct] = 0.0, length[direct]
    a, b, w = _dedupe_min(path_a, path_b, path_length)
    graph = _symmetric(a, b, w, int(junction.sum()))
    segments = np.stack([points[u], points[v]], axis=1)
    logger.info(
        "walking network: %d junctions, %d chains, %d segments, %.1f km",
        graph.shape[0],
        len(path_length),
        len(u),
        length.sum() / 1000.0,
    )
    return RoadNetwork(
        crs, points[junction], graph, segments, segment_path, from_pos, to_pos, path_a, path_b, path_length, total, notes
    )
