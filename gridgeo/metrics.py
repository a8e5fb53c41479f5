"""How a partition is judged: the measures defined in ``docs/how-it-works.md``.

* In band: ``low <= households <= high``.  A grid may be outside only with an
  excuse (``status``): ``oversize_building`` (it holds a building above the
  maximum), ``infeasible_total`` (its community's total admits no grid count),
  ``detached_part`` (a detached piece whose own total admits none) or
  ``dedicated``.  Everything else outside the band is a defect.
* One piece: the grid polygon is a single connected polygon.
* Tiling: per community, the gap (community minus the union of its grids) and
  the overlap (sum of grid areas minus the area of their union), relative to
  the community's area; plus shapely's coverage validation.
* Compactness: Polsby-Popper 4πA/P².
* Balance: the largest |grid − mean| / mean within a community.
* Joint units: the share of units with ``low <= households <= high``; also
  among the units of grids whose total admits an exact cut (some unit count
  ``m`` with ``m·low <= total <= m·high``; with units of 10–15 every grid of
  20 or more).

The functions take GeoDataFrames in any CRS (areas are computed in a local
metric CRS) and return new frames or plain dicts.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .inputs.crs import local_metric_crs
from .parallel import default_workers
from .units.cut import fits_units_each

__all__ = ["EXCUSES", "polsby_popper", "grid_metrics", "community_metrics", "summarize"]

EXCUSES = ("oversize_building", "infeasible_total", "detached_part", "dedicated")
#: a defect whose reason starts with this was proven unavoidable (see gridgeo.partition.proof)
PROVEN_INFEASIBLE = "proven infeasible"


def polsby_popper(geoms) -> np.ndarray:
    """Polsby-Popper compactness 4πA/P² of each geometry (0 for empty ones).

    Examples
    --------
    >>> import shapely
    >>> round(float(polsby_popper([shapely.box(0, 0, 1, 1)])[0]), 4)
    0.7854
    """
    geoms = np.asarray(geoms, dtype=object)
    area = shapely.area(geoms)
    perimeter = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(perimeter > 0, 4.0 * np.pi * area / perimeter**2, 0.0)
    return out


def _metric(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.crs is None:
        raise ValueError("metrics need a CRS")
    crs = local_metric_crs(frame)
    return frame if frame.crs == crs else frame.to_crs(crs)


def _union(geoms: np.ndarray):
    """Union of grid polygons: the fast coverage union when they form a valid coverage."""
    try:
        merged = shapely.coverage_union_all(geoms)
        if shapely.is_valid(merged):
            return merged
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(geoms)


def _tilings(communities: np.ndarray, grids: list[np.ndarray], written: list[np.ndarray]) -> list[tuple[float, float, bool]]:
    """:func:`_tiling` of every community, on the machine's cores (GEOS releases the GIL)."""
    def one(i: int) -> tuple[float, float, bool]:
        if len(grids[i]) == 0:
            return float(shapely.area(communities[i])), 0.0, False
        return _tiling(communities[i], grids[i], written[i])

    threads = min(default_workers(), len(grids))
    if threads <= 1 or sum(len(g) for g in grids) < 200:
        return [one(i) for i in range(len(grids))]
    # the largest communities first, so no thread is left with one at the end; results keep their order
    order = sorted(range(len(grids)), key=lambda i: -len(grids[i]))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = dict(zip(order, pool.map(one, order)))
    return [results[i] for i in range(len(grids))]


def _tiling(community, grids: np.ndarray, written: np.ndarray) -> tuple[float, float, bool]:
    """Gap area and overlap area of ``grids`` (metric) over ``community``, and whether the grids as ``written``
    (in their own CRS: reprojecting can hide or make a vertex that misses its neighbour's edge) form a valid coverage."""
    coverage_ok = bool(shapely.coverage_is_valid(written, gap_width=0.0))
    try:
        union = _union(grids)
    except shapely.errors.GEOSException:
        # an invalid grid polygon (the audit reports it): measure on its repaired shape rather than fail
        grids = shapely.make_valid(grids)
        union = shapely.union_all(grids)
    gap = float(shapely.area(shapely.difference(community, union)))
    overlap = float(shapely.area(grids).sum() - shapely.area(union))
    return gap, overlap, coverage_ok


def grid_metrics(grids: gpd.GeoDataFrame, *, band: tuple[int, int]) -> pd.DataFrame:
    """Per-grid measures.

    Parameters
    ----------
    grids : GeoDataFrame
        Columns ``households`` and, optionally, ``status``.
    band : (int, int)

    Returns
    -------
    DataFrame
        ``in_band``, ``excused``, ``defect``, ``proven_infeasible``, ``one_piece``, ``polsby_popper``, ``area_m2`` (index of ``grids``).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"households": [350, 520]}, geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)], crs=3857)
    >>> grid_metrics(g, band=(300, 500))["defect"].tolist()
    [False, True]
    """
    low, high = band
    metric = _metric(grids)
    geoms = metric.geometry.to_numpy()
    hh = grids["households"].to_numpy()
    in_band = (hh >= low) & (hh <= high)
    status = grids["status"].astype(str).to_numpy() if "status" in grids else np.full(len(grids), "")
    excused = np.isin(status, EXCUSES)
    reason = grids["reason"].astype(str).to_numpy() if "reason" in grids else np.full(len(grids), "")
    proven = np.char.startswith(reason.astype(str), PROVEN_INFEASIBLE)
    return pd.DataFrame(
        {
            "in_band": in_band,
            "excused": excused & ~in_band,
            "defect": ~in_band & ~excused,
            "proven_infeasible": ~in_band & ~excused & proven,
            "one_piece": shapely.get_type_id(geoms) == 3,
            "polsby_popper": polsby_popper(geoms),
            "area_m2": shapely.area(geoms),
        },
        index=grids.index,
    )


def community_metrics(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    band: tuple[int, int],
    community_id: str = "community_id",
) -> pd.DataFrame:
    """Per-community measures: counts, band, one piece, tiling, compactness, balance.

    Both frames carry ``community_id``; grids also ``households`` (and ``status``,
    ``barrier_crossings`` when known).
    """
    per_grid = grid_metrics(grids, band=band)
    metric_grids = _metric(grids)
    metric_comm = communities.to_crs(metric_grids.crs)
    grid_keys = grids[community_id].astype(str).to_numpy()
    geoms = metric_grids.geometry.to_numpy()
    households = grids["households"].to_numpy()
    crossings = grids["barrier_crossings"].to_numpy() if "barrier_crossings" in grids else np.zeros(len(grids), dtype=np.int64)
    flags = {name: per_grid[name].to_numpy() for name in ("in_band", "excused", "defect", "one_piece", "polsby_popper")}
    # grid rows per community, in the grids' order
    order = np.argsort(grid_keys, kind="stable")
    sorted_keys = grid_keys[order]
    ids = metric_comm[community_id].astype(str).to_numpy()
    members = [order[a:b] for a, b in zip(np.searchsorted(sorted_keys, ids, "left"), np.searchsorted(sorted_keys, ids, "right"))]
    community_geoms = metric_comm.geometry.to_numpy()
    written = grids.geometry.to_numpy()
    tilings = _tilings(community_geoms, [geoms[rows] for rows in members], [written[rows] for rows in members])
    rows = []
    for cid, geom, index, (gap, overlap, coverage_ok) in zip(ids, community_geoms, members, tilings):
        hh = households[index]
        pp = flags["polsby_popper"][index]
        area = float(shapely.area(geom))
        mean = hh.mean() if len(hh) else 0.0
        rows.append(
            {
                community_id: cid,
                "n_grids": int(len(index)),
                "households": int(hh.sum()),
                "grids_in_band": int(flags["in_band"][index].sum()),
                "grids_excused": int(flags["excused"][index].sum()),
                "grids_defect": int(flags["defect"][index].sum()),
                "grids_one_piece": int(flags["one_piece"][index].sum()),
                "gap_ratio": gap / area if area > 0 else 0.0,
                "overlap_ratio": max(overlap, 0.0) / area if area > 0 else 0.0,
                "coverage_valid": coverage_ok,
                "polsby_popper_mean": float(pp.mean()) if len(pp) else 0.0,
                "polsby_popper_min": float(pp.min()) if len(pp) else 0.0,
                "balance": float(np.abs(hh - mean).max() / mean) if mean > 0 else 0.0,
                "barrier_crossings": int(crossings[index].sum()),
            }
        )
    return pd.DataFrame(rows)


def summarize(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    band: tuple[int, int],
    units: pd.DataFrame | None = None,
    unit_band: tuple[int, int] | None = None,
    community_id: str = "community_id",
    per_community: pd.DataFrame | None = None,
) -> dict:
    """Overall figures of a partition (the ones ``report.json`` and the benchmark quote).

    per_community : DataFrame, optional
        The result of :func:`community_metrics` when already computed.

    Returns
    -------
    dict
        ``n_grids``, ``share_in_band``, ``share_feasible_in_band`` (grids without
        an excuse that are in band), ``n_defects``, ``share_one_piece``,
        ``n_defects_proven_infeasible`` (defects for which no contiguous in-band
        split exists, by proof), ``max_gap_ratio``, ``max_overlap_ratio``, ``coverage_valid``,
        ``polsby_popper_mean``/``min``, ``max_balance``, ``barrier_crossings``, and
        for units ``n_units``, ``share_units_in_band`` and
        ``share_cuttable_units_in_band`` (units of grids whose households admit
        an exact cut into the unit band).
    """
    per_grid = grid_metrics(grids, band=band)
    per_comm = per_community if per_community is not None else community_metrics(grids, communities, band=band, community_id=community_id)
    feasible = ~per_grid["excused"]
    out = {
        "n_grids": int(len(grids)),
        "share_in_band": float(per_grid["in_band"].mean()) if len(grids) else 0.0,
        "share_feasible_in_band": float(per_grid["in_band"][feasible].mean()) if feasible.any() else 1.0,
        "n_defects": int(per_grid["defect"].sum()),
        "n_defects_proven_infeasible": int(per_grid["proven_infeasible"].sum()),
        "n_excused": int(per_grid["excused"].sum()),
        "share_one_piece": float(per_grid["one_piece"].mean()) if len(grids) else 0.0,
        "max_gap_ratio": float(per_comm["gap_ratio"].max()) if len(per_comm) else 0.0,
        "max_overlap_ratio": float(per_comm["overlap_ratio"].max()) if len(per_comm) else 0.0,
        "coverage_valid": bool(per_comm["coverage_valid"].all()) if len(per_comm) else False,
        "polsby_popper_mean": float(per_grid["polsby_popper"].mean()) if len(grids) else 0.0,
        "polsby_popper_min": float(per_grid["polsby_popper"].min()) if len(grids) else 0.0,
        "max_balance": float(per_comm["balance"].max()) if len(per_comm) else 0.0,
        "barrier_crossings": int(per_comm["barrier_crossings"].sum()) if len(per_comm) else 0,
    }
    if units is not None and unit_band is not None:
        hh = units["households"].to_numpy()
        ok = (hh >= unit_band[0]) & (hh <= unit_band[1])
        out["n_units"] = int(len(units))
        out["share_units_in_band"] = float(ok.mean()) if len(units) else 1.0
        if "grid_code" in units and "grid_code" in grids:
            # units whose grid's total admits an exact cut (with units of 10-15: any grid of 20 or more)
            totals = grids.set_index("grid_code")["households"].reindex(units["grid_code"]).to_numpy()
            cuttable = fits_units_each(totals, *unit_band)
            out["share_cuttable_units_in_band"] = float(ok[cuttable].mean()) if cuttable.any() else 1.0
    return out
