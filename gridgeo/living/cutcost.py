"""What an added building that holds its grid together costs to move: the households it would cut off.

An added building is free to move in the lower bound of
:mod:`gridgeo.living.movebound`: nobody who lived in the plan before moves
with it.  But a grid must stay in one piece.  On the cell graph of grid ``A``
(its previous polygon tessellated among the buildings it holds once every
building is placed, as :mod:`gridgeo.living.bordercost` draws it), take an
added building ``v`` whose cell is a cut vertex: without it the cells fall
apart into components ``C_1 … C_r`` (``r ≥ 2``).  When the buildings that stay
in ``A`` (keep its code) are connected among ``A``'s own cells, they lie in
one component, so when ``v`` leaves, every other component leaves too, and
the households that were there before leaving ``A`` are at least

    cut(v) = old(C_1) + … + old(C_r) − max_j old(C_j).

:func:`cut_costs` gives ``cut(v)`` per added building; the program adds
``own old households leaving A ≥ cut(v)`` whenever ``v`` leaves.  The
condition is one of the result (a grid could also be held together by cells it
receives), so :mod:`gridgeo.living.reportbound` checks it with
:func:`stays_connected` on the update's own result before it reports a bound
that relies on it.

Arrays and shapely geometries only; no files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from ..cells.adjacency import build_cell_graph
from ..cells.tessellate import split_parts, tessellate_part

__all__ = ["GridCells", "grid_cells", "cut_costs", "stays_connected"]


@dataclass(frozen=True)
class GridCells:
    """One grid's cell graph: neighbours (CSR ``indptr``, ``indices``), per building its cell, per cell its old
    households (and, from :func:`grid_cells`, its added households and the cells themselves)."""

    indptr: np.ndarray
    indices: np.ndarray
    site_of_building: np.ndarray
    old: np.ndarray
    new: np.ndarray | None = None
    cells: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.old)


def grid_cells(geom, buildings: np.ndarray, households: np.ndarray, is_new: np.ndarray) -> GridCells | None:
    """The cells of one grid's polygon among its buildings (None when the polygon is not one piece or holds none).

    ``buildings``, ``households`` and ``is_new`` are per building of the grid.
    The same cells serve the cut costs here and the border floors of
    :func:`gridgeo.living.bordercost.transfer_floors`.
    """
    parts = split_parts(geom)
    if len(buildings) == 0 or len(parts) != 1:
        return None
    part = parts[0]
    tess = tessellate_part(part, np.asarray(buildings, dtype=object))
    n = len(tess.cells)
    households = np.asarray(households, dtype=float)
    is_new = np.asarray(is_new, dtype=bool)
    old = np.bincount(tess.site_of_building, weights=np.where(is_new, 0, households), minlength=n).astype(float)
    new = np.bincount(tess.site_of_building, weights=np.where(is_new, households, 0), minlength=n).astype(float)
    if n > 1:
        graph = build_cell_graph(tess.cells, (old + new).astype(np.int64), tess.anchors, None, outline_length=float(shapely.length(part)))
        indptr, indices = graph.shared.indptr, graph.shared.indices
    else:
        indptr, indices = np.zeros(2, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return GridCells(np.asarray(indptr), np.asarray(indices), np.asarray(tess.site_of_building), old, new, tess.cells)


def _components(cells: GridCells, keep: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of the cells where ``keep`` (label -1 elsewhere)."""
    rows = np.repeat(np.arange(cells.n), np.diff(cells.indptr))
    mask = keep[rows] & keep[cells.indices]
    graph = csr_matrix((np.ones(int(mask.sum())), (rows[mask], cells.indices[mask])), shape=(cells.n, cells.n))
    count, labels = connected_components(graph, directed=False)
    labels = labels.copy()
    labels[~keep] = -1
    return count, labels


def cut_costs(cells: GridCells, added: np.ndarray) -> np.ndarray:
    """Per building of ``added`` (positions among the grid's buildings): ``cut(v)`` of its cell (0: not a cut vertex).

    An added building sharing its cell with other buildings (a site of
    several footprints) gets 0: the cell may stay while it leaves.

    Examples
    --------
    Four cells in a row, 40 | added | 50 | 30 old households: the added
    building holds the first cell to the other two, so when it leaves, at
    least the 40 leave too (or the 80 on the other side):

    >>> cells = GridCells(np.array([0, 1, 3, 5, 6]), np.array([1, 0, 2, 1, 3, 2]), np.arange(4), np.array([40.0, 0, 50, 30]))
    >>> cut_costs(cells, np.array([1])).tolist()
    [40.0]
    """
    out = np.zeros(len(added))
    per_site = np.bincount(cells.site_of_building, minlength=cells.n)
    for t, b in enumerate(np.asarray(added, dtype=np.int64).tolist()):
        site = int(cells.site_of_building[b])
        if per_site[site] > 1:
            continue
        keep = np.ones(cells.n, dtype=bool)
        keep[site] = False
        count, labels = _components(cells, keep)
        if count - 1 < 2:  # (the removed cell is a component of its own in the labelling)
            continue
        sums = np.bincount(labels[keep], weights=cells.old[keep])
        out[t] = float(sums.sum() - sums.max())
    return out


def stays_connected(cells: GridCells, staying: np.ndarray) -> bool:
    """Whether the cells of the buildings in ``staying`` (a mask over the grid's buildings) are connected among the grid's cells.

    The cells holding a staying building must form one piece.  No staying
    building is one piece (nothing to hold together).
    """
    keep = np.zeros(cells.n, dtype=bool)
    keep[cells.site_of_building[np.asarray(staying, dtype=bool)]] = True
    if keep.sum() <= 1:
        return True
    count, labels = _components(cells, keep)
    return len(np.unique(labels[keep])) == 1
