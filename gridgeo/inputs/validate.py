"""Input checks and preparation, done once before any partitioning.

Every problem is collected and reported together (file, rows, remedy).  Fixable
things are fixed and said: invalid geometries are repaired with ``make_valid``,
layers in other CRSs are reprojected, Z coordinates ignored and M values
dropped, buildings outside every community are kept in an ``unassigned`` layer
with the reason, buildings across two communities go to the one holding most of
their footprint.  Things that are kept but deserve a look are warned about:
overlapping communities, buildings with identical geometry, communities without
households.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..arrays import on_threads, outline_keys
from ..errors import CRSError, InputError, Problem, ProblemCollector, describe_rows
from ..messages import count
from .crs import check_coordinates_fit_crs, local_metric_crs, require_crs
from .households import HEIGHT_COLUMNS, LEVEL_COLUMNS, TYPE_COLUMNS, calibrate_to_totals, estimate_households, non_residential
from .names import UNASSIGNED_COLUMNS, input_names, names_an_id

__all__ = ["Prepared", "prepare_inputs", "name_rows", "OUTSIDE", "NO_GEOMETRY"]

logger = logging.getLogger(__name__)

OUTSIDE = "outside every community"
#: the share of the buildings' households (of the buildings, when households are estimated) outside every community
#: from which the warning asks whether the layers line up
MISALIGNED_SHARE = 0.2
NO_GEOMETRY = "no geometry (empty or missing)"
POLYGONAL = {"Polygon", "MultiPolygon"}
PUNCTUAL = {"Point", "MultiPoint"}


@dataclass
class Prepared:
    """Checked inputs, ready for partitioning (all geometry work in ``metric_crs``)."""

    communities: gpd.GeoDataFrame  # input rows, input CRS
    community_ids: np.ndarray  # str per community
    community_geoms: np.ndarray  # metric, repaired
    buildings: gpd.GeoDataFrame  # input rows (assigned only), input CRS, unchanged
    building_geoms: np.ndarray  # metric, repaired
    building_community: np.ndarray  # community index per assigned building
    households: np.ndarray  # int64 per assigned building
    households_estimated: bool
    unassigned: gpd.GeoDataFrame  # input rows + reason
    barriers: np.ndarray  # metric lines
    input_crs: CRS
    metric_crs: CRS
    notes: list[str] = field(default_factory=list)
    overlaps: list[Problem] = field(default_factory=list)  # communities overlapping (also a note): `gridgeo validate` fails on them
    unassigned_households: int | None = None  # households of the unassigned buildings (None when households are estimated)
    community_overlap_m2: float = 0.0  # area where communities of the input overlap (their grids overlap there too)


def prepare_inputs(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    households: str | None = None,
    community_id: str | None = None,
    building_id: str | None = None,
    community_households: str | None = None,
    barriers: list[gpd.GeoDataFrame] | None = None,
    labels: dict[str, str] | None = None,
    default_storeys: float = 3.0,
    dwelling_m2: float = 90.0,
) -> Prepared:
    """Check the inputs, collect every problem, and prepare metric arrays.

    Parameters
    ----------
    communities, buildings : GeoDataFrame
        Community polygons and building footprints or points.
    households : str, optional
        Column of buildings with household counts; estimated when omitted.
    community_id, building_id : str, optional
        Id columns (``community_id`` defaults to a column of that name when present).
    community_households : str, optional
        Column of communities with register totals used to calibrate estimates.
    barriers : list of GeoDataFrame, optional
        Line layers (roads, rivers, walls).
    labels : dict, optional
        Names used in messages, keys ``communities``, ``buildings``, ``barriers``.

    Returns
    -------
    Prepared

    Raises
    ------
    InputError
        Listing every problem found.
    """
    labels = {"communities": "communities", "buildings": "buildings", "barriers": "barriers", **(labels or {})}
    c_label, b_label = labels["communities"], labels["buildings"]
    problems = ProblemCollector()
    notes: list[str] = []

    for frame, label in ((communities, c_label), (buildings, b_label)):
        if len(frame) == 0:
            problems.add(label, "has no features", "check that the right file and layer were given")
    if problems:
        problems.raise_if_any()
    crs_problems = ProblemCollector()
    for frame, label in ((communities, c_label), (buildings, b_label)):
        try:
            require_crs(frame, label)
        except CRSError as exc:
            crs_problems.problems.extend(exc.problems)
            continue
        issue = check_coordinates_fit_crs(frame, label)
        if issue:
            crs_problems.problems.append(issue)
    for i, frame in enumerate(barriers or []):
        label = f"{labels['barriers']}[{i + 1}]" if len(barriers or []) > 1 else labels["barriers"]
        try:
            require_crs(frame, label)
        except CRSError as exc:
            crs_problems.problems.extend(exc.problems)
    # (a CRS problem is raised together with the problems of ids, households and geometry types found below)
    if not crs_problems:
        swapped = _swapped_layers(communities, buildings, c_label, b_label)
        if swapped is not None:
            raise InputError(swapped)  # every other problem (duplicate "community" ids, …) would follow from it
    communities = _drop_m_values(communities, c_label, notes)
    buildings = _drop_m_values(buildings, b_label, notes)

    if not crs_problems:
        input_crs = CRS.from_user_input(communities.crs)
        if CRS.from_user_input(buildings.crs) != input_crs:
            notes.append(f"{b_label} reprojected from {CRS.from_user_input(buildings.crs).name} to {input_crs.name}")
            logger.info(notes[-1])

    # -- ids ------------------------------------------------------------------------------
    if community_id is None and "community_id" in communities.columns:
        community_id = "community_id"
    if community_id is not None and community_id not in communities.columns:
        _no_column(problems, c_label, communities, community_id)
        community_id = None
    if community_id is not None:
        ids = communities[community_id]
        missing = _blank(ids)
        if missing.any():
            problems.add(c_label, f"{describe_rows(np.flatnonzero(missing) + 1)}: community id '{community_id}' is empty", "give every community an id")
        ids = ids.astype(str).to_numpy()
        _check_duplicates(problems, c_label, ids, community_id, skip=missing.to_numpy())
    else:
        ids = np.array([f"{i + 1}" for i in range(len(communities))], dtype=object)
        note = f"{c_label}: no community id column; communities are numbered by row (1..{len(communities)})"
        candidate = id_column_candidate(communities)
        if candidate is not None:
            note += f"; '{candidate}' holds a different value in every row: pass --community-id {candidate} (community_id={candidate!r} in Python) to keep those ids"
        notes.append(note)
    names = None  # building ids that name buildings in messages (else row numbers)
    if building_id is not None:
        if building_id not in buildings.columns:
            _no_column(problems, b_label, buildings, building_id)
        else:
            bids = buildings[building_id]
            missing = _blank(bids)
            if missing.any():
                problems.add(b_label, f"{describe_rows(np.flatnonzero(missing) + 1)}: building id '{building_id}' is empty", "give every building an id")
            else:
                names = bids.astype(str).to_numpy()
            _check_duplicates(problems, b_label, bids.astype(str).to_numpy(), building_id, skip=missing.to_numpy())

    def which(rows: np.ndarray) -> str:
        return name_rows(rows, names, building_id)

    # -- geometry types ----------------------------------------------------------------------
    c_geoms = communities.geometry.to_numpy()
    c_empty = shapely.is_missing(c_geoms) | shapely.is_empty(c_geoms)
    if c_empty.any():
        problems.add(c_label, f"{describe_rows(np.flatnonzero(c_empty) + 1)} have no geometry", "delete these rows or draw their boundaries")
    c_types = pd.Series(shapely.get_type_id(c_geoms))
    not_polygon = ~c_empty & ~np.isin(c_types, (3, 6))
    if not_polygon.any():
        problems.add(
            c_label,
            f"{describe_rows(np.flatnonzero(not_polygon) + 1)}: geometry is {_kinds(c_geoms[not_polygon])}, not a polygon",
            "communities must be (multi)polygons",
        )
    b_geoms = buildings.geometry.to_numpy()
    b_empty = shapely.is_missing(b_geoms) | shapely.is_empty(b_geoms)
    b_types = shapely.get_type_id(np.where(b_empty, None, b_geoms))
    bad_type = ~b_empty & ~np.isin(b_types, (0, 3, 4, 6))
    if bad_type.any():
        problems.add(
            b_label,
            f"{describe_rows(np.flatnonzero(bad_type) + 1)}: geometry is {_kinds(b_geoms[bad_type])}, not a footprint or point",
            "give buildings as polygons or points (split geometry collections, delete lines)",
        )

    # -- households -----------------------------------------------------------------------------
    estimated = households is None
    hh_values = None
    if households is not None:
        if households not in buildings.columns:
            _no_column(problems, b_label, buildings, households, ", or omit --households to estimate")
        else:
            raw = buildings[households]
            numeric = pd.to_numeric(raw, errors="coerce")
            missing = _blank(raw).to_numpy()
            text = (~missing) & numeric.isna().to_numpy()
            values = numeric.to_numpy(dtype=float)
            negative = np.isfinite(values) & (values < 0)
            fractional = np.isfinite(values) & (values >= 0) & (values != np.round(values))
            infinite = ~missing & ~text & ~np.isfinite(values)
            if missing.any():
                problems.add(b_label, f"{name_rows(np.flatnonzero(missing), names, building_id, numbers=True)}: households '{households}' is missing", "fill in a count (0 for non-residential buildings)")
            if text.any():
                shown = ", ".join(repr(v) for v in raw[text].astype(str).unique()[:5])
                problems.add(b_label, f"{name_rows(np.flatnonzero(text), names, building_id, numbers=True)}: households '{households}' is not a number ({shown})", "use whole numbers")
            if negative.any():
                problems.add(b_label, f"{name_rows(np.flatnonzero(negative), names, building_id, numbers=True)}: households '{households}' is negative", "use 0 or more")
            if fractional.any():
                problems.add(b_label, f"{name_rows(np.flatnonzero(fractional), names, building_id, numbers=True)}: households '{households}' is not a whole number", "round the counts")
            if infinite.any():
                problems.add(b_label, f"{name_rows(np.flatnonzero(infinite), names, building_id, numbers=True)}: households '{households}' is infinite", "use whole numbers")
            hh_values = np.where(np.isfinite(values), values, 0).astype(np.int64)
    if community_households is not None and community_households not in communities.columns:
        _no_column(problems, c_label, communities, community_households)
    elif community_households is not None:
        _check_register_totals(problems, c_label, communities[community_households], community_households)
    if crs_problems and not problems:
        crs_problems.raise_if_any(CRSError)
    problems.problems[:0] = crs_problems.problems
    problems.raise_if_any()
    _warn_duplicate_geometries(b_geoms, b_empty, b_label, notes, which=which)

    # -- to the metric CRS, repaired -----------------------------------------------------------
    metric = local_metric_crs(communities)
    notes.append(f"geometry computed in {metric.name} (EPSG:{metric.to_epsg()})")
    c_metric = _repair(communities.to_crs(metric).geometry.to_numpy(), c_label, notes, polygonal=True)
    b_metric_all = _repair(buildings.to_crs(metric).geometry.to_numpy(), b_label, notes, polygonal=False, which=which)
    c_metric = _drop_slivers(shapely.force_2d(c_metric), c_label, notes)
    overlaps, overlap_m2 = _warn_overlaps(c_metric, ids, c_label, notes)
    b_metric_all = _force_2d(b_metric_all)
    _warn_nested_footprints(b_metric_all, b_label, notes, which=which)
    barrier_lines = []
    for frame in barriers or []:
        lines = shapely.force_2d(frame.to_crs(metric).geometry.to_numpy())
        lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))]
        lines = np.where(np.isin(shapely.get_type_id(lines), (3, 6)), shapely.boundary(lines), lines)
        barrier_lines.append(lines)
    barrier_array = np.concatenate(barrier_lines) if barrier_lines else np.zeros(0, dtype=object)

    # -- buildings to communities --------------------------------------------------------------
    assignment = np.full(len(buildings), -1, dtype=np.int64)
    reason = np.full(len(buildings), "", dtype=object)
    reason[b_empty] = NO_GEOMETRY
    valid = np.flatnonzero(~b_empty & ~shapely.is_empty(b_metric_all))
    reason[(~b_empty) & shapely.is_empty(b_metric_all)] = NO_GEOMETRY
    tree = shapely.STRtree(c_metric)
    # bounding boxes from the tree, then the exact test with the communities prepared (each is
    # tested against many buildings; the tree's own predicate would prepare every building instead)
    candidates = b_metric_all[valid]
    b_idx, c_idx = tree.query(candidates)
    shapely.prepare(c_metric)
    hit = shapely.intersects(c_metric[c_idx], candidates[b_idx])
    b_idx, c_idx = valid[b_idx[hit]], c_idx[hit]
    if len(b_idx):
        polygonal = np.isin(shapely.get_type_id(b_metric_all[b_idx]), (3, 6))
        # the overlap area matters only where a footprint is not wholly inside one community
        counts = np.bincount(b_idx, minlength=len(buildings))
        inside = (counts[b_idx] == 1) & shapely.contains(c_metric[c_idx], b_metric_all[b_idx])
        overlap = np.ones(len(b_idx))
        measure = polygonal & ~inside
        overlap[measure] = shapely.area(shapely.intersection(b_metric_all[b_idx][measure], c_metric[c_idx][measure]))
        overlap[inside & polygonal] = shapely.area(b_metric_all[b_idx][inside & polygonal])
        positive = overlap > 0
        b_idx, c_idx, overlap = b_idx[positive], c_idx[positive], overlap[positive]
        order = np.lexsort((ids[c_idx].astype(str), -overlap, b_idx))
        b_sorted, c_sorted = b_idx[order], c_idx[order]
        first = np.r_[True, b_sorted[1:] != b_sorted[:-1]]
        assignment[b_sorted[first]] = c_sorted[first]
        counts = np.bincount(b_sorted, minlength=len(buildings))
        straddling = np.flatnonzero(counts > 1)
        if len(straddling):
            if building_id is not None and building_id in buildings.columns:
                named = sorted(buildings[building_id].astype(str).to_numpy()[straddling])
                straddlers = f"{building_id} " + ", ".join(named[:10]) + (f" and {len(named) - 10} more" if len(named) > 10 else "")
            else:
                straddlers = describe_rows(straddling + 1)
            notes.append(
                f"{b_label}: {count(len(straddling), 'building')} {'straddles' if len(straddling) == 1 else 'straddle'} two or more communities; each went to the "
                f"community holding most of its footprint ({straddlers})"
            )
            logger.warning(notes[-1])
    reason[(assignment < 0) & (reason == "")] = OUTSIDE
    outside = assignment < 0
    if outside.all():
        swapped = _looks_swapped(communities, buildings, c_label, b_label)
        raise InputError(
            Problem(
                b_label,
                f"none of the {len(buildings)} buildings lies in any community of {c_label}"
                + (f"; the coordinates of {swapped} look like latitude, longitude (swapped)" if swapped else ""),
                f"swap the X and Y coordinates of {swapped} (longitude first)" if swapped else "check that both layers cover the same place and carry the right CRS",
            )
        )
    if outside.any():
        kinds = []
        for what, text in ((OUTSIDE, "outside every community"), (NO_GEOMETRY, "without geometry")):
            rows = np.flatnonzero(reason == what)
            if len(rows):
                kinds.append(f"{len(rows)} {text}: {which(rows)}")
        n = int(outside.sum())
        held = ""
        if hh_values is not None:
            away, total = int(hh_values[outside].sum()), int(hh_values.sum())
            held = f" ({count(away, 'household')}, {100 * away / total if total else 0:.1f} % of the layer's)"
            share = away / total if total else n / len(buildings)
        else:
            share = n / len(buildings)
        notes.append(f"{b_label}: {count(n, 'building')}{held} {'is' if n == 1 else 'are'} kept in the 'unassigned' layer with the reason ({'; '.join(kinds)})")
        if share >= MISALIGNED_SHARE and (reason == OUTSIDE).any():
            notes[-1] += (
                "; if they belong to these communities, the two layers do not line up: check each layer's CRS (GCJ-02 or BD-09 "
                "coordinates read as WGS 84 lie 300–700 m off) and that both cover the same place"
            )
        logger.warning(notes[-1])
    assigned = np.flatnonzero(~outside)
    # every building assigned (the usual case): a view, not a second copy of the input's columns (copy-on-write)
    kept = buildings.iloc[:] if len(assigned) == len(buildings) else buildings.iloc[assigned]
    unassigned = buildings.iloc[np.flatnonzero(outside)].copy()
    renamed = input_names(unassigned.columns, UNASSIGNED_COLUMNS)  # an input column 'reason' is kept as input_reason
    unassigned = unassigned.rename(columns=renamed)
    if renamed and len(unassigned):
        notes.append(f"{b_label}: its column 'reason' is kept as '{renamed['reason']}' in the 'unassigned' layer, whose 'reason' says why each building is there")
    unassigned["reason"] = reason[outside]

    # -- households, given or estimated ------------------------------------------------------------
    b_metric = b_metric_all[assigned]
    community_of = assignment[assigned]
    if not estimated:
        hh = hh_values[assigned]
    else:
        if not np.isin(shapely.get_type_id(b_metric), (3, 6)).all():
            raise InputError(
                [
                    Problem(
                        b_label,
                        "some buildings are points, so households cannot be estimated from footprints",
                        "give a households column with --households COL",
                    )
                ]
            )
        levels = _first_column(kept, LEVEL_COLUMNS)
        height = _first_column(kept, HEIGHT_COLUMNS)
        hh, source = estimate_households(
            shapely.area(b_metric),
            levels=None if levels is None else kept[levels].to_numpy(),
            height_m=None if height is None else kept[height].to_numpy(),
            default_storeys=default_storeys,
            dwelling_m2=dwelling_m2,
        )
        used = ", ".join(f"{name}: {int((source == name).sum())}" for name in ("levels", "height", "default"))
        notes.append(
            f"households ESTIMATED from footprint × storeys × 0.8 ÷ {dwelling_m2:g} m² (storeys from {used}"
            f"{'; levels column ' + repr(levels) if levels else ''}{'; height column ' + repr(height) if height else ''})"
        )
        use = _first_column(kept, TYPE_COLUMNS, text=True)  # a building's use
        if use is not None:
            idle = non_residential(kept[use].to_numpy())
            if idle.any():
                hh = np.where(idle, 0, hh)
                kinds = pd.Series(kept[use].to_numpy()[idle]).astype(str).str.strip().str.lower().value_counts()
                shown = ", ".join(f"{k} {v}" for k, v in kinds.head(8).items()) + (f" and {len(kinds) - 8} more" if len(kinds) > 8 else "")
                notes[-1] += f"; {count(int(idle.sum()), 'building')} of non-residential use in '{use}' ({shown}) get 0 (give counts where people live in them)"
        logger.warning(notes[-1])
    if community_households is not None:
        totals_raw = pd.to_numeric(communities[community_households], errors="coerce")
        totals = {i: int(v) for i, v in enumerate(totals_raw) if np.isfinite(v) and v >= 0}
        hh = calibrate_to_totals(hh, community_of, totals, shapely.area(b_metric))
        notes.append(f"households scaled to the register totals in '{community_households}' ({count(len(totals), 'community', 'communities')})")
        if len(totals) < len(communities):
            untotalled = [str(ids[i]) for i in range(len(communities)) if i not in totals]
            shown = ", ".join(untotalled[:10]) + (f" and {len(untotalled) - 10} more" if len(untotalled) > 10 else "")
            notes[-1] += f"; {len(untotalled)} without a total {'keeps its estimate' if len(untotalled) == 1 else 'keep their estimates'} ({shown})"
        estimated = True
    totals = np.bincount(community_of, weights=hh, minlength=len(communities))
    empty = np.flatnonzero(totals == 0)
    if len(empty) == len(communities):
        source = f"'{households}'" if households else "the estimate"
        notes.append(f"{b_label}: every building has 0 households in {source}; each community is one grid flagged infeasible_total (check the households column)")
        logger.warning(notes[-1])
    elif len(empty):
        shown = ", ".join(str(x) for x in ids[empty][:10]) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        notes.append(f"{c_label}: {count(len(empty), 'community', 'communities')} {'has' if len(empty) == 1 else 'have'} no households ({shown}); each is one grid flagged infeasible_total")
        logger.warning(notes[-1])

    return Prepared(
        communities=communities,
        community_ids=ids.astype(str),
        community_geoms=c_metric,
        buildings=kept,
        building_geoms=b_metric,
        building_community=community_of,
        households=np.asarray(hh, dtype=np.int64),
        households_estimated=estimated,
        unassigned=unassigned,
        barriers=barrier_array,
        input_crs=input_crs,
        metric_crs=metric,
        notes=notes,
        overlaps=overlaps,
        unassigned_households=None if hh_values is None else int(hh_values[np.flatnonzero(outside)].sum()),
        community_overlap_m2=overlap_m2,
    )


SLIVER_M2 = 1.0


def _drop_slivers(geoms: np.ndarray, label: str, notes: list[str]) -> np.ndarray:
    """Remove polygon parts under ``SLIVER_M2`` (digitising slivers no grid could stand on)."""
    out = geoms.copy()
    dropped = 0
    for i, geom in enumerate(geoms):
        parts = shapely.get_parts(geom)
        if len(parts) <= 1:
            continue
        keep = shapely.area(parts) >= SLIVER_M2
        if keep.all() or not keep.any():
            continue
        dropped += int((~keep).sum())
        out[i] = shapely.multipolygons(parts[keep]) if keep.sum() > 1 else parts[keep][0]
    if dropped:
        notes.append(f"{label}: dropped {count(dropped, 'sliver part')} smaller than {SLIVER_M2:g} m² from multi-part communities")
        logger.warning(notes[-1])
    return out


def _kinds(geoms: np.ndarray) -> str:
    """The geometry types present, e.g. ``GeometryCollection or LineString``."""
    return " or ".join(sorted({g.geom_type for g in geoms}))


def _drop_m_values(frame: gpd.GeoDataFrame, label: str, notes: list[str]) -> gpd.GeoDataFrame:
    """Note Z coordinates (ignored: grids are 2D); drop M values, which the GeoPackage and GeoJSON outputs cannot hold."""
    geoms = frame.geometry.to_numpy()
    has_z = shapely.has_z(geoms)
    if has_z.any():
        notes.append(f"{label}: {count(int(has_z.sum()), 'geometry', 'geometries')} {'has' if int(has_z.sum()) == 1 else 'have'} Z coordinates; grids are computed in 2D")
        logger.info(notes[-1])
    has_m = shapely.has_m(geoms)
    if not has_m.any():
        return frame
    fixed = geoms.copy()
    for with_z, dimension in ((True, 3), (False, 2)):
        chosen = has_m & (has_z == with_z)
        if chosen.any():
            fixed[chosen] = shapely.from_wkb(shapely.to_wkb(geoms[chosen], output_dimension=dimension, flavor="iso"))
    notes.append(f"{label}: dropped the M (measure) values of {count(int(has_m.sum()), 'geometry', 'geometries')} ({describe_rows(np.flatnonzero(has_m) + 1)}); X, Y and Z are kept")
    logger.warning(notes[-1])
    return frame.set_geometry(gpd.GeoSeries(fixed, index=frame.index, crs=frame.crs))


def name_rows(rows, names: np.ndarray | None = None, column: str | None = None, limit: int = 10, *, numbers: bool = False) -> str:
    """Name rows of a layer (0-based positions) by their id column when one is given, else by row number.

    With ``numbers`` the row numbers come first and the ids after them (for errors: a row number counts the
    layer's features in order, from 1, and a GeoPackage's feature ids may skip numbers where features were
    deleted, so the ids are what a user can search for).

    Examples
    --------
    >>> import numpy as np
    >>> name_rows([0, 2])
    'rows 1, 3'
    >>> name_rows(np.array([0, 2]), np.array(["a", "b", "c"]), "bldg_id")
    'bldg_id a, c'
    >>> name_rows(np.array([0, 2]), np.array(["a", "b", "c"]), "bldg_id", numbers=True)
    'rows 1, 3 (bldg_id a, c)'
    >>> name_rows([4], numbers=True)
    'row 5'
    """
    rows = np.asarray(rows, dtype=np.int64)
    if names is None or column is None:
        return describe_rows(rows + 1, limit)
    shown = [str(v) for v in np.asarray(names)[rows]]
    more = f" (and {len(shown) - limit} more)" if len(shown) > limit else ""
    if numbers:
        word = "row" if len(rows) == 1 else "rows"
        return f"{word} {', '.join(str(r + 1) for r in rows[:limit])} ({column} {', '.join(shown[:limit])}){more}"
    return f"{column} {', '.join(shown[:limit])}{more}"


def _warn_duplicate_geometries(geoms: np.ndarray, empty: np.ndarray, label: str, notes: list[str], *, which=name_rows) -> None:
    """Warn about buildings drawn with exactly the same outline (:func:`gridgeo.arrays.outline_keys`: whatever vertex
    a ring starts at and whichever way it runs), often entered twice: households would count twice."""
    present = np.flatnonzero(~empty)
    keys = pd.Series(outline_keys(geoms[present]))
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        groups = keys[dup].nunique()
        notes.append(
            f"{label}: {which(present[dup])} have the same geometry as another building ({count(groups, 'group')}); they share one "
            "cell and one grid (check for buildings entered twice: their households count twice)"
        )
        logger.warning(notes[-1])


def _warn_nested_footprints(geoms: np.ndarray, label: str, notes: list[str], *, which=name_rows) -> None:
    """Warn about footprints that lie inside another one (OSM building parts, outlines drawn twice).

    Each keeps its own households, so a building drawn twice counts its
    households twice; identical outlines are warned about separately.
    """
    rows = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_empty(geoms))
    if len(rows) < 2:
        return
    shapes = geoms[rows]
    # candidate pairs by their boxes (a footprint inside another has its box inside the other's box), so the
    # exact predicates run on the few other-footprint pairs, not on every footprint against itself
    inner, outer = shapely.STRtree(shapes).query(shapes)
    box = shapely.bounds(shapes)
    a, b = box[inner], box[outer]
    candidate = (inner != outer) & (a[:, :2] >= b[:, :2]).all(axis=1) & (a[:, 2:] <= b[:, 2:]).all(axis=1)
    inner, outer = inner[candidate], outer[candidate]
    within = shapely.within(shapes[inner], shapes[outer])
    inner, outer = inner[within], outer[within]
    nested = np.unique(inner[~shapely.equals(shapes[inner], shapes[outer])])
    if len(nested):
        notes.append(
            f"{label}: {which(rows[nested])} {'lies' if len(nested) == 1 else 'lie'} inside another building's footprint "
            "(building parts, or outlines drawn twice?); each keeps its own households, so check that no household is counted twice"
        )
        logger.warning(notes[-1])


def _warn_overlaps(geoms: np.ndarray, ids: np.ndarray, label: str, notes: list[str]) -> tuple[list[Problem], float]:
    """Warn about communities overlapping by more than ``SLIVER_M2`` (their grids will overlap there too).

    Returns the overlap as a problem (empty list when none; partitioning goes on, `gridgeo validate` fails) and the
    area of those overlaps in m².
    """
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return [], 0.0
    area = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    big = np.flatnonzero(area > SLIVER_M2)
    if not len(big):
        return [], 0.0
    pairs = [f"{ids[left[i]]} & {ids[right[i]]} (rows {left[i] + 1}, {right[i] + 1}: {area[i]:,.0f} m²)" for i in big[:5]]
    more = f" and {len(big) - 5} more" if len(big) > 5 else ""
    problem = Problem(
        label,
        f"{count(len(big), 'pair')} of communities {'overlaps' if len(big) == 1 else 'overlap'}: {'; '.join(pairs)}{more}; a building in an overlap goes to the community "
        "holding most of its footprint and the grids of both cover the overlap",
        "clip the boundaries so they do not overlap",
    )
    notes.append(str(problem))
    logger.warning(notes[-1])
    return [problem], float(area[big].sum())


def _looks_swapped(communities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, c_label: str, b_label: str) -> str | None:
    """The label of the layer whose X and Y, swapped, would make the two (geographic) layers meet, or None."""
    if communities.crs is None or buildings.crs is None or CRS.from_user_input(communities.crs) != CRS.from_user_input(buildings.crs):
        return None
    if not CRS.from_user_input(communities.crs).is_geographic:
        return None
    c_box = shapely.box(*communities.total_bounds)
    b_box = shapely.box(*buildings.total_bounds)
    if shapely.intersects(shapely.box(*buildings.total_bounds[[1, 0, 3, 2]]), c_box):
        return b_label
    if shapely.intersects(shapely.box(*communities.total_bounds[[1, 0, 3, 2]]), b_box):
        return c_label
    return None


def _swapped_layers(communities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, c_label: str, b_label: str) -> Problem | None:
    """The problem of COMMUNITIES and BUILDINGS given the wrong way round, else None.

    Said only when both signs agree: more communities than buildings, and the typical community (median area) smaller
    than the typical building footprint.  A community without buildings, or a large footprint, happens in real data,
    but not both signs at once; buildings given as points never trigger it.

    Examples
    --------
    >>> import shapely
    >>> blocks = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 500, 500)], crs=32651)
    >>> houses = gpd.GeoDataFrame(geometry=[shapely.box(10 * i, 0, 10 * i + 8, 8) for i in range(5)], crs=32651)
    >>> _swapped_layers(blocks, houses, "c.gpkg", "b.gpkg") is None
    True
    >>> print(_swapped_layers(houses, blocks, "b.gpkg", "c.gpkg"))  # doctest: +NORMALIZE_WHITESPACE
    b.gpkg: has 5 features, more and smaller than the 1 of c.gpkg (median area 64 m² against 250,000 m²): the
    communities and the buildings look swapped — fix: give the communities first, then the buildings (c.gpkg b.gpkg)
    """
    if len(communities) <= len(buildings):
        return None
    c_geoms = communities.geometry
    b_geoms = buildings.geometry if CRS.from_user_input(buildings.crs) == CRS.from_user_input(communities.crs) else buildings.geometry.to_crs(communities.crs)
    polygonal = shapely.get_type_id(b_geoms.to_numpy()) if len(b_geoms) else np.zeros(0)
    if not np.isin(polygonal, (3, 6)).any():
        return None  # buildings as points: no footprint to compare
    metric = local_metric_crs(communities)
    c_area = float(np.nanmedian(shapely.area(c_geoms.to_crs(metric).to_numpy())))
    b_area = float(np.nanmedian(shapely.area(b_geoms[np.isin(polygonal, (3, 6))].to_crs(metric).to_numpy())))
    if not c_area < b_area:
        return None
    return Problem(
        c_label,
        f"has {len(communities):,} features, more and smaller than the {len(buildings):,} of {b_label} (median area {c_area:,.0f} m² "
        f"against {b_area:,.0f} m²): the communities and the buildings look swapped",
        f"give the communities first, then the buildings ({b_label} {c_label})",
    )


def _check_register_totals(problems: ProblemCollector, label: str, raw: pd.Series, column: str) -> None:
    """Register totals are whole numbers of 0 or more; an empty cell (no total for that community) keeps its estimate."""
    numeric = pd.to_numeric(raw, errors="coerce")
    blank = _blank(raw).to_numpy()
    values = numeric.to_numpy(dtype=float)
    text = ~blank & numeric.isna().to_numpy()
    if text.any():
        shown = ", ".join(repr(v) for v in raw[text].astype(str).unique()[:5])
        problems.add(label, f"{describe_rows(np.flatnonzero(text) + 1)}: register total '{column}' is not a number ({shown})", "use whole numbers, or leave the cell empty to keep that community's estimate")
    negative = np.isfinite(values) & (values < 0)
    if negative.any():
        problems.add(label, f"{describe_rows(np.flatnonzero(negative) + 1)}: register total '{column}' is negative", "use 0 or more")
    fractional = np.isfinite(values) & (values >= 0) & (values != np.round(values))
    if fractional.any():
        problems.add(label, f"{describe_rows(np.flatnonzero(fractional) + 1)}: register total '{column}' is not a whole number", "round the totals")


def _blank(values: pd.Series) -> pd.Series:
    """Where ``values`` hold nothing: missing, or text of only spaces (a cell emptied in a spreadsheet or attribute table)."""
    blank = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        blank |= values.astype(str).str.strip() == ""
    return blank


def _columns(frame: gpd.GeoDataFrame) -> str:
    return ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)


SHAPEFILE_FIELD_LENGTH = 10  # a DBF field name holds at most 10 characters


def id_column_candidate(frame: pd.DataFrame) -> str | None:
    """The first column whose name says it is an id (``…id``, ``…code``, 编码, 代码, 编号) and whose values are all given
    and all different, or None.

    Examples
    --------
    >>> id_column_candidate(pd.DataFrame({"name": ["a", "b"], "comm_id": ["X1", "X2"], "zone_code": ["Z", "Z"]}))
    'comm_id'
    >>> id_column_candidate(pd.DataFrame({"name": ["a", "b"]})) is None
    True
    """
    for column in frame.columns:
        if isinstance(frame, gpd.GeoDataFrame) and column == frame.geometry.name:
            continue
        if not names_an_id(column):
            continue
        values = frame[column]
        if not _blank(values).any() and not values.astype(str).duplicated().any():
            return str(column)
    return None


def meant_column(column: str, columns) -> tuple[str, str] | None:
    """The column of ``columns`` that was meant by a missing ``column``, and why, when one stands out; else None.

    A Shapefile cuts field names to 10 characters (``building_id`` is stored as ``building_i``); another letter case
    or a typo gives the closest name, but an id column is never taken for one that is not (``building``, the
    building's type, is not what ``building_id`` meant), nor the other way round.

    Examples
    --------
    >>> meant_column("building_id", ["building_i", "osm_id", "hh_est"])
    ('building_i', 'a Shapefile cuts field names to 10 characters')
    >>> meant_column("HH_EST", ["building_id", "hh_est"])
    ('hh_est', 'the closest name')
    >>> meant_column("households", ["building_id", "hh_est"]) is None
    True
    >>> meant_column("building_id", ["building", "osm_id", "hh_est"]) is None
    True
    """
    names = [str(c) for c in columns]
    if len(column) > SHAPEFILE_FIELD_LENGTH and column[:SHAPEFILE_FIELD_LENGTH] in names:
        return column[:SHAPEFILE_FIELD_LENGTH], f"a Shapefile cuts field names to {SHAPEFILE_FIELD_LENGTH} characters"
    is_id = column.lower().endswith("id")
    lower = {name.lower(): name for name in names if name.lower().endswith("id") == is_id}
    close = difflib.get_close_matches(column.lower(), list(lower), n=1, cutoff=0.75)
    return (lower[close[0]], "the closest name") if close else None


def _no_column(problems: ProblemCollector, label: str, frame: gpd.GeoDataFrame, column: str, tail: str = "") -> None:
    """Add the problem of a missing column: the column meant when one stands out, and every column of the layer."""
    meant = meant_column(column, [c for c in frame.columns if c != frame.geometry.name])
    if meant is None:
        fix = f"use one of: {_columns(frame)}{tail}"
    else:
        fix = f"use '{meant[0]}' ({meant[1]}); its columns: {_columns(frame)}{tail}"
    problems.add(label, f"has no column '{column}'", fix)


def _check_duplicates(problems: ProblemCollector, label: str, values: np.ndarray, column: str, *, skip: np.ndarray | None = None) -> None:
    """Name the rows whose ``column`` values repeat; rows in ``skip`` (empty ids, already a problem of their own) are left out."""
    series = pd.Series(values)
    kept = np.ones(len(series), dtype=bool) if skip is None else ~np.asarray(skip, dtype=bool)
    dup = np.zeros(len(series), dtype=bool)
    dup[kept] = series[kept].duplicated(keep=False).to_numpy()
    if dup.any():
        shown = ", ".join(repr(v) for v in pd.unique(series[dup])[:5])
        problems.add(label, f"{describe_rows(np.flatnonzero(dup) + 1)}: duplicate {column} values ({shown})", f"make '{column}' unique")


def _first_column(frame: pd.DataFrame, names, *, text: bool = False) -> str | None:
    """The first of ``names`` (any case) that is a column of ``frame`` holding a number (with ``text``: some text)."""
    lower = {str(c).lower(): c for c in frame.columns}
    for name in names:
        if name in lower:
            column = lower[name]
            values = frame[column]
            if values.map(lambda v: isinstance(v, str) and bool(v.strip())).any() if text else pd.to_numeric(values, errors="coerce").notna().any():
                return column
    return None


def _force_2d(geoms: np.ndarray) -> np.ndarray:
    """``shapely.force_2d`` where a geometry has Z; the others are kept as they are (no second copy of every footprint).

    Examples
    --------
    >>> import shapely
    >>> flat, raised = shapely.Point(1, 2), shapely.Point(1, 2, 3)
    >>> out = _force_2d(np.array([flat, raised], dtype=object))
    >>> out[0] is flat, bool(shapely.has_z(out[1]))
    (True, False)
    """
    raised = shapely.has_z(geoms)
    if not raised.any():
        return geoms
    out = geoms.copy()
    out[raised] = shapely.force_2d(geoms[raised])
    return out


def _repair(geoms: np.ndarray, label: str, notes: list[str], *, polygonal: bool, which=name_rows) -> np.ndarray:
    geoms = geoms.copy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    invalid = present & ~on_threads(shapely.is_valid, np.where(present, geoms, None))
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid])
        kinds = shapely.get_type_id(geoms[invalid])
        fixed = np.array([_keep_kind(f, k) for f, k in zip(fixed, kinds)], dtype=object)
        geoms[invalid] = fixed
        notes.append(f"{label}: repaired {count(int(invalid.sum()), 'invalid geometry', 'invalid geometries')} with make_valid ({which(np.flatnonzero(invalid))})")
        logger.warning(notes[-1])
    return geoms


def _keep_kind(geom, kind):
    """After make_valid keep the parts of the original dimension (polygons stay polygons)."""
    if kind in (3, 6):
        parts = shapely.get_parts(geom)
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        if len(parts) == 0:
            return shapely.Polygon()
        return shapely.union_all(parts)
    return geom
