"""The written map in a real, offline browser (Debian's chromium through playwright).

Every request other than file:// is aborted, so the page must work from the file
alone.  Checks the page's contract (``window.gridgeo``: ready, stats, find, the
edit-mode hooks), tooltips, search suggestions and the flagged-grids panel, and
that text injected through the data stays text.  Also saves ``docs/map.png`` for
the README.  Needs ``apt-get install chromium`` and ``pip install playwright``
(never ``playwright install``).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

import gridgeo
from gridgeo.outputs.maps import write_maps

REPO = Path(__file__).resolve().parent.parent
XSS_FLAG = '<img src=x onerror="window.__xss=1">'
XSS_ALERT = "<img src=x onerror=alert(1)>"
NAME = "萬壽里 " + XSS_FLAG




@pytest.fixture(scope="module")
def written(taipei_small, tmp_path_factory):
    """The real Taipei slice with hostile text in two building ids, a community's name and a flagged grid's reason."""
    communities, buildings = taipei_small
    buildings = buildings.copy()
    communities = communities.copy()
    buildings.loc[buildings.index[0], "building_id"] = XSS_FLAG
    buildings.loc[buildings.index[1], "building_id"] = XSS_ALERT
    communities.loc[communities.index[0], "name"] = NAME
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    flagged = result.grids.index[0]
    result.grids.loc[flagged, ["reason", "reason_zh"]] = XSS_ALERT + XSS_FLAG
    result.grids.loc[flagged, "status"] = "out_of_band"
    out = tmp_path_factory.mktemp("map")
    (path,) = write_maps(result, out)
    return result, path


def _offline(route):
    try:
        route.continue_() if route.request.url.startswith("file://") else route.abort()
    except Exception:  # noqa: BLE001 - the page closed meanwhile
        pass


@pytest.fixture
def page(browser, written):
    _, path = written
    context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
    pg = context.new_page()
    problems, dialogs, requested = [], [], []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def on_console(msg):
        # a tile that cannot load is expected offline; anything else is not
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console: {msg.text}")

    pg.on("console", on_console)

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("request", lambda r: requested.append(r.url) if not r.url.startswith("file://") else None)
    pg.route("**/*", _offline)
    pg.goto(path.as_uri())
    pg.wait_for_function("() => !!(window.gridgeo && window.gridgeo.ready)")
    pg.evaluate("window.gridgeo.ready")
    pg.problems, pg.dialogs, pg.requested = problems, dialogs, requested
    yield pg
    context.close()


def _screen_point(page, geometry) -> tuple[float, float]:
    """Where a point (EPSG:4326) is on the screen."""
    p = page.evaluate("([x, y]) => { const c = window.gridgeo.view.map.latLngToContainerPoint([y, x]); return [c.x, c.y]; }", [geometry.x, geometry.y])
    box = page.locator("#map").bounding_box()
    return box["x"] + p[0], box["y"] + p[1]


def _free_point_of_grid(result, code):
    """A point of the grid clear of every building (4 m), in EPSG:4326."""
    metric = result.report["metric_crs"]
    grid = result.grids.to_crs(metric).set_index("grid_code").geometry[code]
    free = grid.buffer(-3).difference(result.buildings.to_crs(metric).buffer(4).union_all())
    return gpd.GeoSeries([free.representative_point()], crs=metric).to_crs(4326).iloc[0]


def test_ready_and_stats_count_every_feature(page, written):
    result, _ = written
    stats = page.evaluate("window.gridgeo.stats()")
    assert stats == {"grids": len(result.grids), "buildings": len(result.buildings), "units": len(result.units)}
    assert page.evaluate("window.gridgeo.ready.then((s) => s.grids)") == len(result.grids)
    assert page.evaluate("L.version") == "1.9.4"
    drawn = page.evaluate("window.gridgeo.drawn()")
    assert drawn["grids"] == len(result.grids) and drawn["buildings"] == len(result.buildings)  # the slice is drawn at street zoom
    assert drawn["labels"] >= 1
    assert page.locator(".leaflet-control-layers").count() == 1 and page.locator(".gg-legend").count() == 1
    # only tiles were asked for, and they were blocked without breaking anything
    assert page.requested and all("tile.openstreetmap.org" in url for url in page.requested), page.requested
    assert page.problems == []


def _opened(browser, path):
    """``path`` open offline in a new page, once its map is ready: (context, page, page errors)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
    pg = context.new_page()
    problems = []
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    pg.route("**/*", _offline)
    pg.goto(path.as_uri())
    pg.wait_for_function("() => !!(window.gridgeo && window.gridgeo.ready)")
    pg.evaluate("window.gridgeo.ready")
    return context, pg, problems


def test_picture_for_the_readme(browser, taipei_small, tmp_path):
    """docs/map.png: the slice as it is (no injected text, no made-up flag), offline."""
    communities, buildings = taipei_small
    (path,) = write_maps(gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id"), tmp_path)
    context, pg, problems = _opened(browser, path)
    REPO.joinpath("docs").mkdir(exist_ok=True)
    pg.screenshot(path=str(REPO / "docs" / "map.png"))
    context.close()
    assert problems == []


def test_an_updated_plan_shows_and_explains_what_changed(browser, taipei_small, tmp_path):
    """After an update the changed grids are outlined dashed in colours no status uses, and the legend names each kind shown."""
    from gridgeo.living.update import update

    communities, buildings = taipei_small
    folder = gridgeo.partition(communities, buildings, households="hh_est", community_id="community_id", building_id="building_id").to_files(tmp_path / "v1")
    result = update(folder, buildings.drop(buildings.index[:14]))
    (path,) = write_maps(result, tmp_path / "v2", lang="en")
    kinds = {kind for kind, key in (("added", "grids_added"), ("reshaped", "grids_reshaped"), ("modified", "grids_modified")) if result.changes[key]}
    assert kinds
    context, pg, problems = _opened(browser, path)
    legend = pg.locator(".gg-legend").inner_text()
    words = {"added": "new grid", "reshaped": "boundary changed", "modified": "buildings changed"}
    for kind, text in words.items():
        assert (f"This update: {text}" in legend) == (kind in kinds), (kind, legend)
    swatches = pg.eval_on_selector_all(".gg-legend .gg-sw", "els => els.map(e => e.style.border)")
    context.close()
    assert problems == []
    change = [b for b in swatches if "dashed" in b and ("rgb(1, 102, 94)" in b or "rgb(231, 41, 138)" in b or "rgb(140, 81, 10)" in b)]
    assert len(change) == len(kinds)


def test_a_flagged_grid_keeps_its_label_where_it_does_not_fit(browser, taipei_small, tmp_path):
    """A building above the band gets a grid of its own, often smaller than its label: flagged, it is labelled, and first."""
    communities, buildings = taipei_small
    buildings = buildings.copy()
    areas = buildings.to_crs(3826).geometry.area
    small = areas.idxmin()  # the smallest footprint: its lone grid is the smallest
    buildings.loc[small, "hh_est"] = 5000
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    code = result.buildings.set_index("building_id").loc[buildings.loc[small, "building_id"], "grid_code"]
    assert result.grids.set_index("grid_code").loc[code, "status"] == "oversize_building"
    (path,) = write_maps(result, tmp_path, lang="en")
    context, pg, problems = _opened(browser, path)
    labelled = pg.evaluate("window.gridgeo.drawn().labelled")
    context.close()
    assert problems == []
    assert code in labelled and labelled[0] == code


def test_tooltip_on_grid_hover(page, written):
    result, _ = written
    code = result.grids["grid_code"].iloc[-1]
    x, y = _screen_point(page, _free_point_of_grid(result, code))
    page.mouse.move(x - 30, 5)
    page.mouse.move(x, y)
    tooltip = page.locator(".gg-tip")
    tooltip.wait_for(state="visible", timeout=1000)
    text = tooltip.inner_text()
    assert text.startswith(code) and "户数" in text, text
    assert page.problems == []


def test_find_by_code_name_and_id(page, written):
    result, _ = written
    code = result.grids["grid_code"].iloc[-1]
    assert page.evaluate("(c) => window.gridgeo.find(c)", code)[0] == code
    # the map zoomed to it, and its popup is open
    centre = page.evaluate("() => { const c = window.gridgeo.view.map.getCenter(); return [c.lng, c.lat]; }")
    grid = result.grids.to_crs(4326).set_index("grid_code").geometry[code]
    assert grid.buffer(1e-4).contains(shapely.Point(centre))
    assert code in page.locator(".leaflet-popup-content").inner_text()
    # a community by its name (with the hostile text as it was given), by part of its name, by its code
    community = result.communities.iloc[0]
    assert page.evaluate("(n) => window.gridgeo.find(n)", NAME) == [community["community_code"]]
    assert community["community_code"] in page.evaluate("() => window.gridgeo.find('萬壽')")
    # a building by its id and by its code
    building = result.buildings.iloc[5]
    assert page.evaluate("(n) => window.gridgeo.find(n)", building["building_id"])[0] == building["building_code"]
    assert page.evaluate("(n) => window.gridgeo.find(n)", building["building_code"])[0] == building["building_code"]
    assert page.evaluate("() => window.gridgeo.find('no-such-thing')") == []
    assert page.problems == []


def test_injected_html_is_text_and_never_runs(page, written):
    result, _ = written
    # building tooltips: the hostile ids show as text
    for payload in (XSS_FLAG, XSS_ALERT):
        building = result.buildings.loc[result.buildings["building_id"] == payload].iloc[0]
        x, y = _screen_point(page, gpd.GeoSeries([building.geometry], crs=result.buildings.crs).to_crs(4326).representative_point().iloc[0])
        page.mouse.move(x, y)
        tooltip = page.locator(".gg-tip", has_text=payload)
        tooltip.wait_for(state="visible", timeout=1000)
        assert building["building_code"] in tooltip.inner_text()
    # search suggestions: a building by its hostile id, the community by its hostile name
    box = page.locator(".gg-search input")
    for typed in ("<img src=x onerror=", "萬壽"):
        box.fill("")
        box.press_sequentially(typed)
        suggest = page.locator(".gg-suggest")
        suggest.wait_for(state="visible", timeout=1000)
        assert XSS_FLAG in suggest.inner_text()
    # the flagged grids panel: the hostile reason is text; a click zooms to the grid and opens its popup
    code = result.grids["grid_code"].iloc[0]
    page.locator(".gg-flagged .gg-head").click()
    row = page.locator(".gg-frow", has_text=code)
    assert XSS_ALERT in row.inner_text() and XSS_FLAG in row.inner_text()
    row.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=1000)
    assert code in popup.inner_text() and XSS_ALERT in popup.inner_text()
    assert page.locator("img[src='x']").count() == 0
    page.wait_for_timeout(200)
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    assert page.problems == []


def test_search_box_suggests_and_zooms(page, written):
    result, _ = written
    code = result.grids["grid_code"].iloc[-1]
    box = page.locator(".gg-search input")
    box.press_sequentially(code[:4])
    page.locator(".gg-suggest div").first.wait_for(state="visible", timeout=1000)
    assert page.locator(".gg-suggest div").count() >= 2  # more than one grid starts so
    box.fill(code)
    box.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=1000)
    assert code in popup.inner_text()
    box.fill("no-such-grid")
    box.press("Enter")
    assert page.locator(".gg-search .gg-msg").inner_text() == "未找到"
    assert page.problems == []


def test_overlays_and_units(page, written):
    result, _ = written
    labels = page.locator(".leaflet-control-layers-overlays label")
    names = [labels.nth(i).inner_text().strip() for i in range(labels.count())]
    checked = {n: labels.nth(i).locator("input").is_checked() for i, n in enumerate(names)}
    assert checked["网格"] and checked["社区"] and checked["需关注的网格（粗框）"]
    assert not checked.get("工作量明显偏高的网格", False)  # workload dots are off by default
    assert page.evaluate("window.gridgeo.drawn().units") == len(result.units)
    labels.filter(has_text="联户").locator("input").uncheck()
    assert page.evaluate("window.gridgeo.drawn().units") == 0
    # at city zoom the buildings and units are not drawn, the grids are
    page.evaluate("() => window.gridgeo.view.map.setZoom(13, {animate: false})")
    drawn = page.evaluate("window.gridgeo.drawn()")
    assert drawn["buildings"] == 0 and drawn["grids"] == len(result.grids)
    assert page.problems == []


def test_edit_mode_hooks(page, written):
    result, _ = written
    grids = result.grids.set_index("grid_code")
    building = result.buildings.iloc[10]
    other = next(c for c in grids.index if c != building["grid_code"])
    # a click on a building goes to the handler; returning false keeps the popup closed
    page.evaluate("() => { window.__clicks = []; window.gridgeo.view.onBuildingClick((code, e) => { window.__clicks.push(code); return false; }); }")
    x, y = _screen_point(page, gpd.GeoSeries([building.geometry], crs=result.buildings.crs).to_crs(4326).representative_point().iloc[0])
    page.mouse.click(x, y)
    assert page.evaluate("window.__clicks") == [building["building_code"]]
    assert page.locator(".leaflet-popup-content").count() == 0
    assert page.evaluate("([b, g]) => window.gridgeo.view.setBuildingGrid(b, g)", [building["building_code"], other]) is True
    assert page.evaluate("() => window.gridgeo.view.setBuildingGrid('nope', 'nope')") is False
    assert page.evaluate("(codes) => window.gridgeo.view.highlightBuildings(codes)", result.buildings["building_code"].iloc[:3].tolist()) == 3
    page.evaluate("() => window.gridgeo.view.clearHighlight()")
    # a lasso round a grid finds the buildings whose centroid lies inside it
    code = grids.index[0]
    lasso = grids.to_crs(4326).geometry[code].buffer(0)
    lasso = max(shapely.get_parts(lasso), key=lambda g: g.area) if lasso.geom_type == "MultiPolygon" else lasso
    ring = [[y, x] for x, y in lasso.exterior.coords]
    inside = set(page.evaluate("(ring) => window.gridgeo.view.buildingsInPolygon(ring)", ring))
    centroids = result.buildings.to_crs(result.report["metric_crs"]).centroid.to_crs(4326)
    metric_lasso = gpd.GeoSeries([lasso], crs=4326).to_crs(result.report["metric_crs"]).iloc[0]
    sure = {c for c, p in zip(result.buildings["building_code"], centroids.to_crs(result.report["metric_crs"])) if metric_lasso.buffer(-1).contains(p)}
    maybe = {c for c, p in zip(result.buildings["building_code"], centroids.to_crs(result.report["metric_crs"])) if metric_lasso.buffer(1).contains(p)}
    assert sure and sure <= inside <= maybe
    # a panel for the edit mode
    assert page.evaluate("() => { const el = window.gridgeo.view.control('topright'); el.textContent = 'edit'; return !!el.closest('.leaflet-control-container'); }")
    assert page.evaluate("() => window.gridgeo.view.map instanceof L.Map")
    model = page.evaluate("window.gridgeo.editModel")  # write_maps gives the run's edit model, without the adjacency
    assert model["grids"]["code"] == sorted(result.grids["grid_code"]) and model["adjacency"] is None
    assert page.evaluate("(code) => window.gridgeo.view.setBuildingGrid(code, '001-99')", building["building_code"]) is True  # a new code: grey
    assert page.problems == []


def test_on_a_phone_the_panels_fold_and_a_tapped_grid_shows_on_screen(browser, written):
    """At 390×844 the legend and layer list start folded (they covered half the screen), the search suggestions lie
    above the flagged list, and a grid's popup fits the screen; on a laptop the legend starts open."""
    result, path = written
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = phone.new_page()
    pg.route("**/*", _offline)
    pg.goto(path.as_uri())
    pg.wait_for_function("() => !!(window.gridgeo && window.gridgeo.ready)")
    pg.evaluate("window.gridgeo.ready")
    legend = pg.locator(".gg-legend").bounding_box()
    assert legend["height"] < 50 and legend["width"] < 200, legend
    assert pg.locator(".leaflet-control-layers-expanded").count() == 0
    pg.fill(".gg-search input", result.grids["grid_code"].iloc[0][:5])
    first = pg.locator(".gg-suggest div").first
    box = first.bounding_box()
    on_top = pg.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y); return !!e.closest('.gg-suggest'); }", [box["x"] + 20, box["y"] + box["height"] / 2])
    assert on_top  # not hidden under the flagged list
    pg.touchscreen.tap(box["x"] + 20, box["y"] + box["height"] / 2)
    pg.wait_for_selector(".leaflet-popup-content-wrapper")
    popup = pg.locator(".leaflet-popup-content-wrapper").bounding_box()
    assert popup["x"] >= 0 and popup["x"] + popup["width"] <= 390 and popup["y"] >= 0 and popup["y"] + popup["height"] <= 844, popup
    pg.locator(".gg-legend h4").tap()
    assert pg.locator(".gg-legend").bounding_box()["height"] > 150  # unfolded on request
    phone.close()
    laptop = browser.new_context(viewport={"width": 1280, "height": 860})
    lp = laptop.new_page()
    lp.route("**/*", _offline)
    lp.goto(path.as_uri())
    lp.wait_for_function("() => !!(window.gridgeo && window.gridgeo.ready)")
    assert lp.locator(".gg-legend").bounding_box()["height"] > 150 and lp.locator(".leaflet-control-layers-expanded").count() == 1
    laptop.close()
