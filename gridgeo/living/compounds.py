"""Residential compounds (小区) in an updated plan: which compounds the previous plan kept whole, keeping their buildings together, and each compound's outcome."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from ..cells.areas import AreaGroups, assign_areas
from ..result import Partition


# -- compounds ------------------------------------------------------------------------------------------
def _previous_compounds(prev: Partition, prep, band: tuple[int, int], in_dedicated: np.ndarray) -> AreaGroups | None:
    """The previous run's compounds (its ``compounds`` layer) grouping the new buildings as a fresh run groups them."""
    layer = getattr(prev, "compounds", None)
    if layer is None or not len(layer):
        if prev.report.get("parameters", {}).get("compounds"):
            prep.notes.append("the previous run had compounds but its output holds no compounds layer: they are not re-applied")
        return None
    names = layer["compound"].astype(str).to_numpy() if "compound" in layer else np.array([f"row {i}" for i in range(len(layer))], dtype=object)
    frame = gpd.GeoDataFrame({"name": names}, geometry=layer.geometry.to_numpy(), crs=layer.crs)
    return assign_areas(prep, compounds=frame, high=band[1], exclude=in_dedicated)


def _join_compound_mates(home: np.ndarray, compound_of: np.ndarray, placed: np.ndarray, pinned: set[int]) -> None:
    """A new or moved building of a compound that fits joins the one grid holding the compound's other buildings (in place)."""
    if not len(placed):
        return
    fixed = np.ones(len(home), dtype=bool)
    fixed[placed] = False
    owners: dict[int, set[str]] = {}
    for j in np.flatnonzero((compound_of >= 0) & fixed):
        owners.setdefault(int(compound_of[j]), set()).add(str(home[j]))
    for i in placed:
        group = int(compound_of[i])
        if group >= 0 and int(i) not in pinned and len(owners.get(group, ())) == 1:
            home[i] = next(iter(owners[group]))


def _split_compound_grids(home: np.ndarray, compound_of: np.ndarray) -> set[str]:
    """Grids holding part of a compound that fits in one grid but lies in several (they are repaired)."""
    grids_of: dict[int, set[str]] = {}
    for j in np.flatnonzero(compound_of >= 0):
        grids_of.setdefault(int(compound_of[j]), set()).add(str(home[j]))
    return set().union(*(grids for grids in grids_of.values() if len(grids) > 1)) if grids_of else set()


def _compound_groups(members: np.ndarray, shape, compound_of: np.ndarray | None, geoms: np.ndarray | None, sizes: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per member, its local compound (-1: none) and per local compound its outline inside ``shape``.

    ``compound_of`` gives every building's compound (-1: none), ``geoms`` every
    compound's outline and ``sizes`` its number of buildings.  Only compounds
    whose every building is among ``members`` become one cell.
    """
    if compound_of is None or not len(members):
        return None, None
    of = compound_of[members]
    present, counts = np.unique(of[of >= 0], return_counts=True)
    whole = present[counts == sizes[present]]
    if not len(whole):
        return None, None
    outlines = np.array([_polygonal(g) for g in shapely.intersection(geoms[whole], shape)], dtype=object)
    usable = np.array([g is not None for g in outlines], dtype=bool)
    whole, outlines = whole[usable], outlines[usable]
    if not len(whole):
        return None, None
    local = np.full(len(geoms), -1, dtype=np.int64)
    local[whole] = np.arange(len(whole))
    groups = np.where(of >= 0, local[np.maximum(of, 0)], -1)
    return groups, outlines


def _polygonal(geom):
    """The polygonal part of ``geom`` (None when it has no area)."""
    if geom is None or shapely.is_empty(geom):
        return None
    if shapely.get_type_id(geom) not in (3, 6):
        parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
        geom = shapely.union_all(parts) if parts else None
    return geom if geom is not None and shapely.area(geom) > 0 else None


def _compound_outcomes(areas: AreaGroups, b_grid: np.ndarray, prep, band, edited: np.ndarray, previous: gpd.GeoDataFrame, metric, crs):
    """The ``compounds`` report section and layer of a new plan (grids of every compound, split or not and why).

    The outlines are the ``previous`` layer's, unchanged (not clipped again), so
    a plan updated without change keeps its compounds layer byte for byte.
    """
    from ..build import _compound_layer, _compound_report

    rows = _compound_report(areas, b_grid, prep, band, edited=edited)
    layer = _compound_layer(rows, areas, metric, crs)
    if len(previous) == len(layer):
        layer = layer.set_geometry(gpd.GeoSeries(previous.geometry.to_numpy(), index=layer.index, crs=previous.crs).to_crs(crs))
    return rows, layer
