"""Households per building: from a column, or estimated from footprint and storeys.

An estimate is ``footprint m² × storeys × net_ratio ÷ dwelling_m2`` rounded to
whole households, with storeys from a levels column, else a height column
(÷ ``storey_height_m``), else ``default_storeys``; a building whose use (a
``building`` column, as OpenStreetMap's) is not residential (shops, offices,
schools, churches, garages, …: :data:`NON_RESIDENTIAL`) gets none.  When a community's register
total is known, estimates are scaled so that each community adds up to it
exactly (largest-remainder apportionment).  Estimated counts are flagged in
every output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "TYPE_COLUMNS",
    "NON_RESIDENTIAL",
    "non_residential",
    "LEVEL_COLUMNS",
    "HEIGHT_COLUMNS",
    "estimate_households",
    "apportion",
    "calibrate_to_totals",
]

#: columns naming a building's use (OpenStreetMap's ``building`` tag first)
TYPE_COLUMNS = ("building", "building_type", "建筑类型", "建筑用途", "用途")
#: uses whose buildings hold no households when households are estimated (OpenStreetMap ``building`` values, and the
#: same in Chinese); ``yes``, unknown and residential uses keep their estimate
NON_RESIDENTIAL = frozenset(
    {
        "commercial", "retail", "office", "industrial", "warehouse", "manufacture", "supermarket", "shop", "kiosk", "hotel",
        "school", "university", "college", "kindergarten", "hospital", "clinic", "public", "civic", "government",
        "church", "cathedral", "chapel", "mosque", "temple", "shrine", "synagogue", "monastery", "religious",
        "stadium", "sports_hall", "sports_centre", "grandstand", "pavilion", "museum", "fire_station", "train_station",
        "transportation", "parking", "garage", "garages", "carport", "hangar", "service", "shed", "roof", "toilets",
        "barn", "greenhouse", "farm_auxiliary", "bunker", "bridge", "ruins", "collapsed", "construction", "power",
        "substation", "transformer_tower", "water_tower", "tower", "communications_tower",
        "商业", "商场", "商铺", "办公", "写字楼", "工业", "工厂", "厂房", "仓库", "酒店", "宾馆", "学校", "幼儿园", "医院",
        "政府", "机关", "公共建筑", "教堂", "寺庙", "体育馆", "车库", "停车场", "车站",
    }
)  # fmt: skip

LEVEL_COLUMNS = ("levels", "building:levels", "building_levels", "floors", "storeys", "stories", "levels_est", "层数")
HEIGHT_COLUMNS = ("height", "height_m", "building_height", "高度")


def estimate_households(
    footprint_m2: np.ndarray,
    *,
    levels: np.ndarray | None = None,
    height_m: np.ndarray | None = None,
    default_storeys: float = 3.0,
    storey_height_m: float = 3.0,
    dwelling_m2: float = 90.0,
    net_ratio: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate households from footprint area and storeys.

    Parameters
    ----------
    footprint_m2 : ndarray
        Footprint areas in square metres.
    levels, height_m : ndarray, optional
        Storey counts or heights; missing values (NaN, ≤ 0) fall through to the
        next source.
    default_storeys : float
        Storeys used when neither levels nor height is known.
    storey_height_m, dwelling_m2, net_ratio : float
        Height of a storey, floor area of a dwelling, and the usable share of
        gross floor area.

    Returns
    -------
    households : ndarray of int64
    storeys_source : ndarray of str
        ``"levels"``, ``"height"`` or ``"default"`` per building.

    Examples
    --------
    >>> hh, src = estimate_households(np.array([450.0, 90.0]), levels=np.array([5.0, np.nan]))
    >>> hh.tolist(), src.tolist()
    ([20, 2], ['levels', 'default'])
    """
    area = np.asarray(footprint_m2, dtype=float)
    storeys = np.full(len(area), np.nan)
    source = np.full(len(area), "default", dtype=object)
    if levels is not None:
        lv = pd.to_numeric(pd.Series(levels), errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(lv) & (lv > 0)
        storeys[ok] = lv[ok]
        source[ok] = "levels"
    if height_m is not None:
        ht = pd.to_numeric(pd.Series(height_m), errors="coerce").to_numpy(dtype=float)
        ok = np.isnan(storeys) & np.isfinite(ht) & (ht > 0)
        storeys[ok] = np.maximum(1.0, np.round(ht[ok] / storey_height_m))
        source[ok] = "height"
    storeys = np.where(np.isnan(storeys), default_storeys, storeys)
    households = np.round(area * storeys * net_ratio / dwelling_m2).astype(np.int64)
    return np.maximum(households, 0), source.astype(str)


def non_residential(uses) -> np.ndarray:
    """Per building, whether its use (a :data:`TYPE_COLUMNS` value) is one of :data:`NON_RESIDENTIAL`.

    Examples
    --------
    >>> non_residential(["apartments", "Commercial", "yes", None, "学校"]).tolist()
    [False, True, False, False, True]
    """
    text = pd.Series(uses, dtype=object).map(lambda v: str(v).strip().lower() if isinstance(v, str) else "")
    return text.isin(NON_RESIDENTIAL).to_numpy()


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights`` (largest remainder).

    Examples
    --------
    >>> apportion(10, np.array([1.0, 1.0, 1.0])).tolist()
    [4, 3, 3]
    >>> int(apportion(7, np.array([0.0, 0.0])).sum())
    7
    """
    weights = np.asarray(weights, dtype=float)
    if len(weights) == 0:
        return np.zeros(0, dtype=np.int64)
    if weights.sum() <= 0:
        weights = np.ones(len(weights))
    quota = total * weights / weights.sum()
    base = np.floor(quota).astype(np.int64)
    left = int(total - base.sum())
    if left > 0:
        order = np.lexsort((np.arange(len(quota)), -(quota - base)))
        base[order[:left]] += 1
    return base


def calibrate_to_totals(
    estimates: np.ndarray, community: np.ndarray, totals: dict[int, int], footprint_m2: np.ndarray
) -> np.ndarray:
    """Scale per-building estimates so each community sums to its register total.

    Parameters
    ----------
    estimates : ndarray of int
        Estimated households per building.
    community : ndarray of int
        Community index per building.
    totals : dict
        Register total per community index (communities missing keep their estimates).
    footprint_m2 : ndarray
        Used as the weights when a community's estimates are all zero.

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> calibrate_to_totals(np.array([10, 30, 5]), np.array([0, 0, 1]), {0: 80}, np.ones(3)).tolist()
    [20, 60, 5]
    """
    out = np.asarray(estimates, dtype=np.int64).copy()
    for index, total in totals.items():
        members = np.flatnonzero(community == index)
        if len(members) == 0:
            continue
        weights = out[members].astype(float)
        if weights.sum() <= 0:
            weights = np.asarray(footprint_m2, dtype=float)[members]
        out[members] = apportion(int(total), weights)
    return out
