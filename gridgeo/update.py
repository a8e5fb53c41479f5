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
3. **Repair.**  A grid whose buildings changed keeps its polygon and code when its
   households stay in the band (or its excuse, an oversize building, still holds);
   only its joint units are re-cut.  A grid that falls out of the band is repaired
   with as few neighbours as needed: first with the grids that the cheapest flow
   of households links it to (:mod:`gridgeo.movebound`, computed on the grids as
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
   ``max_region`` grids; beyond that the whole community is partitioned afresh.
   Grids of a region whose buildings the repair did not touch keep their polygon.
4. **Codes.**  The new grid with the largest household overlap with a previous grid
   inherits its code (each code at most once); other new grids take numbers after
   the community's highest number ever used; retired codes are recorded in the
   report (``retired_grid_codes``, ``retired_building_codes``) and never reused.
5. **Seams.**  The re-drawn grids are reprojected to the output CRS and fitted
   to the kept grids around them (:mod:`gridgeo.seams`): their edges take the
   kept vertices exactly, so every community's grids stay a valid polygonal
   coverage; the audit checks it and a result that is not is an error.
6. **Changes and history.**  :attr:`Partition.changes` lists grids added, retired,
   reshaped (same code, new polygon) and modified (same polygon, other buildings or
   households), buildings added, removed and moved between grids, and the share of
   households whose grid changed (of the households in buildings present in both
   versions), and ``households_moved_lower_bound``, the fewest of them any repair
   must move (:mod:`gridgeo.movebound`).  ``report["parent"]`` names the previous run (path, sha256 of its
   ``report.json``, parameters) and ``report["history"]`` the chain of ancestors.

Dedicated grids (专属网格) are never merged with other grids: buildings placed in
them join them, and they keep their polygon.

**Compounds** (小区) of the previous run (its ``compounds`` layer) are re-applied
as a fresh run applies them: their buildings are found again among the new
buildings (representative point in the outline, :func:`gridgeo.areas.assign_areas`);
a compound whose households fit within the band's maximum is one cell seeded by
its outline wherever a region is tessellated again (so a repair never splits it
and the boundary follows its wall), and a larger one's outline is a barrier line.
A new building of a compound joins the grid holding the compound's other
buildings; a compound that fits but lies in several grids (it was too big
before, or a building left it) makes those grids a repair region.  The
``compounds`` layer and report section are written again for the new plan.

**Staffing, workload and coverage** (:mod:`gridgeo.workload`,
:mod:`gridgeo.coverage`) are computed afresh for every grid of the new plan with
the previous run's settings (:func:`gridgeo.lineage.service_settings`): the
workload index compares a grid with its community's mean, so it moves with any
change in the community.

Grids a planner edited with :func:`gridgeo.edits.apply_edits`: grids in
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
unit band allows (:mod:`gridgeo.unitkeep`); ``changes`` lists the households
that changed unit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import connected_components

from .adjacency import CellGraph, build_cell_graph
from .api import _report, _with_added_columns
from .areas import AreaGroups, assign_areas
from .arrays import geometry_order
from .codes import building_code, width_for
from .crs import reproject_polygons
from .engine import CommunityTask, _assign_parts, _dissolve, _joint_units, community_rng, partition_community
from .errors import AuditError
from .gridindex import GRID_INDEX, load_grid_index, write_grid_index
from .labels import reason_text
from .lineage import add_services, parent_record, read_previous, service_settings
from .metrics import community_metrics, polsby_popper
from .movebound import cheapest_moves
from .partition.count import feasible_counts
from .partition.plan import (
    DEDICATED,
    IN_BAND,
    INFEASIBLE,
    OUT_OF_BAND,
    OVERSIZE,
    GridNote,
    _repair_band,
    make_note,
    partition_part,
)
from .partition.refine import _Search
from .result import Partition, single_part_units
from .seams import SEAM_TOLERANCE_M, fit_exactly, seam_tolerance
from .tessellate import split_parts, tessellate_part
from .unitkeep import REGISTER_COUNT, keep_register_units, register_for_update, require_register
from .validate import prepare_inputs

__all__ = ["update", "GRID_INDEX", "write_grid_index", "load_grid_index"]

logger = logging.getLogger(__name__)

_GEOMETRY_TOLERANCE_M = 1e-3
_MATCH_IOU = 0.5
_BASIC_CODE = re.compile(r"^(.+)-(\d+)$")
_BUILDING_CODE = re.compile(r"^(.+)-B(\d+)$")


# -- state of one community during the update ----------------------------------------------------------
@dataclass
class _Grid:
    code: str
    geom: object  # metric polygon
    members: set[int]  # indices of new buildings
    note: GridNote
    dedicated: bool = False
    polygon_kept: bool = True  # geometry is the previous run's polygon of this code
    original: object = None  # the previous run's polygon (input CRS) when kept
    previous_row: dict | None = None
    locked: bool = False  # kept as a planner edited it (gridgeo.edits): never re-drawn by the repair


@dataclass
class _Context:
    band: tuple[int, int]
    households: np.ndarray
    geoms: np.ndarray  # metric building geometries (new buildings)
    barriers: np.ndarray | None
    seed: int
    community_id: str
    community_code: str
    max_region: int
    retired: set[str] = field(default_factory=set)
    next_number: int = 1
    width: int = 2
    pins: dict[int, str] = field(default_factory=dict)  # pinned building → the grid code it stays in
    compound_of: np.ndarray | None = None  # per building: its compound (one cell when redrawn), -1: none
    compound_geoms: np.ndarray | None = None  # per compound: outline (metric, inside its community)
    compound_size: np.ndarray | None = None  # per compound: its buildings that must stay together
    unit_band: tuple[int, int] | None = None  # joint-unit band: oversize grids that fit no unit cut take in households
    is_new: np.ndarray | None = None  # per building: added since the previous run (moving it moves no existing household)


class _Repair(_Search):
    """The local search of :mod:`gridgeo.partition.refine`, limited to moves that reduce the band miss."""

    def _best_move(self, node):
        best = super()._best_move(node)
        if best is None or best[0][0] >= 0:
            return None
        return best


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
        The household register as it is now (:func:`gridgeo.register.read_register`):
        required for a plan partitioned with a register, refused for one without.
        Households per building come from it, and every household still in
        its grid keeps its joint unit where the unit band allows (:mod:`gridgeo.unitkeep`).
    register_building, register_household, register_order, register_unmatched : optional
        The register's columns and the treatment of rows of unknown buildings, as
        in :func:`gridgeo.partition` (default: what the previous plan recorded).

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
        problems, or the previous run measured along roads (or to service
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
    keeper = None  # a register plan: the new register's counts, and its units re-cut keeping households (gridgeo.unitkeep)
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

    match = _match(prep, pb, pb_geom, building_id)
    same_comm = match >= 0
    same_comm[same_comm] = pb_comm[match[same_comm]] == b_comm[same_comm]
    match = np.where(same_comm, match, -1)
    matched_prev = np.zeros(len(pb), dtype=bool)
    matched_prev[match[match >= 0]] = True
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
    if len(place):
        home[place] = _place(prep.building_geoms[place], b_comm[place], home[place], pg, pg_codes, pg_comm, pg_metric, metric, prev_path)

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

    # grids a planner edited (gridgeo.edits): locked or left in pieces by an edit stay as they are;
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
    lower_bound = _move_lower_bound(pg_codes, pg_comm, pg_metric, home, prep.households, is_new, band, dedicated_codes | protected, flagged)

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
    final: dict[str, _Grid] = {}
    order = sorted(set(pg_comm.tolist()))
    for ccode in order:
        rows = np.flatnonzero(pg_comm == ccode)
        ci = int(np.flatnonzero(prev.communities["community_code"].astype(str).to_numpy() == ccode)[0])
        cid = str(prev.communities["community_id"].iloc[ci])
        pi = int(np.flatnonzero(prep.community_ids.astype(str) == cid)[0])
        grids: dict[str, _Grid] = {}
        for r in rows:
            code = pg_codes[r]
            row = pg.iloc[r]
            members = {int(i) for i in np.flatnonzero(home == code)}
            dedicated = str(row.get("status", "")) == DEDICATED
            note = _previous_note(row)
            grids[code] = _Grid(code, pg_metric[r], members, note, dedicated, True, pg.geometry.iloc[r], row.to_dict())
            grids[code].locked = code in protected
        local_barriers = _local_barriers(barrier_tree, prep.barriers, prep.community_geoms[[pi]])
        context = _Context(band, prep.households, prep.building_geoms, local_barriers, seed, cid, ccode, max_region, retired_grids, unit_band=unit_band)
        context.next_number, context.width = _next_grid_number(ccode, list(grids) + sorted(retired_grids))
        context.pins = {i: code for i, code in pinned.items() if code in grids}
        context.is_new = is_new
        if compound_of is not None:
            _add_compounds(context, areas, compound_of, sizes, pi)
        community_geom = prep.community_geoms[pi]
        if any(code in dirty_grids for code in grids):
            _repair_community(grids, dirty_grids, context, community_geom)
        final.update(grids)
        retired_grids = context.retired

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
        result.report["pinned_buildings"] = {b: g for b, g in sorted(pins.items()) if b in grid_of}
        changes["pins_broken"] = [{"building_code": b, "pinned": g, "grid_code": grid_of[b]} for b, g in sorted(pins.items()) if b in grid_of and grid_of[b] != g]
    changes["households_moved_lower_bound"] = lower_bound
    changes["parent"] = parent
    result.report["changes"] = {key: (len(value) if isinstance(value, list) else value) for key, value in changes.items() if key != "parent"}
    result.changes = changes
    if keeper is not None:
        result = keep_register_units(result, run, keeper, prep, b_code, metric, unit_band)
    result = add_services(result, services)  # staffing, workload, coverage of the final grids, as the parent ran them
    logger.info(
        "update: %d grids added, %d retired, %d reshaped, %d modified; %.2f %% of households changed grid",
        len(changes["grids_added"]), len(changes["grids_retired"]), len(changes["grids_reshaped"]), len(changes["grids_modified"]),
        100 * changes["share_households_moved"],
    )
    if audit:
        from .audit import audit_partition

        problems = audit_partition(result, buildings, band=band, unit_band=unit_band, quality=False)
        if problems:
            raise AuditError("the updated plan does not match the input: " + "; ".join(problems))
    return result


# -- matching and placement ------------------------------------------------------------------------------
def _match(prep, pb: gpd.GeoDataFrame, pb_geom: np.ndarray, building_id: str | None) -> np.ndarray:
    """Index of the previous building matched to each new building, -1 when none."""
    n = len(prep.buildings)
    match = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(pb) == 0:
        return match
    if building_id and building_id in prep.buildings.columns:
        column = building_id if building_id in pb.columns and f"input_{building_id}" not in pb.columns else f"input_{building_id}"
        if column in pb.columns:
            lookup = {str(v): j for j, v in enumerate(pb[column].astype(str).to_numpy())}
            match[:] = [lookup.get(str(v), -1) for v in prep.buildings[building_id].astype(str).to_numpy()]
            return match
    # by footprint overlap (IoU), or by position for points; mutual best pairs only
    tree = shapely.STRtree(pb_geom)
    new_idx, old_idx = tree.query(prep.building_geoms, predicate="intersects")
    if len(new_idx) == 0:
        return match
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
    return match


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


def _number_new_buildings(b_code, is_new, b_comm, prep, pb_codes, retired) -> None:
    """Codes for new buildings, per community after the highest number ever used, in reading order."""
    from .api import _canonical_order

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


def _move_lower_bound(codes, communities, geoms, home, households, is_new, band, fixed_codes, flagged_codes) -> int:
    """The fewest households of kept buildings that any repair must move (:mod:`gridgeo.movebound`), summed over communities.

    Every building is counted in the previous grid it was placed in (``home``);
    dedicated, locked and edited grids (``fixed_codes``) take no part, and grids
    the previous plan already flagged (``flagged_codes``: out of band with an
    excuse or a proof) have no band, since a repair may leave them as they are.
    """
    fixed = np.isin(codes.astype(str), sorted(fixed_codes))
    flagged = np.isin(codes.astype(str), sorted(flagged_codes))
    total = 0
    for ccode in sorted(set(communities.tolist())):
        rows = np.flatnonzero(communities == ccode)
        members = [np.flatnonzero(home == code) for code in codes[rows]]
        total += _cheapest_flow(members, geoms[rows], households, is_new, band, fixed[rows], free=flagged[rows]).bound
    return int(total)


def _cheapest_flow(members: list[np.ndarray], geoms: np.ndarray, households: np.ndarray, is_new: np.ndarray | None, band, fixed: np.ndarray, *, free: np.ndarray | None = None, bound: bool = True, closed: set[tuple[int, int]] = frozenset()):
    """:func:`gridgeo.movebound.cheapest_moves` of one community's grids (their buildings ``members`` and polygons).

    A grid holding a building above the band's maximum has no band and keeps
    that building, and so have the ``free`` grids.  ``bound=False`` plans the repair: grids are created out of
    one grid only, and no household crosses the ``closed`` borders (pairs of positions).
    """
    is_new = np.zeros(len(households), dtype=bool) if is_new is None else is_new
    old = np.array([int(households[m][~is_new[m]].sum()) for m in members], dtype=np.int64)
    new = np.array([int(households[m][is_new[m]].sum()) for m in members], dtype=np.int64)
    largest = np.array([int(households[m].max()) if len(m) else 0 for m in members], dtype=np.int64)
    largest_old = np.array([int(households[m][~is_new[m]].max()) if (~is_new[m]).any() else 0 for m in members], dtype=np.int64)
    smallest = np.array([int(households[m][households[m] > 0].min()) if (households[m] > 0).any() else 1 for m in members], dtype=np.int64)
    borders = [(a, b) for a, b, _ in _borders(geoms) if (a, b) not in closed and (b, a) not in closed]
    oversize = largest > band[1]
    return cheapest_moves(
        old, new, borders, band=band, free=oversize if free is None else oversize | free, fixed=fixed, held=np.where(largest_old > band[1], largest_old, 0),
        smallest=smallest, fresh_from_neighbours=bound,
    )


def _borders(geoms: np.ndarray) -> list[tuple[int, int, float]]:
    """Pairs of polygons (by position, first < second) sharing a border longer than 5 cm, with its length."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) < 2:
        return []
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return []
    lengths = shapely.length(shapely.intersection(shapely.boundary(geoms[left]), shapely.buffer(geoms[right], 0.01)))
    return [(int(a), int(b), float(length)) for a, b, length in zip(left, right, lengths) if length > 0.05]


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


# -- compounds ------------------------------------------------------------------------------------------
def _previous_compounds(prev: Partition, prep, band: tuple[int, int], in_dedicated: np.ndarray) -> AreaGroups | None:
    """The previous run's compounds (its ``compounds`` layer) grouping the new buildings as a fresh run groups them."""
    layer = getattr(prev, "compounds", None)
    if layer is None or not len(layer):
        if prev.report.get("parameters", {}).get("compounds"):
            prep.notes.append("the previous run had compounds but its output holds no compounds layer: they are not re-applied")
        return None
    names = layer["compound"].astype(str).to_numpy() if "compound" in layer else np.array([f"row {i}" for i in range(len(layer))], dtype=object)
    frame = gpd.GeoDataFrame({"name": names}, geometry=layer.geometry.to_numpy(), crs=layer.crs)
    return assign_areas(prep, compounds=frame, high=band[1], exclude=in_dedicated)


def _join_compound_mates(home: np.ndarray, compound_of: np.ndarray, placed: np.ndarray, pinned: set[int]) -> None:
    """A new or moved building of a compound that fits joins the one grid holding the compound's other buildings (in place)."""
    if not len(placed):
        return
    fixed = np.ones(len(home), dtype=bool)
    fixed[placed] = False
    owners: dict[int, set[str]] = {}
    for j in np.flatnonzero((compound_of >= 0) & fixed):
        owners.setdefault(int(compound_of[j]), set()).add(str(home[j]))
    for i in placed:
        group = int(compound_of[i])
        if group >= 0 and int(i) not in pinned and len(owners.get(group, ())) == 1:
            home[i] = next(iter(owners[group]))


def _split_compound_grids(home: np.ndarray, compound_of: np.ndarray) -> set[str]:
    """Grids holding part of a compound that fits in one grid but lies in several (they are repaired)."""
    grids_of: dict[int, set[str]] = {}
    for j in np.flatnonzero(compound_of >= 0):
        grids_of.setdefault(int(compound_of[j]), set()).add(str(home[j]))
    return set().union(*(grids for grids in grids_of.values() if len(grids) > 1)) if grids_of else set()


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


def _compound_groups(members: np.ndarray, shape, compound_of: np.ndarray | None, geoms: np.ndarray | None, sizes: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per member, its local compound (-1: none) and per local compound its outline inside ``shape``.

    ``compound_of`` gives every building's compound (-1: none), ``geoms`` every
    compound's outline and ``sizes`` its number of buildings.  Only compounds
    whose every building is among ``members`` become one cell.
    """
    if compound_of is None or not len(members):
        return None, None
    of = compound_of[members]
    present, counts = np.unique(of[of >= 0], return_counts=True)
    whole = present[counts == sizes[present]]
    if not len(whole):
        return None, None
    outlines = np.array([_polygonal(g) for g in shapely.intersection(geoms[whole], shape)], dtype=object)
    usable = np.array([g is not None for g in outlines], dtype=bool)
    whole, outlines = whole[usable], outlines[usable]
    if not len(whole):
        return None, None
    local = np.full(len(geoms), -1, dtype=np.int64)
    local[whole] = np.arange(len(whole))
    groups = np.where(of >= 0, local[np.maximum(of, 0)], -1)
    return groups, outlines


def _polygonal(geom):
    """The polygonal part of ``geom`` (None when it has no area)."""
    if geom is None or shapely.is_empty(geom):
        return None
    if shapely.get_type_id(geom) not in (3, 6):
        parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
        geom = shapely.union_all(parts) if parts else None
    return geom if geom is not None and shapely.area(geom) > 0 else None


def _compound_outcomes(areas: AreaGroups, b_grid: np.ndarray, prep, band, edited: np.ndarray, previous: gpd.GeoDataFrame, metric, crs):
    """The ``compounds`` report section and layer of a new plan (grids of every compound, split or not and why).

    The outlines are the ``previous`` layer's, unchanged (not clipped again), so
    a plan updated without change keeps its compounds layer byte for byte.
    """
    from .api import _compound_layer, _compound_report

    rows = _compound_report(areas, b_grid, prep, band, edited=edited)
    layer = _compound_layer(rows, areas, metric, crs)
    if len(previous) == len(layer):
        layer = layer.set_geometry(gpd.GeoSeries(previous.geometry.to_numpy(), index=layer.index, crs=previous.crs).to_crs(crs))
    return rows, layer


# -- the repair ----------------------------------------------------------------------------------------
def _weight(grid: _Grid, ctx: _Context) -> int:
    return int(ctx.households[sorted(grid.members)].sum()) if grid.members else 0


def _oversize(grid: _Grid, ctx: _Context) -> bool:
    return bool(grid.members) and int(ctx.households[sorted(grid.members)].max()) > ctx.band[1]


def _is_bad(grid: _Grid, ctx: _Context) -> bool:
    if grid.dedicated or grid.locked:
        return False
    w = _weight(grid, ctx)
    return not (ctx.band[0] <= w <= ctx.band[1]) and not _oversize(grid, ctx)


def _shared_lengths(grids: dict[str, _Grid], codes: list[str]) -> dict[tuple[str, str], float]:
    """Border length shared by every pair of adjacent grids among ``codes``."""
    out = {}
    for a, b, length in _borders(np.array([grids[c].geom for c in codes], dtype=object)):
        out[(codes[a], codes[b])] = out[(codes[b], codes[a])] = length
    return out


def _repair_community(grids: dict[str, _Grid], dirty: set[str], ctx: _Context, community_geom) -> None:
    """Bring every grid of one community back into the band, touching as few grids as possible.

    A grid is repaired when it changed and left the band, or when it holds part
    of a compound that fits in one grid but lies in several; the region always
    holds every grid of the compounds it touches.
    """
    for code, grid in grids.items():
        if code in dirty:
            grid.note = _note_for(grid, ctx)
    attempts = 0
    while True:
        bad = {code for code, grid in grids.items() if code in dirty and _is_bad(grid, ctx)} | _split_compounds(grids, ctx)
        if not bad:
            return
        attempts += 1
        code = min(bad)
        # first the grids the cheapest flow of households links to this one, then the grids sharing its longest borders
        solved = _repair_along_flow(grids, code, ctx, dirty)
        if not solved:
            region = _with_compound_mates(grids, [code], ctx)
            solved = len(region) > 1 and _repair_region(grids, region, ctx, dirty)
        while not solved:
            candidates = [c for c, g in grids.items() if not g.dedicated and not g.locked]
            shared = _shared_lengths(grids, candidates) if len(candidates) > 1 else {}
            border: dict[str, float] = {}
            for (a, b), length in shared.items():
                if a in region and b not in region:
                    border[b] = border.get(b, 0.0) + length
            if not border or len(region) >= ctx.max_region:
                break
            region = _with_compound_mates(grids, region + [max(sorted(border), key=lambda c: border[c])], ctx)
            solved = _repair_region(grids, region, ctx, dirty)
        if not solved:
            logger.info("community %s: repairing grid %s needs the whole community", ctx.community_id, code)
            _repartition_whole(grids, ctx, community_geom, dirty)
            return
        if attempts > 4 * len(grids) + 10:
            _repartition_whole(grids, ctx, community_geom, dirty)
            return


#: regions tried along the cheapest flow before the repair falls back to growing by the longest border
_FLOW_TRIES = 3


def _repair_along_flow(grids: dict[str, _Grid], code: str, ctx: _Context, dirty: set[str]) -> bool:
    """Repair ``code`` with the grids the cheapest flow of households (:mod:`gridgeo.movebound`) links to it.

    The flow is computed on the grids as they are now; when its region cannot be
    repaired (the households it would move are not at the border: a building
    walled in behind another), the borders it crossed are closed and the flow is
    computed again, up to :data:`_FLOW_TRIES` times.
    """
    closed: set[tuple[str, str]] = set()
    for _ in range(_FLOW_TRIES):
        region = _with_compound_mates(grids, _flow_region(grids, code, ctx, closed), ctx)
        if len(region) < 2:
            return False
        while not _repair_region(grids, region, ctx, dirty):
            # too tight to cut (whole buildings): take in the neighbour with the most room, then try again
            extra = _roomiest_neighbour(grids, region, ctx)
            if extra is None or len(region) >= ctx.max_region:
                break
            region = _with_compound_mates(grids, region + [extra], ctx)
        else:
            return True
        closed |= {(a, b) for a in region for b in region if a != b}
    return False


def _roomiest_neighbour(grids: dict[str, _Grid], region: list[str], ctx: _Context) -> str | None:
    """The grid bordering ``region`` with the most room for what the region has too much of (or too little)."""
    low, high = ctx.band
    plain = [c for c in region if not _oversize(grids[c], ctx)]
    total = sum(_weight(grids[c], ctx) for c in plain)
    crowded = bool(plain) and total > len(plain) * (low + high) / 2
    candidates = [c for c, g in grids.items() if not g.dedicated and not g.locked]
    room = {}
    for (a, b), _ in _shared_lengths(grids, candidates).items():
        if a in region and b not in region and not _oversize(grids[b], ctx):
            w = _weight(grids[b], ctx)
            room[b] = high - w if crowded else w - low
    return max(sorted(room), key=lambda c: room[c]) if room else None


def _flow_region(grids: dict[str, _Grid], code: str, ctx: _Context, closed: set[tuple[str, str]]) -> list[str]:
    """``code`` and the grids the cheapest flow of households links to it, nearest first (at most ``ctx.max_region``).

    Only grids that are still there and may change (not dedicated, not locked)
    take part; households do not cross the ``closed`` borders.
    """
    codes = sorted(grids)
    fixed = np.array([grids[c].dedicated or grids[c].locked for c in codes], dtype=bool)
    members = [np.array(sorted(grids[c].members), dtype=np.int64) for c in codes]
    index = {c: i for i, c in enumerate(codes)}
    geoms = np.array([grids[c].geom for c in codes], dtype=object)
    flow = _cheapest_flow(members, geoms, ctx.households, ctx.is_new, ctx.band, fixed, bound=False, closed={(index[a], index[b]) for a, b in closed})
    # follow the flow away from the grid: where its households go when it has too many, where they come from
    # when it has too few (another grid out of band elsewhere in the flow is repaired on its own)
    sending = _weight(grids[code], ctx) > ctx.band[1]
    links: dict[str, set[str]] = {}
    for a, b in flow.pairs:
        start, end = (codes[a], codes[b]) if sending else (codes[b], codes[a])
        links.setdefault(start, set()).add(end)
    region, frontier = [code], [code]
    while frontier and len(region) < ctx.max_region:
        frontier = [n for c in frontier for n in sorted(links.get(c, ())) if n not in region]
        for n in dict.fromkeys(frontier):
            if len(region) < ctx.max_region:
                region.append(n)
    return region


def _compounds_in(grid: _Grid, ctx: _Context) -> set[int]:
    if ctx.compound_of is None or not grid.members:
        return set()
    return set(ctx.compound_of[sorted(grid.members)].tolist()) - {-1}


def _split_compounds(grids: dict[str, _Grid], ctx: _Context) -> set[str]:
    """Grids (not locked, not dedicated) holding part of a compound that fits in one grid but lies in several."""
    if ctx.compound_of is None:
        return set()
    holders: dict[int, set[str]] = {}
    for code, grid in grids.items():
        if not grid.dedicated and not grid.locked:
            for compound in _compounds_in(grid, ctx):
                holders.setdefault(compound, set()).add(code)
    return set().union(*(codes for codes in holders.values() if len(codes) > 1)) if holders else set()


def _with_compound_mates(grids: dict[str, _Grid], region: list[str], ctx: _Context) -> list[str]:
    """``region`` and every other grid holding a building of a compound (that fits) it touches."""
    region = list(region)
    if ctx.compound_of is None:
        return region
    while True:
        touched = set().union(*(_compounds_in(grids[c], ctx) for c in region))
        extra = sorted(c for c, g in grids.items() if c not in region and not g.dedicated and not g.locked and _compounds_in(g, ctx) & touched)
        if not extra:
            return region
        region += extra


def _note_for(grid: _Grid, ctx: _Context) -> GridNote:
    if grid.dedicated:
        return grid.note
    w = _weight(grid, ctx)
    if ctx.band[0] <= w <= ctx.band[1]:
        return GridNote(IN_BAND)
    if _oversize(grid, ctx):
        return make_note(OVERSIZE, "oversize_building", households=int(ctx.households[sorted(grid.members)].max()), high=ctx.band[1])
    if grid.locked and grid.note.status != "edited_split":
        return make_note(OUT_OF_BAND, "locked_grid", households=w, low=ctx.band[0], high=ctx.band[1])
    return grid.note


def _tessellate(region, members: np.ndarray, ctx: _Context):
    """Cells and graph of one region polygon for ``members`` (None when the region is not one piece).

    Every compound that fits in one grid and has all its buildings among
    ``members`` is one cell seeded by its outline, as in a fresh partition.
    """
    parts = split_parts(region)
    if len(parts) != 1 or len(members) == 0:
        return None
    part = parts[0]
    groups, outlines = _compound_groups(members, part, ctx.compound_of, ctx.compound_geoms, ctx.compound_size)
    tess = tessellate_part(part, ctx.geoms[members], groups=groups, group_geoms=outlines)
    n_sites = len(tess.cells)
    weight = np.bincount(tess.site_of_building, weights=ctx.households[members], minlength=n_sites).astype(np.int64)
    barriers = None
    if ctx.barriers is not None:
        hits = shapely.STRtree(ctx.barriers).query(part, predicate="intersects")
        barriers = ctx.barriers[hits] if len(hits) else None
    graph = build_cell_graph(tess.cells, weight, tess.anchors, barriers, outline_length=float(shapely.length(part)))
    if connected_components(graph.shared, directed=False)[0] != 1:
        return None
    return tess, graph


def _reassign_loose(graph: CellGraph, labels: np.ndarray) -> None:
    """Give every cell labelled -1 the label it shares the longest border with (in place)."""
    indptr, indices, lengths = graph.shared.indptr, graph.shared.indices, graph.shared.data
    while (labels < 0).any():
        progress = False
        for node in np.flatnonzero(labels < 0):
            neighbours = indices[indptr[node] : indptr[node + 1]]
            known = labels[neighbours] >= 0
            if not known.any():
                continue
            totals = np.bincount(labels[neighbours][known], weights=lengths[indptr[node] : indptr[node + 1]][known])
            labels[node] = int(np.argmax(totals))
            progress = True
        if not progress:
            raise RuntimeError("cells without a labelled neighbour in a connected graph")


def _connect(graph: CellGraph, labels: np.ndarray, fixed: np.ndarray | None = None) -> None:
    """Make every label connected: its heaviest piece stays, other pieces join their neighbours (in place).

    A piece holding a ``fixed`` cell (a pinned building) is kept before a heavier one.
    """
    for label in np.unique(labels[labels >= 0]):
        nodes = np.flatnonzero(labels == label)
        count, piece = connected_components(graph.shared[nodes][:, nodes], directed=False)
        if count > 1:
            weight = np.bincount(piece, weights=graph.weight[nodes] + 1e-6, minlength=count)
            if fixed is not None:
                weight += 1e12 * np.bincount(piece, weights=fixed[nodes].astype(float), minlength=count)
            labels[nodes[piece != int(np.argmax(weight))]] = -1
    _reassign_loose(graph, labels)


def _pins_hold(labels: np.ndarray, pin_of: np.ndarray) -> bool:
    """Whether the cells pinned to one grid share a label, and cells pinned to different grids do not."""
    pinned = np.flatnonzero(pin_of >= 0)
    if not len(pinned):
        return True
    pairs = set(zip(pin_of[pinned].tolist(), labels[pinned].tolist()))
    return len(pairs) == len({p for p, _ in pairs}) == len({lab for _, lab in pairs})


def _solve_labels(graph: CellGraph, labels: np.ndarray, ctx: _Context, rng, pin_of: np.ndarray | None = None, existing: np.ndarray | None = None) -> np.ndarray | None:
    """Labels with every grid in band or excused, changing as little as possible; None when it fails.

    ``existing`` gives per cell the households of buildings that were there
    before the update: cells without any are moved first.

    ``pin_of`` gives per cell the grid a pinned building holds it to (-1: none):
    pinned cells never move, and the result keeps the cells of one pinned grid
    together and those of different pinned grids apart (None otherwise).
    """
    low, high = ctx.band
    labels = labels.copy()
    pin_of = np.full(graph.n, -1, dtype=np.int64) if pin_of is None else pin_of
    fixed = pin_of >= 0
    _connect(graph, labels, fixed)
    labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    big = graph.weight > high
    for _ in range(len(labels) + 1):
        k = int(labels.max()) + 1
        weights = np.bincount(labels, weights=graph.weight, minlength=k)
        excused = np.zeros(k, dtype=bool)
        excused[np.unique(labels[big])] = True
        plain = np.flatnonzero(~excused)
        total = int(weights[plain].sum())
        counts = feasible_counts(total, low, high)
        if len(plain) == 0:
            return labels if _pins_hold(labels, pin_of) else None
        if not len(counts):
            break  # the plain grids alone fit no count: cells of grids holding a large building may still come over
        target = min(counts, key=lambda c: (abs(c - len(plain)), c))
        if target < len(plain):
            free = plain[~np.isin(plain, labels[fixed])]  # a grid holding a pinned building is not dissolved
            pool = free if len(free) else plain
            smallest = pool[np.lexsort((pool, weights[pool]))[0]]
            labels[labels == smallest] = -1
            _reassign_loose(graph, labels)
            labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
            continue
        if target > len(plain):
            largest = plain[np.lexsort((plain, -weights[plain]))[0]]
            nodes = np.flatnonzero(labels == largest)
            local, _ = partition_part(graph.subgraph(nodes), low, high, rng)
            if local.max() < 1:
                return None
            labels[nodes[local > 0]] = local[local > 0] + k - 1
            continue
        break
    k = int(labels.max()) + 1
    excused = np.zeros(k, dtype=bool)
    excused[np.unique(labels[big])] = True
    frozen = big | fixed
    if existing is not None and (existing > 0).any():
        # cells of added buildings (and empty ones) first: moving them moves no household that was there before
        search = _Repair(graph, labels, low, high, k, frozen | (existing > 0), excused)
        search.run(50 * graph.n)
        labels = search.labels
    search = _Repair(graph, labels, low, high, k, frozen, excused)
    search.run(50 * graph.n)
    labels = search.labels

    def missing(labels):
        weights = np.bincount(labels, weights=graph.weight, minlength=k)
        return any(not excused[g] and not (low <= weights[g] <= high) for g in range(k))

    if missing(labels):
        # single-cell moves are stuck (large buildings): merge a grid with neighbours and split again (ReCom);
        # grids holding a pinned building are not merged
        labels = _repair_band(graph, labels, excused, low, high, rng, frozen, rounds=20)
        if missing(labels):
            return None
    return labels if _pins_hold(labels, pin_of) else None


def _repair_region(grids: dict[str, _Grid], region: list[str], ctx: _Context, dirty: set[str]) -> bool:
    """Repair the grids of ``region`` inside the union of their polygons; False when that is not enough."""
    region = sorted(region)
    members = np.array(sorted(set().union(*(grids[c].members for c in region))), dtype=np.int64)
    shape = shapely.union_all([grids[c].geom for c in region])
    built = _tessellate(shape, members, ctx)
    if built is None:
        return False
    tess, graph = built
    code_label = {c: i for i, c in enumerate(region)}
    building_label = np.array([next(code_label[c] for c in region if int(b) in grids[c].members) for b in members])
    labels = np.full(graph.n, -1, dtype=np.int64)
    # a site shared by buildings of several grids (identical footprints) goes with its first building
    for local in range(len(members) - 1, -1, -1):
        labels[tess.site_of_building[local]] = building_label[local]
    # a pinned building's site stays in its grid
    pin_of = np.full(graph.n, -1, dtype=np.int64)
    for local, b in enumerate(members.tolist()):
        code = ctx.pins.get(b)
        if code in code_label:
            site = tess.site_of_building[local]
            labels[site] = pin_of[site] = code_label[code]
    rng = community_rng(ctx.seed, f"{ctx.community_id}:update:{region[0]}")
    existing = np.zeros(graph.n, dtype=np.int64)
    if ctx.is_new is not None:
        old = ~ctx.is_new[members]
        np.add.at(existing, tess.site_of_building[old], ctx.households[members][old])
    solved = _solve_labels(graph, labels, ctx, rng, pin_of, existing)
    if solved is None:
        return False
    site_label = solved
    new_members = [set(members[site_label[tess.site_of_building] == g].tolist()) for g in range(int(site_label.max()) + 1)]
    cells = [tess.cells[site_label == g] for g in range(len(new_members))]
    _replace(grids, region, new_members, cells, ctx, dirty)
    return True


def _replace(grids, region, new_members, cells, ctx: _Context, dirty: set[str]) -> None:
    """Swap the grids of ``region`` for new ones; codes by largest household overlap, untouched grids keep their polygon."""
    codes = _inherit(grids, region, new_members, ctx)
    old = {c: grids[c] for c in region}
    kept = {code for code, members in zip(codes, new_members) if code in old and old[code].members == members}
    if any(not old[c].members and c not in codes for c in region):
        kept = set()  # the area of a grid left without buildings goes to grids that did not change otherwise
    # redraw only the grids whose buildings changed, inside the union of their old polygons
    redraw = [g for g, code in enumerate(codes) if code not in kept]
    polygons = _redraw([new_members[g] for g in redraw], [old[c].geom for c in region if c not in kept], ctx)
    if polygons is None:  # fall back to the region's own cells
        kept = set()
        redraw = list(range(len(codes)))
        polygons = [_dissolve(cells[g]) for g in redraw]
    for c in region:
        del grids[c]
    for g, code in enumerate(codes):
        previous = old.get(code)
        if code in kept:
            grid = previous
        else:
            polygon = polygons[redraw.index(g)]
            grid = _Grid(code, polygon, new_members[g], GridNote(), False, False, None, previous.previous_row if previous else None)
        grid.members = new_members[g]
        grid.note = _note_for(grid, ctx)
        grids[code] = grid
        dirty.add(code)
    ctx.retired |= {c for c in region if c not in codes}


def _redraw(members_list: list[set[int]], polygons: list, ctx: _Context) -> list | None:
    """Polygons for grids of the given buildings, tiling the union of ``polygons``; None when one is not one piece."""
    if not members_list:
        return []
    shape = shapely.union_all(polygons)
    parts = split_parts(shape)
    members = np.array(sorted(set().union(*members_list)), dtype=np.int64)
    label_of = {}
    for g, group in enumerate(members_list):
        for b in group:
            label_of[b] = g
    part_of = _assign_parts(parts, ctx.geoms[members])
    out: list = [None] * len(members_list)
    for p, part in enumerate(parts):
        here = members[part_of == p]
        if len(here) == 0:
            return None
        built = _tessellate(part, here, ctx)
        if built is None:
            return None
        tess, graph = built
        site_label = np.full(graph.n, -1, dtype=np.int64)
        for local, b in enumerate(here):
            site = tess.site_of_building[local]
            if site_label[site] >= 0 and site_label[site] != label_of[int(b)]:
                return None
            site_label[site] = label_of[int(b)]
        for g in np.unique(site_label):
            nodes = np.flatnonzero(site_label == g)
            if out[g] is not None or connected_components(graph.shared[nodes][:, nodes], directed=False)[0] != 1:
                return None
            polygon = _dissolve(tess.cells[nodes])
            if shapely.get_type_id(polygon) != 3:
                return None
            out[g] = polygon
    if any(p is None for p in out):
        return None
    return out


def _inherit(grids, region: list[str], new_members: list[set[int]], ctx: _Context, geoms=None) -> list[str]:
    """Codes of new grids: a grid holding a pinned building keeps the pinned code; then the largest
    household overlap with an old grid inherits its code (for a grid without buildings, the largest
    area overlap, when ``geoms`` gives the new polygons); others get new numbers."""
    codes: list[str | None] = [None] * len(new_members)
    used = set()
    for g, members in enumerate(new_members):
        wanted = sorted({ctx.pins[b] for b in members if b in ctx.pins} & set(region))
        if len(wanted) == 1 and wanted[0] not in used:
            codes[g] = wanted[0]
            used.add(wanted[0])
    pairs = []
    for g, members in enumerate(new_members):
        for code in region:
            common = members & grids[code].members
            if common:
                pairs.append((-int(ctx.households[sorted(common)].sum()), -len(common), code, g))
    for _, _, code, g in sorted(pairs):
        if codes[g] is None and code not in used:
            codes[g] = code
            used.add(code)
    if geoms is not None:
        overlaps = []
        for g, members in enumerate(new_members):
            if codes[g] is None and not members:
                for code in region:
                    if code not in used and grids[code].geom is not None:
                        area = float(shapely.area(shapely.intersection(geoms[g], grids[code].geom)))
                        if area > 0:
                            overlaps.append((-area, code, g))
        for _, code, g in sorted(overlaps):
            if codes[g] is None and code not in used:
                codes[g] = code
                used.add(code)
    fresh = [g for g in range(len(new_members)) if codes[g] is None]
    if fresh:
        xy = np.array([_anchor(ctx.geoms[sorted(new_members[g])] if new_members[g] else np.array([geoms[g]], dtype=object)) for g in fresh])
        for g in [fresh[i] for i in np.lexsort((xy[:, 0], -xy[:, 1]))]:
            codes[g] = _new_code(ctx)
    return [str(c) for c in codes]


def _anchor(geoms: np.ndarray) -> np.ndarray:
    """The centroid of the representative points of ``geoms`` (x, y): where a new grid is numbered."""
    return shapely.get_coordinates(shapely.centroid(shapely.multipoints(shapely.get_coordinates(shapely.point_on_surface(geoms)))))[0]


def _new_code(ctx: _Context) -> str:
    ccode = ctx.community_code
    while True:
        code = f"{ccode}-{ctx.next_number:0{max(ctx.width, len(str(ctx.next_number)))}d}"
        ctx.next_number += 1
        if code not in ctx.retired:
            return code


def _repartition_whole(grids: dict[str, _Grid], ctx: _Context, community_geom, dirty: set[str]) -> None:
    """Partition the community afresh (its dedicated and locked grids stay), inheriting codes by household overlap.

    Compounds that fit are one cell, larger ones' outlines are barriers, as in a
    fresh run.  When the fresh split cannot keep every pinned building in its
    pinned grid, the grids holding pinned buildings are kept as they are too and
    the rest is split afresh.
    """
    for keep_pinned in (False, True):
        holding = {c for c, g in grids.items() if keep_pinned and any(b in ctx.pins for b in g.members)}
        region = sorted(c for c, g in grids.items() if not g.dedicated and not g.locked and c not in holding)
        if not region:
            return
        members = np.array(sorted(set().union(*(grids[c].members for c in region))), dtype=np.int64)
        if not int(ctx.households[members].sum()):
            for c in region:  # no household left to grid (a cleared community): the grids stay, flagged
                grids[c].note = make_note(INFEASIBLE, "no_households")
            return
        kept_apart = any(g.dedicated or g.locked for g in grids.values()) or bool(holding)
        shape = shapely.union_all([grids[c].geom for c in region]) if kept_apart else community_geom
        groups, outlines = _compound_groups(members, shape, ctx.compound_of, ctx.compound_geoms, ctx.compound_size)
        result = partition_community(
            shape, ctx.geoms[members], ctx.households[members], band=ctx.band,
            rng=community_rng(ctx.seed, f"{ctx.community_id}:update"), barriers=ctx.barriers,
            groups=groups, group_geoms=outlines, group_facility=None if outlines is None else np.full(len(outlines), None, dtype=object),
            unit_band=ctx.unit_band,
        )
        k = len(result.grid_geoms)
        new_members = [set(members[result.building_grid == g].tolist()) for g in range(k)]
        label = np.full(len(members), -1, dtype=np.int64)
        pin_of = np.full(len(members), -1, dtype=np.int64)
        for g, group in enumerate(new_members):
            label[np.searchsorted(members, sorted(group))] = g
        for local, b in enumerate(members.tolist()):
            if b in ctx.pins:
                pin_of[local] = region.index(ctx.pins[b]) if ctx.pins[b] in region else -1
        if not keep_pinned and not _pins_hold(label, pin_of):
            logger.info("community %s: a fresh split would move pinned buildings; their grids are kept", ctx.community_id)
            continue
        for c in holding:
            grids[c].locked = True
            grids[c].note = _note_for(grids[c], ctx)
        codes = _inherit(grids, region, new_members, ctx, result.grid_geoms)
        for c in region:
            previous = grids.pop(c)
            if c not in codes:
                ctx.retired.add(c)
            if c in codes:
                g = codes.index(c)
                grids[c] = _Grid(c, result.grid_geoms[g], new_members[g], result.notes[g], False, False, None, previous.previous_row)
        for g, code in enumerate(codes):
            if code not in grids:
                grids[code] = _Grid(code, result.grid_geoms[g], new_members[g], result.notes[g], False, False, None, None)
            dirty.add(code)
        return


# -- assembling the result ---------------------------------------------------------------------------------
def _fit_metric(geoms: list, communities: list[str]) -> list:
    """The re-drawn grids (metric polygons) of each community meeting each other exactly (:func:`gridgeo.seams.fit_exactly`)."""
    out = list(geoms)
    communities = np.asarray(communities, dtype=object)
    array = np.array(geoms, dtype=object)
    for ccode in sorted(set(communities.tolist())):
        rows = np.flatnonzero(communities == ccode)
        if len(rows) > 1:
            for at, geom in zip(rows, fit_exactly(array[rows], [], tolerance=SEAM_TOLERANCE_M)[0]):
                out[at] = geom
    return out


def _fit_seams(grid_geoms: list, redrawn_at: list[int], communities: list[str], crs) -> set[int]:
    """Make the re-drawn grids of each community meet its kept grids exactly (in place; :mod:`gridgeo.seams`).

    Returns the positions of kept grids whose polygon had to take a vertex (a
    hook of a fraction of a millimetre where a re-drawn grid meets it): they
    are reported as reshaped.
    """
    tolerance = seam_tolerance(crs)
    redrawn = np.zeros(len(grid_geoms), dtype=bool)
    redrawn[redrawn_at] = True
    communities = np.asarray(communities, dtype=object)
    geoms = np.array(grid_geoms, dtype=object)
    touched: set[int] = set()
    for ccode in sorted(set(communities[redrawn].tolist())):
        here = communities == ccode
        mend, kept = np.flatnonzero(here & redrawn), np.flatnonzero(here & ~redrawn)
        fitted, held = fit_exactly(geoms[mend], geoms[kept], tolerance=tolerance)
        for at, geom in zip(mend, fitted):
            grid_geoms[at] = geom
        for at, geom in zip(kept, held):
            if geom is not geoms[at]:
                grid_geoms[at] = geom
                touched.add(int(at))
    return touched


def _assemble(prev, prep, final, pg, pg_codes, prev_members, match, b_code, b_comm, dirty_buildings, is_new, pb_codes, matched_prev, pb_grid, pb_hh, band, unit_band, seed, metric, crs, params):
    n = len(prep.buildings)
    b_grid = np.full(n, "", dtype=object)
    for code, grid in final.items():
        if grid.members:
            b_grid[sorted(grid.members)] = code
    prev_row_of = {c: r for r, c in enumerate(pg_codes)}
    unchanged = set()
    for code, grid in final.items():
        if (
            grid.polygon_kept
            and code in prev_row_of
            and grid.members == prev_members.get(code, set())
            and not any(dirty_buildings[sorted(grid.members)])
            and len(grid.members) == int(pg["n_buildings"].iloc[prev_row_of[code]])
        ):
            unchanged.add(code)
    # order: surviving grids in the previous order, new ones after in code order
    order = [c for c in pg_codes if c in final] + sorted(c for c in final if c not in prev_row_of)
    redo = [c for c in order if c not in unchanged]
    # joint units of every grid that changed
    units_of: dict[str, tuple[list, list]] = {}
    if redo:
        task_members = np.array([b for c in redo for b in sorted(final[c].members)], dtype=np.int64)
        labels = np.array([g for g, c in enumerate(redo) for _ in final[c].members], dtype=np.int64)
        task = CommunityTask(None, prep.building_geoms[task_members], prep.households[task_members], band, seed, "", unit_band=unit_band)
        from .engine import CommunityResult

        fake = CommunityResult(labels, np.empty(len(redo), dtype=object), [], np.zeros(len(redo), dtype=np.int64))
        grid_units, unit_geoms = _joint_units(task, fake)
        offset = 0
        for g, c in enumerate(redo):
            size = len(final[c].members)
            local = task_members[offset : offset + size]
            units_of[c] = (grid_units[g], unit_geoms[g], local)
            offset += size
    prev_units = prev.units
    grid_rows, grid_geoms, unit_frames = [], [], []
    metric_geoms, metric_at = [], []
    comm_id_of_code = dict(zip(prev.communities["community_code"].astype(str), prev.communities["community_id"].astype(str)))
    new_unit_rows, new_unit_geoms = [], []
    for code in order:
        grid = final[code]
        if code in unchanged:
            row = pg.iloc[prev_row_of[code]].drop(labels=pg.geometry.name).to_dict()
            grid_rows.append(row)
            grid_geoms.append(grid.original)
            unit_frames.append(prev_units[prev_units["grid_code"].astype(str) == code])
            continue
        members = np.array(sorted(grid.members), dtype=np.int64)
        ccode = code.rsplit("-", 1)[0]
        base = dict(grid.previous_row or {})
        base.pop(pg.geometry.name, None)
        row = {column: base.get(column, None) for column in pg.columns if column != pg.geometry.name}
        units, ugeoms, local = units_of[code]
        note = grid.note
        row.update(
            {
                "grid_code": code,
                "community_id": comm_id_of_code[ccode],
                "community_code": ccode,
                "households": int(prep.households[members].sum()) if len(members) else 0,
                "n_buildings": int(len(members)),
                "n_units": len(units),
                "households_estimated": prep.households_estimated,
            }
        )
        if not grid.dedicated:
            row.update(
                {
                    "status": note.status or IN_BAND,
                    "reason": note.reason if note.code else (base.get("reason", "") if note.status and note.status != IN_BAND else ""),
                    "reason_zh": reason_text(note.code, dict(note.params), "zh") if note.code else (base.get("reason_zh", "") if note.status and note.status != IN_BAND else ""),
                    "grid_type": "basic",
                    "facility_type": "",
                }
            )
        if grid.polygon_kept:
            grid_geoms.append(grid.original)
        else:
            metric_at.append(len(grid_geoms))
            metric_geoms.append(grid.geom)
            grid_geoms.append(None)
            row["area_m2"] = float(shapely.area(grid.geom))
            row["polsby_popper"] = float(polsby_popper([grid.geom])[0])
            if "barrier_crossings" in row and row["barrier_crossings"] is None:
                row["barrier_crossings"] = 0
        grid_rows.append(row)
        width = width_for(len(units), 2)
        for u, (unit, ugeom) in enumerate(zip(units, ugeoms)):
            new_unit_rows.append(
                {
                    "unit_code": f"{code}-{u + 1:0{width}d}",
                    "grid_code": code,
                    "community_id": comm_id_of_code[ccode],
                    "community_code": ccode,
                    "households": unit.households,
                    "n_buildings": len(unit.members),
                    "members": ";".join(f"{b_code[local[i]]}:{a}-{z}" for i, a, z in unit.members),
                    "in_band": unit.in_band,
                }
            )
            new_unit_geoms.append(ugeom)
    if metric_geoms:
        grid_communities = [row["community_code"] for row in grid_rows]
        # grids re-drawn in different steps meet exactly in metres first (a vertex of one on the other's edge is
        # inserted there: after reprojection it would lie a hair off that edge), then meet the kept grids
        metric_geoms = _fit_metric(metric_geoms, [grid_communities[at] for at in metric_at])
        converted = reproject_polygons(metric_geoms, metric, crs)
        for at, geom in zip(metric_at, converted):
            grid_geoms[at] = geom
        for at in _fit_seams(grid_geoms, metric_at, grid_communities, crs):
            final[order[at]].polygon_kept = False  # a kept grid that had to take a vertex: reported as reshaped
    grids = gpd.GeoDataFrame(pd.DataFrame(grid_rows, columns=[c for c in pg.columns if c != pg.geometry.name]), geometry=list(grid_geoms), crs=crs)
    for column in pg.columns:
        if column != pg.geometry.name and column in grids and pg[column].dtype != object and not grids[column].isna().any():
            grids[column] = grids[column].astype(pg[column].dtype)
    fresh_units = gpd.GeoDataFrame(new_unit_rows, geometry=list(new_unit_geoms), crs=metric).to_crs(crs) if new_unit_rows else None
    parts = [f for f in unit_frames if len(f)] + ([fresh_units] if fresh_units is not None else [])
    units = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry=prev_units.geometry.name, crs=crs) if parts else prev_units.iloc[0:0]
    if len(units):
        units = units.iloc[np.argsort(units["unit_code"].astype(str).to_numpy(), kind="stable")].reset_index(drop=True)
    # buildings and communities
    out_buildings = _with_added_columns(prep, b_code, b_comm, b_grid, crs)
    out_buildings = out_buildings.iloc[np.argsort(b_code.astype(str), kind="stable")]
    # units kept from the GeoPackage come back as one-part MultiPolygons: the geometry type a fresh run gives them
    units = single_part_units(units, out_buildings)
    unassigned = prep.unassigned
    if len(unassigned):
        unassigned = unassigned.iloc[geometry_order(unassigned.geometry.to_numpy())]
    communities = prev.communities.copy()
    hh = pd.Series(prep.households, dtype=np.int64).groupby(b_comm).sum() if n else pd.Series(dtype=np.int64)
    counts = pd.Series(np.ones(n, dtype=np.int64)).groupby(b_comm).sum() if n else pd.Series(dtype=np.int64)
    ccodes = communities["community_code"].astype(str)
    communities["households"] = ccodes.map(hh).fillna(0).astype(np.int64).to_numpy()
    communities["n_buildings"] = ccodes.map(counts).fillna(0).astype(np.int64).to_numpy()
    communities["n_grids"] = ccodes.map(grids["community_code"].astype(str).value_counts()).fillna(0).astype(np.int64).to_numpy()
    community_frame = gpd.GeoDataFrame({"community_id": prep.community_ids}, geometry=list(prep.community_geoms), crs=metric)
    per_community = community_metrics(grids, community_frame, band=band)
    crossings_min = int(prev.report.get("summary", {}).get("barrier_crossings_min", 0))
    report = _report(grids, community_frame, units, band, unit_band, prep, seed, crossings_min, per_community, params)
    result = Partition(communities, grids, out_buildings, units, unassigned, report)
    # changes
    prev_codes = set(pg_codes.tolist())
    new_codes = set(final)
    reshaped = sorted(c for c in new_codes & prev_codes if not final[c].polygon_kept)
    modified = sorted(c for c in new_codes & prev_codes if final[c].polygon_kept and c not in unchanged)
    moved = []
    moved_hh = compared_hh = 0
    for i in np.flatnonzero(match >= 0):
        j = match[i]
        hh_i = int(prep.households[i])
        compared_hh += hh_i
        if b_grid[i] != pb_grid[j]:
            moved.append({"building_code": str(b_code[i]), "from": str(pb_grid[j]), "to": str(b_grid[i]), "households": hh_i})
            moved_hh += hh_i
    moved.sort(key=lambda item: item["building_code"])
    changes = {
        "grids_added": sorted(new_codes - prev_codes),
        "grids_retired": sorted(prev_codes - new_codes),
        "grids_reshaped": reshaped,
        "grids_modified": modified,
        "buildings_added": sorted(str(c) for c in b_code[is_new]),
        "buildings_removed": sorted(str(c) for c in pb_codes[~matched_prev]),
        "buildings_changed": sorted(str(c) for c in b_code[dirty_buildings & ~is_new]),
        "buildings_moved": moved,
        "households_added": int(prep.households[is_new].sum()),
        "households_removed": int(pb_hh[~matched_prev].sum()),
        "households_moved": int(moved_hh),
        "households_compared": int(compared_hh),
        "share_households_moved": float(moved_hh / compared_hh) if compared_hh else 0.0,
    }
    return result, changes
