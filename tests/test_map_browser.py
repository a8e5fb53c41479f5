"""The written map in a real, offline browser (Debian's chromium through playwright).

Every request other than file:// is aborted, so the page must work from the file
alone.  Also saves ``docs/map.png`` for the README.  Needs ``apt-get install
chromium`` and ``pip install playwright`` (never ``playwright install``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import gridgeo
from gridgeo.outputs.maps import write_maps

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("GRIDGEO_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
XSS_FLAG = '<img src=x onerror="window.__xss=1">'
XSS_ALERT = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's package with `apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser test needs playwright: `pip install playwright` (not `playwright install`)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def written(taipei_small, tmp_path_factory):
    communities, buildings = taipei_small
    buildings = buildings.copy()
    buildings.loc[buildings.index[0], "building_id"] = XSS_FLAG
    buildings.loc[buildings.index[1], "building_id"] = XSS_ALERT
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    result.grids.loc[result.grids.index[0], ["reason", "reason_zh"]] = XSS_ALERT + XSS_FLAG
    out = tmp_path_factory.mktemp("map")
    (path,) = write_maps(result, out)
    return result, path


@pytest.fixture
def page(browser, written):
    _, path = written
    context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
    pg = context.new_page()
    problems, dialogs, blocked = [], [], []
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

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    pg.route("**/*", route)
    pg.goto(path.as_uri())
    pg.wait_for_function("window.gridgeoMap && document.querySelectorAll('path.gg-grid').length > 0")
    pg.wait_for_timeout(300)
    pg.problems, pg.dialogs, pg.blocked = problems, dialogs, blocked
    yield pg
    context.close()


POINT_ON = """(el) => {
  // a point in the element's box where the element itself is the topmost thing
  const r = el.getBoundingClientRect();
  for (let i = 1; i < 40; i++) for (let j = 1; j < 40; j++) {
    const x = r.left + r.width * i / 40, y = r.top + r.height * j / 40;
    if (document.elementFromPoint(x, y) === el) return [x, y];
  }
  return null;
}"""


def test_map_works_offline(page, written):
    result, _ = written
    assert page.evaluate("typeof window.L") == "object"
    assert page.evaluate("L.version") == "1.9.4"
    assert page.locator("path.leaflet-interactive").count() >= len(result.grids)
    assert page.locator("path.gg-grid").count() == len(result.grids)
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.locator(".gg-legend").count() == 1
    # only tiles were asked for, and they were blocked without breaking anything
    assert all("tile.openstreetmap.org" in url for url in page.blocked), page.blocked
    REPO.joinpath("docs").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "docs" / "map.png"))
    assert page.problems == []


def test_tooltip_on_grid_hover(page, written):
    result, _ = written
    grid = page.locator("path.gg-grid").first
    point = grid.evaluate(POINT_ON)
    assert point, "no free point on the first grid"
    page.mouse.move(*point)
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for(state="visible", timeout=3000)
    text = tooltip.inner_text()
    assert any(code in text for code in result.grids["grid_code"]), text
    assert "户数" in text
    assert page.problems == []


def test_injected_html_is_text_and_never_runs(page, written):
    # building tooltips: the hostile ids show as text
    for payload in (XSS_FLAG, XSS_ALERT):
        element = page.evaluate_handle(
            """(payload) => {
                 let el = null;
                 const dec = (s) => { const t = document.createElement('textarea'); t.innerHTML = s; return t.value; };
                 window.gridgeoMap.buildings.eachLayer((l) => { if (dec(l.feature.properties.id || '') === payload) el = l.getElement(); });
                 return el;
               }""",
            payload,
        )
        point = element.evaluate(POINT_ON)
        assert point, "the building is hidden"
        page.mouse.move(*point)
        tooltip = page.locator(".leaflet-tooltip", has_text=payload)
        tooltip.wait_for(state="visible", timeout=3000)
        assert payload in tooltip.inner_text()
        page.mouse.move(1, 500)
        tooltip.wait_for(state="detached", timeout=3000)  # leaving the building closes its tooltip
    # the grid popup: the hostile reason shows as text
    page.evaluate("""() => { const g = window.gridgeoMap.grids.getLayers()[0]; g.openPopup(g.getBounds().getCenter()); }""")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=3000)
    assert XSS_ALERT in popup.inner_text() and XSS_FLAG in popup.inner_text()
    assert page.locator(".leaflet-container img[src='x'], .leaflet-popup img, .leaflet-tooltip img").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    assert page.problems == []


def test_search_box_zooms_to_grid(page, written):
    result, _ = written
    code = result.grids["grid_code"].iloc[-1]
    box = page.locator(".gg-search input")
    box.fill(code)
    box.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=3000)
    assert code in popup.inner_text()
    box.fill("no-such-grid")
    box.press("Enter")
    assert page.locator(".gg-search .gg-msg").inner_text() == "未找到网格"
    assert page.problems == []


def test_units_toggle(page, written):
    result, _ = written
    before = page.locator("path.leaflet-interactive").count()
    page.locator(".leaflet-control-layers-overlays label", has_text="联户").locator("input").check()
    page.wait_for_timeout(200)
    assert page.locator("path.leaflet-interactive").count() == before + len(result.units)
    assert page.problems == []
