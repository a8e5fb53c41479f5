"""Service coverage: each grid's walk to the nearest service centre (e.g. 党群服务中心).

Given service centres (points; polygons count by their representative point),
every grid gets the walking distance from its *origin* to the nearest centre:

* the origin is the household-weighted centroid of the representative points
  of the grid's buildings (where its households live on average); when that
  point falls outside the grid (a U-shaped grid) it moves to the nearest of
  the grid's buildings; a grid without households uses its buildings' plain
  centroid, and a grid without buildings its polygon's representative point;
* the distance is measured along the road network when roads are given
  (:class:`gridgeo.governance.network.RoadNetwork`: access leg to the nearest road, the
  shortest path, access leg to the centre — one multi-source Dijkstra search
  for all grids), in a straight line otherwise; a grid whose origin has no
  road path to any centre gets its straight line (``walk_route`` says which);
* ``walk_min = walk_m / speed`` at ``speed`` metres per minute (default 80,
  about 4.8 km/h), and ``coverage_flag`` is true beyond ``limit_min`` minutes
  (default 15: the "15-minute community life circle", 15分钟社区生活圈).

Every centre counts, also one outside every community: the nearest centre may
be in the neighbouring community.  Centres keep their ids and names
(:func:`prepare_centres`).  Functions take GeoDataFrames (any CRS) and return
new ones; the inputs are never modified.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..defaults import DEFAULT_LIMIT_MIN, DEFAULT_SPEED  # re-exported: the defaults of the options
from ..errors import CRSError, InputError, Problem, ProblemCollector, describe_rows
from ..inputs.crs import check_coordinates_fit_crs, local_metric_crs, require_crs
from .network import FAR_FROM_ROAD_M, RoadNetwork, build_road_network
from .workload import _distribution, _members, building_points

__all__ = [
    "DEFAULT_SPEED",
    "DEFAULT_LIMIT_MIN",
    "COVERAGE_COLUMNS",
    "ID_COLUMNS",
    "NAME_COLUMNS",
    "prepare_centres",
    "grid_origins",
    "grid_coverage",
    "add_coverage",
    "coverage_report",
]

logger = logging.getLogger(__name__)

#: columns added to the grids layer
COVERAGE_COLUMNS = ("centre_id", "centre_name", "walk_m", "walk_min", "walk_route", "coverage_flag")
#: columns tried, in order, for a centre's id and name when none is named
ID_COLUMNS = ("centre_id", "center_id", "id", "ID", "Id", "编号", "code", "osm_id")
NAME_COLUMNS = ("centre_name", "center_name", "name", "NAME", "Name", "名称", "name_zh")


def prepare_centres(
    centres: gpd.GeoDataFrame,
    *,
    id_column: str | None = None,
    name_column: str | None = None,
    label: str = "service centres",
) -> gpd.GeoDataFrame:
    """Service centres as points with ``centre_id`` and ``centre_name``, sorted by id.

    Parameters
    ----------
    centres : GeoDataFrame
        Points (polygons are taken at their representative point) with a CRS.
    id_column, name_column : str, optional
        Columns with the id and the name (default: the first of
        :data:`ID_COLUMNS` / :data:`NAME_COLUMNS` present; ids are row numbers
        1..n when none is, names empty).
    label : str
        Name of the layer in messages.

    Returns
    -------
    GeoDataFrame
        ``centre_id`` (text), ``centre_name`` (text) and point geometry, in the
        input CRS; rows sorted by ``centre_id``.

    Raises
    ------
    InputError
        Every problem at once: no features, no CRS, rows without geometry, a
        missing column, duplicate ids.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> c = gpd.GeoDataFrame({"name": ["东区党群服务中心", "西区"], "id": [7, 3]},
    ...                      geometry=[shapely.Point(5, 5), shapely.box(0, 0, 2, 2)], crs=32651)
    >>> prepare_centres(c)[["centre_id", "centre_name"]].values.tolist()
    [['3', '西区'], ['7', '东区党群服务中心']]
    """
    problems = ProblemCollector()
    if len(centres) == 0:
        problems.add(label, "has no features", "give at least one service centre")
        problems.raise_if_any()
    try:
        require_crs(centres, label)
    except CRSError as exc:
        problems.problems.extend(exc.problems)
    else:
        issue = check_coordinates_fit_crs(centres, label)
        if issue:
            problems.problems.append(issue)
    for column, what in ((id_column, "id"), (name_column, "name")):
        if column is not None and column not in centres.columns:
            shown = ", ".join(str(c) for c in centres.columns if c != centres.geometry.name)
            problems.add(label, f"has no column '{column}' for the centre {what}", f"use one of: {shown}")
    geoms = centres.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        problems.add(
            label, f"{describe_rows(np.flatnonzero(empty) + 1)} have no geometry", "delete these rows or place the centres"
        )
    id_column = id_column or next((c for c in ID_COLUMNS if c in centres.columns), None)
    name_column = name_column or next((c for c in NAME_COLUMNS if c in centres.columns), None)
    if id_column is not None and id_column in centres.columns:
        raw = centres[id_column]
        missing = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
        if missing.any():
            problems.add(
                label,
                f"{describe_rows(np.flatnonzero(missing) + 1)}: centre id '{id_column}' is empty",
                "give every centre an id",
            )
        ids = np.array([_text(v) for v in raw], dtype=object)
        values, counts = np.unique(ids[~missing].astype(str), return_counts=True)
        twice = values[counts > 1]
        if len(twice):
            rows = np.flatnonzero(np.isin(ids.astype(str), twice)) + 1
            problems.add(
                label,
                f"{describe_rows(rows)}: centre id '{id_column}' repeats ({', '.join(twice[:5])})",
                "give every centre its own id",
            )
    else:
        ids = np.array([str(i + 1) for i in range(len(centres))], dtype=object)
    problems.raise_if_any()
    if name_column is not None and name_column in centres.columns:
        names = np.array([_text(v) for v in centres[name_column]], dtype=object)
    else:
        names = np.full(len(centres), "", dtype=object)
    points = np.isin(shapely.get_type_id(geoms), (0,))
    if (~points).any():
        logger.info("%s: %d centres that are not points are taken at their representative point", label, int((~points).sum()))
    location = np.where(points, geoms, shapely.point_on_surface(geoms))
    out = gpd.GeoDataFrame({"centre_id": ids, "centre_name": names}, geometry=list(location), crs=centres.crs)
    return out.iloc[np.argsort(out["centre_id"].astype(str).to_numpy(), kind="stable")].reset_index(drop=True)


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def grid_origins(grids: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, crs) -> np.ndarray:
    """The walk origin of every grid (see the module docstring), in ``crs``, shape (n, 2).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> grids = gpd.GeoDataFrame({"grid_code": ["a"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=32651)
    >>> buildings = gpd.GeoDataFrame({"grid_code": ["a", "a"], "households": [30, 10]},
    ...                              geometry=[shapely.Point(10, 10), shapely.Point(90, 90)], crs=32651)
    >>> grid_origins(grids, buildings, crs=32651).tolist()
    [[30.0, 30.0]]
    """
    metric_grids = grids.to_crs(crs).geometry.to_numpy()
    if "building_code" in buildings.columns:
        buildings = buildings.iloc[np.argsort(buildings["building_code"].astype(str).to_numpy(), kind="stable")]
    xy = building_points(buildings, crs)
    hh = (
        pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
        if "households" in buildings
        else np.ones(len(buildings))
    )
    codes = grids["grid_code"].astype(str).to_numpy()
    members = _members(codes, buildings["grid_code"].astype(str).to_numpy())
    fallback = shapely.get_coordinates(shapely.point_on_surface(metric_grids)).reshape(-1, 2)
    origins = fallback.copy()
    for g, rows in enumerate(members):
        if not len(rows):
            continue
        weight = hh[rows] if hh[rows].sum() > 0 else np.ones(len(rows))
        centre = (xy[rows] * weight[:, None]).sum(axis=0) / weight.sum()
        if metric_grids[g] is not None and not shapely.contains_xy(metric_grids[g], centre[0], centre[1]):
            candidates = rows[weight > 0]
            centre = xy[candidates[int(np.argmin(np.hypot(*(xy[candidates] - centre).T)))]]
        origins[g] = centre
    return origins


def grid_coverage(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | list[gpd.GeoDataFrame] | RoadNetwork | None = None,
    speed: float = DEFAULT_SPEED,
    limit_min: float = DEFAULT_LIMIT_MIN,
    id_column: str | None = None,
    name_column: str | None = None,
) -> gpd.GeoDataFrame:
    """The grids with their nearest service centre, walk and coverage flag.

    Parameters
    ----------
    grids : GeoDataFrame
        Grid polygons with ``grid_code``.
    buildings : GeoDataFrame
        Buildings with ``grid_code`` and (for the weights) ``households``.
    centres : GeoDataFrame
        Service centres (see :func:`prepare_centres`); any CRS.
    roads : GeoDataFrame, list of them or RoadNetwork, optional
        Walk along these roads; without, straight lines.
    speed : float
        Walking speed in metres per minute (default 80 ≈ 4.8 km/h).
    limit_min : float
        Flag grids whose walk takes longer than this (default 15 minutes).
    id_column, name_column : str, optional
        Columns of ``centres`` with ids and names.

    Returns
    -------
    GeoDataFrame
        A copy of ``grids`` (same rows and CRS) with ``centre_id``,
        ``centre_name`` (the nearest centre), ``walk_m`` (0.1 m), ``walk_min``
        (0.01 min), ``walk_route`` (``road`` or ``straight``) and
        ``coverage_flag`` (``walk_min > limit_min``).

    Raises
    ------
    InputError
        Every problem with the settings and the centres at once.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> grids = gpd.GeoDataFrame({"grid_code": ["a", "b"]}, geometry=[shapely.box(0, 0, 100, 100), shapely.box(0, 2000, 100, 2100)], crs=32651)
    >>> buildings = gpd.GeoDataFrame({"grid_code": ["a", "b"], "households": [30, 10]},
    ...                              geometry=[shapely.Point(50, 50), shapely.Point(50, 2050)], crs=32651)
    >>> centres = gpd.GeoDataFrame({"name": ["中心"]}, geometry=[shapely.Point(50, 250)], crs=32651)
    >>> grid_coverage(grids, buildings, centres)[["centre_name", "walk_m", "walk_min", "coverage_flag"]].values.tolist()
    [['中心', 200.0, 2.5, False], ['中心', 1800.0, 22.5, True]]
    """
    problems = []
    for value, name, flag in ((speed, "walking speed", "--walk-speed 80"), (limit_min, "walk limit", "--walk-limit 15")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            problems.append(Problem(name, f"{value!r} is not a positive number", f"give e.g. {flag}"))
    for frame, label, columns in ((grids, "grids", ("grid_code",)), (buildings, "buildings", ("grid_code",))):
        missing = [c for c in columns if c not in frame.columns] if len(grids) else []
        if missing:
            problems.append(
                Problem(
                    label,
                    f"has no column {', '.join(repr(c) for c in missing)}",
                    "pass the grids and buildings of a gridgeo result",
                )
            )
    if grids.crs is None:
        problems.append(Problem("grids", "has no CRS", "set the grids' CRS"))
    try:
        points = (
            centres
            if _prepared(centres, id_column, name_column)
            else prepare_centres(centres, id_column=id_column, name_column=name_column)
        )
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    out = grids.copy()
    if not len(out):
        for column, dtype in zip(COVERAGE_COLUMNS, (object, object, "float64", "float64", object, "bool")):
            out[column] = pd.Series(dtype=dtype)
        return out
    metric = roads.crs if isinstance(roads, RoadNetwork) else local_metric_crs(grids)
    network = roads if roads is None or isinstance(roads, RoadNetwork) else build_road_network(roads, crs=metric)
    origins = grid_origins(grids, buildings, crs=metric)
    centre_xy = shapely.get_coordinates(points.to_crs(metric).geometry.to_numpy()).reshape(-1, 2)
    # imported here: scipy.spatial (and scipy.special with it) costs a tenth of a second of every command that
    # imports this module (`gridgeo partition` reads its service centres with it) and only coverage needs it
    from scipy.spatial import cKDTree

    straight, straight_nearest = cKDTree(centre_xy).query(origins, k=1)
    straight_nearest = np.asarray(straight_nearest, dtype=np.int64)
    route = np.full(len(out), "straight", dtype=object)
    if network is None:
        walk, nearest = straight, straight_nearest
    else:
        walk, nearest = network.nearest_source(origins, centre_xy)
        reached = np.isfinite(walk)
        route[reached] = "road"
        walk = np.where(reached, walk, straight)
        nearest = np.where(reached, nearest, straight_nearest)
        if (~reached).any():
            logger.info("coverage: %d grids have no road path to any centre; their straight line is used", int((~reached).sum()))
    minutes = walk / float(speed)
    out["centre_id"] = points["centre_id"].to_numpy()[nearest]
    out["centre_name"] = points["centre_name"].to_numpy()[nearest]
    out["walk_m"] = np.round(walk, 1)
    out["walk_min"] = np.round(minutes, 2)
    out["walk_route"] = route
    out["coverage_flag"] = minutes > float(limit_min)
    out.attrs["coverage_far_from_roads"] = network.far_from_roads(np.vstack([origins, centre_xy])) if network is not None else 0
    return out


def _prepared(centres, id_column, name_column) -> bool:
    return (
        id_column is None
        and name_column is None
        and {"centre_id", "centre_name"} <= set(centres.columns)
        and centres.crs is not None
        and bool(len(centres))
        and bool(np.all(shapely.get_type_id(centres.geometry.to_numpy()) == 0))
    )


def add_coverage(
    result,
    centres: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | list[gpd.GeoDataFrame] | RoadNetwork | None = None,
    speed: float = DEFAULT_SPEED,
    limit_min: float = DEFAULT_LIMIT_MIN,
    id_column: str | None = None,
    name_column: str | None = None,
):
    """A copy of a :class:`~gridgeo.result.Partition` with the coverage columns and a ``coverage`` report section.

    See :func:`grid_coverage` for the parameters.  ``report["coverage"]``
    holds the settings, the number of centres, ``n_flagged``, the distribution
    of ``walk_min``, one record per community (grids, flagged grids, households
    in flagged grids, mean and longest walk), every centre with the number of
    grids it is nearest to, and every flagged grid.  The prepared centres are
    kept as :attr:`Partition.service_centres` (in their own CRS; the layer
    ``service_centres`` of ``partition.gpkg``), so an update measures them again.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> centres = gpd.GeoDataFrame({"name": ["社区党群服务中心"]}, geometry=[shapely.Point(100, 1300)], crs=32651)
    >>> result = add_coverage(gridgeo.partition(c, b, households="hh"), centres)
    >>> result.grids[["centre_name", "walk_min", "coverage_flag"]].values.tolist()
    [['社区党群服务中心', 15.69, True]]
    >>> result.report["coverage"]["n_flagged"]
    1
    """
    network = roads
    if roads is not None and not isinstance(roads, RoadNetwork):
        network = build_road_network(roads, crs=local_metric_crs(result.grids))
    points = prepare_centres(centres, id_column=id_column, name_column=name_column)
    grids = grid_coverage(result.grids, result.buildings, points, roads=network, speed=speed, limit_min=limit_min)
    report = dict(result.report or {})
    report["coverage"] = coverage_report(grids, points, speed=speed, limit_min=limit_min, network=network)
    return dataclasses.replace(result, grids=grids, report=report, service_centres=points)


def coverage_report(
    grids: gpd.GeoDataFrame, centres: gpd.GeoDataFrame, *, speed, limit_min, network: RoadNetwork | None = None
) -> dict:
    """The ``coverage`` section of ``report.json`` for grids from :func:`grid_coverage`."""
    notes = list(network.notes) if network is not None else []
    straight = int((grids["walk_route"] == "straight").sum()) if network is not None and len(grids) else 0
    if straight:
        notes.append(f"{straight} grids have no road path to any centre: their straight line is used")
    far = int(grids.attrs.get("coverage_far_from_roads", 0))
    if far:
        notes.append(
            f"{far} grid origins or centres lie {FAR_FROM_ROAD_M:g} m or more from the nearest road: check that the roads cover the area"
        )
    frame = pd.DataFrame(
        {
            "community_id": grids["community_id"].astype(str).to_numpy() if "community_id" in grids else np.full(len(grids), ""),
            "flag": grids["coverage_flag"].to_numpy(dtype=bool),
            "walk_min": grids["walk_min"].to_numpy(dtype=float),
            "households": pd.to_numeric(grids["households"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
            if "households" in grids
            else np.zeros(len(grids), dtype=np.int64),
        }
    )
    frame["households_flagged"] = np.where(frame["flag"], frame["households"], 0)
    per = frame.groupby("community_id", sort=True).agg(
        n_grids=("flag", "size"), n_flagged=("flag", "sum"), households_flagged=("households_flagged", "sum"),
        walk_min_mean=("walk_min", "mean"), walk_min_max=("walk_min", "max"),
    )  # fmt: skip
    served = grids["centre_id"].astype(str).value_counts() if len(grids) else pd.Series(dtype=int)
    flagged = grids.loc[grids["coverage_flag"].astype(bool)] if len(grids) else grids
    columns = [
        c
        for c in ("grid_code", "community_id", "households", "centre_id", "centre_name", "walk_m", "walk_min", "walk_route")
        if c in grids
    ]
    integer = ("n_grids", "n_flagged", "households_flagged")
    return {
        "speed_m_per_min": float(speed),
        "limit_min": float(limit_min),
        "distances": "road network" if network is not None else "straight line",
        "n_centres": int(len(centres)),
        "n_flagged": int(frame["flag"].sum()),
        "households_flagged": int(frame["households_flagged"].sum()),
        "walk_min": _distribution(frame["walk_min"].to_numpy(dtype=float)),
        "communities": [
            {"community_id": cid, **{k: (int(v) if k in integer else float(v)) for k, v in row.items()}}
            for cid, row in per.iterrows()
        ],
        "centres": [
            {"centre_id": str(i), "centre_name": str(n), "n_grids": int(served.get(str(i), 0))}
            for i, n in zip(centres["centre_id"], centres["centre_name"])
        ],
        "flagged": flagged.sort_values("grid_code", kind="stable")[columns].to_dict(orient="records") if len(flagged) else [],
        "notes": notes,
    }
