"""Oversize grids whose households no joint-unit cut fits.

A grid of ``h`` households can be cut into joint units of ``low``–``high``
exactly when some unit count ``m`` has ``m·low <= h <= m·high``; with units of
10–15 that is every ``h >= 20`` and 10–15, but not 16–19.  With small grid
bands (``--grid-size 10:15``) a building of 16–19 households is above the grid
maximum and becomes a grid of its own (excused: it holds a building above the
maximum), yet its households fit no unit cut.

Such a grid may hold more (its excuse stands whatever else it holds), so it
takes in households from a touching ordinary grid, cheapest first:

1. one building of a neighbour that stays in band and in one piece without it;
2. a whole touching oversize grid (two misfits of 17 make 34; 17 and 30 make 47);
3. a whole in-band neighbour, the lightest that makes the total fit.

Works on the cell graph: every move joins touching cells, so grids stay one piece.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..cells.adjacency import CellGraph
from ..units.cut import fits_units
from .mend import drop_empty_labels
from .notes import IN_BAND, OVERSIZE, GridNote, make_note

__all__ = ["fit_units"]


def fit_units(
    graph: CellGraph,
    labels: np.ndarray,
    notes: list[GridNote],
    *,
    band: tuple[int, int],
    unit_band: tuple[int, int],
    frozen: set[int] = frozenset(),
) -> tuple[np.ndarray, list[GridNote], np.ndarray] | None:
    """Let oversize grids whose households fit no unit cut take in neighbouring households.

    Parameters
    ----------
    graph : CellGraph
        The piece's cells.
    labels : ndarray of int
        Grid per cell.
    notes : list of GridNote
        Per grid.
    band : (int, int)
        The grid household band (donors stay inside it).
    unit_band : (int, int)
        The joint-unit band.
    frozen : set of int
        Grids that may neither give nor merge (they hold strips).

    Returns
    -------
    (labels, notes, keep) or None
        New labels (empty grids dropped, the rest renumbered in order), notes,
        and the old number of each new grid; None when no grid changed.
        Grids holding strips (``corridor`` notes) neither give nor merge, so
        their strips only need renumbering.

    Examples
    --------
    A row of cells: a building of 17 households (above the maximum of 15, and
    no unit cut fits 17) next to a grid of 12 + 3.  The 3 joins the 17, whose
    20 households make two units of 10; the 12 stays in band.

    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> from gridgeo.partition.notes import make_note
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(3)])
    >>> g = build_cell_graph(cells, np.array([17, 3, 12]), shapely.centroid(cells))
    >>> notes = [make_note("oversize_building", "oversize_building", households=17, high=15), make_note("in_band")]
    >>> labels, new_notes, keep = fit_units(g, np.array([0, 1, 1]), notes, band=(10, 15), unit_band=(10, 15))
    >>> labels.tolist(), new_notes[0].code, dict(new_notes[0].params)["absorbed"]
    ([0, 0, 1], 'oversize_units', 3)
    """
    low, high = band
    u_low, u_high = unit_band
    labels = np.asarray(labels, dtype=np.int64).copy()
    notes = list(notes)
    k = len(notes)
    weights = np.bincount(labels, weights=graph.weight, minlength=k)
    misfits = [g for g in range(k) if notes[g].status == OVERSIZE and weights[g] > 0 and not fits_units(weights[g], u_low, u_high)]
    if not misfits:
        return None
    touch = graph.shared.tocsr()
    # the largest building of each oversize grid (what its reason names)
    biggest = {g: int(dict(notes[g].params).get("households", 0)) for g in range(k) if notes[g].status == OVERSIZE}
    changed = set()
    for g in misfits:
        if notes[g].status != OVERSIZE or fits_units(weights[g], u_low, u_high) or not (labels == g).any():
            continue
        move = _best_move(graph, touch, labels, notes, weights, g, band, unit_band, frozen)
        if move is None:
            continue
        cells, donor = move
        taken = float(graph.weight[cells].sum())
        labels[cells] = g
        weights[g] += taken
        weights[donor] -= taken
        changed.add(g)
        if donor in biggest and not (labels == donor).any():
            biggest[g] = max(biggest[g], biggest[donor])
            changed.discard(donor)
    if not changed:
        return None
    for g in changed:
        notes[g] = make_note(
            OVERSIZE, "oversize_units", households=biggest[g], high=high, absorbed=int(round(weights[g])) - biggest[g], unit_low=u_low, unit_high=u_high, low=low
        )
    labels, keep = drop_empty_labels(labels, k)
    return labels, [notes[g] for g in keep], keep


def _best_move(graph, touch, labels, notes, weights, g, band, unit_band, frozen):
    """(cells, donor grid) for grid ``g``, or None."""
    low, high = band
    u_low, u_high = unit_band
    members = np.flatnonzero(labels == g)
    around = np.unique(touch[members].indices)
    around = around[labels[around] != g]
    # 1. one building of an in-band ordinary neighbour that stays whole and in band
    singles = []
    for c in around:
        x = int(labels[c])
        if x in frozen or not _ordinary_in_band(notes[x], weights[x], low, high):
            continue
        w = float(graph.weight[c])
        if not (low <= weights[x] - w <= high) or not fits_units(weights[g] + w, u_low, u_high):
            continue
        rest = np.flatnonzero((labels == x) & (np.arange(len(labels)) != c))
        if connected_components(touch[rest][:, rest], directed=False)[0] != 1:
            continue
        singles.append((w, x, int(c)))
    if singles:
        w, x, c = min(singles)
        return np.array([c]), x
    # 2. a touching oversize grid (its excuse stands), the smallest total first; 3. a whole in-band neighbour
    wholes = []
    for x in np.unique(labels[around]):
        x = int(x)
        total = weights[g] + weights[x]
        if x in frozen or not fits_units(total, u_low, u_high):
            continue
        if notes[x].status == OVERSIZE:
            wholes.append((0, total, x))
        elif _ordinary_in_band(notes[x], weights[x], low, high):
            wholes.append((1, total, x))
    if wholes:
        _, _, x = min(wholes)
        return np.flatnonzero(labels == x), x
    return None


def _ordinary_in_band(note: GridNote, weight: float, low: int, high: int) -> bool:
    return note.status in ("", IN_BAND) and note.code != "corridor" and low <= weight <= high
