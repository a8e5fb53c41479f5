"""An update gives a building that grew above the band a grid of its own, and makes a cleared community one grid, on monaco.

A grid holding a building above the band's maximum has no band.  When one of its buildings grows above the maximum
(or an added one above it lands in it), the grid used to keep every other building with it (monaco: 5,229
households in 39 buildings); now the building is alone in its grid and the rest is repaired as any grid out of the
band (:func:`gridgeo.living.carve.carve_oversize`).  A community whose buildings are all removed used to keep all
its grids, each empty; now it is one grid per part, as a fresh partition draws it
(:func:`gridgeo.living.carve.merge_cleared`).  Every other grid keeps its polygon and code byte for byte.
"""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import gridgeo
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.living.update import update

from .conftest import shared_dataset

OPTIONS = {"households": "hh_est", "community_id": "community_id", "building_id": "building_id"}
EXCUSES = {"oversize_building", "oversize_absorbed", "infeasible_total", "detached_part"}


@pytest.fixture(scope="module")
def monaco_run(tmp_path_factory):
    """The shared monaco set partitioned and written: (plan, its folder, the building layer)."""
    communities, buildings = shared_dataset("monaco")
    plan = gridgeo.partition(communities, buildings, **OPTIONS)
    out = plan.to_files(tmp_path_factory.mktemp("monaco") / "plan")
    return plan, out, buildings


def _number(code: str) -> int:
    return int(re.match(r"^.+-(\d+)$", code).group(1))


def _check_plan(plan, result, buildings, low, high):
    """Invariants of every updated plan: one polygon per grid, valid coverage, households conserved, band or excuse,
    the figures of ``changes`` (households moved recounted from the buildings, the bound not above them)."""
    grids = result.grids
    assert (grids.geometry.geom_type == "Polygon").all()
    for _, rows in grids.groupby("community_id"):
        assert shapely.coverage_is_valid(rows.geometry.to_numpy())
    assert int(grids["households"].sum()) == int(result.buildings["households"].sum()) == int(buildings["hh_est"].sum())
    per_grid = result.buildings.groupby("grid_code")["households"].sum()
    for _, row in grids.iterrows():
        assert int(row["households"]) == int(per_grid.get(row["grid_code"], 0))
        if not low <= row["households"] <= high:
            assert row["status"] in EXCUSES and row["reason"], row["grid_code"]
    before = plan.buildings.set_index("building_code")["grid_code"]
    after = result.buildings.set_index("building_code")
    kept = after.index.intersection(before.index)
    moved = after.loc[kept, "grid_code"] != before[kept]
    assert result.changes["households_moved"] == int(after.loc[kept[moved.to_numpy()], "households"].sum())
    assert 0 <= result.changes["households_moved_lower_bound"] <= result.changes["households_moved"]


def _others_untouched(plan, result, touched: set[str]):
    """Every previous grid but ``touched`` is in the result with its code and polygon byte for byte (and its row's
    households); every grid that changed is in ``touched`` or new."""
    before = plan.grids.set_index("grid_code")
    after = result.grids.set_index("grid_code")
    for code in before.index:
        if code not in touched:
            assert code in after.index
            assert after.geometry[code].wkb == before.geometry[code].wkb, code
            assert int(after.loc[code, "households"]) == int(before.loc[code, "households"])
    changed = set(result.changes["grids_reshaped"]) | set(result.changes["grids_modified"]) | set(result.changes["grids_retired"])
    assert changed <= touched


def _bordering(plan, code: str) -> set[str]:
    """``code`` and the grids of its community sharing a border with it (the grids a change in it may touch)."""
    grids = plan.grids.to_crs(local_metric_crs(plan.grids)).set_index("grid_code")
    own = grids.geometry[code]
    same = grids[grids["community_code"] == grids.loc[code, "community_code"]]
    return {c for c, g in same.geometry.items() if shapely.length(shapely.intersection(shapely.boundary(own), shapely.buffer(g, 0.01))) > 0.05}


@pytest.mark.parametrize(
    ("grid", "remainder"),
    [
        ("003-01", "below"),  # 458 households; its largest building (229) grows: 229 left, below the band
        ("003-02", "in band"),  # 412 households; its largest building (107) grows: 305 left, a grid of its own
    ],
)
def test_a_building_grown_above_the_band_gets_a_grid_of_its_own(monaco_run, grid, remainder, tmp_path):
    plan, out, buildings = monaco_run
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    members = plan.buildings[plan.buildings["grid_code"] == grid]
    largest = members.loc[members["households"].idxmax()]
    left = int(members["households"].sum() - largest["households"])
    assert (left < low) == (remainder == "below") and left > 0  # the case
    grown = buildings.copy()
    grown.loc[grown["building_id"] == largest["building_id"], "hh_est"] = 5000
    result = update(out, grown)
    _check_plan(plan, result, grown, low, high)
    # the grown building is alone in its grid, which keeps the code and is excused
    after = result.buildings.set_index("building_code")
    assert after.loc[largest["building_code"], "grid_code"] == grid
    assert (result.buildings["grid_code"] == grid).sum() == 1
    row = result.grids.set_index("grid_code").loc[grid]
    assert row["status"] == "oversize_building" and int(row["households"]) == 5000
    # the rest left it, each grid holding some of it in the band (none above it: no other large building there)
    rest = after.loc[members["building_code"][members["building_code"] != largest["building_code"]]]
    assert (rest["grid_code"] != grid).all()
    holding = result.grids.set_index("grid_code").loc[sorted(set(rest["grid_code"]))]
    assert ((holding["households"] >= low) & (holding["households"] <= high)).all()
    # new grids are numbered after the community's highest, and no code is retired
    community = plan.grids[plan.grids["grid_code"] == grid]["community_code"].iloc[0]
    highest = max(_number(c) for c in plan.grids.loc[plan.grids["community_code"] == community, "grid_code"])
    assert result.changes["grids_added"] and all(_number(c) > highest for c in result.changes["grids_added"])
    assert result.changes["grids_retired"] == [] and not any("~" in c for c in result.report["retired_grid_codes"])
    # only the grid and the grids bordering it changed; every building that moved was in one of them
    touched = _bordering(plan, grid)
    _others_untouched(plan, result, touched)
    assert {m["from"] for m in result.changes["buildings_moved"]} <= touched
    assert result.changes["households_moved"] >= left  # the rest moved (the grown building kept the code)
    # the bound knows it: the grown building and the rest parted, so one side moved (min(5,000, left) = left)
    assert result.changes["households_moved_lower_bound"] >= left


def test_an_added_building_above_the_band_gets_a_new_grid_and_nobody_moves(monaco_run, tmp_path):
    plan, out, buildings = monaco_run
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    grids = plan.grids.set_index("grid_code")
    grid = "003-05"
    metric = local_metric_crs(plan.grids)
    # a 5 m square on open ground inside the grid, 3 m from every building
    area = grids.to_crs(metric).geometry[grid].buffer(-3).difference(shapely.union_all(buildings.to_crs(metric).geometry.buffer(3).to_numpy()))
    square = shapely.Point(shapely.get_coordinates(area.representative_point())[0]).buffer(2.5, cap_style="square")
    added = gpd.GeoDataFrame({"building_id": ["added-1"], "hh_est": [600], "community_id": [grids.loc[grid, "community_id"]]}, geometry=[square], crs=metric)
    more = pd.concat([buildings, added.to_crs(buildings.crs)], ignore_index=True)
    result = update(out, more)
    _check_plan(plan, result, more, low, high)
    after = result.grids.set_index("grid_code")
    new = result.changes["grids_added"]
    assert len(new) == 1 and int(after.loc[new[0], "households"]) == 600 and after.loc[new[0], "status"] == "oversize_building"
    assert (result.buildings["grid_code"] == new[0]).sum() == 1
    # the households that were there keep their grid: nobody moved
    assert result.changes["households_moved"] == 0 and int(after.loc[grid, "households"]) == int(grids.loc[grid, "households"])
    _others_untouched(plan, result, {grid})


def test_a_building_above_the_band_before_keeps_its_grid_as_it_was(monaco_run, tmp_path):
    """A building that was above the band already and grows keeps its grid: only growth past the maximum cuts."""
    plan, out, buildings = monaco_run
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    over = plan.grids[plan.grids["status"] == "oversize_building"]
    grid = over["grid_code"].iloc[0]
    members = plan.buildings[plan.buildings["grid_code"] == grid]
    largest = members.loc[members["households"].idxmax()]
    assert int(largest["households"]) > high
    grown = buildings.copy()
    grown.loc[grown["building_id"] == largest["building_id"], "hh_est"] = int(largest["households"]) + 100
    result = update(out, grown)
    _check_plan(plan, result, grown, low, high)
    assert result.changes["households_moved"] == 0 and result.changes["grids_added"] == []
    assert result.changes["grids_modified"] == [grid] and result.changes["grids_reshaped"] == []
    _others_untouched(plan, result, {grid})
    before, after = plan.grids.set_index("grid_code"), result.grids.set_index("grid_code")
    assert after.geometry[grid].wkb == before.geometry[grid].wkb and after.loc[grid, "status"] == "oversize_building"


def test_a_community_whose_buildings_are_all_removed_is_one_grid(monaco_run, tmp_path):
    plan, out, buildings = monaco_run
    low, high = (int(v) for v in plan.report["parameters"]["grid_size"])
    cleared = ["MON-004", "MON-006"]
    fewer = buildings[~buildings["community_id"].isin(cleared)]
    result = update(out, fewer)
    _check_plan(plan, result, fewer, low, high)
    communities = plan.communities.set_index("community_id")
    retired = set()
    for community in cleared:
        before = plan.grids[plan.grids["community_id"] == community]
        after = result.grids[result.grids["community_id"] == community]
        # as a fresh partition: one grid per part of the community (MON-006 has a detached part, a grid of its own)
        parts = [p for p in shapely.get_parts(communities.geometry[community]) if p.area > 0]
        assert len(after) == len(parts) < len(before)
        assert (after["households"] == 0).all() and (after["n_buildings"] == 0).all()
        assert (after["status"].isin({"infeasible_total", "detached_part"})).all() and after["reason"].astype(bool).all()
        # each part's lowest code is kept, the others retired
        kept = set(after["grid_code"])
        assert min(before["grid_code"]) in kept and kept <= set(before["grid_code"])
        retired |= set(before["grid_code"]) - kept
        union = shapely.union_all(after.to_crs(local_metric_crs(after)).geometry.to_numpy())
        assert abs(union.area - shapely.union_all(before.to_crs(local_metric_crs(after)).geometry.to_numpy()).area) < 1e-3 * union.area
    assert set(result.changes["grids_retired"]) == retired
    assert retired <= set(result.report["retired_grid_codes"])
    assert result.changes["households_moved"] == result.changes["households_moved_lower_bound"] == 0
    untouched = set(plan.grids.loc[plan.grids["community_id"].isin(cleared), "grid_code"])
    _others_untouched(plan, result, untouched)
    # the next update keeps the cleared community's grid as it is
    again = update(result.to_files(tmp_path / "cleared"), fewer)
    assert again.changes["grids_retired"] == again.changes["grids_reshaped"] == again.changes["grids_added"] == []
