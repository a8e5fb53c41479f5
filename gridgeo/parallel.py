"""Run independent per-community tasks serially, in a local process pool, or on a Dask cluster.

Communities are independent and each carries its own seed, so every mode
returns the same results; only the wall time differs.  :func:`map_ordered`
returns them in the order of the items; :func:`map_completed` hands each on
as it finishes (with its position), so the caller can keep a compact form of
each and never hold them all, and a Dask cluster releases each once read.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from .errors import InputError, Problem
from .progress import progress_bar

__all__ = ["map_ordered", "map_completed", "default_workers"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """All cores this process may use.

    Examples
    --------
    >>> default_workers() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def map_ordered(
    func: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    desc: str = "communities",
    weights: Sequence[float] | None = None,
) -> list[R]:
    """``[func(item) for item in items]``, possibly in parallel, in the order of ``items``.

    Parameters
    ----------
    func : callable
        A module-level function (it is pickled to the workers where they are
        not forked, and to a Dask cluster).
    items : sequence
        Where the pool forks its workers (Linux) they inherit ``func`` and the
        items and are sent only positions; otherwise each item is pickled.
    workers : int
        Processes of a local pool; 1 runs in this process.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``); overrides ``workers``.
    progress : bool
        Show a progress bar.
    weights : sequence of float, optional
        Expected cost of each item.  In parallel the heaviest items are started
        first, so no worker is left with a large item at the end (longest
        processing time first); the results keep the order of ``items``.

    Examples
    --------
    >>> map_ordered(abs, [-2, 1, -3])
    [2, 1, 3]
    """
    items = list(items)
    out: list = [None] * len(items)
    for i, result in map_completed(func, items, workers=workers, scheduler=scheduler, progress=progress, desc=desc, weights=weights):
        out[i] = result
    return out


def map_completed(
    func: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    desc: str = "communities",
    weights: Sequence[float] | None = None,
) -> Iterator[tuple[int, R]]:
    """``(position, func(item))`` for every item, as each finishes: serially, in a local process pool or on Dask.

    The results come in the order they finish (in the order of ``items`` when
    serial), each once; the caller keeps what it needs of each and lets the
    rest go, so a run never holds every result at once.  On a Dask cluster a
    result is released from the cluster as soon as it is read, so the workers
    do not hold the finished results either.  The options are those of
    :func:`map_ordered`; the heaviest items are started first.

    Examples
    --------
    >>> sorted(map_completed(abs, [-2, 1, -3]))
    [(0, 2), (1, 1), (2, 3)]
    """
    items = list(items)
    if scheduler:
        yield from _on_dask(func, items, scheduler, progress, desc, weights)
        return
    if workers <= 1 or len(items) <= 1:
        for i, item in enumerate(progress_bar(items, enabled=progress, desc=desc, total=len(items))):
            yield i, func(item)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    order = _heaviest_first(weights, len(items))
    context = multiprocessing.get_context()
    # forked workers hold the items already (a copy of this process's memory, made as the pool starts): each is
    # sent its position instead of a pickled copy, which this process would pickle and the worker unpickle
    forked = context.get_start_method() == "fork"
    held = {"initializer": _hold, "initargs": (func, items)} if forked else {}
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context, **held) as pool:
        position = {}
        for i in order:
            position[pool.submit(_call_held, i) if forked else pool.submit(func, items[i])] = i
        for future in progress_bar(as_completed(list(position)), enabled=progress, desc=desc, total=len(items)):
            i = position.pop(future)
            yield i, future.result()


#: the function and items of the pool this worker process belongs to (:func:`_hold`)
_HELD: tuple | None = None


def _hold(func, items) -> None:
    """A forked worker's initializer: keep the function and the items it inherited from the parent (nothing pickled)."""
    global _HELD
    _HELD = (func, items)


def _call_held(i: int):
    """``func(items[i])`` in a forked worker, of the function and items :func:`_hold` kept."""
    func, items = _HELD
    return func(items[i])


def _heaviest_first(weights: Sequence[float] | None, n: int) -> list[int]:
    """Item positions by decreasing weight (ties keep their order); the given order without weights."""
    if weights is None:
        return list(range(n))
    if len(weights) != n:
        raise ValueError(f"{len(weights)} weights for {n} items")
    return sorted(range(n), key=lambda i: (-float(weights[i]), i))


def _on_dask(func, items, scheduler, progress, desc, weights=None):
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            Problem("--scheduler", "needs Dask's distributed package", 'install it with pip install "gridgeo[dask]"')
        ) from None
    # Dask deserialises large results in a helper thread that outlives the client, and a process with a
    # thread left cannot fork its writers side by side (gridgeo.outputs.side_by_side.run_side_by_side): while this
    # client lives, results are read in its own loop (restored afterwards)
    comm_utils = sys.modules.get("distributed.comm.utils")
    offload = getattr(comm_utils, "OFFLOAD_THRESHOLD", None)
    if offload is not None:
        comm_utils.OFFLOAD_THRESHOLD = False
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except OSError as exc:
        if offload is not None:
            comm_utils.OFFLOAD_THRESHOLD = offload
        raise InputError(Problem("--scheduler", f"cannot reach {scheduler} ({exc})", "check the scheduler address")) from None
    try:
        logger.info("running %d tasks on %s", len(items), scheduler)
        from distributed import as_completed

        # heaviest first: Dask runs higher priorities earlier
        rank = {i: r for r, i in enumerate(_heaviest_first(weights, len(items)))}
        futures = [client.submit(func, item, pure=False, priority=len(items) - rank[i]) for i, item in enumerate(items)]
        position = {future.key: i for i, future in enumerate(futures)}
        # the client is not the default one: as_completed is given its loop; a result read is released
        # from the cluster at once (the workers keep no finished results) and handed on
        done = as_completed(futures, loop=client.loop)
        del futures  # as_completed holds each future until it hands it on
        for future in progress_bar(done, enabled=progress, desc=desc, total=len(items)):
            result = future.result()
            i = position.pop(future.key)
            future.release()
            yield i, result
    finally:
        client.close()
        if offload is not None:
            comm_utils.OFFLOAD_THRESHOLD = offload
