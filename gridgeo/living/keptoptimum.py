"""The cheapest repair of one community in whole kept cells, solved exactly.

Every grid of a community is cut into its own cells (:func:`gridgeo.living.keptcells.kept_sites`: each grid
tessellated inside its own polygon among its own buildings, added buildings included once placed), and the cells
of all grids are joined into one cell graph.  :func:`kept_cells_optimum` assigns every cell to one grid so that

* every grid that holds any cell is in the household band, or is excused as the update excuses it: it holds a
  building above the band's maximum, or it is a grid the update did not touch (no building of it changed) that the
  previous plan had already flagged and that stays exactly as it was;
* every grid is connected in the cell graph (a grid whose own cells are not connected may also stay exactly as it
  was);
* dedicated and locked grids take no part (no cell enters or leaves them) and a pinned building's cell stays in
  its pinned grid;
* new grids may be created, and an existing grid left without cells is retired;

and minimises the households of buildings that were there before whose grid changes (a cell's existing
households count when the cell ends in another grid than the one it was placed in).  It is a mixed-integer
program (HiGHS through :func:`scipy.optimize.milp`) with one binary per cell and grid, solved for layouts moving at
most a *ceiling* of existing households, which keeps it small:

* an existing grid in use keeps a cell of its own (a layout where it keeps none moves as many as the same layout
  with a new grid in its place), so a cell can join it only along a path of cells whose existing households
  outside it add up to at most the ceiling; a cell whose own existing households exceed the ceiling stays;
* a new grid holds at least the band's minimum (or a building above the maximum), of which at most the ceiling
  are existing households, so there are at most ``(added households + ceiling) // minimum`` of them, plus one per
  cell above the maximum within the ceiling;
* a cell that cannot be a grid on its own (fewer households than the minimum, no building above the maximum)
  needs a neighbour in its grid; connectivity beyond that is added where a solution breaks it.  For a grid whose
  cells fall apart, a piece ``C`` that cannot be the whole grid (none of the grid's own cells, or too few
  households) gives ``x[u] ≤ Σ_{w∈N(C)} x[w]`` for each cell ``u`` of ``C`` (for every grid it cannot be on its
  own); another piece gives, with a cell ``v`` of the main piece and ``S`` the cells separating them,
  ``x[u] + x[v] − 1 ≤ Σ_{w∈S} x[w]``.  A grid that takes in a cell apart from its own gets a flow from its own
  cells to every cell it takes in, and a grid whose own cells keep falling apart a flow from one root cell to
  every cell it holds.

A cell that changes grid also costs a little (less than one household in all), so of two layouts moving as many
existing households the one moving fewer cells is cheaper.  The program is solved again until every grid is
connected (the optimum within the ceiling) or a limit is reached; when no layout is within the ceiling, it is
raised (the cuts and flows found so far are kept) and the program solved again.  The optimum of each program
solved, and the proven bound of one a limit stopped, bounds the connected optimum from below (up to its ceiling).

The optimum is the fewest existing households **any repair in whole kept cells** must move.  It bounds no repair
that tessellates a region again as a whole (a building's cell then follows other lines, and a repair can move a
part of what is one kept cell): it is a figure of its own, not the reported lower bound.

Arrays and shapely geometries only; no files.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint
from scipy.sparse.csgraph import connected_components, dijkstra

from ..partition.count import feasible_counts
from ..partition.notes import IN_BAND
from ..solver import milp
from .keptcells import kept_sites
from .state import _Context, _Grid, largest_cell

__all__ = ["new_grid_floor", "KeptOptimum", "kept_cells_optimum", "kept_cells_bound", "kept_cell_labels"]

logger = logging.getLogger(__name__)

#: cells above which a community is not solved (the program has one binary per cell and grid)
MAX_CELLS = 400
#: the limits of :func:`kept_cells_bound`: branch-and-bound nodes per program, programs in all, and cells
BOUND_NODES = 30
BOUND_ROUNDS = 20
BOUND_CELLS = 600
#: columns (variables) above which :func:`kept_cells_bound` solves no program with connectivity flows: that large, each
#: solve takes seconds and seldom raises the bound
BOUND_COLUMNS = 3000
#: columns of all the programs :func:`kept_cells_bound` solves for one community, summed: programs grow with the cuts
#: and flows each round adds, and a community whose programs stay large would take a minute
BOUND_WORK = 12000
#: rounds in which a grid falls apart before it is kept whole by a flow instead of cuts
_SPLITS_BEFORE_FLOW = 8
#: the least rise of the ceiling when no layout is within it
_STEP = 4
#: cells of one piece given a cut each when a grid falls apart (the first ones, in order)
_CUTS_PER_PIECE = 6


@dataclass
class KeptOptimum:
    """The outcome of :func:`kept_cells_optimum` for one community.

    ``status`` is ``"optimal"`` (``value`` is the optimum, equal to ``bound``), ``"limit"`` (the time or node
    limit stopped the search: ``bound`` is proven, ``value`` the best connected layout found or None),
    ``"infeasible"`` (no layout in whole kept cells meets the band: ``bound`` None), ``"above"`` (none moves at
    most ``most``) or ``"skipped: …"`` (not solved, with the reason).  ``members`` lists, per grid of the best
    layout (``codes``: the existing code, or ``""`` for a new grid), the buildings it holds, and ``polygons`` its
    kept cells.
    """

    status: str
    cells: int = 0
    grids: int = 0
    new_grids: int = 0
    bound: int | None = None
    value: int | None = None
    rounds: int = 0
    work: int = 0  # columns of the programs solved, summed
    cuts: int = 0
    seconds: float = 0.0
    codes: list[str] = field(default_factory=list)
    members: list[set[int]] = field(default_factory=list)
    polygons: list = field(default_factory=list)


def kept_cells_optimum(
    grids: dict[str, _Grid],
    ctx: _Context,
    dirty: set[str],
    *,
    time_limit: float | None = 60.0,
    node_limit: int | None = None,
    max_cells: int = MAX_CELLS,
    max_rounds: int = 200,
    guess: int | None = None,
    most: int | None = None,
    max_columns: int | None = None,
    count: int | tuple[int, int] | None = None,
    max_work: int | None = None,
    sites: tuple | None = None,
) -> KeptOptimum:
    """The cheapest repair of one community in whole kept cells (see the module docstring).

    Parameters
    ----------
    grids : dict
        The community's grids as the update placed every building (code → :class:`~gridgeo.living.state._Grid`).
    ctx : _Context
        The community's context (band, households, footprints, ``is_new``, pins).
    dirty : set of str
        Codes of grids whose buildings changed: a flagged grid not among them may stay out of band as it was.
    time_limit : float or None
        Seconds for the whole search (None: no limit; the result then does not depend on the machine).
    node_limit : int or None
        Branch-and-bound nodes per program solved (a count: deterministic).
    max_cells : int
        Communities with more cells are skipped.
    max_rounds : int
        Programs solved at most in all (each adds the connectivity cuts the previous one violated, or raises the
        ceiling).
    guess : int, optional
        A first ceiling on the existing households moved (what a repair moved, say): the program is solved for
        layouts within the ceiling, which keeps it small; when none is within it, the ceiling is raised and the
        program solved again.  The optimum does not depend on it.
    most : int, optional
        Look only for layouts moving at most this many existing households (a repair to beat, less one): the
        status is ``"above"`` (and ``bound`` ``most + 1``) when there is none.
    max_columns : int, optional
        A program whose connectivity flows bring it above this many columns (binaries and flows) is not solved:
        the search stops at the limit with the bound proven so far (a count: deterministic).
    count : int or (int, int), optional
        Only layouts with this many grids in use (the repaired grids kept and the new ones), or with the
        fewest to the most of a pair.
    max_work : int, optional
        The columns of every program solved, summed, stay within this: the search stops at the limit, with the
        bound proven so far, before a program that would pass it (a count: deterministic).
    sites : tuple, optional
        The community's kept cells when they are made already (:func:`gridgeo.living.keptcells.kept_sites` of its
        grids that take part, in code order).

    Returns
    -------
    KeptOptimum

    Examples
    --------
    Three grids of two buildings in a row; an added building of 120 households in the first puts it above the
    band, and the cheapest repair hands the 200-household building at the border to the second grid, which had
    room (the added building stays, it lies at the far end):

    >>> import numpy as np, shapely
    >>> from gridgeo.living.state import _Context, _Grid
    >>> from gridgeo.partition.notes import GridNote
    >>> geoms = np.array([shapely.box(x + 2, 2, x + 8, 8) for x in range(0, 70, 10)], dtype=object)
    >>> households = np.array([120, 200, 200, 100, 200, 200, 200])
    >>> ctx = _Context((300, 500), households, geoms, None, 0, "A", "001", 6)
    >>> ctx.is_new = np.array([True, False, False, False, False, False, False])
    >>> grids = {"001-01": _Grid("001-01", shapely.box(0, 0, 30, 10), {0, 1, 2}, GridNote()),
    ...          "001-02": _Grid("001-02", shapely.box(30, 0, 50, 10), {3, 4}, GridNote()),
    ...          "001-03": _Grid("001-03", shapely.box(50, 0, 70, 10), {5, 6}, GridNote())}
    >>> best = kept_cells_optimum(grids, ctx, {"001-01"}, time_limit=None)
    >>> best.status, best.bound, best.value
    ('optimal', 200, 200)
    >>> dict(zip(best.codes, (sorted(m) for m in best.members)))
    {'001-01': [0, 1], '001-02': [2, 3, 4], '001-03': [5, 6]}
    """
    started = time.perf_counter()
    region = sorted(c for c, g in grids.items() if not g.dedicated and not g.locked and g.members)
    if not region:
        return KeptOptimum("skipped: no grid to repair")
    if sites is None:
        sites = kept_sites(grids, region, ctx)
    if sites is None:
        return KeptOptimum("skipped: no kept cells (a compound, a grid in pieces, or cells not connected)")
    members, _, tess, graph, home = sites
    n, k = graph.n, len(region)
    if n > max_cells:
        return KeptOptimum(f"skipped: {n} cells (above {max_cells})", cells=n, grids=k)
    low, high = ctx.band
    households = ctx.households[members]
    is_new = ctx.is_new[members] if ctx.is_new is not None else np.zeros(len(members), dtype=bool)
    cell = tess.site_of_building
    weight = np.bincount(cell, weights=households, minlength=n).astype(np.int64)
    existing = np.bincount(cell, weights=np.where(is_new, 0, households), minlength=n).astype(np.int64)
    big = weight > high  # (a building above the maximum, or the buildings of one outline: one cell)
    adjacency = graph.shared.tocsr()
    adjacency.sum_duplicates()
    neighbours = [adjacency.indices[adjacency.indptr[c] : adjacency.indptr[c + 1]] for c in range(n)]
    # grids that may stay exactly as they were: flagged and untouched (their excuse holds), or own cells in pieces
    as_was, excused = [], []
    for g, code in enumerate(region):
        flagged = grids[code].note.status not in ("", IN_BAND) and code not in dirty
        if flagged or not _connected(adjacency, np.flatnonzero(home == g)):
            as_was.append(g)
        if flagged:
            excused.append(g)
    pinned = np.full(n, -1, dtype=np.int64)
    for local, b in enumerate(members.tolist()):
        code = ctx.pins.get(b)
        if code in region:
            pinned[cell[local]] = region.index(code)
    if not big.any() and not excused and not len(feasible_counts(int(weight.sum()), low, high)):
        # every layout leaves a grid out of the band: the update excuses that (infeasible_total), this program does not
        return KeptOptimum("skipped: the total admits no grid count", cells=n, grids=k)
    community = _Community(n, k, home, weight, existing, big, neighbours, adjacency, as_was, excused, pinned, ctx.band, count)
    out = KeptOptimum("limit", cells=n, grids=k)
    ceiling = max(int(guess), 0) if guess is not None else max(low // 4, 1)
    if most is not None:
        ceiling = min(ceiling, most)
    everything = int(existing.sum())
    best = None
    pool = _Pool()
    while True:
        ceiling = min(ceiling, everything)
        model = _Model(community, ceiling, pool)
        out.new_grids = max(out.new_grids, model.labels - k)
        state = model.search(started, time_limit, node_limit, max_rounds - out.rounds, max_columns, None if max_work is None else max_work - out.work)
        out.rounds += model.rounds
        out.work += model.work
        out.cuts += model.cut_count
        if state == "optimal":
            out.status, out.value, out.bound, best = "optimal", model.value, model.value, model.best
            break
        if state == "above":  # no layout moves at most the ceiling
            out.bound = max(out.bound or 0, ceiling + 1)
            if ceiling >= everything:
                out.status, out.bound = "infeasible", None
                break
            if most is not None and ceiling >= most:
                out.status = "above"
                break
            ceiling = ceiling + max(_STEP, ceiling // 2)
            if most is not None:
                ceiling = min(ceiling, most)
            continue
        # stopped at a limit: the program's proven bound holds for layouts up to the ceiling
        if model.bound is not None:
            out.bound = max(out.bound or 0, min(model.bound, ceiling + 1))
        if model.best is not None:
            out.value, best = model.value, model.best
        break
    out.seconds = round(time.perf_counter() - started, 2)
    if out.status == "limit" and out.value is not None and out.bound is not None and out.bound >= out.value:
        out.status, out.bound = "optimal", out.value
    if best is not None:
        used = sorted(set(best.tolist()))
        out.codes = [region[g] if g < k else "" for g in used]
        out.members = [set(members[best[cell] == g].tolist()) for g in used]
        out.polygons = [tess.cells[best == g] for g in used]
    logger.debug("community %s: kept-cell optimum %s (bound %s, %s) in %d rounds, %d cuts, %.1f s",
                 ctx.community_id, out.value, out.bound, out.status, out.rounds, out.cuts, out.seconds)
    return out


def kept_cells_bound(
    start: dict[str, _Grid],
    final: dict[str, _Grid],
    dirty: set[str],
    ctx: _Context,
    *,
    node_limit: int = BOUND_NODES,
    max_rounds: int = BOUND_ROUNDS,
    max_cells: int = BOUND_CELLS,
    max_columns: int = BOUND_COLUMNS,
    max_work: int = BOUND_WORK,
) -> int | None:
    """The fewest existing households a repair in whole kept cells moves, when the community's repair is one.

    ``start`` holds the community's grids as the update placed every building,
    ``final`` the grids its repair gave.  The repair is a layout of the program
    of :func:`kept_cells_optimum` when every kept cell lies in one grid of it,
    every grid that holds one is connected among them (or is exactly as it
    was), no building enters or leaves a dedicated or locked grid, every
    pinned building stays in its pinned grid, and every grid is in the band,
    holds a building above the maximum, or is a flagged grid of the previous
    plan that the update did not touch and that stays exactly as it was.  Then
    the program's optimum, or the bound proven within ``node_limit``
    branch-and-bound nodes per program, ``max_rounds`` programs, programs
    of at most ``max_columns`` columns and ``max_work`` columns in all (counts:
    the result does not depend on the machine), is at most what the repair
    moved counted from where the update placed each building, and that figure is
    returned.  A repair that ends with as many grids as it started with is a
    layout of the program limited to that many grids (``count``), which is
    solved instead.  For a repair that ends with more grids, when the new
    grid's floor (:func:`new_grid_floor`) is above the program's bound, the
    program limited to as many grids or fewer is solved too (within what is
    left of ``max_work``), and the smaller of its bound and the floor, when
    larger, is returned.  What the update's kept-cell candidate proved for
    the same grids (``ctx.kept_known``, :func:`gridgeo.living.seamguard.exact_candidate`:
    a bound over every repair in whole kept cells, at any grid count) is a
    floor of the figure; when it reaches what the repair moved, that is the
    figure and no program is solved.  None when the repair is no such layout, the community has no
    kept cells or more than ``max_cells`` of them, or the program proves nothing.

    Parameters
    ----------
    start, final : dict
        Code → :class:`~gridgeo.living.state._Grid`: the grids before and after the repair.
    dirty : set of str
        Codes of grids whose buildings changed before the repair.
    ctx : _Context
        The community's context.
    node_limit, max_rounds, max_cells, max_columns, max_work : int
        The limits of :func:`kept_cells_optimum`.

    Returns
    -------
    int or None

    Examples
    --------
    The three grids of :func:`kept_cells_optimum`'s example, repaired by handing the 200-household building at the
    border to the second grid: no repair in whole kept cells moves fewer than those 200 households.

    >>> import numpy as np, shapely
    >>> from gridgeo.living.state import _Context, _Grid
    >>> from gridgeo.partition.notes import GridNote
    >>> geoms = np.array([shapely.box(x + 2, 2, x + 8, 8) for x in range(0, 70, 10)], dtype=object)
    >>> ctx = _Context((300, 500), np.array([120, 200, 200, 100, 200, 200, 200]), geoms, None, 0, "A", "001", 6)
    >>> ctx.is_new = np.array([True, False, False, False, False, False, False])
    >>> def grid(code, x0, x1, members):
    ...     return _Grid(code, shapely.box(x0, 0, x1, 10), set(members), GridNote())
    >>> start = {"001-01": grid("001-01", 0, 30, {0, 1, 2}), "001-02": grid("001-02", 30, 50, {3, 4}),
    ...          "001-03": grid("001-03", 50, 70, {5, 6})}
    >>> final = {"001-01": grid("001-01", 0, 20, {0, 1}), "001-02": grid("001-02", 20, 50, {2, 3, 4}),
    ...          "001-03": grid("001-03", 50, 70, {5, 6})}
    >>> kept_cells_bound(start, final, {"001-01"}, ctx)
    200
    """
    region = sorted(c for c, g in start.items() if not g.dedicated and not g.locked and g.members)
    if not region:
        return None
    inside = set().union(*(start[c].members for c in region))
    others = {c for c in start if c not in region}
    low, high = ctx.band
    code_of: dict[int, str] = {}
    for code, grid in final.items():
        held = set(grid.members) & inside
        if not held:
            continue
        if code in others or held != set(grid.members):
            return _no_bound(ctx, f"grid {code} takes part and not, or a building crossed a dedicated or locked grid's border")
        same = code in start and set(grid.members) == start[code].members
        flagged = code in start and start[code].note.status not in ("", IN_BAND) and code not in dirty
        households = ctx.households[sorted(grid.members)]
        if not (low <= int(households.sum()) <= high or largest_cell(ctx.households, ctx.outline, grid.members) > high or (flagged and same)):
            return _no_bound(ctx, f"grid {code} is out of band with an excuse the program does not know")
        code_of.update(dict.fromkeys(grid.members, code))
    if set(code_of) != inside or any(code_of.get(b, code) != code for b, code in ctx.pins.items() if b in inside):
        return _no_bound(ctx, "a building left the repaired grids, or a pin is broken")
    sites = kept_sites(start, region, ctx)
    if sites is None:
        return _no_bound(ctx, "no kept cells")
    members, _, tess, graph, home = sites
    if graph.n > max_cells:
        return _no_bound(ctx, f"{graph.n} cells, above {max_cells}")
    cells = kept_cell_labels(final, members, tess, graph.n)
    if cells is None:
        return _no_bound(ctx, "a kept cell is split between grids")
    adjacency = graph.shared.tocsr()
    for code in sorted(set(cells.tolist())):
        nodes = np.flatnonzero(cells == code)
        exact = code in start and set(final[code].members) == start[code].members
        if len(nodes) > 1 and not exact and not _connected(adjacency, nodes):
            return _no_bound(ctx, f"grid {code} is not connected among the kept cells")
    is_new = ctx.is_new if ctx.is_new is not None else np.zeros(len(ctx.households), dtype=bool)
    placed = {b: c for c in region for b in start[c].members}
    moved = int(sum(int(ctx.households[b]) for b in sorted(inside) if not is_new[b] and code_of[b] != placed[b]))
    if moved == 0:
        return 0
    known = ctx.kept_known  # (what the update's kept-cell candidate proved for these grids, gridgeo.living.seamguard)
    if known is not None and known >= moved:
        logger.debug("community %s: kept-cell bound %d (repair moved %d, as the candidate proved)", ctx.community_id, moved, moved)
        return int(moved)
    # a repair that keeps the grid count is bounded among those that keep it (a new grid beside an overfull one, say,
    # is not of its kind)
    used = len(set(code_of.values()))
    count = len(region) if used == len(region) else None
    best = kept_cells_optimum(
        start, ctx, dirty, time_limit=None, node_limit=node_limit, max_cells=max_cells, max_rounds=max_rounds, guess=moved,
        max_columns=max_columns, count=count, max_work=max_work, sites=sites,
    )
    if known is not None:
        best.bound = max(best.bound or 0, int(known))
    if best.bound is None:
        return _no_bound(ctx, f"the program proved nothing ({best.status})")
    floor = new_grid_floor(members, tess, graph, ctx) if used > len(region) else 0
    left = None if max_work is None else max_work - best.work
    if floor > best.bound and (left is None or left > 0):
        # more grids than before: one with as many or fewer is bounded by the program limited to those, one with more
        # holds a new grid, whose existing households all move (new_grid_floor); the smaller bounds both (within
        # what is left of the work limit)
        fewer = kept_cells_optimum(
            start, ctx, dirty, time_limit=None, node_limit=node_limit, max_cells=max_cells, max_rounds=max_rounds,
            guess=moved, max_columns=max_columns, count=(1, len(region)), max_work=left, sites=sites,
        )
        bound = math.inf if fewer.status == "infeasible" else fewer.bound
        logger.debug("community %s: at most %d grids: %s; a new grid moves at least %d", ctx.community_id, len(region), bound, floor)
        if bound is not None:
            best.bound = int(max(best.bound, min(bound, floor)))
    if best.bound > moved:  # (the repair is a layout of the program: its optimum cannot exceed what it moved)
        logger.warning("community %s: the kept-cell bound %d exceeds the %d households its repair moved; not reported", ctx.community_id, best.bound, moved)
        return None
    logger.debug("community %s: kept-cell bound %d (repair moved %d, %s)", ctx.community_id, best.bound, moved, best.status)
    return int(best.bound)


def new_grid_floor(members: np.ndarray, tess, graph, ctx: _Context) -> int:
    """The fewest existing households a new grid of kept cells holds: what a repair adding a grid moves at least.

    A repair in whole kept cells that ends with more grids than the community
    had gives one of them a new code, so every existing household in it moves.
    That grid is connected among the kept cells, holds no pinned building and
    at least the band's minimum (it holds no cell above the maximum, a
    building or the buildings of one outline: with one in the community, the
    figure is 0).  Let ``S`` be its cells, ``C``
    their existing households and ``s`` any cell of it: every cell of ``S``
    lies within ``C`` of ``s`` (a path inside ``S``, counting the existing
    households of each cell on it, ``s`` included), so ``S`` holds at most
    the added households of the cells that near plus ``C`` existing ones, and
    ``C + added(s, C) ≥ minimum``.  The figure is the least such ``C`` over
    every cell ``s``.

    Parameters
    ----------
    members, tess, graph
        The community's kept cells (:func:`gridgeo.living.keptcells.kept_sites`).
    ctx : _Context
        The community's context (band, households, ``is_new``, pins).

    Returns
    -------
    int

    Examples
    --------
    Five cells in a row, an added 200-household building in the middle and existing buildings of 40, 10, 30 and
    90 households; the band's minimum is 300.  Within 100 existing households of the added building lie the
    cells of 40, 10 and 30 (not the 90: the path to it costs 120), so a new grid moving 100 could reach the
    minimum, and none moving fewer: the figure is 100 (the cheapest new grid, 10 + 200 + 30 + 90, moves 130).
    With the 40 added too, a grid holding both added buildings moves at least the 10 between them, and 60 for the
    minimum; one holding only the 200, 100; so the figure is 60 (the cheapest real one still moves 10 + 30 + 90).

    >>> import numpy as np, scipy.sparse as sp
    >>> from types import SimpleNamespace
    >>> from gridgeo.living.state import _Context
    >>> edges = [(0, 1), (1, 2), (2, 3), (3, 4)]
    >>> rows = [a for a, b in edges] + [b for a, b in edges]
    >>> cols = [b for a, b in edges] + [a for a, b in edges]
    >>> graph = SimpleNamespace(n=5, shared=sp.csr_matrix((np.ones(8), (rows, cols)), shape=(5, 5)))
    >>> ctx = _Context((300, 500), np.array([40, 10, 200, 30, 90]), None, None, 0, "A", "001", 6)
    >>> ctx.is_new = np.array([False, False, True, False, False])
    >>> new_grid_floor(np.arange(5), SimpleNamespace(site_of_building=np.arange(5)), graph, ctx)
    100
    >>> ctx.is_new = np.array([True, False, True, False, False])
    >>> new_grid_floor(np.arange(5), SimpleNamespace(site_of_building=np.arange(5)), graph, ctx)
    60
    """
    low, high = ctx.band
    n = graph.n
    households = ctx.households[members]
    if not n:
        return 0
    is_new = ctx.is_new[members] if ctx.is_new is not None else np.zeros(len(members), dtype=bool)
    cell = tess.site_of_building
    existing = np.bincount(cell, weights=np.where(is_new, 0, households), minlength=n)
    added = np.bincount(cell, weights=np.where(is_new, households, 0), minlength=n)
    if (existing + added > high).any():
        return 0  # (a cell above the maximum: a building, or the buildings of one outline)
    open_cell = np.ones(n, dtype=bool)
    for local, b in enumerate(members.tolist()):
        if ctx.pins.get(b) is not None:
            open_cell[cell[local]] = False  # a pinned building stays in its grid: its cell is in no new grid
    nodes = np.flatnonzero(open_cell)
    if not len(nodes):
        return 0
    matrix = graph.shared.tocsr()[nodes][:, nodes].tocsr()
    matrix.data = existing[nodes][matrix.indices] + _EPS  # entering a cell costs its existing households
    reach = dijkstra(matrix, directed=True) + existing[nodes][:, None]  # from each cell, its own included
    sharper = _prize_floor(reach, added[nodes], low)
    if sharper is not None:
        return sharper
    best = math.inf
    for row in reach:
        order = np.argsort(row, kind="stable")
        near = row[order]
        taken = np.cumsum(added[nodes][order])  # added households within each distance
        finite = np.isfinite(near)
        # the least C with C >= near[j] (cells 0..j within reach) and C + taken[j] >= the minimum, below near[j + 1]
        need = np.maximum(near, low - taken)
        nxt = np.append(near[1:], math.inf)
        fits = finite & (need < nxt + 1e-6)
        if fits.any():
            best = min(best, float(need[fits].min()))
    return 0 if not math.isfinite(best) else max(int(math.ceil(best - 1e-4)), 0)


#: most groups of added buildings whose every subset :func:`_prize_floor` looks at (2**14 subsets)
_PRIZE_GROUPS = 14


def _prize_floor(reach: np.ndarray, added: np.ndarray, low: int) -> int | None:
    """The new grid's floor from the cells holding added households, or None when they form too many groups.

    ``reach[u, v]``: the fewest existing households on a path of cells from
    ``u`` to ``v``, both included.  A new grid ``S`` holding the added cells
    ``Q`` moves at least the households on a path inside it between any two of
    them, and at least the minimum less ``Q``'s added households, so at least
    the larger of the two; the floor is the least such figure over every
    ``Q`` (and the minimum itself for a grid without added households).  That
    is at least what the distance from one cell gives (:func:`new_grid_floor`),
    since every cell of ``Q`` lies within the larger figure of any of them.
    Cells joined by paths without existing households go together (a grid
    with one of them may take the others for nothing), and at most
    :data:`_PRIZE_GROUPS` such groups are looked at.
    """
    prizes = np.flatnonzero(added > 0)
    if not len(prizes):
        return int(low)
    near = np.minimum(reach[np.ix_(prizes, prizes)], reach[np.ix_(prizes, prizes)].T)
    group = np.arange(len(prizes))
    for a, b in zip(*np.nonzero(near < 0.5)):  # no existing household on the way: one group
        ga, gb = group[a], group[b]
        if ga != gb:
            group[group == gb] = ga
    groups = np.unique(group)
    m = len(groups)
    if m > _PRIZE_GROUPS:
        return None
    weight = np.array([float(added[prizes[group == g]].sum()) for g in groups])
    apart = np.array([[float(near[np.ix_(group == g, group == h)].max()) for h in groups] for g in groups])
    best = float(low)
    diameter = np.zeros(1 << m)
    households = np.zeros(1 << m)
    for mask in range(1, 1 << m):
        first = (mask & -mask).bit_length() - 1
        rest = mask & (mask - 1)
        inside = [j for j in range(m) if rest >> j & 1]
        diameter[mask] = max(diameter[rest], float(apart[first, inside].max()) if inside else 0.0)
        households[mask] = households[rest] + weight[first]
        best = min(best, max(diameter[mask], low - households[mask]))
    return max(int(math.ceil(best - 1e-4)), 0)


def kept_cell_labels(final: dict[str, _Grid], members: np.ndarray, tess, n: int) -> np.ndarray | None:
    """Per kept cell, the code of the grid of ``final`` holding its buildings (``""``: none); None when a cell's
    buildings lie in several grids.  ``members`` and ``tess`` are those of :func:`gridgeo.living.keptcells.kept_sites`
    (``n`` cells).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> tess = SimpleNamespace(site_of_building=np.array([0, 0, 1]))
    >>> final = {"001-01": SimpleNamespace(members={4, 5}), "001-02": SimpleNamespace(members={6})}
    >>> kept_cell_labels(final, np.array([4, 5, 6]), tess, 2).tolist()
    ['001-01', '001-02']
    >>> final = {"001-01": SimpleNamespace(members={4}), "001-02": SimpleNamespace(members={5, 6})}
    >>> kept_cell_labels(final, np.array([4, 5, 6]), tess, 2) is None
    True
    """
    code_of = {b: c for c, g in final.items() for b in g.members}
    label: dict[int, str] = {}
    for local, site in enumerate(tess.site_of_building.tolist()):
        code = code_of.get(int(members[local]), "")
        if label.setdefault(site, code) != code:
            return None
    return np.array([label.get(s, "") for s in range(n)], dtype=object)


def _no_bound(ctx: _Context, reason: str) -> None:
    """Log why a community's repair gets no kept-cell bound."""
    logger.debug("community %s: no kept-cell bound: %s", ctx.community_id, reason)
    return None


def _connected(adjacency: sp.csr_matrix, nodes: np.ndarray) -> bool:
    if len(nodes) <= 1:
        return True
    return connected_components(adjacency[nodes][:, nodes], directed=False)[0] == 1


@dataclass
class _Community:
    """What the program of one community is made of: per cell its grid, households (all, existing), whether it holds
    a building above the maximum, its neighbours; the grids that may stay as they were (and those excused so)."""

    n: int
    k: int
    home: np.ndarray
    weight: np.ndarray
    existing: np.ndarray
    big: np.ndarray
    neighbours: list
    adjacency: sp.csr_matrix
    as_was: list
    excused: list
    pinned: np.ndarray
    band: tuple
    count: int | tuple[int, int] | None = None  # grids in use, when fixed (or the fewest and most)

    def reach(self, label: int) -> np.ndarray:
        """Per cell, the fewest existing households outside grid ``label`` on a path of cells from it (the cell's own included)."""
        own = self.home == label
        cost = np.where(own, 0.0, self.existing.astype(float)) + _EPS
        matrix = self.adjacency.copy()
        matrix.data = cost[matrix.indices]  # entering a cell costs its existing households (unless it is the grid's)
        dist = dijkstra(matrix, directed=True, indices=np.flatnonzero(own), min_only=True)
        return np.where(own, 0.0, dist)


#: a step's cost added to every cell in the shortest paths (sparse matrices drop zeros); far below a household
_EPS = 1e-7


@dataclass
class _Pool:
    """The connectivity cuts and flows found so far, carried from one ceiling to the next."""

    cuts: list = field(default_factory=list)
    taken: set = field(default_factory=set)
    rooted: set = field(default_factory=set)
    splits: dict = field(default_factory=dict)
    apart: set = field(default_factory=set)


class _Model:
    """The program of :func:`kept_cells_optimum` for layouts moving at most ``ceiling`` existing households.

    Variables: ``x[c, l]`` for the pairs a layout within the ceiling can use (cell ``c`` in grid ``l``; ``l < k``
    the existing grids, the rest new ones), ``u[l]`` (grid ``l`` holds a cell), ``e[l]`` (grid ``l`` is excused
    from the band), ``w[g]`` (grid ``as_was[g]`` is exactly its own cells).  An existing grid that holds a cell
    holds one of its own (otherwise the same layout with a new grid in its place moves as many).  A cell reaches an
    existing grid only along a path whose existing households outside that grid are within the ceiling; a new grid
    takes only cells whose existing households are within it; and the new grids are at most as many as the added
    households and the ceiling can fill to the band's minimum, plus one per cell above the maximum within it.
    """

    def __init__(self, c: _Community, ceiling: int, pool: _Pool):
        self.c, self.ceiling = c, ceiling
        n, k = c.n, c.k
        low, high = c.band
        added = int(c.weight.sum() - c.existing.sum())
        movable_big = int((c.big & (c.existing <= ceiling)).sum())
        extra = max(0, (added + ceiling) // max(low, 1) + movable_big)
        self.labels = labels = k + extra
        allowed = np.zeros((n, labels), dtype=bool)
        allowed[np.arange(n), c.home] = True
        for g in range(k):
            allowed[:, g] |= c.reach(g) <= ceiling + 1e-3
        allowed[:, k:] = (c.existing <= ceiling)[:, None]
        movable = c.existing <= ceiling
        allowed[~movable] = False
        allowed[np.flatnonzero(~movable), c.home[~movable]] = True
        pin = np.flatnonzero(c.pinned >= 0)
        allowed[pin] = False
        allowed[pin, c.pinned[pin]] = True
        cells, grids = np.nonzero(allowed)
        self.var = np.full((n, labels), -1, dtype=np.int64)
        self.var[cells, grids] = np.arange(len(cells))
        x_count = len(cells)
        self.u_at, self.e_at, self.w_at = x_count, x_count + labels, x_count + 2 * labels
        self.as_was = {g: t for t, g in enumerate(c.as_was)}
        self.n_var = x_count + 2 * labels + len(c.as_was)
        self.rows, self.cols, self.vals, self.lower, self.upper = [], [], [], [], []
        self.cut_count = self.rounds = self.work = 0
        self.apart = pool.apart  # pieces cut off in every grid already
        self.best, self.value, self.bound = None, None, None
        cost = np.zeros(self.n_var)
        moved = np.where(grids == c.home[cells], 0.0, c.existing[cells].astype(float))
        self._add([(v, moved[v]) for v in range(x_count) if moved[v]], -np.inf, float(ceiling))
        # a cell that changes grid costs a little more than its existing households (less than one in all): of two
        # layouts moving as many, the one moving fewer cells is cheaper, so free cells stay where they are
        self.tie = 0.5 / (n + 1)
        cost[:x_count] = moved + np.where(grids == c.home[cells], 0.0, self.tie)
        self.cost = cost
        for cell in range(n):
            self._add([(int(v), 1.0) for v in self.var[cell] if v >= 0], 1.0, 1.0)  # one grid per cell
        total = float(c.weight.sum()) + 1.0
        for label in range(labels):
            column = [(cell, int(v)) for cell, v in enumerate(self.var[:, label]) if v >= 0]
            u, e = self.u_at + label, self.e_at + label
            load = [(v, float(c.weight[cell])) for cell, v in column if c.weight[cell]]
            # a grid with a cell is used; a used grid holds at least the minimum unless excused, at most the maximum unless excused
            self._add([(v, 1.0) for _, v in column] + [(u, -float(n))], -np.inf, 0.0)
            self._add([(v, 1.0) for _, v in column] + [(u, -1.0)], 0.0, np.inf)
            self._add(load + [(u, -float(low)), (e, float(low))], 0.0, np.inf)
            self._add(load + [(e, -total)], -np.inf, float(high))
            # an excuse: a building above the maximum in the grid, or the grid as it was (flagged, untouched)
            reasons = [(v, -1.0) for cell, v in column if c.big[cell]]
            if label in self.as_was and label in c.excused:
                reasons.append((self.w_at + self.as_was[label], -1.0))
            self._add([(e, 1.0)] + reasons, -np.inf, 0.0)
            if label < k:
                # an existing grid in use keeps a cell of its own
                self._add([(u, 1.0)] + [(v, -1.0) for cell, v in column if c.home[cell] == label], -np.inf, 0.0)
            elif label >= k + 1:
                self._add([(u, 1.0), (u - 1, -1.0)], -np.inf, 0.0)  # new grids used in order (no symmetric copies)
        if c.count is not None:
            fewest, most_grids = (c.count, c.count) if isinstance(c.count, int) else c.count
            self._add([(self.u_at + label, 1.0) for label in range(labels)], float(fewest), float(most_grids))
        for g, t in self.as_was.items():
            w = self.w_at + t
            for cell, v in enumerate(self.var[:, g]):
                if v < 0:
                    continue
                self._add([(w, 1.0), (int(v), -1.0 if c.home[cell] == g else 1.0)], -np.inf, 0.0 if c.home[cell] == g else 1.0)
        # a cell that cannot be a grid on its own needs a neighbour in its grid (unless the grid is as it was)
        alone = (c.weight >= low) | c.big
        for cell in range(n):
            if alone[cell]:
                continue
            for label in range(labels):
                v = self.var[cell, label]
                if v < 0:
                    continue
                entries = [(int(v), 1.0)] + [(int(self.var[w, label]), -1.0) for w in c.neighbours[cell] if self.var[w, label] >= 0]
                if label in self.as_was:
                    entries.append((self.w_at + self.as_was[label], -1.0))
                self._add(entries, -np.inf, 0.0)
        self.f_at = self.n_var  # flow variables (continuous) from here on, added as grids need them
        self.flowed: set[int] = set()  # grids with a rooted flow
        self.taken_flowed: set[int] = set()  # grids with a flow to the cells they take in
        self.splits = pool.splits  # rounds in which a grid's own cells fell apart
        self.pool = pool
        self.continuous: list[int] = []
        self.pins = [(cell, int(c.pinned[cell])) for cell in pin.tolist()]
        # what a lower ceiling learnt: its cuts and flows hold for every layout
        for entries, upper in pool.cuts:
            self._cut(entries, upper, keep=False)
        for g in sorted(pool.taken):
            self._flow_taken(g)
        for g in sorted(pool.rooted):
            self._flow(g)

    def _flow_taken(self, g: int) -> None:
        """Each cell existing grid ``g`` takes in is joined to a cell of its own by cells it takes in.

        A flow over the cells ``g`` may take in: each such cell in ``g`` needs a unit, which comes from ``g``'s own
        cells that stay in it and passes only through cells in ``g``.  Added for a grid once a layout has a piece
        of it apart from its own cells.
        """
        c = self.c
        self.taken_flowed.add(g)
        self.pool.taken.add(g)
        taken = np.flatnonzero((self.var[:, g] >= 0) & (c.home != g))
        if not len(taken):
            return
        into, out_of = self._arcs(g, taken, float(len(taken)))
        for b in taken.tolist():
            self._add([(f, 1.0) for f in into[b]] + [(f, -1.0) for f in out_of[b]] + [(int(self.var[b, g]), -1.0)], 0.0, np.inf)

    def _flow(self, g: int) -> None:
        """Grid ``g`` is connected: a flow from one of its cells (a root) reaches every other cell in it.

        The root is one of the grid's own cells (an existing grid in use keeps one), any cell for a new grid.
        Each cell in the grid but the root needs a unit, which passes only through cells in the grid.  Added for a
        grid once a layout has it in pieces; the cuts stay for the other grids.
        """
        c = self.c
        self.flowed.add(g)
        self.pool.rooted.add(g)
        cells = np.flatnonzero(self.var[:, g] >= 0)
        roots = cells[c.home[cells] == g] if g < c.k else cells
        if len(cells) <= 1:
            return
        big_m = float(len(cells))
        root_of = {}
        for cell in roots.tolist():
            root_of[cell] = self.n_var
            self.n_var += 1
            self._add([(root_of[cell], 1.0), (int(self.var[cell, g]), -1.0)], -np.inf, 0.0)
        # one root when the grid is in use (as it was: its own cells, already whole or not)
        entries = [(r, 1.0) for r in root_of.values()] + [(self.u_at + g, -1.0)]
        if g in self.as_was:
            entries.append((self.w_at + self.as_was[g], 1.0))
        self._add(entries, 0.0, 0.0 if g not in self.as_was else np.inf)
        if g in self.as_was:
            self._add([(r, 1.0) for r in root_of.values()] + [(self.u_at + g, -1.0)], -np.inf, 0.0)
        into, out_of = self._arcs(g, cells, big_m)
        for b in cells.tolist():
            entries = [(f, 1.0) for f in into[b]] + [(f, -1.0) for f in out_of[b]] + [(int(self.var[b, g]), -1.0)]
            if b in root_of:
                entries.append((root_of[b], big_m))
            if g in self.as_was:
                entries.append((self.w_at + self.as_was[g], big_m))
            self._add(entries, 0.0, np.inf)

    def _arcs(self, g: int, heads: np.ndarray, big_m: float) -> tuple[dict, dict]:
        """Flow variables on the arcs ``a → b`` into each cell ``b`` of ``heads`` from a neighbour ``a`` that may be in
        grid ``g``, each open only while both ends are in ``g``; per cell of ``heads``, the arcs into it and out of it."""
        c = self.c
        into = {int(b): [] for b in heads}
        out_of = {int(b): [] for b in heads}
        for b in heads.tolist():
            for a in c.neighbours[b].tolist():
                if self.var[a, g] < 0:
                    continue
                f = self.n_var
                self.n_var += 1
                self.continuous.append(f)
                into[b].append(f)
                if a in out_of:
                    out_of[a].append(f)
                self._add([(f, 1.0), (int(self.var[b, g]), -big_m)], -np.inf, 0.0)
                self._add([(f, 1.0), (int(self.var[a, g]), -big_m)], -np.inf, 0.0)
        return into, out_of

    def _add(self, entries, lower, upper):
        row = len(self.lower)
        for col, val in entries:
            self.rows.append(row)
            self.cols.append(col)
            self.vals.append(val)
        self.lower.append(lower)
        self.upper.append(upper)

    def search(self, started: float, time_limit, node_limit, max_rounds, max_columns=None, max_work=None) -> str:
        """Solve, adding connectivity cuts, until a connected optimum (``"optimal"``), no layout within the ceiling
        (``"above"``), or a limit (``"limit"``: ``bound`` is proven for layouts within the ceiling).  ``max_work``:
        columns of the programs this search may still solve, summed."""
        n = self.c.n
        for _ in range(max_rounds):
            left = None if time_limit is None else time_limit - (time.perf_counter() - started)
            if left is not None and left <= 0:
                return "limit"
            if max_columns is not None and self.continuous and self.n_var > max_columns:
                return "limit"  # (flows made the program too large: the bound so far stands)
            if max_work is not None and self.work + self.n_var > max_work:
                return "limit"  # (the programs solved so far were as large as the search may afford)
            solved = self._solve(left, node_limit)
            self.rounds += 1
            self.work += self.n_var
            if solved.status == 2:
                return "above"
            dual = getattr(solved, "mip_dual_bound", None)
            proven = float(dual) if dual is not None and np.isfinite(dual) else (float(solved.fun) if solved.status == 0 else None)
            if proven is not None:
                # the objective exceeds the existing households moved by less than one half: they are at least this
                self.bound = max(self.bound or 0, int(math.ceil(proven - self.tie * self.c.n - 1e-6)))
            if solved.x is None:
                return "limit"
            chosen = np.round(solved.x) > 0.5
            label = np.full(n, -1, dtype=np.int64)
            cells, grids = np.nonzero(self.var >= 0)
            pick = chosen[self.var[cells, grids]]
            label[cells[pick]] = grids[pick]
            if not self._separate(label):
                value = int(round(float(self.c.existing[label != self.c.home].sum())))
                if self.value is None or value < self.value:
                    self.value, self.best = value, label
                return "optimal" if solved.status == 0 else "limit"
            if solved.status != 0:
                return "limit"
        return "limit"

    def _solve(self, time_limit, node_limit):
        matrix = sp.csr_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.lower), self.n_var))
        cost = np.zeros(self.n_var)
        cost[: len(self.cost)] = self.cost
        lb, ub = np.zeros(self.n_var), np.ones(self.n_var)
        ub[self.continuous] = np.inf
        integral = np.ones(self.n_var)
        integral[self.continuous] = 0
        for cell, g in self.pins:
            lb[self.var[cell, g]] = 1.0
        options = {"presolve": True, "mip_rel_gap": 1e-9}
        if time_limit is not None:
            options["time_limit"] = float(time_limit)
        if node_limit is not None:
            options["node_limit"] = int(node_limit)
        return milp(
            cost, constraints=LinearConstraint(matrix, np.array(self.lower), np.array(self.upper)),
            bounds=Bounds(lb, ub), integrality=integral, options=options,
        )

    def _cut(self, entries: list, upper: float, *, keep: bool = True) -> None:
        """Add a cut ``Σ coef · term ≤ upper`` over terms ``(cell, grid)`` (that cell in that grid) and ``("w", g)``
        (grid ``g`` as it was); a term without a variable here is 0.  Kept in the pool for the next ceiling."""
        if keep:
            self.pool.cuts.append((entries, upper))
        out = []
        for (a, b), coef in entries:
            if a == "w":
                if b in self.as_was:
                    out.append((self.w_at + self.as_was[b], coef))
            elif self.var[a, b] >= 0:
                out.append((int(self.var[a, b]), coef))
        self._add(out, -np.inf, upper)

    def _separate(self, label: np.ndarray) -> int:
        """Add the cuts a layout (a grid per cell) violates; returns how many (0: every grid connected)."""
        added = 0
        neighbours = self.c.neighbours
        for g in sorted(set(label.tolist())):
            nodes = np.flatnonzero(label == g)
            if len(nodes) <= 1:
                continue
            if g in self.as_was and np.array_equal(nodes, np.flatnonzero(self.c.home == g)):
                continue
            pieces = _pieces(nodes, neighbours)
            if len(pieces) <= 1:
                continue
            if g in self.flowed:
                continue  # (cannot happen: the flow keeps it whole)
            home = self.c.home
            main = max(range(len(pieces)), key=lambda p: (sum(home[q] == g for q in pieces[p]), len(pieces[p]), -pieces[p][0]))
            v = pieces[main][0]
            low = self.c.band[0]
            for p, piece in enumerate(pieces):
                if p == main:
                    continue
                own = any(home[q] == g for q in piece)
                if g < self.c.k and not own and g not in self.taken_flowed:
                    self._flow_taken(g)  # cells taken in, apart from the grid's own
                    added += 1
                if own or g >= self.c.k:
                    self.splits[g] = self.splits.get(g, 0) + 1
                # a piece that cannot be the whole grid (none of the grid's own cells, or too few households to be
                # in band, no building above the maximum) reaches the rest of it through its neighbours
                small = int(self.c.weight[piece].sum()) < low and not bool(self.c.big[piece].any())
                apart = (g < self.c.k and not own) or small
                if not apart:
                    separator = _separator(piece, v, neighbours)
                    right = [((w, g), -1.0) for w in separator] + [(("w", g), -1.0)]
                    for u in piece[:_CUTS_PER_PIECE]:
                        self._cut([((u, g), 1.0), ((v, g), 1.0)] + right, 1.0)
                        added += 1
                    continue
                separator = sorted({w for q in piece for w in neighbours[q].tolist()} - set(piece))
                key = tuple(piece)
                if key in self.apart:
                    continue
                self.apart.add(key)
                # the same piece cannot stand apart in any grid it cannot be on its own
                for other in range(self.labels):
                    if other < self.c.k and any(home[q] == other for q in piece) and not small:
                        continue  # (the grid could keep just this piece of its own)
                    if other >= self.c.k and not small:
                        continue  # (a new grid could be just this piece)
                    here = [q for q in piece if self.var[q, other] >= 0]
                    if not here:
                        continue
                    right = [((w, other), -1.0) for w in separator] + [(("w", other), -1.0)]
                    for u in here[:_CUTS_PER_PIECE]:
                        self._cut([((u, other), 1.0)] + right, 0.0)
                        added += 1
            if self.splits.get(g, 0) >= _SPLITS_BEFORE_FLOW and g not in self.flowed:
                self._flow(g)  # a grid whose own cells keep falling apart: connected by a flow from one root
                added += 1
        self.cut_count += added
        return added


def _pieces(nodes: np.ndarray, neighbours: list[np.ndarray]) -> list[list[int]]:
    """The connected pieces of ``nodes`` (each sorted, in order of their first cell)."""
    inside = set(nodes.tolist())
    seen: set[int] = set()
    out = []
    for start in nodes.tolist():
        if start in seen:
            continue
        piece, stack = [], [start]
        seen.add(start)
        while stack:
            c = stack.pop()
            piece.append(c)
            for w in neighbours[c].tolist():
                if w in inside and w not in seen:
                    seen.add(w)
                    stack.append(w)
        out.append(sorted(piece))
    return out


def _separator(piece: list[int], v: int, neighbours: list[np.ndarray]) -> list[int]:
    """The neighbours of ``piece`` that border the part of the graph holding ``v`` once ``piece`` and its neighbours are out."""
    inside = set(piece)
    around = {w for c in piece for w in neighbours[c].tolist()} - inside
    if v in around:
        return sorted(around)
    reach, stack = {v}, [v]
    while stack:
        c = stack.pop()
        for w in neighbours[c].tolist():
            if w not in reach and w not in inside and w not in around:
                reach.add(w)
                stack.append(w)
    return sorted(w for w in around if any(r in reach for r in neighbours[w].tolist()))
