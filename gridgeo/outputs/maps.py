"""One interactive, self-contained HTML map of a whole partition run (``map.html``).

:func:`build_map` turns a :class:`~gridgeo.result.Partition` into one HTML page
that works offline and stays smooth up to at least 100,000 buildings;
:func:`write_maps` writes it as ``OUTDIR/map.html``.

How the page is made
--------------------
The page is a fixed template (``gridgeo/assets/map/template.html``) holding
Leaflet 1.9.4 (JavaScript, CSS and control images, inlined from the installed
``django-js-lib-leaflet`` package), the page's stylesheet and program
(``map.css``, ``map.js`` in the same folder, package data) and one
``<script type="application/json">`` block with the data.  Nothing is loaded
from the network except the basemap tiles, which simply stay blank offline.

The data block is compact: each layer holds its attributes as columns (one list
per field) and its geometry once, as integer deltas of micro-degrees in one flat
list (``xy``) with the counts of parts per feature (``n``), rings per part
(``r``) and vertices per ring (``v``); polygon rings leave out their closing
vertex.  A joint unit refers to the buildings that make it (its ``members``;
``ref``/``nref``) instead of repeating their footprints.  Writing it is linear in the
number of vertices.

The program draws every layer itself on a canvas (a :class:`L.Renderer`
subclass), only what is in view, batched by colour, with vertices closer than a
pixel skipped (the geometry is simplified per zoom level as it is drawn):
communities and grids at every zoom (below zoom 14 an in-band grid smaller than
48 pixels shows by its fill alone, without an outline), buildings from zoom 15,
joint units (the outlines of their buildings) from zoom 17 and their codes from
zoom 18.  Grid labels (code and households) are drawn where they fit inside
their grid without overlapping another label.  Hover and clicks are answered
from a uniform grid index (point in polygon).  Overlays other than the grids,
their labels, the communities, buildings, units and the flags (grids that need
attention, buildings outside every community, grids changed by an update) are
off by default.

Safety
------
Every value taken from the data is HTML-escaped in Python before it goes into
the data block, and the JSON text has ``<``, ``>`` and ``&`` escaped as
``\\u003c``… so nothing in the data can close the block.  A
Content-Security-Policy admits only the page's own scripts (by hash), so an
inline event handler that slipped through would not run either.

JavaScript contract
-------------------
``window.gridgeo.ready``
    A Promise resolving once the data is decoded and the first view drawn.
``window.gridgeo.stats()``
    ``{grids, buildings, units}``: the features loaded.
``window.gridgeo.find(text)``
    The matching codes (grid codes, building codes for a building code or id,
    community codes for a community code or name), exact matches first; the
    map zooms to the first.
``window.gridgeo.drawn()``
    What the last draw showed (counts per layer, labels, zoom): for tests and
    measurements.
``window.gridgeo.view``
    Hooks for the edit mode (``gridgeo/assets/map/edit.js``), set up before that
    script runs: ``map`` (the Leaflet map), ``onBuildingClick(fn)``
    (``fn(buildingCode, event)``, ``event`` Leaflet's mouse event) and
    ``onGridClick(fn)`` (``fn(gridCode, event)``), each returning a function that
    removes the handler (a handler returning ``false`` keeps the grid's popup
    closed); ``setBuildingGrid(buildingCode, gridCode)`` (redraws the building in
    that grid's colour, in neutral grey for a grid code the plan does not have
    yet; ``false`` for an unknown building),
    ``highlightBuildings(codes)``, ``clearHighlight()``,
    ``buildingsInPolygon(latlngs)`` (the codes of the buildings whose centroid
    lies inside ``[[lat, lng], …]``, for a lasso) and ``control(position)`` (a
    DOM element inside a new Leaflet control, for a panel).
``window.gridgeo.editModel``
    The ``edit_model`` given to :func:`build_map` (a JSON-ready dict), else
    ``undefined``; :func:`write_maps` always gives one.  With a model, the
    page inlines ``gridgeo/assets/map/edit.js`` (and ``edit.css``) after its
    program, admitted by its hash: ``edit.js`` finds ``window.gridgeo.view``
    and adds the Edit toggle and panel (``window.gridgeo.edit``).  While the
    edit mode is on, clicks on buildings and grids go to it only: no popup
    opens.

Basemaps: ``"osm"`` (OpenStreetMap), ``"tianditu"`` (天地图, needs a key) and
``"gaode"`` (高德/AMap, whose tiles are in GCJ-02: all geometry is shifted with
:func:`gridgeo.chinacoords.to_gcj02` so that it lines up).

This module only reads a partition result; it never runs the algorithms.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.metadata
import importlib.resources
import json
import logging
import math
import re
import warnings
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import timings
from ..errors import InputError, Problem
from ..inputs.chinacoords import to_gcj02
from ..inputs.crs import local_metric_crs
from ..labels import STATUS_LABELS, STATUS_MEANINGS
from ..result import Partition
from .files import write_atomic
from .styles import PALETTE, STATUS_STYLE, darker, fill_colours, grid_colours

__all__ = ["build_map", "write_maps", "BASEMAPS", "PALETTE"]

logger = logging.getLogger(__name__)

BASEMAPS = ("osm", "tianditu", "gaode")

SIMPLIFY_M = 0.5
DECIMALS = 6
_SCALE = 10**DECIMALS

LABELS = {
    "zh": {
        "html_lang": "zh-CN",
        "locale": "zh-CN",
        "title": "gridgeo 网格图",
        "communities": "社区",
        "grids": "网格",
        "buildings": "建筑",
        "units": "联户",
        "unassigned": "社区外建筑",
        "barriers": "分隔线（道路、河流等）",
        "grid_code": "网格编码",
        "community": "社区",
        "households": "户数",
        "estimated": "估算",
        "n_buildings": "建筑数",
        "n_units": "联户数",
        "area_m2": "面积（m²）",
        "polsby_popper": "紧凑度（Polsby-Popper）",
        "status": "状态",
        "reason": "说明",
        "barrier_crossings": "跨越分隔线",
        "building_code": "建筑编码",
        "building_id": "建筑标识",
        "unit_code": "联户编码",
        "in_band": "户数在范围内",
        "yes": "是",
        "no": "否",
        "search": "查找网格、建筑、社区（编码或名称）",
        "search_button": "查找",
        "not_found": "未找到",
        "legend": "网格状态（边框）",
        "fill_note": "填充色只用于区分相邻网格",
        "basemap": "底图",
        "data_by": "网格划分：gridgeo",
        "grid_labels": "网格标注（编码、户数）",
        "flagged": "需关注的网格",
        "flags": "需关注的网格（粗框）",
        "oversize": "含超大建筑的网格（粗框）",
        "zoom_hint": "放大后显示建筑和联户",
        "more": "另有 {n} 个",
        "unit_codes": "联户编码",
        "none_flagged": "没有需关注的网格",
        "helpers_n": "网格队伍（1+1+1+N）",
        "tour_m": "走访全部建筑路线（米）",
        "workload_index": "工作量指数（社区均值为1）",
        "workload_high": "明显偏高",
        "high_workload": "工作量明显偏高的网格",
        "centre": "最近服务中心",
        "walk_min": "步行时间（分钟）",
        "walk_straight": "直线距离",
        "beyond_walk": "超出步行服务范围的网格",
        "service_centres": "服务中心（党群服务中心等）",
        "compounds": "小区",
        "standard_code": "标准编码",
        "facility_type": "专属网格类型",
        "change": "本次更新",
        "change_added": "新增网格",
        "change_reshaped": "边界调整",
        "change_modified": "建筑变化",
        "changed_grids": "本次更新变化的网格",
        "compound_name": "小区",
        "compound_grids": "所在网格",
        "compound_split": "拆分原因",
        "centre_id": "编号",
        "centre_name": "名称",
        "grids_served": "最近的网格数",
        "minutes": "分钟",
    },
    "en": {
        "html_lang": "en",
        "locale": "en",
        "title": "gridgeo grid map",
        "communities": "Communities",
        "grids": "Grids",
        "buildings": "Buildings",
        "units": "Joint units",
        "unassigned": "Buildings outside communities",
        "barriers": "Barriers (roads, rivers, …)",
        "grid_code": "Grid code",
        "community": "Community",
        "households": "Households",
        "estimated": "estimated",
        "n_buildings": "Buildings",
        "n_units": "Joint units",
        "area_m2": "Area (m²)",
        "polsby_popper": "Compactness (Polsby-Popper)",
        "status": "Status",
        "reason": "Reason",
        "barrier_crossings": "Barrier crossings",
        "building_code": "Building code",
        "building_id": "Building id",
        "unit_code": "Unit code",
        "in_band": "In band",
        "yes": "yes",
        "no": "no",
        "search": "Find a grid, building or community (code or name)",
        "search_button": "Find",
        "not_found": "Nothing found",
        "legend": "Grid status (outline)",
        "fill_note": "Fill colours only tell neighbouring grids apart",
        "basemap": "Basemap",
        "data_by": "Grids: gridgeo",
        "grid_labels": "Grid labels (code, households)",
        "flagged": "Flagged grids",
        "flags": "Grids to look at (thick outline)",
        "oversize": "Grids with an oversize building (thick outline)",
        "zoom_hint": "Zoom in for buildings and joint units",
        "more": "{n} more",
        "unit_codes": "Joint units",
        "none_flagged": "No flagged grids",
        "helpers_n": "Grid team (1+1+1+N)",
        "tour_m": "Walking tour of all buildings (m)",
        "workload_index": "Workload index (community mean 1)",
        "workload_high": "far above the mean",
        "high_workload": "Grids with a workload far above the mean",
        "centre": "Nearest service centre",
        "walk_min": "Walk (minutes)",
        "walk_straight": "straight line",
        "beyond_walk": "Grids beyond the walking limit",
        "service_centres": "Service centres",
        "compounds": "Compounds",
        "standard_code": "Standard code",
        "facility_type": "Dedicated grid for",
        "change": "This update",
        "change_added": "new grid",
        "change_reshaped": "boundary changed",
        "change_modified": "buildings changed",
        "changed_grids": "Grids changed by this update",
        "compound_name": "Compound",
        "compound_grids": "Grids",
        "compound_split": "Split because",
        "centre_id": "Id",
        "centre_name": "Name",
        "grids_served": "Grids nearest to it",
        "minutes": "min",
    },
}

for _lang, _words in LABELS.items():
    _words["status_words"] = {key: words[_lang] for key, words in STATUS_LABELS.items()}
    _words["status_meaning"] = {key: words[_lang] for key, words in STATUS_MEANINGS.items()}


_OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
_TIANDITU_ATTR = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
_GAODE_ATTR = '&copy; <a href="https://www.amap.com/">高德地图 AutoNavi</a> (GCJ-02)'

_NAME_COLUMNS = ("name", "NAME", "Name", "名称", "社区名称", "community_name")

_ASSETS = ("assets", "map")


# --------------------------------------------------------------------------- assets


@lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JavaScript and CSS (images as data: URIs) from ``django-js-lib-leaflet``."""
    try:
        root = importlib.resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
        js = (root / "leaflet.js").read_text(encoding="utf-8")
        css = (root / "leaflet.css").read_text(encoding="utf-8")
        images = {name: (root / "images" / name).read_bytes() for name in ("layers.png", "layers-2x.png", "marker-icon.png")}
    except (ModuleNotFoundError, FileNotFoundError) as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "gridgeo.maps needs Leaflet 1.9.4 from the package django-js-lib-leaflet: pip install django-js-lib-leaflet"
        ) from exc
    version = importlib.metadata.version("django-js-lib-leaflet")
    if not version.startswith("1.9.4"):
        logger.warning("django-js-lib-leaflet %s installed; the maps are tested with Leaflet 1.9.4", version)
    js = re.sub(r"^//# sourceMappingURL=.*$", "", js, flags=re.M)
    for name, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        css = css.replace(f"url(images/{name})", f"url({uri})")
    css = re.sub(r"/\*# sourceMappingURL=.*?\*/", "", css)
    _check_inline("leaflet.js", js)
    return js, css


def _asset(name: str) -> str | None:
    """The text of ``gridgeo/assets/map/<name>`` (package data), or None when the package has no such file."""
    path = importlib.resources.files("gridgeo").joinpath(*_ASSETS, name)
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _page_assets() -> tuple[str, str, str]:
    """The page's template, stylesheet and program (package data in ``gridgeo/assets/map/``)."""
    texts = []
    for name in ("template.html", "map.css", "map.js"):
        text = _asset(name)
        if text is None:  # pragma: no cover - a broken install
            raise ImportError(f"gridgeo is installed without its package data: gridgeo/assets/map/{name} is missing; reinstall gridgeo")
        texts.append(text)
    _check_inline("map.js", texts[2])
    return texts[0], texts[1], texts[2]


def _edit_script() -> str | None:
    """``gridgeo/assets/map/edit.js`` when the package has it (the edit mode), else None."""
    text = _asset("edit.js")
    if text is not None:
        _check_inline("edit.js", text)
    return text


def _check_inline(name: str, text: str) -> None:
    if re.search(r"</script|<!--", text, re.I):  # pragma: no cover - none of the shipped scripts has either
        raise RuntimeError(f"{name} cannot be inlined into the map: it contains '</script' or '<!--'")


# --------------------------------------------------------------------------- small helpers


def _esc(value) -> str | None:
    """HTML-escape one value from the data; missing values become ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        return html.escape(value, quote=True)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return html.escape(str(value), quote=True)


def _esc_all(values) -> list:
    """:func:`_esc` of every value; the strings escaped in one pass over their joined text.

    Examples
    --------
    >>> _esc_all(["a<b", None, 3, float("nan"), "x&y"])
    ['a&lt;b', None, '3', None, 'x&amp;y']
    """
    values = list(values)
    strings = [v for v in values if isinstance(v, str)]
    joined = "\x00".join(strings)
    if not strings or len(strings) != len(values) or joined.count("\x00") != len(strings) - 1:
        return [html.escape(v, quote=True) if isinstance(v, str) else _esc(v) for v in values]
    return html.escape(joined, quote=True).split("\x00")


def _num(value, digits: int | None = None):
    """A finite number as int/float (rounded), else ``None``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    if digits is None:
        return int(round(v))
    return round(v, digits)


def _nums(values, digits: int | None = None) -> list:
    """:func:`_num` of every value, vectorised."""
    try:
        a = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float)
    except (TypeError, ValueError):  # pragma: no cover - odd objects
        return [_num(v, digits) for v in values]
    finite = np.isfinite(a)
    if digits is None:
        out = np.rint(np.where(finite, a, 0)).astype(np.int64).tolist()
    else:
        out = np.round(np.where(finite, a, 0), digits).tolist()
    return [v if ok else None for v, ok in zip(out, finite.tolist())]


def _flag(value) -> bool | None:
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return bool(value)


def _json_for_html(obj) -> str:
    """JSON text that is safe inside a ``<script>`` element (no ``</``, ``<!--``, ``]]>``).

    Examples
    --------
    >>> _json_for_html({"a": "</script>&"})
    '{"a":"\\\\u003c/script\\\\u003e\\\\u0026"}'
    """
    return _safe_for_html(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False))


def _safe_for_html(text: str) -> str:
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _sanitise_filename(code) -> str:
    """A file name from a community code only: no separators, no '..', nothing odd (the print maps use it).

    Examples
    --------
    >>> _sanitise_filename("../../etc/passwd")
    'etc_passwd'
    >>> _sanitise_filename("003")
    '003'
    >>> _sanitise_filename("..")
    'community'
    """
    name = re.sub(r"[^0-9A-Za-z_.-]+", "_", str(code))
    name = re.sub(r"\.{2,}", "_", name)
    name = re.sub(r"_+", "_", name).strip("._-")
    return name[:100] or "community"


def _columns(rows: list[dict]) -> dict[str, list]:
    """Rows of properties as columns (one list per key); keys that are missing in every row are left out."""
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    out = {}
    for key in keys:
        values = [row.get(key) for row in rows]
        if any(v is not None for v in values):
            out[key] = values
    return out


# --------------------------------------------------------------------------- geometry


def _display_geometry(geoseries: gpd.GeoSeries, metric, gcj: bool, known: dict | None = None) -> np.ndarray:
    """Simplify in metres, convert to EPSG:4326 (and GCJ-02), round to 6 decimals.

    Every step works geometry by geometry, so equal geometries give equal
    results: each distinct geometry is converted once and its result shared.
    ``known`` carries the results over calls, keyed by CRS and WKB.
    """
    if len(geoseries) == 0:
        return np.asarray([], dtype=object)
    known = {} if known is None else known
    crs = str(geoseries.crs)
    geoms = np.asarray(geoseries.array)
    keys = [None if k is None else (crs, k) for k in shapely.to_wkb(geoms)]
    first: dict = {}
    for i, key in enumerate(keys):
        if key is not None and key not in known and key not in first:
            first[key] = i
    if first:
        rows = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        g = gpd.GeoSeries(geoms[rows], crs=geoseries.crs).to_crs(metric)
        g = gpd.GeoSeries(_simplify(np.asarray(g.array)), crs=metric).to_crs(4326)
        if gcj:
            g = to_gcj02(g)
        done = shapely.transform(np.asarray(g.array), lambda c: np.round(c, DECIMALS))
        known.update(zip(first, done))
    out = np.empty(len(geoms), dtype=object)
    out[:] = [None if key is None else known[key] for key in keys]
    return out


def _simplify(geoms: np.ndarray) -> np.ndarray:
    """Douglas-Peucker at :data:`SIMPLIFY_M` metres; where that empties a geometry, the topology-preserving simplification.

    The plain simplification is several times faster and gives the same
    result on nearly every footprint and grid; the page draws with the
    even-odd rule, so a ring that touches itself after it is still drawn right.
    """
    out = shapely.simplify(geoms, SIMPLIFY_M, preserve_topology=False)
    bad = (shapely.is_missing(out) | shapely.is_empty(out)) & ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if bad.any():
        out[bad] = shapely.simplify(geoms[bad], SIMPLIFY_M, preserve_topology=True)
    return out


def _origin(*arrays: np.ndarray) -> tuple[int, int]:
    """The lower left corner of all the display geometries, in micro-degrees."""
    boxes = []
    for geoms in arrays:
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms):
            b = shapely.bounds(geoms)
            b = b[np.isfinite(b).all(axis=1)]
            if len(b):
                boxes.append(b[:, :2].min(axis=0))
    if not boxes:
        return 0, 0
    lo = np.vstack(boxes).min(axis=0)
    return int(math.floor(lo[0] * _SCALE)), int(math.floor(lo[1] * _SCALE))


def _encode(geoms: np.ndarray, origin: tuple[int, int]) -> dict:
    """The geometries as flat integer lists (see the module docstring), in one vectorised pass.

    ``n[i]`` parts of feature ``i`` (0 when missing or empty), ``r[j]`` rings of
    part ``j`` (a line or a point is one ring), ``v[k]`` vertices of ring ``k``
    (a polygon ring without its closing vertex), ``xy`` the vertices as
    micro-degree deltas from the previous vertex (the first from ``origin``).

    Examples
    --------
    >>> import shapely
    >>> g = np.array([shapely.box(0, 0, 1e-6, 2e-6), None, shapely.Point(3e-6, 3e-6)], dtype=object)
    >>> _encode(g, (0, 0))
    {'n': [1, 0, 1], 'r': [1, 1], 'v': [4, 1], 'xy': [1, 0, 0, 2, -1, 0, 0, -2, 3, 3]}
    """
    geoms = np.array(geoms, dtype=object)
    n = len(geoms)
    if n == 0:
        return {"n": [], "r": [], "v": [], "xy": []}
    every, owner = shapely.get_coordinates(geoms, return_index=True)
    geoms[np.unique(owner[~np.isfinite(every).all(axis=1)])] = None  # a geometry with a non-finite coordinate draws nothing
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    keep = ~shapely.is_empty(parts) & (shapely.get_type_id(parts) >= 0)
    parts, part_of = parts[keep], part_of[keep]
    part_type = shapely.get_type_id(parts)
    polygon = part_type == 3
    rings, ring_of = shapely.get_rings(parts[polygon], return_index=True)
    leaf_part = np.concatenate([np.flatnonzero(polygon)[ring_of], np.flatnonzero(~polygon)])
    leaves = np.concatenate([rings, parts[~polygon]])
    order = np.argsort(leaf_part, kind="stable")
    leaves, leaf_part = leaves[order], leaf_part[order]
    coords, coord_leaf = shapely.get_coordinates(leaves, return_index=True)
    # polygon rings without their closing vertex
    closed = shapely.get_type_id(leaves) == 2
    last = np.searchsorted(coord_leaf, np.arange(len(leaves)), side="right") - 1
    drop = np.zeros(len(coords), dtype=bool)
    has = np.bincount(coord_leaf, minlength=len(leaves)) > 1
    drop[last[closed & has]] = True
    coords, coord_leaf = coords[~drop], coord_leaf[~drop]
    ints = np.rint(coords * _SCALE).astype(np.int64) - np.asarray(origin, dtype=np.int64)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return {
        "n": np.bincount(part_of, minlength=n).tolist(),
        "r": np.bincount(leaf_part, minlength=len(parts)).tolist(),
        "v": np.bincount(coord_leaf, minlength=len(leaves)).tolist(),
        "xy": deltas.ravel().tolist(),
    }


def _label_points(geoms: np.ndarray, origin: tuple[int, int]) -> list[int]:
    """A point inside each geometry (its centroid when inside, else a representative point), flat micro-degree x, y from ``origin``."""
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return []
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    safe = np.where(empty, shapely.Point(0, 0), geoms)
    centre = shapely.centroid(safe)
    inside = shapely.contains_properly(safe, centre)
    point = np.where(inside, centre, shapely.point_on_surface(safe))
    xy = np.rint(shapely.get_coordinates(point) * _SCALE).astype(np.int64) - np.asarray(origin, dtype=np.int64)
    return xy.ravel().tolist()


def _bounds(*arrays: np.ndarray) -> list[list[float]] | None:
    boxes = []
    for geoms in arrays:
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms):
            b = shapely.bounds(geoms)
            b = b[np.isfinite(b).all(axis=1)]
            if len(b):
                boxes.append(b)
    if not boxes:
        return None
    b = np.vstack(boxes)
    return [[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]]


def _unit_refs(members: list, building_codes: list) -> tuple[list[int], list[int], np.ndarray]:
    """Which buildings make each joint unit, from its ``members`` (``"code:1-5;code:6-11"``).

    Returns the number of buildings per unit, the flat building indices (in the
    order of the members), and a mask of the units that keep their own
    geometry (no ``members``, or a member that is not a building of the result).

    Examples
    --------
    >>> _unit_refs(["B1:1-5;B2:1-6", "B2:7-12", None, "B9:1-3"], ["B1", "B2"])
    ([2, 1, 0, 0], [0, 1, 1], array([False, False,  True,  True]))
    """
    n = len(members)
    texts = [t if isinstance(t, str) else "" for t in members]
    # the building codes of every unit, in C: the ranges cut off, one line per unit, members split on ';'
    lines = re.sub(r":[^;\n]*", "", "\n".join(texts)).split("\n") if n else []
    counts = np.fromiter((line.count(";") + 1 if line else 0 for line in lines), dtype=np.int64, count=n)
    flat = ";".join(line for line in lines if line).split(";") if counts.sum() else []
    codes = pd.Index([str(c) for c in building_codes])
    if not codes.is_unique:
        codes = codes.where(~codes.duplicated(), None)  # the first building of a code
    found = codes.get_indexer(flat) if flat else np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(n), counts)
    own = counts == 0
    own[owner[found < 0]] = True
    keep = ~own[owner]
    pairs = pd.DataFrame({"u": owner[keep], "b": found[keep]})
    pairs = pairs[~pairs.duplicated()]  # a building named twice in a unit counts once
    return np.bincount(pairs["u"].to_numpy(), minlength=n).tolist(), pairs["b"].tolist(), own


# --------------------------------------------------------------------------- options


def _check_lang(lang: str) -> dict:
    if lang not in LABELS:
        raise InputError(Problem("map", f"unknown language {lang!r}", f"use one of {', '.join(LABELS)}"))
    return LABELS[lang]


def _basemap_config(basemap: str, tianditu_key: str | None, lang: str) -> dict:
    if basemap == "osm":
        return {
            "name": "OpenStreetMap",
            "layers": [
                {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "subdomains": "abc", "maxNativeZoom": 19, "attribution": _OSM_ATTR}
            ],
        }
    if basemap == "tianditu":
        if not tianditu_key or not str(tianditu_key).strip():
            raise InputError(
                Problem(
                    "map",
                    "the Tianditu (天地图) basemap needs a key, and no tianditu_key was given",
                    "get a free browser key at https://console.tianditu.gov.cn/ and pass tianditu_key=..., or use basemap='osm'",
                )
            )
        key = quote(str(tianditu_key).strip(), safe="")

        def wmts(layer: str) -> str:
            return (
                f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
                "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=" + key
            )

        notes = "cva" if lang == "zh" else "eva"  # Chinese or English annotation
        return {
            "name": "天地图 Tianditu",
            "layers": [
                {"url": wmts("vec"), "subdomains": "01234567", "maxNativeZoom": 18, "attribution": _TIANDITU_ATTR},
                {"url": wmts(notes), "subdomains": "01234567", "maxNativeZoom": 18, "attribution": ""},
            ],
        }
    if basemap == "gaode":
        amap_lang = "zh_cn" if lang == "zh" else "en"
        return {
            "name": "高德地图 AMap",
            "layers": [
                {
                    "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=" + amap_lang + "&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
                    "subdomains": "1234",
                    "maxNativeZoom": 18,
                    "attribution": _GAODE_ATTR,
                }
            ],
        }
    raise InputError(Problem("map", f"unknown basemap {basemap!r}", f"use one of {', '.join(BASEMAPS)}"))


# --------------------------------------------------------------------------- layers


def _community_names(communities: gpd.GeoDataFrame) -> dict[str, str]:
    """community_code → 'id name' (the id, and a name column when there is one)."""
    if communities is None or "community_code" not in communities:
        return {}
    name_col = next((c for c in _NAME_COLUMNS if c in communities.columns), None)
    out = {}
    columns = [c for c in ("community_id", name_col) if c and c in communities]
    for code, *values in zip(communities["community_code"], *(communities[c] for c in columns)):
        out[str(code)] = " ".join(str(v) for v in values if not pd.isna(v))
    return out


def _column(frame: pd.DataFrame | None, name: str | None) -> list:
    if frame is None:
        return []
    return frame[name].tolist() if name and name in frame.columns else [None] * len(frame)


def _centres_layer(centres, grids: gpd.GeoDataFrame, metric, gcj: bool) -> tuple[dict, np.ndarray] | None:
    """Service centres as a point layer: id, name and how many grids have it as their nearest."""
    if centres is None or not len(centres):
        return None
    from ..governance.coverage import prepare_centres

    points = prepare_centres(centres)
    served = grids["centre_id"].astype(str).value_counts() if "centre_id" in grids else pd.Series(dtype=int)
    props = {
        "id": _esc_all(points["centre_id"]),
        "name": [_esc(n) or None for n in points["centre_name"]],
        "n": [int(served.get(str(i), 0)) for i in points["centre_id"]] if "centre_id" in grids else [None] * len(points),
    }
    return props, _display_geometry(points.geometry, metric, gcj)


def _compounds_layer(result: Partition, metric, gcj: bool, lang: str) -> tuple[dict, np.ndarray] | None:
    """Compound outlines (小区): name, households, grids, and why a split one was split."""
    compounds = getattr(result, "compounds", None)
    if compounds is None or not len(compounds):
        return None
    if "community_id" in compounds.columns and result.grids is not None and "community_id" in result.grids.columns:
        compounds = compounds[compounds["community_id"].astype(str).isin(set(result.grids["community_id"].astype(str)))]
        if not len(compounds):
            return None
    reason = "reason_zh" if lang == "zh" and "reason_zh" in compounds.columns else "reason"
    props = {
        "name": _esc_all(_column(compounds, "compound")),
        "hh": _nums(_column(compounds, "households")),
        "grids": _esc_all(_column(compounds, "grids")),
        "split": [bool(s) for s in _column(compounds, "split")],
        "reason": [_esc(r) or None for r in _column(compounds, reason)],
    }
    return props, _display_geometry(compounds.geometry, metric, gcj)


def _grid_props(grids: gpd.GeoDataFrame, colour: np.ndarray, names: dict, lang: str, changes: dict) -> dict:
    """The grids' columns: figures for the popup, status, reason, colour index and the optional service columns."""
    rows = []
    reason_col = "reason_zh" if lang == "zh" and "reason_zh" in grids else "reason"
    for code, ccode, cid, status, reason, est, k in zip(
        _column(grids, "grid_code"), _column(grids, "community_code"), _column(grids, "community_id"),
        _column(grids, "status"), _column(grids, reason_col), _column(grids, "households_estimated"), colour.tolist(),
    ):  # fmt: skip
        community = names.get(str(ccode)) or ("" if cid is None or pd.isna(cid) else str(cid))
        status_key = None if status is None or pd.isna(status) else str(status)
        ccode_text = str(ccode) if ccode is not None and not pd.isna(ccode) else ""
        rows.append(
            {
                "code": _esc(code),
                "community": _esc(" ".join(p for p in (ccode_text, community) if p)),
                "cc": _esc(ccode_text) if ccode_text else None,
                "status": status_key if status_key in STATUS_STYLE else "_other",
                "status_text": _esc(status_key) if status_key not in STATUS_STYLE else None,
                "reason": _esc(reason) or None,
                "est": True if _flag(est) else None,
                "k": int(k),
            }
        )
    props = _columns(rows)
    for key in ("code", "status", "k"):  # the page reads these even when there is no grid
        props.setdefault(key, [])
    for key, column, digits in (
        ("hh", "households", None), ("nb", "n_buildings", None), ("nu", "n_units", None), ("area", "area_m2", None),
        ("pp", "polsby_popper", 3), ("bx", "barrier_crossings", None), ("helpers", "helpers_n", None),
        ("tour", "tour_m", None), ("wi", "workload_index", 2), ("walk", "walk_min", 1),
    ):  # fmt: skip
        if column in grids:
            props[key] = _nums(grids[column], digits)
    for key, column in (("wf", "workload_flag"), ("cf", "coverage_flag")):
        if column in grids:
            props[key] = [_flag(v) for v in grids[column]]
    if "walk_min" in grids:
        props["centre"] = [_esc(c) or None for c in _column(grids, "centre_name")]
        props["straight"] = [r == "straight" for r in _column(grids, "walk_route")]
    for key, column in (("std", "standard_code"), ("fac", "facility_type")):
        if column in grids:
            values = [_esc(v) or None for v in grids[column]]
            if any(values):
                props[key] = [v if v else None for v in values]
    change_of = {}
    for key in ("grids_modified", "grids_reshaped", "grids_added"):
        for code in changes.get(key, []) or []:
            change_of[str(code)] = key.removeprefix("grids_")
    if change_of:
        props["chg"] = [change_of.get(str(c)) for c in _column(grids, "grid_code")]
    return props


def _map_data(result: Partition, *, lang: str, basemap: str, tianditu_key, barriers, title, data_attribution, service_centres=None, edit_model=None) -> dict:
    labels = _check_lang(lang)
    base = _basemap_config(basemap, tianditu_key, lang)
    gcj = basemap == "gaode"
    grids, buildings, units, communities, unassigned = (
        result.grids, result.buildings, result.units, result.communities, result.unassigned,
    )  # fmt: skip
    reference = next((f for f in (grids, communities, buildings) if f is not None and len(f)), None)
    if reference is None:
        raise InputError(Problem("map", "the result holds no communities, grids or buildings", "run gridgeo partition first"))
    for label, frame in (("grids", grids), ("communities", communities), ("buildings", buildings), ("units", units)):
        if frame is not None and len(frame) and frame.crs is None:
            raise InputError(Problem(f"result.{label}", "has no CRS", "set the CRS of the result's layers"))
    metric = local_metric_crs(reference)
    names = _community_names(communities)

    # grids: colours that differ between neighbours (gridgeo.styles), figures, status
    colour = grid_colours(grids.to_crs(metric)) if len(grids) else np.zeros(0, dtype=int)
    palette = fill_colours(int(colour.max()) + 1 if len(colour) else 0)
    grid_props = _grid_props(grids, colour, names, lang, getattr(result, "changes", None) or {})
    grid_geoms = _display_geometry(grids.geometry, metric, gcj)
    grid_index = {str(c): i for i, c in enumerate(_column(grids, "grid_code"))}

    # buildings: code, id, grid (index into the grids), households
    id_col = (result.report or {}).get("parameters", {}).get("building_id")
    id_col = id_col if isinstance(id_col, str) and id_col in buildings.columns and id_col != "building_code" else None
    b_props = {
        "code": _esc_all(_column(buildings, "building_code")),
        "g": [grid_index.get(str(g), -1) for g in _column(buildings, "grid_code")],
        "hh": _nums(_column(buildings, "households")),
    }
    if id_col:
        b_props["id"] = _esc_all(buildings[id_col])
    if "households_estimated" in buildings and buildings["households_estimated"].fillna(False).astype(bool).any():
        b_props["est"] = [1 if _flag(v) else 0 for v in buildings["households_estimated"]]
    known: dict = {}
    b_geoms = _display_geometry(buildings.geometry, metric, gcj, known)

    # joint units: their buildings by reference (members), own geometry only without members
    if units is not None and len(units):
        nref, refs, own = _unit_refs(_column(units, "members"), _column(buildings, "building_code"))
        u_geoms = np.full(len(units), None, dtype=object)
        if own.any():
            u_geoms[own] = _display_geometry(units.geometry[own], metric, gcj, known)
        u_props = {
            "code": _esc_all(_column(units, "unit_code")),
            "hh": _nums(_column(units, "households")),
            "nb": _nums(_column(units, "n_buildings")),
        }
        if "in_band" in units:
            u_props["ib"] = [0 if _flag(v) is False else 1 for v in units["in_band"]]
    else:
        nref, refs, u_geoms, u_props = [], [], np.asarray([], dtype=object), {"code": []}

    # communities
    c_codes = _column(communities, "community_code")
    c_props = {"code": _esc_all(c_codes), "name": [_esc(names.get(str(c), "")) for c in c_codes]}
    name_col = next((c for c in _NAME_COLUMNS if communities is not None and c in communities.columns), None)
    for key, column in (("id", "community_id"), ("nm", name_col)):  # searched on their own too
        if column and communities is not None and column in communities:
            c_props[key] = [_esc(v) for v in communities[column]]
    c_geoms = _display_geometry(communities.geometry, metric, gcj) if communities is not None and len(communities) else np.asarray([], dtype=object)

    # buildings outside every community
    x_layer = None
    if unassigned is not None and len(unassigned) and unassigned.crs is not None:
        x_ids = _column(unassigned, id_col) if id_col else [None] * len(unassigned)
        x_layer = ({"id": _esc_all(x_ids), "reason": _esc_all(_column(unassigned, "reason"))}, _display_geometry(unassigned.geometry, metric, gcj))

    # barriers, clipped to the data (plus 200 m)
    barrier_layer = None
    if barriers is not None and len(barriers):
        if barriers.crs is None:
            raise InputError(Problem("barriers", "has no CRS", "set the barrier layer's CRS"))
        frames = [f for f in (communities, grids, buildings) if f is not None and len(f)]
        mins = np.min([f.to_crs(metric).total_bounds[:2] for f in frames], axis=0)
        maxs = np.max([f.to_crs(metric).total_bounds[2:] for f in frames], axis=0)
        extent = shapely.box(*mins, *maxs).buffer(200.0)
        clipped = barriers.to_crs(metric).clip(extent)
        clipped = clipped[~clipped.geometry.is_empty & clipped.geometry.notna()]
        barrier_layer = ({}, _display_geometry(clipped.geometry, metric, gcj))

    centres = _centres_layer(service_centres, grids, metric, gcj)
    compounds = _compounds_layer(result, metric, gcj, lang)

    extra = [layer[1] for layer in (x_layer, barrier_layer, centres, compounds) if layer is not None]
    origin = _origin(grid_geoms, c_geoms, b_geoms, *extra)

    def layer(props: dict, geoms: np.ndarray, kind: str, **more) -> dict:
        return {"kind": kind, "p": props, "geom": _encode(geoms, origin), **more}

    layers = {
        "communities": layer(c_props, c_geoms, "polygon", lp=_label_points(c_geoms, origin)),
        "grids": layer(grid_props, grid_geoms, "polygon", lp=_label_points(grid_geoms, origin)),
        "buildings": layer(b_props, b_geoms, "polygon"),
        "units": layer(u_props, u_geoms, "polygon", nref=nref, ref=refs),
        "unassigned": layer(*x_layer, "polygon") if x_layer else None,
        "barriers": layer(*barrier_layer, "line") if barrier_layer else None,
        "centres": layer(*centres, "point") if centres else None,
        "compounds": layer(*compounds, "polygon") if compounds else None,
    }
    attribution = html.escape(labels["data_by"])
    if data_attribution:
        attribution += " | " + html.escape(str(data_attribution))
    text = {k: html.escape(v) for k, v in labels.items() if isinstance(v, str)}
    text["status_words"] = {k: html.escape(v) for k, v in labels["status_words"].items()}
    text["status_meaning"] = {k: html.escape(v) for k, v in labels["status_meaning"].items()}
    data = {
        "title": html.escape(title if title is not None else labels["title"]),
        "locale": labels["locale"],
        "labels": text,
        "palette": palette,
        "buildingPalette": [darker(c) for c in palette],
        "statusStyle": STATUS_STYLE,
        "basemap": base,
        "dataAttribution": attribution,
        "origin": list(origin),
        "scale": _SCALE,
        "layers": layers,
        "bounds": _bounds(grid_geoms, c_geoms),
        "walkLimit": _num(((result.report or {}).get("coverage") or {}).get("limit_min"), 1),
    }
    if edit_model is not None:
        data["edit"] = edit_model
    return data


# --------------------------------------------------------------------------- page


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _page(data: dict, lang: str) -> str:
    leaflet_js, leaflet_css = _leaflet_assets()
    template, css, program = _page_assets()
    edit = _edit_script() if "edit" in data else None
    edit_css = (_asset("edit.css") or "") if edit is not None else ""
    scripts = [leaflet_js, program] + ([edit] if edit is not None else [])
    csp = (
        "default-src 'none'; "
        f"script-src {' '.join(_sha256(s) for s in scripts)}; "
        "style-src 'unsafe-inline'; img-src https: data:; font-src data:; connect-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    parts = {
        "LANG": LABELS[lang]["html_lang"],
        "CSP": csp,
        "TITLE": data["title"],
        "LEAFLET_CSS": leaflet_css,
        "MAP_CSS": css + ("\n" + edit_css if edit_css else ""),
        "LEAFLET_JS": leaflet_js,
        "DATA": _json_for_html(data),
        "MAP_JS": program,
        "EDIT_JS": f"<script>{edit}</script>\n" if edit is not None else "",
    }
    # one pass over the template: a value is never searched for another placeholder
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: parts[m.group(1)], template)


# --------------------------------------------------------------------------- public API


def build_map(
    result: Partition,
    *,
    lang: str = "zh",
    basemap: str = "osm",
    tianditu_key: str | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    data_attribution: str | None = None,
    service_centres: gpd.GeoDataFrame | None = None,
    edit_model: dict | None = None,
) -> str:
    """Build one self-contained, offline-capable HTML page showing a whole partition.

    Parameters
    ----------
    result : Partition
        A result of :func:`gridgeo.partition` or :func:`gridgeo.read_outputs`
        (any CRS; it is not modified).
    lang : {"zh", "en"}
        Language of every label.
    basemap : {"osm", "tianditu", "gaode"}
        Tile basemap.  ``"gaode"`` tiles are in GCJ-02, so all geometry is shifted
        to GCJ-02 for it; ``"tianditu"`` needs ``tianditu_key``.
    tianditu_key : str, optional
        Tianditu (天地图) browser key.
    barriers : GeoDataFrame, optional
        Lines (roads, rivers, …) to draw, clipped to the data; any CRS.
    title : str, optional
        Page and map title (default: "gridgeo 网格图" / "gridgeo grid map").
    data_attribution : str, optional
        Attribution of the input data (e.g. "© OpenStreetMap contributors"),
        shown next to the basemap's.
    service_centres : GeoDataFrame, optional
        Service centres (:func:`gridgeo.coverage.prepare_centres`) drawn as a
        layer with popups (id, name, grids nearest to it); default: the
        result's own (:attr:`Partition.service_centres`).  Grids with
        ``coverage_flag`` can be hatched, grids with ``workload_flag`` dotted
        (overlays, off by default); popups show the team size, the walking
        tour, the workload index and the walk to the nearest centre.
    edit_model : dict, optional
        Data for the edit mode, embedded as ``window.gridgeo.editModel``
        (JSON-ready; its text is made safe for the page like all the data).

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    gridgeo.errors.InputError
        Unknown ``lang`` or ``basemap``, ``"tianditu"`` without a key, or a
        result without a CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> page = build_map(gridgeo.partition(c, b, households="hh"), lang="en")
    >>> page.startswith("<!DOCTYPE html>") and "Joint units" in page and "<script src=" not in page
    True
    """
    data = _map_data(
        result, lang=lang, basemap=basemap, tianditu_key=tianditu_key, barriers=barriers, title=title,
        data_attribution=data_attribution,
        service_centres=service_centres if service_centres is not None else getattr(result, "service_centres", None),
        edit_model=edit_model,
    )  # fmt: skip
    page = _page(data, lang)
    logger.debug(
        "map: %d grids, %d buildings, %d units, basemap %s, %.1f MB",
        len(data["layers"]["grids"]["geom"]["n"]), len(data["layers"]["buildings"]["geom"]["n"]),
        len(data["layers"]["units"]["p"]["code"]), basemap, len(page.encode("utf-8")) / 1e6,
    )  # fmt: skip
    return page


@timings.timed("map")
def write_maps(result: Partition, outdir, *, max_buildings_per_map: int | None = None, **options) -> list[Path]:
    """Write ``outdir/map.html``: one map of the whole run.

    Parameters
    ----------
    result : Partition
        The partition to show.
    outdir : str or Path
        Folder to write into (created when missing; an existing ``map.html`` is replaced).
    max_buildings_per_map : int, optional
        Deprecated and ignored: the map holds every building of the run (it
        used to split big runs into maps per community with an index page).
    **options
        Passed to :func:`build_map` (``lang``, ``basemap``, ``tianditu_key``,
        ``barriers``, ``title``, ``data_attribution``, ``service_centres``,
        ``edit_model``).  Without ``edit_model`` the page gets the run's
        :func:`~gridgeo.outputs.editmodel.edit_model` (the edit mode, run key
        = sha256 of the run's ``report.json``), without the building adjacency
        unless ``edit_adjacency=True`` (it re-tessellates every grid, about half
        the time of a whole run; ``workers`` processes share it): the panel then
        shows "?" for "one piece" and says how to get the check
        (``gridgeo map OUTDIR --edit``).

    Returns
    -------
    list of Path
        The files written: ``[outdir/map.html]``.

    Examples
    --------
    >>> import tempfile, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> [p.name for p in write_maps(gridgeo.partition(c, b, households="hh"), tempfile.mkdtemp())]
    ['map.html']
    """
    if max_buildings_per_map is not None:
        warnings.warn(
            "write_maps(max_buildings_per_map=...) is deprecated and ignored: map.html now shows the whole run on one map",
            DeprecationWarning,
            stacklevel=2,
        )
    lang = options.get("lang", "zh")
    _check_lang(lang)
    _basemap_config(options.get("basemap", "osm"), options.get("tianditu_key"), lang)  # fail before writing anything
    edit_adjacency = options.pop("edit_adjacency", False)
    workers = options.pop("workers", 1)
    if "edit_model" not in options:  # the edit mode is in every map; the adjacency only on request (it costs a tessellation)
        from .editmodel import edit_model

        options["edit_model"] = edit_model(result, lang=lang, adjacency=edit_adjacency, workers=workers)
    page = build_map(result, **options)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    path = write_atomic(outdir / "map.html", page)
    logger.info("wrote %s (%.1f MB)", path, len(page.encode("utf-8")) / 1e6)
    return [path]
