"""Living plans on real data: update and apply-edits audited like a fresh partition, with the households moved.

Usage: python scripts/living_matrix.py DATA_DIR [DATA_DIR ...] [--shares 1,5,10] [--seeds 0,1,2]
       [--modes spread,concentrated] [--directions add,remove] [--no-chains] [--out results.json]

For every dataset folder (``communities.gpkg`` and ``buildings.gpkg`` with ``hh_est``, ``community_id``,
``building_id``, as in the project's benchmark data), every share, direction, mode and seed:

* ``add``: the plan is made without the chosen buildings, then updated with all of them;
  ``remove``: the plan is made with every building, then updated without the chosen ones;
* ``spread``: the buildings are drawn at random; ``concentrated``: the buildings nearest to a random
  building (a new estate, or a cleared block).

Each chain (unless ``--no-chains``) runs update (+5 % spread) -> apply-edits (one building moved to
the neighbour grid sharing the longest border with its grid) -> update (-5 % concentrated).

Every output is audited (:func:`gridgeo.audit.audit_partition`: every building once, households
conserved, one polygon per grid, valid polygonal coverage per community, band or excuse) and the
coverage is checked again with ``shapely.coverage_is_valid`` per community.  Printed per run: the share
of existing households that changed grid, the lower bound on households any repair must move
(``changes.json``: ``households_moved_lower_bound``), their ratio, the grids modified, reshaped,
added and retired, and "away": grids that changed although they neither touch the area of the buildings
added or removed (its convex hull) nor border a grid that does (and how many of them the totals forced:
the grids near the change could not hold its households at their count), and how many communities had to be
repaired again on their own because their first repair gave grids that could not be fitted to the grids
kept around them (:mod:`gridgeo.living.seamguard`).  An update that stops with ``SeamError`` counts as a
broken guarantee.  Exit status 1 when any audit finds a violation or any reported lower bound exceeds the
households the update moved (a bound that is not one).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

import gridgeo  # noqa: E402
from gridgeo.audit import audit_partition  # noqa: E402
from gridgeo.errors import SeamError  # noqa: E402
from gridgeo.inputs.crs import local_metric_crs  # noqa: E402
from gridgeo.living.edits import apply_edits  # noqa: E402
from gridgeo.living.update import update  # noqa: E402
from gridgeo.metrics import EXCUSES, PROVEN_INFEASIBLE  # noqa: E402

logger = logging.getLogger("living_matrix")
OPTIONS = {"households": "hh_est", "community_id": "community_id", "building_id": "building_id"}


class _Redone(logging.Handler):
    """Collects the communities an update had to repair again (gridgeo.living.seamguard), run by run."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def take(self) -> list[str]:
        out, self.messages = self.messages, []
        return out


REDONE = _Redone()


def change_buildings(buildings: gpd.GeoDataFrame, *, share: float, seed: int, concentrated: bool) -> np.ndarray:
    """Row positions of ``share`` of the buildings: at random, or the nearest ones around a random building (a new estate)."""
    rng = np.random.default_rng(seed)
    count = int(round(share * len(buildings)))
    if not concentrated:
        return np.sort(rng.choice(len(buildings), count, replace=False))
    points = shapely.get_coordinates(buildings.to_crs(3857).geometry.representative_point())
    centre = points[rng.integers(len(buildings))]
    return np.sort(np.argsort(((points - centre) ** 2).sum(axis=1), kind="stable")[:count])


def invalid_coverages(result) -> list[str]:
    """Communities whose grids are not a valid polygonal coverage."""
    return sorted(str(c) for c, rows in result.grids.groupby("community_id") if not shapely.coverage_is_valid(rows.geometry.to_numpy()))


def neighbour_move(result) -> tuple[str, str]:
    """A building of the first grid and the neighbour grid sharing the longest border with that grid."""
    metric = local_metric_crs(result.grids)
    grids = result.grids.to_crs(metric).set_index("grid_code")
    for source in grids.index:
        community = grids.loc[source, "community_id"]
        others = grids[(grids.index != source) & (grids["community_id"] == community)]
        if not len(others):
            continue
        shared = others.geometry.intersection(grids.geometry[source].buffer(0.01)).length
        if shared.max() <= 1.0:
            continue
        target = str(shared.idxmax())
        buildings = result.buildings.to_crs(metric)
        mine = buildings[buildings["grid_code"] == source]
        return str(mine.loc[mine.geometry.distance(grids.geometry[target]).idxmin(), "building_code"]), target
    raise ValueError("no grid has a neighbour")


def plan_buildings(folder: Path) -> gpd.GeoDataFrame:
    """The building layer of a written plan as apply-edits reads it."""
    from gridgeo.living.edits import _input_layer
    from gridgeo.result import read_outputs

    return _input_layer(read_outputs(folder))


def audit(result, buildings: gpd.GeoDataFrame) -> list[str]:
    """The audit of a fresh run; a grid a planner's edit left out of band (reason "manual edit: ...") is reported, not a defect."""
    problems = audit_partition(result, buildings, quality=False)
    grids = result.grids
    low, high = result.report["parameters"]["grid_size"]
    out = ((grids["households"] < low) | (grids["households"] > high)) & ~grids["status"].isin(EXCUSES)
    reason = grids["reason"].astype(str)
    defects = grids["grid_code"][out & ~reason.str.startswith(PROVEN_INFEASIBLE) & ~reason.str.startswith("manual edit")]
    return problems + ([f"grids out of band without an excuse: {defects.tolist()[:10]}"] if len(defects) else [])


def changed_away(previous, result) -> tuple[int, int]:
    """Grids that changed (modified, reshaped or retired) although they neither touch the changed buildings' area
    (the convex hull of the buildings added or removed) nor border a grid that does, and how many of them the
    totals forced at the grid count.

    A community's *near* grids are those that touch the area or border a grid that does.  When the households
    located in them after the change (every building of the result whose representative point lies in one of
    their previous polygons) are more than their count times the maximum, or fewer than their count times the
    minimum, no repair that keeps their count can stay among them: the change has to pass beyond them or a grid
    be added or retired among them (which moves the households of a whole grid).  The away grids of such a
    community are counted as forced.
    """
    changes = result.changes
    codes = set(changes["buildings_added"]) | set(changes["buildings_removed"])
    if not codes:
        return 0, 0
    low, high = result.report["parameters"]["grid_size"]
    metric = local_metric_crs(previous.grids)
    before = previous.buildings.to_crs(metric)
    after = result.buildings.to_crs(metric)
    changed = pd.concat([before[before["building_code"].isin(codes)].geometry, after[after["building_code"].isin(codes)].geometry])
    area = shapely.convex_hull(shapely.union_all(changed.to_numpy()))
    grids = previous.grids.to_crs(metric).set_index("grid_code")
    touching = set(grids.index[grids.geometry.intersects(area)])
    near = set(touching)
    for code in touching:
        near |= set(grids.index[grids.geometry.intersects(grids.geometry[code].buffer(0.01))])
    moved = set(changes["grids_modified"]) | set(changes["grids_reshaped"]) | set(changes["grids_retired"])
    away = moved - near
    points = shapely.point_on_surface(after.geometry.to_numpy())
    forced = 0
    for community in sorted(set(grids.loc[sorted(away), "community_id"])):
        mine = sorted(c for c in near if grids.loc[c, "community_id"] == community)
        region = shapely.union_all(grids.geometry[mine].to_numpy())
        held = int(after["households"].to_numpy()[shapely.contains(region, points)].sum())
        if not len(mine) * low <= held <= len(mine) * high:
            forced += sum(1 for c in away if grids.loc[c, "community_id"] == community)
    return len(away), forced


def record(name: str, case: str, result, buildings: gpd.GeoDataFrame, seconds: float, previous=None) -> dict:
    changes = result.changes
    bound = changes.get("households_moved_lower_bound")
    moved = int(changes["households_moved"])
    row = {
        "dataset": name,
        "case": case,
        "seconds": round(seconds, 2),
        "share_moved": round(float(changes["share_households_moved"]), 4),
        "households_moved": moved,
        "lower_bound": bound,
        "ratio": (round(moved / bound, 2) if bound else None),
        "grids_modified": len(changes["grids_modified"]),
        "grids_reshaped": len(changes["grids_reshaped"]),
        "grids_added": len(changes["grids_added"]),
        "grids_retired": len(changes["grids_retired"]),
        "invalid_coverage": invalid_coverages(result),
        "audit": audit(result, buildings),
        "defects": int(result.report["summary"]["n_defects"]),
        **dict(zip(("changed_away", "away_forced"), changed_away(previous, result) if previous is not None else (None, None))),
        # the reported lower bound must not exceed what the repair moved (a claim of changes.json)
        "bound_above_moved": bool(bound is not None and bound > moved),
        # communities whose first repair gave grids that could not be fitted to their kept neighbours
        "repaired_again": REDONE.take(),
    }
    logger.info(
        "%-22s %-31s moved %6.2f %% (%d hh, bound %s) modified %d reshaped %d added %d retired %d, away %s (forced %s); invalid %d audit %d, repaired again %d (%.1f s)",
        name, case, 100 * row["share_moved"], moved, bound, row["grids_modified"], row["grids_reshaped"], row["grids_added"],
        row["grids_retired"], row["changed_away"], row["away_forced"], len(row["invalid_coverage"]), len(row["audit"]), len(row["repaired_again"]), seconds,
    )
    return row


def refused(name: str, case: str, error: Exception) -> dict:
    """The row of an update that stopped because its grids could not be made a valid coverage (a broken guarantee)."""
    logger.info("%-22s %-31s stopped: %s", name, case, error)
    return {"dataset": name, "case": case, "invalid_coverage": [], "audit": [f"{type(error).__name__}: {error}"], "repaired_again": REDONE.take()}


def matrix_cases(name: str, communities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, args):
    """Per direction, share, mode and seed of ``args``: ``(case, stem, plan, after)``.

    ``plan`` is the partition made before the change (without the chosen buildings when adding, with all of them
    when removing), ``after`` the building layer the update gets, ``case`` the run's label and ``stem`` a folder
    name for its files.
    """
    for direction in args.directions:
        for share in args.shares:
            for mode in args.modes:
                for seed in args.seeds:
                    picked = change_buildings(buildings, share=share / 100, seed=seed, concentrated=mode == "concentrated")
                    fewer = buildings.drop(buildings.index[picked])
                    before, after = (fewer, buildings) if direction == "add" else (buildings, fewer)
                    plan = gridgeo.partition(communities, before, **OPTIONS)
                    yield f"{direction} {share}% {mode} seed {seed}", f"{name}-{direction}-{share}-{mode}-{seed}", plan, after


def run_dataset(folder: Path, args, work: Path) -> list[dict]:
    name = folder.name
    communities = gpd.read_file(folder / "communities.gpkg", layer="communities")
    buildings = gpd.read_file(folder / "buildings.gpkg", layer="buildings")
    rows = []
    for case, stem, plan, after in matrix_cases(name, communities, buildings, args):
        path = plan.to_files(work / stem)
        started = time.perf_counter()
        try:
            result = update(path, after, audit=False, kept_cell_bound=args.kept_cell_bound)
        except SeamError as exc:
            rows.append(refused(name, case, exc))
            continue
        rows.append(record(name, case, result, after, time.perf_counter() - started, plan))
    if args.chains:
        picked = change_buildings(buildings, share=0.05, seed=0, concentrated=False)
        plan = gridgeo.partition(communities, buildings.drop(buildings.index[picked]), **OPTIONS)
        started = time.perf_counter()
        try:
            second = update(plan.to_files(work / f"{name}-chain-1"), buildings, audit=False, kept_cell_bound=args.kept_cell_bound)
        except SeamError as exc:
            return rows + [refused(name, "chain: update +5% spread", exc)]
        rows.append(record(name, "chain: update +5% spread", second, buildings, time.perf_counter() - started))
        building, target = neighbour_move(second)
        edits = work / f"{name}-edits.csv"
        pd.DataFrame({"building_code": [building], "grid_code": [target]}).to_csv(edits, index=False)
        started = time.perf_counter()
        edited = second.to_files(work / f"{name}-chain-2")
        third = apply_edits(edited, edits, audit=False)
        # audited against the building layer apply-edits reads from the plan (its rows, not the input file's)
        rows.append(record(name, "chain: apply-edits (1 move)", third, plan_buildings(edited), time.perf_counter() - started))
        removed = change_buildings(buildings, share=0.05, seed=0, concentrated=True)
        fewer = buildings.drop(buildings.index[removed])
        started = time.perf_counter()
        try:
            fourth = update(third.to_files(work / f"{name}-chain-3"), fewer, audit=False, kept_cell_bound=args.kept_cell_bound)
        except SeamError as exc:
            return rows + [refused(name, "chain: update -5% concentrated", exc)]
        rows.append(record(name, "chain: update -5% concentrated", fourth, fewer, time.perf_counter() - started))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--shares", default="1,5,10", type=lambda s: [int(v) for v in s.split(",")])
    parser.add_argument("--seeds", default="0,1,2", type=lambda s: [int(v) for v in s.split(",")])
    parser.add_argument("--modes", default="spread,concentrated", type=lambda s: s.split(","))
    parser.add_argument("--directions", default="add,remove", type=lambda s: s.split(","))
    parser.add_argument("--no-chains", dest="chains", action="store_false")
    parser.add_argument("--no-kept-cell-bound", dest="kept_cell_bound", action="store_false", help="updates bound the households moved without the cheapest repair in whole kept cells (faster, looser)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("gridgeo", "pyogrio"):
        logging.getLogger(name).setLevel(logging.ERROR)
    guard = logging.getLogger("gridgeo.living.seamguard")
    guard.setLevel(logging.INFO)
    guard.addHandler(REDONE)
    guard.propagate = False
    warnings.filterwarnings("ignore", category=UserWarning)  # input notes (overlapping footprints, ...) of every run
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for folder in args.folders:
            rows += run_dataset(folder, args, Path(work))
    broken = [r for r in rows if r["invalid_coverage"] or r["audit"] or r["bound_above_moved"]]
    frame = pd.DataFrame(rows)
    if len(frame):
        spread5 = frame[frame["case"].str.contains("add 5% spread")]
        for name, group in spread5.groupby("dataset"):
            bounded = group[group["lower_bound"].fillna(0) > 0]
            logger.info(
                "%s, +5 %% spread: households moved %.2f %% at most; ratio to the bound at most %s (%d of %d runs with a bound of 0)",
                name, 100 * group["share_moved"].max(), bounded["ratio"].max() if len(bounded) else "-", len(group) - len(bounded), len(group),
            )
        for name, group in frame.groupby("dataset"):
            bounded = group[group["lower_bound"].fillna(0) > 0]
            logger.info(
                "%s, all runs: households moved %.2f %% at most; ratio to the bound at most %s; %d of %d runs with a bound of 0; "
                "%d with the bound above the households moved",
                name, 100 * group["share_moved"].max(), bounded["ratio"].max() if len(bounded) else "-", len(group) - len(bounded), len(group),
                int(group["bound_above_moved"].sum()),
            )
    again = [f"{r['dataset']} {r['case']}: {m}" for r in rows for m in r["repaired_again"]]
    logger.info("%d communities repaired again on their own (their first repair could not be fitted)%s", len(again), "".join(f"\n  {m}" for m in again))
    above = [f"{r['dataset']} {r['case']}" for r in rows if r.get("bound_above_moved")]
    if above:
        logger.info("the reported lower bound exceeds the households moved in %d runs (a wrong bound): %s", len(above), "; ".join(above))
    logger.info("%d runs, %d with a broken guarantee (an audit problem, an invalid coverage or a bound above the households moved)", len(rows), len(broken))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
