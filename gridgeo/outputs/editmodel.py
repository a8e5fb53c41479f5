"""What the map's edit mode needs to know about a finished run, as one JSON-able dict.

:func:`edit_model` gives the page (``window.gridgeo.editModel``, read by
``gridgeo/assets/map/edit.js``) everything it needs to check a planner's moves
live, before ``gridgeo apply-edits`` re-draws the grids:

* the household band and a **run key** (the sha256 of the run's
  ``report.json``), under which the page keeps the edits in the browser's
  localStorage: the same run gives the same key, another run another key;
* per community its code and name, per grid its code, community, households,
  building count and status, per building its code, id, grid and households
  (column arrays, the grid and community given by index);
* the **cell adjacency**: pairs of buildings whose cells share an edge of
  positive length.  A grid is one piece exactly when the cells of its buildings
  are connected, so the page can tell whether a grid would stay one piece after
  a move.

The cells are drawn as ``apply-edits`` draws them: it tessellates the union of
the grids a move touches among their buildings
(:func:`gridgeo.cells.tessellate.tessellate_part`) and dissolves the cells by the new
assignment.  Here every grid polygon is tessellated among its own buildings
with the same function, so the cells of a grid tile it exactly and the cells of
two grids meet on their shared border; as the grids of a plan are unions of
such cells, these are (up to the mending of stray pieces) the cells
``apply-edits`` draws (``scripts/edit_agreement.py`` measures the agreement on
a run).  Buildings that share one cell (identical footprints) are adjacent to
each other.

This module reads a :class:`~gridgeo.result.Partition` only; it writes no file.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import json
import logging

import numpy as np
import shapely

from ..cells.adjacency import _shared_by_intersection, _shared_by_segments
from ..cells.tessellate import split_parts, tessellate_part
from ..errors import InputError, Problem
from ..inputs.crs import local_metric_crs
from ..inputs.names import community_names
from ..living.lineage import report_hash
from ..parallel import map_ordered
from ..partition.engine import _assign_parts
from ..result import Partition
from .columns import _values_missing

__all__ = ["EDIT_MODEL_VERSION", "edit_model", "building_adjacency", "edit_assets", "edit_html", "edit_script_hash"]

logger = logging.getLogger(__name__)

#: the layout of the dict :func:`edit_model` returns (``model["version"]``)
EDIT_MODEL_VERSION = 1
#: a shared edge shorter than this (metres) is a touch at a point: within a tessellation, as the partition's cell
#: graph counts it (:mod:`gridgeo.cells.adjacency`); across two grids, measured against a 0.1 mm buffer, a little more
_MIN_SHARED_M = 1e-6
_MIN_SHARED_ACROSS_M = 1e-3


def _text(values) -> list[str]:
    """Each value as text, ``""`` when missing."""
    objects, missing = _values_missing(values)
    return ["" if m else str(v) for v, m in zip(objects, missing)]


def _within(cells: np.ndarray, outline: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of cells of one tessellation sharing an edge: matched segments, checked against the part's outline."""
    if len(cells) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    left, right, lengths = _shared_by_segments(cells)
    exterior = float(shapely.length(cells).sum()) - 2.0 * float(lengths.sum())
    if abs(exterior - outline) > 1e-6 * max(outline, 1.0) + 1e-6:
        left, right, lengths = _shared_by_intersection(cells)  # vertices not shared exactly: measure the overlay
    edge = lengths > _MIN_SHARED_M
    return left[edge].astype(np.int64), right[edge].astype(np.int64)


def _across(cells: np.ndarray, piece_of: np.ndarray, outer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of cells of two tessellations (two grids) sharing an edge.

    Their common border may carry different vertices on either side, so the
    cells on an outline (``outer``) are paired with an STRtree and the shared
    length is measured against a hair-thin buffer of the neighbour.
    """
    outer = np.flatnonzero(outer)
    if len(outer) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    tree = shapely.STRtree(cells[outer])
    a, b = tree.query(cells[outer], predicate="intersects")
    a, b = outer[a], outer[b]
    keep = (a < b) & (piece_of[a] != piece_of[b])
    a, b = a[keep], b[keep]
    if not len(a):
        return a, b
    near = shapely.buffer(cells[b], 1e-4, quad_segs=1)
    shared = shapely.length(shapely.intersection(shapely.boundary(cells[a]), near))
    edge = shared > _MIN_SHARED_ACROSS_M
    return a[edge].astype(np.int64), b[edge].astype(np.int64)


def building_adjacency(grids: np.ndarray, members: list[np.ndarray], buildings: np.ndarray) -> np.ndarray:
    """Pairs of buildings whose cells share an edge, the cells drawn grid by grid.

    Every grid polygon (each of its parts) is tessellated among its own
    buildings, as ``apply-edits`` re-draws grids; buildings sharing one cell
    (identical footprints) are paired too.

    Parameters
    ----------
    grids : ndarray of Polygon or MultiPolygon
        Grid polygons of one community, metric CRS.
    members : list of ndarray of int
        Per grid, the indices (into ``buildings``) of its buildings.
    buildings : ndarray of geometries
        Building footprints or points, metric CRS.

    Returns
    -------
    ndarray of int64, shape (n, 2)
        Sorted pairs ``(a, b)``, ``a < b``, of building indices.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> grids = np.array([shapely.box(0, 0, 20, 10), shapely.box(20, 0, 40, 10)])
    >>> b = np.array([shapely.box(2, 2, 4, 4), shapely.box(12, 2, 14, 4), shapely.box(32, 2, 34, 4)])
    >>> building_adjacency(grids, [np.array([0, 1]), np.array([2])], b).tolist()
    [[0, 1], [1, 2]]
    """
    cells: list[np.ndarray] = []
    owners: list[np.ndarray] = []  # per cell, the buildings in it
    piece: list[np.ndarray] = []  # per cell, the tessellated part it belongs to
    outer: list[np.ndarray] = []  # per cell, whether it reaches its part's outline
    left, right = [], []
    start = 0
    for geom, here in zip(grids, members):
        here = np.asarray(here, dtype=np.int64)
        if not len(here) or geom is None or shapely.is_empty(geom):
            continue
        parts = split_parts(geom)
        if not len(parts):
            continue
        part_of = _assign_parts(parts, buildings[here])
        for p, part in enumerate(parts):
            inside = here[part_of == p]
            if not len(inside):
                continue
            tess = tessellate_part(part, buildings[inside])
            these = np.asarray(tess.cells, dtype=object)
            i, j = _within(these, float(shapely.length(part)))
            left.append(i + start)
            right.append(j + start)
            cells.append(these)
            owners.extend(inside[tess.site_of_building == site] for site in range(len(these)))
            piece.append(np.full(len(these), len(piece), dtype=np.int64))
            outer.append(shapely.dwithin(these, shapely.boundary(part), 1e-3))
            start += len(these)
    if not cells:
        return np.zeros((0, 2), dtype=np.int64)
    all_cells = np.concatenate(cells)
    i, j = _across(all_cells, np.concatenate(piece), np.concatenate(outer))
    left = np.concatenate([*left, i])
    right = np.concatenate([*right, j])
    pairs: list[np.ndarray] = []
    for owned in owners:  # buildings sharing one cell
        if len(owned) > 1:
            a, b = np.triu_indices(len(owned), 1)
            pairs.append(np.stack([owned[a], owned[b]], axis=1))
    count = np.array([len(o) for o in owners])
    single = (count[left] == 1) & (count[right] == 1)
    first = np.array([o[0] if len(o) else -1 for o in owners], dtype=np.int64)
    pairs.append(np.stack([first[left[single]], first[right[single]]], axis=1))
    for c1, c2 in zip(left[~single].tolist(), right[~single].tolist()):
        a, b = np.meshgrid(owners[c1], owners[c2], indexing="ij")
        pairs.append(np.stack([a.ravel(), b.ravel()], axis=1))
    out = np.sort(np.concatenate(pairs).astype(np.int64).reshape(-1, 2), axis=1)
    out = out[(out[:, 0] != out[:, 1]) & (out[:, 0] >= 0)]
    return np.unique(out, axis=0)


def edit_model(result: Partition, *, run_key: str | None = None, lang: str = "zh", adjacency: bool = True, workers: int = 1) -> dict:
    """The data of the map's edit mode: band, run key, communities, grids, buildings and cell adjacency.

    Parameters
    ----------
    result : Partition
        A finished run (from :func:`gridgeo.partition`, ``update``,
        ``apply_edits`` or :func:`gridgeo.result.read_outputs`).
    run_key : str, optional
        The key under which the page keeps the edits (default: the sha256 of
        the run's ``report.json``, as written by :meth:`Partition.to_files`).
    lang : {"zh", "en"}
        Language of the edit panel and of its messages.
    adjacency : bool
        Compute the cell adjacency (a tessellation of every grid, about as long
        as the partition's own tessellation).  Without it ``adjacency`` is None
        and the page cannot tell whether a grid stays one piece.
    workers : int
        Processes that tessellate the communities side by side (the result is the same).

    Returns
    -------
    dict
        JSON-able and deterministic (the same run gives the same dict)::

            {"version": 1, "run_key": str, "lang": "zh", "band": [low, high],
             "retired_grids": [code, ...], "locked_grids": [code, ...],
             "communities": {"code": [...], "name": [...]},
             "grids": {"code": [...], "community": [index], "households": [...],
                       "buildings": [...], "status": [...]},
             "buildings": {"code": [...], "id": [... or None], "grid": [index],
                           "community": [index], "households": [...]},
             "adjacency": [a0, b0, a1, b1, ...]}

        Grids sorted by code, buildings by code; ``grid`` and ``community``
        are indices into those lists; ``adjacency`` is the flat list of building
        index pairs (``a < b``, same community) whose cells share an edge
        (None when ``adjacency`` is false).

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"], "name": ["East"]}, geometry=[shapely.box(0, 0, 400, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [40] * 20}, geometry=[shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 400, 20)], crs=32651)
    >>> model = edit_model(gridgeo.partition(c, b, households="hh"))
    >>> model["band"], model["grids"]["code"], model["grids"]["households"], model["communities"]["name"]
    ([300, 500], ['001-01', '001-02'], [400, 400], ['East'])
    >>> len(model["adjacency"]) // 2  # a row of 20 buildings: 19 neighbouring pairs
    19
    """
    report = result.report or {}
    params = report.get("parameters", {})
    band = [int(v) for v in params.get("grid_size", (300, 500))]
    grids = result.grids
    buildings = result.buildings
    g_codes = _text(grids["grid_code"]) if len(grids) else []
    g_order = sorted(range(len(g_codes)), key=lambda i: g_codes[i])
    grids = grids.iloc[g_order].reset_index(drop=True)
    g_codes = [g_codes[i] for i in g_order]
    g_comm = _text(grids["community_code"]) if len(grids) else []
    b_codes = _text(buildings["building_code"]) if len(buildings) else []
    b_order = sorted(range(len(b_codes)), key=lambda i: b_codes[i])
    buildings = buildings.iloc[b_order].reset_index(drop=True)
    b_codes = [b_codes[i] for i in b_order]
    b_grid = _text(buildings["grid_code"]) if len(buildings) else []
    b_comm = _text(buildings["community_code"]) if len(buildings) else []
    names = community_names(result.communities)
    c_codes = sorted(set(names) | set(g_comm) | set(b_comm))
    c_index = {c: i for i, c in enumerate(c_codes)}
    g_index = {g: i for i, g in enumerate(g_codes)}
    missing = sorted(set(b_grid) - set(g_index))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(Problem("buildings", f"name grids that are not in the grids layer: {shown}", "give a finished run whose buildings and grids belong together"))
    id_column = params.get("building_id")
    if id_column and id_column in buildings.columns:
        objects, missing = _values_missing(buildings[id_column])
        ids = [None if m else str(v) for v, m in zip(objects, missing)]
    else:
        ids = [None] * len(b_codes)
    households = [int(v) for v in buildings["households"]] if len(buildings) else []
    g_households = np.zeros(len(g_codes), dtype=np.int64)
    g_count = np.zeros(len(g_codes), dtype=np.int64)
    b_grid_index = np.array([g_index[g] for g in b_grid], dtype=np.int64)
    np.add.at(g_households, b_grid_index, np.asarray(households, dtype=np.int64))
    np.add.at(g_count, b_grid_index, 1)
    if lang not in ("zh", "en"):
        raise InputError(Problem("lang", f"{lang!r} is not a language of the edit mode", "use zh or en"))
    pairs = _adjacency(grids, g_comm, buildings, b_grid_index, result.communities, workers) if adjacency else None
    return {
        "version": EDIT_MODEL_VERSION,
        "run_key": run_key or report_hash(None, report),
        "lang": lang,
        "band": band,
        "retired_grids": sorted(str(c) for c in report.get("retired_grid_codes", [])),
        "locked_grids": sorted(str(c) for c in report.get("locked_grids", [])),
        "communities": {"code": c_codes, "name": [names.get(c, "") for c in c_codes]},
        "grids": {
            "code": g_codes,
            "community": [c_index[c] for c in g_comm],
            "households": g_households.tolist(),
            "buildings": g_count.tolist(),
            "status": _text(grids["status"]) if "status" in grids.columns else [""] * len(g_codes),
        },
        "buildings": {
            "code": b_codes,
            "id": ids,
            "grid": b_grid_index.tolist(),
            "community": [c_index[c] for c in b_comm],
            "households": households,
        },
        "adjacency": pairs.ravel().tolist() if pairs is not None else None,
    }


def _community_pairs(task) -> np.ndarray:
    """:func:`building_adjacency` of one community, in the layer's building indices (a task for the workers)."""
    grid_geoms, members, building_geoms, index = task
    return index[building_adjacency(grid_geoms, members, building_geoms)]


def _adjacency(grids, g_comm, buildings, b_grid_index, communities, workers: int = 1) -> np.ndarray:
    """Building pairs whose cells share an edge, community by community (building indices of the sorted layer)."""
    if not len(buildings) or not len(grids):
        return np.zeros((0, 2), dtype=np.int64)
    metric = local_metric_crs(communities if len(communities) else grids)
    g_geoms = grids.geometry.to_crs(metric).to_numpy()
    b_geoms = buildings.geometry.to_crs(metric).to_numpy()
    invalid = ~shapely.is_valid(b_geoms)
    if invalid.any():
        b_geoms = b_geoms.copy()
        b_geoms[invalid] = shapely.make_valid(b_geoms[invalid])
    tasks = []
    g_comm = np.asarray(g_comm, dtype=object)
    for community in sorted(set(g_comm.tolist())):
        rows = np.flatnonzero(g_comm == community)
        index = np.flatnonzero(np.isin(b_grid_index, rows))  # the community's buildings, in layer order
        local = {int(g): np.flatnonzero(b_grid_index[index] == g) for g in rows}
        tasks.append((g_geoms[rows], [local[int(g)] for g in rows], b_geoms[index], index))
    out = map_ordered(_community_pairs, tasks, workers=workers, desc="edit model", weights=[len(t[3]) for t in tasks])
    pairs = np.concatenate([p.reshape(-1, 2) for p in out]) if out else np.zeros((0, 2), dtype=np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order]


def edit_assets() -> tuple[str, str]:
    """The edit mode's JavaScript and CSS (``gridgeo/assets/map/edit.js`` and ``edit.css``, package data).

    Examples
    --------
    >>> js, css = edit_assets()
    >>> "window.gridgeo" in js and ".gg-edit" in css
    True
    """
    folder = importlib.resources.files("gridgeo") / "assets" / "map"
    return (folder / "edit.js").read_text(encoding="utf-8"), (folder / "edit.css").read_text(encoding="utf-8")


def _script_json(value) -> str:
    """JSON that can stand inside an inline ``<script>``: no ``</script>``, no ``<!--``, no line separators."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def edit_html(model: dict) -> str:
    """The HTML to put in ``map.html`` after the map's own script: the edit mode's CSS, its model and its script.

    The model is a ``<script type="application/json" id="gg-edit-model">``
    block (``<``, ``>`` and ``&`` escaped, so a name holding ``</script>`` stays
    text), which ``edit.js`` reads; ``edit.js`` is the same text for every run,
    so a Content-Security-Policy admits it by its hash (:func:`edit_script_hash`).
    It attaches its panel to ``window.gridgeo.view`` when the map has set it,
    else installs the API only (``window.gridgeo.edit.attach(view)`` attaches
    the panel later).

    Examples
    --------
    >>> html = edit_html({"run_key": "x", "name": "</script><b>"})
    >>> "</script><b>" in html, html.count("<script")
    (False, 2)
    """
    js, css = edit_assets()
    if "</script" in js.lower() or "</style" in css.lower():
        raise ValueError("edit.js or edit.css holds a closing tag and cannot be inlined")
    return (
        f"<style>{css}</style>\n"
        f'<script type="application/json" id="gg-edit-model">{_script_json(model)}</script>\n'
        f"<script>{js}</script>\n"
    )


def edit_script_hash() -> str:
    """The CSP source admitting the inlined ``edit.js`` (``'sha256-…'``, for ``script-src``).

    Examples
    --------
    >>> edit_script_hash().startswith("'sha256-")
    True
    """
    js, _ = edit_assets()
    return "'sha256-" + base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii") + "'"
