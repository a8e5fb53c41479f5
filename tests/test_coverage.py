"""Service coverage (gridgeo.governance.coverage) on real Monaco data, through the API, the map, the report, the roster and the CLI.

Monaco has no service-centre layer, so the centres here are stand-ins made from real
data and labelled as such: the representative points of two real buildings, and one
real road vertex outside both quartiers (a centre in a neighbouring area).
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.governance.coverage import COVERAGE_COLUMNS, add_coverage, grid_coverage, grid_origins, prepare_centres
from gridgeo.governance.network import build_road_network
from gridgeo.governance.roster import grid_roster
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.outputs.maps import build_map
from gridgeo.outputs.report import build_report_html

from .conftest import DATA, file_hashes

ROADS = f"{DATA / 'monaco_roads.gpkg'}:roads"


@pytest.fixture(scope="module")
def centres(monaco):
    communities, buildings, roads = monaco
    picked = buildings.iloc[[5, 120]]
    inside = gpd.GeoDataFrame(
        {
            "centre_id": [f"B-{b}" for b in picked["building_id"]],
            "name": ["stand-in centre: rep. point of building " + str(b) for b in picked["building_id"]],
        },
        geometry=picked.representative_point().to_numpy(),
        crs=buildings.crs,
    )
    metric = local_metric_crs(communities)
    union = shapely.union_all(communities.to_crs(metric).geometry.to_numpy())
    vertices = shapely.points(shapely.get_coordinates(roads.to_crs(metric).geometry.to_numpy()))
    far = vertices[int(np.argmax(shapely.distance(vertices, union)))]
    outside = gpd.GeoDataFrame(
        {"centre_id": ["R-outside"], "name": ["stand-in centre: road vertex outside both quartiers"]},
        geometry=gpd.GeoSeries([far], crs=metric).to_crs(buildings.crs).to_numpy(),
        crs=buildings.crs,
    )
    return pd.concat([inside, outside], ignore_index=True)


@pytest.fixture(scope="module")
def result(monaco):
    communities, buildings, _ = monaco
    return gridgeo.partition(communities, buildings, households="hh_est")


@pytest.fixture(scope="module")
def network(monaco, result):
    return build_road_network(monaco[2], crs=local_metric_crs(result.grids))


@pytest.fixture(scope="module")
def straight(result, centres):
    return add_coverage(result, centres, limit_min=5.0)


@pytest.fixture(scope="module")
def by_road(result, centres, network):
    return add_coverage(result, centres, roads=network, limit_min=5.0)


def test_every_grid_gets_a_centre_and_a_walk(straight, by_road, centres):
    for run in (straight, by_road):
        grids = run.grids
        assert set(COVERAGE_COLUMNS) <= set(grids.columns)
        assert grids[list(COVERAGE_COLUMNS)].notna().all().all()
        assert set(grids["centre_id"]) <= set(centres["centre_id"])
        names = dict(zip(centres["centre_id"], centres["name"]))
        assert (grids["centre_name"] == grids["centre_id"].map(names)).all()
    assert (straight.grids["walk_route"] == "straight").all()
    assert (by_road.grids["walk_route"] == "road").all()


def test_straight_walk_is_the_distance_to_the_nearest_centre(straight, result, centres):
    metric = local_metric_crs(result.grids)
    origins = grid_origins(result.grids, result.buildings, crs=metric)
    xy = shapely.get_coordinates(centres.to_crs(metric).geometry.to_numpy())
    dist = np.hypot(origins[:, None, 0] - xy[None, :, 0], origins[:, None, 1] - xy[None, :, 1])
    assert np.allclose(straight.grids["walk_m"], dist.min(axis=1), atol=0.05)
    assert (straight.grids["centre_id"].to_numpy() == centres["centre_id"].to_numpy()[dist.argmin(axis=1)]).all()
    inside = [shapely.contains_xy(g, *o) for g, o in zip(result.grids.to_crs(metric).geometry, origins)]
    assert all(inside)


def test_road_walks_are_never_shorter_than_straight_lines(straight, by_road):
    assert (by_road.grids["walk_m"].to_numpy() >= straight.grids["walk_m"].to_numpy() - 0.1).all()
    assert (by_road.grids["walk_m"] > straight.grids["walk_m"]).sum() >= len(by_road.grids) // 2


def test_flags_follow_the_limit_and_speed(by_road, centres, network):
    grids, section = by_road.grids, by_road.report["coverage"]
    assert np.allclose(grids["walk_min"], grids["walk_m"] / 80.0, atol=0.01)
    assert (grids["coverage_flag"] == (grids["walk_m"] / 80.0 > 5.0)).all()
    assert 1 <= section["n_flagged"] == int(grids["coverage_flag"].sum()) < len(grids)
    assert section["households_flagged"] == int(grids.loc[grids["coverage_flag"], "households"].sum())
    assert sum(c["n_flagged"] for c in section["communities"]) == section["n_flagged"]
    assert sum(c["n_grids"] for c in section["centres"]) == len(grids)
    slow = add_coverage(by_road, centres, roads=network, speed=40.0, limit_min=5.0)
    assert np.allclose(slow.grids["walk_min"], 2 * grids["walk_min"], atol=0.02)
    assert slow.grids["coverage_flag"].sum() > section["n_flagged"]


def test_a_centre_outside_every_community_counts(result, centres, network):
    outside = centres[centres["centre_id"] == "R-outside"]
    run = add_coverage(result, outside, roads=network)
    assert (run.grids["centre_id"] == "R-outside").all()
    assert run.report["coverage"]["centres"] == [
        {"centre_id": "R-outside", "centre_name": outside["name"].iloc[0], "n_grids": len(run.grids)}
    ]


def test_input_kept_crs_kept_and_deterministic(result, centres, monaco):
    grids = result.grids.copy()
    before = centres.copy()
    out = grid_coverage(result.grids, result.buildings, centres, roads=monaco[2])
    pd.testing.assert_frame_equal(result.grids, grids)
    pd.testing.assert_frame_equal(centres, before)
    assert out.crs == result.grids.crs
    again = grid_coverage(result.grids, result.buildings.sample(frac=1.0, random_state=1), centres.iloc[::-1], roads=monaco[2])
    pd.testing.assert_frame_equal(out, again)


def test_bad_centres_are_listed_together(centres):
    bad = centres.copy()
    bad.loc[1, "centre_id"] = bad.loc[0, "centre_id"]
    bad.loc[2, "geometry"] = None
    with pytest.raises(InputError) as caught:
        prepare_centres(bad, name_column="nope", label="centres.gpkg")
    text = str(caught.value)
    assert len(caught.value.problems) == 3
    assert "repeats" in text and "no geometry" in text and "'nope'" in text and "centres.gpkg" in text
    with pytest.raises(InputError, match="coordinate reference system"):
        prepare_centres(centres.set_crs(None, allow_override=True))


def test_bad_settings_are_errors(result, centres):
    with pytest.raises(InputError) as caught:
        grid_coverage(result.grids, result.buildings, centres, speed=0, limit_min=-3)
    assert len(caught.value.problems) == 2


def test_map_has_the_centres_layer_and_walks_in_popups(result, by_road, centres):
    page = build_map(by_road, lang="en", service_centres=prepare_centres(centres))
    data = json.loads(re.search(r'<script type="application/json" id="gg-data">(.*?)</script>', page, re.S).group(1))
    layer = data["layers"]["centres"]["p"]
    assert layer["id"] == sorted(centres["centre_id"])
    assert sum(layer["n"]) == len(by_road.grids)
    grids = data["layers"]["grids"]["p"]
    assert all(v is not None for key in ("walk", "helpers", "tour") for v in grids[key])
    assert sum(grids["cf"]) == int(by_road.grids["coverage_flag"].sum())
    assert data["walkLimit"] == 5.0
    assert "Service centres" in page and data["labels"]["beyond_walk"] == "Grids beyond the walking limit"
    # the result keeps the centres its walks were measured to: its map draws them without being given them
    assert build_map(by_road, lang="en") == page
    assert "centres" in data["layers"] and build_map(result, lang="en").count('"centres":null') == 1


def test_report_lists_flagged_grids_per_community(by_road):
    page = build_report_html(by_road, lang="en")
    assert 'id="governance"' in page and 'id="fig-walk"' in page and page.count("<svg") == 3
    rows = re.findall(r'<tr class="service-flagged" data-flags="([^"]*)">', page)
    flagged = by_road.grids["coverage_flag"] | by_road.grids["workload_flag"]
    assert len(rows) == int(flagged.sum())
    assert sum("coverage" in r for r in rows) == int(by_road.grids["coverage_flag"].sum())
    table = re.search(r'<table id="governance-communities">(.*?)</table>', page, re.S).group(1)
    assert table.count("<tr>") == 1 + len(by_road.communities)


def test_roster_has_the_team_and_the_walk(by_road):
    roster = grid_roster(by_road, lang="zh")
    assert list(roster.columns[-5:]) == [
        "兼职网格员/志愿者人数（N）",
        "网格党支部书记",
        "网格长",
        "专职网格员",
        "兼职网格员/志愿者",
    ]
    assert {"最近服务中心", "步行时间（分钟）", "超出步行服务范围", "工作量明显偏高"} <= set(roster.columns)
    assert set(roster["超出步行服务范围"]) <= {"是", "否"}
    assert (roster[["网格党支部书记", "网格长", "专职网格员", "兼职网格员/志愿者"]] == "").all().all()
    assert roster["兼职网格员/志愿者人数（N）"].sum() == by_road.report["workload"]["helpers"]


def test_cli_end_to_end_with_roads_and_centres(tmp_path, centres):
    centres_file = tmp_path / "centres.gpkg"
    centres.to_file(centres_file, layer="centres")
    out = tmp_path / "run"
    args = [
        "partition", str(DATA / "monaco_communities.gpkg"), str(DATA / "monaco_buildings.gpkg"), "--households", "hh_est",
        "--barriers", ROADS, "--roads", ROADS, "--service-centres", str(centres_file), "--walk-limit", "5",
        "--households-per-helper", "120", "--format", "csv,xlsx,shp", "--lang", "en", "-o", str(out),
    ]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert "grids beyond a 5-minute walk of 3 service centres" in run.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["workload"]["distances"] == "road network" and report["workload"]["households_per_helper"] == 120
    assert report["coverage"]["distances"] == "road network" and report["coverage"]["limit_min"] == 5.0
    for grids in (gpd.read_file(out / "grids.geojson"), gpd.read_file(out / "partition.gpkg", layer="grids")):
        assert {"helpers_n", "tour_m", "workload_index", "workload_flag", "centre_id", "walk_min", "coverage_flag"} <= set(
            grids.columns
        )
        assert grids["helpers_n"].tolist() == [-(-h // 120) for h in grids["households"]]
    fields = pd.read_csv(out / "shp" / "fields.csv", encoding="utf-8-sig")
    assert {"wl_flag", "cov_flag", "helpers_n", "walk_min"} <= set(fields["shapefile_field"])
    roster = pd.read_csv(out / "roster.csv", encoding="utf-8-sig", keep_default_na=False)
    assert {"helpers_n", "walk_min", "coverage_flag", "party_branch_secretary", "helpers"} <= set(roster.columns)
    assert "Service centres" in (out / "map.html").read_text(encoding="utf-8")
    assert 'id="governance"' in (out / "report.html").read_text(encoding="utf-8")
    config = (out / "config.toml").read_text(encoding="utf-8")
    assert "households_per_helper = 120" in config and "walk_limit = 5.0" in config and "service_centres = " in config
    # the saved configuration repeats the run byte for byte, and a re-drawn map keeps the centres
    again = tmp_path / "again"
    rerun = CliRunner().invoke(main, ["partition", "--config", str(out / "config.toml"), "-o", str(again)])
    assert rerun.exit_code == 0, rerun.output
    assert file_hashes(out) == {**file_hashes(again), "config.toml": file_hashes(out)["config.toml"]}
    redraw = CliRunner().invoke(main, ["map", str(out), "--lang", "zh"])
    assert redraw.exit_code == 0, redraw.output
    assert "服务中心" in (out / "map.html").read_text(encoding="utf-8")


def test_cli_bad_centres_file_is_one_message(tmp_path, centres):
    bad = centres.copy()
    bad["centre_id"] = "same"
    path = tmp_path / "bad.gpkg"
    bad.to_file(path, layer="centres")
    run = CliRunner().invoke(
        main,
        [
            "partition",
            str(DATA / "monaco_communities.gpkg"),
            str(DATA / "monaco_buildings.gpkg"),
            "--households",
            "hh_est",
            "--service-centres",
            str(path),
            "-o",
            str(tmp_path / "x"),
        ],
    )
    assert run.exit_code == 2
    assert "bad.gpkg" in run.output and "repeats" in run.output and "Traceback" not in run.output
    assert not (tmp_path / "x").exists()


def test_map_in_an_offline_browser(by_road, centres, tmp_path):
    """The hatched and dotted layers, the centres and the popups in Debian's Chromium, every network request aborted."""
    from .conftest import CHROMIUM
    from .conftest import CHROMIUM_ARGS as ARGS

    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser check needs playwright")
    path = tmp_path / "map.html"
    path.write_text(build_map(by_road, lang="zh", service_centres=prepare_centres(centres)), encoding="utf-8")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        problems = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
        page.goto(path.as_uri())
        page.wait_for_function("() => !!(window.gridgeo && window.gridgeo.ready)")
        page.evaluate("window.gridgeo.ready")
        overlays = page.locator(".leaflet-control-layers-overlays label")
        off = {name: not overlays.filter(has_text=name).locator("input").is_checked() for name in ("超出步行服务范围的网格", "工作量明显偏高的网格", "服务中心")}
        for name in off:  # off by default: turned on here
            overlays.filter(has_text=name).locator("input").check()
        state = page.evaluate("() => Object.assign(window.gridgeo.drawn(), {legend: document.querySelector('.gg-legend').textContent})")
        code = by_road.grids.loc[by_road.grids["coverage_flag"], "grid_code"].iloc[0]
        assert page.evaluate("(c) => window.gridgeo.find(c)", code)[0] == code  # zooms to the grid and opens its popup
        popup = page.locator(".leaflet-popup-content").inner_text()
        browser.close()
    assert problems == []
    assert all(off.values())
    assert state["centres"] == len(centres)
    assert state["coverage"] == int(by_road.grids["coverage_flag"].sum())  # hatched
    assert state["workload"] == int(by_road.grids["workload_flag"].sum())  # dotted
    assert "超出步行服务范围的网格" in state["legend"] and "服务中心" in state["legend"]
    walk = by_road.grids.set_index("grid_code").loc[code, "walk_min"]
    assert f"{walk:.1f} > 5" in popup and "1+1+1+" in popup
