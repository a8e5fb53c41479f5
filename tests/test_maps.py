"""The interactive map: one self-contained page for the whole run, escaped, labelled, shifted for Gaode, coloured, compact."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re

import numpy as np
import pytest
import shapely

import gridgeo
from gridgeo.inputs.chinacoords import wgs84_to_gcj02
from gridgeo.outputs.map_geometry import _encode
from gridgeo.outputs.maps import build_map, write_maps

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


def decode_geometry(layer: dict, origin) -> list[shapely.Geometry | None]:
    """The page's geometry encoding read back (see gridgeo.outputs.maps): one shapely geometry per feature, in degrees."""
    g = layer["geom"]
    xy = np.cumsum(np.asarray(g["xy"], dtype=np.int64).reshape(-1, 2), axis=0) + np.asarray(origin)
    xy = xy / 1e6
    out, part, ring, vertex = [], 0, 0, 0
    for n in g["n"]:
        polygons = []
        for _ in range(n):
            rings = []
            for _ in range(g["r"][part]):
                v = g["v"][ring]
                rings.append(xy[vertex : vertex + v])
                vertex += v
                ring += 1
            part += 1
            if layer["kind"] == "polygon" and len(rings[0]) >= 3:
                polygons.append(shapely.Polygon(rings[0], rings[1:]))
            elif layer["kind"] == "line":
                polygons.append(shapely.LineString(rings[0]))
            else:
                polygons.append(shapely.Point(rings[0][0]))
        out.append(shapely.union_all(polygons) if polygons else None)
    assert vertex == len(xy) and part == len(g["r"]) and ring == len(g["v"])
    return out


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
    assert "{{" not in page  # every placeholder of the template is filled


def test_csp_admits_exactly_the_page_scripts(page):
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    hashes = set(re.findall(r"'sha256-([^']+)'", csp))
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) >= 2  # Leaflet and the page's program (and the edit mode when installed)
    assert hashes == {base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode("ascii") for s in scripts}
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "connect-src 'none'" in csp and "default-src 'none'" in csp


def test_hostile_values_are_escaped(result, page):
    assert XSS not in page
    assert "<img" not in page
    data = map_data(page)
    escaped = html.escape(XSS)
    assert escaped in data["layers"]["buildings"]["p"]["id"]
    assert escaped in data["layers"]["grids"]["p"]["reason"]
    assert escaped in " ".join(data["layers"]["grids"]["p"]["community"])
    assert escaped in " ".join(data["layers"]["communities"]["p"]["name"])
    # the JSON text itself never holds '<', '>' or '&' raw
    block = re.search(r'id="gg-data">(.*?)</script>', page, re.S).group(1)
    assert not set("<>&") & set(block)


def test_script_values_are_escaped(result):
    hostile_title = "</script><script>alert(1)</script>"
    page = build_map(result, title=hostile_title, data_attribution="</script>&", edit_model={"note": "</script><!--&"})
    assert hostile_title not in page
    scripts = len(re.findall(r"'sha256-", page))
    assert page.count("</script>") == scripts + 1  # the inline scripts and the data block
    data = map_data(page)
    assert data["title"] == html.escape(hostile_title)
    assert "&lt;/script&gt;&amp;" in data["dataAttribution"]
    assert f"<title>{html.escape(hostile_title)}</title>" in page
    assert data["edit"] == {"note": "</script><!--&"}  # JSON-safe in the block, given back as it was
    assert "edit" not in map_data(build_map(result))


def test_edit_script_is_inlined_and_admitted(result, monkeypatch):
    import gridgeo.outputs.maps as maps

    monkeypatch.setattr(maps, "_edit_script", lambda: "window.__edit = window.gridgeo.view ? 1 : 0;")
    assert "window.__edit" not in build_map(result)  # the edit mode comes with an edit model only
    page = build_map(result, edit_model={})
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert scripts[-1] == "window.__edit = window.gridgeo.view ? 1 : 0;"  # after the page's program
    digest = base64.b64encode(hashlib.sha256(scripts[-1].encode("utf-8")).digest()).decode("ascii")
    assert f"'sha256-{digest}'" in page


def test_labels_zh_and_en(result, page):
    zh = map_data(page)["labels"]
    assert zh["grids"] == "网格" and zh["units"] == "联户" and zh["grid_code"] == "网格编码"
    assert zh["status_words"]["in_band"] == "在区间内"  # the words of gridgeo.labels, shared with report and roster
    assert '<html lang="zh-CN">' in page
    en_page = build_map(result, lang="en")
    en = map_data(en_page)["labels"]
    assert en["grids"] == "Grids" and en["units"] == "Joint units" and en["households"] == "Households"
    assert en["search"].startswith("Find a grid, building or community")
    assert en["status_words"]["out_of_band"].startswith("out of band")
    assert '<html lang="en">' in en_page
    for word in ("联户", "网格编码", "户数"):
        assert word not in en_page
    with pytest.raises(gridgeo.InputError, match="language"):
        build_map(result, lang="fr")


def test_geometry_round_trips_once_per_feature(result, page):
    """Every grid, building and community is in the page once, within the 0.5 m simplification (and 1e-6° rounding)."""
    data = map_data(page)
    for name in ("grids", "buildings", "communities"):
        frame = getattr(result, name).to_crs(4326)
        layer = data["layers"][name]
        assert len(layer["geom"]["n"]) == len(frame) == len(layer["p"]["code"])
        back = decode_geometry(layer, data["origin"])
        metres_per_degree = 111_320
        worst = max(shapely.hausdorff_distance(a, b) for a, b in zip(back, frame.geometry))
        assert worst * metres_per_degree < 1.0, (name, worst * metres_per_degree)
    text = json.dumps(data["layers"]["buildings"]["geom"])
    assert "." not in text  # integers only


def test_units_refer_to_their_buildings(result, page):
    data = map_data(page)
    units = data["layers"]["units"]
    assert len(units["p"]["code"]) == len(result.units) == len(units["nref"])
    assert sum(units["nref"]) == len(units["ref"])
    codes = [html.unescape(c) for c in data["layers"]["buildings"]["p"]["code"]]
    start = np.concatenate([[0], np.cumsum(units["nref"])])
    for k, members in enumerate(result.units["members"]):
        referred = {codes[b] for b in units["ref"][start[k] : start[k + 1]]}
        assert referred == {m.split(":")[0] for m in members.split(";")}
    # units drawn by reference carry no geometry of their own
    assert sum(units["geom"]["n"]) == sum(1 for n in units["nref"] if n == 0)


def test_encode_is_linear_and_compact():
    boxes = np.array([shapely.box(i * 1e-4, 0, i * 1e-4 + 5e-5, 5e-5) for i in range(1000)], dtype=object)
    encoded = _encode(boxes, (0, 0))
    assert encoded["n"] == [1] * 1000 and encoded["r"] == [1] * 1000 and encoded["v"] == [4] * 1000
    assert max(abs(v) for v in encoded["xy"]) <= 150  # deltas stay small: at most a box and a half apart
    assert _encode(np.array([None, shapely.Polygon()], dtype=object), (0, 0)) == {"n": [0, 0], "r": [], "v": [], "xy": []}


def _first_coords(page, layer):
    data = map_data(page)
    return shapely.get_coordinates(decode_geometry(data["layers"][layer], data["origin"])[0])


def test_gaode_shifts_by_gcj02(result, page):
    gaode = build_map(result, basemap="gaode")
    assert "autonavi.com" in gaode and "tile.openstreetmap.org" not in gaode
    for layer in ("grids", "buildings", "communities"):
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
    grids_p = data["layers"]["grids"]["p"]
    colour = {html.unescape(c): k for c, k in zip(grids_p["code"], grids_p["k"])}
    grids = result.grids.to_crs(result.report["metric_crs"])
    geoms = np.asarray(grids.geometry.array)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="touches")
    pairs = [(i, j) for i, j in zip(left, right) if i < j]
    assert len(pairs) >= len(grids) - 1  # the slice's grids do touch
    codes = grids["grid_code"].tolist()
    for i, j in pairs:
        assert colour[codes[i]] != colour[codes[j]], (codes[i], codes[j])
    assert len(data["palette"]) >= 12
    # buildings point at their grid (and so take its colour)
    b = data["layers"]["buildings"]["p"]
    assert [html.unescape(grids_p["code"][g]) for g in b["g"]] == result.buildings["grid_code"].tolist()
    # deterministic
    assert build_map(result) == page


def test_grid_label_points_lie_inside_their_grids(result, page):
    data = map_data(page)
    layer = data["layers"]["grids"]
    back = decode_geometry(layer, data["origin"])
    points = (np.asarray(layer["lp"]).reshape(-1, 2) + np.asarray(data["origin"])) / 1e6
    assert len(points) == len(result.grids)
    assert all(shapely.contains(g, shapely.Point(p)) for g, p in zip(back, points))


def test_write_maps_writes_one_map(result, tmp_path):
    paths = write_maps(result, tmp_path, lang="en")
    assert paths == [tmp_path / "map.html"]
    assert "Joint units" in paths[0].read_text(encoding="utf-8")
    assert not (tmp_path / "maps").exists()


def test_max_buildings_per_map_is_deprecated_and_ignored(result, tmp_path):
    with pytest.warns(DeprecationWarning, match="max_buildings_per_map"):
        paths = write_maps(result, tmp_path, max_buildings_per_map=100)
    assert paths == [tmp_path / "map.html"]  # one map of every building, no index page
    data = map_data(paths[0].read_text(encoding="utf-8"))
    assert len(data["layers"]["buildings"]["p"]["code"]) == len(result.buildings) > 100
    assert len(data["layers"]["grids"]["p"]["code"]) == len(result.grids)
    assert not (tmp_path / "maps").exists()
