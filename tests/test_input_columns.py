"""Input columns named as a column gridgeo adds keep their values under ``input_…`` names; an earlier output given
again as input runs (its own ``input_…`` columns kept too), and ``apply-edits`` gives the plan's columns back in
their order.  On the real Taipei slice of ``tests/data``.
"""

from __future__ import annotations

import pandas as pd

import gridgeo
from gridgeo.living.edits import apply_edits


def test_an_earlier_output_given_again_as_input_keeps_every_generation(taipei_small, tmp_path):
    # partition.gpkg's layers given as input twice: the second time, the buildings hold both input_grid_code and
    # grid_code, and renaming grid_code to input_grid_code again stopped with an internal error (duplicate columns)
    communities, buildings = taipei_small
    options = {"households": "hh_est", "building_id": "building_id"}
    first = gridgeo.partition(communities, buildings, **options)
    second = gridgeo.partition(first.communities, first.buildings, **options, grid_size=(100, 200))
    third = gridgeo.partition(second.communities, second.buildings, **options)
    codes = {run: frame.buildings.set_index("building_id")["grid_code"] for run, frame in (("first", first), ("second", second), ("third", third))}
    assert not codes["first"].sort_index().equals(codes["second"].sort_index())  # the generations differ, so a mix-up shows
    kept = third.buildings.set_index("building_id")
    assert kept["input_grid_code"].sort_index().equals(codes["first"].sort_index().rename("input_grid_code"))
    assert kept["input_input_grid_code"].sort_index().equals(codes["second"].sort_index().rename("input_input_grid_code"))
    assert any("grid_code → input_input_grid_code" in note for note in third.report["notes"])
    # apply-edits reads the plan's input layer back as it was given: the same columns, in the same order
    third.to_files(tmp_path / "third", overwrite=True)
    grid = str(third.grids["grid_code"].iloc[0])
    edited = apply_edits(tmp_path / "third", pd.DataFrame({"building_code": [""], "grid_code": [grid], "action": ["lock"]}))
    attributes = [c for c in third.buildings.columns if c != third.buildings.geometry.name]
    assert [c for c in edited.buildings.columns if c != edited.buildings.geometry.name] == attributes
    again = edited.buildings.set_index("building_id")
    for column in ("input_grid_code", "input_input_grid_code", "grid_code"):
        assert again[column].sort_index().equals(kept[column].sort_index()), column
