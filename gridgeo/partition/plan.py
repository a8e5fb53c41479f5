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
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .. import timings
from ..cells.adjacency import CellGraph
from ..labels import reason_text
from .bisect import _TREES as _TREES_FIRST
from .bisect import recursive_bisection
from .count import choose_grid_count, feasible_counts
from .mend import drop_empty_labels, mend_band
from .program import MAX_PROGRAM, exact_labels, proven_no_split
from .proof import MAX_EXHAUSTIVE, enclosed_pocket, exact_split, forced_pockets, stranded_cell
from .refine import consolidate_blocks, refine_labels

__all__ = ["GridNote", "make_note", "defect_note", "partition_part", "barrier_crossings_lower_bound", "IN_BAND", "OVERSIZE", "INFEASIBLE", "DETACHED", "OUT_OF_BAND", "DEDICATED"]

logger = logging.getLogger(__name__)

IN_BAND = "in_band"
OVERSIZE = "oversize_building"
INFEASIBLE = "infeasible_total"
DETACHED = "detached_part"
OUT_OF_BAND = "out_of_band"
DEDICATED = "dedicated"


@dataclass(frozen=True)
class GridNote:
    """Why a grid is (or is not) allowed outside the band; ``status`` is empty for ordinary grids.

    ``code`` and ``params`` name the reason (see :data:`gridgeo.labels.REASONS`);
    ``reason`` is its English sentence.
    """

    status: str = ""
    code: str = ""
    params: tuple = ()

    @property
    def reason(self) -> str:
        return reason_text(self.code, dict(self.params), "en")


def make_note(status: str, code: str = "", **params) -> GridNote:
    """A :class:`GridNote` with its reason parameters."""
    return GridNote(status, code, tuple(sorted(params.items())))


def partition_part(
    graph: CellGraph,
    low: int,
    high: int,
    rng: np.random.Generator,
    *,
    detached: bool = False,
    dedicated: np.ndarray | None = None,
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
        blind_labels, blind_notes = partition_part(blind, low, high, rng, detached=detached, dedicated=dedicated)
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


def absorbed_note(note: GridNote, households: int, *, low: int, high: int) -> GridNote:
    """The note of an oversize grid once it took in ``households`` of grids that could not reach the band."""
    params = dict(note.params)
    return make_note(
        OVERSIZE, "oversize_absorbed", households=params.get("households", 0), high=high, low=low, absorbed=params.get("absorbed", 0) + households
    )


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


def _split_component(graph, total, k, feasible, low, high, rng, attempts: int = 4, repair_rounds: int = 20, exact: tuple[int, int] | None = None):
    """Bisect, refine and repair; when grids stay out of band, retry other counts and draws.

    Parts still out of band are solved exactly: up to ``MAX_PROGRAM`` cells by
    :func:`~gridgeo.partition.program.exact_labels`, or, when ``exact``
    (splits compared, search steps) is given, up to ``MAX_EXHAUSTIVE`` cells by
    the exhaustive search within those bounds.
    """
    if k <= 1:
        return np.zeros(graph.n, dtype=np.int64), 1
    counts = [k]
    if feasible:
        middle = (low + high) / 2.0
        counts += sorted((c for c in feasible_counts(total, low, high) if c != k), key=lambda c: abs(total / c - middle))
    excused = not feasible
    best = None
    for attempt in range(attempts):
        count = counts[attempt % len(counts)]
        labels = recursive_bisection(graph, count, low, high, rng, trees=_TREES_FIRST if attempt == 0 else 80)
        labels = refine_labels(graph, labels, low, high)
        if not excused:
            labels = _repair_band(graph, labels, np.zeros(count, dtype=bool), low, high, rng, np.zeros(graph.n, bool), rounds=repair_rounds)
        weights = np.bincount(labels, weights=graph.weight, minlength=count)
        miss = 0 if excused else sum(_miss(w, low, high) for w in weights)
        key = (miss, attempt)
        if best is None or key < best[0]:
            best = (key, labels, count)
        if miss == 0:
            break
    if best[0][0] > 0 and graph.n <= (MAX_PROGRAM if exact is None else MAX_EXHAUSTIVE):
        found = exact_labels(graph, low, high, k) if exact is None else exact_split(graph, low, high, k, limit=exact[0], budget=exact[1])
        if found is not None:
            return found, int(found.max()) + 1
    return best[1], best[2]


_TRIAL_EXACT = (200, 20_000)  # exact splits compared and search steps when trying a union of two regions


def _split_by_blocks(graph, rest, labels, notes, big, next_label, low, high, rng, detached):
    """Split the cells ``rest`` (no tower, no dedicated cell) so that grids follow barrier lines.

    A *unit* is a set of ``rest`` cells joined without crossing a barrier: a
    barrier block, or what towers (buildings above the band, grids of their own)
    leave of one.  Units whose households admit a grid count are split on their
    own.  A unit that admits none joins a tower of its own block when it touches
    one (no crossing: the tower's grid is excused anyway); otherwise it is paired
    or gathered with neighbouring units that cannot stand alone either, or
    joined to the neighbour it shares the longest border with (the crossings the
    band forces).  A unit whose split misses the band gives cells to a tower of
    its block, or is merged with a neighbouring unit and split again when that
    misses less.  Writes grid labels into ``labels``, appends a note per new grid
    to ``notes`` and returns the next free label.
    """
    # a pocket behind one gateway is out of band in every partition: it and its gateway form one grid,
    # so the rest of its block is judged (and split) without it (only where no tower or dedicated grid
    # touches them and their component's households admit a grid count: else that grid is excused anyway)
    free = np.zeros(graph.n, dtype=bool)
    free[rest] = True
    _, component = connected_components(graph.shared[rest][:, rest], directed=False)
    component_of = np.full(graph.n, -1, dtype=np.int64)
    component_of[rest] = component
    component_total = np.bincount(component, weights=graph.weight[rest])
    gateways: dict[int, list[np.ndarray]] = {}
    for pocket, gateway in forced_pockets(graph, low, high):
        if free[gateway] and free[pocket].all() and free[graph.shared[gateway].indices].all():
            gateways.setdefault(gateway, []).append(pocket)
    for gateway in sorted(gateways):
        cells = np.concatenate([[gateway], *gateways[gateway]])
        # several pockets behind one gateway: kept only while together they stay a pocket (below the band)
        if not free[cells].all() or int(graph.weight[cells].sum()) - int(graph.weight[gateway]) >= low:
            continue
        if not choose_grid_count(int(component_total[component_of[gateway]]), low, high)[1]:
            continue
        labels[cells] = next_label
        free[cells] = False
        notes.append(GridNote())
        next_label += 1
    rest = np.flatnonzero(free)
    if len(rest) == 0:
        return next_label
    sub = graph.subgraph(rest)
    n_units, unit = sub.blocks()
    weights = np.bincount(unit, weights=sub.weight, minlength=n_units).astype(np.int64)
    hosts = _block_hosts(graph, rest, unit, n_units, labels, big)
    coo = sp.triu(sub.shared, k=1).tocoo()
    rows, cols, lengths = coo.row, coo.col, coo.data

    def feasible(total):
        return choose_grid_count(int(total), low, high)[1]

    # per cell: its barrier block, and whether its unit could form grids (or join a tower) on its own
    _, block = graph.blocks()
    alone = np.zeros(graph.n, dtype=bool)
    alone[rest] = np.array([feasible(weights[u]) or hosts[u] is not None for u in range(n_units)], dtype=bool)[unit]
    region = unit.copy()
    host = list(hosts)
    alive = set(range(n_units))
    isolated: set[int] = set()

    def borders(r):
        """Border length of region ``r`` with every other region."""
        a, b = region[rows] == r, region[cols] == r
        out = np.bincount(region[cols][a & ~b], weights=lengths[a & ~b], minlength=n_units).astype(float)
        out += np.bincount(region[rows][b & ~a], weights=lengths[b & ~a], minlength=n_units)
        return out

    def merge(r, target):
        region[region == r] = target
        weights[target] += weights[r]
        weights[r] = 0
        if host[target] is None:
            host[target] = host[r]
        alive.discard(r)

    while True:
        bad = sorted((r for r in alive if r not in isolated and host[r] is None and not feasible(weights[r])), key=lambda r: (weights[r], r))
        if not bad:
            break
        r = bad[0]
        border = borders(r)
        neighbours = [int(q) for q in np.flatnonzero(border > 0)]
        if not neighbours:
            isolated.add(r)
            continue
        fitting = [q for q in neighbours if feasible(weights[q] + weights[r])]
        # two units that cannot stand alone but can together: one crossing settles both
        pairing = [q for q in fitting if not feasible(weights[q])]
        # else gather small units together (a group of small units that reaches the band saves a crossing)
        gathering = [q for q in neighbours if not feasible(weights[q]) and weights[q] + weights[r] < low]
        pool = pairing or gathering or fitting or neighbours
        merge(r, max(pool, key=lambda q: (border[q], -q)))
    # split every region; a region that admits no count joins a tower (its own block's when it has one)
    parts: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}  # region -> (nodes, local labels, k, miss)
    for r in sorted(alive):
        nodes = rest[region == r]
        total = int(weights[r])
        k, ok = choose_grid_count(total, low, high)
        if not ok:
            target = host[r] if host[r] is not None else _adjacent_oversize_grid(graph, nodes, labels, big)
            if target is not None:
                labels[nodes] = target
                continue
            part = graph.subgraph(nodes)
            local, k = _split_component(part, total, k, False, low, high, rng)
            parts[r] = (nodes, local, k, -1)
            continue
        part = graph.subgraph(nodes)
        local, k = _split_component(part, total, k, True, low, high, rng, attempts=2, repair_rounds=3 if host[r] is not None else 20)
        parts[r] = (nodes, local, k, _total_miss(part, local, k, low, high))
    # regions that miss the band: give cells to a tower of the block, else try a neighbouring region
    for r in sorted(parts):
        if r not in parts or parts[r][3] <= 0:
            continue
        nodes, local, k, miss = parts[r]
        if host[r] is not None:
            peeled = _peel_into_oversize(graph, nodes, labels, big, low, high, rng, host=host[r])
            if peeled is not None:
                _, taken, kept, kept_local, kept_k = peeled
                labels[taken] = host[r]
                parts[r] = (kept, kept_local, kept_k, 0)
                continue
        border = borders(r)
        best = None
        for rank, q in enumerate(sorted((int(q) for q in np.flatnonzero(border > 0)), key=lambda q: (-border[q], q))):
            if q not in parts or parts[q][3] < 0:
                continue
            union = np.sort(np.concatenate([nodes, parts[q][0]]))
            total = int(graph.weight[union].sum())
            k_union, ok = choose_grid_count(total, low, high)
            if not ok:
                continue
            part = graph.subgraph(union)
            joined, k_union = _split_component(part, total, k_union, True, low, high, rng, attempts=2, exact=_TRIAL_EXACT)
            after = _total_miss(part, joined, k_union, low, high)
            if after < miss + parts[q][3]:
                # fewest grids joining two blocks that could each stand alone, then fewest crossings
                key = (after, *_crossing_score(block[union], alone[union], joined, k_union), rank)
                if best is None or key < best[0]:
                    best = (key, q, union, joined, k_union, after)
        if best is not None:
            _, q, union, joined, k_union, after = best
            region[np.isin(region, [r, q])] = min(r, q)
            if host[min(r, q)] is None:
                host[min(r, q)] = host[max(r, q)]
            del parts[max(r, q)]
            parts[min(r, q)] = (union, joined, k_union, after)
        elif host[r] is None:
            # the band comes first: cells may go to a tower across a barrier
            peeled = _peel_into_oversize(graph, nodes, labels, big, low, high, rng)
            if peeled is not None:
                target, taken, kept, kept_local, kept_k = peeled
                labels[taken] = target
                parts[r] = (kept, kept_local, kept_k, 0)
    for r in sorted(parts):
        nodes, local, k, miss = parts[r]
        labels[nodes] = local + next_label
        if miss < 0:
            total = int(graph.weight[nodes].sum())
            notes.extend([_infeasible_note(total, k, low, high, detached)] * k)
        else:
            notes.extend([GridNote()] * k)
        next_label += k
    return next_label


def _crossing_score(block, alone, labels, k):
    """(grids joining two or more blocks that could each stand alone, crossings) of a split."""
    needless = crossings = 0
    for g in range(k):
        mine = labels == g
        spanned = np.unique(block[mine])
        crossings += len(spanned) - 1
        if len(spanned) > 1:
            free = np.unique(block[mine & alone])
            needless += int(len(free) > 1)
    return needless, crossings


def _block_hosts(graph, rest, unit, n_units, labels, big):
    """Per unit, the tower grid it shares the longest barrier-free border with (None when it touches none)."""
    out: list[int | None] = [None] * n_units
    if not big.any():
        return out
    coo = graph.shared[rest].tocoo()
    crossing = np.asarray(graph.barrier[rest[coo.row], coo.col]).ravel() > 0
    towards = big[coo.col] & ~crossing
    if not towards.any():
        return out
    border: dict[tuple[int, int], float] = {}
    for u, g, length in zip(unit[coo.row[towards]], labels[coo.col[towards]], coo.data[towards]):
        border[(int(u), int(g))] = border.get((int(u), int(g)), 0.0) + float(length)
    for (u, g), length in sorted(border.items()):
        if out[u] is None or length > border[(u, out[u])]:
            out[u] = g
    return out


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


def _total_miss(graph, labels, k, low, high):
    weights = np.bincount(labels, weights=graph.weight, minlength=k)
    return sum(_miss(w, low, high) for w in weights)


def _peel_into_oversize(graph, members, labels, big, low, high, rng, host=None):
    """Give cells next to an oversize grid to it until the rest splits exactly into the band.

    An oversize grid is excused whatever it holds, so moving a few households
    into it is allowed when that is what makes every other grid fit.  ``host``
    is that grid (default: the oversize grid sharing the longest border with
    ``members``).
    """
    if host is None:
        host = _adjacent_oversize_grid(graph, members, labels, big)
    if host is None:
        return None
    host_nodes = np.flatnonzero(labels == host)
    inside = np.zeros(graph.n, dtype=bool)
    inside[members] = True
    # breadth-first order of the component's cells, starting at the cells touching the host grid
    seeds = [int(j) for i in host_nodes for j in graph.shared[i].indices if inside[j]]
    seen = set()
    order = []
    frontier = sorted(set(seeds))
    while frontier:
        order.extend(frontier)
        seen.update(frontier)
        nxt = set()
        for i in frontier:
            nxt.update(int(j) for j in graph.shared[i].indices if inside[j] and j not in seen)
        frontier = sorted(nxt)
    weights = graph.weight
    taken_weight = 0
    tries = 0
    for count in range(1, min(len(order), 400)):
        taken_weight += int(weights[order[count - 1]])
        if taken_weight > high:
            break  # never more than one grid's worth: beyond, other repairs distort less
        rest_total = int(weights[members].sum()) - taken_weight
        k, feasible = choose_grid_count(rest_total, low, high)
        if not feasible:
            continue
        tries += 1
        if tries > 12:
            break
        taken = np.array(order[:count])
        kept = np.setdiff1d(members, taken)
        sub = graph.subgraph(kept)
        pieces, _ = connected_components(sub.shared, directed=False)
        if pieces != 1:
            continue
        local, k = _split_component(sub, rest_total, k, True, low, high, rng, attempts=1, repair_rounds=0)
        if _total_miss(sub, local, k, low, high) == 0:
            return host, taken, kept, local, k
    return None


def _repair_band(graph, labels, excused, low, high, rng, frozen, rounds: int = 20, closed=None):
    """Merge an out-of-band grid with neighbours and split the union again (ReCom style)."""
    k = len(excused)
    for _ in range(rounds):
        weights = np.bincount(labels, weights=graph.weight, minlength=k)
        bad = [g for g in range(k) if not excused[g] and not (low <= weights[g] <= high)]
        if not bad:
            break
        improved = False
        for g in sorted(bad, key=lambda g: -max(weights[g] - high, low - weights[g])):
            for group in _neighbour_groups(graph, labels, g, excused, k):
                nodes = np.flatnonzero(np.isin(labels, group))
                if frozen[nodes].any():
                    continue
                sub = graph.subgraph(nodes)
                before = sum(_miss(weights[h], low, high) for h in group)
                local = recursive_bisection(sub, len(group), low, high, rng, trees=20)
                after_w = np.bincount(local, weights=sub.weight, minlength=len(group))
                after = sum(_miss(w, low, high) for w in after_w)
                if after < before:
                    trial = labels.copy()
                    for i, h in enumerate(group):
                        trial[nodes[local == i]] = h
                    labels = refine_labels(graph, trial, low, high, frozen=frozen, closed=closed)
                    improved = True
                    break
            if improved:
                break
        if not improved:
            break
    return labels


def _miss(weight, low, high):
    return max(weight - high, low - weight, 0)


def _neighbour_groups(graph, labels, g, excused, k):
    """Groups to merge with grid ``g``: each neighbour alone, then pairs, longest shared border first."""
    members = np.flatnonzero(labels == g)
    rows = graph.shared[members].tocoo()
    border = np.bincount(labels[rows.col], weights=rows.data, minlength=k)
    border[g] = 0
    neighbours = [h for h in np.argsort(-border, kind="stable") if border[h] > 0 and not excused[h]]
    groups = [[g, h] for h in neighbours]
    groups += [[g, h1, h2] for i, h1 in enumerate(neighbours) for h2 in neighbours[i + 1 :]][:10]
    if len(neighbours) > 2:
        groups.append([g, *neighbours])
    return groups


def _adjacent_oversize_grid(graph, members, labels, big):
    """The oversize grid sharing the longest boundary with ``members`` (None if none touches).

    An oversize grid is any grid holding a cell in ``big``; all its cells count.
    With barriers, grids reached without crossing one come first.
    """
    hosts = np.unique(labels[big])
    hosts = hosts[hosts >= 0]
    if len(hosts) == 0:
        return None
    rows = graph.shared[members].tocoo()
    neighbour_labels = labels[rows.col]
    touching = np.isin(neighbour_labels, hosts)
    if not touching.any():
        return None
    if graph.barrier.nnz:
        # a host across no barrier first
        free = touching & ~(np.asarray(graph.barrier[members[rows.row], rows.col]).ravel() > 0)
        if free.any():
            touching = free
    border = {}
    for label, length in zip(neighbour_labels[touching], rows.data[touching]):
        border[int(label)] = border.get(int(label), 0.0) + float(length)
    return max(sorted(border), key=lambda h: border[h])


def _infeasible_note(total, k, low, high, detached):
    if detached:
        return make_note(DETACHED, "detached_part", total=total, low=low, high=high)
    if total == 0:
        return make_note(INFEASIBLE, "no_households")
    return make_note(INFEASIBLE, "infeasible_total", total=total, k=k, low=low, high=high)


def _empty_like(matrix):
    """An all-zero sparse matrix of the same shape (a graph without barriers)."""
    return sp.csr_matrix(matrix.shape, dtype=matrix.dtype)
