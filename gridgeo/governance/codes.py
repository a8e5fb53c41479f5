"""Hierarchical, deterministic codes for communities, grids, buildings and units.

* community ``003``: communities numbered in the order of their id values;
* grid ``003-07``: grids numbered west→east, north→south inside the community
  (rows from north to south, west to east within a row), as CJ/T 349-2010
  and Beijing DB11/T 2157-2023 number them;
* building ``003-B00012``: buildings numbered the same way inside the community,
  independent of the grid so that a building keeps its code when grids change;
* unit ``003-07-05``: units numbered along the grid's walking order.

Codes depend on the data only, never on row order or on the processing order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["reading_order", "community_codes", "grid_code", "building_code", "building_codes", "unit_code", "unit_codes", "width_for"]


def reading_order(x: np.ndarray, y: np.ndarray, row_height: float) -> np.ndarray:
    """Order points in rows of ``row_height`` from north to south, west to east within a row.

    Examples
    --------
    >>> reading_order(np.array([0.0, 10.0, 0.0]), np.array([0.0, 100.0, 100.0]), 50.0).tolist()
    [2, 1, 0]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    row_height = row_height if row_height > 0 else 1.0
    row = np.floor((y.max() - y) / row_height)
    return np.lexsort((-y, x, row))


def width_for(count: int, minimum: int = 2) -> int:
    """Digits needed to number ``count`` items (at least ``minimum``).

    Examples
    --------
    >>> width_for(7), width_for(120)
    (2, 3)
    """
    return max(minimum, len(str(max(count, 1))))


def community_codes(ids: np.ndarray) -> np.ndarray:
    """Codes ``001``, ``002``… in the sorted order of the id values (numeric ids sorted as numbers).

    Examples
    --------
    >>> community_codes(np.array(["b", "a", "c"])).tolist()
    ['002', '001', '003']
    >>> community_codes(np.array(["10", "9"])).tolist()
    ['002', '001']
    """
    ids = np.asarray(ids).astype(str)
    width = width_for(len(ids), 3)
    try:
        keys = [(0, float(v), v) for v in ids]
    except ValueError:
        keys = [(1, 0.0, v) for v in ids]
    order = sorted(range(len(ids)), key=lambda i: keys[i])
    codes = np.empty(len(ids), dtype=object)
    for rank, i in enumerate(order):
        codes[i] = f"{rank + 1:0{width}d}"
    return codes


def grid_code(community: str, number: int, width: int = 2) -> str:
    """``003-07``"""
    return f"{community}-{number:0{width}d}"


def building_code(community: str, number: int, width: int = 5) -> str:
    """``003-B00012``"""
    return f"{community}-B{number:0{width}d}"


def unit_code(grid: str, number: int, width: int = 2) -> str:
    """``003-07-05``"""
    return f"{grid}-{number:0{width}d}"


def building_codes(community: str, count: int, width: int = 5) -> list[str]:
    """:func:`building_code` of buildings 1..count of ``community``, at once.

    >>> building_codes("003", 2) == [building_code("003", 1), building_code("003", 2)]
    True
    """
    return [f"{community}-B" + number for number in _numbers(count, width)]


def unit_codes(grid: str, count: int) -> list[str]:
    """:func:`unit_code` of units 1..count of a grid of ``count`` units (width from the count), at once.

    >>> unit_codes("003-07", 120)[-1], unit_codes("003-07", 3) == [unit_code("003-07", k) for k in (1, 2, 3)]
    ('003-07-120', True)
    """
    return [f"{grid}-" + number for number in _numbers(count, width_for(count, 2))]


#: the numbers 1, 2, … written with each width, made once for every code of a run
_NUMBERS: dict[int, list[str]] = {}


def _numbers(count: int, width: int) -> list[str]:
    """``["0001", "0002", …]``: 1..count written with ``width`` digits (from a table grown as needed)."""
    known = _NUMBERS.get(width)
    if known is None or len(known) < count:
        known = _NUMBERS[width] = [f"{k:0{width}d}" for k in range(1, max(count, 2 * len(known or ())) + 1)]
    return known[:count]
