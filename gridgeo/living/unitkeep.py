"""Joint units of a living register plan: households keep their unit where the band allows.

A plan partitioned with a household register (:mod:`gridgeo.inputs.register`) lists
real households in its joint units (联户).  When the plan is updated for a new
register (:func:`gridgeo.living.update.update`) or edited
(:func:`gridgeo.living.edits.apply_edits`), its grids are repaired at the building
level first; then this module cuts the units of every grid again so that a
household that is still in the same grid (the same grid code) stays in its
unit wherever the unit band allows.

The cut itself is :mod:`gridgeo.units.keep` (sizes by an exact dynamic program,
then members along the walking order, then codes: a unit that keeps households
keeps its code; the report records ``retired_unit_codes``, never reused).

:func:`recut_units` applies this to every grid of a plan and returns the units,
the ``households`` table and the households that changed unit, which
:func:`apply_recut` writes into the plan and its change record
(``households_moved_units``: household id, building, from, to).

:func:`register_for_update` reads the new register of an update (checked and
matched to the new buildings as :func:`gridgeo.partition` does) and
:func:`households_of_plan` rebuilds the households of a plan's own
``households`` table for :func:`gridgeo.living.edits.apply_edits`, where the moved
buildings take their households with them.  Personal columns never enter this
module: it sees household ids, building ids and order columns only.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ..inputs.register import MatchedRegister, _shared_levels, id_key, id_keys, match_register, natural_ranks, prepare_register
from ..units.cut import fits_units
from ..units.keep import HouseholdSource, KeptUnit, UnitRecut, cut_keeping, recut_units

__all__ = [
    "KeptUnit",
    "HouseholdSource",
    "UnitRecut",
    "RegisterUpdate",
    "cut_keeping",
    "recut_units",
    "apply_recut",
    "register_for_update",
    "households_of_plan",
    "require_register",
    "REGISTER_COUNT",
]

logger = logging.getLogger(__name__)

#: the column holding the register's counts on the copy of the buildings an update prepares
REGISTER_COUNT = "households (register)"


@dataclass
class RegisterUpdate:
    """The new register of an update, matched to the new buildings (see :func:`register_for_update`)."""

    matched: MatchedRegister
    buildings: gpd.GeoDataFrame  # a copy of the new buildings with the register counts in REGISTER_COUNT
    building_id: str
    options: dict = field(default_factory=dict)


def apply_recut(result, recut: UnitRecut, changes: dict, *, unit_band: tuple[int, int], register_section: dict | None = None, unassigned: pd.DataFrame | None = None):
    """``result`` with the units and households of ``recut``; ``changes`` gains the households that changed unit.

    The grids' ``n_units``, the report's unit figures (``summary``: ``n_units``,
    ``share_units_in_band``, ``share_cuttable_units_in_band``), its
    ``register`` section and ``retired_unit_codes`` are written again.
    Returns the new :class:`~gridgeo.result.Partition` (``result`` is not modified).
    """
    from ..result import single_part_units

    grids = result.grids.copy()
    if "n_units" in grids:
        grids["n_units"] = grids["grid_code"].astype(str).map(recut.n_units).fillna(0).astype(grids["n_units"].dtype)
    units = recut.units
    if len(result.units) and len(units):
        columns = [c for c in result.units.columns if c in units.columns] + [c for c in units.columns if c not in result.units.columns]
        units = units[columns]
    units = single_part_units(units, result.buildings)
    report = dict(result.report)
    summary = dict(report.get("summary", {}))
    hh = units["households"].to_numpy() if len(units) else np.zeros(0)
    ok = (hh >= unit_band[0]) & (hh <= unit_band[1])
    totals = grids.set_index("grid_code")["households"].reindex(units["grid_code"]).to_numpy() if len(units) else np.zeros(0)
    cuttable = np.array([fits_units(t, *unit_band) for t in totals], dtype=bool)
    summary.update(
        {
            "n_units": int(len(units)),
            "share_units_in_band": float(ok.mean()) if len(units) else 1.0,
            "share_cuttable_units_in_band": float(ok[cuttable].mean()) if cuttable.any() else 1.0,
        }
    )
    report["summary"] = summary
    report["retired_unit_codes"] = list(recut.retired_units)
    section = dict(register_section or report.get("register", {}))
    outside = unassigned if unassigned is not None else (result.unassigned_households if result.unassigned_households is not None else pd.DataFrame(columns=["household_id", "building_id", "reason"]))
    section.update(
        {
            "households": int(len(recut.households) + len(outside)),
            "households_in_units": int(len(recut.households)),
            "buildings_with_households": int((result.buildings["households"] > 0).sum()),
            "unassigned_households": outside.to_dict(orient="records"),
        }
    )
    report["register"] = section
    changes["households_moved_units"] = recut.moved
    changes["households_kept_in_unit"] = int(recut.kept)
    changes["households_compared_units"] = int(recut.compared)
    changes["share_households_changed_unit"] = float(len(recut.moved) / recut.compared) if recut.compared else 0.0
    changes["register_households_added"] = recut.added
    changes["register_households_removed"] = recut.removed
    report["changes"] = {key: (len(value) if isinstance(value, list) else value) for key, value in changes.items() if key != "parent"}
    out = dataclasses.replace(result, grids=grids, units=units, report=report)
    out.households = recut.households
    out.unassigned_households = outside.reset_index(drop=True)
    out.changes = changes
    return out


# -- where the households come from ------------------------------------------------------------------------
def require_register(run, register, command: str) -> None:
    """A plan made with a register needs the current register for ``update``; a plan without one takes none.

    Raises
    ------
    InputError
        ``update`` of a register plan without a register, or a register given
        for a plan made without one.

    Examples
    --------
    >>> from gridgeo.living.lineage import PreviousRun
    >>> run = PreviousRun(None, None, {"register_household": "户号"}, (300, 500), (10, 15), 0)
    >>> require_register(run, None, "update")
    Traceback (most recent call last):
    ...
    gridgeo.errors.InputError: previous: was partitioned with a household register; ...
    """
    planned = bool(run.params.get("register_household"))
    if planned and register is None and command == "update":
        raise InputError(
            Problem(
                run.where,
                "was partitioned with a household register; an update needs the register as it is now (its households decide each building's count and unit)",
                "pass the current register: --register FILE (register= in Python), the same file again when no household moved in or out",
            )
        )
    if not planned and register is not None:
        raise InputError(
            Problem(
                run.where,
                "was partitioned without a household register, so its units hold no households to keep",
                "run `gridgeo partition` with --register to start a register plan, or update without --register",
            )
        )


def register_for_update(
    run,
    buildings: gpd.GeoDataFrame,
    register: pd.DataFrame,
    *,
    register_building: str | None = None,
    register_household: str | None = None,
    register_order=None,
    register_unmatched: str | None = None,
    labels: dict | None = None,
) -> RegisterUpdate:
    """The new register of an update, checked and matched to the new buildings.

    Column options not given are the ones the previous plan recorded
    (``report["parameters"]``: ``register_building``, ``register_household``,
    ``register_order``, ``register_unmatched``).

    Raises
    ------
    InputError
        The register's problems (as :func:`gridgeo.partition` reports them), or
        the buildings have no id column.
    """
    params = run.params
    labels = labels or {}
    building_id = params.get("building_id")
    options = {
        "register_building": register_building or params.get("register_building"),
        "register_household": register_household or params.get("register_household"),
        "register_order": register_order if register_order is not None else params.get("register_order") or None,
        "register_unmatched": register_unmatched or params.get("register_unmatched") or "error",
    }
    label = labels.get("register", "register")
    if not building_id or building_id not in buildings.columns:
        raise InputError(
            Problem(labels.get("buildings", "buildings"), f"has no column '{building_id}', the building id the register refers to", "give the new buildings with the same id column as before")
        )
    known = (buildings[building_id].to_numpy(), labels.get("buildings", "buildings"), building_id) if options["register_unmatched"] == "error" else None
    checked = prepare_register(
        register, building=options["register_building"], household=options["register_household"], order=options["register_order"], label=label, known=known
    )
    matched = match_register(
        checked, buildings[building_id].to_numpy(), unmatched=options["register_unmatched"], buildings_label=labels.get("buildings", "buildings"), building_column=building_id
    )
    used = buildings.copy()
    used[REGISTER_COUNT] = matched.counts
    options["register_order"] = list(checked.order_columns)
    return RegisterUpdate(matched, used, building_id, options)


def source_from_register(reg: RegisterUpdate, prep, b_code: np.ndarray) -> tuple[HouseholdSource, pd.DataFrame]:
    """The households of every building of an update (by its new building code), and the unassigned households.

    ``prep`` is the update's prepared input (rows in the order of ``b_code``),
    whose buildings keep the input's row labels.
    """
    matched = reg.matched
    keys = id_keys(reg.buildings[reg.building_id])
    position = {k: i for i, k in enumerate(keys)}
    ids, breaks, building_ids = {}, {}, {}
    for code, value in zip(b_code, prep.buildings[reg.building_id].to_numpy()):
        i = position[id_key(value)]
        ids[str(code)] = np.asarray(matched.households[i], dtype=object)
        breaks[str(code)] = matched.breaks[i]
        building_ids[str(code)] = keys[i]
    outside = []
    for value, reason in zip(prep.unassigned[reg.building_id].to_numpy(), prep.unassigned["reason"].to_numpy()):
        i = position.get(id_key(value))
        if i is not None:
            outside.extend((hid, id_key(value), reason) for hid in matched.households[i])
    unassigned = pd.DataFrame(
        outside + list(matched.unmatched[["household_id", "building_id", "reason"]].itertuples(index=False, name=None)),
        columns=["household_id", "building_id", "reason"],
    )
    source = HouseholdSource(ids, breaks, building_ids, matched.order_values, tuple(matched.register.order_columns))
    return source, unassigned


def register_section(reg: RegisterUpdate, previous_section: dict) -> dict:
    """The report's ``register`` section for the new register (counts are filled by :func:`apply_recut`)."""
    return {
        **previous_section,
        "buildings_without_households": list(reg.matched.buildings_without),
        "order_columns": list(reg.matched.register.order_columns),
        "personal_columns_withheld": list(reg.matched.register.personal_columns),
    }


def households_of_plan(plan) -> HouseholdSource:
    """The households of every building of a register plan, read from its own ``households`` table.

    Inside a building they follow the order columns (natural sort), then the
    table's unit and position order (the register's row order is not kept in a plan).

    Examples
    --------
    >>> import types
    >>> table = pd.DataFrame({"household_id": ["b", "a"], "building_id": ["7", "7"], "building_code": ["001-B00001"] * 2,
    ...                       "unit_code": ["001-01-01"] * 2, "position": [1, 2], "floor": ["10", "9"]})
    >>> plan = types.SimpleNamespace(households=table, report={"register": {"order_columns": ["floor"]}})
    >>> source = households_of_plan(plan)
    >>> source.ids["001-B00001"].tolist(), source.breaks["001-B00001"].tolist()
    (['a', 'b'], [0])
    """
    table = plan.households
    order = tuple((plan.report or {}).get("register", {}).get("order_columns", []))
    own = {"household_id", "building_id", "building_code", "grid_code", "unit_code", "position"}
    columns = [f"register_{c}" if c in own else c for c in order]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(Problem("households", f"the plan's households table has no column {', '.join(missing)}", "edit a plan written by gridgeo partition --register"))
    frame = table.sort_values(["unit_code", "position"], kind="stable").reset_index(drop=True)
    values = frame[columns].astype(object).where(frame[columns].notna(), "").astype(str).to_numpy() if columns else np.zeros((len(frame), 0), dtype=object)
    ranks = [natural_ranks(values[:, k]) for k in range(values.shape[1])]
    building = frame["building_code"].astype(str).to_numpy()
    sort = np.lexsort([np.arange(len(frame)), *ranks[::-1], building]) if len(frame) else np.zeros(0, dtype=np.int64)
    frame, values, building = frame.iloc[sort], values[sort], building[sort]
    ids, breaks, building_ids = {}, {}, {}
    hids = frame["household_id"].astype(str).to_numpy()
    bids = frame["building_id"].astype(str).to_numpy()
    bounds = np.flatnonzero(np.r_[True, building[1:] != building[:-1], True]) if len(frame) else np.array([0])
    for a, z in zip(bounds[:-1], bounds[1:]):
        code = str(building[a])
        ids[code] = hids[a:z].astype(object)
        breaks[code] = _shared_levels(values[a:z])
        building_ids[code] = str(bids[a])
    order_values = pd.DataFrame(values, columns=list(order), index=pd.Index(hids, name="household_id"))
    return HouseholdSource(ids, breaks, building_ids, order_values, order)


# -- the hooks of update and apply-edits -------------------------------------------------------------------
def keep_register_units(result, run, reg: RegisterUpdate, prep, b_code: np.ndarray, metric_crs, unit_band: tuple[int, int]):
    """An updated register plan: its units re-cut for the new register, households kept in their unit.

    ``prep`` and ``b_code`` are the update's prepared buildings and their codes
    (same order); ``result`` is the plan :func:`gridgeo.living.update.update` assembled.
    """
    source, unassigned = source_from_register(reg, prep, b_code)
    previous = run.partition.households
    if previous is None:
        raise InputError(Problem(run.where, "records a household register but holds no households table", "update a folder written by gridgeo partition --register"))
    recut = recut_units(
        result, source, previous, unit_band=unit_band, metric_crs=metric_crs,
        building_geoms=dict(zip((str(c) for c in b_code), prep.building_geoms)), retired_units=run.report.get("retired_unit_codes", []),
    )
    section = register_section(reg, run.report.get("register", {}))
    out = apply_recut(result, recut, result.changes, unit_band=unit_band, register_section=section, unassigned=unassigned)
    out.report["parameters"] = {**out.report.get("parameters", {}), **reg.options}
    out.report["notes"] = list(out.report.get("notes", [])) + [n for n in reg.matched.notes if n not in out.report.get("notes", [])]
    _log(recut)
    return out


def keep_plan_units(result, run, prep, b_code: np.ndarray, metric_crs, unit_band: tuple[int, int]):
    """An edited register plan: moved buildings took their households; units re-cut keeping households in their unit."""
    source = households_of_plan(run.partition)
    for code, n in zip((str(c) for c in b_code), prep.households):
        if code not in source.ids and int(n) == 0:
            source.ids[code], source.breaks[code], source.building_ids[code] = np.zeros(0, dtype=object), np.zeros(0, dtype=np.int8), ""
    recut = recut_units(
        result, source, run.partition.households, unit_band=unit_band, metric_crs=metric_crs,
        building_geoms=dict(zip((str(c) for c in b_code), prep.building_geoms)), retired_units=run.report.get("retired_unit_codes", []),
    )
    out = apply_recut(
        result, recut, result.changes, unit_band=unit_band, register_section=run.report.get("register", {}), unassigned=run.partition.unassigned_households
    )
    _log(recut)
    return out


def registered_layer(plan, layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The input layer of a register plan (``gridgeo.living.edits``) with each building's register count in
    :data:`REGISTER_COUNT`: the plan's own counts, not an estimate from the footprint."""
    counts = dict(zip(plan.buildings["building_code"].astype(str), plan.buildings["households"].astype(np.int64)))
    out = layer.copy()
    n = len(plan.buildings)
    values = np.zeros(len(out), dtype=np.int64)
    values[:n] = [counts[str(c)] for c in plan.buildings["building_code"]]
    out[REGISTER_COUNT] = values
    return out


def _log(recut: UnitRecut) -> None:
    logger.info(
        "units: %d of %d households kept their unit, %d changed unit; %d households new in the register, %d gone",
        recut.kept, recut.compared, len(recut.moved), len(recut.added), len(recut.removed),
    )
