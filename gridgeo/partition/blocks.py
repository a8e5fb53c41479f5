"""Splitting the rest of a community so that grids follow barrier lines: blocks split on their own, paired or joined to a neighbour, towers taking cells of their block."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .band import _miss, _repair_band
from .bisect import _TREES as _TREES_FIRST
from .bisect import recursive_bisection
from .count import choose_grid_count, feasible_counts
from .notes import GridNote, _infeasible_note
from .program import MAX_PROGRAM, exact_labels
from .proof import MAX_EXHAUSTIVE, exact_split, forced_pockets
from .refine import refine_labels


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
