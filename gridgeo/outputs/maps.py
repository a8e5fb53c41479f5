"""Interactive, self-contained HTML maps of a partition result.

:func:`build_map` turns a :class:`~gridgeo.result.Partition` into one HTML page
that works offline: Leaflet 1.9.4 (JavaScript, CSS and the control images, from
the installed ``django-js-lib-leaflet`` package) is inlined, the data is embedded
as GeoJSON in EPSG:4326, and the page loads nothing from the network except the
basemap tiles (which simply stay blank offline).  :func:`write_maps` writes
``map.html``, or one map per community plus an index page when the result is
too big for one page.

How the page is made: directly with Leaflet, not with folium.  folium's
templates pull jQuery, Bootstrap, awesome-markers and its own CSS from CDNs and
insert tooltip/popup fields as raw HTML; rewriting its output after rendering
would be fragile.  Here the page is a fixed template: a static script (the same
for every map) reads one ``<script type="application/json">`` block that holds
the labels, the styles and the layers.  Every value taken from the data is
HTML-escaped in Python before it goes into that block, and the JSON text has
``<``, ``>`` and ``&`` escaped as ``\\u003c``… so nothing in the data can close
the block.  A Content-Security-Policy admits only the page's own two scripts
(by hash), so an inline event handler that slipped through would not run either.

Layers: communities (outlines), grids (filled; touching grids never share a
fill colour; the outline shows the grid's status), buildings (in their grid's
colour), joint units (off by default), buildings outside every community, and
barriers when given.  A layer control, a legend, tooltips, popups with each
grid's figures and a search box by grid code are included; labels are Chinese
(``lang="zh"``) or English (``lang="en"``).

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
        "search": "按网格编码查找，如 001-02",
        "search_button": "查找",
        "not_found": "未找到网格",
        "legend": "网格状态（边框）",
        "fill_note": "填充色只用于区分相邻网格",
        "basemap": "底图",
        "data_by": "网格划分：gridgeo",
        "index_title": "gridgeo 网格图（按社区）",
        "index_note": "共 {n} 栋建筑，超过单张地图上限 {limit}，按社区分图：",
        "index_map": "地图",
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
        "search": "Find grid by code, e.g. 001-02",
        "search_button": "Find",
        "not_found": "No such grid",
        "legend": "Grid status (outline)",
        "fill_note": "Fill colours only tell neighbouring grids apart",
        "basemap": "Basemap",
        "data_by": "Grids: gridgeo",
        "index_title": "gridgeo grid maps by community",
        "index_note": "{n} buildings exceed the limit of {limit} per map; one map per community:",
        "index_map": "map",
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
    if re.search(r"</script|<!--", js, re.I):  # pragma: no cover - Leaflet 1.9.4 has neither
        raise RuntimeError("leaflet.js cannot be inlined: it contains '</script'")
    return js, css


# --------------------------------------------------------------------------- small helpers


def _esc(value) -> str | None:
    """HTML-escape one value from the data; missing values become ``None``."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return html.escape(str(value), quote=True)


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


def _flag(value) -> bool | None:
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return bool(value)


def _json_for_html(obj) -> str:
    """JSON text that is safe inside a ``<script>`` element (no ``</``, ``<!--``, ``]]>``).

    :class:`_RawGeometry` values are written as the JSON text they hold, in one
    pass: :mod:`json` writes each as a numbered placeholder string, the text is
    made safe, then the placeholders are replaced by the geometries' texts
    (digits, brackets, commas and type names: nothing to make safe).
    """
    raw: list[str] = []

    def placeholder(value):
        if isinstance(value, _RawGeometry):
            raw.append(value.text)
            return f"\x00{len(raw) - 1}\x00"
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    text = _safe_for_html(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=placeholder))
    if not raw:
        return text
    found = _PLACEHOLDER.findall(text)
    if found != [str(i) for i in range(len(raw))]:
        # a string of the data looks like a placeholder: write the geometries through json instead
        def parsed(value):
            if isinstance(value, _RawGeometry):
                return json.loads(value.text)
            raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

        return _safe_for_html(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=parsed))
    return _PLACEHOLDER.sub(lambda m: raw[int(m.group(1))], text)


def _safe_for_html(text: str) -> str:
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


_PLACEHOLDER = re.compile(r'"\\u0000(\d+)\\u0000"')


def _sanitise_filename(code) -> str:
    """A file name from a community code only: no separators, no '..', nothing odd.

    Examples
    --------
    >>> _sanitise_filename("../../etc/passwd")
    'etc_passwd'
    >>> _sanitise_filename("003")
    '003'
    """
    name = re.sub(r"[^0-9A-Za-z_.-]+", "_", str(code))
    name = re.sub(r"\.{2,}", "_", name)
    name = re.sub(r"_+", "_", name).strip("._-")
    return name[:100] or "community"


# --------------------------------------------------------------------------- colouring


# --------------------------------------------------------------------------- geometry


def _display_geometry(geoseries: gpd.GeoSeries, metric, gcj: bool, known: dict | None = None) -> np.ndarray:
    """Simplify in metres, convert to EPSG:4326 (and GCJ-02), round to 6 decimals.

    Every step works geometry by geometry, so equal geometries give equal
    results: each distinct geometry is converted once (a tall building's many
    joint units share its footprint) and its result shared.  ``known`` carries
    the results over calls (the buildings' to the units'), keyed by CRS and WKB.
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
        g = g.simplify(SIMPLIFY_M, preserve_topology=True).to_crs(4326)
        if gcj:
            g = to_gcj02(g)
        done = shapely.transform(np.asarray(g.array), lambda c: np.round(c, DECIMALS))
        known.update(zip(first, done))
    out = np.empty(len(geoms), dtype=object)
    out[:] = [None if key is None else known[key] for key in keys]
    return out


def _feature_collection(geoms: np.ndarray, properties: list[dict], texts: dict | None = None) -> dict:
    """A GeoJSON FeatureCollection whose geometries are :class:`_RawGeometry` texts (missing and empty geometries left out).

    ``texts`` carries the texts of geometry objects over calls (by identity: a
    geometry shared by :func:`_display_geometry` is serialised once).
    """
    features = []
    texts = _shared_texts(geoms, {} if texts is None else texts)
    for text, props in zip(texts, properties):
        if text is None:
            continue
        features.append({"type": "Feature", "geometry": _RawGeometry(text), "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _shared_texts(geoms: np.ndarray, texts: dict) -> list[str | None]:
    """:func:`_geometry_texts` of ``geoms``, each distinct object written once; ``texts`` maps ``id(geometry)`` to its text."""
    geoms = np.asarray(geoms, dtype=object)
    ids = [id(g) for g in geoms]
    new: dict = {}
    for i, key in enumerate(ids):
        if key not in texts and key not in new:
            new[key] = i
    if new:
        rows = np.fromiter(new.values(), dtype=np.int64, count=len(new))
        texts.update(zip(new, _geometry_texts(geoms[rows])))
    return [texts[key] for key in ids]


class _RawGeometry:
    """The JSON text of one geometry, put into the page as it is by :func:`_json_for_html`."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


_GEOJSON_TYPES = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString", 6: "MultiPolygon"}


def _geometry_texts(geoms: np.ndarray) -> list[str | None]:
    """The compact GeoJSON text of every geometry (None when missing or empty), each serialised once.

    The text is exactly ``json.dumps(json.loads(shapely.to_geojson(g)), separators=(",", ":"))``:
    coordinates are written with Python's ``repr`` of the float, as :mod:`json`
    writes them (GEOS may write 17 digits where ``repr`` needs fewer).  Points,
    lines and polygons and their multi-types are formatted in one vectorised pass
    over the coordinates; anything else (collections, curves, 3-D, non-finite
    coordinates) goes through ``json``.

    Examples
    --------
    >>> import shapely
    >>> _geometry_texts(np.array([shapely.Point(121.5, 25.028002999999998), None, shapely.Polygon()], dtype=object))
    ['{"type":"Point","coordinates":[121.5,25.028003]}', None, None]
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    out: list[str | None] = [None] * n
    if n == 0:
        return out
    types = shapely.get_type_id(geoms)
    present = (types >= 0) & ~shapely.is_empty(geoms)
    fast = present & np.isin(types, list(_GEOJSON_TYPES)) & ~shapely.has_z(geoms)
    # parts of multi-geometries (a single geometry is its own part); an empty part takes the slow path
    rows = np.flatnonzero(fast)
    parts, part_of = shapely.get_parts(geoms[rows], return_index=True)
    empty_part = shapely.is_empty(parts)
    if empty_part.any():
        fast[rows[np.unique(part_of[empty_part])]] = False
        rows = np.flatnonzero(fast)
        parts, part_of = shapely.get_parts(geoms[rows], return_index=True)
    part_polygon = shapely.get_type_id(parts) == 3
    # leaves: rings of polygons, the lines and points themselves, in the order of their parts
    rings, ring_of = shapely.get_rings(parts[part_polygon], return_index=True)
    polygon_parts = np.flatnonzero(part_polygon)
    leaf_part = np.concatenate([polygon_parts[ring_of], np.flatnonzero(~part_polygon)])
    leaves = np.concatenate([rings, parts[~part_polygon]])
    order = np.argsort(leaf_part, kind="stable")
    leaves, leaf_part = leaves[order], leaf_part[order]
    coords, coord_leaf = shapely.get_coordinates(leaves, return_index=True)
    finite = np.isfinite(coords).all(axis=1)
    if not finite.all():
        bad = np.unique(part_of[leaf_part[coord_leaf[~finite]]])
        fast[rows[bad]] = False
    points = list(map("[%r,%r]".__mod__, zip(coords[:, 0].tolist(), coords[:, 1].tolist())))
    bounds = np.searchsorted(coord_leaf, np.arange(len(leaves) + 1)).tolist()
    leaf_texts = [
        points[a] if kind == 0 else "[" + ",".join(points[a:b]) + "]"
        for kind, a, b in zip(shapely.get_type_id(leaves).tolist(), bounds[:-1], bounds[1:])
    ]
    leaf_bounds = np.searchsorted(leaf_part, np.arange(len(parts) + 1)).tolist()
    part_texts = [
        "[" + ",".join(leaf_texts[a:b]) + "]" if polygon else leaf_texts[a]
        for polygon, a, b in zip(part_polygon.tolist(), leaf_bounds[:-1], leaf_bounds[1:])
    ]
    part_bounds = np.searchsorted(part_of, np.arange(len(rows) + 1)).tolist()
    for k, row in enumerate(rows.tolist()):
        if not fast[row]:
            continue
        kind = int(types[row])
        a, b = part_bounds[k], part_bounds[k + 1]
        body = "[" + ",".join(part_texts[a:b]) + "]" if kind >= 4 else part_texts[a]
        out[row] = '{"type":"' + _GEOJSON_TYPES[kind] + '","coordinates":' + body + "}"
    for row in np.flatnonzero(present & ~fast).tolist():
        out[row] = json.dumps(json.loads(shapely.to_geojson(geoms[row])), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return out


def _bounds(*collections: gpd.GeoSeries) -> list[list[float]] | None:
    boxes = [np.asarray(c.total_bounds) for c in collections if len(c) and np.all(np.isfinite(c.total_bounds))]
    if not boxes:
        return None
    b = np.vstack(boxes)
    return [[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]]


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
    """community_code → 'id name' for popups (the id, and a name column when there is one)."""
    if "community_code" not in communities:
        return {}
    name_col = next((c for c in _NAME_COLUMNS if c in communities.columns), None)
    out = {}
    for _, row in communities.iterrows():
        parts = [str(row[c]) for c in ("community_id", name_col) if c and c in communities and not pd.isna(row[c])]
        out[str(row["community_code"])] = " ".join(parts)
    return out


def _column(frame: pd.DataFrame, name: str) -> list:
    return frame[name].tolist() if name in frame.columns else [None] * len(frame)


def _centres_layer(centres, grids: gpd.GeoDataFrame, metric, gcj: bool) -> dict | None:
    """Service centres as a point layer: id, name and how many grids have it as their nearest."""
    if centres is None or not len(centres):
        return None
    from ..governance.coverage import prepare_centres

    points = prepare_centres(centres)
    served = grids["centre_id"].astype(str).value_counts() if "centre_id" in grids else pd.Series(dtype=int)
    props = [
        {"id": _esc(i), "name": _esc(n) or None, "n": int(served.get(str(i), 0)) if "centre_id" in grids else None}
        for i, n in zip(points["centre_id"], points["centre_name"])
    ]
    return _feature_collection(_display_geometry(points.geometry, metric, gcj), props)


def _compounds_layer(result: Partition, metric, gcj: bool, lang: str) -> dict | None:
    """Compound outlines (小区): name, households, grids, and why a split one was split."""
    compounds = getattr(result, "compounds", None)
    if compounds is None or not len(compounds):
        return None
    if "community_id" in compounds.columns and result.grids is not None and "community_id" in result.grids.columns:
        compounds = compounds[compounds["community_id"].astype(str).isin(set(result.grids["community_id"].astype(str)))]
        if not len(compounds):
            return None
    reason = "reason_zh" if lang == "zh" and "reason_zh" in compounds.columns else "reason"
    props = [
        {"name": _esc(n), "households": int(h), "grids": _esc(g), "split": bool(sp), "reason": _esc(r) or None}
        for n, h, g, sp, r in zip(
            _column(compounds, "compound"), _column(compounds, "households"), _column(compounds, "grids"),
            _column(compounds, "split"), _column(compounds, reason),
        )
    ]  # fmt: skip
    return _feature_collection(_display_geometry(compounds.geometry, metric, gcj), props)


def _map_data(result: Partition, *, lang: str, basemap: str, tianditu_key, barriers, title, data_attribution, service_centres=None) -> dict:
    labels = _check_lang(lang)
    base = _basemap_config(basemap, tianditu_key, lang)
    gcj = basemap == "gaode"
    grids, buildings, units, communities, unassigned = (
        result.grids, result.buildings, result.units, result.communities, result.unassigned,
    )  # fmt: skip
    reference = next((f for f in (grids, communities, buildings) if f is not None and len(f)), None)
    if reference is None:
        raise InputError(Problem("map", "the result holds no communities, grids or buildings", "run gridgeo partition first"))
    for label, frame in (("grids", grids), ("communities", communities), ("buildings", buildings)):
        if frame is not None and len(frame) and frame.crs is None:
            raise InputError(Problem(f"result.{label}", "has no CRS", "set the CRS of the result's layers"))
    metric = local_metric_crs(reference)

    # grids
    colour = grid_colours(grids.to_crs(metric)) if len(grids) else np.zeros(0, dtype=int)
    palette = fill_colours(int(colour.max()) + 1 if len(colour) else 0)
    code_colour = {str(c): int(k) for c, k in zip(_column(grids, "grid_code"), colour)}
    names = _community_names(communities) if communities is not None else {}
    status_words = labels["status_words"]
    grid_props = []
    for row in zip(
        _column(grids, "grid_code"), _column(grids, "community_code"), _column(grids, "community_id"),
        _column(grids, "households"), _column(grids, "households_estimated"), _column(grids, "n_buildings"),
        _column(grids, "n_units"), _column(grids, "area_m2"), _column(grids, "polsby_popper"),
        _column(grids, "status"), _column(grids, "reason_zh" if lang == "zh" and "reason_zh" in grids else "reason"),
        _column(grids, "barrier_crossings"), colour.tolist(),
    ):  # fmt: skip
        code, ccode, cid, hh, est, nb, nu, area, pp, status, reason, bx, k = row
        community = names.get(str(ccode)) or ("" if cid is None or pd.isna(cid) else str(cid))
        status_key = None if status is None or pd.isna(status) else str(status)
        grid_props.append(
            {
                "code": _esc(code),
                "community": _esc(" ".join(p for p in (str(ccode) if ccode is not None and not pd.isna(ccode) else "", community) if p)),
                "hh": _num(hh),
                "est": _flag(est),
                "nb": _num(nb),
                "nu": _num(nu),
                "area": _num(area),
                "pp": _num(pp, 3),
                "status": status_key if status_key in STATUS_STYLE else "_other",
                "status_text": _esc(status_words.get(status_key, status_key)),
                "reason": _esc(reason) or None,
                "bx": _num(bx),
                "k": int(k),
            }
        )
    # staffing, workload and walk to the nearest service centre (gridgeo.workload, gridgeo.coverage)
    for props, helpers, tour, wi, wf, centre, walk, route, cf in zip(
        grid_props, _column(grids, "helpers_n"), _column(grids, "tour_m"), _column(grids, "workload_index"),
        _column(grids, "workload_flag"), _column(grids, "centre_name"), _column(grids, "walk_min"),
        _column(grids, "walk_route"), _column(grids, "coverage_flag"),
    ):  # fmt: skip
        props.update({"helpers": _num(helpers), "tour": _num(tour), "wi": _num(wi, 2), "wf": _flag(wf)})
        if walk is not None and not pd.isna(walk):
            props.update({"centre": _esc(centre) or None, "walk": _num(walk, 1), "straight": route == "straight", "cf": _flag(cf)})
    # standard code, facility type of a dedicated grid, and what an update or edit changed
    changes = getattr(result, "changes", None) or {}
    change_of = {}
    for key in ("grids_modified", "grids_reshaped", "grids_added"):
        for code in changes.get(key, []) or []:
            change_of[str(code)] = key.removeprefix("grids_")
    for props, code, std, fac in zip(grid_props, _column(grids, "grid_code"), _column(grids, "standard_code"), _column(grids, "facility_type")):
        if std is not None and not pd.isna(std) and str(std):
            props["std"] = _esc(std)
        if fac is not None and not pd.isna(fac) and str(fac):
            props["fac"] = _esc(fac)
        if str(code) in change_of:
            props["chg"] = change_of[str(code)]
    grid_geoms = _display_geometry(grids.geometry, metric, gcj)

    # buildings
    id_col = (result.report or {}).get("parameters", {}).get("building_id")
    id_col = id_col if isinstance(id_col, str) and id_col in buildings.columns and id_col != "building_code" else None
    b_props = []
    for code, bid, gcode, hh, est in zip(
        _column(buildings, "building_code"), _column(buildings, id_col) if id_col else [None] * len(buildings),
        _column(buildings, "grid_code"), _column(buildings, "households"), _column(buildings, "households_estimated"),
    ):  # fmt: skip
        props = {"code": _esc(code), "grid": _esc(gcode), "hh": _num(hh), "k": code_colour.get(str(gcode))}
        if id_col:
            props["id"] = _esc(bid)
        if _flag(est):
            props["est"] = True
        b_props.append(props)
    known: dict = {}  # display geometry by input geometry, shared by the buildings and their units
    b_geoms = _display_geometry(buildings.geometry, metric, gcj, known)

    # units
    u_props = [
        {"code": _esc(code), "hh": _num(hh), "nb": _num(nb), "in_band": _flag(ib)}
        for code, hh, nb, ib in zip(
            _column(units, "unit_code"), _column(units, "households"), _column(units, "n_buildings"), _column(units, "in_band")
        )
    ]
    u_geoms = _display_geometry(units.geometry, metric, gcj, known) if units is not None and len(units) else np.asarray([], dtype=object)

    # communities
    c_props = [{"code": _esc(code), "name": _esc(names.get(str(code), ""))} for code in _column(communities, "community_code")]
    c_geoms = _display_geometry(communities.geometry, metric, gcj) if len(communities) else np.asarray([], dtype=object)

    # buildings outside every community
    has_unassigned = unassigned is not None and len(unassigned) and unassigned.crs is not None
    x_props, x_geoms = [], np.asarray([], dtype=object)
    if has_unassigned:
        x_ids = _column(unassigned, id_col) if id_col else [None] * len(unassigned)
        x_props = [{"id": _esc(i), "reason": _esc(r)} for i, r in zip(x_ids, _column(unassigned, "reason"))]
        x_geoms = _display_geometry(unassigned.geometry, metric, gcj)

    # barriers, clipped to the data (plus 200 m)
    barrier_fc = None
    if barriers is not None and len(barriers):
        if barriers.crs is None:
            raise InputError(Problem("barriers", "has no CRS", "set the barrier layer's CRS"))
        frames = [f for f in (communities, grids, buildings) if f is not None and len(f)]
        mins = np.min([f.to_crs(metric).total_bounds[:2] for f in frames], axis=0)
        maxs = np.max([f.to_crs(metric).total_bounds[2:] for f in frames], axis=0)
        extent = shapely.box(*mins, *maxs).buffer(200.0)
        clipped = barriers.to_crs(metric).clip(extent)
        clipped = clipped[~clipped.geometry.is_empty & clipped.geometry.notna()]
        barrier_fc = _feature_collection(_display_geometry(clipped.geometry, metric, gcj), [{} for _ in range(len(clipped))])

    texts: dict = {}  # geometry text by display geometry object (the units share their buildings')
    layers = {
        "communities": _feature_collection(c_geoms, c_props),
        "grids": _feature_collection(grid_geoms, grid_props),
        "buildings": _feature_collection(b_geoms, b_props, texts),
        "units": _feature_collection(u_geoms, u_props, texts),
        "unassigned": _feature_collection(x_geoms, x_props) if has_unassigned else None,
        "barriers": barrier_fc,
        "centres": _centres_layer(service_centres, grids, metric, gcj),
        "compounds": _compounds_layer(result, metric, gcj, lang),
    }
    display_bounds = [gpd.GeoSeries(g[~shapely.is_empty(g)] if len(g) else g, crs=4326) for g in (grid_geoms, c_geoms)]
    attribution = html.escape(labels["data_by"])
    if data_attribution:
        attribution += " | " + html.escape(str(data_attribution))
    text = {k: html.escape(v) for k, v in labels.items() if isinstance(v, str)}
    text["status_words"] = {k: html.escape(v) for k, v in labels["status_words"].items()}
    text["status_meaning"] = {k: html.escape(v) for k, v in labels["status_meaning"].items()}
    return {
        "title": html.escape(title if title is not None else labels["title"]),
        "locale": labels["locale"],
        "labels": text,
        "palette": palette,
        "buildingPalette": [darker(c) for c in palette],
        "statusStyle": STATUS_STYLE,
        "basemap": base,
        "dataAttribution": attribution,
        "layers": layers,
        "bounds": _bounds(*display_bounds),
        "walkLimit": _num(((result.report or {}).get("coverage") or {}).get("limit_min"), 1),
    }


# --------------------------------------------------------------------------- page

_APP_CSS = """
html, body, #map { height: 100%; margin: 0; padding: 0; }
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC",
       "WenQuanYi Micro Hei", sans-serif; }
.gg-box { background: #fff; padding: 6px 9px; border-radius: 5px; box-shadow: 0 1px 5px rgba(0,0,0,.4); }
.gg-title { font-weight: 600; font-size: 14px; }
.gg-legend { max-width: 300px; }
.gg-legend h4 { margin: 0 0 4px; font-size: 13px; }
.gg-legend div { display: flex; align-items: center; gap: 6px; margin: 2px 0; }
.gg-sw { display: inline-block; flex: none; width: 18px; height: 12px; background: #eee; box-sizing: border-box; }
.gg-note { color: #555; font-size: 11px; margin-top: 4px !important; }
.gg-search input { width: 17em; font: inherit; padding: 2px 4px; }
.gg-search button { font: inherit; }
.gg-search .gg-msg { color: #b00; margin-left: 4px; }
.gg-popup table { border-collapse: collapse; }
.gg-popup th { text-align: left; font-weight: 600; padding: 1px 8px 1px 0; vertical-align: top; white-space: nowrap; }
.gg-popup td { padding: 1px 0; }
.gg-flag { color: #c51b7d; }
"""

# The page's program: static (the same text for every map), so its hash is fixed.
# Every string it takes from D is already HTML-escaped.
_APP_JS = r"""
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('gg-data').textContent);
  var T = D.labels;
  function decode(s) { var t = document.createElement('textarea'); t.innerHTML = s == null ? '' : s; return t.value; }
  function fmt(n, d) {
    if (n === null || n === undefined) return '\u2014';
    return Number(n).toLocaleString(D.locale, {minimumFractionDigits: d || 0, maximumFractionDigits: d || 0});
  }
  function row(k, v) { return '<tr><th>' + k + '</th><td>' + (v === null || v === undefined || v === '' ? '\u2014' : v) + '</td></tr>'; }
  function yesno(b) { return b === null || b === undefined ? null : (b ? T.yes : T.no); }

  var map = L.map('map', {maxZoom: 20, zoomSnap: 0.5});
  window.gridgeoMap = {map: map};
  var base = L.layerGroup(D.basemap.layers.map(function (b) {
    return L.tileLayer(b.url, {subdomains: b.subdomains, maxNativeZoom: b.maxNativeZoom, maxZoom: 20, attribution: b.attribution});
  })).addTo(map);
  map.attributionControl.addAttribution(D.dataAttribution);

  function pane(name, z) {
    var p = map.createPane(name); p.style.zIndex = z; p.style.pointerEvents = 'none'; return name;
  }
  function hh(p) { return fmt(p.hh) + (p.est ? ' (' + T.estimated + ')' : ''); }

  function gridPopup(p) {
    return '<div class="gg-popup"><table>' +
      row(T.grid_code, '<b>' + p.code + '</b>') + (p.std ? row(T.standard_code, p.std) : '') +
      (p.fac ? row(T.facility_type, p.fac) : '') + (p.chg ? row(T.change, '<b class="gg-flag">' + T['change_' + p.chg] + '</b>') : '') +
      row(T.community, p.community) + row(T.households, hh(p)) +
      row(T.n_buildings, fmt(p.nb)) + row(T.n_units, fmt(p.nu)) + row(T.area_m2, fmt(p.area)) +
      row(T.polsby_popper, fmt(p.pp, 3)) + row(T.status, p.status_text) + row(T.reason, p.reason) +
      (p.bx ? row(T.barrier_crossings, fmt(p.bx)) : '') +
      (p.helpers !== null && p.helpers !== undefined ? row(T.helpers_n, '1+1+1+' + fmt(p.helpers)) : '') +
      (p.tour !== null && p.tour !== undefined ? row(T.tour_m, fmt(p.tour)) : '') +
      (p.wi !== null && p.wi !== undefined ? row(T.workload_index, fmt(p.wi, 2) + (p.wf ? ' <b class="gg-flag">' + T.workload_high + '</b>' : '')) : '') +
      (p.walk !== null && p.walk !== undefined ? row(T.centre, p.centre) + row(T.walk_min, walkText(p)) : '') +
      '</table></div>';
  }
  function walkText(p) {
    var t = fmt(p.walk, 1) + (p.straight ? ' (' + T.walk_straight + ')' : '');
    return p.cf ? '<b class="gg-flag">' + t + ' &gt; ' + fmt(D.walkLimit, 0) + '</b>' : t;
  }

  var gridIndex = {};
  var grids = L.geoJSON(D.layers.grids, {
    pane: pane('gg-grids', 410),
    style: function (f) {
      var p = f.properties, s = D.statusStyle[p.status] || D.statusStyle._other;
      return {color: s.color, weight: s.weight, dashArray: s.dashArray, opacity: 1,
              fillColor: D.palette[p.k], fillOpacity: 0.5, className: 'gg-grid'};
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      gridIndex[decode(p.code).trim().toLowerCase()] = layer;
      layer.bindTooltip('<b>' + p.code + '</b><br>' + T.households + ': ' + hh(p) +
        (p.walk !== null && p.walk !== undefined ? '<br>' + T.walk_min + ': ' + walkText(p) : ''), {sticky: true, className: 'gg-tip'});
      layer.bindPopup(gridPopup(p), {maxWidth: 380});
    }
  });
  window.gridgeoMap.grids = grids;
  window.gridgeoMap.gridIndex = gridIndex;

  var units = L.geoJSON(D.layers.units, {
    pane: pane('gg-units', 415),
    style: function () { return {color: '#1a1a1a', weight: 1.2, dashArray: '4 3', fill: false}; },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindTooltip('<b>' + p.code + '</b><br>' + T.households + ': ' + fmt(p.hh) +
        (p.in_band === false ? '<br>' + T.in_band + ': ' + T.no : ''), {sticky: true});
    }
  });

  function pointStyle(latlng) { return L.circleMarker(latlng, {radius: 4}); }
  var buildings = L.geoJSON(D.layers.buildings, {
    pane: pane('gg-buildings', 420),
    pointToLayer: function (f, latlng) { return pointStyle(latlng); },
    style: function (f) {
      var k = f.properties.k;
      return {color: '#222', weight: 0.6, opacity: 0.8, fillOpacity: 0.85,
              fillColor: (k === null || k === undefined) ? '#9e9e9e' : D.buildingPalette[k], className: 'gg-building'};
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindTooltip('<b>' + (p.code || '') + '</b>' + (p.id ? '<br>' + T.building_id + ': ' + p.id : '') +
        '<br>' + T.grid_code + ': ' + (p.grid || '\u2014') + '<br>' + T.households + ': ' + hh(p), {sticky: true});
      // a click on a building opens its grid's popup (buildings cover most of a dense grid)
      layer.on('click', function (e) {
        var g = p.grid ? gridIndex[decode(p.grid).trim().toLowerCase()] : null;
        if (g) { g.openPopup(e.latlng); }
      });
    }
  });

  window.gridgeoMap.buildings = buildings;

  // flagged grids: hatched beyond the walking limit, dotted with a workload far above the mean
  function svgPattern(id, draw) {
    var ns = 'http://www.w3.org/2000/svg';
    var holder = document.getElementById('gg-patterns');
    if (!holder) {
      holder = document.createElementNS(ns, 'svg'); holder.id = 'gg-patterns';
      holder.setAttribute('width', '0'); holder.setAttribute('height', '0'); holder.style.position = 'absolute';
      holder.appendChild(document.createElementNS(ns, 'defs')); document.body.appendChild(holder);
    }
    var pattern = document.createElementNS(ns, 'pattern');
    pattern.setAttribute('id', id); pattern.setAttribute('patternUnits', 'userSpaceOnUse');
    pattern.setAttribute('width', '10'); pattern.setAttribute('height', '10');
    draw(pattern, ns); holder.firstChild.appendChild(pattern);
    return 'url(#' + id + ')';
  }
  function flaggedLayer(key, paneName, z, fill) {
    return L.geoJSON(D.layers.grids, {
      pane: pane(paneName, z), interactive: false,
      filter: function (f) { return f.properties[key] === true; },
      style: function () { return {stroke: false, fillColor: fill, fillOpacity: 1}; }
    });
  }
  var flagged = {};
  if (D.layers.grids.features.some(function (f) { return f.properties.cf === true; })) {
    var hatch = svgPattern('gg-hatch', function (p, ns) {
      p.setAttribute('patternTransform', 'rotate(45)');
      var r = document.createElementNS(ns, 'rect');
      r.setAttribute('width', '4'); r.setAttribute('height', '10'); r.setAttribute('fill', '#c51b7d'); r.setAttribute('fill-opacity', '0.55');
      p.appendChild(r);
    });
    flagged.beyond_walk = flaggedLayer('cf', 'gg-coverage', 412, hatch);
  }
  if (D.layers.grids.features.some(function (f) { return f.properties.wf === true; })) {
    var dots = svgPattern('gg-dots', function (p, ns) {
      var c = document.createElementNS(ns, 'circle');
      c.setAttribute('cx', '5'); c.setAttribute('cy', '5'); c.setAttribute('r', '2'); c.setAttribute('fill', '#08306b'); c.setAttribute('fill-opacity', '0.7');
      p.appendChild(c);
    });
    flagged.high_workload = flaggedLayer('wf', 'gg-workload', 411, dots);
  }
  window.gridgeoMap.flagged = flagged;

  var communities = L.geoJSON(D.layers.communities, {
    pane: pane('gg-communities', 405), interactive: false,
    style: function () { return {color: '#111', weight: 3, opacity: 0.9, fill: false}; }
  });

  var overlays = {};
  overlays[T.communities] = communities.addTo(map);
  overlays[T.grids] = grids.addTo(map);
  overlays[T.buildings] = buildings.addTo(map);
  overlays[T.units] = units;  // off by default
  if (D.layers.unassigned) {
    overlays[T.unassigned] = L.geoJSON(D.layers.unassigned, {
      pane: pane('gg-unassigned', 425),
      pointToLayer: function (f, latlng) { return pointStyle(latlng); },
      style: function () { return {color: '#555', weight: 0.8, fillColor: '#bdbdbd', fillOpacity: 0.8, dashArray: '2 2'}; },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip((p.id ? '<b>' + p.id + '</b><br>' : '') + (p.reason || ''), {sticky: true});
      }
    }).addTo(map);
  }
  if (D.layers.barriers) {
    overlays[T.barriers] = L.geoJSON(D.layers.barriers, {
      pane: pane('gg-barriers', 440), interactive: false,
      style: function () { return {color: '#0b57d0', weight: 3, opacity: 0.8}; }
    }).addTo(map);
  }
  Object.keys(flagged).forEach(function (key) { overlays[T[key]] = flagged[key].addTo(map); });
  if (D.layers.centres) {
    var centres = L.geoJSON(D.layers.centres, {
      pane: pane('gg-centres', 450),
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 7, color: '#ffffff', weight: 2, fillColor: '#c51b7d', fillOpacity: 1, className: 'gg-centre'});
      },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip('<b>' + (p.name || p.id) + '</b>', {sticky: true});
        layer.bindPopup('<div class="gg-popup"><b>' + T.service_centres + '</b><table>' + row(T.centre_id, p.id) + row(T.centre_name, p.name) +
          (p.n !== null && p.n !== undefined ? row(T.grids_served, fmt(p.n)) : '') + '</table></div>', {maxWidth: 320});
      }
    });
    overlays[T.service_centres] = centres.addTo(map);
    window.gridgeoMap.centres = centres;
  }
  var changed = D.layers.grids.features.filter(function (f) { return f.properties.chg; });
  if (changed.length) {
    overlays[T.changed_grids] = L.geoJSON({type: 'FeatureCollection', features: changed}, {
      pane: pane('gg-changed', 445), interactive: false,
      style: function (f) {
        var c = {added: '#1b9e77', reshaped: '#d95f02', modified: '#7570b3'}[f.properties.chg];
        return {color: c, weight: 4, opacity: 0.9, fill: false};
      }
    }).addTo(map);
  }
  if (D.layers.compounds) {
    overlays[T.compounds] = L.geoJSON(D.layers.compounds, {
      pane: pane('gg-compounds', 430),
      style: function (f) { return {color: f.properties.split ? '#d95f02' : '#6a3d9a', weight: 2, dashArray: '6 4', fill: false}; },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip('<b>' + p.name + '</b> ' + fmt(p.households), {sticky: true});
        layer.bindPopup('<div class="gg-popup"><b>' + T.compounds + '</b><table>' + row(T.compound_name, p.name) +
          row(T.households, fmt(p.households)) + row(T.compound_grids, p.grids) + (p.reason ? row(T.compound_split, p.reason) : '') +
          '</table></div>', {maxWidth: 360});
      }
    }).addTo(map);
  }
  var baseLayers = {}; baseLayers[D.basemap.name] = base;
  L.control.layers(baseLayers, overlays, {collapsed: false, position: 'topright'}).addTo(map);

  // legend
  var Legend = L.Control.extend({options: {position: 'bottomright'}, onAdd: function () {
    var div = L.DomUtil.create('div', 'gg-box gg-legend');
    var h = '<h4>' + T.legend + '</h4>';
    ['in_band', 'oversize_building', 'infeasible_total', 'detached_part', 'out_of_band'].forEach(function (s) {
      var st = D.statusStyle[s];
      h += '<div><span class="gg-sw" style="border:' + Math.min(st.weight, 4) + 'px ' + (st.dashArray ? 'dashed' : 'solid') +
        ' ' + st.color + '"></span><span><b>' + T.status_words[s] + '</b> \u2014 ' + T.status_meaning[s] + '</span></div>';
    });
    h += '<div><span class="gg-sw" style="border:3px solid #111;background:none"></span><span>' + T.communities + '</span></div>';
    h += '<div><span class="gg-sw" style="border:1px dashed #1a1a1a;background:none"></span><span>' + T.units + '</span></div>';
    if (flagged.beyond_walk) {
      h += '<div><span class="gg-sw" style="background:repeating-linear-gradient(45deg,#c51b7d 0 3px,transparent 3px 7px)"></span><span>' + T.beyond_walk + '</span></div>';
    }
    if (flagged.high_workload) {
      h += '<div><span class="gg-sw" style="background:radial-gradient(#08306b 1.5px,transparent 2px) 0 0/6px 6px"></span><span>' + T.high_workload + '</span></div>';
    }
    if (D.layers.centres) {
      h += '<div><span class="gg-sw" style="width:12px;height:12px;border-radius:50%;border:2px solid #fff;background:#c51b7d;box-shadow:0 0 0 1px #999"></span><span>' + T.service_centres + '</span></div>';
    }
    h += '<div class="gg-note">' + D.palette.slice(0, 6).map(function (c) {
      return '<span class="gg-sw" style="width:10px;background:' + c + '"></span>'; }).join('') + ' ' + T.fill_note + '</div>';
    div.innerHTML = h;
    return div;
  }});
  var legend = new Legend().addTo(map);

  // title
  var Title = L.Control.extend({options: {position: 'bottomleft'}, onAdd: function () {
    var div = L.DomUtil.create('div', 'gg-box gg-title'); div.innerHTML = D.title; return div;
  }});
  new Title().addTo(map);

  // search by grid code
  var Search = L.Control.extend({options: {position: 'topleft'}, onAdd: function () {
    var div = L.DomUtil.create('div', 'gg-box gg-search');
    var list = L.DomUtil.create('datalist', '', div); list.id = 'gg-codes';
    Object.keys(gridIndex).sort().forEach(function (k) {
      var o = document.createElement('option'); o.value = decode(gridIndex[k].feature.properties.code); list.appendChild(o);
    });
    var input = L.DomUtil.create('input', '', div);
    input.type = 'search'; input.placeholder = decode(T.search); input.setAttribute('list', 'gg-codes');
    input.setAttribute('aria-label', decode(T.search));
    var button = L.DomUtil.create('button', '', div); button.type = 'button'; button.textContent = decode(T.search_button);
    var msg = L.DomUtil.create('span', 'gg-msg', div);
    function go() {
      var layer = gridIndex[input.value.trim().toLowerCase()];
      msg.textContent = '';
      if (!input.value.trim()) return;
      if (!layer) { msg.textContent = decode(T.not_found); return; }
      map.fitBounds(layer.getBounds(), {padding: [40, 40], maxZoom: 18});
      layer.openPopup(layer.getBounds().getCenter());
    }
    L.DomEvent.on(input, 'keydown', function (e) { if (e.key === 'Enter') go(); });
    L.DomEvent.on(input, 'change', go);
    L.DomEvent.on(button, 'click', go);
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  }});
  new Search().addTo(map);

  if (D.bounds) {
    // keep the data clear of the legend when the window is wide enough
    var size = map.getSize(), box = legend.getContainer().getBoundingClientRect();
    var right = size.x > 3 * box.width ? box.width + 20 : 20;
    map.fitBounds(D.bounds, {paddingTopLeft: [50, 50], paddingBottomRight: [right, 30]});
  } else {
    map.setView([0, 0], 2);
  }
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _page(data: dict, lang: str) -> str:
    leaflet_js, leaflet_css = _leaflet_assets()
    csp = (
        "default-src 'none'; "
        f"script-src {_sha256(leaflet_js)} {_sha256(_APP_JS)}; "
        "style-src 'unsafe-inline'; img-src https: data:; font-src data:; connect-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{LABELS[lang]["html_lang"]}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{data['title']}</title>\n"
        f"<style>{leaflet_css}</style>\n<style>{_APP_CSS}</style>\n"
        f"<script>{leaflet_js}</script>\n"
        "</head>\n<body>\n<div id=\"map\"></div>\n"
        f'<script type="application/json" id="gg-data">{_json_for_html(data)}</script>\n'
        f"<script>{_APP_JS}</script>\n"
        "</body>\n</html>\n"
    )


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
) -> str:
    """Build one self-contained, offline-capable HTML page showing a partition.

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
        ``coverage_flag`` are hatched in their own layer, grids with
        ``workload_flag`` dotted in another; popups show the team size, the
        walking tour, the workload index and the walk to the nearest centre.

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
    )  # fmt: skip
    page = _page(data, lang)
    logger.debug(
        "map: %d grids, %d buildings, %d units, basemap %s, %.1f MB",
        len(data["layers"]["grids"]["features"]), len(data["layers"]["buildings"]["features"]),
        len(data["layers"]["units"]["features"]), basemap, len(page.encode("utf-8")) / 1e6,
    )  # fmt: skip
    return page


def _subset(result: Partition, codes) -> Partition:
    codes = {codes} if isinstance(codes, str) else set(codes)

    def pick(frame):
        if frame is None or "community_code" not in frame.columns:
            return frame.iloc[0:0] if frame is not None else frame
        return frame[frame["community_code"].astype(str).isin(codes)]

    return Partition(
        communities=pick(result.communities),
        grids=pick(result.grids),
        buildings=pick(result.buildings),
        units=pick(result.units),
        unassigned=result.unassigned.iloc[0:0] if result.unassigned is not None else None,
        report=result.report,
        compounds=getattr(result, "compounds", None),
        service_centres=getattr(result, "service_centres", None),
    )


def _index_page(result: Partition, entries: list[tuple[str, str, Path]], *, lang: str, title: str | None, limit: int) -> str:
    labels = _check_lang(lang)
    grids = result.grids
    b = result.buildings
    # grids, their households and buildings per community, counted once (not once per community)
    grid_codes = grids["community_code"].astype(str) if "community_code" in grids else pd.Series([], dtype=str)
    n_grids = grid_codes.value_counts().to_dict()
    households = {}
    if "community_code" in grids and "households" in grids and len(grids):
        households = grids.groupby(grid_codes.to_numpy(), sort=False)["households"].sum().to_dict()
    n_buildings = b["community_code"].astype(str).value_counts().to_dict() if "community_code" in b else {}
    rows = []
    for code, label, path in entries:
        count = int(n_grids.get(code, 0))
        nb = int(n_buildings.get(code, 0))
        hh = _num(households[code]) if count and code in households else 0
        href = html.escape("maps/" + quote(path.name), quote=True)
        rows.append(
            f"<tr><td>{html.escape(code)}</td><td>{html.escape(label)}</td><td>{count}</td><td>{nb}</td>"
            f"<td>{hh}</td><td><a href=\"{href}\">{html.escape(labels['index_map'])}</a></td></tr>"
        )
    head = (
        f"<tr><th>{html.escape(labels['community'])}</th><th></th><th>{html.escape(labels['grids'])}</th>"
        f"<th>{html.escape(labels['buildings'])}</th><th>{html.escape(labels['households'])}</th><th></th></tr>"
    )
    heading = html.escape(title if title is not None else labels["index_title"])
    note = html.escape(labels["index_note"].format(n=len(result.buildings), limit=limit))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{labels["html_lang"]}">\n<head>\n<meta charset="utf-8">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{heading}</title>\n"
        "<style>body{font:14px/1.5 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 10px;text-align:left}</style>\n"
        f"</head>\n<body>\n<h1>{heading}</h1>\n<p>{note}</p>\n<table>\n{head}\n" + "\n".join(rows) + "\n</table>\n</body>\n</html>\n"
    )


@timings.timed("map")
def write_maps(result: Partition, outdir, *, max_buildings_per_map: int = 10000, **options) -> list[Path]:
    """Write ``outdir/map.html``; split big results into maps of neighbouring communities.

    Parameters
    ----------
    result : Partition
        The partition to show.
    outdir : str or Path
        Folder to write into (created when missing; existing maps are replaced).
    max_buildings_per_map : int
        When the result has more buildings than this, communities are drawn on
        several maps ``outdir/maps/<first>_<last>.html`` (consecutive community
        codes, at most this many buildings per map unless one community alone
        has more; file names made only from sanitised codes) and ``map.html``
        becomes an index page listing every community with a link to its map.
    **options
        Passed to :func:`build_map` (``lang``, ``basemap``, ``tianditu_key``,
        ``barriers``, ``title``, ``data_attribution``, ``service_centres``).

    Returns
    -------
    list of Path
        The files written, ``map.html`` first.

    Examples
    --------
    >>> import tempfile, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> [p.name for p in write_maps(gridgeo.partition(c, b, households="hh"), tempfile.mkdtemp())]
    ['map.html']
    """
    lang = options.get("lang", "zh")
    _check_lang(lang)
    _basemap_config(options.get("basemap", "osm"), options.get("tianditu_key"), lang)  # fail before writing anything
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    index = outdir / "map.html"
    if len(result.buildings) <= max_buildings_per_map:
        write_atomic(index, build_map(result, **options))
        logger.info("wrote %s", index)
        return [index]

    communities = result.communities
    codes = sorted(str(c) for c in communities["community_code"].dropna().unique())
    names = _community_names(communities)
    folder = outdir / "maps"
    folder.mkdir(exist_ok=True)
    logger.info(
        "%d buildings > %d: writing maps of at most %d buildings into %s",
        len(result.buildings), max_buildings_per_map, max_buildings_per_map, folder,
    )  # fmt: skip
    written, entries, taken = [], [], set()
    base_title = options.pop("title", None)
    counts = result.buildings["community_code"].astype(str).value_counts().to_dict() if "community_code" in result.buildings else {}
    # neighbouring codes share a map until it holds max_buildings_per_map buildings
    chunks, current, size = [], [], 0
    for code in codes:
        n = int(counts.get(code, 0))
        if current and size + n > max_buildings_per_map:
            chunks.append(current)
            current, size = [], 0
        current.append(code)
        size += n
    if current:
        chunks.append(current)
    for chunk in chunks:
        stem = _sanitise_filename(chunk[0] if len(chunk) == 1 else f"{chunk[0]}_{chunk[-1]}")
        name, n = stem, 2
        while name.lower() in taken:
            name, n = f"{stem}-{n}", n + 1
        taken.add(name.lower())
        path = folder / f"{name}.html"
        sub = _subset(result, chunk)
        if len(sub.buildings) > max_buildings_per_map:
            logger.warning("community %s alone has %d buildings (> %d): its map may be slow", chunk[0], len(sub.buildings), max_buildings_per_map)
        default = LABELS[lang]["title"]
        span = chunk[0] if len(chunk) == 1 else f"{chunk[0]}–{chunk[-1]}"
        sub_title = f"{base_title or default} — {span} {names.get(chunk[0], '') if len(chunk) == 1 else ''}".strip()
        write_atomic(path, build_map(sub, title=sub_title, **options))
        written.append(path)
        entries.extend((code, names.get(code, ""), path) for code in chunk)
    write_atomic(index, _index_page(result, entries, lang=lang, title=base_title, limit=max_buildings_per_map))
    logger.info("wrote %s and %d community maps", index, len(written))
    return [index, *written]
