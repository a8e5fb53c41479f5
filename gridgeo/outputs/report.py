"""A self-contained HTML report of a finished partition (``report.html``).

One page, no external resources: the styles are inline, the two plots
(households per grid with the band marked, and the Polsby-Popper distribution)
are inline SVG written by :mod:`gridgeo.outputs.report_plots`, so the page
works offline.  A Content-Security-Policy forbids scripts and remote loads.
Every data value is HTML-escaped.

The page and its plot labels are in the chosen language; the browser draws
the text, Chinese included, with its own fonts, so writing the report needs
no font on the machine that runs gridgeo.

This module only reads a :class:`~gridgeo.result.Partition`; it never runs an
algorithm.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np
import pandas as pd

from .. import timings
from ..inputs.names import community_name_column
from ..labels import check_lang
from ..messages import translate
from .files import write_atomic
from .report_flagged import _flagged_table
from .report_html import _community_codes, _e, _figure, _int, _missing, _num, _pct, _ratio, _yes
from .report_layers import _changes_section, _compounds_section, _governance
from .report_plots import _households_svg, _numbers, _polsby_popper, _pp_svg

__all__ = ["build_report_html", "write_report"]

logger = logging.getLogger(__name__)

#: columns of ``result.communities`` tried, in order, for community names

_T: dict[str, dict[str, str]] = {
    "title": {"zh": "网格划分报告", "en": "Grid partition report"},
    "parameters": {"zh": "参数", "en": "Parameters"},
    "grid_band": {"zh": "网格户数区间", "en": "grid households band"},
    "unit_band": {"zh": "联户户数区间", "en": "joint unit households band"},
    "seed": {"zh": "随机种子", "en": "seed"},
    "households_column": {"zh": "户数字段", "en": "households column"},
    "estimated_source": {"zh": "（按占地面积与层数估算）", "en": "(estimated from footprint and storeys)"},
    "input_crs": {"zh": "输入坐标系", "en": "input CRS"},
    "metric_crs": {"zh": "计算坐标系", "en": "metric CRS"},
    "version": {"zh": "gridgeo 版本", "en": "gridgeo version"},
    "estimated_banner": {
        "zh": "注意：户数为估算值（占地面积 × 层数），不是登记数据；使用前请核实。",
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
    "coverage_valid": {"zh": "覆盖有效（各社区内）", "en": "valid coverage (within each community)"},
    "community_overlap": {"zh": "输入的社区相互重叠（平方米，其网格在此也重叠）", "en": "input communities overlapping (m²; their grids overlap there too)"},
    "pp": {"zh": "紧凑度 Polsby-Popper 均值 / 最小值", "en": "Polsby-Popper mean / min"},
    "spread": {"zh": "区间内网格户数的离散系数（标准差 / 均值）", "en": "spread of households over grids in band (coefficient of variation)"},
    "max_min": {"zh": "区间内网格户数 最多 / 最少（倍数）", "en": "grids in band: most / fewest households (ratio)"},
    "balance_note": {"zh": "各社区的均衡度（社区内 |网格户数 − 均值| / 均值 的最大值）见“各社区”表。", "en": "The balance of each community (largest |grid households − mean| / mean within it) is in the per-community table."},
    "barriers": {"zh": "跨越障碍次数（括号内为可证明的下限）", "en": "barrier crossings (in brackets: the proven lower bound)"},
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
    # staffing, workload and service coverage (gridgeo.governance.workload, gridgeo.governance.coverage)
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
        "zh": "由 gridgeo 生成。所有指标的定义见 gridgeo 文档 docs/how-it-works.md（代码：gridgeo.metrics）。",
        "en": "Made by gridgeo. The measures are defined in gridgeo's docs/how-it-works.md (code: gridgeo.metrics).",
    },
}


def _asset(name: str) -> str:
    """A file of the report's page (``gridgeo/assets/report/NAME``), as text."""
    return resources.files("gridgeo").joinpath("assets", "report", name).read_text(encoding="utf-8")


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

    page = Template(_asset("page.html")).substitute(lang="zh-CN" if lang == "zh" else "en", title=_e(t["title"]), css=_asset("report.css"))
    parts = [page.removesuffix("\n"), _parameters(report, params, (low, high), t)]
    if summary.get("households_estimated"):
        parts.append(f'<div class="banner" id="estimated">{_e(t["estimated_banner"])}</div>')
    parts += [f"<h2>{_e(t['summary'])}</h2>", _summary_table(summary, t, _spread(result.grids))]
    parts += [f"<h2>{_e(t['notes'])}</h2>", _notes([translate(note, lang) for note in report.get("notes", [])], t)]
    parts += [f"<h2>{_e(t['plots'])}</h2>"]
    households = _numbers(result.grids, "households")
    pp = _polsby_popper(result.grids)
    parts.append(
        _figure(
            "hist",
            _households_svg(households, (low, high), lang),
            t["hist_caption"].format(low=low, high=high),
        )
    )
    parts.append(_figure("pp", _pp_svg(pp, lang), t["pp_caption"]))
    parts += [f"<h2>{_e(t['per_community'])}</h2>", _community_table(report.get("communities", []), result.communities, names, t)]
    parts += [f"<h2>{_e(t['flagged'])}</h2>", _flagged_table(result.grids, result.communities, names, lang, t)]
    parts += _governance(result, report, names, t, lang)
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


# -- HTML pieces ---------------------------------------------------------------------------------


def _band(grid_size) -> tuple[int, int]:
    if grid_size is not None and len(grid_size) == 2:
        return int(grid_size[0]), int(grid_size[1])
    logger.warning("report has no grid_size parameter; assuming the default band 300–500")
    return 300, 500


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
        *([("community_overlap", t["community_overlap"], f"{float(s['community_overlap_m2']):,.0f}")] if s.get("community_overlap_m2") else []),
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
        ) or key == "community_overlap"
        cls = ' class="n bad"' if bad else ' class="n"'
        body.append(f'<tr id="summary-{_e(key)}"><th>{_e(label)}</th><td{cls}>{_e(value)}</td></tr>')
    return '<table id="summary">\n' + "\n".join(body) + "\n</table>\n" + f'<p id="balance-note" class="params">{_e(t["balance_note"])}</p>'


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
        column = community_name_column(communities.columns)
    elif column not in communities.columns:
        logger.warning("communities have no column %r; the report shows no community names", column)
        column = None
    if column is None:
        return {}
    return {str(k): ("" if _missing(v) else str(v)) for k, v in zip(communities["community_id"], communities[column])}


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


# -- plots ---------------------------------------------------------------------------------------


# -- staffing, workload and service coverage ----------------------------------------------------------


