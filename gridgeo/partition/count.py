"""How many grids a set of households should form, given the band."""

from __future__ import annotations

import math

__all__ = ["feasible_counts", "choose_grid_count"]


def feasible_counts(total: int, low: int, high: int) -> range:
    """Grid counts ``k`` with ``low <= total / k <= high``.

    Examples
    --------
    >>> list(feasible_counts(1000, 300, 500))
    [2, 3]
    >>> list(feasible_counts(520, 300, 500))
    []
    """
    if total <= 0:
        return range(0)
    first = max(1, math.ceil(total / high))
    last = total // low if low > 0 else first
    return range(first, last + 1)


def choose_grid_count(total: int, low: int, high: int) -> tuple[int, bool]:
    """The grid count for ``total`` households and whether it puts grids in the band.

    Among feasible counts the one whose mean grid is nearest the band's midpoint
    wins (ties go to fewer grids).  When no count is feasible, the count whose
    mean grid lies least far outside the band, relative to the bound it misses.

    Examples
    --------
    >>> choose_grid_count(2000, 300, 500)
    (5, True)
    >>> choose_grid_count(520, 300, 500)
    (1, False)
    >>> choose_grid_count(0, 300, 500)
    (1, False)
    """
    if total <= 0:
        return 1, False
    middle = (low + high) / 2.0
    counts = feasible_counts(total, low, high)
    if len(counts):
        return min(counts, key=lambda k: (abs(total / k - middle), k)), True

    def miss(k: int) -> float:
        mean = total / k
        return max((mean - high) / high, (low - mean) / low, 0.0)

    options = {max(1, math.floor(total / middle)), max(1, math.ceil(total / middle)), 1}
    options |= {max(1, math.floor(total / high)), max(1, math.ceil(total / high))}
    return min(sorted(options), key=lambda k: (miss(k), k)), False
