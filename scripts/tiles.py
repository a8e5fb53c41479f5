"""Scale-ups for benchmarks: translated copies of a real dataset tiled side by side (labelled as tiled).

Usage: python scripts/tiles.py DATASET N_BUILDINGS OUTDIR

Writes OUTDIR/communities.gpkg and OUTDIR/buildings.gpkg (layers as in ../shared/data), in the
dataset's metric CRS, with ids suffixed by the copy number (``-t003``) and a ``tile`` column.
DATASET is a folder name of ../shared/data or the path of a folder holding the same two files
(for example a dense set written by scripts/dense.py).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def read_dataset(name: str | Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The communities and buildings of a ../shared/data folder name, or of a folder path."""
    folder = Path(name) if Path(name).is_dir() else SHARED / str(name)
    communities = gpd.read_file(folder / "communities.gpkg", layer="communities")
    buildings = gpd.read_file(folder / "buildings.gpkg", layer="buildings")
    return communities, buildings


def tile_frames(communities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, copies: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``copies`` translated copies of the two layers in a square-ish arrangement, in a metric CRS."""
    crs = buildings.estimate_utm_crs() if buildings.crs.is_geographic else buildings.crs
    communities, buildings = communities.to_crs(crs), buildings.to_crs(crs)
    columns = math.ceil(math.sqrt(copies))
    minx, miny, maxx, maxy = communities.total_bounds
    step_x, step_y = (maxx - minx) * 1.02, (maxy - miny) * 1.02
    c_parts, b_parts = [], []
    for copy in range(copies):
        dx, dy = (copy % columns) * step_x, (copy // columns) * step_y
        c = communities.copy()
        b = buildings.copy()
        c["geometry"] = c.geometry.translate(dx, dy)
        b["geometry"] = b.geometry.translate(dx, dy)
        suffix = f"-t{copy:03d}"
        c["community_id"] = c["community_id"].astype(str) + suffix
        b["community_id"] = b["community_id"].astype(str) + suffix
        b["building_id"] = b["building_id"].astype(str) + suffix
        c["tile"] = copy
        b["tile"] = copy
        c_parts.append(c)
        b_parts.append(b)
    out_c = gpd.GeoDataFrame(pd.concat(c_parts, ignore_index=True), crs=crs)
    out_b = gpd.GeoDataFrame(pd.concat(b_parts, ignore_index=True), crs=crs)
    return out_c, out_b


def tiled(name: str | Path, n_buildings: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Copies of ``name`` in a square-ish arrangement until at least ``n_buildings`` buildings."""
    communities, buildings = read_dataset(name)
    copies = max(1, math.ceil(n_buildings / len(buildings)))
    return tile_frames(communities, buildings, copies)


def main() -> int:
    name, count, outdir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    outdir.mkdir(parents=True, exist_ok=True)
    c, b = tiled(name, count)
    c.to_file(outdir / "communities.gpkg", layer="communities")
    b.to_file(outdir / "buildings.gpkg", layer="buildings")
    print(f"{name} tiled ×{c['tile'].max() + 1}: {len(b)} buildings, {len(c)} communities → {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
