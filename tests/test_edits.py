"""Manual edits (gridgeo.living.edits, `gridgeo apply-edits`) on three real Taipei villages (tests/data/taipei_small_*)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.living.edits import EDITED_SPLIT, apply_edits
from gridgeo.living.update import update
from gridgeo.result import read_outputs

from .conftest import file_hashes

OPTIONS = {"households": "hh_est", "community_id": "community_id", "building_id": "building_id"}


@pytest.fixture(scope="module")
def plan(taipei_small, tmp_path_factory):
    """The plan of the three villages, written to a folder: 10 grids, all in band."""
    communities, buildings = taipei_small
    folder = gridgeo.partition(communities, buildings, **OPTIONS).to_files(tmp_path_factory.mktemp("edits") / "v1")
    return folder, buildings


def _edits(*rows, action=None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["building_code", "grid_code"])
    if action is not None:
        frame["action"] = action
    return frame


def _adjacent(grids, a: str, b: str) -> bool:
    g = grids.to_crs(3826).set_index("grid_code").geometry
    return float(shapely.area(shapely.intersection(shapely.buffer(g[a], 0.5), g[b]))) > 1.0


def _nearest_building(previous, source: str, target: str, min_households: int = 0) -> str:
    """The building of grid ``source`` (with at least ``min_households``) nearest to grid ``target``."""
    b = previous.buildings.to_crs(3826)
    g = previous.grids.to_crs(3826).set_index("grid_code").geometry
    here = b[(b["grid_code"] == source) & (b["households"] >= min_households)]
    return str(here.loc[here.geometry.distance(g[target]).idxmin(), "building_code"])


def _polygons(result) -> dict[str, bytes]:
    return {code: shapely.to_wkb(geom) for code, geom in zip(result.grids["grid_code"], result.grids.geometry)}


def _layer_input(previous) -> pd.DataFrame:
    from gridgeo.living.edits import _input_layer

    return _input_layer(previous)


def test_moving_one_building_between_adjacent_grids_redraws_exactly_those_two(plan):
    folder, _ = plan
    previous = read_outputs(folder)
    assert _adjacent(previous.grids, "001-01", "001-02")
    code = _nearest_building(previous, "001-01", "001-02")
    hh = int(previous.buildings.set_index("building_code").loc[code, "households"])
    edited = apply_edits(folder, _edits((code, "001-02")))
    # the edit is kept and households are conserved at every level
    assert edited.buildings.set_index("building_code").loc[code, "grid_code"] == "001-02"
    before = previous.grids.set_index("grid_code")["households"]
    after = edited.grids.set_index("grid_code")["households"]
    assert after["001-01"] == before["001-01"] - hh and after["001-02"] == before["001-02"] + hh
    assert int(after.sum()) == int(before.sum()) == int(edited.communities["households"].sum())
    units = edited.units.groupby("grid_code")["households"].sum()
    assert units.reindex(after.index).astype(int).equals(after.astype(int))
    assert audit_partition(edited, _layer_input(previous), quality=False) == []
    # exactly the two grids are re-drawn; every other polygon and unit is byte-identical
    old, new = _polygons(previous), _polygons(edited)
    assert {c for c in old if old[c] != new[c]} == {"001-01", "001-02"}
    assert edited.edits["grids_redrawn"] == ["001-01", "001-02"]
    kept_units = previous.units[~previous.units["grid_code"].isin(["001-01", "001-02"])]
    new_units = edited.units[~edited.units["grid_code"].isin(["001-01", "001-02"])]
    assert kept_units["unit_code"].tolist() == new_units["unit_code"].tolist()
    assert kept_units["members"].tolist() == new_units["members"].tolist()
    # units of the two grids were cut again and list the moved building in its new grid
    assert any(code in str(m) for m in edited.units.loc[edited.units["grid_code"] == "001-02", "members"])
    assert not any(code in str(m) for m in edited.units.loc[edited.units["grid_code"] == "001-01", "members"])
    assert edited.edits["broken_constraints"] == []
    assert edited.changes["buildings_moved"] == [{"building_code": code, "from": "001-01", "to": "001-02", "households": hh}]
    assert edited.report["pinned_buildings"] == {code: "001-02"}
    assert edited.report["parent"]["report_sha256"] == file_hashes(folder)["report.json"]


def test_edit_pushing_a_grid_out_of_band_is_kept_and_reported(plan):
    folder, _ = plan
    previous = read_outputs(folder)
    # 001-01 has 308 households: a building of 9 or more next to 001-02 takes it below 300
    code = _nearest_building(previous, "001-01", "001-02", min_households=9)
    edited = apply_edits(previous, _edits((code, "001-02")))
    row = edited.grids.set_index("grid_code").loc["001-01"]
    assert row["households"] < 300
    assert row["status"] == "out_of_band"
    assert row["reason"].startswith("manual edit:") and code in row["reason"]
    assert row["reason_zh"].startswith("人工调整：")
    broken = edited.edits["broken_constraints"]
    assert [(item["grid_code"], item["constraint"]) for item in broken] == [("001-01", "band")]
    assert edited.report["edits"]["broken_constraints"][0]["grid_code"] == "001-01"
    assert edited.buildings.set_index("building_code").loc[code, "grid_code"] == "001-02"
    # integrity holds; the quality audit names the defect instead of hiding it
    assert audit_partition(edited, _layer_input(previous), quality=False) == []
    assert any("001-01" in p for p in audit_partition(edited, _layer_input(previous), quality=True))
    assert edited.report["summary"]["n_defects"] == 1


def _far_building(previous) -> str:
    """A building (under 100 households) of the first grid of community 002 that does not touch 002-01."""
    codes = sorted(c for c in previous.grids["grid_code"] if c.startswith("002-") and c != "002-01")
    source = next(c for c in codes if not _adjacent(previous.grids, c, "002-01"))
    b = previous.buildings
    return str(b[(b["grid_code"] == source) & (b["households"] < 100)].sort_values("building_code").iloc[-1]["building_code"])


def test_non_adjacent_move_is_kept_as_a_split_grid(plan, tmp_path):
    folder, _ = plan
    previous = read_outputs(folder)
    code = _far_building(previous)
    edited = apply_edits(previous, _edits((code, "002-01")))
    grids = edited.grids.set_index("grid_code")
    assert grids.loc["002-01", "status"] == EDITED_SPLIT
    assert grids.geometry["002-01"].geom_type == "MultiPolygon" and len(grids.geometry["002-01"].geoms) == 2
    assert "2 pieces" in grids.loc["002-01", "reason"] and "分成 2 块" in grids.loc["002-01", "reason_zh"]
    assert [(i["grid_code"], i["constraint"], i.get("pieces")) for i in edited.edits["broken_constraints"]] == [("002-01", "one_piece", 2)]
    assert audit_partition(edited, _layer_input(previous), quality=False) == []
    # written and read back: the split grid stays in pieces, the others are single polygons again
    out = edited.to_files(tmp_path / "split")
    back = read_outputs(out)
    kinds = dict(zip(back.grids["grid_code"], back.grids.geom_type))
    assert kinds.pop("002-01") == "MultiPolygon" and set(kinds.values()) == {"Polygon"}
    assert json.loads((out / "edits.json").read_text(encoding="utf-8"))["broken_constraints"][0]["constraint"] == "one_piece"


def test_a_split_grid_is_named_in_the_summary_and_drawn_with_its_own_status_on_the_map(plan, tmp_path):
    """`apply-edits` says how many grids the edits left in pieces, and map.html shows them under their own status
    (it listed them under a raw "_other" heading, with no legend entry)."""
    folder, _ = plan
    code = _far_building(read_outputs(folder))
    edits = tmp_path / "edits.csv"
    edits.write_text(f"building_code,grid_code,action\n{code},002-01,move\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["apply-edits", str(folder), str(edits), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 grid left in several pieces by the edits, kept as edited (status edited_split)" in result.output
    assert "0 grids locked, 0 unlocked" in result.output
    page = (out / "map.html").read_text(encoding="utf-8")
    assert '"edited_split"' in page and '"_other"' in page  # the status's own style, and the fallback for unknown ones
    assert "本次调整变化的网格" in page and "本次更新变化的网格" not in page  # edits, not an update
    grids = gpd.read_file(out / "partition.gpkg", layer="grids")
    assert (grids["status"] == EDITED_SPLIT).sum() == 1
    from gridgeo.outputs.map_data import _grid_props  # noqa: PLC0415 (the columns the map draws)

    drawn = _grid_props(grids, np.zeros(len(grids), dtype=int), {}, "en", {})["status"]
    assert EDITED_SPLIT in drawn and "_other" not in drawn


def test_an_edits_file_saved_as_gbk_is_read_with_encoding_and_one_without_rows_is_named(plan, tmp_path):
    """A CSV saved by Chinese Excel (GBK, with a 备注 column) is read with --encoding gbk; a file holding only its
    header says the plan is written unchanged (it did so silently)."""
    folder, _ = plan
    previous = read_outputs(folder)
    b = previous.buildings
    code = str(b[b["grid_code"] == "002-02"].sort_values("building_code").iloc[0]["building_code"])
    gbk = tmp_path / "edits_gbk.csv"
    gbk.write_bytes(f"building_code,grid_code,action,备注\n{code},002-02,move,原地指定\n".encode("gbk"))
    refused = CliRunner().invoke(main, ["apply-edits", str(folder), str(gbk), "-o", str(tmp_path / "a")])
    assert refused.exit_code == 2 and "--encoding gbk" in refused.output and not (tmp_path / "a").exists()
    read = CliRunner().invoke(main, ["apply-edits", str(folder), str(gbk), "-o", str(tmp_path / "b"), "--encoding", "gbk", "--no-map", "--no-report"])
    assert read.exit_code == 0, read.output
    assert json.loads((tmp_path / "b" / "edits.json").read_text(encoding="utf-8"))["moves"][0]["building_code"] == code
    empty = tmp_path / "empty.csv"
    empty.write_text("building_code,grid_code\n", encoding="utf-8")
    unchanged = CliRunner().invoke(main, ["apply-edits", str(folder), str(empty), "-o", str(tmp_path / "c"), "--no-map", "--no-report"])
    assert unchanged.exit_code == 0 and "has no edit rows (only its header): the plan is written again unchanged" in unchanged.output
    kept = read_outputs(tmp_path / "c")
    assert _polygons(kept) == _polygons(previous)


def test_emptied_grid_is_retired_and_its_area_redrawn(plan):
    folder, _ = plan
    previous = read_outputs(folder)
    b = previous.buildings
    codes = b.loc[b["grid_code"] == "002-05", "building_code"].astype(str).tolist()
    edited = apply_edits(previous, _edits(*[(c, "002-06") for c in codes]))
    assert "002-05" not in set(edited.grids["grid_code"])
    assert edited.edits["grids_retired"] == ["002-05"]
    assert "002-05" in edited.report["retired_grid_codes"] and edited.changes["grids_retired"] == ["002-05"]
    assert audit_partition(edited, _layer_input(previous), quality=False) == []
    # 002-06 now holds both grids' households: above the band, kept and reported
    row = edited.grids.set_index("grid_code").loc["002-06"]
    assert row["households"] == int(previous.grids.set_index("grid_code").loc[["002-05", "002-06"], "households"].sum())
    assert row["status"] == "out_of_band" and row["reason"].startswith("manual edit:")
    assert [(i["grid_code"], i["constraint"]) for i in edited.edits["broken_constraints"]] == [("002-06", "band")]


def test_new_grid_code_creates_a_grid_and_locks_are_recorded(plan):
    folder, _ = plan
    previous = read_outputs(folder)
    code = _nearest_building(previous, "003-02", "003-01")
    new = _next_free(previous, "003")
    edits = pd.DataFrame({"building_code": [code, ""], "grid_code": [new, "002-03"], "action": ["", "lock"]})
    edited = apply_edits(previous, edits)
    assert edited.edits["grids_created"] == [new]
    assert edited.buildings.set_index("building_code").loc[code, "grid_code"] == new
    assert edited.report["locked_grids"] == ["002-03"]
    # the grids layer says which grid is locked (GIS users saw it nowhere outside the map's edit mode)
    assert edited.grids.loc[edited.grids["locked"], "grid_code"].tolist() == ["002-03"]
    assert "locked" not in previous.grids.columns
    assert audit_partition(edited, _layer_input(previous), quality=False) == []
    assert [i["grid_code"] for i in edited.edits["broken_constraints"] if i["constraint"] == "band"] == [new]


def _next_free(previous, community: str, step: int = 0) -> str:
    """The grid code ``step`` numbers after the community's highest (its grids' and its retired ones')."""
    codes = [*previous.grids["grid_code"].astype(str), *previous.report.get("retired_grid_codes", [])]
    numbers = [c.rsplit("-", 1)[1] for c in codes if c.startswith(f"{community}-")]
    return f"{community}-{max(int(n) for n in numbers) + 1 + step:0{max(len(n) for n in numbers)}d}"


def test_a_move_to_a_code_that_is_not_the_next_free_number_is_an_error_naming_the_fix(plan, tmp_path):
    """A typo'd grid code would silently create a grid: a new grid must take its community's next free number
    (several new grids: consecutive ones, in any order), else every such row is listed with that number, exit 2
    and nothing is written."""
    folder, _ = plan
    previous = read_outputs(folder)
    b = previous.buildings
    first, second, third = (str(c) for c in b.loc[b["community_code"] == "001", "building_code"].iloc[:3])
    other = str(b.loc[b["community_code"] == "002", "building_code"].iloc[0])
    nxt, after = _next_free(previous, "001"), _next_free(previous, "001", 1)
    typo = _next_free(previous, "001", 76)
    # two new grids of one community, given in reverse order: consecutive next numbers, accepted
    edited = apply_edits(previous, _edits((first, after), (second, nxt)))
    assert edited.edits["grids_created"] == [nxt, after]
    assert edited.buildings.set_index("building_code").loc[[first, second], "grid_code"].tolist() == [after, nxt]
    # a typo beside a good new code, and a community whose first new code skips a number: every bad row at once
    skipped = _next_free(previous, "002", 1)
    with pytest.raises(InputError) as info:
        apply_edits(previous, _edits((first, nxt), (second, typo), (third, typo), (other, skipped)), source="my/edits.csv")
    assert len(info.value.problems) == 2
    text = str(info.value)
    assert f"my/edits.csv: lines 3, 4: grid code {typo} is not a grid of community 001" in text
    assert f"the next free grid code in community 001 is {after}" in text
    assert f"my/edits.csv: line 5: grid code {skipped} is not a grid of community 002" in text
    assert f"the next free grid code in community 002 is {_next_free(previous, '002')}" in text
    # the command: exit 2, the message as typed, no traceback, nothing written
    csv = tmp_path / "edits.csv"
    csv.write_text(f"building_code,grid_code\n{first},{typo}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["apply-edits", str(folder), str(csv), "-o", str(tmp_path / "never"), "--lang", "en"])
    assert result.exit_code == 2, result.output
    assert f"{csv}: line 2: grid code {typo} is not a grid of community 001" in result.output
    assert f"the next free grid code in community 001 is {nxt}" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "never").exists()


def test_edits_are_deterministic(plan, tmp_path):
    folder, _ = plan
    previous = read_outputs(folder)
    code = _nearest_building(previous, "001-01", "001-02")
    a = apply_edits(folder, _edits((code, "001-02"))).to_files(tmp_path / "a")
    b = apply_edits(folder, _edits((code, "001-02"))).to_files(tmp_path / "b")
    hashes_a, hashes_b = file_hashes(a), file_hashes(b)
    assert hashes_a == hashes_b


def test_round_trip_update_without_building_change_keeps_the_edited_plan(plan, tmp_path):
    folder, buildings = plan
    previous = read_outputs(folder)
    near = _nearest_building(previous, "001-01", "001-02")
    far = str(previous.buildings[(previous.buildings["grid_code"] == "002-05") & (previous.buildings["households"] < 100)].sort_values("building_code").iloc[-1]["building_code"])
    edits = pd.DataFrame({"building_code": [near, far, ""], "grid_code": ["001-02", "002-01", "003-01"], "action": ["move", "move", "lock"]})
    edited_dir = apply_edits(folder, edits).to_files(tmp_path / "edited")
    edited = read_outputs(edited_dir)
    again = update(edited_dir, buildings)
    again_dir = again.to_files(tmp_path / "again")
    hashes_a, hashes_b = file_hashes(edited_dir), file_hashes(again_dir)
    for name in ("partition.gpkg", "grids.geojson", "buildings.geojson", "units.geojson"):
        assert hashes_a[name] == hashes_b[name], name
    ua, ub = edited.units, again.units
    assert ua["unit_code"].tolist() == ub["unit_code"].tolist() and ua["members"].tolist() == ub["members"].tolist()
    assert list(shapely.to_wkb(ua.geometry.to_numpy())) == list(shapely.to_wkb(ub.geometry.to_numpy()))
    assert again.changes["buildings_moved"] == [] and again.changes["grids_reshaped"] == []
    assert again.report["locked_grids"] == ["003-01"]
    assert again.report["pinned_buildings"] == {far: "002-01", near: "001-02"}
    assert again.changes["pins_broken"] == []


def test_update_keeps_locked_grids_when_buildings_change(plan):
    folder, buildings = plan
    previous = read_outputs(folder)
    code = _nearest_building(previous, "001-01", "001-02")
    edited = apply_edits(previous, pd.DataFrame({"building_code": [code, ""], "grid_code": ["001-02", "001-01"], "action": ["move", "lock"]}))
    # demolish the buildings of 001-01 until it falls below the band: the locked grid is flagged, not re-drawn
    b = edited.buildings
    doomed = b.loc[b["grid_code"] == "001-01"].sort_values("building_code")["building_id"].iloc[:6]
    remaining = buildings[~buildings["building_id"].isin(doomed)]
    updated = update(edited, remaining)
    old, new = _polygons(edited), _polygons(updated)
    assert old["001-01"] == new["001-01"] and old["001-02"] == new["001-02"]
    row = updated.grids.set_index("grid_code").loc["001-01"]
    assert row["households"] < 300
    assert row["status"] == "out_of_band" and row["reason"].startswith("kept as the planner edited it")
    assert updated.changes["grids_reshaped"] == [] and updated.changes["grids_modified"] == ["001-01"]
    assert updated.buildings.set_index("building_code").loc[code, "grid_code"] == "001-02"
    assert updated.grids.loc[updated.grids["locked"], "grid_code"].tolist() == ["001-01"]
    unlocked = apply_edits(updated, pd.DataFrame({"building_code": [""], "grid_code": ["001-01"], "action": ["unlock"]}))
    assert "locked" not in unlocked.grids.columns and unlocked.report["locked_grids"] == []
    assert audit_partition(updated, remaining, quality=False) == []


def test_update_repairs_a_grid_holding_a_pin_and_the_pin_holds(plan, tmp_path):
    folder, buildings = plan
    previous = read_outputs(folder)
    # pin a building of 002-01 into its neighbour 002-02
    assert _adjacent(previous.grids, "002-01", "002-02")
    code = _nearest_building(previous, "002-01", "002-02")
    edited_dir = apply_edits(folder, _edits((code, "002-02"))).to_files(tmp_path / "edited")
    edited = read_outputs(edited_dir)
    assert edited.report["pinned_buildings"] == {code: "002-02"}
    # demolish the largest other buildings of 002-02 until it falls below the band
    b = edited.buildings
    others = b[(b["grid_code"] == "002-02") & (b["building_code"] != code)].sort_values(["households", "building_code"], ascending=[False, True])
    total = int(b.loc[b["grid_code"] == "002-02", "households"].sum())
    gone = []
    for building_id, hh in zip(others["building_id"], others["households"]):
        if total < 300:
            break
        gone.append(building_id)
        total -= int(hh)
    remaining = buildings[~buildings["building_id"].isin(gone)]
    updated = update(edited_dir, remaining)
    # the grid holding the pin was repaired like any other: re-drawn, back in the band, its code kept
    assert "002-02" in updated.changes["grids_reshaped"]
    row = updated.grids.set_index("grid_code").loc["002-02"]
    assert 300 <= row["households"] <= 500 and row["status"] == "in_band"
    assert _polygons(updated)["002-02"] != _polygons(edited)["002-02"]
    # the pin holds: the building stays in 002-02, nothing is reported broken, every guarantee holds
    assert updated.buildings.set_index("building_code").loc[code, "grid_code"] == "002-02"
    assert updated.changes["pins_broken"] == [] and updated.report["pinned_buildings"] == {code: "002-02"}
    assert audit_partition(updated, remaining, quality=True) == []
    assert updated.report["summary"]["n_defects"] == 0
    # grids outside the repaired region keep their polygons
    kept = set(edited.grids["grid_code"]) - set(updated.changes["grids_reshaped"]) - set(updated.changes["grids_retired"])
    old, new = _polygons(edited), _polygons(updated)
    assert kept and all(old[c] == new[c] for c in kept)


def test_edits_with_compounds_report_the_compound_they_split_and_round_trip(taipei_small, tmp_path):
    """Compounds from real footprints within 2 m of each other (as in tests/test_areas.py)."""
    communities, buildings = taipei_small
    metric = buildings.estimate_utm_crs()
    merged = gpd.GeoSeries([buildings.to_crs(metric).buffer(2.0).union_all()], crs=metric).explode(index_parts=False)
    compounds = gpd.GeoDataFrame({"name": [f"C{i:03d}" for i in range(int((merged.area > 200).sum()))]}, geometry=list(merged[merged.area > 200]), crs=metric)
    folder = gridgeo.partition(communities, buildings, **OPTIONS, compounds=compounds).to_files(tmp_path / "v1")
    previous = read_outputs(folder)
    # a compound of several buildings that fits in one grid: move its building nearest to a neighbouring grid there
    b = previous.buildings.to_crs(metric)
    points = b.representative_point()
    for row in previous.report["compounds"]:
        if row["kept_whole"] and row["n_buildings"] >= 3:
            grid = row["grids"][0]
            neighbours = [g for g in previous.grids["grid_code"] if g != grid and g[:3] == grid[:3] and _adjacent(previous.grids, g, grid)]
            if neighbours:
                break
    inside = b[points.within(compounds.set_index("name").geometry[row["compound"]]).to_numpy()]
    target = neighbours[0]
    g = previous.grids.to_crs(metric).set_index("grid_code").geometry
    code = str(inside.loc[inside.geometry.distance(g[target]).idxmin(), "building_code"])
    edited = apply_edits(folder, _edits((code, target)))
    after = {r["compound"]: r for r in edited.report["compounds"]}[row["compound"]]
    assert after["split"] and after["grids"] == sorted([grid, target])
    assert "planner's edits" in after["reason"] and "规划人员的调整" in after["reason_zh"]
    assert edited.compounds.set_index("compound").loc[row["compound"], "grids"] == ";".join(sorted([grid, target]))
    # every other compound that fits still lies in one grid
    assert all(not r["split"] for name, r in {r["compound"]: r for r in edited.report["compounds"]}.items() if r["kept_whole"] and name != row["compound"])
    assert audit_partition(edited, _layer_input(previous), quality=False) == []
    # round trip: an update without building change gives the edited plan back, compounds layer included
    edited_dir = edited.to_files(tmp_path / "edited")
    again_dir = update(edited_dir, buildings).to_files(tmp_path / "again")
    hashes_a, hashes_b = file_hashes(edited_dir), file_hashes(again_dir)
    for name in ("partition.gpkg", "grids.geojson", "buildings.geojson", "units.geojson"):
        assert hashes_a[name] == hashes_b[name], name


def test_bad_edit_rows_are_one_input_error(plan):
    folder, _ = plan
    previous = read_outputs(folder)
    b = previous.buildings
    one = str(b.loc[b["grid_code"] == "001-01", "building_code"].iloc[0])
    two = str(b.loc[b["grid_code"] == "002-01", "building_code"].iloc[0])
    edits = pd.DataFrame(
        {
            "building_code": ["001-B99999", one, two, two, "", one],
            "grid_code": ["001-01", "002-01", "002-02", "002-03", "009-01", ""],
            "action": ["", "", "", "", "lock", "shove"],
        }
    )
    with pytest.raises(InputError) as info:
        apply_edits(previous, edits, source="edits.csv")
    text = str(info.value)
    assert len(info.value.problems) == 6
    for fragment in (
        "line 2: unknown building code 001-B99999",
        f"line 3: building {one} of community 001 cannot move to grid 002-01",
        f"line 5: building {two} is sent to 002-03 but also to 002-02",
        "line 6: cannot lock unknown grid 009-01",
        "line 7: unknown action 'shove'",
        "line 7: no grid_code",
    ):
        assert fragment in text, fragment
    with pytest.raises(InputError, match="missing column grid_code"):
        apply_edits(previous, pd.DataFrame({"building_code": [one]}))


def test_cli_apply_edits(plan, tmp_path):
    folder, _ = plan
    previous = read_outputs(folder)
    code = _nearest_building(previous, "001-01", "001-02", min_households=9)
    csv = tmp_path / "edits.csv"
    csv.write_text(f"building_code,grid_code\n{code},001-02\n", encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "edited"
    result = runner.invoke(main, ["apply-edits", str(folder), str(csv), "-o", str(out), "--no-map", "--no-report", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "1 building moved" in result.output and "kept: 001-01 [band]: manual edit:" in result.output
    summary = json.loads((out / "report.json").read_text(encoding="utf-8"))["summary"]
    assert f"the plan written: {summary['n_grids']} grids" in result.output and f"{summary['n_defects']} defect" in result.output
    assert "map:" not in result.output  # (--no-map)
    record = json.loads((out / "edits.json").read_text(encoding="utf-8"))
    assert record["moves"][0]["building_code"] == code and record["moves"][0]["lines"] == [2]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["edits"]["moves"] == 1 and report["parent"]["path"] == str(folder.resolve())
    assert (out / "changes.json").exists()
    # bad rows: exit 2 with one message naming the file and the line; nothing written
    bad = tmp_path / "bad.csv"
    bad.write_text("building_code,grid_code\n001-B99999,001-01\n", encoding="utf-8")
    result = runner.invoke(main, ["apply-edits", str(folder), str(bad), "-o", str(tmp_path / "never")])
    assert result.exit_code == 2
    assert "bad.csv: line 2: unknown building code 001-B99999" in result.output
    assert not (tmp_path / "never").exists()
    # writing into the plan being edited is refused
    result = runner.invoke(main, ["apply-edits", str(folder), str(csv), "-o", str(folder), "--overwrite"])
    assert result.exit_code == 2 and "OUTDIR" in result.output
    assert np.isin(["partition.gpkg", "report.json"], [p.name for p in folder.iterdir()]).all()
