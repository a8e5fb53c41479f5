"""Partition one community: parts → cells → cell graph → grid labels → grid polygons.

One call handles one community and touches nothing else, so communities can
be processed in any order, in parallel, with identical results: the random
generator of a community is seeded from the run's seed and the community id.
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from .. import timings
from ..cells.adjacency import CellGraph, build_cell_graph
from ..cells.tessellate import held_elsewhere, join_held_sites, merge_polygons, remove_spikes, split_parts, tessellate_part
from ..governance.workload import straight_distances, walking_tour
from ..units.cut import cut_households, cut_units, walking_order
from .corridors import join_through_corridors
from .notes import DETACHED, INFEASIBLE, OUT_OF_BAND, GridNote, make_note
from .plan import barrier_crossings_lower_bound, partition_part
from .routes import repair_by_routes
from .unitfit import fit_units

__all__ = ["CommunityResult", "CommunityTask", "partition_community", "run_community_task", "community_rng"]


@dataclass
class CommunityResult:
    """Grids of one community (metric CRS).

    Attributes
    ----------
    building_grid : ndarray of int
        Grid index (0-based, in the order of ``grid_geoms``) per building.
    grid_geoms : ndarray of Polygon
    notes : list of GridNote
    barrier_crossings : ndarray of int
        Per grid: how many barriers it spans (blocks joined minus one).
    barrier_crossings_min : int
        A lower bound on the crossings any in-band partition of this community
        into the same number of grids needs (see
        :func:`gridgeo.partition.plan.barrier_crossings_lower_bound`).
    """

    building_grid: np.ndarray
    grid_geoms: np.ndarray
    notes: list[GridNote]
    barrier_crossings: np.ndarray
    barrier_crossings_min: int = 0
    grid_units: list | None = None  # per grid: list of Unit, member positions index the grid's buildings
    unit_geoms: list | None = None  # per grid: list of unit geometries
    grid_tours: np.ndarray | None = None  # per grid: straight-line walking tour in metres (gridgeo.governance.workload)
    timings: dict | None = None  # seconds per stage in the worker (gridgeo.timings); never written to the outputs


@dataclass
class CommunityTask:
    """Everything one community needs, so it can run in another process or on a cluster."""

    geometry: object
    buildings: np.ndarray
    households: np.ndarray
    band: tuple[int, int]
    seed: int
    community_id: str
    barriers: np.ndarray | None = None
    unit_band: tuple[int, int] | None = None
    groups: np.ndarray | None = None  # per building: area group (-1: none)
    group_geoms: np.ndarray | None = None  # per group: polygon (dedicated grounds, compound)
    group_facility: np.ndarray | None = None  # per group: facility type of a dedicated grid, None for a compound
    household_breaks: list | None = None  # per building: shared order levels of consecutive register households (gridgeo.inputs.register)


def run_community_task(task: CommunityTask) -> CommunityResult:
    """Partition the community of ``task`` and cut its grids into joint units (picklable entry point)."""
    timings.take()  # this task's stage times only
    with timings.stage("other in communities"):
        result = _run_community_task(task)
    result.timings = timings.take()
    return result


def _run_community_task(task: CommunityTask) -> CommunityResult:
    # each building's representative point, once for the held-site check, the units and the tours
    points = shapely.point_on_surface(task.buildings)
    result = partition_community(
        task.geometry,
        task.buildings,
        task.households,
        band=task.band,
        rng=community_rng(task.seed, task.community_id),
        barriers=task.barriers,
        groups=task.groups,
        group_geoms=task.group_geoms,
        group_facility=task.group_facility,
        unit_band=task.unit_band,
        points=points,
    )
    xy = shapely.get_coordinates(points).reshape(-1, 2)
    with timings.stage("units"):
        if task.unit_band is not None:
            result.grid_units, result.unit_geoms = _joint_units(task, result, xy)
    with timings.stage("workload"):
        result.grid_tours = _straight_tours(xy, result.building_grid, len(result.grid_geoms))
    return result


def _straight_tours(xy: np.ndarray, building_grid: np.ndarray, n_grids: int) -> np.ndarray:
    """Per grid, the straight-line walking tour through its buildings' representative points ``xy``.

    The same figure :func:`gridgeo.governance.workload.grid_workload` computes without
    roads (buildings taken in the task's order, which is their code order);
    measured here so it runs in the community's worker.
    """
    tours = np.zeros(n_grids)
    for g in range(n_grids):
        rows = np.flatnonzero(building_grid == g)
        if len(rows) >= 2:
            tours[g] = walking_tour(straight_distances(xy[rows]))[1]
    return tours


def _joint_units(task: CommunityTask, result: CommunityResult, xy: np.ndarray | None = None):
    """Units of every grid, in walking order (through the buildings' representative points ``xy``), with the union of their buildings as geometry."""
    if xy is None:
        xy = shapely.get_coordinates(shapely.point_on_surface(task.buildings)).reshape(-1, 2)
    grid_units = []
    # per member of every unit, grid by grid: its unit and its building (for the geometries below)
    unit_sizes: list[int] = []
    member_parts: list[np.ndarray] = []
    for g in range(len(result.grid_geoms)):
        in_grid = np.flatnonzero(result.building_grid == g)
        hh = task.households[in_grid]
        positive = np.flatnonzero(hh > 0)
        if len(positive) == 0:
            grid_units.append([])
            continue
        order = positive[walking_order(xy[in_grid[positive]])]
        # members numbered by their place in the grid (in_grid), not in the walk
        if task.household_breaks is None:
            units = cut_units(hh[order], *task.unit_band, positions=order)
        else:  # a register: real doors, cut between staircases and floors where the band allows
            units = cut_households(hh[order], [task.household_breaks[in_grid[i]] for i in order], *task.unit_band, positions=order)
        grid_units.append(units)
        unit_sizes.extend(len(u.members) for u in units)
        member_parts.append(in_grid[[i for u in units for i, _, _ in u.members]])
    # geometry of every unit at once: its building, or the union of its buildings
    count = len(unit_sizes)
    unit_of = np.repeat(np.arange(count, dtype=np.int64), unit_sizes)
    member = np.concatenate(member_parts).astype(np.int64) if member_parts else np.zeros(0, dtype=np.int64)
    sizes = np.bincount(unit_of, minlength=count)
    geoms = np.empty(count, dtype=object)
    starts = np.searchsorted(unit_of, np.arange(count))
    single = sizes == 1
    geoms[single] = task.buildings[member[starts[single]]]
    several = np.flatnonzero(~single)
    if len(several):
        rank = np.full(count, -1, dtype=np.int64)
        rank[several] = np.arange(len(several))
        chosen = rank[unit_of] >= 0
        collections = shapely.geometrycollections(task.buildings[member[chosen]], indices=rank[unit_of[chosen]])
        # element-wise unary union: what shapely.union_all does for one collection, vectorised
        geoms[several] = shapely.lib.unary_union(collections)
    bounds = np.cumsum([0] + [len(units) for units in grid_units])
    unit_geoms = [list(geoms[bounds[g] : bounds[g + 1]]) for g in range(len(grid_units))]
    return grid_units, unit_geoms


def community_rng(seed: int, community_id: str) -> np.random.Generator:
    """The random generator of one community: a function of the seed and the id only."""
    return np.random.default_rng([int(seed), zlib.crc32(str(community_id).encode("utf-8"))])


def partition_community(
    geometry,
    buildings: np.ndarray,
    households: np.ndarray,
    *,
    band: tuple[int, int],
    rng: np.random.Generator,
    barriers: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    group_geoms: np.ndarray | None = None,
    group_facility: np.ndarray | None = None,
    unit_band: tuple[int, int] | None = None,
    trace: list | None = None,
    points: np.ndarray | None = None,
) -> CommunityResult:
    """Split one community into grids.

    Parameters
    ----------
    geometry : Polygon or MultiPolygon
        The community, metric CRS.
    buildings : ndarray of geometries
        Footprints or points assigned to this community, metric CRS.
    households : ndarray of int
        Households per building.
    band : (int, int)
        Household band of a grid.
    rng : numpy.random.Generator
    barriers : ndarray of LineString, optional
    groups : ndarray of int, optional
        Per building, its area group (-1: none).  A group's buildings form one
        cell seeded by the group's polygon, so they are never split and the
        grid boundary follows the polygon.
    group_geoms : ndarray of Polygon, optional
        Per group, its polygon (metric CRS, inside the community).
    group_facility : ndarray of object, optional
        Per group, the facility type when the group is a dedicated grid
        (专属网格), None for a compound kept whole.
    unit_band : (int, int), optional
        The joint-unit band: an oversize grid whose households no unit cut
        fits then takes in neighbouring households
        (:func:`gridgeo.partition.unitfit.fit_units`).
    trace : list, optional
        When given, receives one ``(graph, labels, notes, offset)`` tuple per
        connected piece partitioned: its cell graph, the grid label per cell,
        the grid notes, and the index of its first grid in the result (for
        diagnostics such as :func:`gridgeo.barrier_audit.barrier_audit`).
    points : ndarray of Point, optional
        Each building's representative point (``shapely.point_on_surface``),
        when the caller has them already; computed otherwise.

    Returns
    -------
    CommunityResult

    Examples
    --------
    >>> import numpy as np, shapely
    >>> community = shapely.box(0, 0, 400, 100)
    >>> b = np.array([shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 400, 20)])
    >>> r = partition_community(community, b, np.full(20, 40), band=(300, 500), rng=np.random.default_rng(0))
    >>> sorted(np.bincount(r.building_grid, weights=np.full(20, 40)).tolist())
    [400.0, 400.0]
    """
    low, high = band
    if points is None:
        points = shapely.point_on_surface(buildings)
    with timings.stage("tessellation"):
        parts = split_parts(geometry)
        part_of = _assign_parts(parts, buildings)
    n = len(buildings)
    building_grid = np.full(n, -1, dtype=np.int64)
    grid_geoms: list = []
    notes: list[GridNote] = []
    crossings: list[int] = []
    crossings_min = 0
    detached = len(parts) > 1
    n_groups = 0 if group_geoms is None else len(group_geoms)
    if n_groups:
        # each group belongs to the part it overlaps most; its buildings elsewhere stay loose
        overlap = np.array([[shapely.area(shapely.intersection(g, part)) for part in parts] for g in group_geoms])
        group_part = np.argmax(overlap, axis=1)
        groups = np.asarray(groups, dtype=np.int64)
    for p, part in enumerate(parts):
        members = np.flatnonzero(part_of == p)
        local_groups = here = None
        if n_groups:
            here = np.flatnonzero(group_part == p)
            remap = np.full(n_groups, -1, dtype=np.int64)
            remap[here] = np.arange(len(here))
            local_groups = np.where(groups[members] >= 0, remap[np.maximum(groups[members], 0)], -1)
            clipped = shapely.intersection(group_geoms[here], part)
        if len(members) == 0 and not (n_groups and len(here)):
            grid_geoms.append(part)
            crossings.append(0)
            if detached:
                notes.append(make_note(DETACHED, "detached_empty"))
            else:
                notes.append(make_note(INFEASIBLE, "no_buildings"))
            continue
        with timings.stage("tessellation"):
            if local_groups is not None and len(here):
                tess = tessellate_part(part, buildings[members], groups=local_groups, group_geoms=clipped, points=points[members])
            else:
                tess = tessellate_part(part, buildings[members], points=points[members])
        local_barriers = None
        if barriers is not None and len(barriers):
            hits = shapely.STRtree(barriers).query(part, predicate="intersects")
            local_barriers = barriers[hits] if len(hits) else None
        site_groups = (here, group_facility) if local_groups is not None and len(here) else None
        # overlapping footprints: a building whose representative point ended in another building's cell
        # shares that building's site (one grid for both), unless that leaves more grids out of band
        split = None
        with timings.stage("tessellation"):
            held = held_elsewhere(tess.cells, points[members], tess.site_of_building)
        if len(held):
            weight = np.bincount(tess.site_of_building, weights=households[members], minlength=len(tess.cells)).astype(np.int64)
            together = join_held_sites(tess, held, weight, high)
            if together is not tess:
                trial_rng = copy.deepcopy(rng)
                trial = _split_part(part, together, households[members], site_groups, local_barriers, low, high, trial_rng, detached)
                if _out_of_band(trial) == 0:
                    tess, split, rng = together, trial, trial_rng
                else:
                    split = _split_part(part, tess, households[members], site_groups, local_barriers, low, high, rng, detached)
                    if _out_of_band(trial) <= _out_of_band(split):
                        tess, split, rng = together, trial, trial_rng
        if split is None:
            split = _split_part(part, tess, households[members], site_groups, local_barriers, low, high, rng, detached)
        n_sites = len(tess.cells)
        graph, pieces, site_facility = split
        site_grid = np.full(n_sites, -1, dtype=np.int64)
        for nodes, sub, labels, part_notes in pieces:
            piece_cells = tess.cells[nodes]
            strips: dict = {}
            if any(note.status == OUT_OF_BAND for note in part_notes):
                with timings.stage("repairs and proofs"):
                    joined = _join_through_corridors(
                        sub, labels, part_notes, piece_cells, nodes, tess, buildings[members], low, high, local_barriers
                    )
                if joined is not None:
                    labels, part_notes, piece_cells, strips = joined
            if unit_band is not None:
                # strips may have parted cells that touched: the moves go by the cells as they are now
                with timings.stage("repairs and proofs"):
                    current = _still_touching(sub, piece_cells) if strips else sub
                    fitted = fit_units(current, labels, part_notes, band=(low, high), unit_band=unit_band, frozen=set(strips))
                if fitted is not None:
                    labels, part_notes, keep = fitted
                    strips = {new: strips[int(old)] for new, old in enumerate(keep) if int(old) in strips}
            offset = len(grid_geoms)
            if trace is not None:
                trace.append((sub, labels, part_notes, offset))
            site_grid[nodes] = labels + offset
            k = len(part_notes)
            notes.extend(part_notes)
            with timings.stage("grid polygons"):
                merged = []
                for label in range(k):
                    cells = piece_cells[labels == label]
                    if label in strips:
                        cells = np.concatenate([cells, np.array(strips[label], dtype=object)])
                    merged.append(_merge_cells(cells))
                grid_geoms.extend(_without_spikes(merged))
            crossings.extend(_barrier_crossings(sub, labels, k))
            if site_facility is not None and any(f is not None for f in site_facility[nodes]):
                # dedicated grids sit outside the band: only the plain count bound holds
                crossings_min += max(0, (sub.blocks()[0] if sub.barrier.nnz else 1) - k)
            else:
                crossings_min += barrier_crossings_lower_bound(sub, k, low, high)
        building_grid[members] = site_grid[tess.site_of_building]
    return CommunityResult(
        building_grid=building_grid,
        grid_geoms=np.array(grid_geoms, dtype=object),
        notes=notes,
        barrier_crossings=np.asarray(crossings, dtype=np.int64),
        barrier_crossings_min=crossings_min,
    )


def _out_of_band(split) -> int:
    """Grids of a :func:`_split_part` result left out of band without an excuse."""
    return sum(note.status == OUT_OF_BAND for _, _, _, notes in split[1] for note in notes)


def _split_part(part, tess, households, site_groups, barriers, low, high, rng, detached):
    """The cell graph of one tessellated part, per connected piece ``(nodes, graph, labels, notes)`` of its split, and the sites' facility types."""
    n_sites = len(tess.cells)
    site_weight = np.bincount(tess.site_of_building, weights=households, minlength=n_sites).astype(np.int64)
    site_facility = None
    if site_groups is not None and site_groups[1] is not None:
        here, group_facility = site_groups
        site_facility = np.full(n_sites, None, dtype=object)
        for local, g in enumerate(here):
            if group_facility[g] is not None:
                site_facility[tess.site_of_group[local]] = group_facility[g]
        if all(f is None for f in site_facility):
            site_facility = None
    with timings.stage("tessellation"):
        graph = build_cell_graph(tess.cells, site_weight, tess.anchors, barriers, outline_length=float(shapely.length(part)))
    # a part whose cells fall apart (pinched polygon) is split into connected pieces
    count, piece = connected_components(graph.shared, directed=False)
    pieces = []
    for q in range(count):
        nodes = np.flatnonzero(piece == q)
        sub = graph.subgraph(nodes) if count > 1 else graph
        with timings.stage("partition"):
            labels, notes = partition_part(
                sub,
                low,
                high,
                rng,
                detached=detached or count > 1,
                dedicated=site_facility[nodes] if site_facility is not None else None,
            )
        pieces.append((nodes, sub, labels, notes))
    return graph, pieces, site_facility


def _join_through_corridors(graph, labels, notes, cells, nodes, tess, buildings, low, high, barriers):
    """The strip repairs for one piece: :func:`gridgeo.partition.corridors.join_through_corridors`, then
    :func:`gridgeo.partition.routes.repair_by_routes` for grids still out of band (footprints per cell, no strips from area groups)."""
    n_sites = len(tess.cells)
    by_site: list[list] = [[] for _ in range(n_sites)]
    for b, site in enumerate(tess.site_of_building):
        by_site[site].append(buildings[b])
    allowed = np.ones(n_sites, dtype=bool)
    if tess.site_of_group is not None and len(tess.site_of_group):
        allowed[np.asarray(tess.site_of_group, dtype=np.int64)] = False
    footprints = [by_site[site] for site in nodes]
    joined = join_through_corridors(
        graph, labels, notes, cells, footprints, low, high, allowed_via=allowed[nodes], barriers=barriers
    )
    if joined is not None:
        labels, notes, cells, strips = joined
    else:
        strips = {}
    if any(note.status == OUT_OF_BAND for note in notes):
        routed = repair_by_routes(
            graph, labels, notes, cells, strips, footprints, low, high, allowed_via=allowed[nodes], barriers=barriers
        )
        if routed is not None:
            return routed
    return joined


def _still_touching(graph: CellGraph, cells: np.ndarray) -> CellGraph:
    """``graph`` without the adjacencies of cells that no longer share an edge (strips taken out between them)."""
    pairs = sp.triu(graph.shared, k=1).tocoo()
    edge = shapely.relate_pattern(cells[pairs.row], cells[pairs.col], "****1****")
    kept = sp.coo_matrix((pairs.data[edge], (pairs.row[edge], pairs.col[edge])), shape=graph.shared.shape)
    shared = (kept + kept.T).tocsr()
    return CellGraph(graph.weight, graph.area, graph.perimeter, graph.xy, shared, graph.barrier)


def _assign_parts(parts: np.ndarray, buildings: np.ndarray) -> np.ndarray:
    """Index of the part holding most of each building (nearest part for strays)."""
    n = len(buildings)
    if len(parts) == 1:
        return np.zeros(n, dtype=np.int64)
    tree = shapely.STRtree(parts)
    b_idx, p_idx = tree.query(buildings, predicate="intersects")
    polygonal = np.isin(shapely.get_type_id(buildings[b_idx]), (3, 6))
    overlap = np.where(polygonal, shapely.area(shapely.intersection(buildings[b_idx], parts[p_idx])), 1.0)
    out = np.full(n, -1, dtype=np.int64)
    order = np.lexsort((p_idx, -overlap, b_idx))
    b_sorted = b_idx[order]
    first = np.r_[True, b_sorted[1:] != b_sorted[:-1]] if len(b_sorted) else np.zeros(0, bool)
    out[b_sorted[first]] = p_idx[order][first]
    stray = np.flatnonzero(out < 0)
    if len(stray):
        out[stray] = tree.nearest(buildings[stray])
    return out


def _dissolve(cells: np.ndarray):
    """One grid's polygon from its cells (a coverage), without zero-width spikes."""
    return remove_spikes(_merge_cells(cells))


def _merge_cells(cells: np.ndarray):
    """The union of a grid's cells, one polygon where a hair-thin gap would leave two."""
    merged = cells[0] if len(cells) == 1 else merge_polygons(cells)
    if shapely.get_type_id(merged) != 3:
        merged = shapely.union_all(cells)
    if shapely.get_type_id(merged) == 6:
        # a hair-thin gap between cells: keep one polygon by closing it
        closed = shapely.buffer(shapely.buffer(merged, 1e-6), -1e-6)
        if shapely.get_type_id(closed) == 3:
            merged = closed
    return merged


def _without_spikes(polygons: list) -> list:
    """:func:`remove_spikes` of every polygon, called only where a ring goes out and back (checked for all rings at once).

    A vertex is the tip of a spike when its two neighbours on the ring lie
    within the tolerance of each other: the test :func:`remove_spikes` makes,
    with the same arithmetic, so a polygon found without one is returned as it
    is, as :func:`remove_spikes` returns it.
    """
    geoms = np.array(polygons, dtype=object)
    simple = shapely.get_type_id(geoms) == 3
    check = np.flatnonzero(simple)
    rings, owner = shapely.get_rings(geoms[check], return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    # each ring without its closing vertex; the neighbours of vertex i are i - 1 and i + 1 around the ring
    size = np.bincount(ring, minlength=len(rings)) - 1
    start = np.cumsum(np.concatenate([[0], size[:-1] + 1]))
    keep = np.ones(len(coords), dtype=bool)
    keep[start + size] = False
    coords, ring = coords[keep], ring[keep]
    first = np.repeat(start - np.arange(len(rings)), size)  # each ring's first vertex among the kept ones
    place = np.arange(len(coords)) - first
    length = size[ring]
    before = first + (place - 1) % length
    after = first + (place + 1) % length
    x, y = np.ascontiguousarray(coords[:, 0]), np.ascontiguousarray(coords[:, 1])  # gathers from columns: cheaper
    back = np.hypot(x[before] - x[after], y[before] - y[after]) <= _SPIKE_TOLERANCE
    back &= length >= 3  # (rings of fewer than three vertices have no spike to take)
    spiked = np.zeros(len(geoms), dtype=bool)
    spiked[check[np.unique(owner[ring[back]])]] = True
    spiked |= ~simple
    out = list(polygons)
    for g in np.flatnonzero(spiked):
        out[g] = remove_spikes(out[g])
    return out


#: the tolerance :func:`remove_spikes` uses by default
_SPIKE_TOLERANCE = 1e-6


def _barrier_crossings(graph, labels: np.ndarray, k: int) -> list[int]:
    if graph.barrier.nnz == 0:
        return [0] * k
    _, block = graph.blocks()
    out = []
    for label in range(k):
        out.append(len(np.unique(block[labels == label])) - 1)
    return out
