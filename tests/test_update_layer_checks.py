"""`gridgeo update` refuses a building layer that is not the plan's place as a whole (gridgeo.living.layercheck),
and says what it wrote — on the real Taipei slice of the tests (tests/data/taipei_small_*)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.living.update import update

OPTIONS = {"households": "hh_est", "community_id": "community_id", "building_id": "building_id"}


@pytest.fixture(scope="module")
def plan(taipei_small, tmp_path_factory):
    communities, buildings = taipei_small
    folder = tmp_path_factory.mktemp("layer") / "v1"
    gridgeo.partition(communities, buildings, **OPTIONS).to_files(folder)
    return folder, buildings


def _run(args: list[str]):
    return CliRunner().invoke(main, [*args, "--lang", "en"])


def _metric(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return buildings.to_crs(buildings.estimate_utm_crs())


@pytest.mark.parametrize("kind", ["only_new", "renumbered", "one_community"])
def test_a_layer_without_most_of_the_plan_is_refused_and_nothing_is_written(plan, tmp_path, kind):
    folder, buildings = plan
    if kind == "only_new":  # the new buildings alone: here a copy of ten buildings under new ids
        layer = buildings.head(10).assign(building_id=[f"new-{i}" for i in range(10)])
    elif kind == "renumbered":  # the whole layer re-exported with fresh ids
        layer = buildings.assign(building_id=[f"r{i}" for i in range(len(buildings))])
    else:
        first = sorted(buildings["community_id"])[0]
        layer = buildings[buildings["community_id"] == first]
    layer.to_file(tmp_path / "new.gpkg", layer="buildings", driver="GPKG")
    out = tmp_path / "v2"
    result = _run(["update", str(folder), "--buildings", str(tmp_path / "new.gpkg"), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    removed = len(buildings) - sum(layer["building_id"].isin(buildings["building_id"]))
    assert f"{removed:,} of the plan's {len(buildings):,} buildings" in result.output
    assert "--allow-removal" in result.output and "new.gpkg" in result.output
    if kind != "one_community":
        assert f"none of the layer's {len(layer):,} building_id values is a building of the plan" in result.output
    assert not out.exists()  # nothing half-written


def test_allow_removal_accepts_a_real_demolition_and_keeps_every_guarantee(plan, tmp_path):
    folder, buildings = plan
    first = sorted(buildings["community_id"])[0]
    layer = buildings[buildings["community_id"] == first]
    with pytest.raises(InputError, match="allow-removal"):
        update(folder, layer)
    updated = update(folder, layer, allow_removal=True)  # (the update's own audit runs: every guarantee holds)
    assert len(updated.changes["buildings_removed"]) == len(buildings) - len(layer)
    assert int(updated.buildings["households"].sum()) == int(layer["hh_est"].sum())
    layer.to_file(tmp_path / "new.gpkg", layer="buildings", driver="GPKG")
    out = tmp_path / "v2"
    result = _run(["update", str(folder), "--buildings", str(tmp_path / "new.gpkg"), "-o", str(out), "--allow-removal", "--no-map"])
    assert result.exit_code == 0, result.output
    assert f"buildings: 0 added, {len(buildings) - len(layer):,} removed;" in result.output
    assert "map:" not in result.output


def test_a_layer_shifted_as_a_whole_is_refused(plan, tmp_path):
    """GCJ-02 coordinates read as WGS 84 put every building some 500 m off, all the same way."""
    folder, buildings = plan
    metric = _metric(buildings)
    shifted = metric.set_geometry(metric.geometry.translate(380.0, -310.0)).to_crs(buildings.crs)
    shifted.to_file(tmp_path / "gcj.gpkg", layer="buildings", driver="GPKG")
    out = tmp_path / "v2"
    result = _run(["update", str(folder), "--buildings", str(tmp_path / "gcj.gpkg"), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "lie about 490 m south-east of where the plan has them" in result.output
    assert "GCJ-02" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_a_few_buildings_redrawn_elsewhere_are_no_shift(plan, tmp_path):
    """Buildings moved one by one (re-surveyed) are an ordinary update; the summary says what changed and was written."""
    folder, buildings = plan
    metric = _metric(buildings)
    moved = metric.index[:5]
    metric.loc[moved, "geometry"] = metric.loc[moved, "geometry"].translate(40.0, 0.0)
    metric.to_crs(buildings.crs).to_file(tmp_path / "new.gpkg", layer="buildings", driver="GPKG")
    out = tmp_path / "v2"
    result = _run(["update", str(folder), "--buildings", str(tmp_path / "new.gpkg"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    changes = json.loads((out / "changes.json").read_text(encoding="utf-8"))
    assert f"buildings: {len(changes['buildings_added'])} added, {len(changes['buildings_removed'])} removed;" in result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))["summary"]
    assert f"the plan written: {report['n_grids']} grids in {report['n_communities']} communities;" in result.output
    assert f"map: {out / 'map.html'}" in result.output and (out / "map.html").exists()


def test_edits_name_a_removed_building_and_an_id_for_what_they_are(plan, tmp_path):
    folder, buildings = plan
    plan_buildings = gpd.read_file(folder / "partition.gpkg", layer="buildings")
    first = plan_buildings.iloc[0]
    kept = buildings[buildings["building_id"] != first["building_id"]]
    v2 = update(folder, kept).to_files(tmp_path / "v2")
    second = plan_buildings.iloc[1]
    (tmp_path / "edits.csv").write_text(
        f"building_code,grid_code\n{first['building_code']},{first['grid_code']}\n{second['building_id']},{second['grid_code']}\n", encoding="utf-8",
    )
    result = _run(["apply-edits", str(v2), str(tmp_path / "edits.csv"), "-o", str(tmp_path / "v3")])
    assert result.exit_code == 2, result.output
    assert f"line 2: building {first['building_code']} is no longer in the plan (an update removed it" in result.output
    assert f"line 3: {second['building_id']} is a building_id, not a building code — fix: use its building_code, {second['building_code']}" in result.output


def test_an_update_does_not_repeat_the_repairs_of_the_plans_own_communities(tmp_path, caplog):
    """shanghai_bund's SHA-B037 becomes invalid once the plan's WGS 84 copy is taken to metres again: the partition
    said it was repaired, and an update keeps the note in its report without warning about it each time."""
    from .conftest import SHARED

    folder = SHARED / "shanghai_bund"
    if not folder.exists():
        pytest.skip(f"{folder} is not present")
    communities = gpd.read_file(folder / "communities.gpkg", layer="communities")
    buildings = gpd.read_file(folder / "buildings.gpkg", layer="buildings")
    mine = communities[communities["community_id"] == "SHA-B037"]
    layer = buildings[buildings["community_id"] == "SHA-B037"]
    plan = gridgeo.partition(mine, layer, **OPTIONS).to_files(tmp_path / "v1")
    caplog.clear()  # (the partition's own warnings)
    with caplog.at_level("WARNING"):
        updated = update(plan, layer.iloc[1:])
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert not [m for m in said if "make_valid" in m or "sliver" in m], said
    assert any("make_valid" in note for note in updated.report["notes"])


def test_a_plan_matched_by_footprint_names_a_shifted_layer_too(taipei_small, tmp_path):
    """Without building ids a shifted layer matches no footprint: the removal is refused and the message asks about it."""
    communities, buildings = taipei_small
    plan = gridgeo.partition(communities, buildings, households="hh_est").to_files(tmp_path / "v1")
    metric = _metric(buildings)
    shifted = metric.set_geometry(metric.geometry.translate(380.0, -310.0)).to_crs(buildings.crs)
    with pytest.raises(InputError) as info:
        update(plan, shifted, labels={"buildings": "gcj.gpkg"})
    text = str(info.value)
    assert f"gcj.gpkg: {len(buildings):,} of the plan's {len(buildings):,} buildings" in text
    assert "overlaps one of the plan's (is the layer shifted, or in a wrong CRS?)" in text


def test_a_shift_that_leaves_a_few_footprints_matched_still_names_the_shift():
    """A shift of ~500 m can leave a footprint or two matched by chance (a trial's layer: 1 of 523): the message still
    asks about a shift, and the fix names converting the layer before --allow-removal (it sent the user only there)."""
    from gridgeo.living.layercheck import _removal_problem

    match = np.full(40, -1)
    match[7] = 3  # one of the layer's 40 footprints overlaps one of the plan's
    removed = np.ones(45, dtype=bool)
    removed[3] = False
    problem = _removal_problem(match, np.full(45, 10), removed, label="gcj.gpkg", building_id=None, community_of_previous=None)
    assert problem.message.startswith("44 of the plan's 45 buildings (98 % of its households) are not in this layer")
    assert "only 1 of the layer's 40 footprints overlap one of the plan's (is the layer shifted, or in a wrong CRS?)" in problem.message
    assert "must be converted first; if that many buildings were really demolished, run again with --allow-removal" in problem.fix
    with_ids = _removal_problem(match, np.full(45, 10), removed, label="b.gpkg", building_id="bid", community_of_previous=None)
    assert "shifted" not in with_ids.message and "converted" not in with_ids.fix  # matched by id: the shift check is another
