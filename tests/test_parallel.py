"""A process pool and a Dask cluster give byte-identical outputs to a serial run."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import gridgeo

from .conftest import file_hashes


@pytest.fixture(scope="module")
def serial(taipei_small, tmp_path_factory):
    communities, buildings = taipei_small
    out = tmp_path_factory.mktemp("par") / "serial"
    gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", seed=3).to_files(out)
    return out


def test_two_workers_give_identical_files(taipei_small, serial, tmp_path):
    communities, buildings = taipei_small
    out = tmp_path / "pool"
    gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", seed=3, workers=2).to_files(out)
    assert file_hashes(out) == file_hashes(serial)


def test_dask_local_cluster_gives_identical_files(taipei_small, serial, tmp_path):
    distributed = pytest.importorskip("distributed", reason="install gridgeo[dask]")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        communities, buildings = taipei_small
        out = tmp_path / "dask"
        result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", seed=3, scheduler=cluster.scheduler_address)
        result.to_files(out)
    assert file_hashes(out) == file_hashes(serial)


def test_unreachable_scheduler_is_a_clear_error(taipei_small):
    communities, buildings = taipei_small
    with pytest.raises(gridgeo.InputError, match="cannot reach"):
        gridgeo.partition(communities, buildings, households="hh_est", scheduler="tcp://127.0.0.1:9")


def test_large_dask_results_leave_no_thread_behind():
    """Results above Dask's offload size (10 MiB) leave the calling process with its main thread only,
    so the writers of a ``--scheduler`` run can still be forked side by side (gridgeo.outputs.side_by_side.run_side_by_side)."""
    distributed = pytest.importorskip("distributed", reason="install gridgeo[dask]")
    repo = str(Path(gridgeo.__file__).resolve().parents[1])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code = (
            "import threading\nfrom gridgeo.parallel import map_ordered\n"
            f"out = map_ordered(bytes, [30_000_000, 3], scheduler={cluster.scheduler_address!r})\n"
            "print(len(out[0]), len(out[1]), ','.join(sorted(t.name for t in threading.enumerate())))\n"
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["30000000", "3", "MainThread"]


def test_dask_with_progress_bar():
    """``--progress`` with ``--scheduler``: the bar follows the run's own client (not a default one)."""
    distributed = pytest.importorskip("distributed", reason="install gridgeo[dask]")
    from gridgeo.parallel import map_ordered

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert map_ordered(abs, [-2, 1, -3], scheduler=cluster.scheduler_address, progress=True) == [2, 1, 3]


def test_progress_bar_leaves_no_thread_behind():
    """A finished ``--progress`` bar leaves no thread (tqdm's monitor), so the writers can still fork side by side."""
    import threading
    import time

    from gridgeo.progress import progress_bar

    before = {t.name for t in threading.enumerate()}
    assert [x for x in progress_bar(range(3), enabled=True, desc="test", mininterval=0) if time.sleep(0.01) is None] == [0, 1, 2]
    assert {t.name for t in threading.enumerate()} <= before


@pytest.mark.skipif(multiprocessing.get_context().get_start_method() != "fork", reason="forked workers only")
def test_forked_workers_are_sent_positions_not_pickled_items():
    """Where the pool forks its workers they inherit the function and the items: neither is pickled (a lambda and
    items that cannot be pickled work), and the results are those of a serial run, each at its item's position."""
    from gridgeo.parallel import map_completed, map_ordered

    items = [(threading.Lock(), n) for n in range(7)]  # a lock cannot be pickled
    square = lambda item: item[1] ** 2  # noqa: E731  (nor can a lambda)
    assert map_ordered(square, items, workers=2, weights=[n % 3 for n in range(7)]) == [n**2 for n in range(7)]
    assert sorted(map_completed(square, items, workers=2)) == [(n, n**2) for n in range(7)]
