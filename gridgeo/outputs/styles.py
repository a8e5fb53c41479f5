"""Colours and outlines shared by the web map, the print maps and the QGIS styles of the GeoPackage.

One palette, one outline per status and one colouring of the grids, so that a
grid has the same fill in ``map.html``, on a printed notice and in QGIS.
"""

from __future__ import annotations

import colorsys
import heapq

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["PALETTE", "STATUS_STYLE", "darker", "fill_colours", "grid_colours", "kept_colours", "plan_colours"]

#: Fill colours of grids (ColorBrewer Set3, 12 classes, its grey replaced by tan so that no grid looks
#: like "nothing"); buildings use darker shades of their grid's colour.
PALETTE = (
    "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
    "#b3de69", "#fccde5", "#e5c494", "#bc80bd", "#ccebc5", "#ffed6f",
)  # fmt: skip

#: Outline of a grid by status: colour, weight, dash pattern.
STATUS_STYLE = {
    "in_band": {"color": "#333333", "weight": 1.5, "dashArray": None},
    "oversize_building": {"color": "#ff7f00", "weight": 4, "dashArray": None},
    "infeasible_total": {"color": "#7b3294", "weight": 4, "dashArray": "8 5"},
    "detached_part": {"color": "#2c7bb6", "weight": 4, "dashArray": "2 6"},
    "dedicated": {"color": "#1a9641", "weight": 4, "dashArray": "6 3"},
    "out_of_band": {"color": "#d7191c", "weight": 5, "dashArray": None},
    "edited_split": {"color": "#808000", "weight": 4, "dashArray": "12 4 3 4"},
    "_other": {"color": "#000000", "weight": 3, "dashArray": "1 4"},
}


def darker(hex_colour: str, factor: float = 0.62) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(int(c * factor) for c in (r, g, b)))


def fill_colours(n: int) -> list[str]:
    """``PALETTE``, extended deterministically when more than 12 colours are needed."""
    colours = list(PALETTE)
    i = 0
    while len(colours) < n:
        hue = (i * 0.618033988749895) % 1.0
        r, g, b = _hsl_to_rgb(hue, 0.55, 0.72)
        colours.append(f"#{r:02x}{g:02x}{b:02x}")
        i += 1
    return colours


def _hsl_to_rgb(h: float, s: float, l: float) -> tuple[int, int, int]:  # noqa: E741
    r, g, b = colorsys.hls_to_rgb(h, l, s)
    return int(r * 255), int(g * 255), int(b * 255)


def grid_colours(grids: gpd.GeoDataFrame, keep: dict | None = None, late=()) -> np.ndarray:
    """Colour index per grid such that grids that touch or overlap never share one.

    Smallest-last greedy colouring (at most 6 colours on a planar adjacency),
    each vertex taking the least used colour its neighbours leave free; ties go
    to the lower index and vertices are ordered by grid code, so the result is
    deterministic.

    Parameters
    ----------
    grids : GeoDataFrame
        The grids (``grid_code``), in a metric CRS.
    keep : dict, optional
        Grid code → colour index to keep (the previous version of an updated or
        edited plan): a grid listed keeps its colour unless a neighbour kept the
        same one first; only the others are coloured, as above, around them.
    late : iterable of str
        Codes in ``keep`` whose colour is kept only after every other grid's
        (grids whose polygon changed: a grid drawn as before wins a clash).

    Examples
    --------
    >>> import shapely
    >>> row = gpd.GeoDataFrame({"grid_code": ["a", "b", "c", "d"]}, geometry=[shapely.box(i, 0, i + 1, 1) for i in range(3)] + [shapely.box(9, 9, 10, 10)])
    >>> colour = grid_colours(row)
    >>> colour.tolist(), bool(colour[0] != colour[1] != colour[2])
    ([2, 1, 0, 3], True)
    >>> grid_colours(row, keep={"a": 5, "b": 5, "c": 0}, late={"b"}).tolist()  # b clashes with a: coloured again
    [5, 2, 0, 1]
    """
    n = len(grids)
    if n == 0:
        return np.zeros(0, dtype=int)
    geoms = np.asarray(grids.geometry.array)
    # pairs whose boxes meet, each once, then the exact test: half the tests of a query with the predicate
    left, right = shapely.STRtree(geoms).query(geoms)
    once = left < right
    left, right = left[once], right[once]
    touch = shapely.intersects(geoms[left], geoms[right])
    left, right = left[touch].tolist(), right[touch].tolist()
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for i, j in zip(left, right):
        neighbours[i].append(j)
        neighbours[j].append(i)
    codes = grids["grid_code"].astype(str).tolist() if "grid_code" in grids else [str(i) for i in range(n)]
    rank = [0] * n
    for r, i in enumerate(sorted(range(n), key=lambda i: (codes[i], i))):
        rank[i] = r
    colour = [-1] * n
    used = [0] * len(PALETTE)
    keep = {str(code): int(c) for code, c in (keep or {}).items() if int(c) >= 0}
    late = {str(code) for code in late}
    for i in sorted((i for i in range(n) if codes[i] in keep), key=lambda i: (codes[i] in late, rank[i])):
        c = keep[codes[i]]
        if all(colour[u] != c for u in neighbours[i]):  # else a neighbour kept it first: coloured again below
            colour[i] = c
            used.extend([0] * (c + 1 - len(used)))
            used[c] += 1
    # smallest-last order of the grids left: the vertex of least (degree, rank), from a heap whose stale entries are skipped
    removed = [colour[i] >= 0 for i in range(n)]
    degree = [sum(1 for u in s if not removed[u]) for s in neighbours]
    order = []
    heap = [(degree[i], rank[i], i) for i in range(n) if not removed[i]]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        d, _, v = pop(heap)
        if removed[v] or d != degree[v]:
            continue
        removed[v] = True
        order.append(v)
        for u in neighbours[v]:
            if not removed[u]:
                degree[u] -= 1
                push(heap, (degree[u], rank[u], u))
    for v in reversed(order):
        taken = {colour[u] for u in neighbours[v]}
        best = -1  # the least used colour left free, the lower index on a tie
        for c, count in enumerate(used):
            if c not in taken and (best < 0 or count < used[best]):
                best = c
        if best < 0:
            used.append(0)
            best = len(used) - 1
        colour[v] = best
        used[best] += 1
    return np.array(colour, dtype=int)


def kept_colours(result) -> tuple[dict | None, list[str]]:
    """The ``keep`` and ``late`` arguments of :func:`grid_colours` for a plan: the colours it keeps and the grids
    whose polygon changed (``result.changes["grids_reshaped"]`` of an update or an edit), which keep theirs last.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> kept_colours(SimpleNamespace(grid_colours={"001-01": 2}, changes={"grids_reshaped": ["001-01"]}))
    ({'001-01': 2}, ['001-01'])
    """
    changes = getattr(result, "changes", None) or {}
    return getattr(result, "grid_colours", None), [str(code) for code in changes.get("grids_reshaped", []) or []]


def plan_colours(result) -> np.ndarray:
    """Colour index of every grid of a plan (rows of ``result.grids``), as the map, the print maps and the
    GeoPackage's style draw it: :func:`grid_colours` in the grids' local metric CRS, keeping the colours of the
    previous version of an updated or edited plan (:func:`kept_colours`).  Computed once while the plan is
    written (:mod:`gridgeo.outputs.once`).

    Examples
    --------
    >>> import shapely
    >>> from types import SimpleNamespace
    >>> g = gpd.GeoDataFrame({"grid_code": ["a", "b"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=32651)
    >>> plan_colours(SimpleNamespace(grids=g)).tolist(), plan_colours(SimpleNamespace(grids=g, grid_colours={"a": 4})).tolist()
    ([1, 0], [4, 0])
    """
    from .once import once

    return once(_plan_colours, result).copy()  # the same colours for every file of a plan being written


def _plan_colours(result) -> np.ndarray:
    from ..inputs.crs import local_metric_crs

    grids = result.grids
    if grids is None or not len(grids):
        return np.zeros(0, dtype=int)
    return grid_colours(grids.to_crs(local_metric_crs(grids)), *kept_colours(result))
