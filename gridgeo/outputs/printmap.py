"""Printable maps for public notice (公示): one A3-landscape page per community, as PNG and PDF.

:func:`write_print_maps` draws, for every community of a
:class:`~gridgeo.result.Partition`, one page of 420 × 297 mm with matplotlib
(the Agg and PDF backends on a :class:`matplotlib.figure.Figure`; pyplot is
never used, so no global figure state is created) and writes
``print/<community_code>.png`` and ``print/<community_code>.pdf``.

A page holds the title (community name, "… 网格划分公示图") and the date; the
community outline; its grids filled so that touching grids never share a
colour (the colouring of :mod:`gridgeo.maps`); the buildings in light grey;
each grid's code and households at a point well inside it; a legend and a
table of grid code → households, buildings, joint units and, for flagged
grids, the status and reason; a north arrow pointing to true north; a scale
bar in metres, the map being drawn in the local metric CRS at a round scale
(1:2,000, 1:2,500, …) of the printed page; and a footer with the CRS, the
households source, the data attribution and the gridgeo version.  The scale
bar and the north arrow take the corners of the map frame that leave the
community uncovered (the community is drawn a round scale smaller when every
corner is taken).  Where grid labels would collide at the page's scale (a
village core in a large rural community), the dense part is framed on the page
and enlarged on a detail page, ``print/<community_code>-detail.png`` and ``.pdf`` (``-detail-2`` … for
further dense parts).

Chinese text needs a font with Chinese characters: the one
``scripts/install-system-deps.sh`` installs (WenQuanYi Micro Hei, Debian
``fonts-wqy-microhei``) is preferred, then any other CJK font matplotlib knows
(Noto Sans CJK, Source Han Sans, …).  Without one, ``lang="zh"`` raises
:class:`~gridgeo.errors.FontMissingError`; ``lang="en"`` falls back to
DejaVu Sans and shows community ids instead of Chinese names.

The same inputs (including ``date``) give byte-identical PNG and PDF files:
the creation date and software tags are left out of both.  TrueType fonts are
embedded in the PDF as Type 42 (the text stays searchable), CFF-based fonts
as Type 3.

This module only reads a partition result; it never runs the algorithms.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
import logging
import math
import os
import re
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.ops import polylabel

from .. import __version__
from ..errors import FontMissingError, InputError, Problem
from ..inputs.crs import local_metric_crs
from ..labels import check_lang, localized_reasons, status_label
from ..progress import progress_bar
from ..result import Partition
from .files import write_atomic
from .maps import _sanitise_filename
from .report import CJK_FAMILIES, NAME_COLUMNS
from .styles import fill_colours, grid_colours

__all__ = ["PAGE_MM", "CJKFont", "find_cjk_font", "check_fonts", "print_figure", "render_print_map", "write_print_maps"]

logger = logging.getLogger(__name__)

#: page size in millimetres: A3 landscape
PAGE_MM = (420.0, 297.0)
_PT_MM = 25.4 / 72.0  # one typographic point in millimetres

#: the font installed by scripts/install-system-deps.sh comes first, then the report's list
PRINT_FAMILIES = ("WenQuanYi Micro Hei", *(f for f in CJK_FAMILIES if f != "WenQuanYi Micro Hei"))
_PROBE = "网格划分公示图社区户数建筑联户"

# page layout, in millimetres from the lower-left corner of the page
_FRAME = 8.0
_MAP = (14.0, 22.0, 290.0, 240.0)  # x, y, width, height
_PANEL_X, _PANEL_W = 312.0, 94.0
_PANEL_TOP, _PANEL_BOTTOM = 262.0, 22.0

# drawing styles
_BUILDING_FILL, _BUILDING_EDGE = "#d4d4d4", "#9a9a9a"
_GRID_EDGE = "#4d4d4d"
_STATUS_STYLE = {  # outline of a flagged grid: colour, width (pt), line style
    "oversize_building": ("#ff7f00", 2.4, "solid"),
    "infeasible_total": ("#7b3294", 2.4, (0, (4, 2.5))),
    "detached_part": ("#2c7bb6", 2.4, (0, (1, 2))),
    "dedicated": ("#1a9641", 2.4, (0, (3, 1.5))),
    "out_of_band": ("#d7191c", 3.0, "solid"),
    "_other": ("#000000", 2.0, (0, (1, 2))),
}

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
        "zh": "注：户数为估算值（建筑面积 × 层数），仅供参考，请核实。",
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


# --------------------------------------------------------------------------- fonts


@dataclass(frozen=True)
class CJKFont:
    """An installed font that can draw Chinese text.

    Attributes
    ----------
    family : str
        Family name as matplotlib knows it (e.g. ``"WenQuanYi Micro Hei"``).
    path : str
        The font file.
    index : int
        Face index inside a font collection (``.ttc``).
    truetype : bool
        Whether the outlines are TrueType (``glyf``); such fonts are embedded
        in PDFs as Type 42, others as Type 3.
    """

    family: str
    path: str
    index: int
    truetype: bool


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x3FFFF


def _needs_cjk(text: str) -> bool:
    return any(_is_cjk(ch) for ch in text)


@functools.lru_cache(maxsize=64)
def _charmap(path: str, index: int) -> frozenset[int]:
    from matplotlib import ft2font

    try:
        return frozenset(ft2font.FT2Font(path, face_index=index).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


@functools.lru_cache(maxsize=64)
def _has_truetype_outlines(path: str, index: int) -> bool:
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(path, fontNumber=index, lazy=True) as font:
            return "glyf" in font
    except (OSError, TTLibError, AssertionError):
        return False


def find_cjk_font(text: str = _PROBE) -> CJKFont | None:
    """The installed font that best draws the Chinese characters of ``text``, or ``None``.

    Fonts of :data:`PRINT_FAMILIES` are tried first (WenQuanYi Micro Hei, the
    font ``scripts/install-system-deps.sh`` installs, leads), then every other
    font matplotlib knows, by name.  The first font that holds every CJK
    character of ``text`` wins; when none holds all of them, the one holding
    most of them (and at least the common characters of a notice) is returned.

    Parameters
    ----------
    text : str
        The text to draw (only its CJK characters matter).

    Returns
    -------
    CJKFont or None
        ``None`` when no font holds common Chinese characters.

    Examples
    --------
    >>> font = find_cjk_font("忠德里 网格划分公示图")
    >>> font is None or isinstance(font.family, str)
    True
    """
    from matplotlib import font_manager

    wanted = sorted({ord(ch) for ch in _PROBE + text if _is_cjk(ch)})
    probe = {ord(ch) for ch in _PROBE}
    entries: dict[str, object] = {}
    for entry in font_manager.fontManager.ttflist:
        if entry.style == "normal" and entry.weight in (400, "normal", "regular"):
            entries.setdefault(entry.name, entry)
    for entry in font_manager.fontManager.ttflist:
        entries.setdefault(entry.name, entry)
    order = [name for name in PRINT_FAMILIES if name in entries] + sorted(n for n in entries if n not in PRINT_FAMILIES)
    best, best_count = None, -1
    for name in order:
        entry = entries[name]
        index = int(getattr(entry, "index", 0) or 0)
        charmap = _charmap(entry.fname, index)
        if not probe <= charmap:
            continue
        count = sum(1 for code in wanted if code in charmap)
        if count > best_count:
            best, best_count = CJKFont(name, entry.fname, index, _has_truetype_outlines(entry.fname, index)), count
        if count == len(wanted):
            break
    if best is not None:
        missing = [chr(code) for code in wanted if code not in _charmap(best.path, best.index)]
        if missing:
            logger.warning("font %s lacks %d characters of the page (%s): they will show as boxes", best.family, len(missing), "".join(missing[:20]))
    return best


def check_fonts(lang: str) -> None:
    """Fail early when pages in ``lang`` cannot be printed (Chinese without a CJK font).

    Raises
    ------
    gridgeo.errors.FontMissingError
        ``lang="zh"`` and no font with Chinese characters is installed.

    Examples
    --------
    >>> check_fonts("en")  # English needs no CJK font
    """
    check_lang(lang)
    if lang == "zh" and find_cjk_font() is None:
        raise _no_font_error("a printed map in Chinese")


def _has_bold(family: str) -> bool:
    """Whether matplotlib knows a bold (weight ≥ 600) face of ``family``."""
    from matplotlib import font_manager

    for entry in font_manager.fontManager.ttflist:
        if entry.name == family:
            weight = entry.weight if isinstance(entry.weight, int) else font_manager.weight_dict.get(str(entry.weight), 400)
            if weight >= 600:
                return True
    return False


def _no_font_error(what: str) -> FontMissingError:
    return FontMissingError(
        f"{what} needs a font with Chinese characters, and matplotlib knows none — fix: run `bash scripts/install-system-deps.sh` "
        "(it installs fonts-wqy-microhei), then remove matplotlib's font cache (~/.cache/matplotlib) so the new font is "
        "found; or print with lang='en' (--lang en)"
    )


# --------------------------------------------------------------------------- data


@dataclass
class _Prepared:
    """A partition reprojected once into its metric CRS, for drawing many pages."""

    result: Partition
    metric: CRS
    communities: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    codes: list[str]


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
    return _Prepared(
        result=result,
        metric=metric,
        communities=communities.to_crs(metric),
        grids=grids.to_crs(metric),
        buildings=buildings.to_crs(metric) if len(buildings) else buildings.set_crs(metric, allow_override=True),
        codes=codes,
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
    for column in NAME_COLUMNS:
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


# --------------------------------------------------------------------------- geometry helpers


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


# --------------------------------------------------------------------------- the page


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
    # colours: touching grids never share one
    colour_index = grid_colours(grids) if len(grids) else np.zeros(0, dtype=int)
    palette = fill_colours(int(colour_index.max()) + 1 if len(colour_index) else 0)
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
        colours=[palette[k] for k in colour_index],
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


def _text(ax, x, y, s, size, **kwargs):
    """Text with mathtext off (a '$' in a name stays a '$')."""
    return ax.text(x, y, s, fontsize=size, parse_math=False, **kwargs)


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


def _draw_map(fig, page: _Page, metric: CRS) -> tuple[int, bool]:
    """Draw the map frame; returns the scale denominator and whether neighbouring communities show."""
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import Circle, PathPatch, Polygon, Rectangle
    from matplotlib.patheffects import withStroke

    x, y, w, h = _MAP
    ax = fig.add_axes([x / PAGE_MM[0], y / PAGE_MM[1], w / PAGE_MM[0], h / PAGE_MM[1]])
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)
    minx, miny, maxx, maxy = _extent(page)
    span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    # a round scale at which the community (plus 6 % of margin) fits the frame, and corners for the
    # scale bar and the north arrow that leave the community uncovered (a smaller scale if none does)
    scale = _nice_scale(max(span_x * 1.06 / (w / 1000.0), span_y * 1.06 / (h / 1000.0)))
    cx, cy = (minx + maxx) / 2.0, (miny + maxy) / 2.0
    scale_text = _t("scale", page.lang, n=f"{scale:,}")
    keep_clear = [page.focus] if page.focus is not None else page.community
    scale, (bar_corner, arrow_corner) = _place_furniture(keep_clear, (cx, cy), scale, _text_width_mm(scale_text, 8.0) + 12.0)
    g = scale / 1000.0  # metres on the ground per millimetre of paper
    x0, x1, y0, y1 = cx - w * g / 2.0, cx + w * g / 2.0, cy - h * g / 2.0, cy + h * g / 2.0
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("auto")  # the limits already have the frame's proportions: 1 m is 1 m both ways

    view = shapely.box(x0, y0, x1, y1)
    neighbours = [geom for geom in page.neighbours if geom is not None and geom.intersects(view)]
    if neighbours:
        # shared borders once (two dashed outlines on one border would look solid)
        borders = shapely.line_merge(shapely.union_all(shapely.boundary(np.asarray(neighbours, dtype=object))))
        lines = [np.asarray(part.coords)[:, :2] for part in shapely.get_parts(borders) if not part.is_empty]
        ax.add_collection(LineCollection(lines, colors="#8c8c8c", linewidths=1.0, linestyles=[(0, (4, 2))], zorder=1))
    grid_paths = [_path([geom]) for geom in page.grids.geometry]
    patches = [PathPatch(p) for p in grid_paths if p is not None]
    colours = [c for p, c in zip(grid_paths, page.colours) if p is not None]
    if patches:
        ax.add_collection(PatchCollection(patches, facecolors=colours, edgecolors="none", linewidths=0, zorder=2, gid="grid-fills"))
    # buildings: polygons as one path, points as dots
    polygonal = page.buildings[page.buildings.geometry.geom_type.isin(["Polygon", "MultiPolygon", "GeometryCollection"])]
    path = _path(polygonal.geometry)
    if path is not None:
        ax.add_patch(PathPatch(path, facecolor=_BUILDING_FILL, edgecolor=_BUILDING_EDGE, linewidth=0.2, zorder=3))
    points = page.buildings[page.buildings.geometry.geom_type == "Point"]
    if len(points):
        ax.scatter(points.geometry.x, points.geometry.y, s=6, c=_BUILDING_FILL, edgecolors=_BUILDING_EDGE, linewidths=0.3, zorder=3)
    if patches:
        ax.add_collection(PatchCollection([PathPatch(p) for p in grid_paths if p is not None], facecolors="none", edgecolors=_GRID_EDGE, linewidths=0.8, zorder=4))
    statuses = _statuses(page.grids)
    for p, status in zip(grid_paths, statuses):
        if p is None or status == "in_band":
            continue
        colour, width, style = _STATUS_STYLE.get(status, _STATUS_STYLE["_other"])
        ax.add_patch(PathPatch(p, facecolor="none", edgecolor=colour, linewidth=width, linestyle=style, zorder=5))
    path = _path(page.community)
    if path is not None:
        ax.add_patch(PathPatch(path, facecolor="none", edgecolor="#111111", linewidth=2.2, zorder=6))

    # grid labels: code and households at the point farthest inside each grid
    halo = [withStroke(linewidth=2.4, foreground="white")]
    for point, size, gcode, hh_text in _labels(page, g):
        _text(ax, point.x, point.y + 0.3 * g, gcode, size, ha="center", va="bottom", fontweight="bold", color="#111111", path_effects=halo, zorder=7, clip_on=True)
        _text(ax, point.x, point.y - 0.3 * g, hh_text, 0.85 * size, ha="center", va="top", color="#222222", path_effects=halo, zorder=7, clip_on=True)
    for k, (dx0, dy0, dx1, dy1) in enumerate(page.details, start=1):  # the ground each detail page enlarges
        ax.add_patch(Rectangle((dx0, dy0), dx1 - dx0, dy1 - dy0, facecolor="none", edgecolor="#c51b7d", linewidth=1.4, linestyle=(0, (5, 2)), zorder=7, gid="detail-frame"))
        _text(ax, dx0, dy1 + 0.8 * g, _t("detail_mark", page.lang, k=k), 8.0, ha="left", va="bottom", color="#c51b7d", fontweight="bold", path_effects=halo, zorder=7, clip_on=True)

    # scale bar, in the corner _place_furniture chose
    scale_text = _t("scale", page.lang, n=f"{scale:,}")
    length = _nice_length(w * g / 5.0)
    box_mm = max(length / g + 22.0, _text_width_mm(scale_text, 8.0) + 12.0)
    left, bottom = _furniture_box(bar_corner, box_mm)[:2]
    bx, by = x0 + (left + 5.0) * g, y0 + (bottom + 6.5) * g
    bar_h = 1.8 * g
    ax.add_patch(Rectangle((bx - 5.0 * g, by - 6.5 * g), box_mm * g, _BAR_BOX[1] * g, facecolor="white", edgecolor="#777777", linewidth=0.5, alpha=0.9, zorder=8, gid="scale-bar"))
    for i in range(4):
        ax.add_patch(Rectangle((bx + i * length / 4.0, by), length / 4.0, bar_h, facecolor="#111111" if i % 2 == 0 else "white", edgecolor="#111111", linewidth=0.6, zorder=9))
    for value, xpos in ((0, bx), (length / 2.0, bx + length / 2.0), (length, bx + length)):
        label = f"{value:g}" + (f" {_T['metres'][page.lang]}" if value == length else "")
        _text(ax, xpos, by - 1.0 * g, label, 7.5, ha="center" if value != length else "left", va="top", zorder=9)
    _text(ax, bx, by + bar_h + 1.5 * g, scale_text, 8.0, ha="left", va="bottom", zorder=9)

    # north arrow, pointing to true north, in the other corner _place_furniture chose
    theta = _north_angle(metric, cx, cy)
    ox, oy = _arrow_centre(arrow_corner)
    ax_, ay_ = x0 + ox * g, y0 + (oy - 1.2) * g
    size = 7.0 * g
    ax.add_patch(Circle((ax_, ay_ + 1.2 * g), _ARROW_R * g, facecolor="white", edgecolor="#777777", linewidth=0.5, alpha=0.9, zorder=8, gid="north-arrow"))

    def turn(px, py):
        return ax_ + size * (px * math.cos(theta) + py * math.sin(theta)), ay_ + size * (-px * math.sin(theta) + py * math.cos(theta))

    tip, left, notch, right = turn(0, 1), turn(-0.42, -0.75), turn(0, -0.35), turn(0.42, -0.75)
    ax.add_patch(Polygon([tip, left, notch], closed=True, facecolor="#111111", edgecolor="#111111", linewidth=0.6, zorder=9))
    ax.add_patch(Polygon([tip, notch, right], closed=True, facecolor="white", edgecolor="#111111", linewidth=0.6, zorder=9))
    lx, ly = turn(0, 1.3)
    _text(ax, lx, ly, _T["north"][page.lang], 10.0, ha="center", va="bottom", fontweight="bold", rotation=-math.degrees(theta), rotation_mode="anchor", zorder=9)
    return scale, bool(neighbours)


def _draw_panel(ax, page: _Page, neighbours_shown: bool) -> None:
    """Legend, grid table and notes on the page axes (millimetres), right of the map."""
    from matplotlib.patches import Rectangle

    lang = page.lang
    x = _PANEL_X
    y = _PANEL_TOP
    line = 4.6

    def swatch(yc, **style):
        ax.add_patch(Rectangle((x, yc - 1.8), 8.0, 3.6, **style))

    def hline(yc, x_from, x_to, width=0.6):
        ax.plot([x_from, x_to], [yc, yc], color="#333333", linewidth=width, solid_capstyle="butt")

    # legend
    _text(ax, x, y, _T["legend"][lang], 11.0, va="top", fontweight="bold")
    y -= 7.0
    for i, colour in enumerate(fill_colours(4)[:4]):
        ax.add_patch(Rectangle((x + 2.0 * i, y - 1.8), 2.0, 3.6, facecolor=colour, edgecolor="none"))
    ax.add_patch(Rectangle((x, y - 1.8), 8.0, 3.6, facecolor="none", edgecolor=_GRID_EDGE, linewidth=0.5))
    _text(ax, x + 11.0, y, _T["grid_fill"][lang], 8.0, va="center")
    y -= line
    hline(y, x, x + 8.0, 0.8)
    _text(ax, x + 11.0, y, _T["grid_edge"][lang], 8.0, va="center")
    y -= line
    hline(y, x, x + 8.0, 2.2)
    _text(ax, x + 11.0, y, _T["community_edge"][lang], 8.0, va="center")
    y -= line
    swatch(y, facecolor=_BUILDING_FILL, edgecolor=_BUILDING_EDGE, linewidth=0.3)
    _text(ax, x + 11.0, y, _T["buildings"][lang], 8.0, va="center")
    y -= line
    if neighbours_shown:
        ax.plot([x, x + 8.0], [y, y], color="#8c8c8c", linewidth=1.0, linestyle=(0, (4, 2)))
        _text(ax, x + 11.0, y, _T["neighbours"][lang], 8.0, va="center")
        y -= line
    present = sorted(set(_statuses(page.grids)) - {"in_band"})
    for status in present:
        colour, width, style = _STATUS_STYLE.get(status, _STATUS_STYLE["_other"])
        swatch(y, facecolor="none", edgecolor=colour, linewidth=min(width, 2.0), linestyle=style)
        _text(ax, x + 11.0, y, status_label(status, lang), 8.0, va="center")
        y -= line
    y -= 3.0

    # notes at the bottom of the panel: estimated households, flagged grids
    notes: list[tuple[str, float, str, str]] = []  # text, size, weight, colour
    if page.estimated:
        notes += [(s, 7.0, "normal", "#b00020") for s in _wrap(_T["estimated"][lang], _PANEL_W, 7.0)]
    if page.reasons:
        notes.append((_T["flagged"][lang], 8.0, "bold", "#111111"))
        for reason in page.reasons:
            notes += [(s, 6.5, "normal", "#111111") for s in _wrap(reason, _PANEL_W, 6.5)]
    max_notes = int((y - _PANEL_BOTTOM) * 0.4 / 3.1)
    if len(notes) > max_notes:
        notes = [*notes[: max(max_notes - 1, 0)], ("…", 6.5, "normal", "#111111")]
    notes_height = sum(size * _PT_MM * 1.35 for _, size, _, _ in notes) + (2.0 if notes else 0.0)

    # the grid table
    _text(ax, x, y, _T["table"][lang], 11.0, va="top", fontweight="bold")
    y -= 7.5
    n = len(page.grids)
    top = y
    available = top - _PANEL_BOTTOM - notes_height - 2 * 4.6  # header and total rows
    size = 8.5
    while size > 6.0 and n * size * _PT_MM * 1.6 > available:
        size -= 0.5
    row_h = size * _PT_MM * 1.6
    per_column = max(int(available // row_h), 1)
    compact = n > per_column
    columns = 2 if compact else 1
    shown = n if n <= per_column * columns else per_column * columns - 1
    col_w = _PANEL_W / columns
    if compact:
        layout = {"code": (5.5, "left"), "hh": (col_w - 9.0, "right"), "flag": (col_w - 7.0, "left")}
    else:
        layout = {"code": (6.0, "left"), "hh": (40.0, "right"), "nb": (53.0, "right"), "nu": (66.0, "right"), "status": (69.0, "left")}
    header_size = min(size, 8.0)
    for c in range(columns):
        cx = x + c * col_w
        for key, (dx, align) in layout.items():
            if key in ("flag",):
                continue
            _text(ax, cx + dx, y, _T[key][lang], header_size, ha=align, va="center", fontweight="bold")
    y -= 2.6
    hline(y, x, x + _PANEL_W, 0.6)
    y -= row_h / 2.0 + 0.6
    grids = page.grids
    households = grids.get("households", pd.Series([None] * n, index=grids.index)).tolist()
    n_b = grids.get("n_buildings", pd.Series([None] * n, index=grids.index)).tolist()
    n_u = grids.get("n_units", pd.Series([None] * n, index=grids.index)).tolist()
    statuses = _statuses(grids)
    codes = grids["grid_code"].astype(str).tolist()
    first_row_y = y
    for i in range(shown):
        c, r = divmod(i, per_column)
        cx = x + c * col_w
        ry = first_row_y - r * row_h
        if r % 2 == 0:
            ax.add_patch(Rectangle((cx, ry - row_h / 2.0), col_w - (1.0 if compact else 0.0), row_h, facecolor="#f0f0f0", edgecolor="none", zorder=0.5))
        status = statuses[i]
        edge, width, style = _STATUS_STYLE.get(status, (_GRID_EDGE, 0.5, "solid")) if status != "in_band" else (_GRID_EDGE, 0.5, "solid")
        ax.add_patch(Rectangle((cx + 0.3, ry - row_h * 0.3), 4.0, row_h * 0.6, facecolor=page.colours[i], edgecolor=edge, linewidth=min(width, 1.2)))
        values = {"code": codes[i], "hh": _fmt(households[i]), "nb": _fmt(n_b[i]), "nu": _fmt(n_u[i])}
        if status != "in_band":
            values["status"] = status_label(status, lang)
            values["flag"] = "*"
        for key, (dx, align) in layout.items():
            text = values.get(key, "")
            if not text:
                continue
            fs = size
            if key == "status":
                fs = min(size, 7.0)
                while fs > 5.0 and _text_width_mm(text, fs) > _PANEL_W - dx:
                    fs -= 0.5
            colour = _STATUS_STYLE.get(status, _STATUS_STYLE["_other"])[0] if key in ("status", "flag") else "#111111"
            _text(ax, cx + dx, ry, text, fs, ha=align, va="center", color=colour, fontweight="bold" if key == "flag" else "normal")
    rows_used = min(shown, per_column)
    y = first_row_y - rows_used * row_h + row_h / 2.0
    if shown < n:
        _text(ax, x, y - row_h / 2.0, _t("more", lang, n=n - shown), min(size, 7.5), va="center", color="#555555")
        y -= row_h
    y -= 0.8
    hline(y, x, x + _PANEL_W, 0.6)
    y -= 3.0
    total = pd.to_numeric(pd.Series(households), errors="coerce").fillna(0).sum()
    total_b = pd.to_numeric(pd.Series(n_b), errors="coerce").fillna(0).sum()
    total_u = pd.to_numeric(pd.Series(n_u), errors="coerce").fillna(0).sum()
    totals = {"code": f"{_T['total'][lang]} ({n})", "hh": _fmt(total), "nb": _fmt(total_b), "nu": _fmt(total_u)}
    for key, (dx, align) in layout.items():
        if key in totals:
            _text(ax, x + dx, y, totals[key], min(size, 8.5), ha=align, va="center", fontweight="bold")
    y -= 6.0

    # notes
    for text, fs, weight, colour in notes:
        _text(ax, x, y, text, fs, va="top", fontweight=weight, color=colour)
        y -= fs * _PT_MM * 1.35


def _figure(prep: _Prepared, code: str, *, lang: str, date: dt.date | None, data_attribution: str | None, detail: int = 0):
    """The page of community ``code`` as a Figure, and the CJK font it uses (``None``: DejaVu Sans only).

    With ``detail=k`` (1, 2, …), the k-th detail page instead: a part where grid
    labels collide at the main page's scale, enlarged (``None`` when there is no
    k-th such part).
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    from matplotlib.patheffects import Normal, Stroke
    from matplotlib.text import Text

    check_lang(lang)
    if code not in prep.codes:
        raise InputError(Problem("community", f"no community with code {code!r}", f"use one of {', '.join(prep.codes[:10])}"))
    when = _today(date)
    page = _page(prep, code, lang, when, data_attribution, ascii_only=False)
    font = find_cjk_font(page.texts()) if _needs_cjk(page.texts()) else None
    if font is None and _needs_cjk(page.texts()):
        if lang == "zh":
            raise _no_font_error("a printed map in Chinese")
        page = _page(prep, code, lang, when, data_attribution, ascii_only=True)
        if _needs_cjk(page.texts()):
            raise _no_font_error("the data attribution of the printed map")
        if not detail:
            logger.warning("no CJK font installed: community %s is printed with its id instead of its Chinese name", code)
    views = _detail_views(page)
    if detail:
        if int(detail) > len(views):
            return None
        view, focus = views[int(detail) - 1]
        page = dataclasses.replace(page, view=view, focus=focus, title=page.title + _t("detail_suffix", lang, k=int(detail)))
    else:
        page = dataclasses.replace(page, details=tuple(view for view, _ in views))
    families = [font.family, "DejaVu Sans"] if font else ["DejaVu Sans"]
    rc = {"font.family": "sans-serif", "font.sans-serif": families, "axes.unicode_minus": False}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(PAGE_MM[0] / 25.4, PAGE_MM[1] / 25.4), dpi=100)
        FigureCanvasAgg(fig)  # no pyplot: nothing global is created
        paper = fig.add_axes([0.0, 0.0, 1.0, 1.0])
        paper.set_xlim(0.0, PAGE_MM[0])
        paper.set_ylim(0.0, PAGE_MM[1])
        paper.set_axis_off()
        paper.add_patch(Rectangle((_FRAME, _FRAME), PAGE_MM[0] - 2 * _FRAME, PAGE_MM[1] - 2 * _FRAME, facecolor="none", edgecolor="#111111", linewidth=1.2))
        paper.plot([_FRAME, PAGE_MM[0] - _FRAME], [267.0, 267.0], color="#111111", linewidth=0.6)
        paper.plot([_FRAME, PAGE_MM[0] - _FRAME], [18.0, 18.0], color="#111111", linewidth=0.4)
        title_size = 22.0
        while title_size > 12.0 and _text_width_mm(page.title, title_size) > 300.0:
            title_size -= 1.0
        _text(paper, _MAP[0], 283.5, page.title, title_size, va="top", fontweight="bold")
        _text(paper, _MAP[0], 273.0, page.subtitle, 10.5, va="top", color="#333333")
        _text(paper, _PANEL_X + _PANEL_W, 283.5, page.date, 12.0, va="top", ha="right")
        _text(paper, _MAP[0], 13.0, page.footer_left, 7.5, va="center", color="#333333")
        if page.footer_right:
            _text(paper, _PANEL_X + _PANEL_W, 13.0, page.footer_right, 7.5, va="center", ha="right", color="#333333")
        scale, neighbours_shown = _draw_map(fig, page, prep.metric)
        _draw_panel(paper, page, neighbours_shown)
    # the families go onto every text, so the figure draws the same outside this rc_context too;
    # a CJK font without a bold face (WenQuanYi Micro Hei) gets bold drawn as a thin outline
    faux_bold = font is not None and not _has_bold(font.family)
    for text in fig.findobj(Text):
        text.set_fontfamily(families)
        if faux_bold and text.get_fontweight() in ("bold", 700):
            text.set_fontweight("normal")
            text.set_path_effects([*text.get_path_effects(), Stroke(linewidth=0.6, foreground=text.get_color()), Normal()])
    logger.debug("community %s: %d grids, %d buildings, scale 1:%d, font %s", code, len(page.grids), len(page.buildings), scale, families[0])
    return fig, font, page.title


def _save(fig, font: CJKFont | None, dpi: int, title: str) -> tuple[bytes, bytes]:
    import matplotlib

    png, pdf = io.BytesIO(), io.BytesIO()
    fonttype = 42 if font is None or font.truetype else 3
    with matplotlib.rc_context({"pdf.fonttype": fonttype}):
        fig.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
        fig.savefig(
            pdf,
            format="pdf",
            metadata={"CreationDate": None, "ModDate": None, "Creator": f"gridgeo {__version__}", "Producer": None, "Title": title},
        )
    return png.getvalue(), pdf.getvalue()


def _check_dpi(dpi) -> int:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, np.integer)) or not 20 <= int(dpi) <= 600:
        raise InputError(Problem("dpi", f"{dpi!r} is not a resolution between 20 and 600 dots per inch", "use e.g. 150 (screen, quick print) or 300 (print shop)"))
    return int(dpi)


# --------------------------------------------------------------------------- public API


def print_figure(
    result: Partition,
    community_code: str,
    *,
    lang: str = "zh",
    date: dt.date | None = None,
    data_attribution: str | None = None,
    detail: int = 0,
):
    """Draw the A3-landscape notice page of one community as a matplotlib Figure.

    Parameters
    ----------
    result : Partition
        A result of :func:`gridgeo.partition` or :func:`gridgeo.read_outputs`
        (any CRS; it is not modified).
    community_code : str
        The community's code (``"001"``), as in ``result.communities``.
    lang : {"zh", "en"}
        Language of the page's words (data values are shown as they are).
    date : datetime.date, optional
        The date printed under the title (default: today, or
        ``$SOURCE_DATE_EPOCH`` when set).
    data_attribution : str, optional
        Source and licence of the input data, shown in the footer.
    detail : int
        Draw the ``detail``-th detail page instead (1, 2, …): a part of the
        community where grid labels would collide at the main page's scale,
        enlarged (the main page frames each such part, numbered).

    Returns
    -------
    matplotlib.figure.Figure or None
        420 × 297 mm, attached to an Agg canvas (not to pyplot); ``None`` for
        ``detail=k`` when the main page has fewer than k such parts.

    Raises
    ------
    gridgeo.errors.FontMissingError
        ``lang="zh"`` (or Chinese text in ``data_attribution``) and no font
        with Chinese characters is installed.
    gridgeo.errors.InputError
        Unknown language or community code, or a result that is not gridgeo's.

    Examples
    --------
    >>> import datetime, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> fig = print_figure(gridgeo.partition(c, b, households="hh"), "001", lang="en", date=datetime.date(2026, 1, 5))
    >>> [round(v * 25.4) for v in fig.get_size_inches()]
    [420, 297]
    >>> "Date: 2026-01-05" in [t.get_text() for t in fig.axes[0].texts]
    True
    """
    drawn = _figure(_prepare(result), str(community_code), lang=lang, date=date, data_attribution=data_attribution, detail=detail)
    return None if drawn is None else drawn[0]


def render_print_map(
    result: Partition,
    community_code: str,
    *,
    lang: str = "zh",
    dpi: int = 150,
    date: dt.date | None = None,
    data_attribution: str | None = None,
) -> tuple[bytes, bytes]:
    """Render one community's notice page as PNG and PDF bytes.

    Parameters
    ----------
    result, community_code, lang, date, data_attribution
        As for :func:`print_figure`.
    dpi : int
        PNG resolution (20–600): 150 gives 2480 × 1754 pixels, 300 is print-shop
        quality.  The PDF is vector and does not depend on it.

    Returns
    -------
    (bytes, bytes)
        The PNG and the PDF.  The same arguments give the same bytes (no
        creation date or software tags).

    Examples
    --------
    >>> import datetime, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> png, pdf = render_print_map(gridgeo.partition(c, b, households="hh"), "001", lang="en", dpi=30, date=datetime.date(2026, 1, 5))
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", pdf[:5]
    (True, b'%PDF-')
    """
    dpi = _check_dpi(dpi)
    fig, font, title = _figure(_prepare(result), str(community_code), lang=lang, date=date, data_attribution=data_attribution)
    return _save(fig, font, dpi, title)


def write_print_maps(
    result: Partition,
    outdir: str | Path,
    *,
    lang: str = "zh",
    dpi: int = 150,
    date: dt.date | None = None,
    data_attribution: str | None = None,
    progress: bool = False,
) -> list[Path]:
    """Write ``outdir/print/<community_code>.png`` and ``.pdf`` for every community.

    Parameters
    ----------
    result : Partition
        The partition to print.
    outdir : str or Path
        Folder to write into; ``print/`` is created in it.  Each file is written
        atomically; file names come from the sanitised community codes only.
    lang, dpi, date, data_attribution
        As for :func:`render_print_map`.
    progress : bool
        Show a progress bar over the communities (stderr).

    Returns
    -------
    list of Path
        The files written, PNG then PDF per community, by community code;
        where grid labels would collide at the page's scale, a detail page
        follows (``<community_code>-detail.png`` and ``.pdf``, then
        ``-detail-2`` …: each dense part enlarged, and framed on the main page).

    Raises
    ------
    gridgeo.errors.FontMissingError
        ``lang="zh"`` and no font with Chinese characters is installed (nothing
        is written).

    Examples
    --------
    >>> import datetime, tempfile, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> paths = write_print_maps(gridgeo.partition(c, b, households="hh"), tempfile.mkdtemp(), lang="en", dpi=30)
    >>> [p.name for p in paths]
    ['001.png', '001.pdf']
    """
    check_lang(lang)
    dpi = _check_dpi(dpi)
    prep = _prepare(result)
    when = _today(date)
    folder = Path(outdir) / "print"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    taken: set[str] = set()
    started = time.perf_counter()
    for code in progress_bar(prep.codes, enabled=progress, desc="print", unit="community"):
        t0 = time.perf_counter()
        fig, font, title = _figure(prep, code, lang=lang, date=when, data_attribution=data_attribution)
        png, pdf = _save(fig, font, dpi, title)
        stem, n = _sanitise_filename(code), 2
        name = stem
        while name.lower() in taken:
            name, n = f"{stem}-{n}", n + 1
        taken.add(name.lower())
        for suffix, data in ((".png", png), (".pdf", pdf)):
            written.append(write_atomic(folder / f"{name}{suffix}", data))
        k = 1
        while (extra := _figure(prep, code, lang=lang, date=when, data_attribution=data_attribution, detail=k)) is not None:
            # labels collide at the page's scale: each dense part enlarged on a page of its own
            png, pdf = _save(extra[0], extra[1], dpi, extra[2])
            detail_name = f"{name}-detail" + (f"-{k}" if k > 1 else "")
            taken.add(detail_name.lower())
            for suffix, data in ((".png", png), (".pdf", pdf)):
                written.append(write_atomic(folder / f"{detail_name}{suffix}", data))
            k += 1
        logger.debug("printed community %s in %.2f s", code, time.perf_counter() - t0)
    logger.info("wrote %d printable maps (PNG + PDF, A3) into %s in %.1f s", len(prep.codes), folder, time.perf_counter() - started)
    return written
