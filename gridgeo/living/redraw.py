"""Re-drawing a region of an updated plan: new labels for its cells, new polygons that meet the kept grids exactly, and codes inherited from the previous grids."""

from __future__ import annotations

import copy

import numpy as np
import shapely
from scipy.sparse.csgraph import connected_components

from ..cells.adjacency import CellGraph, build_cell_graph
from ..cells.tessellate import Tessellation, split_parts, tessellate_part
from ..partition.band import _repair_band
from ..partition.count import feasible_counts
from ..partition.engine import _assign_parts, _dissolve
from ..partition.notes import GridNote
from ..partition.plan import partition_part
from ..partition.proof import walled_in
from .addedgroup import give_added, split_added_across, split_added_group
from .compounds import _compound_groups
from .exactshed import shed_exactly
from .seams import SEAM_TOLERANCE_M, fit_exactly, seam_tolerance
from .shed import shed_cheaply
from .state import _cached, _Context, _Grid, _note_for, _Repair

#: new grids of added buildings made one after another in one region, past the first (:func:`_more_added_grids`)
MORE_ADDED_GRIDS = 2


def _tessellate(region, members: np.ndarray, ctx: _Context):
    """Cells and graph of one region polygon for ``members`` (None when the region is not one piece).

    Every compound that fits in one grid and has all its buildings among
    ``members`` is one cell seeded by its outline, as in a fresh partition.
    """
    parts = split_parts(region)
    if len(parts) != 1 or len(members) == 0:
        return None
    key = ("region", shapely.to_wkb(parts[0]), members.tobytes())
    return _cached(ctx, key, _drawn, parts[0], members, ctx)


def _drawn(part, members: np.ndarray, ctx: _Context):
    """The cells and cell graph of :func:`_tessellate` (None when they cannot be drawn)."""
    groups, outlines = _compound_groups(members, part, ctx.compound_of, ctx.compound_geoms, ctx.compound_size)
    tess = _mended(tessellate_part(part, ctx.geoms[members], groups=groups, group_geoms=outlines), part, ctx.geoms[members])
    if tess is None:
        return None
    n_sites = len(tess.cells)
    weight = np.bincount(tess.site_of_building, weights=ctx.households[members], minlength=n_sites).astype(np.int64)
    barriers = None
    if ctx.barriers is not None:
        hits = shapely.STRtree(ctx.barriers).query(part, predicate="intersects")
        barriers = ctx.barriers[hits] if len(hits) else None
    graph = build_cell_graph(tess.cells, weight, tess.anchors, barriers, outline_length=float(shapely.length(part)))
    if connected_components(graph.shared, directed=False)[0] != 1:
        return None
    return tess, graph



def _region_sites(grids: dict[str, _Grid], region: list[str], ctx: _Context):
    """The buildings, polygon, cells and cell graph of ``region`` (sorted grid codes), each site labelled with the
    position in ``region`` of its grid; None when the region has no buildings or is not one piece.

    A site shared by buildings of several grids (identical footprints) goes with its first building.
    """
    members = np.array(sorted(set().union(*(grids[c].members for c in region))), dtype=np.int64)
    if not len(members):
        return None
    shape = shapely.union_all([grids[c].geom for c in region])
    built = _tessellate(shape, members, ctx)
    if built is None:
        return None
    tess, graph = built
    owner = {int(b): i for i, c in enumerate(region) for b in grids[c].members}
    labels = np.full(graph.n, -1, dtype=np.int64)
    for local in range(len(members) - 1, -1, -1):
        labels[tess.site_of_building[local]] = owner[int(members[local])]
    return members, shape, tess, graph, labels

def _existing_per_cell(ctx: _Context, members: np.ndarray, tess: Tessellation, n: int) -> np.ndarray:
    """Per cell of ``tess``, the households of its buildings that were there before the update (zeros without ``ctx.is_new``)."""
    existing = np.zeros(n, dtype=np.int64)
    if ctx.is_new is not None:
        old = ~ctx.is_new[members]
        np.add.at(existing, tess.site_of_building[old], ctx.households[members][old])
    return existing


#: a cell below this area (m²) is a sliver: its buildings join the cell holding them, its ground a neighbour
SLIVER_M2 = 1e-6


def _mended(tess: Tessellation, part, buildings: np.ndarray) -> Tessellation | None:
    """``tess`` made a tiling of ``part`` again, or None when it cannot be.

    Rarely the cells miss ground (seen on taipei_wanhua_datong: a building's cell
    mended away to a sliver of no area, its ground lost): each missing piece goes
    to the cell of a building it holds (the first), else to the cell sharing its
    longest edge; then a cell still without area joins the cell holding its
    first building (its sliver merged there, or into the cell sharing its
    longest edge).  Without these a sliver touches no cell across an edge and the
    cell graph falls apart.  None when the cells still do not cover the part.
    """
    cells = tess.cells.copy()
    area = float(shapely.area(part))
    if abs(float(shapely.area(cells).sum()) - area) <= 1e-9 * area and not (shapely.area(cells) < SLIVER_M2).any():
        return tess
    points = shapely.point_on_surface(buildings)
    missing = shapely.get_parts(shapely.difference(part, shapely.union_all(cells)))
    for piece in missing[shapely.area(missing) >= SLIVER_M2] if len(missing) else []:
        inside = np.flatnonzero(shapely.covers(piece, points))
        if len(inside):
            site = int(tess.site_of_building[inside[0]])
        else:
            touching = shapely.STRtree(cells).query(piece, predicate="intersects")
            edge = shapely.length(shapely.intersection(shapely.boundary(cells[touching]), shapely.boundary(piece)))
            if not len(touching) or edge.max() <= 0:
                return None
            site = int(touching[int(np.argmax(edge))])
        merged = shapely.union(cells[site], piece)
        cells[site] = merged if shapely.get_type_id(merged) == 3 else piece if shapely.area(cells[site]) < SLIVER_M2 else merged
    thin = shapely.area(cells) < SLIVER_M2
    if thin.all():
        return None
    keep = np.flatnonzero(~thin)
    target = np.arange(len(cells))
    tree = shapely.STRtree(cells[keep])
    for site in np.flatnonzero(thin).tolist():
        mine = np.flatnonzero(tess.site_of_building == site)
        home = keep[int(tree.nearest(points[mine[0]] if len(mine) else tess.anchors[site]))]
        near = keep[tree.query(cells[site], predicate="intersects")]
        edge = {int(c): float(shapely.length(shapely.intersection(shapely.boundary(cells[c]), shapely.boundary(cells[site])))) for c in near}
        ground = home if edge.get(int(home), 0.0) > 0 else (max(sorted(edge), key=lambda c: edge[c]) if edge else home)
        merged = shapely.union(cells[ground], cells[site])
        if shapely.get_type_id(merged) == 3:
            cells[ground] = merged
        target[site] = home
    if shapely.get_type_id(cells[keep]).tolist() != [3] * len(keep) or abs(float(shapely.area(cells[keep]).sum()) - area) > 1e-6 * area:
        return None
    remap = np.full(len(cells), -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    site = remap[target]
    return Tessellation(
        cells[keep], site[tess.site_of_building], None if tess.site_of_group is None else site[tess.site_of_group], tess.anchors[keep]
    )


def _reassign_loose(graph: CellGraph, labels: np.ndarray) -> None:
    """Give every cell labelled -1 the label it shares the longest border with (in place)."""
    indptr, indices, lengths = graph.shared.indptr, graph.shared.indices, graph.shared.data
    while (labels < 0).any():
        progress = False
        for node in np.flatnonzero(labels < 0):
            neighbours = indices[indptr[node] : indptr[node + 1]]
            known = labels[neighbours] >= 0
            if not known.any():
                continue
            totals = np.bincount(labels[neighbours][known], weights=lengths[indptr[node] : indptr[node + 1]][known])
            labels[node] = int(np.argmax(totals))
            progress = True
        if not progress:
            raise RuntimeError("cells without a labelled neighbour in a connected graph")


def _connect(graph: CellGraph, labels: np.ndarray, fixed: np.ndarray | None = None) -> None:
    """Make every label connected: its heaviest piece stays, other pieces join their neighbours (in place).

    A piece holding a ``fixed`` cell (a pinned building) is kept before a heavier one.
    """
    for label in np.unique(labels[labels >= 0]):
        nodes = np.flatnonzero(labels == label)
        count, piece = connected_components(graph.shared[nodes][:, nodes], directed=False)
        if count > 1:
            weight = np.bincount(piece, weights=graph.weight[nodes] + 1e-6, minlength=count)
            if fixed is not None:
                weight += 1e12 * np.bincount(piece, weights=fixed[nodes].astype(float), minlength=count)
            labels[nodes[piece != int(np.argmax(weight))]] = -1
    _reassign_loose(graph, labels)


def _pins_hold(labels: np.ndarray, pin_of: np.ndarray) -> bool:
    """Whether the cells pinned to one grid share a label, and cells pinned to different grids do not."""
    pinned = np.flatnonzero(pin_of >= 0)
    if not len(pinned):
        return True
    pairs = set(zip(pin_of[pinned].tolist(), labels[pinned].tolist()))
    return len(pairs) == len({p for p, _ in pairs}) == len({lab for _, lab in pairs})


def _solve_labels(graph: CellGraph, labels: np.ndarray, ctx: _Context, rng, pin_of: np.ndarray | None = None, existing: np.ndarray | None = None) -> np.ndarray | None:
    """Labels with every grid in band or excused, changing as little as possible; None when it fails.

    The grids are as many as the households need, the count nearest the grids
    there are; with ``ctx.other_counts``, when that count does not settle, the
    other admissible counts are tried (:func:`_other_count`).

    ``existing`` gives per cell the households of buildings that were there
    before the update: cells without any are moved first.

    ``pin_of`` gives per cell the grid a pinned building holds it to (-1: none):
    pinned cells never move, and the result keeps the cells of one pinned grid
    together and those of different pinned grids apart (None otherwise).

    None at once when a pocket is walled in
    (:func:`gridgeo.partition.proof.walled_in`): then no labels of these
    cells have every grid in band.
    """
    low, high = ctx.band
    if walled_in(graph, low, high):
        return None
    labels = labels.copy()
    pin_of = np.full(graph.n, -1, dtype=np.int64) if pin_of is None else pin_of
    fixed = pin_of >= 0
    _connect(graph, labels, fixed)
    labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    big = graph.weight > high
    original = labels.copy()
    spare = copy.deepcopy(rng)  # the candidate splitting off added buildings draws its own numbers
    spare_across = copy.deepcopy(rng)  # and so does the one taking added buildings across a border
    spare_more = copy.deepcopy(rng)  # and the one making more than one new grid of them
    counted = _fit_count(graph, labels, ctx, rng, big, fixed)
    if counted is None:
        return None
    labels, finished, split = counted
    if finished:
        return labels if _pins_hold(labels, pin_of) else None
    best = _settle(graph, labels, ctx, rng, big, fixed, existing)
    if split and existing is not None and ((existing == 0) & (graph.weight > 0)).any():
        # another start: the new grid made of a connected group of added buildings (it moves nobody)
        other = _fit_count(graph, original.copy(), ctx, spare, big, fixed, existing=existing)
        if other is not None and not other[1] and not np.array_equal(other[0], labels):
            alternative = _settle(graph, other[0], ctx, spare, big, fixed, existing)
            best = _fewer_moved(original, alternative, best, graph.weight, existing)
        # a third: the new grid made of added buildings on both sides of a border, topped up with the cheapest cells
        across = split_added_across(graph, original, existing=existing, low=low, high=high, frozen=big | fixed, excused=_excused(original, big))
        more = _more_added_grids(graph, across, existing, low, high, big, fixed, spare_more)
        counted_across = _fit_count(graph, across, ctx, spare_across, big, fixed, existing=existing) if across is not None else None
        if counted_across is not None and not counted_across[1]:
            alternative = _settle(graph, counted_across[0], ctx, spare_across, big, fixed, existing)
            best = _fewer_moved(original, alternative, best, graph.weight, existing)
        # a fourth, where the added buildings make more than one new grid: the next group, topped up, the next grid
        for labels_more, generator in more:
            counted_more = _fit_count(graph, labels_more, ctx, generator, big, fixed, existing=existing)
            if counted_more is None:
                continue
            alternative = counted_more[0] if counted_more[1] else _settle(graph, counted_more[0], ctx, generator, big, fixed, existing)
            best = _fewer_moved(original, alternative, best, graph.weight, existing)
    if best is None and ctx.other_counts:
        best = _other_count(graph, original, labels, ctx, spare, big, fixed, existing)
    if best is None:
        return None
    return best if _pins_hold(best, pin_of) else None


def _excused(labels: np.ndarray, big: np.ndarray) -> np.ndarray:
    """Per grid of ``labels``, whether it has no band (it holds a cell above the maximum, ``big``)."""
    excused = np.zeros(int(labels.max()) + 1, dtype=bool)
    excused[np.unique(labels[big])] = True
    return excused


def _fewer_moved(original: np.ndarray, alternative: np.ndarray | None, best: np.ndarray | None, weight: np.ndarray, existing: np.ndarray) -> np.ndarray | None:
    """``alternative`` when it exists and moves fewer existing households than ``best`` (or there is no best), else ``best``."""
    if alternative is not None and (best is None or _moved(original, alternative, weight, existing) < _moved(original, best, weight, existing)):
        return alternative
    return best


def _more_added_grids(graph: CellGraph, across: np.ndarray | None, existing: np.ndarray, low: int, high: int, big: np.ndarray, fixed: np.ndarray, rng) -> list:
    """Labels with one more new grid of added buildings each, while a grid is still above the band: [(labels, rng)].

    :func:`gridgeo.living.addedgroup.split_added_across` makes one new grid.  When the added buildings fill two
    (monaco, 5 % added at random, seed 4: 306 and 263 households added inside one grid of 432), the second is made
    the same way from the first's labels, instead of splitting what is left of the grid afresh (which moved a
    104-household building that was there before where 35 do).  Each comes with its own copy of ``rng``.
    """
    found = []
    again = across
    for _ in range(MORE_ADDED_GRIDS):
        if again is None:
            break
        excused = _excused(again, big)
        totals = np.bincount(again, weights=graph.weight, minlength=len(excused))
        if not (totals[~excused] > high).any():
            break
        again = split_added_across(graph, again, existing=existing, low=low, high=high, frozen=big | fixed, excused=excused)
        if again is not None:
            found.append((again, copy.deepcopy(rng)))
    return found


def _other_count(graph: CellGraph, original: np.ndarray, tried: np.ndarray, ctx: _Context, rng, big: np.ndarray, fixed: np.ndarray, existing: np.ndarray | None) -> np.ndarray | None:
    """Labels with every grid in band for another grid count than ``tried``'s, the nearest first; None when none settles.

    The count nearest the grids there are can fail where the cells are lumpy (a few
    buildings of 290–370 households each): one grid fewer (or more) may still fit,
    which retires (or adds) one grid instead of partitioning the whole region afresh.
    """
    low, high = ctx.band
    holding_big = np.isin(original, np.unique(original[big]))
    plain_now = len(np.unique(original[~holding_big]))
    used = len(np.unique(tried[~np.isin(tried, np.unique(tried[big]))]))
    counts = [int(c) for c in feasible_counts(int(graph.weight[~holding_big].sum()), low, high) if c != used]
    for count in sorted(counts, key=lambda c: (abs(c - plain_now), c)):
        generator = copy.deepcopy(rng)
        counted = _fit_count(graph, original.copy(), ctx, generator, big, fixed, count=count)
        if counted is None:
            continue
        labels, finished, _ = counted
        if finished:
            return labels
        settled = _settle(graph, labels, ctx, generator, big, fixed, existing)
        if settled is not None:
            return settled
    return None


def _fit_count(
    graph: CellGraph, labels: np.ndarray, ctx: _Context, rng, big: np.ndarray, fixed: np.ndarray, existing: np.ndarray | None = None, count: int | None = None
):
    """Labels whose plain grids are as many as their households need: (labels, finished, split) or None when it fails.

    ``finished``: no grid has a band (the labels are the answer); ``split``: a
    grid was split.  ``count``: the number of plain grids to reach, when the
    households admit it (else the admissible count nearest the grids there are).  With ``existing`` (per cell, households there before the
    update), a grid is split first by making a connected group of cells
    without existing households a grid of its own
    (:func:`gridgeo.living.addedgroup.split_added_group`).
    """
    low, high = ctx.band
    split = False
    for _ in range(len(labels) + 1):
        k = int(labels.max()) + 1
        weights = np.bincount(labels, weights=graph.weight, minlength=k)
        excused = np.zeros(k, dtype=bool)
        excused[np.unique(labels[big])] = True
        plain = np.flatnonzero(~excused)
        total = int(weights[plain].sum())
        counts = feasible_counts(total, low, high)
        if len(plain) == 0:
            return labels, True, split
        if not len(counts):
            break  # the plain grids alone fit no count: cells of grids holding a large building may still come over
        target = count if count in counts else min(counts, key=lambda c: (abs(c - len(plain)), c))
        if target < len(plain):
            free = plain[~np.isin(plain, labels[fixed])]  # a grid holding a pinned building is not dissolved
            pool = free if len(free) else plain
            smallest = pool[np.lexsort((pool, weights[pool]))[0]]
            labels[labels == smallest] = -1
            _reassign_loose(graph, labels)
            labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
            continue
        if target > len(plain):
            split = True
            if existing is not None:
                grouped = None
                for g in plain[np.lexsort((plain, -weights[plain]))]:
                    grouped = split_added_group(graph, labels, int(g), existing=existing, low=low, high=high, frozen=big | fixed)
                    if grouped is not None:
                        break
                if grouped is not None:
                    labels = grouped
                    continue
            largest = plain[np.lexsort((plain, -weights[plain]))[0]]
            nodes = np.flatnonzero(labels == largest)
            local, _ = partition_part(graph.subgraph(nodes), low, high, rng, explain=False)  # (the labels only)
            if local.max() < 1:
                return None
            labels[nodes[local > 0]] = local[local > 0] + k - 1
            continue
        break
    return labels, False, split


def _settle(graph: CellGraph, labels: np.ndarray, ctx: _Context, rng, big: np.ndarray, fixed: np.ndarray, existing: np.ndarray | None) -> np.ndarray | None:
    """Every grid of ``labels`` in band or excused, of the candidate repairs the one moving the fewest existing households; None when none does."""
    low, high = ctx.band
    k = int(labels.max()) + 1
    excused = np.zeros(k, dtype=bool)
    excused[np.unique(labels[big])] = True
    frozen = big | fixed
    start = labels.copy()
    options = []
    if existing is not None and (existing > 0).any():
        # cells of added buildings (and empty ones) first: moving them moves no household that was there before
        search = _Repair(graph, labels, low, high, k, frozen | (existing > 0), excused)
        search.run(50 * graph.n)
        labels = search.labels
        # a second candidate: then the cheapest transfers across one border (fewest households that were there before)
        if ctx.transfers:
            options.append(shed_cheaply(graph, labels, low=low, high=high, cost=existing, frozen=frozen, excused=excused))
            # a third: the same, where a cell that would cut its grid in two goes with the cells it cuts off
            options.append(shed_cheaply(graph, labels, low=low, high=high, cost=existing, frozen=frozen, excused=excused, pockets=True))
            # a fourth: added buildings handed across a border, with the added buildings they wall in
            options.append(give_added(graph, start, low=low, high=high, existing=existing, frozen=frozen, excused=excused))
            # fifth and sixth: the two transfers again, ending each transfer with the cheapest single cell that covers what is still short
            options.append(shed_cheaply(graph, labels, low=low, high=high, cost=existing, frozen=frozen, excused=excused, best_fit=True))
            options.append(shed_cheaply(graph, labels, low=low, high=high, cost=existing, frozen=frozen, excused=excused, pockets=True, best_fit=True))
            # a seventh: each transfer the cheapest connected set across one border, found by search (gridgeo.living.exactshed)
            options.append(shed_exactly(graph, labels, low=low, high=high, cost=existing, frozen=frozen, excused=excused))
            # an eighth: the same, a grid above the band handing a neighbour more than its room, which passes the
            # overflow on (a chain across two borders or more, where no single border takes enough)
            options.append(shed_exactly(graph, labels, low=low, high=high, cost=existing, frozen=frozen, excused=excused, overflow=True))
            if excused.any():
                # a ninth: added buildings handed also to a grid holding a building above the maximum (it has no band)
                options.append(give_added(graph, start, low=low, high=high, existing=existing, frozen=frozen, excused=excused, takes_excused=True))
    options.insert(0, labels)

    def missing(labels):
        weights = np.bincount(labels, weights=graph.weight, minlength=k)
        return any(not excused[g] and not (low <= weights[g] <= high) for g in range(k))

    generators = [rng] + [copy.deepcopy(rng) for _ in options[1:]]  # each candidate draws the same numbers
    best = None
    seen: list[np.ndarray] = []
    for labels, generator in zip(options, generators):
        if any(np.array_equal(labels, other) for other in seen):
            continue  # the same start draws the same numbers and ends the same: it cannot be cheaper
        seen.append(labels)
        search = _Repair(graph, labels, low, high, k, frozen, excused)
        search.run(50 * graph.n)
        labels = search.labels
        if missing(labels):
            # single-cell moves are stuck (large buildings): merge a grid with neighbours and split again (ReCom);
            # grids holding a pinned building are not merged
            labels = _repair_band(graph, labels, excused, low, high, generator, frozen, rounds=20)
            if missing(labels):
                continue
        moved = float(existing[labels != start].sum()) if existing is not None else 0.0
        if best is None or moved < best[0]:
            best = (moved, labels)
    return None if best is None else best[1]


def _moved(original: np.ndarray, labels: np.ndarray, weight: np.ndarray, existing: np.ndarray) -> float:
    """Existing households whose cell changes grid from ``original`` to ``labels``, each new grid taking the
    old grid it shares the most existing (then all) households with (as codes are inherited, :func:`_inherit`)."""
    pairs = {}
    for a, b, e, w in zip(original.tolist(), labels.tolist(), existing.tolist(), weight.tolist()):
        there, total = pairs.get((a, b), (0, 0))
        pairs[(a, b)] = (there + e, total + w)
    heir = {}
    used = set()
    for (a, b), _ in sorted(pairs.items(), key=lambda item: (-item[1][0], -item[1][1], item[0])):
        if b not in heir and a not in used:
            heir[b] = a
            used.add(a)
    return float(sum(e for a, b, e in zip(original.tolist(), labels.tolist(), existing.tolist()) if heir.get(b) != a))


def _replace(grids, region, new_members, cells, ctx: _Context, dirty: set[str]) -> None:
    """Swap the grids of ``region`` for new ones; codes by largest household overlap, untouched grids keep their polygon."""
    codes = _inherit(grids, region, new_members, ctx)
    old = {c: grids[c] for c in region}
    kept = {code for code, members in zip(codes, new_members) if code in old and old[code].members == members}
    if any(not old[c].members and c not in codes for c in region):
        kept = set()  # the area of a grid left without buildings goes to grids that did not change otherwise
    # redraw only the grids whose buildings changed, inside the union of their old polygons
    redraw = [g for g, code in enumerate(codes) if code not in kept]
    polygons = _redraw([new_members[g] for g in redraw], [old[c].geom for c in region if c not in kept], ctx)
    if polygons is None:  # fall back to the region's own cells
        kept = set()
        redraw = list(range(len(codes)))
        polygons = [_dissolve(cells[g]) for g in redraw]
    for c in region:
        del grids[c]
    for g, code in enumerate(codes):
        previous = old.get(code)
        if code in kept:
            grid = previous
        else:
            polygon = polygons[redraw.index(g)]
            grid = _Grid(code, polygon, new_members[g], GridNote(), False, False, None, previous.previous_row if previous else None)
        grid.members = new_members[g]
        grid.note = _note_for(grid, ctx)
        grids[code] = grid
        dirty.add(code)
    ctx.retired |= {c for c in region if c not in codes}


def _redraw(members_list: list[set[int]], polygons: list, ctx: _Context) -> list | None:
    """Polygons for grids of the given buildings, tiling the union of ``polygons``; None when one is not one piece."""
    if not members_list:
        return []
    shape = shapely.union_all(polygons)
    parts = split_parts(shape)
    members = np.array(sorted(set().union(*members_list)), dtype=np.int64)
    label_of = {}
    for g, group in enumerate(members_list):
        for b in group:
            label_of[b] = g
    part_of = _assign_parts(parts, ctx.geoms[members])
    out: list = [None] * len(members_list)
    for p, part in enumerate(parts):
        here = members[part_of == p]
        if len(here) == 0:
            return None
        built = _tessellate(part, here, ctx)
        if built is None:
            return None
        tess, graph = built
        site_label = np.full(graph.n, -1, dtype=np.int64)
        for local, b in enumerate(here):
            site = tess.site_of_building[local]
            if site_label[site] >= 0 and site_label[site] != label_of[int(b)]:
                return None
            site_label[site] = label_of[int(b)]
        for g in np.unique(site_label):
            nodes = np.flatnonzero(site_label == g)
            if out[g] is not None or connected_components(graph.shared[nodes][:, nodes], directed=False)[0] != 1:
                return None
            polygon = _dissolve(tess.cells[nodes])
            if shapely.get_type_id(polygon) != 3:
                return None
            out[g] = polygon
    if any(p is None for p in out):
        return None
    return out


def _inherit(grids, region: list[str], new_members: list[set[int]], ctx: _Context, geoms=None) -> list[str]:
    """Codes of new grids: a grid holding a pinned building keeps the pinned code; then the largest
    overlap with an old grid in households that were there before (then in all households) inherits its code (for a grid without buildings, the largest
    area overlap, when ``geoms`` gives the new polygons); others get new numbers."""
    codes: list[str | None] = [None] * len(new_members)
    used = set()
    for g, members in enumerate(new_members):
        wanted = sorted({ctx.pins[b] for b in members if b in ctx.pins} & set(region))
        if len(wanted) == 1 and wanted[0] not in used:
            codes[g] = wanted[0]
            used.add(wanted[0])
    pairs = []
    for g, members in enumerate(new_members):
        for code in region:
            common = members & grids[code].members
            if common:
                common = sorted(common)
                # households that were there before first: a grid inheriting the code of the buildings added
                # to it would count the existing ones as moved
                there = int(ctx.households[common][~ctx.is_new[common]].sum()) if ctx.is_new is not None else 0
                pairs.append((-there, -int(ctx.households[common].sum()), -len(common), code, g))
    for *_, code, g in sorted(pairs):
        if codes[g] is None and code not in used:
            codes[g] = code
            used.add(code)
    if geoms is not None:
        overlaps = []
        for g, members in enumerate(new_members):
            if codes[g] is None and not members:
                for code in region:
                    if code not in used and grids[code].geom is not None:
                        area = float(shapely.area(shapely.intersection(geoms[g], grids[code].geom)))
                        if area > 0:
                            overlaps.append((-area, code, g))
        for _, code, g in sorted(overlaps):
            if codes[g] is None and code not in used:
                codes[g] = code
                used.add(code)
    fresh = [g for g in range(len(new_members)) if codes[g] is None]
    if fresh:
        xy = np.array([_anchor(ctx.geoms[sorted(new_members[g])] if new_members[g] else np.array([geoms[g]], dtype=object)) for g in fresh])
        for g in [fresh[i] for i in np.lexsort((xy[:, 0], -xy[:, 1]))]:
            codes[g] = _new_code(ctx)
    return [str(c) for c in codes]


def _anchor(geoms: np.ndarray) -> np.ndarray:
    """The centroid of the representative points of ``geoms`` (x, y): where a new grid is numbered."""
    return shapely.get_coordinates(shapely.centroid(shapely.multipoints(shapely.get_coordinates(shapely.point_on_surface(geoms)))))[0]


def _new_code(ctx: _Context) -> str:
    ccode = ctx.community_code
    while True:
        code = f"{ccode}-{ctx.next_number:0{max(ctx.width, len(str(ctx.next_number)))}d}"
        ctx.next_number += 1
        if code not in ctx.retired:
            return code


# -- assembling the result ---------------------------------------------------------------------------------
def _fit_metric(geoms: list, communities: list[str]) -> list:
    """The re-drawn grids (metric polygons) of each community meeting each other exactly (:func:`gridgeo.living.seams.fit_exactly`)."""
    out = list(geoms)
    communities = np.asarray(communities, dtype=object)
    array = np.array(geoms, dtype=object)
    for ccode in sorted(set(communities.tolist())):
        rows = np.flatnonzero(communities == ccode)
        if len(rows) > 1:
            for at, geom in zip(rows, fit_exactly(array[rows], [], tolerance=SEAM_TOLERANCE_M)[0]):
                out[at] = geom
    return out


def _fit_seams(grid_geoms: list, redrawn_at: list[int], communities: list[str], crs) -> set[int]:
    """Make the re-drawn grids of each community meet its kept grids exactly (in place; :mod:`gridgeo.living.seams`).

    Returns the positions of kept grids whose polygon had to take a vertex (a
    hook of a fraction of a millimetre where a re-drawn grid meets it): they
    are reported as reshaped.
    """
    tolerance = seam_tolerance(crs)
    redrawn = np.zeros(len(grid_geoms), dtype=bool)
    redrawn[redrawn_at] = True
    communities = np.asarray(communities, dtype=object)
    geoms = np.array(grid_geoms, dtype=object)
    touched: set[int] = set()
    for ccode in sorted(set(communities[redrawn].tolist())):
        here = communities == ccode
        mend, kept = np.flatnonzero(here & redrawn), np.flatnonzero(here & ~redrawn)
        fitted, held = fit_exactly(geoms[mend], geoms[kept], tolerance=tolerance)
        for at, geom in zip(mend, fitted):
            grid_geoms[at] = geom
        for at, geom in zip(kept, held):
            if geom is not geoms[at]:
                grid_geoms[at] = geom
                touched.add(int(at))
    return touched
