"""Routed corridors and unit fitting: the last repairs for small bands (``--grid-size 10:15``), on real data."""

from __future__ import annotations

import functools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.partition import engine as engine_module
from gridgeo.partition import routes as routes_module
from gridgeo.partition.outline import CLEARANCE_M, outline_network
from gridgeo.units import fits_units

from .conftest import DATA, SHARED


def _munich(ids):
    folder = SHARED / "munich_altstadt"
    if not folder.exists():
        pytest.skip(f"{folder} is not present (the shared data sits beside the repository in CI)")
    communities = gpd.read_file(folder / "communities.gpkg", layer="communities")
    communities = communities[communities["community_id"].isin(ids)].reset_index(drop=True)
    buildings = gpd.read_file(folder / "buildings.gpkg", layer="buildings")
    inside = buildings.sjoin(communities[["geometry"]], predicate="intersects").index.unique()
    return communities, buildings.loc[np.sort(inside)].reset_index(drop=True)


@functools.cache
def _run(routes: bool):
    # the Munich old town's perimeter blocks: row houses of 8 and 9 households that share their walls
    communities, buildings = _munich(("MUN-001", "MUN-004"))
    drawn = []
    with pytest.MonkeyPatch.context() as patch:
        if routes:
            carve = routes_module._Router._carve

            def recording(self, state, strip, receiver, mine):
                touched = carve(self, state, strip, receiver, mine)
                if touched is not None:
                    drawn.append((strip, self.footprints))
                return touched

            patch.setattr(routes_module._Router, "_carve", recording)
        else:
            patch.setattr(engine_module, "repair_by_routes", lambda *a, **k: None)
        result = gridgeo.partition(communities, buildings, households="hh_est", grid_size=(10, 15), workers=1)
    return buildings, result, drawn


def test_routes_bring_walled_in_row_houses_into_the_band():
    buildings, result, _ = _run(True)
    _, without, _ = _run(False)
    # without routes these communities keep grids that no split of the cell graph can bring into the band
    assert without.report["summary"]["n_defects"] >= 3
    s = result.report["summary"]
    assert s["n_defects"] == 0
    assert audit_partition(result, buildings, quality=False) == []
    assert s["share_one_piece"] == 1.0 and s["coverage_valid"]
    assert s["max_gap_ratio"] < 1e-3 and s["max_overlap_ratio"] < 1e-3
    assert s["households"] == int(buildings["hh_est"].sum())
    joined = result.grids[result.grids["reason"].str.contains("narrow strip")]
    assert len(joined) >= 3
    assert (joined["status"] == "in_band").all() and joined["households"].between(10, 15).all()
    assert (shapely.get_type_id(joined.geometry.to_numpy()) == 3).all()
    assert joined["reason_zh"].str.contains("窄带").all()


def test_routes_keep_clear_of_every_footprint():
    # every strip drawn keeps its clearance from every building of its community piece
    _, _, drawn = _run(True)
    assert len(drawn) >= 3
    for strip, footprints in drawn:
        assert len(footprints)
        assert shapely.distance(strip, footprints).min() >= CLEARANCE_M - 1e-6


def test_outline_network_crosses_a_courtyard_cell_only_where_clear():
    # a pocket cell inside a ring-shaped cell: the only way out is straight across the ring
    ring = shapely.box(0, 0, 40, 40).difference(shapely.box(15, 15, 25, 25))
    pocket = shapely.box(15, 15, 25, 25)
    cells = np.array([ring, pocket])
    free = outline_network(cells, blocked_cells=np.zeros(2, bool), footprints=np.array([shapely.box(2, 2, 8, 8)]), barriers=None, half_width=1.0)
    inner = free.cell_nodes[1]
    outer = np.setdiff1d(free.cell_nodes[0], inner)
    assert np.isfinite(dijkstra(free.matrix, indices=inner, min_only=True)[outer]).any()
    # a building filling the ring's body on every side leaves no way across
    walls = np.array([shapely.box(0, 0, 40, 14.5), shapely.box(0, 25.5, 40, 40), shapely.box(0, 0, 14.5, 40), shapely.box(25.5, 0, 40, 40)])
    shut = outline_network(cells, blocked_cells=np.zeros(2, bool), footprints=walls, barriers=None, half_width=1.0)
    assert not np.isfinite(dijkstra(shut.matrix, indices=shut.cell_nodes[1], min_only=True)[outer]).any()


def test_outline_network_avoids_barriers_and_blocked_cells():
    cells = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    road = np.array([shapely.LineString([(10, -5), (10, 15)])])
    net = outline_network(cells, blocked_cells=np.zeros(2, bool), footprints=np.zeros(0, dtype=object), barriers=road, half_width=1.0)
    assert net.matrix.nnz // 2 == 2  # the shared edge lies on the road and the edges meeting it touch it: the two far sides are left
    blocked = outline_network(cells, blocked_cells=np.array([False, True]), footprints=np.zeros(0, dtype=object), barriers=None, half_width=1.0)
    assert blocked.matrix.nnz // 2 == 3  # only the free cell's own three outer edges


def test_unit_fit_leaves_no_grid_without_an_exact_unit_cut():
    # --grid-size 10:15 makes buildings of 16-19 households oversize grids of their own; they take in
    # neighbouring households so their units can be cut in band (their excuse stands)
    _, result, _ = _run(True)
    units, grids = result.units, result.grids.set_index("grid_code")
    total = grids["households"].loc[units["grid_code"]].to_numpy()
    cuttable = np.array([fits_units(t, 10, 15) for t in total])
    assert units["households"][cuttable].between(10, 15).all()
    assert result.report["summary"]["share_cuttable_units_in_band"] == 1.0
    # units out of band say why, in both languages
    outside = units[~units["in_band"].astype(bool)]
    assert (outside["reason"].str.len() > 0).all() and (outside["reason_zh"].str.len() > 0).all()
    assert (units.loc[units["in_band"].astype(bool), "reason"] == "").all()
    fitted = grids[grids["reason"].str.contains("so that its households can be cut")]
    assert len(fitted) >= 1 and (fitted["status"] == "oversize_building").all()
    per_building = result.buildings.groupby("grid_code")["households"].max()
    assert (per_building.loc[fitted.index] > 15).all()
    assert all(fits_units(h, 10, 15) for h in fitted["households"])


def test_stranded_house_joins_the_nearest_oversize_grid_through_a_route():
    # a house of 2 whose only neighbour has 15 (10-15): no in-band grid can hold it, even through
    # routes; it joins the grid of the 40-household tower two cells away, through the yard behind the 15
    from gridgeo.cells.adjacency import build_cell_graph
    from gridgeo.partition.notes import make_note
    from gridgeo.partition.routes import repair_by_routes

    cells = np.array([shapely.box(i * 10, 0, i * 10 + 10, 20) for i in range(3)])
    houses = [np.array([shapely.box(i * 10, 0, i * 10 + 10, 12)]) for i in range(3)]
    graph = build_cell_graph(cells, np.array([2, 15, 40]), shapely.centroid(cells))
    notes = [make_note("out_of_band", "search_failed"), make_note("in_band"), make_note("oversize_building", "oversize_building", households=40, high=15)]
    labels, new_notes, new_cells, strips = repair_by_routes(graph, np.array([0, 1, 2]), notes, cells, {}, houses, 10, 15, allowed_via=np.ones(3, bool))
    assert labels.tolist() == [1, 0, 1]
    assert [n.status for n in new_notes] == ["in_band", "oversize_building"]
    assert new_notes[1].code == "oversize_absorbed" and dict(new_notes[1].params)["absorbed"] == 2
    tower = shapely.union_all([new_cells[0], new_cells[2], *strips[1]])
    assert shapely.get_type_id(tower) == 3  # one polygon through the strip
    assert shapely.distance(strips[1][0], houses[1][0]) >= CLEARANCE_M - 1e-9
    assert shapely.coverage_is_valid(np.array([new_cells[1], tower], dtype=object))


def test_stranded_grid_on_real_data_joins_an_oversize_grid():
    # a re-cut Monaco community (tests/data/monaco_recut.gpkg, derived boundary) at 10-15: a building of 6
    # households touches none that it can form a grid with; it joins a grid with a building above 15
    communities = gpd.read_file(DATA / "monaco_recut.gpkg", layer="communities")
    buildings = gpd.read_file(DATA / "monaco_recut.gpkg", layer="buildings")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(routes_module._Router, "absorb", lambda *a, **k: None)
        without = gridgeo.partition(communities, buildings, households="hh_est", grid_size=(10, 15), workers=1)
    assert without.report["summary"]["n_defects"] == 1
    result = gridgeo.partition(communities, buildings, households="hh_est", grid_size=(10, 15), workers=1)
    assert result.report["summary"]["n_defects"] == 0
    assert audit_partition(result, buildings) == []
    grids = result.grids
    absorbed = grids[grids["reason"].str.contains("neighbouring buildings that could form no contiguous grid")]
    assert len(absorbed) == 1 and absorbed["status"].iloc[0] == "oversize_building"
    code = absorbed["grid_code"].iloc[0]
    assert result.buildings.loc[result.buildings["grid_code"] == code, "households"].max() > 15
    assert int(grids["households"].sum()) == int(buildings["hh_est"].sum())
    assert (shapely.get_type_id(grids.geometry.to_numpy()) == 3).all()
