"""Manual edits: a planner moves or pins buildings and locks grids; gridgeo re-draws and reports.

:func:`apply_edits` takes a finished run (an output folder or a
:class:`~gridgeo.result.Partition`) and a table of edits, and returns a new
:class:`~gridgeo.result.Partition` that keeps every edit.

The edit file (``EDITS.csv``, UTF-8, with a header) has the columns
``building_code,grid_code`` and optionally ``action``:

========  ===============  ===========  ==============================================
action    building_code    grid_code    meaning
========  ===============  ===========  ==============================================
move      required         required     put (pin) the building in that grid; the
(empty)                                 default action
lock      empty            required     lock the grid: ``gridgeo update`` keeps it
                                        untouched (its polygon and its buildings)
unlock    empty            required     remove an earlier lock
========  ===============  ===========  ==============================================

A move's grid may be a new code of the building's community: it creates that
grid, and must be the community's next free number (``003-10`` when its
highest code, present or retired, is ``003-09``; several new grids of one
community take consecutive numbers from there), so that a typo creates none.
A move to the building's own grid pins it without changing anything.  Every
problem in the file (unknown building or grid codes, a grid of another
community, a retired grid code, one building sent to two grids, a new code that
is not the next free number, an unknown action) is collected into one
:class:`~gridgeo.errors.InputError` naming the file, the lines and the fix;
nothing is applied then.

Applying the moves:

* **Affected grids** are the source and target grids of the moved buildings.
  They are re-drawn together: the union of their previous polygons is
  tessellated again among their buildings (:func:`gridgeo.cells.tessellate.tessellate_part`,
  deterministic) and the cells are dissolved by the new assignment.  Every other
  grid keeps its polygon, row (but for the staffing, workload and coverage
  columns, see below) and joint units exactly.  A grid emptied by the
  moves is retired (``report["retired_grid_codes"]``, ``changes.json``); when
  its area touches no other affected grid, the neighbour grid sharing the
  longest border with it is re-drawn too and takes the area.  An emptied grid
  with no neighbour at all is kept, empty, and reported.  The re-drawn grids
  must meet the kept ones exactly once written (the seam guard of
  :mod:`gridgeo.living.seamguard`): when they would not, every grid of that
  community but the dedicated and locked ones is drawn again (no building
  changes grid for it), and when that does not fit either,
  :class:`~gridgeo.errors.SeamError` is raised and nothing is applied.
* **Compounds** (小区) of the plan that fit in one grid and still lie in one
  grid after the moves are one cell seeded by their outline when their grid is
  re-drawn, as in a fresh partition; the ``compounds`` layer and report section
  are written again, and a compound the edits split says so ("the planner's
  edits keep it in 2 grids").
* **Joint units** (联户) are cut again for the affected grids only.  In a plan
  made with a household register, a moved building takes its households along
  and every grid's units are cut again keeping each household in its unit
  wherever the band allows (:mod:`gridgeo.living.unitkeep`); the households that
  changed unit are listed in ``changes.json``.
* **Staffing, workload and coverage** columns of every grid are computed
  afresh with the plan's settings (:func:`gridgeo.living.lineage.add_services`).
* **Broken constraints are reported, never undone.**  A re-drawn grid outside
  the household band gets ``status="out_of_band"`` and the reason "manual
  edit: …" (English and Chinese); a grid that the edits leave in several
  pieces keeps them as a MultiPolygon with ``status="edited_split"`` (the only
  exception to "one polygon per grid", allowed by the audit for this status
  alone).  Each broken constraint is listed in ``edits.json`` and in
  ``report["edits"]``.
* **History.**  ``report["parent"]`` names the previous run (path, sha256 of its
  ``report.json``) and ``report["history"]`` the chain, as in
  :func:`gridgeo.living.update.update`; ``changes.json`` lists what changed.
  ``report["pinned_buildings"]`` (building code → grid code, every move ever
  applied) and ``report["locked_grids"]`` are carried forward by later edits
  and by ``gridgeo update``, which never re-draws a locked grid and keeps every
  pinned building in its pinned grid (the rest of that grid may be repaired).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..arrays import outline_groups
from ..cells.tessellate import split_parts, tessellate_part
from ..errors import AuditError, SeamError
from ..inputs.names import ADDED_BUILDING_COLUMNS, UNASSIGNED_COLUMNS, original_names
from ..inputs.validate import prepare_inputs
from ..partition.engine import _assign_parts, _dissolve
from ..partition.notes import DEDICATED, DETACHED, IN_BAND, INFEASIBLE, OUT_OF_BAND, OVERSIZE, GridNote, make_note
from ..result import Partition
from .assemble import _assemble
from .compounds import _compound_groups, _compound_outcomes, _previous_compounds
from .edit_table import _SHOWN, ACTIONS, check_edits, read_edits
from .lineage import add_services, kept_grid_colours, mark_locked, parent_record, read_previous, service_settings
from .seamguard import require_valid_coverage, unmatched_grids
from .state import BORDER_M, _Grid, _shared_boundary, largest_cell
from .unitkeep import REGISTER_COUNT, keep_plan_units, registered_layer
from .update import _previous_note

__all__ = ["EDITED_SPLIT", "ACTIONS", "read_edits", "check_edits", "apply_edits", "broken_summary"]

logger = logging.getLogger(__name__)

#: status of a grid that the planner's edits left in several pieces
EDITED_SPLIT = "edited_split"


def _input_layer(previous: Partition) -> gpd.GeoDataFrame:
    """The building layer the previous run was given: its buildings and unassigned rows, gridgeo's columns removed."""
    out = previous.buildings.drop(columns=[c for c in ADDED_BUILDING_COLUMNS if c in previous.buildings.columns])
    out = out.rename(columns=original_names(out.columns))
    frames = [out]
    if len(previous.unassigned):
        unassigned = previous.unassigned.drop(columns=[c for c in UNASSIGNED_COLUMNS if c in previous.unassigned.columns])
        unassigned = unassigned.rename(columns=original_names(unassigned.columns, UNASSIGNED_COLUMNS))  # an input 'reason'
        extra = unassigned[[c for c in out.columns if c in unassigned.columns]]
        frames.append(extra.to_crs(out.crs) if extra.crs != out.crs else extra)
    layer = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry=out.geometry.name, crs=out.crs)
    return layer


def _prepare(prev: Partition, prev_path: Path | None, layer: gpd.GeoDataFrame, params: dict):
    """The plan's buildings prepared as the run that made it prepared them (same checks, metric CRS, households)."""
    where = prev_path or "previous"
    return prepare_inputs(
        prev.communities, layer, households=params.get("households"), community_id="community_id",
        building_id=params.get("building_id"), community_households=params.get("community_households"),
        labels={"buildings": f"{where}/partition.gpkg:buildings", "communities": f"{where}/partition.gpkg:communities"},
        default_storeys=float(params.get("default_storeys", 3.0)), dwelling_m2=float(params.get("dwelling_m2", 90.0)),
    )


def _pieces(geom) -> int:
    return 1 if shapely.get_type_id(geom) == 3 else int(shapely.get_num_geometries(geom))


def _listing(codes: list[str]) -> str:
    shown = ", ".join(codes[:_SHOWN])
    return shown + (f" and {len(codes) - _SHOWN} more" if len(codes) > _SHOWN else "")


def _draw_edited(grids: dict[str, _Grid], region: set[str], prep, band, real_moves: list[dict], kept_empty: set[str], broken: list[dict], compounds) -> list[str]:
    """Re-draw the grids of ``region`` of one community for the edits (in place): polygons, notes, emptied grids
    retired (their codes returned) or kept empty (``kept_empty``)."""
    polygons = _redraw_community(grids, region, prep.building_geoms, kept_empty, broken, compounds=compounds)
    for code, polygon in polygons.items():
        grids[code].geom = polygon
        grids[code].polygon_kept = False
    retired = []
    for code in sorted(region):
        if not grids[code].members and code not in kept_empty:
            retired.append(code)
            del grids[code]
    outline = outline_groups(prep.building_geoms) if polygons else None
    for code in sorted(polygons):
        grid = grids[code]
        moved = sorted({m["building_code"] for m in real_moves if code in (m["from"], m["to"])})
        grid.note = _edit_note(grid, prep.households, band, moved, grid.previous_row, outline=outline)
    for code in sorted(kept_empty & set(grids)):
        grids[code].note = make_note(OUT_OF_BAND, "manual_edit_empty", low=band[0], high=band[1])
        grids[code].polygon_kept = True
    return retired


def _redraw_community(grids: dict[str, _Grid], region: set[str], geoms: np.ndarray, kept_empty: set[str], broken: list[dict], *, compounds=None) -> dict[str, object]:
    """New metric polygons of the grids in ``region`` (and of neighbours drawn in to take emptied areas).

    ``compounds`` is ``(compound_of, outlines, sizes)``: every building's compound
    (-1: none; only compounds that lie in one grid after the edits), each
    compound's outline and its number of buildings.  A compound whose buildings
    are all re-drawn is one cell seeded by its outline, as in a fresh partition.
    """
    while True:
        codes = sorted(region)
        shape = shapely.union_all([grids[c].geom for c in codes if grids[c].geom is not None])
        parts = split_parts(shape)
        members = np.array(sorted(set().union(*(grids[c].members for c in codes))), dtype=np.int64)
        part_of = _assign_parts(parts, geoms[members]) if len(members) else np.zeros(0, dtype=np.int64)
        empty = [p for p in range(len(parts)) if not (part_of == p).any()]
        if not empty:
            break
        for p in empty:
            part = parts[p]
            outside = sorted(c for c, g in grids.items() if c not in region and g.geom is not None and g.members and not g.dedicated)
            lengths = {c: float(_shared_boundary(part, grids[c].geom)) for c in outside}
            lengths = {c: v for c, v in lengths.items() if v > BORDER_M}
            if lengths:
                region.add(max(sorted(lengths), key=lambda c: lengths[c]))
                continue
            # nobody can take this area: the emptied grids in it stay, empty
            inside = [c for c in codes if not grids[c].members and grids[c].geom is not None and shapely.intersects(grids[c].geom, shapely.point_on_surface(part))]
            for c in inside:
                kept_empty.add(c)
                region.discard(c)
            if not inside:
                raise AuditError(f"an area of grids {codes} has no building and no neighbour grid to take it")
    label_of = {}
    for c in codes:
        for b in grids[c].members:
            label_of[int(b)] = c
    cells_of: dict[str, list] = {c: [] for c in codes if grids[c].members}
    for p, part in enumerate(parts):
        here = members[part_of == p]
        groups, outlines = _compound_groups(here, part, *compounds) if compounds is not None else (None, None)
        tess = tessellate_part(part, geoms[here], groups=groups, group_geoms=outlines)
        site_label = np.full(len(tess.cells), "", dtype=object)
        for local in range(len(here) - 1, -1, -1):
            site = tess.site_of_building[local]
            code = label_of[int(here[local])]
            if site_label[site] and site_label[site] != code:
                broken.append({"constraint": "shared_cell", "grid_code": code, "building_code": None, "building": int(here[local]), "other_grid": site_label[site]})
            site_label[site] = code
        if (site_label == "").any():
            raise AuditError(f"tessellation of grids {codes} left {int((site_label == '').sum())} cells without a building")
        for site, code in enumerate(site_label):
            cells_of[code].append(tess.cells[site])
    out = {}
    for code, cells in cells_of.items():
        if not cells:
            raise AuditError(f"grid {code} has buildings but no cell after the edits")
        out[code] = _dissolve(np.array(cells, dtype=object))
    return out


def _edit_note(grid: _Grid, households: np.ndarray, band: tuple[int, int], moved: list[str], previous_row: dict | None, *, outline: np.ndarray | None = None) -> GridNote:
    """Status and reason of a re-drawn grid: in band, excused, or a broken constraint of a manual edit."""
    if grid.dedicated:
        return grid.note
    low, high = band
    members = sorted(grid.members)
    weight = int(households[members].sum()) if members else 0
    pieces = _pieces(grid.geom)
    listed = _listing(moved) if moved else "none"
    if pieces > 1:
        return make_note(EDITED_SPLIT, "manual_edit_split", pieces=pieces, households=weight, low=low, high=high, moved=listed)
    if low <= weight <= high:
        return GridNote(IN_BAND)
    largest = largest_cell(households, outline, members)  # (buildings drawn with one outline share a cell)
    if largest > high:
        return make_note(OVERSIZE, "oversize_building", households=largest, high=high)
    previous_status = str((previous_row or {}).get("status", "") or "")
    if previous_status in (INFEASIBLE, DETACHED):
        return _previous_note(previous_row)
    return make_note(OUT_OF_BAND, "manual_edit", households=weight, low=low, high=high, moved=listed)


def apply_edits(
    previous: Partition | str | Path,
    edits: pd.DataFrame | str | Path,
    *,
    source: str | None = None,
    roads=None,
    service_centres: gpd.GeoDataFrame | None = None,
    audit: bool = True,
) -> Partition:
    """Apply a planner's edits (moves, pins, locks) to a finished plan, keeping every edit.

    Parameters
    ----------
    previous : Partition or path
        The plan to edit, or its output folder.
    edits : DataFrame or path
        Columns ``building_code``, ``grid_code`` and optionally ``action``
        (``move``, the default, ``lock`` or ``unlock``); see the module docstring.
    source : str, optional
        Name of the edit file in messages (default: the path, or ``"edits"``).
    roads : GeoDataFrame, list of them or RoadNetwork, optional
        Roads for the walking tours and walks (default: the road files the plan
        recorded, when it measured along roads).
    service_centres : GeoDataFrame, optional
        Service centres for the coverage columns (default: the plan's).
    audit : bool
        Check the integrity of the result (every building once, households
        conserved at every level, tiling, one polygon per grid except grids
        flagged ``edited_split``); a failure raises :class:`AuditError`.

    Returns
    -------
    Partition
        With :attr:`Partition.changes` (as from :func:`gridgeo.living.update.update`),
        :attr:`Partition.edits` (the applied edits and every broken constraint),
        and ``report["edits"]``, ``report["parent"]``, ``report["history"]``,
        ``report["pinned_buildings"]`` and ``report["locked_grids"]``.

    Raises
    ------
    InputError
        The edit file has problems (all of them listed); nothing is applied.
        Or the plan measured along roads (or to service centres) that are
        neither given nor recorded.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo, pandas as pd
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 400, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [40] * 20}, geometry=[shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 400, 20)], crs=32651)
    >>> plan = gridgeo.partition(c, b, households="hh")
    >>> plan.grids["households"].tolist()
    [400, 400]
    >>> last = plan.buildings.loc[plan.buildings["grid_code"] == "001-01", "building_code"].max()
    >>> edited = apply_edits(plan, pd.DataFrame({"building_code": [last], "grid_code": ["001-02"]}))
    >>> edited.grids["households"].tolist(), edited.edits["moves"][0]["from"]
    ([360, 440], '001-01')
    """
    run = read_previous(previous, fix="edit a folder written by gridgeo partition, update or apply-edits")
    registered = bool(run.params.get("register_household"))  # a register plan: buildings take their households along
    prev, prev_path, report, params = run.partition, run.path, run.report, run.params
    band, unit_band, seed = run.band, run.unit_band, run.seed
    if isinstance(edits, (str, Path)):
        source = source or str(edits)
        edits = read_edits(edits)
    source = source or "edits"
    moves, locks, unlocks, lines = check_edits(prev, edits, source=source)
    services = service_settings(run, roads=roads, service_centres=service_centres)

    # the previous run's input, prepared as the run prepared it; row labels say which previous building each is
    layer = _input_layer(prev)
    # the notes on the input (straddling buildings, repairs) were logged by the run that made the plan
    validate_logger = logging.getLogger("gridgeo.inputs.validate")
    level = validate_logger.level
    validate_logger.setLevel(logging.ERROR)
    try:
        if registered:  # the plan's register counts, not an estimate from the footprints (gridgeo.unitkeep)
            prep = _prepare(prev, prev_path, registered_layer(prev, layer), {**params, "households": REGISTER_COUNT})
            prep.buildings, prep.unassigned = prep.buildings.drop(columns=REGISTER_COUNT), prep.unassigned.drop(columns=REGISTER_COUNT)
        else:
            prep = _prepare(prev, prev_path, layer, params)
    finally:
        validate_logger.setLevel(level)

    pb = prev.buildings
    n_prev = len(pb)
    labels = prep.buildings.index.to_numpy()
    if len(prep.buildings) != n_prev or not (labels < n_prev).all():
        raise AuditError(f"re-reading the plan's buildings assigned {len(prep.buildings)} of {n_prev} to communities")
    order = np.argsort(pb["building_code"].astype(str).to_numpy()[labels], kind="stable")
    prep.buildings = prep.buildings.iloc[order]
    prep.building_geoms = prep.building_geoms[order]
    prep.building_community = prep.building_community[order]
    match = labels[order].astype(np.int64)
    pb_codes = pb["building_code"].astype(str).to_numpy()
    pb_grid = pb["grid_code"].astype(str).to_numpy()
    pb_comm = pb["community_code"].astype(str).to_numpy()
    pb_hh = pb["households"].to_numpy(dtype=np.int64)
    if not np.array_equal(prep.households[order], pb_hh[match]):
        logger.warning("households re-estimated from the plan's buildings differ from the plan's; the plan's are kept")
    prep.households = pb_hh[match]
    b_code, b_comm = pb_codes[match], pb_comm[match]
    metric, crs = prep.metric_crs, prep.input_crs
    row_of_code = {c: i for i, c in enumerate(b_code)}

    # the new assignment
    b_grid = pb_grid[match].copy()
    moved_rows = []
    for building in sorted(moves):
        i = row_of_code[building]
        source_grid, target = str(b_grid[i]), moves[building]
        moved_rows.append({"building_code": building, "from": source_grid, "to": target, "households": int(prep.households[i]), "lines": [r + 2 for r in lines[building]]})
        b_grid[i] = target
    real_moves = [m for m in moved_rows if m["from"] != m["to"]]
    pg = prev.grids.reset_index(drop=True)
    pg_codes = pg["grid_code"].astype(str).to_numpy()
    pg_comm = pg["community_code"].astype(str).to_numpy()
    pg_metric = pg.geometry.to_crs(metric).to_numpy()
    prev_members: dict[str, set[int]] = {}
    for i in range(len(b_code)):
        prev_members.setdefault(str(pb_grid[match[i]]), set()).add(i)
    affected = {m["from"] for m in real_moves} | {m["to"] for m in real_moves}
    # compounds: one that fits and lies in one grid after the moves is one cell wherever grids are re-drawn
    pins = dict(run.pins)
    pins.update({m["building_code"]: m["to"] for m in moved_rows})
    locked = (set(run.locks) | set(locks)) - set(unlocks)
    dedicated_codes = set(pg_codes[pg["status"].astype(str).to_numpy() == DEDICATED].tolist()) if "status" in pg else set()
    areas = _previous_compounds(prev, prep, band, np.isin(b_grid.astype(str), sorted(dedicated_codes)))
    held = np.isin(b_code.astype(str), list(pins)) | np.isin(b_grid.astype(str), sorted(locked))
    cells = None
    if areas is not None:
        compound_of = np.where(held, -1, areas.building_group)
        grouped = np.flatnonzero(compound_of >= 0)
        spread = pd.Series(b_grid[grouped].astype(str)).groupby(compound_of[grouped]).nunique()
        compound_of[np.isin(compound_of, spread.index[spread > 1].to_numpy())] = -1  # split by the edits: cells of their own
        cells = (compound_of, areas.geoms, np.bincount(compound_of[compound_of >= 0], minlength=len(areas.geoms)))

    final: dict[str, _Grid] = {}
    broken: list[dict] = []
    retired_now: list[str] = []
    kept_empty: set[str] = set()
    for ccode in sorted(set(pg_comm.tolist())):
        grids: dict[str, _Grid] = {}
        for r in np.flatnonzero(pg_comm == ccode):
            code = pg_codes[r]
            row = pg.iloc[r]
            members = {int(i) for i in np.flatnonzero(b_grid == code)}
            grids[code] = _Grid(code, pg_metric[r], members, _previous_note(row), str(row.get("status", "")) == DEDICATED, True, pg.geometry.iloc[r], row.to_dict())
        for code in sorted({m["to"] for m in real_moves if m["to"] not in grids and m["to"].rsplit("-", 1)[0] == ccode}):
            grids[code] = _Grid(code, None, {int(i) for i in np.flatnonzero(b_grid == code)}, GridNote(), False, False, None, None)
        region = {c for c in grids if c in affected}
        if region:
            start = {c: copy.copy(g) for c, g in grids.items()}
            kept_before, broken_before = set(kept_empty), list(broken)
            bad: list[str] = []
            # the seam guard (gridgeo.living.seamguard): re-drawn grids must meet the kept ones exactly once written;
            # else every grid of the community but the dedicated and locked ones is drawn again (no building moves)
            for attempt in ("edited", "community"):
                if attempt == "community":
                    logger.info("community %s: grids %s would not meet their neighbours exactly; drawing its grids again", ccode, ", ".join(bad[:10]))
                    grids = {c: copy.copy(g) for c, g in start.items()}
                    kept_empty.clear()
                    kept_empty.update(kept_before)
                    broken[:] = broken_before
                    region = {c for c, g in grids.items() if not g.dedicated and c not in locked and (g.members or c in affected)}
                retired = _draw_edited(grids, region, prep, band, real_moves, kept_empty, broken, cells)
                bad = unmatched_grids(grids, metric=metric, crs=crs, order=pg_codes)
                if not bad:
                    break
            else:
                raise SeamError(
                    f"community {ccode}: the re-drawn grids cannot be made to meet the grids kept around them exactly "
                    f"(edges that do not match in grids {', '.join(bad[:10])}), also when every grid of the community is drawn again"
                )
            retired_now.extend(retired)
        final.update(grids)

    dirty = np.zeros(len(b_code), dtype=bool)
    dirty[[row_of_code[m["building_code"]] for m in real_moves]] = True
    nothing = np.zeros(len(b_code), dtype=bool)
    result, changes = _assemble(
        prev, prep, final, pg, pg_codes, prev_members, match, b_code, b_comm, dirty, nothing, pb_codes,
        np.ones(n_prev, dtype=bool), pb_grid, pb_hh, band, unit_band, seed, metric, crs, params,
    )
    # broken constraints, from the written rows
    rows = result.grids.set_index("grid_code")
    for code in sorted(c for c in final if c in rows.index and (not final[c].polygon_kept or c in kept_empty)):
        row = rows.loc[code]
        status = str(row["status"])
        hh = int(row["households"])
        entry = {"grid_code": code, "households": hh, "status": status, "reason": str(row["reason"]), "reason_zh": str(row["reason_zh"])}
        if status == EDITED_SPLIT:
            broken.append({**entry, "constraint": "one_piece", "pieces": _pieces(row.geometry)})
        if not (band[0] <= hh <= band[1]) and status not in (DEDICATED, OVERSIZE, INFEASIBLE, DETACHED):
            broken.append({**entry, "constraint": "band"})
        if code in kept_empty:
            broken.append({**entry, "constraint": "empty_grid_kept"})
    for item in broken:
        if item.get("constraint") == "shared_cell":
            item["building_code"] = str(b_code[item.pop("building")])
            item["reason"] = f"manual edit: building {item['building_code']} shares its footprint cell with a building of grid {item['other_grid']}; the cell went to {item['other_grid']}"
    broken = sorted(broken, key=lambda item: (item["grid_code"], item["constraint"]))

    locked = sorted(c for c in locked if c in final)
    final_grid = np.full(len(b_code), "", dtype=object)
    for code, grid in final.items():
        final_grid[sorted(grid.members)] = code
    if areas is not None:
        edited = held | np.isin(final_grid.astype(str), locked)
        result.report["compounds"], result.compounds = _compound_outcomes(areas, final_grid, prep, band, edited, prev.compounds, metric, crs)
    parent = parent_record(run)
    edits_record = {
        "source": source,
        "moves": moved_rows,
        "locked": locks,
        "unlocked": unlocks,
        "grids_redrawn": sorted(c for c in final if not final[c].polygon_kept),
        "grids_created": sorted(set(final) - set(pg_codes.tolist())),
        "grids_retired": sorted(retired_now),
        "broken_constraints": broken,
        "parent": parent,
    }
    result.edits = edits_record
    result.report["parent"] = parent
    result.report["history"] = list(report.get("history", [])) + [parent]
    result.report["retired_grid_codes"] = sorted(set(report.get("retired_grid_codes", [])) | set(changes["grids_retired"]))
    result.report["retired_building_codes"] = sorted(report.get("retired_building_codes", []))
    result.report["locked_grids"] = locked
    result.grids = mark_locked(result.grids, locked)
    result.report["pinned_buildings"] = dict(sorted(pins.items()))
    result.report["edits"] = {
        "source": source,
        "moves": len(real_moves),
        "pins": len(moved_rows) - len(real_moves),
        "locked": locks,
        "unlocked": unlocks,
        "grids_redrawn": edits_record["grids_redrawn"],
        "grids_created": edits_record["grids_created"],
        "grids_retired": edits_record["grids_retired"],
        "broken_constraints": [{k: item[k] for k in ("grid_code", "constraint", "reason") if k in item} for item in broken],
    }
    changes["parent"] = parent
    result.report["changes"] = {key: (len(value) if isinstance(value, list) else value) for key, value in changes.items() if key != "parent"}
    result.changes = changes
    result.grid_colours = kept_grid_colours(prev, final)  # the map keeps each surviving grid's colour
    if not result.report["summary"]["coverage_valid"]:
        require_valid_coverage(result.grids)  # each re-drawn community was checked (the seam guard above)
    if registered:
        result = keep_plan_units(result, run, prep, b_code, metric, unit_band)
    result = add_services(result, services)  # staffing, workload, coverage of the final grids, as the plan ran them
    logger.info(
        "apply-edits: %d buildings moved, %d pinned where they stand, %d grids re-drawn, %d created, %d retired; %d broken constraints",
        len(real_moves), len(moved_rows) - len(real_moves), len(edits_record["grids_redrawn"]), len(edits_record["grids_created"]), len(retired_now), len(broken),
    )
    if audit:
        from ..audit import audit_partition

        problems = audit_partition(result, layer, band=band, unit_band=unit_band, quality=False)
        if problems:
            raise AuditError("the edited plan does not match its buildings: " + "; ".join(problems))
    return result


def broken_summary(result: Partition, lang: str = "en") -> list[str]:
    """One line per broken constraint of an edited plan, in ``lang``.

    Examples
    --------
    >>> broken_summary(Partition(*([gpd.GeoDataFrame()] * 5), report={}))
    []
    """
    record = getattr(result, "edits", None) or {}
    out = []
    for item in record.get("broken_constraints", []):
        text = item.get("reason_zh" if lang == "zh" else "reason") or item.get("reason", "")
        out.append(f"{item['grid_code']} [{item['constraint']}]: {text}")
    return out
