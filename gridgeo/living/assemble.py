"""The updated plan as a :class:`gridgeo.result.Partition`: grids, buildings, units, codes, notes and report of the kept, re-drawn and new grids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..arrays import geometry_order, positions_by_value
from ..build import _report, _with_added_columns
from ..governance.codes import width_for
from ..governance.standard_codes import renumber_standard_codes
from ..inputs.crs import reproject_polygons
from ..labels import reason_text
from ..metrics import community_metrics, polsby_popper
from ..partition.engine import CommunityTask, _joint_units
from ..partition.notes import IN_BAND
from ..result import Partition, single_part_units
from .redraw import _fit_metric, _fit_seams


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
        from ..partition.engine import CommunityResult

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
    # the previous rows of unchanged grids, and their units, gathered once
    attributes = pg.drop(columns=pg.geometry.name)
    units_at = positions_by_value(prev_units["grid_code"].astype(str).to_numpy())
    kept_units = []
    for code in order:
        grid = final[code]
        if code in unchanged:
            row = attributes.iloc[prev_row_of[code]].to_dict()
            grid_rows.append(row)
            grid_geoms.append(grid.original)
            kept_units.append(units_at.get(code, np.zeros(0, dtype=np.int64)))
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
    grids = _codes_and_details(grids, pg, prev.report.get("parameters", {}))
    for column in pg.columns:
        if column != pg.geometry.name and column in grids and pg[column].dtype != object and not grids[column].isna().any():
            grids[column] = grids[column].astype(pg[column].dtype)
    fresh_units = gpd.GeoDataFrame(new_unit_rows, geometry=list(reproject_polygons(new_unit_geoms, metric, crs, whole=True)), crs=crs) if new_unit_rows else None
    if kept_units:
        unit_frames.append(prev_units.iloc[np.concatenate(kept_units)])
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


def _codes_and_details(grids: gpd.GeoDataFrame, previous: gpd.GeoDataFrame, parameters: dict) -> gpd.GeoDataFrame:
    """The grids with the standard codes of the plan's code scheme renumbered as they are now, and the details a new
    grid has no previous row for (``valid_from``, ``valid_to``, ``responsible_unit``) taken from its community's
    grids in the previous plan."""
    scheme = parameters.get("code_scheme")
    if scheme and scheme != "default" and "standard_code" in grids.columns:
        grids = renumber_standard_codes(grids, previous, scheme)
    communities = grids["community_code"].astype(str)
    for column in ("valid_from", "valid_to", "responsible_unit"):
        if column in grids.columns and grids[column].isna().any():
            known = previous[["community_code", column]].dropna()
            by_community = dict(zip(known["community_code"].astype(str), known[column]))
            missing = grids[column].isna()
            grids.loc[missing, column] = communities[missing].map(by_community)
    return grids
