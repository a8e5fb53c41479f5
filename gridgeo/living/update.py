"""Living plans: update a finished partition for new buildings, keeping what did not change.

:func:`update` takes a previous run (an output folder or a :class:`~gridgeo.result.Partition`)
and a new building layer and returns a new :class:`~gridgeo.result.Partition`:

1. **Matching.**  New buildings are matched to the previous run's buildings by the
   building id column the previous run recorded (``parameters.building_id``), else
   by footprint overlap (intersection over union above 0.5, points by position).
   A building is *changed* when it is new, removed, or its geometry (beyond 1 mm)
   or households changed.  Matched buildings keep their building code; new ones are
   numbered after the highest code ever used in their community.
2. **Placement.**  A new (or moved) building joins the previous grid holding its
   representative point, found through the spatial index of the previous grids
   (``grids.rtree.idx``/``.dat`` beside the output, rebuilt in memory when missing).
3. **Repair.**  A community left without households becomes one grid (per part), the
   lowest code kept; a building that grew above the band's maximum (or an added one
   above it) gets a grid of its own, the rest of its grid repaired as a grid out of
   band (:mod:`gridgeo.living.carve`).  A grid whose buildings changed keeps its
   polygon and code when its households stay in the band (or its excuse, an
   oversize building that was above the maximum before, still holds); only its
   joint units are re-cut.  A grid that falls out of the band is repaired
   with as few neighbours as needed: first with the grids that the cheapest flow
   of households links it to (:mod:`gridgeo.living.movebound`, computed on the grids as
   they are; when that region cannot be repaired, its borders are closed and the
   flow is computed again, three times at most), then with the neighbour grid
   sharing its longest border.  A region is tessellated again (inside the union of their
   polygons only, so every other grid keeps its polygon exactly and the tiling
   holds), the grids start from their previous buildings, the grid count is adjusted
   when the region's total needs it (the smallest grid is dissolved into its
   neighbours, or the largest is split), and boundary cells are moved one at a time
   only while that reduces the band miss; when single cells cannot fix it (large
   buildings), a grid and its neighbours are merged and split again (ReCom, as in
   :mod:`gridgeo.partition.plan`).  When this leaves a grid out of band the
   region grows by the neighbour sharing the longest border with it, up to
   ``max_region`` grids; then the grid is joined to a neighbour through a strip
   of open ground where its buildings are walled in behind a large one
   (:mod:`gridgeo.living.corridorfix`); beyond that the whole community is
   partitioned afresh.  A community whose total admits no grid count keeps its
   grids when only that total puts them out of band (``infeasible_total``).
   Grids of a region whose buildings the repair did not touch keep their polygon.
   In a community of at most :data:`gridgeo.living.seamguard.EXACT_CELLS` kept cells (each grid cut into its own
   buildings' cells) whose repair moved at most :data:`~gridgeo.living.seamguard.EXACT_MOVED` existing households,
   the cheapest repair in whole kept cells (:mod:`gridgeo.living.keptoptimum`, looking only for one that moves fewer
   existing households, within fixed counts of nodes, programs and columns) takes the repair's place when it moves
   fewer and its grids fit (:func:`gridgeo.living.seamguard.exact_candidate`).
4. **Codes.**  The new grid with the largest household overlap with a previous grid
   inherits its code (each code at most once); other new grids take numbers after
   the community's highest number ever used; retired codes are recorded in the
   report (``retired_grid_codes``, ``retired_building_codes``) and never reused.
5. **Seams.**  The re-drawn grids are reprojected to the output CRS and fitted
   to the kept grids around them (:mod:`gridgeo.living.seams`): their edges take the
   kept vertices exactly, so every community's grids stay a valid polygonal
   coverage.  Each community is checked right after its repair
   (:mod:`gridgeo.living.seamguard`): one whose re-drawn grids would not fit is
   repaired again on its own, without the border transfers, then afresh; one
   that still does not fit raises :class:`~gridgeo.errors.SeamError`, and so
   does an assembled plan that is not a valid coverage.
6. **Changes and history.**  :attr:`Partition.changes` lists grids added, retired,
   reshaped (same code, new polygon) and modified (same polygon, other buildings or
   households), buildings added, removed and moved between grids, and the share of
   households whose grid changed (of the households in buildings present in both
   versions), and ``households_moved_lower_bound``, the fewest of them any repair
   of the kind this update made must move (:mod:`gridgeo.living.reportbound`).  ``report["parent"]`` names the previous run (path, sha256 of its
   ``report.json``, parameters) and ``report["history"]`` the chain of ancestors.

Dedicated grids (专属网格) are never merged with other grids: buildings placed in
them join them, and they keep their polygon.

**Compounds** (小区) of the previous run (its ``compounds`` layer) are re-applied
as a fresh run applies them: their buildings are found again among the new
buildings (representative point in the outline, :func:`gridgeo.cells.areas.assign_areas`);
a compound whose households fit within the band's maximum is one cell seeded by
its outline wherever a region is tessellated again (so a repair never splits it
and the boundary follows its wall), and a larger one's outline is a barrier line.
A new building of a compound joins the grid holding the compound's other
buildings; a compound that fits but lies in several grids (it was too big
before, or a building left it) makes those grids a repair region.  The
``compounds`` layer and report section are written again for the new plan.

**Staffing, workload and coverage** (:mod:`gridgeo.governance.workload`,
:mod:`gridgeo.governance.coverage`) are computed afresh for every grid of the new plan with
the previous run's settings (:func:`gridgeo.living.lineage.service_settings`): the
workload index compares a grid with its community's mean, so it moves with any
change in the community.

Grids a planner edited with :func:`gridgeo.living.edits.apply_edits`: grids in
``report["locked_grids"]`` and grids an edit left in pieces (``edited_split``)
are never re-drawn by a repair; buildings placed in them join them.  A pinned
building (``report["pinned_buildings"]``) stays in its pinned grid, and that grid
keeps its code, but the rest of the grid is repaired like any other: the pinned
building's cell never moves, a grid holding one is not dissolved or merged and
split again, and a region whose repair would separate pins of one grid (or join
pins of two) grows instead.  Only when the whole community must be partitioned
afresh and a fresh split would move a pinned building are the grids holding
pinned buildings kept as they are.  Locks and pins are carried into the new
report, and ``changes["pins_broken"]`` lists pinned buildings no longer in their
pinned grid.

Joint units of unchanged grids are taken from the previous run with the
geometry type a fresh run gives them (:func:`gridgeo.result.single_part_units`).

A plan partitioned with a **household register** is updated with the register
as it is now (``register=``; refused without it): the households per building
come from it, the grids are repaired as above, and then the units of every grid
are cut again keeping each household still in its grid in its unit wherever the
unit band allows (:mod:`gridgeo.living.unitkeep`); ``changes`` lists the households
that changed unit.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..arrays import outline_groups, positions_by_value
from ..cells.areas import AreaGroups
from ..errors import AuditError, ProblemCollector
from ..governance.codes import building_code
from ..inputs.validate import SHAPEFILE_FIELD_LENGTH, meant_column, prepare_inputs
from ..outputs.gridindex import GRID_INDEX, load_grid_index, write_grid_index
from ..parallel import map_completed
from ..partition.notes import DEDICATED, IN_BAND, GridNote
from ..result import Partition
from .assemble import _assemble
from .carve import name_carved
from .compounds import _compound_outcomes, _join_compound_mates, _previous_compounds, _split_compound_grids
from .layercheck import check_new_layer
from .lineage import add_services, kept_grid_colours, mark_locked, parent_record, read_previous, service_settings
from .reportbound import reported_lower_bound
from .seamguard import _copy, repair_fitted, require_valid_coverage
from .state import _Context, _Grid
from .unitkeep import REGISTER_COUNT, keep_register_units, register_for_update, require_register

__all__ = ["update", "GRID_INDEX", "write_grid_index", "load_grid_index"]

logger = logging.getLogger(__name__)

_GEOMETRY_TOLERANCE_M = 1e-3
_MATCH_IOU = 0.5
_BASIC_CODE = re.compile(r"^(.+)-(\d+)$")
_BUILDING_CODE = re.compile(r"^(.+)-B(\d+)$")


def update(
    previous: Partition | str | Path,
    buildings: gpd.GeoDataFrame,
    *,
    barriers: gpd.GeoDataFrame | list[gpd.GeoDataFrame] | None = None,
    roads=None,
    service_centres: gpd.GeoDataFrame | None = None,
    labels: dict[str, str] | None = None,
    max_region: int = 6,
    audit: bool = True,
    register: pd.DataFrame | None = None,
    register_building: str | None = None,
    register_household: str | None = None,
    register_order: str | list[str] | None = None,
    register_unmatched: str | None = None,
    kept_cell_bound: bool = True,
    kept_cell_candidate: bool = True,
    allow_removal: bool = False,
    workers: int = 1,
) -> Partition:
    """Update a previous partition for a new building layer, changing as little as possible.

    Parameters
    ----------
    previous : Partition or path
        The previous run, or its output folder (read with :func:`gridgeo.result.read_outputs`;
        its saved grid index is used to place new buildings).
    buildings : GeoDataFrame
        The complete new building layer (same columns as the previous run's input).
    barriers : GeoDataFrame or list of them, optional
        Barrier lines for the regions that are re-partitioned.
    roads : GeoDataFrame, list of them or RoadNetwork, optional
        Roads for the walking tours and walks (default: the road files the previous
        run recorded, when it measured along roads).
    service_centres : GeoDataFrame, optional
        Service centres for the coverage columns (default: the previous run's).
    labels : dict, optional
        Names of the inputs used in messages.
    max_region : int
        Largest number of grids a repair region may grow to before the whole
        community is partitioned afresh.
    audit : bool
        Check the result's integrity (every building once, households conserved,
        one polygon per grid, tiling); a failure raises :class:`AuditError`.
    register : DataFrame, optional
        The household register as it is now (:func:`gridgeo.inputs.register.read_register`):
        required for a plan partitioned with a register, refused for one without.
        Households per building come from it, and every household still in
        its grid keeps its joint unit where the unit band allows (:mod:`gridgeo.living.unitkeep`).
    register_building, register_household, register_order, register_unmatched : optional
        The register's columns and the treatment of rows of unknown buildings, as
        in :func:`gridgeo.partition` (default: what the previous plan recorded).
    kept_cell_bound : bool
        Also bound the households moved, in every community whose repair moves
        whole kept cells and whose programs' bound is below what it moved, by
        the cheapest such repair: an integer program per such community, solved
        within fixed limits (:func:`gridgeo.living.keptoptimum.kept_cells_bound`;
        seconds each, tens of seconds in some communities).  False: the
        programs' bound alone, faster.
    kept_cell_candidate : bool
        Try, as a community's last repair candidate, the cheapest repair in
        whole kept cells (:func:`gridgeo.living.seamguard.exact_candidate`):
        an integer program per community whose repair moved existing
        households, within fixed limits.  False: faster, and the repair may
        move more households.
    allow_removal : bool
        Accept a layer that removes more than half of the plan's households
        (:data:`gridgeo.living.layercheck.MOST_REMOVED`); by default that is
        an error, as is a layer whose buildings lie shifted as a whole from
        where the plan has them (:func:`gridgeo.living.layercheck.check_new_layer`).
    workers : int
        Processes repairing communities in parallel (forked from this one); the
        result does not depend on it.

    Returns
    -------
    Partition
        With :attr:`Partition.changes` filled and ``report["parent"]`` naming the previous run.
        A register plan's changes also list the households that changed unit
        (``households_moved_units``) and count those that kept theirs.

    Raises
    ------
    InputError
        The previous folder is not a gridgeo output, the new buildings have
        problems (among them: most of the plan's buildings missing, or the layer
        shifted as a whole), or the previous run measured along roads (or to service
        centres) that are neither given nor recorded.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 400, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"bid": [str(i) for i in range(20)], "hh": [40] * 20},
    ...                      geometry=[shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 400, 20)], crs=32651)
    >>> before = gridgeo.partition(c, b, households="hh", building_id="bid")
    >>> after = update(before, b.iloc[1:])  # one building demolished
    >>> after.grids["grid_code"].tolist(), after.grids["households"].tolist()
    (['001-01', '001-02'], [360, 400])
    >>> after.changes["grids_modified"], after.changes["share_households_moved"]
    (['001-01'], 0.0)
    """
    run = read_previous(previous, fix="update a folder written by gridgeo partition, update or apply-edits")
    require_register(run, register, "update")
    buildings, cut_notes = _uncut_columns(buildings, run.params, register=register is not None, label=(labels or {}).get("buildings", "buildings"))
    keeper = None  # a register plan: the new register's counts, and its units re-cut keeping households (gridgeo.living.unitkeep)
    if register is not None:
        keeper = register_for_update(
            run, buildings, register, register_building=register_building, register_household=register_household,
            register_order=register_order, register_unmatched=register_unmatched, labels=labels,
        )
    prev, prev_path, report, params = run.partition, run.path, run.report, run.params
    band, unit_band, seed = run.band, run.unit_band, run.seed
    services = service_settings(run, roads=roads, service_centres=service_centres)  # before the work: fail early
    if barriers is not None and not isinstance(barriers, (list, tuple)):
        barriers = [barriers]
    building_id = params.get("building_id")
    _require_columns(buildings, params, register=keeper is not None, label=(labels or {}).get("buildings", "buildings"))
    with _said_before(labels):
        prep = prepare_inputs(
            prev.communities,
            buildings if keeper is None else keeper.buildings,
            households=params.get("households") if keeper is None else REGISTER_COUNT,
            community_id="community_id",
            building_id=building_id,
            community_households=params.get("community_households"),
            barriers=list(barriers) if barriers else None,
            labels=labels,
            default_storeys=float(params.get("default_storeys", 3.0)),
            dwelling_m2=float(params.get("dwelling_m2", 90.0)),
        )
    prep.notes[:0] = cut_notes
    if keeper is not None:
        prep.buildings, prep.unassigned = prep.buildings.drop(columns=REGISTER_COUNT), prep.unassigned.drop(columns=REGISTER_COUNT)
        prep.notes.extend(keeper.matched.notes)
    metric, crs = prep.metric_crs, prep.input_crs
    n = len(prep.buildings)
    comm_code_of_id = dict(zip(prev.communities["community_id"].astype(str), prev.communities["community_code"].astype(str)))
    b_comm = np.array([comm_code_of_id[str(prep.community_ids[c])] for c in prep.building_community], dtype=object)

    # previous run, in the metric CRS
    pb = prev.buildings
    pb_codes = pb["building_code"].astype(str).to_numpy()
    pb_grid = pb["grid_code"].astype(str).to_numpy()
    pb_comm = pb["community_code"].astype(str).to_numpy()
    pb_hh = pb["households"].to_numpy(dtype=np.int64)
    pb_geom = pb.geometry.to_crs(metric).to_numpy() if len(pb) else np.zeros(0, dtype=object)
    pg = prev.grids.reset_index(drop=True)
    pg_codes = pg["grid_code"].astype(str).to_numpy()
    pg_comm = pg["community_code"].astype(str).to_numpy()
    pg_metric = pg.geometry.to_crs(metric).to_numpy()

    match, by_id = _match(prep, pb, pb_geom, building_id)
    same_comm = match >= 0
    same_comm[same_comm] = pb_comm[match[same_comm]] == b_comm[same_comm]
    matched_prev = np.zeros(len(pb), dtype=bool)
    matched_prev[match[same_comm]] = True
    # (before any work: a layer of the new buildings only, or one shifted as a whole, would rewrite the plan)
    id_of_code = {code: cid for cid, code in comm_code_of_id.items()}
    check_new_layer(
        match, pb_hh, pb_geom, prep.building_geoms, label=(labels or {}).get("buildings", "buildings"), building_id=building_id if by_id else None,
        removed=~matched_prev, community_of_previous=np.array([id_of_code.get(c, c) for c in pb_comm.tolist()], dtype=object), allow_removal=allow_removal,
    )
    match = np.where(same_comm, match, -1)
    geom_changed = np.zeros(n, dtype=bool)
    hh_changed = np.zeros(n, dtype=bool)
    m = np.flatnonzero(match >= 0)
    if len(m):
        geom_changed[m] = ~shapely.equals_exact(prep.building_geoms[m], pb_geom[match[m]], tolerance=_GEOMETRY_TOLERANCE_M)
        hh_changed[m] = prep.households[m] != pb_hh[match[m]]
    is_new = match < 0

    # placement of new and moved buildings through the (saved) grid index
    home = np.full(n, "", dtype=object)
    home[m] = pb_grid[match[m]]
    place = np.flatnonzero(is_new | geom_changed)
    # buildings drawn with one outline share a cell: they follow one another, and their sum decides whether a grid
    # has a band
    outline = outline_groups(prep.building_geoms)
    if len(place):
        home[place] = _place(prep.building_geoms[place], b_comm[place], home[place], pg, pg_codes, pg_comm, pg_metric, metric, prev_path)
        _follow_same_outline(home, place, np.setdiff1d(m, place), outline, prep.households)

    # building codes: kept, or numbered after the highest ever used in the community
    b_code = np.full(n, "", dtype=object)
    b_code[m] = pb_codes[match[m]]
    retired_buildings = set(report.get("retired_building_codes", [])) | set(pb_codes[~matched_prev].tolist())
    _number_new_buildings(b_code, is_new, b_comm, prep, pb_codes, retired_buildings)
    # from here on buildings are in code order: the result does not depend on the input's row order
    canon = np.argsort(b_code.astype(str), kind="stable")
    prep.buildings = prep.buildings.iloc[canon]
    prep.building_geoms = prep.building_geoms[canon]
    prep.building_community = prep.building_community[canon]
    prep.households = prep.households[canon]
    b_code, b_comm, match, home = b_code[canon], b_comm[canon], match[canon], home[canon]
    is_new, geom_changed, hh_changed = is_new[canon], geom_changed[canon], hh_changed[canon]
    m = np.flatnonzero(match >= 0)
    # a building above the band's maximum that was not before (added, or grown past it) gets a grid of its own
    previous_households = np.full(n, -1, dtype=np.int64)
    previous_households[m] = pb_hh[match[m]]
    grown = (prep.households > band[1]) & (previous_households <= band[1])
    outline = outline[canon]

    # grids a planner edited (gridgeo.living.edits): locked or left in pieces by an edit stay as they are;
    # a pinned building stays in its pinned grid (which keeps its code), the rest of that grid may be repaired
    pins = dict(run.pins)
    grid_comm = dict(zip(pg_codes, pg_comm))
    protected = set(run.locks)
    protected |= set(pg_codes[pg["status"].astype(str).to_numpy() == "edited_split"].tolist()) if "status" in pg else set()
    pinned: dict[int, str] = {}
    for i in np.flatnonzero(np.isin(b_code.astype(str), list(pins))):
        target = pins[str(b_code[i])]
        if grid_comm.get(target) == b_comm[i]:
            home[i] = target  # placement never moves a pinned building out of its grid
            if target not in protected:
                pinned[int(i)] = target
    dedicated_codes = set(pg_codes[pg["status"].astype(str).to_numpy() == DEDICATED].tolist()) if "status" in pg else set()
    held = np.isin(home.astype(str), sorted(protected)) | np.isin(b_code.astype(str), list(pins))

    # compounds of the previous run, on the new buildings: a compound that fits is one cell wherever a region is redrawn
    areas = _previous_compounds(prev, prep, band, np.isin(home.astype(str), sorted(dedicated_codes)))
    compound_of = None
    if areas is not None:
        compound_of = np.where(held, -1, areas.building_group)
        _join_compound_mates(home, compound_of, np.flatnonzero(is_new | geom_changed), set(pinned))
    dirty_buildings = is_new | geom_changed | hh_changed
    flagged = set(pg_codes[pg["status"].astype(str).to_numpy() != IN_BAND].tolist()) if "status" in pg else set()

    # per community: repair what changed
    retired_grids = set(report.get("retired_grid_codes", []))
    prev_members: dict[str, set[int]] = {}
    for i in m:
        prev_members.setdefault(pb_grid[match[i]], set()).add(int(i))
    dirty_grids = set(home[dirty_buildings].tolist()) | set(pb_grid[~matched_prev].tolist())
    if compound_of is not None:
        dirty_grids |= _split_compound_grids(home, compound_of)
        sizes = np.bincount(compound_of[compound_of >= 0], minlength=len(areas.geoms))
    barrier_tree = shapely.STRtree(prep.barriers) if len(prep.barriers) else None
    kept_inputs: dict[str, tuple] = {}  # per community: what its kept-cell bound is computed from, when asked
    retired_before = set(retired_grids)
    entries: list[tuple[str, dict[str, _Grid], _Context, object]] = []  # per community, in order
    placed = positions_by_value(home.astype(str))  # the buildings placed in each previous grid
    for ccode in sorted(set(pg_comm.tolist())):
        rows = np.flatnonzero(pg_comm == ccode)
        ci = int(np.flatnonzero(prev.communities["community_code"].astype(str).to_numpy() == ccode)[0])
        cid = str(prev.communities["community_id"].iloc[ci])
        pi = int(np.flatnonzero(prep.community_ids.astype(str) == cid)[0])
        grids: dict[str, _Grid] = {}
        for r in rows:
            code = pg_codes[r]
            row = pg.iloc[r]
            members = set(placed.get(str(code), np.zeros(0, dtype=np.int64)).tolist())
            dedicated = str(row.get("status", "")) == DEDICATED
            note = _previous_note(row)
            grids[code] = _Grid(code, pg_metric[r], members, note, dedicated, True, pg.geometry.iloc[r], row.to_dict())
            grids[code].locked = code in protected
        local_barriers = _local_barriers(barrier_tree, prep.barriers, prep.community_geoms[[pi]])
        # (each community its own set of retired codes: codes start with the community's, so none sees another's)
        context = _Context(band, prep.households, prep.building_geoms, local_barriers, seed, cid, ccode, max_region, set(retired_before), unit_band=unit_band)
        context.next_number, context.width = _next_grid_number(ccode, list(grids) + sorted(retired_before))
        context.pins = {i: code for i, code in pinned.items() if code in grids}
        context.is_new = is_new
        context.outline = outline
        context.kept_cell_candidate = kept_cell_candidate
        context.grown, context.grew = grown, grown & ~is_new
        if compound_of is not None:
            _add_compounds(context, areas, compound_of, sizes, pi)
        entries.append((ccode, grids, context, prep.community_geoms[pi]))
    repaired = [i for i, (_, grids, _, _) in enumerate(entries) if any(code in dirty_grids for code in grids)]
    # (forked workers inherit the tasks: nothing large is pickled on the way in, gridgeo.parallel)
    tasks = [(entries[i][1], set(dirty_grids), entries[i][2], entries[i][3], metric, crs, pg_codes, kept_cell_bound) for i in repaired]
    weights = [sum(len(g.members) for g in entries[i][1].values()) for i in repaired]
    for position, (grids, retired, before, known) in map_completed(_repair_community_task, tasks, workers=workers, weights=weights, desc="repairs"):
        ccode, _, context, community_geom = entries[repaired[position]]
        context.kept_known = known  # (what the kept-cell candidate proved, from the worker that repaired the community)
        entries[repaired[position]] = (ccode, grids, context, community_geom)
        retired_grids |= retired
        if before is not None:
            kept_inputs[ccode] = (before, grids, set(dirty_grids), context)
    final: dict[str, _Grid] = {}
    for _, grids, _, _ in entries:
        final.update(grids)
    previous_grid = np.full(n, "", dtype=object)
    previous_grid[m] = pb_grid[match[m]]
    lower_bound, _ = reported_lower_bound(
        pg_codes, pg_comm, pg_metric, home, previous_grid, prep.households, is_new, prep.building_geoms, band, dedicated_codes | protected, flagged, final,
        kept=kept_inputs, workers=workers, outline=outline,
    )

    result, changes = _assemble(
        prev, prep, final, pg, pg_codes, prev_members, match, b_code, b_comm, dirty_buildings, is_new, pb_codes, matched_prev,
        pb_grid, pb_hh, band, unit_band, seed, metric, crs, params,
    )
    b_grid = np.full(n, "", dtype=object)
    for code, grid in final.items():
        b_grid[sorted(grid.members)] = code
    if areas is not None:
        edited = held | np.isin(b_grid, sorted(protected))
        result.report["compounds"], result.compounds = _compound_outcomes(areas, b_grid, prep, band, edited, prev.compounds, metric, crs)
    parent = parent_record(run)
    result.report["parent"] = parent
    result.report["history"] = list(report.get("history", [])) + [parent]
    result.report["retired_grid_codes"] = sorted(retired_grids | set(changes["grids_retired"]))
    result.report["retired_building_codes"] = sorted(retired_buildings)
    if "locked_grids" in report or pins:
        codes_now = set(result.buildings["grid_code"].astype(str)) | set(result.grids["grid_code"].astype(str))
        grid_of = dict(zip(result.buildings["building_code"].astype(str), result.buildings["grid_code"].astype(str)))
        result.report["locked_grids"] = sorted(c for c in run.locks if c in codes_now)
        result.grids = mark_locked(result.grids, result.report["locked_grids"])
        result.report["pinned_buildings"] = {b: g for b, g in sorted(pins.items()) if b in grid_of}
        changes["pins_broken"] = [{"building_code": b, "pinned": g, "grid_code": grid_of[b]} for b, g in sorted(pins.items()) if b in grid_of and grid_of[b] != g]
    changes["households_moved_lower_bound"] = lower_bound
    changes["parent"] = parent
    result.report["changes"] = {key: (len(value) if isinstance(value, list) else value) for key, value in changes.items() if key != "parent"}
    result.changes = changes
    result.grid_colours = kept_grid_colours(prev, final)  # the map keeps each surviving grid's colour
    if not result.report["summary"]["coverage_valid"]:
        require_valid_coverage(result.grids)  # each repaired community was checked (gridgeo.living.seamguard)
    if keeper is not None:
        result = keep_register_units(result, run, keeper, prep, b_code, metric, unit_band)
    result = add_services(result, services)  # staffing, workload, coverage of the final grids, as the parent ran them
    logger.info(
        "update: %d grids added, %d retired, %d reshaped, %d modified; %.2f %% of households changed grid",
        len(changes["grids_added"]), len(changes["grids_retired"]), len(changes["grids_reshaped"]), len(changes["grids_modified"]),
        100 * changes["share_households_moved"],
    )
    if audit:
        from ..audit import audit_partition

        problems = audit_partition(result, buildings, band=band, unit_band=unit_band, quality=False)
        if problems:
            raise AuditError("the updated plan does not match the input: " + "; ".join(problems))
    return result


class _SaidBefore(logging.Filter):
    """Drops the warnings about repairs of the plan's own communities layer (``make_valid``, slivers): the
    partition that wrote the plan said them, and every later update would say them again (they stay in the notes)."""

    def __init__(self, label: str):
        super().__init__()
        self.prefix = f"{label}: "

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith(self.prefix) and ("with make_valid" in message or "sliver part" in message))


@contextlib.contextmanager
def _said_before(labels: dict | None):
    """:class:`_SaidBefore` on the input checks' logger for the duration of the block."""
    target = logging.getLogger("gridgeo.inputs.validate")
    quiet = _SaidBefore((labels or {}).get("communities", "communities"))
    target.addFilter(quiet)
    try:
        yield
    finally:
        target.removeFilter(quiet)


# -- matching and placement ------------------------------------------------------------------------------
def _match(prep, pb: gpd.GeoDataFrame, pb_geom: np.ndarray, building_id: str | None) -> tuple[np.ndarray, bool]:
    """Index of the previous building matched to each new building, -1 when none; and whether by ``building_id``."""
    n = len(prep.buildings)
    match = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(pb) == 0:
        return match, False
    if building_id and building_id in prep.buildings.columns:
        column = building_id if building_id in pb.columns and f"input_{building_id}" not in pb.columns else f"input_{building_id}"
        if column in pb.columns:
            lookup = {str(v): j for j, v in enumerate(pb[column].astype(str).to_numpy())}
            match[:] = [lookup.get(str(v), -1) for v in prep.buildings[building_id].astype(str).to_numpy()]
            return match, True
    # by footprint overlap (IoU), or by position for points; mutual best pairs only
    tree = shapely.STRtree(pb_geom)
    new_idx, old_idx = tree.query(prep.building_geoms, predicate="intersects")
    if len(new_idx) == 0:
        return match, False
    a, b = prep.building_geoms[new_idx], pb_geom[old_idx]
    polygonal = np.isin(shapely.get_type_id(a), (3, 6)) & np.isin(shapely.get_type_id(b), (3, 6))
    inter = np.where(polygonal, shapely.area(shapely.intersection(a, b)), 0.0)
    union = np.where(polygonal, shapely.area(a) + shapely.area(b) - inter, 1.0)
    score = np.where(polygonal, inter / np.maximum(union, 1e-12), (shapely.distance(a, b) <= _GEOMETRY_TOLERANCE_M).astype(float))
    keep = score > _MATCH_IOU
    new_idx, old_idx, score = new_idx[keep], old_idx[keep], score[keep]
    taken_new = np.zeros(n, dtype=bool)
    taken_old = np.zeros(len(pb), dtype=bool)
    for k in np.lexsort((old_idx, new_idx, -score)):
        i, j = new_idx[k], old_idx[k]
        if not taken_new[i] and not taken_old[j]:
            match[i] = j
            taken_new[i] = taken_old[j] = True
    return match, False


def _place(geoms, comm, current, pg, pg_codes, pg_comm, pg_metric, metric, folder) -> np.ndarray:
    """The previous grid (same community) holding each building's representative point; its current grid when it still does."""
    points = shapely.point_on_surface(geoms)
    points_in = gpd.GeoSeries(points, crs=metric).to_crs(pg.crs).to_numpy()
    index = load_grid_index(folder, pg)
    out = np.empty(len(geoms), dtype=object)
    code_row = {c: r for r, c in enumerate(pg_codes)}
    for k, (point, p_in) in enumerate(zip(points, points_in)):
        if current[k] and current[k] in code_row and shapely.covers(pg_metric[code_row[current[k]]], point):
            out[k] = current[k]
            continue
        x, y = shapely.get_coordinates(p_in)[0]
        candidates = sorted(r for r in index.intersection((x, y, x, y)) if pg_comm[r] == comm[k])
        hit = [r for r in candidates if shapely.covers(pg.geometry.iloc[r], p_in)]
        if hit:
            out[k] = pg_codes[hit[0]]
            continue
        own = np.flatnonzero(pg_comm == comm[k])
        distance = shapely.distance(pg_metric[own], point)
        out[k] = pg_codes[own[int(np.argmin(distance))]]
    return out


def _follow_same_outline(home: np.ndarray, placed: np.ndarray, kept: np.ndarray, outline: np.ndarray, households: np.ndarray) -> None:
    """Place each of ``placed`` drawn with exactly the outline of buildings of ``kept`` in their grid (in place).

    Buildings with one outline (``outline``: :func:`gridgeo.arrays.outline_groups`; the parts of a tower mapped
    as stacked outlines) share one cell and so one grid; a part added later may have its representative point in a
    neighbour's cell (a podium drawn around the tower), and goes where the parts already there are: the grid holding
    most of their households (the first code on a tie).

    Examples
    --------
    >>> home = np.array(["001-01", "001-02", "001-02"], dtype=object)
    >>> _follow_same_outline(home, np.array([1, 2]), np.array([0]), np.array([0, 0, 1]), np.array([5, 7, 9]))
    >>> home.tolist()
    ['001-01', '001-01', '001-02']
    """
    wanted = set(outline[placed].tolist())
    grids_of: dict[int, dict[str, int]] = {}
    for i in kept.tolist():
        if outline[i] in wanted:
            held = grids_of.setdefault(int(outline[i]), {})
            held[str(home[i])] = held.get(str(home[i]), 0) + int(households[i])
    for i in placed.tolist():
        held = grids_of.get(int(outline[i]))
        if held:
            home[i] = min(held, key=lambda code: (-held[code], code))


def _number_new_buildings(b_code, is_new, b_comm, prep, pb_codes, retired) -> None:
    """Codes for new buildings, per community after the highest number ever used, in reading order."""
    from ..build import _canonical_order

    used: dict[str, int] = {}
    width = 5
    for code in list(pb_codes) + sorted(retired):
        hit = _BUILDING_CODE.match(str(code))
        if hit:
            used[hit.group(1)] = max(used.get(hit.group(1), 0), int(hit.group(2)))
            width = max(width, len(hit.group(2)))
    anchors = shapely.get_coordinates(shapely.point_on_surface(prep.building_geoms)).reshape(-1, 2)
    for ccode in sorted(set(b_comm[is_new].tolist())):
        new = np.flatnonzero(is_new & (b_comm == ccode))
        ci = prep.building_community[new[0]]
        new = new[_canonical_order(prep.building_geoms[new], anchors[new], prep.community_geoms[ci])]
        start = used.get(ccode, 0)
        w = max(width, len(str(start + len(new))))
        for rank, i in enumerate(new):
            b_code[i] = building_code(ccode, start + rank + 1, w)


def _repair_community_task(task: tuple) -> tuple[dict[str, _Grid], set[str], dict[str, _Grid] | None, int | None]:
    """Repair one community: its grids, the codes it retired, (for the kept-cell bound, None otherwise) its grids
    before the repair (the codes changed before it are the update's ``dirty_grids``: the repair adds to a copy), and
    the bound the kept-cell candidate proved (``_Context.kept_known``)."""
    grids, dirty, context, community_geom, metric, crs, order, kept_cell_bound = task
    # (the grids before the repair are kept only for the kept-cell bound)
    before = {code: _copy(grid) for code, grid in grids.items()} if kept_cell_bound else None
    repair_fitted(grids, dirty, context, community_geom, metric=metric, crs=crs, order=order)
    name_carved(grids, context)  # pieces cut off a grown building's grid: numbered after the community's highest
    # (after a cut for a grown building, gridgeo.living.carve, the kept-cell program would join its pieces again)
    return grids, set(context.retired), before if not context.carved else None, context.kept_known


def _next_grid_number(ccode: str, codes: list[str]) -> tuple[int, int]:
    """The next free basic grid number of a community and the code width."""
    top, width = 0, 2
    for code in codes:
        hit = _BASIC_CODE.match(code)
        if hit and hit.group(1) == ccode:
            top = max(top, int(hit.group(2)))
            width = max(width, len(hit.group(2)))
    return top + 1, width


def _local_barriers(tree, barriers, community_geoms):
    if tree is None or not len(community_geoms):
        return None
    hits = np.sort(tree.query(community_geoms[0], predicate="intersects"))
    return barriers[hits] if len(hits) else None


def _previous_note(row) -> GridNote:
    """A note standing for the previous status and reason of a grid (kept for grids that do not change)."""
    status = str(row.get("status", "") or "")
    return GridNote(status, "", ()) if status != IN_BAND else GridNote(IN_BAND)


def _add_compounds(ctx: _Context, areas: AreaGroups, compound_of: np.ndarray, sizes: np.ndarray, community_index: int) -> None:
    """Give a community's context its compounds: one cell for each that fits, the outline of each larger one as a barrier."""
    ctx.compound_of = compound_of
    ctx.compound_geoms = areas.geoms
    ctx.compound_size = sizes
    rows = areas.compounds
    big = rows[(rows["community_index"] == community_index) & ~rows["kept_whole"].astype(bool)]
    if len(big):
        outlines = shapely.get_parts(shapely.boundary(np.array(list(big["outline"]), dtype=object)))
        ctx.barriers = outlines if ctx.barriers is None else np.concatenate([ctx.barriers, outlines])


def _uncut_columns(buildings: gpd.GeoDataFrame, params: dict, *, register: bool, label: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The new layer with the plan's column names where a Shapefile cut them to 10 characters, and a note for each.

    A plan that read ``building_id`` finds ``building_i`` in a Shapefile: the cut is the Shapefile's own rule, so the
    column is read under its full name (the layer given is not changed: a renamed copy is returned).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> layer = gpd.GeoDataFrame({"building_i": ["a"], "hh": [3]}, geometry=[shapely.box(0, 0, 1, 1)], crs=32651)
    >>> renamed, notes = _uncut_columns(layer, {"building_id": "building_id", "households": "hh"}, register=False, label="b.shp")
    >>> list(renamed.columns), notes
    (['building_id', 'hh', 'geometry'], ["b.shp: the plan's building_id read from 'building_i' (a Shapefile cuts field names to 10 characters)"])
    """
    renames, notes = {}, []
    for column in (params.get("households") if not register else None, params.get("building_id")):
        if not column or column in buildings.columns or len(column) <= SHAPEFILE_FIELD_LENGTH:
            continue
        cut = column[:SHAPEFILE_FIELD_LENGTH]
        if cut in buildings.columns and cut not in renames:
            renames[cut] = column
            notes.append(f"{label}: the plan's {column} read from '{cut}' (a Shapefile cuts field names to {SHAPEFILE_FIELD_LENGTH} characters)")
            logger.warning(notes[-1])
    return (buildings.rename(columns=renames) if renames else buildings), notes


def _require_columns(buildings: gpd.GeoDataFrame, params: dict, *, register: bool, label: str) -> None:
    """The new layer carries the columns the previous run read: its households (unless a register gives them) and ids.

    The command has no --households or --building-id: the fix is the new layer's column, not an option.
    """
    problems = ProblemCollector()
    wanted = [("households", params.get("households") if not register else None), ("building ids", params.get("building_id"))]
    columns = ", ".join(str(c) for c in buildings.columns if c != buildings.geometry.name)
    for what, column in wanted:
        if column and column not in buildings.columns:
            # (a Shapefile's name cut to 10 characters is read as the column already, _uncut_columns)
            name = f"'{column}'"
            if len(column) > SHAPEFILE_FIELD_LENGTH and ".shp" in label.lower():
                name = f"'{column[:SHAPEFILE_FIELD_LENGTH]}' (a Shapefile cuts '{column}' to {SHAPEFILE_FIELD_LENGTH} characters)"
            fix = f"give the new layer that column (rename yours to {name}); its columns: {columns}"
            meant = meant_column(column, [c for c in buildings.columns if c != buildings.geometry.name])
            if meant is not None:
                fix = f"give the new layer that column (rename yours to {name}: '{meant[0]}' is {meant[1]}); its columns: {columns}"
            problems.add(label, f"has no column '{column}', from which the previous plan read its {what}", fix)
    problems.raise_if_any()
