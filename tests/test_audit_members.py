"""The audit's reading of the units' members (every household of every building covered once), on a real run."""

from __future__ import annotations

import pandas as pd
import pytest

import gridgeo
from gridgeo.audit import audit_partition


@pytest.fixture(scope="module")
def monaco_run(monaco):
    communities, buildings, _ = monaco
    return gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id"), buildings


def test_a_household_counted_twice_or_missed_is_reported(monaco_run):
    result, buildings = monaco_run
    units = result.units.copy()
    text = units["members"].iloc[0]
    code, _, span = text.split(";")[0].rpartition(":")
    a, _, z = span.partition("-")
    assert audit_partition(result, buildings) == []
    for changed in (f"{code}:{a}-{int(z) + 1}", f"{code}:{int(a) + 1}-{z}"):  # a household counted twice, or missed
        units.loc[units.index[0], "members"] = text.replace(f"{code}:{a}-{z}", changed, 1)
        broken = gridgeo.Partition(**{**{f: getattr(result, f) for f in result.__dataclass_fields__}, "units": units})
        assert "unit members do not cover every household exactly once" in audit_partition(broken, buildings)
    for changed in ("", f"{code}:{a}", f"{code}:{a}-x;" + text):  # members missing or not of the form code:first-last
        units.loc[units.index[0], "members"] = changed
        broken = gridgeo.Partition(**{**{f: getattr(result, f) for f in result.__dataclass_fields__}, "units": units})
        assert "unit members do not cover every household exactly once" in audit_partition(broken, buildings), changed



@pytest.mark.parametrize("slice_rows", [None, 7])
def test_a_changed_attribute_is_reported_in_text_whole_and_decimal_columns(monaco_run, monkeypatch, slice_rows):
    """An input value changed in the output is found whatever the column's kind: Arrow text, integers, decimals (NaN equal to NaN).

    The columns are compared a slice of rows at a time (city scale); with slices of 7 rows each change is still counted once.
    """
    from gridgeo import audit

    if slice_rows is not None:
        monkeypatch.setattr(audit, "_COMPARED_ROWS", slice_rows)
    result, buildings = monaco_run
    buildings = buildings.copy()
    buildings["note"] = pd.Series(["tall" if i % 3 else None for i in range(len(buildings))], index=buildings.index, dtype="str")
    buildings["share"] = [float("nan") if i % 4 == 0 else i / 3 for i in range(len(buildings))]  # decimals with NaN
    layers = {name: getattr(result, name).copy() for name in ("buildings", "unassigned")}
    for frame in layers.values():
        for column in ("note", "share"):
            frame[column] = buildings[column].reindex(frame.index)

    def audited(out):
        return audit_partition(gridgeo.Partition(**{**{f: getattr(result, f) for f in result.__dataclass_fields__}, **layers, "buildings": out}), buildings)

    assert audited(layers["buildings"]) == []
    whole = next(c for c in buildings.columns if buildings[c].dtype.kind in "iu")
    text = next(c for c in buildings.columns if str(buildings[c].dtype) == "str" and buildings[c].notna().all())
    out = layers["buildings"]
    filled = out.index[out["note"].isna().to_numpy()][0]
    named = out.index[out["note"].notna().to_numpy()][0]
    nan = out.index[out["share"].isna().to_numpy()][0]
    valued = out.index[out["share"].notna().to_numpy()][0]
    for column, row, value in ((text, out.index[0], "changed"), (whole, out.index[0], -12345), ("share", nan, 0.5), ("share", valued, float("nan")),
                               ("note", filled, "other"), ("note", named, None), ("note", named, "TALL")):
        changed = out.copy()
        changed.loc[row, column] = value
        assert audited(changed) == [f"input column {column!r} changed in 1 rows"], (column, value)


def test_members_read_in_slices_count_the_same(monaco_run, monkeypatch):
    """The members are parsed a slice of units at a time (city scale): a building split across slices is summed whole."""
    from gridgeo import audit

    result, _ = monaco_run
    whole = audit._member_households(result.units["members"])
    monkeypatch.setattr(audit, "_MEMBER_ROWS", 7)
    sliced = audit._member_households(result.units["members"])
    as_dict = lambda table: dict(zip(table.column("code").to_pylist(), table.column("n_sum").to_pylist()))  # noqa: E731
    assert as_dict(sliced) == as_dict(whole)
    assert sum(as_dict(whole).values()) == int(result.buildings["households"].sum())
    assert audit._covers_exactly(sliced, result.buildings, unique=True)


def test_a_plan_read_back_from_its_files_is_audited_against_its_input(sample, tmp_path):
    """`audit_partition(read_outputs(folder), buildings)` matches rows by the run's building id (the files hold the
    buildings in another order, with new index labels): no false problem, and a real change is still found."""
    communities, buildings = sample
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="bldg_id")
    back = gridgeo.read_outputs(result.to_files(tmp_path / "out"))
    assert not back.buildings.index.equals(result.buildings.index) or not (back.buildings["bldg_id"].to_numpy() == result.buildings["bldg_id"].to_numpy()).all()
    assert audit_partition(result, buildings) == [] and audit_partition(back, buildings) == []
    changed = buildings.copy()
    changed.loc[changed.index[5], "hh_est"] = 999
    assert audit_partition(back, changed) == ["input column 'hh_est' changed in 1 rows"]
