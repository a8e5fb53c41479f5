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

import ctypes
import ctypes.util
import functools
import gc
import logging

__all__ = ["release_memory", "resident_mb"]

logger = logging.getLogger(__name__)


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library, another system)."""
    try:
        name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(name) if name else None
        trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    except OSError:
        return None
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


def release_memory(stage: str = "", *, collect: bool = True) -> None:
    """Collect unreachable objects and return the allocator's free pages to the system (glibc; a collection elsewhere).

    ``collect=False`` skips the collection (a full one walks every object of
    the process, about half a second at city scale) where what was let go is
    freed by its reference count alone, such as a layer's copy once written.

    Examples
    --------
    >>> release_memory("example")
    >>> release_memory("a layer written", collect=False)
    """
    if collect:
        gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    if stage and logger.isEnabledFor(logging.DEBUG):
        logger.debug("memory after %s: %.0f MB resident", stage, resident_mb())


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
