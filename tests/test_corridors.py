"""Corridors: buildings whose cells do not touch are joined by a strip of a neighbouring cell when the band needs it."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.cells.adjacency import build_cell_graph
from gridgeo.partition.corridors import bridge_pairs, carve_corridor

from .conftest import shared_dataset


def _check_split(via, corridor, rest, footprints):
    assert shapely.get_type_id(corridor) == 3 and shapely.get_type_id(rest) == 3
    assert abs(corridor.area + rest.area - via.area) < 1e-6
    assert shapely.area(shapely.intersection(corridor, rest)) < 1e-9
    for fp in footprints:
        assert shapely.area(shapely.intersection(fp, corridor)) < 1e-9
        assert shapely.area(shapely.intersection(fp, rest)) == pytest.approx(fp.area)
    # the pieces meet the cell's own outline exactly: grids dissolved from them stay a valid coverage
    assert shapely.coverage_is_valid(np.array([corridor, rest]), gap_width=0.0)


def test_corridor_goes_round_the_side_a_building_leaves_free():
    via = shapely.box(0, 0, 40, 20)
    west, east = shapely.box(-10, 0, 0, 20), shapely.box(40, 0, 50, 20)
    # the building touches the north edge: the strip must run along the south edge
    building = shapely.box(15, 8, 25, 20)
    corridor, rest = carve_corridor(via, west, east, width=2.0, footprints=[building])
    _check_split(via, corridor, rest, [building])
    assert corridor.bounds[1] == 0 and corridor.bounds[3] == 20  # it covers the whole west and east edges
    assert shapely.length(shapely.intersection(corridor.boundary, shapely.LineString([(0, 0), (40, 0)]))) == pytest.approx(40)
    assert shapely.length(shapely.intersection(corridor.boundary, shapely.LineString([(0, 20), (40, 20)]))) == 0


def test_no_corridor_through_a_building_that_spans_the_cell():
    via = shapely.box(0, 0, 40, 20)
    west, east = shapely.box(-10, 0, 0, 20), shapely.box(40, 0, 50, 20)
    wall_to_wall = shapely.box(15, 0, 25, 20)
    assert carve_corridor(via, west, east, width=2.0, footprints=[wall_to_wall]) is None
    assert carve_corridor(via, west, east, width=0.5, footprints=[wall_to_wall]) is None


def test_no_corridor_across_a_barrier():
    via = shapely.box(0, 0, 40, 20)
    west, east = shapely.box(-10, 0, 0, 20), shapely.box(40, 0, 50, 20)
    road = np.array([shapely.LineString([(20, -5), (20, 25)])])
    assert carve_corridor(via, west, east, width=2.0, barriers=road) is None
    # a road along the cell's edge does not cross the strip
    along = np.array([shapely.LineString([(0, 0), (40, 0)])])
    assert carve_corridor(via, west, east, width=2.0, barriers=along) is not None


def test_bridge_pairs_are_two_steps_apart_through_allowed_cells_only():
    cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(4)])
    graph = build_cell_graph(cells, np.array([5, 5, 5, 5]), shapely.centroid(cells))
    pairs = bridge_pairs(graph, np.array([True, True, False, True]))
    assert sorted(zip(*pairs.nonzero())) == [(0, 2), (2, 0)]  # 1 → 3 would pass through cell 2, which is not allowed


def _shanghai_community(cid):
    communities, buildings = shared_dataset("shanghai_bund")
    communities = communities[communities["community_id"] == cid]
    buildings = buildings[buildings["community_id"] == cid]
    return communities, buildings


def test_real_community_enclosed_behind_a_tower_cell_gets_in_band_grids():
    # SHA-B010 (Shanghai, The Bund): 1,071 households; a 284-household block's cell touches no small building
    # the grid needs, so on the cell graph no in-band split exists (proven by exhaustive search).
    communities, buildings = _shanghai_community("SHA-B010")
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    grids = result.grids
    assert audit_partition(result, buildings) == []
    assert (grids["status"] == "in_band").all(), grids[["grid_code", "households", "reason"]]
    assert grids["households"].sum() == int(buildings["hh_est"].sum())
    joined = grids[grids["reason"].str.contains("strip")]
    assert len(joined) == 1
    assert (shapely.get_type_id(grids.geometry.to_numpy()) == 3).all()
    s = result.report["summary"]
    assert s["coverage_valid"] and s["max_gap_ratio"] < 1e-6 and s["max_overlap_ratio"] < 1e-6
    # every building lies in its own grid's polygon
    own = grids.set_index("grid_code").geometry.loc[result.buildings["grid_code"]].to_numpy()
    assert shapely.contains(own, shapely.point_on_surface(result.buildings.geometry.to_numpy())).all()
