"""Staffing and workload (gridgeo.governance.workload) and the walking network (gridgeo.governance.network) on real Monaco data."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree

import gridgeo
from gridgeo.errors import InputError
from gridgeo.governance.network import build_road_network
from gridgeo.governance.workload import (
    WORKLOAD_COLUMNS,
    add_workload,
    building_points,
    grid_workload,
    nearest_neighbour_tour,
    tour_length,
    walking_tour,
)
from gridgeo.inputs.crs import local_metric_crs


@pytest.fixture(scope="module")
def result(monaco):
    communities, buildings, _ = monaco
    return gridgeo.partition(communities, buildings, households="hh_est")


@pytest.fixture(scope="module")
def metric(result):
    return local_metric_crs(result.grids)


@pytest.fixture(scope="module")
def network(monaco, metric):
    return build_road_network(monaco[2], crs=metric)


@pytest.fixture(scope="module")
def by_road(result, network):
    return add_workload(result, roads=network)


def _grid_points(result, metric):
    """Each grid's building points (metric), in building-code order, by grid code."""
    buildings = result.buildings.sort_values("building_code", kind="stable")
    xy = building_points(buildings, metric)
    codes = buildings["grid_code"].to_numpy()
    return {code: xy[codes == code] for code in result.grids["grid_code"]}


def _straight(xy):
    return np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])


def _mst(dist):
    return float(minimum_spanning_tree(np.where(dist > 0, dist, 1e-12)).sum())


def test_partition_adds_the_workload_columns_to_every_grid(result):
    grids = result.grids
    assert set(WORKLOAD_COLUMNS) <= set(grids.columns)
    assert grids[list(WORKLOAD_COLUMNS)].notna().all().all()
    section = result.report["workload"]
    assert section["distances"] == "straight line" and section["households_per_helper"] == 100
    assert {r["community_id"] for r in section["communities"]} == set(result.communities["community_id"].astype(str))
    assert sum(r["n_grids"] for r in section["communities"]) == len(grids)
    assert (grids.loc[grids["n_buildings"] >= 2, "tour_m"] > 0).all()
    assert (grids.loc[grids["n_buildings"] <= 1, "tour_m"] == 0).all()


def test_helpers_are_one_per_households_per_helper(result):
    grids = result.grids
    assert grids["helpers_n"].tolist() == [math.ceil(h / 100) for h in grids["households"]]
    assert result.report["workload"]["helpers"] == int(grids["helpers_n"].sum())
    other = add_workload(result, households_per_helper=37)
    assert other.grids["helpers_n"].tolist() == [math.ceil(h / 37) for h in grids["households"]]
    assert other.grids["tour_m"].tolist() == grids["tour_m"].tolist()


def test_straight_tours_lie_between_the_spanning_tree_and_the_nearest_neighbour_tour(result, metric):
    points = _grid_points(result, metric)
    checked = 0
    for code, tour in zip(result.grids["grid_code"], result.grids["tour_m"]):
        xy = points[code]
        if len(xy) < 3:
            continue
        dist = _straight(xy)
        nearest = tour_length(dist, nearest_neighbour_tour(dist))
        assert _mst(dist) - 0.05 <= tour <= nearest + 0.05, code
        assert tour == pytest.approx(walking_tour(dist)[1], abs=0.05)
        checked += 1
    assert checked >= 10


def test_road_distances_are_never_shorter_than_straight_lines(result, metric, network):
    points = _grid_points(result, metric)
    for code in result.grids["grid_code"]:
        xy = points[code]
        road, missing = network.distance_matrix(xy)
        assert missing == 0, code
        assert np.allclose(road, road.T)
        assert (road >= _straight(xy) - 1e-6).all(), code


def test_road_distances_agree_with_networkx_on_the_raw_segments(network):
    # an independent check of the chain contraction: points on segment ends, shortest paths by networkx
    graph = nx.Graph()
    for (x0, y0), (x1, y1) in network.segments:
        graph.add_edge((x0, y0), (x1, y1), weight=math.hypot(x1 - x0, y1 - y0))
    nodes = sorted(graph.nodes)
    rng = np.random.default_rng(5)
    sample = [nodes[i] for i in rng.choice(len(nodes), 25, replace=False)]
    road, _ = network.distance_matrix(np.array(sample))
    for i, a in enumerate(sample):
        lengths = nx.single_source_dijkstra_path_length(graph, a, weight="weight")
        for j, b in enumerate(sample):
            assert road[i, j] == pytest.approx(lengths.get(b, math.hypot(b[0] - a[0], b[1] - a[1])), abs=1e-6)


def test_road_tours_are_at_least_the_straight_spanning_tree(result, by_road, metric):
    points = _grid_points(result, metric)
    assert by_road.report["workload"]["distances"] == "road network"
    longer = 0
    for code, road_tour, straight_tour in zip(by_road.grids["grid_code"], by_road.grids["tour_m"], result.grids["tour_m"]):
        xy = points[code]
        if len(xy) < 2:
            assert road_tour == 0
            continue
        assert road_tour >= _mst(_straight(xy)) - 0.05, code
        longer += road_tour > straight_tour
    assert longer >= len(by_road.grids) // 2


def test_workload_index_and_flags_follow_the_formula(by_road):
    grids = by_road.grids
    # compared: grids a team serves (households, not dedicated); the Monaco slice has an empty island grid
    compared = (grids["households"] > 0) & (grids["grid_type"] != "dedicated")
    assert not compared.all()
    index = np.zeros(len(grids))
    for column in ("households", "n_buildings", "area_m2", "tour_m"):
        values = grids[column].astype(float)
        mean = values.where(compared).groupby(grids["community_id"]).transform("mean").fillna(0)
        index += 0.25 * np.where(mean > 0, values / mean, 1.0)
    assert np.allclose(index, grids["workload_index"], atol=1e-3)
    assert (grids["workload_flag"] == (compared & (index > 1.5))).all()
    assert np.allclose(grids[compared].groupby("community_id")["workload_index"].mean(), 1.0, atol=1e-3)
    assert by_road.report["workload"]["n_flagged"] == int(grids["workload_flag"].sum())
    assert [r["grid_code"] for r in by_road.report["workload"]["flagged"]] == sorted(
        grids.loc[grids["workload_flag"], "grid_code"]
    )


def test_factor_moves_the_flag(by_road, network):
    strict = add_workload(by_road, roads=network, factor=1.0)
    lenient = add_workload(by_road, roads=network, factor=5.0)
    assert strict.grids["workload_flag"].sum() > by_road.grids["workload_flag"].sum() >= 1
    assert not lenient.grids["workload_flag"].any()


def test_input_kept_and_row_order_does_not_matter(result, monaco):
    grids, buildings = result.grids, result.buildings
    before = grids.copy()
    out = grid_workload(grids, buildings, roads=monaco[2], households_per_helper=50)
    pd.testing.assert_frame_equal(grids, before)
    assert out.crs == grids.crs and out.index.equals(grids.index)
    shuffled = grid_workload(
        grids,
        buildings.sample(frac=1.0, random_state=2),
        roads=monaco[2].sample(frac=1.0, random_state=4),
        households_per_helper=50,
    )
    pd.testing.assert_frame_equal(out, shuffled)


def test_walking_classes_are_left_out(network):
    assert any("rail 1" in note for note in network.notes)


def test_bad_settings_are_listed_together(result):
    with pytest.raises(InputError) as caught:
        grid_workload(result.grids, result.buildings, households_per_helper=0, factor=-1.0)
    assert len(caught.value.problems) == 2
    assert "--households-per-helper" in str(caught.value) and "--workload-factor" in str(caught.value)


def test_roads_without_a_crs_or_lines_are_errors(result, monaco):
    no_crs = monaco[2].set_crs(None, allow_override=True)
    only_rail = monaco[2][monaco[2]["cls"] == "rail"]
    with pytest.raises(InputError) as caught:
        add_workload(result, roads=[no_crs])
    assert "coordinate reference system" in str(caught.value)
    with pytest.raises(InputError, match="no walkable lines"):
        add_workload(result, roads=only_rail)


def test_points_layer_of_buildings_gives_the_same_tours(result, metric):
    as_points = result.buildings.copy()
    points = shapely.point_on_surface(as_points.to_crs(metric).geometry.to_numpy())
    as_points["geometry"] = gpd.GeoSeries(points, index=as_points.index, crs=metric).to_crs(as_points.crs)
    again = grid_workload(result.grids, as_points)
    assert np.allclose(again["tour_m"], result.grids["tour_m"], atol=0.2)


def test_tours_measured_in_the_workers_equal_a_fresh_measure(taipei_small):
    """gridgeo.partition measures straight tours in its community workers; recomputing them
    from the finished result (here with the input in TWD97 / TM2, a projected CRS) gives the same figures."""
    communities, buildings = taipei_small[0].to_crs(3826), taipei_small[1].to_crs(3826)
    result = gridgeo.partition(communities, buildings, households="hh_est", workers=2)
    again = add_workload(result)
    assert (result.grids["n_buildings"] >= 2).sum() >= 10
    assert again.grids["tour_m"].tolist() == result.grids["tour_m"].tolist()
    assert again.grids["workload_index"].tolist() == result.grids["workload_index"].tolist()
