"""The writers forked side by side: only as many copies of the process as the available memory holds."""

from __future__ import annotations

import os

from gridgeo.outputs import export


def _writer(folder, name):
    def job():
        (folder / name).write_text(str(os.getpid()), encoding="ascii")

    return job


def test_forks_that_fit_is_bounded():
    fit = export._forks_that_fit(3)
    assert 0 <= fit <= 3
    # this test process is a few hundred MB: a machine that runs the suite holds three copies of it
    assert fit == 3


def test_jobs_without_room_run_here(tmp_path, monkeypatch):
    """With room for one fork, the first job and the third run in this process and the second in a child; all are written."""
    monkeypatch.setattr(export, "_forks_that_fit", lambda wanted: min(wanted, 1))
    monkeypatch.setattr(export.os, "cpu_count", lambda: 2)
    # other tests may leave idle threads (a Dask cluster's) in this process; these jobs only write a file
    monkeypatch.setattr(export.threading, "active_count", lambda: 1)
    export.run_side_by_side([_writer(tmp_path, "a"), _writer(tmp_path, "b"), _writer(tmp_path, "c")])
    pids = {name: int((tmp_path / name).read_text(encoding="ascii")) for name in "abc"}
    assert pids["a"] == pids["c"] == os.getpid() != pids["b"]


def test_no_room_runs_every_job_here(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "_forks_that_fit", lambda wanted: 0)
    export.run_side_by_side([_writer(tmp_path, "a"), _writer(tmp_path, "b")])
    assert {(tmp_path / name).read_text(encoding="ascii") for name in "ab"} == {str(os.getpid())}
