"""Administrative codes of the communities (county, street, community), read from their columns and checked, for the standard grid codes."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import ProblemCollector, describe_rows
from .standard_codes import MERGED_FROM, PROVINCES, CodeScheme, _scheme

__all__ = ["admin_codes"]
_ADMIN_WIDTH = {"county": 6, "street": 3, "community": 3}
_ADMIN_OPTION = {"county": "county_code_column", "street": "street_code_column", "community": "community_code_column"}
_ADMIN_FLAG = {"county": "--county-code-column", "street": "--street-code-column", "community": "--community-code-column"}
_ADMIN_WHAT = {
    "county": "county (district) code, GB/T 2260",
    "street": "street (township) code, GB/T 10114",
    "community": "community code",
}
_ADMIN_EXAMPLE = {"county": "110105", "street": "001", "community": "002"}


def admin_codes(
    communities: pd.DataFrame,
    *,
    scheme: str | CodeScheme,
    county_code_column: str | None = None,
    street_code_column: str | None = None,
    community_code_column: str | None = None,
    label: str = "communities",
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """The checked administrative codes of every community that ``scheme`` needs.

    Parameters
    ----------
    communities : DataFrame
        The communities layer (not modified).
    scheme : str or CodeScheme
    county_code_column, street_code_column, community_code_column : str, optional
        Columns of ``communities`` with the 6-digit county (district), 3-digit
        street and 3-digit community codes; each one the scheme uses is required.
    label : str
        The file named in messages.
    notes : list of str, optional
        Receives a note when numbers were zero-padded.

    Returns
    -------
    DataFrame
        Same index as ``communities``; text columns ``county``, ``street``,
        ``community`` (those the scheme uses).

    Raises
    ------
    InputError
        Listing every missing column, missing, non-digit or wrong-length value,
        out-of-range code, and communities sharing the same codes.

    Examples
    --------
    >>> c = pd.DataFrame({"xq": ["110105", "110105"], "jd": [1, 1], "sq": ["001", "002"]})
    >>> admin_codes(c, scheme="db11", county_code_column="xq", street_code_column="jd", community_code_column="sq").to_dict("records")
    [{'county': '110105', 'street': '001', 'community': '001'}, {'county': '110105', 'street': '001', 'community': '002'}]
    >>> admin_codes(c.assign(sq=["001", "1a"]), scheme="db11", county_code_column="xq", street_code_column="jd", community_code_column="sq")
    Traceback (most recent call last):
    ...
    gridgeo.errors.InputError: communities: row 2: community code 'sq' is not 3 digits ('1a') — fix: give the 3-digit community code, e.g. 002
    """
    parsed = _scheme(scheme)
    problems = ProblemCollector()
    columns = {"county": county_code_column, "street": street_code_column, "community": community_code_column}
    out = pd.DataFrame(index=communities.index)
    if parsed is None:
        return out
    padded = []
    available = ", ".join(str(c) for c in communities.columns if c != getattr(communities, "_geometry_column_name", None))
    for kind in parsed.admin_fields:
        column = columns[kind]
        width = _ADMIN_WIDTH[kind]
        if column is None:
            problems.add(
                "--code-scheme",
                f"{parsed.title} codes need each community's {_ADMIN_WHAT[kind]}",
                f"name the communities column holding it with {_ADMIN_FLAG[kind]} COL",
            )
            continue
        if column not in communities.columns:
            problems.add(label, f"has no column '{column}' ({_ADMIN_FLAG[kind]})", f"use one of: {available}")
            continue
        values, kinds = _digits(communities[column].to_numpy(dtype=object), width)
        fix = f"give the {width}-digit {_ADMIN_WHAT[kind]}, e.g. {_ADMIN_EXAMPLE[kind]}"
        for problem, text in (("missing", "is missing"), ("bad", f"is not {width} digits")):
            rows = np.flatnonzero(kinds == problem)
            if len(rows):
                shown = ", ".join(repr(str(v)) for v in pd.unique(communities[column].to_numpy(dtype=object)[rows].astype(str))[:5])
                suffix = f" ({shown})" if problem == "bad" else ""
                problems.add(label, f"{describe_rows(rows + 1)}: {kind} code '{column}' {text}{suffix}", fix)
        ok = kinds != "missing"
        ok &= kinds != "bad"
        if kind == "county":
            wrong = ok & ~np.array([str(v)[:2] in PROVINCES for v in values])
            if wrong.any():
                shown = ", ".join(sorted(set(values[wrong]))[:5])
                problems.add(label, f"{describe_rows(np.flatnonzero(wrong) + 1)}: county code '{column}' ({shown}) does not start with a GB/T 2260 province code", fix)
        else:
            zero = ok & (values == "0" * width)
            if zero.any():
                problems.add(label, f"{describe_rows(np.flatnonzero(zero) + 1)}: {kind} code '{column}' is {'0' * width}", fix)
            if kind == "community" and parsed.name == "cjt349":
                merged = ok & np.array([v.isdigit() and int(v) >= MERGED_FROM for v in values])
                if merged.any():
                    shown = ", ".join(sorted(set(values[merged]))[:5])
                    problems.add(
                        label,
                        f"{describe_rows(np.flatnonzero(merged) + 1)}: community code '{column}' ({shown}) is in 601–999, which CJ/T 349-2010 "
                        "reserves for grids merged from several communities (gridgeo does not merge communities)",
                        "give each community its own code 001–600",
                    )
        if (kinds == "padded").any():
            padded.append(f"'{column}' ({int((kinds == 'padded').sum())} values, e.g. {communities[column].to_numpy(dtype=object)[kinds == 'padded'][0]!r} → {values[kinds == 'padded'][0]!r})")
        out[kind] = values
    if not len(problems) and len(out.columns) and len(out):
        key = out.astype(str).agg("-".join, axis=1)
        dup = key.duplicated(keep=False).to_numpy()
        if dup.any():
            shown = ", ".join(pd.unique(key[dup])[:5])
            problems.add(
                label,
                f"{describe_rows(np.flatnonzero(dup) + 1)}: communities share the codes {shown} ({'-'.join(out.columns)}), so their grids would share codes",
                "give each community its own community code" + ("" if parsed.name != "template" else " (or add the missing fields to the template)"),
            )
    elif not len(problems) and len(communities) > 1 and not len(out.columns):
        problems.add("--code-scheme", f"{parsed.title} has no field telling communities apart, so their grids would share codes", "add {community} (and {street}) to the template")
    problems.raise_if_any()
    if padded and notes is not None:
        notes.append(f"{label}: administrative codes stored as numbers were zero-padded: {'; '.join(padded)}")
    return out


def _digits(values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Text codes of ``width`` digits and per value ``ok``, ``padded``, ``missing`` or ``bad``."""
    out = np.full(len(values), "", dtype=object)
    kinds = np.full(len(values), "ok", dtype=object)
    for i, value in enumerate(values):
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            kinds[i] = "missing"
            continue
        if isinstance(value, (bool, np.bool_)):
            kinds[i] = "bad"
            continue
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        if isinstance(value, (int, np.integer)):
            text = str(int(value))
            if int(value) < 0 or len(text) > width:
                kinds[i] = "bad"
                continue
            if len(text) < width:
                kinds[i] = "padded"
            out[i] = text.rjust(width, "0")
            continue
        text = str(value).strip()
        if text == "":
            kinds[i] = "missing"
        elif len(text) != width or not re.fullmatch(r"[0-9]+", text):
            kinds[i] = "bad"
        else:
            out[i] = text
    return out, kinds
