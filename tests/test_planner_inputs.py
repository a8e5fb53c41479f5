"""What a street office's planner gives, checked as the planner meant it (found by a new-user trial on the shared
monaco data and the Taipei slice of the tests): a facility of buildings that stand apart, facility types in Chinese,
and moves across a locked grid's border."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from click.testing import CliRunner

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.result import read_outputs

from .conftest import DATA, shared_dataset


def test_a_facility_whose_buildings_stand_apart_is_refused_with_the_fix():
    """Two school buildings 757 m apart under one facility_id: the grid (one piece) would hold one of them and the
    other would be coded in it but drawn inside a neighbouring grid; the run stops before writing and says what to do."""
    communities, buildings = shared_dataset("monaco")
    table = pd.DataFrame({"building_id": ["w176684621", "w128840989"], "facility_id": ["lycee-tech"] * 2, "type": ["school"] * 2})
    with pytest.raises(InputError) as info:
        gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", dedicated=table, labels={"dedicated": "facilities.csv"})
    text = str(info.value)
    assert "facilities.csv: facility lycee-tech: its buildings stand apart" in text and "w176684621" in text
    assert "give each part its own facility_id" in text
    # as two facilities, each building is held by its own dedicated grid
    table["facility_id"] = ["lycee-tech-1", "lycee-tech-2"]
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", dedicated=table)
    grids = result.grids.set_index("grid_code")
    for bid in table["building_id"]:
        row = result.buildings[result.buildings["building_id"] == bid].iloc[0]
        assert grids.loc[row["grid_code"], "grid_type"] == "dedicated"
        assert grids.loc[row["grid_code"]].geometry.covers(row.geometry.representative_point())


def test_facility_types_in_chinese_get_their_letters_and_other_types_are_said(caplog):
    communities, buildings = shared_dataset("monaco")
    table = pd.DataFrame({"building_id": ["r1484190", "w94252399", "w161769674", "w94399990"], "type": ["学校", "医院", "商场", "救助站"]})
    with caplog.at_level(logging.WARNING):
        result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", dedicated=table)
    dedicated = result.grids[result.grids["grid_type"] == "dedicated"]
    letters = dict(zip(dedicated["facility_type"], dedicated["grid_code"].str.split("-").str[1].str[0]))
    assert letters == {"学校": "S", "医院": "H", "商场": "M", "救助站": "X"}
    said = [r.getMessage() for r in caplog.records if "coded X (other)" in r.getMessage()]
    assert said and "'救助站'" in said[0] and "hospital (医院)" in said[0]


def test_a_locked_grid_refuses_moves_in_and_out_unless_the_file_unlocks_it(tmp_path):
    quick = ["--no-map", "--no-report", "--lang", "en"]
    taipei = [str(DATA / "taipei_small_communities.gpkg"), str(DATA / "taipei_small_buildings.gpkg"), "--households", "hh_est"]
    assert CliRunner().invoke(main, ["partition", *taipei, *quick, "-o", str(tmp_path / "plan")]).exit_code == 0
    plan = read_outputs(tmp_path / "plan")
    grids = plan.grids["grid_code"].tolist()
    locked, other = grids[0], next(g for g in grids[1:] if g.split("-")[0] == grids[0].split("-")[0])
    (tmp_path / "lock.csv").write_text(f"building_code,grid_code,action\n,{locked},lock\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["apply-edits", str(tmp_path / "plan"), str(tmp_path / "lock.csv"), "-o", str(tmp_path / "v2"), *quick]).exit_code == 0
    buildings = read_outputs(tmp_path / "v2").buildings
    leaving = buildings.loc[buildings["grid_code"] == locked, "building_code"].iloc[0]
    entering = buildings.loc[buildings["grid_code"] == other, "building_code"].iloc[0]
    (tmp_path / "moves.csv").write_text(f"building_code,grid_code\n{leaving},{other}\n{entering},{locked}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["apply-edits", str(tmp_path / "v2"), str(tmp_path / "moves.csv"), "-o", str(tmp_path / "v3"), *quick])
    assert result.exit_code == 2, result.output
    assert f"line 2: grid {locked} is locked (report.json locked_grids): a move out of it is refused" in result.output
    assert f"line 3: grid {locked} is locked (report.json locked_grids): a move into it is refused" in result.output
    assert f"a row ,{locked},unlock" in result.output and not (tmp_path / "v3").exists()
    (tmp_path / "unlock.csv").write_text(f"building_code,grid_code,action\n{leaving},{other},move\n,{locked},unlock\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["apply-edits", str(tmp_path / "v2"), str(tmp_path / "unlock.csv"), "-o", str(tmp_path / "v4"), *quick])
    assert result.exit_code == 0, result.output
    moved = read_outputs(tmp_path / "v4").buildings.set_index("building_code")
    assert moved.loc[leaving, "grid_code"] == other and locked not in read_outputs(tmp_path / "v4").report.get("locked_grids", [])


def test_grounds_that_cross_a_community_line_say_what_stays_on_the_other_side(caplog):
    """Hospital grounds drawn 30 m around Centre Cardio (w94252399) reach into the next community: the two buildings
    there stay ordinary buildings of it (a grid never crosses a community line), and a warning says so."""
    import geopandas as gpd

    communities, buildings = shared_dataset("monaco")
    metric = buildings.to_crs(32632)
    hospital = metric.loc[metric["building_id"] == "w94252399"].geometry.iloc[0]
    grounds = gpd.GeoDataFrame({"type": ["hospital"], "name": ["Centre Cardio"]}, geometry=[hospital.buffer(30).convex_hull], crs=32632)
    with caplog.at_level(logging.WARNING):
        result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", dedicated=grounds)
    points = metric.geometry.representative_point()
    inside = metric[points.within(grounds.geometry.iloc[0])]
    home = inside["community_id"].value_counts().index[0]
    other = inside[inside["community_id"] != home]
    assert len(other) >= 1
    said = [r.getMessage() for r in caplog.records if "crosses into another community" in r.getMessage()]
    assert said and said[0].startswith(f"dedicated facility Centre Cardio crosses into another community: its {len(other)} building")
    placed = result.buildings.set_index("building_id").loc[other["building_id"], "grid_code"]
    types = result.grids.set_index("grid_code").loc[placed, "grid_type"]
    assert (types == "basic").all()  # (ordinary buildings of their own community)
