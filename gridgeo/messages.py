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
    "unassigned_summary": {
        "en": "{buildings}{households} outside every community: in the 'unassigned' layer, not in any grid",
        "zh": "{n_buildings} 栋建筑{households}不在任何社区内：已放入 unassigned 图层，未分入任何网格",
    },
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
    "plan_split": {
        "en": "{grids} left in several pieces by the edits, kept as edited (status edited_split): move the cut-off buildings or merge the pieces",
        "zh": "{n_grids} 个网格因本次调整分成多块，按调整保留（状态 edited_split）：请移动被隔开的建筑或合并这些分块",
    },
    "units_summary": {
        "en": "joint units: {n_kept} of {compared} households kept their unit, {moved} changed unit; {added} new in the register, {removed} gone (list in changes.json)",
        "zh": "联户：{compared} 户中 {n_kept} 户留在原联户，{n_moved} 户更换了联户；台账新增 {added} 户，减少 {removed} 户（名单见 changes.json）",
    },
    "edits_summary": {
        "en": "{moved} moved, {stayed} pinned in place ({pinned} pinned in the plan), {locked} locked, {unlocked} unlocked; "
        "{redrawn} re-drawn, {created} created, {retired} retired; {broken} kept; written to {output}",
        "zh": "移动 {n_moved} 栋建筑，原地指定 {n_stayed} 栋（方案中共指定 {n_pinned} 栋），锁定 {n_locked} 个网格，解锁 {n_unlocked} 个；"
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
    (r"households ESTIMATED from footprint × storeys × 0\.8 ÷ (.+?) m² \(storeys from (.+?)\); (\d+) buildings? of non-residential use in '(.+?)' \((.+)\) get 0 \(give counts where people live in them\)",
     "户数为估算值：占地面积 × 层数 × 0.8 ÷ {0} 平方米（层数来源：{1}）；{2} 栋非住宅用途的建筑（字段“{3}”：{4}）户数记为 0（如有住户，请提供户数）"),
    (r"households ESTIMATED from footprint × storeys × 0\.8 ÷ (.+?) m² \(storeys from (.+)\)",
     "户数为估算值：占地面积 × 层数 × 0.8 ÷ {0} 平方米（层数来源：{1}）"),
    (r"households scaled to the register totals in '(.+?)' \((\d+) communit(?:y|ies)\); (\d+) without a total (?:keeps its estimate|keep their estimates) \((.+)\)$",
     "户数已按“{0}”字段的登记总数缩放（{1} 个社区）；{2} 个社区没有登记总数，保留估算值（{3}）"),
    (r"households scaled to the register totals in '(.+?)' \((\d+) communit(?:y|ies)\)", "户数已按“{0}”字段的登记总数缩放（{1} 个社区）"),
    (r"geometry computed in (.+)", "几何计算使用坐标系 {0}"),
    (r"input building columns renamed to keep gridgeo's own names free: (.+)", "输入的建筑字段已改名，以免与 gridgeo 自己的字段重名：{0}"),
    (r"input community columns renamed to keep gridgeo's own names free: (.+)", "输入的社区字段已改名，以免与 gridgeo 自己的字段重名：{0}"),
    (r"--shp-encoding (.+?) has no effect: Shapefiles are written only with --format shp \(add it, e.g. --format shp,csv\)",
     "--shp-encoding {0} 未起作用：只有加 --format shp 才会输出 Shapefile（请加上，例如 --format shp,csv）"),
    (r"(.+?) has no edit rows \(only its header\): the plan is written again unchanged", "{0} 没有调整行（只有表头）：方案原样重新写出"),
    (r"(.+?) reprojected from (.+?) to (.+)", "{0} 已从 {1} 转换到 {2}"),
    (r"(.+?): no community id column; communities are numbered by row \(1\.\.(\d+)\); '(.+?)' holds a different value in every row: pass --community-id (.+?) \(community_id=.+ in Python\) to keep those ids",
     "{0}：没有社区标识字段，社区按行号编号（1..{1}）；字段“{2}”每行取值各不相同，如要保留这些标识，请加 --community-id {3}"),
    (r"(.+?): no community id column; communities are numbered by row \(1\.\.(\d+)\)", "{0}：没有社区标识字段，社区按行号编号（1..{1}）"),
    (r"(.+?): (\d+) buildings? straddles? two or more communities; each went to the community holding most of its footprint \((.+)\)",
     "{0}：{1} 栋建筑跨越两个或多个社区，每栋已归入占其占地面积最多的社区（{2}）"),
    (r"(.+?): (\d+) buildings? \((\d+) households?, (.+?) % of the layer's\) (?:is|are) kept in the 'unassigned' layer with the reason \((.+)\); "
     r"if they belong to these communities, the two layers do not line up: check each layer's CRS \(GCJ-02 or BD-09 coordinates read as WGS 84 lie 300–700 m off\) and that both cover the same place",
     "{0}：{1} 栋建筑（{2} 户，占该图层户数的 {3}%）不在任何社区内，已放入 unassigned 图层并注明原因（{4}）；如果它们属于这些社区，说明两个图层没有对齐："
     "请检查各图层的坐标系（把 GCJ-02 或 BD-09 坐标当作 WGS 84 读入会偏移 300–700 米），并确认两者覆盖同一地区"),
    (r"(.+?): (\d+) buildings? \((\d+) households?, (.+?) % of the layer's\) (?:is|are) kept in the 'unassigned' layer with the reason \((.+)\)",
     "{0}：{1} 栋建筑（{2} 户，占该图层户数的 {3}%）不在任何社区内，已放入 unassigned 图层并注明原因（{4}）"),
    (r"(.+?): (\d+) buildings? (?:is|are) kept in the 'unassigned' layer with the reason \((.+)\); "
     r"if they belong to these communities, the two layers do not line up: check each layer's CRS \(GCJ-02 or BD-09 coordinates read as WGS 84 lie 300–700 m off\) and that both cover the same place",
     "{0}：{1} 栋建筑不在任何社区内，已放入 unassigned 图层并注明原因（{2}）；如果它们属于这些社区，说明两个图层没有对齐："
     "请检查各图层的坐标系（把 GCJ-02 或 BD-09 坐标当作 WGS 84 读入会偏移 300–700 米），并确认两者覆盖同一地区"),
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


# -- errors ------------------------------------------------------------------------------------------
# (English pattern of a problem's message or of its fix, its Chinese): an error names the file, what is wrong and how
# to fix it, each part translated on its own; parts without a pattern stay English
_PROBLEMS: list[tuple[str, str]] = [
    # files and layers
    (r"file not found", "文件不存在"),
    (r"check the path", "请检查路径"),
    (r"exists", "已存在"),
    (r"pass (.+?) to replace it, or choose another folder", "加 {0} 覆盖它，或换一个文件夹"),
    (r"exists and is not a folder", "已存在，但不是文件夹"),
    (r"is not empty and is not a gridgeo output folder \(no report\.json or partition\.gpkg\), so (.+?) will not replace it",
     "不是空文件夹，也不是 gridgeo 的输出文件夹（没有 report.json 或 partition.gpkg），所以 {0} 不会覆盖它"),
    (r"choose a new folder, or empty this one yourself", "请换一个新文件夹，或自己清空这个文件夹"),
    (r"holds (?:a file|files) gridgeo did not write \((.+)\), which (.+?) would delete", "含有不是 gridgeo 写出的文件（{0}），{1} 会把它们删除"),
    (r"move them out of the folder, or choose another folder", "请把它们移出该文件夹，或换一个文件夹"),
    (r"choose a folder name for -o/--output", "请为 -o/--output 指定一个文件夹名"),
    (r"is empty \(0 bytes\)", "是空文件（0 字节）"),
    (r"export the (?:layer|table) again; the file was not written completely", "请重新导出：文件没有写完整"),
    (r"has (\d+) layers \((.+)\)", "有 {0} 个图层（{1}）"),
    (r"name the layer, e\.g\. (.+?) on the command line \(layer=(.+?) in Python\)", "请指定图层，例如在命令行写 {0}（Python 中 layer={1}）"),
    (r"has no layer (.+?); its layers: (.+)", "没有图层 {0}；它的图层有：{1}"),
    (r"name one of them, e\.g\. (.+)", "请指定其中一个，例如 {0}"),
    (r"has (\d+) sheets \((.+)\)", "有 {0} 个工作表（{1}）"),
    (r"name the sheet, e\.g\. FILE\.xlsx:SHEET", "请指定工作表，例如 FILE.xlsx:SHEET"),
    (r"has no sheet '(.+?)' \(sheets: (.+)\)", "没有工作表“{0}”（工作表：{1}）"),
    (r"name one of its sheets", "请指定其中一个工作表"),
    (r"its (index|attribute table) (.+?) is missing", "缺少{0} {1}"),
    (r"copy (.+?) next to (.+?) \(a Shapefile is \.shp, \.shx, \.dbf and \.prj\), or send a zip or GeoPackage",
     "把 {0} 复制到 {1} 旁边（Shapefile 由 .shp、.shx、.dbf 和 .prj 组成），或改用 zip 或 GeoPackage"),
    (r"cannot be read as a vector layer \((.+)\)", "无法作为矢量图层读取（{0}）"),
    (r"check the file format and layer name", "请检查文件格式和图层名"),
    (r"has no features", "没有任何要素"),
    (r"check that the right file and layer were given", "请确认给出的文件和图层正确"),
    (r"has no rows", "没有数据行"),
    (r"check that the right file was given", "请确认给出的文件正确"),
    # text encodings
    (r"(.+?): text in (.+?) is not UTF-8 and there is no (.+?) naming its encoding", "{0}：{1} 中的文字不是 UTF-8 编码，也没有 {2} 文件说明其编码"),
    (r"pass --encoding gbk \(or gb18030, big5, cp1252: the encoding it was saved in\), or add a \.cpg file holding that name",
     "加 --encoding gbk（或 gb18030、big5、cp1252：文件保存时所用的编码），或添加写有该编码名称的 .cpg 文件"),
    (r"text is not (.+?) \((.+)\)", "文字不是 {0} 编码（{1}）"),
    (r"is not (UTF-8|.+?) text \((.+)\)", "不是 {0} 编码的文本（{1}）"),
    (r"pass --encoding gbk \(or gb18030\)(?:, or save it as UTF-8 CSV)?", "加 --encoding gbk（或 gb18030），或另存为 UTF-8 CSV"),
    # coordinate reference systems
    (r"has no coordinate reference system \(no \.prj file\)", "没有坐标参考系（缺少 .prj 文件）"),
    (r"has no coordinate reference system \(no CRS metadata\)", "没有坐标参考系（文件未记录坐标系）"),
    (r"has no coordinate reference system", "没有坐标参考系"),
    (r"add a \.prj \(e\.g\. save the layer from QGIS with its CRS set\) or convert the file to GeoPackage with its CRS",
     "请补上 .prj 文件（例如在 QGIS 中设好坐标系后另存该图层），或连同坐标系转换为 GeoPackage"),
    (r"set the layer's CRS and save it again \(QGIS: Layer ▸ Set CRS of Layer, then Export ▸ Save Features As… with that CRS\)",
     "请设置图层的坐标系后重新保存（QGIS：图层 ▸ 设置图层坐标系，然后 导出 ▸ 要素另存为…，选该坐标系）"),
    (r"coordinates (.+?) are not longitudes and latitudes, yet the layer's CRS is geographic \((.+)\)",
     "坐标 {0} 不是经纬度，但图层的坐标系是地理坐标系（{1}）"),
    (r"coordinates (.+?) are not longitude, latitude: they look like latitude, longitude \(swapped\), yet the layer's CRS is geographic \((.+)\) with longitude first",
     "坐标 {0} 不是“经度, 纬度”，看起来是“纬度, 经度”（顺序颠倒），而图层的坐标系是经度在前的地理坐标系（{1}）"),
    (r"swap the X and Y coordinates \(longitude first\) and save the layer again", "请交换 X、Y 坐标（经度在前）后重新保存图层"),
    (r"the \.prj is wrong: set the layer's real projected CRS \(for example a Gauss-Krüger or UTM zone\) before running gridgeo",
     ".prj 有误：请先为图层设置其真实的投影坐标系（例如高斯-克吕格或 UTM 分带），再运行 gridgeo"),
    # columns, ids and households
    (r"has no column '(.+?)'", "没有字段“{0}”"),
    (r"use one of: (.+?), or omit --households to estimate", "请使用其中之一：{0}；或去掉 --households，按估算户数"),
    (r"use one of: (.+)", "请使用其中之一：{0}"),
    (r"use '(.+?)' \(the closest name\); its columns: (.+?), or omit --households to estimate",
     "请使用“{0}”（名称最接近）；它的字段有：{1}；或去掉 --households，按估算户数"),
    (r"use '(.+?)' \(the closest name\); its columns: (.+)", "请使用“{0}”（名称最接近）；它的字段有：{1}"),
    (r"use '(.+?)' \(a Shapefile cuts field names to (\d+) characters\); its columns: (.+)", "请使用“{0}”（Shapefile 的字段名最多 {1} 个字符）；它的字段有：{2}"),
    (r"(.+?): duplicate (.+?) values \((.+)\)", "{0}：字段 {1} 取值重复（{2}）"),
    (r"make '(.+?)' unique", "请使“{0}”的取值各不相同"),
    (r"(.+?): community id '(.+?)' is empty", "{0}：社区标识“{1}”为空"),
    (r"give every community an id", "请为每个社区填写标识"),
    (r"(.+?): building id '(.+?)' is empty", "{0}：建筑标识“{1}”为空"),
    (r"give every building an id", "请为每栋建筑填写标识"),
    (r"(.+?) have no geometry", "{0} 没有几何"),
    (r"delete these rows or draw their boundaries", "请删除这些行，或绘制其边界"),
    (r"(.+?): households '(.+?)' is missing", "{0}：户数字段“{1}”为空"),
    (r"fill in a count \(0 for non-residential buildings\)", "请填写户数（非住宅建筑填 0）"),
    (r"(.+?): households '(.+?)' is not a number \((.+)\)", "{0}：户数字段“{1}”不是数字（{2}）"),
    (r"(.+?): households '(.+?)' is negative", "{0}：户数字段“{1}”为负数"),
    (r"(.+?): households '(.+?)' is not a whole number", "{0}：户数字段“{1}”不是整数"),
    (r"(.+?): households '(.+?)' is infinite", "{0}：户数字段“{1}”为无穷大"),
    (r"use whole numbers", "请使用整数"),
    (r"use 0 or more", "请使用 0 或正数"),
    (r"round the counts", "请把户数取整"),
    (r"none of the (\d+) buildings lies in any community of (.+?); the coordinates of (.+?) look like latitude, longitude \(swapped\)",
     "{0} 栋建筑都不在 {1} 的任何社区内；{2} 的坐标看起来是“纬度, 经度”（顺序颠倒）"),
    (r"none of the (\d+) buildings lies in any community of (.+)", "{0} 栋建筑都不在 {1} 的任何社区内"),
    (r"check that both layers cover the same place and carry the right CRS", "请确认两个图层覆盖同一地区，且坐标系正确"),
    (r"swap the X and Y coordinates of (.+?) \(longitude first\)", "请交换 {0} 的 X、Y 坐标（经度在前）"),
    # the command line
    (r"missing (.+)", "缺少 {0}"),
    (r"give them as arguments or in --config", "请在命令行参数或 --config 中给出"),
    (r"unknown format '(.+?)'", "未知的格式“{0}”"),
    (r"use (shp, csv, xlsx.*)", "请使用 {0}"),
    (r"(.+?) is OUTDIR; writing there would replace the plan being edited", "{0} 就是 OUTDIR：写到那里会覆盖正在调整的方案"),
    (r"write the edited plan to a new folder", "请把调整后的方案写到新的文件夹"),
    (r"(.+?) holds the input file (.+?); writing there would replace it", "{0} 中有输入文件 {1}：写到那里会覆盖它"),
    (r"write the output to another folder", "请把输出写到其他文件夹"),
    (r"needs a Tianditu key", "需要天地图密钥"),
    (r"pass --tianditu-key KEY \(or set TIANDITU_KEY\), or use --basemap osm", "请加 --tianditu-key KEY（或设置环境变量 TIANDITU_KEY），或改用 --basemap osm"),
    # the edits file
    (r"does not exist or is not a file", "不存在或不是文件"),
    (r"give the CSV of edits \(columns building_code,grid_code\[,action\]\)", "请给出调整表 CSV（字段 building_code,grid_code[,action]）"),
    (r"missing columns? (.+?) \(found: (.+)\)", "缺少字段 {0}（现有：{1}）"),
    (r"(.+?): unknown action (.+)", "{0}：未知的操作 {1}"),
    (r"use one of (.+?) \(empty means move\)", "请使用 {0} 之一（留空表示移动）"),
    (r"(.+?): a move without building_code", "{0}：移动行缺少 building_code"),
    (r"(.+?): no grid_code", "{0}：缺少 grid_code"),
    (r"(.+?): unknown building code (.+)", "{0}：未知的建筑编码 {1}"),
    (r"use a building_code of the plan's buildings layer", "请使用方案 buildings 图层中的 building_code"),
    (r"(.+?): (.+?) is a (.+?), not a building code", "{0}：{1} 是 {2}，不是建筑编码"),
    (r"use its building_code, (.+)", "请使用它的建筑编码 {0}"),
    (r"(.+?): building (.+?) is no longer in the plan \(an update removed it; its code stays retired\)",
     "{0}：建筑 {1} 已不在方案中（已被更新删除，其编码保持停用）"),
    (r"(.+?): grid code (.+?) was retired and is never reused", "{0}：网格编码 {1} 已撤销，不再使用"),
    (r"for a new grid use the next free grid code in community (.+?), (.+)", "新网格请使用社区 {0} 的下一个空闲编码 {1}"),
    (r"(.+?): building (.+?) of community (.+?) cannot move to grid (.+?) of another community", "{0}：社区 {2} 的建筑 {1} 不能移到另一社区的网格 {3}"),
    (r"every grid belongs to exactly one community: move it to a grid of its own community", "每个网格只属于一个社区：请移到本社区的网格"),
    (r"(.+?): building (.+?) is sent to (.+?) but also to (.+)", "{0}：建筑 {1} 既被移到 {2}，又被移到 {3}"),
    (r"keep one row per building", "每栋建筑只保留一行"),
    (r"(.+?): cannot lock unknown grid (.+)", "{0}：无法锁定不存在的网格 {1}"),
    (r"(.+?): grid (.+?) is not locked", "{0}：网格 {1} 没有被锁定"),
    (r"(.+?): grid (.+?) is both locked and unlocked", "{0}：网格 {1} 同时被锁定和解锁"),
    (r"keep one of the two rows", "请只保留其中一行"),
    (r"(.+?): grid (.+?) is locked \(report\.json locked_grids\): a move (?:out of|into) it is refused", "{0}：网格 {1} 已锁定（见 report.json 的 locked_grids），拒绝移入或移出"),
    (r"unlock it in the same file first \(a row (.+?),unlock\), or leave the row out", "请先在同一文件中解锁（加一行 {0},unlock），或删去该行"),
    (r"(.+?): grid code (.+?) is neither a grid of the plan nor a new code <community>-<number> of one of its communities",
     "{0}：网格编码 {1} 既不是方案中的网格，也不是其某个社区的新编码（社区编码-序号）"),
    (r"use a grid_code of the building's community (.+?) \((.+?)\), or (.+?) for a new grid",
     "请使用该建筑所在社区 {0} 的网格编码（{1}），新网格请用 {2}"),
    (r"(.+?): grid code (.+?) is not a grid of community (.+?), and a new grid takes the community's next free number",
     "{0}：网格编码 {1} 不是社区 {2} 的网格，而新网格须使用该社区的下一个空闲序号"),
    (r"the next free grid code in community (.+?) is (.+?); use it for a new grid, or a grid_code of the plan \((.+?)\) to move the building into an existing grid",
     "社区 {0} 的下一个空闲网格编码是 {1}；新网格请用它，或用方案中的网格编码（{2}）把建筑移入已有网格"),
]
_PROBLEMS_COMPILED = [(re.compile(pattern + r"$", re.S), zh) for pattern, zh in _PROBLEMS]
_LINES = re.compile(r"\blines? ([\d, ]+?)(?= \(and|\)|;|:|$)")


def _translated(text: str, compiled, rows) -> str | None:
    """``text`` in Chinese by the first of the ``compiled`` patterns it matches (row lists in its parts by ``rows``), or None."""
    for pattern, template in compiled:
        match = pattern.match(text)
        if match:
            parts = []
            for part in match.groups():
                for found, words in rows:
                    part = found.sub(lambda m, w=words: w.format(m.group(1)), part)
                parts.append(part)
            return template.format(*parts)
    return None


def _translate_part(text: str) -> str:
    """One part of a problem (its message or its fix) in Chinese when its pattern is known, else as it is."""
    found = _translated(text, _PROBLEMS_COMPILED, [*_ROWS, (_LINES, "第 {0} 行")])
    return found if found is not None else translate(text, "zh")


def problem_text(problem, lang: str) -> str:
    """One :class:`~gridgeo.errors.Problem` for the user: its file, what is wrong and the fix, in ``lang`` where known.

    Examples
    --------
    >>> from gridgeo.errors import Problem
    >>> problem_text(Problem("a.gpkg", "file not found", "check the path"), "zh")
    'a.gpkg：文件不存在——修正：请检查路径'
    """
    if lang != "zh":
        return str(problem)
    return f"{problem.source}：{_translate_part(problem.message)}" + (f"——修正：{_translate_part(problem.fix)}" if problem.fix else "")


def error_text(error: BaseException, lang: str) -> str:
    """An error for the user: each problem's message and fix in ``lang`` where their patterns are known.

    Examples
    --------
    >>> from gridgeo.errors import InputError, Problem
    >>> error = InputError(Problem("out", "exists", "pass --overwrite to replace it, or choose another folder"))
    >>> error_text(error, "zh")
    'out：已存在——修正：加 --overwrite 覆盖它，或换一个文件夹'
    >>> error_text(error, "en") == str(error)
    True
    """
    problems = getattr(error, "problems", None)
    if lang != "zh":
        return str(error)
    if not problems:
        return translate(str(error), lang)
    lines = [problem_text(p, lang) for p in problems]
    if len(lines) == 1:
        return lines[0]
    return "\n".join([f"输入中有 {len(lines)} 个问题：", *(f"  - {line}" for line in lines)])


def translate(text: str, lang: str) -> str:
    """A library message in ``lang``: its Chinese when its pattern is known, else as it is.

    >>> translate("compound A lies in no community; ignored", "zh")
    '小区 A 不在任何社区内，已忽略'
    """
    if lang != "zh":
        return text
    found = _translated(text, _COMPILED, _ROWS)
    return found if found is not None else text


def translate_warning(text: str, lang: str) -> str:
    """A library warning for the user: as is in English, in Chinese when its pattern is known.

    >>> translate_warning("buildings.gpkg: 3 buildings straddle two or more communities; each went to the community holding most of its footprint (rows 13, 18, 45)", "zh")
    '警告：buildings.gpkg：3 栋建筑跨越两个或多个社区，每栋已归入占其占地面积最多的社区（第 13, 18, 45 行）'
    >>> translate_warning("something new", "zh"), translate_warning("something new", "en")
    ('警告：something new', 'WARNING: something new')
    """
    return say("warning", lang, text=translate(text, lang))
