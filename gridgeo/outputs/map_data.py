"""The data block of the map page: the words in both languages, the basemaps and the layers of a result.

:func:`_map_data` turns a :class:`~gridgeo.result.Partition` into the one JSON
object the page's script reads (every value from the data HTML-escaped here,
geometry from :mod:`gridgeo.outputs.map_geometry`); :mod:`gridgeo.outputs.maps`
puts it into the page.
"""

from __future__ import annotations

import html
import logging
import math
import re
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError, Problem
from ..inputs.crs import local_metric_crs
from ..inputs.names import community_name_column
from ..labels import STATUS_LABELS, STATUS_MEANINGS
from ..result import Partition
from .columns import _flags
from .map_geometry import _SCALE, _bounds, _display_geometry, _encode, _label_points, _origin, _unit_refs
from .map_json import Ints
from .styles import STATUS_STYLE, darker, fill_colours, plan_colours

logger = logging.getLogger(__name__)

BASEMAPS = ("osm", "tianditu", "gaode")

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
        "other_status": "其他状态",
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
        "other_status": "other status",
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

#: the words of the changes layer for a plan apply-edits wrote
_EDIT_WORDS = {
    "zh": {"change": "本次调整", "changed_grids": "本次调整变化的网格"},
    "en": {"change": "These edits", "changed_grids": "Grids changed by these edits"},
}

for _lang, _words in LABELS.items():
    _words["status_words"] = {key: words[_lang] for key, words in STATUS_LABELS.items()}
    _words["status_meaning"] = {key: words[_lang] for key, words in STATUS_MEANINGS.items()}


_OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
_TIANDITU_ATTR = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
_GAODE_ATTR = '&copy; <a href="https://www.amap.com/">高德地图 AutoNavi</a> (GCJ-02)'


_ASSETS = ("assets", "map")


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
    values = values.tolist() if isinstance(values, (pd.Series, np.ndarray)) else list(values)  # a Series at once, not item by item
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
    """:func:`_num` of every value, vectorised; whole numbers all finite as :class:`Ints` (written from their array).

    Examples
    --------
    >>> _nums([1, 2.6, None, "x"]), type(_nums([1, 2.6])).__name__, _nums([0.12345, float("inf")], 2)
    ([1, 3, None, None], 'Ints', [0.12, None])
    """
    numbers = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values)
    if numbers.dtype.kind in "iufb" and numbers.ndim == 1:  # numbers already: no conversion of each value
        a = numbers.astype(float)
    else:
        try:
            a = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float)
        except (TypeError, ValueError):  # pragma: no cover - odd objects
            return [_num(v, digits) for v in values]
    finite = np.isfinite(a)
    if digits is None:
        whole = np.rint(np.where(finite, a, 0)).astype(np.int64)
        if finite.all():
            return Ints(whole)
        out = whole.tolist()
    else:
        out = np.round(np.where(finite, a, 0), digits).tolist()
    return [v if ok else None for v, ok in zip(out, finite.tolist())]


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
    name_col = community_name_column(communities.columns)
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
        _column(grids, "status"), _column(grids, reason_col), _flags(_column(grids, "households_estimated")), colour.tolist(),
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
                "est": True if est else None,
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
            props[key] = _flags(grids[column])
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
    if result.edits is not None:  # a plan apply-edits wrote: its changes are a planner's edits, not an update
        labels = {**labels, **_EDIT_WORDS[lang]}
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

    # grids: colours that differ between neighbours (gridgeo.outputs.styles; an updated plan keeps its previous ones), figures, status
    colour = plan_colours(result)
    palette = fill_colours(int(colour.max()) + 1 if len(colour) else 0)
    grid_props = _grid_props(grids, colour, names, lang, getattr(result, "changes", None) or {})
    grid_geoms = _display_geometry(grids.geometry, metric, gcj)
    grid_index = {str(c): i for i, c in enumerate(_column(grids, "grid_code"))}

    # buildings: code, id, grid (index into the grids), households
    id_col = (result.report or {}).get("parameters", {}).get("building_id")
    id_col = id_col if isinstance(id_col, str) and id_col in buildings.columns and id_col != "building_code" else None
    b_props = {
        "code": _esc_all(_column(buildings, "building_code")),
        "g": Ints(np.array([grid_index.get(str(g), -1) for g in _column(buildings, "grid_code")], dtype=np.int64)),
        "hh": _nums(_column(buildings, "households")),
    }
    if id_col:
        b_props["id"] = _esc_all(buildings[id_col])
    if "households_estimated" in buildings and buildings["households_estimated"].fillna(False).astype(bool).any():
        b_props["est"] = [1 if f else 0 for f in _flags(buildings["households_estimated"])]
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
            u_props["ib"] = [0 if f is False else 1 for f in _flags(units["in_band"])]
    else:
        nref, refs, u_geoms, u_props = [], [], np.asarray([], dtype=object), {"code": []}

    # communities
    c_codes = _column(communities, "community_code")
    c_props = {"code": _esc_all(c_codes), "name": [_esc(names.get(str(c), "")) for c in c_codes]}
    name_col = community_name_column(communities.columns) if communities is not None else None
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
