"""Checks that a new building layer given to ``update`` is the whole layer of the same place, before any work.

``update`` compares the layer it is given with the plan: a building of the
plan missing from the layer is demolished, one of the layer missing from the
plan is new.  Two mistakes look like a valid layer and would rewrite the
plan wholesale:

* **only part of the layer** (the new buildings alone, one community, or a
  re-export whose building ids were all renumbered): most of the plan's
  buildings vanish and their grids are retired for good;
* **a shifted layer** (GCJ-02 or BD-09 coordinates, as Chinese web maps use,
  read as WGS 84; or a wrong CRS): the buildings keep their ids but lie
  hundreds of metres from where the plan has them, all the same way, and land
  in other grids and communities.

:func:`check_new_layer` raises :class:`~gridgeo.errors.InputError` naming
the layer, what was found and the fix, with both problems listed together.
"""

from __future__ import annotations

import numpy as np
import shapely

from ..errors import InputError, Problem

__all__ = ["MOST_REMOVED", "SHIFT_M", "check_new_layer"]

#: share of the plan's households (of its buildings, when it has none) an update may remove without ``allow_removal``
MOST_REMOVED = 0.5
#: a plan matched by footprint: below this share of the layer's footprints overlapping the plan's, the layer may be shifted
FEW_MATCHED = 0.1
#: metres: matched buildings displaced alike by more than this (their median displacement) mean a shifted layer
SHIFT_M = 30.0
#: share of the matched buildings that must be displaced alike (within a tenth of the shift, or 5 m) to call it a shift
_ALIKE = 0.5
#: fewest matched buildings from which a shift is judged
_FEWEST = 10


def check_new_layer(
    match: np.ndarray,
    previous_households: np.ndarray,
    previous_geoms: np.ndarray,
    new_geoms: np.ndarray,
    *,
    label: str,
    building_id: str | None,
    removed: np.ndarray,
    community_of_previous: np.ndarray | None = None,
    allow_removal: bool = False,
) -> None:
    """Raise :class:`~gridgeo.errors.InputError` when the new layer is not the plan's place as a whole.

    Parameters
    ----------
    match : ndarray of int
        Per building of the new layer, the plan's building it was matched to (by
        ``building_id``, else by footprint), -1 for none; before any other test.
    previous_households : ndarray of int
        The households of the plan's buildings.
    previous_geoms, new_geoms : ndarray of shapely geometries
        The plan's and the layer's footprints, in one metric CRS.
    label : str
        The layer's name in messages.
    building_id : str or None
        The id column the buildings were matched by (None: by footprint).
    removed : ndarray of bool
        Per building of the plan, whether the update removes it (no building of
        the layer is it, in its community).
    community_of_previous : ndarray of str, optional
        The community (id) of each of the plan's buildings, to name the communities left without a building.
    allow_removal : bool
        Accept an update that removes more than :data:`MOST_REMOVED` of the plan's households.

    Examples
    --------
    A plan of three buildings; a layer holding only a new one removes them all:

    >>> import numpy as np, shapely
    >>> old = np.array([shapely.box(x, 0, x + 10, 10) for x in (0, 20, 40)], dtype=object)
    >>> new = np.array([shapely.box(60, 0, 70, 10)], dtype=object)
    >>> check_new_layer(np.array([-1]), np.array([40, 50, 60]), old, new, label="new.gpkg", building_id="bid",
    ...                 removed=np.ones(3, dtype=bool))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridgeo.errors.InputError: new.gpkg: 3 of the plan's 3 buildings (100 % of its households) are not in this layer; none of the layer's 1 bid values is a building of the plan ...
    >>> check_new_layer(np.array([-1]), np.array([40, 50, 60]), old, new, label="new.gpkg", building_id="bid",
    ...                 removed=np.ones(3, dtype=bool), allow_removal=True) is None
    True
    """
    problems = []
    removal = _removal_problem(match, previous_households, removed, label=label, building_id=building_id, community_of_previous=community_of_previous)
    if removal is not None and not allow_removal:
        problems.append(removal)
    if building_id:
        shift = _shift_problem(match, previous_geoms, new_geoms, label=label, building_id=building_id)
        if shift is not None:
            problems = [shift]  # (a shifted layer also removes buildings from their communities: the shift is the cause)
    if problems:
        raise InputError(problems)


def _removal_problem(match, previous_households, removed, *, label, building_id, community_of_previous) -> Problem | None:
    """The problem of a layer that removes most of the plan, or None."""
    households = np.asarray(previous_households, dtype=np.int64)
    removed = np.asarray(removed, dtype=bool)
    if not len(households):
        return None
    total = int(households.sum())
    share = float(households[removed].sum()) / total if total else float(removed.mean())
    if share <= MOST_REMOVED:
        return None
    message = (
        f"{int(removed.sum()):,} of the plan's {len(households):,} buildings ({100 * share:.0f} % of its households) are not in "
        "this layer"
    )
    matched = int((np.asarray(match) >= 0).sum())
    if building_id and matched == 0 and len(match):
        message += f"; none of the layer's {len(match):,} {building_id} values is a building of the plan (were the ids renumbered?)"
    elif not building_id and matched == 0 and len(match):
        message += f"; none of the layer's {len(match):,} footprints overlaps one of the plan's (is the layer shifted, or in a wrong CRS?)"
    elif not building_id and len(match) and matched < FEW_MATCHED * min(len(match), len(households)):
        message += (
            f"; only {matched:,} of the layer's {len(match):,} footprints overlap one of the plan's (is the layer shifted, "
            "or in a wrong CRS?)"
        )
    if community_of_previous is not None:
        codes = np.asarray(community_of_previous).astype(str)
        emptied = sorted(c for c in set(codes.tolist()) if removed[codes == c].all())
        if emptied:
            shown = ", ".join(emptied[:5]) + (f" and {len(emptied) - 5} more" if len(emptied) > 5 else "")
            message += f"; communities {shown} would lose every building"
    fix = (
        "give the complete building layer as it is now (update compares the whole layer with the plan, not only the "
        "changes)"
        + (f", with the plan's {building_id} values" if building_id else "")
        + ("" if building_id else "; a layer shifted as a whole (GCJ-02 or BD-09 read as WGS 84) or in a wrong CRS must be converted first")
        + "; if that many buildings were really demolished, run again with --allow-removal"
    )
    return Problem(label, message, fix)


def _shift_problem(match, previous_geoms, new_geoms, *, label, building_id) -> Problem | None:
    """The problem of a layer whose matched buildings are all displaced the same way, or None."""
    match = np.asarray(match)
    pairs = np.flatnonzero(match >= 0)
    if len(pairs) < _FEWEST:
        return None
    new_xy = shapely.get_coordinates(shapely.centroid(new_geoms[pairs]))
    old_xy = shapely.get_coordinates(shapely.centroid(previous_geoms[match[pairs]]))
    if len(new_xy) != len(pairs) or len(old_xy) != len(pairs):
        return None  # (an empty geometry has no centroid: no judgement)
    moved = new_xy - old_xy
    typical = np.median(moved, axis=0)
    distance = float(np.hypot(*typical))
    if distance <= SHIFT_M:
        return None
    alike = np.hypot(*(moved - typical).T) <= max(5.0, 0.1 * distance)
    if alike.mean() < _ALIKE:
        return None
    heading = _heading(float(typical[0]), float(typical[1]))
    message = (
        f"the buildings matched by {building_id} lie about {distance:,.0f} m {heading} of where the plan has them "
        f"({int(alike.sum()):,} of {len(pairs):,} displaced alike): the layer looks shifted (GCJ-02 or BD-09 coordinates "
        "of a Chinese web map read as WGS 84, or a wrong CRS)"
    )
    fix = "convert the layer to the plan's coordinates (GCJ-02/BD-09 → WGS 84) or set its true CRS, and run update again"
    return Problem(label, message, fix)


def _heading(dx: float, dy: float) -> str:
    """The compass point (of eight) of a displacement.

    >>> _heading(400.0, 250.0), _heading(0.0, -10.0), _heading(-3.0, 3.0)
    ('north-east', 'south', 'north-west')
    """
    names = ["east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east"]
    return names[int(np.round(np.degrees(np.arctan2(dy, dx)) / 45.0)) % 8]
