"""The edit mode in the real map.html of a real run (three Taipei villages), in an offline Chromium.

One plan is made once for the module with ``gridgeo partition`` (a hostile
community name and building ids injected into the inputs); its ``map.html`` is
opened from the file in Debian's Chromium with every other request aborted.  A
review is done by clicks (the Edit toggle, a building, a grid, Move, Download)
and by the API (``gridgeo.edit.move`` → ``gridgeo.edit.csv()``); each file goes
through ``gridgeo apply-edits`` and the result is checked against the page's
live totals and every guarantee of a fresh run.  ``gridgeo map OUTDIR --edit``
writes the review map that also tells whether each grid stays one piece.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

import gridgeo
from gridgeo.cli import main
from gridgeo.outputs.editmodel import edit_model
from gridgeo.outputs.maps import write_maps
from gridgeo.result import read_outputs

REPO = Path(__file__).resolve().parent.parent
XSS_NAME = '<img src=x onerror="window.__xss=1">'
XSS_ID = "<script>window.__xss=2</script>"
HEADER = "building_code,grid_code,action"


def _model_of(page_text: str) -> dict:
    return json.loads(re.search(r'id="gg-data">(.*?)</script>', page_text, re.S).group(1))["edit"]


# -- the run ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(taipei_small, tmp_path_factory):
    """``gridgeo partition`` on the three villages, a hostile name and ids in the inputs; the plan folder and its result."""
    communities, buildings = taipei_small
    communities, buildings = communities.copy(), buildings.copy()
    communities.loc[communities.index[0], "name"] = XSS_NAME
    buildings.loc[buildings.index[0], "building_id"] = XSS_ID
    buildings.loc[buildings.index[1], "building_id"] = XSS_NAME
    tmp = tmp_path_factory.mktemp("editmap")
    communities.to_file(tmp / "communities.gpkg", layer="communities")
    buildings.to_file(tmp / "buildings.gpkg", layer="buildings")
    plan = tmp / "v1"
    out = CliRunner().invoke(main, [
        "partition", str(tmp / "communities.gpkg"), str(tmp / "buildings.gpkg"), "-o", str(plan), "--households", "hh_est",
        "--community-id", "community_id", "--building-id", "building_id", "--lang", "en", "--no-report", "--workers", "1",
    ])  # fmt: skip
    assert out.exit_code == 0, out.output
    return plan, read_outputs(plan)


def _neighbour_move(result) -> tuple[str, str, str]:
    """A building next to a grid of its community (their cells share an edge), both grids staying one piece without it."""
    model = edit_model(result, lang="en")
    n = len(model["buildings"]["code"])
    pairs = np.asarray(model["adjacency"], dtype=np.int64).reshape(-1, 2)
    graph = csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    grid = np.asarray(model["buildings"]["grid"])
    codes, grids = model["buildings"]["code"], model["grids"]["code"]
    for a, b in pairs.tolist():
        for mover, other in ((a, b), (b, a)):
            rest = np.flatnonzero(grid == grid[mover])
            rest = rest[rest != mover]
            if grid[mover] != grid[other] and len(rest) >= 2 and connected_components(graph[rest][:, rest], directed=False)[0] == 1:
                return codes[mover], grids[grid[other]], grids[grid[mover]]
    pytest.fail("no building of the plan lies next to another grid")


@pytest.fixture(scope="module")
def move(run):
    """(building, target grid, its grid): a move to a neighbouring grid."""
    return _neighbour_move(run[1])


class Page:
    """A fresh browser context (its own localStorage) on a map.html, the network blocked, every error kept."""

    def __init__(self, browser, path: Path):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1, accept_downloads=True)
        self.problems: list[str] = []
        self.blocked: list[str] = []
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("console", self._console)
        self.page.on("dialog", lambda dialog: (self.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())
        self.page.wait_for_function("() => !!(window.gridgeo && window.gridgeo.ready && window.gridgeo.edit)")
        self.page.evaluate("window.gridgeo.ready")

    def _console(self, msg):
        # a tile that cannot load is expected offline (and is blocked, so counted there); a CSP refusal or any other error is not
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.problems.append(f"console: {msg.text}")

    def _route(self, route):
        try:
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                self.blocked.append(route.request.url)
                route.abort()
        except Exception:  # noqa: BLE001 - the page closed meanwhile
            pass

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def screen(self, lon: float, lat: float) -> tuple[float, float]:
        p = self.js("([x, y]) => { const c = window.gridgeo.view.map.latLngToContainerPoint([y, x]); return [c.x, c.y]; }", [lon, lat])
        box = self.page.locator("#map").bounding_box()
        return box["x"] + p[0], box["y"] + p[1]

    def click_at(self, point, zoom: int) -> None:
        """Centre the map on ``point`` (EPSG:4326) at ``zoom`` and click there."""
        self.js("([x, y, z]) => window.gridgeo.view.map.setView([y, x], z, {animate: false})", [point.x, point.y, zoom])
        self.page.wait_for_timeout(100)
        self.page.mouse.click(*self.screen(point.x, point.y))

    def panel_text(self) -> str:
        return self.page.locator(".gg-edit").inner_text()


@pytest.fixture
def browse(browser):
    pages = []

    def make(path):
        pages.append(Page(browser, path))
        return pages[-1]

    yield make
    for page in pages:
        assert page.problems == [], page.problems
        assert page.js("window.__xss === undefined"), "injected markup ran"
        page.context.close()


def _inside(result, code: str):
    """A point inside building ``code`` (EPSG:4326)."""
    b = result.buildings.set_index("building_code").geometry[code]
    return gpd.GeoSeries([b.representative_point()], crs=result.buildings.crs).to_crs(4326).iloc[0]


def _free_point(result, code: str):
    """A point of grid ``code`` clear of every building by 4 m (EPSG:4326)."""
    metric = result.report["metric_crs"]
    grid = result.grids.to_crs(metric).set_index("grid_code").geometry[code]
    free = grid.buffer(-3).difference(result.buildings.to_crs(metric).buffer(4).union_all())
    return gpd.GeoSeries([free.representative_point()], crs=metric).to_crs(4326).iloc[0]


def _apply(plan: Path, text: str, folder: Path, *, with_map: bool = False):
    """``gridgeo apply-edits`` with the page's file; the new plan."""
    edits = folder / "edits.csv"
    edits.write_bytes(text.encode("utf-8"))
    out = folder / "v2"
    run = CliRunner().invoke(main, ["apply-edits", str(plan), str(edits), "-o", str(out), "--map" if with_map else "--no-map", "--no-report"])
    assert run.exit_code == 0, run.output
    return read_outputs(out)


def _check_guarantees(before, after, moved: dict[str, str], summary: list[dict]) -> None:
    """The moved buildings in their grids, the page's totals as written, and every guarantee of a fresh run."""
    codes = after.buildings.set_index("building_code")["grid_code"]
    for building, grid in moved.items():
        assert codes[building] == grid
    rows = after.grids.set_index("grid_code")
    assert summary and {s["grid_code"] for s in summary} >= set(moved.values())
    for s in summary:  # the live totals shown are the households apply-edits writes
        assert int(rows.loc[s["grid_code"], "households"]) == s["households"], s
        assert int(rows.loc[s["grid_code"], "n_buildings"]) == s["buildings"], s
    # households conserved per community and per grid; every building once with its code
    assert sorted(after.buildings["building_code"]) == sorted(before.buildings["building_code"])
    assert int(after.buildings["households"].sum()) == int(before.buildings["households"].sum())
    assert after.grids.groupby("community_code")["households"].sum().to_dict() == before.grids.groupby("community_code")["households"].sum().to_dict()
    assert after.buildings.groupby("grid_code")["households"].sum().to_dict() == rows["households"].to_dict()
    # codes stable: every grid keeps its code; the grids no edit touched keep their buildings and households
    assert set(after.grids["grid_code"]) == set(before.grids["grid_code"])
    touched = {s["grid_code"] for s in summary}
    old = before.buildings.set_index("building_code")["grid_code"]
    for code in set(before.grids["grid_code"]) - touched:
        assert sorted(codes.index[codes == code]) == sorted(old.index[old == code]), code
    # the grids of each community tile it (a valid coverage, no gap)
    metric = before.report["metric_crs"]
    communities = after.communities.to_crs(metric).set_index("community_code").geometry
    for community, frame in after.grids.to_crs(metric).groupby("community_code"):
        geoms = frame.geometry.to_numpy()
        assert shapely.coverage_is_valid(geoms), community
        area = float(communities[community].area)
        assert abs(float(shapely.area(shapely.union_all(geoms))) - area) < 1e-6 * area, community


# -- the tests ----------------------------------------------------------------------------------------
def test_every_map_carries_the_edit_mode_keyed_by_the_run(run):
    plan, result = run
    page = (plan / "map.html").read_text(encoding="utf-8")
    model = _model_of(page)
    key = hashlib.sha256((plan / "report.json").read_bytes()).hexdigest()
    assert model["run_key"] == key and model["adjacency"] is None
    assert model["grids"]["code"] == sorted(result.grids["grid_code"]) and len(model["buildings"]["code"]) == len(result.buildings)
    assert sum(model["grids"]["households"]) == int(result.buildings["households"].sum())
    # the edit script is inlined and admitted by its hash, and nothing else is
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert "gridgeo edit mode" in scripts[-1] and len(scripts) == 3
    assert len(re.findall(r"'sha256-", csp)) == 3 and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert XSS_NAME not in page and XSS_ID not in page
    # `gridgeo map` draws it again from the folder: the same run key, so the edits kept in the browser carry over
    again = CliRunner().invoke(main, ["map", str(plan)])
    assert again.exit_code == 0, again.output
    assert _model_of((plan / "map.html").read_text(encoding="utf-8")) == model


def test_review_by_clicks_gives_the_file_apply_edits_takes(run, move, browse, tmp_path):
    """Toggle, click a building, click a grid, Move, Download: the file, through apply-edits, gives the totals shown."""
    plan, result = run
    building, target, source = move
    page = browse(plan / "map.html")
    assert page.page.locator("[data-edit=toggle]").is_visible()
    assert not page.page.locator(".gg-edit-panel").is_visible()
    page.page.click("[data-edit=toggle]")
    assert page.page.locator(".gg-edit-panel").is_visible()
    hint = page.page.locator("[data-edit=piece-hint]")
    assert hint.is_visible() and "gridgeo map PLAN_DIR --edit" in hint.inner_text()
    # a click on the building selects it (no popup opens while editing)
    page.click_at(_inside(result, building), 18)
    assert page.js("gridgeo.edit.selection()") == [building]
    assert building in page.page.locator("[data-edit=selection]").inner_text()
    assert page.page.locator(".leaflet-popup-content").count() == 0
    # a click on the neighbouring grid makes it the target; the preview shows both grids
    page.click_at(_free_point(result, target), 16)
    assert page.page.locator("[data-edit=target]").input_value() == target
    assert page.page.locator(".leaflet-popup-content").count() == 0
    preview = page.page.locator("[data-edit=preview]").inner_text()
    assert target in preview and source in preview
    page.page.click("[data-edit=move]")
    assert page.js("gridgeo.edit.selection()") == []
    # the building is drawn in its new grid
    assert page.js("(b) => gridgeo.edit.summary().map(s => s.grid_code).sort()", building) == sorted([source, target])
    with page.page.expect_download() as download:
        page.page.click("[data-edit=download]")
    assert download.value.suggested_filename == "edits.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text == f"{HEADER}\n{building},{target},move\n"
    # the totals table shown in the panel: the households apply-edits writes, "?" for one piece
    shown = {}
    for row in page.page.locator("[data-edit=totals] tr[data-grid]").all():
        cells = row.locator("td").all_inner_texts()
        shown[row.get_attribute("data-grid")] = (int(cells[1].split("→")[-1].strip()), int(cells[2]), cells[4])
    summary = page.js("gridgeo.edit.summary()")
    assert shown == {s["grid_code"]: (s["households"], s["buildings"], "?") for s in summary}
    after = _apply(plan, text, tmp_path)
    _check_guarantees(result, after, {building: target}, summary)
    # outside the edit mode a click opens the grid's popup again
    page.page.click("[data-edit=toggle]")
    page.click_at(_free_point(result, target), 16)
    assert page.page.locator(".leaflet-popup-content").count() == 1


def test_lasso_selects_by_clicks_on_the_map(run, move, browse):
    plan, result = run
    building = move[0]
    page = browse(plan / "map.html")
    page.page.click("[data-edit=toggle]")
    page.click_at(_inside(result, building), 18)  # selects it
    page.page.click("[data-edit=clear]")
    assert page.js("gridgeo.edit.selection()") == []
    here = _inside(result, building)
    x, y = page.screen(here.x, here.y)
    corners = [(x + dx, y + dy) for dx, dy in ((-25, -25), (25, -25), (25, 25), (-25, 25))]
    page.page.click("[data-edit=lasso]")
    for corner in corners:
        page.page.mouse.click(*corner)
    lines = "() => { let n = 0; window.gridgeo.view.map.eachLayer((l) => { if (l instanceof L.Polyline) n++; }); return n; }"
    assert page.js(lines) == 1  # the lasso's line
    assert page.js("gridgeo.edit.selection()") == []  # clicks while drawing do not select
    page.page.click("[data-edit=lasso]")  # "Finish lasso"
    selected = page.js("gridgeo.edit.selection()")
    box = page.page.locator("#map").bounding_box()
    to_latlng = "([x, y]) => { const ll = window.gridgeo.view.map.containerPointToLatLng([x, y]); return [ll.lat, ll.lng]; }"
    ring = [page.js(to_latlng, [cx - box["x"], cy - box["y"]]) for cx, cy in corners]
    assert building in selected and set(selected) == set(page.js("(r) => window.gridgeo.view.buildingsInPolygon(r)", ring))
    assert page.js(lines) == 0
    assert page.page.locator(".leaflet-popup-content").count() == 0


def test_api_move_csv_apply_edits(run, move, browse, tmp_path):
    """gridgeo.edit.move → gridgeo.edit.csv() → apply-edits, on the real page; the edits survive a reload."""
    plan, result = run
    building, target, source = move
    page = browse(plan / "map.html")
    page.js("([b, g]) => gridgeo.edit.move([b], g)", [building, target])
    summary = page.js("gridgeo.edit.summary()")
    text = page.js("gridgeo.edit.csv()")
    assert text == f"{HEADER}\n{building},{target},move\n"
    assert [s["one_piece"] for s in summary] == [None, None]  # the default map has no adjacency
    after = _apply(plan, text, tmp_path, with_map=True)
    _check_guarantees(result, after, {building: target}, summary)
    # the edited plan's map has its own edit mode, keyed by its own report: the building is in its new grid there
    model = _model_of((tmp_path / "v2" / "map.html").read_text(encoding="utf-8"))
    assert model["run_key"] == hashlib.sha256((tmp_path / "v2" / "report.json").read_bytes()).hexdigest()
    assert model["grids"]["code"][model["buildings"]["grid"][model["buildings"]["code"].index(building)]] == target
    # the edits survive a reload (localStorage, keyed by the run)
    page.page.reload()
    page.page.wait_for_function("() => !!(window.gridgeo && window.gridgeo.edit)")
    assert page.js("gridgeo.edit.csv()") == text


def test_review_map_tells_whether_grids_stay_one_piece(run, move, browse, tmp_path):
    """``gridgeo map PLAN --edit`` carries the building adjacency: the page says "one piece" yes or no."""
    plan, result = run
    building, target, source = move
    review = tmp_path / "plan"
    shutil.copytree(plan, review)
    out = CliRunner().invoke(main, ["map", str(review), "--edit", "--workers", "1"])
    assert out.exit_code == 0, out.output
    model = _model_of((review / "map.html").read_text(encoding="utf-8"))
    assert model["adjacency"] == edit_model(result, lang="en")["adjacency"]
    assert model["run_key"] == _model_of((plan / "map.html").read_text(encoding="utf-8"))["run_key"]
    page = browse(review / "map.html")
    page.page.click("[data-edit=toggle]")
    assert page.page.locator("[data-edit=piece-hint]").count() == 0
    page.js("([b, g]) => gridgeo.edit.move([b], g)", [building, target])
    assert {s["grid_code"]: s["one_piece"] for s in page.js("gridgeo.edit.summary()")} == {source: True, target: True}
    assert page.page.locator("[data-edit=totals]").inner_text().count("yes") == 2


def test_injected_names_stay_text_in_every_edit_panel(run, browse):
    plan, result = run
    page = browse(plan / "map.html")
    page.page.click("[data-edit=toggle]")
    first = result.buildings.set_index("building_id")
    hostile = [str(first.loc[XSS_ID, "building_code"]), str(first.loc[XSS_NAME, "building_code"])]
    page.js("(codes) => gridgeo.edit.select(codes)", hostile)
    assert XSS_ID in page.page.locator("[data-edit=selection]").inner_text()
    assert XSS_NAME in page.page.locator("[data-edit=selection]").inner_text()
    # a move inside the community with the hostile name: its name in the preview and in the totals' rows
    named = result.communities.loc[result.communities["name"] == XSS_NAME, "community_code"].iloc[0]
    mine = result.buildings[result.buildings["community_code"] == named].sort_values("building_code")
    building = str(mine["building_code"].iloc[0])
    grid = sorted(c for c in result.grids.loc[result.grids["community_code"] == named, "grid_code"] if c != mine["grid_code"].iloc[0])[0]
    page.js("(codes) => gridgeo.edit.select(codes)", [building])
    page.js("(g) => { const t = document.querySelector('[data-edit=target]'); t.value = g; t.dispatchEvent(new Event('input')); }", grid)
    assert XSS_NAME in page.page.locator("[data-edit=preview]").inner_text()
    page.page.click("[data-edit=move]")
    titles = [row.get_attribute("title") for row in page.page.locator("[data-edit=totals] tr[data-grid]").all()]
    assert titles and all(XSS_NAME in t for t in titles)
    assert building in page.page.locator("[data-edit=list]").inner_text()
    assert page.page.locator(".gg-edit img, .gg-edit script").count() == 0
    assert page.js("window.__xss === undefined")


def test_picture_for_the_readme(browse, taipei_small, tmp_path):
    """docs/edit_mode.png: the real map of the slice as it is, in edit mode, a building selected and a target chosen by clicks."""
    communities, buildings = taipei_small
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    (path,) = write_maps(result, tmp_path, lang="en")
    building, target, source = _neighbour_move(result)
    page = browse(path)
    page.page.set_viewport_size({"width": 1200, "height": 760})
    page.page.click("[data-edit=toggle]")
    page.click_at(_inside(result, building), 17)
    page.click_at(_free_point(result, target), 17)
    assert page.js("gridgeo.edit.selection()") == [building]
    assert page.page.locator("[data-edit=target]").input_value() == target
    here = _inside(result, building)
    page.js("([x, y]) => window.gridgeo.view.map.setView([y, x], 17, {animate: false})", [here.x + 0.0012, here.y])
    page.page.wait_for_timeout(200)
    picture = REPO / "docs" / "edit_mode.png"
    page.page.screenshot(path=str(picture))
    assert picture.stat().st_size < 300_000
