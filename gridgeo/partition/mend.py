"""Last repairs of the band on a finished split of one part.

After bisection, local search and ReCom-style repair, a few grids may still
be outside the band, mostly with small bands (``--grid-size 10:15``) where
most buildings are near or above the maximum.  Two exact steps follow:

1. **Exact re-split of a small neighbourhood.**  An out-of-band grid and a
   group of its ordinary neighbours (each alone, then pairs, then all of them,
   then the neighbours' neighbours too),
   when the group holds at most :data:`~gridgeo.partition.proof.MAX_EXHAUSTIVE`
   cells, is split again by exhaustive search into connected in-band grids
   (any count; the group's count preferred).  The grids outside the group are
   untouched.
2. **Absorption into an oversize grid.**  A grid still out of band that
   touches a grid holding a building above the maximum joins that grid
   (the neighbour with the fewest households).  Such a grid is outside the band
   by rule whatever else it holds (excuse (a) of ``docs/how-it-works.md``); its
   reason names the households it took in.

Only ordinary grids (no excuse) take part; dedicated, oversize, infeasible and
detached grids keep their cells, except that an oversize grid may grow in step 2.
Works on the cell graph only.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..cells.adjacency import CellGraph
from .proof import MAX_EXHAUSTIVE, exact_split, walled_in

__all__ = ["mend_band", "out_of_band_grids", "drop_empty_labels"]

#: neighbour groups tried per out-of-band grid in the exact step
_MAX_GROUPS = 12


def mend_band(
    graph: CellGraph,
    labels: np.ndarray,
    ordinary: np.ndarray,
    low: int,
    high: int,
    *,
    oversize: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """Repair out-of-band ordinary grids exactly where the neighbourhood is small, then absorb the rest.

    Parameters
    ----------
    graph : CellGraph
        The part's cells.
    labels : ndarray of int
        Grid label per cell (0..k-1).
    ordinary : ndarray of bool
        Per label, whether the grid is an ordinary grid (no excuse).
    low, high : int
        The household band.
    oversize : ndarray of bool
        Per label, whether the grid holds a building above ``high`` (it may absorb).

    Returns
    -------
    labels : ndarray of int
        New labels; a label that lost all its cells keeps its number (the caller drops it),
        new grids take numbers from ``k`` on.
    ordinary : ndarray of bool
        Per label of the new numbering, ordinary or not (new grids are ordinary).
    absorbed : dict
        Oversize label → households it took in from out-of-band grids.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(4)])
    >>> g = build_cell_graph(cells, np.array([5, 7, 8, 6]), shapely.centroid(cells))
    >>> labels, ordinary, absorbed = mend_band(g, np.array([0, 0, 1, 2]), np.ones(3, bool), 10, 15, oversize=np.zeros(3, bool))
    >>> np.bincount(labels, weights=g.weight, minlength=3).tolist()  # grids of 8 and 6 became one of 14
    [12.0, 0.0, 14.0]
    """
    labels = labels.copy()
    ordinary = np.asarray(ordinary, dtype=bool).copy()
    oversize = np.asarray(oversize, dtype=bool).copy()
    absorbed: dict[int, int] = {}
    for g in out_of_band_grids(graph, labels, ordinary, low, high):
        if not _bad_one(graph, labels, g, low, high):
            continue  # fixed by an earlier repair of a neighbour
        for group in _groups(graph, labels, g, ordinary):
            nodes = np.flatnonzero(np.isin(labels, group))
            if len(nodes) > MAX_EXHAUSTIVE:
                continue
            sub = graph.subgraph(nodes)
            if connected_components(sub.shared, directed=False)[0] != 1:
                continue
            if (sub.weight > high).any() or walled_in(sub, low, high):
                continue  # no split of the group into connected in-band grids exists: the search would find none
            split = exact_split(sub, low, high, len(group))
            if split is None:
                continue
            count = int(split.max()) + 1
            names = list(group) + list(range(len(ordinary), len(ordinary) + max(count - len(group), 0)))
            if count > len(group):
                ordinary = np.concatenate([ordinary, np.ones(count - len(group), dtype=bool)])
                oversize = np.concatenate([oversize, np.zeros(count - len(group), dtype=bool)])
            labels[nodes] = np.asarray(names, dtype=np.int64)[split]
            break
    for g in out_of_band_grids(graph, labels, ordinary, low, high):
        members = np.flatnonzero(labels == g)
        host = _lightest_oversize_neighbour(graph, labels, members, oversize)
        if host is None:
            continue
        absorbed[host] = absorbed.get(host, 0) + int(graph.weight[members].sum())
        labels[members] = host
    return labels, ordinary, absorbed


def _weights(graph: CellGraph, labels: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(labels, weights=graph.weight, minlength=k)


def out_of_band_grids(graph: CellGraph, labels: np.ndarray, ordinary: np.ndarray, low: int, high: int) -> list[int]:
    """Ordinary grids with cells that are outside the band, the largest miss first."""
    weights = _weights(graph, labels, len(ordinary))
    present = np.bincount(labels, minlength=len(ordinary)) > 0
    bad = [g for g in range(len(ordinary)) if ordinary[g] and present[g] and not (low <= weights[g] <= high)]
    return sorted(bad, key=lambda g: (-max(weights[g] - high, low - weights[g]), g))


def drop_empty_labels(labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels renumbered 0.. without the grids that hold no cell, and the old number of each kept grid."""
    keep = np.flatnonzero(np.bincount(labels, minlength=k) > 0)
    remap = np.full(k, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    return remap[labels], keep


def _bad_one(graph: CellGraph, labels: np.ndarray, g: int, low: int, high: int) -> bool:
    members = labels == g
    return bool(members.any()) and not (low <= graph.weight[members].sum() <= high)


def _borders(graph: CellGraph, labels: np.ndarray, members: np.ndarray, k: int) -> np.ndarray:
    """Shared boundary length between ``members`` and each grid."""
    rows = graph.shared[members].tocoo()
    return np.bincount(labels[rows.col], weights=rows.data, minlength=k)


def _groups(graph: CellGraph, labels: np.ndarray, g: int, ordinary: np.ndarray) -> list[list[int]]:
    """Grid ``g`` with each ordinary neighbour, then with pairs, then with all: longest shared border first."""
    k = len(ordinary)
    border = _borders(graph, labels, np.flatnonzero(labels == g), k)
    border[g] = 0
    neighbours = [int(h) for h in np.argsort(-border, kind="stable") if border[h] > 0 and ordinary[h]]
    groups = [[g, h] for h in neighbours]
    groups += [[g, a, b] for i, a in enumerate(neighbours) for b in neighbours[i + 1 :]]
    groups = groups[:_MAX_GROUPS]
    if len(neighbours) > 2:
        groups.append([g, *neighbours])
    # the second ring: a shift that passes households along a chain of grids
    ring = set(neighbours)
    for h in neighbours:
        around = _borders(graph, labels, np.flatnonzero(labels == h), k)
        ring.update(int(x) for x in np.flatnonzero(around > 0) if ordinary[x] and x != g)
    if len(ring) > len(neighbours):
        groups.append([g, *sorted(ring, key=lambda h: (-border[h], h))])
    return groups


def _lightest_oversize_neighbour(graph: CellGraph, labels: np.ndarray, members: np.ndarray, oversize: np.ndarray) -> int | None:
    """The touching oversize grid with the fewest households (ties: longest shared border, lowest label)."""
    k = len(oversize)
    border = _borders(graph, labels, members, k)
    weights = _weights(graph, labels, k)
    hosts = [h for h in range(k) if oversize[h] and border[h] > 0]
    if not hosts:
        return None
    return min(hosts, key=lambda h: (weights[h], -border[h], h))
