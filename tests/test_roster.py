"""The staffing roster: a row per grid with empty 1+1+1+N columns, the units, CSV with BOM, xlsx, byte-identical."""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import pytest

import gridgeo
from gridgeo.governance.roster import GRID_COLUMNS, STAFF_COLUMNS, UNIT_COLUMNS, grid_roster, unit_roster, write_roster
from gridgeo.labels import column_label

#: what gridgeo.partition adds to every grid (gridgeo.governance.workload), in roster order; coverage only with service centres
TEAM_COLUMNS = ("tour_m", "workload_index", "workload_flag", "helpers_n")

openpyxl = pytest.importorskip("openpyxl")

STAFF_ZH = ["网格党支部书记", "网格长", "专职网格员", "兼职网格员/志愿者"]
#: the sample's communities have a name column: the roster lists it after the community code
NAMED_COLUMNS = GRID_COLUMNS[:3] + ("community_name",) + GRID_COLUMNS[3:]


@pytest.fixture(scope="module")
def result(sample):
    communities, buildings = sample
    return gridgeo.partition(communities, buildings, households="hh_est")


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    return write_roster(result, tmp_path_factory.mktemp("roster"), lang="zh")


def test_grid_roster_rows_and_columns(result):
    roster = grid_roster(result)
    assert list(roster.columns) == list(NAMED_COLUMNS + TEAM_COLUMNS + STAFF_COLUMNS)
    names = dict(zip(result.communities["community_code"], result.communities["name"]))
    assert roster["community_name"].tolist() == [names[c] for c in roster["community_code"]] and all(roster["community_name"])
    assert len(roster) == len(result.grids)
    assert roster["grid_code"].tolist() == sorted(result.grids["grid_code"])
    assert roster["households"].sum() == result.grids["households"].sum()
    assert (roster[list(STAFF_COLUMNS)] == "").all().all()
    by_code = result.grids.set_index("grid_code")
    assert (roster.set_index("grid_code")["n_units"] == by_code["n_units"]).all()


def test_grid_roster_zh_headers(result):
    roster = grid_roster(result, lang="zh")
    assert list(roster.columns[-4:]) == STAFF_ZH
    assert roster.columns[0] == "网格编码"
    assert set(roster["状态"]) <= {"在区间内", "含超大建筑", "社区总户数无法均分", "分离地块", "专属网格", "超出区间（缺陷）"}


def test_unit_roster(result):
    units = unit_roster(result)
    assert list(units.columns) == list(UNIT_COLUMNS)
    assert len(units) == len(result.units)
    assert units["unit_code"].tolist() == sorted(result.units["unit_code"])
    assert (units["unit_code"].str[:-3] == units["grid_code"]).all()
    assert units.groupby("grid_code")["households"].sum().to_dict() == result.grids.set_index("grid_code")["households"].to_dict()


def test_csv_has_bom_and_rereads_chinese(written, result):
    roster_csv, units_csv, _ = written
    for path in (roster_csv, units_csv):
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        assert b"\r\n" in data
    back = pd.read_csv(roster_csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns[-4:]) == STAFF_ZH
    assert back["网格编码"].tolist() == sorted(result.grids["grid_code"])
    assert (back[STAFF_ZH] == "").all().all()
    units = pd.read_csv(units_csv, encoding="utf-8-sig", dtype=str)
    assert units.columns[0] == "联户编码" and len(units) == len(result.units)


def test_xlsx_sheets_header_widths(written, result):
    workbook = openpyxl.load_workbook(written[2])
    assert workbook.sheetnames == ["grids", "units"]
    grids, units = workbook["grids"], workbook["units"]
    assert grids.max_row == len(result.grids) + 1 and units.max_row == len(result.units) + 1
    assert grids.freeze_panes == "B2" and units.freeze_panes == "B2"  # the header and the code stay in view
    # the team's columns, to be filled in by hand, are shaded (header and cells); the page prints landscape, one wide
    staff = [cell.column for cell in grids[1] if cell.value in STAFF_ZH]
    assert len(staff) == 4 and all(grids.cell(row=r, column=c).fill.start_color.rgb.endswith("FFF2CC") for r in (1, 2) for c in staff)
    assert not grids.cell(row=2, column=1).fill.start_color.rgb.endswith("FFF2CC")
    assert grids.page_setup.orientation == "landscape" and grids.page_setup.fitToWidth == 1 and grids.print_title_rows == "$1:$1"
    header = [cell.value for cell in grids[1]]
    assert header[-4:] == STAFF_ZH and all(cell.font.b for cell in grids[1])
    assert all(cell.value is None for row in grids.iter_rows(min_row=2, min_col=len(header) - 3) for cell in row)
    # codes stay text (leading zeros kept), counts are numbers
    assert grids["A2"].value == sorted(result.grids["grid_code"])[0] and isinstance(grids["E2"].value, int)
    widths = [grids.column_dimensions[c].width for c in "ABCDEFGHIJKLM"]
    assert all(8 <= w <= 60 for w in widths)
    assert workbook.properties.created == workbook.properties.modified


def test_rewrites_are_byte_identical(result, written, tmp_path):
    again = write_roster(result, tmp_path, lang="zh")
    for first, second in zip(written, again):
        assert hashlib.sha256(first.read_bytes()).hexdigest() == hashlib.sha256(second.read_bytes()).hexdigest(), first.name


def test_formula_like_text_stays_text(result, tmp_path):
    import dataclasses

    grids = result.grids.copy()
    grids["community_id"] = "=HYPERLINK(\"http://x\")"
    workbook = openpyxl.load_workbook(write_roster(dataclasses.replace(result, grids=grids), tmp_path, lang="en")[2])
    cell = workbook["grids"]["B2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_english_files(result, tmp_path):
    roster_csv, _, xlsx = write_roster(result, tmp_path, lang="en")
    back = pd.read_csv(io.BytesIO(roster_csv.read_bytes()), encoding="utf-8-sig")
    assert list(back.columns) == list(NAMED_COLUMNS + TEAM_COLUMNS + STAFF_COLUMNS)
    assert [c.value for c in openpyxl.load_workbook(xlsx)["units"][1]] == list(UNIT_COLUMNS)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_xlsx_codes_are_text_and_reals_show_the_csv_decimals(result, tmp_path, lang):
    # an English workbook used to leave its code columns in Excel's General format (only the Chinese headers were
    # matched), and every real number showed one decimal (workload_index 0.875 as 0.9) where the CSV has 0.875
    roster_csv, units_csv, xlsx = write_roster(result, tmp_path, lang=lang)
    workbook = openpyxl.load_workbook(xlsx)

    def header(column):
        return column if lang == "en" else column_label(column, lang)

    for sheet, path, codes in ((workbook["grids"], roster_csv, ("grid_code", "community_id", "community_code")), (workbook["units"], units_csv, ("unit_code", "grid_code", "members"))):
        names = [cell.value for cell in sheet[1]]
        csv = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        for column in codes:
            cells = [row[0] for row in sheet.iter_rows(min_row=2, min_col=names.index(header(column)) + 1, max_col=names.index(header(column)) + 1)]
            assert [c.value for c in cells] == csv[header(column)].tolist(), column  # as in the CSV: 001 stays 001
            assert all(c.data_type == "s" and c.number_format == "@" for c in cells), column
    grids = workbook["grids"]
    names = [cell.value for cell in grids[1]]
    csv = pd.read_csv(roster_csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    needed = 0
    for column in ("area_m2", "tour_m", "workload_index"):
        j = names.index(header(column)) + 1
        for cell, text in zip((row[0] for row in grids.iter_rows(min_row=2, min_col=j, max_col=j)), csv[header(column)]):
            decimals = len(text.partition(".")[2])
            shown = len(cell.number_format.partition(".")[2])  # the decimals Excel shows at most
            assert float(text) == cell.value and decimals <= shown, (column, text, cell.number_format)
            needed = max(needed, decimals)
    assert needed > 1  # the sample has values a one-decimal format would round (workload_index 0.875)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_each_format_writes_its_own_files_only(result, tmp_path, kind):
    """`--format csv` writes the CSVs (and their .csvt), `--format xlsx` the workbook; both together write all."""
    from gridgeo.cli.steps import _writers

    writers = _writers([kind], make_map=False, make_report=False, lang="en", basemap="osm", tianditu_key=None, barriers=None, shp_encoding="utf-8")
    assert len(writers) == 1
    writers[0](result, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = {"csv": ["roster.csv", "roster.csvt", "units.csv", "units.csvt"], "xlsx": ["roster.xlsx"]}[kind]
    assert names == expected
    both = write_roster(result, tmp_path / "both", lang="en")
    assert [p.name for p in both] == ["roster.csv", "units.csv", "roster.xlsx"]


def test_estimated_households_are_flagged_in_the_rosters(sample, tmp_path):
    """A run without household counts says so in roster.csv, units.csv and roster.xlsx, as the map and layers do."""
    communities, buildings = sample
    estimated = gridgeo.partition(communities, buildings.drop(columns=["hh_est"]))
    assert estimated.buildings["households_estimated"].all()
    grids, units = grid_roster(estimated), unit_roster(estimated)
    assert list(grids.columns[:6]) == ["grid_code", "community_id", "community_code", "community_name", "households", "households_estimated"]
    assert grids["households_estimated"].all() and units["households_estimated"].all()
    assert units["households"].sum() == estimated.buildings["households"].sum()
    paths = write_roster(estimated, tmp_path, lang="zh")
    csv = pd.read_csv(tmp_path / "roster.csv", encoding="utf-8-sig", dtype=str)
    assert set(csv["户数为估算"]) == {"是"}
    assert set(pd.read_csv(tmp_path / "units.csv", encoding="utf-8-sig", dtype=str)["户数为估算"]) == {"是"}
    book = openpyxl.load_workbook(next(p for p in paths if p.suffix == ".xlsx"))
    assert all("户数为估算" in [c.value for c in sheet[1]] for sheet in book.worksheets if sheet.max_row > 1)
    # a run with households given keeps its columns (and bytes) as before
    assert "households_estimated" not in grid_roster(gridgeo.partition(communities, buildings, households="hh_est")).columns
