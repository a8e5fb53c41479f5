"""Exact split of a mid-sized part by a set-partitioning integer program.

The exhaustive search of :mod:`~gridgeo.partition.proof` walks every split of
a part of at most :data:`~gridgeo.partition.proof.MAX_EXHAUSTIVE` cells.  Past
that size the same question is put to an integer program instead:

* the *columns* are every connected set of cells whose households lie in the
  band (enumerated once each, as in the exhaustive search; with a narrow band
  such as ``--grid-size 10:15`` they are a few cells each and number in the
  thousands);
* each cell lies in exactly one chosen set (a set partition);
* the cost of a set is the barrier length it spans (times the whole cell
  boundary length, so barriers come first) plus its boundary with the other
  cells, so the cheapest cover has the fewest crossings and then the shortest
  grid boundaries.

HiGHS (through :func:`scipy.optimize.milp`) either returns a cover, or proves
that none exists: then no split of the part into connected in-band grids
exists at all, an exact proof for the defect that remains.  The search is
bounded by a count of enumeration steps and of branch-and-bound nodes (never
by wall time), so the answer is the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import timings
from ..cells.adjacency import CellGraph
from .memo import Memo, graph_key
from .proof import MAX_EXHAUSTIVE, exact_split, in_band_connected_subsets

__all__ = ["ProgramResult", "split_program", "exact_labels", "proven_no_split", "MAX_PROGRAM"]

MAX_PROGRAM = 400  # cells; larger parts are left to the heuristics
_STEPS = 40_000  # enumeration steps of connected in-band cell sets
_COLUMNS = 15_000  # candidate grids the program may choose from
_NODES = 2_000  # branch-and-bound nodes per solve
_PROGRAMS = Memo()  # answers of split_program (gridgeo.partition.memo)


@dataclass(frozen=True)
class ProgramResult:
    """Outcome of :func:`split_program`.

    ``status`` is ``"split"`` (``labels`` holds a cover, grid label per cell),
    ``"none"`` (proven: no split into connected in-band grids exists) or
    ``"unknown"`` (the part was too large, or a bound was reached first).
    """

    status: str
    labels: np.ndarray | None = None


def split_program(graph: CellGraph, low: int, high: int) -> ProgramResult:
    """Split ``graph`` into connected grids of ``low``–``high`` households, or prove it impossible.

    Parameters
    ----------
    graph : CellGraph
        The cells to split (need not be connected: each grid is).
    low, high : int
        The household band.

    Returns
    -------
    ProgramResult

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(6)])
    >>> g = build_cell_graph(cells, np.array([5, 6, 4, 7, 3, 9]), shapely.centroid(cells))
    >>> result = split_program(g, 10, 15)
    >>> result.status, np.bincount(result.labels, weights=g.weight).tolist()
    ('split', [11.0, 11.0, 12.0])
    >>> split_program(g, 16, 17).status  # no run of cells adds up to 16 or 17 and covers the rest
    'none'
    """
    n = graph.n
    if n == 0 or n > MAX_PROGRAM:
        return ProgramResult("unknown")
    key = graph_key(graph, "program", low, high, barrier=True)
    kept = _PROGRAMS.get(key)
    if kept is None:
        kept = _split_program(graph, low, high)
        _PROGRAMS.put(key, kept)
    return ProgramResult(kept.status, None if kept.labels is None else kept.labels.copy())


def _split_program(graph: CellGraph, low: int, high: int) -> ProgramResult:
    """The program of :func:`split_program` (a part of 1 to ``MAX_PROGRAM`` cells)."""
    n = graph.n
    if (graph.weight > high).any():
        return ProgramResult("none")
    # past _COLUMNS sets the answer is 'unknown' however the enumeration ends: it stops there
    subsets = in_band_connected_subsets(graph, low, high, budget=_STEPS, max_sets=_COLUMNS)
    if subsets is None or len(subsets) > _COLUMNS:
        return ProgramResult("unknown")
    if not subsets:
        return ProgramResult("none")
    members = _incidence(subsets, n)
    cost = _costs(graph, members)
    status, chosen = _solve(members, cost)
    if status != "split":
        return ProgramResult(status)
    labels = np.empty(n, dtype=np.int64)
    for label, column in enumerate(chosen):
        labels[members[:, [column]].nonzero()[0]] = label
    return ProgramResult("split", labels)


def _incidence(subsets: list[int], n: int) -> sp.csc_array:
    """Cells × sets incidence matrix of the bit-mask ``subsets``."""
    rows, cols = [], []
    for column, bits in enumerate(subsets):
        while bits:
            low_bit = bits & -bits
            rows.append(low_bit.bit_length() - 1)
            cols.append(column)
            bits ^= low_bit
    data = np.ones(len(rows), dtype=np.float64)
    return sp.csc_array((data, (np.asarray(rows), np.asarray(cols))), shape=(n, len(subsets)))


def _costs(graph: CellGraph, members: sp.csc_array) -> np.ndarray:
    """Per set: barrier length inside it (weighted to come first), plus its boundary with other cells."""
    shared = sp.csr_array(graph.shared)
    degree = np.asarray(shared.sum(axis=1)).ravel()
    inside = np.asarray((shared @ members).multiply(members).sum(axis=0)).ravel()
    boundary = members.T @ degree - inside
    cost = boundary
    if graph.barrier.nnz:
        barrier = sp.csr_array(graph.barrier)
        crossed = np.asarray((barrier @ members).multiply(members).sum(axis=0)).ravel() / 2.0
        cost = cost + crossed * (float(degree.sum()) + 1.0)
    return np.asarray(cost, dtype=np.float64)


def _solve(members: sp.csc_array, cost: np.ndarray) -> tuple[str, list[int]]:
    """Solve the set partition; ``("split", columns)``, ``("none", [])`` or ``("unknown", [])``."""
    # imported here: scipy.optimize takes a third of a second, and most runs never solve a program
    from scipy.optimize import Bounds, LinearConstraint

    from ..solver import milp

    m = members.shape[1]
    result = milp(
        cost,
        constraints=[LinearConstraint(members, 1, 1)],
        integrality=np.ones(m),
        bounds=Bounds(0, 1),
        options={"node_limit": _NODES, "presolve": True},
    )
    if result.status == 2:
        return "none", []
    if result.x is None:
        return "unknown", []
    chosen = [int(j) for j in np.flatnonzero(result.x > 0.5)]
    covered = np.asarray(members[:, chosen].sum(axis=1)).ravel()
    if not np.all(covered == 1):
        return "unknown", []
    return "split", chosen


@timings.timed("repairs and proofs")
def exact_labels(graph: CellGraph, low: int, high: int, k: int) -> np.ndarray | None:
    """An exact split into connected in-band grids: exhaustive search for small parts, then the program (up to :data:`MAX_PROGRAM` cells).

    None when no split was found (which proves nothing by itself: see :func:`proven_no_split`).
    """
    if graph.n <= MAX_EXHAUSTIVE:
        state: dict = {}
        found = exact_split(graph, low, high, k, state=state)
        if found is not None or state["complete"]:
            return found
    result = split_program(graph, low, high)
    return result.labels if result.status == "split" else None


@timings.timed("repairs and proofs")
def proven_no_split(graph: CellGraph, low: int, high: int) -> bool:
    """True when it is proven that ``graph`` admits no split into connected in-band grids."""
    if graph.n <= MAX_EXHAUSTIVE:
        state: dict = {}
        if exact_split(graph, low, high, 1, limit=1, state=state) is not None:
            return False
        if state["complete"]:
            return True
    return split_program(graph, low, high).status == "none"
