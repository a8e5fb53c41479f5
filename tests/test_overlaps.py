"""Overlapping footprints (OSM building parts over their building): held points, joined sites, one grid for both."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.cells.tessellate import held_elsewhere, join_held_sites, split_parts, tessellate_part
from gridgeo.inputs.crs import local_metric_crs

from .conftest import SHARED

SHANGHAI = SHARED / "shanghai_bund"


@pytest.fixture(scope="module")
def shanghai_overlaps():
    """The real shanghai community with the most buildings whose point lies inside another footprint."""
    if not SHANGHAI.exists():
        pytest.skip(f"{SHANGHAI} is not present (the shared data sits beside the repository in CI)")
    communities = gpd.read_file(SHANGHAI / "communities.gpkg", layer="communities")
    buildings = gpd.read_file(SHANGHAI / "buildings.gpkg", layer="buildings")
    crs = local_metric_crs(communities)
    communities, buildings = communities.to_crs(crs), buildings.to_crs(crs)
    footprints = shapely.make_valid(buildings.geometry.to_numpy())
    points = shapely.point_on_surface(footprints)
    which, holder = shapely.STRtree(footprints).query(points, predicate="intersects")
    covered = np.unique(which[which != holder])
    home = communities.sindex.query(points[covered], predicate="within")
    best = np.bincount(home[1], minlength=len(communities)).argmax()
    return communities.iloc[[best]], buildings[buildings["community_id"] == communities["community_id"].iloc[best]]


def test_joined_sites_tile_the_part_and_hold_their_points(shanghai_overlaps):
    communities, buildings = shanghai_overlaps
    part = split_parts(communities.geometry.iloc[0])[0]
    inside = buildings[buildings.representative_point().within(part)]
    footprints = inside.geometry.to_numpy()
    tess = tessellate_part(part, footprints)
    points = shapely.point_on_surface(footprints)
    held = held_elsewhere(tess.cells, points, tess.site_of_building)
    assert len(held) > 0  # real overlapping parts leave points in other cells
    weight = np.bincount(tess.site_of_building, weights=inside["hh_est"].to_numpy(), minlength=len(tess.cells)).astype(np.int64)
    high = 500
    joined = join_held_sites(tess, held, weight, high)
    assert len(joined.cells) < len(tess.cells)
    # still a tiling of the part, one polygon per site
    assert (shapely.get_type_id(joined.cells) == 3).all()
    assert shapely.area(joined.cells).sum() == pytest.approx(part.area, rel=1e-9)
    assert shapely.coverage_is_valid(joined.cells)
    # every joined site either stays within the band's maximum or holds a building above it
    hh = inside["hh_est"].to_numpy()
    joined_weight = np.bincount(joined.site_of_building, weights=hh, minlength=len(joined.cells))
    biggest = np.zeros(len(joined.cells))
    np.maximum.at(biggest, joined.site_of_building, hh)
    old_new = np.unique(np.column_stack([tess.site_of_building, joined.site_of_building]), axis=0)
    merged = np.bincount(old_new[:, 1], minlength=len(joined.cells)) > 1
    assert merged.any()
    assert ((joined_weight <= high) | (biggest > high))[merged].all()
    # fewer points are held elsewhere after the join
    assert len(held_elsewhere(joined.cells, points, joined.site_of_building)) < len(held)


def test_partition_keeps_overlapping_parts_together_and_in_band(shanghai_overlaps):
    communities, buildings = shanghai_overlaps
    result = gridgeo.partition(communities, buildings, households="hh_est", grid_size=(300, 500))
    assert audit_partition(result, buildings) == []
    crs = local_metric_crs(communities)
    grids = result.grids.to_crs(crs).set_index("grid_code").geometry
    out = result.buildings.to_crs(crs)
    own = grids.loc[out["grid_code"]].to_numpy()
    points = shapely.point_on_surface(shapely.make_valid(out.geometry.to_numpy()))
    held = ~shapely.covers(own, points)
    # the plain tessellation leaves more points outside their own cell than the partition leaves outside their grid
    part = split_parts(communities.geometry.iloc[0])[0]
    inside = buildings[buildings.representative_point().within(part)]
    footprints = inside.geometry.to_numpy()
    tess = tessellate_part(part, footprints)
    plain = ~shapely.covers(tess.cells[tess.site_of_building], shapely.point_on_surface(footprints))
    assert held.sum() < plain.sum()
    assert result.report["summary"]["n_defects"] == 0
