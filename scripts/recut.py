"""Partition real buildings under community boundaries they were not drawn for, and audit every run.

Usage: python scripts/recut.py DATA_DIR [DATA_DIR ...] [--cuts squares,voronoi,pairs] [--grid-size 300:500]
       [--households hh_est] [--seed 11] [--keep OUTDIR]

The datasets in ../shared/data are what the engine was developed on; data it has never seen will have
other boundaries.  This script keeps each dataset's real buildings and replaces its communities
(labelled DERIVED, never presented as real boundaries) by

* ``squares``: square tiles of about 2,500 households each, clipped to the union of the communities
  (the cuts run through buildings, which then straddle two communities);
* ``voronoi``: the Voronoi regions of as many random points inside that union (irregular shapes);
* ``pairs``: each community merged with one neighbour (communities twice the usual size).

Each run is checked with :func:`gridgeo.audit.audit_partition` (every building once, households
conserved, one polygon per grid, tiling, band or a stated excuse or proof) and logged: grids, defects
(and how many of them carry a proof that no in-band split exists), mean Polsby-Popper, CPU seconds.
Exit status 1 when an audit finds a violation.  ``--keep`` writes each run's grids and buildings to a
GeoPackage for a look on the map.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402

import gridgeo  # noqa: E402
from gridgeo.audit import audit_partition  # noqa: E402

logger = logging.getLogger("recut")

HOUSEHOLDS_PER_CUT = 2500


def squares(whole, total: float) -> list:
    """Square tiles of about :data:`HOUSEHOLDS_PER_CUT` households, clipped to ``whole``."""
    x0, y0, x1, y1 = whole.bounds
    n = max(2, int(round(total / HOUSEHOLDS_PER_CUT)))
    side = float(np.sqrt((x1 - x0) * (y1 - y0) / n))
    tiles = [shapely.intersection(shapely.box(x, y, x + side, y + side), whole) for x in np.arange(x0, x1, side) for y in np.arange(y0, y1, side)]
    return [t for t in tiles if not t.is_empty and t.area > 1.0]


def voronoi(whole, total: float, rng: np.random.Generator) -> list:
    """Voronoi regions of random points in ``whole``, one per :data:`HOUSEHOLDS_PER_CUT` households, clipped to it."""
    x0, y0, x1, y1 = whole.bounds
    n = max(2, int(round(total / HOUSEHOLDS_PER_CUT)))
    points = []
    while len(points) < n:
        p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if whole.contains(p):
            points.append(p)
    frame = shapely.buffer(shapely.box(x0, y0, x1, y1), 100.0)
    regions = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=frame)), whole)
    return [r for r in regions if not r.is_empty and r.area > 1.0]


def pairs(communities: gpd.GeoDataFrame) -> list:
    """Each community merged with the first unmerged neighbour it shares more than 1 m of border with."""
    geoms = communities.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    used: set[int] = set()
    merged = []
    for i, g in enumerate(geoms):
        if i in used:
            continue
        used.add(i)
        near = [int(j) for j in tree.query(g, predicate="intersects") if int(j) not in used and shapely.intersection(g, geoms[j]).length > 1.0]
        merged.append(shapely.union(g, geoms[near[0]]) if near else g)
        if near:
            used.add(near[0])
    return merged


def recut(folder: Path, cut: str, *, households: str, seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The dataset's buildings and DERIVED communities made by ``cut`` (in a local UTM CRS)."""
    communities = gpd.read_file(folder / "communities.gpkg", layer="communities")
    buildings = gpd.read_file(folder / "buildings.gpkg", layer="buildings")
    metric = communities.to_crs(communities.estimate_utm_crs())
    whole = shapely.union_all(metric.geometry.to_numpy())
    total = float(buildings[households].sum())
    if cut == "squares":
        shapes = squares(whole, total)
    elif cut == "voronoi":
        shapes = voronoi(whole, total, np.random.default_rng(seed))
    else:
        shapes = pairs(metric.reset_index(drop=True))
    derived = gpd.GeoDataFrame({"cut_id": [f"{cut[0].upper()}{i:03d}" for i in range(len(shapes))]}, geometry=shapes, crs=metric.crs)
    return derived, buildings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--cuts", default="squares,voronoi,pairs")
    parser.add_argument("--grid-size", default="300:500")
    parser.add_argument("--households", default="hh_est")
    parser.add_argument("--seed", type=int, default=11, help="Seed of the Voronoi points (the partition uses seed 0).")
    parser.add_argument("--keep", type=Path, help="Write each run's grids and buildings to OUTDIR/<dataset>_<cut>.gpkg.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("gridgeo").setLevel(logging.ERROR)
    failed = 0
    for folder in args.folders:
        for cut in args.cuts.split(","):
            communities, buildings = recut(folder, cut, households=args.households, seed=args.seed)
            start = time.process_time()
            result = gridgeo.partition(communities, buildings, households=args.households, community_id="cut_id", grid_size=args.grid_size, workers=1)
            seconds = time.process_time() - start
            problems = audit_partition(result, buildings)
            s = result.report["summary"]
            logger.info(
                "%s %s (%d derived communities): %d grids, %d defects (%d proven), PP %.3f, %.1f s CPU, audit %s",
                folder.name, cut, len(communities), len(result.grids), s["n_defects"], s["n_defects_proven_infeasible"],
                s["polsby_popper_mean"], seconds, "ok" if not problems else f"{len(problems)} violations",
            )
            for problem in problems[:10]:
                logger.info("    %s", problem)
            failed += bool(problems)
            for grid in result.grids[result.grids["status"] == "out_of_band"].itertuples():
                logger.info("    %s %d households: %s", grid.grid_code, grid.households, grid.reason)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                target = args.keep / f"{folder.name}_{cut}.gpkg"
                result.grids.to_file(target, layer="grids")
                result.buildings.to_file(target, layer="buildings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
