"""Standard codes in one run: every option checked up front (:func:`prepare_codes`), the codes applied to the grids after partitioning (:func:`apply_codes`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, Problem, describe_rows
from .admin_codes import _ADMIN_FLAG, admin_codes
from .standard_codes import (
    SCHEMES,
    CodeScheme,
    _object_class,
    add_grid_details,
    add_standard_codes,
    parse_code_scheme,
    parse_date,
)

__all__ = ["CodeSettings", "prepare_codes", "apply_codes"]


@dataclass
class CodeSettings:
    """The checked code options of one run (see :func:`prepare_codes`)."""

    scheme: CodeScheme | None
    admin: pd.DataFrame  # by community row position
    object_class: str | None
    valid_from: str | None
    valid_to: str | None
    responsible: np.ndarray | None  # text per community row, None where missing
    notes: list[str] = field(default_factory=list)

    @property
    def code_scheme(self) -> str:
        """``default``, ``cjt349``, ``db11`` or the template."""
        if self.scheme is None:
            return "default"
        return self.scheme.name if self.scheme.name in SCHEMES else self.scheme.template


def prepare_codes(
    communities: pd.DataFrame,
    *,
    code_scheme: str | None = "default",
    object_class: str | None = None,
    county_code_column: str | None = None,
    street_code_column: str | None = None,
    community_code_column: str | None = None,
    valid_from: str | datetime.date | None = None,
    valid_to: str | datetime.date | None = None,
    responsible_unit_column: str | None = None,
    label: str = "communities",
) -> CodeSettings:
    """Check every code option and column at once, before any partitioning.

    Returns
    -------
    CodeSettings

    Raises
    ------
    InputError
        Listing every problem: the scheme or template, the object class, the
        administrative code columns and values, the dates, the responsible-unit
        column.

    Examples
    --------
    >>> c = pd.DataFrame({"xq": ["110105"], "jd": ["001"], "sq": ["002"]})
    >>> prepare_codes(c, code_scheme="cjt349", county_code_column="xq", street_code_column="jd", community_code_column="sq",
    ...               valid_from="2024-12-31", valid_to="2024-01-01")
    Traceback (most recent call last):
    ...
    gridgeo.errors.InputError: 2 problems in the input:
      - --object-class: CJ/T 349-2010 codes begin with the 6-digit code of the managed object class (CJ/T 348-2010), which has no default — fix: pass the code your city's system uses for grids, e.g. --object-class 120000 (a major class ends in 00)
      - --valid-to: 2024-01-01 is before --valid-from 2024-12-31 — fix: give an end date on or after the start date
    """
    problems: list[Problem] = []
    notes: list[str] = []
    scheme = None
    try:
        scheme = parse_code_scheme(code_scheme or "default")
    except InputError as exc:
        problems += exc.problems
    admin = pd.DataFrame(index=range(len(communities)))
    if scheme is not None:
        if "object_class" in scheme.fields:
            try:
                object_class = _object_class(object_class, scheme)
            except InputError as exc:
                problems += exc.problems
        positional = communities.reset_index(drop=True)
        try:
            admin = admin_codes(
                positional,
                scheme=scheme,
                county_code_column=county_code_column,
                street_code_column=street_code_column,
                community_code_column=community_code_column,
                label=label,
                notes=notes,
            )
        except InputError as exc:
            problems += exc.problems
    used = set() if scheme is None else set(scheme.admin_fields) | ({"object_class"} & set(scheme.fields))
    given = {"object_class": object_class, "county": county_code_column, "street": street_code_column, "community": community_code_column}
    unused = [("--object-class" if k == "object_class" else _ADMIN_FLAG[k]) for k, v in given.items() if v is not None and k not in used]
    if unused:
        notes.append(f"{', '.join(unused)} not used by the code scheme {scheme.title if scheme else 'default'}")
    dates = {}
    for name, value in (("valid_from", valid_from), ("valid_to", valid_to)):
        if value is None or (isinstance(value, str) and not value.strip()):
            dates[name] = None
            continue
        try:
            dates[name] = parse_date(value, f"--{name.replace('_', '-')}")
        except InputError as exc:
            problems += exc.problems
            dates[name] = None
    if dates["valid_from"] and dates["valid_to"] and dates["valid_to"] < dates["valid_from"]:
        problems.append(Problem("--valid-to", f"{dates['valid_to']} is before --valid-from {dates['valid_from']}", "give an end date on or after the start date"))
    responsible = None
    if responsible_unit_column is not None:
        if responsible_unit_column not in communities.columns:
            available = ", ".join(str(c) for c in communities.columns if c != getattr(communities, "_geometry_column_name", None))
            problems.append(Problem(label, f"has no column '{responsible_unit_column}' (--responsible-unit-column)", f"use one of: {available}"))
        else:
            responsible = np.array([_unit_text(v) for v in communities[responsible_unit_column].to_numpy(dtype=object)], dtype=object)
            empty = np.flatnonzero([v is None for v in responsible])
            if len(empty):
                notes.append(f"{label}: no responsible unit in '{responsible_unit_column}' for {describe_rows(empty + 1)}; their grids' responsible_unit is empty")
    if problems:
        raise InputError(problems)
    return CodeSettings(scheme, admin, object_class if scheme is not None and "object_class" in scheme.fields else None, dates["valid_from"], dates["valid_to"], responsible, notes)


def _unit_text(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def apply_codes(grids: gpd.GeoDataFrame, settings: CodeSettings, community_ids) -> gpd.GeoDataFrame:
    """A copy of ``grids`` with the standard code and details of ``settings``.

    Parameters
    ----------
    grids : GeoDataFrame
        gridgeo grids (``grid_code``, ``community_id``).
    settings : CodeSettings
        From :func:`prepare_codes`.
    community_ids : array-like
        The id of every community row, in the order of the communities given
        to :func:`prepare_codes`.

    Returns
    -------
    GeoDataFrame

    Examples
    --------
    >>> import shapely
    >>> c = pd.DataFrame({"xq": ["110105"], "jd": ["001"], "sq": ["002"]})
    >>> settings = prepare_codes(c, code_scheme="db11", county_code_column="xq", street_code_column="jd",
    ...                          community_code_column="sq", valid_to="2030-12-31")
    >>> grids = gpd.GeoDataFrame({"grid_code": ["001-01"], "community_id": ["A"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=32650)
    >>> apply_codes(grids, settings, ["A"])[["grid_code", "standard_code", "valid_to"]].to_dict("records")
    [{'grid_code': '001-01', 'standard_code': '110105001002001', 'valid_to': '2030-12-31'}]
    """
    ids = np.asarray(community_ids).astype(str)
    out = grids
    if not len(grids):
        return grids.copy()
    if settings.scheme is not None:
        admin = settings.admin.copy()
        admin.index = ids
        out = add_standard_codes(out, admin, scheme=settings.scheme, object_class=settings.object_class)
    units = None if settings.responsible is None else dict(zip(ids, settings.responsible))
    if settings.valid_from or settings.valid_to or units is not None:
        out = add_grid_details(out, valid_from=settings.valid_from, valid_to=settings.valid_to, responsible_units=units)
    return out.copy() if out is grids else out
