"""Household registers (户籍 / 住户台账): one row per household, read, checked and matched to the buildings.

A register names each household (a unique id) and its building (the value of
the buildings' id column); optional order columns (staircase, floor, door …)
give the walking order inside a building, sorted naturally so that "2-10"
follows "2-9".  The households per building then come from the register, and
joint units are cut along this order (:func:`gridgeo.units.cut_households`).

Every other column of a register is PERSONAL (names, phone numbers, ID
numbers …).  :func:`prepare_register` keeps only the id, building and order
columns; the personal columns stay in the caller's frame and reach only the
rosters written with ``personal`` (:mod:`gridgeo.governance.roster`).  Messages name rows,
household ids and building ids, never a personal value.

Problems are collected and raised together as one
:class:`~gridgeo.errors.InputError`, each naming the file, the rows and the fix.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, ProblemCollector, describe_rows
from ..messages import count

__all__ = [
    "Register",
    "MatchedRegister",
    "read_register",
    "prepare_register",
    "match_register",
    "personal_table",
    "natural_key",
    "natural_ranks",
    "id_key",
    "id_keys",
    "UNMATCHED",
]

logger = logging.getLogger(__name__)

#: what to do with register rows whose building is not in the buildings layer
UNMATCHED = ("error", "keep")
#: the reason of a household whose building is not in the buildings layer
UNKNOWN_BUILDING = "building not in the buildings layer"
_DIGITS = re.compile(r"(\d+)")
_WHOLE_FLOAT = re.compile(r"^-?\d+\.0+$")


@dataclass(frozen=True)
class Register:
    """The non-personal part of a checked register.

    Attributes
    ----------
    table : DataFrame
        One row per household in register row order: ``household_id`` (text),
        ``building_key`` (the building id as text), ``row`` (1-based row of the
        register) and the order columns (their text values, original names).
    building_column, household_column : str
        The register's building and household id columns.
    order_columns : tuple of str
        The walking-order columns, outermost first.
    personal_columns : tuple of str
        Every other column: personal data, never written outside a ``personal`` roster.
    label : str
        The register's name in messages.
    """

    table: pd.DataFrame
    building_column: str
    household_column: str
    order_columns: tuple[str, ...]
    personal_columns: tuple[str, ...]
    label: str = "register"


@dataclass
class MatchedRegister:
    """A register matched to the buildings of a run.

    Attributes
    ----------
    counts : ndarray of int64
        Households per building row given to :func:`match_register`.
    households : list of ndarray
        Per building row, its household ids in walking order.
    breaks : list of ndarray
        Per building row, for each pair of consecutive households, how many
        leading order columns they share (0: another staircase; 1: the same
        staircase, another floor; …).  :func:`gridgeo.units.cut_households`
        prefers cuts that share fewer.
    order_values : DataFrame
        The order column values (text), indexed by household id.
    unmatched : DataFrame
        Register rows whose building is unknown (``household_id``,
        ``building_id``, ``row``, ``reason``); empty unless ``unmatched="keep"``.
    buildings_without : list of str
        Ids of buildings with no register row (0 households).
    notes : list of str
    register : Register, optional
        The register matched.
    """

    counts: np.ndarray
    households: list
    breaks: list
    order_values: pd.DataFrame
    unmatched: pd.DataFrame
    buildings_without: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    register: Register | None = None


def id_key(value) -> str:
    """An id as text, the same for ``12``, ``12.0``, ``"12"`` and ``" 12 "`` (empty for a missing value).

    Examples
    --------
    >>> [id_key(v) for v in (12, 12.0, " 12 ", "12.0", "A-3", None, float("nan"))]
    ['12', '12', '12', '12', 'A-3', '', '']
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return ""
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    return text.split(".", 1)[0] if _WHOLE_FLOAT.match(text) else text


def id_keys(values: pd.Series) -> np.ndarray:
    """:func:`id_key` of every value (vectorised when they are all text).

    Examples
    --------
    >>> id_keys(pd.Series([" a ", "7.0", "b"])).tolist(), id_keys(pd.Series([1, None, 2.5])).tolist()
    (['a', '7', 'b'], ['1', '', '2.5'])
    """
    values = pd.Series(values).reset_index(drop=True)
    is_text = np.array([isinstance(v, str) for v in values], dtype=bool)
    out = np.empty(len(values), dtype=object)
    if is_text.any():
        text = values[is_text].astype(str).str.strip()
        out[is_text] = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True).to_numpy(dtype=object)
    if (~is_text).any():  # numbers: each distinct value converted once
        codes, uniques = pd.factorize(values[~is_text], use_na_sentinel=True)
        converted = np.array([id_key(v) for v in uniques] + [""], dtype=object)
        out[~is_text] = converted[codes]  # code -1 (missing) picks the trailing ""
    return out


def natural_ranks(values: np.ndarray) -> np.ndarray:
    """The rank of each value in natural order (:func:`natural_key`), equal values equal ranks.

    Examples
    --------
    >>> natural_ranks(np.array(["10", "9", "B2", "9"], dtype=object)).tolist()
    [1, 0, 2, 0]
    """
    unique, inverse = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    order = sorted(range(len(unique)), key=lambda i: (natural_key(unique[i]), unique[i]))
    rank = np.empty(len(unique), dtype=np.int64)
    rank[order] = np.arange(len(unique))
    return rank[inverse.reshape(-1)]


def natural_key(text: str) -> tuple:
    """Sort key that orders digit runs by value: ``"2-10"`` after ``"2-9"``, ``"B2"`` before ``"B10"``.

    Examples
    --------
    >>> sorted(["2-10", "2-9", "10-1", "2-1"], key=natural_key)
    ['2-1', '2-9', '2-10', '10-1']
    >>> sorted(["B10", "b2", "A"], key=natural_key)
    ['A', 'b2', 'B10']
    """
    parts = []
    for chunk in _DIGITS.split(str(text)):
        if not chunk:
            continue
        if chunk.isdigit():
            parts.append((0, int(chunk), chunk))
        else:
            parts.append((1, 0, chunk.casefold()))
    return tuple(parts)


def read_register(path: str | Path, *, layer: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a register: CSV, Excel workbook (``.xlsx``) or a GeoPackage table, every column as text.

    Parameters
    ----------
    path : str or Path
    layer : str, optional
        The sheet of a workbook or the table of a GeoPackage (default: the first).
    encoding : str, optional
        Text encoding of a CSV (default UTF-8, with or without a byte-order
        mark; ``gbk`` or ``gb18030`` for files saved by Chinese Excel).

    Returns
    -------
    DataFrame
        One row per register row, the header's column names, text values
        (empty cells as missing).

    Raises
    ------
    InputError
        The file is missing, cannot be decoded or parsed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "register.csv"
    >>> _ = path.write_bytes("户号,楼栋,姓名\\nH1,12,张三\\n".encode("gbk"))
    >>> read_register(path, encoding="gbk").to_dict("records")
    [{'户号': 'H1', '楼栋': '12', '姓名': '张三'}]
    """
    path = Path(path)
    label = f"{path}:{layer}" if layer else str(path)
    if not path.exists():
        raise InputError(Problem(label, "file not found", "check the path of --register"))
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            frame = pd.read_excel(path, sheet_name=layer or 0, dtype=str, engine="openpyxl")
        elif suffix == ".gpkg":
            import pyogrio

            frame = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
            frame = frame.astype(object).where(frame.notna(), None)
            frame = frame.apply(lambda column: column.map(lambda v: None if v is None else id_key(v)))
        else:
            frame = pd.read_csv(path, dtype=str, encoding=encoding or "utf-8-sig", keep_default_na=False, na_values=[""])
    except UnicodeDecodeError:
        raise InputError(
            Problem(
                label,
                f"is not {encoding or 'UTF-8'} text",
                "pass --register-encoding gbk (or gb18030; encoding= in Python) for a register saved by Chinese Excel, or save it as UTF-8 CSV",
            )
        ) from None
    except (ValueError, KeyError, OSError, pd.errors.ParserError) as exc:
        raise InputError(
            Problem(
                label,
                f"cannot be read as a register ({exc})",
                "give a CSV with a header row, an .xlsx workbook or a GeoPackage table",
            )
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def prepare_register(
    register: pd.DataFrame,
    *,
    building: str,
    household: str,
    order: str | list[str] | tuple[str, ...] | None = None,
    label: str = "register",
    known: tuple | None = None,
) -> Register:
    """Check a register and keep its non-personal columns.

    Parameters
    ----------
    register : DataFrame
        One row per household (e.g. from :func:`read_register`); not modified.
    building : str
        Column with the building id (matching the buildings' id column).
    household : str
        Column with a unique household id.
    order : str or list of str, optional
        Walking-order columns inside a building, outermost first (e.g.
        ``["staircase", "floor", "door"]`` or ``"staircase,floor,door"``).
        Without them the households keep the register's row order.
    label : str
        The register's name in messages.
    known : (building ids, buildings label, building column), optional
        The buildings the register will be matched to (:func:`match_register` with ``unmatched="error"``): when
        the rows have problems, rows naming an unknown building are listed with them, so that one run says all.

    Returns
    -------
    Register

    Raises
    ------
    InputError
        Listing every problem: missing columns, empty ids, duplicate household
        ids (named), ids holding ";" (the separator of a unit's members).

    Examples
    --------
    >>> frame = pd.DataFrame({"hid": ["a", "b"], "bldg": ["1", "1"], "door": ["2", "1"], "name": ["X", "Y"]})
    >>> reg = prepare_register(frame, building="bldg", household="hid", order="door")
    >>> reg.personal_columns, reg.table.columns.tolist()
    (('name',), ['household_id', 'building_key', 'row', 'door'])
    """
    problems = ProblemCollector()
    if isinstance(order, str):
        order = [c.strip() for c in order.split(",") if c.strip()]
    order = tuple(order or ())
    columns = [str(c) for c in register.columns]
    wanted = [("--register-building", building), ("--register-household", household)] + [("--register-order", c) for c in order]
    for option, column in wanted:
        if column is None or column == "":
            problems.add(label, f"{option} is not given", f"name the register column, one of: {', '.join(columns)}")
        elif column not in columns:
            problems.add(label, f"has no column '{column}' ({option})", f"use one of: {', '.join(columns)}")
    if len(set(c for _, c in wanted)) < len(wanted):
        problems.add(label, "the building, household and order columns must be different columns", "name each column once")
    if len(register) == 0:
        problems.add(label, "has no rows", "give a register with one row per household")
    problems.raise_if_any()
    hids = id_keys(register[household])
    bkeys = id_keys(register[building])
    for values, column, what in ((hids, household, "household id"), (bkeys, building, "building id")):
        empty = values == ""
        if empty.any():
            problems.add(
                label, f"{describe_rows(np.flatnonzero(empty) + 1)}: {what} '{column}' is empty", f"give every household a {what}"
            )
    dup = pd.Series(hids).duplicated(keep=False).to_numpy() & (hids != "")
    if dup.any():
        ids = list(pd.unique(hids[dup]))
        shown = ", ".join(repr(v) for v in ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        problems.add(
            label,
            f"{describe_rows(np.flatnonzero(dup) + 1)}: duplicate household ids in '{household}' ({shown})",
            "give every household its own id (a household listed twice would be counted twice)",
        )
    separator = np.array([";" in v for v in hids], dtype=bool)
    if separator.any():
        problems.add(
            label,
            f"{describe_rows(np.flatnonzero(separator) + 1)}: household id holds ';'",
            "use ids without ';' (it separates the members of a unit)",
        )
    if problems and known is not None:
        ids, buildings_label, building_column = known
        keys = set(id_keys(pd.Series(np.asarray(ids, dtype=object))).tolist())
        unknown = np.array([key != "" and key not in keys for key in bkeys], dtype=bool)
        if unknown.any():
            problems.problems.append(_unknown_buildings(label, building, np.flatnonzero(unknown) + 1, bkeys[unknown], buildings_label, building_column))
    problems.raise_if_any()
    table = pd.DataFrame({"household_id": hids, "building_key": bkeys, "row": np.arange(1, len(register) + 1, dtype=np.int64)})
    for column in order:
        table[column] = id_keys(register[column])
    personal = tuple(c for c in columns if c not in {building, household, *order})
    return Register(table, building, household, order, personal, label)


def _unknown_buildings(label: str, column: str, rows, keys, buildings_label: str, building_column: str) -> Problem:
    """The problem of register rows (numbered from 1) whose building ``keys`` are not among the buildings."""
    names = list(pd.unique(np.asarray(keys, dtype=object)))
    shown = ", ".join(repr(v) for v in names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return Problem(
        label,
        f"{describe_rows(rows)}: building '{column}' not in {buildings_label} column '{building_column}' ({len(names)} building id{'s' if len(names) != 1 else ''}: {shown})",
        "correct the building ids, or pass --register-unmatched keep to list these households as unassigned",
    )


def match_register(
    register: Register,
    building_ids,
    *,
    unmatched: str = "error",
    buildings_label: str = "buildings",
    building_column: str = "building_id",
) -> MatchedRegister:
    """Match a register to building ids: households per building, in walking order.

    Parameters
    ----------
    register : Register
    building_ids : sequence
        The id of every building row (all rows of the buildings layer).
    unmatched : {"error", "keep"}
        Register rows whose building is not among ``building_ids``: an error
        naming the rows, or kept in ``MatchedRegister.unmatched``.
    buildings_label, building_column : str
        Names used in messages.

    Returns
    -------
    MatchedRegister

    Raises
    ------
    InputError
        Rows with an unknown building (``unmatched="error"``), or an unknown ``unmatched``.

    Examples
    --------
    >>> frame = pd.DataFrame({"hid": ["c", "a", "b"], "bldg": ["7", "7", "7"], "floor": ["2", "1", "10"]})
    >>> matched = match_register(prepare_register(frame, building="bldg", household="hid", order="floor"), [7, 8])
    >>> matched.counts.tolist(), matched.households[0].tolist(), matched.buildings_without
    ([3, 0], ['a', 'c', 'b'], ['8'])
    """
    if unmatched not in UNMATCHED:
        raise InputError(Problem("--register-unmatched", f"'{unmatched}' is not a choice", f"use one of: {', '.join(UNMATCHED)}"))
    keys = id_keys(pd.Series(np.asarray(building_ids, dtype=object)))
    position = {key: i for i, key in enumerate(keys)}
    table = register.table
    building_of = np.array([position.get(k, -1) for k in table["building_key"]], dtype=np.int64)
    unknown = building_of < 0
    notes = []
    if unknown.any() and unmatched == "error":
        raise InputError(
            _unknown_buildings(register.label, register.building_column, table["row"].to_numpy()[unknown], table["building_key"].to_numpy()[unknown], buildings_label, building_column)
        )
    kept = pd.DataFrame(
        {
            "household_id": table["household_id"].to_numpy()[unknown],
            "building_id": table["building_key"].to_numpy()[unknown],
            "row": table["row"].to_numpy()[unknown],
            "reason": UNKNOWN_BUILDING,
        }
    )
    if len(kept):
        notes.append(
            f"{register.label}: {count(len(kept), 'household')} whose building is not in {buildings_label} "
            + ("is listed as an unassigned household" if len(kept) == 1 else "are listed as unassigned households")
        )
        logger.warning(notes[-1])
    order = register.order_columns
    known = table.loc[~unknown].copy()
    known["building"] = building_of[~unknown]
    if len(known):
        # each order column as the natural-sort rank of its value, then one lexicographic sort
        ranks = [natural_ranks(known[column].to_numpy()) for column in order]
        sort = np.lexsort([known["row"].to_numpy(), *ranks[::-1], known["building"].to_numpy()])
        known = known.iloc[sort]
    counts = np.bincount(known["building"].to_numpy(dtype=np.int64), minlength=len(keys)).astype(np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    ids = known["household_id"].to_numpy()
    values = known[list(order)].to_numpy(dtype=object) if order else np.zeros((len(known), 0), dtype=object)
    households, breaks = [], []
    for a, z in zip(starts, ends):
        households.append(ids[a:z])
        breaks.append(_shared_levels(values[a:z]))
    without = [str(k) for k in keys[counts == 0]]
    if without:
        shown = ", ".join(without[:10]) + (f" and {len(without) - 10} more" if len(without) > 10 else "")
        notes.append(
            f"{register.label}: {count(len(without), 'building')} {'has' if len(without) == 1 else 'have'} no household in the register "
            f"and {'counts' if len(without) == 1 else 'count'} 0 households ({shown})"
        )
        logger.warning(notes[-1])
    order_values = pd.DataFrame(values, columns=list(order), index=pd.Index(ids, name="household_id"))
    return MatchedRegister(counts, households, breaks, order_values, kept, without, notes, register)


def personal_table(register: pd.DataFrame, checked: Register) -> pd.DataFrame:
    """The personal columns of a register, indexed by household id: what a ``personal`` roster may add.

    Parameters
    ----------
    register : DataFrame
        The register as read (:func:`read_register`).
    checked : Register
        The same register checked by :func:`prepare_register`.

    Returns
    -------
    DataFrame
        Index: household id (text); columns: ``checked.personal_columns``, as text.

    Examples
    --------
    >>> frame = pd.DataFrame({"hid": [1, 2], "bldg": ["7", "7"], "name": ["X", None]})
    >>> personal_table(frame, prepare_register(frame, building="bldg", household="hid")).to_dict("index")
    {'1': {'name': 'X'}, '2': {'name': ''}}
    """
    columns = list(checked.personal_columns)
    out = register[columns].copy()
    for column in columns:
        out[column] = [id_key(v) if not isinstance(v, str) else v.strip() for v in out[column]]
    out.index = pd.Index(id_keys(register[checked.household_column]), name="household_id")
    return out


def _shared_levels(values: np.ndarray) -> np.ndarray:
    """For consecutive rows of order values, how many leading columns are equal (int8, one per pair)."""
    n = len(values)
    if n < 2:
        return np.zeros(0, dtype=np.int8)
    if values.shape[1] == 0:
        return np.zeros(n - 1, dtype=np.int8)
    same = values[1:] == values[:-1]
    return np.cumprod(same, axis=1).sum(axis=1).astype(np.int8)
