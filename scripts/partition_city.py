"""A planner's partition script: one city, its settings in one place, the results and a summary.

Usage: python scripts/partition_city.py COMMUNITIES BUILDINGS OUTDIR [--households COL] [--barriers FILE]

Copy it and edit the settings block for your city.  It uses gridgeo's Python
API (the same engine as the command line) and prints, per community, how many
grids were made and which grids are flagged, so the results can be checked
before they go to the street offices.
"""

from __future__ import annotations

import argparse
import logging
import sys

import geopandas as gpd

import gridgeo
import gridgeo.parallel
from gridgeo.io import read_layer, split_layer_spec

# -- settings for this city ---------------------------------------------------------------
GRID_SIZE = (300, 500)  # households per grid (网格)
UNIT_SIZE = (10, 15)  # households per joint unit (联户)
SEED = 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("communities")
    parser.add_argument("buildings")
    parser.add_argument("outdir")
    parser.add_argument("--households", default=None, help="households column (estimated when omitted)")
    parser.add_argument("--community-id", default=None)
    parser.add_argument("--barriers", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    log = logging.getLogger("partition_city")

    path, layer = split_layer_spec(args.communities)
    communities = read_layer(path, layer=layer)
    path, layer = split_layer_spec(args.buildings)
    buildings = read_layer(path, layer=layer)
    barriers = [read_layer(p, layer=layer) for p, layer in map(split_layer_spec, args.barriers)]
    try:
        result = gridgeo.partition(
            communities,
            buildings,
            households=args.households,
            community_id=args.community_id,
            grid_size=GRID_SIZE,
            unit_size=UNIT_SIZE,
            barriers=barriers or None,
            seed=SEED,
            workers=gridgeo.parallel.default_workers(),
        )
    except gridgeo.GridgeoError as exc:
        log.error("%s", exc)
        return 2
    result.to_files(args.outdir, overwrite=True)

    grids: gpd.GeoDataFrame = result.grids
    per_community = grids.groupby("community_id").agg(grids=("grid_code", "count"), households=("households", "sum"))
    log.info("grids per community:\n%s", per_community.to_string())
    flagged = grids[grids["status"] != "in_band"]
    for row in flagged.itertuples():
        log.warning("%s (%d households) %s: %s", row.grid_code, row.households, row.status, row.reason)
    summary = result.report["summary"]
    log.info(
        "%d grids, %d units; %d flagged with a reason, %d defects; written to %s",
        summary["n_grids"], summary.get("n_units", 0), summary["n_excused"], summary["n_defects"], args.outdir,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
