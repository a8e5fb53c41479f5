"""Staffing and workload of every grid: the "1+1+1+N" team size and how much work a grid is.

Every grid (网格) is staffed "1+1+1+N": a Party branch secretary, a grid leader,
a full-time grid worker and N part-time helpers (网格员/志愿者).  N is a local
rule; here it is ``helpers_n = ceil(households / households_per_helper)``,
with ``households_per_helper`` a user setting (default 100: one helper for
every hundred households; 0 households → 0 helpers).

The workload indicators of a grid are its ``households``, ``n_buildings``,
``area_m2`` (already in the grids layer) and ``tour_m``: the length of a
closed walking tour through all its buildings (the representative point of
each footprint, in a local metric CRS), as a grid worker walks when visiting
every building and coming back.  The tour is a nearest-neighbour tour from the
grid's first building (code order, i.e. its north-west corner) improved by
2-opt (best move first, until no move shortens it), on

* straight-line distances, or
* walking distances along the road network when roads are given
  (:class:`gridgeo.governance.network.RoadNetwork`, built once per run: each building
  joins the nearest road segment, and distances are shortest paths; a pair with
  no path between them counts its straight line).

The tour is never shorter than the minimum spanning tree of the same distances
and never longer than the nearest-neighbour tour it starts from.

The workload index compares each grid with the other grids of its community::

    workload_index = Σ_k w_k · x_k / mean_community(x_k),   k ∈ {households, n_buildings, area_m2, tour_m}

with equal weights ``w_k = 1/4`` by default (a ratio is 1 where the community's
mean is 0).  Means are taken over the grids a grid team serves: dedicated grids
(staffed by their institution) and grids without households are left out of
the comparison and never flagged.  The index averages 1.0 over those grids, so
``workload_flag`` — the index above ``factor`` (default 1.5) — marks a grid
whose workload is more than 1.5 times its community's mean.  A community with
one grid has nothing to compare with and is never flagged.

Functions take GeoDataFrames (any CRS) and return new ones; the inputs are
never modified; the results do not depend on the row order of the input.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..defaults import DEFAULT_FACTOR, DEFAULT_HOUSEHOLDS_PER_HELPER  # re-exported: the defaults of the options
from ..errors import InputError, Problem
from ..inputs.crs import local_metric_crs
from .network import RoadNetwork, build_road_network
from .tourlists import nearest_neighbour_list, two_opt_list

__all__ = [
    "DEFAULT_HOUSEHOLDS_PER_HELPER",
    "DEFAULT_FACTOR",
    "DEFAULT_WEIGHTS",
    "WORKLOAD_COLUMNS",
    "helpers_needed",
    "nearest_neighbour_tour",
    "two_opt",
    "tour_length",
    "walking_tour",
    "straight_distances",
    "building_points",
    "grid_workload",
    "add_workload",
    "workload_report",
]

logger = logging.getLogger(__name__)

#: weights of the workload indicators in the index
DEFAULT_WEIGHTS = {"households": 0.25, "n_buildings": 0.25, "area_m2": 0.25, "tour_m": 0.25}
#: columns added to the grids layer
WORKLOAD_COLUMNS = ("helpers_n", "tour_m", "workload_index", "workload_flag")


# -- staffing ---------------------------------------------------------------------------------------


def helpers_needed(households, households_per_helper: int = DEFAULT_HOUSEHOLDS_PER_HELPER) -> np.ndarray:
    """N of "1+1+1+N": ``ceil(households / households_per_helper)`` per grid.

    Examples
    --------
    >>> helpers_needed([0, 1, 100, 101, 455]).tolist()
    [0, 1, 1, 2, 5]
    >>> helpers_needed([455], 50).tolist()
    [10]
    """
    hh = np.asarray(households, dtype=np.int64)
    return -(-hh // int(households_per_helper))


# -- tours ------------------------------------------------------------------------------------------


def nearest_neighbour_tour(dist: np.ndarray, *, start: int = 0) -> np.ndarray:
    """A closed nearest-neighbour tour: from ``start``, always to the nearest unvisited point.

    Ties go to the lower index, so the tour is deterministic.

    Examples
    --------
    >>> d = np.array([[0, 1, 5, 2], [1, 0, 3, 4], [5, 3, 0, 6], [2, 4, 6, 0]], dtype=float)
    >>> nearest_neighbour_tour(d).tolist()
    [0, 1, 2, 3]
    """
    n = len(dist)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n <= _LIST_POINTS and np.isfinite(dist).all():
        return np.array(nearest_neighbour_list(dist.tolist(), int(start)), dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    # a visited point's column set to infinity in a copy of the table: one row read and one argmin per step
    table = np.array(dist, dtype=np.float64)
    current = int(start)
    for step in range(n):
        order[step] = current
        table[:, current] = np.inf
        if step == n - 1:
            break
        current = int(np.argmin(table[current]))
    return order


#: up to this many points the tours run on Python lists (:mod:`gridgeo.governance.tourlists`)
_LIST_POINTS = 16


def tour_length(dist: np.ndarray, order) -> float:
    """Length of the closed tour ``order`` (back to its first point).

    Examples
    --------
    >>> d = np.array([[0, 3, 4], [3, 0, 5], [4, 5, 0]], dtype=float)
    >>> tour_length(d, [0, 1, 2])
    12.0
    """
    order = np.asarray(order, dtype=np.int64)
    if len(order) < 2:
        return 0.0
    return float(dist[order, np.roll(order, -1)].sum())


def two_opt(dist: np.ndarray, order, *, max_moves: int | None = None) -> np.ndarray:
    """Improve a closed tour by 2-opt: reverse the stretch that shortens the tour most, until none does.

    Every move makes the tour strictly shorter (by more than 1e-7 m), so the
    result is never longer than ``order``.  Each step evaluates all pairs of
    tour edges at once (an n × n array).  ``dist`` must be symmetric.

    Parameters
    ----------
    dist : ndarray, shape (n, n)
        Symmetric distances.
    order : array of int
        A closed tour (each index once).
    max_moves : int, optional
        Stop after this many moves (default 10·n; reached only on unusual inputs).

    Examples
    --------
    >>> xy = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], dtype=float)
    >>> d = np.hypot(*(xy[:, None] - xy[None, :]).transpose(2, 0, 1))
    >>> tour_length(d, [0, 1, 2, 3]) > tour_length(d, two_opt(d, [0, 1, 2, 3]))
    True
    >>> tour_length(d, two_opt(d, [0, 1, 2, 3]))
    40.0
    """
    tour = np.array(order, dtype=np.int64)
    n = len(tour)
    if n < 4:
        return tour
    limit = 10 * n if max_moves is None else int(max_moves)
    moves = 0
    if n <= _LIST_POINTS and np.isfinite(dist).all():
        return np.array(two_opt_list(dist.tolist(), tour.tolist(), limit), dtype=np.int64)
    if n > 2 * _NEIGHBOURS:
        tour, moves = _two_opt_neighbours(dist, tour, limit)
    nxt = np.roll(np.arange(n), -1)
    valid = np.triu(np.ones((n, n), dtype=bool), 2)
    valid[0, n - 1] = False  # the two edges meet at the start
    steps, following = np.arange(n), np.ix_(nxt, nxt)
    for _ in range(limit - moves):
        p = dist[np.ix_(tour, tour)]
        edge = p[steps, nxt]
        delta = p + p[following] - edge[:, None] - edge[None, :]
        delta = np.where(valid, delta, np.inf)
        best = int(np.argmin(delta))
        if not delta.flat[best] < -1e-7:
            break
        i, j = divmod(best, n)
        tour[i + 1 : j + 1] = tour[i + 1 : j + 1][::-1].copy()
    return tour


#: candidate partners per point in the first 2-opt phase
_NEIGHBOURS = 8


def _two_opt_neighbours(dist: np.ndarray, tour: np.ndarray, limit: int) -> tuple[np.ndarray, int]:
    """2-opt moves whose new edge joins a point to one of its nearest neighbours (n × k evaluations per move).

    The cheap first phase of :func:`two_opt` on larger tours; the full search
    that follows finds any improving move this one cannot see.
    """
    n = len(tour)
    neighbours = np.argsort(dist, axis=1, kind="stable")[:, 1 : _NEIGHBOURS + 1]
    rows = np.arange(n)[:, None]
    steps = np.arange(n)
    flat = dist.ravel()
    ring = np.empty(n + 1, dtype=np.int64)  # the tour and its first point again: ring[x + 1] follows ring[x]
    position = np.empty(n, dtype=np.int64)
    moves = 0
    while moves < limit:
        position[tour] = steps
        j = position[neighbours[tour]]  # tour position of each neighbour of the point at position i
        lo, hi = np.minimum(rows, j), np.maximum(rows, j)
        gap = hi - lo
        # edges that meet make no move: neighbouring positions, or the first and the last edge of the tour
        ok = (gap >= 2) & (gap != n - 1)
        ring[:n] = tour
        ring[n] = tour[0]
        a, c = ring[lo] * n, ring[hi]
        b, d = ring[lo + 1], ring[hi + 1]
        edge = flat[tour * n + ring[1:]]  # edge x joins tour[x] to tour[x + 1]
        delta = np.where(ok, flat[a + c] + flat[b * n + d] - edge[lo] - edge[hi], np.inf)
        best = int(np.argmin(delta))
        if not delta.flat[best] < -1e-7:
            break
        i, k = divmod(best, _NEIGHBOURS)
        first, last = int(lo[i, k]), int(hi[i, k])
        tour[first + 1 : last + 1] = tour[first + 1 : last + 1][::-1].copy()
        moves += 1
    return tour, moves


def walking_tour(dist: np.ndarray) -> tuple[np.ndarray, float]:
    """The tour gridgeo measures: nearest neighbour from point 0, then :func:`two_opt`.

    Returns
    -------
    order : ndarray of int
    length : float
        Length of the closed tour, in the units of ``dist``.

    Examples
    --------
    >>> xy = np.array([[0, 0], [30, 0], [30, 40], [0, 40], [15, 20]], dtype=float)
    >>> d = np.hypot(*(xy[:, None] - xy[None, :]).transpose(2, 0, 1))
    >>> order, length = walking_tour(d)
    >>> round(length, 1)
    150.0
    """
    if len(dist) < 2:
        return np.arange(len(dist)), 0.0
    order = two_opt(dist, nearest_neighbour_tour(dist))
    return order, tour_length(dist, order)


def straight_distances(xy: np.ndarray) -> np.ndarray:
    """Straight-line distances between all pairs of points ``xy`` (n, 2), as an (n, n) array."""
    return np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])


# -- grids ------------------------------------------------------------------------------------------


def _check_columns(frame, columns, label) -> list[Problem]:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return [
            Problem(
                label, f"has no column {', '.join(repr(c) for c in missing)}", "pass the grids and buildings of a gridgeo result"
            )
        ]
    return []


def _network(roads, metric) -> RoadNetwork | None:
    if roads is None or isinstance(roads, RoadNetwork):
        return roads
    return build_road_network(roads, crs=metric)


def building_points(buildings: gpd.GeoDataFrame, crs) -> np.ndarray:
    """Representative points (inside each footprint) of ``buildings`` in ``crs``, shape (n, 2)."""
    if not len(buildings):
        return np.zeros((0, 2))
    geoms = buildings.to_crs(crs).geometry.to_numpy()
    return shapely.get_coordinates(shapely.point_on_surface(geoms)).reshape(-1, 2)


def _members(grid_codes: np.ndarray, building_grids: np.ndarray) -> list[np.ndarray]:
    """Positions of each grid's buildings (in the buildings' order), per grid."""
    order = np.argsort(building_grids, kind="stable")
    keys = building_grids[order]
    starts = np.searchsorted(keys, grid_codes, side="left")
    ends = np.searchsorted(keys, grid_codes, side="right")
    return [order[a:b] for a, b in zip(starts, ends)]


def grid_workload(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | list[gpd.GeoDataFrame] | RoadNetwork | None = None,
    households_per_helper: int = DEFAULT_HOUSEHOLDS_PER_HELPER,
    factor: float = DEFAULT_FACTOR,
    weights: dict[str, float] | None = None,
    straight_tours: dict[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """The grids with their helpers, tour length, workload index and flag.

    Parameters
    ----------
    grids : GeoDataFrame
        Grid polygons with ``grid_code``, ``community_id`` and ``households``
        (``n_buildings`` and ``area_m2`` are computed when missing).
    buildings : GeoDataFrame
        Buildings with ``grid_code`` (footprints or points; any CRS).  Rows are
        taken in ``building_code`` order when that column exists.
    roads : GeoDataFrame, list of them or RoadNetwork, optional
        Road lines: tours follow the roads.  Without, straight lines.
    households_per_helper : int
        One part-time helper per this many households (default 100; a local rule).
    factor : float
        Flag grids whose workload index exceeds this (the community mean is 1.0).
    weights : dict, optional
        Weights of ``households``, ``n_buildings``, ``area_m2``, ``tour_m`` in the
        index (default 1/4 each; normalised to sum 1).
    straight_tours : dict, optional
        Straight-line tour lengths already measured, by grid code (what
        :func:`walking_tour` gives on the grid's buildings' representative
        points in code order; :func:`gridgeo.partition` measures them in its
        workers).  Used only without ``roads``; grids missing from it are measured here.

    Returns
    -------
    GeoDataFrame
        A copy of ``grids`` (same rows, same CRS) with ``helpers_n`` (int),
        ``tour_m`` (metres, 0.1 m), ``workload_index`` (0.001) and
        ``workload_flag`` (bool).

    Raises
    ------
    InputError
        Missing columns, a setting out of range, or unusable roads; all listed at once.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> grids = gpd.GeoDataFrame(
    ...     {"grid_code": ["001-01", "001-02", "001-03"], "community_id": ["A"] * 3, "households": [300, 320, 900]},
    ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100), shapely.box(200, 0, 500, 300)], crs=32651)
    >>> buildings = gpd.GeoDataFrame(
    ...     {"grid_code": ["001-01"] * 2 + ["001-02"] * 2 + ["001-03"] * 4},
    ...     geometry=[shapely.Point(x, y) for x, y in [(10, 10), (90, 90), (110, 10), (190, 90),
    ...                                                 (210, 10), (490, 10), (490, 290), (210, 290)]], crs=32651)
    >>> out = grid_workload(grids, buildings)
    >>> out[["grid_code", "helpers_n", "tour_m", "workload_flag"]].values.tolist()
    [['001-01', 3, 226.3, False], ['001-02', 4, 226.3, False], ['001-03', 9, 1120.0, True]]
    >>> round(float(out["workload_index"].mean()), 6)
    1.0
    """
    problems = _check_columns(grids, ("grid_code", "community_id", "households"), "grids") if len(grids) else []
    problems += _check_columns(buildings, ("grid_code",), "buildings") if len(grids) else []
    if (
        isinstance(households_per_helper, bool)
        or not isinstance(households_per_helper, (int, np.integer))
        or households_per_helper < 1
    ):
        problems.append(
            Problem(
                "households per helper",
                f"{households_per_helper!r} is not a whole number of at least 1",
                "give e.g. 100 (--households-per-helper 100)",
            )
        )
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 0):
        problems.append(
            Problem("workload factor", f"{factor!r} is not a positive number", "give e.g. 1.5 (--workload-factor 1.5)")
        )
    w = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = sorted(set(w) - set(DEFAULT_WEIGHTS))
    if unknown or any(not (isinstance(v, (int, float)) and v >= 0) for v in w.values()) or sum(w.values()) <= 0:
        problems.append(
            Problem(
                "workload weights",
                f"{w!r} is not a set of weights",
                f"give non-negative numbers for {', '.join(DEFAULT_WEIGHTS)}",
            )
        )
    if grids.crs is None:
        problems.append(Problem("grids", "has no CRS", "set the grids' CRS"))
    if problems:
        raise InputError(problems)
    total = float(sum(w.values()))
    w = {k: float(w.get(k, 0.0)) / total for k in DEFAULT_WEIGHTS}

    out = grids.copy()
    if not len(out):
        for column, dtype in zip(WORKLOAD_COLUMNS, ("int64", "float64", "float64", "bool")):
            out[column] = pd.Series(dtype=dtype)
        return out
    metric = roads.crs if isinstance(roads, RoadNetwork) else local_metric_crs(grids)
    network = _network(roads, metric)
    if "building_code" in buildings.columns:
        buildings = buildings.iloc[np.argsort(buildings["building_code"].astype(str).to_numpy(), kind="stable")]
    codes = out["grid_code"].astype(str).to_numpy()
    members = _members(codes, buildings["grid_code"].astype(str).to_numpy())
    known = straight_tours if network is None and straight_tours is not None else {}
    needed = [g for g, rows in enumerate(members) if len(rows) >= 2 and codes[g] not in known]
    xy = building_points(buildings, metric) if needed else np.zeros((0, 2))
    tours = np.zeros(len(out))
    straight_pairs = 0
    for g, rows in enumerate(members):
        if len(rows) < 2:
            continue
        if codes[g] in known:
            tours[g] = float(known[codes[g]])
            continue
        if network is None:
            dist = straight_distances(xy[rows])
        else:
            dist, missing = network.distance_matrix(xy[rows])
            straight_pairs += missing
        tours[g] = walking_tour(dist)[1]
    if straight_pairs:
        logger.info("workload: %d pairs of buildings have no road path between them; their straight line is used", straight_pairs)
    households = pd.to_numeric(out["households"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    indicators = {
        "households": households.astype(float),
        "n_buildings": np.array([len(m) for m in members], dtype=float)
        if "n_buildings" not in out
        else pd.to_numeric(out["n_buildings"], errors="coerce").fillna(0).to_numpy(dtype=float),
        "area_m2": shapely.area(out.to_crs(metric).geometry.to_numpy())
        if "area_m2" not in out
        else pd.to_numeric(out["area_m2"], errors="coerce").fillna(0).to_numpy(dtype=float),
        "tour_m": tours,
    }
    community = out["community_id"].astype(str).to_numpy()
    # grids compared: those a grid team serves (not dedicated grids, which their institution staffs,
    # nor grids without households such as an empty island)
    compared = households > 0
    if "grid_type" in out:
        compared &= out["grid_type"].astype(str).to_numpy() != "dedicated"
    index = np.zeros(len(out))
    for key, values in indicators.items():
        mean = pd.Series(np.where(compared, values, np.nan)).groupby(community).transform("mean").fillna(0).to_numpy()
        ratio = np.divide(values, mean, out=np.ones_like(values), where=mean > 0)
        index += w[key] * ratio
    out["helpers_n"] = helpers_needed(households, households_per_helper)
    out["tour_m"] = np.round(tours, 1)
    out["workload_index"] = np.round(index, 3)
    out["workload_flag"] = compared & (index > factor + 1e-12)
    out.attrs["workload_straight_pairs"] = straight_pairs
    return out


def add_workload(
    result,
    *,
    roads: gpd.GeoDataFrame | list[gpd.GeoDataFrame] | RoadNetwork | None = None,
    households_per_helper: int = DEFAULT_HOUSEHOLDS_PER_HELPER,
    factor: float = DEFAULT_FACTOR,
    weights: dict[str, float] | None = None,
    straight_tours: dict[str, float] | None = None,
):
    """A copy of a :class:`~gridgeo.result.Partition` with the workload columns and a ``workload`` report section.

    :func:`gridgeo.partition` calls this with the defaults (straight-line tours);
    call it again with ``roads`` to measure tours along the roads.  See
    :func:`grid_workload` for the parameters.

    The report gains ``report["workload"]``: the settings, ``helpers`` (the sum
    of N), ``n_flagged``, the distribution of ``tour_m`` and ``workload_index``,
    one record per community (grids, helpers, flagged grids, mean and largest
    tour) and every flagged grid with its indicators.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> result = add_workload(gridgeo.partition(c, b, households="hh"), households_per_helper=150)
    >>> result.grids[["helpers_n", "tour_m", "workload_flag"]].values.tolist()
    [[3, 240.0, False]]
    >>> result.report["workload"]["helpers"]
    3
    """
    network = roads
    if roads is not None and not isinstance(roads, RoadNetwork):
        network = build_road_network(roads, crs=local_metric_crs(result.grids))
    grids = grid_workload(
        result.grids,
        result.buildings,
        roads=network,
        households_per_helper=households_per_helper,
        factor=factor,
        weights=weights,
        straight_tours=straight_tours,
    )
    report = dict(result.report or {})
    report["workload"] = workload_report(
        grids, households_per_helper=households_per_helper, factor=factor, weights=weights, network=network
    )
    return dataclasses.replace(result, grids=grids, report=report)


def workload_report(
    grids: gpd.GeoDataFrame, *, households_per_helper, factor, weights=None, network: RoadNetwork | None = None
) -> dict:
    """The ``workload`` section of ``report.json`` for grids from :func:`grid_workload`."""
    w = dict(DEFAULT_WEIGHTS if weights is None else weights)
    total = float(sum(w.values())) or 1.0
    notes = list(network.notes) if network is not None else []
    straight = int(grids.attrs.get("workload_straight_pairs", 0))
    if straight:
        notes.append(f"{straight} pairs of buildings have no road path between them: their straight line is used in the tours")
    frame = pd.DataFrame(
        {
            "community_id": grids["community_id"].astype(str).to_numpy() if len(grids) else np.zeros(0, dtype=object),
            "helpers_n": grids["helpers_n"].to_numpy(dtype=np.int64),
            "tour_m": grids["tour_m"].to_numpy(dtype=float),
            "flag": grids["workload_flag"].to_numpy(dtype=bool),
        }
    )
    per = frame.groupby("community_id", sort=True).agg(
        n_grids=("helpers_n", "size"), helpers=("helpers_n", "sum"), n_flagged=("flag", "sum"),
        tour_m_mean=("tour_m", "mean"), tour_m_max=("tour_m", "max"),
    )  # fmt: skip
    flagged = grids.loc[grids["workload_flag"].astype(bool)] if len(grids) else grids
    columns = [
        c
        for c in ("grid_code", "community_id", "workload_index", "households", "n_buildings", "area_m2", "tour_m", "helpers_n")
        if c in grids
    ]
    tours = grids["tour_m"].to_numpy(dtype=float) if len(grids) else np.zeros(0)
    index = grids["workload_index"].to_numpy(dtype=float) if len(grids) else np.zeros(0)
    return {
        "households_per_helper": int(households_per_helper),
        "factor": float(factor),
        "weights": {k: float(w.get(k, 0.0)) / total for k in DEFAULT_WEIGHTS},
        "distances": "road network" if network is not None else "straight line",
        "helpers": int(frame["helpers_n"].sum()),
        "n_flagged": int(frame["flag"].sum()),
        "tour_m": _distribution(tours),
        "workload_index": _distribution(index),
        "communities": [
            {
                "community_id": cid,
                **{k: (int(v) if k in ("n_grids", "helpers", "n_flagged") else float(v)) for k, v in row.items()},
            }
            for cid, row in per.iterrows()
        ],
        "flagged": flagged.sort_values("grid_code", kind="stable")[columns].to_dict(orient="records") if len(flagged) else [],
        "notes": notes,
    }


def _distribution(values: np.ndarray) -> dict:
    """min, quartiles, max and mean (empty dict for no values)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return {}
    q = np.percentile(values, [0, 25, 50, 75, 100])
    return {
        "min": float(q[0]),
        "p25": float(q[1]),
        "median": float(q[2]),
        "p75": float(q[3]),
        "max": float(q[4]),
        "mean": float(values.mean()),
    }
