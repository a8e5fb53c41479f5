"""The repair of one community of an updated plan, checked to give re-drawn grids that meet its kept grids exactly.

:func:`repair_fitted` repairs a community (:func:`gridgeo.living.repair._repair_community`), takes the cheapest
repair in whole kept cells in its place when that moves fewer existing households (:func:`exact_candidate`), and
then fits its re-drawn grids to the grids kept around them exactly as the assembly of the new plan does
(:func:`unmatched_grids`: the re-drawn grids meet each other in metres, are reprojected, and are fitted to the
kept ones, :mod:`gridgeo.living.seams`).  When edges still do not match, that community alone is repaired again,
from the state it had before its repair:

1. without the single-border transfers (:mod:`gridgeo.living.shed`), the repair as it was before them;
2. afresh: every grid of the community but the dedicated and locked ones drawn again, as a fresh partition of
   the community draws them (the kept grids left to fit are the dedicated and locked ones only).

A community none of these can fit raises :class:`~gridgeo.errors.SeamError`, naming its grids: an update never
returns (nor writes) grids that are not a valid polygonal coverage.  Every other community is repaired once, as
before.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import shapely

from ..errors import SeamError
from ..inputs.crs import reproject_polygons
from .keptoptimum import BOUND_CELLS, BOUND_NODES, BOUND_ROUNDS, kept_cells_optimum
from .redraw import _fit_metric, _fit_seams, _replace
from .repair import _repair_community, _repartition_whole
from .state import _Context, _existing_moved, _Grid, _is_bad, _restore, _set_numbering

__all__ = ["exact_candidate", "repair_fitted", "require_valid_coverage", "unmatched_grids"]

#: communities of at most this many kept cells also try the cheapest repair in whole kept cells (0: never), within
#: the kept-cell bound's limits on nodes and programs (:data:`gridgeo.living.keptoptimum.BOUND_NODES` per program,
#: ``BOUND_ROUNDS``) and the ones below: counts, not time
EXACT_CELLS = BOUND_CELLS
#: ... solving no program with connectivity flows above this many columns (a grid kept whole by cuts only; the flows'
#: programs take seconds each: on the dense ~14k update one of 2,751 columns took 20 s and found nothing)
EXACT_COLUMNS = 2000
#: ... in a community whose repair moved at most this many existing households (the program grows with its ceiling)
EXACT_MOVED = 200
#: ... and within this many columns of all its programs, summed (the layouts found on the dense ~14k update took at
#: most 3,923; searches that find nothing go on to the limit: the kept-cell bound's 12,000 made the test suite 11 min)
EXACT_WORK = 4000

logger = logging.getLogger(__name__)


def unmatched_grids(grids: dict[str, _Grid], *, metric, crs, order: list[str] | np.ndarray, fit: bool = True) -> list[str]:
    """Codes of the grids of one community whose edges would not match a neighbour's once written.

    The re-drawn grids (``polygon_kept`` false, metric polygons) are fitted and
    reprojected as :func:`gridgeo.living.assemble._assemble` does, in the order it
    uses (the previous grids in ``order``, then new codes sorted), and the
    community's grids are then checked with ``shapely.coverage_invalid_edges``.
    ``fit=False`` reprojects without fitting: the check of the polygons as they
    come from the tessellation (whose edges along a kept grid then miss it by the
    reprojection's rounding).

    Returns
    -------
    list of str
        Empty when the grids form a valid polygonal coverage.
    """
    previous = [str(c) for c in order if str(c) in grids]
    codes = previous + sorted(set(grids) - set(previous))
    redrawn_at = [at for at, code in enumerate(codes) if not grids[code].polygon_kept]
    if not redrawn_at:
        return []
    geoms = [grids[code].original if grids[code].polygon_kept else None for code in codes]
    metric_geoms = [grids[codes[at]].geom for at in redrawn_at]
    community = ["community"] * len(codes)
    if fit:
        metric_geoms = _fit_metric(metric_geoms, community[: len(redrawn_at)])
    for at, geom in zip(redrawn_at, reproject_polygons(metric_geoms, metric, crs)):
        geoms[at] = geom
    if fit:
        _fit_seams(geoms, redrawn_at, community, crs)
    edges = shapely.coverage_invalid_edges(np.array(geoms, dtype=object))
    bad = ~(shapely.is_missing(edges) | shapely.is_empty(edges)) | ~shapely.is_valid(np.array(geoms, dtype=object))
    return [code for code, wrong in zip(codes, bad) if wrong]


def repair_fitted(grids: dict[str, _Grid], dirty: set[str], ctx: _Context, community_geom, *, metric, crs, order) -> str:
    """Repair one community (in place, as :func:`gridgeo.living.repair._repair_community`) so that its re-drawn grids
    meet its kept grids exactly; see the module docstring for the steps.

    Parameters
    ----------
    grids : dict
        The community's grids (changed in place).
    dirty : set of str
        Codes of grids whose buildings changed (changed in place, as by the repair).
    ctx : _Context
        The community's context (its ``transfers``, retired codes and next number are restored between attempts).
    community_geom : Polygon
        The community (metric), for a repair afresh.
    metric, crs
        The metric CRS of the repair and the CRS the grids are written in.
    order : sequence of str
        The previous plan's grid codes in its order (the order the assembly fits grids in).

    Returns
    -------
    str
        How the community was repaired: ``"transfers"`` (the first repair fits), ``"plain"`` (without the border
        transfers: again, or at once when ``ctx.transfers`` is false) or ``"afresh"``.

    Raises
    ------
    SeamError
        No repair gives grids that meet exactly.
    """
    start = {code: _copy(grid) for code, grid in grids.items()}
    dirty_before, retired_before = set(dirty), set(ctx.retired)
    number_before, transfers_before = ctx.next_number, ctx.transfers
    bad: list[str] = []
    attempts = (("transfers",) if transfers_before else ()) + ("plain", "afresh")
    try:
        for step, attempt in enumerate(attempts):
            if step:
                logger.info(
                    "community %s: grids %s would not meet their neighbours exactly; repairing it %s",
                    ctx.community_id, ", ".join(bad[:10]), "again without border transfers" if attempt == "plain" else "afresh",
                )
                _restore(grids, dirty, ctx, ({code: _copy(grid) for code, grid in start.items()}, dirty_before, retired_before, number_before))
            ctx.transfers = attempt == "transfers"
            if attempt == "afresh":
                _repartition_whole(grids, ctx, community_geom, dirty)
            else:
                _repair_community(grids, dirty, ctx, community_geom)
                exact_candidate(grids, dirty, ctx, (start, dirty_before, retired_before, number_before), metric=metric, crs=crs, order=order)
            bad = unmatched_grids(grids, metric=metric, crs=crs, order=order)
            if not bad:
                return attempt
    finally:
        ctx.transfers = transfers_before
    raise SeamError(
        f"community {ctx.community_id}: the re-drawn grids cannot be made to meet the grids kept around them exactly "
        f"(edges that do not match in grids {', '.join(bad[:10])}), also when repaired without border transfers and afresh"
    )


def exact_candidate(grids: dict[str, _Grid], dirty: set[str], ctx: _Context, before: tuple, *, metric, crs, order) -> bool:
    """Replace a community's repair by the cheapest repair in whole kept cells when that moves fewer existing households.

    ``grids`` and ``dirty`` hold the community's repair; ``before`` is the state before it (grids, dirty codes,
    retired codes, next grid number).  For a community of at most :data:`EXACT_CELLS` kept cells whose repair moved
    existing households, at most :data:`EXACT_MOVED` (:func:`gridgeo.living.keptoptimum.kept_cells_optimum`, looking only for layouts moving
    fewer existing households than the repair did, within the kept-cell bound's limits on nodes, programs and
    columns: deterministic), the layout found is applied to the state before the repair: the grids whose
    buildings change are swapped for new ones as a repair region is (codes by household overlap, polygons drawn
    again inside the union of theirs, else the union of their kept cells).  It is kept only when it moves fewer
    existing households than the repair, leaves no grid that changed out of the band without an excuse, and its
    re-drawn grids meet the kept ones exactly (:func:`unmatched_grids`); otherwise ``grids``, ``dirty`` and the
    numbering stay as the repair left them.  Not tried in a community where a grid was cut for a building grown
    above the band (``ctx.carved``): the program starts from the grids before the cut, in which that grid may keep
    every building, nor when the update was asked not to (``update(..., kept_cell_candidate=False)``,
    ``ctx.kept_cell_candidate``).  The program's proven bound (no repair in whole kept cells of the grids before the
    repair moves fewer existing households) is kept in ``ctx.kept_known``, where the kept-cell bound starts from it
    (:func:`gridgeo.living.keptoptimum.kept_cells_bound`).  Returns whether the layout was kept.
    """
    start, dirty_before, retired_before, number_before = before
    if EXACT_CELLS <= 0 or not ctx.kept_cell_candidate or ctx.is_new is None or ctx.carved:
        return False  # (after a cut for a grown building, gridgeo.living.carve, the program would join its pieces again)
    moved = _existing_moved(start, grids, ctx)
    if moved <= 0 or moved > EXACT_MOVED:
        return False
    found = kept_cells_optimum(
        {code: _copy(grid) for code, grid in start.items()}, ctx, set(dirty_before), time_limit=None, node_limit=BOUND_NODES,
        max_cells=EXACT_CELLS, max_rounds=BOUND_ROUNDS, guess=moved - 1, most=moved - 1, max_columns=EXACT_COLUMNS,
        max_work=EXACT_WORK,
    )
    if found.bound is not None:  # (a bound on every repair in whole kept cells of these grids: the kept-cell bound's start)
        ctx.kept_known = max(ctx.kept_known or 0, int(found.bound))
    if found.value is None or found.value >= moved:
        return False
    repaired = ({code: _copy(grid) for code, grid in grids.items()}, set(dirty), set(ctx.retired), ctx.next_number)
    candidate = {code: _copy(grid) for code, grid in start.items()}
    candidate_dirty = set(dirty_before)
    _set_numbering(ctx, retired_before, number_before)
    layout = dict(zip(found.codes, zip(found.members, found.polygons)))
    changed = sorted(code for code in candidate if code in layout or (candidate[code].members and not candidate[code].dedicated and not candidate[code].locked))
    changed = [code for code in changed if code not in layout or layout[code][0] != candidate[code].members]
    groups = [(members, cells) for code, (members, cells) in ((c, layout[c]) for c in changed if c in layout)]
    groups += [(members, cells) for code, members, cells in zip(found.codes, found.members, found.polygons) if not code]
    if changed and groups:
        _replace(candidate, changed, [m for m, _ in groups], [c for _, c in groups], ctx, candidate_dirty)
    kept = (
        _existing_moved(start, candidate, ctx) < moved
        and not any(code in candidate_dirty and _is_bad(grid, ctx) for code, grid in candidate.items())
        and not unmatched_grids(candidate, metric=metric, crs=crs, order=order)
    )
    if kept:
        _restore(grids, dirty, ctx, (candidate, candidate_dirty, set(ctx.retired), ctx.next_number))
        logger.debug("community %s: the cheapest repair in whole kept cells moves %d existing households instead of %d", ctx.community_id, found.value, moved)
    else:
        _restore(grids, dirty, ctx, repaired)
    return kept


def require_valid_coverage(grids) -> None:
    """Raise :class:`~gridgeo.errors.SeamError` when the grids (a GeoDataFrame with ``community_id``, ``grid_code``)
    of a community are not a valid polygonal coverage, naming the communities and grids.

    Examples
    --------
    >>> import geopandas as gpd
    >>> a = shapely.Polygon([(0, 0), (2, 0), (2, 1), (0, 1)])
    >>> b = shapely.Polygon([(2, 0), (4, 0), (4, 1), (2, 1), (2, 0.5)])  # a vertex a lacks
    >>> grids = gpd.GeoDataFrame({"community_id": ["A", "A"], "grid_code": ["001-01", "001-02"]}, geometry=[a, b])
    >>> require_valid_coverage(grids)
    Traceback (most recent call last):
    ...
    gridgeo.errors.SeamError: the grids are not a valid polygonal coverage: community A (grids 001-01, 001-02)
    >>> require_valid_coverage(grids.iloc[:1])
    """
    wrong = []
    for community, rows in grids.groupby("community_id", sort=True):
        edges = shapely.coverage_invalid_edges(rows.geometry.to_numpy())
        codes = rows["grid_code"].astype(str).to_numpy()[~(shapely.is_missing(edges) | shapely.is_empty(edges))]
        if len(codes):
            wrong.append(f"community {community} (grids {', '.join(codes[:10])})")
    if wrong:
        raise SeamError("the grids are not a valid polygonal coverage: " + "; ".join(wrong))


def _copy(grid: _Grid) -> _Grid:
    """A copy of ``grid`` whose buildings can change without changing the original's."""
    out = copy.copy(grid)
    out.members = set(grid.members)
    return out
