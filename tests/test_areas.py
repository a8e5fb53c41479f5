"""Dedicated grids (专属网格) and compounds (小区) on real data, with every guarantee of the core engine.

Facility grounds are made from real OpenStreetMap hospital and school footprints of Porto (buffered by 6 m
and merged: a stand-in for the parcel a planner would draw); compounds from real Taipei buildings
(footprints within 4 m of each other merged: a stand-in for walled estates).
"""

from __future__ import annotations

import functools
import re

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.cli import main

from .conftest import DATA, SHARED


@functools.cache
def _porto_facilities():
    folder = SHARED / "porto"
    if not folder.exists():
        pytest.skip(f"{folder} is not present (the shared data sits beside the repository in CI)")
    communities = gpd.read_file(folder / "communities.gpkg", layer="communities")
    buildings = gpd.read_file(folder / "buildings.gpkg", layer="buildings")
    metric = buildings.estimate_utm_crs()
    facilities = buildings[buildings["building"].isin(["hospital", "school"])].to_crs(metric)
    facilities["geometry"] = facilities.buffer(6)
    grounds = facilities.dissolve(by="building").explode(index_parts=False).reset_index()
    grounds = grounds[["building", "geometry"]].rename(columns={"building": "type"})
    grounds["name"] = [f"{t}-{i}" for i, t in enumerate(grounds["type"])]
    keep = communities[communities.intersects(grounds.to_crs(communities.crs).union_all())]
    return keep, buildings[buildings["community_id"].isin(keep["community_id"])], grounds


@functools.cache
def _dedicated_run():
    communities, buildings, grounds = _porto_facilities()
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", dedicated=grounds)
    return communities, buildings, grounds, result


def test_every_facility_becomes_one_dedicated_grid_and_the_rest_keeps_every_guarantee():
    communities, buildings, grounds, result = _dedicated_run()
    assert audit_partition(result, buildings) == []
    grids = result.grids
    dedicated = grids[grids["grid_type"] == "dedicated"]
    assert len(dedicated) == len(grounds)
    assert (dedicated["status"] == "dedicated").all()
    assert dedicated["reason"].str.contains("dedicated grid").all()
    assert dedicated["reason_zh"].str.contains("专属网格").all()
    assert set(dedicated["facility_type"]) == set(grounds["type"])
    # coded with the type: 001-H01 for a hospital, 001-S01 for a school
    for code, kind in zip(dedicated["grid_code"], dedicated["facility_type"]):
        assert re.fullmatch(r"\d{3}-[HS]\d{2}", code) and code[4] == kind[0].upper()
    basic = grids[grids["grid_type"] == "basic"]
    assert basic["grid_code"].str.fullmatch(r"\d{3}-\d{2}").all()
    s = result.report["summary"]
    assert s["n_defects"] == s["n_defects_proven_infeasible"]
    assert s["share_one_piece"] == 1.0 and s["max_gap_ratio"] < 1e-6 and s["max_overlap_ratio"] < 1e-6
    assert result.report["parameters"]["dedicated"] == len(grounds)


def test_a_facilitys_grounds_and_buildings_lie_in_its_dedicated_grid():
    communities, buildings, grounds, result = _dedicated_run()
    grids = result.grids.to_crs(grounds.crs)
    dedicated = grids[grids["grid_type"] == "dedicated"]
    # the grounds polygon is covered by one dedicated grid (up to the 3 m sampling), within its home community
    covered = [float(dedicated.intersection(p).area.max() / p.area) for p in grounds.geometry]
    assert np.median(covered) > 0.999
    # every building whose representative point lies in grounds of its own community is in a dedicated grid
    out = result.buildings.to_crs(grounds.crs)
    inside = out.representative_point().within(grounds.union_all())
    assert out.loc[inside, "grid_code"].str.contains(r"-[HS]\d").mean() > 0.95
    assert not out.loc[~inside, "grid_code"].str.contains(r"-[HS]\d").any()


def test_dedicated_facilities_by_building_ids_from_a_csv(tmp_path):
    communities, buildings, _ = _porto_facilities()
    hospitals = buildings.loc[buildings["building"] == "hospital", ["building_id"]].assign(type="hospital")
    hospitals["facility_id"] = "hospital-" + hospitals["building_id"].str[:4]
    hospitals.to_csv(tmp_path / "dedicated.csv", index=False)
    communities.to_file(tmp_path / "c.gpkg", layer="communities")
    buildings.to_file(tmp_path / "b.gpkg", layer="buildings")
    run = CliRunner().invoke(
        main,
        ["partition", str(tmp_path / "c.gpkg"), str(tmp_path / "b.gpkg"), "-o", str(tmp_path / "out"), "--households", "hh_est",
         "--building-id", "building_id", "--dedicated", str(tmp_path / "dedicated.csv"), "--no-map", "--no-report", "--workers", "1"],
    )
    assert run.exit_code == 0, run.output
    out = gpd.read_file(tmp_path / "out" / "partition.gpkg", layer="buildings")
    grid_of = out.set_index("building_id")["grid_code"]
    assert grid_of.loc[hospitals["building_id"]].str.contains(r"-H\d{2}$").all()
    grids = gpd.read_file(tmp_path / "out" / "partition.gpkg", layer="grids")
    assert (grids.loc[grids["grid_type"] == "dedicated", "facility_type"] == "hospital").all()
    assert "dedicated" in (tmp_path / "out" / "config.toml").read_text()


def test_unknown_building_ids_and_a_missing_type_column_are_clear_errors(tmp_path):
    communities, buildings, _ = _porto_facilities()
    table = gpd.pd.DataFrame({"building_id": ["no-such-building"], "type": ["school"]})
    with pytest.raises(gridgeo.errors.InputError, match="no-such-building"):
        gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", dedicated=table)
    with pytest.raises(gridgeo.errors.InputError, match="facility type"):
        gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", dedicated=table.drop(columns="type"))


@functools.cache
def _compound_run():
    communities = gpd.read_file(DATA / "taipei_small_communities.gpkg", layer="communities")
    buildings = gpd.read_file(DATA / "taipei_small_buildings.gpkg", layer="buildings")
    metric = buildings.estimate_utm_crs()
    merged = buildings.to_crs(metric).buffer(2.0).union_all()
    compounds = gpd.GeoDataFrame(geometry=list(gpd.GeoSeries([merged]).explode(index_parts=False)), crs=metric)
    compounds = compounds[compounds.area > 200].reset_index(drop=True)
    compounds["name"] = [f"C{i:03d}" for i in range(len(compounds))]
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", compounds=compounds)
    return buildings, compounds, result


def test_a_compound_that_fits_is_never_split_and_every_split_is_reported():
    buildings, compounds, result = _compound_run()
    assert audit_partition(result, buildings) == []
    rows = result.report["compounds"]
    assert len(rows) == len(compounds)
    fitting = [r for r in rows if r["households"] <= 500 and r["n_buildings"]]
    assert fitting and all(len(r["grids"]) == 1 and not r["split"] for r in fitting)
    big = [r for r in rows if r["households"] > 500]
    assert big, "the slice should hold a compound above the band"
    for r in big:
        assert r["split"] == (len(r["grids"]) > 1)
        if r["split"]:
            assert "only between its buildings" in r["reason"] and "超过网格上限" in r["reason_zh"]
    s = result.report["summary"]
    assert s["n_defects"] == s["n_defects_proven_infeasible"] and s["share_one_piece"] == 1.0


def test_compounds_are_a_layer_of_the_geopackage_and_of_the_map(tmp_path):
    from gridgeo.outputs.maps import write_maps
    from gridgeo.result import read_outputs

    buildings, compounds, result = _compound_run()
    folder = result.to_files(tmp_path / "run")
    back = read_outputs(folder)
    assert back.compounds is not None and len(back.compounds) == len(compounds)
    assert set(back.compounds["compound"]) == set(compounds["name"])
    split = back.compounds[back.compounds["split"].astype(bool)]
    assert (split["reason"].str.len() > 0).all() and split["grids"].str.contains(";").all()
    write_maps(back, folder, lang="en")
    page = (folder / "map.html").read_text(encoding="utf-8")
    assert '"compounds"' in page and compounds["name"].iloc[0] in page
    from gridgeo.outputs.report import build_report_html

    html_text = build_report_html(back, lang="zh")
    assert 'id="compounds"' in html_text and ("compounds-split" in html_text) == bool(len(split))


def test_dedicated_facilities_and_compounds_in_one_run_with_standard_codes():
    communities, buildings, grounds = _porto_facilities()
    metric = grounds.crs
    # compounds: real footprints within 2 m of each other merged, outside the facility grounds
    others = buildings.to_crs(metric)
    others = others[~others.representative_point().within(grounds.union_all())]
    merged = gpd.GeoSeries([others.buffer(2.0).union_all()], crs=metric).explode(index_parts=False)
    compounds = gpd.GeoDataFrame(geometry=list(merged[merged.area > 300]), crs=metric)
    compounds["name"] = [f"C{i:03d}" for i in range(len(compounds))]
    codes = communities[["community_id"]].assign(xq="440106", jd="003", sq=[f"{i + 1:03d}" for i in range(len(communities))])
    communities = communities.assign(xq=codes["xq"], jd=codes["jd"], sq=codes["sq"])
    result = gridgeo.partition(
        communities, buildings, households="hh_est", building_id="building_id", dedicated=grounds, compounds=compounds,
        code_scheme="db11", county_code_column="xq", street_code_column="jd", community_code_column="sq",
    )
    assert audit_partition(result, buildings) == []
    s = result.report["summary"]
    assert s["n_defects"] == s["n_defects_proven_infeasible"] and s["share_one_piece"] == 1.0
    assert (result.grids["grid_type"] == "dedicated").sum() == len(grounds)
    rows = result.report["compounds"]
    assert rows and all(len(r["grids"]) == 1 for r in rows if r["households"] <= 500 and r["n_buildings"])
    from gridgeo.governance.standard_codes import validate_code

    assert all(validate_code(code, "db11") for code in result.grids["standard_code"])
