"""Living register plans: `update` with a new register and `apply-edits` keep every household in its joint unit
where the band allows (gridgeo.living.unitkeep). Real Monaco buildings with a generated register (tests/test_register.py):
households move out, move between buildings and move in, and buildings are added."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.living.edits import apply_edits
from gridgeo.living.unitkeep import cut_keeping, households_of_plan
from gridgeo.living.update import update
from gridgeo.result import read_outputs
from gridgeo.units import fits_units

from .conftest import DATA
from .test_register import ORDER, UNIT_BAND, _files, _leaks, _personal_values, make_register

OPTIONS = {"register_building": "楼栋", "register_household": "户号", "register_order": ORDER}
ADDED = 6  # buildings left out of the first plan and added by the update


def new_register(register: pd.DataFrame, buildings: pd.DataFrame, *, seed: int = 11) -> pd.DataFrame:
    """The register a year later: 4 % of households moved out, 2 % moved to another building, 150 new households
    in existing buildings (a new staircase 9), with made-up names and phone numbers."""
    rng = np.random.default_rng(seed)
    out = register.drop(index=rng.choice(len(register), size=len(register) * 4 // 100, replace=False)).copy()
    movers = rng.choice(out.index.to_numpy(), size=len(out) * 2 // 100, replace=False)
    ids = buildings["building_id"].to_numpy()
    out.loc[movers, "楼栋"] = ids[rng.integers(len(ids), size=len(movers))]
    rows = []
    for k in range(150):
        bid = ids[rng.integers(len(ids))]
        rows.append({"户号": f"{bid}-9-{k + 1:03d}", "楼栋": bid, "单元": "9", "楼层": str(k % 6 + 1), "门牌": f"{k % 6 + 1}{k // 6 + 1:02d}",
                     "户主": "欧阳" + "伟芳娜敏"[k % 4], "电话": f"139{k:08d}", "身份证号": f"110105{k:012d}"})
    return pd.concat([out, pd.DataFrame(rows)], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def data(monaco):
    communities, buildings, _ = monaco
    register = make_register(buildings)
    later = buildings.sort_values("building_id").iloc[::25].head(ADDED)["building_id"]  # built after the first plan
    first = buildings[~buildings["building_id"].isin(later)]
    first_register = register[~register["楼栋"].isin(later)].reset_index(drop=True)
    return communities, first, first_register, buildings, new_register(register, buildings)


@pytest.fixture(scope="module")
def plans(data):
    communities, first, first_register, buildings, register = data
    plan = gridgeo.partition(communities, first, building_id="building_id", register=first_register, unit_size=UNIT_BAND, **OPTIONS)
    return plan, update(plan, buildings, register=register)


def test_every_household_in_exactly_one_unit(plans, data):
    _, after = plans
    register = data[4]
    table = after.households
    assert len(table) == len(register) and set(table["household_id"]) == set(register["户号"])
    assert not table["household_id"].duplicated().any()
    listed = table.sort_values(["unit_code", "position"]).groupby("unit_code")["household_id"].agg(";".join)
    assert listed.sort_index().equals(after.units.set_index("unit_code")["members"].sort_index())
    for _, group in table.groupby("unit_code"):
        assert group["position"].tolist() == list(range(1, len(group) + 1))
    assert after.units.set_index("unit_code")["households"].equals(table.groupby("unit_code").size().rename("households"))
    # the register's counts per building and grid, the added buildings included
    counts = register.groupby("楼栋").size()
    b = after.buildings.set_index("building_id")
    assert (b["households"] == counts.reindex(b.index, fill_value=0)).all() and not b["households_estimated"].any()
    assert table.groupby("grid_code").size().reindex(after.grids["grid_code"], fill_value=0).tolist() == after.grids["households"].tolist()
    assert len(after.changes["buildings_added"]) == ADDED
    grid_of = dict(zip(after.buildings["building_code"], after.buildings["grid_code"]))
    assert (table["building_code"].map(grid_of) == table["grid_code"]).all()
    assert after.report["register"]["households_in_units"] == len(register)
    assert after.report["summary"]["n_units"] == len(after.units)


def test_units_in_band_wherever_the_grid_admits_a_cut(plans):
    _, after = plans
    totals = after.grids.set_index("grid_code")["households"]
    assert (after.grids.set_index("grid_code")["n_units"] == after.units.groupby("grid_code").size().reindex(totals.index, fill_value=0)).all()
    for row in after.units.itertuples():
        assert row.in_band == (UNIT_BAND[0] <= row.households <= UNIT_BAND[1])
        if fits_units(totals[row.grid_code], *UNIT_BAND):
            assert row.in_band, row.unit_code


def test_households_kept_in_their_unit_are_counted_as_claimed(plans):
    plan, after = plans
    before = plan.households.set_index("household_id")
    now = after.households.set_index("household_id")
    both = before.index.intersection(now.index)
    same = before.loc[both, "unit_code"] == now.loc[both, "unit_code"]
    changes = after.changes
    assert changes["households_compared_units"] == len(both)
    assert changes["households_kept_in_unit"] == int(same.sum()) > 0.85 * len(both)
    moved = changes["households_moved_units"]
    assert {m["household_id"] for m in moved} == set(both[~same.to_numpy()])
    for m in moved:
        assert m["from"] == before.loc[m["household_id"], "unit_code"] and m["to"] == now.loc[m["household_id"], "unit_code"]
        assert m["building_code"] == now.loc[m["household_id"], "building_code"]
    # every household whose grid changed changed unit; the list names those that stayed in their grid too
    grid_changed = before.loc[both, "grid_code"] != now.loc[both, "grid_code"]
    assert set(both[grid_changed.to_numpy()]) <= {m["household_id"] for m in moved}
    assert set(changes["register_households_added"]) == set(now.index.difference(before.index))
    assert set(changes["register_households_removed"]) == set(before.index.difference(now.index))
    assert after.report["changes"]["households_moved_units"] == len(moved)
    # a unit code that lost every household is retired, a new unit never takes a retired or living code
    assert set(after.report["retired_unit_codes"]) == set(before["unit_code"]) - set(now["unit_code"])


def test_a_unit_loses_households_only_when_its_grid_cut_forces_it(plans):
    """Per grid that kept its code: the households that stayed in the grid but left their unit are exactly as few as
    the best cut allows (the dynamic program's optimum, checked here against the sizes of the previous units)."""
    plan, after = plans
    before = plan.households.set_index("household_id")
    now = after.households.set_index("household_id")
    totals = after.grids.set_index("grid_code")["households"]
    checked = 0
    for gcode, group in now.groupby("grid_code"):
        stayed = group.index[group.index.isin(before.index)]
        stayed = stayed[before.loc[stayed, "grid_code"].to_numpy() == gcode]
        if not len(stayed) or not fits_units(totals[gcode], *UNIT_BAND):
            continue
        survivors = before.loc[stayed].groupby("unit_code").size().to_numpy()
        left = int((before.loc[stayed, "unit_code"] != group.loc[stayed, "unit_code"]).sum())
        assert left == _least_forced(survivors, int(totals[gcode]), *UNIT_BAND), gcode
        checked += 1
    assert checked > 10


def _least_forced(survivors: np.ndarray, total: int, low: int, high: int) -> int:
    """The fewest households that must leave their unit when units of ``survivors`` and new households
    (``total`` in all) are cut into units in the band: each unit keeps n in {0} ∪ [low, high] households,
    the rest of ``total`` forming new units in the band (an independent small search over kept sizes)."""
    best = {0: 0}  # households placed in previous units -> fewest lost
    for s in survivors:
        step = {}
        for placed, lost in best.items():
            for n in [0, *range(low, high + 1)]:
                if placed + n <= total:
                    cost = lost + s - min(s, n)
                    if cost < step.get(placed + n, 1 << 30):
                        step[placed + n] = cost
        best = step
    return min(lost for placed, lost in best.items() if total - placed == 0 or fits_units(total - placed, low, high))


def test_cut_keeping_is_optimal_on_small_grids():
    """Against an exhaustive search on every assignment of small grids: fewest units out of band, then most kept."""
    rng = np.random.default_rng(5)
    low, high = 3, 4
    for _ in range(60):
        total = int(rng.integers(1, 9))
        previous = rng.integers(-1, 3, size=total)
        households = np.array([total])
        units = cut_keeping(households, [np.zeros(total - 1, dtype=np.int64)], previous, low, high)
        assert sorted(np.concatenate([u.positions for u in units]).tolist()) == list(range(total))
        got = (sum(not u.in_band for u in units), -_kept(units, previous))
        assert got == _exhaustive(previous, low, high), (previous.tolist(), got)


def _kept(units, previous) -> int:
    return sum(int((previous[u.positions] == u.previous).sum()) for u in units if u.previous >= 0)


def _exhaustive(previous: np.ndarray, low: int, high: int) -> tuple[int, int]:
    """(units out of band, -kept) of the best split of the households into units (every set partition): each
    previous unit continued by at most one unit, any number of new units."""
    olds = sorted(set(previous[previous >= 0].tolist()))
    best = None
    for groups in _set_partitions(list(range(len(previous)))):
        oob = sum(not (low <= len(g) <= high) for g in groups)
        gain = np.array([[int((previous[g] == o).sum()) for o in olds] for g in groups]).reshape(len(groups), len(olds))
        key = (oob, -_best_matching(gain))
        best = key if best is None or key < best else best
    return best


def _set_partitions(items: list):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in _set_partitions(rest):
        yield [[first], *partition]
        for k in range(len(partition)):
            yield [*partition[:k], [first, *partition[k]], *partition[k + 1 :]]


def _best_matching(gain: np.ndarray) -> int:
    from scipy.optimize import linear_sum_assignment

    if gain.size == 0:
        return 0
    rows, cols = linear_sum_assignment(-gain)
    return int(gain[rows, cols].sum())


def test_same_register_changes_no_unit(plans, data):
    plan, _ = plans
    communities, first, first_register, _, _ = data
    again = update(plan, first, register=first_register.sample(frac=1.0, random_state=3))
    assert again.households.equals(plan.households)
    columns = [c for c in plan.units.columns if c != "geometry"]
    assert again.units[columns].reset_index(drop=True).equals(plan.units[columns].reset_index(drop=True))
    assert again.changes["households_moved_units"] == [] and again.changes["households_kept_in_unit"] == len(first_register)


def test_update_of_a_register_plan_needs_the_register(plans, data, monaco):
    plan, _ = plans
    with pytest.raises(InputError, match="pass the current register"):
        update(plan, data[3])
    plain = gridgeo.partition(monaco[0], monaco[1], households="hh_est", building_id="building_id")
    with pytest.raises(InputError, match="without a household register"):
        update(plain, monaco[1], register=data[4])
    broken = data[4].copy()
    broken.loc[3, "户号"] = broken.loc[4, "户号"]
    with pytest.raises(InputError, match="duplicate household ids"):
        update(plan, data[3], register=broken)


def test_unknown_buildings_of_the_new_register(plans, data):
    plan, after = plans
    ghost = {"户号": "ghost-1", "楼栋": "no-such-building", "单元": "1", "楼层": "1", "门牌": "101", "户主": "某某某", "电话": "13000000000", "身份证号": "110105000000000000"}
    register = pd.concat([data[4], pd.DataFrame([ghost])], ignore_index=True)
    with pytest.raises(InputError, match="no-such-building"):
        update(plan, data[3], register=register)
    kept = update(plan, data[3], register=register, register_unmatched="keep")
    assert kept.unassigned_households["household_id"].tolist() == ["ghost-1"]
    assert kept.report["register"]["households"] == len(register) and kept.report["parameters"]["register_unmatched"] == "keep"
    # the same households otherwise: the same units, row for row (the update is deterministic)
    assert kept.households.equals(after.households)


def test_apply_edits_moves_buildings_with_their_households(plans):
    _, after = plans
    b = after.buildings
    source_grid = b.groupby("grid_code")["households"].sum().idxmax()
    code = b[b["grid_code"] == source_grid].sort_values("households").iloc[-1]["building_code"]
    community = code.split("-")[0]
    target = sorted(g for g in after.grids["grid_code"] if g.startswith(community + "-") and g != source_grid)[0]
    edited = apply_edits(after, pd.DataFrame({"building_code": [code], "grid_code": [target]}))
    moved = {m["household_id"] for m in edited.changes["households_moved_units"]}
    own = set(after.households.loc[after.households["building_code"] == code, "household_id"])
    assert own <= moved  # the building's households went with it, to units of the target grid
    now = edited.households.set_index("household_id")
    assert (now.loc[sorted(own), "grid_code"] == target).all()
    assert len(edited.households) == len(after.households) and set(edited.households["household_id"]) == set(after.households["household_id"])
    assert not edited.buildings["households_estimated"].any()
    assert edited.report["register"]["order_columns"] == ORDER and "户主" in edited.report["register"]["personal_columns_withheld"]
    assert edited.buildings.set_index("building_code")["households"].equals(after.buildings.set_index("building_code")["households"])
    # everybody else keeps their unit unless the two re-cut grids force it
    others = moved - own
    touched = {source_grid, target}
    assert all(now.loc[h, "grid_code"] in touched for h in others)
    assert edited.changes["households_kept_in_unit"] == len(after.households) - len(moved)


def test_households_of_plan_reads_the_walking_order_back(plans):
    plan, _ = plans
    source = households_of_plan(plan)
    table = plan.households
    assert sum(len(v) for v in source.ids.values()) == len(table)
    for code, ids in list(source.ids.items())[:20]:
        assert set(ids) == set(table.loc[table["building_code"] == code, "household_id"])
        assert len(source.breaks[code]) == max(len(ids) - 1, 0)


# -- the command line: a chain, and no personal value outside the rosters ------------------------------------


@pytest.fixture(scope="module")
def chain(data, tmp_path_factory):
    """partition → update (new register, GBK) → apply-edits → update (same register), every step by the CLI."""
    communities, first, first_register, buildings, register = data
    folder = tmp_path_factory.mktemp("chain")
    first.to_file(folder / "first.gpkg", layer="buildings")
    buildings.to_file(folder / "buildings.gpkg", layer="buildings")
    first_register.to_csv(folder / "register-2026.csv", index=False, encoding="gbk")
    register.to_csv(folder / "register-2027.csv", index=False, encoding="gbk")
    columns = ["--register-encoding", "gbk"]
    runner = CliRunner()
    steps = {}

    def run(name, args):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        steps[name] = (folder / name, result.output)

    run("plan", ["partition", str(DATA / "monaco_communities.gpkg"), str(folder / "first.gpkg"), "-o", str(folder / "plan"), "--building-id", "building_id",
                 "--register", str(folder / "register-2026.csv"), *columns, "--register-building", "楼栋", "--register-household", "户号",
                 "--register-order", ",".join(ORDER), "--workers", "1"])
    run("update", ["update", str(folder / "plan"), "--buildings", str(folder / "buildings.gpkg"), "-o", str(folder / "update"),
                   "--register", str(folder / "register-2027.csv"), *columns, "--format", "csv,xlsx", "--personal", "--unit-head", "户主"])
    plan = read_outputs(folder / "update")
    b = plan.buildings
    grid = b.groupby("grid_code")["households"].sum().idxmax()
    code = b[b["grid_code"] == grid].sort_values("households").iloc[-1]["building_code"]
    target = sorted(g for g in plan.grids["grid_code"] if g.split("-")[0] == code.split("-")[0] and g != grid)[0]
    (folder / "edits.csv").write_text(f"building_code,grid_code\n{code},{target}\n", encoding="utf-8")
    run("edited", ["apply-edits", str(folder / "update"), str(folder / "edits.csv"), "-o", str(folder / "edited")])
    run("again", ["update", str(folder / "edited"), "--buildings", str(folder / "buildings.gpkg"), "-o", str(folder / "again"),
                  "--register", str(folder / "register-2027.csv"), *columns])
    return steps, data


def test_cli_chain_keeps_every_guarantee(chain):
    steps, data = chain
    register = data[4]
    for name in ("update", "edited", "again"):
        folder, output = steps[name]
        plan = read_outputs(folder)
        table = pd.read_csv(folder / "households.csv", dtype=str, encoding="utf-8-sig")
        assert len(table) == len(register) and not table["household_id"].duplicated().any(), name
        assert set(table["household_id"]) == set(register["户号"]), name
        assert plan.report["summary"]["coverage_valid"], name
        totals = plan.grids.set_index("grid_code")["households"]
        assert table.groupby("grid_code").size().reindex(totals.index, fill_value=0).tolist() == totals.tolist(), name
        units = plan.units
        cuttable = units["grid_code"].map(lambda g, totals=totals: fits_units(totals[g], *UNIT_BAND))
        assert units.loc[cuttable, "in_band"].all(), name
        changes = json.loads((folder / "changes.json").read_text(encoding="utf-8"))
        assert changes["households_kept_in_unit"] + len(changes["households_moved_units"]) == changes["households_compared_units"], name
        assert "joint units:" in output or "联户：" in output, name
    # the second update with the same register and buildings keeps every household in its unit
    again = json.loads((steps["again"][0] / "changes.json").read_text(encoding="utf-8"))
    assert again["households_moved_units"] == [] and again["register_households_added"] == []
    edited = json.loads((steps["edited"][0] / "changes.json").read_text(encoding="utf-8"))
    assert len(edited["households_moved_units"]) >= 1
    # the chain records its register
    config = (steps["again"][0] / "config.toml").read_text(encoding="utf-8")
    assert "register-2027.csv" in config and "register_household" in config


def test_no_personal_value_outside_the_rosters_after_update(chain):
    steps, data = chain
    values = _personal_values(data[4]) | _personal_values(data[2])
    rosters = {"units.csv", "household_roster.csv", "roster.xlsx"}
    for name in ("update", "edited", "again"):
        folder, output = steps[name]
        shared = [p for p in _files(folder) if p.name not in rosters]
        assert {"map.html", "report.html", "report.json", "changes.json", "households.csv", "units.geojson"} <= {p.name for p in shared}
        for path in shared:
            assert not _leaks(path, values), (name, path.name)
        assert not [v for v in values if v in output]
    # the update asked for --personal: its roster has them, and says so
    assert _leaks(steps["update"][0] / "household_roster.csv", values)
    assert "个人信息" in (steps["update"][0] / "household_roster.csv").read_text(encoding="utf-8-sig").splitlines()[0]


def test_cli_update_without_register_names_the_fix(chain, tmp_path):
    steps, _ = chain
    folder = steps["update"][0]
    copy = tmp_path / "plan"
    shutil.copytree(folder, copy)
    result = CliRunner().invoke(main, ["update", str(copy), "--buildings", str(folder.parent / "buildings.gpkg"), "-o", str(tmp_path / "next")])
    assert result.exit_code == 2 and "--register FILE" in result.output and "household register" in result.output
    assert not (tmp_path / "next").exists()
