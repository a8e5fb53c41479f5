"""The result of a partition run, in memory or read back from an output folder."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .errors import InputError, Problem

__all__ = ["Partition", "read_outputs", "single_part_units"]


@dataclass
class Partition:
    """The result of :func:`partition`.

    Attributes
    ----------
    communities, grids, buildings, units, unassigned : GeoDataFrame
        In the communities' CRS.  ``buildings`` holds every input column
        unchanged plus ``building_code``, ``community_code``, ``grid_code``,
        ``households`` and ``households_estimated``.
    report : dict
        Parameters, notes on the input, and the measures of :mod:`gridgeo.metrics`
        per community and overall.
    changes : dict, optional
        What :func:`gridgeo.living.update.update` changed against the previous run
        (written as ``changes.json``); None for a fresh partition.
    edits : dict, optional
        What :func:`gridgeo.living.edits.apply_edits` applied and every constraint the
        edits break (written as ``edits.json``); None otherwise.
    compounds : GeoDataFrame, optional
        The compounds (小区) of a run given ``compounds``: outline, households,
        grids, whether and why it was split (layer ``compounds``); None otherwise.
    service_centres : GeoDataFrame, optional
        The service centres the coverage columns were measured to
        (:func:`gridgeo.governance.coverage.add_coverage`; layer ``service_centres``), so an
        update can measure them again; None otherwise.
    """

    communities: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    unassigned: gpd.GeoDataFrame
    report: dict = field(default_factory=dict)
    changes: dict | None = None
    edits: dict | None = None
    compounds: gpd.GeoDataFrame | None = None
    service_centres: gpd.GeoDataFrame | None = None
    households: pd.DataFrame | None = None
    unassigned_households: pd.DataFrame | None = None
    grid_colours: dict | None = None

    def to_files(self, outdir: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``partition.gpkg``, the GeoJSON files and ``report.json`` into ``outdir``.

        The folder is written next to ``outdir`` first and renamed when complete,
        so a failed run leaves nothing behind.  See :func:`gridgeo.outputs.export.write_outputs`.
        """
        from .outputs.export import write_outputs

        return write_outputs(self, outdir, overwrite=overwrite)


def read_outputs(outdir: str | Path) -> Partition:
    """Read a finished run's ``partition.gpkg`` and ``report.json`` back into a :class:`Partition`.

    Examples
    --------
    >>> import tempfile, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> folder = gridgeo.partition(c, b, households="hh").to_files(tempfile.mkdtemp() + "/run")
    >>> read_outputs(folder).grids["households"].tolist()
    [400]
    """
    outdir = Path(outdir)
    gpkg = outdir / "partition.gpkg"
    report = outdir / "report.json"
    if not outdir.exists():
        raise InputError(Problem(str(outdir), "folder not found", "check the path: give the folder a gridgeo run wrote (its -o/--output)"))
    if not outdir.is_dir():
        raise InputError(Problem(str(outdir), "is a file, not a run's output folder", f"give the folder a gridgeo run wrote (its -o/--output), e.g. {outdir.parent}"))
    if not gpkg.exists() or not report.exists():
        raise InputError(
            Problem(str(outdir), "is not a gridgeo output folder (partition.gpkg or report.json missing)", "run gridgeo partition first")
        )
    layers = set(pyogrio.list_layers(gpkg)[:, 0])

    def layer(name):
        if name in layers:
            return gpd.read_file(gpkg, layer=name)
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=gpd.read_file(gpkg, layer="grids", rows=0).crs))

    grids = layer("grids")
    if len(grids):
        # the GeoPackage stores all grids as MultiPolygon once one grid has several pieces (edited_split)
        geoms = grids.geometry.to_numpy()
        single = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) == 1)
        if single.any():
            geoms = geoms.copy()
            geoms[single] = shapely.get_geometry(geoms[single], 0)
            grids = grids.set_geometry(gpd.GeoSeries(geoms, index=grids.index, crs=grids.crs), crs=grids.crs)
    buildings = layer("buildings")
    return Partition(
        communities=layer("communities"),
        grids=grids,
        buildings=buildings,
        units=single_part_units(layer("units"), buildings),
        unassigned=layer("unassigned"),
        report=json.loads(report.read_text(encoding="utf-8")),
        changes=json.loads((outdir / "changes.json").read_text(encoding="utf-8")) if (outdir / "changes.json").exists() else None,
        edits=json.loads((outdir / "edits.json").read_text(encoding="utf-8")) if (outdir / "edits.json").exists() else None,
        compounds=layer("compounds") if "compounds" in layers else None,
        service_centres=layer("service_centres") if "service_centres" in layers else None,
        households=_table(gpkg, "households") if "households" in layers else None,
        unassigned_households=(_table(gpkg, "unassigned_households") if "unassigned_households" in layers else _no_households())
        if "households" in layers
        else None,
        grid_colours=_stored_colours(gpkg) if "layer_styles" in layers else None,
    )


def _table(gpkg: Path, name: str) -> pd.DataFrame:
    """A table without geometry of the GeoPackage (ids as text, as written)."""
    frame = pyogrio.read_dataframe(gpkg, layer=name, read_geometry=False)
    return frame.drop(columns=[c for c in ("fid",) if c in frame.columns])


def _stored_colours(gpkg: Path) -> dict | None:
    """Grid code → fill colour index, from the style of the grids in ``layer_styles`` that gridgeo wrote.

    The style has one category per colour (label ``颜色 k / colour k``) listing
    its grid codes (:func:`gridgeo.outputs.geopackage.layer_qml`); None when the
    style is missing or not gridgeo's (restyled in QGIS and saved as default).
    """
    import sqlite3
    import xml.etree.ElementTree as ET

    try:
        with contextlib.closing(sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'grids' AND useAsDefault ORDER BY id LIMIT 1").fetchone()
        categories = ET.fromstring(row[0]).findall("./renderer-v2/categories/category") if row and row[0] else []
    except (sqlite3.Error, ET.ParseError):
        return None
    colours = {}
    for category in categories:
        hit = re.fullmatch(r"颜色 (\d+) / colour \d+", category.get("label", ""))
        if not hit:
            return None
        for value in category.findall("val"):
            colours[value.get("value")] = int(hit.group(1)) - 1
    return colours or None


def _no_households() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ("household_id", "building_id", "reason")})


def single_part_units(units: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Units with the geometry type a run gives them: one-part multi-geometries back to single parts.

    A unit's geometry is its building's geometry (one building) or the union of
    its buildings' (several): a Polygon, or a MultiPolygon of two or more parts.
    The GeoPackage stores a layer holding both as MultiPolygon only, so a unit
    read back is a one-part MultiPolygon where the run wrote a Polygon.  This
    restores the Polygon (the same coordinates), except for a one-building unit
    whose building in ``buildings`` is itself a multi-geometry.  Points likewise.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> u = gpd.GeoDataFrame({"n_buildings": [1, 2], "members": ["001-B00001:1-12", "001-B00001:13-14;001-B00002:1-9"]},
    ...                      geometry=[shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]), shapely.MultiPolygon([shapely.box(0, 0, 2, 1)])], crs=32651)
    >>> b = gpd.GeoDataFrame({"building_code": ["001-B00001"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=32651)
    >>> single_part_units(u, b).geom_type.tolist()
    ['Polygon', 'Polygon']
    """
    if not len(units) or units.geometry.name not in units:
        return units
    geoms = units.geometry.to_numpy()
    single = np.isin(shapely.get_type_id(geoms), (4, 6)) & (shapely.get_num_geometries(geoms) == 1)
    if not single.any():
        return units
    if "n_buildings" in units and "members" in units and "building_code" in buildings and len(buildings):
        multi_building = dict(
            zip(buildings["building_code"].astype(str), np.isin(shapely.get_type_id(buildings.geometry.to_numpy()), (4, 6)))
        )
        one = units["n_buildings"].to_numpy() == 1
        if "building_codes" in units:  # a register run: members are household ids
            first = units["building_codes"].astype(str).str.split(";", n=1).str[0].to_numpy()
        else:
            first = units["members"].astype(str).str.split(":", n=1).str[0].to_numpy()
        single &= ~(one & np.array([multi_building.get(code, False) for code in first], dtype=bool))
    geoms = geoms.copy()
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    return units.set_geometry(gpd.GeoSeries(geoms, index=units.index, crs=units.crs), crs=units.crs)
