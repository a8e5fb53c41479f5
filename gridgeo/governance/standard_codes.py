"""Standard grid codes: CJ/T 349-2010, Beijing DB11/T 2157-2023, or a template of your own.

gridgeo's own codes (:mod:`gridgeo.governance.codes`: community ``003``, grid ``003-07``)
are always written.  A *code scheme* adds a second, standard code to every
grid, in the column ``standard_code``:

``cjt349`` — CJ/T 349-2010 (数字社区管理与服务 网格划分与编码规则), 20 digits::

    object class (6) + county GB/T 2260 (6) + street GB/T 10114 (3) + community (3) + grid (2)
    e.g. 120000 110105 001 002 03  →  "12000011010500100203"

  The object class is the 6-digit code of the managed object (管理或服务对象)
  of CJ/T 348-2010; a major class ends in ``00``.  The standard leaves the
  choice to the city's system, so gridgeo has no default: pass
  ``object_class``.  The grid number is ``00`` when the community is not
  subdivided (one grid), else ``01``–``99`` west→east, north→south.  Community
  numbers ``601``–``999`` are reserved by the standard for grids merged from
  several communities: :func:`validate_code` accepts them, but gridgeo never
  merges communities, so it never produces them and refuses them as the code of
  a single community.

``db11`` — Beijing DB11/T 2157-2023, 15 digits::

    district (6) + street (3) + community (3) + grid (3)
    e.g. 110105 001 002 003  →  "110105001002003"

  Grids ``001``–``999`` west→east, north→south inside the community.

A *template* is a ``str.format``-style text restricted to the fields of
:data:`FIELDS`, each at most once and formatted as ``{name}`` (the field's
standard width, zero-padded) or ``{name:0Nd}`` (N digits, zero-padded), e.g.
``"{district}{street}{community}{grid:03d}"`` or
``"{county}-{street}-{community}-{grid:02d}"``; ``{grid}`` is required and
numbers grids ``1``… west→east, north→south.

Administrative codes come from columns of the communities layer that the user
names (county or district, street, community).  Text values must be exactly
the field's digits (``"001"``); numbers, as Shapefile DBFs often store codes,
are zero-padded to the width (``1`` → ``"001"``) and the padding is noted.
Every problem is collected and raised together as one
:class:`~gridgeo.errors.InputError` before any partitioning.

The grid sequence follows the grid's ``grid_code`` (already numbered
west→east, north→south inside its community), so both codes always agree.
"""

from __future__ import annotations

import datetime
import functools
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, Problem

__all__ = [
    "SCHEMES",
    "FIELDS",
    "CodeScheme",
    "parse_code_scheme",
    "add_standard_codes",
    "renumber_standard_codes",
    "add_grid_details",
    "parse_date",
    "validate_code",
    "code_problem",
    "check_standard_codes",
]

#: the standard schemes, as templates (their extra rules live in :class:`CodeScheme`)
SCHEMES: dict[str, str] = {
    "cjt349": "{object_class}{county}{street}{community}{grid:02d}",
    "db11": "{district}{street}{community}{grid:03d}",
}
SCHEME_TITLES = {"cjt349": "CJ/T 349-2010", "db11": "DB11/T 2157-2023"}

#: template field → its standard width in digits
FIELDS: dict[str, int] = {"object_class": 6, "county": 6, "district": 6, "street": 3, "community": 3, "grid": 2}
#: field → the administrative code it reads (``district`` is the county-level code of a city district)
_ADMIN = {"county": "county", "district": "county", "street": "street", "community": "community"}

#: first two digits of GB/T 2260 province-level codes
PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
#: CJ/T 349-2010: community numbers from 601 up are grids merged from several communities
MERGED_FROM = 601
_SPEC = re.compile(r"^0([1-9])d$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CodeScheme:
    """A parsed code scheme.

    Attributes
    ----------
    name : str
        ``"cjt349"``, ``"db11"`` or ``"template"``.
    template : str
        The format text.
    pieces : tuple of (literal, field, width)
        The literal text before each field, the field name (``None`` after the
        last field) and its width in digits.
    """

    name: str
    template: str
    pieces: tuple[tuple[str, str | None, int], ...]

    @property
    def title(self) -> str:
        """``CJ/T 349-2010``, ``DB11/T 2157-2023`` or ``template '…'``."""
        return SCHEME_TITLES.get(self.name, f"template '{self.template}'")

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for _, f, _ in self.pieces if f is not None)

    @property
    def admin_fields(self) -> tuple[str, ...]:
        """The administrative codes the scheme reads (``county``, ``street``, ``community``)."""
        return tuple(dict.fromkeys(_ADMIN[f] for f in self.fields if f in _ADMIN))

    @property
    def grid_width(self) -> int:
        return next(w for _, f, w in self.pieces if f == "grid")

    @property
    def undivided_zero(self) -> bool:
        """CJ/T 349-2010: the grid number is 0 when the community is one grid."""
        return self.name == "cjt349"

    @property
    def max_grids(self) -> int:
        """Most grids one community can have in this scheme."""
        return 10**self.grid_width - 1

    @property
    def length(self) -> int:
        """Characters of every code."""
        return sum(len(text) + width for text, _, width in self.pieces)

    def render(self, values: Mapping[str, str], grid: int) -> str:
        """The code of grid number ``grid`` with the text ``values`` of the other fields."""
        out = []
        for text, name, width in self.pieces:
            out.append(text)
            if name == "grid":
                out.append(f"{grid:0{width}d}")
            elif name is not None:
                out.append(str(values[name]).rjust(width, "0"))
        return "".join(out)

    @functools.cached_property
    def pattern(self) -> re.Pattern:
        parts = []
        for text, name, width in self.pieces:
            parts.append(re.escape(text))
            if name is not None:
                parts.append(f"(?P<{name}>[0-9]{{{width}}})")
        return re.compile("".join(parts))


def parse_code_scheme(text: str) -> CodeScheme | None:
    """Parse ``"default"`` (``None``: only gridgeo's own codes), ``"cjt349"``, ``"db11"`` or a template.

    Raises
    ------
    InputError
        Unknown name, unknown field, a field twice, a format other than
        ``{name}`` / ``{name:0Nd}``, or no ``{grid}``.

    Examples
    --------
    >>> parse_code_scheme("db11").length
    15
    >>> parse_code_scheme("{county}-{community}-{grid:03d}").render({"county": "110105", "community": "2"}, 7)
    '110105-002-007'
    >>> parse_code_scheme("{city}{grid}")
    Traceback (most recent call last):
    ...
    gridgeo.errors.InputError: --code-scheme: the template '{city}{grid}' has the unknown field {city} — fix: use only {object_class}, {county}, {district}, {street}, {community}, {grid}
    """
    return _parse(str(text).strip())


@functools.lru_cache(maxsize=64)
def _parse(text: str) -> CodeScheme | None:
    if text in ("", "default"):
        return None
    name = text.lower()
    if name in SCHEMES:
        return CodeScheme(name, SCHEMES[name], _pieces(SCHEMES[name]))
    if "{" not in text:
        raise InputError(
            Problem("--code-scheme", f"unknown code scheme '{text}'", "use default, cjt349, db11 or a template such as '{district}{street}{community}{grid:03d}'")
        )
    return CodeScheme("template", text, _pieces(text))


def _pieces(template: str) -> tuple[tuple[str, str | None, int], ...]:
    where = f"the template '{template}'"
    known = ", ".join("{" + f + "}" for f in FIELDS)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InputError(Problem("--code-scheme", f"{where} is not a valid template ({exc})", "write fields as {name} or {name:0Nd}; a literal brace as {{ or }}")) from None
    pieces = []
    seen = set()
    for literal, name, spec, conversion in parsed:
        if any(not ch.isprintable() for ch in literal):
            raise InputError(Problem("--code-scheme", f"{where} holds a control character", "use printable text between the fields"))
        if name is None:
            pieces.append((literal, None, 0))
            continue
        if name not in FIELDS:
            shown = "{" + name + "}" if name else "{}"
            raise InputError(Problem("--code-scheme", f"{where} has the unknown field {shown}", f"use only {known}"))
        if conversion is not None:
            raise InputError(Problem("--code-scheme", f"{where} converts {{{name}}} with !{conversion}", f"write {{{name}}} or {{{name}:0Nd}}"))
        if name in seen:
            raise InputError(Problem("--code-scheme", f"{where} has {{{name}}} twice", "use every field at most once"))
        seen.add(name)
        width = FIELDS[name]
        if spec:
            match = _SPEC.match(spec)
            if not match:
                raise InputError(
                    Problem("--code-scheme", f"{where} formats {{{name}}} as '{spec}'", f"write {{{name}}} or {{{name}:0Nd}} (N digits, zero-padded, 1–9)")
                )
            width = int(match.group(1))
            if name != "grid" and width < FIELDS[name]:
                raise InputError(
                    Problem("--code-scheme", f"{where} gives {{{name}}} {width} digits, but the code has {FIELDS[name]}", f"write {{{name}}} or {{{name}:0{FIELDS[name]}d}}")
                )
        pieces.append((literal, name, width))
    if "grid" not in seen:
        raise InputError(Problem("--code-scheme", f"{where} has no {{grid}}", "add {grid} (or {grid:03d}) so every grid gets its own code"))
    return tuple(pieces)


def _scheme(scheme: str | CodeScheme | None) -> CodeScheme | None:
    return scheme if isinstance(scheme, CodeScheme) or scheme is None else parse_code_scheme(scheme)


# -- validation of a code --------------------------------------------------------------------------------------------


def code_problem(code: str, scheme: str | CodeScheme) -> str | None:
    """Why ``code`` is not a valid code of ``scheme`` (``None`` when it is).

    Checked: the length, digits only, county/district 6 digits starting with a
    GB/T 2260 province code, street ``001``–``999``, community ``001``–``999``
    (CJ/T 349-2010: ``601``+ are merged communities), object class 6 digits,
    grid ``00``–``99`` (CJ/T 349-2010, ``00`` = community not subdivided),
    ``001``–``999`` (DB11/T 2157-2023) or from 1 (templates).  ``"default"``
    checks gridgeo's own ``003-07``.

    Examples
    --------
    >>> code_problem("110105001002003", "db11") is None
    True
    >>> code_problem("110105001002000", "db11")
    'grid number 000 is not in 001–999'
    >>> code_problem("1201001101050010020", "cjt349")
    'has 19 characters, CJ/T 349-2010 codes have 20'
    """
    code = str(code)
    if isinstance(scheme, str) and scheme.strip() in ("", "default"):
        match = re.fullmatch(r"([0-9]{3,})-([0-9]{2,})", code)
        if not match:
            return "is not a gridgeo grid code like 003-07"
        return None if int(match.group(2)) >= 1 else "grid number 0"
    parsed = _scheme(scheme)
    if len(code) != parsed.length:
        return f"has {len(code)} characters, {parsed.title} codes have {parsed.length}"
    match = parsed.pattern.fullmatch(code)
    if match is None:
        if parsed.name != "template":
            return "has characters other than the digits 0–9"
        return f"does not match {parsed.title}"
    groups = match.groupdict()
    for name, value in groups.items():
        number = int(value)
        if name in ("county", "district") and value[:2] not in PROVINCES:
            return f"{name} code {value} does not start with a GB/T 2260 province code"
        if name in ("street", "community") and number == 0:
            return f"{name} code {value} is 0"
        if name == "grid":
            low = 0 if parsed.undivided_zero else 1
            if not low <= number <= parsed.max_grids:
                return f"grid number {value} is not in {low:0{len(value)}d}–{parsed.max_grids}"
    return None


def validate_code(code: str, scheme: str | CodeScheme, *, strict: bool = False) -> bool:
    """Whether ``code`` is a valid code of ``scheme`` (see :func:`code_problem` for the checks).

    Parameters
    ----------
    code : str
    scheme : str or CodeScheme
        ``"cjt349"``, ``"db11"``, ``"default"`` or a template.
    strict : bool
        Raise ``ValueError`` with the reason instead of returning ``False``.

    Examples
    --------
    >>> validate_code("12000011010500100203", "cjt349"), validate_code("12000011010500100200", "cjt349")
    (True, True)
    >>> validate_code("120000110105001002AB", "cjt349")
    False
    >>> validate_code("110105-001-002-01", "{county}-{street}-{community}-{grid}")
    True
    >>> validate_code("990105001002003", "db11", strict=True)
    Traceback (most recent call last):
    ...
    ValueError: '990105001002003' is not a DB11/T 2157-2023 code: district code 990105 does not start with a GB/T 2260 province code
    """
    problem = code_problem(code, scheme)
    if problem is not None and strict:
        title = _scheme(scheme).title if not (isinstance(scheme, str) and scheme.strip() in ("", "default")) else "gridgeo"
        raise ValueError(f"'{code}' is not a {title} code: {problem}")
    return problem is None


def check_standard_codes(grids: pd.DataFrame, scheme: str | CodeScheme) -> list[str]:
    """Every broken rule of the ``standard_code`` column of ``grids`` (empty when all hold).

    Every code valid (:func:`code_problem`) and unique; inside each community
    the grid numbers follow the ``grid_code`` order (west→east, north→south)
    as 1, 2, … — or ``00`` for an undivided community in CJ/T 349-2010.

    Examples
    --------
    >>> grids = pd.DataFrame({"grid_code": ["001-01", "001-02"], "community_id": ["A", "A"],
    ...                       "standard_code": ["110105001002001", "110105001002002"]})
    >>> check_standard_codes(grids, "db11")
    []
    >>> check_standard_codes(grids.assign(standard_code=["110105001002002", "110105001002001"]), "db11")
    ['community A: grid numbers [2, 1] do not follow the grid_code order']
    """
    parsed = _scheme(scheme)
    problems = []
    codes = grids["standard_code"].astype(str)
    bad = [(g, c, code_problem(c, parsed)) for g, c in zip(grids["grid_code"], codes)]
    bad = [(g, c, p) for g, c, p in bad if p]
    if bad:
        shown = "; ".join(f"grid {g}: '{c}' {p}" for g, c, p in bad[:10])
        problems.append(f"{len(bad)} standard codes are not valid {parsed.title} codes ({shown})")
        return problems
    if codes.duplicated().any():
        problems.append(f"duplicate standard codes: {sorted(set(codes[codes.duplicated()]))[:10]}")
    numbers = codes.map(lambda c: int(parsed.pattern.fullmatch(c).group("grid")))
    frame = pd.DataFrame({"community_id": grids["community_id"].astype(str).to_numpy(), "grid_code": grids["grid_code"].astype(str).to_numpy(), "n": numbers.to_numpy()})
    for cid, group in frame.sort_values("grid_code", kind="stable").groupby("community_id", sort=True):
        got = group["n"].tolist()
        expected = [0] if parsed.undivided_zero and len(got) == 1 else list(range(1, len(got) + 1))
        if got != expected:
            problems.append(f"community {cid}: grid numbers {got} do not follow the grid_code order")
    return problems


# -- administrative codes of the communities -------------------------------------------------------------------


# -- codes and details on the grids ---------------------------------------------------------------------------------


def add_standard_codes(
    grids: gpd.GeoDataFrame,
    admin: pd.DataFrame,
    *,
    scheme: str | CodeScheme,
    object_class: str | None = None,
    community_column: str = "community_id",
) -> gpd.GeoDataFrame:
    """A copy of ``grids`` with the column ``standard_code`` (right after ``grid_code``).

    Parameters
    ----------
    grids : GeoDataFrame
        gridgeo grids: ``grid_code`` (numbered west→east, north→south inside
        the community) and ``community_column``.
    admin : DataFrame
        The codes of :func:`admin_codes`, indexed by the community id.
    scheme : str or CodeScheme
    object_class : str, optional
        The 6-digit object class, required when the scheme has ``{object_class}``.
    community_column : str
        Column of ``grids`` with the community id.

    Returns
    -------
    GeoDataFrame

    Raises
    ------
    InputError
        A community has more grids than the scheme's grid field can number.

    Examples
    --------
    >>> import shapely
    >>> grids = gpd.GeoDataFrame({"grid_code": ["001-01", "001-02", "002-01"], "community_id": ["A", "A", "B"]},
    ...                          geometry=[shapely.box(0, 0, 1, 1)] * 3, crs=32650)
    >>> admin = pd.DataFrame({"county": ["110105"] * 2, "street": ["001"] * 2, "community": ["001", "002"]}, index=["A", "B"])
    >>> add_standard_codes(grids, admin, scheme="cjt349", object_class="120000")["standard_code"].tolist()
    ['12000011010500100101', '12000011010500100102', '12000011010500100200']
    >>> add_standard_codes(grids, admin, scheme="db11")["standard_code"].tolist()
    ['110105001001001', '110105001001002', '110105001002001']
    """
    parsed = _scheme(scheme)
    out = grids.copy()
    if parsed is None:
        return out
    if "object_class" in parsed.fields:
        object_class = _object_class(object_class, parsed)
    cids = out[community_column].astype(str).to_numpy()
    order = np.lexsort((out["grid_code"].astype(str).to_numpy(), cids))
    rank = np.zeros(len(out), dtype=np.int64)
    counts: dict[str, int] = {}
    for i in order:
        counts[cids[i]] = counts.get(cids[i], 0) + 1
        rank[i] = counts[cids[i]]
    too_many = {c: n for c, n in counts.items() if n > parsed.max_grids}
    if too_many:
        raise InputError(
            [
                Problem(
                    "--code-scheme",
                    f"community {c} has {n} grids, but {parsed.title} numbers at most {parsed.max_grids} grids in a community",
                    "use a larger --grid-size" + (", --code-scheme db11" if parsed.name == "cjt349" else "") + " or a template with a wider {grid:0Nd}",
                )
                for c, n in sorted(too_many.items())
            ]
        )
    table = admin.copy()
    table.index = table.index.astype(str)
    missing = sorted(set(cids) - set(table.index))
    if missing:
        raise InputError(Problem("communities", f"no administrative codes for the communities {missing[:10]}", "give every community its codes"))
    codes = []
    for cid, number in zip(cids, rank):
        values = {name: table.at[cid, _ADMIN[name]] for name in parsed.fields if name in _ADMIN}
        values["object_class"] = object_class
        if parsed.undivided_zero and counts[cid] == 1:
            number = 0
        codes.append(parsed.render(values, int(number)))
    at = list(out.columns).index("grid_code") + 1 if "grid_code" in out.columns else len(out.columns)
    if "standard_code" in out.columns:
        out = out.drop(columns="standard_code")
        at = min(at, len(out.columns))
    out.insert(at, "standard_code", codes)
    return out


def renumber_standard_codes(grids: pd.DataFrame, previous: pd.DataFrame, scheme: str | CodeScheme) -> pd.DataFrame:
    """A copy of an updated or edited plan's ``grids`` with the standard codes of its grids as they are now.

    Each community's administrative fields (and object class) are read from a
    standard code its grids had in the ``previous`` plan; the grid numbers
    follow the ``grid_code`` order of the grids it has now, 1, 2, … (``00`` for
    an undivided community in CJ/T 349-2010), as in a fresh partition.  A grid
    code keeps its standard code unless a grid before it in its community was
    added or retired.

    Examples
    --------
    >>> before = pd.DataFrame({"grid_code": ["001-01", "001-02"], "community_code": ["001", "001"],
    ...                        "standard_code": ["110105001002001", "110105001002002"]})
    >>> now = pd.DataFrame({"grid_code": ["001-01", "001-02", "001-03"], "community_code": ["001"] * 3,
    ...                     "standard_code": ["110105001002001", "110105001002002", None]})
    >>> renumber_standard_codes(now, before, "db11")["standard_code"].tolist()
    ['110105001002001', '110105001002002', '110105001002003']
    """
    parsed = _scheme(scheme)
    out = grids.copy()
    if parsed is None or not len(out):
        return out
    fields: dict[str, dict[str, str]] = {}
    for community, code in zip(previous["community_code"].astype(str), previous["standard_code"]):
        match = parsed.pattern.fullmatch(str(code)) if isinstance(code, str) else None
        if match is not None and community not in fields:
            fields[community] = match.groupdict()
    communities = out["community_code"].astype(str).to_numpy()
    missing = sorted(set(communities) - set(fields))
    if missing:
        raise InputError(Problem("previous plan", f"no standard code to read the administrative codes of communities {missing[:10]} from", "partition again with --code-scheme"))
    codes = np.empty(len(out), dtype=object)
    order = np.lexsort((out["grid_code"].astype(str).to_numpy(), communities))
    sizes = pd.Series(communities).value_counts()
    rank: dict[str, int] = {}
    for i in order:
        community = communities[i]
        rank[community] = rank.get(community, 0) + 1
        number = 0 if parsed.undivided_zero and sizes[community] == 1 else rank[community]
        codes[i] = parsed.render(fields[community], number)
    out["standard_code"] = codes
    return out


def _object_class(value, parsed: CodeScheme) -> str:
    if value is None or str(value).strip() == "":
        raise InputError(
            Problem(
                "--object-class",
                f"{parsed.title} codes begin with the 6-digit code of the managed object class (CJ/T 348-2010), which has no default",
                "pass the code your city's system uses for grids, e.g. --object-class 120000 (a major class ends in 00)",
            )
        )
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{6}", text):
        raise InputError(Problem("--object-class", f"'{value}' is not 6 digits", "give the 6-digit object class code, e.g. 120000"))
    return text


def parse_date(value, what: str = "--valid-from") -> str:
    """Check a date given as ``YYYY-MM-DD`` (or a ``datetime.date``) and return it as ``YYYY-MM-DD``.

    Examples
    --------
    >>> parse_date("2024-01-31")
    '2024-01-31'
    >>> parse_date("2024-02-30", "--valid-to")
    Traceback (most recent call last):
    ...
    gridgeo.errors.InputError: --valid-to: '2024-02-30' is not a date (day is out of range for month) — fix: write it as YYYY-MM-DD, e.g. 2024-01-01
    """
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value).strip()
    fix = "write it as YYYY-MM-DD, e.g. 2024-01-01"
    if not _DATE.match(text):
        raise InputError(Problem(what, f"'{value}' is not a date", fix))
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise InputError(Problem(what, f"'{value}' is not a date ({exc})", fix)) from None


def add_grid_details(
    grids: gpd.GeoDataFrame,
    *,
    valid_from: str | datetime.date | None = None,
    valid_to: str | datetime.date | None = None,
    responsible_units: Mapping[str, str] | None = None,
    community_column: str = "community_id",
) -> gpd.GeoDataFrame:
    """A copy of ``grids`` with ``valid_from``, ``valid_to`` (``YYYY-MM-DD``) and ``responsible_unit`` columns.

    Only the details given are added.  ``responsible_units`` maps a community
    id to the unit responsible for its grids (DB11/T 2157-2023: every grid
    carries a responsible party and start/end dates).

    Examples
    --------
    >>> import shapely
    >>> grids = gpd.GeoDataFrame({"grid_code": ["001-01"], "community_id": ["A"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=32650)
    >>> out = add_grid_details(grids, valid_from="2024-01-01", responsible_units={"A": "朝阳区某街道办事处"})
    >>> out[["valid_from", "responsible_unit"]].to_dict("records")
    [{'valid_from': '2024-01-01', 'responsible_unit': '朝阳区某街道办事处'}]
    """
    out = grids.copy()
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    additions = {}
    if valid_from is not None:
        additions["valid_from"] = [parse_date(valid_from, "--valid-from")] * len(out)
    if valid_to is not None:
        additions["valid_to"] = [parse_date(valid_to, "--valid-to")] * len(out)
    if responsible_units is not None:
        units = {str(k): v for k, v in responsible_units.items()}
        additions["responsible_unit"] = [units.get(str(c)) for c in out[community_column]]
    for name, values in additions.items():
        if name in out.columns:
            out = out.drop(columns=name)
        at = list(out.columns).index(geometry) if geometry in out.columns else len(out.columns)
        out.insert(at, name, pd.Series(values, index=out.index, dtype=object))
    return out


# -- one run: check every option up front, apply after partitioning ---------------------------------------------------


