"""The content of a printable map page: the community's grids and buildings, its texts, the scale, the north arrow, the labels and the detail views, placed in millimetres on an A3 sheet."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import textwrap
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.ops import polylabel

from .. import __version__
from ..errors import InputError, Problem
from ..inputs.crs import local_metric_crs
from ..inputs.names import COMMUNITY_NAME_COLUMNS
from ..labels import localized_reasons, status_label
from ..result import Partition
from .printfonts import _is_cjk, _needs_cjk
from .styles import fill_colours, plan_colours

logger = logging.getLogger(__name__)

#: page size in millimetres: A3 landscape
PAGE_MM = (420.0, 297.0)
_PT_MM = 25.4 / 72.0  # one typographic point in millimetres

# page layout, in millimetres from the lower-left corner of the page
_FRAME = 8.0
_MAP = (14.0, 22.0, 290.0, 240.0)  # x, y, width, height
_PANEL_X, _PANEL_W = 312.0, 94.0
_PANEL_TOP, _PANEL_BOTTOM = 262.0, 22.0
_T: dict[str, dict[str, str]] = {
    "title": {"zh": "{name} 网格划分公示图", "en": "{name}: governance grids for public notice"},
    "unnamed": {"zh": "社区 {cid}", "en": "Community {cid}"},
    "subtitle": {
        "zh": "社区编码 {code}　社区标识 {cid}　共 {n} 个网格、{hh} 户　网格户数标准 {low}–{high} 户",
        "en": "Community code {code} · id {cid} · {n} grids, {hh} households · grid band {low}–{high} households",
    },
    "date": {"zh": "制图日期：{y}年{m}月{d}日", "en": "Date: {iso}"},
    "legend": {"zh": "图例", "en": "Legend"},
    "grid_fill": {"zh": "网格（填充色仅用于区分相邻网格）", "en": "Grids (colours only tell neighbours apart)"},
    "grid_edge": {"zh": "网格边界", "en": "Grid boundary"},
    "community_edge": {"zh": "社区边界", "en": "Community boundary"},
    "buildings": {"zh": "建筑", "en": "Buildings"},
    "neighbours": {"zh": "相邻社区边界", "en": "Neighbouring communities"},
    "table": {"zh": "网格一览", "en": "Grids"},
    "code": {"zh": "网格编码", "en": "Grid"},
    "hh": {"zh": "户数", "en": "Households"},
    "nb": {"zh": "建筑", "en": "Bldgs"},
    "nu": {"zh": "联户", "en": "Units"},
    "status": {"zh": "状态", "en": "Status"},
    "total": {"zh": "合计", "en": "Total"},
    "more": {"zh": "另有 {n} 个网格未列出，见 grids.geojson", "en": "{n} more grids not listed: see grids.geojson"},
    "flagged": {"zh": "说明", "en": "Notes"},
    "estimated": {
        "zh": "注：户数为估算值（占地面积 × 层数），仅供参考，请核实。",
        "en": "Note: households are ESTIMATES (footprint × storeys); verify before use.",
    },
    "hh_label": {"zh": "{hh}户", "en": "{hh} hh"},
    "north": {"zh": "北", "en": "N"},
    "detail_mark": {"zh": "局部放大图 {k}", "en": "Detail {k}"},
    "detail_suffix": {"zh": "（局部放大图 {k}）", "en": " (detail {k})"},
    "scale": {"zh": "比例尺 1:{n}（A3 打印）", "en": "Scale 1:{n} (printed on A3)"},
    "metres": {"zh": "米", "en": "m"},
    "made_by": {"zh": "网格划分：gridgeo {version}", "en": "Grids: gridgeo {version}"},
    "crs": {"zh": "坐标系：{crs}", "en": "CRS: {crs}"},
    "households_source": {"zh": "户数字段：{col}", "en": "Households: {col}"},
    "households_estimated": {"zh": "户数：估算", "en": "Households: estimated"},
    "data": {"zh": "数据：{text}", "en": "Data: {text}"},
}


@dataclass
class _Prepared:
    """A partition reprojected once into its metric CRS, for drawing many pages."""

    result: Partition
    metric: CRS
    communities: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    codes: list[str]
    fills: dict[str, str]  # grid code -> fill colour, the plan's (:func:`gridgeo.outputs.styles.plan_colours`)


def _prepare(result: Partition) -> _Prepared:
    grids, communities, buildings = result.grids, result.communities, result.buildings
    problems = []
    if grids is None or "grid_code" not in grids.columns or "community_code" not in grids.columns:
        problems.append(Problem("result.grids", "has no grid_code / community_code columns", "print the result of gridgeo partition"))
    if communities is None or "community_code" not in communities.columns:
        problems.append(Problem("result.communities", "has no community_code column", "print the result of gridgeo partition"))
    if problems:
        raise InputError(problems)
    for label, frame in (("grids", grids), ("communities", communities), ("buildings", buildings)):
        if frame is not None and len(frame) and frame.crs is None:
            raise InputError(Problem(f"result.{label}", "has no CRS", "set the CRS of the result's layers"))
    reference = next((f for f in (communities, grids) if len(f)), None)
    if reference is None:
        raise InputError(Problem("result", "holds no communities and no grids", "run gridgeo partition first"))
    metric = _metric_crs(result, reference)
    if buildings is None or "community_code" not in buildings.columns:
        buildings = gpd.GeoDataFrame({"community_code": []}, geometry=gpd.GeoSeries([], crs=metric), crs=metric)
    codes = sorted({str(c) for c in communities["community_code"].dropna()} | {str(c) for c in grids["community_code"].dropna()})
    colour = plan_colours(result)
    palette = fill_colours(int(colour.max()) + 1 if len(colour) else 0)
    fills = {str(code): palette[k] for code, k in zip(grids["grid_code"], colour)}
    return _Prepared(
        result=result,
        metric=metric,
        communities=communities.to_crs(metric),
        grids=grids.to_crs(metric),
        buildings=buildings.to_crs(metric) if len(buildings) else buildings.set_crs(metric, allow_override=True),
        codes=codes,
        fills=fills,
    )


def _metric_crs(result: Partition, reference: gpd.GeoDataFrame) -> CRS:
    """The run's metric CRS (``report["metric_crs"]``) when it is projected, else :func:`local_metric_crs`."""
    saved = (result.report or {}).get("metric_crs")
    if saved:
        try:
            crs = CRS.from_user_input(saved)
            if crs.is_projected:
                return crs
        except Exception:  # noqa: BLE001 - an unreadable saved CRS falls back to the computed one
            logger.debug("report metric_crs %r not usable; choosing one", saved)
    return local_metric_crs(reference)


def _missing(value) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _int(value) -> int | None:
    if _missing(value):
        return None
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        return None


def _fmt(value) -> str:
    number = _int(value)
    return "—" if number is None else f"{number:,}"


def _community_name(row: pd.Series | None) -> str:
    if row is None:
        return ""
    for column in COMMUNITY_NAME_COLUMNS:
        if column in row.index and not _missing(row[column]) and str(row[column]).strip():
            return str(row[column]).strip()
    return ""


def _band(report: dict) -> tuple[int | None, int | None]:
    band = (report or {}).get("parameters", {}).get("grid_size")
    if isinstance(band, (list, tuple)) and len(band) == 2:
        return _int(band[0]), _int(band[1])
    return None, None


def _today(date: dt.date | None) -> dt.date:
    if isinstance(date, dt.datetime):
        return date.date()
    if isinstance(date, dt.date):
        return date
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
    return dt.date.today()


def _polygons(geom):
    """The polygons of any geometry (parts of multi-polygons and collections)."""
    if geom is None or geom.is_empty:
        return
    if geom.geom_type == "Polygon":
        yield geom
    elif hasattr(geom, "geoms"):
        for part in geom.geoms:
            yield from _polygons(part)


def _path(geoms):
    """One matplotlib Path of all polygons in ``geoms`` (holes wound the other way), or ``None``."""
    from matplotlib.path import Path as MplPath

    vertices, codes = [], []
    for geom in geoms:
        for polygon in _polygons(geom):
            polygon = shapely.orient_polygons(polygon, exterior_cw=False)
            for ring in (polygon.exterior, *polygon.interiors):
                xy = np.asarray(ring.coords)[:, :2]
                if len(xy) < 4:
                    continue
                ring_codes = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
                ring_codes[0], ring_codes[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
                vertices.append(xy)
                codes.append(ring_codes)
    if not vertices:
        return None
    return MplPath(np.concatenate(vertices), np.concatenate(codes))


def _nice_scale(required: float) -> int:
    """The smallest round scale denominator (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7.5 × 10ⁿ) ≥ ``required``.

    Examples
    --------
    >>> _nice_scale(1830.0), _nice_scale(2000.0), _nice_scale(12.0)
    (2000, 2000, 100)
    """
    required = max(float(required), 100.0)
    power = 10.0 ** math.floor(math.log10(required))
    for m in (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0):
        if m * power >= required * (1 - 1e-9):
            return int(round(m * power))
    return int(round(10 * power))  # pragma: no cover - the loop ends at 10


def _nice_length(limit: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ not above ``limit`` (metres).

    Examples
    --------
    >>> _nice_length(430.0), _nice_length(99.0)
    (200.0, 50.0)
    """
    power = 10.0 ** math.floor(math.log10(limit))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= limit)


def _north_angle(metric: CRS, x: float, y: float) -> float:
    """Angle (radians, clockwise) from the map's grid north to true north at ``(x, y)``."""
    to_lonlat = Transformer.from_crs(metric, 4326, always_xy=True)
    to_metric = Transformer.from_crs(4326, metric, always_xy=True)
    lon, lat = to_lonlat.transform(x, y)
    x2, y2 = to_metric.transform(lon, min(lat + 0.001, 89.999))
    if not np.all(np.isfinite([x2, y2])):
        return 0.0
    return math.atan2(x2 - x, y2 - y)


def _text_width_mm(text: str, size_pt: float) -> float:
    """Rough printed width: CJK characters one em, others 0.58 em."""
    em = size_pt * _PT_MM
    return sum(em if _is_cjk(ch) else 0.58 * em for ch in text)


def _wrap(text: str, width_mm: float, size_pt: float) -> list[str]:
    """Wrap ``text`` to ``width_mm`` at ``size_pt`` (by character for CJK text, by word otherwise)."""
    if not _needs_cjk(text):
        chars = max(8, int(width_mm / (0.58 * size_pt * _PT_MM)))
        return textwrap.wrap(text, chars) or [""]
    lines, line = [], ""
    for ch in text:
        if _text_width_mm(line + ch, size_pt) > width_mm and line:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines or [""]


@dataclass
class _Page:
    """Everything written on one page, resolved to strings, plus its geometry."""

    code: str
    lang: str
    title: str
    subtitle: str
    date: str
    footer_left: str
    footer_right: str
    grids: gpd.GeoDataFrame
    community: gpd.GeoSeries
    buildings: gpd.GeoDataFrame
    neighbours: gpd.GeoSeries
    colours: list[str]
    reasons: list[str]
    estimated: bool
    view: tuple[float, float, float, float] | None = None  # a detail page: the ground it shows
    focus: object = None  # a detail page: the grids it enlarges (the scale bar and north arrow keep off them)
    details: tuple = ()  # a main page: the ground each of its detail pages enlarges

    def texts(self) -> str:
        grid_text = " ".join(str(v) for v in self.grids["grid_code"]) if len(self.grids) else ""
        return " ".join([self.title, self.subtitle, self.date, self.footer_left, self.footer_right, grid_text, *self.reasons])


def _t(key: str, lang: str, **values) -> str:
    return _T[key][lang].format(**values)


_DATA_PREFIX = re.compile(r"^\s*(data(\s+sources?)?|sources?|数据(来源)?|来源|資料(來源)?)\s*[:：]\s*", re.I)


def _strip_data_prefix(text) -> str:
    """The attribution without a leading "Data:" / "数据：" (the footer prints its own).

    >>> _strip_data_prefix("Data: © OpenStreetMap contributors"), _strip_data_prefix("数据来源：天地图"), _strip_data_prefix("Dataset X")
    ('© OpenStreetMap contributors', '天地图', 'Dataset X')
    """
    if text is None:
        return ""
    text = str(text).strip()
    stripped = _DATA_PREFIX.sub("", text, count=1).strip()
    return stripped or text


def _page(prep: _Prepared, code: str, lang: str, date: dt.date, data_attribution: str | None, ascii_only: bool) -> _Page:
    result = prep.result
    communities = prep.communities[prep.communities["community_code"].astype(str) == code]
    grids = prep.grids[prep.grids["community_code"].astype(str) == code]
    grids = grids.iloc[np.argsort(grids["grid_code"].astype(str).to_numpy(), kind="stable")]
    buildings = prep.buildings[prep.buildings["community_code"].astype(str) == code] if len(prep.buildings) else prep.buildings
    row = communities.iloc[0] if len(communities) else None
    cid = ""
    if row is not None and "community_id" in row.index and not _missing(row["community_id"]):
        cid = str(row["community_id"])
    elif len(grids) and "community_id" in grids.columns and not _missing(grids["community_id"].iloc[0]):
        cid = str(grids["community_id"].iloc[0])
    name = _community_name(row)
    if ascii_only:
        name = name if not _needs_cjk(name) else ""
        cid = cid if not _needs_cjk(cid) else code
    display = name or _t("unnamed", lang, cid=cid or code)
    low, high = _band(result.report)
    households = int(pd.to_numeric(grids.get("households", pd.Series(dtype=float)), errors="coerce").fillna(0).sum())
    subtitle = _t("subtitle", lang, code=code, cid=cid or "—", n=len(grids), hh=f"{households:,}", low=low if low is not None else "—", high=high if high is not None else "—")
    if lang == "zh":
        date_text = _t("date", lang, y=date.year, m=date.month, d=date.day)
    else:
        date_text = _t("date", lang, iso=date.isoformat())
    estimated = "households_estimated" in grids.columns and any(not _missing(v) and bool(v) for v in grids["households_estimated"])
    params = (result.report or {}).get("parameters", {})
    left = [_t("made_by", lang, version=__version__)]
    metric_name = f"{prep.metric.name} (EPSG:{prep.metric.to_epsg()})" if prep.metric.to_epsg() else prep.metric.name
    left.append(_t("crs", lang, crs=metric_name))
    if isinstance(params.get("households"), str) and not estimated:
        column = params["households"]
        if not (ascii_only and _needs_cjk(column)):
            left.append(_t("households_source", lang, col=column))
    elif estimated:
        left.append(_t("households_estimated", lang))
    attribution = _strip_data_prefix(data_attribution)
    right = _t("data", lang, text=attribution) if attribution else ""
    # flagged grids: status and reason
    reasons = []
    if len(grids) and "status" in grids.columns:
        texts = localized_reasons(grids, lang)
        for gcode, status, reason in zip(grids["grid_code"].astype(str), grids["status"], texts if texts is not None else [None] * len(grids)):
            if _missing(status) or str(status) == "in_band":
                continue
            line = f"{gcode} {status_label(status, lang)}"
            if not _missing(reason) and str(reason).strip():
                line += ("：" if lang == "zh" else ": ") + str(reason).strip()
            reasons.append(line)
    # colours: the plan's (touching grids never share one), as on the map and in QGIS
    colours = [prep.fills[str(c)] for c in grids["grid_code"]] if len(grids) else []
    # neighbouring communities, drawn as context
    geoms = communities.geometry
    others = prep.communities[prep.communities["community_code"].astype(str) != code].geometry
    return _Page(
        code=code,
        lang=lang,
        title=_t("title", lang, name=display),
        subtitle=subtitle,
        date=date_text,
        footer_left="　".join(left) if lang == "zh" else " · ".join(left),
        footer_right=right,
        grids=grids,
        community=geoms,
        buildings=buildings,
        neighbours=others,
        colours=colours,
        reasons=reasons,
        estimated=estimated,
    )


def _extent(page: _Page) -> tuple[float, float, float, float]:
    if page.view is not None:
        return page.view
    boxes = [np.asarray(s.total_bounds) for s in (page.community, page.grids.geometry, page.buildings.geometry) if len(s)]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return (-50.0, -50.0, 50.0, 50.0)
    b = np.vstack(boxes)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _statuses(grids: gpd.GeoDataFrame) -> list[str]:
    """Each grid's status (a missing status counts as in band)."""
    if "status" not in grids.columns:
        return ["in_band"] * len(grids)
    return ["in_band" if _missing(s) else str(s) for s in grids["status"]]


#: the corners of the map frame, in the order tried for the scale bar (the north arrow prefers the reverse)
_CORNERS = ("bottom-left", "bottom-right", "top-left", "top-right")
_BAR_BOX = (4.0, 16.0)  # the scale bar's box: its inset from the frame's sides and its height, in mm
_ARROW_R, _ARROW_INSET = 11.0, (14.0, 15.8)  # the north arrow's disc: radius and centre from the corner, mm


def _furniture_box(corner: str, width_mm: float) -> tuple[float, float, float, float]:
    """The scale bar's box (left, bottom, right, top) in mm from the map frame's lower-left corner."""
    w, h = _MAP[2], _MAP[3]
    inset, height = _BAR_BOX
    left = inset if corner.endswith("left") else w - inset - width_mm
    bottom = 2.5 if corner.startswith("bottom") else h - 2.5 - height
    return left, bottom, left + width_mm, bottom + height


def _arrow_centre(corner: str) -> tuple[float, float]:
    """The north arrow disc's centre in mm from the map frame's lower-left corner."""
    w, h = _MAP[2], _MAP[3]
    dx, dy = _ARROW_INSET
    return (dx if corner.endswith("left") else w - dx), (dy - 1.2 if corner.startswith("bottom") else h - dy)


def _place_furniture(community, centre: tuple[float, float], scale: int, min_bar_mm: float) -> tuple[int, tuple[str, str]]:
    """The scale and the corners of the scale bar and the north arrow, so that neither covers the community.

    At each round scale from ``scale`` up, the corners are scored by how much of
    the community each piece would cover: the scale bar takes the emptiest (ties
    in the order of :data:`_CORNERS`), the north arrow the emptiest of the
    others.  The first scale at which both cover nothing is used; a community
    that fills every corner is drawn a step smaller until they clear it.

    Examples
    --------
    >>> import shapely
    >>> square = [shapely.box(0, 0, 500, 500)]
    >>> _place_furniture(square, (250, 250), 2500, 60.0)
    (2500, ('bottom-left', 'top-right'))
    >>> _place_furniture([shapely.box(0, 0, 725, 600)], (362.5, 300), 2500, 60.0)[0] > 2500
    True
    """
    shapes = [geom for geom in community if geom is not None and not geom.is_empty]
    target = shapely.union_all(np.asarray(shapes, dtype=object)) if shapes else shapely.Polygon()
    shapely.prepare(target)
    w, h = _MAP[2], _MAP[3]
    best = (scale, ("bottom-left", "top-right"))
    for _ in range(12):
        g = scale / 1000.0
        x0, y0 = centre[0] - w * g / 2.0, centre[1] - h * g / 2.0
        length = _nice_length(w * g / 5.0)
        bar_mm = max(length / g + 22.0, min_bar_mm)

        def covered(geom) -> float:  # 0 when clear; touching the outline already counts
            return 1.0 + target.intersection(geom).area if target.intersects(geom) else 0.0

        bars = {}
        for corner in _CORNERS:
            left, bottom, right, top = _furniture_box(corner, bar_mm)
            bars[corner] = covered(shapely.box(x0 + left * g, y0 + bottom * g, x0 + right * g, y0 + top * g))
        bar = min(_CORNERS, key=lambda c: (bars[c], _CORNERS.index(c)))
        arrows = {}
        for corner in _CORNERS:
            if corner == bar:
                continue
            ox, oy = _arrow_centre(corner)
            disc = shapely.Point(x0 + ox * g, y0 + oy * g).buffer(_ARROW_R * g, 32)
            arrows[corner] = covered(disc)
        arrow = min(arrows, key=lambda c: (arrows[c], -_CORNERS.index(c)))
        if bars[bar] == 0.0 and arrows[arrow] == 0.0:
            return scale, (bar, arrow)
        if scale == best[0]:
            best = (scale, (bar, arrow))
        scale = _nice_scale(scale * 1.0001 + 1)
    logger.debug("no corner clear of the community at any scale tried; the scale bar and north arrow may cover it")
    return best


def _labels(page: _Page, g: float) -> list[tuple[shapely.Point, float, str, str]]:
    """Each grid's label: the point farthest inside its largest part, the font size (pt), its two lines."""
    out = []
    for geom, gcode, hh in zip(page.grids.geometry, page.grids["grid_code"].astype(str), page.grids.get("households", [None] * len(page.grids))):
        parts = list(_polygons(geom))
        if not parts:
            continue
        polygon = max(parts, key=lambda p: p.area)
        point = polylabel(polygon, tolerance=max(0.25, math.sqrt(polygon.area) / 200.0))
        radius_mm = polygon.boundary.distance(point) / g
        size = float(np.clip(1.7 * radius_mm, 5.0, 12.0))
        out.append((point, size, gcode, _t("hh_label", page.lang, hh=_fmt(hh))))
    return out


def _label_boxes(page: _Page, g: float) -> list[shapely.Polygon]:
    """The ground each label's two lines take at ``g`` metres per millimetre of paper (code above, households below)."""
    boxes = []
    for point, size, gcode, hh_text in _labels(page, g):
        half = max(_text_width_mm(gcode, size), _text_width_mm(hh_text, 0.85 * size)) / 2.0 + 0.6  # + the white halo
        up, down = 0.3 + 1.15 * size * _PT_MM, 0.3 + 1.15 * 0.85 * size * _PT_MM
        boxes.append(shapely.box(point.x - half * g, point.y - down * g, point.x + half * g, point.y + up * g))
    return boxes


def _colliding(boxes: list) -> np.ndarray:
    """Indices of the label boxes that overlap another."""
    if len(boxes) < 2:
        return np.zeros(0, dtype=int)
    tree = shapely.STRtree(boxes)
    left, right = tree.query(boxes, predicate="intersects")
    hit = left != right
    return np.unique(np.concatenate([left[hit], right[hit]]))


def _page_scale(page: _Page) -> int:
    """The round scale _draw_map draws ``page`` at (before the corners for the scale bar are cleared)."""
    minx, miny, maxx, maxy = _extent(page)
    w, h = _MAP[2], _MAP[3]
    return _nice_scale(max(max(maxx - minx, 1.0) * 1.06 / (w / 1000.0), max(maxy - miny, 1.0) * 1.06 / (h / 1000.0)))


def _detail_views(page: _Page) -> list[tuple[tuple[float, float, float, float], object]]:
    """Where labels collide at the page's scale: the ground each detail page should enlarge, and its grids.

    The grids whose labels overlap form clusters (labels that touch, directly or
    through others); each cluster gets a view, its grids' bounding box with 8 %
    of margin and at least a sixth of the main page's frame, and views that
    overlap are merged.  Empty when every label has room, and views that would
    gain no enlargement are left out.  Ordered west to east, then south to north.
    """
    if len(page.grids) < 2:
        return []
    scale = _page_scale(page)
    g = scale / 1000.0
    boxes = _label_boxes(page, g)
    if len(boxes) < 2:
        return []
    tree = shapely.STRtree(boxes)
    left, right = tree.query(boxes, predicate="intersects")
    pairs = [(int(a), int(b)) for a, b in zip(left, right) if a != b]
    if not pairs:
        return []
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        parent[root(a)] = root(b)
    labelled = [i for i, geom in enumerate(page.grids.geometry) if list(_polygons(geom))]
    clusters: dict[int, list[int]] = {}
    for i in sorted({i for pair in pairs for i in pair}):
        clusters.setdefault(root(i), []).append(labelled[i])
    least_w, least_h = _MAP[2] * g / 6.0, _MAP[3] * g / 6.0
    views = []
    for members in clusters.values():
        minx, miny, maxx, maxy = page.grids.iloc[members].total_bounds
        pad = 0.08 * max(maxx - minx, maxy - miny, 1.0)
        cx, cy = (minx + maxx) / 2.0, (miny + maxy) / 2.0
        half_w, half_h = max((maxx - minx) / 2.0 + pad, least_w / 2.0), max((maxy - miny) / 2.0 + pad, least_h / 2.0)
        views.append([cx - half_w, cy - half_h, cx + half_w, cy + half_h, set(members)])
    merged = True
    while merged:  # views that overlap become one
        merged = False
        for a in range(len(views)):
            for b in range(a + 1, len(views)):
                va, vb = views[a], views[b]
                if va[0] <= vb[2] and vb[0] <= va[2] and va[1] <= vb[3] and vb[1] <= va[3]:
                    views[a] = [min(va[0], vb[0]), min(va[1], vb[1]), max(va[2], vb[2]), max(va[3], vb[3]), va[4] | vb[4]]
                    del views[b]
                    merged = True
                    break
            if merged:
                break
    out = []
    for x0, y0, x1, y1, members in sorted(views, key=lambda v: (round(v[0], 3), round(v[1], 3))):
        if _nice_scale(max((x1 - x0) * 1.06 / (_MAP[2] / 1000.0), (y1 - y0) * 1.06 / (_MAP[3] / 1000.0))) >= scale:
            continue  # the cluster spans the page: enlarging it gains nothing
        out.append(((x0, y0, x1, y1), shapely.union_all(page.grids.iloc[sorted(members)].geometry.to_numpy())))
    return out
