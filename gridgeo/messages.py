"""The command line's own words in Chinese and English: summaries, errors and warnings.

The language is ``--lang`` when given, else the locale: ``LC_ALL``, then
``LC_MESSAGES``, then ``LANG`` (the first that is set, as POSIX reads them); a
value starting with ``zh`` means Chinese.  English counts agree with their
numbers ("1 grid", "2 grids").

Warnings come from the library in English (they are also the notes of
``report.json``, which stay English); :func:`translate_warning` gives the
Chinese of the ones a user meets most, and prefixes any other with "警告：".

Only words live here: no I/O, no algorithm.

Examples
--------
>>> count(1, "grid"), count(2, "grid"), count(3, "community", "communities")
('1 grid', '2 grids', '3 communities')
>>> say("error", "zh", text="x")
'错误：x'
>>> locale_lang({"LANG": "zh_CN.UTF-8"}), locale_lang({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}), locale_lang({})
('zh', 'en', 'en')
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

__all__ = ["count", "say", "locale_lang", "translate", "translate_warning", "MESSAGES"]


def locale_lang(environ: Mapping[str, str] | None = None) -> str:
    """``"zh"`` when the locale's language is Chinese, else ``"en"``."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the English noun that agrees with it."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


#: message key → language → template; English templates get their counted nouns from :func:`count`
MESSAGES: dict[str, dict[str, str]] = {
    "error": {"en": "Error: {text}", "zh": "错误：{text}"},
    "audit_failed": {
        "en": "Audit failed, nothing was written: {text} (this is a gridgeo bug; please report it with -v output)",
        "zh": "自检未通过，未写出任何文件：{text}（这是 gridgeo 的缺陷，请附上 -v 的输出报告）",
    },
    "interrupted": {"en": "Interrupted; no output was written.", "zh": "已中断，未写出任何文件。"},
    "internal": {
        "en": "Internal error: {kind}: {text} (run with -v for details)",
        "zh": "内部错误：{kind}：{text}（加 -v 运行可看详细信息）",
    },
    "partition_summary": {
        "en": "{grids}, {units} from {buildings} ({households}{estimated}) in {communities}; "
        "{excused} flagged with a reason, {defects} ({proven} proven unavoidable); written to {output}",
        "zh": "共 {n_grids} 个网格、{n_units} 个联户，来自 {n_buildings} 栋建筑（{n_households} 户{estimated}），"
        "分属 {n_communities} 个社区；{n_excused} 个网格因有豁免理由被标记，缺陷 {n_defects} 个（其中 {n_proven} 个已证明无法避免）；已写入 {output}",
    },
    "estimated": {"en": ", ESTIMATED", "zh": "，为估算值"},
    "services_summary": {
        "en": "1+1+1+N teams: {helpers} in all; {flagged} with a workload far above the mean of the community",
        "zh": "1+1+1+N 队伍：共需兼职网格员/志愿者 {n_helpers} 人；{n_flagged} 个网格的工作量明显高于所在社区均值",
    },
    "coverage_summary": {
        "en": "; {flagged} beyond a {limit}-minute walk of {centres}",
        "zh": "；{n_flagged} 个网格到 {n_centres} 个服务中心的步行时间超过 {limit} 分钟",
    },
    "update_summary": {
        "en": "buildings: {n_b_added} added, {n_b_removed} removed; grids: {n_added} added, {retired} retired, {reshaped} "
        "reshaped, {modified} with other buildings; {moved} and {households} ({share:.2f} %) changed grid (lower bound for "
        "such a repair: {n_bound}); written to {output}",
        "zh": "建筑新增 {n_b_added} 栋、拆除 {n_b_removed} 栋；新增 {n_added} 个网格，撤销 {n_retired} 个，调整边界 {n_reshaped} 个，建筑变化 {n_modified} 个；"
        "{n_moved} 栋建筑、{n_households} 户（{share:.2f} %）更换了网格（同类修复的下界：{n_bound} 户）；已写入 {output}",
    },
    "plan_quality": {
        "en": "the plan written: {grids} in {communities}; {excused} flagged with a reason, {defects} ({proven} proven unavoidable)",
        "zh": "写出的方案：共 {n_grids} 个网格，分属 {n_communities} 个社区；{n_excused} 个网格因有豁免理由被标记，缺陷 {n_defects} 个（其中 {n_proven} 个已证明无法避免）",
    },
    "units_summary": {
        "en": "joint units: {n_kept} of {compared} households kept their unit, {moved} changed unit; {added} new in the register, {removed} gone (list in changes.json)",
        "zh": "联户：{compared} 户中 {n_kept} 户留在原联户，{n_moved} 户更换了联户；台账新增 {added} 户，减少 {removed} 户（名单见 changes.json）",
    },
    "edits_summary": {
        "en": "{moved} moved, {stayed} pinned in place ({pinned} pinned in the plan), {locked} locked; "
        "{redrawn} re-drawn, {created} created, {retired} retired; {broken} kept; written to {output}",
        "zh": "移动 {n_moved} 栋建筑，原地指定 {n_stayed} 栋（方案中共指定 {n_pinned} 栋），锁定 {n_locked} 个网格；"
        "重新划分 {n_redrawn} 个网格，新建 {n_created} 个，撤销 {n_retired} 个；保留 {n_broken} 条无法满足的约束；已写入 {output}",
    },
    "kept": {"en": "  kept: {text}", "zh": "  保留：{text}"},
    "problems": {"en": "{problems}:", "zh": "发现 {n} 个问题："},
    "ok": {
        "en": "OK: {communities}, {buildings} assigned, {unassigned} unassigned",
        "zh": "通过：{n_communities} 个社区，{n_buildings} 栋建筑已归属，{n_unassigned} 栋未归属",
    },
    "note": {"en": "  note: {text}", "zh": "  说明：{text}"},
    "wrote_map": {"en": "map: {path}", "zh": "地图：{path}"},
    "wrote_file": {"en": "wrote: {path}", "zh": "已写出：{path}"},
    "wrote_tables": {"en": "{tables} written into PostgreSQL schema {schema}: {names}", "zh": "已写入 PostgreSQL 模式 {schema} 的 {n} 张表：{names}"},
    "wrote_report": {"en": "report: {path}", "zh": "报告：{path}"},
    "wrote_print": {"en": "print: {path}", "zh": "公示图：{path}"},
    "wrote_prints": {"en": "print: {communities} in {path}", "zh": "公示图：{n} 个社区，在 {path}"},
    "open_map": {"en": "Open {path} in a browser.", "zh": "请用浏览器打开 {path}。"},
    "warning": {"en": "WARNING: {text}", "zh": "警告：{text}"},
}


def say(key: str, lang: str, **values) -> str:
    """The message ``key`` in ``lang`` with ``values`` filled in (English when ``lang`` is unknown)."""
    texts = MESSAGES[key]
    return texts.get(lang, texts["en"]).format(**values)


# -- warnings ----------------------------------------------------------------------------------------
# (English pattern of a library warning, its Chinese); groups are copied in order as {0}, {1}, …
_WARNINGS: list[tuple[str, str]] = [
    (r"households ESTIMATED from footprint × storeys × 0\.8 ÷ (.+?) m² \(storeys from (.+)\)",
     "户数为估算值：建筑面积 × 层数 × 0.8 ÷ {0} 平方米（层数来源：{1}）"),
    (r"households scaled to the register totals in '(.+?)' \((\d+) communit(?:y|ies)\); (\d+) without a total (?:keeps its estimate|keep their estimates) \((.+)\)$",
     "户数已按“{0}”字段的登记总数缩放（{1} 个社区）；{2} 个社区没有登记总数，保留估算值（{3}）"),
    (r"households scaled to the register totals in '(.+?)' \((\d+) communit(?:y|ies)\)", "户数已按“{0}”字段的登记总数缩放（{1} 个社区）"),
    (r"geometry computed in (.+)", "几何计算使用坐标系 {0}"),
    (r"input building columns renamed to keep gridgeo's own names free: (.+)", "输入的建筑字段已改名，以免与 gridgeo 自己的字段重名：{0}"),
    (r"input community columns renamed to keep gridgeo's own names free: (.+)", "输入的社区字段已改名，以免与 gridgeo 自己的字段重名：{0}"),
    (r"--shp-encoding (.+?) has no effect: Shapefiles are written only with --format shp \(add it, e.g. --format shp,csv\)",
     "--shp-encoding {0} 未起作用：只有加 --format shp 才会输出 Shapefile（请加上，例如 --format shp,csv）"),
    (r"(.+?) reprojected from (.+?) to (.+)", "{0} 已从 {1} 转换到 {2}"),
    (r"(.+?): no community id column; communities are numbered by row \(1\.\.(\d+)\); '(.+?)' holds a different value in every row: pass --community-id (.+?) \(community_id=.+ in Python\) to keep those ids",
     "{0}：没有社区标识字段，社区按行号编号（1..{1}）；字段“{2}”每行取值各不相同，如要保留这些标识，请加 --community-id {3}"),
    (r"(.+?): no community id column; communities are numbered by row \(1\.\.(\d+)\)", "{0}：没有社区标识字段，社区按行号编号（1..{1}）"),
    (r"(.+?): (\d+) buildings? straddles? two or more communities; each went to the community holding most of its footprint \((.+)\)",
     "{0}：{1} 栋建筑跨越两个或多个社区，每栋已归入占其占地面积最多的社区（{2}）"),
    (r"(.+?): (\d+) buildings? (?:is|are) kept in the 'unassigned' layer with the reason \((.+)\)",
     "{0}：{1} 栋建筑不在任何社区内，已放入 unassigned 图层并注明原因（{2}）"),
    (r"(.+?): every building has 0 households in (.+?); each community is one grid flagged infeasible_total \(check the households column\)",
     "{0}：按 {1} 所有建筑的户数都是 0；每个社区成为一个标记为 infeasible_total 的网格（请检查户数字段）"),
    (r"(.+?): (\d+) communit(?:y has|ies have) no households \((.+)\); each is one grid flagged infeasible_total",
     "{0}：{1} 个社区没有住户（{2}）；每个成为一个标记为 infeasible_total 的网格"),
    (r"(.+?): dropped (\d+) sliver parts? smaller than (.+?) m² from multi-part communities",
     "{0}：已从多部分社区中删除 {1} 个小于 {2} 平方米的碎片"),
    (r"(.+?): dropped the M \(measure\) values of (\d+) geometr(?:y|ies) \((.+)\); X, Y and Z are kept",
     "{0}：已去掉 {1} 个几何的 M（测量）值（{2}）；保留 X、Y、Z"),
    (r"(.+?): (.+) have the same geometry as another building \((\d+) groups?\); they share one cell and one grid \(check for buildings entered twice: their households count twice\)",
     "{0}：{1} 与另一栋建筑的几何完全相同（{2} 组）；它们共用一个单元和一个网格（请检查是否重复录入：重复的户数会被计算两次）"),
    (r"(.+?): (.+) lies? inside another building's footprint \(building parts, or outlines drawn twice\?\); each keeps its own households, so check that no household is counted twice",
     "{0}：{1} 位于另一栋建筑的轮廓内（建筑部件，或轮廓重复绘制？）；各自保留户数，请确认没有住户被重复计算"),
    (r"(.+?): repaired (\d+) invalid geometr(?:y|ies) with make_valid \((.+)\)",
     "{0}：已用 make_valid 修复 {1} 个无效几何（{2}）"),
    (r"(.+?): (\d+) invalid polygons? repaired with make_valid",
     "{0}：已用 make_valid 修复 {1} 个无效多边形"),
    (r"(.+?): no \.cpg file; its text is valid UTF-8 and was read as UTF-8 \(pass --encoding to choose another\)",
     "{0}：没有 .cpg 文件；其文字是有效的 UTF-8，已按 UTF-8 读取（可用 --encoding 指定其他编码）"),
    (r"community (.+?) alone has (\d+) buildings \(> (\d+)\): its map may be slow",
     "社区 {0} 有 {1} 栋建筑（超过 {2}）：其地图可能较慢"),
    (r"dedicated facility (.+?) lies in no community; it is not made a grid",
     "专属设施 {0} 不在任何社区内，未设为网格"),
    (r"compound (.+?) lies in no community; ignored", "小区 {0} 不在任何社区内，已忽略"),
    (r"no CJK font installed: community (.+?) is printed with its id instead of its Chinese name",
     "未安装中文字体：社区 {0} 以标识代替中文名称打印"),
]
_COMPILED = [(re.compile(pattern + r"$", re.S), zh) for pattern, zh in _WARNINGS]
_ROWS = [
    (re.compile(r"\brows? ([\d, ]+?)(?= \(and|\)|;|$)"), "第 {0} 行"),
    (re.compile(r"\(and (\d+) more\)"), "（另有 {0} 个）"),
    (re.compile(r" and (\d+) more\b"), " 等，另有 {0} 个"),  # after a list of names: "w1, w2 and 5 more"
]


def translate(text: str, lang: str) -> str:
    """A library message in ``lang``: its Chinese when its pattern is known, else as it is.

    >>> translate("compound A lies in no community; ignored", "zh")
    '小区 A 不在任何社区内，已忽略'
    """
    if lang != "zh":
        return text
    for pattern, template in _COMPILED:
        match = pattern.match(text)
        if match:
            parts = []
            for part in match.groups():
                for rows, words in _ROWS:
                    part = rows.sub(lambda m, w=words: w.format(m.group(1)), part)
                parts.append(part)
            return template.format(*parts)
    return text


def translate_warning(text: str, lang: str) -> str:
    """A library warning for the user: as is in English, in Chinese when its pattern is known.

    >>> translate_warning("buildings.gpkg: 3 buildings straddle two or more communities; each went to the community holding most of its footprint (rows 13, 18, 45)", "zh")
    '警告：buildings.gpkg：3 栋建筑跨越两个或多个社区，每栋已归入占其占地面积最多的社区（第 13, 18, 45 行）'
    >>> translate_warning("something new", "zh"), translate_warning("something new", "en")
    ('警告：something new', 'WARNING: something new')
    """
    return say("warning", lang, text=translate(text, lang))
