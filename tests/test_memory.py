"""Giving memory back between stages: a full collection only where the memory is tight (collect=None)."""

from __future__ import annotations

import gc

import pytest

from gridgeo import memory


@pytest.fixture
def full_collections():
    """The number of full (generation 2) collections started while the test runs."""
    seen = []

    def callback(phase, info):
        if phase == "start" and info["generation"] == 2:
            seen.append(info)

    gc.callbacks.append(callback)
    try:
        yield seen
    finally:
        gc.callbacks.remove(callback)


def test_memory_is_tight_compares_available_with_resident():
    assert memory.resident_mb() > 0
    assert not memory.memory_is_tight(0)
    assert memory.memory_is_tight(1e12)  # no machine has a million million times this process free


def test_release_memory_collects_when_asked_or_when_tight(monkeypatch, full_collections):
    memory.release_memory("asked")
    assert len(full_collections) == 1
    memory.release_memory("reference counts only", collect=False)
    assert len(full_collections) == 1
    monkeypatch.setattr(memory, "memory_is_tight", lambda: False)
    memory.release_memory("plenty of memory", collect=None)
    assert len(full_collections) == 1
    monkeypatch.setattr(memory, "memory_is_tight", lambda: True)
    memory.release_memory("tight", collect=None)
    assert len(full_collections) == 2


_FAULTS_PROGRAM = """
import resource, sys
import numpy as np
from gridgeo.memory import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
first = np.ones(3 << 17)  # 3 MiB from the system; freeing it raises glibc's thresholds to that size
del first
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):  # a writer's pattern: rounds of large temporary arrays, made and freed together
    arrays = [np.ones(3 << 17) for _ in range(10)]
    del arrays
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(memory._malloc_trim() is None, reason="glibc only")
def test_keep_freed_memory_reuses_pages_instead_of_faulting_new_ones():
    """With the setting the 30 MiB freed by one round serve the next; by default glibc gives them back and each round faults them in again."""
    import subprocess
    import sys

    def faults(mode):
        out = subprocess.run([sys.executable, "-c", _FAULTS_PROGRAM, mode], capture_output=True, text=True, check=True).stdout.split()
        return out[0], int(out[1])

    kept, with_setting = faults("keep")
    _, by_default = faults("default")
    import resource

    pages_per_round = 30 * 2**20 // resource.getpagesize()
    assert kept == "True"
    assert with_setting <= 1.5 * pages_per_round  # the first round's pages, reused by the four after it
    # glibc's default gives the pages back and faults them in again every round (here 37,500 faults against 6,900)
    assert by_default >= with_setting


def _arrow_pool(env: dict) -> str:
    """The backend of pyarrow's default pool in a fresh process that imported the command line first."""
    import os
    import subprocess
    import sys

    program = "import gridgeo.cli, pyarrow; print(pyarrow.default_memory_pool().backend_name)"
    environment = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | env
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, env=environment).stdout.strip()


def test_the_command_line_gives_arrow_the_system_allocator_unless_the_user_chose_one():
    assert _arrow_pool({}) == "system"
    assert _arrow_pool({"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}) == "mimalloc"


def test_imports_uncollected_pauses_the_collector_and_freezes_what_lives():
    """Inside the block no collection runs however many objects are made; after it they are out of the
    collector's reach (frozen) and the collector is back as it was."""
    started = []

    def callback(phase, info):
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(callback)
    try:
        with memory.imports_uncollected():
            assert not gc.isenabled()
            made = [[i] for i in range(200_000)]  # far beyond the youngest generation's threshold (2,000)
        assert started == []
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(made)
        gc.disable()
        try:
            with memory.imports_uncollected():
                pass
            assert not gc.isenabled()  # a collector paused before stays paused
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(callback)
        gc.unfreeze()
