"""Giving memory back to the system between the stages of a large run.

A city-scale run frees much at a few points: the results of the communities
once gathered, the assembly's working lists, the copy of each GeoPackage layer
once written.  Python and GEOS return freed memory to the C allocator, which
keeps most of it; :func:`release_memory` hands the free pages back to the
operating system (glibc's ``malloc_trim``), so the process's resident memory
follows what it holds, and the writers forked after it (which copy the
parent's pages) see the smaller figure.  Nothing held is changed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import logging
import os
import sys

__all__ = ["available_bytes", "release_memory", "resident_mb", "memory_is_tight", "keep_freed_memory", "arrow_on_system_allocator", "imports_uncollected"]

logger = logging.getLogger(__name__)


def arrow_on_system_allocator() -> None:
    """Give Arrow's buffers (pandas' text columns, the GeoPackage's batches) the C library's allocator.

    pyarrow's wheels allocate through mimalloc, which keeps the pages it frees
    resident for its own reuse, so every column that Arrow copied once (the
    audit's comparison of the input's attributes, the text of the codes)
    stays in the process's memory to the end.  From the C library's allocator
    those pages go back to the system with :func:`release_memory`: at ~100,000
    buildings the command's peak fell by a tenth, with the same times and
    files.  Sets ``ARROW_DEFAULT_MEMORY_POOL``, which pyarrow reads once, when
    it is first imported (the processes this one starts inherit it); called
    later, it also sets the pool of the pyarrow already loaded.  A pool the
    user chose in that variable is kept.  The command line calls this before
    it imports pandas.

    Examples
    --------
    >>> import os
    >>> arrow_on_system_allocator()
    >>> bool(os.environ["ARROW_DEFAULT_MEMORY_POOL"])  # "system", unless the user had chosen another pool
    True
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:  # loaded already: its pool may have been chosen
        pyarrow.set_memory_pool(pyarrow.system_memory_pool())


@contextlib.contextmanager
def imports_uncollected():
    """Import modules inside the block without the cyclic garbage collector, and keep them out of its later rounds.

    Importing pandas, geopandas, scipy and gridgeo's modules creates several
    hundred thousand objects (modules, functions, classes) that live to the
    end of the process, and the collector, triggered by their number, walks
    all of them again and again: a tenth of a second of the command's
    start-up on two full collections and many younger ones.  Inside the block
    it is paused; at the end every object of the process is moved out of its reach
    (``gc.freeze``), so later collections in this process and in the
    processes forked from it (the workers, the writers) do not walk them
    either, and it resumes as it was.  Objects are still freed by their
    reference counts; a cycle among the frozen objects, which imported
    modules do not let go, would be kept.

    Examples
    --------
    >>> import gc
    >>> with imports_uncollected():
    ...     import json
    >>> gc.isenabled()
    True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@functools.cache
def _libc():
    """The C library, or None where it cannot be loaded (found once: ``find_library`` asks ``ldconfig``)."""
    try:
        name = ctypes.util.find_library("c")
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library, another system)."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


#: glibc's mallopt parameters: blocks at least this large come from mmap (M_MMAP_THRESHOLD), and the heap's free
#: top is given back above this size (M_TRIM_THRESHOLD)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: the largest mmap threshold glibc accepts on 64-bit systems (half its heap size), and the trim threshold set
_MMAP_BYTES, _TRIM_BYTES = 32 << 20, 1 << 30


def keep_freed_memory() -> bool:
    """Have the C allocator of this process keep the memory it frees for its next blocks (glibc; False elsewhere).

    By default glibc gives the free top of its heap back to the system as soon
    as it exceeds 128 KiB and serves large blocks straight from the system, so
    a writer that builds its file from many large temporary arrays pays a page
    fault for every page of every one of them again (a third of a GeoJSON
    writer's time at a hundred thousand buildings).  Here freed memory up to
    1 GiB stays with the process and blocks up to 32 MiB come from its heap.
    For a short-lived process, such as a forked writer, that costs at most its
    largest moment of memory, which it reaches anyway.  Nothing held is changed.

    Examples
    --------
    >>> keep_freed_memory() in (True, False)
    True
    """
    if _malloc_trim() is None:  # not glibc
        return False
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    trim = mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES)
    mapped = mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)
    return bool(trim) and bool(mapped)


#: the memory available counts as tight below this many times the process's resident memory: room for the
#: process and three forked writers of three times its size each (gridgeo.outputs.side_by_side.WRITER_SHARE)
TIGHT_MULTIPLE = 10


def release_memory(stage: str = "", *, collect: bool | None = True) -> None:
    """Collect unreachable objects and return the allocator's free pages to the system (glibc; a collection elsewhere).

    ``collect=False`` skips the collection (a full one walks every object of
    the process, about half a second at city scale) where what was let go is
    freed by its reference count alone, such as a layer's copy once written;
    ``collect=None`` collects only when the memory is tight
    (:func:`memory_is_tight`), so a run far from the machine's memory does
    not spend the time.

    Examples
    --------
    >>> release_memory("example")
    >>> release_memory("a layer written", collect=False)
    >>> release_memory("a stage", collect=None)
    """
    if collect is None:
        collect = memory_is_tight()
    if collect:
        gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    if stage and logger.isEnabledFor(logging.DEBUG):
        logger.debug("memory after %s: %.0f MB resident", stage, resident_mb())


def memory_is_tight(multiple: float = TIGHT_MULTIPLE) -> bool:
    """Whether the memory available is less than ``multiple`` times this process's resident memory (True where unknown).

    Examples
    --------
    >>> memory_is_tight(0)
    False
    """
    available = available_bytes()
    resident = resident_mb() * 2**20
    return available is None or resident <= 0 or available < multiple * resident


def available_bytes() -> int | None:
    """The memory the kernel reports available (``MemAvailable``), in bytes; None where /proc is not there.

    Examples
    --------
    >>> available = available_bytes()
    >>> available is None or available > 0
    True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            return next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemAvailable:"))
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def resident_mb() -> float:
    """This process's resident memory in MB (0 where /proc is not available).

    Examples
    --------
    >>> resident_mb() >= 0
    True
    """
    import os

    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0
