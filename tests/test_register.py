"""Household registers: real Monaco buildings with a register generated here (households per building = hh_est,
staircases of 2–4 doors per floor, fake names and phone numbers); units of real doors, households.csv, the
register's checks, and no personal value in any shared output."""

from __future__ import annotations

import itertools
import json
import logging
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.inputs.register import natural_key, prepare_register, read_register
from gridgeo.result import read_outputs
from gridgeo.units import cut_households, cut_units, fits_units

from .conftest import DATA

ORDER = ["单元", "楼层", "门牌"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
UNIT_BAND = (10, 15)


def make_register(buildings: pd.DataFrame, *, seed: int = 7) -> pd.DataFrame:
    """One row per household of every building (hh_est of them): staircase (单元), floor (楼层), door (门牌),
    a fake head of household (户主), phone (电话) and ID number (身份证号); rows shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for bid, count in zip(buildings["building_id"], buildings["hh_est"].astype(int)):
        doors = int(rng.integers(2, 5))  # doors per floor of every staircase of this building
        floors = int(rng.integers(3, 12))
        for k in range(count):
            stair, rest = divmod(k, doors * floors)
            floor, door = divmod(rest, doors)
            name = SURNAMES[rng.integers(len(SURNAMES))] + "".join(GIVEN[i] for i in rng.integers(len(GIVEN), size=2))
            rows.append(
                {
                    "户号": f"{bid}-{stair + 1}-{floor + 1}{door + 1:02d}",
                    "楼栋": bid,
                    "单元": str(stair + 1),
                    "楼层": str(floor + 1),
                    "门牌": f"{floor + 1}{door + 1:02d}",
                    "户主": name,
                    "电话": "13" + "".join(str(d) for d in rng.integers(10, size=9)),
                    "身份证号": "110105" + "".join(str(d) for d in rng.integers(10, size=12)),
                }
            )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def register(monaco):
    return make_register(monaco[1])


@pytest.fixture(scope="module")
def run(monaco, register):
    communities, buildings, _ = monaco
    return gridgeo.partition(
        communities, buildings, building_id="building_id", register=register,
        register_building="楼栋", register_household="户号", register_order=ORDER, unit_size=UNIT_BAND,
    )


def _kwargs(**extra):
    return {"building_id": "building_id", "register_building": "楼栋", "register_household": "户号", "register_order": ORDER, **extra}


# -- units of real doors --------------------------------------------------------------------------------


def test_every_household_in_exactly_one_unit(run, register):
    table = run.households
    assert len(table) == len(register) > 5000
    assert not table["household_id"].duplicated().any()
    assert set(table["household_id"]) == set(register["户号"])
    # a unit's members are its households in position order, and its size
    for _, group in table.groupby("unit_code"):
        assert group["position"].tolist() == list(range(1, len(group) + 1))
    members = run.units.set_index("unit_code")["members"]
    listed = table.sort_values(["unit_code", "position"]).groupby("unit_code")["household_id"].agg(";".join)
    assert listed.sort_index().equals(members.sort_index())
    assert (run.units.set_index("unit_code")["households"] == table.groupby("unit_code").size()).all()
    assert run.unassigned_households.empty


def test_units_in_band_wherever_the_grid_admits_a_cut(run):
    totals = run.grids.set_index("grid_code")["households"]
    for row in run.units.itertuples():
        if fits_units(totals[row.grid_code], *UNIT_BAND):
            assert UNIT_BAND[0] <= row.households <= UNIT_BAND[1], row.unit_code
            assert row.in_band
    assert run.units["in_band"].mean() > 0.99


def test_grid_households_equal_the_register_counts(run, register, monaco):
    counts = register.groupby("楼栋").size()
    buildings = run.buildings.set_index("building_id")
    assert (buildings["households"] == counts.reindex(buildings.index, fill_value=0)).all()
    assert not buildings["households_estimated"].any()
    per_grid = run.households.groupby("grid_code").size()
    assert per_grid.reindex(run.grids["grid_code"], fill_value=0).tolist() == run.grids["households"].tolist()
    assert run.grids["households"].sum() == len(register) == monaco[1]["hh_est"].astype(int).sum()
    # the table names each household's building and grid as the buildings layer does
    grid_of = dict(zip(run.buildings["building_code"], run.buildings["grid_code"]))
    assert (run.households["building_code"].map(grid_of) == run.households["grid_code"]).all()
    assert (run.households["building_id"] == run.households["household_id"].str.rsplit("-", n=2).str[0]).all()


def test_units_follow_the_register_walking_order(run):
    """Inside a unit the households of one building come in natural staircase, floor, door order (floor 10 after 9)."""
    for _, group in run.households.sort_values(["unit_code", "position"]).groupby(["unit_code", "building_code"], sort=False):
        keys = [tuple(natural_key(v) for v in row) for row in group[ORDER].itertuples(index=False, name=None)]
        assert keys == sorted(keys)
    floors = run.households["楼层"].astype(int)
    assert floors.max() >= 10  # the natural sort is exercised


def _split_cost(sequence: pd.DataFrame, cuts: list[int]) -> tuple[int, int, int]:
    """(buildings, staircases, floors) split by unit boundaries at household positions ``cuts``."""
    keys = sequence[["building_code", *ORDER[:2]]].to_numpy()
    cost = np.zeros(3, dtype=int)
    for p in cuts:
        same = keys[p - 1] == keys[p]
        cost += np.cumprod(same)
    return tuple(int(c) for c in cost)


def test_cuts_split_fewer_staircases_than_cutting_by_numbers(run):
    """Per grid, the register cut splits no more buildings, then staircases, then floors than the household-number
    cut of the same walking order (what a run without a register does), with no more units out of band."""
    better = 0
    for grid, sequence in run.households.sort_values(["unit_code", "position"]).groupby("grid_code", sort=False):
        sequence = sequence.reset_index(drop=True)
        sizes = sequence.groupby("unit_code", sort=False).size().to_numpy()
        cuts = np.cumsum(sizes)[:-1].tolist()
        per_building = sequence.groupby("building_code", sort=False).size().to_numpy()
        by_numbers = cut_units(per_building, *UNIT_BAND)
        number_cuts = np.cumsum([u.households for u in by_numbers])[:-1].tolist()
        out_register = int(((sizes < UNIT_BAND[0]) | (sizes > UNIT_BAND[1])).sum())
        out_numbers = sum(not u.in_band for u in by_numbers)
        assert out_register <= out_numbers, grid
        ours, theirs = _split_cost(sequence, cuts), _split_cost(sequence, number_cuts)
        assert (out_register, *ours) <= (out_numbers, *theirs), grid
        better += (out_register, *ours) < (out_numbers, *theirs)
    assert better > 0


def _brute_force(households, breaks, low, high):
    """The least (out of band, buildings split, staircases split, floors split) over every cut of the sequence."""
    total = int(sum(households))
    cost_at = np.zeros((total + 1, 3), dtype=int)
    offset = 0
    for n, shared in zip(households, breaks):
        for k, s in enumerate(shared, start=1):
            cost_at[offset + k] = [1, s >= 1, s >= 2]
        offset += n
    best = None
    for mask in itertools.product((0, 1), repeat=total - 1):
        cuts = [p for p, m in zip(range(1, total), mask) if m]
        sizes = np.diff([0, *cuts, total])
        if sizes.max() > max(high, 2 * low - 1):
            continue
        key = (int(((sizes < low) | (sizes > high)).sum()), *cost_at[cuts].sum(axis=0).tolist())
        best = key if best is None or key < best else best
    return best


def test_cut_households_is_optimal_on_small_sequences():
    rng = np.random.default_rng(3)
    for _ in range(25):
        households = rng.integers(0, 6, size=int(rng.integers(1, 4)))
        if not 1 <= households.sum() <= 14:
            continue
        breaks = []
        for n in households:
            floor = np.repeat(np.arange(n), int(rng.integers(1, 3)))[:n]
            stair = (np.arange(n) // 4)[:n]
            shared = [(1 + (floor[k] == floor[k + 1])) if stair[k] == stair[k + 1] else 0 for k in range(n - 1)]
            breaks.append(np.array(shared, dtype=np.int8))
        units = cut_households(households, breaks, 3, 5)
        assert sum(u.households for u in units) == households.sum()
        sizes = np.array([u.households for u in units])
        cuts = np.cumsum(sizes)[:-1]
        cost_at = {}
        offset = 0
        for n, shared in zip(households, breaks):
            for k, s in enumerate(shared, start=1):
                cost_at[offset + k] = (1, int(s >= 1), int(s >= 2))
            offset += n
        got = (int(((sizes < 3) | (sizes > 5)).sum()), *np.sum([cost_at.get(int(p), (0, 0, 0)) for p in cuts] or [(0, 0, 0)], axis=0).tolist())
        assert got == _brute_force(households, breaks, 3, 5)


def test_packed_and_lexicographic_costs_choose_the_same_cuts(run):
    """The DP packs its counts into one exact float when they fit in 53 bits, else compares them lexicographically:
    on every grid of the Monaco run (real walking orders, generated staircases) both choose the same cuts."""
    import gridgeo.units.cut as units

    for _, sequence in run.households.sort_values(["unit_code", "position"]).groupby("grid_code", sort=False):
        keys = sequence[["building_code", *ORDER[:2]]].to_numpy()
        shared = np.cumprod(keys[1:] == keys[:-1], axis=1).sum(axis=1)  # 1 + shared order columns inside a building
        total = len(sequence)
        split = np.zeros((total + 1, 3))
        split[1:total] = np.arange(3)[None, :] < shared[:, None]
        sizes = np.arange(1, 20)
        out_of_band = ((sizes < 10) | (sizes > 15)).astype(float)
        spread = ((sizes - 12.5) / 6) ** 2
        packed = units._cut_by_key(split, sizes, out_of_band, spread, float(total + 1), total)
        compared = units._cut_by_lexsort(split, sizes, out_of_band, spread, 3, total)
        assert packed.tolist() == compared.tolist()


def test_whole_staircases_become_units_when_they_fit():
    """Staircases of 10–15 doors each: every unit is one whole staircase."""
    sizes = [12, 15, 10, 11]
    breaks = [np.concatenate([np.r_[[1] * (n - 1)], [0]]) for n in sizes]
    breaks = [np.concatenate(breaks)[: sum(sizes) - 1]]
    units = cut_households(np.array([sum(sizes)]), breaks, *UNIT_BAND)
    assert [u.households for u in units] == sizes


# -- outputs ---------------------------------------------------------------------------------------------


def test_households_table_written_and_read_back(run, register, tmp_path):
    folder = run.to_files(tmp_path / "out")
    csv = pd.read_csv(folder / "households.csv", dtype=str, encoding="utf-8-sig")
    assert list(csv.columns[:6]) == ["household_id", "building_id", "building_code", "grid_code", "unit_code", "position"]
    assert len(csv) == len(register) and not csv["household_id"].duplicated().any()
    assert set(csv["household_id"]) == set(register["户号"])
    back = read_outputs(folder)
    assert back.households["household_id"].tolist() == run.households["household_id"].tolist()
    assert back.households["position"].astype(int).tolist() == run.households["position"].tolist()
    # one-building units keep their building's geometry type (Monaco's footprints are MultiPolygons)
    assert back.units.geom_type.tolist() == run.units.geom_type.tolist()
    assert not (folder / "unassigned_households.csv").exists()


def test_same_register_same_bytes(monaco, register, tmp_path):
    """Shuffling the register's rows changes nothing: the walking order comes from the order columns."""
    communities, buildings, _ = monaco
    first = gridgeo.partition(communities, buildings, register=register, **_kwargs()).to_files(tmp_path / "a")
    shuffled = register.sample(frac=1.0, random_state=99).reset_index(drop=True)
    second = gridgeo.partition(communities, buildings, register=shuffled, **_kwargs()).to_files(tmp_path / "b")
    for name in ("households.csv", "units.geojson", "report.json", "partition.gpkg"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


# -- the register's checks -------------------------------------------------------------------------------


def test_duplicate_household_ids_are_an_error(monaco, register):
    communities, buildings, _ = monaco
    broken = register.copy()
    broken.loc[[5, 40], "户号"] = broken.loc[3, "户号"]
    with pytest.raises(InputError) as error:
        gridgeo.partition(communities, buildings, register=broken, **_kwargs())
    text = str(error.value)
    assert "duplicate household ids" in text and repr(broken.loc[3, "户号"]) in text and "rows 4, 6, 41" in text
    assert broken.loc[3, "户主"] not in text


def test_all_problems_reported_at_once(monaco, register):
    communities, buildings, _ = monaco
    broken = register.copy()
    broken.loc[2, "户号"] = None
    broken.loc[[7, 8], "户号"] = "X1"
    with pytest.raises(InputError) as error:
        gridgeo.partition(communities, buildings, register=broken, households="hh_est", **_kwargs())
    problems = [str(p) for p in error.value.problems]
    assert any("row 3: household id '户号' is empty" in p for p in problems)
    assert any("duplicate household ids" in p for p in problems)
    assert any("--households" in p for p in problems)


def test_a_building_without_households_is_reported(monaco, register, caplog):
    communities, buildings, _ = monaco
    gone = buildings["building_id"].iloc[10]
    with caplog.at_level(logging.WARNING, logger="gridgeo"):
        result = gridgeo.partition(communities, buildings, register=register[register["楼栋"] != gone], **_kwargs())
    assert gone in result.report["register"]["buildings_without_households"]
    assert result.buildings.set_index("building_id").loc[gone, "households"] == 0
    assert any(gone in r.getMessage() and "no household in the register" in r.getMessage() for r in caplog.records)
    assert any("no household in the register" in note for note in result.report["notes"])
    assert gone not in set(result.households["building_id"])


def test_households_of_a_building_outside_every_community_are_unassigned(monaco, register):
    communities, buildings, _ = monaco
    moved = buildings.copy()
    far = moved["building_id"].iloc[20]
    moved.loc[moved.index[20], "geometry"] = shapely.MultiPolygon([shapely.box(7.0, 43.0, 7.0001, 43.0001)])  # out at sea
    result = gridgeo.partition(communities, moved, register=register, **_kwargs())
    expected = set(register.loc[register["楼栋"] == far, "户号"])
    assert set(result.unassigned_households["household_id"]) == expected and len(expected) > 0
    assert set(result.unassigned_households["building_id"]) == {far}
    assert result.unassigned_households["reason"].iloc[0] == result.unassigned.set_index("building_id").loc[far, "reason"]
    assert len(result.households) + len(expected) == len(register)
    assert result.report["register"]["households"] == len(register)


def test_unknown_building_is_an_error_naming_the_rows(monaco, register):
    communities, buildings, _ = monaco
    extra = pd.DataFrame({"户号": ["NEW-1", "NEW-2"], "楼栋": ["w999", "w999"], "单元": "1", "楼层": "1", "门牌": ["101", "102"], "户主": "赵六", "电话": "13800000000"})
    broken = pd.concat([register, extra], ignore_index=True)
    with pytest.raises(InputError) as error:
        gridgeo.partition(communities, buildings, register=broken, **_kwargs())
    text = str(error.value)
    assert f"rows {len(register) + 1}, {len(register) + 2}" in text and "'w999'" in text and "--register-unmatched keep" in text


def test_unknown_building_kept_as_unassigned_households(monaco, register, tmp_path):
    communities, buildings, _ = monaco
    extra = pd.DataFrame({"户号": ["NEW-1", "NEW-2"], "楼栋": ["w999", "w999"], "单元": "1", "楼层": "1", "门牌": ["101", "102"], "户主": "赵六", "电话": "13800000000"})
    result = gridgeo.partition(communities, buildings, register=pd.concat([register, extra], ignore_index=True), **_kwargs(register_unmatched="keep"))
    assert result.unassigned_households["household_id"].tolist() == ["NEW-1", "NEW-2"]
    assert set(result.unassigned_households["reason"]) == {"building not in the buildings layer"}
    assert len(result.households) == len(register)
    assert [h["household_id"] for h in result.report["register"]["unassigned_households"]] == ["NEW-1", "NEW-2"]
    folder = result.to_files(tmp_path / "out")
    assert pd.read_csv(folder / "unassigned_households.csv", encoding="utf-8-sig")["household_id"].tolist() == ["NEW-1", "NEW-2"]
    assert "赵六" not in (folder / "unassigned_households.csv").read_text(encoding="utf-8-sig")


def test_register_readers(tmp_path, register):
    """CSV in UTF-8 and GBK, an Excel sheet and a GeoPackage table read the same; GBK without the encoding is an error."""
    part = register.head(50)
    part.to_csv(tmp_path / "r.csv", index=False, encoding="gbk")
    part.to_excel(tmp_path / "r.xlsx", index=False, sheet_name="台账")
    import pyogrio

    pyogrio.write_dataframe(part, tmp_path / "r.gpkg", layer="register", driver="GPKG")
    for frame in (read_register(tmp_path / "r.csv", encoding="gbk"), read_register(tmp_path / "r.xlsx", layer="台账"), read_register(tmp_path / "r.gpkg", layer="register")):
        assert frame[list(part.columns)].astype(str).values.tolist() == part.astype(str).values.tolist()
    with pytest.raises(InputError, match="register-encoding gbk"):
        read_register(tmp_path / "r.csv")
    with pytest.raises(InputError, match="file not found"):
        read_register(tmp_path / "missing.csv")


def test_missing_columns_named(register):
    with pytest.raises(InputError) as error:
        prepare_register(register, building="楼号", household="户号", order=["单元", "层"])
    text = str(error.value)
    assert "no column '楼号'" in text and "no column '层'" in text and "户主" in text  # the columns to choose from


# -- personal data ---------------------------------------------------------------------------------------


def _personal_values(register: pd.DataFrame) -> set[str]:
    return set(register["户主"]) | set(register["电话"]) | set(register["身份证号"])


def _files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _texts(path) -> list[bytes]:
    """The bytes to search in a file: an xlsx's unzipped members, anything else as it is."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return [archive.read(name) for name in archive.namelist()]
    return [path.read_bytes()]


def _leaks(path, values) -> set[str]:
    """The personal values found in a file, as UTF-8 or GBK text: every window of 3 CJK characters (a name) and every
    run of 11–18 digits (a phone or ID number), looked up in the set of values."""
    found = set()
    for blob in _texts(path):
        for encoding in ("utf-8", "gbk"):
            text = blob.decode(encoding, errors="ignore")
            for run in re.findall(r"[\u4e00-\u9fff]{3,}", text):
                found |= {run[i : i + 3] for i in range(len(run) - 2)} & values
            for run in re.findall(r"\d{11,}", text):
                found |= {run[i : i + n] for n in (11, 18) for i in range(len(run) - n + 1)} & values
    return found


@pytest.fixture(scope="module")
def cli_run(monaco, register, tmp_path_factory):
    """A CLI run with a GBK register, --personal and --unit-head, every export."""
    folder = tmp_path_factory.mktemp("cli")
    register.to_csv(folder / "register.csv", index=False, encoding="gbk")
    out = folder / "out"
    args = [
        "partition", str(DATA / "monaco_communities.gpkg"), str(DATA / "monaco_buildings.gpkg"), "-o", str(out),
        "--building-id", "building_id", "--register", str(folder / "register.csv"), "--register-encoding", "gbk",
        "--register-building", "楼栋", "--register-household", "户号", "--register-order", ",".join(ORDER),
        "--format", "csv,xlsx,shp", "--personal", "--unit-head", "户主", "--workers", "1",
    ]
    result = CliRunner().invoke(main, ["-v", *args])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_no_personal_value_outside_the_rosters(cli_run, register):
    out, log = cli_run
    values = _personal_values(register)
    rosters = {"units.csv", "household_roster.csv", "roster.xlsx"}
    shared = [p for p in _files(out) if p.name not in rosters]
    names = {p.name for p in shared}
    assert {"map.html", "report.html", "report.json", "config.toml", "households.csv", "partition.gpkg", "units.geojson", "grids.geojson", "buildings.geojson"} <= names
    assert any(p.suffix == ".dbf" for p in shared)
    for path in shared:
        assert not _leaks(path, values), path.name
    assert not [v for v in values if v in log]
    # the rosters do hold them (so the search above can find them)
    assert _leaks(out / "household_roster.csv", values) and _leaks(out / "roster.xlsx", values)


def test_personal_rosters_say_so_in_a_header_row(cli_run, register):
    out, _ = cli_run
    for name in ("household_roster.csv", "units.csv"):
        first = (out / name).read_text(encoding="utf-8-sig").splitlines()[0]
        assert "个人信息" in first, name
    roster = pd.read_csv(out / "household_roster.csv", skiprows=1, dtype=str, encoding="utf-8-sig")
    assert len(roster) == len(register) and {"户主", "电话", "身份证号"} <= set(roster.columns)
    by_id = register.set_index("户号")
    assert (roster.set_index("户号")["电话"] == by_id["电话"].reindex(roster["户号"]).to_numpy()).all()
    units = pd.read_csv(out / "units.csv", skiprows=1, dtype=str, encoding="utf-8-sig")
    first_head = by_id.loc[units["组成（户号）"].str.split(";").str[0], "户主"].to_numpy()
    assert (units["联户长"].to_numpy() == first_head).all()
    import openpyxl

    workbook = openpyxl.load_workbook(out / "roster.xlsx")
    assert "个人信息" in workbook["households"]["A1"].value and workbook["households"]["A2"].value == "联户编码"
    assert workbook["grids"]["A1"].value == "网格编码"
    assert "户主" in json.loads((out / "report.json").read_text(encoding="utf-8"))["register"]["personal_columns_withheld"]


def test_without_personal_no_roster_holds_personal_data(monaco, register, tmp_path):
    register.to_csv(tmp_path / "register.csv", index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "partition", str(DATA / "monaco_communities.gpkg"), str(DATA / "monaco_buildings.gpkg"), "-o", str(out), "--building-id", "building_id",
            "--register", str(tmp_path / "register.csv"), "--register-building", "楼栋", "--register-household", "户号", "--format", "csv,xlsx", "--workers", "1",
        ],
    )
    assert result.exit_code == 0, result.output
    values = _personal_values(register)
    for path in _files(out):
        assert not _leaks(path, values), path.name
    assert not (out / "household_roster.csv").exists()
    units = pd.read_csv(out / "units.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert (units["联户长"] == "").all() and units.columns[0] == "联户编码"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--unit-head", "户主"], "--unit-head"),
        (["--personal", "--format", "shp"], "--personal"),
        (["--households", "hh_est"], "--households"),
    ],
)
def test_cli_option_errors(tmp_path, register, extra, message):
    register.head(20).to_csv(tmp_path / "register.csv", index=False)
    args = [
        "partition", str(DATA / "monaco_communities.gpkg"), str(DATA / "monaco_buildings.gpkg"), "-o", str(tmp_path / "out"), "--building-id", "building_id",
        "--register", str(tmp_path / "register.csv"), "--register-building", "楼栋", "--register-household", "户号", *extra,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_register_options_need_a_register(tmp_path):
    result = CliRunner().invoke(
        main, ["partition", str(DATA / "monaco_communities.gpkg"), str(DATA / "monaco_buildings.gpkg"), "-o", str(tmp_path / "out"), "--personal"]
    )
    assert result.exit_code == 2 and "given without --register" in result.output


def test_update_of_a_register_plan_without_a_register_names_the_fix(cli_run, tmp_path):
    out, _ = cli_run
    result = CliRunner().invoke(main, ["update", str(out), "--buildings", str(DATA / "monaco_buildings.gpkg"), "-o", str(tmp_path / "next")])
    assert result.exit_code == 2 and "household register" in result.output and "--register FILE" in result.output


def test_validate_checks_a_register(register, tmp_path):
    broken = register.copy()
    broken.loc[[5, 40], "户号"] = broken.loc[3, "户号"]
    broken.to_csv(tmp_path / "broken.csv", index=False, encoding="gbk")
    register.to_csv(tmp_path / "good.csv", index=False, encoding="gbk")
    base = ["validate", str(DATA / "monaco_communities.gpkg"), str(DATA / "monaco_buildings.gpkg"), "--building-id", "building_id",
            "--register-encoding", "gbk", "--register-building", "楼栋", "--register-household", "户号", "--register-order", ",".join(ORDER)]
    bad = CliRunner().invoke(main, [*base, "--register", str(tmp_path / "broken.csv")])
    assert bad.exit_code == 1 and "rows 4, 6, 41: duplicate household ids" in bad.output
    # a row naming an unknown building is listed with the row problems, in one run (partition and validate alike)
    broken.loc[10, "楼栋"] = "w-not-a-building"
    broken.to_csv(tmp_path / "broken.csv", index=False, encoding="gbk")
    both = CliRunner().invoke(main, [*base, "--register", str(tmp_path / "broken.csv")])
    assert both.exit_code == 1 and "rows 4, 6, 41: duplicate household ids" in both.output
    assert "row 11: building '楼栋' not in" in both.output and "'w-not-a-building'" in both.output
    assert "ESTIMATED" not in both.output
    run = CliRunner().invoke(main, ["partition", *base[1:], "--register", str(tmp_path / "broken.csv"), "-o", str(tmp_path / "never")])
    assert run.exit_code == 2 and "duplicate household ids" in run.output and "row 11: building '楼栋' not in" in run.output
    good = CliRunner().invoke(main, [*base, "--register", str(tmp_path / "good.csv")])
    assert good.exit_code == 0, good.output
    assert f"{len(register)} households in {register['楼栋'].nunique()} buildings" in good.output
    assert "ESTIMATED" not in good.output and "估算" not in good.output  # (the register gives the households)
    assert not _leaks_in(good.output, _personal_values(register))


def _leaks_in(text: str, values) -> list[str]:
    return [v for v in values if v in text]


def test_map_report_and_edits_of_a_register_plan(cli_run, register, tmp_path):
    """A register plan read back: the map and report render again without personal data; apply-edits carries it
    (an empty edit file: every household keeps its unit; tests/test_register_update.py moves buildings)."""
    out, _ = cli_run
    copy = tmp_path / "plan"
    import shutil

    shutil.copytree(out, copy)
    for command in (["map", str(copy), "--lang", "en"], ["report", str(copy)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output
    values = _personal_values(register)
    for name in ("map.html", "report.html"):
        assert not _leaks(copy / name, values), name
    edits = tmp_path / "edits.csv"
    edits.write_text("building_code,grid_code\n", encoding="utf-8")
    edited = CliRunner().invoke(main, ["apply-edits", str(copy), str(edits), "-o", str(tmp_path / "edited")])
    assert edited.exit_code == 0, edited.output
    changes = json.loads((tmp_path / "edited" / "changes.json").read_text(encoding="utf-8"))
    assert changes["households_moved_units"] == [] and changes["households_kept_in_unit"] == len(register)
    assert (tmp_path / "edited" / "households.csv").read_bytes() == (copy / "households.csv").read_bytes()
    for path in _files(tmp_path / "edited"):
        assert not _leaks(path, values), path.name
