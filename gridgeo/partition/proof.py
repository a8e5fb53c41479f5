"""Proofs that no contiguous in-band split exists, so a defect can be explained exactly.

The checks, all exact:

* a *stranded cell*: a cell below the band whose every neighbour has
  households and pushes it over the maximum, so no in-band grid can hold it;
* an *enclosed pocket*: the cells of a grid below the band whose only way out
  is one neighbouring cell; every grid holding a pocket cell must then hold
  that gateway cell too, and the pocket plus the gateway exceed the maximum;
* a *forced pocket* (:func:`forced_pockets`): the same shape found in a whole
  graph, so the grid holding it is out of band in every partition (and
  :func:`walled_in`: no split of the graph has every grid in band);
* *exhaustive search* for small parts (at most ``MAX_EXHAUSTIVE`` cells): every
  split of the part into connected in-band grids is enumerated.  The same
  search also *finds* the best split when the heuristics missed one.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import connected_components

from .. import timings
from ..cells.adjacency import CellGraph
from .memo import Memo, graph_key

__all__ = ["stranded_cell", "enclosed_pocket", "forced_pockets", "walled_in", "no_split_exists", "exact_split", "in_band_connected_subsets", "MAX_EXHAUSTIVE"]

MAX_EXHAUSTIVE = 40
_BUDGET = 200_000
#: subsets sharing a lowest cell above which :func:`_covers` filters them as an array
_ARRAY_FROM = 24
_SUBSETS = Memo(capacity=4 * _BUDGET)  # answers of in_band_connected_subsets (gridgeo.partition.memo), sets counted one each
_SPLITS = Memo()  # answers of exact_split


def stranded_cell(graph: CellGraph, cells: np.ndarray, low: int, high: int) -> tuple[str, dict] | None:
    """Reason code and parameters when one of ``cells`` cannot be in any in-band grid at all.

    A cell below the band must share its grid with cells that have households;
    the first such cell reached (through cells without households) is one of
    its *frontier*.  If every frontier cell pushes it above the maximum, no
    in-band grid can hold it.
    """
    weights = graph.weight
    indptr, indices = graph.shared.indptr, graph.shared.indices
    for c in cells:
        w = int(weights[c])
        if w >= low or w == 0:
            continue
        seen = {int(c)}
        stack = [int(c)]
        frontier = set()
        while stack:
            v = stack.pop()
            for j in indices[indptr[v] : indptr[v + 1]]:
                j = int(j)
                if j in seen:
                    continue
                seen.add(j)
                if weights[j] == 0:
                    stack.append(j)
                else:
                    frontier.add(j)
        if not frontier:
            continue
        lightest = min(int(weights[j]) for j in frontier)
        if w + lightest > high:
            return "proven_stranded", {"households": w, "lightest": lightest}
    return None


def enclosed_pocket(graph: CellGraph, cells: np.ndarray, low: int, high: int) -> tuple[str, dict] | None:
    """Reason code and parameters when ``cells`` is, or holds, a pocket behind one gateway cell.

    A pocket is a set of cells whose only outside neighbour is one gateway cell,
    with fewer than ``low`` households, and with more than ``high`` together with
    the gateway.  Some grid is then out of band whatever the split: a grid that
    stays inside the pocket is below ``low``, and the grid holding the gateway
    can only avoid that by taking the whole pocket, which puts it above
    ``high``.  Two shapes are recognised: the grid is the pocket (below the
    band), or the pocket plus its gateway (above the band).
    """
    weight = int(graph.weight[cells].sum())
    if weight < low:
        found = _pocket(graph, cells, low, high)
        return found[1:] if found else None
    if weight > high:
        for gateway in cells:
            pocket = cells[cells != gateway]
            if len(pocket) and int(graph.weight[pocket].sum()) < low:
                found = _pocket(graph, pocket, low, high)
                if found is not None and found[0] == gateway:
                    return found[1:]
    return None


def forced_pockets(graph: CellGraph, low: int, high: int) -> list[tuple[np.ndarray, int]]:
    """Pockets that force a grid out of band in every partition of ``graph``: ``(pocket cells, gateway)``.

    A pocket is a connected set of cells whose only neighbour outside it is one
    gateway cell, with fewer than ``low`` households and more than ``high``
    together with the gateway (see :func:`gridgeo.partition.proof.enclosed_pocket`):
    every grid holding a pocket cell must hold the gateway and the whole pocket.
    Only gateways with ``high - low < households <= high`` qualify.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(4)])
    >>> g = build_cell_graph(cells, np.array([100, 450, 200, 200]), shapely.centroid(cells))
    >>> [(p.tolist(), v) for p, v in forced_pockets(g, 300, 500)]
    [([0], 1)]
    """
    weight = graph.weight
    out = []
    for v in np.flatnonzero((weight > high - low) & (weight <= high)):
        v = int(v)
        around = graph.shared[v].indices
        if len(around) < 1:
            continue
        keep = np.ones(graph.n, dtype=bool)
        keep[v] = False
        rest = np.flatnonzero(keep)
        _, comp = connected_components(graph.shared[rest][:, rest], directed=False)
        label = np.full(graph.n, -1, dtype=np.int64)
        label[rest] = comp
        totals = np.bincount(comp, weights=weight[rest])
        for c in sorted(set(label[around].tolist())):
            if totals[c] < low and totals[c] + weight[v] > high:
                out.append((rest[comp == c], v))
    return out


def walled_in(graph: CellGraph, low: int, high: int) -> bool:
    """Whether no split of ``graph`` into connected grids has every grid in the band, because a pocket is walled in.

    A pocket (:func:`forced_pockets`) is a connected set of
    cells whose only neighbour outside it is one gateway cell, with fewer than
    ``low`` households and more than ``high`` together with the gateway.  A grid
    holding a pocket cell either stays inside the pocket (below ``low``) or holds
    the gateway; the grid holding the gateway is above ``high`` when it takes the
    whole pocket, and otherwise the rest of the pocket is in grids that stay
    inside it.  So some grid is out of the band in every split.  Only claimed
    when no cell holds more than ``high`` households (a grid holding such a cell
    has no band, and could take in the pocket).  Cheap: a search of these
    cells for such a split need not run (it would find none).

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(4)])
    >>> walled_in(build_cell_graph(cells, np.array([100, 450, 200, 200]), shapely.centroid(cells)), 300, 500)
    True
    >>> walled_in(build_cell_graph(cells, np.array([100, 350, 200, 200]), shapely.centroid(cells)), 300, 500)
    False
    """
    return not (graph.weight > high).any() and bool(forced_pockets(graph, low, high))


def _pocket(graph: CellGraph, cells: np.ndarray, low: int, high: int) -> tuple[int, str, dict] | None:
    """(gateway, code, parameters) when ``cells`` is a pocket behind one gateway cell."""
    weight = int(graph.weight[cells].sum())
    inside = np.zeros(graph.n, dtype=bool)
    inside[cells] = True
    outside = set()
    for i in cells:
        outside.update(int(j) for j in graph.shared[i].indices if not inside[j])
    if len(outside) != 1:
        return None
    gateway = outside.pop()
    total = weight + int(graph.weight[gateway])
    if total <= high:
        return None
    return gateway, "proven_pocket", {"households": weight, "gateway": int(graph.weight[gateway]), "total": total}


def in_band_connected_subsets(
    graph: CellGraph, low: int, high: int, budget: int = _BUDGET, max_sets: int | None = None
) -> list[int] | None:
    """Bit masks of every connected cell set with households in [low, high] (None past ``budget`` steps).

    Connected sets are enumerated once each (Wernicke's ESU), pruned as soon
    as their households pass ``high`` (households are never negative).  The
    search is a loop over an explicit stack, with the cells seen so far (the
    set and its neighbours) as one integer bit mask; a step is one set
    visited.  ``max_sets``: None as soon as more sets than this were found
    (the caller has no use for them).

    The order of the sets is part of the result (the integer program of
    :mod:`~gridgeo.partition.program` numbers its columns by it): the sets come
    depth first, each set's extensions taken from the end of its list, and a
    cell's new neighbours in the iteration order of a Python set of the cell's
    row of ``graph.shared``, as the recursive search this replaces took them.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(4)])
    >>> g = build_cell_graph(cells, np.array([5, 6, 4, 7]), shapely.centroid(cells))
    >>> [bin(b) for b in in_band_connected_subsets(g, 10, 15)]
    ['0b11', '0b111', '0b110', '0b1100']
    >>> in_band_connected_subsets(g, 10, 15, budget=3) is None
    True
    """
    key = graph_key(graph, "subsets", low, high, budget, max_sets)
    kept = _SUBSETS.get(key)
    if kept is None:
        kept = (_in_band_connected_subsets(graph, low, high, budget, max_sets),)
        _SUBSETS.put(key, kept, weight=1 + len(kept[0] or ()))
    return None if kept[0] is None else list(kept[0])


def _in_band_connected_subsets(graph: CellGraph, low: int, high: int, budget: int, max_sets: int | None) -> tuple[int, ...] | None:
    n = graph.n
    weights = [int(x) for x in graph.weight]
    indptr, indices = graph.shared.indptr, graph.shared.indices
    neighbours = [list({int(j) for j in indices[indptr[i] : indptr[i + 1]]}) for i in range(n)]
    reach = [sum(1 << u for u in row) for row in neighbours]
    limit = float("inf") if max_sets is None else max_sets
    good: list[int] = []
    steps = 0
    for root in range(n):
        weight = weights[root]
        if weight > high:
            continue
        steps += 1
        if steps > budget:
            return None
        if weight >= low:
            good.append(1 << root)
            if len(good) > limit:
                return None
        # frames: (cells, cells and their neighbours, households, extensions left)
        stack = [(1 << root, reach[root] | (1 << root), weight, [u for u in sorted(neighbours[root]) if u > root])]
        while stack:
            bits, seen, weight, extension = stack[-1]
            if not extension:
                stack.pop()
                continue
            w = extension.pop()
            new_weight = weight + weights[w]
            if new_weight > high:
                continue
            steps += 1
            if steps > budget:
                return None
            new_bits = bits | (1 << w)
            if new_weight >= low:
                good.append(new_bits)
                if len(good) > limit:
                    return None
            exclusive = [u for u in neighbours[w] if u > root and not (seen >> u) & 1]
            stack.append((new_bits, seen | reach[w], new_weight, extension + exclusive))
    return tuple(good)


def _covers(n: int, good: list[int], limit: int = 20000, budget: int = _BUDGET, state: dict | None = None):
    """Yield splits of all n cells into subsets from ``good`` (as lists of bit masks).

    A depth-first search: at each step the lowest cell not yet covered is
    covered by each subset of ``good`` whose lowest cell it is and that
    overlaps nothing chosen, in the order of ``good``.  A step is one visit of
    a state (the cells covered so far); a state from which no split was found
    is not searched again.  ``state["cut_short"]`` becomes True when the search
    stopped at ``budget`` steps before it was complete (so the absence of a
    split proves nothing); it stops after ``limit`` splits.  The search runs on
    an explicit stack (no recursion): one frame per chosen subset.

    Examples
    --------
    Three cells in a row, subsets {0}, {0, 1}, {1, 2} and {2}:

    >>> list(_covers(3, [0b001, 0b011, 0b110, 0b100]))
    [[1, 6], [3, 4]]
    """
    state = {} if state is None else state
    state["cut_short"] = False
    full = (1 << n) - 1
    by_lowest: dict[int, list[int]] = {}
    for bits in good:
        lowest = (bits & -bits).bit_length() - 1
        by_lowest.setdefault(lowest, []).append(bits)
    # long lists are filtered as arrays (fewer than 64 cells: a mask fits in an int64)
    as_array = {lowest: np.array(masks, dtype=np.int64) for lowest, masks in by_lowest.items() if len(masks) > _ARRAY_FROM and n < 64}
    found = steps = 0
    dead: set[int] = set()
    frames: list[list] = []  # per state being searched: [cells covered, splits found before it, subsets that fit, next one]
    chosen: list[int] = []  # the subset each frame but the last descended into
    used = 0
    while True:
        # visit ``used``: a new frame, or nothing more to search from it
        opened = False
        if found < limit:
            if steps > budget:
                state["cut_short"] = True
            else:
                steps += 1
                if used == full:
                    found += 1
                    yield list(chosen)
                elif used not in dead:
                    free = ~used & full
                    lowest = (free & -free).bit_length() - 1
                    masks = as_array.get(lowest)
                    if masks is not None:
                        fits = masks[(masks & used) == 0].tolist()
                    else:
                        fits = [bits for bits in by_lowest.get(lowest, ()) if not bits & used]
                    frames.append([used, found, fits, 0])
                    opened = True
        if not opened:
            if not frames:
                return
            chosen.pop()  # back in the frame that descended
        while True:
            frame = frames[-1]
            fits, at = frame[2], frame[3]
            if at < len(fits):
                frame[3] = at + 1
                chosen.append(fits[at])
                used = frame[0] | fits[at]
                break
            if found == frame[1] and steps <= budget:
                dead.add(frame[0])
            frames.pop()
            if not frames:
                return
            chosen.pop()


@timings.timed("repairs and proofs")
def no_split_exists(graph: CellGraph, low: int, high: int) -> bool:
    """True when no split of the (small, connected) ``graph`` into connected in-band grids exists.

    Only for graphs of at most ``MAX_EXHAUSTIVE`` cells, and only when the search
    finishes within its step budget; otherwise returns False (nothing proven).
    """
    if graph.n > MAX_EXHAUSTIVE or graph.n == 0:
        return False
    good = in_band_connected_subsets(graph, low, high)
    if good is None:
        return False
    state: dict = {}
    found = next(_covers(graph.n, good, limit=1, state=state), None)
    return found is None and not state["cut_short"]


@timings.timed("repairs and proofs")
def exact_split(
    graph: CellGraph, low: int, high: int, k: int, limit: int = 20000, budget: int = _BUDGET, state: dict | None = None
) -> np.ndarray | None:
    """The best split of a small graph into connected in-band grids, or None when none exists.

    Prefers ``k`` grids, then the shortest total boundary between grids, among
    the first ``limit`` splits found; the search stops after ``budget`` steps
    (None then proves nothing).  ``state["complete"]`` (when a dict is given)
    tells whether the search ran to its end, so that None is a proof.
    """
    state = {} if state is None else state
    state["complete"] = False
    n = graph.n
    if n > MAX_EXHAUSTIVE or n == 0:
        return None
    key = graph_key(graph, "split", low, high, k, limit, budget)
    kept = _SPLITS.get(key)
    if kept is None:
        kept = _exact_split(graph, low, high, k, limit, budget)
        _SPLITS.put(key, kept)
    labels, state["complete"] = kept
    return None if labels is None else labels.copy()


def _exact_split(graph: CellGraph, low: int, high: int, k: int, limit: int, budget: int) -> tuple[np.ndarray | None, bool]:
    """The search of :func:`exact_split`: (labels or None, whether it ran to its end)."""
    n = graph.n
    good = in_band_connected_subsets(graph, low, high, budget=budget)
    if good is None:
        return None, False
    rows, cols = graph.shared.nonzero()
    lengths = np.asarray(graph.shared[rows, cols]).ravel()
    best = None
    search: dict = {}
    for cover in _covers(n, good, limit=limit, budget=budget, state=search):
        labels = np.empty(n, dtype=np.int64)
        for label, bits in enumerate(cover):
            labels[[i for i in range(n) if bits >> i & 1]] = label
        cut = float(lengths[labels[rows] != labels[cols]].sum())
        key = (abs(len(cover) - k), cut)
        if best is None or key < best[0]:
            best = (key, labels)
    return (None if best is None else best[1]), not search["cut_short"]
