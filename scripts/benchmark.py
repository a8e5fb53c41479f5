"""Benchmark of gridgeo: the command a user types, timed stage by stage, and side by side with the anchors.

Usage: python scripts/benchmark.py [--repeats 3] [--datasets taipei_wanhua_datong porto ...]
                                  [--dense 14000 100000] [--tiled 100000 ...] [--workers 2]
                                  [--anchors gerrychain-tree gerrychain-seed kmeans skater maxp]
                                  [--anchor-timeout 60] [--anchor-memory-mb 4096] [--anchor-repeats 1]

The headline is the command of the README, as a fresh process with its
default outputs (GeoPackage, GeoJSON, report.json, report.html, map.html,
workload columns)::

    gridgeo partition COMMUNITIES BUILDINGS --households hh_est --building-id building_id -o OUT

timed from outside (``subprocess`` and the wall clock, peak resident memory
from ``wait4``) and, through its ``--timings FILE.json`` option (written
outside OUT, the outputs do not change), stage by stage: start-up (the
interpreter and imports), read and checks, the communities (tessellation,
partition, repairs and proofs, grid polygons, units and tours, run by the
worker processes: their wall time is split in proportion to the workers'
seconds in each), assembly, metrics, audit, workload, GeoPackage, GeoJSON
(written side by side with the GeoPackage: the table shows the time waited
for it), report, map, and what is left (other).  The median of ``--repeats``
runs of each figure is reported, with the quality figures of the run's
report.json.

Inputs: the real datasets of ../shared/data (``hh_est``); ``--dense N``
dense high-rise sets derived from taipei_wanhua_datong by scripts/dense.py
(storeys scaled, ``hh_dense``; about 14,000 buildings, or tiled to N);
``--tiled N`` low-rise scale-ups tiling translated copies of porto and
taipei_wanhua_datong (scripts/tiles.py).  Derived sets are labelled as such.

Anchors (scripts/anchors.py, needs the ``bench`` extra: gerrychain, spopt,
scikit-learn): per real dataset, gridgeo and each anchor split the same
communities on the same cell graphs (built once, untimed), each method in its
own worker process with a time and memory limit per community; only the
partitioning call is timed (gridgeo: median of --repeats; anchors: median of
--anchor-repeats, default one run).  Reported per method: time, peak memory,
the gridgeo.metrics quality figures, failures (timeout, exception, memory),
and the faster gerrychain function's time over gridgeo's.  Derived inputs are
not given to the anchors.

Results go to benchmarks/results.md and benchmarks/results.json
(``{"command": [...], "anchors": {...}}``); a part not run this time
(``--no-end-to-end``, or ``--anchors`` with no names) is kept from the
previous results.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anchors

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks"

logger = logging.getLogger("benchmark")

#: the columns of the stage table: (heading, stage names of --timings added up)
STAGES = [
    ("start-up", ["start-up"]),
    ("read and checks", ["read and checks"]),
    ("tessellation", ["workers: tessellation"]),
    ("partition", ["workers: partition"]),
    ("repairs and proofs", ["workers: repairs and proofs"]),
    ("grid polygons", ["workers: grid polygons"]),
    ("units", ["workers: units"]),
    ("workload", ["workers: workload", "workload"]),
    ("assembly and metrics", ["assembly", "metrics", "workers: other in communities"]),
    ("audit", ["audit"]),
    ("GeoPackage", ["GeoPackage"]),
    ("GeoJSON, map, report on the path", ["GeoJSON and extras, waited for", "GeoJSON", "map", "report"]),
]
#: figures of the writers that run side by side with the GeoPackage (in their own processes)
SIDE = ["GeoJSON", "map", "report"]


def command_line(folder: Path, households: str, outdir: Path, workers: int | None, timings: Path) -> list[str]:
    """``gridgeo partition`` with the default outputs, as a user types it (the module form of the same entry point)."""
    command = [
        sys.executable, "-m", "gridgeo.cli", "partition",
        f"{folder / 'communities.gpkg'}:communities", f"{folder / 'buildings.gpkg'}:buildings",
        "--households", households, "--building-id", "building_id", "-o", str(outdir), "--timings", str(timings),
    ]  # fmt: skip
    if workers:
        command += ["--workers", str(workers)]
    return command


def run_command(folder: Path, households: str, workers: int | None, checkout: Path = REPO) -> dict:
    """One fresh ``gridgeo partition`` process of ``checkout``: wall time, peak memory, stage times and the report's summary."""
    with tempfile.TemporaryDirectory() as tmp:
        outdir, timings = Path(tmp) / "out", Path(tmp) / "timings.json"
        env = {**os.environ, "PYTHONPATH": str(checkout)}  # that checkout's gridgeo, not an installed one
        start = time.perf_counter()
        process = subprocess.Popen(command_line(folder, households, outdir, workers, timings), env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        error = process.stderr.read().decode("utf-8", "replace")
        process.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"gridgeo partition failed on {folder}: {error[-2000:]}")
        record = json.loads(timings.read_text(encoding="utf-8"))
        summary = json.loads((outdir / "report.json").read_text(encoding="utf-8"))["summary"]
    cpu = usage.ru_utime + usage.ru_stime  # the process and the workers and writers it waited for
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": usage.ru_maxrss / 1024, "timings": record, "summary": summary}


def stage_table(record: dict) -> dict[str, float]:
    """Seconds per column of :data:`STAGES` for one run; the workers' stages share the wall time of the communities."""
    parent = dict(record["stages_s"])
    workers = record["workers_s"]
    communities = parent.pop("communities", 0.0)
    worker_total = sum(workers.values()) or 1.0
    seconds = {f"workers: {k}": communities * v / worker_total for k, v in workers.items()}
    seconds.update(parent)
    out = {}
    used = set()
    for heading, names in STAGES:
        out[heading] = sum(seconds.get(name, 0.0) for name in names)
        used.update(names)
    out["other"] = sum(v for k, v in seconds.items() if k not in used)
    # the writers' own times, wherever they ran (side by side, or here when the platform cannot fork)
    for name in SIDE:
        out[f"{name} (own)"] = record.get("side_by_side_s", {}).get(name, 0.0) + parent.get(name, 0.0)
    return out


def command_rows(
    inputs: list[tuple[str, str, Path, str]], workers: list[int | None], repeats: int, *, large_repeats: int | None = None, checkout: Path = REPO
) -> list[dict]:
    """Median figures of fresh runs of the command per input and worker count: ``repeats`` runs, ``large_repeats`` above 50,000 buildings."""
    rows = []
    for name, kind, folder, households in inputs:
        for count in workers:
            first = run_command(folder, households, count, checkout)
            times = repeats if large_repeats is None or first["timings"]["buildings"] <= 50_000 else large_repeats
            runs = [first] + [run_command(folder, households, count, checkout) for _ in range(max(times, 1) - 1)]
            tables = [stage_table(r["timings"]) for r in runs]
            for table, run in zip(tables, runs):
                table["other"] += run["wall_s"] - sum(v for k, v in table.items() if not k.endswith("(own)"))  # process exit, and what no stage holds
            row = {
                "dataset": name,
                "data": kind,
                "workers": runs[0]["timings"]["workers"],
                "buildings": runs[0]["timings"]["buildings"],
                "communities": runs[0]["timings"]["communities"],
                "households": runs[0]["summary"]["households"],
                "repeats": len(runs),
                "wall_s": statistics.median(r["wall_s"] for r in runs),
                "cpu_s": statistics.median(r["cpu_s"] for r in runs),
                "peak_mb": statistics.median(r["peak_mb"] for r in runs),
                "stages_s": {k: statistics.median(t[k] for t in tables) for k in tables[0]},
                "summary": runs[0]["summary"],
            }
            rows.append(row)
            logger.info("%s (workers %d): %.2f s, map %.2f s, peak %.0f MB", name, row["workers"], row["wall_s"], row["stages_s"]["map (own)"], row["peak_mb"])
    return rows


def command_markdown(rows: list[dict], date: str) -> list[str]:
    """The stage table of results.md, and the quality figures of the same runs."""
    repeats = sorted({r["repeats"] for r in rows})
    headings = [h for h, _ in STAGES] + ["other"] + [f"{name} (own)" for name in SIDE]
    lines = [
        "# gridgeo benchmark: the command a user types, stage by stage",
        "",
        f"{date}, median of {' or '.join(map(str, repeats))} fresh runs of "
        "`gridgeo partition COMMUNITIES BUILDINGS --households COL --building-id building_id -o OUT` with the default outputs "
        "(GeoPackage, GeoJSON, report, map, workload), grids 300–500, units 10–15, on a 2-core machine. "
        "Wall s is the whole process from outside, cpu s its user + system seconds with its workers' (less sensitive to a "
        "shared machine's load); the stages come from its `--timings` file (tessellation … units run "
        "in the worker processes: their columns share the wall time of the communities in proportion to the workers' "
        "seconds). GeoJSON, map and report are written side by side with the GeoPackage, in their own processes: "
        "the stages up to *other* add up to the wall time, the *(own)* columns are those writers' own times, and the "
        "map+report share is their own time over the wall time (an upper bound of what they add). "
        "Peak MB is the largest process. Made by `scripts/benchmark.py`.",
        "",
        "| input | data | workers | buildings | households | wall s | cpu s | " + " | ".join(headings) + " | map+report share | peak MB |",
        "|---|---|---|---|---|---|---|" + "---|" * len(headings) + "---|---|",
    ]
    for r in rows:
        st = r["stages_s"]
        share = (st["map (own)"] + st["report (own)"]) / r["wall_s"] if r["wall_s"] else 0.0
        lines.append(
            f"| {r['dataset']} | {r['data']} | {r['workers']} | {r['buildings']:,} | {r['households']:,} | **{r['wall_s']:.2f}** | {r['cpu_s']:.2f} | "
            + " | ".join(f"{st[h]:.2f}" for h in headings)
            + f" | {share:.0%} | {r['peak_mb']:.0f} |"
        )
    lines += [
        "",
        "Quality of the same runs (report.json):",
        "",
        "| input | grids | defects (proven infeasible) | excused | one piece | max gap | max overlap | PP mean | PP min | units in band |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r["summary"]
        lines.append(
            f"| {r['dataset']} (workers {r['workers']}) | {s['n_grids']} | {s['n_defects']} ({s['n_defects_proven_infeasible']}) | "
            f"{s['n_excused']} | {s['share_one_piece']:.0%} | {s['max_gap_ratio']:.1e} | {s['max_overlap_ratio']:.1e} | "
            f"{s['polsby_popper_mean']:.3f} | {s['polsby_popper_min']:.3f} | {s.get('share_units_in_band', 0):.2%} |"
        )
    return lines


def dense_anchor_markdown(section: dict, rows: list[dict], timeout_s: float) -> list[str]:
    """The command against gerrychain's ``recursive_tree_part`` on the same dense communities (target: 100× faster)."""
    tree = section["methods"]["gerrychain-tree"]
    gridgeo_method = section["methods"][anchors.GRIDGEO]
    command = [r for r in rows if r["dataset"] == section["dataset"]]
    lines = [
        "## The command against gerrychain on dense data",
        "",
        f"{section['dataset']} ({section['buildings']:,} buildings, {section['communities']} communities, {section['cells']:,} cells, "
        f"households `hh_dense`): gerrychain's `recursive_tree_part` on gridgeo's cell graphs with gridgeo's grid counts "
        f"(as in the anchor tables below; limit {timeout_s:.0f} s per community, a timeout counts at the limit), one run, "
        f"against the whole `gridgeo partition` command on the same set (median wall time of the table above).",
        "",
        "gerrychain runs in one thread, so its CPU seconds are its time on a quiet machine; they are the figure compared "
        "(its wall time is shown too: it grows with the machine's load).",
        "",
        "| gerrychain-tree CPU s | its wall s | finished | meeting every constraint | gridgeo command wall s | ratio (CPU s / wall s) | ≥ 100× |",
        "|---|---|---|---|---|---|---|",
    ]
    if command:
        wall = command[0]["wall_s"]
        ratio = tree["cpu_seconds_total"] / wall
        bound = "≥ " if tree["lower_bound"] else ""
        lines.append(
            f"| {bound}{tree['cpu_seconds_total']:.1f} | {bound}{tree['seconds_total']:.1f} | {tree['status_counts'].get('ok', 0)}/{tree['n_communities']} | "
            f"{tree['communities_meeting']}/{tree['n_communities']} (gridgeo {gridgeo_method['communities_meeting']}/{gridgeo_method['n_communities']}) | "
            f"{wall:.2f} | {bound}{ratio:.0f}× | {'yes' if ratio >= 100 else 'no'} |"
        )
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].splitlines()[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of the command per input, and gridgeo's runs per community in the anchor comparison (median kept)")
    parser.add_argument("--datasets", nargs="*", default=None, help="folders of ../shared/data (default: all)")
    parser.add_argument("--dense", nargs="*", type=int, default=[], help="building counts of dense sets (scripts/dense.py; 14000: the set itself, more: tiled)")
    parser.add_argument("--tiled", nargs="*", type=int, default=[], help="building counts of low-rise tiled scale-ups")
    parser.add_argument("--workers", nargs="*", type=int, default=[0], help="process counts of the command (0: its default, all cores)")
    parser.add_argument("--large-repeats", type=int, default=None, help="runs of the command per input above 50,000 buildings (default: --repeats)")
    parser.add_argument("--gridgeo", type=Path, default=REPO, help="checkout whose gridgeo the command runs (default: this one), to time an older commit the same way")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the runs of the command (keep the previous ones in the results)")
    parser.add_argument(
        "--anchors",
        nargs="*",
        choices=anchors.ANCHORS,
        default=list(anchors.ANCHORS),
        metavar="NAME",
        help=f"anchors to compare with gridgeo: {' '.join(anchors.ANCHORS)} (default: all; none: skip the comparison)",
    )
    parser.add_argument("--anchor-timeout", type=float, default=60.0, help="seconds per community and method; the worker is killed after (default 60)")
    parser.add_argument("--anchor-memory-mb", type=float, default=4096.0, help="resident memory per worker; the worker is killed above (default 4096)")
    parser.add_argument("--anchor-repeats", type=int, default=1, help="runs of each anchor per community (median kept; default 1, they are slow)")
    parser.add_argument("--maxp-max-cells", type=int, default=None, help="skip MaxPHeuristic on communities with a piece of more cells (recorded as skipped)")
    parser.add_argument(
        "--dense-anchor",
        action="store_true",
        help="also run gerrychain's recursive_tree_part on the dense ~14,000 set (needs --dense 14000) and compare it with the command's wall time",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of gridgeo and the anchors")
    parser.add_argument("--out", type=Path, default=OUT, help="folder of results.md and results.json (default benchmarks/)")
    return parser.parse_args(argv)


def previous_results(folder: Path) -> dict:
    """The results.json of an earlier run (the old format was the list of end-to-end rows)."""
    path = folder / "results.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):  # the old format: end-to-end rows of another layout, not comparable
        return {}
    data.pop("end_to_end", None)
    return data


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    # the gridgeo of this checkout, as in the end-to-end runs (their working directory is REPO)
    sys.path.insert(0, str(REPO))
    import gridgeo

    logger.info("gridgeo from %s", gridgeo.__file__)
    names = args.datasets if args.datasets is not None else sorted(p.name for p in SHARED.iterdir() if (p / "buildings.gpkg").exists())
    results = previous_results(args.out)
    if not args.no_end_to_end:
        inputs = [(name, "real", SHARED / name, "hh_est") for name in names]
        scratch = Path(tempfile.mkdtemp(prefix="gridgeo-bench-"))
        for count in args.dense:
            folder = scratch / f"dense-{count}"
            extra = [] if count <= 15_000 else ["--tile-to", str(count)]
            subprocess.run([sys.executable, str(REPO / "scripts" / "dense.py"), str(folder), *extra], check=True, capture_output=True)
            inputs.append((f"dense taipei ~{count:,}", "derived: storeys scaled" + (", tiled" if extra else ""), folder, "hh_dense"))
        for count in args.tiled:
            for base in ("porto", "taipei_wanhua_datong"):
                folder = scratch / f"{base}-tiled-{count}"
                subprocess.run([sys.executable, str(REPO / "scripts" / "tiles.py"), base, str(count), str(folder)], check=True, capture_output=True)
                inputs.append((f"{base} tiled ~{count:,}", "derived: tiled", folder, "hh_est"))
        results["command"] = command_rows(inputs, [w or None for w in args.workers], args.repeats, large_repeats=args.large_repeats, checkout=args.gridgeo)
        results["command_date"] = datetime.date.today().isoformat()
    if args.dense_anchor:  # gerrychain on the dense ~14,000 set; compared with the command's latest row on that set
        folder = Path(tempfile.mkdtemp(prefix="gridgeo-bench-")) / "dense-14000"
        subprocess.run([sys.executable, str(REPO / "scripts" / "dense.py"), str(folder)], check=True, capture_output=True)
        logger.info("gerrychain-tree on the dense set")
        section = anchors.compare_dataset(
            folder, households="hh_dense", methods=("gerrychain-tree",), band=(300, 500), timeout_s=args.anchor_timeout,
            memory_mb=args.anchor_memory_mb, gridgeo_repeats=args.repeats, anchor_repeats=1, seed=args.seed,
        )  # fmt: skip
        section["dataset"] = "dense taipei ~14,000"
        results["dense_anchor"] = section
    if args.anchors:
        settings = {
            "anchors": list(args.anchors),
            "band": [300, 500],
            "timeout_s": args.anchor_timeout,
            "memory_mb": args.anchor_memory_mb,
            "gridgeo_repeats": args.repeats,
            "anchor_repeats": args.anchor_repeats,
            "maxp_max_cells": args.maxp_max_cells,
            "seed": args.seed,
        }
        datasets = []
        for name in names:
            logger.info("anchors on %s", name)
            datasets.append(
                anchors.compare_dataset(
                    SHARED / name,
                    methods=tuple(args.anchors),
                    band=(300, 500),
                    timeout_s=args.anchor_timeout,
                    memory_mb=args.anchor_memory_mb,
                    gridgeo_repeats=args.repeats,
                    anchor_repeats=args.anchor_repeats,
                    seed=args.seed,
                    maxp_max_cells=args.maxp_max_cells,
                )
            )
        results["anchors"] = {"settings": settings, "datasets": datasets}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = command_markdown(results.get("command", []), results.get("command_date", ""))
    if results.get("dense_anchor"):
        lines += [""] + dense_anchor_markdown(results["dense_anchor"], results.get("command", []), args.anchor_timeout)
    if results.get("anchors"):
        lines += [""] + anchors.markdown(results["anchors"])
    text = "\n".join(lines) + "\n"
    (args.out / "results.md").write_text(text, encoding="utf-8")
    print(text)
    return 0

if __name__ == "__main__":
    sys.exit(main())
