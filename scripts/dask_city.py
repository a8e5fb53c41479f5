"""City scale through Dask: ``gridgeo partition --scheduler`` on a local cluster, timed, with the parent's peak memory.

Usage: python scripts/dask_city.py FOLDER [FOLDER ...] [--households hh_dense] [--dask-workers 2]
                                  [--nice 10] [--out FILE.json] [-- any other `gridgeo partition` option]

Each FOLDER holds ``communities.gpkg`` (layer ``communities``) and
``buildings.gpkg`` (layer ``buildings``), for example the dense sets of
``scripts/dense.py`` tiled to about 100,000 and 1,000,000 buildings
(``--tile-to``; translated copies of a real district, labelled as derived).

The script starts a Dask ``LocalCluster`` of ``--dask-workers`` worker
processes (one thread each) and runs, per folder, the command a planner types
with the default outputs (GeoPackage, GeoJSON, report, map, workload) as a
fresh process::

    gridgeo partition FOLDER/communities.gpkg:communities FOLDER/buildings.gpkg:buildings \\
        --households COL --building-id building_id -o OUT --scheduler tcp://127.0.0.1:PORT

The parent process reads the layers, sends one task per community to the
cluster, gathers the results and writes the outputs.  Reported per folder:
the wall time; the cpu seconds of the command (with the writers it forks) and of the
Dask workers; the parent's peak resident memory (sampled every 0.2 s with
psutil, the parent alone, and the parent with the writers it forks); the
peak of ``wait4``'s ``ru_maxrss`` (the largest single process of the command);
each Dask worker's peak resident memory (sampled the same way); the parent's
resident memory once a second (in the JSON file) and its peak within each stage's window; the stage
times of the command's ``--timings`` file; and, from the second folder on,
the time per building over the first folder's (1.00 = linear), in wall and in
cpu seconds (the cpu figure holds on a machine shared with other work).

Everything runs at the niceness ``--nice`` (default 10): the machine may be
shared.  The command is the first process the kernel ends if memory runs out
(``oom_score_adj`` 1000), and ``--max-memory-gb`` caps its address space so that
it stops with a MemoryError rather than push the machine into swapping.  The outputs go to a temporary folder and are deleted, unless
``--keep DIR`` is given; with ``--out FILE.json`` the command's messages go to
``FILE.FOLDER.stderr.log`` beside it as it runs (add ``-- --progress`` for a
progress bar there).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]


class PeakSampler(threading.Thread):
    """Samples the resident memory of some processes every ``interval`` seconds, keeping the peaks."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.watched: dict[str, list[psutil.Process]] = {}
        self.peaks: dict[str, float] = {}
        self.with_children: dict[str, bool] = {}
        self.timeline: list[tuple[float, float]] = []  # (seconds from the start, the first watched name's MB), once a second
        self._halt = threading.Event()

    def watch(self, name: str, processes: list[psutil.Process], *, children: bool = False) -> None:
        self.watched[name] = processes
        self.with_children[name] = children
        self.peaks[name] = 0.0

    def run(self) -> None:
        start = time.perf_counter()
        while not self._halt.is_set():
            for n, (name, processes) in enumerate(list(self.watched.items())):
                total = 0
                for process in processes:
                    try:
                        total += process.memory_info().rss
                        if self.with_children[name]:
                            total += sum(child.memory_info().rss for child in process.children(recursive=True))
                    except psutil.Error:
                        continue
                self.peaks[name] = max(self.peaks[name], total / 2**20)
                now = time.perf_counter() - start
                if n == 0 and (not self.timeline or now - self.timeline[-1][0] >= 1.0):
                    self.timeline.append((round(now, 1), round(total / 2**20, 1)))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _cpu_seconds(process: psutil.Process) -> float:
    """User and system seconds of ``process`` and its children (a Dask nanny's worker is its child)."""
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _guarded(max_memory_gb: float | None):
    """A ``preexec_fn``: the command is the first process the kernel ends when memory runs out, and
    (``max_memory_gb``) its address space is capped, so it fails with a MemoryError instead of the machine swapping."""

    def setup() -> None:
        try:
            Path("/proc/self/oom_score_adj").write_text("1000")
        except OSError:
            pass
        if max_memory_gb:
            limit = int(max_memory_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return setup


def peaks_by_stage(timeline: list[tuple[float, float]], stages: dict[str, float]) -> dict[str, float]:
    """The parent's largest sampled resident MB within each stage's window (the stages in order, from the process start).

    The stage times come from the command's ``--timings`` file; the windows
    are their running sums, so they are as exact as the one-second timeline.
    """
    out, start = {}, 0.0
    for name, seconds in stages.items():
        inside = [mb for t, mb in timeline if start <= t < start + max(seconds, 1.0)]
        out[name] = max(inside) if inside else None
        start += seconds
    return out


def run_one(folder: Path, households: str, scheduler: str, worker_processes: list[psutil.Process], outdir: Path, extra: list[str], max_memory_gb: float | None = None, log: Path | None = None) -> dict:
    """One ``gridgeo partition --scheduler`` process on ``folder``: times, memory peaks, stage times, summary."""
    timings = outdir.parent / f"{outdir.name}.timings.json"
    command = [
        sys.executable, "-m", "gridgeo.cli", "partition",
        f"{folder / 'communities.gpkg'}:communities", f"{folder / 'buildings.gpkg'}:buildings",
        "--households", households, "--building-id", "building_id", "-o", str(outdir),
        "--scheduler", scheduler, "--timings", str(timings), *extra,
    ]  # fmt: skip
    sampler = PeakSampler()
    worker_cpu = [_cpu_seconds(worker) for worker in worker_processes]
    start = time.perf_counter()
    log_path = outdir.parent / f"{outdir.name}.stderr.log" if log is None else log
    log_file = open(log_path, "wb")  # the command's messages (and --progress), readable while it runs
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, cwd=outdir.parent, preexec_fn=_guarded(max_memory_gb))
    parent = psutil.Process(process.pid)
    sampler.watch("parent", [parent])
    sampler.watch("parent and its writers", [parent], children=True)
    for i, worker in enumerate(worker_processes):
        sampler.watch(f"dask worker {i + 1}", [worker], children=True)
    sampler.start()
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    worker_cpu = [_cpu_seconds(worker) - before for worker, before in zip(worker_processes, worker_cpu)]
    sampler.stop()
    log_file.close()
    error = log_path.read_bytes().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"gridgeo partition failed on {folder} (exit {os.waitstatus_to_exitcode(status)}): {error[-3000:]}")
    record = json.loads(timings.read_text(encoding="utf-8"))
    summary = json.loads((outdir / "report.json").read_text(encoding="utf-8"))["summary"]
    return {
        "folder": str(folder),
        "command": command,
        "wall_s": round(wall, 2),
        "cpu_s_parent_and_writers": round(usage.ru_utime + usage.ru_stime, 2),
        "cpu_s_dask_workers": round(sum(worker_cpu), 2),
        "peak_mb": {name: round(value, 1) for name, value in sampler.peaks.items()},
        "ru_maxrss_mb": round(usage.ru_maxrss / 1024, 1),
        "parent_mb_timeline": sampler.timeline,
        "parent_peak_mb_by_stage": peaks_by_stage(sampler.timeline, record["stages_s"]),
        "timings": record,
        "summary": summary,
        "stdout": stdout.decode("utf-8", "replace").strip().splitlines()[-3:],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--households", default="hh_dense", help="households column (default hh_dense: scripts/dense.py)")
    parser.add_argument("--dask-workers", type=int, default=2, help="worker processes of the local cluster (default 2)")
    parser.add_argument("--nice", type=int, default=10, help="niceness of the whole run (default 10)")
    parser.add_argument("--out", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--max-memory-gb", type=float, default=None, help="cap the command's address space (RLIMIT_AS) at this many GiB: a MemoryError instead of swapping")
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder (one subfolder per input)")
    args = parser.parse_args(argv)
    os.nice(args.nice)
    # the cluster's workers import this checkout's gridgeo, like the command does
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    from distributed import Client, LocalCluster

    results = []
    with LocalCluster(n_workers=args.dask_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        pids = client.run(os.getpid)
        workers = [psutil.Process(pid) for pid in pids.values()]
        print(f"Dask LocalCluster {cluster.scheduler_address}: {len(workers)} workers, 1 thread each", flush=True)
        for folder in args.folders:
            tmp = Path(tempfile.mkdtemp(prefix="gridgeo-dask-"))
            try:
                outdir = (args.keep / folder.name) if args.keep else tmp / "out"
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.rmtree(outdir, ignore_errors=True)
                    outdir = outdir.resolve()
                log = args.out.with_name(f"{args.out.stem}.{folder.name}.stderr.log") if args.out else None
                record = run_one(folder.resolve(), args.households, cluster.scheduler_address, workers, outdir, extra, args.max_memory_gb, log)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            summary = record["summary"]
            record["buildings"] = int(record["timings"].get("buildings") or summary.get("buildings", 0))
            record["s_per_1000_buildings"] = round(1000 * record["wall_s"] / record["buildings"], 4)
            cpu = record["cpu_s_parent_and_writers"] + record["cpu_s_dask_workers"]
            record["cpu_s_per_1000_buildings"] = round(1000 * cpu / record["buildings"], 4)
            if results:
                record["linearity_vs_first"] = round(record["s_per_1000_buildings"] / results[0]["s_per_1000_buildings"], 3)
                record["cpu_linearity_vs_first"] = round(record["cpu_s_per_1000_buildings"] / results[0]["cpu_s_per_1000_buildings"], 3)
            results.append(record)
            peaks = ", ".join(f"{k} {v:,.0f} MB" for k, v in record["peak_mb"].items())
            print(
                f"{folder}: {record['buildings']:,} buildings, {record['wall_s']:.1f} s wall "
                f"({record['s_per_1000_buildings']:.3f} s per 1,000 buildings"
                + f"; cpu {record['cpu_s_parent_and_writers']:.0f} s parent and writers + {record['cpu_s_dask_workers']:.0f} s Dask workers"
                + (
                    f"; {record['linearity_vs_first']:.2f} × linear from the first in wall time, {record['cpu_linearity_vs_first']:.2f} × in cpu time"
                    if "linearity_vs_first" in record
                    else ""
                )
                + f"); peak memory: {peaks}; ru_maxrss {record['ru_maxrss_mb']:,.0f} MB",
                flush=True,
            )
            print("  stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in record["timings"]["stages_s"].items()), flush=True)
            print("  parent's peak MB by stage: " + ", ".join(f"{k} {v:,.0f}" for k, v in record["parent_peak_mb_by_stage"].items() if v is not None), flush=True)
            if args.out:
                args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
