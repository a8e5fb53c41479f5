"""Shared edges of the cell graph (gridgeo.cells.adjacency): matched segments against measured intersections."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridgeo.cells.adjacency import _shared_by_intersection, _shared_by_segments, build_cell_graph
from gridgeo.cells.tessellate import tessellate_part


def _pairs(left, right, lengths):
    return {(int(a), int(b)): float(x) for a, b, x in zip(left, right, lengths) if x > 1e-6}


@pytest.fixture(scope="module")
def taipei_cells(taipei_parts):
    """Cells of the three real Taipei villages of tests/data, in a metric CRS, with their parts."""
    return [(part, tessellate_part(part, footprints)) for part, footprints in taipei_parts]


def test_matched_segments_give_the_measured_shared_lengths(taipei_cells):
    for part, tess in taipei_cells:
        by_segments = _pairs(*_shared_by_segments(tess.cells))
        by_intersection = _pairs(*_shared_by_intersection(tess.cells))
        assert by_segments.keys() == by_intersection.keys()
        assert np.allclose([by_segments[k] for k in by_segments], [by_intersection[k] for k in by_segments], rtol=1e-9, atol=1e-9)
        # every metre of a cell's boundary is either shared with one neighbour or on the part's outline
        perimeter = shapely.length(tess.cells).sum()
        assert perimeter - 2 * sum(by_segments.values()) == pytest.approx(shapely.length(part), rel=1e-9)


def test_cells_with_holes_share_their_hole_rings_and_no_edge_across_rings():
    # a courtyard block with two holes, each filled by a cell, beside a block with one hole: the segment from a
    # ring's last vertex to the next ring's first is no edge (it would run across the cell)
    h1, h2, h3 = shapely.box(2, 2, 5, 5), shapely.box(10, 10, 14, 13), shapely.box(42, 2, 45, 6)
    outer = shapely.Polygon(shapely.box(0, 0, 30, 30).exterior.coords, [h1.exterior.coords, h2.exterior.coords])
    east = shapely.Polygon(shapely.box(40, 0, 50, 30).exterior.coords, [h3.exterior.coords])
    cells = np.array([outer, h1, h2, shapely.box(30, 0, 40, 30), east, h3], dtype=object)
    left, right, lengths = _shared_by_segments(cells)
    assert _pairs(left, right, lengths) == {(0, 1): 12.0, (0, 2): 14.0, (0, 3): 30.0, (3, 4): 30.0, (4, 5): 14.0}
    assert _pairs(left, right, lengths) == _pairs(*_shared_by_intersection(cells))
    graph = build_cell_graph(cells, np.ones(6, dtype=np.int64), shapely.point_on_surface(cells), outline_length=160.0)
    assert graph.shared.nnz == 10 and graph.shared[0, 2] == 14.0


def test_only_polygon_cells_are_matched_by_segments():
    # a MultiPolygon (or empty) cell has no rings to match, as shapely.get_rings gives none: its parts' last and
    # first vertices are never joined into a segment, and the polygons' shared edges are unchanged beside it
    pieces = shapely.MultiPolygon([shapely.box(30, 30, 40, 40), shapely.box(0, 30, 10, 40)])
    block = shapely.Polygon([(0, 0), (30, 0), (30, 30), (10, 30), (0, 30)])  # a vertex where its northern neighbour starts
    plain = [block, shapely.box(30, 0, 40, 30), shapely.box(10, 30, 30, 40)]
    with_others = np.array([plain[0], pieces, plain[1], shapely.Polygon(), plain[2]], dtype=object)
    left, right, lengths = _shared_by_segments(with_others)
    assert _pairs(left, right, lengths) == {(0, 2): 30.0, (0, 4): 20.0}
    assert _pairs(*_shared_by_segments(np.array(plain, dtype=object))) == {(0, 1): 30.0, (0, 2): 20.0}
