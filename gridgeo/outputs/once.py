"""Values that several files of one plan derive from it, computed once while the plan is written.

:func:`gridgeo.outputs.export.write_outputs` writes a plan that does not
change meanwhile, and some of its files start from the same value: the
colours of the grids (the GeoPackage's styles, the map, the print maps) and
the text of ``report.json`` (the file, and its sha256 that keys the map's
edit mode to the run).  Inside :func:`computed_once` such a value
(:func:`once`) is computed the first time it is asked for and handed out
again after that; the writers forked later (:mod:`gridgeo.outputs.side_by_side`)
inherit it with the rest of the process.  Outside the block every call
computes it.  This module never runs an algorithm.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

__all__ = ["computed_once", "once"]

T = TypeVar("T")

#: the objects inside :func:`computed_once` blocks, each with its values computed so far: [object, {function: value}]
_KEPT: list[list] = []


@contextlib.contextmanager
def computed_once(*objects) -> Iterator[None]:
    """Inside the block, :func:`once` computes each value of one of ``objects`` (the very objects) once.

    The objects must not change inside the block: a value computed from them
    is handed out again as it was.

    Examples
    --------
    >>> calls = []
    >>> def total(values):
    ...     calls.append(1)
    ...     return sum(values)
    >>> plan = [1, 2, 3]
    >>> with computed_once(plan):
    ...     once(total, plan), once(total, plan), once(total, [1, 2, 3])  # another object: computed
    (6, 6, 6)
    >>> len(calls), once(total, plan), len(calls)  # outside the block: computed every time
    (2, 6, 3)
    """
    slots = [[obj, {}] for obj in objects]
    _KEPT.extend(slots)
    try:
        yield
    finally:
        # by identity: the objects (data frames, a plan) need not compare with ==
        _KEPT[:] = [kept for kept in _KEPT if not any(kept is slot for slot in slots)]


def once(func: Callable[[object], T], obj) -> T:
    """``func(obj)``, computed once per :func:`computed_once` block holding ``obj`` (every call outside one)."""
    slot = next((kept for kept in reversed(_KEPT) if kept[0] is obj), None)
    if slot is None:
        return func(obj)
    if func not in slot[1]:
        slot[1][func] = func(obj)
    return slot[1][func]
