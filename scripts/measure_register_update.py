"""Update a register plan of real buildings for a GENERATED new register and measure who keeps their joint unit.

Usage: python scripts/measure_register_update.py DATA_DIR [DATA_DIR ...] [--households hh_est] [--unit-size 10:15]
       [--seed 7] [--out 4] [--between 2] [--new 1] [--added 1]

Each DATA_DIR holds ``communities.gpkg`` and ``buildings.gpkg`` (with ``building_id`` and a household column).
The first register is made up as in ``scripts/measure_register.py`` (households per building = the household
column, staircases of 2–4 doors per floor, fake names); ``--added`` % of the buildings (every k-th by id) are left
out of the first plan.  The new register a year later: ``--out`` % of the households moved out, ``--between`` %
moved to another building, ``--new`` % new households (a new staircase in random buildings), and the buildings
left out are built, with their households.  The script partitions the first buildings with the first register,
updates the plan with all buildings and the new register (workers=1), and prints, of the households in both
registers: how many kept their unit, how many changed unit because their building changed grid, and how many
changed unit inside their grid; then the same count for cutting every grid's units afresh
(``gridgeo.units.cut_households``, as a fresh partition of the new plan's grids would), each fresh unit matched to
the previous unit it shares most households with (an optimal matching, so the fresh cut is counted at its best).
Also: every household once, units in band where the grid admits a cut, and the wall time of the update.
Exit status 1 when a guarantee fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gridgeo  # noqa: E402
from gridgeo.api import parse_band  # noqa: E402
from gridgeo.living.unitkeep import households_of_plan  # noqa: E402
from gridgeo.living.update import update  # noqa: E402
from gridgeo.units import cut_households, fits_units, walking_order  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure_register import ORDER, make_register  # noqa: E402


def later_register(register: pd.DataFrame, building_ids: np.ndarray, *, out: float, between: float, new: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    frame = register.drop(index=rng.choice(len(register), size=int(len(register) * out / 100), replace=False)).copy()
    movers = rng.choice(frame.index.to_numpy(), size=int(len(frame) * between / 100), replace=False)
    frame.loc[movers, "building"] = building_ids[rng.integers(len(building_ids), size=len(movers))]
    n = int(len(register) * new / 100)
    homes = building_ids[rng.integers(len(building_ids), size=n)]
    rows = pd.DataFrame(
        {"household": [f"{b}-new-{k}" for k, b in enumerate(homes)], "building": homes, "staircase": "99", "floor": [str(k % 9 + 1) for k in range(n)],
         "door": [f"{k % 9 + 1}{k // 9:03d}" for k in range(n)], "name": [f"M{k}" for k in range(n)], "phone": [f"138{k:08d}" for k in range(n)]}
    )
    return pd.concat([frame, rows], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def fresh_kept(after, before: pd.DataFrame, unit_band) -> int:
    """Households in both plans that a fresh cut of every grid would keep in their unit, at the best matching."""
    source = households_of_plan(after)  # households of every building in the register's walking order
    points = after.buildings.to_crs(after.report["metric_crs"]).geometry.representative_point()
    xy = np.column_stack([points.x, points.y])
    codes = after.buildings["building_code"].astype(str).to_numpy()
    counts = after.buildings["households"].to_numpy(dtype=np.int64)
    prev_unit = before.set_index("household_id")["unit_code"]
    prev_grid = before.set_index("household_id")["grid_code"]
    kept = 0
    for gcode, rows in pd.Series(np.arange(len(codes))).groupby(after.buildings["grid_code"].astype(str).to_numpy()):
        rows = np.array(sorted((r for r in rows if counts[r] > 0), key=lambda r: codes[r]), dtype=np.int64)
        if not len(rows):
            continue
        walk = rows[walking_order(xy[rows])]
        ids = np.concatenate([source.ids[codes[r]] for r in walk])
        cut = cut_households(counts[walk], [source.breaks[codes[r]] for r in walk], *unit_band)
        label = np.empty(len(ids), dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts[walk])[:-1]])
        for u, unit in enumerate(cut):
            for i, a, z in unit.members:
                label[starts[i] + a - 1 : starts[i] + z] = u
        known = np.array([h in prev_unit.index and prev_grid[h] == gcode for h in ids], dtype=bool)
        if not known.any():
            continue
        old, old_index = np.unique(prev_unit.reindex(ids[known]).to_numpy(), return_inverse=True)
        overlap = coo_matrix((np.ones(int(known.sum())), (label[known], old_index)), shape=(len(cut), len(old))).toarray()
        r, c = linear_sum_assignment(-overlap)
        kept += int(overlap[r, c].sum())
    return kept


def measure(folder: Path, households: str, unit_band, seed: int, out: float, between: float, new: float, added: float) -> bool:
    communities = gpd.read_file(folder / "communities.gpkg")
    buildings = gpd.read_file(folder / "buildings.gpkg")
    register = make_register(buildings, households, seed)
    ids = buildings["building_id"].to_numpy()
    step = max(int(round(100 / added)), 1) if added > 0 else 0
    later = set(np.sort(ids.astype(str))[::step].tolist()) if step else set()
    first = buildings[~buildings["building_id"].astype(str).isin(later)]
    first_register = register[~register["building"].astype(str).isin(later)].reset_index(drop=True)
    options = {"register_building": "building", "register_household": "household", "register_order": ORDER}
    plan = gridgeo.partition(communities, first, building_id="building_id", unit_size=unit_band, workers=1, register=first_register, **options)
    new_register = later_register(register, ids, out=out, between=between, new=new, seed=seed)
    start = time.perf_counter()
    after = update(plan, buildings, register=new_register)
    seconds = time.perf_counter() - start
    c = after.changes
    before = plan.households.set_index("household_id")
    now = after.households.set_index("household_id")
    both = before.index.intersection(now.index)
    grid_changed = int((before.loc[both, "grid_code"] != now.loc[both, "grid_code"]).sum())
    moved = len(c["households_moved_units"])
    fresh = fresh_kept(after, plan.households, unit_band)
    table = after.households
    once = len(table) + len(after.unassigned_households) == len(new_register) and not table["household_id"].duplicated().any()
    totals = after.grids.set_index("grid_code")["households"]
    fits = after.units["grid_code"].map(lambda g: fits_units(totals[g], *unit_band)).to_numpy(dtype=bool)
    in_band = float(after.units["in_band"].to_numpy(dtype=bool)[fits].mean()) if fits.any() else 1.0
    print(
        f"{folder.name}: {len(buildings)} buildings ({len(c['buildings_added'])} added), {len(first_register)} → {len(new_register)} households "
        f"({len(c['register_households_added'])} new, {len(c['register_households_removed'])} gone); of {c['households_compared_units']} in both: "
        f"{c['households_kept_in_unit']} kept their unit ({100 * c['households_kept_in_unit'] / max(c['households_compared_units'], 1):.2f} %), "
        f"{moved} changed unit ({grid_changed} with their grid, {moved - grid_changed} inside it); a fresh cut keeps at best {fresh} "
        f"({100 * fresh / max(c['households_compared_units'], 1):.2f} %); every household once: {'yes' if once else 'NO'}; "
        f"units in band where the grid admits a cut: {100 * in_band:.2f} %; update {seconds:.1f} s"
    )
    return once and in_band == 1.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--households", default="hh_est")
    parser.add_argument("--unit-size", default="10:15")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=float, default=4.0, help="%% of households that moved out")
    parser.add_argument("--between", type=float, default=2.0, help="%% of households that moved to another building")
    parser.add_argument("--new", type=float, default=1.0, help="%% new households")
    parser.add_argument("--added", type=float, default=1.0, help="%% of buildings built after the first plan")
    args = parser.parse_args(argv)
    band = parse_band(args.unit_size, "unit size")
    ok = all([measure(f, args.households, band, args.seed, args.out, args.between, args.new, args.added) for f in args.folders])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
