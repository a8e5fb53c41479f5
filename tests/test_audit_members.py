"""The audit's reading of the units' members (every household of every building covered once), on a real run."""

from __future__ import annotations

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
