"""Living plans (gridgeo.living.update): stability, kept codes and polygons, guarantees, history, CLI — on real Taipei data."""

from __future__ import annotations

import json
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import shapely.geometry
from click.testing import CliRunner

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.cli import main
from gridgeo.living.update import GRID_INDEX, load_grid_index, update
from gridgeo.result import read_outputs

from .conftest import SHARED, file_hashes

OPTIONS = {"households": "hh_est", "community_id": "community_id", "building_id": "building_id"}


def wanhua_slice() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """12 real communities of 萬華/大同 (1,431 buildings, 29,165 estimated households)."""
    folder = SHARED / "taipei_wanhua_datong"
    if not folder.exists():
        pytest.skip(f"{folder} is not present (the shared data sits beside the repository in CI)")
    communities = gpd.read_file(folder / "communities.gpkg")
    buildings = gpd.read_file(folder / "buildings.gpkg")
    ids = sorted(communities["community_id"])[:12]
    return communities[communities["community_id"].isin(ids)], buildings[buildings["community_id"].isin(ids)]


@pytest.fixture(scope="module")
def wanhua():
    return wanhua_slice()


def _check_update(previous: gridgeo.Partition, updated: gridgeo.Partition, buildings: gpd.GeoDataFrame) -> dict:
    """Every guarantee of a fresh run, plus: unchanged grids keep code and polygon, retired codes stay retired."""
    assert audit_partition(updated, buildings, quality=True) == []
    assert updated.report["summary"]["n_defects"] == 0
    changes = updated.changes
    old = previous.grids.set_index("grid_code")
    new = updated.grids.set_index("grid_code")
    kept_polygon = set(new.index) - set(changes["grids_added"]) - set(changes["grids_reshaped"])
    assert kept_polygon <= set(old.index)
    for code in kept_polygon:
        assert shapely.to_wkb(new.geometry[code]) == shapely.to_wkb(old.geometry[code]), code
    # every previous code survives or is retired, and a retired code never comes back
    assert set(old.index) == (set(old.index) & set(new.index)) | set(changes["grids_retired"])
    assert not set(changes["grids_added"]) & set(previous.report.get("retired_grid_codes", []))
    assert set(changes["grids_retired"]) <= set(updated.report["retired_grid_codes"])
    # every building that kept its grid keeps its code
    before = previous.buildings.set_index("building_id")
    after = updated.buildings.set_index("building_id")
    common = before.index.intersection(after.index)
    assert (before.loc[common, "building_code"] == after.loc[common, "building_code"]).all()
    moved = (before.loc[common, "grid_code"] != after.loc[common, "grid_code"]).to_numpy()
    hh = after.loc[common, "households"].to_numpy()
    assert changes["households_moved"] == int(hh[moved].sum())
    assert changes["share_households_moved"] == pytest.approx(hh[moved].sum() / hh.sum())
    return changes


@pytest.mark.parametrize("seed", [0, 1])
def test_removing_five_percent_moves_at_most_five_percent_of_households(wanhua, tmp_path, seed):
    communities, buildings = wanhua
    previous = gridgeo.partition(communities, buildings, **OPTIONS)
    folder = previous.to_files(tmp_path / "v1")
    rng = np.random.default_rng(seed)
    removed = rng.choice(len(buildings), int(round(0.05 * len(buildings))), replace=False)
    remaining = buildings.drop(buildings.index[removed])
    updated = update(folder, remaining)
    changes = _check_update(previous, updated, remaining)
    assert len(changes["buildings_removed"]) == len(removed)
    assert changes["share_households_moved"] <= 0.05
    # most grids keep their polygon: only those out of band after the removal and their neighbours are redrawn
    assert len(changes["grids_reshaped"]) + len(changes["grids_retired"]) < 0.5 * len(previous.grids)


@pytest.mark.parametrize("seed", [0, 2])
def test_adding_five_percent_moves_at_most_five_percent_of_households(wanhua, tmp_path, seed):
    communities, buildings = wanhua
    rng = np.random.default_rng(seed)
    held_out = rng.choice(len(buildings), int(round(0.05 * len(buildings))), replace=False)
    earlier = buildings.drop(buildings.index[held_out])
    previous = gridgeo.partition(communities, earlier, **OPTIONS)
    folder = previous.to_files(tmp_path / "v1")
    updated = update(folder, buildings)
    changes = _check_update(previous, updated, buildings)
    assert len(changes["buildings_added"]) == len(held_out)
    assert changes["share_households_moved"] <= 0.05
    # new buildings are numbered after the community's highest building code
    added = updated.buildings[updated.buildings["building_code"].isin(changes["buildings_added"])]
    for ccode, group in added.groupby("community_code"):
        top = previous.buildings.loc[previous.buildings["community_code"] == ccode, "building_code"].max()
        assert (group["building_code"] > top).all()


def test_no_change_update_leaves_the_plan_identical(taipei_small, tmp_path):
    communities, buildings = taipei_small
    previous = gridgeo.partition(communities, buildings, **OPTIONS)
    folder = previous.to_files(tmp_path / "v1")
    updated = update(folder, buildings.sample(frac=1.0, random_state=3))  # row order does not matter
    assert all(not value for key, value in updated.changes.items() if isinstance(value, list))
    assert updated.changes["households_moved"] == 0
    saved = read_outputs(folder)
    for layer in ("grids", "units"):
        a, b = getattr(saved, layer), getattr(updated, layer)
        assert a.drop(columns="geometry").equals(b.drop(columns="geometry").astype(a.drop(columns="geometry").dtypes.to_dict()))
        assert list(shapely.to_wkb(a.geometry.to_numpy())) == list(shapely.to_wkb(b.geometry.to_numpy()))
        # the same geometries, of the same types, as the fresh run made them
        fresh = getattr(previous, layer)
        assert list(shapely.to_wkb(fresh.geometry.to_numpy())) == list(shapely.to_wkb(b.geometry.to_numpy()))
    assert saved.buildings["grid_code"].tolist() == updated.buildings["grid_code"].tolist()
    assert saved.buildings["building_code"].tolist() == updated.buildings["building_code"].tolist()
    # written out, the plan is byte for byte the first one
    again = file_hashes(updated.to_files(tmp_path / "v2"))
    first = file_hashes(folder)
    for name in ("partition.gpkg", "grids.geojson", "buildings.geojson", "units.geojson"):
        assert again[name] == first[name], name


@pytest.mark.parametrize("dataset", ["taipei_small", "monaco"])
def test_unit_geometry_types_are_those_of_a_fresh_run(dataset, request, tmp_path):
    """Polygon footprints (Taipei) and one-part MultiPolygon footprints (Monaco): a unit's type does not change in an update."""
    communities, buildings = request.getfixturevalue(dataset)[:2]
    options = OPTIONS if dataset == "taipei_small" else {"households": "hh_est", "building_id": "building_id"}
    folder = gridgeo.partition(communities, buildings, **options).to_files(tmp_path / "v1")
    rng = np.random.default_rng(1)
    remaining = buildings.drop(buildings.index[rng.choice(len(buildings), 10, replace=False)])
    updated = update(folder, remaining)
    out = updated.to_files(tmp_path / "v2")

    def features(path):
        return {f["properties"]["unit_code"]: f for f in json.loads((path / "units.geojson").read_text(encoding="utf-8"))["features"]}

    before, after = features(folder), features(out)
    same = [code for code in after if code in before and before[code]["properties"]["members"] == after[code]["properties"]["members"]]
    assert len(same) > 0.3 * len(after)
    assert [after[c]["geometry"]["type"] for c in same] == [before[c]["geometry"]["type"] for c in same]
    # the files hold one geometry type per layer: every unit is a MultiPolygon there
    assert {f["geometry"]["type"] for f in after.values()} == {"MultiPolygon"}
    # in memory (and read back) every unit, kept or cut again, has the type the fresh rule gives: its building's own type, else the union's
    kinds = dict(zip(updated.buildings["building_code"], updated.buildings.geom_type))
    back = read_outputs(out).units.set_index("unit_code").geom_type
    for code, members, geometry in zip(updated.units["unit_code"], updated.units["members"], updated.units.geometry):
        members = members.split(";")
        if len(members) == 1:
            assert geometry.geom_type == kinds[members[0].rsplit(":", 1)[0]]
        else:
            assert geometry.geom_type == ("Polygon" if len(shapely.get_parts(geometry)) == 1 else "MultiPolygon")
        assert back[code] == geometry.geom_type
    types = {name: pyogrio.read_info(path / "partition.gpkg", layer="units")["geometry_type"] for name, path in (("fresh", folder), ("updated", out))}
    assert types["fresh"] == types["updated"]
    assert audit_partition(updated, remaining, quality=True) == []


def test_whole_community_repartition_keeps_an_empty_detached_part(monaco):
    """Monaco's Larvotto has a detached part without buildings: when the update must split that community afresh,
    the empty part stays a grid of its own and keeps its code."""
    communities, buildings, _ = monaco
    previous = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    empty = previous.grids[previous.grids["n_buildings"] == 0]
    assert len(empty) == 1 and empty["status"].iloc[0] == "detached_part"
    rng = np.random.default_rng(1)
    remaining = buildings.drop(buildings.index[rng.choice(len(buildings), 10, replace=False)])
    updated = update(previous, remaining)
    assert audit_partition(updated, remaining, quality=True) == []
    code = empty["grid_code"].iloc[0]
    row = updated.grids.set_index("grid_code").loc[code]
    assert row["n_buildings"] == 0 and row["status"] == "detached_part"
    assert code not in updated.changes["grids_retired"]


def test_update_is_deterministic_and_records_its_parent(taipei_small, tmp_path):
    communities, buildings = taipei_small
    folder = gridgeo.partition(communities, buildings, **OPTIONS).to_files(tmp_path / "v1")
    rng = np.random.default_rng(5)
    remaining = buildings.drop(buildings.index[rng.choice(len(buildings), 14, replace=False)])
    first = update(folder, remaining).to_files(tmp_path / "a")
    second = update(folder, remaining.iloc[::-1]).to_files(tmp_path / "b")
    assert file_hashes(first) == file_hashes(second)
    report = json.loads((first / "report.json").read_text(encoding="utf-8"))
    parent = report["parent"]
    assert parent["path"] == str(folder.resolve())
    assert parent["report_sha256"] == file_hashes(folder)["report.json"]
    assert parent["parameters"]["grid_size"] == [300, 500]
    assert report["history"] == [parent]
    changes = json.loads((first / "changes.json").read_text(encoding="utf-8"))
    assert len(changes["buildings_removed"]) == 14
    assert report["changes"]["buildings_removed"] == 14
    # a chain: the update of an update names both ancestors
    third = update(first, remaining)
    assert [entry["path"] for entry in third.report["history"]] == [str(folder.resolve()), str(first.resolve())]


def test_retired_codes_are_never_reused(taipei_small, tmp_path):
    communities, buildings = taipei_small
    previous = gridgeo.partition(communities, buildings, **OPTIONS)
    folder = previous.to_files(tmp_path / "v1")
    # demolish every building of one grid: its grid retires
    victim = previous.grids.sort_values("grid_code")["grid_code"].iloc[0]
    gone = previous.buildings.loc[previous.buildings["grid_code"] == victim, "building_id"]
    thinned = buildings[~buildings["building_id"].isin(gone)]
    first = update(folder, thinned)
    assert victim in first.changes["grids_retired"]
    assert victim in first.report["retired_grid_codes"]
    assert audit_partition(first, thinned, quality=True) == []
    # rebuild them all, doubled in households: new grids appear, none takes the retired code
    second_folder = first.to_files(tmp_path / "v2")
    rebuilt = buildings.copy()
    rebuilt.loc[rebuilt["building_id"].isin(gone), "hh_est"] *= 2
    second = update(second_folder, rebuilt)
    assert victim not in set(second.grids["grid_code"])
    assert victim in second.report["retired_grid_codes"]
    assert second.changes["grids_added"]
    assert audit_partition(second, rebuilt, quality=True) == []


def test_buildings_matched_by_footprint_without_ids(taipei_small, tmp_path):
    communities, buildings = taipei_small
    options = {"households": "hh_est", "community_id": "community_id"}
    previous = gridgeo.partition(communities, buildings, **options)
    folder = previous.to_files(tmp_path / "v1")
    same = update(folder, buildings.iloc[::-1])
    assert same.changes["buildings_added"] == [] and same.changes["buildings_removed"] == []
    # one footprint shifted by 0.5 m (still the same building by overlap), one household count changed
    edited = buildings.copy()
    shifted_id, counted_id = edited["building_id"].iloc[10], edited["building_id"].iloc[20]
    metric = edited.to_crs(3826)
    metric.loc[metric.index[10], "geometry"] = shapely.affinity.translate(metric.geometry.iloc[10], 0.5, 0)
    edited = metric.to_crs(buildings.crs)
    edited.loc[edited.index[20], "hh_est"] = int(edited["hh_est"].iloc[20]) + 3
    updated = update(folder, edited)
    codes = updated.buildings.set_index("building_id")["building_code"]
    assert sorted(updated.changes["buildings_changed"]) == sorted([codes[shifted_id], codes[counted_id]])
    assert updated.changes["buildings_added"] == [] and updated.changes["buildings_removed"] == []
    assert audit_partition(updated, edited, quality=True) == []


def test_saved_grid_index_places_buildings(taipei_small, tmp_path):
    communities, buildings = taipei_small
    previous = gridgeo.partition(communities, buildings, **OPTIONS)
    folder = previous.to_files(tmp_path / "v1")
    assert (folder / f"{GRID_INDEX}.idx").exists() and (folder / f"{GRID_INDEX}.dat").exists()
    grids = read_outputs(folder).grids
    index = load_grid_index(folder, grids)
    point = shapely.point_on_surface(grids.geometry.iloc[3])
    hits = [i for i in index.intersection(point.bounds) if grids.geometry.iloc[i].covers(point)]
    assert hits == [3]
    # a new building takes the grid holding its representative point
    metric = buildings.to_crs(3826)
    anchor = shapely.point_on_surface(grids.to_crs(3826).geometry.iloc[3])
    extra = metric.iloc[[0]].copy()
    extra.index = [metric.index.max() + 1]
    extra["building_id"] = "new-1"
    extra["hh_est"] = 2
    extra["geometry"] = [shapely.box(anchor.x - 2, anchor.y - 2, anchor.x + 2, anchor.y + 2)]
    grown = gpd.GeoDataFrame(pd.concat([metric, extra]), geometry="geometry", crs=3826).to_crs(buildings.crs)
    updated = update(folder, grown)
    row = updated.buildings.set_index("building_id").loc["new-1"]
    assert row["grid_code"] == grids["grid_code"].iloc[3]
    assert updated.changes["buildings_added"] == [row["building_code"]]


def test_cli_update(taipei_small, tmp_path):
    communities, buildings = taipei_small
    folder = gridgeo.partition(communities, buildings, **OPTIONS).to_files(tmp_path / "v1")
    remaining = buildings.drop(buildings.index[:14])
    remaining.to_file(tmp_path / "new.gpkg", layer="buildings", driver="GPKG")
    runner = CliRunner()
    out = tmp_path / "v2"
    result = runner.invoke(main, ["update", str(folder), "--buildings", str(tmp_path / "new.gpkg"), "-o", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "changed grid" in result.output
    changes = json.loads((out / "changes.json").read_text(encoding="utf-8"))
    assert len(changes["buildings_removed"]) == 14
    assert 'id="changes"' in (out / "report.html").read_text(encoding="utf-8")
    assert (out / "map.html").exists() and (out / f"{GRID_INDEX}.idx").exists()
    # the map draws what changed: each changed grid carries its kind, shown in an overlay and its popup
    page = (out / "map.html").read_text(encoding="utf-8")
    changed = changes["grids_modified"] + changes["grids_reshaped"] + changes["grids_added"]
    data = json.loads(page.split('id="gg-data">', 1)[1].split("</script>", 1)[0])
    assert changed and sum(1 for c in data["layers"]["grids"]["p"]["chg"] if c) == len(changed)
    assert "Grids changed by this update" in page
    # the plan being updated is never overwritten, a missing folder is a plain error
    same = runner.invoke(main, ["update", str(folder), "--buildings", str(tmp_path / "new.gpkg"), "-o", str(folder), "--overwrite"])
    assert same.exit_code == 2 and "PREVIOUS_OUTDIR" in same.output
    missing = runner.invoke(main, ["update", str(tmp_path / "nope"), "--buildings", str(tmp_path / "new.gpkg"), "-o", str(tmp_path / "v3")])
    assert missing.exit_code == 2 and "nope: folder not found" in missing.output


def test_update_and_apply_edits_name_input_files_as_the_user_typed_them(taipei_small, tmp_path, monkeypatch):
    """Planners keep one folder per year with the same file names: a message names the file as typed
    (``2028/buildings.gpkg``), never its name alone, and nothing is written."""
    communities, buildings = taipei_small
    monkeypatch.chdir(tmp_path)
    gridgeo.partition(communities, buildings, **OPTIONS).to_files(tmp_path / "v1")
    for year in ("2027", "2028"):
        (tmp_path / year).mkdir()
    buildings.to_file(tmp_path / "2027" / "buildings.gpkg", layer="buildings")
    buildings.drop(columns=["hh_est"]).to_file(tmp_path / "2028" / "buildings.gpkg", layer="buildings")
    runner = CliRunner()
    typed = os.path.join("2028", "buildings.gpkg")
    for spec, expected in (
        (typed, f"Error: {typed}: has no column 'hh_est'"),  # the new layer, checked by update
        (f"{typed}:nope", f"Error: {typed}:nope: has no layer 'nope'; its layers: buildings — fix: name one of them, e.g. {typed}:buildings"),
    ):
        result = runner.invoke(main, ["update", "v1", "--buildings", spec, "-o", "v2", "--lang", "en"])
        assert result.exit_code == 2 and expected in result.output, result.output
    # an output folder holding an input names the input as given
    result = runner.invoke(main, ["update", "v1", "--buildings", os.path.join("2027", "buildings.gpkg"), "-o", "2027", "--overwrite"])
    assert result.exit_code == 2 and f"2027 holds the input file {os.path.join('2027', 'buildings.gpkg')};" in result.output, result.output
    # the edits file, as typed
    edits = tmp_path / "2028" / "edits.csv"
    edits.write_text("building_code,grid_code\n001-B99999,001-01\n", encoding="utf-8")
    typed = os.path.join("2028", "edits.csv")
    result = runner.invoke(main, ["apply-edits", "v1", typed, "-o", "v2", "--lang", "en"])
    assert result.exit_code == 2 and f"Error: {typed}: line 2: unknown building code 001-B99999" in result.output, result.output
    assert not (tmp_path / "v2").exists()
