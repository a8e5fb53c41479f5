"""End-to-end benchmark of gridgeo on the real datasets in ../shared/data.

Usage: python scripts/benchmark.py [--repeats 3] [--datasets taipei_wanhua_datong porto ...]
                                  [--tiled 100000 ...] [--workers 1 2]

Each run is a fresh subprocess doing read → partition → units → write
(GeoPackage + GeoJSON + report), so the time and peak memory include
everything a user waits for.  The median of the repeats is reported, with the
quality figures of gridgeo.metrics.  Results go to benchmarks/results.md and
benchmarks/results.json.

``--tiled N`` adds scale-ups made by tiling translated copies of porto and
taipei_wanhua_datong side by side (scripts/tiles.py), labelled as tiled.
``--workers`` runs each input with those process counts.  The side-by-side
comparison with the anchors (gerrychain, spopt, scikit-learn) is not measured here yet.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks"

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--tiled", nargs="*", type=int, default=[], help="building counts of tiled scale-ups")
    parser.add_argument("--workers", nargs="*", type=int, default=[1])
    args = parser.parse_args()
    names = args.datasets if args.datasets is not None else sorted(p.name for p in SHARED.iterdir() if (p / "buildings.gpkg").exists())
    inputs = [(name, SHARED / name) for name in names]
    scratch = Path(tempfile.mkdtemp(prefix="gridgeo-tiles-"))
    for count in args.tiled:
        for base in ("porto", "taipei_wanhua_datong"):
            folder = scratch / f"{base}-tiled-{count}"
            subprocess.run([sys.executable, str(REPO / "scripts" / "tiles.py"), base, str(count), str(folder)], check=True, capture_output=True)
            inputs.append((f"{base} tiled to ~{count:,}", folder))
    rows = []
    for name, folder in inputs:
        for workers in args.workers:
            runs = [run_once(folder, workers) for _ in range(args.repeats)]
            med = {key: statistics.median(r[key] for r in runs) for key in ("read_s", "partition_s", "write_s", "total_s", "peak_mb")}
            row = {"dataset": name, "workers": workers, "buildings": runs[0]["buildings"], "communities": runs[0]["communities"], "repeats": args.repeats, **med, "summary": runs[0]["summary"]}
            rows.append(row)
            print(f"{name} (workers {workers}): {row['total_s']:.2f} s total (partition {row['partition_s']:.2f} s), peak {row['peak_mb']:.0f} MB", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# gridgeo benchmark (end to end: read → partition → units → GeoPackage + GeoJSON + report)",
        "",
        f"Median of {args.repeats} runs per input, households = `hh_est`, grids 300–500, units 10–15, on a 2-core machine. "
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
    (OUT / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
