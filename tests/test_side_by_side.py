"""The writers forked side by side: only as many copies of the process at a time as the available memory holds."""

from __future__ import annotations

import gc
import os

import pytest

from gridgeo.outputs import side_by_side


def _writer(folder, name):
    def job():
        (folder / name).write_text(str(os.getpid()), encoding="ascii")

    return job


@pytest.fixture
def forking(monkeypatch):
    monkeypatch.setattr(side_by_side, "default_workers", lambda: 2)
    # other tests may leave idle threads (a Dask cluster's) in this process; these jobs only write a file
    monkeypatch.setattr(side_by_side.threading, "active_count", lambda: 1)


def _pids(folder, names):
    return {name: int((folder / name).read_text(encoding="ascii")) for name in names}


def test_forks_that_fit_is_bounded():
    fit = side_by_side._forks_that_fit(3)
    assert 0 <= fit <= 3
    # this test process is a few hundred MB: a machine that runs the suite holds three copies of it
    assert fit == 3


def test_jobs_without_room_wait_for_a_writer(tmp_path, monkeypatch, forking):
    """With room for one fork at a time, the first job runs here and the others in children, one after the other."""
    monkeypatch.setattr(side_by_side, "_forks_that_fit", lambda wanted: min(wanted, 1))
    side_by_side.run_side_by_side([_writer(tmp_path, "a"), _writer(tmp_path, "b"), _writer(tmp_path, "c")])
    pids = _pids(tmp_path, "abc")
    assert pids["a"] == os.getpid()
    assert os.getpid() not in (pids["b"], pids["c"]) and pids["b"] != pids["c"]


def test_jobs_run_here_when_no_room_is_left(tmp_path, monkeypatch, forking):
    """Room for one fork at first and none after: the third job runs here once the second writer is done."""
    rooms = iter([1, 0, 0, 0])
    monkeypatch.setattr(side_by_side, "_forks_that_fit", lambda wanted: min(wanted, next(rooms)))
    side_by_side.run_side_by_side([_writer(tmp_path, "a"), _writer(tmp_path, "b"), _writer(tmp_path, "c")])
    pids = _pids(tmp_path, "abc")
    assert pids["a"] == pids["c"] == os.getpid() != pids["b"]


def test_no_room_runs_every_job_here(tmp_path, monkeypatch, forking):
    monkeypatch.setattr(side_by_side, "_forks_that_fit", lambda wanted: 0)
    side_by_side.run_side_by_side([_writer(tmp_path, "a"), _writer(tmp_path, "b"), _writer(tmp_path, "c")])
    assert set(_pids(tmp_path, "abc").values()) == {os.getpid()}


def test_an_error_in_a_writer_is_raised_here(tmp_path, forking):
    def failing():
        raise ValueError("disk on fire")

    with pytest.raises(ValueError, match="disk on fire"):
        side_by_side.run_side_by_side([_writer(tmp_path, "a"), failing, _writer(tmp_path, "c")])
    assert (tmp_path / "a").exists()


def test_writers_see_the_parent_frozen_and_it_is_thawed_after(tmp_path, forking):
    """The parent's objects are out of the collector's reach while writers are forked (a child's collections do
    not walk them), and back in it afterwards, also after a failing job."""
    held = [[i] for i in range(1000)]  # objects the collector tracks, alive in the parent

    def frozen(name):
        def job():
            (tmp_path / name).write_text(str(gc.get_freeze_count()), encoding="ascii")

        return job

    side_by_side.run_side_by_side([frozen("here"), frozen("child")])
    assert int((tmp_path / "here").read_text(encoding="ascii")) >= len(held)
    assert int((tmp_path / "child").read_text(encoding="ascii")) >= len(held)
    assert gc.get_freeze_count() == 0

    def failing():
        raise RuntimeError("a writer failed")

    with pytest.raises(RuntimeError, match="a writer failed"):
        side_by_side.run_side_by_side([frozen("here"), failing])
    assert gc.get_freeze_count() == 0


def test_one_process_per_core(tmp_path, forking):
    """On two cores one writer runs beside this process's job, two once it is done: never more processes than cores."""
    import time

    def timed(name, seconds):
        def job():
            start = time.monotonic()
            time.sleep(seconds)
            (tmp_path / name).write_text(f"{start} {time.monotonic()}", encoding="ascii")

        return job

    side_by_side.run_side_by_side([timed(name, 1.0 if name == "a" else 0.3) for name in "abcde"])
    spans = {name: tuple(map(float, (tmp_path / name).read_text(encoding="ascii").split())) for name in "abcde"}
    assert spans["b"][0] < spans["a"][1]  # the first writer beside this process's job
    assert all(spans[name][0] >= spans["a"][1] for name in "cde")  # the others once it is done
    for t in sorted(start for start, _ in spans.values()):  # at most two at any start
        assert sum(start <= t < end for start, end in spans.values()) <= 2


def test_then_runs_here_while_the_next_writers_work(tmp_path, forking):
    """``then`` runs in this process once the first job is done and the next writer is forked, before that writer
    ends; without forking it runs after every job."""
    import time

    def timed(name, seconds):
        def job():
            time.sleep(seconds)
            (tmp_path / name).write_text(f"{os.getpid()} {time.monotonic()}", encoding="ascii")

        return job

    side_by_side.run_side_by_side([timed("a", 0.2), timed("b", 0.2), timed("c", 1.0)], then=timed("then", 0.0))
    ended = {name: (tmp_path / name).read_text(encoding="ascii").split() for name in ("a", "b", "c", "then")}
    assert int(ended["then"][0]) == int(ended["a"][0]) == os.getpid() != int(ended["c"][0])
    assert float(ended["a"][1]) <= float(ended["then"][1]) < float(ended["c"][1])  # c (forked after a) still at work
    order = []
    side_by_side.run_side_by_side([lambda: order.append("a")], then=lambda: order.append("then"))  # one job: no fork
    assert order == ["a", "then"]
