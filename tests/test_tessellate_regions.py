"""Site regions traced from one Delaunay triangulation (gridgeo.cells.regions) against GEOS's Voronoi diagram."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

import gridgeo.cells.regions as regions_module
import gridgeo.cells.tessellate as tessellate
from gridgeo.cells.regions import site_regions
from gridgeo.cells.tessellate import _dissolve_by_site, _multipoint, _samples, tessellate_part


def _geos_regions(coords, labels, n_sites, part):
    """The former construction: every sample's Voronoi region from GEOS, dissolved per site."""
    extent = shapely.buffer(shapely.envelope(part), 10.0)
    regions = shapely.get_parts(shapely.voronoi_polygons(_multipoint(coords), extend_to=extent, ordered=True))
    return _dissolve_by_site(regions, labels, n_sites)


def test_traced_regions_are_geos_voronoi_dissolved_per_building(taipei_parts):
    for part, footprints in taipei_parts:
        coords, labels = _samples(footprints)
        _, labels = np.unique(labels, return_inverse=True)
        n_sites = int(labels.max()) + 1
        traced = site_regions(coords, labels, n_sites, part)
        assert traced is not None
        assert shapely.is_valid(traced).all()
        inside = shapely.intersection(traced, part)
        assert shapely.coverage_is_valid(inside)
        assert shapely.area(inside).sum() == pytest.approx(part.area, rel=1e-9)
        reference = shapely.intersection(_geos_regions(coords, labels, n_sites, part), part)
        # the same cells up to rounding: the symmetric difference of each pair is below a square millimetre
        assert shapely.area(shapely.symmetric_difference(inside, reference)).max() < 1e-6


def test_a_site_enclosed_by_another_leaves_a_hole():
    # a square ring of one building's samples around one sample of another: the ring's region gets a hole
    rng = np.random.default_rng(3)
    side = np.linspace(0.0, 20.0, 11)
    ring = np.vstack([np.column_stack([side, np.zeros(11)]), np.column_stack([side, np.full(11, 20.0)]),
                      np.column_stack([np.zeros(9), side[1:-1]]), np.column_stack([np.full(9, 20.0), side[1:-1]])])  # fmt: skip
    coords = np.vstack([ring, [[10.0, 10.0]]]) + rng.uniform(-1e-3, 1e-3, (len(ring) + 1, 2))
    labels = np.r_[np.zeros(len(ring), dtype=np.int64), 1]
    frame = shapely.box(-5, -5, 25, 25)
    regions = site_regions(coords, labels, 2, frame)
    assert regions is not None
    outer, inner = regions
    assert shapely.get_type_id(outer) == 3 and len(outer.interiors) == 1
    assert shapely.equals(shapely.Polygon(outer.interiors[0]), inner)
    assert shapely.contains_xy(inner, 10.0, 10.0) and not shapely.contains_xy(outer, 10.0, 10.0)


def test_a_site_in_two_pieces_is_a_multipolygon_with_each_hole_in_its_piece():
    # site 0: two clusters far apart, site 1 a wall of samples between them, site 2 one sample inside the east cluster
    rng = np.random.default_rng(5)
    theta = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    circle = np.column_stack([np.cos(theta), np.sin(theta)]) * 10.0
    west, east = circle + [0.0, 0.0], circle + [100.0, 0.0]
    wall = np.column_stack([np.full(21, 50.0), np.linspace(-100, 100, 21)])
    coords = np.vstack([west, east, wall, [[100.0, 0.0]]]) + rng.uniform(-1e-3, 1e-3, (16 + 16 + 21 + 1, 2))
    labels = np.r_[np.zeros(32, dtype=np.int64), np.ones(21, dtype=np.int64), 2]
    frame = shapely.box(-20, -50, 120, 50)
    regions = site_regions(coords, labels, 3, frame)
    assert regions is not None
    pieces = shapely.get_parts(shapely.intersection(regions[0], frame))
    assert len(pieces) == 2
    holes = [len(p.interiors) for p in sorted(pieces, key=lambda p: p.centroid.x)]
    assert holes == [0, 1]  # the hole of site 2 sits in the eastern piece only
    assert shapely.coverage_is_valid(shapely.intersection(regions, frame))


def test_cocircular_samples_give_the_regions_of_geos():
    # an exact square lattice (no jitter): every four samples are cocircular, so the Delaunay triangulation is
    # not unique and Voronoi vertices coincide; the traced regions are still those of GEOS's Voronoi diagram
    xs, ys = np.meshgrid(np.arange(6) * 5.0, np.arange(6) * 5.0)
    coords = np.column_stack([xs.ravel(), ys.ravel()])
    labels = np.arange(36) % 4
    frame = shapely.box(-1, -1, 26, 26)
    clipped = shapely.intersection(site_regions(coords, labels, 4, frame), frame)
    assert shapely.coverage_is_valid(clipped)
    voronoi = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(coords), extend_to=frame.buffer(10), ordered=True))
    for site in range(4):
        geos = shapely.intersection(shapely.union_all(voronoi[labels == site]), frame)
        assert shapely.area(shapely.symmetric_difference(clipped[site], geos)) < 1e-9


def test_cdt_and_qhull_give_the_same_regions(taipei_parts, monkeypatch):
    # the samples are jittered, so their triangulation is unique: CDT's and Qhull's give the same regions, bit for bit
    part, footprints = taipei_parts[0]
    coords, labels = _samples(footprints)
    n_sites = int(labels.max()) + 1
    with_cdt = site_regions(coords, labels, n_sites, part)

    def refuse(*args):
        raise RuntimeError("refused")

    monkeypatch.setattr(regions_module.pythoncdt, "Triangulation", refuse)  # as CDT refuses input: Qhull takes over
    with_qhull = site_regions(coords, labels, n_sites, part)
    assert len(with_cdt) == n_sites
    assert (shapely.to_wkb(with_cdt) == shapely.to_wkb(with_qhull)).all()


def test_triangles_handed_either_way_round_give_the_same_regions(taipei_parts, monkeypatch):
    # a triangulator may hand a triangle from any vertex and clockwise: every third triangle turned, every second
    # reversed (vertices 1 and 2 swapped, with their neighbours), and the regions are the same to the bit
    part, footprints = taipei_parts[2]
    coords, labels = _samples(footprints)
    n_sites = int(labels.max()) + 1
    expected = site_regions(coords, labels, n_sites, part)
    delaunay = regions_module._delaunay

    def shuffled(points):
        simplices, neighbors, inside = delaunay(points)
        turn = np.arange(len(simplices)) % 3 == 0
        simplices[turn], neighbors[turn] = simplices[turn][:, [1, 2, 0]], neighbors[turn][:, [1, 2, 0]]
        flip = np.arange(len(simplices)) % 2 == 1
        simplices[flip], neighbors[flip] = simplices[flip][:, [0, 2, 1]], neighbors[flip][:, [0, 2, 1]]
        return simplices, neighbors, inside

    monkeypatch.setattr(regions_module, "_delaunay", shuffled)
    again = site_regions(coords, labels, n_sites, part)
    assert expected is not None and again is not None
    assert (shapely.to_wkb(again) == shapely.to_wkb(expected)).all()


def test_duplicate_samples_are_left_to_qhull():
    # CDT refuses a repeated point; Qhull keeps one of the two and the regions are still traced
    coords = np.array([[0.0, 0.0], [10.0, 0.3], [0.2, 10.0], [10.1, 10.2], [10.0, 0.3]])
    regions = site_regions(coords, np.array([0, 1, 0, 1, 1]), 2, shapely.box(-1, -1, 11, 11))
    assert regions is not None and shapely.coverage_is_valid(shapely.intersection(regions, shapely.box(-1, -1, 11, 11)))
    # tessellate_part jitters its samples (a sub-millimetre fixed jitter): the same lattice of points tiles
    part = shapely.box(-10, -10, 60, 60)
    footprints = shapely.points(coords[::3] * 2)
    tess = tessellate_part(part, footprints)
    assert shapely.coverage_is_valid(tess.cells)
    assert (shapely.get_type_id(tess.cells) == 3).all()
    assert shapely.area(tess.cells).sum() == pytest.approx(part.area, rel=1e-9)


def test_cells_are_the_same_with_and_without_the_traced_regions(taipei_parts, monkeypatch):
    part, footprints = taipei_parts[1]
    traced = tessellate_part(part, footprints)
    monkeypatch.setattr(tessellate, "site_regions", lambda *args: None)
    fallback = tessellate_part(part, footprints)
    assert (traced.site_of_building == fallback.site_of_building).all()
    assert shapely.area(shapely.symmetric_difference(traced.cells, fallback.cells)).max() < 1e-6
    assert (shapely.get_type_id(traced.cells) == 3).all() and shapely.coverage_is_valid(traced.cells)
    # each cell holds ground of its building
    assert (shapely.area(shapely.intersection(traced.cells[traced.site_of_building], footprints)) > 0).all()


def test_traced_regions_are_deterministic(taipei_parts):
    part, footprints = taipei_parts[0]
    first = tessellate_part(part, footprints)
    again = tessellate_part(part, footprints.copy())
    assert shapely.to_wkb(first.cells).tolist() == shapely.to_wkb(again.cells).tolist()


def test_geos_dissolve_leaves_a_site_without_regions_empty():
    # the fallback's dissolve: site 1 has no usable region (its samples gave none); it used to crash GEOS
    regions = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(0, 1, 2, 2)], dtype=object)
    merged = _dissolve_by_site(regions, np.array([0, 0, 2]), 3)
    assert shapely.area(merged).tolist() == [2.0, 0.0, 2.0]
    assert shapely.is_empty(merged[1]) and shapely.is_valid(merged).all()
