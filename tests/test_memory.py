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
