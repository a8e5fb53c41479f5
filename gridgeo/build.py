"""Pieces of a partition's result shared by :func:`gridgeo.partition` and the living plans: the tasks of the communities, grid codes in reading order, the compound report, the added building columns and the report."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely

from . import __version__
from .cells.areas import facility_letter
from .governance.codes import grid_code
from .inputs.names import input_names
from .labels import reason_text
from .metrics import summarize
from .partition.engine import CommunityTask
from .partition.notes import DEDICATED

logger = logging.getLogger(__name__)
#: the columns gridgeo writes into the communities layer (an input column of the same name is kept as ``input_…``)
ADDED_COMMUNITY_COLUMNS = ("community_id", "community_code", "households", "n_buildings", "n_grids")


def community_tasks(prep, community_order: np.ndarray, band, unit_band, seed: int, areas=None, anchor_xy=None):
    """The buildings (in canonical order) and the :class:`CommunityTask` of every community, in ``community_order``.

    Parameters
    ----------
    prep : gridgeo.inputs.validate.Prepared
    community_order : ndarray of int
        Community indices in processing order.
    band, unit_band : (int, int)
        Household bands of grids and joint units (``unit_band`` None: no units).
    seed : int
    areas : optional
        Dedicated grounds and compounds (:func:`gridgeo.cells.areas.assign_areas`).
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
    frame = prep.buildings.copy(deep=False)  # copy-on-write: the columns added below never reach prep.buildings
    renamed = input_names(frame.columns)
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
            "households_unassigned": prep.unassigned_households,
            "community_overlap_m2": round(float(prep.community_overlap_m2), 1),
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
