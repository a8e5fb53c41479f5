"""The staffing roster: one row per grid for the "1+1+1+N" grid team, and the joint units.

Every grid (网格) is staffed by a "1+1+1+N" team: a grid Party branch secretary
(网格党支部书记), a grid leader (网格长), a full-time grid worker (专职网格员) and
N part-time grid workers or volunteers (兼职网格员/志愿者).  :func:`grid_roster`
lists every grid with its figures, its workload (walking tour, workload index
and flag of :mod:`gridgeo.governance.workload`), its walk to the nearest service centre
when measured (:mod:`gridgeo.governance.coverage`), ``helpers_n`` — the N of the team,
one helper per ``households_per_helper`` households — and the four name
columns left EMPTY for the street office to fill in (the helpers' N names go
into the one ``helpers`` cell, separated by "、"); :func:`unit_roster` lists
the joint units (联户) of each grid with their member buildings.  :func:`write_roster` writes both as CSV
(UTF-8 with a byte-order mark, so Excel shows Chinese correctly) and as one
Excel workbook.

Same result → byte-identical files: rows are sorted by code, CSV line ends are
``\\r\\n``, and the workbook's document properties and ZIP timestamps are fixed.

This module only reads a :class:`~gridgeo.result.Partition`; it never runs an
algorithm.

A run given a household register (:mod:`gridgeo.inputs.register`) lists each unit's
household ids (``member_households``) and a ``unit_head`` (联户长) column,
and the workbook gets a ``households`` sheet (one row per household, its
unit and position).  The register's personal columns (names, phone numbers
…) are written only when the caller hands them over as ``personal``; every
file holding them then begins with a notice row saying so
(``household_roster.csv``, and ``units.csv`` when ``unit_head`` fills it).
"""

from __future__ import annotations

import datetime
import io
import logging
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ..inputs.names import community_names
from ..labels import FLAG_WORDS, check_lang, column_label, status_label
from ..outputs.files import csv_bytes, csvt_text, write_atomic

__all__ = [
    "GRID_COLUMNS",
    "CODE_COLUMNS",
    "DETAIL_COLUMNS",
    "WORKLOAD_COLUMNS",
    "STAFF_COLUMNS",
    "UNIT_COLUMNS",
    "REGISTER_UNIT_COLUMNS",
    "PERSONAL_NOTICE",
    "grid_roster",
    "unit_roster",
    "household_roster",
    "write_roster",
]

logger = logging.getLogger(__name__)

GRID_COLUMNS = ("grid_code", "community_id", "community_code", "households", "n_buildings", "n_units", "area_m2", "status", "reason")
#: listed after ``grid_code`` when the run has a standard code scheme (:mod:`gridgeo.governance.standard_codes`)
CODE_COLUMNS = ("standard_code",)
#: listed after ``reason`` when the run gave validity dates or a responsible-unit column
DETAIL_COLUMNS = ("valid_from", "valid_to", "responsible_unit")
#: workload, service coverage and team size, when the grids carry them (in this order, before the team)
WORKLOAD_COLUMNS = ("tour_m", "workload_index", "workload_flag", "centre_name", "walk_min", "coverage_flag", "helpers_n")
#: the "1+1+1+N" team, left empty to be filled in
STAFF_COLUMNS = ("party_branch_secretary", "grid_leader", "full_time_grid_worker", "helpers")
UNIT_COLUMNS = ("unit_code", "grid_code", "households", "n_buildings", "members")
#: the unit roster of a run given a household register: household ids, and the unit head (联户长)
REGISTER_UNIT_COLUMNS = ("unit_code", "grid_code", "households", "n_buildings", "building_codes", "member_households", "unit_head")
#: the first row of every roster file that holds a register's personal columns
PERSONAL_NOTICE = {
    "zh": "本表含住户个人信息（{columns}），仅供网格工作使用，不得公开、转发或上传到共享文件",
    "en": "CONTAINS PERSONAL DATA ({columns}): for grid work only; do not publish, forward or upload to shared files",
}

_TEXT = ("grid_code", "standard_code", "valid_from", "valid_to", "responsible_unit", "community_id", "community_code", "community_name", "status", "reason", "unit_code", "members", "centre_name") + STAFF_COLUMNS
_TEXT += ("building_codes", "member_households", "unit_head", "household_id", "building_id", "building_code")
_INTEGER = ("households", "n_buildings", "n_units", "helpers_n", "position")
_FLAGS = ("workload_flag", "coverage_flag", "households_estimated")
#: the shade of the roster's columns to fill in by hand (the team, the unit head): light yellow
FILL_IN_COLOUR = "FFF2CC"
#: Excel's format of real numbers: at least one decimal and up to the CSV's six (0.875 shows as 0.875, not 0.9)
REAL_FORMAT = "0.0#####"
#: document properties of every workbook written (so rewrites are byte-identical)
FIXED_DATETIME = datetime.datetime(2000, 1, 1, 0, 0, 0)
_ZIP_DATETIME = (1980, 1, 1, 0, 0, 0)


def grid_roster(result, *, lang: str = "en") -> pd.DataFrame:
    """One row per grid, sorted by ``grid_code``, with its workload, team size and empty staffing columns.

    Parameters
    ----------
    result : Partition
    lang : {"en", "zh"}
        ``"en"`` keeps the machine column names and status codes; ``"zh"``
        gives Chinese headers (网格编码, 户数, ..., 网格党支部书记, 网格长,
        专职网格员, 兼职网格员/志愿者) and Chinese status labels.

    Returns
    -------
    DataFrame
        ``grid_code``, ``community_id``, ``community_code``, ``households``,
        ``n_buildings``, ``n_units``, ``area_m2`` (rounded to 0.1 m²),
        ``status``, ``reason``; those of ``tour_m``, ``workload_index``,
        ``workload_flag``, ``centre_name``, ``walk_min``, ``coverage_flag`` and
        ``helpers_n`` the grids carry; and the empty strings of
        ``party_branch_secretary``, ``grid_leader``, ``full_time_grid_worker``,
        ``helpers``.  Grids with a ``standard_code`` list it after
        ``grid_code``; ``valid_from``, ``valid_to`` and ``responsible_unit``
        follow ``reason`` when the grids have them.  Flags are ``True``/``False`` (是/否 with ``"zh"``).

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> roster = grid_roster(gridgeo.partition(c, b, households="hh"))
    >>> roster[["grid_code", "households", "helpers_n", "grid_leader"]].to_dict("records")
    [{'grid_code': '001-01', 'households': 400, 'helpers_n': 4, 'grid_leader': ''}]
    >>> list(grid_roster(gridgeo.partition(c, b, households="hh"), lang="zh").columns[-4:])
    ['网格党支部书记', '网格长', '专职网格员', '兼职网格员/志愿者']
    """
    lang = check_lang(lang)
    present = set(result.grids.columns) if result.grids is not None else set()
    columns = GRID_COLUMNS[:1] + tuple(c for c in CODE_COLUMNS if c in present) + GRID_COLUMNS[1:]
    columns += tuple(c for c in DETAIL_COLUMNS if c in present)
    columns += tuple(c for c in WORKLOAD_COLUMNS if c in present)
    frame = _table(result.grids, columns, "grid_code", "grids")
    names = {code: name.strip() for code, name in community_names(result.communities).items()}
    if names:
        frame.insert(int(frame.columns.get_loc("community_code")) + 1, "community_name", frame["community_code"].astype(str).map(names).fillna(""))
    if "households_estimated" in present and result.grids["households_estimated"].fillna(False).astype(bool).any():
        flags = result.grids.set_index("grid_code")["households_estimated"].fillna(False).astype(bool)
        frame.insert(int(frame.columns.get_loc("households")) + 1, "households_estimated", frame["grid_code"].map(flags).fillna(False).astype(bool))
    if lang == "zh" and "reason_zh" in result.grids:
        zh = result.grids.set_index("grid_code")["reason_zh"]
        frame["reason"] = frame["grid_code"].map(zh).fillna(frame["reason"])
    if "area_m2" in frame:
        frame["area_m2"] = pd.to_numeric(frame["area_m2"], errors="coerce").round(1)
    for column in STAFF_COLUMNS:
        frame[column] = ""
    return _localise(frame, lang)


def unit_roster(result, *, lang: str = "en", personal: pd.DataFrame | None = None, unit_head: str | None = None) -> pd.DataFrame:
    """The joint units of every grid, sorted by ``unit_code``.

    Parameters
    ----------
    result : Partition
    lang : {"en", "zh"}
        Chinese headers with ``"zh"``.
    personal : DataFrame, optional
        A register's personal columns indexed by household id
        (:func:`gridgeo.inputs.register.personal_table`); only read for ``unit_head``.
    unit_head : str, optional
        A column of ``personal``: each unit's ``unit_head`` (联户长) is its
        value for the first household of the unit (in walking order) that has one.

    Returns
    -------
    DataFrame
        ``unit_code``, ``grid_code``, ``households``, ``n_buildings`` and
        ``members`` (``"003-B00012:1-12;003-B00013:1-2"``: building code and
        its household positions in the unit).  A run given a register lists
        ``building_codes``, ``member_households`` (the household ids in
        walking order) and ``unit_head`` (empty to fill in, unless ``unit_head``) instead of ``members``.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [12, 13]}, geometry=[shapely.box(20, 40, 30, 50), shapely.box(60, 40, 70, 50)], crs=32651)
    >>> unit_roster(gridgeo.partition(c, b, households="hh", grid_size=(20, 30)))["members"].tolist()
    ['001-B00001:1-12', '001-B00002:1-13']
    """
    lang = check_lang(lang)
    if getattr(result, "households", None) is None:
        if personal is not None or unit_head is not None:
            raise InputError(Problem("roster", "personal columns were given for a run without a household register", "partition with a register first"))
        return _localise(_estimated_units(_table(result.units, UNIT_COLUMNS, "unit_code", "units"), result), lang)
    units = result.units.rename(columns={"members": "member_households"})
    frame = _estimated_units(_table(units, REGISTER_UNIT_COLUMNS[:-1], "unit_code", "units"), result)
    frame["unit_head"] = ""
    if unit_head is not None:
        if personal is None or unit_head not in personal.columns:
            choices = ", ".join(str(c) for c in personal.columns) if personal is not None else "none (give the personal columns)"
            raise InputError(Problem("--unit-head", f"'{unit_head}' is not a personal column of the register", f"use one of: {choices}"))
        heads = _unit_heads(result.households, personal[unit_head])
        frame["unit_head"] = frame["unit_code"].map(heads).fillna("").astype(object)
    return _localise(frame, lang)


def _estimated_units(frame: pd.DataFrame, result) -> pd.DataFrame:
    """``frame`` (units) with ``households_estimated`` after ``households`` when any of its buildings' households were
    estimated (a unit holding one such building is flagged); unchanged for a run whose households were all given."""
    buildings = result.buildings
    if buildings is None or "households_estimated" not in buildings or not buildings["households_estimated"].fillna(False).astype(bool).any():
        return frame
    estimated = set(buildings.loc[buildings["households_estimated"].fillna(False).astype(bool), "building_code"].astype(str))
    listed = frame["building_codes"] if "building_codes" in frame else frame["members"]
    flags = [any(part.split(":", 1)[0] in estimated for part in str(text).split(";") if part) for text in listed]
    frame = frame.copy()
    frame.insert(int(frame.columns.get_loc("households")) + 1, "households_estimated", flags)
    return frame


def household_roster(result, *, lang: str = "en", personal: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per household of a run given a register, by unit and position, with its personal columns when given.

    Parameters
    ----------
    result : Partition
        With ``households`` (a run given a household register).
    lang : {"en", "zh"}
        Chinese headers with ``"zh"``.
    personal : DataFrame, optional
        The register's personal columns indexed by household id
        (:func:`gridgeo.inputs.register.personal_table`), appended as they are.

    Returns
    -------
    DataFrame
        ``unit_code``, ``position``, ``household_id``, ``building_code``,
        ``building_id``, ``grid_code``, the register's order columns, then the personal columns.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"bid": ["1", "2"]}, geometry=[shapely.box(20, 40, 30, 50), shapely.box(60, 40, 70, 50)], crs=32651)
    >>> register = pd.DataFrame({"hid": [f"h{i}" for i in range(24)], "bid": ["1"] * 12 + ["2"] * 12})
    >>> run = gridgeo.partition(c, b, building_id="bid", register=register, register_building="bid", register_household="hid", grid_size=(20, 30))
    >>> household_roster(run).head(2)[["unit_code", "position", "household_id"]].to_dict("records")
    [{'unit_code': '001-01-01', 'position': 1, 'household_id': 'h0'}, {'unit_code': '001-01-01', 'position': 2, 'household_id': 'h1'}]
    """
    lang = check_lang(lang)
    table = getattr(result, "households", None)
    if table is None:
        raise InputError(Problem("roster", "the run has no household register", "partition with --register"))
    fixed = ["unit_code", "position", "household_id", "building_code", "building_id", "grid_code"]
    extra = [c for c in table.columns if c not in fixed]
    frame = _table(table, tuple(fixed + extra), "unit_code", "households")
    if len(frame):
        frame = frame.sort_values(["unit_code", "position"], kind="stable").reset_index(drop=True)
    if personal is not None:
        for column in personal.columns:
            name = f"register_{column}" if column in frame.columns else column  # never over our own columns
            frame[name] = frame["household_id"].map(personal[column]).map(_text).astype(object)
    return _localise(frame, lang)


def _unit_heads(households: pd.DataFrame, values: pd.Series) -> dict:
    """Per unit, the value of ``values`` (indexed by household id) for its first household that has one."""
    ordered = households.sort_values(["unit_code", "position"], kind="stable")
    text = ordered["household_id"].map(values).map(_text)
    chosen = ordered.loc[text.to_numpy() != "", "unit_code"]
    first = ~chosen.duplicated()
    return dict(zip(chosen[first], text[text != ""][first.to_numpy()]))


def write_roster(
    result, outdir: str | Path, *, lang: str = "zh", personal: pd.DataFrame | None = None, unit_head: str | None = None,
    kinds: tuple[str, ...] = ("csv", "xlsx"),
) -> list[Path]:
    """Write ``roster.csv``, ``units.csv`` and ``roster.xlsx`` into ``outdir`` (the CSVs and the workbook as ``kinds`` asks).

    Parameters
    ----------
    result : Partition
    outdir : str or Path
        Created if needed.  Each file is written under a temporary name and
        renamed, so a failure never leaves a half-written file.
    lang : {"zh", "en"}
        Language of the headers and status labels.
    personal : DataFrame, optional
        A register's personal columns indexed by household id
        (:func:`gridgeo.inputs.register.personal_table`): written to
        ``household_roster.csv`` and the workbook's ``households`` sheet, each
        beginning with a notice row (:data:`PERSONAL_NOTICE`).  Without it no
        personal value is written.
    unit_head : str, optional
        A column of ``personal`` that fills the units' ``unit_head`` (联户长)
        (see :func:`unit_roster`); ``units.csv`` and the ``units`` sheet then
        begin with the notice row too.
    kinds : tuple of {"csv", "xlsx"}
        The forms written: the CSV files, the workbook, or both (``--format csv``, ``--format xlsx``).

    Returns
    -------
    list of Path
        ``[roster.csv, units.csv, roster.xlsx]`` (then ``household_roster.csv`` with ``personal``).  The CSVs are
        UTF-8 with a byte-order mark and ``\\r\\n`` line ends, numbers with at most 6
        decimals; ``roster.csvt`` and ``units.csvt`` beside them hold their column types
        (GDAL's sidecar, so QGIS reads numbers as numbers; not for a file that starts
        with a notice of personal data); the workbook has the sheets
        ``grids`` and ``units``, each with a bold, frozen header row, a filter
        and column widths fitted to the text; codes and other text columns
        are text cells formatted as text (``@``: ``001`` stays ``001`` when
        edited), real numbers show up to the CSV's six decimals.

    Examples
    --------
    >>> import tempfile, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> [p.name for p in write_roster(gridgeo.partition(c, b, households="hh"), tempfile.mkdtemp())]
    ['roster.csv', 'units.csv', 'roster.xlsx']
    """
    lang = check_lang(lang)
    if unit_head is not None and personal is None:
        raise InputError(Problem("--unit-head", "fills the roster from a personal column, so it needs the personal columns", "add --personal (personal=)"))
    grids = grid_roster(result, lang=lang)
    units = unit_roster(result, lang=lang, personal=personal, unit_head=unit_head)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    unknown = set(kinds) - {"csv", "xlsx"}
    if unknown or not kinds:
        raise ValueError(f"kinds: {sorted(unknown) or 'none'}; use csv and/or xlsx")
    sheets = {"grids": grids, "units": units}
    notices = {}
    if getattr(result, "households", None) is not None:
        sheets["households"] = household_roster(result, lang=lang, personal=personal)
        if personal is not None:
            notices["households"] = PERSONAL_NOTICE[lang].format(columns="、".join(str(c) for c in personal.columns) if lang == "zh" else ", ".join(str(c) for c in personal.columns))
            if unit_head is not None:
                notices["units"] = PERSONAL_NOTICE[lang].format(columns=unit_head)
    elif personal is not None:
        raise InputError(Problem("roster", "personal columns were given for a run without a household register", "partition with a register first"))
    paths = []  # (what was written, in this order)
    if "csv" in kinds:
        for name, frame, notice in (("roster.csv", grids, None), ("units.csv", units, notices.get("units"))):
            paths.append(outdir / name)
            write_atomic(paths[-1], csv_bytes(frame, notice=notice))
            if notice is None:
                write_atomic(paths[-1].with_suffix(".csvt"), csvt_text(frame) + "\r\n")
    if "xlsx" in kinds:
        paths.append(outdir / "roster.xlsx")
        write_atomic(
            paths[-1],
            _xlsx_bytes(sheets, text_columns=_text_labels(lang) | _personal_labels(personal), notices=notices, to_fill={_header(c, lang) for c in (*STAFF_COLUMNS, "unit_head")}),
        )
    if personal is not None and "csv" in kinds:
        paths.append(outdir / "household_roster.csv")
        write_atomic(paths[-1], csv_bytes(sheets["households"], notice=notices["households"]))
    logger.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths


# -- tables ----------------------------------------------------------------------------------------


def _table(frame, columns: tuple[str, ...], sort_by: str, layer: str) -> pd.DataFrame:
    """The ``columns`` of ``frame`` as a plain DataFrame, typed, sorted, index 0..n-1."""
    out = pd.DataFrame(index=range(len(frame)) if frame is not None else range(0))
    for column in columns:
        if frame is not None and column in frame.columns:
            values = pd.Series(frame[column].to_numpy(), index=out.index)
        else:
            logger.warning("%s have no column %r; it is left empty in the roster", layer, column)
            values = pd.Series([None] * len(out), index=out.index, dtype=object)
        if column in _INTEGER:
            numbers = pd.to_numeric(values, errors="coerce")
            values = numbers.astype("int64") if numbers.notna().all() else numbers.astype("Int64")
        elif column in _TEXT:
            values = values.map(_text).astype(object)
        out[column] = values
    if len(out):
        out = out.sort_values(sort_by, kind="stable").reset_index(drop=True)
    return out


def _text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _header(column: str, lang: str) -> str:
    """The header of ``column`` in a roster of ``lang``: the machine name in English, the Chinese label in Chinese."""
    return column if lang == "en" else column_label(column, lang)


def _localise(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    if lang == "en":
        return frame
    out = frame.copy()
    if "status" in out:
        out["status"] = out["status"].map(lambda s: status_label(s, lang) if s else s)
    for column in _FLAGS:
        if column in out:
            out[column] = out[column].map(lambda v: FLAG_WORDS[lang].get(bool(v), "") if not pd.isna(v) else "")
    return out.rename(columns={c: _header(c, lang) for c in out.columns})


def _text_labels(lang: str) -> set[str]:
    """The headers of the text columns as :func:`_localise` writes them (an English roster keeps the machine names)."""
    return {_header(c, lang) for c in _TEXT}


def _personal_labels(personal: pd.DataFrame | None) -> set[str]:
    """Personal columns are text in the workbook (a phone number is not a number)."""
    return set() if personal is None else {str(c) for c in personal.columns}


# -- files -----------------------------------------------------------------------------------------


def _display_width(text: str) -> int:
    """Width of ``text`` in Excel character units (CJK characters count two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _xlsx_bytes(sheets: dict[str, pd.DataFrame], *, text_columns: set[str], notices: dict[str, str] | None = None, to_fill: set[str] = frozenset()) -> bytes:
    """The workbook: one sheet per frame, a bold frozen header, the code column frozen too, the columns ``to_fill``
    (the team, to be filled in by hand) shaded, filters, and a landscape page one sheet wide with the header repeated."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.xml.functions import tostring

    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    shade = PatternFill("solid", start_color=FILL_IN_COLOUR, end_color=FILL_IN_COLOUR)
    for title, frame in sheets.items():
        sheet = workbook.create_sheet(title)
        columns = [str(c) for c in frame.columns]
        notice = (notices or {}).get(title)
        top = 2 if notice else 1  # the header row (after the personal-data notice, when there is one)
        if notice:
            sheet.cell(row=1, column=1, value=notice).font = Font(bold=True, color="C00000")
        for j, name in enumerate(columns, start=1):
            sheet.cell(row=top, column=j, value=name).font = bold
        text_like = [name in text_columns for name in columns]
        filled = [name in to_fill for name in columns]
        for j in (j for j, fill in enumerate(filled, start=1) if fill):
            sheet.cell(row=top, column=j).fill = shade
        for i, row in enumerate(frame.itertuples(index=False, name=None), start=top + 1):
            for j, value in enumerate(row, start=1):
                value = _cell_value(value)
                cell = sheet.cell(row=i, column=j, value=value)
                if filled[j - 1]:
                    cell.fill = shade
                if isinstance(value, str) and cell.data_type == "f":
                    cell.data_type = "s"  # text from the data is never a formula
                if text_like[j - 1]:
                    cell.number_format = "@"
                elif isinstance(value, float):
                    cell.number_format = REAL_FORMAT
        for j, name in enumerate(columns, start=1):
            values = [_display_width(str(v)) for v in frame.iloc[:, j - 1].tolist() if _cell_value(v) is not None]
            width = max([_display_width(name)] + values) + 2
            sheet.column_dimensions[get_column_letter(j)].width = min(max(width, 8), 60)
        sheet.freeze_panes = f"B{top + 1}" if columns else f"A{top + 1}"  # the header and the code stay in view
        if columns:
            sheet.auto_filter.ref = f"A{top}:{get_column_letter(len(columns))}{max(len(frame) + top, top)}"
            sheet.print_title_rows = f"{top}:{top}"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    workbook.properties.creator = "gridgeo"
    workbook.properties.created = FIXED_DATETIME
    buffer = io.BytesIO()
    workbook.save(buffer)  # openpyxl stamps "modified" with the current time here ...
    workbook.properties.modified = FIXED_DATETIME  # ... so the core properties are written again
    core = tostring(workbook.properties.to_tree())
    return _stable_zip(buffer.getvalue(), {"docProps/core.xml": core})


def _cell_value(value):
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, str) and value == "":
        return None
    return value


def _stable_zip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """Re-pack a ZIP with fixed timestamps and attributes (members and order unchanged)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            payload = replace.get(info.filename, source.read(info.filename))
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATETIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, payload)
    return out.getvalue()
