"""Living plans keep the staffing, workload and coverage columns true: `gridgeo update` and `apply-edits` measure them
again with the previous run's settings (real Monaco buildings and roads, tests/data/monaco_*).

Monaco has no service-centre layer: the centres are the representative points of two real buildings (stand-ins, as
in tests/test_coverage.py).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.governance.coverage import COVERAGE_COLUMNS, grid_coverage
from gridgeo.governance.network import build_road_network
from gridgeo.governance.workload import WORKLOAD_COLUMNS, add_workload, grid_workload
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.living.update import update
from gridgeo.result import read_outputs

from .conftest import DATA

ROADS = f"{DATA / 'monaco_roads.gpkg'}:roads"
SETTINGS = {"households_per_helper": 120, "factor": 1.3, "limit_min": 5.0, "speed": 70.0}


@pytest.fixture(scope="module")
def run(monaco, tmp_path_factory):
    """A CLI run along the roads, to two service centres, with non-default staffing and coverage settings."""
    _, buildings, _ = monaco
    tmp = tmp_path_factory.mktemp("services")
    picked = buildings.iloc[[5, 120]]
    centres = gpd.GeoDataFrame(
        {"centre_id": [f"B-{b}" for b in picked["building_id"]], "name": ["stand-in centre A", "stand-in centre B"]},
        geometry=picked.representative_point().to_numpy(),
        crs=buildings.crs,
    )
    centres.to_file(tmp / "centres.gpkg", layer="centres")
    args = [
        "partition", str(DATA / "monaco_communities.gpkg"), str(DATA / "monaco_buildings.gpkg"), "--households", "hh_est",
        "--building-id", "building_id", "--roads", ROADS, "--service-centres", str(tmp / "centres.gpkg"),
        "--households-per-helper", str(SETTINGS["households_per_helper"]), "--workload-factor", str(SETTINGS["factor"]),
        "--walk-limit", str(SETTINGS["limit_min"]), "--walk-speed", str(SETTINGS["speed"]), "--no-map", "--no-report",
        "-o", str(tmp / "v1"),
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return tmp


def _fresh(result: gridgeo.Partition, roads) -> pd.DataFrame:
    """What the staffing, workload and coverage functions give on the final grids with the first run's settings."""
    network = build_road_network([roads], crs=local_metric_crs(result.grids))
    base = result.grids.drop(columns=[*WORKLOAD_COLUMNS, *COVERAGE_COLUMNS])
    out = grid_workload(base, result.buildings, roads=network, households_per_helper=SETTINGS["households_per_helper"], factor=SETTINGS["factor"])
    return grid_coverage(out, result.buildings, result.service_centres, roads=network, speed=SETTINGS["speed"], limit_min=SETTINGS["limit_min"])


def _assert_columns_fresh(result: gridgeo.Partition, roads) -> None:
    fresh = _fresh(result, roads)
    for column in (*WORKLOAD_COLUMNS, *COVERAGE_COLUMNS):
        assert result.grids[column].tolist() == fresh[column].tolist(), column
    report = result.report
    assert report["workload"]["households_per_helper"] == SETTINGS["households_per_helper"] and report["workload"]["factor"] == SETTINGS["factor"]
    assert report["workload"]["distances"] == "road network" and report["coverage"]["distances"] == "road network"
    assert report["coverage"]["limit_min"] == SETTINGS["limit_min"] and report["coverage"]["speed_m_per_min"] == SETTINGS["speed"]
    assert report["workload"]["helpers"] == int(result.grids["helpers_n"].sum())
    assert report["coverage"]["n_flagged"] == int(result.grids["coverage_flag"].sum())


def test_update_measures_every_grid_again_with_the_previous_settings(run, monaco):
    _, buildings, roads = monaco
    previous = read_outputs(run / "v1")
    assert previous.report["parameters"]["roads"] == [ROADS.replace(str(DATA), str(DATA.resolve()))]
    assert previous.service_centres is not None and len(previous.service_centres) == 2
    rng = np.random.default_rng(0)
    remaining = buildings.drop(buildings.index[rng.choice(len(buildings), int(round(0.05 * len(buildings))), replace=False)])
    remaining.to_file(run / "new.gpkg", layer="buildings")
    result = CliRunner().invoke(main, ["update", str(run / "v1"), "--buildings", str(run / "new.gpkg"), "-o", str(run / "v2"), "--no-map", "--no-report"])
    assert result.exit_code == 0, result.output
    updated = read_outputs(run / "v2")
    changes = json.loads((run / "v2" / "changes.json").read_text(encoding="utf-8"))
    assert changes["grids_reshaped"], "the removal should make the update re-draw grids"
    _assert_columns_fresh(updated, roads)
    # the redrawn grids' columns changed with them (they were not carried over from the previous run)
    old = previous.grids.set_index("grid_code")
    new = updated.grids.set_index("grid_code")
    assert any(old.loc[c, "tour_m"] != new.loc[c, "tour_m"] for c in changes["grids_reshaped"])
    # the road files and centres stay recorded for the next update
    assert updated.report["parameters"]["roads"] == previous.report["parameters"]["roads"]
    assert updated.service_centres["centre_id"].tolist() == previous.service_centres["centre_id"].tolist()


def test_apply_edits_measures_every_grid_again_with_the_plan_settings(run, monaco):
    _, _, roads = monaco
    previous = read_outputs(run / "v1")
    b = previous.buildings
    source = "002-02"
    code = str(b.loc[b["grid_code"] == source].sort_values("building_code")["building_code"].iloc[0])
    target = sorted(set(previous.grids.loc[previous.grids["community_code"] == "002", "grid_code"]) - {source})[0]
    csv = run / "edits.csv"
    csv.write_text(f"building_code,grid_code\n{code},{target}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["apply-edits", str(run / "v1"), str(csv), "-o", str(run / "edited"), "--no-map", "--no-report"])
    assert result.exit_code == 0, result.output
    edited = read_outputs(run / "edited")
    assert edited.buildings.set_index("building_code").loc[code, "grid_code"] == target
    _assert_columns_fresh(edited, roads)


def test_straight_line_settings_of_the_api_are_kept(taipei_small):
    communities, buildings = taipei_small
    plan = add_workload(gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id"), households_per_helper=150, factor=1.2)
    rng = np.random.default_rng(4)
    remaining = buildings.drop(buildings.index[rng.choice(len(buildings), 14, replace=False)])
    updated = update(plan, remaining)
    assert updated.changes["grids_reshaped"] or updated.changes["grids_modified"]
    fresh = grid_workload(updated.grids.drop(columns=list(WORKLOAD_COLUMNS)), updated.buildings, households_per_helper=150, factor=1.2)
    for column in WORKLOAD_COLUMNS:
        assert updated.grids[column].tolist() == fresh[column].tolist(), column
    assert updated.report["workload"]["households_per_helper"] == 150 and updated.report["workload"]["distances"] == "straight line"


def test_roads_measured_but_not_recorded_must_be_given_again(monaco):
    communities, buildings, roads = monaco
    plan = add_workload(gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id"), roads=roads)
    remaining = buildings.iloc[10:]
    with pytest.raises(InputError, match="measured tours and walks along roads"):
        update(plan, remaining)
    updated = update(plan, remaining, roads=roads)
    network = build_road_network([roads], crs=local_metric_crs(updated.grids))
    fresh = grid_workload(updated.grids.drop(columns=list(WORKLOAD_COLUMNS)), updated.buildings, roads=network)
    assert updated.grids["tour_m"].tolist() == fresh["tour_m"].tolist()
    assert updated.report["workload"]["distances"] == "road network" and updated.report["parameters"]["roads"] is None


def test_a_chain_of_updates_keeps_the_barriers_and_settings(monaco, tmp_path):
    """update and apply-edits write the parent's config.toml forward (with their own output and buildings), so the
    next update of the chain re-draws along the same barriers, in the same language."""
    from gridgeo.config import load_config

    _, buildings, _ = monaco
    args = ["partition", str(DATA / "monaco_communities.gpkg"), str(DATA / "monaco_buildings.gpkg"), "--households", "hh_est",
            "--building-id", "building_id", "--barriers", ROADS, "--lang", "en", "--no-map", "--no-report", "-o", str(tmp_path / "v1")]  # fmt: skip
    assert CliRunner().invoke(main, args).exit_code == 0
    rng = np.random.default_rng(3)
    for step in (2, 3):
        layer = buildings.drop(buildings.index[rng.choice(len(buildings), 20, replace=False)])
        layer.to_file(tmp_path / f"b{step}.gpkg", layer="buildings")
        result = CliRunner().invoke(
            main, ["update", str(tmp_path / f"v{step - 1}"), "--buildings", str(tmp_path / f"b{step}.gpkg"), "-o", str(tmp_path / f"v{step}"), "--no-map", "--no-report", "--no-kept-cell-bound", "--no-kept-cell-candidate"]
        )
        assert result.exit_code == 0, result.output
        config = load_config(tmp_path / f"v{step}" / "config.toml")
        assert config["barriers"] == [ROADS.replace(str(DATA), str(DATA.resolve()))]
        assert config["lang"] == "en" and config["output"] == str((tmp_path / f"v{step}").resolve())
        assert config["buildings"] == str((tmp_path / f"b{step}.gpkg").resolve())
    # the last plan measured its crossings against the same barriers as the first
    last = read_outputs(tmp_path / "v3")
    assert last.grids["barrier_crossings"].sum() > 0
    edits = tmp_path / "edits.csv"
    edits.write_text(f"building_code,grid_code,action\n,{sorted(last.grids['grid_code'])[0]},lock\n", encoding="utf-8")
    edited = CliRunner().invoke(main, ["apply-edits", str(tmp_path / "v3"), str(edits), "-o", str(tmp_path / "e4"), "--no-map", "--no-report"])
    assert edited.exit_code == 0, edited.output
    assert load_config(tmp_path / "e4" / "config.toml")["barriers"] == config["barriers"]
