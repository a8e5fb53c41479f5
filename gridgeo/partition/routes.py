"""Routed corridors: the band's last repair, joining buildings any distance apart.

:mod:`gridgeo.partition.corridors` joins cells two steps apart through the cell between
them.  Some grids are still outside the band after that, mostly with small
bands (``--grid-size 10:15``): a row house of 8 or 9 households whose
wall-sharing neighbours would all take it above the maximum.  Its households
admit an in-band split, only not with the buildings it touches.

This step looks further.  For an out-of-band grid it tries, cheapest route first,

- **donation**: a building of another in-band grid whose households bring it
  into the band and whose loss leaves that grid in band and in one piece;
- **merge**: a whole grid whose households together with its own are in band;
- **hand-off** (a grid above the maximum): one of its own buildings goes to a
  grid it can join, the rest staying one piece in band;
- **split**: a grid above the maximum whose buildings are each below the
  minimum is cut in two, and each part is repaired as above;
- **absorb**, when none of these works: the grid joins the nearest grid that
  holds a building above the maximum (excused anyway), as
  :func:`gridgeo.partition.mend.mend_band` does with a touching one.

The route is the shortest path along the cells' outlines (where the
tessellation runs midway between buildings) that keeps clear of every
footprint and barrier line and of compound or dedicated ground.  A strip a
few metres wide around that path (:data:`ROUTE_WIDTHS_M`) is taken from the
cells it crosses and given to the grid it joins.  The repair is kept only
when every cell keeps one piece, every grid involved is one polygon and the
piece's grids are still a valid coverage; otherwise the next candidate is
tried.  Grids that gained a strip say so in their ``reason`` (status
``in_band``, code ``corridor``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra

from ..cells.adjacency import CellGraph
from ..cells.tessellate import merge_polygons
from .corridors import final_notes, grids_whole, without_pairs
from .mend import mend_band, out_of_band_grids
from .notes import IN_BAND, OUT_OF_BAND, OVERSIZE, GridNote, absorbed_note
from .outline import _Network, outline_network

__all__ = ["repair_by_routes", "outline_network", "ROUTE_WIDTHS_M", "MAX_ROUTE_M"]

logger = logging.getLogger(__name__)

#: strip widths tried, widest first (metres)
ROUTE_WIDTHS_M = (2.0, 1.0)
#: longest route considered (metres along the cells' outlines)
MAX_ROUTE_M = 250.0
#: cells this far apart along a usable route count as neighbours in the exact re-split (metres)
LINK_M = 100.0
#: candidates drawn per out-of-band grid and width before giving up
_TRIES = 12
#: donations passed along a chain of grids, and chain candidates tried per step
_CHAIN = 2
_CHAIN_TRIES = 4
_ATTEMPTS = 3
_SLIVER_M2 = 1e-4
#: cost factor of a segment between two cells of another grid, once routes along grid boundaries failed
_INNER_COST = 4.0


@dataclass
class _State:
    """A piece's split while routes are drawn: labels, cells, strips per grid, which grids are ordinary."""

    labels: np.ndarray
    cells: np.ndarray
    extra: dict[int, list] = field(default_factory=dict)
    ordinary: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def copy(self) -> _State:
        return _State(self.labels.copy(), self.cells.copy(), {g: list(s) for g, s in self.extra.items()}, self.ordinary.copy())


def repair_by_routes(
    graph: CellGraph,
    labels: np.ndarray,
    notes: list[GridNote],
    cells: np.ndarray,
    extra: dict[int, list],
    footprints: list,
    low: int,
    high: int,
    *,
    allowed_via: np.ndarray,
    barriers: np.ndarray | None = None,
):
    """Bring out-of-band grids into the band through routed strips.

    Parameters
    ----------
    graph : CellGraph
        The piece's cells.
    labels : ndarray of int
        Grid per cell.
    notes : list of GridNote
        Per grid.
    cells : ndarray of Polygon
        The piece's cells (metric CRS), aligned with ``graph``; may already have
        strips taken out (see :func:`gridgeo.partition.corridors.join_through_corridors`).
    extra : dict
        Grid → strips it already holds.
    footprints : list of ndarray
        Per cell, its buildings' geometries.
    low, high : int
        The household band.
    allowed_via : ndarray of bool
        Per cell, whether a strip may be taken from it.
    barriers : ndarray of LineString, optional

    Returns
    -------
    (labels, notes, cells, extra) or None
        As :func:`gridgeo.partition.corridors.join_through_corridors` returns them; None
        when no grid could be repaired.

    Examples
    --------
    Four terraced houses of 8, 12, 3 and 11 households in 10–15, with a yard
    behind them: the house of 8 is walled in by the 12, but it can take the
    house of 3 (the 11 stays in band alone) through a strip along the back of
    the yards.

    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> from gridgeo.partition.notes import make_note
    >>> cells = np.array([shapely.box(i * 10, 0, i * 10 + 10, 20) for i in range(4)])
    >>> houses = [np.array([shapely.box(i * 10, 0, i * 10 + 10, 12)]) for i in range(4)]
    >>> g = build_cell_graph(cells, np.array([8, 12, 3, 11]), shapely.centroid(cells))
    >>> notes = [make_note("out_of_band", "search_failed"), make_note("in_band"), make_note("in_band")]
    >>> labels, new_notes, new_cells, strips = repair_by_routes(
    ...     g, np.array([0, 1, 2, 2]), notes, cells, {}, houses, 10, 15, allowed_via=np.ones(4, bool))
    >>> labels.tolist(), [n.status for n in new_notes], new_notes[0].code
    ([0, 1, 0, 2], ['in_band', 'in_band', 'in_band'], 'corridor')
    >>> strips[0][0].bounds, new_cells[1].bounds  # the 2 m strip runs on the outline: its inner half is taken from the 12's yard
    ((10.0, 19.0, 20.0, 20.0), (10.0, 0.0, 20.0, 19.0))
    """
    ordinary = np.array([n.status in ("", IN_BAND, OUT_OF_BAND) for n in notes], dtype=bool)
    if not out_of_band_grids(graph, labels, ordinary, low, high):
        return None
    all_footprints = np.concatenate([np.asarray(f, dtype=object) for f in footprints]) if footprints else np.zeros(0, dtype=object)
    state = _State(np.asarray(labels, dtype=np.int64).copy(), np.asarray(cells, dtype=object).copy(), {int(g): list(s) for g, s in extra.items()}, ordinary)
    router = _Router(graph, np.asarray(allowed_via, dtype=bool), all_footprints, barriers, low, high)
    repaired = 0
    mended = router.mend(state)
    if mended is not None:
        state, repaired = mended
    for g in out_of_band_grids(graph, state.labels, state.ordinary, low, high):
        if not router.bad(state, g):
            continue
        fixed = router.repair(state, g)
        if fixed is not None:
            state = fixed
            repaired += 1
    notes = list(notes)
    hosts = np.array([n.status == OVERSIZE for n in notes] + [False] * (len(state.ordinary) - len(notes)), dtype=bool)
    for g in out_of_band_grids(graph, state.labels, state.ordinary, low, high):
        if not hosts.any():
            break
        households = int(router.weight(state, g))
        absorbed = router.absorb(state, g, hosts)
        if absorbed is None:
            continue
        state, host = absorbed
        notes[host] = absorbed_note(notes[host], households, low=low, high=high)
        repaired += 1
    if not repaired:
        return None
    logger.debug("routes: %d grids repaired", repaired)
    return final_notes(graph, state.labels, notes, state.ordinary, state.cells, state.extra, low, high)


class _Router:
    """Candidate moves for one piece, their routes and strips, and the checks."""

    def __init__(self, graph, allowed, footprints, barriers, low, high):
        self.graph = graph
        self.allowed = allowed
        self.footprints = footprints
        self.barriers = barriers if barriers is not None and len(barriers) else None
        self.low, self.high = low, high
        self.touch = graph.shared.tocsr()

    # -- households and shapes on the cell graph -------------------------------------------
    def weight(self, state: _State, g: int) -> float:
        return float(self.graph.weight[state.labels == g].sum())

    def bad(self, state: _State, g: int) -> bool:
        members = state.labels == g
        return bool(members.any()) and not (self.low <= self.graph.weight[members].sum() <= self.high)

    def in_band(self, w: float) -> bool:
        return self.low <= w <= self.high

    def connected_without(self, state: _State, g: int, cell: int) -> bool:
        """Whether grid ``g`` stays connected on the cell graph without ``cell`` (grids with strips: left to the geometry check)."""
        members = np.flatnonzero((state.labels == g) & (np.arange(len(state.labels)) != cell))
        if not len(members):
            return False
        if state.extra.get(g):
            return True
        return connected_components(self.touch[members][:, members], directed=False)[0] == 1

    # -- exact re-split over route links ----------------------------------------------------
    def mend(self, state: _State) -> tuple[_State, int] | None:
        """Re-split out-of-band grids with their neighbours, where cells a short route apart count as neighbours; draw the routes."""
        frozen = np.zeros(len(state.ordinary), dtype=bool)
        for g, strips in state.extra.items():
            frozen[g] = bool(strips)
        ordinary = state.ordinary & ~frozen
        bad = out_of_band_grids(self.graph, state.labels, ordinary, self.low, self.high)
        if not bad:
            return None
        nets = {half: self._network(state, half) for half in (x / 2 for x in ROUTE_WIDTHS_M)}
        links = self._links(state, nets[min(nets)], bad)
        graph = self.graph
        for _ in range(_ATTEMPTS):
            if links.nnz == 0:
                return None
            wide = CellGraph(graph.weight, graph.area, graph.perimeter, graph.xy, (graph.shared + links * 1e-3).tocsr(), graph.barrier)
            labels, new_ordinary, _ = mend_band(wide, state.labels, ordinary, self.low, self.high, oversize=np.zeros(len(ordinary), dtype=bool))
            after = out_of_band_grids(graph, labels, new_ordinary, self.low, self.high)
            if len(after) >= len(bad):
                return None
            trial = state.copy()
            trial.labels = labels
            trial.ordinary = np.r_[state.ordinary, new_ordinary[len(state.ordinary) :]]
            moved = labels != state.labels
            changed = {int(x) for x in np.unique(np.r_[labels[moved], state.labels[moved]])}
            failed = self._connect(trial, changed, nets)
            if not failed:
                return trial, len(bad) - len(after)
            links = without_pairs(links, failed)
        return None

    def _links(self, state: _State, net: _Network, bad: list[int]) -> sp.csr_matrix:
        """Pairs of cells that do not touch but are joined by a usable route of at most :data:`LINK_M`, near the grids in ``bad``."""
        n = len(state.labels)
        owner_cell = np.concatenate([np.full(len(x), c, dtype=np.int64) for c, x in enumerate(net.cell_nodes)]) if n else np.zeros(0, np.int64)
        owner_node = np.concatenate(net.cell_nodes) if n else np.zeros(0, np.int64)
        order = np.argsort(owner_node, kind="stable")
        owner_cell, owner_node = owner_cell[order], owner_node[order]
        bounds = np.searchsorted(owner_node, np.arange(len(net.xy) + 1))
        # links start only from the out-of-band grids' cells: every grid the re-split builds needs
        # at most the routes of one such cell, so routes of different grids rarely cross
        near = np.flatnonzero(np.isin(state.labels, bad))
        rows, cols = [], []
        for c in near:
            nodes = net.cell_nodes[c]
            if not len(nodes):
                continue
            dist = dijkstra(net.matrix, directed=False, indices=nodes, min_only=True, limit=LINK_M)
            reached = np.flatnonzero(np.isfinite(dist))
            others = np.unique(np.concatenate([owner_cell[bounds[x] : bounds[x + 1]] for x in reached])) if len(reached) else []
            for o in others:
                if o != c and self.touch[c, o] == 0:
                    rows += [int(c), int(o)]
                    cols += [int(o), int(c)]
        links = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
        links.data[:] = 1.0
        return links

    def _connect(self, state: _State, grids: set[int], nets: dict) -> list[tuple[int, int]]:
        """Draw routes joining the pieces of every grid in ``grids``; the cell pairs to give up on when that fails (empty: done)."""
        touched = set(grids)
        for g in sorted(grids):
            members = np.flatnonzero(state.labels == g)
            if not len(members):
                continue
            count, comp = connected_components(self.touch[members][:, members], directed=False)
            if count == 1:
                continue
            joined = comp == comp[0]
            while not joined.all():
                inside, outside = members[joined], members[~joined]
                drawn = None
                for half in sorted(nets, reverse=True):
                    net = nets[half]
                    sources = np.unique(np.concatenate([net.cell_nodes[c] for c in inside]))
                    if not len(sources):
                        continue
                    dist, pred, _ = dijkstra(self._usable(state, net, g, half), directed=False, indices=sources, min_only=True, limit=LINK_M * 2, return_predecessors=True)
                    costs = np.array([_Router._cost(net, dist, np.array([c])) for c in outside])
                    if not np.isfinite(costs).any():
                        continue
                    target = int(outside[np.argmin(costs)])
                    trial = state.copy()
                    hit = self._draw_path(trial, g, net, pred, dist, np.array([target]), half)
                    if hit is not None:
                        state.cells, state.extra = trial.cells, trial.extra
                        touched |= hit
                        drawn = target
                        break
                if drawn is None:
                    return [(int(a), int(b)) for a in inside for b in outside]
                joined |= comp == comp[np.flatnonzero(members == drawn)[0]]
        if not self._whole(state, touched):
            pairs = []
            for g in grids:
                members = np.flatnonzero(state.labels == g)
                pairs += [(int(a), int(b)) for a in members for b in members if a < b]
            return pairs
        return []

    def _draw_path(self, state: _State, receiver: int, net: _Network, pred, dist, end: np.ndarray, half: float) -> set[int] | None:
        nodes = np.concatenate([net.cell_nodes[c] for c in end])
        nodes = nodes[np.isfinite(dist[nodes])]
        if not len(nodes):
            return None
        path = [int(nodes[np.argmin(dist[nodes])])]
        while pred[path[-1]] >= 0:
            path.append(int(pred[path[-1]]))
        xy = net.xy[path]
        line = shapely.Point(xy[0]) if len(xy) == 1 else shapely.LineString(xy)
        strip = shapely.buffer(line, half, quad_segs=4)
        return self._carve(state, strip, receiver, np.flatnonzero(state.labels == receiver))

    # -- the search ----------------------------------------------------------------------------
    def repair(self, state: _State, g: int) -> _State | None:
        w = self.weight(state, g)
        if w < self.low:
            return self._grow(state, g)
        members = np.flatnonzero(state.labels == g)
        if len(members) < 2:
            return None
        for half in (x / 2 for x in ROUTE_WIDTHS_M):
            net = self._network(state, half)
            for cell in members:
                wc = float(self.graph.weight[cell])
                if not self.in_band(w - wc) or not self.connected_without(state, g, cell):
                    continue
                found = self._hand_off(state, g, cell, net, half)
                if found is not None:
                    return found
        # split: a part of the grid becomes a grid of its own, and both grow
        for cell in members:
            if not self.connected_without(state, g, cell):
                continue
            trial = state.copy()
            new = len(trial.ordinary)
            trial.labels[cell] = new
            trial.ordinary = np.r_[trial.ordinary, True]
            for part in (new, g):
                if self.bad(trial, part):
                    trial = self._grow(trial, part) if self.weight(trial, part) < self.low else None
                    if trial is None:
                        break
            if trial is not None:
                return trial
        return None

    def _grow(self, state: _State, g: int, depth: int = _CHAIN, fixed: frozenset = frozenset()) -> _State | None:
        """A grid below the minimum takes a donated building or merges with a grid, through a route.

        With ``depth`` > 0 a donor may fall below the minimum itself and grow in
        turn (a chain of donations); grids in ``fixed`` do not give.
        """
        w = self.weight(state, g)
        k = len(state.ordinary)
        weights = np.bincount(state.labels, weights=self.graph.weight, minlength=k)
        present = np.bincount(state.labels, minlength=k) > 0
        mine = np.flatnonzero(state.labels == g)
        nets: dict[float, _Network] = {}
        for half, strict in ((x / 2, strict) for x in ROUTE_WIDTHS_M for strict in (True, False)):
            net = nets[half] if half in nets else nets.setdefault(half, self._network(state, half))
            sources = np.unique(np.concatenate([net.cell_nodes[c] for c in mine]))
            if not len(sources):
                continue
            usable = self._usable(state, net, g, half, strict=strict)
            dist, pred, _ = dijkstra(usable, directed=False, indices=sources, min_only=True, limit=MAX_ROUTE_M, return_predecessors=True)
            candidates = []
            for x in np.flatnonzero(present & state.ordinary):
                if x == g:
                    continue
                if self.in_band(w + weights[x]):
                    targets = np.flatnonzero(state.labels == x)
                    candidates.append((self._cost(net, dist, targets), 1, int(x), -1, targets))
            donors = np.flatnonzero(self.allowed & (state.labels != g))
            for c in donors:
                x = int(state.labels[c])
                wc = float(self.graph.weight[c])
                if not state.ordinary[x] or x in fixed or not self.in_band(w + wc):
                    continue
                left = weights[x] - wc
                kind = 0 if self.in_band(left) else 2
                if kind == 2 and not (depth > 0 and 0 < left < self.low):
                    continue
                if not self.connected_without(state, x, int(c)):
                    continue
                candidates.append((self._cost(net, dist, np.array([c])), kind, x, int(c), np.array([c])))
            logger.debug("grid %d (%g households), %g m strips, strict %s: %d candidates, %d within reach", g, w, 2 * half, strict, len(candidates), sum(np.isfinite(cand[0]) for cand in candidates))
            candidates = [cand for cand in candidates if np.isfinite(cand[0])]
            candidates.sort(key=lambda cand: (cand[1] == 2, *cand[:4]))
            direct = [cand for cand in candidates if cand[1] != 2][:_TRIES]
            chained = [cand for cand in candidates if cand[1] == 2][:_CHAIN_TRIES]
            for cost, kind, x, c, targets in direct + chained:
                moved = np.flatnonzero(state.labels == x) if kind == 1 else np.array([c])
                found = self._apply(state, receiver=g, moved=moved, ends=(mine, targets), net=net, pred=pred, dist=dist, half=half)
                if found is not None and kind == 2:
                    found = self._grow(found, x, depth - 1, fixed | {g})
                if found is not None:
                    logger.debug("routes: grid %d grew through a %.1f m route (%s)", g, cost, ("donation", "merge", "chain")[kind])
                    return found
        return None

    def absorb(self, state: _State, g: int, hosts: np.ndarray) -> tuple[_State, int] | None:
        """Grid ``g`` joins the grid in ``hosts`` (above the maximum by a building) that the shortest route reaches.

        Returns the new state and the host, or None when no host is within
        :data:`MAX_ROUTE_M` or no route can be drawn.
        """
        mine = np.flatnonzero(state.labels == g)
        present = np.bincount(state.labels, minlength=len(hosts)) > 0
        weights = np.bincount(state.labels, weights=self.graph.weight, minlength=len(hosts))
        for half, strict in ((x / 2, strict) for x in ROUTE_WIDTHS_M for strict in (True, False)):
            net = self._network(state, half)
            sources = np.unique(np.concatenate([net.cell_nodes[c] for c in mine]))
            if not len(sources):
                continue
            candidates = []
            for x in np.flatnonzero(hosts & present):
                # the route is found as if ``g`` already belonged to ``x``: it may run inside either
                labels = state.labels.copy()
                labels[mine] = x
                extra = {h: list(s) for h, s in state.extra.items() if h != g}
                extra.setdefault(int(x), []).extend(state.extra.get(g, []))
                joined = _State(labels, state.cells, extra, state.ordinary)
                targets = np.flatnonzero(state.labels == x)
                usable = self._usable(joined, net, int(x), half, strict=strict)
                dist, pred, _ = dijkstra(usable, directed=False, indices=sources, min_only=True, limit=MAX_ROUTE_M, return_predecessors=True)
                cost = self._cost(net, dist, targets)
                if np.isfinite(cost):
                    candidates.append((cost, float(weights[x]), int(x), joined, targets, dist, pred))
            candidates.sort(key=lambda cand: cand[:3])
            for cost, _w, x, joined, targets, dist, pred in candidates[:_TRIES]:
                found = self._apply(joined, receiver=x, moved=mine, ends=(mine, targets), net=net, pred=pred, dist=dist, half=half)
                if found is not None:
                    logger.debug("routes: grid %d joined the oversize grid %d through a %.1f m route", g, x, cost)
                    return found, x
        return None

    def _hand_off(self, state: _State, g: int, cell: int, net: _Network, half: float) -> _State | None:
        """Building ``cell`` leaves grid ``g`` (above the maximum) for a grid it can join."""
        k = len(state.ordinary)
        weights = np.bincount(state.labels, weights=self.graph.weight, minlength=k)
        present = np.bincount(state.labels, minlength=k) > 0
        wc = float(self.graph.weight[cell])
        sources = net.cell_nodes[cell]
        if not len(sources):
            return None
        for strict in (True, False):
            usable = self._usable(state, net, None, half, strict=strict)
            dist, pred, _ = dijkstra(usable, directed=False, indices=sources, min_only=True, limit=MAX_ROUTE_M, return_predecessors=True)
            candidates = []
            for x in np.flatnonzero(present & state.ordinary):
                if x != g and self.in_band(weights[x] + wc):
                    targets = np.flatnonzero(state.labels == x)
                    candidates.append((self._cost(net, dist, targets), int(x), targets))
            candidates = [cand for cand in candidates if np.isfinite(cand[0])]
            candidates.sort(key=lambda cand: cand[:2])
            for _cost, x, targets in candidates[:_TRIES]:
                found = self._apply(state, receiver=x, moved=np.array([cell]), ends=(np.array([cell]), targets), net=net, pred=pred, dist=dist, half=half)
                if found is not None:
                    return found
        return None

    @staticmethod
    def _cost(net: _Network, dist: np.ndarray, targets: np.ndarray) -> float:
        nodes = np.concatenate([net.cell_nodes[c] for c in targets])
        return float(dist[nodes].min()) if len(nodes) else np.inf

    @staticmethod
    def _usable(state: _State, net: _Network, receiver: int | None, half: float, *, strict: bool = True) -> sp.csr_matrix:
        """The network without the ground of strips that belong to other grids than ``receiver`` (a route may not cut them).

        ``strict``: no segment inside another grid either; else such segments cost :data:`_INNER_COST` times their length.
        """
        strips = [s for g, held in state.extra.items() if g != receiver for s in held if s is not None]
        return net.avoiding(strips, half, labels=state.labels, receiver=receiver, inner_cost=None if strict else _INNER_COST)

    def _network(self, state: _State, half: float) -> _Network:
        return outline_network(state.cells, blocked_cells=~self.allowed, footprints=self.footprints, barriers=self.barriers, half_width=half)

    # -- drawing and checking ----------------------------------------------------------------
    def _apply(self, state: _State, *, receiver: int, moved: np.ndarray, ends, net: _Network, pred, dist, half: float) -> _State | None:
        start, end = ends
        trial = state.copy()
        trial.labels[moved] = receiver
        changed = {int(receiver)} | {int(state.labels[c]) for c in moved}
        if self.touch[start][:, end].nnz == 0:
            touched = self._draw_path(trial, receiver, net, pred, dist, end, half)
            if touched is None:
                return None
            changed |= touched
        if not self._whole(trial, changed):
            return None
        return trial

    def _carve(self, state: _State, strip, receiver: int, mine: np.ndarray) -> set[int] | None:
        """Take ``strip`` from every cell and strip of other grids; the receiver gets it.  Grids touched, or None."""
        own = np.zeros(len(state.cells), dtype=bool)
        own[mine] = True
        # compound and dedicated ground of other grids stays whole
        fenced = np.flatnonzero(~self.allowed & ~own)
        if len(fenced):
            hit = fenced[shapely.intersects(state.cells[fenced], strip)]
            if len(hit):
                strip = shapely.difference(strip, shapely.union_all(state.cells[hit]))
        hit = np.flatnonzero(shapely.intersects(state.cells, strip))
        # the receiver's own cells and strips are noded too, so that the vertices where the strip
        # meets their edges appear on both sides
        pieces = [(("own" if own[c] else "cell", int(c)), state.cells[c]) for c in hit]
        for g, strips in state.extra.items():
            for i, s in enumerate(strips):
                if shapely.intersects(s, strip):
                    pieces.append((("ownstrip" if g == receiver else "strip", g, i), s))
        if not any(key[0] in ("cell", "strip") for key, _ in pieces):
            return None
        polys = np.array([p for _, p in pieces], dtype=object)
        lines = shapely.union_all(np.r_[shapely.boundary(polys), [shapely.boundary(strip)]])
        faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
        if not len(faces):
            return None
        inside = shapely.point_on_surface(faces)
        in_strip = shapely.contains(strip, inside)
        gained = []
        touched: set[int] = set()
        for key, poly in pieces:
            own_faces = shapely.contains(poly, inside)
            if key[0] in ("own", "ownstrip"):
                mine_faces = faces[own_faces]
                if not len(mine_faces):
                    return None
                whole = merge_polygons(mine_faces) if len(mine_faces) > 1 else mine_faces[0]
                if key[0] == "own":
                    state.cells[key[1]] = whole
                else:
                    state.extra[key[1]][key[2]] = whole
                continue
            # slivers where the strip's outline grazes an edge stay with the polygon they came from
            take_mask = own_faces & in_strip & (shapely.area(faces) > _SLIVER_M2)
            keep = faces[own_faces & ~take_mask]
            take = faces[take_mask]
            if not len(take):
                continue
            gained.extend(take)
            if key[0] == "cell":
                if not len(keep):
                    return None
                rest = merge_polygons(keep) if len(keep) > 1 else keep[0]
                if shapely.get_type_id(rest) != 3:
                    return None
                state.cells[key[1]] = rest
                touched.add(int(state.labels[key[1]]))
            else:
                _, g, i = key
                rest = merge_polygons(keep) if len(keep) > 1 else (keep[0] if len(keep) else None)
                state.extra[g][i] = rest
                touched.add(int(g))
        if not gained:
            return None
        for g in list(state.extra):
            state.extra[g] = [p for s in state.extra[g] if s is not None for p in shapely.get_parts(s)]
        joined = merge_polygons(np.array(gained, dtype=object))
        state.extra.setdefault(int(receiver), []).extend(shapely.get_parts(joined))
        return touched

    def _whole(self, state: _State, changed: set[int]) -> bool:
        """Every changed grid one polygon and the grids a valid coverage (:func:`gridgeo.partition.corridors.grids_whole`)."""
        k = len(state.ordinary)
        return grids_whole(state.cells, state.extra, state.labels, k, changed=np.isin(np.arange(k), list(changed)))
