"""The result of a partition run, in memory or read back from an output folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from .errors import InputError, Problem

__all__ = ["Partition", "read_outputs"]


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
        What :func:`gridgeo.update.update` changed against the previous run
        (written as ``changes.json``); None for a fresh partition.
    edits : dict, optional
        What :func:`gridgeo.edits.apply_edits` applied and every constraint the
        edits break (written as ``edits.json``); None otherwise.
    compounds : GeoDataFrame, optional
        The compounds (小区) of a run given ``compounds``: outline, households,
        grids, whether and why it was split (layer ``compounds``); None otherwise.
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

    def to_files(self, outdir: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``partition.gpkg``, the GeoJSON files and ``report.json`` into ``outdir``.

        The folder is written next to ``outdir`` first and renamed when complete,
        so a failed run leaves nothing behind.  See :func:`gridgeo.export.write_outputs`.
        """
        from .export import write_outputs

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
    return Partition(
        communities=layer("communities"),
        grids=grids,
        buildings=layer("buildings"),
        units=layer("units"),
        unassigned=layer("unassigned"),
        report=json.loads(report.read_text(encoding="utf-8")),
        changes=json.loads((outdir / "changes.json").read_text(encoding="utf-8")) if (outdir / "changes.json").exists() else None,
        edits=json.loads((outdir / "edits.json").read_text(encoding="utf-8")) if (outdir / "edits.json").exists() else None,
        compounds=layer("compounds") if "compounds" in layers else None,
    )
