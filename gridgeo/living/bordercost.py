"""What households that were there before a transfer across one grid border must at least cost, from the cells of the giving grid.

An update that adds buildings puts each in the previous grid holding it.  A
grid pushed above the band's maximum must give households to a neighbour, and
the added buildings are free to give: moving them moves nobody who lived in the
plan before.  But a set of cells handed to the neighbour ``B`` must reach the
border it crosses: an added building deep inside grid ``A`` only goes with the
cells between it and the border, and their households were there before.

:func:`transfer_floors` turns that into a bound per directed border ``A → B``.
On the cell graph of ``A`` (its previous polygon tessellated among the buildings
it holds now, :func:`gridgeo.cells.tessellate.tessellate_part`), let
``dist(c)`` be the fewest old households (of buildings present before and
after) on a path of cells from a cell touching the ``A``–``B`` border to ``c``,
``c``'s own included.  A set ``S`` of cells that crosses, each piece of it
touching the border, with ``t = max dist`` over ``S``, holds the whole path to
its farthest cell, so ``old(S) ≥ t``, and lies in ``ball(t) = {c : dist(c) ≤ t}``,
so ``old(S) ≥ x − new(ball(t))`` for ``x`` households crossing.  Hence

    old(S) ≥ LB(x) = min over t of max(t, x − new(ball(t))),

a non-decreasing function of ``x`` with ``LB(0) = 0``; and since ``t ≥ dist(v)``
for every added building ``v`` in ``S``, ``old(S) ≥ dist(v)`` (its *depth*).
The lower convex envelope of ``LB`` is below it everywhere and is the maximum
of a few lines ``α·x + β``: :func:`transfer_floors` returns those lines, which
:func:`gridgeo.living.movebound.cheapest_moves` adds as linear constraints (no
integer variable), with the pairs ``(d_j, N_j)`` of ``LB`` itself
(:func:`breakpoints`; one binary variable each) and the depths of the added
buildings.

The argument holds for transfers made of whole cells of this graph that reach
the border inside ``A``; a repair re-tessellates its region, so the update
checks its own result against the constraints before it reports a bound that
relies on them (:mod:`gridgeo.living.reportbound`).

Arrays and shapely geometries only; no files.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import shapely

from .cutcost import GridCells, grid_cells

__all__ = ["BorderFloor", "transfer_floors", "envelope_lines", "floor_of", "breakpoints", "exact_floor"]

#: a border shorter than this (m) is not a border a cell can cross
_MIN_BORDER_M = 0.05


@dataclass(frozen=True)
class BorderFloor:
    """The floor of one directed border ``a → b``.

    ``lines``: the envelope's lines (:func:`envelope_lines`); ``pairs``: the
    pairs ``(d_j, N_j)`` of the exact floor (:func:`breakpoints`), when kept;
    ``depth``: per added building of ``a`` (in the order of its members), the
    ``dist`` of its cell: a transfer holding it moves at least that many old
    households (inf: its cell does not reach the border inside ``a``).
    """

    lines: np.ndarray
    pairs: np.ndarray | None = None
    depth: np.ndarray | None = None

    def at(self, x: float, added: np.ndarray | None = None) -> float:
        """The least old households among ``x`` crossing, ``added`` the positions of the added buildings among them."""
        value = floor_of(self.lines, x)
        if self.pairs is not None:
            value = max(value, exact_floor(self.pairs, x))
        if self.depth is not None and added is not None and len(added):
            value = max(value, float(self.depth[np.asarray(added, dtype=np.int64)].max()))
        return value


def _ball_reach(dist: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct distances ``d_j`` (ascending) and ``N_j``, the new households within ``ball(d_j)``."""
    order = np.argsort(dist, kind="stable")
    values, first = np.unique(dist[order], return_index=True)
    return values, np.cumsum(new[order])[np.r_[first[1:], len(order)] - 1]


def envelope_lines(dist: np.ndarray, new: np.ndarray, total: float) -> np.ndarray:
    """The lines ``(α, β)`` whose maximum is the lower convex envelope of ``LB(x)`` on ``[0, total]``.

    Parameters
    ----------
    dist : array of float
        Per cell reachable from the border, its ``dist`` (old households on the
        cheapest path from the border, its own included).
    new : array of float
        Per cell, the households of added buildings.
    total : float
        The households of all those cells (no transfer is larger).

    Returns
    -------
    ndarray, shape (m, 2)
        Slopes and intercepts; every line is at most 0 at ``x = 0``.

    Examples
    --------
    Three cells in a row from the border: 40 old households, then an added
    building of 30, then 50 old ones.  Taking the 30 across costs the 40 in
    front of it:

    >>> lines = envelope_lines(np.array([40.0, 40.0, 90.0]), np.array([0.0, 30.0, 0.0]), 120.0)
    >>> round(float(max(a * 70 + b for a, b in lines)), 6)
    40.0
    >>> round(float(max(a * 35 + b for a, b in lines)), 6)  # the envelope: 35 of the 70 cost at least 20
    20.0
    """
    dist = np.asarray(dist, dtype=float)
    new = np.asarray(new, dtype=float)
    if not len(dist):
        return np.zeros((0, 2))
    values, reach = _ball_reach(dist, new)
    # LB is the lower envelope of h_j(x) = max(d_j, x − N_j): its convex envelope is the lower hull of (0, 0),
    # the corners (d_j + N_j, d_j) and the last ray of slope 1
    points = [(0.0, 0.0)] + sorted(zip((values + reach).tolist(), values.tolist()))
    far = max(float(total), points[-1][0]) + 1.0
    points.append((far, far - float(reach[-1])))
    hull: list[tuple[float, float]] = []
    for p in sorted(set(points)):
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) <= 0:
            hull.pop()
        hull.append(p)
    lines = []
    for (x0, y0), (x1, y1) in zip(hull, hull[1:]):
        if x1 > x0:
            slope = (y1 - y0) / (x1 - x0)
            lines.append((slope, y0 - slope * x0))
    return np.array(lines, dtype=float).reshape(-1, 2)


def breakpoints(dist: np.ndarray, new: np.ndarray, *, most: int = 12) -> np.ndarray:
    """Pairs ``(d_j, N_j)`` with ``min_j max(d_j, x − N_j) ≤ LB(x)`` for every ``x > 0``, at most ``most`` of them.

    ``N_j`` is the new households within ``ball(d_j)``.  Only pairs where
    ``N`` grows are needed (another with the same ``N`` and a larger ``d`` is
    never the minimum); beyond ``most``, neighbouring pairs are merged into
    ``(smallest d, largest N)`` of the group, which is lower than each of them,
    so the minimum stays a lower bound of ``LB`` (a little weaker).

    Examples
    --------
    >>> breakpoints(np.array([0.0, 40.0, 40.0, 90.0]), np.array([5.0, 0.0, 30.0, 0.0])).tolist()
    [[0.0, 5.0], [40.0, 35.0]]
    """
    dist = np.asarray(dist, dtype=float)
    new = np.asarray(new, dtype=float)
    if not len(dist):
        return np.zeros((0, 2))
    values, reach = _ball_reach(dist, new)
    keep = np.r_[True, np.diff(reach) > 0]
    pairs = np.column_stack([values[keep], reach[keep]])
    if len(pairs) > most:
        groups = np.array_split(np.arange(len(pairs)), most)
        pairs = np.array([[pairs[g[0], 0], pairs[g[-1], 1]] for g in groups])
    return pairs


def exact_floor(pairs: np.ndarray, x: float) -> float:
    """``min_j max(d_j, x − N_j)`` for ``x > 0`` (0 for ``x = 0``; inf without pairs).

    Examples
    --------
    >>> exact_floor(np.array([[0.0, 5.0], [40.0, 35.0]]), 30.0)
    25.0
    """
    if x <= 0:
        return 0.0
    if not len(pairs):
        return float("inf")
    return float(np.maximum(pairs[:, 0], x - pairs[:, 1]).min())


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def floor_of(lines: np.ndarray, x: float) -> float:
    """The envelope's value at ``x`` (0 without lines).

    Examples
    --------
    >>> floor_of(np.array([[0.5, -10.0], [1.0, -40.0]]), 100.0)
    60.0
    """
    if not len(lines):
        return 0.0
    return max(0.0, float((lines[:, 0] * x + lines[:, 1]).max()))


def _node_dijkstra(indptr, indices, cost: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Fewest summed ``cost`` of the nodes on a path from any of ``sources`` (its own cost included; inf: not reached)."""
    dist = np.full(len(cost), np.inf)
    heap = []
    for s in sources.tolist():
        if cost[s] < dist[s]:
            dist[s] = cost[s]
            heap.append((float(cost[s]), s))
    heapq.heapify(heap)
    while heap:
        d, c = heapq.heappop(heap)
        if d > dist[c]:
            continue
        for j in indices[indptr[c] : indptr[c + 1]].tolist():
            nd = d + cost[j]
            if nd < dist[j]:
                dist[j] = nd
                heapq.heappush(heap, (nd, j))
    return dist


def transfer_floors(
    geoms: np.ndarray,
    members: list[np.ndarray],
    building_geoms: np.ndarray,
    households: np.ndarray,
    is_new: np.ndarray,
    pairs: list[tuple[int, int]],
    *,
    givers: set[int] | None = None,
    exact: set[int] | None = None,
    towards: dict[tuple[int, int], set[int]] | None = None,
    cells: dict[int, GridCells | None] | None = None,
) -> dict[tuple[int, int], BorderFloor]:
    """Per directed border ``(a, b)``: the lines of the least old households a transfer from ``a`` to ``b`` moves.

    Parameters
    ----------
    geoms : array of Polygon
        The grids' previous polygons (metric CRS).
    members : list of array of int
        Per grid, the buildings it holds once every building is placed.
    building_geoms, households, is_new : arrays
        Per building: footprint (metric), households, and whether moving it is
        free (an added building).
    pairs : list of (int, int)
        Bordering grids (each pair once).
    givers : set of int, optional
        Only borders out of these grids get a floor (default: all).
    exact : set of int, optional
        Borders out of these grids also keep the pairs of :func:`breakpoints`
        (the exact floor, which a program needs integer variables for).
    towards : dict, optional
        ``(a, key) →`` a set of grids bordering ``a``: also give ``(a, key)``
        (``key`` negative, not a grid) the floor of a transfer out of ``a``
        that only has to reach *one of* the borders of ``a`` with these grids
        (``dist`` from every cell touching any of them): the part inside
        ``a`` of a grid the repair creates out of buildings of ``a`` and of
        these grids reaches such a border (:mod:`gridgeo.living.movebound`,
        joint fresh grids).  Computed for givers only.
    cells : dict, optional
        Grid position → its :func:`gridgeo.living.cutcost.grid_cells` (None:
        not one polygon), filled here as each grid is tessellated and read
        first, so a caller measuring the same grids again tessellates each once.

    Returns
    -------
    dict
        ``(a, b) →`` :class:`BorderFloor` (lines of :func:`envelope_lines`); a
        border without cells touching it, or a grid that is not one polygon,
        gets none.  With ``towards``, also its keys.

    Examples
    --------
    A grid of three buildings in a row, the added one (30 households) farthest
    from the neighbour on its right: it reaches the border only with the two
    others, so the 30 added households never cross without the 90 that were
    there before (the envelope's straight line alone gives 22.5 for 30
    crossing; the added building's depth gives the 90):

    >>> import shapely
    >>> grids = np.array([shapely.box(0, 0, 30, 10), shapely.box(30, 0, 60, 10)])
    >>> b = np.array([shapely.box(2, 2, 8, 8), shapely.box(12, 2, 18, 8), shapely.box(22, 2, 28, 8), shapely.box(40, 2, 50, 8)])
    >>> lines = transfer_floors(grids, [np.array([0, 1, 2]), np.array([3])], b, np.array([30, 40, 50, 100]),
    ...                         np.array([True, False, False, False]), [(0, 1)], givers={0})
    >>> lines[(0, 1)].at(120.0), lines[(0, 1)].at(30.0), lines[(0, 1)].at(30.0, added=[0])
    (90.0, 22.5, 90.0)
    """
    out: dict[tuple[int, int], np.ndarray] = {}
    directed: dict[int, list[int]] = {}
    for a, b in pairs:
        directed.setdefault(a, []).append(b)
        directed.setdefault(b, []).append(a)
    for a in sorted(directed):
        if givers is not None and a not in givers:
            continue
        m = np.asarray(members[a], dtype=np.int64)
        if len(m) == 0:
            continue
        if cells is not None and a in cells:
            grid = cells[a]
        else:
            grid = grid_cells(geoms[a], building_geoms[m], households[m], is_new[m])
            if cells is not None:
                cells[a] = grid
        if grid is None:
            continue
        old, new = grid.old, grid.new
        boundaries = shapely.boundary(grid.cells)
        tree = shapely.STRtree(boundaries)
        touching_of: dict[int, np.ndarray] = {}
        extra = sorted(key for (g, key) in (towards or {}) if g == a)
        for b in sorted(directed[a]) + extra:
            if b >= 0:
                near = shapely.buffer(shapely.boundary(geoms[b]), 0.01)
                hits = np.sort(tree.query(near, predicate="intersects"))
                if not len(hits):
                    continue
                touching = touching_of[b] = hits[shapely.length(shapely.intersection(boundaries[hits], near)) > _MIN_BORDER_M]
            else:
                sets = [touching_of[g] for g in sorted(towards[(a, b)]) if g in touching_of]
                touching = np.unique(np.concatenate(sets)) if sets else np.zeros(0, dtype=np.int64)
            if not len(touching):
                continue
            dist = _node_dijkstra(grid.indptr, grid.indices, old, touching)
            reached = np.isfinite(dist)
            lines = envelope_lines(dist[reached], new[reached], float((old + new)[reached].sum()))
            if len(lines):
                kept = breakpoints(dist[reached], new[reached]) if exact is not None and a in exact else None
                out[(a, b)] = BorderFloor(lines, kept, dist[grid.site_of_building[is_new[m]]])
    return out
