"""Input columns named as a column gridgeo adds keep their values under ``input_…`` names, in the communities and the
buildings layers; an earlier output given again as input runs (its own ``input_…`` columns kept too), and
``apply-edits`` gives the plan's columns back in their order.

On real data: the Monaco quartiers of ``tests/data`` (their own ``community_id`` MON-00x beside ``osm_id``, and an
``n_buildings`` column) and the Taipei slice.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

import gridgeo
from gridgeo.living.edits import apply_edits


def test_communities_keep_their_own_columns_when_another_column_is_the_id(monaco, tmp_path):
    communities, buildings, _ = monaco
    result = gridgeo.partition(communities, buildings, households="hh_est", community_id="osm_id", building_id="building_id")
    out = result.communities.set_index("community_id")
    source = communities.set_index(communities["osm_id"].astype(str))
    assert sorted(out.index) == sorted(source.index)
    # the quartiers' own ids (MON-001 …) used to be overwritten by the osm ids, and n_buildings by gridgeo's count
    assert out["input_community_id"].to_dict() == source["community_id"].to_dict()
    assert out["input_n_buildings"].to_dict() == source["n_buildings"].to_dict()
    assert out["n_buildings"].sum() == len(result.buildings) and out["households"].sum() == result.buildings["households"].sum()
    assert "input community columns renamed to keep gridgeo's own names free: community_id → input_community_id, n_buildings → input_n_buildings" in result.report["notes"]
    result.to_files(tmp_path / "out", overwrite=True)
    back = gpd.read_file(tmp_path / "out" / "partition.gpkg", layer="communities").set_index("community_id")
    assert back["input_community_id"].to_dict() == source["community_id"].to_dict()


def test_a_community_id_column_that_is_the_id_stays_the_id(monaco):
    communities, buildings, _ = monaco
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    out = result.communities
    assert "input_community_id" not in out.columns  # the default id column: gridgeo's community_id holds its values
    assert sorted(out["community_id"]) == sorted(communities["community_id"])
    assert out.set_index("community_id")["input_n_buildings"].to_dict() == communities.set_index("community_id")["n_buildings"].to_dict()


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
    # the communities too: gridgeo's n_buildings of the first run, beside the source's own
    layer = second.communities.set_index("community_id")
    assert layer["input_input_n_buildings"].to_dict() == first.communities.set_index("community_id")["n_buildings"].to_dict()
    assert layer["input_n_buildings"].to_dict() == communities.set_index("community_id")["n_buildings"].to_dict()
    # apply-edits reads the plan's input layer back as it was given: the same columns, in the same order
    third.to_files(tmp_path / "third", overwrite=True)
    grid = str(third.grids["grid_code"].iloc[0])
    edited = apply_edits(tmp_path / "third", pd.DataFrame({"building_code": [""], "grid_code": [grid], "action": ["lock"]}))
    attributes = [c for c in third.buildings.columns if c != third.buildings.geometry.name]
    assert [c for c in edited.buildings.columns if c != edited.buildings.geometry.name] == attributes
    again = edited.buildings.set_index("building_id")
    for column in ("input_grid_code", "input_input_grid_code", "grid_code"):
        assert again[column].sort_index().equals(kept[column].sort_index()), column


def test_a_reason_column_of_the_buildings_is_kept_beside_the_unassigned_reason(taipei_small, tmp_path):
    # the unassigned layer's 'reason' overwrote an input column of that name, and the audit then stopped the run
    # ("input column 'reason' changed", exit 3) whenever a building lay outside every community
    communities, buildings = taipei_small
    buildings = buildings.assign(reason=[f"survey {i}" for i in range(len(buildings))])
    outside = buildings.iloc[:2].assign(building_id=["far-1", "far-2"], reason=["moved", "demolished"])
    outside = outside.set_geometry(outside.geometry.translate(0.05, 0))  # about 5 km east of the slice
    layer = gpd.GeoDataFrame(pd.concat([buildings, outside], ignore_index=True), crs=buildings.crs)
    result = gridgeo.partition(communities, layer, households="hh_est", building_id="building_id")
    lost = result.unassigned.set_index("building_id")
    assert lost["input_reason"].to_dict() == {"far-1": "moved", "far-2": "demolished"}
    assert set(lost["reason"]) == {"outside every community"}
    assert result.buildings.set_index("building_id")["reason"].to_dict() == buildings.set_index("building_id")["reason"].to_dict()
    assert any("its column 'reason' is kept as 'input_reason'" in note for note in result.report["notes"])
    # apply-edits reads the layer back with the input's own reasons
    result.to_files(tmp_path / "plan", overwrite=True)
    edited = apply_edits(tmp_path / "plan", pd.DataFrame({"building_code": [""], "grid_code": [str(result.grids["grid_code"].iloc[0])], "action": ["lock"]}))
    assert edited.unassigned.set_index("building_id")["input_reason"].to_dict() == {"far-1": "moved", "far-2": "demolished"}
    assert edited.buildings.set_index("building_id")["reason"].to_dict() == buildings.set_index("building_id")["reason"].to_dict()
