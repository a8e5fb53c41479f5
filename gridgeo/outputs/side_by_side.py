"""Independent writing jobs run side by side in forked processes, as many at a time as the memory holds.

:func:`gridgeo.outputs.export.write_outputs` writes the GeoPackage in this
process and the GeoJSON layers, map, report and other extras in children
forked from it: nothing is pickled on the way in, and each writes its own
files.  At city scale a forked writer can come to hold as much memory as this
process, so the children are started only as far as the available memory
allows (:func:`_forks_that_fit`), the others when a writer has finished.
This module never runs an algorithm.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading

from .. import timings
from ..memory import available_bytes, keep_freed_memory, resident_mb
from ..parallel import default_workers

__all__ = ["run_side_by_side"]


def run_side_by_side(jobs: list, *, then=None) -> None:
    """Run independent writing jobs (callables without arguments), in forked processes when possible.

    The first job runs here; the others run in child processes forked from
    this one (so nothing is pickled on the way in) when the platform can fork,
    this process may use more than one core and no other thread is running (forking a
    threaded process can deadlock), one process per core: while this process
    writes the first job, the other cores each take a writer, and once it is
    done it only waits, so its core takes one more.  The writers are CPU-bound,
    so more of them at a time would only share the cores: each would take
    longer, the last would end no sooner.  The jobs start in their order,
    and never more at a time than the available memory holds
    (:func:`_forks_that_fit`).  A job without room waits for a writer to
    finish and is forked then; it runs here only when no writer is left to
    wait for and there is still no room, so this process does not take on the
    largest writers at city scale.  Without forking the jobs run one after the
    other.  An exception in any job (including an interrupt) is raised here
    after every child has stopped.  ``then`` (a callable, optional) runs here
    once the first job is done and the writers that then fit are forked, while
    they work (after every job when they run one after the other): small
    files that need not hold back the next writer.
    """
    cores = default_workers()
    can_fork = "fork" in multiprocessing.get_all_start_methods() and cores > 1
    if len(jobs) < 2 or not can_fork or threading.active_count() > 1:
        for job in jobs:
            job()
        if then is not None:
            then()
        return
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("fork")
    children: list = []  # running: (process, receiving end)
    pending = list(jobs[1:])

    def fork_what_fits(limit: int) -> None:
        room = min(_forks_that_fit(len(pending)), max(0, limit - len(children))) if pending else 0
        for job in pending[:room]:
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=_child, args=(job, send), daemon=True)
            child.start()
            send.close()
            children.append((child, receive))
        del pending[:room]

    # the objects of this process are frozen (moved out of the collector's reach) while writers are forked: a child's
    # collections then never walk them, so it neither spends the time nor writes to (and copies) the parent's pages
    gc.freeze()
    try:
        fork_what_fits(cores - 1)  # this process writes the first job meanwhile
        jobs[0]()
        while pending or children:
            if pending:
                fork_what_fits(cores)
                if pending and not children:  # no room, and no writer to wait for: here
                    pending.pop(0)()
                    continue
            if then is not None:  # the next writers are at work: this process's own small job meanwhile
                then, after = None, then
                after()
                continue
            if not children:
                continue
            ready = wait([receive for _, receive in children])
            for child, receive in [(c, r) for c, r in children if r in ready]:
                try:
                    error, seconds = receive.recv()
                    for name, value in seconds.items():
                        timings.add(name, value)
                except EOFError:
                    error = RuntimeError(f"a writer process stopped unexpectedly (exit code {child.exitcode})")
                child.join()
                receive.close()
                children.remove((child, receive))
                if error is not None:
                    raise error
        if then is not None:  # every job ran here or was done before (no writer was left to wait for)
            then()
    finally:
        for child, receive in children:
            if child.is_alive():
                child.terminate()
            child.join()
            receive.close()
        gc.unfreeze()


#: what a forked writer may come to hold, in multiples of the parent's resident memory (measured at a million buildings: 10.5 GB for 3.9 GB)
WRITER_SHARE = 3


def _forks_that_fit(wanted: int) -> int:
    """How many of ``wanted`` forked copies of this process the memory available now can hold (``wanted`` off Linux).

    A forked writer reads the parent's Python objects, and reading one writes
    its reference count, so each child ends up copying much of the parent's
    memory, and then builds its own file's text: at a million buildings one
    writer reached 10.5 GB of its own for a parent of 3.9 GB, and with four
    of them side by side the kernel killed one.  Each writer is therefore
    counted as :data:`WRITER_SHARE` times the parent, and one parent's worth
    is kept free for the parent's own writing.
    """
    available, resident = available_bytes(), int(resident_mb() * 2**20)
    if available is None or resident <= 0:
        return wanted
    return max(0, min(wanted, (available - resident) // (WRITER_SHARE * resident)))


def _child(job, send) -> None:
    """Run ``job`` in a forked child and report its exception (or None) and stage times to the parent."""
    error = None
    timings.take()  # the parent's totals, copied by the fork
    keep_freed_memory()  # a writer's many large temporary arrays reuse the same pages instead of faulting in new ones
    try:
        job()
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        error = exc
    seconds = {f"side by side: {name}": value for name, value in timings.take().items()}
    try:
        send.send((error, seconds))
    except Exception:  # an exception that cannot be pickled: send its text
        send.send((RuntimeError(f"{type(error).__name__}: {error}"), seconds))
    finally:
        send.close()
    os._exit(0)
