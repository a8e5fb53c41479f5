"""Partition real buildings with a GENERATED household register and measure the units of real doors.

Usage: python scripts/measure_register.py DATA_DIR [DATA_DIR ...] [--households hh_est] [--unit-size 10:15] [--seed 7]

Each DATA_DIR holds ``communities.gpkg`` and ``buildings.gpkg`` (with ``building_id`` and a household column).
The register is made up here, as in ``tests/test_register.py``: as many households per building as the
household column says, in staircases of 2–4 doors per floor and 3–11 floors, with fake names and phone numbers
(never real people).  For each dataset the script prints: register households and units; whether every
household is in exactly one unit; the share of units in band among those whose grid's total admits a cut; the
buildings, staircases and floors split by unit boundaries, against cutting the same walking order by household
numbers (what a run without a register does); and the wall time with the register and with the household column (workers=1).
Exit status 1 when a household is missing or listed twice.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gridgeo  # noqa: E402
from gridgeo.api import parse_band  # noqa: E402
from gridgeo.units import cut_units, fits_units  # noqa: E402

ORDER = ["staircase", "floor", "door"]


def make_register(buildings: pd.DataFrame, households: str, seed: int) -> pd.DataFrame:
    """One row per household: id, building, staircase, floor, door, a fake name and phone number."""
    rng = np.random.default_rng(seed)
    rows = []
    for bid, count in zip(buildings["building_id"], buildings[households].fillna(0).astype(int)):
        doors, floors = int(rng.integers(2, 5)), int(rng.integers(3, 12))
        for k in range(count):
            stair, rest = divmod(k, doors * floors)
            floor, door = divmod(rest, doors)
            rows.append((f"{bid}-{stair + 1}-{floor + 1}{door + 1:02d}", bid, str(stair + 1), str(floor + 1), f"{floor + 1}{door + 1:02d}", f"N{len(rows)}", f"139{len(rows):08d}"))
    frame = pd.DataFrame(rows, columns=["household", "building", *ORDER, "name", "phone"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def split_counts(sequence: pd.DataFrame, cuts) -> np.ndarray:
    """Buildings, staircases and floors split by unit boundaries at household positions ``cuts``."""
    keys = sequence[["building_code", *ORDER[:2]]].to_numpy()
    cost = np.zeros(3, dtype=np.int64)
    for p in cuts:
        cost += np.cumprod(keys[p - 1] == keys[p])
    return cost


def measure(folder: Path, households: str, unit_band: tuple[int, int], seed: int) -> bool:
    communities = gpd.read_file(folder / "communities.gpkg")
    buildings = gpd.read_file(folder / "buildings.gpkg")
    register = make_register(buildings, households, seed)
    start = time.perf_counter()
    plain = gridgeo.partition(communities, buildings, households=households, building_id="building_id", unit_size=unit_band, workers=1)
    plain_s = time.perf_counter() - start
    start = time.perf_counter()
    run = gridgeo.partition(
        communities, buildings, building_id="building_id", unit_size=unit_band, workers=1, register=register,
        register_building="building", register_household="household", register_order=ORDER,
    )
    run_s = time.perf_counter() - start
    table = run.households
    once = len(table) + len(run.unassigned_households) == len(register) and not table["household_id"].duplicated().any()
    totals = run.grids.set_index("grid_code")["households"]
    fits = run.units["grid_code"].map(lambda g: fits_units(totals[g], *unit_band)).to_numpy(dtype=bool)
    ours, numbers = np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64)
    for _, sequence in table.sort_values(["unit_code", "position"]).groupby("grid_code", sort=False):
        sequence = sequence.reset_index(drop=True)
        sizes = sequence.groupby("unit_code", sort=False).size().to_numpy()
        ours += split_counts(sequence, np.cumsum(sizes)[:-1])
        by_numbers = cut_units(sequence.groupby("building_code", sort=False).size().to_numpy(), *unit_band)
        numbers += split_counts(sequence, np.cumsum([u.households for u in by_numbers])[:-1])
    print(
        f"{folder.name}: {len(buildings)} buildings, {len(register)} register households, {len(run.units)} units "
        f"(without a register: {len(plain.units)}); every household once: {once}; "
        f"units in band where the grid admits a cut: {run.units['in_band'].to_numpy()[fits].mean():.4f} of {int(fits.sum())}; "
        f"split (buildings, staircases, floors): {tuple(int(v) for v in ours)} vs by numbers {tuple(int(v) for v in numbers)}; "
        f"wall time {run_s:.1f} s with the register, {plain_s:.1f} s with '{households}'"
    )
    return once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--households", default="hh_est")
    parser.add_argument("--unit-size", default="10:15")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    band = parse_band(args.unit_size, "unit size")
    results = [measure(folder, args.households, band, args.seed) for folder in args.folders]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
