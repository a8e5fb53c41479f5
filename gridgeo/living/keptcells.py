"""A repair region cut into each grid's own cells: the border between two kept grids stays where it is.

A region of an updated plan is usually tessellated again as a whole
(:func:`gridgeo.living.redraw._region_sites`): the cells of all its buildings
among each other, inside the union of its grids' polygons.  Where two grids
meet, those cells need not follow the border the grids had: a building near
it may take ground on the other side, and the cell of a building of one grid
may lie between a building of the other grid and the border.  Then the
repair, which moves whole cells, moves households the change did not force
(monaco, 5 % added at random, seed 2: an added 113-household building touches
the border of a neighbour with room among its own grid's cells, but among the
region's cells a 73-household building lies between them, and the repair
moved those 73).

:func:`kept_sites` tessellates each grid of the region inside its own polygon
among its own buildings, the cells the reported lower bound measures
(:func:`gridgeo.living.cutcost.grid_cells`), and joins them into one cell graph:
cells of one grid are neighbours as their tessellation says, cells of two grids
are neighbours where they meet along the grids' border.  Every grid starts as
exactly its cells, and a cell handed over is a building at the border (or one
whose way to the border has been handed over already), so the repair moves
boundary buildings first and re-draws only the cells that change hands.

Arrays and shapely geometries only; no files.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from ..cells.adjacency import CellGraph, build_cell_graph
from ..cells.tessellate import Tessellation, split_parts, tessellate_part
from .state import BORDER_M, _cached, _Context, _Grid, _shared_boundary

__all__ = ["kept_sites"]



def kept_sites(grids: dict[str, _Grid], region: list[str], ctx: _Context):
    """The buildings, polygon, cells and cell graph of ``region`` (sorted codes), each grid cut into its own cells.

    Returns what :func:`gridgeo.living.redraw._region_sites` returns:
    ``(members, shape, tess, graph, labels)``, each cell labelled with the
    position in ``region`` of the grid it lies in.  None when a grid of the
    region is not one piece or holds no building, when the region holds a
    compound (its cell would be cut by a grid's border: the region's own
    tessellation handles it), or when the cells of the region are not
    connected.

    Examples
    --------
    Two grids side by side, three buildings each: the cells stay inside
    their grid, and the cells on the shared border are neighbours.

    >>> import numpy as np, shapely
    >>> from gridgeo.living.state import _Context, _Grid
    >>> from gridgeo.partition.notes import GridNote
    >>> geoms = np.array([shapely.box(x + 2, 2, x + 8, 8) for x in range(0, 60, 10)], dtype=object)
    >>> ctx = _Context((10, 40), np.full(6, 5), geoms, None, 0, "A", "001", 6)
    >>> grids = {"001-01": _Grid("001-01", shapely.box(0, 0, 30, 10), {0, 1, 2}, GridNote()),
    ...          "001-02": _Grid("001-02", shapely.box(30, 0, 60, 10), {3, 4, 5}, GridNote())}
    >>> members, shape, tess, graph, labels = kept_sites(grids, ["001-01", "001-02"], ctx)
    >>> labels.tolist(), bool(graph.shared[2, 3] > 0), bool(graph.shared[1, 4] > 0)
    ([0, 0, 0, 1, 1, 1], True, False)
    """
    region = sorted(region)
    if ctx.compound_of is not None:
        inside = np.concatenate([np.array(sorted(grids[c].members), dtype=np.int64) for c in region])
        if len(inside) and (ctx.compound_of[inside] >= 0).any():
            return None
    members = np.array(sorted(set().union(*(grids[c].members for c in region))), dtype=np.int64)
    if not len(members):
        return None
    position = {int(b): i for i, b in enumerate(members.tolist())}
    cells, anchors, owner, site_of_building = [], [], [], np.full(len(members), -1, dtype=np.int64)
    blocks = []
    for label, code in enumerate(region):
        mine = np.array(sorted(grids[code].members), dtype=np.int64)
        parts = split_parts(grids[code].geom)
        if not len(mine) or len(parts) != 1:
            return None
        tess = _cached(ctx, ("own", shapely.to_wkb(parts[0]), mine.tobytes()), _own_cells, parts[0], ctx.geoms[mine])
        if tess is None:
            return None
        offset = len(cells)
        site_of_building[[position[int(b)] for b in mine.tolist()]] = tess.site_of_building + offset
        cells.extend(tess.cells.tolist())
        anchors.extend(tess.anchors.tolist())
        owner.extend([label] * len(tess.cells))
        blocks.append((offset, tess, parts[0]))
    cells = np.array(cells, dtype=object)
    anchors = np.array(anchors, dtype=object)
    owner = np.array(owner, dtype=np.int64)
    weight = np.bincount(site_of_building, weights=ctx.households[members], minlength=len(cells)).astype(np.int64)
    shape = shapely.union_all([grids[c].geom for c in region])
    graph = _joined_graph(cells, weight, anchors, owner, blocks, ctx.barriers)
    if connected_components(graph.shared, directed=False)[0] != 1:
        return None
    return members, shape, Tessellation(cells, site_of_building, None, anchors), graph, owner


def _own_cells(part, buildings: np.ndarray) -> Tessellation | None:
    """One grid's cells among its buildings, mended as a region's are (None when they cannot tile the grid)."""
    from .redraw import _mended  # (redraw imports this module)

    return _mended(tessellate_part(part, buildings), part, buildings)


def _joined_graph(cells: np.ndarray, weight: np.ndarray, anchors: np.ndarray, owner: np.ndarray, blocks: list, barriers) -> CellGraph:
    """The cell graph of the grids' cells together: each grid's own edges, and the edges where cells of two grids meet."""
    rows, cols, lengths = [], [], []
    for offset, tess, part in blocks:
        n = len(tess.cells)
        if n < 2:
            continue
        own = build_cell_graph(tess.cells, np.zeros(n, dtype=np.int64), tess.anchors, None, outline_length=float(shapely.length(part)))
        coo = own.shared.tocoo()
        rows.append(coo.row + offset)
        cols.append(coo.col + offset)
        lengths.append(coo.data)
    left, right = shapely.STRtree(cells).query(cells, predicate="intersects")
    across = (left < right) & (owner[left] != owner[right])
    left, right = left[across], right[across]
    if len(left):
        meet = _shared_boundary(cells[left], cells[right])  # cells of two grids meet as the grids do (state._borders)
        keep = meet > BORDER_M
        left, right, meet = left[keep], right[keep], meet[keep]
        rows += [left, right]
        cols += [right, left]
        lengths += [meet, meet]
    n = len(cells)
    rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    lengths = np.concatenate(lengths) if lengths else np.zeros(0)
    shared = sp.csr_matrix((lengths, (rows, cols)), shape=(n, n))
    shared.sum_duplicates()
    shared.sort_indices()
    crossed = np.zeros(len(shared.data))
    if barriers is not None and len(barriers) and len(shared.data):
        starts = np.repeat(np.arange(n), np.diff(shared.indptr))
        segments = shapely.linestrings(np.stack([shapely.get_coordinates(anchors[starts]), shapely.get_coordinates(anchors[shared.indices])], axis=1))
        hit, _ = shapely.STRtree(barriers).query(segments, predicate="intersects")
        crossed[np.unique(hit)] = 1.0
    barrier = sp.csr_matrix((shared.data * crossed, shared.indices.copy(), shared.indptr.copy()), shape=(n, n))
    barrier.eliminate_zeros()
    xy = shapely.get_coordinates(shapely.centroid(cells)).reshape(n, 2)
    return CellGraph(np.asarray(weight, dtype=np.int64), shapely.area(cells), shapely.length(cells), xy, shared, barrier)
