"""Cover a community with one cell per building site (morphological tessellation).

Each building's outline is shrunk a little and sampled along its boundary;
the Voronoi diagram of all samples, dissolved per building and clipped to the
community, gives cells that hold their building's footprint and tile the
community exactly.  Buildings given as points get plain Voronoi cells.  The
dissolved regions are traced directly from one Delaunay triangulation of the
samples (:mod:`gridgeo.cells.regions`); GEOS's Voronoi diagram, dissolved
region by region, is the fallback for degenerate samples.

Buildings with identical samples (duplicate geometries, several points at one
address) share one *site*; a site is the unit the partition moves.  A cell that
clipping leaves in several pieces is mended: the piece that holds the building
stays, every other piece goes to the neighbouring cell it shares the longest
boundary with, so every cell is one polygon.

This module works on shapely arrays only; it knows nothing about files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from ..arrays import group_rows, outline_keys
from ..partition.bisect import find_root
from .regions import site_regions

__all__ = ["Tessellation", "tessellate_part", "split_parts", "merge_polygons", "remove_spikes", "held_elsewhere", "join_held_sites"]

_SHRINK_M = 0.4
_SPACING_M = 3.0
_JITTER_M = 1e-3
_JITTER_SEED = 20240601


@dataclass
class Tessellation:
    """Cells of one connected community part.

    Attributes
    ----------
    cells : ndarray of Polygon
        One cell per site.
    site_of_building : ndarray of int
        For every input building (in input order), the index of its site.
    site_of_group : ndarray of int
        For every area group (dedicated facility, compound), the index of its site.
    anchors : ndarray of Point
        A point inside each site's building or area.
    """

    cells: np.ndarray
    site_of_building: np.ndarray
    site_of_group: np.ndarray | None = None
    anchors: np.ndarray | None = None


def split_parts(geometry) -> np.ndarray:
    """The polygons of a (Multi)Polygon community, largest first."""
    parts = shapely.get_parts(geometry)
    parts = parts[shapely.area(parts) > 0]
    order = np.argsort(-shapely.area(parts), kind="stable")
    return parts[order]


def _samples(buildings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boundary samples of shrunk footprints (or the points themselves), with building labels."""
    kinds = shapely.get_type_id(buildings)
    polygonal = (kinds == 3) | (kinds == 6)
    shrunk = buildings.copy()
    if polygonal.any():
        inner = shapely.buffer(buildings[polygonal], -_SHRINK_M, join_style="mitre")
        small = shapely.is_empty(inner) | (shapely.area(inner) <= 0)
        inner[small] = shapely.point_on_surface(buildings[polygonal][small])
        shrunk[polygonal] = inner
    dense = shapely.segmentize(shrunk, _SPACING_M)
    # the samples: the coordinates of every ring (exterior first), as in the outlines' boundaries, or the point
    coords, index = shapely.get_coordinates(dense, return_index=True)
    # closed rings repeat their first vertex: drop exact duplicates within and across buildings
    order, group = group_rows(np.round(coords, 3) + 0.0)
    starts = np.ones(len(group), dtype=bool)
    starts[1:] = group[1:] != group[:-1]
    kept = np.zeros(len(coords), dtype=bool)
    kept[order[starts]] = True  # the first of each group (the sort is stable), in input order
    first = np.flatnonzero(kept)
    coords = coords[first]
    # GEOS returns broken Voronoi cells for collinear / cocircular samples (regular layouts);
    # a fixed sub-millimetre jitter removes the degeneracy and keeps results reproducible
    coords = coords + np.random.default_rng(_JITTER_SEED).uniform(-_JITTER_M, _JITTER_M, coords.shape)
    index = index[first]
    if polygonal.sum() > 1:
        coords, index = _without_buried_samples(coords, index, buildings, shrunk, polygonal)
    return coords, index


def _without_buried_samples(coords: np.ndarray, index: np.ndarray, buildings: np.ndarray, shrunk: np.ndarray, polygonal: np.ndarray):
    """Drop the samples that lie inside another building's footprint (overlapping footprints).

    Such a sample would give that building's ground, and often its
    representative point, to the neighbour.  A building keeps its samples when
    all of them would go (a footprint nested in another).  ``index`` must be
    non-decreasing (samples grouped by building).
    """
    poly_idx = np.flatnonzero(polygonal)
    # the samples lie on the shrunk outlines: only a footprint reaching one can hold a sample, and
    # footprints that merely share a wall do not (their boxes miss, which the tree sees cheaply)
    left, right = shapely.STRtree(buildings[poly_idx]).query(shrunk[poly_idx])
    # the exact test only for pairs of two footprints (a shrunk outline always meets its own footprint)
    other = left != right
    left, right = left[other], right[other]
    meet = shapely.intersects(shrunk[poly_idx[left]], buildings[poly_idx[right]])
    left, right = poly_idx[left[meet]], poly_idx[right[meet]]
    if not len(left):
        return coords, index
    bounds = np.searchsorted(index, np.arange(len(buildings) + 1))
    counts = bounds[left + 1] - bounds[left]
    pair = np.repeat(np.arange(len(left)), counts)
    sample = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + bounds[left][pair]
    shapely.prepare(buildings[np.unique(right)])
    inside = shapely.contains_xy(buildings[right[pair]], coords[sample, 0], coords[sample, 1])
    drop = np.zeros(len(coords), dtype=bool)
    drop[sample[inside]] = True
    kept_any = np.bincount(index[~drop], minlength=len(buildings)) > 0
    drop &= kept_any[index]
    return coords[~drop], index[~drop]


def tessellate_part(
    part,
    buildings: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    group_geoms: np.ndarray | None = None,
    points: np.ndarray | None = None,
) -> Tessellation:
    """Tessellate one polygon ``part`` among ``buildings`` (all inside it).

    Parameters
    ----------
    part : shapely.Polygon
        The community part, in a metric CRS.
    buildings : ndarray of geometries
        Footprints or points.
    groups : ndarray of int, optional
        Per building, the area group it belongs to (-1: none).  All buildings of
        a group share one site, seeded by the group's polygon instead of their
        footprints, so the cell follows the area's outline (a dedicated
        facility's grounds, a compound's wall).
    group_geoms : ndarray of Polygon, optional
        The polygon of each group, inside ``part``; a group may hold no building.
    points : ndarray of Point, optional
        Each building's representative point (``shapely.point_on_surface``),
        when the caller has them already; computed otherwise.

    Returns
    -------
    Tessellation
        Cells tiling ``part``, one per site, each a single polygon.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> part = shapely.box(0, 0, 100, 100)
    >>> b = np.array([shapely.box(10, 10, 20, 20), shapely.box(70, 70, 80, 80)])
    >>> t = tessellate_part(part, b)
    >>> round(float(shapely.area(t.cells).sum()), 6)
    10000.0
    >>> school = np.array([shapely.box(50, 0, 100, 50)])
    >>> t = tessellate_part(part, b, groups=np.array([-1, -1]), group_geoms=school)
    >>> len(t.cells), bool(shapely.covers(t.cells[t.site_of_group[0]].buffer(0.5), school[0]))
    (3, True)
    """
    n = len(buildings)
    if groups is None or group_geoms is None or len(group_geoms) == 0:
        groups = np.full(n, -1, dtype=np.int64)
        group_geoms = np.zeros(0, dtype=object)
    groups = np.asarray(groups, dtype=np.int64)
    # sampling units: every building outside the groups, then one unit per group
    loose = np.flatnonzero(groups < 0)
    units = np.concatenate([buildings[loose], np.asarray(group_geoms, dtype=object)])
    unit_of_building = np.empty(n, dtype=np.int64)
    unit_of_building[loose] = np.arange(len(loose))
    grouped = groups >= 0
    unit_of_building[grouped] = len(loose) + groups[grouped]
    group_units = len(loose) + np.arange(len(group_geoms))
    m = len(units)
    if points is None:
        unit_anchors = shapely.point_on_surface(units)
    else:
        unit_anchors = np.concatenate([np.asarray(points, dtype=object)[loose], shapely.point_on_surface(np.asarray(group_geoms, dtype=object))])
    if m == 1:
        return Tessellation(np.array([part], dtype=object), np.zeros(n, dtype=np.int64), np.zeros(len(group_geoms), dtype=np.int64), unit_anchors)
    coords, labels = _samples(units)
    # units left without samples of their own join the site of the unit they duplicate
    site_of_unit = np.full(m, -1, dtype=np.int64)
    present = labels[np.flatnonzero(np.diff(labels, prepend=-1))]  # the labels are grouped by unit, in unit order
    site_of_unit[present] = np.arange(len(present))
    missing = np.flatnonzero(site_of_unit < 0)
    if len(missing):
        # a unit drawn exactly as another shares its site; the others (a footprint whose samples all lie on or
        # in other buildings) join the site of the nearest sample, and the units drawn as they are follow them
        leader = _join_duplicates(units, site_of_unit, missing)
        alone = missing[(leader == missing) & (site_of_unit[missing] < 0)]
        if len(alone):
            nearest = shapely.STRtree(shapely.points(coords)).nearest(unit_anchors[alone])
            site_of_unit[alone] = site_of_unit[labels[nearest]]
        site_of_unit[missing] = site_of_unit[leader]
    n_sites = len(present)
    anchors = np.empty(n_sites, dtype=object)
    anchors[site_of_unit] = unit_anchors
    site_of_building = site_of_unit[unit_of_building]
    site_of_group = site_of_unit[group_units]
    if n_sites == 1:
        return Tessellation(np.array([part], dtype=object), site_of_building, site_of_group, anchors)
    site_labels = site_of_unit[labels]

    cells = _voronoi_cells(coords, site_labels, n_sites, anchors, part)
    empty = np.flatnonzero(shapely.is_empty(cells))
    if len(empty):
        # a site whose samples all fell outside the part (a footprint drawn around the part, say):
        # a sample inside the part for each of its units, and the diagram again
        lost = np.flatnonzero(np.isin(site_of_unit, empty))
        inside = shapely.point_on_surface(shapely.intersection(units[lost], part))
        found = ~shapely.is_empty(inside)
        if found.any():
            coords = np.vstack([coords, shapely.get_coordinates(inside[found])])
            site_labels = np.r_[site_labels, site_of_unit[lost[found]]]
            cells = _voronoi_cells(coords, site_labels, n_sites, anchors, part)
    if shapely.is_empty(cells).any():
        return _without_empty_sites(Tessellation(cells, site_of_building, site_of_group, anchors))
    return Tessellation(cells, site_of_building, site_of_group, anchors)


def _voronoi_cells(coords: np.ndarray, site_labels: np.ndarray, n_sites: int, anchors: np.ndarray, part) -> np.ndarray:
    """One cell per site from the Voronoi diagram of the samples ``coords`` (site per sample in ``site_labels``)."""
    area = shapely.area(part)
    regions = site_regions(coords, site_labels, n_sites, part)
    if regions is not None:
        cells = _clip_and_mend(regions, anchors, part)
        if abs(shapely.area(cells).sum() - area) <= 1e-9 * area:
            return cells
    # degenerate samples for the traced regions: GEOS's diagram, each region dissolved per site
    extent = shapely.buffer(shapely.envelope(part), 10.0)
    regions = shapely.get_parts(shapely.voronoi_polygons(_multipoint(coords), extend_to=extent, ordered=True))
    usable = (shapely.get_type_id(regions) == 3) & ~shapely.is_empty(regions)
    cells = _cells(regions[usable], site_labels[usable], n_sites, anchors, part)
    # GEOS may return a broken Voronoi region for degenerate samples (none in the real datasets):
    # the cells of a tiling add up to the part's area, so a shortfall is checked, not assumed away
    if abs(shapely.area(cells).sum() - area) > 1e-9 * area:
        broken = usable & ~shapely.is_valid(regions)
        if broken.any():
            regions[broken] = shapely.make_valid(regions[broken])
            cells = _cells(regions[usable], site_labels[usable], n_sites, anchors, part)
    return cells


def _without_empty_sites(tess: Tessellation) -> Tessellation:
    """Sites left without ground in the part share the cell nearest to their anchor."""
    empty = shapely.is_empty(tess.cells)
    keep = np.flatnonzero(~empty)
    target = np.arange(len(tess.cells))
    target[empty] = keep[shapely.STRtree(tess.cells[keep]).nearest(tess.anchors[empty])]
    remap = np.full(len(tess.cells), -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    site = remap[target]
    return Tessellation(
        tess.cells[keep],
        site[tess.site_of_building],
        None if tess.site_of_group is None else site[tess.site_of_group],
        tess.anchors[keep],
    )


def _cells(regions: np.ndarray, labels: np.ndarray, n_sites: int, anchors: np.ndarray, part) -> np.ndarray:
    """Voronoi regions dissolved per site, clipped to ``part`` and mended into single polygons."""
    return _clip_and_mend(_dissolve_by_site(regions, labels, n_sites), anchors, part)


def _clip_and_mend(raw: np.ndarray, anchors: np.ndarray, part) -> np.ndarray:
    """Regions per site clipped to ``part`` and mended into single polygons."""
    # only the cells reaching the part's boundary need clipping
    shapely.prepare(part)  # a cache on the geometry object; its value is unchanged
    clipped = raw.copy()
    outside = ~shapely.contains_properly(part, raw)
    clipped[outside] = shapely.intersection(raw[outside], part)
    return _mend(clipped, anchors, part)


def _multipoint(coords: np.ndarray):
    """A MultiPoint of ``coords`` built from WKB in one step (no Point object per sample)."""
    n = len(coords)
    records = np.zeros(n, dtype=[("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
    records["order"], records["kind"] = 1, 1
    records["x"], records["y"] = coords[:, 0], coords[:, 1]
    header = np.array([1], dtype="u1").tobytes() + np.array([4, n], dtype="<u4").tobytes()
    return shapely.from_wkb(header + records.tobytes())


def _dissolve_by_site(regions: np.ndarray, labels: np.ndarray, n_sites: int) -> np.ndarray:
    """One polygon per site: the union of its Voronoi regions (a coverage), vectorised over sites."""
    order = np.argsort(labels, kind="stable")
    regions, labels = regions[order], labels[order]
    collections = shapely.geometrycollections(regions, indices=labels, out=np.full(n_sites, None, dtype=object))
    # a site without regions gets an empty collection (GEOS's coverage union crashes on an empty Polygon)
    collections = np.where(shapely.is_missing(collections), shapely.GeometryCollection(), collections)
    try:
        # shapely's element-wise coverage union (what coverage_union_all calls per collection)
        merged = shapely.lib.coverage_union(collections)
        if shapely.is_valid(merged).all():
            return merged
    except (shapely.errors.GEOSException, AttributeError):
        pass
    bounds = np.searchsorted(labels, np.arange(n_sites + 1))
    return np.array(
        [merge_polygons(regions[bounds[s] : bounds[s + 1]]) if bounds[s + 1] > bounds[s] else shapely.Polygon() for s in range(n_sites)],
        dtype=object,
    )


def merge_polygons(pieces: np.ndarray):
    """Union of polygons that should form a coverage (fast), falling back to a full union."""
    try:
        merged = shapely.coverage_union_all(pieces)
    except shapely.errors.GEOSException:
        return shapely.union_all(pieces)
    if not shapely.is_valid(merged):
        return shapely.union_all(pieces)
    return merged


def remove_spikes(polygon, tolerance: float = 1e-6):
    """``polygon`` without zero-width spikes (a ring going out and back along the same line).

    Dissolving cells can leave a slit where a cell's boundary touches itself
    (around a compound's outline, say); it has no area and is valid by a hair in
    the metric CRS, but turns into a self-intersection once reprojected to
    longitude/latitude.  Removing the out-and-back vertices changes no area and
    no edge shared with a neighbour.  Returns the same object when there is none.

    Examples
    --------
    >>> import shapely
    >>> p = shapely.Polygon([(0, 0), (4, 0), (4, 2), (2, 2), (2, 5), (2, 2), (0, 2)])
    >>> remove_spikes(p).wkt
    'POLYGON ((0 0, 4 0, 4 2, 2 2, 0 2, 0 0))'
    """
    if shapely.get_type_id(polygon) == 6:
        parts = [remove_spikes(part, tolerance) for part in shapely.get_parts(polygon)]
        return shapely.MultiPolygon([p for p in parts if not p.is_empty])
    if shapely.get_type_id(polygon) != 3 or polygon.is_empty:
        return polygon
    rings = [polygon.exterior, *polygon.interiors]
    cleaned = [_ring_without_spikes(shapely.get_coordinates(ring), tolerance) for ring in rings]
    if all(c is None for c in cleaned):
        return polygon
    coords = [shapely.get_coordinates(ring) if c is None else c for ring, c in zip(rings, cleaned)]
    if len(coords[0]) < 4:
        return polygon
    return shapely.Polygon(coords[0], [c for c in coords[1:] if len(c) >= 4])


def _ring_without_spikes(coords: np.ndarray, tolerance: float) -> np.ndarray | None:
    """The closed ring ``coords`` with every out-and-back spike removed, or None when it has none."""
    ring = coords[:-1]
    changed = False
    while len(ring) >= 3:
        back = np.hypot(*(np.roll(ring, 1, axis=0) - np.roll(ring, -1, axis=0)).T) <= tolerance
        if not back.any():
            break
        i = int(np.flatnonzero(back)[0])
        # the tip (i) and the vertex where the ring comes back (i + 1) go
        ring = np.delete(ring, [i, (i + 1) % len(ring)], axis=0)
        changed = True
    if not changed:
        return None
    return np.vstack([ring, ring[:1]]) if len(ring) else ring


def _polygonal(geom):
    """Keep only the polygonal parts of a clipping result."""
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (3,)) & (shapely.area(parts) > 0)]
    return parts


def _mend(cells: np.ndarray, anchors: np.ndarray, part) -> np.ndarray:
    """Make every cell one polygon: stray pieces join the neighbour with the longest shared edge."""
    n = len(cells)
    kept = np.empty(n, dtype=object)
    strays = []
    simple = (shapely.get_type_id(cells) == 3) & ~shapely.is_empty(cells)
    kept[simple] = cells[simple]
    complex_ = np.flatnonzero(~simple)
    if len(complex_):
        pieces, owner = shapely.get_parts(cells[complex_], return_index=True)
        good = (shapely.get_type_id(pieces) == 3) & (shapely.area(pieces) > 0)
        pieces, owner = pieces[good], complex_[owner[good]]
        # per cell the first piece holding its building's anchor, else the largest piece
        holds = shapely.intersects(pieces, anchors[owner])
        area = shapely.area(pieces)
        rank = np.lexsort((np.arange(len(pieces)), -area, ~holds, owner))
        first = np.ones(len(rank), dtype=bool)
        first[1:] = owner[rank][1:] != owner[rank][:-1]
        keep = rank[first]
        kept[owner[keep]] = pieces[keep]
        is_kept = np.zeros(len(pieces), dtype=bool)
        is_kept[keep] = True
        strays = list(pieces[~is_kept])
    empty = [i for i in range(n) if kept[i] is None]
    if empty:
        # a site whose cell vanished (a building outside the part's interior): give it a sliver
        for i in empty:
            kept[i] = shapely.intersection(shapely.buffer(anchors[i], 0.5), part)
            for j in range(n):
                if j != i and kept[j] is not None:
                    kept[j] = shapely.difference(kept[j], kept[i])
    rounds = 0
    while strays and rounds < 50:
        rounds += 1
        left = _absorb_strays(kept, np.array(strays, dtype=object))
        if len(left) == len(strays):
            break
        strays = left
    if strays:
        # pieces touching nothing by an edge (rare): keep area by joining them to the nearest cell
        tree = shapely.STRtree(kept)
        for stray in strays:
            best = int(tree.nearest(stray))
            kept[best] = shapely.union(kept[best], stray)
    return kept


def _absorb_strays(kept: np.ndarray, strays: np.ndarray) -> list:
    """One round of mending, vectorised: each stray joins the cell it shares the longest edge with.

    ``kept`` is updated in place; the strays that could not join a cell yet
    (touching only other strays, or making a cell fall apart) are returned.
    """
    tree = shapely.STRtree(kept)
    stray_of, cell_of = tree.query(strays, predicate="intersects")
    if len(stray_of) == 0:
        return list(strays)
    shared = shapely.length(shapely.intersection(shapely.boundary(kept[cell_of]), shapely.boundary(strays[stray_of])))
    # per stray the longest shared edge, ties to the lowest cell index (deterministic)
    order = np.lexsort((cell_of, -shared, stray_of))
    first = np.ones(len(order), dtype=bool)
    first[1:] = stray_of[order][1:] != stray_of[order][:-1]
    pick = order[first]
    pick = pick[shared[pick] > 0]
    joined = np.zeros(len(strays), dtype=bool)
    target, which = cell_of[pick], stray_of[pick]
    by_target = np.argsort(target, kind="stable")
    target, which = target[by_target], which[by_target]
    cells = np.unique(target)
    members = np.concatenate([cells, target])
    pieces = np.concatenate([kept[cells], strays[which]])
    groups = np.searchsorted(cells, members)
    sort = np.argsort(groups, kind="stable")
    collections = shapely.geometrycollections(pieces[sort], indices=groups[sort])
    try:
        merged = shapely.lib.coverage_union(collections)
    except (shapely.errors.GEOSException, AttributeError):
        merged = np.array([shapely.union_all(shapely.get_parts(c)) for c in collections], dtype=object)
    single = (shapely.get_type_id(merged) == 3) & shapely.is_valid(merged)
    for g in np.flatnonzero(~single):
        # not a clean coverage: a full union, accepted only when it gives one polygon
        result = _polygonal(shapely.union_all(shapely.get_parts(collections[g])))
        if len(result) == 1:
            merged[g] = result[0]
            single[g] = True
    kept[cells[single]] = merged[single]
    joined[which[single[np.searchsorted(cells, target)]]] = True
    return list(strays[~joined])


def _join_duplicates(units: np.ndarray, site_of_unit: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Give each unit of ``missing`` the site of a unit drawn with exactly its outline (in place); the units left.

    Identical outlines (the parts of one tower mapped as stacked outlines of
    different heights, a building entered twice) give identical samples: only
    the first keeps them, and the others must join its site, not the site of
    whichever sample lies nearest (a neighbour's, when the outline is large).
    Returns ``leader``: per unit of ``missing``, the unit whose site it takes
    once that has one (itself when it still needs a site of its own, or the
    first of ``missing`` drawn as it is).

    Examples
    --------
    >>> import numpy as np, shapely
    >>> units = np.array([shapely.box(0, 0, 1, 1), shapely.box(5, 0, 6, 1), shapely.box(0, 0, 1, 1),
    ...                   shapely.box(8, 0, 9, 1), shapely.box(8, 0, 9, 1)])
    >>> sites = np.array([0, 1, -1, -1, -1])
    >>> _join_duplicates(units, sites, np.array([2, 3, 4])).tolist()
    [0, 3, 3]
    >>> sites.tolist()
    [0, 1, 0, -1, -1]
    """
    leader = missing.copy()
    if not len(missing):
        return leader
    # only outlines with the same bounds can be identical: compare those by their normalised form
    bounds = [tuple(row) for row in np.round(shapely.bounds(units), 9).tolist()]
    wanted = {bounds[u] for u in missing.tolist()}
    candidates = np.array([u for u, b in enumerate(bounds) if b in wanted], dtype=np.int64)
    keys = dict(zip(candidates.tolist(), outline_keys(units[candidates]).tolist()))
    first: dict[bytes, int] = {}
    for unit in candidates.tolist():
        if site_of_unit[unit] >= 0:
            first.setdefault(keys[unit], unit)
    for position, unit in enumerate(missing.tolist()):
        key = keys[unit]
        if key in first:
            leader[position] = first[key]
            if site_of_unit[first[key]] >= 0:
                site_of_unit[unit] = site_of_unit[first[key]]
        else:
            first[key] = unit
    return leader


def held_elsewhere(cells: np.ndarray, points: np.ndarray, site_of_point: np.ndarray) -> np.ndarray:
    """Pairs ``(site, holder)``: a point of ``site`` (a building's representative point) lies in ``holder``'s cell.

    Overlapping footprints can leave a building's representative point in the
    cell of the building drawn over it; the partition then keeps the two in one
    grid where the band allows (:func:`join_held_sites`).

    Examples
    --------
    >>> import numpy as np, shapely
    >>> cells = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> held_elsewhere(cells, shapely.points([(0.5, 0.5), (0.5, 0.2)]), np.array([0, 1])).tolist()
    [[1, 0]]
    """
    points = np.asarray(points, dtype=object)
    site_of_point = np.asarray(site_of_point, dtype=np.int64)
    own = shapely.covers(cells[site_of_point], points)
    stray = np.flatnonzero(~own)
    if not len(stray):
        return np.zeros((0, 2), dtype=np.int64)
    which, holder = shapely.STRtree(cells).query(points[stray], predicate="intersects")
    first = np.unique(which, return_index=True)[1]
    pairs = np.column_stack([site_of_point[stray[which[first]]], holder[first]])
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def join_held_sites(tess: Tessellation, held: np.ndarray, weight: np.ndarray, high: int) -> Tessellation:
    """Tessellation with each pair of ``held`` sites made one site where that cannot cost the band.

    ``held`` pairs (from :func:`held_elsewhere`) are buildings whose
    representative point lies in another building's cell (overlapping
    footprints).  Made one site, they always share a grid, so neither looks
    split.  A pair is joined only when the joined site either stays within
    ``high`` households or already holds a building above ``high`` (whose grid
    is outside the band by rule anyway), and only when the joined cells form
    one polygon; area groups (dedicated facilities, compounds) are never joined.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(3)])
    >>> t = Tessellation(cells, np.array([0, 1, 2]), None, shapely.centroid(cells))
    >>> joined = join_held_sites(t, np.array([[1, 0], [2, 1]]), np.array([6, 5, 9]), 15)
    >>> len(joined.cells), joined.site_of_building.tolist()  # 6 + 5 joined; 9 more would pass 15
    (2, [0, 0, 1])
    """
    n = len(tess.cells)
    weight = np.asarray(weight, dtype=np.int64)
    parent = list(range(n))
    total = weight.copy()
    big = weight > high
    grouped = np.zeros(n, dtype=bool)
    if tess.site_of_group is not None and len(tess.site_of_group):
        grouped[tess.site_of_group] = True

    for site, holder in np.asarray(held, dtype=np.int64).reshape(-1, 2):
        if grouped[site] or grouped[holder]:
            continue
        a, b = find_root(parent, int(site)), find_root(parent, int(holder))
        if a == b or not (big[a] or big[b] or total[a] + total[b] <= high):
            continue
        a, b = min(a, b), max(a, b)
        parent[b] = a
        total[a] += total[b]
        big[a] |= big[b]
    roots = np.array([find_root(parent, i) for i in range(n)])
    merged = {}
    for r in np.unique(roots[roots != np.arange(n)]):
        union = merge_polygons(tess.cells[roots == r])
        if shapely.get_type_id(union) == 3:
            merged[int(r)] = union
        else:  # a join that would not give one polygon: its sites stay apart
            apart = np.flatnonzero(roots == r)
            roots[apart] = apart
    if not merged:
        return tess
    kept, new_of_old = np.unique(roots, return_inverse=True)
    # a root left alone is its own site (a rejected join was undone above): its cell and anchor stay
    cells = tess.cells[kept]
    anchors = tess.anchors[kept] if tess.anchors is not None else np.full(len(kept), None, dtype=object)
    for r, union in merged.items():
        new = int(np.searchsorted(kept, r))
        cells[new] = union
        if tess.anchors is not None:
            # the point of the site with the most households anchors the joined site
            members = np.flatnonzero(roots == r)
            anchors[new] = tess.anchors[members[int(np.argmax(weight[members]))]]
    return Tessellation(
        cells,
        new_of_old[tess.site_of_building],
        None if tess.site_of_group is None else new_of_old[tess.site_of_group],
        anchors if tess.anchors is not None else None,
    )
