"""Every geometry gridgeo writes is valid, in every format, on real data where it was not (shanghai_bund with its
roads as barriers: joint units whose pieces overlapped once reprojected, polygons that rounding to 7 decimals folded
onto themselves in the GeoJSON files)."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from gridgeo.cli import main

from .conftest import SHARED


@pytest.fixture(scope="module")
def shanghai_run(tmp_path_factory):
    folder = SHARED / "shanghai_bund"
    if not folder.exists():
        pytest.skip(f"{folder} is not present")
    out = tmp_path_factory.mktemp("valid") / "out"
    result = CliRunner().invoke(main, [
        "partition", f"{folder}/communities.gpkg:communities", f"{folder}/buildings.gpkg:buildings", "--households", "hh_est",
        "--community-id", "community_id", "--building-id", "building_id", "--barriers", f"{folder}/roads.gpkg:roads",
        "--format", "shp", "--no-map", "--no-report", "-o", str(out),
    ])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("layer", ["grids", "units", "buildings"])
def test_every_written_geometry_is_valid(shanghai_run, layer):
    frames = {
        "partition.gpkg": gpd.read_file(shanghai_run / "partition.gpkg", layer=layer),
        f"{layer}.geojson": gpd.read_file(shanghai_run / f"{layer}.geojson"),
        f"shp/{layer}.shp": gpd.read_file(shanghai_run / "shp" / f"{layer}.shp"),
    }
    counts = {name: len(frame) for name, frame in frames.items()}
    assert len(set(counts.values())) == 1, counts  # (the same features in every format)
    for name, frame in frames.items():
        invalid = frame[~frame.geometry.is_valid]
        assert invalid.empty, f"{name}: {len(invalid)} invalid, e.g. {shapely.is_valid_reason(invalid.geometry.iloc[0])}"


def test_the_geojson_grids_are_a_valid_coverage_of_each_community(shanghai_run):
    grids = gpd.read_file(shanghai_run / "grids.geojson")
    communities = gpd.read_file(shanghai_run / "partition.gpkg", layer="communities")
    assert grids.crs.to_epsg() == 4326
    for cid, part in grids.groupby("community_id"):
        assert shapely.coverage_is_valid(part.geometry.to_numpy()), cid
        assert (part.geometry.geom_type == "Polygon").all(), cid
    assert set(grids["community_id"]) <= set(communities["community_id"])
