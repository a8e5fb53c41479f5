"""Partition one connected community part: grid count, bisection, refinement, flags.

Buildings whose households alone exceed the band's maximum become grids of
their own (they are the only legitimate reason for an oversize grid besides
an infeasible total).  What remains is split per connected component; a
component whose households admit no grid count in the band joins the
neighbouring oversize grid, or, when it has none, forms grids flagged with a
plain-language reason.

With barrier lines the split goes block by block instead (see
:func:`_split_by_blocks`): grids cross a barrier only where a block cannot
form grids on its own, or where the band needs it.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .. import timings
from ..cells.adjacency import CellGraph
from .band import _miss, _repair_band
from .blocks import _adjacent_oversize_grid, _peel_into_oversize, _split_by_blocks, _split_component, _total_miss
from .count import choose_grid_count
from .mend import drop_empty_labels, mend_band
from .notes import DEDICATED, IN_BAND, OUT_OF_BAND, OVERSIZE, GridNote, _infeasible_note, absorbed_note, make_note
from .program import MAX_PROGRAM, exact_labels, proven_no_split
from .proof import enclosed_pocket, stranded_cell
from .refine import consolidate_blocks, refine_labels

__all__ = ["partition_part", "defect_note", "barrier_crossings_lower_bound"]

logger = logging.getLogger(__name__)


def partition_part(
    graph: CellGraph,
    low: int,
    high: int,
    rng: np.random.Generator,
    *,
    detached: bool = False,
    dedicated: np.ndarray | None = None,
    explain: bool = True,
) -> tuple[np.ndarray, list[GridNote]]:
    """Split one connected community part into grids.

    Parameters
    ----------
    graph : CellGraph
        Cells of the part (connected).
    low, high : int
        Household band of a grid.
    rng : numpy.random.Generator
    detached : bool
        True when the part is one of several separate pieces of its community
        (an island or exclave); its flags then say so.

    Returns
    -------
    labels : ndarray of int
        Grid label 0..k-1 per cell; every grid connected.
    notes : list of GridNote
        One per grid: an excuse (oversize building, infeasible total, detached
        part) or a defect, decided after refinement.
    dedicated : ndarray of object, optional
        Per cell, the facility type when the cell is a dedicated facility
        (专属网格: school, hospital, ...), else None.  Each such cell is a grid of
        its own outside the household band; the rest is split around it.
    explain : bool
        Explain every grid left out of the band (:func:`defect_note`: a proof
        that no split exists, where one applies).  False for a caller that only
        wants the labels: such a grid's note is then a bare ``out_of_band``.

    Notes
    -----
    When ``graph.barrier`` has edges, each barrier block (what towers leave of
    it) is split on its own where its households and shape allow; only blocks
    that cannot stand alone, or whose split would miss the band, share grids
    with a neighbour.  A barrier-blind split of the whole part is the last
    resort, kept only if it misses the band less.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(8)])
    >>> g = build_cell_graph(cells, np.full(8, 100), shapely.centroid(cells))
    >>> labels, notes = partition_part(g, 300, 500, np.random.default_rng(0))
    >>> np.bincount(labels, weights=g.weight).tolist()
    [400.0, 400.0]
    """
    n = graph.n
    labels = np.full(n, -1, dtype=np.int64)
    facility = np.zeros(n, dtype=bool) if dedicated is None else np.array([d is not None for d in dedicated], dtype=bool)
    big = (graph.weight > high) & ~facility
    fixed = big | facility
    notes: list[GridNote] = []
    next_label = 0
    for node in np.flatnonzero(facility):
        labels[node] = next_label
        notes.append(make_note(DEDICATED, "dedicated", facility=str(dedicated[node]), households=int(graph.weight[node])))
        next_label += 1
    for node in np.flatnonzero(big):
        labels[node] = next_label
        notes.append(make_note(OVERSIZE, "oversize_building", households=int(graph.weight[node]), high=high))
        next_label += 1
    rest = np.flatnonzero(~fixed)
    if len(rest) and graph.barrier.nnz:
        # grid boundaries follow barriers: each block remainder is split on its own where it can be
        next_label = _split_by_blocks(graph, rest, labels, notes, big, next_label, low, high, rng, detached)
    elif len(rest):
        count, component = connected_components(graph.shared[rest][:, rest], directed=False)
        for c in range(count):
            members = rest[component == c]
            total = int(graph.weight[members].sum())
            k, feasible = choose_grid_count(total, low, high)
            if not feasible and big.any():
                host = _adjacent_oversize_grid(graph, members, labels, big)
                if host is not None:
                    labels[members] = host
                    continue
            sub = graph.subgraph(members)
            # next to an oversize grid, a failed split is better mended by peeling cells into it
            local, k = _split_component(
                sub, total, k, feasible, low, high, rng, attempts=1 if big.any() else 4, repair_rounds=3 if big.any() else 20
            )
            if feasible and big.any() and _total_miss(sub, local, k, low, high) > 0:
                peeled = _peel_into_oversize(graph, members, labels, big, low, high, rng)
                if peeled is not None:
                    host, taken, kept, kept_local, kept_k = peeled
                    labels[taken] = host
                    members, local, k = kept, kept_local, kept_k
            labels[members] = local + next_label
            if not feasible:
                notes.extend([_infeasible_note(total, k, low, high, detached)] * k)
            else:
                notes.extend([GridNote()] * k)
            next_label += k
    excused = np.array([note.status in (OVERSIZE, DEDICATED) for note in notes], dtype=bool)
    if excused.any():
        labels = refine_labels(graph, labels, low, high, frozen=fixed, excused=excused, closed=np.unique(labels[facility]))
        labels, notes = _merge_short_grids_into_oversize(graph, labels, notes, low, big)
        next_label = len(notes)
        excused = np.array([note.status in (OVERSIZE, DEDICATED) for note in notes], dtype=bool)
    if graph.barrier.nnz:
        labels = consolidate_blocks(graph, labels, low, high, frozen=fixed, closed=np.unique(labels[facility]))
        labels = refine_labels(graph, labels, low, high, frozen=fixed, excused=excused, closed=np.unique(labels[facility]))
    # a last repair over the whole part, for grids the per-component steps left out of band
    excused_any = np.array([bool(note.status) for note in notes], dtype=bool)
    weights = np.bincount(labels, weights=graph.weight, minlength=next_label)
    if any(not excused_any[g] and not (low <= weights[g] <= high) for g in range(next_label)):
        labels = _repair_band(graph, labels, excused_any, low, high, rng, fixed, rounds=20, closed=np.unique(labels[facility]))
        labels = refine_labels(
            graph, labels, low, high, frozen=fixed, excused=np.array([n.status in (OVERSIZE, DEDICATED) for n in notes]), closed=np.unique(labels[facility])
        )
    weights = np.bincount(labels, weights=graph.weight, minlength=next_label)
    if any(not excused_any[g] and not (low <= weights[g] <= high) for g in range(next_label)):
        labels, notes = _mend(graph, labels, notes, low, high)
        next_label = len(notes)
        excused_any = np.array([bool(note.status) for note in notes], dtype=bool)
        weights = np.bincount(labels, weights=graph.weight, minlength=next_label)
    if any(not excused_any[g] and not (low <= weights[g] <= high) for g in range(next_label)):
        labels, notes = _solve_regions(graph, labels, notes, low, high)
        next_label = len(notes)
        excused_any = np.array([bool(note.status) for note in notes], dtype=bool)
        weights = np.bincount(labels, weights=graph.weight, minlength=next_label)
    missed = sum(_miss(weights[g], low, high) for g in range(next_label) if not excused_any[g])
    if missed > 0 and graph.barrier.nnz:
        # the band is a constraint, barriers an objective: when the barrier-guided search leaves a
        # grid out of band, the barrier-blind search gets its chance and wins if it misses less
        blind = CellGraph(graph.weight, graph.area, graph.perimeter, graph.xy, graph.shared, _empty_like(graph.barrier))
        blind_labels, blind_notes = partition_part(blind, low, high, rng, detached=detached, dedicated=dedicated, explain=explain)
        blind_weights = np.bincount(blind_labels, weights=graph.weight, minlength=len(blind_notes))
        blind_missed = sum(
            _miss(blind_weights[g], low, high) for g, note in enumerate(blind_notes) if note.status in ("", IN_BAND, OUT_OF_BAND)
        )
        if blind_missed < missed:
            logger.debug("barrier-blind split kept: it misses the band by %d households, the barrier-guided one by %d", blind_missed, missed)
            return blind_labels, blind_notes
    final = []
    for label, note in enumerate(notes):
        if note.status:
            final.append(note)
        elif low <= weights[label] <= high:
            final.append(GridNote(IN_BAND))
        elif not explain:
            final.append(GridNote(OUT_OF_BAND))
        else:
            final.append(defect_note(graph, labels, label, weights, low, high, ordinary=~excused_any))
    return labels, final


@timings.timed("repairs and proofs")
def _mend(graph, labels, notes, low, high):
    """:func:`~gridgeo.partition.mend.mend_band` with the notes kept in step (new grids, absorbed households, dropped grids)."""
    ordinary = np.array([not note.status for note in notes], dtype=bool)
    oversize = np.array([note.status == OVERSIZE for note in notes], dtype=bool)
    labels, ordinary, absorbed = mend_band(graph, labels, ordinary, low, high, oversize=oversize)
    notes = list(notes) + [GridNote()] * (len(ordinary) - len(notes))
    for host, households in absorbed.items():
        notes[host] = absorbed_note(notes[host], households, low=low, high=high)
    labels, keep = drop_empty_labels(labels, len(notes))
    return labels, [notes[g] for g in keep]


@timings.timed("repairs and proofs")
def defect_note(graph, labels, label, weights, low, high, ordinary: np.ndarray | None = None) -> GridNote:
    """Explain an out-of-band grid: proven infeasible when a proof applies, else a search failure.

    ``ordinary`` marks, per label, the grids without an excuse (default: all).
    The exact proof is about the connected cells of ordinary grids around the
    grid: no split of them into connected in-band grids exists.
    """
    cells = np.flatnonzero(labels == label)
    proof = enclosed_pocket(graph, cells, low, high) or stranded_cell(graph, cells, low, high)
    if proof:
        code, params = proof
        return make_note(OUT_OF_BAND, code, low=low, high=high, **params)
    region = _ordinary_region(graph, labels, label, ordinary)
    if len(region) <= MAX_PROGRAM and proven_no_split(graph.subgraph(region), low, high):
        return make_note(OUT_OF_BAND, "proven_exhaustive", households=int(weights[label]), cells=len(region), low=low, high=high)
    return make_note(OUT_OF_BAND, "search_failed", households=int(weights[label]), low=low, high=high)


def _ordinary_region(graph, labels, label, ordinary) -> np.ndarray:
    """The cells of ordinary grids connected to grid ``label`` through cells of ordinary grids."""
    free = np.ones(graph.n, dtype=bool) if ordinary is None else np.asarray(ordinary, dtype=bool)[labels]
    free[labels == label] = True
    nodes = np.flatnonzero(free)
    _, component = connected_components(graph.shared[nodes][:, nodes], directed=False)
    start = component[np.searchsorted(nodes, np.flatnonzero(labels == label)[0])]
    return nodes[component == start]


@timings.timed("repairs and proofs")
def _solve_regions(graph, labels, notes, low, high):
    """Re-split exactly each region of ordinary grids that still holds an out-of-band grid.

    A region is a connected set of cells of ordinary grids (no excuse) of at
    most ``MAX_PROGRAM`` cells; when :func:`~gridgeo.partition.program.exact_labels`
    finds a split of it into connected in-band grids, it replaces the region's grids.
    """
    ordinary = np.array([not note.status for note in notes], dtype=bool)
    k = len(notes)
    for g in range(k):
        members = labels == g
        if not ordinary[g] or not members.any() or low <= graph.weight[members].sum() <= high:
            continue
        region = _ordinary_region(graph, labels, g, ordinary)
        if len(region) > MAX_PROGRAM:
            continue
        before = np.unique(labels[region])
        found = exact_labels(graph.subgraph(region), low, high, len(before))
        if found is None:
            continue
        count = int(found.max()) + 1
        names = np.concatenate([before, np.arange(len(notes), len(notes) + max(count - len(before), 0))])
        labels = labels.copy()
        labels[region] = names[found]
        notes = list(notes) + [GridNote()] * max(count - len(before), 0)
        ordinary = np.concatenate([ordinary, np.ones(max(count - len(before), 0), dtype=bool)])
    labels, keep = drop_empty_labels(labels, len(notes))
    return labels, [notes[g] for g in keep]


def barrier_crossings_lower_bound(graph: CellGraph, k: int, low: int, high: int) -> int:
    """A lower bound on the barrier crossings of any in-band partition of ``graph`` into ``k`` grids.

    Crossings are counted per grid as the barrier blocks it touches minus one.
    Link two blocks when a grid touches both: each linked group of ``m`` blocks
    costs at least ``m - 1`` crossings, and its households must admit a grid
    count.  A block whose households admit none (too few, or in a gap such as
    501-599 with 300-500) therefore sits in a group of two or more; such a
    block costs a crossing of its own unless its group holds only such blocks,
    and each of those groups needs at least ``low`` households.  Hence, with
    ``s`` such blocks holding ``W`` households::

        crossings >= max(blocks - k, s - min(s // 2, W // low))

    Where the graph holds a building above ``high`` (its grid is excused, not
    in band) or the total admits no count, only ``blocks - k`` is claimed.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from gridgeo.cells.adjacency import CellGraph
    >>> w = np.array([400, 20, 30])          # a road separates every cell
    >>> shared = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> g = CellGraph(w, np.ones(3), np.ones(3), np.zeros((3, 2)), shared, shared.copy())
    >>> barrier_crossings_lower_bound(g, 1, 300, 500)
    2
    """
    if graph.barrier.nnz == 0:
        return 0
    n_blocks, block = graph.blocks()
    bound = max(0, n_blocks - k)
    if n_blocks < 2 or (graph.weight > high).any() or not choose_grid_count(int(graph.weight.sum()), low, high)[1]:
        return bound
    totals = np.bincount(block, weights=graph.weight, minlength=n_blocks).astype(np.int64)
    stuck = [int(t) for t in totals if not choose_grid_count(int(t), low, high)[1]]
    s, w = len(stuck), sum(stuck)
    return max(bound, s - min(s // 2, w // max(low, 1)))


def _merge_short_grids_into_oversize(graph, labels, notes, low, big):
    """A grid left below the band next to an oversize grid joins it (that grid is excused anyway)."""
    k = len(notes)
    weights = np.bincount(labels, weights=graph.weight, minlength=k)
    drop = []
    for g in range(k):
        if notes[g].status or weights[g] >= low:
            continue
        members = np.flatnonzero(labels == g)
        host = _adjacent_oversize_grid(graph, members, labels, big)
        if host is not None:
            labels[members] = host
            weights[host] += weights[g]
            drop.append(g)
    if not drop:
        return labels, notes
    keep = [g for g in range(k) if g not in drop]
    remap = np.full(k, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    return remap[labels], [notes[g] for g in keep]


def _empty_like(matrix):
    """An all-zero sparse matrix of the same shape (a graph without barriers)."""
    return sp.csr_matrix(matrix.shape, dtype=matrix.dtype)
