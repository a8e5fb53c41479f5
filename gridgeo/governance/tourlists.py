"""Walking tours of a few points on Python lists.

A grid's tour (:mod:`gridgeo.governance.workload`) runs through a dozen
buildings or so, and numpy's cost per call is then larger than the work: these
are the nearest-neighbour tour and the full 2-opt search on lists of
distances, with the same sums in the same order and the same ties as their
numpy forms, so they give the same tours to the last bit.
"""

from __future__ import annotations

import math

__all__ = ["nearest_neighbour_list", "two_opt_list"]


def nearest_neighbour_list(dist: list, start: int) -> list:
    """:func:`gridgeo.governance.workload.nearest_neighbour_tour` on a list of rows of finite distances (the same ties: the lower index).

    Examples
    --------
    >>> nearest_neighbour_list([[0, 1, 5, 2], [1, 0, 3, 4], [5, 3, 0, 6], [2, 4, 6, 0]], 0)
    [0, 1, 2, 3]
    """
    n = len(dist)
    visited = [False] * n
    order = []
    current = start
    for _ in range(n - 1):
        order.append(current)
        visited[current] = True
        row = dist[current]
        least, current = math.inf, 0
        for j in range(n):
            if not visited[j] and row[j] < least:
                least, current = row[j], j
    order.append(current)
    return order


def two_opt_list(dist: list, tour: list, limit: int) -> list:
    """:func:`gridgeo.governance.workload.two_opt`'s full search on lists of finite distances: the same sums, the same first-best move.

    At most ``limit`` moves; ``tour`` is reordered in place and returned.

    Examples
    --------
    >>> square = [[0, 10, 14.1, 10], [10, 0, 10, 14.1], [14.1, 10, 0, 10], [10, 14.1, 10, 0]]
    >>> two_opt_list(square, [0, 2, 1, 3], 40)
    [0, 1, 2, 3]
    """
    n = len(tour)
    for _ in range(limit):
        after = tour[1:] + tour[:1]
        edge = [dist[a][b] for a, b in zip(tour, after)]
        least, first, last = math.inf, -1, -1
        for i in range(n - 2):
            row, row_after, edge_i = dist[tour[i]], dist[after[i]], edge[i]
            # the pair of edges (i, n - 1) meets at the start: no move
            for j in range(i + 2, n if i else n - 1):
                delta = row[tour[j]] + row_after[after[j]] - edge_i - edge[j]
                if delta < least:
                    least, first, last = delta, i, j
        if not least < -1e-7:
            break
        tour[first + 1 : last + 1] = tour[first + 1 : last + 1][::-1]
    return tour
