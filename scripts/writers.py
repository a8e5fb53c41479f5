"""CPU seconds of each writer of ``gridgeo partition`` (GeoPackage, GeoJSON, map, report), each in a forked process as the command runs it.

Usage: python scripts/writers.py FOLDER [--households COL] [--repeats N] [--out FILE.json]

Runs the default command (``gridgeo -q partition FOLDER/communities.gpkg:communities
FOLDER/buildings.gpkg:buildings --households COL --building-id building_id``) in
this process, and where it would write its files side by side
(:func:`gridgeo.outputs.side_by_side.run_side_by_side`) runs each of the same
writing jobs ``--repeats`` times alone, each time in a child forked from the
parent as the command forks its writers (the parent frozen for the collector),
and prints the median of each job's cpu seconds.  CPU seconds hold on a
shared machine where wall times do not; the files are written into a
temporary folder and thrown away.  The checkout whose gridgeo runs is the one
on ``PYTHONPATH`` (compare two by running the script from each).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

#: the writing jobs of a default run, in the order write_outputs hands them over (GeoPackage, GeoJSON, then the extras)
JOBS = ("GeoPackage", "GeoJSON", "map", "report")  # the order the command forks them in


def _cpu_in_child(job) -> float:
    """The cpu seconds of ``job()`` in a child forked from this process."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run the job, send its cpu seconds, leave without cleaning up the parent's state
        os.close(read)
        start = time.process_time()
        try:
            job()
            message = repr(time.process_time() - start)
        except BaseException as exc:  # noqa: BLE001 - reported by the parent
            message = f"error {type(exc).__name__}: {exc}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    if message.startswith("error"):
        raise RuntimeError(f"a writer failed: {message}")
    return float(message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder with communities.gpkg and buildings.gpkg (layers of those names)")
    parser.add_argument(
        "--households",
        default="hh_dense",
        help="households column (hh_dense for the dense sets of scripts/dense.py, hh_est for the real datasets)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the seconds to this JSON file")
    args = parser.parse_args(argv)

    from gridgeo.cli import main as cli
    from gridgeo.outputs import export

    seconds: dict[str, list[float]] = {}

    def timed_side_by_side(jobs: list, *, then=None) -> None:
        if len(jobs) != len(JOBS):
            raise RuntimeError(f"{len(jobs)} writing jobs, expected {len(JOBS)} ({', '.join(JOBS)})")
        gc.freeze()  # as run_side_by_side does before it forks the writers
        try:
            for name, job in zip(JOBS, jobs):
                seconds[name] = [_cpu_in_child(job) for _ in range(args.repeats)]
        finally:
            gc.unfreeze()
        if then is not None:
            then()  # what the command's own process writes meanwhile (report.json, the GeoPackage's styles, …)

    export.run_side_by_side = timed_side_by_side
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "-q", "partition", f"{args.folder / 'communities.gpkg'}:communities", f"{args.folder / 'buildings.gpkg'}:buildings",
            "--households", args.households, "--building-id", "building_id", "-o", str(Path(tmp) / "out"),
        ]  # fmt: skip
        cli(command, standalone_mode=False)
    medians = {name: round(statistics.median(values), 3) for name, values in seconds.items()}
    for name in JOBS:
        print(f"{name:<11} {medians[name]:7.3f} cpu s (median of {args.repeats}: {', '.join(f'{v:.3f}' for v in seconds[name])})")
    print(f"{'all':<11} {sum(medians.values()):7.3f} cpu s")
    if args.out:
        args.out.write_text(
            json.dumps({"folder": str(args.folder), "median_cpu_s": medians, "cpu_s": seconds}, indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
