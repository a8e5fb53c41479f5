"""Progress bars: shown only when asked for, never in library output otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

__all__ = ["progress_bar"]


def progress_bar(items: Iterable[T], *, enabled: bool, **kwargs) -> Iterator[T]:
    """Wrap ``items`` in a tqdm bar (on stderr) when ``enabled``; tqdm is imported lazily."""
    if not enabled:
        return iter(items)
    from tqdm.auto import tqdm

    class _Bar(tqdm):
        # no monitor thread: it outlives the bar, and a process with a thread left cannot fork
        # its writers side by side (gridgeo.outputs.side_by_side.run_side_by_side)
        monitor_interval = 0

    return iter(_Bar(items, leave=False, **kwargs))
