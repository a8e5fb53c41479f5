"""The report's sections on the governance layers and living plans: staffing, workload and service coverage, compounds, and the changes of an updated plan."""

from __future__ import annotations

import numpy as np

from .report_flagged import FIRST_ROWS
from .report_html import _community_codes, _e, _figure, _int, _num
from .report_plots import _numbers, _walk_svg


def _governance(result, report: dict, names: dict[str, str], t: dict, lang: str) -> list[str]:
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
        parts.append(_figure("walk", _walk_svg(walks, limit, lang), t["walk_caption"].format(m=f"{limit:g}")))
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
    "households_moved_lower_bound": {"zh": "同类修复须更换网格的户数下界", "en": "lower bound on the households such a repair moves"},
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
