"""scripts/partition_province.py: batches that read their own buildings and take each exactly once."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import pandas as pd

from .conftest import DATA, REPO


def test_batches_take_every_building_once_and_write_full_outputs(tmp_path):
    communities = gpd.read_file(DATA / "monaco_communities.gpkg", layer="communities")
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    out = tmp_path / "province"
    done = subprocess.run(
        [
            sys.executable, str(REPO / "scripts" / "partition_province.py"),
            str(DATA / "monaco_communities.gpkg") + ":communities", str(DATA / "monaco_buildings.gpkg") + ":buildings",
            str(out), "--households", "hh_est", "--batch-communities", "2", "--workers", "2",
        ],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "province.json").read_text())
    batches = pd.read_csv(out / "batches.csv")
    assert report["buildings_taken"] == report["buildings_in_file"] == len(buildings)
    assert report["batches"] == len(batches) == -(-len(communities) // 2)
    # each batch folder is a complete gridgeo output; together they hold every building once
    codes, households, assigned = [], 0, []
    for name in batches["batch"]:
        part = gpd.read_file(out / name / "partition.gpkg", layer="buildings")
        unassigned = gpd.read_file(out / name / "partition.gpkg", layer="unassigned") if "unassigned" in gpd.list_layers(out / name / "partition.gpkg")["name"].tolist() else part.iloc[:0]
        codes += part["building_id"].astype(str).tolist() + unassigned["building_id"].astype(str).tolist()
        households += int(part["households"].sum())
        assigned += part["building_id"].astype(str).tolist()
        assert (out / name / "grids.geojson").exists() and (out / name / "report.json").exists()
    assert sorted(codes) == sorted(buildings["building_id"].astype(str))
    # households conserved: the batches' totals are the input's households of the buildings they assigned
    expected = int(buildings.set_index(buildings["building_id"].astype(str)).loc[assigned, "hh_est"].sum())
    assert report["households"] == households == expected
