"""Shared fixtures: small real slices in tests/data, the sample Shapefiles, and ../shared/data."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gridgeo.cells.tessellate import split_parts
from gridgeo.inputs.crs import local_metric_crs

HERE = Path(__file__).parent
DATA = HERE / "data"
REPO = HERE.parent
SAMPLE = REPO / "sample_shapefiles"
SHARED = REPO.parent / "shared" / "data"


def file_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file directly in ``folder``, by name (for byte-identity checks)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def read(name: str, layer: str) -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / name, layer=layer)


def shared_dataset(name: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Communities and buildings of the real dataset ``name`` of ../shared/data; the test is skipped without it."""
    folder = SHARED / name
    if not folder.exists():
        pytest.skip(f"{folder} is not present (the shared data sits beside the repository in CI)")
    return gpd.read_file(folder / "communities.gpkg", layer="communities"), gpd.read_file(folder / "buildings.gpkg", layer="buildings")


@pytest.fixture(scope="session")
def monaco():
    return (
        read("monaco_communities.gpkg", "communities"),
        read("monaco_buildings.gpkg", "buildings"),
        read("monaco_roads.gpkg", "roads"),
    )


@pytest.fixture(scope="module")
def monaco_plan():
    """The whole shared monaco set partitioned (households ``hh_est``): its grids and buildings in metres."""
    import gridgeo
    from gridgeo.inputs.crs import local_metric_crs

    options = {"households": "hh_est", "community_id": "community_id", "building_id": "building_id"}
    plan = gridgeo.partition(*shared_dataset("monaco"), **options)
    metric = local_metric_crs(plan.grids)
    return plan.grids.to_crs(metric).reset_index(drop=True), plan.buildings.to_crs(metric).reset_index(drop=True)


@pytest.fixture(scope="session")
def taipei_small():
    return read("taipei_small_communities.gpkg", "communities"), read("taipei_small_buildings.gpkg", "buildings")


@pytest.fixture(scope="session")
def sample():
    return gpd.read_file(SAMPLE / "communities.shp"), gpd.read_file(SAMPLE / "buildings.shp")


# -- headless Chromium (Debian's package), for the map and edit-mode tests ----------------------------------------
CHROMIUM = os.environ.get("GRIDGEO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (playwright drives Debian's browser; nothing is downloaded)."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's package with `apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser test needs playwright: `pip install playwright` (not `playwright install`)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def taipei_parts():
    """The three real Taipei villages of tests/data, in a metric CRS, with their buildings."""
    communities = read("taipei_small_communities.gpkg", "communities")
    buildings = read("taipei_small_buildings.gpkg", "buildings")
    crs = local_metric_crs(communities)
    communities, buildings = communities.to_crs(crs), buildings.to_crs(crs)
    out = []
    for cid, geometry in zip(communities["community_id"], communities.geometry):
        part = split_parts(geometry)[0]
        footprints = buildings.geometry.to_numpy()[(buildings["community_id"] == cid).to_numpy()]
        out.append((part, footprints[shapely.within(shapely.point_on_surface(footprints), part)]))
    return out
