"""Benchmark of gridgeo on the real datasets in ../shared/data: end to end, and side by side with the anchors.

Usage: python scripts/benchmark.py [--repeats 3] [--datasets taipei_wanhua_datong porto ...]
                                  [--tiled 100000 ...] [--workers 1 2]
                                  [--anchors gerrychain-tree gerrychain-seed kmeans skater maxp]
                                  [--anchor-timeout 60] [--anchor-memory-mb 4096] [--anchor-repeats 1]

End to end: each run is a fresh subprocess doing read → partition → units →
write (GeoPackage + GeoJSON + report), so the time and peak memory include
everything a user waits for.  The median of the repeats is reported, with the
quality figures of gridgeo.metrics.

Anchors (scripts/anchors.py, needs the ``bench`` extra: gerrychain, spopt,
scikit-learn): per real dataset, gridgeo and each anchor split the same
communities on the same cell graphs (built once, untimed), each method in its
own worker process with a time and memory limit per community; only the
partitioning call is timed (gridgeo: median of --repeats; anchors: median of
--anchor-repeats, default one run).  Reported per method: time, peak memory,
the gridgeo.metrics quality figures, failures (timeout, exception, memory),
and the faster gerrychain function's time over gridgeo's.  Tiled inputs are
not given to the anchors.

Results go to benchmarks/results.md and benchmarks/results.json
(``{"end_to_end": [...], "anchors": {...}}``); a part not run this time
(``--no-end-to-end``, or ``--anchors`` with no names) is kept from the
previous results.json.

``--tiled N`` adds scale-ups made by tiling translated copies of porto and
taipei_wanhua_datong side by side (scripts/tiles.py), labelled as tiled.
``--workers`` runs each input with those process counts.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import anchors

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks"

logger = logging.getLogger("benchmark")

RUN = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import geopandas as gpd
import gridgeo
folder, outdir, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
t1 = time.perf_counter()
communities = gpd.read_file(f"{folder}/communities.gpkg", layer="communities")
buildings = gpd.read_file(f"{folder}/buildings.gpkg", layer="buildings")
t2 = time.perf_counter()
result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", workers=workers)
t3 = time.perf_counter()
result.to_files(outdir, overwrite=True)
t4 = time.perf_counter()
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"read_s": t2 - t1, "partition_s": t3 - t2, "write_s": t4 - t3, "total_s": t4 - t1,
                  "peak_mb": peak_mb, "buildings": len(buildings), "communities": len(communities),
                  "summary": result.report["summary"]}))
"""


def run_once(folder: Path, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-c", RUN, str(folder), str(Path(tmp) / "out"), str(workers)],
            check=True,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].splitlines()[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per end-to-end input, and gridgeo's runs per community in the anchor comparison (median kept)")
    parser.add_argument("--datasets", nargs="*", default=None, help="folders of ../shared/data (default: all)")
    parser.add_argument("--tiled", nargs="*", type=int, default=[], help="building counts of tiled scale-ups (end to end only)")
    parser.add_argument("--workers", nargs="*", type=int, default=[1], help="process counts of the end-to-end runs")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the end-to-end runs (keep the previous ones in the results)")
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
    parser.add_argument("--seed", type=int, default=0, help="seed of gridgeo and the anchors")
    parser.add_argument("--out", type=Path, default=OUT, help="folder of results.md and results.json (default benchmarks/)")
    return parser.parse_args(argv)


def end_to_end(inputs: list[tuple[str, Path]], workers: list[int], repeats: int) -> list[dict]:
    """Median figures of ``repeats`` fresh end-to-end runs per input and worker count."""
    rows = []
    for name, folder in inputs:
        for count in workers:
            runs = [run_once(folder, count) for _ in range(repeats)]
            med = {key: statistics.median(r[key] for r in runs) for key in ("read_s", "partition_s", "write_s", "total_s", "peak_mb")}
            row = {"dataset": name, "workers": count, "buildings": runs[0]["buildings"], "communities": runs[0]["communities"], "repeats": repeats, **med, "summary": runs[0]["summary"]}
            rows.append(row)
            logger.info("%s (workers %d): %.2f s total (partition %.2f s), peak %.0f MB", name, count, row["total_s"], row["partition_s"], row["peak_mb"])
    return rows


def end_to_end_markdown(rows: list[dict]) -> list[str]:
    """The end-to-end section of results.md."""
    repeats = sorted({r["repeats"] for r in rows})
    lines = [
        "# gridgeo benchmark (end to end: read → partition → units → GeoPackage + GeoJSON + report)",
        "",
        f"Median of {' or '.join(map(str, repeats))} runs per input, households = `hh_est`, grids 300–500, units 10–15, on a 2-core machine. "
        "Peak MB is the parent process (workers add their own). Tiled inputs are translated copies of a real dataset. "
        "Made by `scripts/benchmark.py`.",
        "",
        "| input | workers | buildings | communities | total s | partition s | write s | peak MB | grids | defects (proven infeasible) | excused | one piece | max gap | max overlap | PP mean | PP min | units in band |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r["summary"]
        lines.append(
            f"| {r['dataset']} | {r['workers']} | {r['buildings']} | {r['communities']} | {r['total_s']:.2f} | {r['partition_s']:.2f} | "
            f"{r['write_s']:.2f} | {r['peak_mb']:.0f} | {s['n_grids']} | {s['n_defects']} ({s['n_defects_proven_infeasible']}) | "
            f"{s['n_excused']} | {s['share_one_piece']:.0%} | {s['max_gap_ratio']:.1e} | {s['max_overlap_ratio']:.1e} | "
            f"{s['polsby_popper_mean']:.3f} | {s['polsby_popper_min']:.3f} | {s.get('share_units_in_band', 0):.2%} |"
        )
    return lines


def previous_results(folder: Path) -> dict:
    """The results.json of an earlier run (the old format was the list of end-to-end rows)."""
    path = folder / "results.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"end_to_end": data} if isinstance(data, list) else data


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
        inputs = [(name, SHARED / name) for name in names]
        scratch = Path(tempfile.mkdtemp(prefix="gridgeo-tiles-"))
        for count in args.tiled:
            for base in ("porto", "taipei_wanhua_datong"):
                folder = scratch / f"{base}-tiled-{count}"
                subprocess.run([sys.executable, str(REPO / "scripts" / "tiles.py"), base, str(count), str(folder)], check=True, capture_output=True)
                inputs.append((f"{base} tiled to ~{count:,}", folder))
        results["end_to_end"] = end_to_end(inputs, args.workers, args.repeats)
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
    lines = end_to_end_markdown(results.get("end_to_end", []))
    if results.get("anchors"):
        lines += [""] + anchors.markdown(results["anchors"])
    text = "\n".join(lines) + "\n"
    (args.out / "results.md").write_text(text, encoding="utf-8")
    print(text)
    return 0

if __name__ == "__main__":
    sys.exit(main())
