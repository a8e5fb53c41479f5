"""Why a grid crosses a barrier: necessary by counting or proof, or needless.

A grid *crosses* a barrier when it spans two or more barrier blocks (sets of
cells no barrier line separates).  Each block is judged on its own
(:func:`block_alone`).  It *cannot stand alone* when

* its households admit no grid count in the band (too few, or a total in a
  gap such as 501-599 with 300-500), so it must share a grid with a
  neighbour (the counting argument), or
* no split of it into connected in-band grids exists (an exhaustive search
  of a small block, or a stranded cell).

A block holding a building above the band (a *tower*, a grid of its own and
excused) can always stand alone: what its tower grids leave may join them.  A
pocket behind one gateway cell that is out of band in every partition of the
whole piece (:func:`gridgeo.partition.proof.forced_pockets`) is set aside
before its block is judged: crossing a barrier would not bring it into the band.

A grid joining ``m`` blocks is *necessary* when at most one of them can stand
alone (each of its ``m - 1`` crossings is then owed to a block that cannot),
*needless* when two or more of them can each stand alone (a crossing between
two such blocks could go), and *undetermined* when that depends on blocks the
search could neither split in band nor prove unsplittable.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..cells.adjacency import CellGraph
from .blocks import _split_component, _total_miss
from .count import choose_grid_count
from .notes import DEDICATED
from .proof import MAX_EXHAUSTIVE, exact_split, forced_pockets, no_split_exists, stranded_cell

__all__ = ["ALONE", "NO_COUNT", "NO_SPLIT", "UNKNOWN", "NECESSARY", "NEEDLESS", "UNDETERMINED", "block_alone", "explain_crossings"]

ALONE = "alone"
NO_COUNT = "no_count"
NO_SPLIT = "no_split"
UNKNOWN = "unknown"

NECESSARY = "necessary"
NEEDLESS = "needless"
UNDETERMINED = "undetermined"


def block_alone(
    graph: CellGraph,
    cells: np.ndarray,
    low: int,
    high: int,
    rng: np.random.Generator,
    *,
    dedicated: np.ndarray | None = None,
    pockets: list | None = None,
    attempts: int = 4,
) -> tuple[str, str]:
    """Whether the barrier block ``cells`` can form grids on its own, and why.

    Parameters
    ----------
    graph : CellGraph
        The connected piece the block lies in.
    cells : ndarray of int
        The block's cells.
    low, high : int
        The household band.
    rng : numpy.random.Generator
        For the heuristic split of blocks too large for the exhaustive search.
    dedicated : ndarray of bool, optional
        Cells that are dedicated grids (grids of their own that take no other cell).
    pockets : list of (ndarray, int), optional
        Pockets of the whole piece (:func:`forced_pockets`): a pocket and its
        gateway inside the block form a grid out of band in every partition of
        the piece, so the block is judged without them.
    attempts : int
        Heuristic split attempts per block component.

    Returns
    -------
    verdict : str
        :data:`ALONE` (in-band grids, plus tower grids, cover the block),
        :data:`NO_COUNT` (its households admit no grid count), :data:`NO_SPLIT`
        (proven: no contiguous in-band split) or :data:`UNKNOWN` (none found, none
        proven impossible).
    detail : str
        A short explanation.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(6)])
    >>> g = build_cell_graph(cells, np.full(6, 100), shapely.centroid(cells))
    >>> block_alone(g, np.arange(6), 300, 500, np.random.default_rng(0))[0]
    'alone'
    >>> block_alone(g, np.arange(2), 300, 500, np.random.default_rng(0))[0]
    'no_count'
    """
    cells = np.asarray(cells, dtype=np.int64)
    dedicated = np.zeros(graph.n, dtype=bool) if dedicated is None else np.asarray(dedicated, dtype=bool)
    tower = (graph.weight > high) & ~dedicated
    inside = np.zeros(graph.n, dtype=bool)
    inside[cells] = True
    towers = cells[tower[cells]]
    forced = np.zeros(graph.n, dtype=bool)
    for pocket, gateway in pockets or []:
        if inside[gateway] and inside[pocket].all():
            forced[pocket] = True
            forced[gateway] = True
    rest = cells[~tower[cells] & ~dedicated[cells] & ~forced[cells]]
    if len(rest) == 0:
        return ALONE, "only grids of their own"
    sub = graph.subgraph(rest)
    count, component = connected_components(sub.shared, directed=False)
    verdicts = []
    for c in range(count):
        local = np.flatnonzero(component == c)
        nodes = rest[local]
        total = int(graph.weight[nodes].sum())
        next_to_tower = bool(len(towers)) and _touches(graph, nodes, towers)
        k, feasible = choose_grid_count(total, low, high)
        if not feasible:
            if next_to_tower:
                verdicts.append((ALONE, f"{total} households join a tower grid of the block"))
            else:
                verdicts.append((NO_COUNT, f"{total} households admit no grid count in {low}-{high}"))
            continue
        verdict, detail = _split_alone(sub.subgraph(local), total, k, low, high, rng, attempts)
        if verdict != ALONE and next_to_tower:
            verdict, detail = ALONE, f"{total} households: in-band grids, the rest joins a tower grid of the block"
        verdicts.append((verdict, detail))
    order = [NO_COUNT, NO_SPLIT, UNKNOWN, ALONE]
    worst = min(verdicts, key=lambda v: order.index(v[0]))
    return worst


def _touches(graph: CellGraph, nodes: np.ndarray, others: np.ndarray) -> bool:
    mark = np.zeros(graph.n, dtype=bool)
    mark[others] = True
    rows = graph.shared[nodes]
    return bool(mark[rows.indices].any())


def _split_alone(sub: CellGraph, total: int, k: int, low: int, high: int, rng, attempts: int) -> tuple[str, str]:
    """Find, or disprove, a split of the connected ``sub`` into connected in-band grids."""
    if sub.n <= MAX_EXHAUSTIVE:
        if exact_split(sub, low, high, k) is not None:
            return ALONE, f"{total} households: an in-band split exists"
        if no_split_exists(sub, low, high):
            return NO_SPLIT, f"{total} households in {sub.n} cells: no in-band split (exhaustive search)"
    proof = stranded_cell(sub, np.arange(sub.n), low, high)
    if proof:
        params = proof[1]
        return NO_SPLIT, f"a cell of {params['households']} households fits no in-band grid (lightest neighbour {params['lightest']})"
    local, parts = _split_component(sub, total, k, True, low, high, rng, attempts=attempts)
    if _total_miss(sub, local, parts, low, high) == 0:
        return ALONE, f"{total} households: an in-band split exists"
    return UNKNOWN, f"{total} households in {sub.n} cells: no in-band split found, none proven impossible"


def explain_crossings(
    graph: CellGraph,
    labels: np.ndarray,
    notes: list,
    low: int,
    high: int,
    rng: np.random.Generator,
) -> list[dict]:
    """Every grid of a partitioned piece that spans two or more barrier blocks, with a verdict.

    Parameters
    ----------
    graph : CellGraph
        One connected piece (as :func:`gridgeo.partition.plan.partition_part` saw it).
    labels : ndarray of int
        Grid label per cell.
    notes : list of GridNote
        One per grid (dedicated grids are recognised by their status).
    low, high : int
        The household band.
    rng : numpy.random.Generator

    Returns
    -------
    list of dict
        Per crossing grid: ``grid`` (label), ``households``, ``blocks`` (ids),
        ``block_households``, ``block_counts`` (True where the block's total
        admits a grid count: the simple test), ``block_verdicts`` (from
        :func:`block_alone`), ``verdict`` (:data:`NECESSARY`, :data:`NEEDLESS`
        or :data:`UNDETERMINED`) and ``reason``.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(8)])
    >>> wall = np.array([shapely.LineString([(4, -1), (4, 2)])])
    >>> g = build_cell_graph(cells, np.full(8, 100), shapely.centroid(cells), wall)
    >>> rows = explain_crossings(g, np.array([0, 0, 0, 1, 1, 1, 1, 1]), [None, None], 300, 500, np.random.default_rng(0))
    >>> rows[0]["verdict"], rows[0]["blocks"]
    ('needless', [0, 1])
    """
    labels = np.asarray(labels, dtype=np.int64)
    if graph.barrier.nnz == 0 or graph.n == 0:
        return []
    _, block = graph.blocks()
    k = len(notes)
    dedicated = np.zeros(graph.n, dtype=bool)
    for g, note in enumerate(notes):
        if note is not None and note.status == DEDICATED:
            dedicated[labels == g] = True
    block_total = np.bincount(block, weights=graph.weight).astype(np.int64)
    cache: dict[int, tuple[str, str]] = {}
    pockets = forced_pockets(graph, low, high)
    rows = []
    for g in range(k):
        spanned = np.unique(block[labels == g])
        if len(spanned) < 2:
            continue
        verdicts = []
        for b in spanned:
            b = int(b)
            if b not in cache:
                cache[b] = block_alone(graph, np.flatnonzero(block == b), low, high, rng, dedicated=dedicated, pockets=pockets)
            verdicts.append(cache[b])
        kinds = [v for v, _ in verdicts]
        stuck = sum(v in (NO_COUNT, NO_SPLIT) for v in kinds)
        unknown = kinds.count(UNKNOWN)
        free = len(kinds) - stuck - unknown
        if len(kinds) - stuck <= 1:
            verdict = NECESSARY
            which = next(i for i, v in enumerate(kinds) if v in (NO_COUNT, NO_SPLIT))
            reason = f"block {int(spanned[which])} cannot stand alone: {verdicts[which][1]}"
        elif free <= 1:
            verdict = UNDETERMINED
            which = kinds.index(UNKNOWN)
            reason = f"block {int(spanned[which])}: {verdicts[which][1]}"
        else:
            verdict = NEEDLESS
            reason = f"{free} of the {len(kinds)} blocks it joins can each form grids on their own"
        rows.append(
            {
                "grid": g,
                "households": int(graph.weight[labels == g].sum()),
                "blocks": [int(b) for b in spanned],
                "block_households": [int(block_total[b]) for b in spanned],
                "block_counts": [bool(choose_grid_count(int(block_total[b]), low, high)[1]) for b in spanned],
                "block_verdicts": kinds,
                "verdict": verdict,
                "reason": reason,
            }
        )
    return rows
