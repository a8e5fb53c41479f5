"""Writing a finished :class:`~gridgeo.api.Partition` to files.

``OUTDIR`` receives ``partition.gpkg`` (layers ``communities``, ``grids``,
``buildings``, ``units``, and ``unassigned``, ``compounds`` and
``service_centres`` when the run has them; the input CRS),
``grids.geojson``, ``buildings.geojson``, ``units.geojson`` (RFC 7946,
EPSG:4326) and ``report.json``.

Written for the GIS software in use, old versions included: the GeoPackage is
version 1.2 (GDAL 3.6 and QGIS 3.22 open it without a warning and GDAL's
``validate_gpkg.py`` passes); each layer holds one geometry type in both
formats (a layer mixing Polygon and MultiPolygon is written as MultiPolygon, as
GDAL does, and ``units`` always are); GeoJSON coordinates have at most 7
decimals and property numbers at most 6, with no binary float tails
(``121.4920057``, never ``121.49200570000001``).  The GeoPackage also holds
layer descriptions, Chinese field aliases, unique indexes on the codes and
QGIS's default style of every layer, and ``gridgeo.qgz`` is a QGIS project of
every layer with relative paths (:mod:`gridgeo.outputs.geopackage`).

A run given a household register also receives the tables ``households`` (and
``unassigned_households`` when there are any) in ``partition.gpkg`` and as
``households.csv`` / ``unassigned_households.csv``; they hold ids and order
columns only, never a register's personal columns (:mod:`gridgeo.inputs.register`).

Everything is written into a temporary folder beside ``OUTDIR`` and renamed
into place at the end: a failed run leaves no ``OUTDIR`` and no partial files,
and an existing ``OUTDIR`` is replaced only with ``overwrite=True`` and only
when it is empty or an earlier gridgeo output (it holds ``report.json`` or ``partition.gpkg``).  A folder that cannot be
written (no permission, disk full) raises :class:`~gridgeo.errors.OutputError`.
This module never runs an algorithm.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .. import timings
from ..errors import GridgeoError, OutputError, OutputExistsError, Problem
from ..memory import release_memory
from .files import csv_bytes, csvt_text
from .geojson import feature_bytes, lonlat_pieces
from .geopackage import describe_geopackage, write_qgis_project
from .gpkg_arrow import write_arrow_layer
from .once import computed_once, once
from .side_by_side import run_side_by_side
from .styles import plan_colours

__all__ = ["write_outputs", "write_geojson", "uniform_geometry", "to_json_safe", "report_json", "check_output_folder", "GPKG_VERSION"]

logger = logging.getLogger(__name__)

GEOJSON_LAYERS = ("grids", "buildings", "units")
_FIXED_DATE = "2000-01-01T00:00:00.000Z"
#: files that mark a folder as an earlier gridgeo output, which ``overwrite`` may replace
OUTPUT_MARKERS = ("report.json", "partition.gpkg")
#: every file and folder a command writes into an output folder: --overwrite replaces a folder holding only these
OUTPUT_NAMES = frozenset(
    {
        "report.json", "partition.gpkg", "config.toml", "map.html", "report.html", "changes.json", "edits.json",
        "gridgeo.qgz", "grids.geojson", "buildings.geojson", "units.geojson", "grids.rtree.dat", "grids.rtree.idx",
        "roster.csv", "roster.csvt", "roster.xlsx", "units.csv", "units.csvt", "household_roster.csv",
        "household_roster.csvt", "shp", "print",
    }
)  # fmt: skip
#: GeoPackage version written: 1.2 is read without warnings by GDAL >= 2.2 and QGIS 3.x (GDAL's default, 1.4, is not by GDAL < 3.7)
GPKG_VERSION = "1.2"
#: GeoJSON features turned into text and written at a time
_GEOJSON_BLOCK = 50_000
#: layers written as multi-geometries throughout (a unit of one building is a Polygon in memory, of several a MultiPolygon)
ALWAYS_MULTI = ("units",)


def check_output_folder(outdir: str | Path, overwrite: bool, *, overwrite_hint: str = "overwrite=True") -> None:
    """Raise :class:`OutputExistsError` unless ``outdir`` may be (re)written.

    A missing folder is fine; an existing one needs ``overwrite`` and must be a
    folder that is empty or an earlier gridgeo output, so a mistyped ``-o`` never
    deletes unrelated files.  A folder that ``overwrite`` would not replace is
    refused as such at once, so the advice of a refusal always works.

    Parameters
    ----------
    outdir : str or Path
        The output folder.
    overwrite : bool
        Whether an earlier gridgeo output (or an empty folder) may be replaced.
    overwrite_hint : str, default "overwrite=True"
        How the caller asks for ``overwrite`` in the advice (the command line passes ``--overwrite``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_output_folder(folder / "new", overwrite=False)
    >>> (folder / "notes.txt").write_text("mine")
    4
    >>> try:
    ...     check_output_folder(folder, overwrite=True)
    ... except OutputExistsError as error:
    ...     print("not a gridgeo output folder" in str(error))
    True
    """
    outdir = Path(outdir)
    if not outdir.exists() and not outdir.is_symlink():
        return
    if not outdir.is_dir():
        raise OutputExistsError(Problem(str(outdir), "exists and is not a folder", "choose a folder name for -o/--output"))
    if any(outdir.iterdir()) and not any((outdir / name).exists() for name in OUTPUT_MARKERS):
        raise OutputExistsError(
            Problem(
                str(outdir),
                f"is not empty and is not a gridgeo output folder (no report.json or partition.gpkg), so {overwrite_hint} will not replace it",
                "choose a new folder, or empty this one yourself",
            )
        )
    if not overwrite:
        raise OutputExistsError(Problem(str(outdir), "exists", f"pass {overwrite_hint} to replace it, or choose another folder"))
    foreign = sorted(entry.name for entry in outdir.iterdir() if entry.name not in OUTPUT_NAMES)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputExistsError(
            Problem(
                str(outdir),
                f"holds {'a file' if len(foreign) == 1 else 'files'} gridgeo did not write ({shown}), which {overwrite_hint} would delete",
                "move them out of the folder, or choose another folder",
            )
        )


def _output_error(exc: BaseException, outdir: Path) -> OutputError | None:
    """A user-facing :class:`OutputError` for a failed write (full disk, no permission), else None."""
    if isinstance(exc, GridgeoError):
        return None
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code is None and not isinstance(exc, OSError):
        # GDAL (through pyogrio) reports its own write failures as text
        for marker, value in (("No space left", errno.ENOSPC), ("Permission denied", errno.EACCES), ("Read-only file system", errno.EROFS)):
            if marker in text:
                code = value
    if not isinstance(exc, OSError) and code is None:
        return None
    where = getattr(exc, "filename", None)
    # name the file being written, not gridgeo's temporary folder
    detail = f" ({Path(where).name})" if where and not Path(where).name.startswith(f".{outdir.name}.") else ""
    if code == errno.ENOSPC or code == getattr(errno, "EDQUOT", None):
        problem = Problem(str(outdir), f"disk full while writing{detail}; nothing was written", "free some space, or write to another disk with -o")
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        problem = Problem(
            str(outdir), f"permission denied: cannot write in {outdir.parent}{detail}; nothing was written", "choose an output folder you can write to (-o), or change its permissions"
        )
    else:
        reason = getattr(exc, "strerror", None) or text
        problem = Problem(str(outdir), f"cannot be written: {reason}{detail}; nothing was written", "check the output folder and the disk")
    return OutputError(str(problem), code)


def write_outputs(
    result,
    outdir: str | Path,
    *,
    overwrite: bool = False,
    extra: dict | None = None,
    writers: tuple = (),
) -> Path:
    """Write ``result`` into ``outdir`` atomically.

    Parameters
    ----------
    result : Partition
    outdir : str or Path
    overwrite : bool
        Replace an existing ``outdir``.
    extra : dict, optional
        More files to write: name → text.
    writers : tuple of callables
        Each is called as ``writer(result, folder)`` with the staging folder, so
        maps, reports, rosters and Shapefiles land atomically with the rest.

    Returns
    -------
    Path
        ``outdir``.

    Raises
    ------
    OutputExistsError
        ``outdir`` exists and ``overwrite`` is false, or it is neither empty nor
        an earlier gridgeo output (see :func:`check_output_folder`).
    OutputError
        The files could not be written (no permission, disk full); nothing is
        left behind and an existing ``outdir`` is kept.
    """
    outdir = Path(outdir)
    check_output_folder(outdir, overwrite)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    staging = None
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", suffix=".tmp", dir=outdir.parent))
        # a fixed GeoPackage timestamp: the same inputs and seed give byte-identical files
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})
        gpkg = staging / "partition.gpkg"
        layers = [
            ("communities", result.communities),
            ("grids", result.grids),
            ("buildings", result.buildings),
            ("units", result.units),
        ]
        if len(result.unassigned):
            layers.append(("unassigned", result.unassigned))
        if getattr(result, "compounds", None) is not None and len(result.compounds):
            layers.append(("compounds", result.compounds))
        if getattr(result, "service_centres", None) is not None and len(result.service_centres):
            layers.append(("service_centres", result.service_centres))

        def geojson(*names):
            def job():
                with timings.stage("GeoJSON"):
                    known = {}  # the footprints of the buildings, written once for their joint units too
                    for name in names:
                        write_geojson(getattr(result, name), staging / f"{name}.geojson", multi=name in ALWAYS_MULTI, known=known)

            return job

        written = []  # the layers as written (gridgeo.outputs.geopackage's styles and project read them)

        def geopackage():
            # through Arrow in one batch where the layer allows it (gridgeo.outputs.gpkg_arrow: the same file,
            # written faster), else feature by feature as GeoDataFrame.to_file does
            with timings.stage("GeoPackage"), _unsynchronised_sqlite():
                for i, (name, frame) in enumerate(layers):
                    options = {"dataset_options": {"VERSION": GPKG_VERSION}} if i == 0 else {}
                    data, promote = _gpkg_layer(frame, multi=name in ALWAYS_MULTI)
                    if not write_arrow_layer(data, gpkg, name, promote=bool(promote), **options):
                        data.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio", **options, **promote)
                    # the styles and the project need the grids whole, of the other layers only their columns,
                    # CRS and geometry kinds: the copy written is let go before the next layer's
                    written.append((name, data if name == "grids" else _layer_shape(data)))
                    del data
                    release_memory(f"GeoPackage layer {name}", collect=False)  # freed by reference counts: no collection
                for name, frame in _household_tables(result):  # tables without geometry
                    pyogrio.write_dataframe(frame, gpkg, layer=name, driver="GPKG")

        def geopackage_styles():
            with timings.stage("GeoPackage"):
                # layer descriptions, Chinese field aliases, unique code indexes and QGIS's default styles
                # the colours of the map (an updated plan keeps its previous ones)
                styles = describe_geopackage(gpkg, written, colours=plan_colours(result))
                write_qgis_project(staging, written, styles)  # gridgeo.qgz: every layer, relative paths, the same styles

        def small_files():
            # report.json, the register's tables, the grid index and the extra files: written by this process
            # once the next writer (the map) is forked, while the writers still work
            (staging / "report.json").write_text(report_json(result.report), encoding="utf-8")
            for name, frame in _household_tables(result):
                (staging / f"{name}.csv").write_bytes(csv_bytes(frame))
                (staging / f"{name}.csvt").write_text(csvt_text(frame) + "\r\n", encoding="utf-8")
            if getattr(result, "changes", None) is not None:
                (staging / "changes.json").write_text(
                    json.dumps(to_json_safe(result.changes), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
                )
            if getattr(result, "edits", None) is not None:
                (staging / "edits.json").write_text(json.dumps(to_json_safe(result.edits), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            from .gridindex import write_grid_index

            write_grid_index(result.grids, staging)  # grids.rtree.idx/.dat: places new buildings in `gridgeo update`
            for name, text in (extra or {}).items():
                (staging / name).write_text(text, encoding="utf-8")

        def here():
            # what the map shares with other files, made once here: the writers forked later inherit it
            report_json(result.report)  # the text of report.json, whose sha256 keys the map's edit mode
            plan_colours(result)  # the grids' colours, which the GeoPackage's styles give QGIS
            geopackage()

        def then():
            # once the map's writer is forked: the GeoPackage's styles and project, and the small files
            geopackage_styles()
            with timings.stage("small files"):
                small_files()

        # the files are independent: on a multi-core machine they are written side by side,
        # and so are the extra outputs (map, report, …), each of which reads only ``result``
        extras = [functools.partial(writer, result, staging) for writer in writers]
        release_memory("before the writers", collect=None)  # a smaller parent when the memory is tight: more writers fit beside it (_forks_that_fit)
        # the grids' colours and report.json's text are computed once, here (gridgeo.outputs.once): the map
        # forked after the GeoPackage inherits them
        with timings.stage("GeoJSON and extras, waited for"), computed_once(result, result.report):
            run_side_by_side([here, geojson("buildings", "units", "grids"), *extras], then=then)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)
        if outdir.exists():
            retired = outdir.with_name(f".{outdir.name}.old")
            if retired.exists():
                shutil.rmtree(retired)
            outdir.rename(retired)
            try:
                staging.rename(outdir)
            except BaseException:
                retired.rename(outdir)  # put the previous output back
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(outdir)
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        error = _output_error(exc, outdir) if isinstance(exc, Exception) else None
        if error is not None:
            raise error from exc
        raise
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    logger.info("wrote %s", outdir)
    return outdir


@contextlib.contextmanager
def _unsynchronised_sqlite():
    """GDAL's SQLite writes without waiting for the disk (``OGR_SQLITE_SYNCHRONOUS=OFF``) inside the block.

    The GeoPackage is written into the staging folder and renamed into place
    at the end, so a crash leaves no file to protect; SQLite's syncs (about a
    hundred for the layers of a run) only make the write wait for the disk.
    The file's bytes are the same.
    """
    previous = pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS")
    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "OFF"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": previous})


def _household_tables(result) -> list[tuple[str, pd.DataFrame]]:
    """The register tables of a run (``households``; ``unassigned_households`` when not empty)."""
    tables = []
    if getattr(result, "households", None) is not None:
        tables.append(("households", result.households))
        unassigned = getattr(result, "unassigned_households", None)
        if unassigned is not None and len(unassigned):
            tables.append(("unassigned_households", unassigned))
    return tables


#: shapely type ids of the single and multi kind of each geometry family (point, line, polygon)
_FAMILIES = ({0, 4}, {1, 5}, {3, 6})


def _gpkg_layer(frame: gpd.GeoDataFrame, *, multi: bool) -> tuple[gpd.GeoDataFrame, dict]:
    """The frame to write as a GeoPackage layer and the write options that give it one geometry type.

    A layer of one family (polygons, say) whose single geometries must become
    multi-geometries (``multi``, or some are multi already) is promoted by GDAL
    as it writes each feature (``promote_to_multi``): the same file as writing
    :func:`uniform_geometry`'s copy, without a second geometry per row in
    memory (2.7 million joint units at city scale).  Any other layer (several
    families, missing or empty geometries) is written from that copy, as before.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> f = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs=3857)
    >>> data, options = _gpkg_layer(f, multi=True)
    >>> data.geom_type.tolist(), options
    (['Polygon'], {'promote_to_multi': True})
    >>> _gpkg_layer(f, multi=False)[1]
    {}
    """
    data = _gpkg_safe(frame)
    if isinstance(data, gpd.GeoDataFrame) and data.geometry.name in data.columns and len(data):
        geoms = data.geometry.to_numpy()
        kinds = set(np.unique(shapely.get_type_id(geoms)).tolist())
        family = next((f for f in _FAMILIES if kinds <= f), None)
        if family is not None and not shapely.is_empty(geoms).any():
            single = min(family)
            if single in kinds and (multi or len(kinds) == 2):
                return data, {"promote_to_multi": True}
            if single not in kinds or not multi:
                return data, {}
    return uniform_geometry(data, multi=multi), {}


def _layer_shape(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The first row of each geometry kind of ``frame`` (all its columns and its CRS): what a layer's style and project entry read.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> f = gpd.GeoDataFrame({"n": [1, 2, 3]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.Point(0, 0)], crs=3857)
    >>> _layer_shape(f)["n"].tolist(), _layer_shape(f).crs.to_epsg()
    ([1, 3], 3857)
    """
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns or not len(frame):
        return frame
    kinds = shapely.get_type_id(frame.geometry.to_numpy())  # -1 for a missing geometry: a kind of its own, as before
    _, first = np.unique(kinds, return_index=True)
    return frame.iloc[np.sort(first)]


def _gpkg_safe(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Object columns holding mixed types become text so GDAL can store them."""
    out = frame.copy(deep=False)  # copy-on-write: the columns replaced below never reach ``frame``
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for column in out.columns:
        if column == geometry:
            continue
        if out[column].dtype == object:
            values = out[column]
            kinds = {type(v) for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))}
            if len(kinds) > 1 or (kinds and not kinds <= {str}):
                out[column] = values.map(lambda v: None if v is None else str(v))
    return out


def uniform_geometry(frame: gpd.GeoDataFrame, *, multi: bool = False) -> gpd.GeoDataFrame:
    """A copy of ``frame`` whose single geometries are multi-geometries where the layer mixes both.

    A Polygon becomes a one-part MultiPolygon (likewise points and lines) when
    the layer also holds MultiPolygons, or always with ``multi=True``: the layer
    then has one geometry type, which GeoJSON readers, PostGIS and QGIS want.
    The coordinates are unchanged; a layer mixing kinds (points and polygons)
    keeps them.  The CRS and index are kept; ``frame`` is not modified.

    Parameters
    ----------
    frame : GeoDataFrame
    multi : bool
        Make every single geometry a multi-geometry, even in a layer without any.

    Returns
    -------
    GeoDataFrame

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> f = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1), shapely.MultiPolygon([shapely.box(2, 0, 3, 1), shapely.box(4, 0, 5, 1)])])
    >>> uniform_geometry(f).geom_type.tolist()
    ['MultiPolygon', 'MultiPolygon']
    >>> uniform_geometry(f.iloc[:1]).geom_type.tolist(), uniform_geometry(f.iloc[:1], multi=True).geom_type.tolist()
    (['Polygon'], ['MultiPolygon'])
    """
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns or not len(frame):
        return frame
    geoms = frame.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    out = None
    for single, several, make in ((0, 4, shapely.multipoints), (1, 5, shapely.multilinestrings), (3, 6, shapely.multipolygons)):
        chosen = kinds == single
        if chosen.any() and (multi or (kinds == several).any()):
            out = geoms.copy() if out is None else out
            out[chosen] = make(geoms[chosen], indices=np.arange(int(chosen.sum())))
    if out is None:
        return frame
    return frame.set_geometry(gpd.GeoSeries(out, index=frame.index, crs=frame.crs), crs=frame.crs)


def write_geojson(frame: gpd.GeoDataFrame, path: str | Path, *, precision: int = 7, multi: bool = False, known: dict | None = None) -> None:
    """Write an RFC 7946 GeoJSON file (EPSG:4326, coordinates rounded to ``precision`` decimals).

    Written column-wise (:mod:`gridgeo.outputs.geojson`: each distinct geometry
    once, the numbers of all vertices at once, the properties by pandas' C
    encoder): many times faster than GDAL's GeoJSON driver on large layers, with
    the same content.
    Numbers are written in their shortest form: coordinates with at most
    ``precision`` decimals, property values with at most 6.  The layer holds one
    geometry type (see :func:`uniform_geometry`; ``multi=True`` makes every
    geometry a multi-geometry).  ``known`` (a dict) carries the geometry texts
    from one call to the next, so a geometry of an earlier layer is not
    written again (the footprints of joint units of one building).

    Examples
    --------
    >>> import json, tempfile, geopandas as gpd, shapely
    >>> f = gpd.GeoDataFrame({"name": ["<a>"], "n": [3], "area_m2": [17760.814493000001]}, geometry=[shapely.Point(121.49200570000001, 25.05)], crs=4326)
    >>> p = tempfile.mkdtemp() + "/x.geojson"
    >>> write_geojson(f, p)
    >>> print(open(p, encoding="utf-8").read(), end="")
    {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"<a>","n":3,"area_m2":17760.814493},"geometry":{"type":"Point","coordinates":[121.4920057,25.05]}}]}
    """
    # each distinct geometry reprojected and written once, single geometries made multi as uniform_geometry
    # does, every number by array arithmetic, the features joined as bytes (gridgeo.outputs.geojson)
    kinds, bodies = lonlat_pieces(frame.geometry.to_numpy(), frame.crs, precision, multi=multi, known=known)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    table = _gpkg_safe(frame[columns]) if columns else None
    with open(path, "wb") as handle:
        handle.write(b'{"type":"FeatureCollection","features":[')
        # a block of features at a time: the file's text is never whole in memory (gigabytes at city scale)
        for start in range(0, len(bodies), _GEOJSON_BLOCK):
            stop = min(start + _GEOJSON_BLOCK, len(bodies))
            properties = _json_properties(None if table is None else table.iloc[start:stop], stop - start)
            handle.write(feature_bytes(properties, kinds[start:stop], bodies[start:stop], first=start == 0))
        handle.write(b"]}" + os.linesep.encode("ascii"))  # the line break a text file gets on this platform, as before


def _json_properties(frame: pd.DataFrame | None, n: int) -> list[bytes]:
    """Each row as a JSON object (UTF-8 bytes), written by pandas' C encoder in one pass.

    Floats are rounded to 6 decimals, missing values become ``null``, text stays
    UTF-8 (not ``\\u`` escapes) and dates are ISO 8601.
    """
    if frame is None or len(frame.columns) == 0 or n == 0:
        return [b"{}"] * n
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column].dtype):
            values = frame[column].to_numpy(dtype=float, na_value=np.nan)
            frame[column] = np.where(np.isfinite(values), np.round(values, 6), np.nan)
    # the values are rounded to 6 decimals already: written with 6 at most, never a binary tail
    options = {"force_ascii": False, "date_format": "iso", "double_precision": 6}
    text = frame.to_json(orient="records", **options).encode("utf-8")
    # '[{…},{…}]' in half the time of pandas' lines=True, the same records: every '},{"' between two records is a
    # cut, and any other is inside a text ending in '},{' (where one piece too many shows it): then as pandas cuts it
    lines = text[1:-1].replace(b'},{"', b'}\n{"').split(b"\n")
    if len(lines) != n:
        # JSON text never holds a raw newline inside a value, so pandas' records split cleanly
        lines = frame.to_json(orient="records", lines=True, **options).encode("utf-8").rstrip(b"\n").split(b"\n")
    if len(lines) != n:
        raise ValueError(f"property encoding produced {len(lines)} records for {n} features")
    return lines


def report_json(report: dict) -> str:
    """The text of ``report.json``: :func:`to_json_safe`, UTF-8 characters, an indent of 2, a final line break.

    Computed once while a plan is written (:mod:`gridgeo.outputs.once`): the
    file and the map's run key (its sha256) share it.

    Examples
    --------
    >>> print(report_json({"grids": 2, "share": 0.12345678, "name": "网格"}), end="")
    {
      "grids": 2,
      "share": 0.123457,
      "name": "网格"
    }
    """
    return once(_report_text, report)


def _report_text(report: dict) -> str:
    return json.dumps(to_json_safe(report), ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def to_json_safe(value):
    """Convert numpy and pandas scalars (and NaN) to plain JSON values."""
    if isinstance(value, dict):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if np.isnan(v) or np.isinf(v) else round(v, 6)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value
