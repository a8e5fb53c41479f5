"""The map's edit mode (gridgeo/outputs/editmodel.py, gridgeo/assets/map/edit.js) on three real Taipei villages.

The page is a harness built here: the edit mode's model, CSS and script
(:func:`gridgeo.outputs.editmodel.edit_html`) after a small stand-in for the city map's
view hooks (``window.gridgeo.view``) made of plain DOM elements: one box per
grid, one button per building, a fake Leaflet map that takes clicks.  It is
opened from a file in Debian's Chromium with every other request aborted.  The
edits the page exports go through ``gridgeo apply-edits`` on the command line,
and the page's live totals are checked against the grids it writes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.living.edits import EDITED_SPLIT, check_edits, read_edits
from gridgeo.outputs.editmodel import edit_html, edit_model, edit_script_hash
from gridgeo.result import read_outputs

REPO = Path(__file__).resolve().parent.parent
XSS_NAME = '<img src=x onerror="window.__xss=1">'
XSS_ID = "<script>window.__xss=2</script>"
OPTIONS = {"households": "hh_est", "community_id": "community_id", "building_id": "building_id"}

FAKE_VIEW = """
(function () {
  var data = JSON.parse(document.getElementById('fake-data').textContent);
  var handlers = { building: [], grid: [], map: {} };
  var mapEl = document.getElementById('map'), grids = {}, buildings = {};
  function gridBox(code) {
    if (!grids[code]) {
      var box = document.createElement('div');
      box.className = 'grid';
      box.setAttribute('data-grid', code);
      var label = document.createElement('span');
      label.className = 'grid-label';
      label.textContent = code;
      box.appendChild(label);
      box.addEventListener('click', function (event) {
        if (event.target.closest('[data-building]')) { return; }
        handlers.grid.forEach(function (fn) { fn(code, event); });
      });
      mapEl.appendChild(box);
      grids[code] = box;
    }
    return grids[code];
  }
  data.grids.forEach(gridBox);
  data.buildings.forEach(function (b) {
    var el = document.createElement('button');
    el.type = 'button';
    el.setAttribute('data-building', b[0]);
    el.textContent = b[0];
    el.addEventListener('click', function (event) { handlers.building.forEach(function (fn) { fn(b[0], event); }); });
    gridBox(b[1]).appendChild(el);
    buildings[b[0]] = { el: el, lat: b[2], lng: b[3] };
  });
  function inside(pt, ring) {
    var x = pt.lng, y = pt.lat, hit = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i].lng, yi = ring[i].lat, xj = ring[j].lng, yj = ring[j].lat;
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) { hit = !hit; }
    }
    return hit;
  }
  var map = {
    on: function (type, fn) { (handlers.map[type] = handlers.map[type] || []).push(fn); },
    off: function () {},
    removeLayer: function () {},
    fire: function (type, event) { (handlers.map[type] || []).forEach(function (fn) { fn(event); }); }
  };
  window.gridgeo = window.gridgeo || {};
  window.gridgeo.view = {
    map: map,
    onBuildingClick: function (fn) { handlers.building.push(fn); },
    onGridClick: function (fn) { handlers.grid.push(fn); },
    setBuildingGrid: function (code, grid) { gridBox(grid).appendChild(buildings[code].el); },
    highlightBuildings: function (codes) {
      Object.keys(buildings).forEach(function (c) { buildings[c].el.classList.toggle('hl', codes.indexOf(c) >= 0); });
    },
    clearHighlight: function () { Object.keys(buildings).forEach(function (c) { buildings[c].el.classList.remove('hl'); }); },
    buildingsInPolygon: function (latlngs) {
      return Object.keys(buildings).sort().filter(function (c) { return inside(buildings[c], latlngs); });
    },
    control: function (position) {
      var box = document.createElement('div');
      box.className = 'control control-' + position;
      box.style.display = 'inline-block';
      document.getElementById('controls').appendChild(box);
      return box;
    }
  };
})();
"""


def _harness(model: dict, result, path: Path) -> Path:
    """A page with the fake view and the edit mode, written to ``path``."""
    points = result.buildings.to_crs(4326).geometry.representative_point()
    fake = {
        "grids": sorted(result.grids["grid_code"].astype(str)),
        "buildings": [[str(c), str(g), float(p.y), float(p.x)] for c, g, p in zip(result.buildings["building_code"], result.buildings["grid_code"], points)],
    }
    data = json.dumps(fake, ensure_ascii=False).replace("<", "\\u003c")
    # the city map's policy: scripts admitted by their hash only, so an injected handler could not run either
    view_hash = "'sha256-" + base64.b64encode(hashlib.sha256(FAKE_VIEW.encode("utf-8")).digest()).decode("ascii") + "'"
    csp = f"default-src 'none'; script-src {view_hash} {edit_script_hash()}; style-src 'unsafe-inline'; img-src data:; connect-src 'none'"
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        "<title>gridgeo edit harness</title></head><body>"
        "<div id='controls'></div><div id='map'></div>"
        f"<script type='application/json' id='fake-data'>{data}</script><script>{FAKE_VIEW}</script>"
        f"{edit_html(model)}</body></html>",
        encoding="utf-8",
    )
    return path


# -- the plan and the moves -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def plan(taipei_small, tmp_path_factory):
    """The plan of the three villages (a hostile community name and building ids), written to a folder, and its model."""
    communities, buildings = taipei_small
    communities = communities.copy()
    buildings = buildings.copy()
    communities.loc[communities.index[0], "name"] = XSS_NAME
    buildings.loc[buildings.index[0], "building_id"] = XSS_ID
    buildings.loc[buildings.index[1], "building_id"] = XSS_NAME
    result = gridgeo.partition(communities, buildings, **OPTIONS)
    folder = result.to_files(tmp_path_factory.mktemp("editmode") / "v1")
    model = edit_model(result, lang="en")
    return folder, result, model


def _graph(model):
    n = len(model["buildings"]["code"])
    pairs = np.asarray(model["adjacency"], dtype=np.int64).reshape(-1, 2)
    return csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)), pairs


def _connected(graph, members) -> bool:
    members = np.asarray(members)
    if len(members) < 2:
        return len(members) == 1
    return connected_components(graph[members][:, members], directed=False)[0] == 1


@pytest.fixture(scope="module")
def moves(plan):
    """Three edits chosen on the cell adjacency of the real plan.

    ``neighbour``: a building moved to an adjacent grid, both grids staying one
    piece; ``split``: a building moved to a grid of its community that none of
    its cells touch (the target gets two pieces), in another community;
    ``locked``: a grid of the third community, left untouched; ``created``: a
    building of another grid of that community moved to a new grid code.
    """
    _, result, model = plan
    graph, pairs = _graph(model)
    B, Gm = model["buildings"], model["grids"]
    grid = np.asarray(B["grid"])
    comm = np.asarray(B["community"])
    members = {g: np.flatnonzero(grid == g) for g in range(len(Gm["code"]))}
    neighbour = None
    for a, b in pairs.tolist():
        for mover, other in ((a, b), (b, a)):
            src, dst = grid[mover], grid[other]
            if src == dst or neighbour is not None:
                continue
            rest = members[src][members[src] != mover]
            if len(rest) >= 2 and _connected(graph, rest):
                neighbour = (B["code"][mover], Gm["code"][dst], Gm["code"][src], int(comm[mover]))
    assert neighbour is not None
    split = None
    for g in range(len(Gm["code"])):
        if split is not None or Gm["community"][g] == neighbour[3]:
            continue
        for mover in members[g]:
            rest = members[g][members[g] != mover]
            if len(rest) < 2 or not _connected(graph, rest):
                continue
            touching = set(grid[graph[mover].indices].tolist())
            far = [h for h in range(len(Gm["code"])) if Gm["community"][h] == Gm["community"][g] and h != g and h not in touching]
            if far:
                split = (B["code"][mover], Gm["code"][far[0]], Gm["code"][g], int(Gm["community"][g]))
                break
    assert split is not None, "no grid of the plan lies away from a building of its community"
    used = {neighbour[3], split[3]}
    third = sorted(g for g in range(len(Gm["code"])) if Gm["community"][g] not in used)
    assert len(third) >= 2, "the third village has one grid"
    locked, source = Gm["code"][third[0]], third[-1]
    mover = next(b for b in members[source] if _connected(graph, members[source][members[source] != b]))
    prefix, number = Gm["code"][source].rsplit("-", 1)
    new_code = f"{prefix}-{max(int(Gm['code'][g].rsplit('-', 1)[1]) for g in third) + 1:0{len(number)}d}"
    created = (B["code"][mover], new_code, Gm["code"][source], int(Gm["community"][source]))
    return {"neighbour": neighbour, "split": split, "locked": locked, "created": created}


# -- the model ------------------------------------------------------------------------------------
def test_model_matches_the_run_and_every_grid_is_one_piece_of_cells(plan):
    folder, result, model = plan
    # the run key is the sha256 of the written report.json, and the model is deterministic JSON
    assert model["run_key"] == hashlib.sha256((folder / "report.json").read_bytes()).hexdigest()
    assert json.dumps(edit_model(read_outputs(folder), lang="en"), sort_keys=True) == json.dumps(model, sort_keys=True)
    assert model["band"] == [300, 500]
    G, B = model["grids"], model["buildings"]
    assert G["code"] == sorted(result.grids["grid_code"])
    rows = result.grids.set_index("grid_code")
    assert G["households"] == [int(rows.loc[c, "households"]) for c in G["code"]]
    assert G["buildings"] == [int(rows.loc[c, "n_buildings"]) for c in G["code"]]
    assert sum(B["households"]) == int(result.buildings["households"].sum())
    by_code = result.buildings.set_index("building_code")
    for i in range(0, len(B["code"]), 7):
        code = B["code"][i]
        assert G["code"][B["grid"][i]] == by_code.loc[code, "grid_code"]
        assert model["communities"]["code"][B["community"][i]] == by_code.loc[code, "community_code"]
        assert B["id"][i] == str(by_code.loc[code, "building_id"])
    assert XSS_NAME in model["communities"]["name"]
    # adjacency: pairs of one community; every grid of a fresh plan is one polygon, so its cells are connected
    graph, pairs = _graph(model)
    assert len(pairs) and (pairs[:, 0] < pairs[:, 1]).all()
    comm = np.asarray(B["community"])
    assert (comm[pairs[:, 0]] == comm[pairs[:, 1]]).all()
    grid = np.asarray(B["grid"])
    for g in range(len(G["code"])):
        assert _connected(graph, np.flatnonzero(grid == g)), G["code"][g]
    # grids that touch along an edge have adjacent buildings; grids that do not, have none
    metric = result.grids.to_crs(3826).set_index("grid_code").geometry
    across = {(G["code"][grid[a]], G["code"][grid[b]]) for a, b in pairs.tolist() if grid[a] != grid[b]}
    for a, b in sorted(across):
        assert shapely.length(shapely.intersection(shapely.boundary(metric[a]), shapely.buffer(metric[b], 0.01))) > 0.01, (a, b)


def test_model_options(plan):
    folder, result, model = plan
    light = edit_model(result, lang="en", adjacency=False)
    assert light["adjacency"] is None and {k: v for k, v in light.items() if k != "adjacency"} == {k: v for k, v in model.items() if k != "adjacency"}
    assert edit_model(result, lang="zh", run_key="mine")["run_key"] == "mine"
    with pytest.raises(InputError, match="not a language of the edit mode"):
        edit_model(result, lang="fr", adjacency=False)


def test_html_keeps_names_as_data(plan):
    _, _, model = plan
    html = edit_html(model)
    assert XSS_NAME not in html and XSS_ID not in html
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert json.loads(html.split('id="gg-edit-model">', 1)[1].split("</script>", 1)[0]) == model




@pytest.fixture(scope="module")
def harness(plan, tmp_path_factory):
    folder, result, model = plan
    return _harness(model, result, tmp_path_factory.mktemp("harness") / "edit.html")


class Page:
    """A browser context (its own localStorage) with one page on ``path``, the network blocked."""

    def __init__(self, browser, path: Path):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        self.problems: list[str] = []
        self.blocked: list[str] = []
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("console", lambda msg: self.problems.append(f"console: {msg.text}") if msg.type == "error" else None)
        self.page.on("dialog", lambda dialog: (self.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.open(path)

    def open(self, path: Path):
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.gridgeo && window.gridgeo.edit")

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def error(self, expression: str, arg=None) -> str:
        """The message ``expression`` throws (it must throw)."""
        return self.page.evaluate(f"(arg) => {{ try {{ {expression}; return null; }} catch (e) {{ return e.message; }} }}", arg)

    def close(self):
        self.context.close()


@pytest.fixture
def browse(browser):
    pages = []

    def make(path):
        pages.append(Page(browser, path))
        return pages[-1]

    yield make
    for page in pages:
        assert page.problems == [], page.problems
        assert page.blocked == [], page.blocked
        page.close()


def _api_review(page: Page, moves: dict) -> None:
    b1, g1, _, _ = moves["neighbour"]
    b2, g2, _, _ = moves["split"]
    page.js("([b, g]) => gridgeo.edit.move([b], g)", [b1, g1])
    page.js("([b, g]) => gridgeo.edit.move([b], g)", [b2, g2])
    page.js("(g) => gridgeo.edit.lock(g)", moves["locked"])
    page.js("([b, g]) => gridgeo.edit.move([b], g)", moves["created"][:2])


def test_api_review_through_apply_edits(plan, moves, harness, browse, tmp_path):
    """Move to a neighbour, move away from every cell, lock: the exported file through the CLI gives the page's totals."""
    folder, result, model = plan
    page = browse(harness)
    _api_review(page, moves)
    b1, g1, s1, _ = moves["neighbour"]
    b2, g2, s2, _ = moves["split"]
    b3, g3, s3, _ = moves["created"]
    summary = {s["grid_code"]: s for s in page.js("gridgeo.edit.summary()")}
    assert sorted(summary) == sorted({g1, s1, g2, s2, g3, s3})
    assert all(summary[g]["one_piece"] for g in (g1, s1, s2, g3, s3))
    assert summary[g2]["one_piece"] is False
    assert summary[g3]["created"] and summary[g3]["buildings"] == 1
    assert page.js("gridgeo.edit.locked()") == [moves["locked"]]
    assert [item["action"] for item in page.js("gridgeo.edit.list()")] == ["move", "move", "lock", "move"]
    text = page.js("gridgeo.edit.csv()")
    assert text.splitlines() == ["building_code,grid_code,action", *sorted([f"{b1},{g1},move", f"{b2},{g2},move", f"{b3},{g3},move"]), f",{moves['locked']},lock"]

    # undo and redo walk the history; a locked grid refuses moves in and out
    page.js("gridgeo.edit.undo(); gridgeo.edit.undo()")
    assert page.js("gridgeo.edit.locked()") == [] and page.js("gridgeo.edit.list().length") == 2
    page.js("gridgeo.edit.redo(); gridgeo.edit.redo()")
    assert page.js("gridgeo.edit.csv()") == text
    assert "nothing to redo" in page.error("gridgeo.edit.redo()")
    locked_building = str(result.buildings.loc[result.buildings["grid_code"] == moves["locked"], "building_code"].iloc[0])
    same_community = sorted(c for c in result.grids["grid_code"] if c.split("-")[0] == moves["locked"].split("-")[0] and c != moves["locked"])
    assert f"grid {moves['locked']} is locked" in page.error("gridgeo.edit.move([arg[0]], arg[1])", [locked_building, same_community[0]])
    message = page.error("gridgeo.edit.move([arg[0]], arg[1])", [b1, moves["locked"]])
    assert f"grid {moves['locked']} is locked" in message and "cannot move to grid" in message
    # refused moves name every problem and change nothing
    message = page.error("gridgeo.edit.move(['999-B99999', arg], '001-01')", b1)
    assert "unknown building code 999-B99999" in message
    other = next(c for c in result.grids["grid_code"] if c.split("-")[0] != b1.split("-")[0])
    assert "cannot move to grid" in page.error("gridgeo.edit.move([arg[0]], arg[1])", [b1, other])
    assert "neither a grid of the plan" in page.error("gridgeo.edit.move([arg], 'nope')", b1)
    typo, free = _typo_and_next(result, s1)  # a typo'd code would create a grid: refused, naming the next free one
    assert f"the next free grid code in community {s1.split('-')[0]} is {free}" in page.error("gridgeo.edit.move([arg[0]], arg[1])", [b1, typo])
    assert page.js("gridgeo.edit.csv()") == text

    # the file, through the command line as a planner runs it
    edits = tmp_path / "edits.csv"
    edits.write_bytes(text.encode("utf-8"))
    assert len(read_edits(edits)) == 4
    out = tmp_path / "v2"
    run = CliRunner().invoke(main, ["apply-edits", str(folder), str(edits), "-o", str(out), "--no-map", "--no-report"])
    assert run.exit_code == 0, run.output
    edited = read_outputs(out)
    codes = edited.buildings.set_index("building_code")["grid_code"]
    assert codes[b1] == g1 and codes[b2] == g2 and codes[b3] == g3
    rows = edited.grids.set_index("grid_code")
    for code, s in summary.items():
        assert int(rows.loc[code, "households"]) == s["households"], code
        assert int(rows.loc[code, "n_buildings"]) == s["buildings"], code
        assert (rows.loc[code, "status"] != EDITED_SPLIT) == s["one_piece"], (code, rows.loc[code, "status"])
        assert s["status"] == ("in" if 300 <= s["households"] <= 500 else "below" if s["households"] < 300 else "above")
    assert edited.report["locked_grids"] == [moves["locked"]]
    # every guarantee of a fresh run: apply-edits audited its result (every building once, households conserved at
    # every level, tiling, one polygon per grid but edited_split) or it would have exited with an error; checked again here
    assert set(edited.buildings["building_code"]) == set(result.buildings["building_code"]) and edited.buildings["building_code"].is_unique
    assert edited.grids.groupby("community_code")["households"].sum().to_dict() == result.grids.groupby("community_code")["households"].sum().to_dict()
    assert edited.buildings.groupby("grid_code")["households"].sum().to_dict() == rows["households"].to_dict()
    single = edited.grids["status"] != EDITED_SPLIT
    assert (shapely.get_num_geometries(edited.grids.geometry[single].to_numpy()) == 1).all()
    assert set(edited.grids["grid_code"]) == set(result.grids["grid_code"]) | {g3}
    metric = edited.grids.to_crs(3826)
    communities = edited.communities.to_crs(3826).set_index("community_code").geometry
    for community, frame in metric.groupby("community_code"):
        geoms = frame.geometry.to_numpy()
        assert shapely.coverage_is_valid(geoms)
        assert abs(float(shapely.area(shapely.union_all(geoms))) - float(communities[community].area)) < 1e-6 * float(communities[community].area)
    untouched = sorted(set(result.grids["grid_code"]) - set(summary))
    before = result.grids.set_index("grid_code")
    for code in untouched:
        assert int(rows.loc[code, "households"]) == int(before.loc[code, "households"])

    # another run has another key: its page starts with no edits, and this run's edits stay
    other = _harness(edit_model(edited, lang="en"), edited, tmp_path / "v2.html")
    page.open(other)
    assert page.js("gridgeo.edit.list()") == [] and page.js("gridgeo.edit.csv()") == "building_code,grid_code,action\n"
    page.open(harness)
    assert page.js("gridgeo.edit.csv()") == text


def test_load_round_trip_and_its_problems(plan, moves, harness, browse):
    _, result, model = plan
    page = browse(harness)
    _api_review(page, moves)
    text = page.js("gridgeo.edit.csv()")
    page.js("gridgeo.edit.reset()")
    assert page.js("gridgeo.edit.csv()") == "building_code,grid_code,action\n"
    page.js("(t) => gridgeo.edit.load(t)", "\ufeff" + text.replace("\n", "\r\n"))
    assert page.js("gridgeo.edit.csv()") == text
    assert page.js("gridgeo.edit.summary()") == page.js("(t) => { gridgeo.edit.undo(); gridgeo.edit.redo(); return gridgeo.edit.summary(); }", text)
    # a pin (a building to its own grid) is kept; every problem of a bad file is named, nothing is applied
    b1 = moves["neighbour"][0]
    own = moves["neighbour"][2]
    pinned = text + f"{moves['split'][2].split('-')[0]}-B99999,{own},move\n"
    message = page.error("gridgeo.edit.load(arg)", pinned.replace(f"{b1},{moves['neighbour'][1]}", f"{b1},{own}") + f"{b1},{moves['neighbour'][1]},\n,999-01,lock\n,{own},unlock\n,{own},hide\n")
    for part in ("unknown building code", f"building {b1} is sent to", "cannot lock unknown grid 999-01", f"grid {own} is not locked", "unknown action hide"):
        assert part in message, (part, message)
    assert page.js("gridgeo.edit.csv()") == text
    page.js("(t) => gridgeo.edit.load(t)", f"building_code,grid_code\n{b1},{own}\n")
    assert page.js("gridgeo.edit.csv()") == f"building_code,grid_code,action\n{b1},{own},move\n"
    assert page.js("gridgeo.edit.summary()") == []
    assert "no columns building_code and grid_code" in page.error("gridgeo.edit.load('a,b\\n1,2\\n')")
    # a new grid code that is not the community's next free number, as apply-edits refuses it
    typo, free = _typo_and_next(result, own)
    message = page.error("gridgeo.edit.load(arg)", f"building_code,grid_code\n{b1},{typo}\n")
    assert f"line 2: grid code {typo} is not a grid of community {own.split('-')[0]}" in message and f"is {free}" in message
    assert page.js("gridgeo.edit.csv()") == f"building_code,grid_code,action\n{b1},{own},move\n"


def _typo_and_next(result, grid: str) -> tuple[str, str]:
    """A code 20 numbers past the highest of ``grid``'s community, and the community's next free code."""
    prefix = grid.rsplit("-", 1)[0]
    numbers = [c.rsplit("-", 1)[1] for c in result.grids["grid_code"] if c.startswith(f"{prefix}-")]
    width, top = max(len(n) for n in numbers), max(int(n) for n in numbers)
    return f"{prefix}-{top + 20:0{width}d}", f"{prefix}-{top + 1:0{width}d}"


def _click_building(page, code):
    page.page.click(f"[data-building='{code}']")


def test_review_by_clicks_survives_a_reload_and_downloads_the_file(plan, moves, harness, browse, tmp_path):
    """Toggle, click buildings, click a grid, lasso, lock, undo/redo, reload, download, load: all by the panel."""
    folder, result, model = plan
    b1, g1, s1, c1 = moves["neighbour"]
    b2, g2, s2, c2 = moves["split"]
    expected = browse(harness)
    _api_review(expected, moves)
    expected_csv = expected.js("gridgeo.edit.csv()")
    expected_summary = expected.js("gridgeo.edit.summary()")

    page = browse(harness)
    p = page.page
    assert p.locator(".gg-edit-panel").is_hidden()
    p.click("[data-edit='toggle']")
    assert p.locator(".gg-edit-panel").is_visible()
    assert "300–500" in p.inner_text(".gg-edit-band")
    # select by click, pick the grid by clicking it, see the preview, move
    _click_building(page, b1)
    assert "Selected: 1 building," in p.inner_text("[data-edit='selection']")
    assert page.js("gridgeo.edit.selection()") == [b1]
    p.click(f".grid[data-grid='{g1}'] > .grid-label")
    assert p.input_value("[data-edit='target']") == g1
    assert p.locator("[data-edit='preview'] tr[data-grid]").count() == 2
    p.click("[data-edit='move']")
    assert p.locator(f".grid[data-grid='{g1}'] [data-building='{b1}']").count() == 1  # the view drew it in its new grid
    assert page.js("gridgeo.edit.selection()") == []
    # lasso around the second building (its point in the fake map), type the target's code
    point = result.buildings.to_crs(4326).set_index("building_code").geometry.representative_point()[b2]
    p.click("[data-edit='lasso']")
    d = 1e-6
    for dx, dy in ((-d, -d), (d, -d), (d, d), (-d, d)):
        page.js("([lat, lng]) => gridgeo.view.map.fire('click', {latlng: {lat: lat, lng: lng}})", [point.y + dy, point.x + dx])
    p.click("[data-edit='lasso']")
    assert page.js("gridgeo.edit.selection()") == [b2]
    p.fill("[data-edit='target']", g2)
    p.click("[data-edit='move']")
    # lock a grid by typing its code, then a move out of it is refused with the reason shown
    p.fill("[data-edit='target']", moves["locked"])
    p.click("[data-edit='lock']")
    _click_building(page, moves["created"][0])
    p.fill("[data-edit='target']", moves["created"][1])  # a new grid code
    p.click("[data-edit='move']")
    assert p.locator(f".grid[data-grid='{moves['created'][1]}'] [data-building='{moves['created'][0]}']").count() == 1
    locked_building = str(result.buildings.loc[result.buildings["grid_code"] == moves["locked"], "building_code"].iloc[0])
    neighbour_grid = next(c for c in sorted(result.grids["grid_code"]) if c.split("-")[0] == moves["locked"].split("-")[0] and c != moves["locked"])
    _click_building(page, locked_building)
    p.fill("[data-edit='target']", neighbour_grid)
    p.click("[data-edit='move']")
    assert f"grid {moves['locked']} is locked" in p.inner_text("[data-edit='message']")
    p.click("[data-edit='clear']")
    # the live totals: one row per touched grid, households and pieces as the API says
    assert page.js("gridgeo.edit.csv()") == expected_csv
    assert page.js("gridgeo.edit.summary()") == expected_summary
    rows = p.locator("[data-edit='totals'] tr[data-grid]")
    assert rows.count() == len(expected_summary)
    for s in expected_summary:
        cells = p.locator(f"[data-edit='totals'] tr[data-grid='{s['grid_code']}'] td").all_inner_texts()
        assert cells[1].endswith(str(s["households"])) and cells[2] == str(s["buildings"])
        assert cells[4] == ("yes" if s["one_piece"] else "no")
    assert p.locator("[data-edit='list'] li").count() == 4
    # undo and redo by the buttons
    p.click("[data-edit='undo']")
    p.click("[data-edit='undo']")
    assert p.locator("[data-edit='list'] li").count() == 2 and page.js("gridgeo.edit.locked()") == []
    p.click("[data-edit='redo']")
    p.click("[data-edit='redo']")
    assert page.js("gridgeo.edit.csv()") == expected_csv
    # a reload keeps the review (localStorage), drawn in the view; (the renderer hands localStorage writes to the
    # browser process asynchronously: on a loaded machine a reload at once can come before the last one lands)
    p.wait_for_timeout(500)
    p.reload()
    p.wait_for_function("window.gridgeo && window.gridgeo.edit")
    assert page.js("gridgeo.edit.csv()") == expected_csv
    assert p.locator(f".grid[data-grid='{g2}'] [data-building='{b2}']").count() == 1
    p.click("[data-edit='toggle']")
    assert p.locator("[data-edit='list'] li").count() == 4
    # download: exactly the file apply-edits reads
    with p.expect_download() as info:
        p.click("[data-edit='download']")
    download = info.value
    assert download.suggested_filename == "edits.csv"
    saved = tmp_path / "edits.csv"
    download.save_as(saved)
    assert saved.read_bytes() == expected_csv.encode("utf-8")
    checked_moves, locks, unlocks, _ = check_edits(read_outputs(folder), read_edits(saved), source=str(saved))
    assert checked_moves == {b1: g1, b2: g2, moves["created"][0]: moves["created"][1]} and locks == [moves["locked"]] and unlocks == []
    # discard, then load the downloaded file to continue the review
    p.click("[data-edit='reset']")
    assert page.js("gridgeo.edit.csv()") == "building_code,grid_code,action\n"
    assert p.locator(f".grid[data-grid='{s1}'] [data-building='{b1}']").count() == 1
    p.set_input_files("[data-edit='file']", str(saved))
    p.wait_for_function("(t) => gridgeo.edit.csv() === t", arg=expected_csv)
    assert p.locator(f".grid[data-grid='{g1}'] [data-building='{b1}']").count() == 1
    # a selection and a typed target give the preview of both grids
    _click_building(page, b2)
    p.fill("[data-edit='target']", s2)
    assert p.locator("[data-edit='preview'] tr[data-grid]").count() == 2


def test_injected_names_stay_text_in_every_panel(plan, harness, browse):
    _, result, model = plan
    page = browse(harness)
    p = page.page
    p.click("[data-edit='toggle']")
    names = dict(zip(model["communities"]["code"], model["communities"]["name"]))
    community = next(c for c, n in names.items() if n == XSS_NAME)
    hostile = [str(c) for c, i in zip(result.buildings["building_code"], result.buildings["building_id"]) if i in (XSS_ID, XSS_NAME)]
    for code in hostile:
        _click_building(page, code)
    selection = p.inner_text("[data-edit='selection']")
    assert XSS_ID in selection and XSS_NAME in selection
    # the community's name in the preview of a move within it
    p.click("[data-edit='clear']")
    grids = sorted(c for c in result.grids["grid_code"] if c.startswith(community + "-"))
    mover = str(result.buildings.loc[result.buildings["grid_code"] == grids[0], "building_code"].iloc[0])
    _click_building(page, mover)
    p.fill("[data-edit='target']", grids[-1])
    assert f"{grids[-1]} ({XSS_NAME})" in p.inner_text("[data-edit='preview']")
    # a refused move shows the typed text, never markup; the edit list likewise
    p.fill("[data-edit='target']", "<b>x</b>")
    p.click("[data-edit='move']")
    assert "<b>x</b>" in p.inner_text("[data-edit='message']")
    p.fill("[data-edit='target']", grids[-1])
    p.click("[data-edit='move']")
    assert mover in p.inner_text("[data-edit='list']")
    assert page.js("document.querySelectorAll('.gg-edit img, .gg-edit script, .gg-edit b').length") == 0
    assert page.js("window.__xss") is None
