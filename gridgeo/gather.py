"""Community results gathered as they finish, kept compact until the city's frames are assembled.

A city of a million buildings has about 2.7 million joint units.  Holding
every community's :class:`~gridgeo.partition.engine.CommunityResult` until all
are done (a ``Unit`` object, a members tuple and a geometry per unit) and then
a dict per unit row took the parent of a ``--scheduler`` run to 7.6 GB.  Here
each result is reduced as it arrives (:func:`gather_result`): the units become
a few integer arrays, and a unit of one building keeps no geometry of its own
(its geometry is its building's, which the parent holds already).  The unit
rows of the output are then built column by column (:class:`UnitColumns`),
in the communities' code order, giving the same frame as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .governance.codes import unit_codes
from .labels import reason_text
from .partition.engine import CommunityResult, CommunityTask, run_community_task
from .units.cut import Unit

__all__ = ["Gathered", "gather_result", "run_and_gather", "UnitColumns", "own_footprints"]


@dataclass
class Gathered:
    """What the assembly needs of one community's result, in arrays.

    Attributes
    ----------
    building_grid : ndarray of int
        Grid index per building of the community (in its task's order).
    grid_geoms : ndarray of Polygon
    notes : list of GridNote
    barrier_crossings : ndarray of int
    barrier_crossings_min : int
    grid_tours : ndarray of float or None
    unit_grid : ndarray of int
        Per unit (grid by grid, each grid's units in walking order): its grid.
    unit_households : ndarray of int
    unit_in_band : ndarray of bool
    unit_starts : ndarray of int
        Unit ``u``'s members are rows ``unit_starts[u]:unit_starts[u + 1]`` of the member arrays.
    member_building, member_first, member_last : ndarray of int
        Per member: the building's position among its grid's buildings, and
        its first and last household numbers (1-based), as in :class:`~gridgeo.units.cut.Unit`.
    unit_geoms : ndarray of object
        Per unit: the union of its buildings, or None for a unit of one
        building (its geometry is that building's footprint).
    timings : dict or None
        Seconds per stage in the worker (:mod:`gridgeo.timings`), from
        :func:`run_and_gather`; never written to the outputs.
    """

    building_grid: np.ndarray
    grid_geoms: np.ndarray
    notes: list
    barrier_crossings: np.ndarray
    barrier_crossings_min: int
    grid_tours: np.ndarray | None
    unit_grid: np.ndarray
    unit_households: np.ndarray
    unit_in_band: np.ndarray
    unit_starts: np.ndarray
    member_building: np.ndarray
    member_first: np.ndarray
    member_last: np.ndarray
    unit_geoms: np.ndarray
    timings: dict | None = None

    @property
    def n_grids(self) -> int:
        return len(self.grid_geoms)

    def grid_units(self, g: int) -> range:
        """The unit numbers of grid ``g`` (consecutive)."""
        first, last = np.searchsorted(self.unit_grid, [g, g + 1])
        return range(int(first), int(last))

    def members(self, u: int) -> list[tuple[int, int, int]]:
        """Unit ``u``'s members as ``(building position in its grid, first, last)``."""
        a, z = self.unit_starts[u], self.unit_starts[u + 1]
        return list(zip(self.member_building[a:z].tolist(), self.member_first[a:z].tolist(), self.member_last[a:z].tolist()))

    def unit_texts(self, units: range, buildings: np.ndarray, codes: np.ndarray) -> list[str]:
        """The ``members`` text of each of ``units`` (``"code:first-last;…"``), all at once.

        ``buildings`` are the rows of the grid's buildings (a member's position
        in its grid indexes it), ``codes`` every building's code by row.

        Examples
        --------
        >>> g = Gathered(np.zeros(3, int), np.array([]), [], np.array([]), 0, None, np.zeros(2, int), np.array([9, 4]),
        ...              np.ones(2, bool), np.array([0, 2, 3]), np.array([0, 1, 1]), np.array([1, 1, 6]), np.array([5, 4, 9]), np.array([None, None]))
        >>> g.unit_texts(range(2), np.array([7, 8]), np.array(["", "", "", "", "", "", "", "B1", "B2"], dtype=object))
        ['B1:1-5;B2:1-4', 'B2:6-9']
        """
        n = len(units)
        if not n:
            return []
        starts = self.unit_starts[units.start : units.stop + 1]
        if (np.diff(starts) <= 0).any():
            raise ValueError("a joint unit without members")
        a, z = int(starts[0]), int(starts[-1])
        member_codes = codes[buildings[self.member_building[a:z]]].tolist()
        items = [f"{code}:{first}-{last}" for code, first, last in zip(member_codes, self.member_first[a:z].tolist(), self.member_last[a:z].tolist())]
        bounds = (starts - a).tolist()
        return [";".join(items[s:e]) for s, e in zip(bounds[:-1], bounds[1:])]

    def unit_geometries(self, units: range, buildings: np.ndarray, footprints) -> list:
        """The geometry of each of ``units``: its own (a union of buildings), or the footprint of its one building.

        ``footprints`` holds every building's footprint by row; ``buildings`` as
        in :meth:`unit_texts`.
        """
        if not len(units):
            return []
        first = buildings[self.member_building[self.unit_starts[units.start : units.stop]]].tolist()
        return [footprints[b] if geom is None else geom for b, geom in zip(first, self.unit_geoms[units.start : units.stop])]

    def unit(self, u: int) -> Unit:
        """Unit ``u`` as the :class:`~gridgeo.units.cut.Unit` the worker made."""
        return Unit(int(self.unit_households[u]), tuple(self.members(u)), bool(self.unit_in_band[u]))


def gather_result(result: CommunityResult) -> Gathered:
    """The compact form of one community's result (see the module docstring); ``result`` is left as it was.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.partition.engine import CommunityTask, run_community_task
    >>> b = np.array([shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 400, 20)])
    >>> task = CommunityTask(shapely.box(0, 0, 400, 100), b, np.full(20, 40), (300, 500), 0, "A", unit_band=(10, 15))
    >>> g = gather_result(run_community_task(task))
    >>> g.n_grids, len(g.unit_grid), int(g.unit_households.sum())
    (2, 60, 800)
    >>> bool(all(geom is None for geom in g.unit_geoms))  # every unit here is part of one building
    True
    """
    units = result.grid_units or [[] for _ in range(len(result.grid_geoms))]
    geoms = result.unit_geoms or [[] for _ in range(len(result.grid_geoms))]
    n_units = sum(len(grid) for grid in units)
    unit_grid = np.empty(n_units, dtype=np.int32)
    households = np.empty(n_units, dtype=np.int64)
    in_band = np.empty(n_units, dtype=bool)
    sizes = np.empty(n_units, dtype=np.int64)
    unit_geoms = np.full(n_units, None, dtype=object)
    members: list[tuple[int, int, int]] = []
    u = 0
    for g, (grid, grid_geoms) in enumerate(zip(units, geoms)):
        for unit, geom in zip(grid, grid_geoms):
            unit_grid[u] = g
            households[u] = unit.households
            in_band[u] = unit.in_band
            sizes[u] = len(unit.members)
            members.extend(unit.members)
            if len(unit.members) > 1:
                unit_geoms[u] = geom  # a union of buildings: the worker's geometry
            u += 1
    flat = np.asarray(members, dtype=np.int64).reshape(-1, 3)
    # the smallest integers that hold the values (a city's 2.7 million units: about 80 MB less in the parent)
    return Gathered(
        building_grid=_compact(result.building_grid),
        grid_geoms=result.grid_geoms,
        notes=result.notes,
        barrier_crossings=result.barrier_crossings,
        barrier_crossings_min=int(result.barrier_crossings_min),
        grid_tours=result.grid_tours,
        unit_grid=_compact(unit_grid),
        unit_households=_compact(households),
        unit_in_band=in_band,
        unit_starts=_compact(np.concatenate([[0], np.cumsum(sizes)])),
        member_building=_compact(flat[:, 0]),
        member_first=_compact(flat[:, 1]),
        member_last=_compact(flat[:, 2]),
        unit_geoms=unit_geoms,
    )


def _compact(values) -> np.ndarray:
    """``values`` as 32-bit integers where they fit (always, short of a community of two billion households), else 64-bit.

    Examples
    --------
    >>> _compact([1, 2]).dtype, _compact([2**40]).dtype
    (dtype('int32'), dtype('int64'))
    """
    values = np.asarray(values, dtype=np.int64)
    small = np.iinfo(np.int32)
    if not len(values) or (values.min() >= small.min and values.max() <= small.max):
        return values.astype(np.int32)
    return values


def run_and_gather(task: CommunityTask) -> Gathered:
    """:func:`~gridgeo.partition.engine.run_community_task` and :func:`gather_result` in one call (picklable entry point).

    Run in the community's worker, so that what travels back to the parent is
    the compact form: a unit of one building carries no copy of its
    building's footprint (a tower of 300 households has some twenty such
    units), and the parent has no gathering left to do.  The worker's stage
    times ride along in ``timings``.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> b = np.array([shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 400, 20)])
    >>> task = CommunityTask(shapely.box(0, 0, 400, 100), b, np.full(20, 40), (300, 500), 0, "A", unit_band=(10, 15))
    >>> g = run_and_gather(task)
    >>> g.n_grids, int(g.unit_households.sum()), "tessellation" in g.timings
    (2, 800, True)
    """
    result = run_community_task(task)
    gathered = gather_result(result)
    gathered.timings = result.timings
    return gathered


class UnitColumns:
    """The rows of the ``units`` layer, column by column (the same frame as one dict per row gave).

    Parameters
    ----------
    unit_band : (int, int)
        The joint-unit band (for the reasons of units out of band).
    register : bool
        Units list register household ids (and carry ``building_codes``).
    """

    def __init__(self, unit_band: tuple[int, int], *, register: bool = False):
        self.unit_band = unit_band
        self.register = register
        self.columns: dict[str, list] = {
            name: []
            for name in ("unit_code", "grid_code", "community_id", "community_code", "members", *(("building_codes",) if register else ()), "reason", "reason_zh")
        }
        self.households: list[np.ndarray] = []
        self.n_buildings: list[np.ndarray] = []
        self.in_band: list[np.ndarray] = []
        self.geoms: list = []
        # where pandas keeps text in Arrow (pandas 3), the text columns are moved into Arrow every
        # CHUNK units: a few Python strings at a time instead of one per unit and column
        self.chunks: dict[str, list] | None = {name: [] for name in self.columns} if _ARROW_TEXT is not None else None
        self.count = 0

    CHUNK = 65_536

    def __len__(self) -> int:
        return self.count

    def add_grid(self, gathered: Gathered, g: int, grid_code: str, community_id: str, community_code: str, texts: list[str], grid_households: int, geoms: list, building_codes: list[str] | None = None) -> None:
        """Add grid ``g``'s units: their member texts and geometries, the grid's codes and households."""
        units = gathered.grid_units(g)
        if not len(units):
            return
        cols = self.columns
        cols["unit_code"].extend(unit_codes(grid_code, len(units)))
        cols["grid_code"].extend([grid_code] * len(units))
        cols["community_id"].extend([community_id] * len(units))
        cols["community_code"].extend([community_code] * len(units))
        cols["members"].extend(texts)
        if self.register:
            cols["building_codes"].extend(building_codes)
        sl = slice(units.start, units.stop)
        in_band = gathered.unit_in_band[sl]
        if in_band.all():
            cols["reason"].extend([""] * len(units))
            cols["reason_zh"].extend([""] * len(units))
        else:
            params = {"households": grid_households, "low": self.unit_band[0], "high": self.unit_band[1]}
            en, zh = reason_text("unit_unfit", params, "en"), reason_text("unit_unfit", params, "zh")
            cols["reason"].extend(["" if ok else en for ok in in_band])
            cols["reason_zh"].extend(["" if ok else zh for ok in in_band])
        self.households.append(gathered.unit_households[sl])
        self.n_buildings.append(np.diff(gathered.unit_starts[units.start : units.stop + 1]))
        self.in_band.append(in_band)
        self.geoms.extend(geoms)
        self.count += len(units)
        if self.chunks is not None and len(cols["unit_code"]) >= self.CHUNK:
            self._to_arrow()

    def _to_arrow(self) -> None:
        """Move the text gathered so far into Arrow chunks."""
        import pyarrow as pa

        for name, values in self.columns.items():
            if values:
                self.chunks[name].append(pa.array(values, type=pa.large_string()))
                values.clear()

    def _text(self, name: str):
        """Column ``name``: a list of str, or (pandas 3) an Arrow-backed array of the dtype pandas gives such a list."""
        if self.chunks is None:
            return self.columns[name]
        import pandas as pd
        import pyarrow as pa

        self._to_arrow()
        return pd.array(pa.chunked_array(self.chunks[name], type=pa.large_string()), dtype=_ARROW_TEXT)

    def frame_columns(self) -> dict[str, object]:
        """The columns in the layer's order (``households``, ``n_buildings`` and ``in_band`` as arrays)."""
        text = self._text
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)  # noqa: E731
        out = {
            "unit_code": text("unit_code"),
            "grid_code": text("grid_code"),
            "community_id": text("community_id"),
            "community_code": text("community_code"),
            "households": cat(self.households, np.int64),
            "n_buildings": cat(self.n_buildings, np.int64),
            "members": text("members"),
        }
        if self.register:
            out["building_codes"] = text("building_codes")
        out.update({"in_band": cat(self.in_band, bool), "reason": text("reason"), "reason_zh": text("reason_zh")})
        return out


def _arrow_text_dtype():
    """The dtype pandas gives a list of str when it keeps text in Arrow (pandas 3), else None (object columns)."""
    import pandas as pd

    dtype = pd.Series(["a"]).dtype
    return dtype if getattr(dtype, "storage", None) == "pyarrow" else None


_ARROW_TEXT = _arrow_text_dtype()


def own_footprints(prep, *, chunk: int = 100_000) -> np.ndarray:
    """Per building, the geometry a unit of that building alone takes: its metric footprint.

    When the input CRS is the metric CRS, the output's own geometry object is
    used wherever it is the same geometry (equal WKB), so the units layer
    shares the buildings layer's objects instead of holding a second copy of
    every footprint once the metric ones are let go.

    Parameters
    ----------
    prep : gridgeo.inputs.validate.Prepared
    chunk : int
        Buildings compared at a time (bounds the WKB held at once).

    Returns
    -------
    ndarray of object
        Aligned with ``prep.building_geoms``.
    """
    metric = prep.building_geoms
    if prep.buildings.crs is None or not prep.metric_crs.is_exact_same(prep.buildings.crs):
        return metric
    own = prep.buildings.geometry.to_numpy()
    out = metric.copy()
    for start in range(0, len(metric), chunk):
        part = slice(start, start + chunk)
        # the same object already (a metric input without repairs), else compared by WKB
        rows = np.flatnonzero([a is not b for a, b in zip(own[part], metric[part])])
        if len(rows):
            rows = rows[shapely.to_wkb(own[part][rows]) == shapely.to_wkb(metric[part][rows])]
            out[part][rows] = own[part][rows]
    return out
