"""Long property-based run of the whole pipeline (hypothesis), beyond what CI runs.

Usage: python scripts/fuzz.py [--examples 2000] [--seed 0]

Draws random communities (boxes, L-shapes, two-part islands), random building
layouts and household counts (with and without a tower above the band) and
checks every guarantee with gridgeo.audit.  Prints the number of cases run and
any falsifying example.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

import gridgeo  # noqa: E402
from gridgeo.audit import audit_partition  # noqa: E402
from tests.test_properties import CRS, layouts  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--failure", default="fuzz-failure.json", help="Where a failing case is saved (JSON with WKT).")
    parser.add_argument("--shrink", action="store_true", help="Let hypothesis shrink a failure (slow).")
    parser.add_argument("--grid-size", default="300:500", help="Grid band, e.g. 10:15 for joint-unit-sized grids (default 300:500).")
    parser.add_argument(
        "--divide", type=int, default=1, help="Divide the drawn households (0-200 per building) by this, e.g. 15 with --grid-size 10:15."
    )
    args = parser.parse_args()
    count = 0
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if args.shrink else [])

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None, phases=phases, suppress_health_check=list(HealthCheck))
    @given(layouts())
    def check(layout):
        nonlocal count
        count += 1
        community, footprints, hh, rng_seed = layout
        hh = [h // args.divide for h in hh]
        c = gpd.GeoDataFrame({"community_id": ["X"]}, geometry=[community], crs=CRS)
        b = gpd.GeoDataFrame({"hh": hh}, geometry=footprints, crs=CRS)
        result = gridgeo.partition(c, b, households="hh", seed=rng_seed % 1000, grid_size=args.grid_size)
        problems = audit_partition(result, b)
        if problems:
            Path(args.failure).write_text(
                json.dumps({"community": community.wkt, "buildings": [f.wkt for f in footprints], "households": hh, "seed": rng_seed % 1000, "problems": problems}),
                encoding="utf-8",
            )
        assert problems == [], problems

    start = time.time()
    try:
        check()
    except AssertionError as exc:
        print(f"FAILED after {count} cases: {exc}")
        return 1
    print(f"{count} cases, no invariant broken ({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
