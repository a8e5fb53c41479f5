"""Wall times of the stages of a run, kept in memory for benchmarks and never written to the outputs.

Each process keeps its own totals: :func:`stage` adds the time spent in a
``with`` block to a named total, :func:`take` returns the totals and starts
afresh.  Stages nest: the time of an inner stage counts for the inner stage
only, so the totals add up to the time spent in the outermost blocks.  A community's worker hands its totals back with its result
(:class:`gridgeo.partition.engine.CommunityResult`), and ``gridgeo partition --timings
FILE.json`` writes the parent's stages and the summed workers' stages to
FILE.json (outside OUTDIR: the outputs are the same with or without it).

The cost is two clock readings per block, so the totals are always kept.

Examples
--------
>>> with stage("example"):
...     pass
>>> "example" in take()
True
>>> take()
{}
>>> with stage("outer"):
...     with stage("inner"):
...         pass
>>> sorted(take())
['inner', 'outer']
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["stage", "timed", "lap", "add", "take", "process_age"]

_lock = threading.Lock()
_totals: dict[str, float] = {}
_local = threading.local()


def add(name: str, seconds: float) -> None:
    """Add ``seconds`` to the total of stage ``name`` in this process."""
    with _lock:
        _totals[name] = _totals.get(name, 0.0) + float(seconds)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the wall time of the ``with`` block to the total of stage ``name``."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    frame = [0.0]  # time spent in stages nested in this one
    stack.append(frame)
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        stack.pop()
        if stack:
            stack[-1][0] += elapsed
        add(name, elapsed - frame[0])


def lap(name: str, since: float) -> float:
    """Add the time since ``since`` (a :func:`time.perf_counter` reading) to stage ``name``; returns the clock now.

    For consecutive stages of one function without a ``with`` block each:
    ``mark = lap("first", mark)`` after the first, and so on.  A lap inside a
    :func:`stage` counts for the lap, not for the stage.
    """
    now = time.perf_counter()
    elapsed = now - since
    add(name, elapsed)
    stack = getattr(_local, "stack", None)
    if stack:
        stack[-1][0] += elapsed
    return now


def timed(name: str):
    """Decorator: every call of the function is a :func:`stage` called ``name``."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with stage(name):
                return func(*args, **kwargs)

        return wrapper

    return decorate


def take() -> dict[str, float]:
    """The totals of this process since the last call (and start afresh)."""
    with _lock:
        out = dict(_totals)
        _totals.clear()
    return out


def process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``; None elsewhere), to time the start-up."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
