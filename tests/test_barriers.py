"""Grid boundaries follow barrier lines where a feasible partition allows it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

import gridgeo
from gridgeo.audit import audit_partition

CRS = 32651


def _grid_layout(n_side=10, step=20.0):
    footprints = []
    for i in range(n_side):
        for j in range(n_side):
            x, y = i * step + 5, j * step + 5
            footprints.append(shapely.box(x, y, x + 8, y + 8))
    return footprints


def test_a_diagonal_road_splitting_two_feasible_halves_is_never_crossed():
    community = shapely.box(0, 0, 200, 200)
    road = shapely.LineString([(0, 30), (200, 170)])  # diagonal, not aligned with any sweep of the layout
    footprints = _grid_layout()
    above = np.array([road.distance(f) > 0 and f.centroid.y > 30 + 0.7 * f.centroid.x for f in footprints])
    # households: 800 on each side of the road, spread over that side's buildings
    hh = np.zeros(len(footprints), dtype=int)
    for side in (above, ~above):
        idx = np.flatnonzero(side)
        hh[idx] = 800 // len(idx)
        hh[idx[: 800 - hh[idx].sum()]] += 1
    keep = np.array([not road.intersects(f) for f in footprints])
    c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[community], crs=CRS)
    b = gpd.GeoDataFrame({"hh": hh[keep]}, geometry=list(np.array(footprints, dtype=object)[keep]), crs=CRS)
    roads = gpd.GeoDataFrame(geometry=[road], crs=CRS)
    result = gridgeo.partition(c, b, households="hh", barriers=roads)
    assert audit_partition(result, b) == []
    assert result.report["summary"]["barrier_crossings"] == 0
    assert result.report["summary"]["barrier_crossings_min"] == 0
    assert (result.grids["barrier_crossings"] == 0).all()
    assert len(result.grids) == 4 and result.grids["households"].between(300, 500).all()


def test_real_roads_keep_guarantees_and_report_crossings(monaco):
    communities, buildings, roads = monaco
    with_roads = gridgeo.partition(communities, buildings, households="hh_est", barriers=roads)
    assert audit_partition(with_roads, buildings) == []
    s = with_roads.report["summary"]
    assert s["barrier_crossings"] >= s["barrier_crossings_min"]
    assert with_roads.grids["barrier_crossings"].sum() == s["barrier_crossings"]
    assert with_roads.report["parameters"]["barriers"] == 1
