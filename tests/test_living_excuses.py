"""An update keeps grids whose band only their excuse can explain, on real slices of porto.

A community whose households admit no grid count in the band (552 with 300–500: one grid is above the maximum,
two are below the minimum) has a grid out of band whatever the repair does; the grid has the ``infeasible_total``
excuse a fresh partition gives.  Such a grid is kept as it is — polygon (byte for byte) and code — with the
excuse for its new total, and no household moves (:func:`gridgeo.living.repair._infeasible_excused`).  It used to
be partitioned afresh, into two grids of about 276 households.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

import gridgeo
from gridgeo.living.update import update
from gridgeo.partition.count import feasible_counts

from .conftest import SHARED

OPTIONS = {"households": "hh_est", "community_id": "community_id", "building_id": "building_id"}


def porto(community_id: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """One community of the porto dataset and its buildings (read with a filter: the whole layer is slow to read)."""
    folder = SHARED / "porto"
    if not folder.exists():
        pytest.skip(f"{folder} is not present (the shared data sits beside the repository in CI)")
    where = f"community_id = '{community_id}'"
    return gpd.read_file(folder / "communities.gpkg", layer="communities", where=where), gpd.read_file(folder / "buildings.gpkg", layer="buildings", where=where)


def _updated(community_id, direction, dropped, tmp_path):
    communities, buildings = porto(community_id)
    fewer = buildings.drop(buildings.index[dropped])
    before, after = (fewer, buildings) if direction == "add" else (buildings, fewer)
    plan = gridgeo.partition(communities, before, **OPTIONS)
    return plan, update(plan.to_files(tmp_path / "plan"), after), after


@pytest.mark.parametrize(
    ("community_id", "direction", "largest"),
    [
        # one grid: 516 households before, 552 after (the two largest buildings, 36 households, added)
        ("POR-B015", "add", slice(0, 2)),
        # two grids of 303 and 309 before; a 39-household building demolished leaves 573
        ("POR-B011", "remove", slice(4, 5)),
    ],
)
def test_a_grid_out_of_band_only_by_an_infeasible_total_is_kept(community_id, direction, largest, tmp_path):
    _, buildings = porto(community_id)
    dropped = np.argsort(-buildings["hh_est"].to_numpy(), kind="stable")[largest]
    plan, result, after = _updated(community_id, direction, dropped, tmp_path)
    low, high = (int(v) for v in result.report["parameters"]["grid_size"])
    total = int(after["hh_est"].sum())
    assert not len(feasible_counts(total, low, high))  # the case: no grid count fits the new total
    before = plan.grids.set_index("grid_code")
    grids = result.grids.set_index("grid_code")
    # the grids are kept: same codes, same polygons byte for byte, nobody moved
    assert list(grids.index) == list(before.index)
    for code in grids.index:
        assert grids.geometry[code].wkb == before.geometry[code].wkb
    assert result.changes["households_moved"] == 0
    assert result.changes["grids_added"] == result.changes["grids_retired"] == result.changes["grids_reshaped"] == []
    # every grid out of band has the excuse, with the new total in its reason
    out = grids[(grids["households"] < low) | (grids["households"] > high)]
    assert len(out) and (out["status"] == "infeasible_total").all()
    assert all(f"{total} households" in reason for reason in out["reason"])
    assert (grids.loc[~grids.index.isin(out.index), "status"] == "in_band").all()
    assert int(grids["households"].sum()) == total
