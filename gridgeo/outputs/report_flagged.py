"""The report's table of grids outside the band, grouped by status and reason: counts, the first rows, the rest folded."""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

from ..labels import REASONS, status_label
from .report_html import _community_codes, _e, _int, _missing

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
