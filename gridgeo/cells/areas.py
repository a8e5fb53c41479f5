"""Dedicated facilities (专属网格) and residential compounds (小区): polygons that group buildings.

A dedicated facility (school, hospital, mall, enterprise, campus, market) becomes
a grid of its own, outside the household band, and the rest of its community is
split around it.  A compound whose households fit within the band's maximum is
never split; a larger one is split only between its buildings, with its outline
used as a barrier so that grid boundaries follow it where they can.

Both are given as polygon layers.  Each polygon belongs to the community it
overlaps most (clipped to it); a building belongs to the polygon holding its
representative point (a facility wins over a compound).  Dedicated facilities
may also be given as building ids: the listed buildings' footprints, merged,
are the facility's grounds.

This module turns layers into arrays for the engine; it reads no files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import ProblemCollector, describe_rows
from ..inputs.crs import require_crs
from ..messages import count

__all__ = ["AreaGroups", "assign_areas", "facility_letter"]

logger = logging.getLogger(__name__)


@dataclass
class AreaGroups:
    """Area groups of one run, in the metric CRS.

    Attributes
    ----------
    building_group : ndarray of int
        Per prepared building, its group (-1: none).
    geoms : ndarray of Polygon
        Per group, its polygon clipped to its community.
    community : ndarray of int
        Per group, the index of its community.
    facility : ndarray of object
        Per group, the facility type of a dedicated grid, or None for a compound kept whole.
    names : ndarray of object
        Per group, a label for reports (the layer's name or id column, else the row number).
    compounds : DataFrame
        Every compound: ``compound``, ``community_index``, ``households``, ``kept_whole``
        and its outline (metric) in ``outline``; large compounds are not groups.
    """

    building_group: np.ndarray
    geoms: np.ndarray
    community: np.ndarray
    facility: np.ndarray
    names: np.ndarray
    compounds: pd.DataFrame


def assign_areas(
    prep,
    *,
    dedicated: gpd.GeoDataFrame | pd.DataFrame | None = None,
    dedicated_type: str = "type",
    building_id: str | None = None,
    compounds: gpd.GeoDataFrame | None = None,
    high: int,
    exclude: np.ndarray | None = None,
    labels: dict[str, str] | None = None,
) -> AreaGroups:
    """Group the prepared buildings by dedicated facility and compound.

    Parameters
    ----------
    prep : gridgeo.inputs.validate.Prepared
        The checked inputs.
    dedicated : GeoDataFrame or DataFrame, optional
        Facility polygons with a ``dedicated_type`` column, or a table of building
        ids (column ``building_id``) with that column.
    dedicated_type : str
        Column with the facility type (school, hospital, mall, ...).
    building_id : str, optional
        Id column of the buildings, needed for a table of building ids.
    compounds : GeoDataFrame, optional
        Compound polygons (an optional ``name`` column labels them).
    high : int
        The grid band's maximum: compounds up to it are kept whole.
    exclude : ndarray of bool, optional
        Per prepared building, true when it belongs to no facility or compound
        (a living plan's update passes the buildings of its dedicated grids).
    labels : dict, optional
        Names of the inputs in messages: ``dedicated`` and ``compounds`` (their
        file names on the command line); by default the words themselves.

    Returns
    -------
    AreaGroups

    Raises
    ------
    InputError
        Layers without CRS, non-polygon rows, a missing type column, unknown building ids.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np, shapely
    >>> from types import SimpleNamespace
    >>> prep = SimpleNamespace(
    ...     community_geoms=np.array([shapely.box(0, 0, 100, 100)]), metric_crs=32651,
    ...     building_geoms=np.array([shapely.box(10, 10, 20, 20), shapely.box(60, 60, 70, 70)]),
    ...     building_community=np.array([0, 0]), households=np.array([30, 40]), buildings=None)
    >>> school = gpd.GeoDataFrame({"type": ["school"]}, geometry=[shapely.box(50, 50, 100, 100)], crs=32651)
    >>> areas = assign_areas(prep, dedicated=school, high=500)
    >>> areas.building_group.tolist(), areas.facility.tolist()
    ([-1, 0], ['school'])
    """
    problems = ProblemCollector()
    n_b = len(prep.building_geoms)
    building_group = np.full(n_b, -1, dtype=np.int64)
    if exclude is not None:
        building_group[np.asarray(exclude, dtype=bool)] = -2  # taken: in no group (reset to -1 at the end)
    geoms: list = []
    community: list[int] = []
    facility: list = []
    names: list = []
    c_tree = shapely.STRtree(prep.community_geoms)
    points = shapely.point_on_surface(prep.building_geoms) if n_b else np.zeros(0, dtype=object)
    compound_rows: list[dict] = []

    def polygons(frame: gpd.GeoDataFrame, label: str) -> np.ndarray | None:
        require_crs(frame, label)
        geo = frame.geometry.to_crs(prep.metric_crs).to_numpy()
        kinds = shapely.get_type_id(geo)
        bad = np.flatnonzero(~np.isin(kinds, (3, 6)) | shapely.is_empty(geo))
        if len(bad):
            problems.add(label, f"{describe_rows(bad + 1)} are not polygons", "give polygons (the facility or compound grounds)")
            return None
        invalid = ~shapely.is_valid(geo)
        if invalid.any():
            geo = geo.copy()
            geo[invalid] = shapely.make_valid(geo[invalid])
            logger.warning("%s: %s repaired with make_valid", label, count(int(invalid.sum()), "invalid polygon"))
        return geo

    def home(geom) -> tuple[int, object] | None:
        """The community a polygon overlaps most, and the polygon clipped to it."""
        hits = c_tree.query(geom, predicate="intersects")
        if len(hits) == 0:
            return None
        clipped = shapely.intersection(prep.community_geoms[hits], geom)
        areas = shapely.area(clipped)
        best = int(np.argmax(areas))
        if areas[best] <= 0:
            return None
        return int(hits[best]), clipped[best]

    def label_of(frame, row: int) -> str:
        for column in ("name", "id", "facility_id", "compound_id"):
            if column in frame.columns and pd.notna(frame[column].iloc[row]):
                return str(frame[column].iloc[row])
        return f"row {row}"

    if dedicated is not None and len(dedicated):
        label = (labels or {}).get("dedicated", "dedicated")
        if dedicated_type not in dedicated.columns:
            columns = ", ".join(str(c) for c in dedicated.columns if c != getattr(dedicated, "_geometry_column_name", None))
            problems.add(
                label,
                f"has no column {dedicated_type!r} with the facility type (its columns: {columns})",
                "name the type column with --dedicated-type COL, or add a column 'type' (school, hospital, mall, enterprise, campus, market)",
            )
        elif isinstance(dedicated, gpd.GeoDataFrame) and dedicated.geometry.notna().any():
            geo = polygons(dedicated, label)
            if geo is not None:
                for row, geom in enumerate(geo):
                    found = home(geom)
                    if found is None:
                        logger.warning("dedicated facility %s lies in no community; it is not made a grid", label_of(dedicated, row))
                        continue
                    ci, clipped = found
                    group = len(geoms)
                    elsewhere = np.flatnonzero(prep.building_community != ci)
                    elsewhere = elsewhere[shapely.intersects(geom, points[elsewhere])]
                    if len(elsewhere):
                        logger.warning(
                            "dedicated facility %s crosses into another community: its %s there (%s) stay ordinary buildings of "
                            "that community (a grid never crosses a community line; give the grounds of each side as a facility of "
                            "its own to make them dedicated too)", label_of(dedicated, row), count(len(elsewhere), "building"),
                            count(int(prep.households[elsewhere].sum()), "household"),
                        )
                    inside = np.flatnonzero((prep.building_community == ci) & (building_group == -1))
                    inside = inside[shapely.intersects(clipped, points[inside])]
                    building_group[inside] = group
                    geoms.append(clipped)
                    community.append(ci)
                    facility.append(str(dedicated[dedicated_type].iloc[row]))
                    names.append(label_of(dedicated, row))
        else:
            # a table of building ids: the listed buildings' footprints are the grounds
            if building_id is None or building_id not in dedicated.columns:
                problems.add(label, "lists building ids but the id column is not known", "pass --building-id COL and give the same column in the dedicated table")
            else:
                ids = prep.buildings[building_id].astype(str).to_numpy()
                position = {value: i for i, value in enumerate(ids)}
                wanted = dedicated[building_id].astype(str).to_numpy()
                unknown = np.flatnonzero([w not in position for w in wanted])
                if len(unknown):
                    problems.add(label, f"{describe_rows(unknown + 1)}: {building_id} {', '.join(wanted[unknown][:5])} is not a building in any community", "check the ids against the buildings layer")
                else:
                    types = dedicated[dedicated_type].astype(str).to_numpy()
                    # buildings of one facility_id make one facility; without that column each building is its own
                    key = dedicated["facility_id"].astype(str).to_numpy() if "facility_id" in dedicated.columns else wanted
                    for facility_key in dict.fromkeys(key):
                        rows = np.flatnonzero(key == facility_key)
                        members = np.array([position[w] for w in wanted[rows]], dtype=np.int64)
                        for ci in np.unique(prep.building_community[members]):
                            own = members[prep.building_community[members] == ci]
                            grounds = shapely.intersection(shapely.union_all(prep.building_geoms[own]), prep.community_geoms[ci])
                            group = len(geoms)
                            building_group[own] = group
                            geoms.append(grounds)
                            community.append(int(ci))
                            facility.append(types[rows[0]])
                            names.append(str(facility_key))
    if compounds is not None and len(compounds):
        label = (labels or {}).get("compounds", "compounds")
        geo = polygons(compounds, label)
        if geo is not None:
            for row, geom in enumerate(geo):
                found = home(geom)
                name = label_of(compounds, row)
                if found is None:
                    logger.warning("compound %s lies in no community; ignored", name)
                    continue
                ci, clipped = found
                inside = np.flatnonzero((prep.building_community == ci) & (building_group == -1))
                inside = inside[shapely.intersects(clipped, points[inside])]
                total = int(prep.households[inside].sum())
                kept = total <= high and len(inside) > 0
                if kept:
                    building_group[inside] = len(geoms)
                    geoms.append(clipped)
                    community.append(ci)
                    facility.append(None)
                    names.append(name)
                compound_rows.append(
                    {"compound": name, "community_index": ci, "households": total, "n_buildings": int(len(inside)), "kept_whole": kept, "outline": clipped, "members": inside}
                )
    problems.raise_if_any()
    other = sorted({str(f) for f in facility if f is not None and facility_letter(f) == "X"})
    if other:
        logger.warning(
            "%s: facility type %s is none of %s: coded X (other)", (labels or {}).get("dedicated", "dedicated"),
            ", ".join(repr(t) for t in other), ", ".join(f"{en} ({zh})" for en, zh in _KNOWN_TYPES),
        )
    building_group[building_group < 0] = -1
    return AreaGroups(
        building_group=building_group,
        geoms=np.array(geoms, dtype=object),
        community=np.array(community, dtype=np.int64),
        facility=np.array(facility, dtype=object),
        names=np.array(names, dtype=object),
        compounds=pd.DataFrame(compound_rows, columns=["compound", "community_index", "households", "n_buildings", "kept_whole", "outline", "members"]),
    )


#: one letter per facility type in dedicated grid codes (``003-H01``: the first hospital grid of 003)
FACILITY_LETTERS = {"school": "S", "hospital": "H", "mall": "M", "enterprise": "E", "campus": "C", "market": "K", "government": "G"}
#: the types named in the warning about other types (English and the first Chinese word)
_KNOWN_TYPES = [("school", "学校"), ("hospital", "医院"), ("mall", "商场"), ("enterprise", "企业"), ("campus", "园区"), ("market", "市场"), ("government", "政府")]
#: the types in Chinese, as a street office writes them
FACILITY_LETTERS.update({
    "学校": "S", "小学": "S", "中学": "S", "大学": "S", "幼儿园": "S", "医院": "H", "卫生院": "H", "商场": "M", "购物中心": "M",
    "企业": "E", "公司": "E", "工厂": "E", "园区": "C", "市场": "K", "菜市场": "K", "农贸市场": "K", "政府": "G", "机关": "G",
})


def facility_letter(facility: str) -> str:
    """The code letter of a facility type (``X`` for other types).

    Examples
    --------
    >>> facility_letter("Hospital"), facility_letter("医院"), facility_letter("shelter")
    ('H', 'H', 'X')
    """
    return FACILITY_LETTERS.get(str(facility).strip().lower(), "X")
