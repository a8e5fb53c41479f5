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

from . import timings
from .arrays import geometry_order
from .build import (
    ADDED_COMMUNITY_COLUMNS,
    _compound_layer,
    _compound_report,
    _grid_codes,
    _report,
    _with_added_columns,
    community_tasks,
    input_names,
)
from .cells.areas import assign_areas
from .errors import AuditError, InputError, Problem
from .gather import UnitColumns, own_footprints, run_and_gather
from .governance.code_settings import apply_codes, prepare_codes
from .governance.codes import building_codes, community_codes, reading_order, unit_codes, width_for
from .governance.workload import add_workload
from .inputs.crs import reproject_polygons
from .inputs.validate import prepare_inputs
from .labels import reason_text
from .memory import release_memory
from .metrics import community_metrics, polsby_popper
from .parallel import map_completed
from .partition.notes import DEDICATED
from .result import Partition
from .units.register_households import REGISTER_COUNT, _add_register, _match_register, _register_rows

__all__ = ["partition", "Partition", "parse_band"]

logger = logging.getLogger(__name__)


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
        Names of the inputs used in messages (``communities``, ``buildings``, ``barriers``, ``dedicated``, ``compounds``).
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
        :mod:`gridgeo.governance.standard_codes`): ``"cjt349"`` (CJ/T 349-2010, 20 digits),
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
        A household register, one row per household (:func:`gridgeo.inputs.register.read_register`).
        The households per building come from it (``households`` is then not
        given; ``building_id`` is required), joint units are lists of its
        household ids, and the result carries ``households`` (one row per
        household: unit, grid, building, position in the unit).  Only the id
        and order columns are used; the others are personal and left out of
        the result (see :mod:`gridgeo.inputs.register`).
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
    if unit_band[1] > band[1]:  # a joint unit lies inside one grid: 10:150 for 10:15 would cut units of up to 150 households
        raise InputError(
            Problem(
                "unit size",
                f"units of {unit_band[0]}–{unit_band[1]} households cannot fit in grids of at most {band[1]}",
                f"make the unit band's maximum at most {band[1]}, the grid band's maximum (joint units are usually 10:15)",
            )
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
        areas = assign_areas(prep, dedicated=dedicated, dedicated_type=dedicated_type, building_id=building_id, compounds=compounds, high=band[1], labels=labels)
    c_codes = community_codes(prep.community_ids)
    community_order = np.argsort(c_codes.astype(str), kind="stable")
    n_buildings = len(prep.buildings)
    b_grid = np.full(n_buildings, "", dtype=object)
    b_code = np.full(n_buildings, "", dtype=object)
    b_comm_code = np.full(n_buildings, "", dtype=object)
    grid_rows: list[dict] = []
    grid_geoms: list = []
    household_rows: list[tuple] = []
    straight_tours: dict[str, float] = {}
    member_lists, tasks = community_tasks(prep, community_order, band, unit_band, seed, areas)
    if held is not None:
        for members, task in zip(member_lists, tasks):
            task.household_breaks = [held["breaks"][b] for b in members]
    mark = timings.lap("read and checks", mark)
    # each result is reduced in its worker (gridgeo.gather) and only its compact form travels back
    gathered: list = [None] * len(tasks)
    weights = [len(t.buildings) for t in tasks]
    for position, outcome in map_completed(run_and_gather, tasks, workers=workers, scheduler=scheduler, progress=progress, weights=weights):
        for name, seconds in (outcome.timings or {}).items():
            timings.add(f"workers: {name}", seconds)
        outcome.timings = None
        gathered[position] = outcome
        tasks[position] = outcome = None
    del tasks
    release_memory("gathering", collect=None)  # a full collection only when the memory is tight
    mark = timings.lap("communities", mark)
    results = dict(zip(community_order, zip(member_lists, gathered)))
    del gathered, member_lists
    max_grids = max([1, *(result.n_grids for _, result in results.values())])
    n_grids = [results[i][1].n_grids for i in range(len(c_codes))]
    crossings_min = sum(int(results[i][1].barrier_crossings_min) for i in results)
    grid_width = width_for(max_grids, 2)
    building_width = width_for(max((len(m) for m, _ in results.values()), default=1), 5)
    unit_columns = UnitColumns(unit_band, register=held is not None)
    footprints = own_footprints(prep)  # the geometry of a unit of one building
    apart: list = []  # dedicated facilities whose buildings their grid does not hold (gridgeo.api._dedicated_apart)
    for ci in community_order:
        members, result = results.pop(ci)  # its arrays let go once its rows are made
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
        b_code[members] = building_codes(ccode, len(members), building_width)
        b_comm_code[members] = ccode
        grid_area, grid_pp = shapely.area(geoms), polsby_popper(geoms)
        for g in order:
            in_grid = members[result.building_grid == g]
            hh = prep.households[in_grid]
            units = result.grid_units(g)
            texts, unit_buildings = [], []
            if held is None:  # every unit's "code:first-last;…" at once (gridgeo.gather)
                texts = result.unit_texts(units, in_grid, b_code)
            else:  # the unit's household ids in walking order
                for u, u_code in zip(units, unit_codes(codes[g], len(units))):
                    unit_members = result.members(u)
                    ids = [(hid, in_grid[i]) for i, a, z in unit_members for hid in held["ids"][in_grid[i]][a - 1 : z]]
                    texts.append(";".join(hid for hid, _ in ids))
                    unit_buildings.append(";".join(b_code[in_grid[i]] for i, _, _ in unit_members))
                    household_rows.extend((hid, b, codes[g], u_code, position) for position, (hid, b) in enumerate(ids, start=1))
            # a unit of one building has that building's geometry, the union of its buildings otherwise
            unit_geoms = result.unit_geometries(units, in_grid, footprints)
            unit_columns.add_grid(result, g, codes[g], cid, ccode, texts, int(hh.sum()), unit_geoms, unit_buildings)
            b_grid[in_grid] = codes[g]
            note = result.notes[g]
            if note.status == DEDICATED and areas is not None:
                _dedicated_apart(apart, geoms[g], in_grid, prep, areas, building_id, (labels or {}).get("dedicated", "dedicated"))
            grid_rows.append(
                {
                    "grid_code": codes[g],
                    "community_id": cid,
                    "community_code": ccode,
                    "households": int(hh.sum()),
                    "n_buildings": int(len(in_grid)),
                    "n_units": len(units),
                    "area_m2": float(grid_area[g]),
                    "polsby_popper": float(grid_pp[g]),
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
    del results, footprints
    if apart:
        raise InputError(apart)  # (before anything is written)
    crs = prep.input_crs
    grids = gpd.GeoDataFrame(grid_rows, geometry=list(reproject_polygons(grid_geoms, metric, crs)) if grid_geoms else [], crs=crs)
    if not len(grid_rows):
        grids = gpd.GeoDataFrame(columns=["grid_code", "geometry"], geometry="geometry", crs=crs)
    grids = apply_codes(grids, code_settings, prep.community_ids)
    prep.notes.extend(code_settings.notes)
    units_frame = gpd.GeoDataFrame(unit_columns.frame_columns(), geometry=list(reproject_polygons(unit_columns.geoms, metric, crs, whole=True)), crs=crs)
    del unit_columns
    release_memory("assembly", collect=None)
    if not len(units_frame):
        units_frame = gpd.GeoDataFrame(
            {c: pd.Series(dtype=t) for c, t in [("unit_code", str), ("grid_code", str), ("households", int), ("members", str)]},
            geometry=gpd.GeoSeries([], crs=crs),
        )
    out_buildings = _with_added_columns(prep, b_code, b_comm_code, b_grid, crs)
    # rows in code order: the output does not depend on the input's row order
    out_buildings = out_buildings.iloc[np.argsort(b_code.astype(str), kind="stable")]
    if held is None:  # a building's code is in the layer now: its Python string is needed only by a register's rows
        b_code = None
    unassigned = prep.unassigned
    if len(unassigned):
        unassigned = unassigned.iloc[geometry_order(unassigned.geometry.to_numpy())]
    out_communities = prep.communities.copy()
    # an input column named as one of gridgeo's is kept as input_… (the id column itself becomes gridgeo's community_id)
    own = ADDED_COMMUNITY_COLUMNS if community_id not in (None, "community_id") else ADDED_COMMUNITY_COLUMNS[1:]
    renamed = input_names(out_communities.columns, own)
    if renamed:
        out_communities = out_communities.rename(columns=renamed)
        prep.notes.append("input community columns renamed to keep gridgeo's own names free: " + ", ".join(f"{a} → {b}" for a, b in renamed.items()))
    out_communities["community_id"] = prep.community_ids
    out_communities["community_code"] = c_codes
    hh_per = np.bincount(prep.building_community, weights=prep.households, minlength=len(c_codes)).astype(np.int64)
    out_communities["households"] = hh_per
    out_communities["n_buildings"] = np.bincount(prep.building_community, minlength=len(c_codes))
    out_communities["n_grids"] = n_grids
    out_communities = out_communities.iloc[community_order].reset_index(drop=True)
    community_frame = gpd.GeoDataFrame(
        {"community_id": prep.community_ids}, geometry=list(prep.community_geoms), crs=metric
    )
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
    # helpers_n, tour_m, workload_index, workload_flag (gridgeo.governance.workload); tours measured by the workers
    result = add_workload(result, straight_tours=straight_tours)
    timings.lap("workload", mark)
    return result


def _unit_reason(in_band: bool, grid_households: int, unit_band) -> dict:
    """``reason`` and ``reason_zh`` of a joint unit: empty in band, else why its grid admits no exact cut."""
    if in_band:
        return {"reason": "", "reason_zh": ""}
    params = {"households": grid_households, "low": unit_band[0], "high": unit_band[1]}
    return {"reason": reason_text("unit_unfit", params, "en"), "reason_zh": reason_text("unit_unfit", params, "zh")}




def _dedicated_apart(problems: list, grid_geom, in_grid: np.ndarray, prep, areas, building_id: str | None, label: str) -> None:
    """Add the problem of a dedicated grid whose polygon does not hold its buildings (each by its representative point).

    A facility given as a table of buildings takes their footprints as its grounds; buildings that stand apart,
    with other buildings between them, give grounds in pieces, and the grid, one piece, holds only some of them:
    the others would be coded in it but drawn inside a neighbouring grid.
    """
    if not len(in_grid):
        return
    points = shapely.point_on_surface(prep.building_geoms[in_grid])
    outside = in_grid[~shapely.covers(grid_geom, points)]
    if not len(outside):
        return
    groups = areas.building_group[in_grid]
    name = str(areas.names[groups[groups >= 0][0]]) if (groups >= 0).any() else "?"
    ids = prep.buildings[building_id].astype(str).to_numpy()[outside] if building_id in prep.buildings.columns else np.array([f"building {i + 1}" for i in outside])
    shown = ", ".join(ids[:5].tolist()) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    problems.append(Problem(
        label,
        f"facility {name}: its buildings stand apart, with other buildings between them, and its grid (one piece) cannot hold {shown}",
        "give each part its own facility_id (a dedicated grid each), or give the grounds as a polygon that joins them",
    ))
