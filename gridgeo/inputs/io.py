"""Reading input layers: Shapefile, GeoJSON, GeoPackage, GeoParquet (and zipped Shapefiles), and tables of points.

Readers return a GeoDataFrame exactly as stored (no repair, no reprojection);
:mod:`gridgeo.inputs.validate` checks and prepares it.  Shapefile text is decoded with
the encoding in the ``.cpg`` file when there is one, or with ``encoding`` when
the caller names it (GBK/GB18030 DBFs are common in Chinese GIS data).  A DBF
with neither (and no code page in its header) is read as UTF-8 when its text
is valid UTF-8 (with a warning); otherwise it is an error naming the rows,
never silently mis-decoded text.

A table (CSV or Excel workbook) has no geometry: :func:`read_layer` refuses it
with a message naming the file and the fix, never a half-read frame.  A table
of building points is read by :func:`read_point_table` from its X and Y columns
(or a column of WKT text) in a CRS the caller names (EPSG:4326 by default).
"""

from __future__ import annotations

import difflib
import logging
import posixpath
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
import shapely.errors

from ..errors import CRSError, InputError, Problem, describe_rows
from .crs import check_coordinates_fit_crs
from .names import names_an_id

__all__ = ["read_layer", "layer_label", "read_point_table", "is_table", "TABLE_SUFFIXES"]

logger = logging.getLogger(__name__)

_PARQUET = {".parquet", ".geoparquet"}
_OGR = {".shp", ".geojson", ".json", ".gpkg", ".zip", ".fgb", ".gml", ".kml"}
#: tables without geometry: CSV (UTF-8, or --encoding) and Excel workbooks
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
_EXCEL = {".xlsx", ".xlsm"}
_NOT_A_LAYER_FIX = (
    "save it as a GeoPackage, Shapefile or GeoJSON of polygons (in QGIS: Layer > Save As); "
    "only BUILDINGS may be a table, of points, with --x COL --y COL (or --wkt COL) and --crs"
)
#: column names that usually hold coordinates, to suggest in messages
_X_NAMES = ("x", "lon", "lng", "long", "longitude", "经度", "x坐标", "easting")
_Y_NAMES = ("y", "lat", "latitude", "纬度", "y坐标", "northing")
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")


def layer_label(path: str | Path, layer: str | None = None, *, full: bool = False) -> str:
    """A label for messages: ``buildings.shp``, ``data.gpkg:buildings`` or a PostgreSQL URL (without password).

    With ``full`` the file is named as given (``in/2027/buildings.gpkg:buildings``), so a user with several
    folders of the same file names knows which one a message is about: errors and warnings about an input use
    it; the notes of a fresh partition's report name the file alone.

    Examples
    --------
    >>> layer_label("in/2027/buildings.gpkg", "buildings"), layer_label("in/2027/buildings.gpkg", "buildings", full=True)
    ('buildings.gpkg:buildings', 'in/2027/buildings.gpkg:buildings')
    """
    if isinstance(path, str) and path.lower().startswith(("postgresql://", "postgres://")):
        from ..outputs.postgis import postgres_label

        return postgres_label(path)
    name = str(path) if full else Path(path).name
    return f"{name}:{layer}" if layer else name


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    kind: str | None = None,
    full_label: bool = False,
) -> gpd.GeoDataFrame:
    """Read one vector layer.

    Parameters
    ----------
    path : str or Path
        A ``.shp``, ``.geojson``/``.json``, ``.gpkg``, ``.parquet``/``.geoparquet`` or
        ``.zip`` (a zipped Shapefile) file, or a PostGIS table
        ``postgresql://USER@HOST:PORT/DB#SCHEMA.TABLE`` (:func:`gridgeo.outputs.postgis.read_postgis`).
    layer : str, optional
        Layer name in a multi-layer file (GeoPackage).  When omitted, a file
        with one layer is read; a file with several layers is an error that
        lists them.
    encoding : str, optional
        Text encoding of a Shapefile's DBF (``gbk``, ``gb18030``, ``utf-8``);
        overrides the ``.cpg`` file.
    full_label : bool
        Name the file in messages as given (:func:`layer_label`), not by its
        name alone (``gridgeo update``).
    bbox : (minx, miny, maxx, maxy), optional
        Read only the features whose extent meets this box, given in the
        layer's own CRS: the spatial index does the filtering, so a worker
        reads its communities' buildings without loading a whole province.
    kind : str, optional
        What the layer holds (``communities``, ``buildings``, ``roads``): when the file has several layers and none
        is named, the error's example is the layer whose name is closest to it.

    Returns
    -------
    GeoDataFrame
        The layer as stored, with its CRS (``None`` when the file has none).

    Raises
    ------
    InputError
        The file is missing, unreadable, or the layer cannot be chosen.

    Examples
    --------
    >>> from pathlib import Path
    >>> frame = read_layer(Path("sample_shapefiles/communities.shp"))  # doctest: +SKIP
    """
    if isinstance(path, str) and path.lower().startswith(("postgresql://", "postgres://")):
        from ..outputs.postgis import read_postgis

        return read_postgis(path, bbox=bbox)
    path = Path(path)
    label = layer_label(path, layer, full=full_label)
    if not path.exists():
        raise InputError(Problem(str(path), "file not found", "check the path"))
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        raise InputError(Problem(label, "is a table (CSV or spreadsheet) without geometry, where a map layer is needed", _NOT_A_LAYER_FIX))
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(Problem(label, "is empty (0 bytes)", "export the layer again; the file was not written completely"))
    if suffix == ".shp":
        for part, what in ((".shx", "index"), (".dbf", "attribute table")):
            if _sibling(path, part) is None:
                raise InputError(
                    Problem(label, f"its {what} {path.stem}{part} is missing", f"copy {path.stem}{part} next to {path.name} (a Shapefile is .shp, .shx, .dbf and .prj), or send a zip or GeoPackage")
                )
    try:
        if suffix in _PARQUET:
            return gpd.read_parquet(path, bbox=tuple(bbox) if bbox is not None else None)
        source = _zip_source(path, label) if suffix == ".zip" else str(path)
        if encoding is not None and not _holds_dbf(path, suffix):
            # GeoPackage, GeoJSON, FlatGeobuf … store UTF-8 by definition: the option is for the Shapefiles and CSVs given with them
            logger.debug("%s: stores UTF-8 text; --encoding %s applies to Shapefiles and CSV files only", label, encoding)
            encoding = None
        if encoding is None and suffix in {".shp", ".zip"}:
            encoding = _guess_dbf_encoding(path, label)
        if layer is None and suffix in {".gpkg", ".zip"}:
            layers = pyogrio.list_layers(source)
            if len(layers) > 1:
                names = [str(name) for name in layers[:, 0]]
                example = _closest_layer(kind, names)
                raise InputError(
                    Problem(
                        label,
                        f"has {len(layers)} layers ({', '.join(names)})",
                        f"name the layer, e.g. {layer_label(path, example, full=full_label)} on the command line (layer={example!r} in Python)",
                    )
                )
        kwargs = {}
        if encoding:
            kwargs["encoding"] = encoding
        if bbox is not None:
            kwargs["bbox"] = tuple(float(v) for v in bbox)
        # Arrow reads columns in bulk: 2-3x faster on large layers, with the same dtypes
        with warnings.catch_warnings(record=True) as gdal_warnings:
            warnings.simplefilter("always", RuntimeWarning)
            try:
                frame = gpd.read_file(source, layer=layer, engine="pyogrio", use_arrow=True, **kwargs)
            except shapely.errors.GEOSException as exc:
                frame = _read_malformed(source, layer, label, exc, kwargs)
            finally:
                for message in dict.fromkeys(str(w.message) for w in gdal_warnings):
                    logger.warning("%s: GDAL: %s", label, message)
        if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
            # an attribute table (a GeoPackage table without geometry, a lone .dbf): no place to partition
            raise InputError(Problem(label, "has no geometry (an attribute table), where a map layer is needed", _NOT_A_LAYER_FIX))
        return frame
    except InputError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        missing = _missing_layer(path, layer, full=full_label)
        if missing is not None:
            raise InputError(missing) from exc
        raise InputError(
            Problem(label, f"cannot be read as a vector layer ({_gdal_reason(exc)})", "check the file format and layer name")
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            Problem(label, f"text is not in the expected encoding ({exc.reason})", "pass --encoding gbk (or gb18030)")
        ) from exc


def _read_malformed(source: str, layer: str | None, label: str, exc: Exception, kwargs: dict) -> gpd.GeoDataFrame:
    """Read a layer holding geometries malformed as stored (a ring of fewer than 3 points, unclosed).

    Shapely repairs what it can while reading; the rest become rows without
    geometry, which the input checks list and keep in the unassigned layer.
    """
    frame = gpd.read_file(source, layer=layer, engine="pyogrio", use_arrow=True, on_invalid="fix", **kwargs)
    missing = np.flatnonzero(frame.geometry.isna().to_numpy())
    logger.warning(
        "%s: some geometries are malformed as stored (%s); they were repaired while reading where possible, and %d rows are left without geometry%s",
        label,
        exc,
        len(missing),
        f" ({describe_rows(missing + 1)})" if len(missing) else "",
    )
    return frame


def _closest_layer(kind: str | None, names: list[str]) -> str:
    """The layer of ``names`` that most likely holds ``kind`` (its name contains it, or is closest to it), else the first.

    Examples
    --------
    >>> _closest_layer("buildings", ["communities", "building_footprints"]), _closest_layer(None, ["a", "b"])
    ('building_footprints', 'a')
    """
    if kind:
        stem = kind.lower().rstrip("s")
        for name in names:
            if stem in name.lower():
                return name
        lowered = {name.lower(): name for name in names}
        close = difflib.get_close_matches(kind.lower(), list(lowered), n=1, cutoff=0.4)
        if close:
            return lowered[close[0]]
    return names[0]


def _missing_layer(path: Path, layer: str | None, *, full: bool = False) -> Problem | None:
    """The problem of a layer name that the file does not hold (a typo in FILE.gpkg:LAYER), naming the layers it has.

    None when no layer was named, the file's layers cannot be listed, or the layer exists (the error is another one).
    """
    if not layer:
        return None
    try:
        names = [str(name) for name in pyogrio.list_layers(_zip_source(path, path.name) if path.suffix.lower() == ".zip" else str(path))[:, 0]]
    except (InputError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError):
        return None
    if layer in names or not names:
        return None
    close = difflib.get_close_matches(layer, names, n=1)
    example = close[0] if close else names[0]
    return Problem(
        layer_label(path, layer, full=full),
        f"has no layer {layer!r}; its layers: {', '.join(names)}",
        f"name one of them, e.g. {layer_label(path, example, full=full)}",
    )


def _gdal_reason(exc: Exception) -> str:
    """GDAL's message in a few plain words where it is a known one, else as given."""
    text = str(exc)
    if "not recognized as being in a supported file format" in text or "not recognized as a supported" in text:
        return "not a format GDAL recognises, or a damaged file"
    if "file is not a database" in text:
        return "not a valid GeoPackage: the SQLite database is damaged"
    return text


def _sibling(path: Path, suffix: str) -> Path | None:
    """The file next to ``path`` with ``suffix`` (either case), or None."""
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


def _holds_dbf(path: Path, suffix: str) -> bool:
    """Whether the layer's text is a DBF attribute table, in whatever encoding it was saved (a Shapefile, or a zip of one)."""
    if suffix in {".shp", ".dbf"}:
        return True
    if suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            return any(name.lower().endswith(".dbf") for name in archive.namelist())
    return False


def _zip_source(path: Path, label: str) -> str:
    """The GDAL path of a zipped Shapefile: the archive, or the one folder inside it holding Shapefiles."""
    if not zipfile.is_zipfile(path):
        raise InputError(Problem(label, "is not a zip archive (or is damaged)", "zip the Shapefile's files (.shp, .shx, .dbf, .prj, .cpg) again"))
    with zipfile.ZipFile(path) as archive:
        folders = sorted({posixpath.dirname(name) for name in archive.namelist() if name.lower().endswith(".shp") and "__MACOSX" not in name})
    if len(folders) > 1:
        raise InputError(Problem(label, f"holds Shapefiles in {len(folders)} folders ({', '.join(f or '.' for f in folders)})", "zip one folder of Shapefiles, or unzip it and give the .shp"))
    if folders and folders[0]:
        return f"/vsizip/{path}/{folders[0]}"
    return f"/vsizip/{path}"


def _guess_dbf_encoding(path: Path, label: str) -> str | None:
    """The encoding to read a Shapefile's DBF with when no ``.cpg`` names it.

    None when GDAL's own choice is safe: a ``.cpg`` exists, the DBF header names its
    code page, or all text is ASCII.  ``"utf-8"`` when the text is valid UTF-8 (a
    warning says so).  Text in another encoding (GBK, Big5, Latin-1, …) cannot be
    told apart reliably: an :class:`InputError` names the rows and asks for
    ``--encoding``.
    """
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            dbfs = [n for n in names if n.lower().endswith(".dbf") and "__MACOSX" not in n]
            if len(dbfs) != 1 or any(n.lower() == dbfs[0][:-4].lower() + ".cpg" for n in names):
                return None
            data = archive.read(dbfs[0])
        name, cpg = posixpath.basename(dbfs[0]), posixpath.basename(dbfs[0])[:-4] + ".cpg"
    else:
        dbf = _sibling(path, ".dbf")
        if dbf is None or _sibling(path, ".cpg") is not None:
            return None
        data = dbf.read_bytes()
        name, cpg = dbf.name, f"{path.stem}.cpg"
    found = _undecodable_text(data)
    if found is None:
        return None
    rows, names_ok = found
    if not rows and names_ok:
        logger.warning("%s: no .cpg file; its text is valid UTF-8 and was read as UTF-8 (pass --encoding to choose another)", label)
        return "utf-8"
    where = describe_rows(rows) if rows else "column names"
    raise InputError(
        Problem(
            label,
            f"{where}: text in {name} is not UTF-8 and there is no {cpg} naming its encoding",
            "pass --encoding gbk (or gb18030, big5, cp1252: the encoding it was saved in), or add a .cpg file holding that name",
        )
    )


def _undecodable_text(data: bytes) -> tuple[list[int], bool] | None:
    """1-based DBF rows whose text is not UTF-8, and whether the column names are.

    None when GDAL decodes the file itself (a code page in the header) or all text is ASCII.
    """
    if len(data) < 32 or data[29] != 0:  # byte 29: the language driver (code page); GDAL honours a non-zero one
        return None
    count = int.from_bytes(data[4:8], "little")
    header = int.from_bytes(data[8:10], "little")
    width = int.from_bytes(data[10:12], "little")
    if width == 0 or header < 33 or len(data) < header:
        return None
    names = b""
    text_fields = []  # (offset in the record, length) of character fields
    offset = 1  # after the deletion flag
    for start in range(32, header - 1, 32):
        descriptor = data[start : start + 32]
        if len(descriptor) < 32 or descriptor[0] == 0x0D:
            break
        names += descriptor[:11].rstrip(b"\x00")
        length = descriptor[16]
        if descriptor[11:12] in (b"C", b"c") and offset + length <= width:
            text_fields.append((offset, length))
        offset += length
    count = min(count, (len(data) - header) // width)
    records = np.frombuffer(data, dtype=np.uint8, count=count * width, offset=header).reshape(count, width)
    columns = [records[:, a : a + n] for a, n in text_fields]
    high = np.hstack(columns) >= 0x80 if columns else np.zeros((count, 0), dtype=bool)
    if not high.any() and max(names, default=0) < 0x80:
        return None
    bad = []
    for row in np.flatnonzero(high.any(axis=1)):
        try:
            for column in columns:
                column[row].tobytes().decode("utf-8")
        except UnicodeDecodeError:
            bad.append(int(row) + 1)
    try:
        names.decode("utf-8")
        names_ok = True
    except UnicodeDecodeError:
        names_ok = False
    return bad, names_ok


def split_layer_spec(spec: str) -> tuple[str, str | None]:
    """Split ``file.gpkg:layer`` into path and layer (a Windows drive letter is not a layer).

    Examples
    --------
    >>> split_layer_spec("data.gpkg:buildings")
    ('data.gpkg', 'buildings')
    >>> split_layer_spec("C:/data/b.shp")
    ('C:/data/b.shp', None)
    """
    head, sep, tail = spec.rpartition(":")
    if sep and head and not Path(spec).exists() and len(head) > 1 and "/" not in tail and "\\" not in tail:
        return head, tail
    return spec, None


def is_table(path: str | Path) -> bool:
    """Whether ``path`` names a table without geometry (CSV or Excel), by its suffix.

    Examples
    --------
    >>> is_table("buildings.csv"), is_table("楼栋.XLSX"), is_table("buildings.gpkg")
    (True, True, False)
    """
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def read_point_table(
    path: str | Path,
    *,
    x: str | None = None,
    y: str | None = None,
    wkt: str | None = None,
    crs: str | int | pyproj.CRS | None = "EPSG:4326",
    sheet: str | None = None,
    encoding: str | None = None,
    full_label: bool = False,
) -> gpd.GeoDataFrame:
    """Read a table (CSV or Excel) of buildings as points, from X and Y columns or a WKT column.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (UTF-8 with or without a byte-order mark, or ``encoding``;
        ``.tsv``/``.txt`` tab- or comma-separated) or ``.xlsx`` file with a header row.
    x, y : str, optional
        The columns holding the X (longitude, easting) and Y (latitude,
        northing) coordinates.  Give both, or ``wkt``.
    wkt : str, optional
        A column of WKT text (``POINT (121.5 25.05)``; a footprint polygon works too).
        The column becomes the geometry and is not kept as an attribute.
    crs : str, int or pyproj.CRS
        The coordinates' CRS (default EPSG:4326, longitude and latitude).
    sheet : str, optional
        The worksheet of a workbook with several (``FILE.xlsx:SHEET`` on the command line).
    encoding : str, optional
        Text encoding of a CSV (``gbk``, ``gb18030``); default UTF-8.
    full_label : bool
        Name the file in messages as given, not by its name alone (``gridgeo update``).

    Returns
    -------
    GeoDataFrame
        Every row, in file order, with its columns (the X and Y columns kept)
        and the points in ``crs``.  A column whose every value is a number
        (without a leading zero, which marks a code such as ``007``) is read
        as numbers; the others stay text.  A row with empty coordinates has no
        geometry (it is later kept in ``unassigned``, as a feature without
        geometry is).  Rows in messages are counted from 1, the header row not
        counted, as for every layer.

    Raises
    ------
    InputError
        The file is missing, empty or unreadable; the coordinate columns are
        not given (the message suggests the columns that look like
        coordinates) or not in the table; a coordinate or WKT value cannot be
        read (naming the rows); the CRS is unknown.  A :class:`~gridgeo.errors.CRSError`
        when the coordinates do not fit a geographic ``crs`` (projected numbers
        read as longitudes and latitudes, or latitude and longitude swapped):
        the fix names the options to give (``--crs``, or ``--x``/``--y`` swapped).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "buildings.csv"
    >>> _ = p.write_text("编号,lon,lat,户数\\n007,121.5011,25.0532,24\\n008,121.5020,25.0540,12\\n", encoding="utf-8")
    >>> frame = read_point_table(p, x="lon", y="lat")
    >>> frame["编号"].tolist(), frame["户数"].tolist(), frame.crs.to_epsg(), frame.geometry[0].wkt
    (['007', '008'], [24, 12], 4326, 'POINT (121.5011 25.0532)')
    """
    path = Path(path)
    label = layer_label(path, sheet, full=full_label)
    if not path.exists():
        raise InputError(Problem(str(path), "file not found", "check the path"))
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(Problem(label, "is empty (0 bytes)", "export the table again; the file was not written completely"))
    table = _read_table(path, label, sheet=sheet, encoding=encoding)
    columns = [str(c) for c in table.columns]
    table.columns = columns
    if wkt is not None and (x is not None or y is not None):
        raise InputError(Problem(label, "both --wkt and --x/--y name its coordinates", "give either --x COL --y COL or --wkt COL"))
    if wkt is None and (x is None or y is None):
        if x is not None or y is not None:
            raise InputError(Problem(label, f"only --{'x' if x is not None else 'y'} names a coordinate column", "give both --x COL and --y COL"))
        raise InputError(Problem(label, "is a table: its coordinate columns must be named", _coordinate_fix(columns)))
    named = {"wkt": wkt} if wkt is not None else {"x": x, "y": y}
    missing = [c for c in named.values() if c not in columns]
    if missing:
        fix = "name the coordinate columns exactly as in the header row"
        by_case = {c.lower(): c for c in columns}
        if all(c.lower() in by_case for c in missing):  # another letter case: say the options as they should be
            fix += ": " + " ".join(f"--{option} {by_case.get(c.lower(), c) if c not in columns else c}" for option, c in named.items())
        raise InputError(Problem(label, f"has no column {', '.join(repr(c) for c in missing)} (columns: {', '.join(columns)})", fix))
    try:
        target = pyproj.CRS.from_user_input(crs if crs is not None else "EPSG:4326")
    except pyproj.exceptions.CRSError:
        raise InputError(Problem("--crs", f"unknown coordinate reference system {crs!r}", "give an EPSG code such as EPSG:4326 (longitude, latitude) or EPSG:4547")) from None
    empty = np.zeros(len(table), dtype=bool)
    if wkt is not None:
        texts = table[wkt].map(lambda v: "" if _blank(v) else str(v).strip())
        empty = (texts == "").to_numpy()
        geoms = np.full(len(table), None, dtype=object)
        parsed = shapely.from_wkt(texts[~empty].to_numpy(dtype=object), on_invalid="ignore")
        geoms[~empty] = parsed
        bad = np.flatnonzero(~empty)[shapely.is_missing(parsed)]
        if len(bad):
            shown = str(texts.iloc[bad[0]])[:40]
            raise InputError(Problem(label, f"{describe_rows(bad + 1)}: column '{wkt}' is not WKT ('{shown}')", "write geometries as WKT, e.g. POINT (121.5 25.05)"))
        attributes = table.drop(columns=[wkt])
    else:
        values = {}
        for column in (x, y):
            raw = table[column]
            blank = raw.map(_blank).to_numpy(dtype=bool)
            numbers = pd.to_numeric(raw.where(~blank, None), errors="coerce").to_numpy(dtype=float)
            bad = np.flatnonzero(~blank & ~np.isfinite(numbers))
            if len(bad):
                raise InputError(
                    Problem(label, f"{describe_rows(bad + 1)}: coordinate '{column}' is not a number ('{raw.iloc[bad[0]]}')", "write coordinates as decimal numbers (121.5011, not 121°30'04\")")
                )
            values[column] = numbers
            empty |= blank
        geoms = np.full(len(table), None, dtype=object)
        geoms[~empty] = shapely.points(values[x][~empty], values[y][~empty])
        attributes = table
    frame = gpd.GeoDataFrame(attributes.reset_index(drop=True), geometry=gpd.GeoSeries(geoms, crs=target), crs=target)
    issue = check_coordinates_fit_crs(frame, label)
    if issue is not None:  # the table has no .prj to blame: the fix is an option
        raise CRSError(Problem(label, issue.message, _table_crs_fix(issue, x, y, crs)))
    lonlat = _lonlat_in_projected_crs(frame, target, crs, label)
    if lonlat is not None:
        raise CRSError(lonlat)
    if empty.any():
        logger.warning("%s: no coordinates in %s; kept without geometry", label, describe_rows(np.flatnonzero(empty) + 1))
    return frame


def _lonlat_in_projected_crs(frame: gpd.GeoDataFrame, target: pyproj.CRS, crs, label: str) -> Problem | None:
    """The problem of longitudes and latitudes read in a projected ``--crs`` (a copied example's ``--crs EPSG:4547``), else None.

    Said only when every coordinate is a possible longitude and latitude and, read in ``target``, every point lies
    outside the CRS's area of use: projected numbers that small are metres from the false origin, far from it.
    """
    area = target.area_of_use
    if not target.is_projected or area is None or frame.empty or frame.geometry.isna().all():
        return None
    minx, miny, maxx, maxy = frame.total_bounds
    if not (np.all(np.isfinite([minx, miny, maxx, maxy])) and -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90):
        return None
    try:
        lon, lat = pyproj.Transformer.from_crs(target, 4326, always_xy=True).transform([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
    except pyproj.exceptions.ProjError:
        return None
    west, south, east, north = area.bounds
    inside = [west - 1 <= a <= east + 1 and south - 1 <= b <= north + 1 for a, b in zip(lon, lat) if np.isfinite(a) and np.isfinite(b)]
    if any(inside):
        return None
    return Problem(
        label,
        f"coordinates ({minx:.4f}, {miny:.4f}) – ({maxx:.4f}, {maxy:.4f}) look like longitudes and latitudes, yet --crs {crs} "
        f"({target.name}) is projected: read in it, they lie far outside its area ({area.name.rstrip('.')})",
        "leave out --crs (the default EPSG:4326 reads longitudes and latitudes), or give the CRS the coordinates are in",
    )


def _table_crs_fix(issue: Problem, x: str | None, y: str | None, crs) -> str:
    """The fix for coordinates of a table that do not fit its (geographic) ``--crs``: the options to give, not a .prj.

    Examples
    --------
    >>> _table_crs_fix(Problem("b.csv", "… look like latitude, longitude (swapped) …"), "lat", "lon", None)
    'swap the coordinate columns: --x lon --y lat (X is the longitude)'
    >>> _table_crs_fix(Problem("b.csv", "… are not longitudes and latitudes …"), "E", "N", None)[:60]
    'pass --crs with the CRS of the coordinates, e.g. --crs EPSG:'
    """
    if "swapped" in issue.message:
        if x is not None and y is not None:
            return f"swap the coordinate columns: --x {y} --y {x} (X is the longitude)"
        return "write the WKT with the longitude first (POINT (121.5 25.05))"
    given = "the default --crs EPSG:4326" if crs is None or str(crs).upper() == "EPSG:4326" else f"--crs {crs}"
    return (
        "pass --crs with the CRS of the coordinates, e.g. --crs EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E) "
        f"or --crs EPSG:3826 (TWD97 / TM2 zone 121); {given} reads them as longitudes and latitudes"
    )


def _blank(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) or (isinstance(value, str) and not value.strip())


def _coordinate_fix(columns: list[str]) -> str:
    """The fix for a table whose coordinate columns are not named, suggesting likely ones."""
    lower = {c.strip().lower(): c for c in columns}
    xs = [lower[n] for n in _X_NAMES if n in lower]
    ys = [lower[n] for n in _Y_NAMES if n in lower]
    wkts = [lower[n] for n in _WKT_NAMES if n in lower]
    if xs and ys:
        hint = f"pass --x {xs[0]} --y {ys[0]}"
    elif wkts:
        hint = f"pass --wkt {wkts[0]}"
    else:
        hint = "pass --x COL --y COL (or --wkt COL)"
    return f"{hint}, and --crs when the coordinates are not longitude and latitude (EPSG:4326); columns: {', '.join(columns)}"


def _read_table(path: Path, label: str, *, sheet: str | None, encoding: str | None) -> pd.DataFrame:
    """The table as text cells, columns of plain numbers converted to numbers."""
    if path.suffix.lower() in _EXCEL:
        try:
            with pd.ExcelFile(path, engine="openpyxl") as book:
                sheets = [str(name) for name in book.sheet_names]
                if sheet is None and len(sheets) > 1:
                    raise InputError(Problem(label, f"has {len(sheets)} sheets ({', '.join(sheets)})", "name the sheet, e.g. FILE.xlsx:SHEET"))
                if sheet is not None and sheet not in sheets:
                    raise InputError(Problem(label, f"has no sheet '{sheet}' (sheets: {', '.join(sheets)})", "name one of its sheets"))
                table = pd.read_excel(book, sheet_name=sheet if sheet is not None else 0, dtype=object)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - openpyxl and zipfile raise many kinds for a damaged workbook
            raise InputError(Problem(label, f"cannot be read as an Excel workbook ({type(exc).__name__}: {exc})", "save it again as .xlsx, or as UTF-8 CSV")) from exc
        table = table.map(lambda v: v.strip() if isinstance(v, str) else v)
    else:
        separator = "\t" if path.suffix.lower() in {".tsv", ".txt"} and b"\t" in path.read_bytes()[:4096] else ","
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, sep=separator, encoding=encoding or "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(Problem(label, f"text is not {encoding or 'UTF-8'} ({exc.reason})", "pass --encoding gbk (or gb18030), or save it as UTF-8 CSV")) from exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(Problem(label, f"cannot be read as CSV ({exc})", "save it as CSV with a header row")) from exc
    if not len(table):
        raise InputError(Problem(label, "has no rows", "check that the right file was given"))
    for column in table.columns:
        if not names_an_id(column):  # ids and codes stay text even when they look like numbers (6300600014, 3842)
            table[column] = _numbers_or_text(table[column])
    return table


def _numbers_or_text(values: pd.Series) -> pd.Series:
    """``values`` as integers or floats when every non-blank cell is a plain number, else unchanged.

    A leading zero (``007``) or a plus sign marks a code, which stays text.
    """
    blank = values.map(_blank)
    present = values[~blank]
    if not len(present):
        return values
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in present):
        numbers = pd.to_numeric(present)
    else:
        texts = present.astype(str)
        # more than 15 digits do not survive a double (long numeric ids): those stay text
        if not texts.str.fullmatch(r"-?(0|[1-9]\d*)(\.\d+)?").all() or texts.str.len().max() > 16:
            return values
        numbers = pd.to_numeric(texts)
    if blank.any():
        out = pd.Series(np.nan, index=values.index, dtype=float)
        out[~blank] = numbers.astype(float)
        return out
    integral = pd.api.types.is_integer_dtype(numbers.dtype) or bool((numbers == np.floor(numbers)).all() and values.map(lambda v: "." not in str(v)).all())
    return numbers.astype("int64") if integral else numbers.astype(float)
