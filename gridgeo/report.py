"""A self-contained HTML report of a finished partition (``report.html``).

One page, no external resources: the styles are inline, the two plots
(households per grid with the band marked, and the Polsby-Popper distribution)
are inline SVG drawn by matplotlib with its text turned into paths, so the page
looks the same on any machine, offline.  A Content-Security-Policy forbids
scripts and remote loads.  Every data value is HTML-escaped.

Plot labels are Chinese when ``lang="zh"`` and a CJK-capable font is installed
(Noto Sans CJK, Source Han Sans, WenQuanYi, Microsoft YaHei, SimHei, ...);
otherwise the plots use plain ASCII English labels so that nothing renders as
empty boxes.  The HTML text itself is always in the chosen language (the
browser renders it with its own fonts).

This module only reads a :class:`~gridgeo.result.Partition`; it never runs an
algorithm.
"""

from __future__ import annotations

import functools
import html
import io
import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import timings
from .files import write_atomic
from .labels import REASONS, check_lang, status_label

__all__ = ["build_report_html", "write_report", "cjk_font"]

logger = logging.getLogger(__name__)

#: fonts tried first, in order, for Chinese plot labels
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Droid Sans Fallback",
)
_PROBE = "网格户数社区均值"
#: columns of ``result.communities`` tried, in order, for community names
NAME_COLUMNS = ("name", "Name", "NAME", "community_name", "名称", "社区名称", "社区", "comm_name")

_T: dict[str, dict[str, str]] = {
    "title": {"zh": "网格划分报告", "en": "Grid partition report"},
    "parameters": {"zh": "参数", "en": "Parameters"},
    "grid_band": {"zh": "网格户数区间", "en": "grid households band"},
    "unit_band": {"zh": "联户户数区间", "en": "joint unit households band"},
    "seed": {"zh": "随机种子", "en": "seed"},
    "households_column": {"zh": "户数字段", "en": "households column"},
    "estimated_source": {"zh": "（按建筑面积与层数估算）", "en": "(estimated from footprint and storeys)"},
    "input_crs": {"zh": "输入坐标系", "en": "input CRS"},
    "metric_crs": {"zh": "计算坐标系", "en": "metric CRS"},
    "version": {"zh": "gridgeo 版本", "en": "gridgeo version"},
    "estimated_banner": {
        "zh": "注意：户数为估算值（建筑面积 × 层数），不是登记数据；使用前请核实。",
        "en": "Note: households are ESTIMATES (footprint × storeys), not register counts; verify before use.",
    },
    "summary": {"zh": "概览", "en": "Summary"},
    "communities_n": {"zh": "社区数", "en": "communities"},
    "buildings_n": {"zh": "建筑数", "en": "buildings"},
    "unassigned_n": {"zh": "未归属建筑", "en": "unassigned buildings"},
    "households": {"zh": "总户数", "en": "households"},
    "households_estimated": {"zh": "户数为估算值", "en": "households estimated"},
    "grids_n": {"zh": "网格数", "en": "grids"},
    "share_in_band": {"zh": "户数在区间内的网格占比", "en": "grids in band"},
    "share_feasible_in_band": {"zh": "无豁免理由网格的在区间占比", "en": "grids without an excuse in band"},
    "excused": {"zh": "有豁免理由的网格", "en": "grids outside the band with an excuse"},
    "defects": {"zh": "缺陷网格（其中已证明不可行）", "en": "defects (of which proven infeasible)"},
    "one_piece": {"zh": "单一连片网格占比", "en": "grids in one piece"},
    "tiling": {"zh": "拼接：最大空隙 / 最大重叠", "en": "tiling: largest gap / overlap"},
    "coverage_valid": {"zh": "覆盖有效", "en": "valid coverage"},
    "pp": {"zh": "紧凑度 Polsby-Popper 均值 / 最小值", "en": "Polsby-Popper mean / min"},
    "spread": {"zh": "区间内网格户数的离散系数（标准差 / 均值）", "en": "spread of households over grids in band (coefficient of variation)"},
    "max_min": {"zh": "区间内网格户数 最多 / 最少（倍数）", "en": "grids in band: most / fewest households (ratio)"},
    "balance_note": {"zh": "各社区的均衡度（社区内 |网格户数 − 均值| / 均值 的最大值）见“各社区”表。", "en": "The balance of each community (largest |grid households − mean| / mean within it) is in the per-community table."},
    "barriers": {"zh": "跨越障碍次数（下限）", "en": "barrier crossings (lower bound)"},
    "units": {"zh": "联户数 / 在区间内占比", "en": "joint units / in band"},
    "yes": {"zh": "是", "en": "yes"},
    "no": {"zh": "否", "en": "no"},
    "notes": {"zh": "输入说明", "en": "Notes on the input"},
    "no_notes": {"zh": "无。", "en": "None."},
    "plots": {"zh": "分布", "en": "Distributions"},
    "hist_caption": {"zh": "网格户数分布（阴影为目标区间 {low}–{high} 户）", "en": "Households per grid (shaded: the band {low}–{high})"},
    "pp_caption": {"zh": "网格紧凑度（Polsby-Popper，1 为圆形）", "en": "Grid compactness (Polsby-Popper; 1 is a circle)"},
    "per_community": {"zh": "各社区", "en": "Per community"},
    "code": {"zh": "编码", "en": "code"},
    "id": {"zh": "标识", "en": "id"},
    "name": {"zh": "名称", "en": "name"},
    "c_grids": {"zh": "网格", "en": "grids"},
    "c_households": {"zh": "户数", "en": "households"},
    "c_in_band": {"zh": "在区间", "en": "in band"},
    "c_excused": {"zh": "豁免", "en": "excused"},
    "c_defect": {"zh": "缺陷", "en": "defects"},
    "c_one_piece": {"zh": "连片", "en": "one piece"},
    "c_gap": {"zh": "空隙", "en": "gap"},
    "c_overlap": {"zh": "重叠", "en": "overlap"},
    "c_pp_mean": {"zh": "紧凑度均值", "en": "PP mean"},
    "c_pp_min": {"zh": "紧凑度最小", "en": "PP min"},
    "c_balance": {"zh": "均衡度（最大偏差）", "en": "balance (largest deviation)"},
    "c_barriers": {"zh": "跨越障碍", "en": "barrier crossings"},
    "flagged": {"zh": "需关注的网格（户数不在区间内）", "en": "Flagged grids (outside the band)"},
    "flagged_groups": {"zh": "共 {n} 个网格，按状态和原因分为 {k} 组：", "en": "{n} {grids} in {k} {groups} by status and reason:"},
    "group_count": {"zh": "个数", "en": "grids"},
    "group_rest": {"zh": "其余 {n} 个网格", "en": "the other {n} {grids}"},
    "no_flagged": {"zh": "没有：所有网格的户数都在区间内。", "en": "None: every grid is in the band."},
    "grid": {"zh": "网格", "en": "grid"},
    "community": {"zh": "社区", "en": "community"},
    "status": {"zh": "状态", "en": "status"},
    "reason": {"zh": "原因", "en": "reason"},
    # staffing, workload and service coverage (gridgeo.workload, gridgeo.coverage)
    "governance": {"zh": "网格队伍、工作量与服务覆盖", "en": "Staffing, workload and service coverage"},
    "helpers_total": {"zh": "兼职网格员/志愿者合计（每 {n} 户 1 人，1+1+1+N 中的 N）", "en": "helpers in all (the N of 1+1+1+N, one per {n} households)"},
    "workload_flagged": {"zh": "工作量明显偏高的网格（指数 > {f}，社区均值为 1）", "en": "grids with a workload far above their community's mean (index > {f}; the mean is 1)"},
    "tour_distances": {"zh": "走访路线距离计算", "en": "tours measured"},
    "walk_distances": {"zh": "步行距离计算", "en": "walks measured"},
    "road network": {"zh": "沿道路网络", "en": "along the road network"},
    "straight line": {"zh": "直线", "en": "straight line"},
    "centres_n": {"zh": "服务中心数", "en": "service centres"},
    "walk_speed": {"zh": "步行速度（米/分钟）", "en": "walking speed (m/min)"},
    "coverage_flagged": {"zh": "步行超过 {m} 分钟的网格（其户数）", "en": "grids beyond a {m}-minute walk (their households)"},
    "distribution": {"zh": "分布", "en": "distribution"},
    "d_min": {"zh": "最小", "en": "min"},
    "d_p25": {"zh": "下四分位", "en": "25 %"},
    "d_median": {"zh": "中位数", "en": "median"},
    "d_p75": {"zh": "上四分位", "en": "75 %"},
    "d_max": {"zh": "最大", "en": "max"},
    "tour_m": {"zh": "走访全部建筑路线（米）", "en": "walking tour of all buildings (m)"},
    "workload_index": {"zh": "工作量指数", "en": "workload index"},
    "walk_min": {"zh": "到最近服务中心步行（分钟）", "en": "walk to the nearest service centre (minutes)"},
    "c_helpers": {"zh": "网格员/志愿者", "en": "helpers"},
    "c_workload_flagged": {"zh": "工作量偏高", "en": "workload flagged"},
    "c_tour_mean": {"zh": "平均路线（米）", "en": "mean tour (m)"},
    "c_coverage_flagged": {"zh": "超出步行范围", "en": "beyond the walk"},
    "c_walk_mean": {"zh": "平均步行（分钟）", "en": "mean walk (min)"},
    "c_walk_max": {"zh": "最长步行（分钟）", "en": "longest walk (min)"},
    "services_flagged": {"zh": "工作量偏高或超出步行范围的网格", "en": "Grids flagged for workload or walking distance"},
    "no_services_flagged": {"zh": "没有。", "en": "None."},
    "centre": {"zh": "最近服务中心", "en": "nearest service centre"},
    "flag": {"zh": "标记", "en": "flag"},
    "flag_workload": {"zh": "工作量为社区均值的 {v} 倍", "en": "workload {v} × the community mean"},
    "flag_walk": {"zh": "步行 {v} 分钟 > {m}", "en": "walk {v} min > {m}"},
    "walk_caption": {"zh": "各网格到最近服务中心的步行时间（虚线为 {m} 分钟）", "en": "Walk from each grid to its nearest service centre (dashed: {m} minutes)"},
    "governance_notes": {"zh": "说明", "en": "Notes"},
    "footer": {
        "zh": "由 gridgeo 生成。所有指标的定义见 gridgeo.metrics。",
        "en": "Made by gridgeo. The measures are defined in gridgeo.metrics.",
    },
}

# plot labels: Chinese only with a CJK font; the "en" set is plain ASCII
_PLOT: dict[str, dict[str, str]] = {
    "households": {"zh": "户数", "en": "households"},
    "grids": {"zh": "网格数", "en": "grids"},
    "band": {"zh": "区间 {low}–{high}", "en": "band {low}-{high}"},
    "in_band": {"zh": "在区间内", "en": "in band"},
    "outside": {"zh": "区间外", "en": "outside the band"},
    "pp": {"zh": "Polsby-Popper 紧凑度", "en": "Polsby-Popper"},
    "mean": {"zh": "均值 {v:.2f}", "en": "mean {v:.2f}"},
    "min": {"zh": "最小 {v:.2f}", "en": "min {v:.2f}"},
    "empty": {"zh": "没有网格", "en": "no grids"},
    "tail_below": {"zh": "← 另有 {n} 个网格少于 {edge} 户（最少 {v}）", "en": "<- {n} more below {edge} (min {v})"},
    "tail_above": {"zh": "另有 {n} 个网格多于 {edge} 户（最多 {v}）→", "en": "{n} more above {edge} (max {v}) ->"},
    "walk": {"zh": "步行时间（分钟）", "en": "walk (minutes)"},
    "limit": {"zh": "{m:g} 分钟", "en": "{m:g} minutes"},
}

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",system-ui,sans-serif;
margin:2em auto;max-width:70em;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f3f3f3}table.flagged td:nth-child(3),table.services td:nth-child(n+3):not(:last-child){text-align:right;font-variant-numeric:tabular-nums}#communities td,table.flagged td:not(:last-child){white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}
.banner{background:#fff4d6;border:1px solid #e0b84a;padding:.6em 1em;margin:1em 0}
.bad{color:#b00020;font-weight:bold}figure{margin:1em 0}figure svg{max-width:100%;height:auto}
figcaption{font-size:.9em;color:#555}.params{color:#444;font-size:.95em}details{margin:.3em 0 1em}summary{cursor:pointer;color:#1f4e9a}footer{margin-top:2em;color:#777;font-size:.85em}
"""


def build_report_html(result, *, lang: str = "zh", name_column: str | None = None) -> str:
    """Render the quality report of ``result`` as one self-contained HTML page.

    Parameters
    ----------
    result : Partition
        A partition, in memory or read back with :func:`gridgeo.read_outputs`.
    lang : {"zh", "en"}
        Language of the labels.
    name_column : str, optional
        Column of ``result.communities`` holding community names (default: the
        first of ``name``, ``community_name``, ``名称``, ``社区名称``, ... present).

    Returns
    -------
    str
        The HTML page: summary figures, the input notes, a histogram of grid
        households with the band marked, the Polsby-Popper distribution, a table
        per community and every flagged grid with its reason.

    Raises
    ------
    InputError
        ``lang`` is not supported.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> page = build_report_html(gridgeo.partition(c, b, households="hh"), lang="en")
    >>> page.startswith("<!DOCTYPE html>"), page.count("<svg"), "hist-band-low" in page
    (True, 2, True)
    """
    lang = check_lang(lang)
    report = result.report or {}
    summary = report.get("summary", {})
    params = report.get("parameters", {})
    low, high = _band(params.get("grid_size"))
    t = {key: value[lang] for key, value in _T.items()}
    names = _community_names(result.communities, name_column)

    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>gridgeo — {_e(t['title'])}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>gridgeo — {_e(t['title'])}</h1>",
        _parameters(report, params, (low, high), t),
    ]
    if summary.get("households_estimated"):
        parts.append(f'<div class="banner" id="estimated">{_e(t["estimated_banner"])}</div>')
    parts += [f"<h2>{_e(t['summary'])}</h2>", _summary_table(summary, t, _spread(result.grids))]
    parts += [f"<h2>{_e(t['notes'])}</h2>", _notes(report.get("notes", []), t)]
    parts += [f"<h2>{_e(t['plots'])}</h2>"]
    households = _numbers(result.grids, "households")
    pp = _polsby_popper(result.grids)
    font = cjk_font() if lang == "zh" else None
    plot_lang = "zh" if font else "en"
    if lang == "zh" and not font:
        logger.info("no CJK font found for the report plots; their labels are in English")
    parts.append(
        _figure(
            "hist",
            _households_svg(households, (low, high), plot_lang, font),
            t["hist_caption"].format(low=low, high=high),
        )
    )
    parts.append(_figure("pp", _pp_svg(pp, plot_lang, font), t["pp_caption"]))
    parts += [f"<h2>{_e(t['per_community'])}</h2>", _community_table(report.get("communities", []), result.communities, names, t)]
    parts += [f"<h2>{_e(t['flagged'])}</h2>", _flagged_table(result.grids, result.communities, names, lang, t)]
    parts += _governance(result, report, names, t, plot_lang, font)
    if report.get("compounds"):
        parts += _compounds_section(report["compounds"], lang)
    if report.get("changes"):
        parts += _changes_section(report, lang)
    parts += [f"<footer>{_e(t['footer'])}</footer>", "</body>", "</html>", ""]
    return "\n".join(parts)


def write_report(result, outdir: str | Path, *, lang: str = "zh", name_column: str | None = None) -> Path:
    """Write :func:`build_report_html` to ``outdir/report.html`` (UTF-8).

    ``outdir`` is created if needed; the file is written under a temporary name
    and renamed, so a failure never leaves a half-written report.

    Returns
    -------
    Path
        The path of ``report.html``.

    Examples
    --------
    >>> import tempfile, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> write_report(gridgeo.partition(c, b, households="hh"), tempfile.mkdtemp(), lang="en").name
    'report.html'
    """
    with timings.stage("report"):
        text = build_report_html(result, lang=lang, name_column=name_column)
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        target = outdir / "report.html"
        write_atomic(target, text)
    logger.info("wrote %s", target)
    return target


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font that covers Chinese, or ``None``.

    The families of :data:`CJK_FAMILIES` are tried first, then every font
    matplotlib knows; a font counts when its character map holds a few common
    Chinese characters.  The answer is cached for the process.

    Examples
    --------
    >>> cjk_font() is None or isinstance(cjk_font(), str)
    True
    """
    from matplotlib import font_manager

    entries = {}
    for entry in font_manager.fontManager.ttflist:
        entries.setdefault(entry.name, entry)
    preferred = [entries[name] for name in CJK_FAMILIES if name in entries]
    others = [entries[name] for name in sorted(entries) if name not in CJK_FAMILIES]
    for entry in preferred + others:
        if _covers(entry.fname, _PROBE):
            logger.debug("CJK font for plots: %s (%s)", entry.name, entry.fname)
            return entry.name
    return None


def _covers(path: str, text: str) -> bool:
    from matplotlib import ft2font

    try:
        charmap = ft2font.FT2Font(path).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False
    return all(ord(ch) in charmap for ch in text)


# -- HTML pieces ---------------------------------------------------------------------------------


def _e(value) -> str:
    """Escape any value for HTML text and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _band(grid_size) -> tuple[int, int]:
    if grid_size is not None and len(grid_size) == 2:
        return int(grid_size[0]), int(grid_size[1])
    logger.warning("report has no grid_size parameter; assuming the default band 300–500")
    return 300, 500


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _int(value) -> str:
    return "—" if _missing(value) else f"{int(value):,}"


def _pct(value, digits: int = 1) -> str:
    return "—" if _missing(value) else f"{float(value) * 100:.{digits}f}%"


def _num(value, digits: int = 3) -> str:
    return "—" if _missing(value) else f"{float(value):.{digits}f}"


def _yes(value, t) -> str:
    return "—" if _missing(value) else (t["yes"] if bool(value) else t["no"])


def _parameters(report: dict, params: dict, band: tuple[int, int], t: dict) -> str:
    unit = params.get("unit_size")
    column = params.get("households")
    hh = column if column else t["estimated_source"]
    items = [
        (t["grid_band"], f"{band[0]}–{band[1]}"),
        (t["unit_band"], f"{unit[0]}–{unit[1]}" if unit and len(unit) == 2 else "—"),
        (t["households_column"], hh),
        (t["seed"], params.get("seed", report.get("seed", "—"))),
        (t["input_crs"], report.get("input_crs", "—")),
        (t["metric_crs"], report.get("metric_crs", "—")),
        (t["version"], report.get("gridgeo_version", "—")),
    ]
    return '<p class="params">' + " · ".join(f"{_e(k)}: <b>{_e(v)}</b>" for k, v in items) + "</p>"


def _summary_table(s: dict, t: dict, spread: dict | None = None) -> str:
    defects = s.get("n_defects")
    proven = s.get("n_defects_proven_infeasible")
    crossings = s.get("barrier_crossings")
    lower = s.get("barrier_crossings_min")
    spread = spread or {}
    rows = [
        ("communities", t["communities_n"], _int(s.get("n_communities"))),
        ("buildings", t["buildings_n"], _int(s.get("n_buildings"))),
        ("unassigned", t["unassigned_n"], _int(s.get("n_unassigned"))),
        ("households", t["households"], _int(s.get("households"))),
        ("households_estimated", t["households_estimated"], _yes(s.get("households_estimated"), t)),
        ("grids", t["grids_n"], _int(s.get("n_grids"))),
        ("share_in_band", t["share_in_band"], _pct(s.get("share_in_band"))),
        ("share_feasible_in_band", t["share_feasible_in_band"], _pct(s.get("share_feasible_in_band"))),
        ("excused", t["excused"], _int(s.get("n_excused"))),
        ("defects", t["defects"], f"{_int(defects)} ({_int(proven)})"),
        ("one_piece", t["one_piece"], _pct(s.get("share_one_piece"))),
        ("tiling", t["tiling"], f"{_pct(s.get('max_gap_ratio'), 4)} / {_pct(s.get('max_overlap_ratio'), 4)}"),
        ("coverage_valid", t["coverage_valid"], _yes(s.get("coverage_valid"), t)),
        ("polsby_popper", t["pp"], f"{_num(s.get('polsby_popper_mean'))} / {_num(s.get('polsby_popper_min'))}"),
        ("spread", t["spread"], _pct(spread.get("cv"))),
        ("max_min", t["max_min"], f"{_int(spread.get('max'))} / {_int(spread.get('min'))} ({_ratio(spread.get('max'), spread.get('min'))})"),
        ("barrier_crossings", t["barriers"], f"{_int(crossings)} ({_int(lower)})"),
        ("units", t["units"], f"{_int(s.get('n_units'))} / {_pct(s.get('share_units_in_band'))}"),
    ]
    body = []
    for key, label, value in rows:
        bad = (key == "defects" and not _missing(defects) and int(defects) > 0) or (
            key == "households_estimated" and bool(s.get("households_estimated"))
        )
        cls = ' class="n bad"' if bad else ' class="n"'
        body.append(f'<tr id="summary-{_e(key)}"><th>{_e(label)}</th><td{cls}>{_e(value)}</td></tr>')
    return '<table id="summary">\n' + "\n".join(body) + "\n</table>\n" + f'<p id="balance-note" class="params">{_e(t["balance_note"])}</p>'


def _ratio(a, b) -> str:
    return "—" if _missing(a) or _missing(b) or float(b) <= 0 else f"{float(a) / float(b):.2f}×"


def _spread(grids) -> dict:
    """The spread of households over the grids in band: coefficient of variation, most and fewest.

    The city-wide figure that means something: grids outside the band (dedicated
    grids, oversize buildings, infeasible totals) are counted in the flagged
    section, not here.  Balance in the sense of the domain (largest deviation
    from a community's mean) is per community.

    >>> import pandas as pd
    >>> s = _spread(pd.DataFrame({"households": [10, 12, 14, 90], "status": ["in_band"] * 3 + ["dedicated"]}))
    >>> round(s["cv"], 3), s["max"], s["min"], s["n"]
    (0.136, 14.0, 10.0, 3)
    """
    if grids is None or not len(grids) or "households" not in grids:
        return {}
    values = pd.to_numeric(grids["households"], errors="coerce")
    if "status" in grids:
        values = values[grids["status"].astype(str) == "in_band"]
    values = values.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return {}
    mean = float(values.mean())
    return {"cv": float(values.std() / mean) if mean > 0 else float("nan"), "max": float(values.max()), "min": float(values.min()), "n": int(len(values))}


def _notes(notes, t) -> str:
    if not notes:
        return f'<p id="notes">{_e(t["no_notes"])}</p>'
    return '<ul id="notes">\n' + "\n".join(f"<li>{_e(note)}</li>" for note in notes) + "\n</ul>"


def _community_names(communities, name_column: str | None) -> dict[str, str]:
    if communities is None or "community_id" not in communities:
        return {}
    column = name_column
    if column is None:
        column = next((c for c in NAME_COLUMNS if c in communities.columns), None)
    elif column not in communities.columns:
        logger.warning("communities have no column %r; the report shows no community names", column)
        column = None
    if column is None:
        return {}
    return {str(k): ("" if _missing(v) else str(v)) for k, v in zip(communities["community_id"], communities[column])}


def _community_codes(communities) -> dict[str, str]:
    if communities is None or "community_id" not in communities or "community_code" not in communities:
        return {}
    return {str(k): str(v) for k, v in zip(communities["community_id"], communities["community_code"])}


def _community_table(rows: list[dict], communities, names: dict[str, str], t: dict) -> str:
    codes = _community_codes(communities)
    head = ["code", "id"] + (["name"] if names else []) + [
        "c_grids", "c_households", "c_in_band", "c_excused", "c_defect", "c_one_piece",
        "c_gap", "c_overlap", "c_pp_mean", "c_pp_min", "c_balance", "c_barriers",
    ]
    out = ['<table id="communities">', "<tr>" + "".join(f"<th>{_e(t[h])}</th>" for h in head) + "</tr>"]
    ordered = sorted(rows, key=lambda r: (codes.get(str(r.get("community_id")), ""), str(r.get("community_id"))))
    for row in ordered:
        cid = str(row.get("community_id", ""))
        text = [codes.get(cid, ""), cid] + ([names.get(cid, "")] if names else [])
        numbers = [
            _int(row.get("n_grids")),
            _int(row.get("households")),
            _int(row.get("grids_in_band")),
            _int(row.get("grids_excused")),
            _int(row.get("grids_defect")),
            _int(row.get("grids_one_piece")),
            _pct(row.get("gap_ratio"), 4),
            _pct(row.get("overlap_ratio"), 4),
            _num(row.get("polsby_popper_mean")),
            _num(row.get("polsby_popper_min")),
            _pct(row.get("balance")),
            _int(row.get("barrier_crossings")),
        ]
        defect = not _missing(row.get("grids_defect")) and int(row.get("grids_defect")) > 0
        cells = [f"<td>{_e(v)}</td>" for v in text] + [
            f'<td class="n{" bad" if defect and i == 4 else ""}">{_e(v)}</td>' for i, v in enumerate(numbers)
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


#: rows of each flagged group shown before the collapsible rest
FIRST_ROWS = 5


@functools.lru_cache(maxsize=1)
def _reason_patterns() -> list[tuple[str, re.Pattern]]:
    """Each reason code with a pattern matching its English and Chinese sentences (any field values)."""
    out = []
    for code, texts in REASONS.items():
        for text in texts.values():
            pieces = re.split(r"\{[^}]+\}", text)
            out.append((sum(map(len, pieces)), code, re.compile("^" + "(.+?)".join(re.escape(p) for p in pieces) + "$", re.S)))
    # the most specific template first: "holds a building of {households} households, more than the band
    # maximum {high}" also matches the longer oversize_absorbed and oversize_units sentences
    return [(code, pattern) for _, code, pattern in sorted(out, key=lambda x: -x[0])]


def _reason_code(text) -> str:
    """The reason code of a grid's reason sentence (``""`` when none matches).

    >>> _reason_code("holds a building of 612 households, more than the band maximum 500")
    'oversize_building'
    """
    if _missing(text) or not str(text).strip():
        return ""
    for code, pattern in _reason_patterns():
        if pattern.match(str(text).strip()):
            return code
    return "other"


def _reason_gist(code: str, lang: str) -> str:
    """A reason's sentence with its numbers left out, naming a whole group of grids."""
    if code not in REASONS:
        return ""
    text = re.sub(r"\{[^}]+\}(\s*[–-]\s*\{[^}]+\})?", "…", REASONS[code][lang])
    return re.sub(r"…(\s*…)+", "…", re.sub(r"\s*…\s*", " … ", text)).strip()


_MARKS = "①②③④⑤⑥⑦⑧⑨⑩"


def _reason_columns(code: str, lang: str, texts: list) -> tuple[str, list[str]]:
    """A group's reason sentence with the values shared by all its grids filled in, and each grid's other values.

    The rows of a large group then show only what differs (``18 · 21``), under a
    header naming those values (``… ① households … ② …``): the same facts in a
    fraction of the bytes.  A sentence that does not follow the template is
    shown whole.

    >>> _reason_columns("oversize_building", "en", ["holds a building of 16 households, more than the band maximum 15",
    ...                                             "holds a building of 30 households, more than the band maximum 15"])
    ('holds a building of ① households, more than the band maximum 15', ['16', '30'])
    """
    template = REASONS.get(code, {}).get(lang)
    texts = ["" if _missing(x) else str(x).strip() for x in texts]
    if not template:
        return "", texts
    fields = re.findall(r"\{([^}]+)\}", template)
    pieces = re.split(r"\{[^}]+\}", template)
    pattern = re.compile("^" + "(.+?)".join(re.escape(x) for x in pieces) + "$", re.S)
    matches = [pattern.match(x) for x in texts]
    if not fields or not all(matches):
        return "", texts
    values = [m.groups() for m in matches]
    varying = [j for j in range(len(fields)) if len({v[j] for v in values}) > 1]
    header, mark = pieces[0], 0
    for j, piece in enumerate(pieces[1:]):
        if j in varying and mark < len(_MARKS):
            header += _MARKS[mark]
            mark += 1
        else:
            header += values[0][j]
        header += piece
    shown = varying[: len(_MARKS)]
    return header, [" · ".join(v[j] for j in shown) for v in values]


def _flagged_table(grids, communities, names: dict[str, str], lang: str, t: dict) -> str:
    """The grids outside the band, grouped by status and reason: counts, the first rows, the rest folded."""
    if grids is None or not len(grids) or "status" not in grids:
        return f'<p id="flagged">{_e(t["no_flagged"])}</p>'
    flagged = grids.loc[grids["status"].astype(str) != "in_band"]
    if not len(flagged):
        return f'<p id="flagged">{_e(t["no_flagged"])}</p>'
    flagged = flagged.sort_values("grid_code", kind="stable") if "grid_code" in flagged else flagged
    codes = _community_codes(communities)
    status = flagged["status"].astype(str).to_numpy()
    english = flagged["reason"] if "reason" in flagged else pd.Series([""] * len(flagged), index=flagged.index)
    kind = np.array([_reason_code(r) for r in english], dtype=object)
    shown_reason = (flagged["reason_zh"] if lang == "zh" and "reason_zh" in flagged else english).tolist()
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(status, kind)):
        groups.setdefault(key, []).append(i)
    order = sorted(groups, key=lambda k: (-len(groups[k]), k))
    k, n = len(order), len(flagged)
    intro = t["flagged_groups"].format(n=f"{n:,}", k=k, grids="grid" if n == 1 else "grids", groups="group" if k == 1 else "groups")
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in (t["grid"], t["community"], t["c_households"], t["reason"])) + "</tr>"

    def folded_head(reason_header: str) -> str:
        reason = t["reason"] + ("：" if lang == "zh" else ": ") + reason_header if reason_header else t["reason"]
        return "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in (t["grid"], t["community"] + f" ({t['code']})", t["c_households"], reason)) + "</tr>"

    summary = ['<table id="flagged-groups">', "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in (t["status"], t["reason"], t["group_count"])) + "</tr>"]
    sections = []
    cids = flagged["community_id"].astype(str).tolist() if "community_id" in flagged else [""] * n
    gcodes = flagged["grid_code"].tolist() if "grid_code" in flagged else [""] * n
    households = flagged["households"].tolist() if "households" in flagged else [None] * n
    for number, (st, code) in enumerate(order, start=1):
        members = groups[(st, code)]
        label = status_label(st, lang)
        shown = f"{label} ({st})" if label != st else st
        gist = _reason_gist(code, lang)
        summary.append(
            f'<tr class="flagged-group" data-status="{_e(st)}" data-reason="{_e(code)}"><td><a href="#flagged-{number}">{_e(shown)}</a></td>'
            f'<td>{_e(gist)}</td><td class="n">{len(members):,}</td></tr>'
        )
        header, values = _reason_columns(code, lang, [shown_reason[i] for i in members])
        rows = []
        for j, i in enumerate(members):
            cid = cids[i]
            community = " ".join(x for x in (codes.get(cid, ""), names.get(cid, "") or cid) if x)
            reason = shown_reason[i] if j < FIRST_ROWS or not header else values[j]
            rows.append(  # compact markup: a city can have thousands (the table's CSS aligns the numbers)
                f'<tr class="flagged-grid"><td>{_e(gcodes[i])}</td><td>{_e(community if j < FIRST_ROWS else codes.get(cid, cid))}</td>'
                f'<td>{_e(_int(households[i]))}</td><td>{_e("" if _missing(reason) else reason)}</td></tr>'
            )
        title = f"{shown} — {gist}" if gist else shown
        block = [f'<h3 id="flagged-{number}">{_e(title)} ({len(members):,})</h3>', f'<table class="flagged" data-status="{_e(st)}" data-reason="{_e(code)}">\n{head}', *rows[:FIRST_ROWS], "</table>"]
        if len(rows) > FIRST_ROWS:
            rest = len(rows) - FIRST_ROWS
            block += [
                f"<details><summary>{_e(t['group_rest'].format(n=f'{rest:,}', grids='grid' if rest == 1 else 'grids'))}</summary>",
                f'<table class="flagged" data-status="{_e(st)}" data-reason="{_e(code)}">\n{folded_head(header)}', *rows[FIRST_ROWS:], "</table>", "</details>",
            ]
        sections.append("\n".join(block))
    summary.append("</table>")
    return "\n".join([f'<p id="flagged">{_e(intro)}</p>', *summary, *sections])


def _figure(prefix: str, svg: str, caption: str) -> str:
    return f'<figure id="fig-{prefix}">\n{svg}\n<figcaption>{_e(caption)}</figcaption>\n</figure>'


# -- plots ---------------------------------------------------------------------------------------


def _numbers(frame, column: str) -> np.ndarray:
    if frame is None or column not in frame:
        return np.zeros(0)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def _polsby_popper(grids) -> np.ndarray:
    if grids is None or not len(grids):
        return np.zeros(0)
    if "polsby_popper" in grids:
        return _numbers(grids, "polsby_popper")
    from .metrics import grid_metrics

    return grid_metrics(grids, band=(0, 0))["polsby_popper"].to_numpy(dtype=float)


def _plot_labels(lang: str) -> dict[str, str]:
    """Plot labels in ``lang`` (``"en"`` is plain ASCII, safe with any font)."""
    return {key: value[lang] for key, value in _PLOT.items()}


def _new_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # no pyplot, no GUI backend, no global state
    return fig


def _rc(font: str | None) -> dict:
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    return {
        "font.family": "sans-serif",
        "font.sans-serif": families,
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
        "font.size": 10,
    }


def _svg(fig, prefix: str) -> str:
    """The figure as an inline ``<svg>`` element whose ids all start with ``prefix-``."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"gridgeo-{prefix}"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    return text.replace("<svg ", '<svg role="img" ', 1).strip()


def _households_svg(values: np.ndarray, band: tuple[int, int], lang: str, font: str | None) -> str:
    """Histogram zoomed to the band: bins that fit it, the grids beyond the window summarised in a note."""
    import matplotlib

    labels = _plot_labels(lang)
    low, high = band
    with matplotlib.rc_context(_rc(font)):
        fig = _new_figure()
        ax = fig.add_subplot()
        ax.axvspan(low - 0.5, high + 0.5, facecolor="#2e7d32", alpha=0.12, edgecolor="#2e7d32", lw=0, gid="band", label=labels["band"].format(low=low, high=high))
        ax.axvline(low - 0.5, color="#2e7d32", lw=1.5, ls="--", gid="band-low")
        ax.axvline(high + 0.5, color="#2e7d32", lw=1.5, ls="--", gid="band-high")
        if len(values):
            edges, inside = _bin_edges(values, low, high)
            counts = _bin_counts(values, edges)
            widths = np.diff(edges)
            for name, mask, colour in (("in-band", inside, "#1f77b4"), ("outside", ~inside, "#d95f02")):
                if mask.any():
                    bars = ax.bar(edges[:-1][mask], counts[mask], width=widths[mask], align="edge", color=colour,
                                  edgecolor="white", lw=0.5, label=labels["in_band" if name == "in-band" else "outside"])
                    for i, patch in enumerate(bars):
                        patch.set_gid(f"bar-{name}-{i}")
            below, above = values < edges[0], values >= edges[-1]
            for gid, mask, x, ha, key in (("tail-below", below, 0.01, "left", "tail_below"), ("tail-above", above, 0.99, "right", "tail_above")):
                if mask.any():
                    extreme = values[mask].min() if key == "tail_below" else values[mask].max()
                    edge = edges[0] + 0.5 if key == "tail_below" else edges[-1] - 0.5
                    ax.text(x, 0.97, labels[key].format(n=int(mask.sum()), edge=f"{edge:g}", v=f"{extreme:g}"), transform=ax.transAxes,
                            ha=ha, va="top", fontsize=8.5, color="#d95f02", gid=gid)
            ax.set_xlim(edges[0], edges[-1])
            ax.set_ylim(0, max(int(counts.max()), 1) * 1.18)
            ax.yaxis.get_major_locator().set_params(integer=True)
        else:
            ax.text(0.5, 0.5, labels["empty"], transform=ax.transAxes, ha="center", va="center")
        ax.set_xlabel(labels["households"])
        ax.set_ylabel(labels["grids"])
        fig.legend(loc="outside upper center", ncols=3, frameon=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return _svg(fig, "hist")


#: bin widths tried for the household histogram
_NICE_WIDTHS = tuple(m * 10**k for k in range(0, 6) for m in (1, 2, 5, 10, 20, 25, 50))


def _bin_width(low: int, high: int) -> int:
    """A round bin width giving about ten bins across the band (1 at 10–15, 20 at 300–500).

    >>> _bin_width(10, 15), _bin_width(300, 500), _bin_width(100, 150)
    (1, 20, 5)
    """
    count = high - low + 1  # integer household counts in the band
    candidates = sorted(set(w for w in _NICE_WIDTHS if w <= count))
    fitting = [w for w in candidates if 5 <= count // w <= 20] or candidates or [1]
    return min(fitting, key=lambda w: (abs(count // w - 10), w))


def _bin_edges(values: np.ndarray, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges zoomed to the band, and which bins lie in it.

    Households are whole numbers, so edges sit at half-integers: the band
    ``low``–``high`` is exactly ``[low − ½, high + ½)``, split into bins of a
    round width (the last band bin takes the remainder), and every bin is
    wholly inside or wholly outside the band.  Outside, the window reaches up
    to half the band's width on each side (at least two bins), as far as the
    data go; grids beyond it are the tails, counted apart.

    >>> edges, inside = _bin_edges(np.array([9.0, 10, 12, 15, 17]), 10, 15)
    >>> edges.tolist()
    [8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5, 17.5]
    >>> inside.astype(int).tolist()
    [0, 1, 1, 1, 1, 1, 1, 0, 0]
    """
    width = _bin_width(low, high)
    n = max((high - low + 1) // width, 1)
    band = np.append(low - 0.5 + width * np.arange(n), high + 0.5)
    reach = max(2, math.ceil(0.5 * (high - low + 1) / width))
    smallest, largest = float(values.min()), float(values.max())
    n_below = min(reach, max(0, math.ceil((band[0] - smallest) / width)))
    n_above = min(reach, max(0, math.ceil((largest + 0.5 - band[-1]) / width)))
    below = band[0] - width * np.arange(n_below, 0, -1)
    above = band[-1] + width * np.arange(1, n_above + 1)
    below = below[below > -width]  # no bins wholly under zero households
    edges = np.concatenate([below, band, above])
    inside = np.zeros(len(edges) - 1, dtype=bool)
    inside[len(below) : len(below) + n] = True
    return edges, inside


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Grids per bin ``[edges[i], edges[i+1])`` (values outside the edges are not counted)."""
    index = np.searchsorted(edges, values, side="right") - 1
    index = index[(index >= 0) & (index < len(edges) - 1)]
    return np.bincount(index, minlength=len(edges) - 1)


def _pp_svg(values: np.ndarray, lang: str, font: str | None) -> str:
    import matplotlib

    labels = _plot_labels(lang)
    with matplotlib.rc_context(_rc(font)):
        fig = _new_figure()
        ax = fig.add_subplot()
        if len(values):
            _, _, bars = ax.hist(values, bins=np.linspace(0.0, 1.0, 21), color="#7570b3", edgecolor="white", lw=0.5)
            for i, patch in enumerate(bars):
                patch.set_gid(f"bar-{i}")
            mean, smallest = float(values.mean()), float(values.min())
            ax.axvline(mean, color="#222", lw=1.5, gid="mean", label=labels["mean"].format(v=mean))
            ax.axvline(smallest, color="#d95f02", lw=1.2, ls=":", gid="min", label=labels["min"].format(v=smallest))
            fig.legend(loc="outside upper center", ncols=2, frameon=False)
            ax.yaxis.get_major_locator().set_params(integer=True)
        else:
            ax.text(0.5, 0.5, labels["empty"], transform=ax.transAxes, ha="center", va="center")
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel(labels["pp"])
        ax.set_ylabel(labels["grids"])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return _svg(fig, "pp")


# -- staffing, workload and service coverage ----------------------------------------------------------


def _governance(result, report: dict, names: dict[str, str], t: dict, plot_lang: str, font: str | None) -> list[str]:
    """The section on the 1+1+1+N teams, workload flags and walks to service centres (empty without them)."""
    workload, coverage = report.get("workload"), report.get("coverage")
    if not workload and not coverage:
        return []
    parts = [f'<h2 id="governance">{_e(t["governance"])}</h2>']
    rows = []
    if workload:
        rows += [
            ("helpers", t["helpers_total"].format(n=workload.get("households_per_helper", "—")), _int(workload.get("helpers"))),
            ("workload_flagged", t["workload_flagged"].format(f=workload.get("factor", "—")), _int(workload.get("n_flagged"))),
            ("workload_distances", t["tour_distances"], t.get(workload.get("distances"), workload.get("distances", "—"))),
        ]
    if coverage:
        limit = coverage.get("limit_min", 15)
        rows += [
            ("centres", t["centres_n"], _int(coverage.get("n_centres"))),
            ("walk_speed", t["walk_speed"], _num(coverage.get("speed_m_per_min"), 0)),
            ("coverage_flagged", t["coverage_flagged"].format(m=f"{limit:g}"), f"{_int(coverage.get('n_flagged'))} ({_int(coverage.get('households_flagged'))})"),
            ("coverage_distances", t["walk_distances"], t.get(coverage.get("distances"), coverage.get("distances", "—"))),
        ]
    body = []
    for key, label, value in rows:
        bad = key.endswith("_flagged") and value not in ("0", "0 (0)", "—")
        body.append(f'<tr id="governance-{_e(key)}"><th>{_e(label)}</th><td class="n{" bad" if bad else ""}">{_e(value)}</td></tr>')
    parts.append('<table id="governance-summary">\n' + "\n".join(body) + "\n</table>")
    parts.append(_distribution_table(workload, coverage, t))
    if coverage:
        walks = _numbers(result.grids, "walk_min")
        limit = float(coverage.get("limit_min", 15))
        parts.append(_figure("walk", _walk_svg(walks, limit, plot_lang, font), t["walk_caption"].format(m=f"{limit:g}")))
    parts.append(_governance_communities(workload, coverage, result.communities, names, t))
    parts.append(_governance_flagged(result.grids, result.communities, names, t, coverage))
    notes = [n for section in (workload, coverage) if section for n in section.get("notes", [])]
    if notes:
        parts.append(f"<p>{_e(t['governance_notes'])}:</p>")
        parts.append('<ul id="governance-notes">\n' + "\n".join(f"<li>{_e(n)}</li>" for n in dict.fromkeys(notes)) + "\n</ul>")
    return parts


def _distribution_table(workload, coverage, t) -> str:
    keys = ("min", "p25", "median", "p75", "max")
    rows = []
    for section, key, label, digits in ((workload, "tour_m", t["tour_m"], 0), (workload, "workload_index", t["workload_index"], 2), (coverage, "walk_min", t["walk_min"], 1)):
        values = (section or {}).get(key)
        if values:
            cells = "".join(f'<td class="n">{_e(_num(values.get(k), digits))}</td>' for k in keys)
            rows.append(f'<tr id="distribution-{key}"><th>{_e(label)}</th>{cells}</tr>')
    head = f"<tr><th>{_e(t['distribution'])}</th>" + "".join(f"<th>{_e(t['d_' + k])}</th>" for k in keys) + "</tr>"
    return '<table id="governance-distribution">\n' + head + "\n" + "\n".join(rows) + "\n</table>"


def _governance_communities(workload, coverage, communities, names: dict[str, str], t: dict) -> str:
    codes = _community_codes(communities)
    work = {str(r.get("community_id")): r for r in (workload or {}).get("communities", [])}
    cover = {str(r.get("community_id")): r for r in (coverage or {}).get("communities", [])}
    head = ["code", "id"] + (["name"] if names else []) + ["c_grids"]
    if workload:
        head += ["c_helpers", "c_workload_flagged", "c_tour_mean"]
    if coverage:
        head += ["c_coverage_flagged", "c_walk_mean", "c_walk_max"]
    out = ['<table id="governance-communities">', "<tr>" + "".join(f"<th>{_e(t[h])}</th>" for h in head) + "</tr>"]
    for cid in sorted(set(work) | set(cover), key=lambda c: (codes.get(c, ""), c)):
        w, c = work.get(cid, {}), cover.get(cid, {})
        cells = [f"<td>{_e(v)}</td>" for v in [codes.get(cid, ""), cid] + ([names.get(cid, "")] if names else [])]
        numbers = [(_int(w.get("n_grids", c.get("n_grids"))), False)]
        if workload:
            numbers += [(_int(w.get("helpers")), False), (_int(w.get("n_flagged")), bool(w.get("n_flagged"))), (_num(w.get("tour_m_mean"), 0), False)]
        if coverage:
            numbers += [(_int(c.get("n_flagged")), bool(c.get("n_flagged"))), (_num(c.get("walk_min_mean"), 1), False), (_num(c.get("walk_min_max"), 1), False)]
        cells += [f'<td class="n{" bad" if bad else ""}">{_e(v)}</td>' for v, bad in numbers]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _governance_flagged(grids, communities, names: dict[str, str], t: dict, coverage) -> str:
    heading = f"<h3>{_e(t['services_flagged'])}</h3>"
    if grids is None or not len(grids):
        return heading + f'<p id="governance-flagged">{_e(t["no_services_flagged"])}</p>'
    workload_flag = grids["workload_flag"].astype(bool).to_numpy() if "workload_flag" in grids else np.zeros(len(grids), dtype=bool)
    coverage_flag = grids["coverage_flag"].astype(bool).to_numpy() if "coverage_flag" in grids else np.zeros(len(grids), dtype=bool)
    flagged = grids.loc[workload_flag | coverage_flag]
    if not len(flagged):
        return heading + f'<p id="governance-flagged">{_e(t["no_services_flagged"])}</p>'
    flagged = flagged.sort_values("grid_code", kind="stable")
    codes = _community_codes(communities)
    limit = float((coverage or {}).get("limit_min", 15))
    head = [t["grid"], t["community"], t["c_households"], t["c_helpers"], t["tour_m"], t["workload_index"]]
    if coverage:
        head += [t["centre"], t["walk_min"]]
    head.append(t["flag"])
    header = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"
    out = [heading, '<table id="governance-flagged" class="services">', header]
    for number, (_, row) in enumerate(flagged.iterrows()):
        cid = str(row.get("community_id", ""))
        folded = number >= FIRST_ROWS  # the folded rows say less: the community's code, the flag's name (the values are in their columns)
        community = codes.get(cid, cid) if folded else " ".join(x for x in (codes.get(cid, ""), names.get(cid, "") or cid) if x)
        reasons = []
        if bool(row.get("workload_flag", False)):
            reasons.append(t["c_workload_flagged"] if folded else t["flag_workload"].format(v=_num(row.get("workload_index"), 2)))
        if bool(row.get("coverage_flag", False)):
            reasons.append(t["c_coverage_flagged"] if folded else t["flag_walk"].format(v=_num(row.get("walk_min"), 1), m=f"{limit:g}"))
        cells = [_e(row.get("grid_code", "")), _e(community)]
        numbers = [_int(row.get("households")), _int(row.get("helpers_n")), _num(row.get("tour_m"), 0), _num(row.get("workload_index"), 2)]
        cells += [_e(v) for v in numbers]
        if coverage:
            cells += [_e(row.get("centre_name", "") or row.get("centre_id", "")), _e(_num(row.get("walk_min"), 1))]
        cells.append(_e("; ".join(reasons)))
        kinds = " ".join(k for k, on in (("workload", row.get("workload_flag", False)), ("coverage", row.get("coverage_flag", False))) if bool(on))
        out.append(f'<tr class="service-flagged" data-flags="{_e(kinds)}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        if len(out) == 3 + FIRST_ROWS and len(flagged) > FIRST_ROWS:  # the rest folded: a city can have thousands
            rest = len(flagged) - FIRST_ROWS
            out += ["</table>", f"<details><summary>{_e(t['group_rest'].format(n=f'{rest:,}', grids='grid' if rest == 1 else 'grids'))}</summary>", '<table class="services">', header]
    out.append("</table>")
    if len(flagged) > FIRST_ROWS:
        out.append("</details>")
    return "\n".join(out)


def _walk_svg(values: np.ndarray, limit: float, lang: str, font: str | None) -> str:
    """Histogram of the walk minutes with the limit marked (bars beyond it in the flag colour)."""
    import matplotlib

    labels = _plot_labels(lang)
    with matplotlib.rc_context(_rc(font)):
        fig = _new_figure()
        ax = fig.add_subplot()
        if len(values):
            top = max(float(values.max()), limit) * 1.05
            width = max(limit / 10.0, top / 40.0)
            edges = np.arange(0.0, top + width, width)
            counts, edges = np.histogram(values, bins=edges)
            centres = (edges[:-1] + edges[1:]) / 2
            beyond = centres > limit
            for name, mask, colour in (("within", ~beyond, "#1f77b4"), ("beyond", beyond, "#c51b7d")):
                if mask.any():
                    bars = ax.bar(edges[:-1][mask], counts[mask], width=width, align="edge", color=colour, edgecolor="white", lw=0.5)
                    for i, patch in enumerate(bars):
                        patch.set_gid(f"bar-{name}-{i}")
            ax.axvline(limit, color="#c51b7d", lw=1.5, ls="--", gid="limit", label=labels["limit"].format(m=limit))
            fig.legend(loc="outside upper center", ncols=1, frameon=False)
            ax.yaxis.get_major_locator().set_params(integer=True)
        else:
            ax.text(0.5, 0.5, labels["empty"], transform=ax.transAxes, ha="center", va="center")
        ax.set_xlabel(labels["walk"])
        ax.set_ylabel(labels["grids"])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return _svg(fig, "walk")
_CHANGES_T = {
    "title": {"zh": "与上一版相比的变化", "en": "Changes against the previous plan"},
    "parent": {"zh": "上一版", "en": "previous plan"},
    "grids_added": {"zh": "新增网格", "en": "grids added"},
    "grids_retired": {"zh": "撤销网格（编码不再使用）", "en": "grids retired (codes never reused)"},
    "grids_reshaped": {"zh": "边界调整的网格", "en": "grids reshaped"},
    "grids_modified": {"zh": "边界不变、建筑或户数变化的网格", "en": "grids with the same polygon and other buildings or households"},
    "buildings_added": {"zh": "新增建筑", "en": "buildings added"},
    "buildings_removed": {"zh": "拆除建筑", "en": "buildings removed"},
    "buildings_moved": {"zh": "更换网格的建筑", "en": "buildings that changed grid"},
    "households_moved": {"zh": "更换网格的户数", "en": "households that changed grid"},
    "share_households_moved": {"zh": "更换网格的户数占比", "en": "share of households that changed grid"},
    "households_moved_lower_bound": {"zh": "任何修复至少须更换网格的户数（下界）", "en": "households any repair must move (lower bound)"},
    "households_kept_in_unit": {"zh": "留在原联户的住户", "en": "households that kept their joint unit"},
    "households_moved_units": {"zh": "更换联户的住户", "en": "households that changed joint unit"},
    "share_households_changed_unit": {"zh": "更换联户的住户占比", "en": "share of households that changed joint unit"},
    "register_households_added": {"zh": "台账新增住户", "en": "households new in the register"},
    "register_households_removed": {"zh": "台账减少住户", "en": "households no longer in the register"},
}


_COMPOUNDS_T = {
    "title": {"zh": "小区", "en": "Compounds"},
    "summary": {
        "zh": "共 {n} 个小区：{whole} 个完整地划入一个网格，{split} 个被拆分（户数超过网格上限，只在楼栋之间拆分）。",
        "en": "{n} compounds: {whole} lie whole in one grid, {split} were split (more households than a grid's maximum; split only between buildings).",
    },
    "compound": {"zh": "小区", "en": "Compound"},
    "households": {"zh": "户数", "en": "Households"},
    "grids": {"zh": "所在网格", "en": "Grids"},
    "why": {"zh": "拆分原因", "en": "Why it was split"},
}


def _compounds_section(rows: list[dict], lang: str) -> list[str]:
    """Every compound's outcome: counts, and each split compound with its grids and reason."""
    t = {k: v[lang] for k, v in _COMPOUNDS_T.items()}
    split = [r for r in rows if r.get("split")]
    parts = [f'<h2 id="compounds">{_e(t["title"])}</h2>', f"<p>{_e(t['summary'].format(n=len(rows), whole=len(rows) - len(split), split=len(split)))}</p>"]
    if split:
        reason = "reason_zh" if lang == "zh" else "reason"
        body = "\n".join(
            f"<tr><td>{_e(r['compound'])}</td><td class=\"n\">{_e(str(r['households']))}</td><td>{_e(', '.join(r['grids']))}</td><td>{_e(r.get(reason, ''))}</td></tr>"
            for r in split
        )
        head = f"<tr><th>{_e(t['compound'])}</th><th>{_e(t['households'])}</th><th>{_e(t['grids'])}</th><th>{_e(t['why'])}</th></tr>"
        parts.append(f'<table id="compounds-split">\n{head}\n{body}\n</table>')
    return parts


def _changes_section(report: dict, lang: str) -> list[str]:
    """The change report of an updated plan (``report["changes"]``, counts only; the lists are in changes.json)."""
    changes = report["changes"]
    rows = []
    for key, labels in _CHANGES_T.items():
        if key in ("title", "parent") or key not in changes:
            continue
        value = changes[key]
        text = f"{100 * float(value):.2f} %" if key.startswith("share") else str(value)
        rows.append(f"<tr><th>{_e(labels[lang])}</th><td>{_e(text)}</td></tr>")
    parent = report.get("parent") or {}
    if parent.get("path"):
        rows.append(f"<tr><th>{_e(_CHANGES_T['parent'][lang])}</th><td>{_e(parent['path'])} (sha256 {_e(str(parent.get('report_sha256', ''))[:12])})</td></tr>")
    return [f'<h2 id="changes">{_e(_CHANGES_T["title"][lang])}</h2>', '<table class="changes">', *rows, "</table>"]
