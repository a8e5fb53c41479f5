"""Edge cases named by the core-engine issue, each checked against the audit and its flag."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

import gridgeo
from gridgeo.audit import audit_partition

from .conftest import DATA

CRS = 32651  # UTM 51N (Taipei), metres


def _row_of_buildings(x0, y0, count, households, size=10.0, step=20.0):
    return [shapely.box(x0 + i * step, y0, x0 + i * step + size, y0 + size) for i in range(count)], [households] * count


def _run(communities, footprints, households, **kwargs):
    c = gpd.GeoDataFrame({"community_id": [f"C{i}" for i in range(len(communities))]}, geometry=communities, crs=CRS)
    b = gpd.GeoDataFrame({"hh": households}, geometry=footprints, crs=CRS)
    result = gridgeo.partition(c, b, households="hh", **kwargs)
    assert audit_partition(result, b) == []
    return result


def test_community_below_minimum_is_one_flagged_grid():
    fp, hh = _row_of_buildings(10, 10, 5, 20)
    result = _run([shapely.box(0, 0, 120, 40)], fp, hh)
    assert len(result.grids) == 1
    grid = result.grids.iloc[0]
    assert grid["households"] == 100
    assert grid["status"] == "infeasible_total"
    assert "admit no grid count" in grid["reason"]


def test_total_between_bands_520_is_flagged_not_defect():
    fp, hh = _row_of_buildings(10, 10, 13, 40)
    result = _run([shapely.box(0, 0, 280, 40)], fp, hh)
    assert result.grids["households"].sum() == 520
    assert set(result.grids["status"]) == {"infeasible_total"}
    assert result.report["summary"]["n_defects"] == 0


def test_one_huge_building_gets_its_own_grid_and_the_rest_stays_in_band():
    fp, hh = _row_of_buildings(10, 10, 30, 40)
    hh[15] = 1500
    result = _run([shapely.box(0, 0, 620, 40)], fp, hh)
    oversize = result.grids[result.grids["status"] == "oversize_building"]
    assert len(oversize) == 1 and oversize["households"].iloc[0] >= 1500
    rest = result.grids[result.grids["status"] != "oversize_building"]
    assert rest["households"].between(300, 500).all() or (rest["status"] != "out_of_band").all()
    # a 1500-household block is cut into units of 10-15 along its household sequence
    assert result.units["households"].between(10, 15).all()


def test_multipolygon_community_with_islands():
    main = shapely.box(0, 0, 400, 100)
    island = shapely.box(500, 0, 560, 60)
    empty_island = shapely.box(600, 0, 620, 20)
    community = shapely.MultiPolygon([main, island, empty_island])
    fp, hh = _row_of_buildings(10, 40, 20, 40)
    fp += [shapely.box(510, 10, 520, 20), shapely.box(530, 30, 540, 40)]
    hh += [30, 30]
    result = _run([community], fp, hh)
    grids = result.grids.to_crs(CRS)
    assert (grids.geom_type == "Polygon").all()
    detached = grids[grids["status"] == "detached_part"]
    assert len(detached) == 2  # the small island and the empty one
    assert sorted(detached["households"].tolist()) == [0, 60]
    main_grids = grids[grids["status"] == "in_band"]
    assert main_grids["households"].sum() == 800


def test_buildings_across_a_boundary_go_to_the_larger_overlap():
    left, right = shapely.box(0, 0, 200, 100), shapely.box(200, 0, 400, 100)
    fp = [shapely.box(190, 40, 230, 60)] + [shapely.box(20 + 30 * i, 10, 30 + 30 * i, 20) for i in range(12)]
    hh = [10] + [30] * 12
    result = _run([left, right], fp, hh)
    # 30 m of the straddler's 40 m lie in the right-hand community C1 (code 002)
    straddler = result.buildings.loc[0]
    assert straddler["community_code"] == "002"
    assert straddler["grid_code"].startswith("002-")
    assert any("straddle" in note for note in result.report["notes"])


def test_concave_community_where_voronoi_cells_spill():
    # a U-shaped community: cells of buildings in one arm would spill across the gap into the other arm
    u_shape = shapely.difference(shapely.box(0, 0, 300, 300), shapely.box(100, 60, 200, 300))
    fp = []
    for x in (20, 50, 230, 260):
        for y in range(80, 290, 30):
            fp.append(shapely.box(x, y, x + 12, y + 12))
    for x in range(20, 290, 30):
        fp.append(shapely.box(x, 20, x + 12, 32))
    hh = [25] * len(fp)
    result = _run([u_shape], fp, hh)
    assert (result.grids.geom_type == "Polygon").all()
    assert result.report["summary"]["n_defects"] == 0


def test_points_as_buildings():
    points = [shapely.Point(10 + 20 * i, 50) for i in range(20)]
    result = _run([shapely.box(0, 0, 400, 100)], points, [40] * 20)
    assert sorted(result.grids["households"].tolist()) == [400, 400]


def test_joint_unit_sized_grids_for_lane_areas():
    fp, hh = _row_of_buildings(10, 10, 24, 3, size=6.0, step=10.0)
    result = _run([shapely.box(0, 0, 250, 30)], fp, hh, grid_size="10:15", unit_size="10:15")
    assert result.grids["households"].between(10, 15).all()
    assert len(result.grids) >= 5


def test_zero_household_community():
    fp, _ = _row_of_buildings(10, 10, 4, 0)
    result = _run([shapely.box(0, 0, 100, 40)], fp, [0, 0, 0, 0])
    assert len(result.grids) == 1
    assert result.grids["status"].iloc[0] == "infeasible_total"
    assert len(result.units) == 0


def test_community_without_buildings_is_one_flagged_grid():
    fp, hh = _row_of_buildings(10, 10, 10, 40)
    result = _run([shapely.box(0, 0, 220, 40), shapely.box(0, 100, 100, 200)], fp, hh)
    empty = result.grids[result.grids["community_id"] == "C1"]
    assert len(empty) == 1 and empty["households"].iloc[0] == 0
    assert empty["reason"].iloc[0]


def test_estimated_households_are_flagged_everywhere():
    fp, _ = _row_of_buildings(10, 10, 20, 0, size=15.0)
    c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 420, 40)], crs=CRS)
    b = gpd.GeoDataFrame({"levels": [10] * 20}, geometry=fp, crs=CRS)
    result = gridgeo.partition(c, b)
    assert result.buildings["households_estimated"].all()
    assert result.grids["households_estimated"].all()
    assert result.report["summary"]["households_estimated"] is True
    # 225 m² × 10 storeys × 0.8 / 90 = 20 households per building
    assert (result.buildings["households"] == 20).all()


def test_register_totals_calibrate_estimates():
    fp, _ = _row_of_buildings(10, 10, 20, 0, size=15.0)
    c = gpd.GeoDataFrame({"community_id": ["A"], "register": [777]}, geometry=[shapely.box(0, 0, 420, 40)], crs=CRS)
    b = gpd.GeoDataFrame({"levels": np.arange(20) % 5 + 1}, geometry=fp, crs=CRS)
    result = gridgeo.partition(c, b, community_households="register")
    assert int(result.buildings["households"].sum()) == 777
    assert int(result.grids["households"].sum()) == 777


def test_a_courtyard_pocket_is_proven_infeasible_whether_alone_or_with_its_gateway():
    """Shanghai's case: 201 households reachable only through a 378-household building."""
    import scipy.sparse as sp

    from gridgeo.cells.adjacency import CellGraph
    from gridgeo.partition.proof import enclosed_pocket

    # 0 = courtyard (201), 1 = the building around it (378), 2-4 = the street (150 each)
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 4)]
    rows = [a for a, b in edges] + [b for a, b in edges]
    cols = [b for a, b in edges] + [a for a, b in edges]
    shared = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(5, 5))
    graph = CellGraph(np.array([201, 378, 150, 150, 150]), np.ones(5), np.ones(5), np.zeros((5, 2)), shared, sp.csr_matrix((5, 5)))
    alone = enclosed_pocket(graph, np.array([0]), 300, 500)
    joined = enclosed_pocket(graph, np.array([0, 1]), 300, 500)
    assert alone == joined == ("proven_pocket", {"households": 201, "gateway": 378, "total": 579})
    # a grid above the band that is not a pocket plus its gateway gets no proof
    assert enclosed_pocket(graph, np.array([1, 2]), 300, 500) is None
    assert enclosed_pocket(graph, np.array([2, 3, 4, 1]), 300, 500) is None


def test_overlapping_footprints_keep_their_representative_points():
    """A footprint overlapping another (3D-model footprints often do) must not lose the ground around its
    representative point to the other building's samples."""
    from gridgeo.cells.tessellate import tessellate_part

    big = shapely.box(0, 0, 20, 20)  # representative point (10, 10)
    wing = shapely.box(12, 5, 30, 15)  # overlaps big's east half, not its representative point
    part = shapely.box(-10, -10, 40, 30)
    tess = tessellate_part(part, np.array([big, wing]))
    cells = tess.cells[tess.site_of_building]
    assert shapely.contains(cells, shapely.point_on_surface(np.array([big, wing]))).all()
    assert abs(shapely.area(tess.cells).sum() - part.area) < 1e-6



def test_footprint_whose_ground_in_the_community_lies_under_another_gets_a_cell():
    # real OSM data (tests/data/helsinki_overlap.gpkg): a 6,431 m² outline 85 % covered by another outline;
    # the community boundary cuts it so that all of its uncovered ground, and so all of its samples,
    # lie outside: it used to get an empty cell (and the cell graph failed on it)
    from gridgeo.cells.tessellate import Tessellation, _without_empty_sites, tessellate_part

    communities = gpd.read_file(DATA / "helsinki_overlap.gpkg", layer="communities")
    buildings = gpd.read_file(DATA / "helsinki_overlap.gpkg", layer="buildings")
    part = communities.geometry.iloc[0]
    tess = tessellate_part(part, buildings.geometry.to_numpy())
    assert not shapely.is_empty(tess.cells).any()
    assert len(tess.cells) == len(buildings)
    assert shapely.coverage_is_valid(tess.cells)
    assert abs(shapely.area(tess.cells).sum() - part.area) < 1e-6 * part.area
    result = gridgeo.partition(communities, buildings, grid_size=(10, 15))
    assert audit_partition(result, buildings) == []
    assert result.buildings["grid_code"].notna().all() and len(result.unassigned) == 0
    # the last resort, when even a sample inside the part cannot be placed: the site shares the nearest cell
    cells = np.array([shapely.box(0, 0, 10, 10), shapely.Polygon(), shapely.box(10, 0, 20, 10)], dtype=object)
    anchors = shapely.points([(5, 5), (18, 30), (15, 5)])
    mended = _without_empty_sites(Tessellation(cells, np.array([0, 1, 1, 2]), np.array([2]), anchors))
    assert len(mended.cells) == 2
    assert mended.site_of_building.tolist() == [0, 1, 1, 1] and mended.site_of_group.tolist() == [1]
