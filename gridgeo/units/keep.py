"""Cut a grid's joint units again so that households keep their unit where the band allows.

The algorithm behind the living register plans (:mod:`gridgeo.living.unitkeep`
applies it to a plan after ``update`` or ``apply-edits``):

1. **Sizes.**  :func:`cut_keeping` chooses, by an exact dynamic program over
   the grid's previous units, how many households each previous unit holds in
   the new plan (or whether it is dissolved) and how many households form new
   units, in this order of priority: the fewest units out of the band (none
   when the grid's total is a sum of band sizes, as in a fresh cut), then the
   most households kept in their unit, then unit sizes nearest to what the
   households around each unit ask for (its survivors plus the new households
   nearest to it).  A unit loses households only when the band forces it.
2. **Members.**  A unit that must shrink keeps its households that lie closest
   together along the walking order; the households left over (new in the
   register, arrived from another grid, or shed) fill the units that must grow
   with the nearest ones (an optimal assignment on building distance, then
   distance along the walking order); the rest form new units cut along the
   walking order as a fresh run cuts them (:func:`gridgeo.units.cut_households`:
   fewest staircases, then floors split).  Households no longer in the
   register simply disappear from their unit.
3. **Codes.**  A unit that keeps households keeps its code; a new unit takes the
   next number of its grid after every number the grid ever used.  A grid with
   no previous unit (a new grid code) is cut exactly as a fresh run cuts it.

:func:`recut_units` applies this to every grid of a plan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.optimize import linear_sum_assignment

from ..errors import AuditError
from ..inputs.crs import reproject_polygons
from .cut import cut_households, walking_order

__all__ = ["KeptUnit", "HouseholdSource", "UnitRecut", "cut_keeping", "recut_units"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeptUnit:
    """One unit of :func:`cut_keeping`: ``previous`` is the index of the previous unit it continues (-1: a new
    unit); ``positions`` are its households' positions in the grid's walking sequence, ascending."""

    previous: int
    positions: np.ndarray
    in_band: bool


@dataclass
class HouseholdSource:
    """The households of every building of a plan, in walking order inside the building.

    Attributes
    ----------
    ids : dict
        Building code → household ids (ndarray of str) in walking order.
    breaks : dict
        Building code → for each pair of consecutive households, how many leading
        order columns they share (as :attr:`gridgeo.inputs.register.MatchedRegister.breaks`).
    building_ids : dict
        Building code → the building's id (text), written to ``households.building_id``.
    order_values : DataFrame
        The order columns' values, indexed by household id.
    order_columns : tuple of str
    """

    ids: dict
    breaks: dict
    building_ids: dict
    order_values: pd.DataFrame
    order_columns: tuple


@dataclass
class UnitRecut:
    """What :func:`recut_units` gives: the new units, households table and the households that changed unit."""

    units: gpd.GeoDataFrame
    households: pd.DataFrame
    n_units: dict
    moved: list
    kept: int
    compared: int
    added: list
    removed: list
    retired_units: list


# -- the cut of one grid -----------------------------------------------------------------------------------
_FRESH_OOB: dict = {}


def _fresh_out_of_band(total: int, low: int, high: int) -> np.ndarray:
    """For every F = 0 … total: the fewest units out of band when F households form new units."""
    key = (low, high)
    known = _FRESH_OOB.get(key)
    if known is not None and len(known) > total:
        return known
    top = max(high, 2 * low - 1)
    size = max(total + 1, 2 * (len(known) if known is not None else 64))
    best = np.zeros(size, dtype=np.int64)
    sizes = np.arange(1, top + 1)
    oob = ((sizes < low) | (sizes > high)).astype(np.int64)
    for f in range(1, size):
        usable = sizes <= f
        best[f] = int(np.min(best[f - sizes[usable]] + oob[usable]))
    _FRESH_OOB[key] = best
    return best


def cut_keeping(
    households: np.ndarray,
    breaks: list,
    previous: np.ndarray,
    low: int,
    high: int,
    *,
    xy: np.ndarray | None = None,
) -> list[KeptUnit]:
    """Cut a grid's households into units, keeping each household in its previous unit where the band allows.

    Parameters
    ----------
    households : ndarray of int
        Households per building, in walking order (zeros allowed).
    breaks : list of ndarray
        Per building, the shared order levels of consecutive households (see
        :func:`gridgeo.units.cut_households`).
    previous : ndarray of int
        Per household of the sequence (buildings in walking order, households in
        their order): the index of the previous unit it was in (0, 1, …), or -1
        for a household new to this grid.
    low, high : int
        Unit size band.
    xy : ndarray, optional
        Building points (n × 2, metres) in the same order: new households join
        the units of the nearest buildings.  Without them, distance along the
        walking order only.

    Returns
    -------
    list of KeptUnit
        Units covering every household once, previous units first (by index),
        then new ones in walking order.  Among the cuts with the fewest units
        out of the band, the chosen one keeps the most households in their
        previous unit (exactly: a dynamic program over the previous units'
        sizes).

    Examples
    --------
    Two units of 12 households: 3 of the first moved out, 5 new households
    moved into the second unit's building.  The first unit (9 left) takes 2 of
    the new households, the second keeps all 12 and takes the other 3: nobody
    leaves a unit, both are in the band.

    >>> prev = np.array([0] * 9 + [1] * 12 + [-1] * 5)
    >>> units = cut_keeping(np.array([9, 17]), [np.zeros(8), np.zeros(16)], prev, 10, 15)
    >>> [(u.previous, len(u.positions), u.in_band) for u in units]
    [(0, 11, True), (1, 15, True)]
    >>> units[1].positions[:12].tolist() == list(range(9, 21))  # the second unit keeps all its households
    True
    """
    households = np.asarray(households, dtype=np.int64)
    previous = np.asarray(previous, dtype=np.int64)
    total = int(households.sum())
    if len(previous) != total:
        raise ValueError(f"{total} households but {len(previous)} previous units")
    if total == 0:
        return []
    building_of = np.repeat(np.arange(len(households)), households)
    old = np.unique(previous[previous >= 0])
    if len(old) == 0:
        cut = cut_households(households, breaks, low, high)
        starts = np.concatenate([[0], np.cumsum(households)[:-1]])
        return [
            KeptUnit(-1, np.concatenate([np.arange(starts[i] + a - 1, starts[i] + z) for i, a, z in u.members]), u.in_band)
            for u in cut
        ]
    # the units' indices made dense 0 … m-1 (previous[] may skip units that lost every household)
    label = np.full(total, -1, dtype=np.int64)
    label[previous >= 0] = np.searchsorted(old, previous[previous >= 0])
    m = len(old)
    survivors = np.bincount(label[label >= 0], minlength=m)
    pool = np.flatnonzero(label < 0)
    attracted = np.zeros(m, dtype=np.int64)
    if len(pool):
        np.add.at(attracted, np.argmin(_distances(pool, building_of, label, m, xy), axis=1), 1)
    sizes = _choose_sizes(survivors, survivors + attracted, total, low, high)
    # members: a unit that shrinks keeps its closest households; the rest join the pool
    kept_positions = []
    leftover = [pool]
    for i in range(m):
        members = np.flatnonzero(label == i)
        n = int(sizes[i])
        if n >= len(members):
            kept_positions.append(members)
            continue
        if n == 0:
            kept_positions.append(members[:0])
            leftover.append(members)
            continue
        spans = members[n - 1 :] - members[: len(members) - n + 1]
        start = int(np.argmin(spans))
        kept_positions.append(members[start : start + n])
        leftover.append(np.concatenate([members[:start], members[start + n :]]))
    free = np.sort(np.concatenate(leftover))
    slots = np.repeat(np.arange(m), np.maximum(sizes - np.array([len(k) for k in kept_positions]), 0))
    joined = [[] for _ in range(m)]
    taken = np.zeros(len(free), dtype=bool)
    if len(slots):
        cost = _join_cost(free, kept_positions, building_of, xy, slots)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols):
            joined[slots[c]].append(free[r])
            taken[r] = True
    units = []
    for i in range(m):
        positions = np.sort(np.concatenate([kept_positions[i], np.asarray(joined[i], dtype=np.int64)]))
        if len(positions):
            units.append(KeptUnit(int(old[i]), positions, bool(low <= len(positions) <= high)))
    rest = free[~taken]
    if len(rest):
        units.extend(_fresh_units(rest, households, breaks, building_of, low, high))
    return units


def _distances(rows: np.ndarray, building_of: np.ndarray, label: np.ndarray, m: int, xy: np.ndarray | None) -> np.ndarray:
    """Per household in ``rows`` × previous unit: metres from its building to the unit's nearest building, plus a
    thousandth of the distance along the walking order to the unit's nearest household."""
    out = np.zeros((len(rows), m), dtype=np.float64)
    near = xy is not None and len(xy)
    if near:
        row_buildings, row_building = np.unique(building_of[rows], return_inverse=True)
        row_building = row_building.reshape(-1)
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(-1, m + 1))
    for i in range(m):
        members = order[bounds[i + 1] : bounds[i + 2]]  # ascending positions
        # distance along the walking order to the nearest member: the members just before and after each row
        at = np.clip(np.searchsorted(members, rows), 1, len(members)) - 1
        along = np.minimum(np.abs(rows - members[at]), np.abs(rows - members[np.minimum(at + 1, len(members) - 1)])).astype(np.float64)
        if near:
            own = np.unique(building_of[members])
            d = np.hypot(xy[row_buildings, None, 0] - xy[None, own, 0], xy[row_buildings, None, 1] - xy[None, own, 1]).min(axis=1)
            out[:, i] = d[row_building] + 1e-3 * along
        else:
            out[:, i] = along
    return out


def _choose_sizes(survivors: np.ndarray, targets: np.ndarray, total: int, low: int, high: int) -> np.ndarray:
    """The households each previous unit holds (0: dissolved): fewest units out of band, then most kept, then
    sizes nearest the targets; the households not in a previous unit form new units."""
    m = len(survivors)
    top = max(high, 2 * low - 1)
    options = np.arange(0, top + 1)
    oob = ((options > 0) & ((options < low) | (options > high))).astype(np.int64)
    tie_base = m * (top + total) + 1
    loss_base = (total + 1) * tie_base
    inf = np.iinfo(np.int64).max // 4
    best = np.full(total + 1, inf, dtype=np.int64)
    best[0] = 0
    choice = np.zeros((m, total + 1), dtype=np.int64)
    for i in range(m):
        s, target = int(survivors[i]), int(targets[i])
        loss = s - np.minimum(s, options)
        tie = np.where(options > 0, np.abs(options - target), 0)
        cost = oob * loss_base + loss * tie_base + tie
        new = np.full(total + 1, inf, dtype=np.int64)
        pick = np.zeros(total + 1, dtype=np.int64)
        for n, c in zip(options, cost):
            if n > total:
                break
            candidate = best[: total + 1 - n] + c
            better = candidate < new[n:]
            new[n:][better] = candidate[better]
            pick[n:][better] = n
        best = np.minimum(new, inf)
        choice[i] = pick
    fresh = _fresh_out_of_band(total, low, high)[: total + 1][::-1]  # fresh[t]: new units of total - t households
    final = best + fresh * loss_base
    t = int(total - np.argmin(final[::-1]))  # ties: the most households in previous units
    sizes = np.zeros(m, dtype=np.int64)
    for i in range(m - 1, -1, -1):
        sizes[i] = choice[i, t]
        t -= int(sizes[i])
    return sizes


def _join_cost(free: np.ndarray, kept: list, building_of: np.ndarray, xy: np.ndarray | None, slots: np.ndarray) -> np.ndarray:
    """Cost of each leftover household joining each open place of a unit (columns: ``slots``' units)."""
    units = np.unique(slots)
    per_unit = np.zeros((len(free), len(units)), dtype=np.float64)
    for k, i in enumerate(units):
        members = kept[i]
        if not len(members):  # a unit dissolved to nothing never has places; kept for safety
            continue
        along = np.abs(free[:, None] - members[None, :]).min(axis=1).astype(np.float64)
        if xy is not None and len(xy):
            own = np.unique(building_of[members])
            b = building_of[free]
            d = np.hypot(xy[b, None, 0] - xy[None, own, 0], xy[b, None, 1] - xy[None, own, 1]).min(axis=1)
            per_unit[:, k] = d + 1e-3 * along
        else:
            per_unit[:, k] = along
    return per_unit[:, np.searchsorted(units, slots)]


def _fresh_units(rest: np.ndarray, households: np.ndarray, breaks: list, building_of: np.ndarray, low: int, high: int) -> list[KeptUnit]:
    """New units from the households in ``rest`` (positions, ascending), cut along the walking order."""
    starts = np.concatenate([[0], np.cumsum(households)[:-1]])
    groups, group_breaks, group_positions = [], [], []
    for b in np.unique(building_of[rest]):
        here = rest[building_of[rest] == b]
        shared = np.asarray(breaks[b], dtype=np.int64) if households[b] > 1 else np.zeros(0, dtype=np.int64)
        local = here - starts[b]
        # two households of one building that were not neighbours share the fewest levels of the pairs between them
        pair = [int(shared[a:z].min()) if z > a else 0 for a, z in zip(local[:-1], local[1:])]
        groups.append(len(here))
        group_breaks.append(np.asarray(pair, dtype=np.int64))
        group_positions.append(here)
    sequence = np.concatenate(group_positions)
    cut = cut_households(np.asarray(groups, dtype=np.int64), group_breaks, low, high)
    offsets = np.concatenate([[0], np.cumsum(groups)[:-1]])
    return [
        KeptUnit(-1, np.sort(np.concatenate([sequence[offsets[g] + a - 1 : offsets[g] + z] for g, a, z in u.members])), u.in_band)
        for u in cut
    ]


# -- every grid of a plan ----------------------------------------------------------------------------------
def recut_units(
    result,
    source: HouseholdSource,
    previous_households: pd.DataFrame,
    *,
    unit_band: tuple[int, int],
    metric_crs,
    building_geoms: dict,
    retired_units: list | tuple = (),
) -> UnitRecut:
    """Cut the units of every grid of ``result`` again, keeping households in their previous unit where allowed.

    Parameters
    ----------
    result : Partition
        The new plan, its buildings assigned to grids (``building_code``,
        ``grid_code``, ``households``).
    source : HouseholdSource
        The households of every building of ``result`` (ids in walking order).
    previous_households : DataFrame
        The previous plan's ``households`` table (``household_id``,
        ``grid_code``, ``unit_code``).
    unit_band : (int, int)
    metric_crs : CRS
        The metric CRS of the plan (unit geometries are unions in it, as a fresh run makes them).
    building_geoms : dict
        Building code → its geometry in ``metric_crs``.
    retired_units : sequence of str
        Unit codes retired by earlier versions (never reused).

    Returns
    -------
    UnitRecut

    Raises
    ------
    AuditError
        A building's households in ``source`` differ from its count in ``result``.
    """
    low, high = unit_band
    buildings = result.buildings
    grids = result.grids
    codes = buildings["building_code"].astype(str).to_numpy()
    grid_of = buildings["grid_code"].astype(str).to_numpy()
    counts = buildings["households"].to_numpy(dtype=np.int64)
    for code, n in zip(codes, counts):
        if len(source.ids.get(code, ())) != int(n):
            raise AuditError(f"building {code} counts {int(n)} households but the register lists {len(source.ids.get(code, ()))}")
    prev = previous_households
    prev_ids = prev["household_id"].astype(str).to_numpy(dtype=object)
    prev_unit = dict(zip(prev_ids, prev["unit_code"].astype(str).to_numpy(dtype=object)))
    prev_grid = dict(zip(prev_ids, prev["grid_code"].astype(str).to_numpy(dtype=object)))
    prev_units_of: dict[str, list[str]] = {}
    for code in sorted(set(prev_unit.values())):
        prev_units_of.setdefault(code.rsplit("-", 1)[0], []).append(code)
    retired = set(str(c) for c in retired_units)
    points = {c: shapely.point_on_surface(g) for c, g in building_geoms.items()}
    comm_of_grid = dict(zip(grids["grid_code"].astype(str), grids["community_code"].astype(str)))
    cid_of_grid = dict(zip(grids["grid_code"].astype(str), grids["community_id"].astype(str)))
    rows, geoms, table = [], [], []
    n_units = {}
    members_of_grid = pd.Series(np.arange(len(codes))).groupby(grid_of).apply(list).to_dict() if len(codes) else {}
    for gcode in grids["grid_code"].astype(str):
        members = sorted(members_of_grid.get(gcode, []), key=lambda i: codes[i])
        members = np.asarray([i for i in members if counts[i] > 0], dtype=np.int64)
        if not len(members):
            n_units[gcode] = 0
            continue
        xy = np.array([[points[codes[i]].x, points[codes[i]].y] for i in members]).reshape(-1, 2)
        order = walking_order(xy)
        walk = members[order]
        ids = np.concatenate([np.asarray(source.ids[codes[i]], dtype=object) for i in walk])
        old_codes = prev_units_of.get(gcode, [])
        index = {c: k for k, c in enumerate(old_codes)}
        previous = np.array(
            [index.get(prev_unit.get(h, ""), -1) if prev_grid.get(h) == gcode else -1 for h in ids], dtype=np.int64
        )
        units = cut_keeping(counts[walk], [source.breaks[codes[i]] for i in walk], previous, low, high, xy=xy[order])
        used = [int(c.rsplit("-", 1)[1]) for c in old_codes] + [int(c.rsplit("-", 1)[1]) for c in retired if c.rsplit("-", 1)[0] == gcode]
        width = max([2] + [len(c.rsplit("-", 1)[1]) for c in old_codes])
        following = max(used, default=0) + 1
        named = []
        for unit in units:
            if unit.previous >= 0:
                named.append((old_codes[unit.previous], unit))
            else:
                named.append((None, unit))
        fresh_count = sum(1 for c, _ in named if c is None)
        width = max(width, len(str(following + fresh_count - 1)))
        if not old_codes:
            width = max(2, len(str(len(units))))
        out = []
        for c, unit in named:
            if c is None:
                c = f"{gcode}-{following:0{width}d}"
                following += 1
            out.append((c, unit))
        out.sort(key=lambda item: item[0])
        n_units[gcode] = len(out)
        building_at = np.repeat(walk, counts[walk])
        for ucode, unit in out:
            hids = ids[unit.positions]
            in_buildings = list(dict.fromkeys(int(b) for b in building_at[unit.positions]))
            rows.append(
                {
                    "unit_code": ucode,
                    "grid_code": gcode,
                    "community_id": cid_of_grid[gcode],
                    "community_code": comm_of_grid[gcode],
                    "households": int(len(hids)),
                    "n_buildings": len(in_buildings),
                    "members": ";".join(str(h) for h in hids),
                    "building_codes": ";".join(codes[b] for b in in_buildings),
                    "in_band": unit.in_band,
                    **_unit_reason(unit.in_band, int(counts[walk].sum()), unit_band),
                }
            )
            parts = [building_geoms[codes[b]] for b in in_buildings]
            geoms.append(parts[0] if len(parts) == 1 else shapely.union_all(parts))
            table.extend(
                (str(h), source.building_ids.get(codes[b], ""), codes[b], gcode, ucode, k)
                for k, (h, b) in enumerate(zip(hids, building_at[unit.positions]), start=1)
            )
    crs = result.grids.crs
    units = gpd.GeoDataFrame(rows, geometry=list(reproject_polygons(geoms, metric_crs, crs, whole=True)), crs=crs) if rows else result.units.iloc[0:0].copy()
    if len(units):
        units = units.iloc[np.argsort(units["unit_code"].astype(str).to_numpy(), kind="stable")].reset_index(drop=True)
    households = pd.DataFrame(table, columns=["household_id", "building_id", "building_code", "grid_code", "unit_code", "position"])
    households["position"] = households["position"].astype(np.int64)
    for column in source.order_columns:
        name = f"register_{column}" if column in households.columns else column
        households[name] = source.order_values[column].reindex(households["household_id"]).to_numpy() if len(households) else []
    households = households.sort_values(["unit_code", "position"], kind="stable").reset_index(drop=True)
    # households that changed unit, and the units that lost every household
    now_ids = households["household_id"].to_numpy(dtype=object)
    new_unit = dict(zip(now_ids, households["unit_code"].to_numpy(dtype=object)))
    moved = []
    kept = compared = 0
    building_now = dict(zip(now_ids, households["building_code"].to_numpy(dtype=object)))
    for hid in now_ids:
        before = prev_unit.get(hid)
        if before is None:
            continue
        compared += 1
        if before == new_unit[hid]:
            kept += 1
        else:
            moved.append({"household_id": hid, "building_code": building_now[hid], "from": before, "to": new_unit[hid]})
    moved.sort(key=lambda item: (item["from"], item["household_id"]))
    added = sorted(h for h in new_unit if h not in prev_unit)
    removed = sorted(h for h in prev_unit if h not in new_unit)
    now = set(households["unit_code"])
    retired_now = sorted(c for c in set(prev_unit.values()) if c not in now)
    return UnitRecut(units, households, n_units, moved, kept, compared, added, removed, sorted(retired | set(retired_now)))


def _unit_reason(in_band: bool, grid_households: int, unit_band) -> dict:
    from ..labels import reason_text

    if in_band:
        return {"reason": "", "reason_zh": ""}
    params = {"households": grid_households, "low": unit_band[0], "high": unit_band[1]}
    return {"reason": reason_text("unit_unfit", params, "en"), "reason_zh": reason_text("unit_unfit", params, "zh")}
