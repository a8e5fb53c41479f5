"""Barrier audit of a dataset: every grid that crosses a barrier, and whether it had to.

Usage: python scripts/barrier_audit.py DATA_DIR [DATA_DIR ...] [--roads major|all] [--grid-size 300:500] [--seed 0]
       [--households hh_est] [--details]

DATA_DIR holds communities.gpkg, buildings.gpkg and roads.gpkg (layers ``communities``, ``buildings``,
``roads`` with a ``cls`` column), as in ../shared/data.  ``--roads major`` keeps the classes of
``MAJOR`` (trunk to tertiary roads, rail, rivers), ``all`` every line.  For each dataset it logs the
crossings, the proven lower bound and how many crossing grids are necessary, needless or undetermined
(see :func:`gridgeo.barrier_audit.barrier_audit`); ``--details`` lists every crossing grid.
Exit status 1 when a needless crossing is found.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402

from gridgeo.barrier_audit import barrier_audit  # noqa: E402

MAJOR = ["primary", "secondary", "tertiary", "trunk", "motorway", "primary_link", "secondary_link", "rail", "light_rail", "river", "stream"]

logger = logging.getLogger("barrier_audit")


def audit_folder(folder: Path, roads: str = "major", grid_size: str = "300:500", seed: int = 0, households: str = "hh_est"):
    """Read one data folder and audit its partition with major or all roads as barriers."""
    communities = gpd.read_file(folder / "communities.gpkg", layer="communities")
    buildings = gpd.read_file(folder / "buildings.gpkg", layer="buildings")
    lines = gpd.read_file(folder / "roads.gpkg", layer="roads")
    if roads == "major":
        lines = lines[lines["cls"].isin(MAJOR)]
    building_id = "building_id" if "building_id" in buildings.columns else None
    return barrier_audit(communities, buildings, [lines], households=households, building_id=building_id, grid_size=grid_size, seed=seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--roads", choices=["major", "all"], default="major")
    parser.add_argument("--grid-size", default="300:500")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--households", default="hh_est")
    parser.add_argument("--details", action="store_true", help="List every crossing grid.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("gridgeo").setLevel(logging.WARNING)
    needless = 0
    for folder in args.folders:
        audit = audit_folder(folder, args.roads, args.grid_size, args.seed, args.households)
        s = audit.summary()
        needless += s["needless"]
        logger.info(
            "%s (%s roads): crossings %d, bound %d, crossing grids %d: necessary %d, needless %d, undetermined %d",
            folder.name, args.roads, s["crossings"], s["crossings_min"], s["crossing_grids"], s["necessary"], s["needless"], s["undetermined"],
        )
        if args.details and len(audit.grids):
            logger.info("%s", audit.grids.to_string(index=False))
    return 1 if needless else 0


if __name__ == "__main__":
    sys.exit(main())
