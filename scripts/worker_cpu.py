"""Cpu seconds per worker stage of ``gridgeo partition`` (the per-community work), in one process, and a digest of the results.

Usage: python scripts/worker_cpu.py FOLDER [--households hh_est] [--repeats 3]

Reads ``FOLDER/communities.gpkg`` and ``FOLDER/buildings.gpkg`` as the command
does (``--building-id building_id``, default options), builds the
communities' tasks, then runs every task in this process ``--repeats`` times,
timing the worker's stages (:mod:`gridgeo.timings`) with the process's cpu
clock instead of the wall clock: on a machine shared with other work the cpu
seconds hold where the wall seconds do not.  Prints the median per stage and
in total, and a SHA-256 of every result (grids per building, grid and unit
geometries, notes, units, tours): two checkouts whose digests are equal give
the same partitions.  Run it with ``PYTHONPATH`` set to the checkout to time.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely


class _CpuClock:
    """Stands in for the ``time`` module in :mod:`gridgeo.timings`: its stages are then cpu seconds."""

    perf_counter = staticmethod(time.process_time)


def community_tasks_of(folder: Path, households: str) -> list:
    """The tasks ``gridgeo partition`` (default options) hands its workers for the dataset in ``folder``."""
    import contextlib
    import io
    import tempfile

    import gridgeo.api as api
    from gridgeo.cli import main as cli

    captured: list = []

    class _Captured(Exception):
        pass

    def capture(func, tasks, **options):
        captured.extend(tasks)
        raise _Captured

    original = api.map_completed
    api.map_completed = capture
    try:
        # the command reports the interruption as an internal error: its stderr is dropped
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
            cli([
                "-q", "partition", f"{folder / 'communities.gpkg'}:communities", f"{folder / 'buildings.gpkg'}:buildings",
                "--households", households, "--building-id", "building_id", "-o", str(Path(tmp) / "out"),
            ])  # fmt: skip
    except (_Captured, SystemExit):
        pass
    finally:
        api.map_completed = original
    if not captured:
        raise SystemExit(f"{folder}: the command stopped before its communities (run it alone to see why)")
    return captured


def digest_of(results: list) -> str:
    """SHA-256 of what the workers return, in task order."""
    digest = hashlib.sha256()
    for r in results:
        digest.update(np.asarray(r.building_grid, dtype=np.int64).tobytes())
        digest.update(b"".join(shapely.to_wkb(r.grid_geoms)))
        digest.update(repr(r.notes).encode())
        digest.update(repr(r.grid_units).encode())
        for geoms in r.unit_geoms or []:
            digest.update(b"".join(shapely.to_wkb(list(geoms))) if len(geoms) else b"")
        digest.update(np.asarray(r.grid_tours).tobytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--households", default="hh_est")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from gridgeo import timings
    from gridgeo.partition.engine import run_community_task

    tasks = community_tasks_of(args.folder, args.households)
    timings.time = _CpuClock
    passes = []
    for _ in range(args.repeats):
        totals: dict[str, float] = {}
        start = time.process_time()
        results = [run_community_task(task) for task in tasks]
        for result in results:
            for name, seconds in result.timings.items():
                totals[name] = totals.get(name, 0.0) + seconds
        totals["total"] = time.process_time() - start
        passes.append(totals)
    print(f"{args.folder.name}: {len(tasks)} communities, {sum(len(t.buildings) for t in tasks)} buildings, median of {len(passes)}")
    for name in passes[0]:
        values = [p.get(name, 0.0) for p in passes]
        print(f"  {name:24s} {statistics.median(values):7.3f}   ({', '.join(f'{v:.3f}' for v in values)})")
    print(f"  digest {digest_of(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
