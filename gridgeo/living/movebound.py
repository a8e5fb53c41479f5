"""A lower bound on the households an update must move between grids.

When buildings are added or removed, every building first stays in (or joins)
the previous grid that holds it.  Grids then above the band's maximum must give
households away, grids below its minimum must receive some or be dissolved, and
a community whose total no longer admits its grid count needs a grid more or
less.  :func:`households_to_move` bounds from below the number of households
of buildings present before and after (the ones :attr:`Partition.changes`
counts in ``households_moved``) that any repair must move, under the model that
households move between grids across the previous grids' shared borders.

It is the optimum of a small mixed-integer program per community (solved by
HiGHS; when it stops at its node limit, the best proven bound is taken, so the
value can only be lower than what a real repair needs):

* every moved building crosses one border, from its grid into a bordering
  one, and stays there unless that grid is dissolved: a dissolved grid's area
  goes to its neighbours, so what enters it may pass on at no further cost.
  Two flows on the directed border graph of the previous grids carry the
  buildings: *old* households (buildings present in both versions), each
  costing 1 when it leaves its own grid (a chain A → B → C moves buildings out
  of A and out of B), and *new* households (added buildings), free;
* households leave a grid in whole buildings: a grid that gives any gives at
  least its smallest building;
* every grid's final total, its households plus what comes in minus what goes
  out, lies in the band, or the grid is dissolved (it is retired and every
  building it holds leaves);
* a virtual *fresh* node beside every grid stands for grids the repair creates
  there: fed by that grid and the grids bordering it, it receives between
  ``min × u`` and ``max × u`` households for a whole number ``u ≥ 0`` of them;
* grids that are excused (they hold a building above the maximum) have no band
  and keep that building (a repair never moves it); dedicated and locked grids
  take no part.

With ``floors`` (:mod:`gridgeo.living.bordercost`), a border out of a grid
that is not dissolved also carries at least a floor of old households, from
the cells between the border and what crosses it: a transfer of ``x``
households moves at least the envelope's ``α·x + β`` of them, at least
``min_j max(d_j, x − N_j)`` (binary variables pick the ``j``), and at least the
depth of every added building in it.

With ``fresh_floors``, a grid the repair creates is either *solo* (the
buildings of one grid) or *joint* (buildings of several grids, each part
carrying its grid's floor towards the borders it can reach the rest through:
the new grid is in one piece).  With ``cuts``
(:mod:`gridgeo.living.cutcost`), an added building whose cell holds its grid
together takes the households it cuts off out of the grid when it leaves.

The bound is the program's optimum, rounded up.  It bounds every repair whose
result is a feasible point of the program; :mod:`gridgeo.living.reportbound`
checks that the update's own result is one before it reports the bound (and
otherwise reports a weaker program's, or nothing for that community).  The
grids the optimum moves households between are where
:func:`gridgeo.living.update.update` repairs first (:class:`MoveFlow`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint
from scipy.sparse import coo_matrix

from ..solver import milp

__all__ = ["MoveFlow", "cheapest_moves", "households_to_move"]

#: branch-and-bound nodes per community (a count, not a time: the bound does not depend on the machine)
_NODE_LIMIT = 2000


@dataclass
class MoveFlow:
    """The optimum of :func:`cheapest_moves`: the bound and the borders its flows cross."""

    bound: int
    #: pairs of grids (sender, receiver) between which the cheapest repair moves households
    pairs: list[tuple[int, int]] = field(default_factory=list)


def households_to_move(old, new, borders, *, band, free=None, fixed=None, held=None, smallest=None) -> int:
    """The fewest old households a repair of one community must move between grids (a lower bound).

    The value of :func:`cheapest_moves`; see there for the parameters.

    Examples
    --------
    Three grids in a row; the first gained 80 households, the last lost 60:

    >>> households_to_move([580, 400, 240], [0, 0, 0], [(0, 1), (1, 2)], band=(300, 500))
    140

    The same when the 80 are new buildings: they can simply join the second grid,
    which passes 60 of its own on to the third.

    >>> households_to_move([500, 400, 240], [80, 0, 0], [(0, 1), (1, 2)], band=(300, 500))
    60
    """
    return cheapest_moves(old, new, borders, band=band, free=free, fixed=fixed, held=held, smallest=smallest).bound


def cheapest_moves(
    old: np.ndarray,
    new: np.ndarray,
    borders: list[tuple[int, int]],
    *,
    band: tuple[int, int],
    free: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
    held: np.ndarray | None = None,
    smallest: np.ndarray | None = None,
    fresh_from_neighbours: bool = True,
    new_buildings: list | None = None,
    floors: dict | None = None,
    fresh_floors: dict | None = None,
    cuts: list | None = None,
    count: int | None = None,
    relaxed: bool = False,
) -> MoveFlow:
    """The cheapest repair of one community in the border model: the bound and where its households cross.

    Parameters
    ----------
    old, new : array of int
        Per grid, the households of buildings present before and after (``old``)
        and of added buildings (``new``) it holds once every building is placed.
    borders : list of (int, int)
        Pairs of grids sharing a border (each pair once, in either order).
    band : (int, int)
        The household band.
    free : array of bool, optional
        Grids without a band (holding a building above the maximum).
    fixed : array of bool, optional
        Grids that take no part (dedicated or locked).
    held : array of int, optional
        Old households a grid keeps whatever the repair (its building above the
        maximum, which a repair never moves).
    smallest : array of int, optional
        Per grid, the fewest households of one of its buildings (of those with
        any): households leave a grid in whole buildings, so a grid that gives
        any gives at least that (default 1).
    fresh_from_neighbours : bool
        Whether a grid the repair creates beside a grid may also take buildings
        of the grids bordering it (the bound: True).  False gives a plan that
        creates grids only out of one grid, which is what the repair follows.
    new_buildings : list of array of int, optional
        Per grid, the households of each added building it holds (summing to
        ``new``).  Given, an added building leaves its grid whole, across one
        border (to a bordering grid or a fresh one), instead of as any part of
        ``new``: a sharper bound for additions.
    floors : dict, optional
        ``(a, b) →`` :class:`~gridgeo.living.bordercost.BorderFloor` per
        directed border (:func:`gridgeo.living.bordercost.transfer_floors`):
        unless ``a`` is dissolved, the old households crossing from ``a`` to
        ``b`` are at least ``α·x + β`` for each of its lines, ``x`` the
        households crossing in all, and, when it keeps pairs ``(d_j, N_j)``,
        at least ``min_j max(d_j, x − N_j)`` (one binary variable per pair
        picks the ``j``), and, with ``new_buildings``, at least the depth of
        every added building crossing (its ``depth``, aligned with
        ``new_buildings[a]``).
    fresh_floors : dict, optional
        ``(a, i) →`` :class:`~gridgeo.living.bordercost.BorderFloor` of a
        transfer from ``a`` that reaches one of its borders with ``i`` and
        the grids bordering ``i`` (:func:`gridgeo.living.bordercost.transfer_floors`
        with ``towards``).  Given, the grids a repair creates beside grid
        ``i`` are of two kinds: *solo* ones, made of buildings of ``i`` alone,
        and *joint* ones, fed by ``i`` and the grids bordering it, whose part
        in each grid ``a`` it takes from (not dissolved) carries the floor
        ``(a, i)`` as a border does: a grid holding buildings of two grids or
        more is connected, so each piece of it inside ``a`` touches a cell of
        it outside ``a``, across a border of ``a`` with another of these
        grids.  A missing key is no floor.  Without ``fresh_floors``, a new
        grid beside ``i`` may gather any buildings of ``i`` and its
        neighbours at no cost in cells.
    cuts : list of array of float, optional
        With ``new_buildings``: per grid, aligned with ``new_buildings[i]``,
        the households that were there before a building cuts off from the
        rest of its grid (:func:`gridgeo.living.cutcost.cut_costs`): when it
        leaves, at least that many of the grid's own old households leave.
    count : int, optional
        The number of grids (taking part) the repair ends with: the grids not
        dissolved and the fresh ones.  Given, grids already in the band still
        make a repair (the count may have to change).
    relaxed : bool
        Solve the linear relaxation (no integer variable): a lower value, in
        far less time on large programs.

    Returns
    -------
    MoveFlow
        ``bound`` 0 and no pairs when every grid is in band (or free).

    Examples
    --------
    >>> flow = cheapest_moves([580, 400, 240], [0, 0, 0], [(0, 1), (1, 2)], band=(300, 500))
    >>> flow.bound, flow.pairs
    (140, [(0, 1), (1, 2)])

    A grid 2 households short whose neighbour's buildings hold 30 households each:

    >>> cheapest_moves([298, 450], [0, 0], [(0, 1)], band=(300, 500), smallest=[30, 30]).bound
    30

    A grid of 380 that gained one added building of 150 households, beside a grid
    of 360: the building as a whole fits in neither, so households that were there
    before must move: the building joins the 360 and 10 of theirs cross the other
    way (if the 150 could be split, the bound would be 0):

    >>> cheapest_moves([380, 360], [150, 0], [(0, 1)], band=(300, 500), new_buildings=[[150], []]).bound
    10
    >>> cheapest_moves([380, 360], [150, 0], [(0, 1)], band=(300, 500)).bound
    0
    """
    old = np.asarray(old, dtype=float)
    new = np.asarray(new, dtype=float)
    k = len(old)
    low, high = band
    free = np.zeros(k, dtype=bool) if free is None else np.asarray(free, dtype=bool)
    fixed = np.zeros(k, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    held = np.zeros(k) if held is None else np.asarray(held, dtype=float)
    smallest = np.ones(k) if smallest is None else np.maximum(np.asarray(smallest, dtype=float), 1.0)
    total = old + new
    constrained = ~free & ~fixed
    if count is None and (not constrained.any() or all(low <= total[i] <= high for i in np.flatnonzero(constrained))):
        return MoveFlow(0)
    big = float(total[~fixed].sum()) + 1.0
    # arcs between bordering grids that take part, and to the fresh node beside each grid (index k + i)
    pairs = {(a, b) for a, b in borders if a != b and not fixed[a] and not fixed[b]}
    arcs = sorted(pairs | {(b, a) for a, b in pairs})
    near = [{i} for i in range(k)]
    for a, b in pairs:
        near[a].add(b)
        near[b].add(a)
    joint = fresh_floors is not None and fresh_from_neighbours
    n_fresh = 2 * k if joint else k  # fresh node k + i: solo (joint: from i alone); 2k + i: joint, with floors
    if joint:
        arcs += sorted((i, k + i) for i in range(k) if not fixed[i])
        arcs += sorted((j, 2 * k + i) for i in range(k) if not fixed[i] for j in near[i])
    else:
        arcs += sorted((j, k + i) for i in range(k) if not fixed[i] for j in (near[i] if fresh_from_neighbours else {i}))
    m = len(arcs)
    tail = np.array([a for a, _ in arcs], dtype=np.int64)
    head = np.array([b for _, b in arcs], dtype=np.int64)
    # variables: f, z (old and new households per arc), s (own old households leaving a grid, cost 1),
    # y (a grid sends any), d (grid dissolved), u (fresh grids beside each grid),
    # x (an added building leaves its grid whole along an arc: only with new_buildings)
    f_at, z_at, s_at, y_at, d_at, u_at = 0, m, 2 * m, 2 * m + k, 2 * m + 2 * k, 2 * m + 3 * k
    n_var = 2 * m + 3 * k + n_fresh
    x_at = n_var
    whole = new_buildings is not None
    x_arc, x_size, x_of = [], [], [[] for _ in range(k)]  # per x variable: its arc and households; per grid: its buildings' x
    x_building = []  # per x variable: the building's position in new_buildings[i]
    x_cut = [[] for _ in range(k)]  # per grid, per entry of x_of: the old households the building cuts off
    if whole:
        out_of = [np.flatnonzero(tail == i) for i in range(k)]
        for i in range(k):
            if fixed[i]:
                continue
            sizes = [int(v) for v in new_buildings[i]]
            for j in sorted((j for j in range(len(sizes)) if sizes[j] > 0), key=lambda j: (-sizes[j], j)):
                x_of[i].append([n_var + len(x_arc) + t for t in range(len(out_of[i]))])
                x_cut[i].append(float(cuts[i][j]) if cuts is not None and cuts[i] is not None else 0.0)
                x_arc.extend(out_of[i].tolist())
                x_size.extend([float(sizes[j])] * len(out_of[i]))
                x_building.extend([j] * len(out_of[i]))
        n_var += len(x_arc)
    x_by_arc = [[] for _ in range(m)]
    x_depth_by_arc = [[] for _ in range(m)]  # (x variable, position of its building)
    for t, (a, size) in enumerate(zip(x_arc, x_size)):
        x_by_arc[a].append((x_at + t, size))
        x_depth_by_arc[a].append((x_at + t, x_building[t]))

    def floor_of_arc(a):
        """The floor an arc carries: a border's, or the giving grid's towards any border into a joint fresh grid."""
        if head[a] < k:
            return (floors or {}).get((int(tail[a]), int(head[a])))
        return fresh_floors.get((int(tail[a]), int(head[a]) - 2 * k)) if joint and head[a] >= 2 * k else None

    # exact floors: one binary per pair (d_j, N_j) of a floored arc, after the other variables
    pick: dict[int, list[tuple[int, float, float]]] = {}
    for a in range(m):
        floor = floor_of_arc(a)
        if floor is not None and floor.pairs is not None and len(floor.pairs):
            pick[a] = [(n_var + t, float(d), float(reach)) for t, (d, reach) in enumerate(floor.pairs)]
            n_var += len(floor.pairs)
    cost = np.zeros(n_var)
    cost[s_at : s_at + k] = 1.0
    rows, cols, vals, rhs = [], [], [], []

    def add(entries, bound):
        for c, v in entries:
            rows.append(len(rhs))
            cols.append(c)
            vals.append(v)
        rhs.append(bound)

    out_arcs = [np.flatnonzero(tail == i) for i in range(k)]
    in_arcs = [np.flatnonzero(head == i) for i in range(k + n_fresh)]
    for i in range(k):
        if fixed[i]:
            continue
        f_in, f_out = [(f_at + a, 1.0) for a in in_arcs[i]], [(f_at + a, 1.0) for a in out_arcs[i]]
        z_in, z_out = [(z_at + a, 1.0) for a in in_arcs[i]], [(z_at + a, 1.0) for a in out_arcs[i]]
        x_in = [entry for a in in_arcs[i] for entry in x_by_arc[a]]
        x_out = [entry for a in out_arcs[i] for entry in x_by_arc[a]]
        minus = lambda entries: [(c, -v) for c, v in entries]  # noqa: E731
        net = f_in + z_in + x_in + minus(f_out) + minus(z_out) + minus(x_out)  # final = total + net
        # what leaves beyond the grid's own households passes through: only a dissolved grid lets it
        add(f_out + [(s_at + i, -1.0)] + minus(f_in), 0.0)
        add(f_out + [(s_at + i, -1.0), (d_at + i, -big)], 0.0)
        if whole:
            # own added buildings leave whole (x); z only passes on what came in, and only through a dissolved grid
            add(z_out + minus(z_in) + minus(x_in), 0.0)
            add(z_out + [(d_at + i, -big)], 0.0)
            for variables, cut in zip(x_of[i], x_cut[i]):
                add([(v, 1.0) for v in variables], 1.0)
                if cut > 0:
                    # a building holding its grid together takes the households it cuts off out of the grid with it
                    add([(v, cut) for v in variables] + [(s_at + i, -1.0)], 0.0)
        else:
            add(z_out + minus(z_in), new[i])
            add(z_out + [(d_at + i, -big)], new[i])
        # own households leave in whole buildings; a building above the maximum stays
        add([(s_at + i, 1.0)], max(old[i] - held[i], 0.0))
        add([(s_at + i, -1.0), (y_at + i, smallest[i])], 0.0)
        add([(s_at + i, 1.0), (y_at + i, -big)], 0.0)
        if constrained[i]:
            add(minus(net) + [(d_at + i, -float(low))], total[i] - low)  # final >= low, or dissolved
            add(net + [(d_at + i, float(high))], high - total[i])  # final <= high, and 0 when dissolved
        else:
            add(minus(net), total[i])  # final >= 0
        if floors or joint:
            # the old households crossing a border (or into a joint fresh grid) are at least the floor of all
            # that crosses it (bordercost)
            for a in out_arcs[i]:
                floor = floor_of_arc(a)
                if floor is None:
                    continue
                crossing = [(f_at + a, 1.0), (z_at + a, 1.0)] + x_by_arc[a]
                for slope, intercept in floor.lines:
                    add([(c, float(slope) * v) for c, v in crossing] + [(f_at + a, -1.0), (d_at + i, -big)], -float(intercept))
                if floor.depth is not None:
                    # an added building crossing takes the cells between it and the border with it
                    for c, j in x_depth_by_arc[a]:
                        add([(c, min(float(floor.depth[j]), big)), (f_at + a, -1.0), (d_at + i, -big)], 0.0)
                if a in pick:
                    # a positive crossing picks one pair j: old ≥ d_j and old ≥ crossing − N_j
                    add(crossing + [(c, -big) for c, _, _ in pick[a]], 0.0)
                    add([(c, 1.0) for c, _, _ in pick[a]], 1.0)
                    add([(f_at + a, -1.0), (d_at + i, -big)] + [(c, d) for c, d, _ in pick[a]], 0.0)
                    add(crossing + [(f_at + a, -1.0), (d_at + i, -big)] + [(c, -reach) for c, _, reach in pick[a]], 0.0)
        for node in range(k + i, k + n_fresh, k):
            fresh_in = [(f_at + a, 1.0) for a in in_arcs[node]] + [(z_at + a, 1.0) for a in in_arcs[node]]
            fresh_in += [entry for a in in_arcs[node] for entry in x_by_arc[a]]
            add(minus(fresh_in) + [(u_at + node - k, float(low))], 0.0)  # fresh >= low u
            add(fresh_in + [(u_at + node - k, -float(high))], 0.0)  # fresh <= high u
    if count is not None:
        # grids kept (not dissolved) plus grids created: exactly ``count``
        plain = np.flatnonzero(~fixed)
        tally = [(d_at + i, -1.0) for i in plain] + [(u_at + j, 1.0) for j in range(n_fresh) if not fixed[j % k]]
        add(tally, float(count - len(plain)))
        add([(c, -v) for c, v in tally], float(len(plain) - count))
    a_ub = coo_matrix((vals, (rows, cols)), shape=(len(rhs), n_var)).tocsr()
    upper = np.full(n_var, np.inf)
    upper[y_at : y_at + k] = 1.0
    upper[d_at : d_at + k] = constrained.astype(float)
    upper[x_at:] = 1.0  # x and the picks of exact floors
    integrality = np.zeros(n_var)
    if not relaxed:
        integrality[y_at:] = 1  # a grid sends or not, is dissolved or not; fresh grids and added buildings come whole
    solved = milp(
        cost, constraints=LinearConstraint(a_ub, -np.inf, np.array(rhs)), bounds=Bounds(np.zeros(n_var), upper),
        integrality=integrality, options={"node_limit": _NODE_LIMIT, "presolve": True},
    )
    dual = getattr(solved, "mip_dual_bound", None)
    if solved.status == 0:
        # optimal within the solver's relative gap: the incumbent may lie above the optimum, its dual bound never does
        value = min(float(solved.fun), float(dual)) if dual is not None and np.isfinite(dual) else float(solved.fun)
    elif solved.status == 1 and np.isfinite(getattr(solved, "mip_dual_bound", np.nan)):
        value = max(float(solved.mip_dual_bound), 0.0)  # stopped at the node limit: the proven bound so far
    else:
        return MoveFlow(0)  # no repair within the model (e.g. a total that fits no grid count): no bound claimed
    flows = np.zeros(m)
    if solved.x is not None:
        flows = solved.x[f_at : f_at + m] + solved.x[z_at : z_at + m]
        for t, (a, size) in enumerate(zip(x_arc, x_size)):
            flows[a] += size * solved.x[x_at + t]
    used = flows > 0.5
    pairs_used = sorted({(int(a), int(b)) for a, b in zip(tail[used], head[used]) if b < k})
    return MoveFlow(int(math.ceil(value - 1e-6)), pairs_used)
