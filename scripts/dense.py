"""A DENSE stress set for benchmarks: taipei_wanhua_datong rebuilt as a high-rise city (derived data).

Usage: python scripts/dense.py OUTDIR [--copies 2] [--tile-to N] [--seed 0]

Chinese cities are high-rise: 18–33-storey towers of 100–300 households and
communities of 5,000–40,000 households, where the real data in ../shared/data
is mid-rise (5–18 households per building).  This script keeps the real
footprints and village (里) boundaries of ``taipei_wanhua_datong`` and scales
their storeys:

* each copy of the district is translated beside the others
  (:func:`tiles.tile_frames`, ids suffixed ``-t000``, ``-t001``…);
* every village gets a rise factor drawn from a log-normal law (median 1.8,
  seeded), and the village with the most households in each copy a factor of
  9 (a new town of towers);
* a building's storeys become ``round(levels_est × factor)`` clipped to 1–45,
  and its households ``round(hh_est × new storeys / levels_est)`` (at least 1
  where ``hh_est`` was positive), in the column ``hh_dense``; the old estimate
  is kept as ``hh_est`` and the new storeys as ``levels_dense``;
* the layers carry ``derived = "dense: storeys scaled from taipei_wanhua_datong"``.

With the defaults (2 copies, seed 0) the set has 14,378 buildings in 108
villages, at least 30 households per building on average, at least 0.4 % of
the buildings above 500 households and villages up to about 35,000
households; the script checks these figures and fails when they do not hold.
``--tile-to N`` then tiles the dense set (copies of all of it) to at least N
buildings, written as the set itself (for the ~100k benchmark).

The result is deterministic: the same seed writes the same features and households.
Attribution of the source: Taipei City Government (building model) and
MOI/NLSC village boundaries (see the dataset's README).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiles  # noqa: E402

SOURCE = "taipei_wanhua_datong"
LABEL = f"dense: storeys scaled from {SOURCE}"
MEDIAN_RISE = 1.8
SPREAD = 0.4
NEW_TOWN_RISE = 9.0
MAX_STOREYS = 45


def dense_frames(communities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, copies: int = 2, seed: int = 0) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``copies`` translated copies of the layers with storeys and households scaled (see the module docstring)."""
    rng = np.random.default_rng(seed)
    comm, bldg = tiles.tile_frames(communities, buildings, copies)
    rise = pd.Series(np.nan, index=pd.Index(comm["community_id"].astype(str)))
    totals = bldg.groupby("community_id")["hh_est"].sum()
    for copy in range(copies):
        ids = sorted(comm.loc[comm["tile"] == copy, "community_id"].astype(str))
        rise[ids] = rng.lognormal(np.log(MEDIAN_RISE), SPREAD, len(ids))
        rise[totals.reindex(ids).fillna(0).idxmax()] = NEW_TOWN_RISE
    factor = bldg["community_id"].astype(str).map(rise).to_numpy()
    levels = np.maximum(bldg["levels_est"].to_numpy(dtype=float), 1.0)
    storeys = np.clip(np.round(levels * factor), 1, MAX_STOREYS)
    hh = bldg["hh_est"].to_numpy(dtype=float)
    dense = np.where(hh > 0, np.maximum(1, np.round(hh * storeys / levels)), 0).astype(np.int64)
    bldg = bldg.assign(levels_dense=storeys.astype(np.int64), hh_dense=dense, derived=LABEL)
    per = bldg.groupby("community_id")["hh_dense"].sum()
    comm = comm.assign(hh_dense_sum=comm["community_id"].astype(str).map(per).fillna(0).astype(np.int64), derived=LABEL)
    return comm, bldg


def check_dense(buildings: gpd.GeoDataFrame) -> dict:
    """The figures that make the set dense; raises ValueError when one falls short."""
    hh = buildings["hh_dense"].to_numpy()
    per = buildings.groupby("community_id")["hh_dense"].sum()
    figures = {
        "buildings": int(len(hh)),
        "communities": int(len(per)),
        "households": int(hh.sum()),
        "mean_households": float(hh.mean()),
        "share_above_500": float((hh > 500).mean()),
        "above_500": int((hh > 500).sum()),
        "max_community": int(per.max()),
        "median_community": float(per.median()),
    }
    if figures["mean_households"] < 30 or figures["share_above_500"] < 0.004 or figures["max_community"] < 25_000:
        raise ValueError(f"the set is not dense enough: {figures}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--copies", type=int, default=2, help="translated copies of the district (default 2: ~14k buildings)")
    parser.add_argument("--tile-to", type=int, default=None, metavar="N", help="then tile the dense set to at least N buildings")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    communities, buildings = tiles.read_dataset(SOURCE)
    comm, bldg = dense_frames(communities, buildings, copies=args.copies, seed=args.seed)
    figures = check_dense(bldg)
    if args.tile_to:
        copies = max(1, math.ceil(args.tile_to / len(bldg)))
        comm, bldg = tiles.tile_frames(comm, bldg, copies)
        figures = check_dense(bldg)
    args.outdir.mkdir(parents=True, exist_ok=True)
    comm.to_file(args.outdir / "communities.gpkg", layer="communities")
    bldg.to_file(args.outdir / "buildings.gpkg", layer="buildings")
    print(
        f"{LABEL}: {figures['buildings']:,} buildings, {figures['communities']} communities, {figures['households']:,} households "
        f"(mean {figures['mean_households']:.1f} per building, {figures['above_500']} buildings above 500 = {figures['share_above_500']:.2%}, "
        f"largest community {figures['max_community']:,}) → {args.outdir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
