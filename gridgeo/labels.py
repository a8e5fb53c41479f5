"""Chinese and English labels shared by the human-facing outputs (report, roster, map).

Only words live here: no data, no I/O.  ``zh`` is simplified Chinese as used in
community governance (社区网格化管理); ``en`` is plain English.  Column and
status keys are the machine names used in the GeoDataFrames and files.

Examples
--------
>>> status_label("oversize_building", "en")
'oversize building'
>>> column_label("grid_code", "zh")
'网格编码'
"""

from __future__ import annotations

from .errors import InputError, Problem

__all__ = ["LANGS", "STATUS_LABELS", "STATUS_MEANINGS", "REASONS", "reason_text", "localized_reasons", "COLUMN_LABELS", "FACILITY_LABELS", "FLAG_WORDS", "check_lang", "status_label", "column_label"]

#: the languages every human-facing output supports
LANGS = ("zh", "en")

STATUS_LABELS: dict[str, dict[str, str]] = {
    "in_band": {"zh": "在区间内", "en": "in band"},
    "oversize_building": {"zh": "含超大建筑", "en": "oversize building"},
    "infeasible_total": {"zh": "社区总户数无法均分", "en": "infeasible total"},
    "detached_part": {"zh": "分离地块", "en": "detached part"},
    "dedicated": {"zh": "专属网格", "en": "dedicated"},
    "out_of_band": {"zh": "超出区间（缺陷）", "en": "out of band (defect)"},
    "edited_split": {"zh": "人工调整后不连通", "en": "split by a manual edit"},
}

STATUS_MEANINGS: dict[str, dict[str, str]] = {
    "in_band": {"zh": "户数在设定范围内", "en": "households within the band"},
    "oversize_building": {"zh": "含一栋户数超过上限的建筑", "en": "holds a building whose households alone exceed the maximum"},
    "infeasible_total": {"zh": "社区总户数无法分成范围内的网格", "en": "the community's total admits no grid count in the band"},
    "detached_part": {"zh": "多部分社区中独立的一块，其户数无法分成范围内的网格", "en": "a detached piece of a community whose own total admits no grid count"},
    "dedicated": {"zh": "为单位、商场、医院、学校等设立的专属网格", "en": "a grid for one institution (school, hospital, mall, enterprise)"},
    "out_of_band": {"zh": "户数超出范围，需要处理", "en": "households outside the band: to be fixed"},
    "edited_split": {"zh": "规划人员的调整使网格分成多块，按调整保留", "en": "a planner's edit left the grid in several pieces; kept as edited"},
}

#: why a grid is outside the band, per reason code; ``{name}`` fields come from the engine
REASONS: dict[str, dict[str, str]] = {
    "oversize_building": {
        "en": "holds a building of {households} households, more than the band maximum {high}",
        "zh": "含一栋 {households} 户的建筑，超过网格上限 {high} 户",
    },
    "oversize_absorbed": {
        "en": "holds a building of {households} households, more than the band maximum {high}, and {absorbed} households of neighbouring buildings that could form no contiguous grid within {low}–{high}",
        "zh": "含一栋 {households} 户的建筑，超过网格上限 {high} 户；并含相邻建筑 {absorbed} 户，这些建筑无法组成户数在 {low}–{high} 之间的连通网格",
    },
    "oversize_units": {
        "en": "holds a building of {households} households, more than the band maximum {high}, and {absorbed} households of neighbouring buildings, so that its households can be cut into joint units of {unit_low}–{unit_high}",
        "zh": "含一栋 {households} 户的建筑，超过网格上限 {high} 户；并含相邻建筑 {absorbed} 户，使全网格户数能分成每个 {unit_low}–{unit_high} 户的联户",
    },
    "infeasible_total": {
        "en": "the community's {total} households admit no grid count within {low}–{high}; split into {k} {grids} as near the band as possible",
        "zh": "社区共 {total} 户，无法分成户数都在 {low}–{high} 之间的网格；已分成 {k} 个尽量接近区间的网格",
    },
    "unit_unfit": {
        "en": "its grid's {households} households admit no cut into joint units of {low}–{high} (no unit count m with m × {low} ≤ {households} ≤ m × {high}), and no neighbouring households could join the grid",
        "zh": "所在网格共 {households} 户，无法分成每个 {low}–{high} 户的联户（不存在联户数 m 使 m × {low} ≤ {households} ≤ m × {high}），且无相邻住户可并入该网格",
    },
    "no_households": {"en": "no households in this community", "zh": "该社区没有住户"},
    "no_buildings": {"en": "no buildings in this community", "zh": "该社区没有建筑"},
    "detached_part": {
        "en": "detached part of the community (island or exclave) with {total} households, which admit no grid count within {low}–{high}; it forms its own grid",
        "zh": "社区的分离地块（飞地或岛），共 {total} 户，无法分成 {low}–{high} 户的网格；单独成为网格",
    },
    "detached_empty": {
        "en": "detached part of the community (island or exclave) with no buildings; it forms its own grid",
        "zh": "社区的分离地块（飞地或岛），没有建筑；单独成为网格",
    },
    "dedicated": {
        "en": "dedicated grid (专属网格) of type {facility}, with {households} households; outside the household band by rule",
        "zh": "{facility}专属网格，{households} 户；按规定不受户数区间限制",
    },
    "compound_too_big": {
        "en": "compound {compound} has {households} households, more than the grid maximum {high}: split into {grids} grids, only between its buildings",
        "zh": "小区 {compound} 共 {households} 户，超过网格上限 {high} 户：分为 {grids} 个网格，只在楼栋之间拆分",
    },
    "compound_split_by_edit": {
        "en": "compound {compound} has {households} households and fits in one grid, but the planner's edits (pinned buildings, locked grids) keep it in {grids} grids",
        "zh": "小区 {compound} 共 {households} 户，可放入一个网格，但规划人员的调整（指定建筑、锁定网格）使其分在 {grids} 个网格",
    },
    "compound_split": {
        "en": "compound {compound} has {households} households and fits in one grid, but is split into {grids} grids",
        "zh": "小区 {compound} 共 {households} 户，可放入一个网格，但被分在 {grids} 个网格",
    },
    "proven_pocket": {
        "en": "proven infeasible: {households} households enclosed behind one building's cell ({gateway} households): any grid holding them must hold that building too ({total} > {high}), and alone they are below {low}; no contiguous split within {low}–{high} exists",
        "zh": "已证明无解：{households} 户被一栋 {gateway} 户建筑的单元包围，含它们的网格必须同时含该建筑（{total} > {high}），单独又少于 {low} 户；不存在户数都在 {low}–{high} 的连通划分",
    },
    "proven_stranded": {
        "en": "proven infeasible: a building of {households} households is below {low} alone, and every building it could share a grid with takes it above {high} (the lightest has {lightest}); no in-band grid can hold it",
        "zh": "已证明无解：一栋 {households} 户的建筑单独少于 {low} 户，与任何可相连的建筑合并又超过 {high} 户（最少的一栋也有 {lightest} 户）",
    },
    "proven_exhaustive": {
        "en": "proven infeasible: {households} households; an exact search over the {cells} building cells around it (those not in an excused grid) found no split into connected grids within {low}–{high}",
        "zh": "已证明无解：{households} 户；对其周围 {cells} 个建筑单元（不含已说明例外的网格）精确求解，不存在户数都在 {low}–{high} 的连通划分",
    },
    "manual_edit": {
        "en": "manual edit: {households} households, outside {low}–{high}; kept as the planner set it (buildings moved: {moved})",
        "zh": "人工调整：{households} 户，超出 {low}–{high} 户区间；按规划人员的调整保留（调整的建筑：{moved}）",
    },
    "manual_edit_split": {
        "en": "manual edit: the grid is in {pieces} pieces ({households} households, band {low}–{high}); kept as the planner set it (buildings moved: {moved})",
        "zh": "人工调整：网格分成 {pieces} 块（{households} 户，区间 {low}–{high} 户）；按规划人员的调整保留（调整的建筑：{moved}）",
    },
    "manual_edit_empty": {
        "en": "manual edit: every building was moved out, and no neighbour grid can take the area; kept empty (band {low}–{high})",
        "zh": "人工调整：全部建筑已移出，且没有相邻网格可接收该区域；保留为空网格（区间 {low}–{high} 户）",
    },
    "locked_grid": {
        "en": "kept as the planner edited it (locked, or holding a pinned building): {households} households, outside {low}–{high}; not re-drawn by the update",
        "zh": "按规划人员的调整保留（已锁定或含指定建筑）：{households} 户，超出 {low}–{high} 户区间；更新时不重新划分",
    },
    "corridor": {
        "en": "in band; reaches part of its buildings through {corridors} narrow strip(s) of open ground between other buildings, because the building cells alone admit no contiguous split within {low}–{high}",
        "zh": "户数在区间内；通过 {corridors} 条穿过其他建筑之间空地的窄带连接部分建筑，因为仅按建筑单元不存在户数都在 {low}–{high} 的连通划分",
    },
    "search_failed": {
        "en": "{households} households: no contiguous split within {low}–{high} was found for this part",
        "zh": "{households} 户：未找到该地块户数都在 {low}–{high} 的连通划分",
    },
}


#: facility types of dedicated grids (专属网格); other types are shown as given
FACILITY_LABELS: dict[str, dict[str, str]] = {
    "school": {"zh": "学校", "en": "school"},
    "hospital": {"zh": "医院", "en": "hospital"},
    "mall": {"zh": "商场", "en": "mall"},
    "enterprise": {"zh": "企业", "en": "enterprise"},
    "campus": {"zh": "园区", "en": "campus"},
    "market": {"zh": "市场", "en": "market"},
    "government": {"zh": "机关", "en": "government office"},
}


def reason_text(code: str, params: dict, lang: str = "en") -> str:
    """The sentence for a reason ``code`` with its ``params`` (empty for no code).

    Examples
    --------
    >>> reason_text("oversize_building", {"households": 612, "high": 500}, "zh")
    '含一栋 612 户的建筑，超过网格上限 500 户'
    """
    if not code:
        return ""
    values = dict(params)
    if "facility" in values:
        values["facility"] = FACILITY_LABELS.get(str(values["facility"]).lower(), {}).get(lang, values["facility"])
    if "k" in values:
        values.setdefault("grids", "grid" if values["k"] == 1 else "grids")
    return REASONS[code][lang].format(**values)


def localized_reasons(frame, lang: str):
    """The reasons of a grids frame in ``lang`` (``reason_zh`` for Chinese when present, else ``reason``)."""
    if lang == "zh" and "reason_zh" in frame:
        return frame["reason_zh"]
    return frame["reason"] if "reason" in frame else None


COLUMN_LABELS: dict[str, dict[str, str]] = {
    "grid_code": {"zh": "网格编码", "en": "grid code"},
    "community_id": {"zh": "社区标识", "en": "community id"},
    "community_code": {"zh": "社区编码", "en": "community code"},
    "community_name": {"zh": "社区名称", "en": "community name"},
    "unit_code": {"zh": "联户编码", "en": "unit code"},
    "standard_code": {"zh": "网格标准编码", "en": "standard code"},
    "valid_from": {"zh": "有效期起", "en": "valid from"},
    "valid_to": {"zh": "有效期止", "en": "valid to"},
    "responsible_unit": {"zh": "责任单位", "en": "responsible unit"},
    "building_code": {"zh": "建筑编码", "en": "building code"},
    "households": {"zh": "户数", "en": "households"},
    "households_estimated": {"zh": "户数为估算", "en": "households estimated"},
    "n_buildings": {"zh": "建筑数", "en": "buildings"},
    "n_units": {"zh": "联户数", "en": "joint units"},
    "area_m2": {"zh": "面积（平方米）", "en": "area (m²)"},
    "status": {"zh": "状态", "en": "status"},
    "reason": {"zh": "原因", "en": "reason"},
    "members": {"zh": "组成（建筑:户序）", "en": "members (building:households)"},
    # the "1+1+1+N" grid team: a grid Party branch secretary, a grid leader,
    # a full-time grid worker, and N part-time grid workers / volunteers
    "party_branch_secretary": {"zh": "网格党支部书记", "en": "party branch secretary"},
    "grid_leader": {"zh": "网格长", "en": "grid leader"},
    "full_time_grid_worker": {"zh": "专职网格员", "en": "full-time grid worker"},
    "helpers": {"zh": "兼职网格员/志愿者", "en": "part-time grid workers / volunteers"},
    # staffing, workload and service coverage (gridgeo.governance.workload, gridgeo.governance.coverage)
    "helpers_n": {"zh": "兼职网格员/志愿者人数（N）", "en": "helpers needed (N)"},
    "tour_m": {"zh": "走访全部建筑路线长度（米）", "en": "walking tour of all buildings (m)"},
    "workload_index": {"zh": "工作量指数（社区均值为1）", "en": "workload index (community mean 1)"},
    "workload_flag": {"zh": "工作量明显偏高", "en": "workload far above the community mean"},
    "centre_id": {"zh": "最近服务中心编号", "en": "nearest service centre id"},
    "centre_name": {"zh": "最近服务中心", "en": "nearest service centre"},
    "walk_m": {"zh": "步行距离（米）", "en": "walk (m)"},
    "walk_min": {"zh": "步行时间（分钟）", "en": "walk (minutes)"},
    "walk_route": {"zh": "距离计算方式", "en": "walk measured"},
    "coverage_flag": {"zh": "超出步行服务范围", "en": "beyond the walking limit"},
    # a household register (gridgeo.inputs.register)
    "member_households": {"zh": "组成（户号）", "en": "members (household ids)"},
    "building_codes": {"zh": "建筑编码", "en": "building codes"},
    "unit_head": {"zh": "联户长", "en": "unit head"},
    "household_id": {"zh": "户号", "en": "household id"},
    "building_id": {"zh": "建筑标识", "en": "building id"},
    "position": {"zh": "联户内序号", "en": "position in the unit"},
}

#: yes/no of the flag columns in human-facing tables
FLAG_WORDS: dict[str, dict[bool, str]] = {"zh": {True: "是", False: "否"}, "en": {True: "yes", False: "no"}}


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is supported, else raise :class:`~gridgeo.errors.InputError`.

    Examples
    --------
    >>> check_lang("en")
    'en'
    """
    if lang not in LANGS:
        raise InputError(Problem("lang", f"unknown language {lang!r}", f"use one of: {', '.join(LANGS)}"))
    return lang


def status_label(status: str, lang: str) -> str:
    """The label of a grid ``status`` (unknown statuses are returned unchanged).

    Examples
    --------
    >>> status_label("in_band", "zh")
    '在区间内'
    >>> status_label("something_new", "zh")
    'something_new'
    """
    return STATUS_LABELS.get(str(status), {}).get(lang, str(status))


def column_label(column: str, lang: str) -> str:
    """The header label of ``column`` (unknown columns are returned unchanged).

    Examples
    --------
    >>> column_label("helpers", "en")
    'part-time grid workers / volunteers'
    """
    return COLUMN_LABELS.get(column, {}).get(lang, column)
