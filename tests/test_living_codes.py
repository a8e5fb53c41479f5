"""Standard codes and grid details through update and apply-edits, on the real Monaco slice (tests/data).

A plan made with ``--code-scheme`` keeps valid standard codes in every version: a grid an update or an edit adds
gets its code (the community's administrative fields as before, the grid number after the others in grid_code
order), every grid's number follows the grid_code order as in a fresh partition, and a new grid takes the
validity dates and the responsible unit of its community.  Before, a new grid had no standard code and the audit
stopped the update.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.governance.standard_codes import check_standard_codes
from gridgeo.living.edits import apply_edits
from gridgeo.living.update import update

SCHEME = "{community}{grid:03d}"


@pytest.fixture(scope="module")
def plans(monaco, tmp_path_factory):
    communities, buildings, _ = monaco
    communities = communities.assign(sq=[f"{i + 1:03d}" for i in range(len(communities))], unit=[f"street office {i % 2}" for i in range(len(communities))])
    # a fifth of the buildings come later: the update adds grids in two communities
    later = np.random.default_rng(0).choice(len(buildings), size=int(len(buildings) * 0.2), replace=False)
    folder = tmp_path_factory.mktemp("codes")
    first = gridgeo.partition(
        communities, buildings.drop(buildings.index[later]), households="hh_est", code_scheme=SCHEME, community_code_column="sq",
        valid_from="2026-01-01", responsible_unit_column="unit",
    )  # fmt: skip
    first.to_files(folder / "v1")
    return folder, first, buildings


def _check(result, buildings, previous):
    grids = result.grids
    assert check_standard_codes(grids, SCHEME) == []
    assert audit_partition(result, buildings, quality=True) == []
    assert grids["standard_code"].notna().all() and grids["valid_from"].eq("2026-01-01").all()
    unit_of = dict(zip(previous.grids["community_code"], previous.grids["responsible_unit"]))
    assert grids["responsible_unit"].tolist() == grids["community_code"].map(unit_of).tolist()
    # the administrative part is the community's, as before
    assert (grids["standard_code"].str[:3] == grids["community_code"].map(dict(zip(previous.grids["community_code"], previous.grids["standard_code"].str[:3])))).all()


def test_an_update_that_adds_grids_keeps_valid_standard_codes(plans):
    folder, first, buildings = plans
    updated = update(folder / "v1", buildings)
    added = updated.changes["grids_added"]
    assert added  # the case: new grids, with no code in the previous plan
    _check(updated, buildings, first)
    codes = dict(zip(updated.grids["grid_code"], updated.grids["standard_code"]))
    for code in added:  # a new grid comes after its community's grids that were there before: its number too
        community = code.rsplit("-", 1)[0]
        there_before = [int(c[3:]) for g, c in codes.items() if g.startswith(community + "-") and g not in added]
        assert int(codes[code][3:]) > max(there_before)
    # no grid retired, and the new ones come last in their communities: every grid there before keeps its code
    assert updated.changes["grids_retired"] == []
    before = dict(zip(first.grids["grid_code"], first.grids["standard_code"]))
    assert all(codes[g] == before[g] for g in before)


def test_an_edit_that_makes_a_grid_gives_it_a_code(plans):
    folder, first, buildings = plans
    grids = first.grids
    community = grids["community_code"].value_counts().index[0]
    own = sorted(grids.loc[grids["community_code"] == community, "grid_code"])
    new_code = f"{community}-{int(own[-1].rsplit('-', 1)[1]) + 1:02d}"
    building = first.buildings.loc[first.buildings["grid_code"] == own[0], "building_code"].iloc[0]
    edited = apply_edits(folder / "v1", pd.DataFrame({"building_code": [building], "grid_code": [new_code]}))
    assert new_code in set(edited.grids["grid_code"])
    row = edited.grids.set_index("grid_code").loc[new_code]
    assert row["standard_code"] == f"{community}{len(own) + 1:03d}"
    assert check_standard_codes(edited.grids, SCHEME) == []
