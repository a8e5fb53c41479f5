"""The Python API: :func:`partition` and its result, :class:`Partition`.

``partition`` takes community polygons and building footprints (or points) and
returns new GeoDataFrames of grids, buildings and joint units with codes,
households and flags, plus a report of every measure of :mod:`gridgeo.metrics`.
The inputs are never modified.
"""

from __future__ import annotations

import logging
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import __version__, timings
from .arrays import geometry_order
from .cells.areas import assign_areas, facility_letter
from .errors import AuditError, InputError, Problem
from .governance.codes import building_code, community_codes, grid_code, reading_order, unit_code, width_for
from .governance.standard_codes import apply_codes, prepare_codes
from .governance.workload import add_workload
from .inputs.crs import reproject_polygons
from .inputs.register import match_register, prepare_register
from .inputs.validate import prepare_inputs
from .labels import reason_text
from .metrics import community_metrics, polsby_popper, summarize
from .parallel import map_ordered
from .partition.engine import CommunityTask, run_community_task
from .partition.plan import DEDICATED
from .result import Partition

__all__ = ["partition", "Partition", "parse_band"]

logger = logging.getLogger(__name__)

ADDED_BUILDING_COLUMNS = ("building_code", "community_code", "grid_code", "households", "households_estimated")


def parse_band(text: str | tuple[int, int], what: str = "grid size") -> tuple[int, int]:
    """Parse ``"300:500"`` (or a pair) into a checked ``(low, high)`` band.

    Examples
    --------
    >>> parse_band("300:500")
    (300, 500)
    >>> parse_band((10, 15), "unit size")
    (10, 15)
    """
    if isinstance(text, str):
        pieces = text.replace("-", ":").split(":")
        try:
            low, high = (int(p) for p in pieces)
        except ValueError:
            raise InputError(Problem(what, f"'{text}' is not a band", "write it as MIN:MAX, e.g. 300:500")) from None
    else:
        try:
            low, high = (int(v) for v in text)
        except (TypeError, ValueError):
            raise InputError(Problem(what, f"{text!r} is not a band", "give (MIN, MAX)")) from None
    if low < 1 or high < low:
        raise InputError(Problem(what, f"{low}:{high} is not a band", "use 1 <= MIN <= MAX"))
    return low, high


def partition(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    households: str | None = None,
    community_id: str | None = None,
    building_id: str | None = None,
    community_households: str | None = None,
    grid_size: tuple[int, int] | str = (300, 500),
    unit_size: tuple[int, int] | str = (10, 15),
    barriers: gpd.GeoDataFrame | list[gpd.GeoDataFrame] | None = None,
    dedicated: gpd.GeoDataFrame | pd.DataFrame | None = None,
    dedicated_type: str = "type",
    compounds: gpd.GeoDataFrame | None = None,
    seed: int = 0,
    default_storeys: float = 3.0,
    dwelling_m2: float = 90.0,
    labels: dict[str, str] | None = None,
    progress: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
    audit: bool = True,
    code_scheme: str = "default",
    object_class: str | None = None,
    county_code_column: str | None = None,
    street_code_column: str | None = None,
    community_code_column: str | None = None,
    valid_from: str | None = None,
    valid_to: str | None = None,
    responsible_unit_column: str | None = None,
    register: pd.DataFrame | None = None,
    register_building: str | None = None,
    register_household: str | None = None,
    register_order: str | list[str] | None = None,
    register_unmatched: str = "error",
) -> Partition:
    """Split every community into grids and every grid into joint units.

    Parameters
    ----------
    communities : GeoDataFrame
        Community (社区) polygons with a CRS.
    buildings : GeoDataFrame
        Building footprints or points with a CRS.
    households : str, optional
        Column of ``buildings`` with household counts.  When omitted households
        are estimated from footprint × storeys and flagged as estimates.
    community_id : str, optional
        Id column of ``communities`` (default: ``community_id`` when present,
        else row numbers).
    building_id : str, optional
        Id column of ``buildings``, checked for duplicates.
    community_households : str, optional
        Column of ``communities`` with register totals; estimates are scaled
        to them.
    grid_size, unit_size : (int, int) or "MIN:MAX"
        Household bands of grids (default 300–500) and joint units (10–15).
    barriers : GeoDataFrame or list of them, optional
        Roads, rivers, walls: grid boundaries follow them where a feasible
        partition allows; crossings are reported.
    seed : int
        Seed of the random choices; the same inputs and seed give the same result.
    default_storeys, dwelling_m2 : float
        Household estimation settings.
    labels : dict, optional
        Names of the inputs used in messages (``communities``, ``buildings``, ``barriers``).
    progress : bool
        Show a progress bar per community.
    workers : int
        Processes working on communities in parallel (results are identical to a serial run).
    scheduler : str, optional
        Address of a Dask distributed scheduler to run the communities on instead.
    audit : bool
        Compare the result with the input before returning it (every building
        once, households conserved at every level, attributes unchanged, grids
        one polygon each and tiling their community); a difference raises
        :class:`~gridgeo.errors.AuditError`.
    code_scheme : str
        A standard code for every grid in the column ``standard_code`` (see
        :mod:`gridgeo.standard_codes`): ``"cjt349"`` (CJ/T 349-2010, 20 digits),
        ``"db11"`` (DB11/T 2157-2023, 15 digits) or a template such as
        ``"{district}{street}{community}{grid:03d}"``; ``"default"`` adds none.
    object_class : str, optional
        The 6-digit object class that begins CJ/T 349-2010 codes (required for ``cjt349``).
    county_code_column, street_code_column, community_code_column : str, optional
        Columns of ``communities`` with the 6-digit county (district), 3-digit
        street and 3-digit community codes the scheme uses.
    valid_from, valid_to : str, optional
        ``YYYY-MM-DD`` dates written to the grids' ``valid_from`` and ``valid_to``.
    responsible_unit_column : str, optional
        Column of ``communities`` copied to its grids' ``responsible_unit``.
    register : DataFrame, optional
        A household register, one row per household (:func:`gridgeo.register.read_register`).
        The households per building come from it (``households`` is then not
        given; ``building_id`` is required), joint units are lists of its
        household ids, and the result carries ``households`` (one row per
        household: unit, grid, building, position in the unit).  Only the id
        and order columns are used; the others are personal and left out of
        the result (see :mod:`gridgeo.register`).
    register_building, register_household : str, optional
        The register's building id column (values of ``building_id``) and its
        unique household id column.
    register_order : str or list of str, optional
        Walking-order columns inside a building, outermost first (staircase,
        floor, door); natural sort.  Units split as few buildings, then
        staircases (the first column), then floors (the second) as the band allows.
    register_unmatched : {"error", "keep"}
        Register rows whose building is not in ``buildings``: an error naming
        the rows, or kept in ``unassigned_households``.

    Returns
    -------
    Partition
        With the staffing and workload columns of :func:`gridgeo.add_workload`
        (straight-line tours; call it again with ``roads`` to follow them).

    Raises
    ------
    InputError
        Listing every problem in the input.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> communities = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 400, 100)], crs=32651)
    >>> footprints = [shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 400, 20)]
    >>> buildings = gpd.GeoDataFrame({"hh": [40] * 20}, geometry=footprints, crs=32651)
    >>> result = partition(communities, buildings, households="hh")
    >>> result.grids["households"].tolist()
    [400, 400]
    >>> sorted(result.units["households"].unique().tolist())
    [13, 14]
    """
    mark = time.perf_counter()
    band = parse_band(grid_size, "grid size")
    unit_band = parse_band(unit_size, "unit size")
    if unit_band[0] > band[1]:
        raise InputError(
            Problem("unit size", f"units of {unit_band[0]}–{unit_band[1]} households cannot fit in grids of at most {band[1]}", "make the unit band smaller than the grid band")
        )
    if barriers is not None and not isinstance(barriers, (list, tuple)):
        barriers = [barriers]
    code_settings = prepare_codes(
        communities,
        code_scheme=code_scheme,
        object_class=object_class,
        county_code_column=county_code_column,
        street_code_column=street_code_column,
        community_code_column=community_code_column,
        valid_from=valid_from,
        valid_to=valid_to,
        responsible_unit_column=responsible_unit_column,
        label=(labels or {}).get("communities", "communities"),
    )
    matched = None
    register_problems: list[Problem] = []
    if register is not None:
        matched, register_problems = _match_register(
            register, buildings, building_id=building_id, households=households, community_households=community_households, building_column=register_building,
            household_column=register_household, order=register_order, unmatched=register_unmatched, labels=labels or {},
        )
        # the register's counts reach prepare_inputs as a column of a copy, dropped again below
        buildings_used = buildings.copy()
        # (1 each when the register cannot be matched: its problems are raised below, with any of the buildings')
        buildings_used[REGISTER_COUNT] = matched.counts if matched is not None else 1
    try:
        prep = prepare_inputs(
            communities,
            buildings if register is None else buildings_used,
            households=households if register is None else REGISTER_COUNT,
            community_id=community_id,
            building_id=building_id,
            community_households=community_households,
            barriers=list(barriers) if barriers else None,
            labels=labels,
            default_storeys=default_storeys,
            dwelling_m2=dwelling_m2,
        )
    except InputError as exc:
        if register_problems:
            raise InputError(register_problems + exc.problems) from None
        raise
    if register_problems:
        raise InputError(register_problems)
    held = None
    if matched is not None:
        prep.buildings = prep.buildings.drop(columns=REGISTER_COUNT)
        prep.unassigned = prep.unassigned.drop(columns=REGISTER_COUNT)
        prep.notes.extend(matched.notes)
        held = _register_rows(matched, buildings, prep, building_id)
    metric = prep.metric_crs
    areas = None
    if (dedicated is not None and len(dedicated)) or (compounds is not None and len(compounds)):
        areas = assign_areas(prep, dedicated=dedicated, dedicated_type=dedicated_type, building_id=building_id, compounds=compounds, high=band[1])
    c_codes = community_codes(prep.community_ids)
    community_order = np.argsort(c_codes.astype(str), kind="stable")
    n_buildings = len(prep.buildings)
    b_grid = np.full(n_buildings, "", dtype=object)
    b_code = np.full(n_buildings, "", dtype=object)
    b_comm_code = np.full(n_buildings, "", dtype=object)
    grid_rows: list[dict] = []
    grid_geoms: list = []
    unit_rows: list[dict] = []
    unit_geoms: list = []
    household_rows: list[tuple] = []
    results = {}
    straight_tours: dict[str, float] = {}
    max_grids = 1
    member_lists, tasks = community_tasks(prep, community_order, band, unit_band, seed, areas)
    if held is not None:
        for members, task in zip(member_lists, tasks):
            task.household_breaks = [held["breaks"][b] for b in members]
    mark = timings.lap("read and checks", mark)
    outcomes = map_ordered(
        run_community_task, tasks, workers=workers, scheduler=scheduler, progress=progress, weights=[len(t.buildings) for t in tasks]
    )
    mark = timings.lap("communities", mark)
    for outcome in outcomes:
        for name, seconds in (outcome.timings or {}).items():
            timings.add(f"workers: {name}", seconds)
    for ci, members, result in zip(community_order, member_lists, outcomes):
        results[ci] = (members, result)
        max_grids = max(max_grids, len(result.grid_geoms))
    grid_width = width_for(max_grids, 2)
    building_width = width_for(max((len(m) for m, _ in results.values()), default=1), 5)
    for ci in community_order:
        members, result = results[ci]
        ccode = str(c_codes[ci])
        cid = str(prep.community_ids[ci])
        geoms = result.grid_geoms
        k = len(geoms)
        area = float(shapely.area(prep.community_geoms[ci]))
        points = shapely.point_on_surface(geoms)
        # one row per grid even for an empty geometry (get_coordinates would skip it)
        centre = np.column_stack([np.nan_to_num(shapely.get_x(points)), np.nan_to_num(shapely.get_y(points))]).reshape(-1, 2)
        order = reading_order(centre[:, 0], centre[:, 1], np.sqrt(area / max(k, 1)))
        codes = _grid_codes(ccode, order, result.notes, grid_width)
        for rank, b in enumerate(members):
            b_code[b] = building_code(ccode, rank + 1, building_width)
            b_comm_code[b] = ccode
        for g in order:
            in_grid = members[result.building_grid == g]
            hh = prep.households[in_grid]
            units = result.grid_units[g]
            for u_index, (unit, unit_geom) in enumerate(zip(units, result.unit_geoms[g])):
                u_code = unit_code(codes[g], u_index + 1, width_for(len(units), 2))
                if held is None:
                    text = ";".join(f"{b_code[in_grid[i]]}:{a}-{z}" for i, a, z in unit.members)
                    extra = {}
                else:  # the unit's household ids in walking order
                    ids = [(hid, in_grid[i]) for i, a, z in unit.members for hid in held["ids"][in_grid[i]][a - 1 : z]]
                    text = ";".join(hid for hid, _ in ids)
                    extra = {"building_codes": ";".join(b_code[in_grid[i]] for i, _, _ in unit.members)}
                    household_rows.extend(
                        (hid, b, codes[g], u_code, position) for position, (hid, b) in enumerate(ids, start=1)
                    )
                unit_rows.append(
                    {
                        "unit_code": u_code,
                        "grid_code": codes[g],
                        "community_id": cid,
                        "community_code": ccode,
                        "households": unit.households,
                        "n_buildings": len(unit.members),
                        "members": text,
                        **extra,
                        "in_band": unit.in_band,
                        **_unit_reason(unit.in_band, int(hh.sum()), unit_band),
                    }
                )
                unit_geoms.append(unit_geom)
            b_grid[in_grid] = codes[g]
            note = result.notes[g]
            grid_rows.append(
                {
                    "grid_code": codes[g],
                    "community_id": cid,
                    "community_code": ccode,
                    "households": int(hh.sum()),
                    "n_buildings": int(len(in_grid)),
                    "n_units": len(units),
                    "area_m2": float(shapely.area(geoms[g])),
                    "polsby_popper": float(polsby_popper([geoms[g]])[0]),
                    "status": note.status,
                    "reason": note.reason,
                    "reason_zh": reason_text(note.code, dict(note.params), "zh"),
                    "barrier_crossings": int(result.barrier_crossings[g]),
                    "grid_type": "dedicated" if note.status == DEDICATED else "basic",
                    "facility_type": str(dict(note.params).get("facility", "")) if note.status == DEDICATED else "",
                    "households_estimated": prep.households_estimated,
                }
            )
            grid_geoms.append(geoms[g])
            if result.grid_tours is not None:
                straight_tours[codes[g]] = float(result.grid_tours[g])
    crs = prep.input_crs
    grids = gpd.GeoDataFrame(grid_rows, geometry=list(reproject_polygons(grid_geoms, metric, crs)) if grid_geoms else [], crs=crs)
    if not len(grid_rows):
        grids = gpd.GeoDataFrame(columns=["grid_code", "geometry"], geometry="geometry", crs=crs)
    grids = apply_codes(grids, code_settings, prep.community_ids)
    prep.notes.extend(code_settings.notes)
    units_frame = gpd.GeoDataFrame(unit_rows, geometry=list(unit_geoms), crs=metric).to_crs(crs)
    if not len(unit_rows):
        units_frame = gpd.GeoDataFrame(
            {c: pd.Series(dtype=t) for c, t in [("unit_code", str), ("grid_code", str), ("households", int), ("members", str)]},
            geometry=gpd.GeoSeries([], crs=crs),
        )
    out_buildings = _with_added_columns(prep, b_code, b_comm_code, b_grid, crs)
    # rows in code order: the output does not depend on the input's row order
    out_buildings = out_buildings.iloc[np.argsort(b_code.astype(str), kind="stable")]
    unassigned = prep.unassigned
    if len(unassigned):
        unassigned = unassigned.iloc[geometry_order(unassigned.geometry.to_numpy())]
    out_communities = prep.communities.copy()
    out_communities["community_id"] = prep.community_ids
    out_communities["community_code"] = c_codes
    hh_per = np.bincount(prep.building_community, weights=prep.households, minlength=len(c_codes)).astype(np.int64)
    out_communities["households"] = hh_per
    out_communities["n_buildings"] = np.bincount(prep.building_community, minlength=len(c_codes))
    out_communities["n_grids"] = [len(results[i][1].grid_geoms) for i in range(len(c_codes))]
    out_communities = out_communities.iloc[community_order].reset_index(drop=True)
    community_frame = gpd.GeoDataFrame(
        {"community_id": prep.community_ids}, geometry=list(prep.community_geoms), crs=metric
    )
    crossings_min = sum(int(results[i][1].barrier_crossings_min) for i in results)
    mark = timings.lap("assembly", mark)
    per_community = community_metrics(grids, community_frame, band=band)
    report = _report(
        grids, community_frame, units_frame, band, unit_band, prep, seed, crossings_min, per_community,
        {
            "households": households,
            "community_id": community_id,
            "building_id": building_id,
            "community_households": community_households,
            "grid_size": list(band),
            "unit_size": list(unit_band),
            "barriers": len(barriers or []),
            "dedicated": 0 if dedicated is None else int(len(dedicated)),
            "dedicated_type": dedicated_type,
            "compounds": 0 if compounds is None else int(len(compounds)),
            "seed": seed,
            "default_storeys": default_storeys,
            "dwelling_m2": dwelling_m2,
            "code_scheme": code_settings.code_scheme,
            "object_class": code_settings.object_class,
            "county_code_column": county_code_column,
            "street_code_column": street_code_column,
            "community_code_column": community_code_column,
            "valid_from": code_settings.valid_from,
            "valid_to": code_settings.valid_to,
            "responsible_unit_column": responsible_unit_column,
        },
    )
    mark = timings.lap("metrics", mark)
    compound_frame = None
    if areas is not None and len(areas.compounds):
        report["compounds"] = _compound_report(areas, b_grid, prep, band)
        compound_frame = _compound_layer(report["compounds"], areas, metric, crs)
    result = Partition(out_communities, grids, out_buildings, units_frame, unassigned, report, compounds=compound_frame)
    if held is not None:
        _add_register(result, held, household_rows, matched, prep, b_code)
        report["parameters"].update(
            {
                "register_building": register_building,
                "register_household": register_household,
                "register_order": list(held["order_columns"]),
                "register_unmatched": register_unmatched,
            }
        )
    if audit:
        from .audit import audit_partition

        problems = audit_partition(
            result, buildings, band=band, unit_band=unit_band, quality=False, per_community=per_community
        )
        if problems:
            raise AuditError("the result does not match the input: " + "; ".join(problems))
    mark = timings.lap("audit", mark)
    # helpers_n, tour_m, workload_index, workload_flag (gridgeo.workload); tours measured by the workers
    result = add_workload(result, straight_tours=straight_tours)
    timings.lap("workload", mark)
    return result


REGISTER_COUNT = "households (register)"


def _match_register(register, buildings, *, building_id, households, community_households, building_column, household_column, order, unmatched, labels):
    """The register checked and matched to the buildings' ids, and every problem found (the register's and its options')."""
    problems: list[Problem] = []
    label = labels.get("register", "register")
    if building_id is None:
        problems.append(Problem(label, "a register needs the buildings' id column", "pass --building-id COL (building_id=) with the ids the register's building column holds"))
    if households is not None:
        problems.append(
            Problem("--households", f"'{households}' given with a register, which gives the households per building", "omit --households (households=) when a register is given")
        )
    if community_households is not None:
        problems.append(
            Problem(
                "--community-households",
                f"'{community_households}' given with a register, whose rows are the households",
                "omit --community-households (community_households=) when a register is given",
            )
        )
    matched = None
    try:
        checked = prepare_register(register, building=building_column, household=household_column, order=order, label=label)
        if building_id is not None and building_id in buildings.columns:
            matched = match_register(
                checked, buildings[building_id].to_numpy(), unmatched=unmatched, buildings_label=labels.get("buildings", "buildings"), building_column=building_id
            )
    except InputError as exc:
        problems += exc.problems
    return matched, problems


def _register_rows(matched, buildings, prep, building_id: str) -> dict:
    """Per row of ``prep.buildings``: its household ids and breaks; households of unassigned buildings."""
    from .inputs.register import id_key

    position = {id_key(v): i for i, v in enumerate(buildings[building_id].to_numpy())}
    rows = [position[id_key(v)] for v in prep.buildings[building_id].to_numpy()]
    outside = []
    for value, reason in zip(prep.unassigned[building_id].to_numpy(), prep.unassigned["reason"].to_numpy()):
        i = position.get(id_key(value))
        if i is not None:
            outside.extend((hid, id_key(value), reason) for hid in matched.households[i])
    return {
        "ids": [matched.households[i] for i in rows],
        "breaks": [matched.breaks[i] for i in rows],
        "building_ids": [id_key(v) for v in prep.buildings[building_id].to_numpy()],
        "outside": outside,
        "order_columns": matched.register.order_columns,
        "personal_columns": matched.register.personal_columns,
    }


def _add_register(result: Partition, held: dict, household_rows: list, matched, prep, b_code) -> None:
    """The ``households`` table, the unassigned households and the report's ``register`` section of a register run."""
    order = held["order_columns"]
    frame = pd.DataFrame(household_rows, columns=["household_id", "row", "grid_code", "unit_code", "position"])
    rows = frame["row"].to_numpy(dtype=np.int64)
    table = pd.DataFrame(
        {
            "household_id": frame["household_id"].astype(str),
            "building_id": np.asarray(held["building_ids"], dtype=object)[rows] if len(rows) else [],
            "building_code": b_code[rows].astype(str) if len(rows) else [],
            "grid_code": frame["grid_code"],
            "unit_code": frame["unit_code"],
            "position": frame["position"].astype(np.int64),
        }
    )
    for column in order:
        # an order column named like one of the table's own columns keeps its values under register_NAME
        name = f"register_{column}" if column in table.columns else column
        table[name] = matched.order_values[column].reindex(table["household_id"]).to_numpy()
    table = table.sort_values(["unit_code", "position"], kind="stable").reset_index(drop=True)
    expected = int(prep.households.sum())
    if len(table) != expected or table["household_id"].duplicated().any():
        raise AuditError(f"the households table lists {len(table)} rows for {expected} households of the register")
    unassigned = pd.DataFrame(
        [(hid, b, reason) for hid, b, reason in held["outside"]]
        + list(matched.unmatched[["household_id", "building_id", "reason"]].itertuples(index=False, name=None)),
        columns=["household_id", "building_id", "reason"],
    )
    result.households = table
    result.unassigned_households = unassigned
    result.report["register"] = {
        "households": int(len(table) + len(unassigned)),
        "households_in_units": int(len(table)),
        "buildings_with_households": int((prep.households > 0).sum()),
        "buildings_without_households": list(matched.buildings_without),
        "unassigned_households": unassigned.to_dict(orient="records"),
        "order_columns": list(order),
        "personal_columns_withheld": list(held["personal_columns"]),
    }


def _unit_reason(in_band: bool, grid_households: int, unit_band) -> dict:
    """``reason`` and ``reason_zh`` of a joint unit: empty in band, else why its grid admits no exact cut."""
    if in_band:
        return {"reason": "", "reason_zh": ""}
    params = {"households": grid_households, "low": unit_band[0], "high": unit_band[1]}
    return {"reason": reason_text("unit_unfit", params, "en"), "reason_zh": reason_text("unit_unfit", params, "zh")}


def community_tasks(prep, community_order: np.ndarray, band, unit_band, seed: int, areas=None, anchor_xy=None):
    """The buildings (in canonical order) and the :class:`CommunityTask` of every community, in ``community_order``.

    Parameters
    ----------
    prep : gridgeo.validate.Prepared
    community_order : ndarray of int
        Community indices in processing order.
    band, unit_band : (int, int)
        Household bands of grids and joint units (``unit_band`` None: no units).
    seed : int
    areas : optional
        Dedicated grounds and compounds (:func:`gridgeo.areas.assign_areas`).
    anchor_xy : ndarray, optional
        Representative points of the buildings (computed when omitted).

    Returns
    -------
    member_lists : list of ndarray
        Per community, its building rows in the order its task holds them.
    tasks : list of CommunityTask
    """
    if anchor_xy is None:
        n = len(prep.building_geoms)
        anchor_xy = shapely.get_coordinates(shapely.point_on_surface(prep.building_geoms)).reshape(-1, 2) if n else np.zeros((0, 2))
    barrier_tree = shapely.STRtree(prep.barriers) if len(prep.barriers) else None
    tasks = []
    member_lists = []
    for ci in community_order:
        members = np.flatnonzero(prep.building_community == ci)
        members = members[_canonical_order(prep.building_geoms[members], anchor_xy[members], prep.community_geoms[ci])]
        geom = prep.community_geoms[ci]
        local_barriers = None
        if barrier_tree is not None:
            hits = np.sort(barrier_tree.query(geom, predicate="intersects"))
            local_barriers = prep.barriers[hits] if len(hits) else None
        member_lists.append(members)
        task = CommunityTask(geom, prep.building_geoms[members], prep.households[members], band, seed, str(prep.community_ids[ci]), local_barriers, unit_band)
        if areas is not None:
            _add_areas(task, areas, ci, members)
        tasks.append(task)
    return member_lists, tasks


def _add_areas(task: CommunityTask, areas, ci: int, members: np.ndarray) -> None:
    """Give a community's task its area groups (local numbering) and its large compounds' outlines as barriers."""
    own = np.flatnonzero(areas.community == ci)
    if len(own):
        local = np.full(len(areas.geoms), -1, dtype=np.int64)
        local[own] = np.arange(len(own))
        global_group = areas.building_group[members]
        task.groups = np.where(global_group >= 0, local[np.maximum(global_group, 0)], -1)
        task.group_geoms = areas.geoms[own]
        task.group_facility = areas.facility[own]
    big = areas.compounds[(areas.compounds["community_index"] == ci) & ~areas.compounds["kept_whole"]]
    if len(big):
        outlines = shapely.get_parts(shapely.boundary(np.array(list(big["outline"]), dtype=object)))
        task.barriers = outlines if task.barriers is None else np.concatenate([task.barriers, outlines])


def _compound_report(areas, b_grid: np.ndarray, prep, band, *, edited: np.ndarray | None = None) -> list[dict]:
    """Every compound: its grids, whether it was split and why (in English and Chinese).

    ``edited`` marks the buildings a planner's edits hold in place (pinned, or in
    a locked grid): a compound that fits in one grid but is split through them
    says so.
    """
    rows = []
    for compound in areas.compounds.itertuples():
        grids = sorted(set(b_grid[compound.members].tolist()))
        params = {"compound": compound.compound, "households": int(compound.households), "high": band[1], "grids": len(grids)}
        split = len(grids) > 1
        code = "compound_too_big"
        if split and compound.kept_whole:
            code = "compound_split_by_edit" if edited is not None and edited[compound.members].any() else "compound_split"
        rows.append(
            {
                "compound": str(compound.compound),
                "community_id": str(prep.community_ids[compound.community_index]),
                "households": int(compound.households),
                "n_buildings": int(compound.n_buildings),
                "kept_whole": bool(compound.kept_whole),
                "grids": grids,
                "split": split,
                "reason": reason_text(code, params, "en") if split else "",
                "reason_zh": reason_text(code, params, "zh") if split else "",
            }
        )
        if split:
            logger.info("%s", rows[-1]["reason"])
    return rows


def _compound_layer(rows: list[dict], areas, metric, crs) -> gpd.GeoDataFrame:
    """The ``compounds`` layer: one row per compound of :func:`_compound_report`, its outline as geometry."""
    return gpd.GeoDataFrame(
        [{**{k: v for k, v in row.items() if k != "grids"}, "grids": ";".join(row["grids"])} for row in rows],
        geometry=list(areas.compounds["outline"]),
        crs=metric,
    ).to_crs(crs)


def _grid_codes(ccode: str, order: np.ndarray, notes: list, width: int) -> list[str]:
    """Grid codes in reading order: ``003-01``… for grids, ``003-H01``… per facility type for dedicated grids."""
    codes = [""] * len(notes)
    counters: dict[str, int] = {}
    for g in order:
        note = notes[g]
        key = facility_letter(dict(note.params).get("facility", "")) if note.status == DEDICATED else ""
        counters[key] = counters.get(key, 0) + 1
        codes[g] = f"{ccode}-{key}{counters[key]:0{width}d}" if key else grid_code(ccode, counters[key], width)
    return codes


def _canonical_order(geoms: np.ndarray, xy: np.ndarray, community) -> np.ndarray:
    """Buildings in reading order (north→south rows, west→east), ties by geometry: independent of row order."""
    if len(geoms) == 0:
        return np.zeros(0, dtype=np.int64)
    row_height = np.sqrt(max(shapely.area(community), 1.0) / max(len(geoms), 1)) * 3.0
    row = np.floor((xy[:, 1].max() - xy[:, 1]) / row_height)
    order = np.lexsort((-xy[:, 1], xy[:, 0], row))
    # ties (buildings sharing a representative point) are ordered by their geometry's WKB,
    # computed for the tied buildings only
    key = np.column_stack([row, xy[:, 0], xy[:, 1]])[order]
    tied_next = (key[1:] == key[:-1]).all(axis=1)
    if tied_next.any():
        starts = np.flatnonzero(np.concatenate([[True], ~tied_next]))
        ends = np.concatenate([starts[1:], [len(order)]])
        for a, z in zip(starts, ends):
            if z - a > 1:
                run = order[a:z]
                order[a:z] = run[np.argsort(shapely.to_wkb(geoms[run], hex=True), kind="stable")]
    return order


def _with_added_columns(prep, b_code, b_comm_code, b_grid, crs) -> gpd.GeoDataFrame:
    frame = prep.buildings.copy()
    renamed = {}
    for column in ADDED_BUILDING_COLUMNS:
        if column in frame.columns:
            renamed[column] = f"input_{column}"
    if renamed:
        frame = frame.rename(columns=renamed)
        prep.notes.append(
            "input building columns renamed to keep gridgeo's own names free: "
            + ", ".join(f"{a} → {b}" for a, b in renamed.items())
        )
    if frame.crs != crs:
        frame = frame.to_crs(crs)
    frame["building_code"] = b_code
    frame["community_code"] = b_comm_code
    frame["grid_code"] = b_grid
    frame["households"] = prep.households
    frame["households_estimated"] = prep.households_estimated
    return frame


def _report(grids, communities, units, band, unit_band, prep, seed, crossings_min, per_comm, parameters) -> dict:
    summary = summarize(grids, communities, band=band, units=units, unit_band=unit_band, per_community=per_comm)
    flagged = grids.loc[grids["status"] != "in_band", ["grid_code", "community_id", "households", "status", "reason", "reason_zh"]]
    summary.update(
        {
            "n_communities": int(len(communities)),
            "n_buildings": int(len(prep.buildings)),
            "n_unassigned": int(len(prep.unassigned)),
            "households": int(prep.households.sum()),
            "households_estimated": bool(prep.households_estimated),
            "barrier_crossings_min": int(crossings_min),
        }
    )
    return {
        "gridgeo_version": __version__,
        "parameters": parameters,
        "seed": seed,
        "input_crs": prep.input_crs.to_string(),
        "metric_crs": f"EPSG:{prep.metric_crs.to_epsg()}" if prep.metric_crs.to_epsg() else prep.metric_crs.name,
        "notes": list(prep.notes),
        "summary": summary,
        "communities": per_comm.to_dict(orient="records"),
        "flagged_grids": flagged.to_dict(orient="records"),
    }
