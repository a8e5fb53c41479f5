"""The interactive map: self-contained, escaped, labelled, shifted for Gaode, coloured, split when big."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
import shapely

import gridgeo
from gridgeo.inputs.chinacoords import wgs84_to_gcj02
from gridgeo.outputs.maps import _sanitise_filename, build_map, write_maps

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def result(taipei_small):
    """The real Taipei slice, with hostile text in a building id and a community id, and in a grid's reason."""
    communities, buildings = taipei_small
    buildings = buildings.copy()
    communities = communities.copy()
    buildings.loc[buildings.index[0], "building_id"] = XSS
    communities["community_id"] = communities["community_id"].astype(str)
    communities.loc[communities.index[0], "community_id"] = "6300600014 " + XSS
    out = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    out.grids.loc[out.grids.index[-1], ["reason", "reason_zh"]] = XSS
    return out


@pytest.fixture(scope="module")
def page(result):
    return build_map(result)


def map_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="gg-data">(.*?)</script>', page, re.S)
    assert match, "no data block"
    return json.loads(match.group(1))


def test_no_external_loads(page):
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page, re.I)
    assert "@import" not in page
    for cdn in ("jquery", "bootstrap", "awesome-markers", "cdn.jsdelivr", "unpkg", "cdnjs", "folium"):
        assert cdn not in page.lower()
    # every http(s) address is a tile template, an attribution / licence link, or an identifier in Leaflet's code
    allowed = {
        "tile.openstreetmap.org",  # tile URL template
        "www.openstreetmap.org",  # attribution link
        "leafletjs.com",  # attribution link and Leaflet's licence header
        "www.w3.org",  # the SVG namespace in Leaflet's code
        "bugs.chromium.org", "bugzilla.mozilla.org",  # comments in leaflet.css
    }  # fmt: skip
    hosts = set(re.findall(r"https?://([^/\s\"'\\<>)]+)", page))
    assert hosts <= allowed, hosts - allowed
    assert "Leaflet 1.9.4" in page and "window.L" in page
    assert "sourceMappingURL" not in page
    assert "data:image/png;base64," in page  # the control images are inlined


def test_hostile_values_are_escaped(result, page):
    assert XSS not in page
    assert "<img" not in page
    data = map_data(page)
    escaped = html.escape(XSS)
    building_ids = [f["properties"].get("id") for f in data["layers"]["buildings"]["features"]]
    assert escaped in building_ids
    reasons = [f["properties"]["reason"] for f in data["layers"]["grids"]["features"]]
    assert escaped in reasons
    communities = " ".join(f["properties"]["community"] for f in data["layers"]["grids"]["features"])
    assert escaped in communities
    # the JSON text itself never holds '<', '>' or '&' raw
    block = re.search(r'id="gg-data">(.*?)</script>', page, re.S).group(1)
    assert not set("<>&") & set(block)


def test_script_values_are_escaped(result):
    hostile_title = "</script><script>alert(1)</script>"
    page = build_map(result, title=hostile_title, data_attribution="</script>&")
    assert hostile_title not in page
    assert page.count("</script>") == 3  # Leaflet, the data block, the program
    data = map_data(page)
    assert data["title"] == html.escape(hostile_title)
    assert "&lt;/script&gt;&amp;" in data["dataAttribution"]
    assert f"<title>{html.escape(hostile_title)}</title>" in page


def test_labels_zh_and_en(result, page):
    zh = map_data(page)["labels"]
    assert zh["grids"] == "网格" and zh["units"] == "联户" and zh["grid_code"] == "网格编码"
    assert zh["status_words"]["in_band"] == "在区间内"  # the words of gridgeo.labels, shared with report and roster
    assert '<html lang="zh-CN">' in page
    en_page = build_map(result, lang="en")
    en = map_data(en_page)["labels"]
    assert en["grids"] == "Grids" and en["units"] == "Joint units" and en["households"] == "Households"
    assert en["search"].startswith("Find grid by code")
    assert en["status_words"]["out_of_band"].startswith("out of band")
    assert '<html lang="en">' in en_page
    for word in ("联户", "网格编码", "户数"):
        assert word not in en_page
    with pytest.raises(gridgeo.InputError, match="language"):
        build_map(result, lang="fr")


def _first_coords(page, layer):
    geom = shapely.from_geojson(json.dumps(map_data(page)["layers"][layer]["features"][0]["geometry"]))
    return shapely.get_coordinates(geom)


def test_gaode_shifts_by_gcj02(result, page):
    gaode = build_map(result, basemap="gaode")
    assert "autonavi.com" in gaode and "tile.openstreetmap.org" not in gaode
    for layer in ("grids", "buildings", "communities", "units"):
        wgs = _first_coords(page, layer)
        gcj = _first_coords(gaode, layer)
        assert wgs.shape == gcj.shape
        expect = np.column_stack(wgs84_to_gcj02(wgs[:, 0], wgs[:, 1]))
        assert np.max(np.abs(gcj - expect)) < 2e-6
        assert np.min(np.hypot(*(gcj - wgs).T)) > 1e-3  # a real shift (hundreds of metres), not rounding
    # bounds follow the shift too
    assert map_data(gaode)["bounds"] != map_data(page)["bounds"]


def test_tianditu_needs_key(result, tmp_path):
    with pytest.raises(gridgeo.InputError, match="tianditu_key"):
        build_map(result, basemap="tianditu")
    with pytest.raises(gridgeo.InputError, match="tianditu_key"):
        write_maps(result, tmp_path / "out", basemap="tianditu")
    assert not (tmp_path / "out").exists()  # nothing written
    page = build_map(result, basemap="tianditu", tianditu_key='k"</script>&x')
    urls = [layer["url"] for layer in map_data(page)["basemap"]["layers"]]
    assert all("tianditu.gov.cn" in u and u.endswith("tk=k%22%3C%2Fscript%3E%26x") for u in urls)
    with pytest.raises(gridgeo.InputError, match="basemap"):
        build_map(result, basemap="google")


def test_attribution(page, result):
    data = map_data(page)
    assert "OpenStreetMap</a> contributors" in data["basemap"]["layers"][0]["attribution"]
    assert "gridgeo" in data["dataAttribution"]
    other = map_data(build_map(result, data_attribution="臺北市政府 3D 建物模型"))
    assert "臺北市政府 3D 建物模型" in other["dataAttribution"]


def test_adjacent_grids_differ_in_colour(result, page):
    data = map_data(page)
    colour = {html.unescape(f["properties"]["code"]): f["properties"]["k"] for f in data["layers"]["grids"]["features"]}
    grids = result.grids.to_crs(result.report["metric_crs"])
    geoms = np.asarray(grids.geometry.array)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="touches")
    pairs = [(i, j) for i, j in zip(left, right) if i < j]
    assert len(pairs) >= len(grids) - 1  # the slice's grids do touch
    codes = grids["grid_code"].tolist()
    for i, j in pairs:
        assert colour[codes[i]] != colour[codes[j]], (codes[i], codes[j])
    assert len(data["palette"]) >= 12
    # buildings take their grid's colour
    for f in data["layers"]["buildings"]["features"]:
        assert f["properties"]["k"] == colour[f["properties"]["grid"]]
    # deterministic
    assert map_data(build_map(result))["layers"]["grids"] == data["layers"]["grids"]


def test_geometry_is_simplified_and_rounded(page):
    data = map_data(page)
    text = json.dumps(data["layers"]["buildings"])
    decimals = [len(x) for x in re.findall(r"\d+\.(\d+)", text)]
    assert max(decimals) <= 6
    props = data["layers"]["buildings"]["features"][0]["properties"]
    assert set(props) <= {"code", "id", "grid", "hh", "k", "est"}  # only what the map shows


def test_write_maps_single(result, tmp_path):
    paths = write_maps(result, tmp_path, lang="en")
    assert paths == [tmp_path / "map.html"]
    assert "Joint units" in paths[0].read_text(encoding="utf-8")
    assert not (tmp_path / "maps").exists()


def test_write_maps_splits_per_community(result, tmp_path):
    paths = write_maps(result, tmp_path, max_buildings_per_map=100)
    index = tmp_path / "map.html"
    codes = sorted(result.communities["community_code"])
    assert paths == [index] + [tmp_path / "maps" / f"{c}.html" for c in codes]
    text = index.read_text(encoding="utf-8")
    for code in codes:
        assert f'href="maps/{code}.html"' in text
    assert XSS not in text and html.escape(XSS) in text
    for code, path in zip(codes, paths[1:]):
        data = map_data(path.read_text(encoding="utf-8"))
        grid_codes = {html.unescape(f["properties"]["code"]) for f in data["layers"]["grids"]["features"]}
        assert grid_codes == set(result.grids.loc[result.grids["community_code"] == code, "grid_code"])
        assert len(data["layers"]["buildings"]["features"]) == int((result.buildings["community_code"] == code).sum())


def test_split_file_names_are_sanitised(result, tmp_path):
    hostile = gridgeo.Partition(**{k: getattr(result, k).copy() for k in ("communities", "grids", "buildings", "units", "unassigned")},
                                report=result.report)  # fmt: skip
    for frame in (hostile.communities, hostile.grids, hostile.buildings, hostile.units):
        frame["community_code"] = frame["community_code"].replace({"001": "../../evil/..", "002": "a/b\\c"})
    paths = write_maps(hostile, tmp_path / "out", max_buildings_per_map=10)
    assert len(paths) == 4
    for p in paths[1:]:
        assert p.parent == tmp_path / "out" / "maps" and ".." not in p.name and "/" not in p.name and "\\" not in p.name
    assert sorted(p.name for p in paths[1:]) == ["003.html", "a_b_c.html", "evil.html"]
    assert _sanitise_filename("..") == "community"
    assert _sanitise_filename("社区/1") == "1"
