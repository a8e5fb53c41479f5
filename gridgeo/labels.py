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

__all__ = ["LANGS", "STATUS_LABELS", "STATUS_MEANINGS", "COLUMN_LABELS", "check_lang", "status_label", "column_label"]

#: the languages every human-facing output supports
LANGS = ("zh", "en")

STATUS_LABELS: dict[str, dict[str, str]] = {
    "in_band": {"zh": "在区间内", "en": "in band"},
    "oversize_building": {"zh": "含超大建筑", "en": "oversize building"},
    "infeasible_total": {"zh": "社区总户数无法均分", "en": "infeasible total"},
    "detached_part": {"zh": "分离地块", "en": "detached part"},
    "dedicated": {"zh": "专属网格", "en": "dedicated"},
    "out_of_band": {"zh": "超出区间（缺陷）", "en": "out of band (defect)"},
}

STATUS_MEANINGS: dict[str, dict[str, str]] = {
    "in_band": {"zh": "户数在设定范围内", "en": "households within the band"},
    "oversize_building": {"zh": "含一栋户数超过上限的建筑", "en": "holds a building whose households alone exceed the maximum"},
    "infeasible_total": {"zh": "社区总户数无法分成范围内的网格", "en": "the community's total admits no grid count in the band"},
    "detached_part": {"zh": "多部分社区中独立的一块，其户数无法分成范围内的网格", "en": "a detached piece of a community whose own total admits no grid count"},
    "dedicated": {"zh": "为单位、商场、医院、学校等设立的专属网格", "en": "a grid for one institution (school, hospital, mall, enterprise)"},
    "out_of_band": {"zh": "户数超出范围，需要处理", "en": "households outside the band: to be fixed"},
}

COLUMN_LABELS: dict[str, dict[str, str]] = {
    "grid_code": {"zh": "网格编码", "en": "grid code"},
    "community_id": {"zh": "社区标识", "en": "community id"},
    "community_code": {"zh": "社区编码", "en": "community code"},
    "community_name": {"zh": "社区名称", "en": "community name"},
    "unit_code": {"zh": "联户编码", "en": "unit code"},
    "building_code": {"zh": "建筑编码", "en": "building code"},
    "households": {"zh": "户数", "en": "households"},
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
}


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
