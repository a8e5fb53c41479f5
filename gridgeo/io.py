"""Reading input layers: Shapefile, GeoJSON, GeoPackage, GeoParquet (and zipped Shapefiles).

Readers return a GeoDataFrame exactly as stored (no repair, no reprojection);
:mod:`gridgeo.validate` checks and prepares it.  Shapefile text is decoded with
the encoding in the ``.cpg`` file when there is one, or with ``encoding`` when
the caller names it (GBK/GB18030 DBFs are common in Chinese GIS data).  A DBF
with neither (and no code page in its header) is read as UTF-8 when its text
is valid UTF-8 (with a warning); otherwise it is an error naming the rows,
never silently mis-decoded text.
"""

from __future__ import annotations

import logging
import posixpath
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely.errors

from .errors import InputError, Problem, describe_rows

__all__ = ["read_layer", "layer_label"]

logger = logging.getLogger(__name__)

_PARQUET = {".parquet", ".geoparquet"}
_OGR = {".shp", ".geojson", ".json", ".gpkg", ".zip", ".fgb", ".gml", ".kml"}


def layer_label(path: str | Path, layer: str | None = None) -> str:
    """A short label for messages: ``buildings.shp`` or ``data.gpkg:buildings``."""
    name = Path(path).name
    return f"{name}:{layer}" if layer else name


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Read one vector layer.

    Parameters
    ----------
    path : str or Path
        A ``.shp``, ``.geojson``/``.json``, ``.gpkg``, ``.parquet``/``.geoparquet`` or
        ``.zip`` (a zipped Shapefile) file.
    layer : str, optional
        Layer name in a multi-layer file (GeoPackage).  When omitted, a file
        with one layer is read; a file with several layers is an error that
        lists them.
    encoding : str, optional
        Text encoding of a Shapefile's DBF (``gbk``, ``gb18030``, ``utf-8``);
        overrides the ``.cpg`` file.
    bbox : (minx, miny, maxx, maxy), optional
        Read only the features whose extent meets this box, given in the
        layer's own CRS: the spatial index does the filtering, so a worker
        reads its communities' buildings without loading a whole province.

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
    path = Path(path)
    label = layer_label(path, layer)
    if not path.exists():
        raise InputError(Problem(str(path), "file not found", "check the path"))
    suffix = path.suffix.lower()
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
        if encoding is None and suffix in {".shp", ".zip"}:
            encoding = _guess_dbf_encoding(path, label)
        if layer is None and suffix in {".gpkg", ".zip"}:
            layers = pyogrio.list_layers(source)
            if len(layers) > 1:
                names = ", ".join(str(name) for name in layers[:, 0])
                raise InputError(
                    Problem(
                        label,
                        f"has {len(layers)} layers ({names})",
                        "name the layer, e.g. FILE.gpkg:LAYER on the command line or layer= in Python",
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
                return gpd.read_file(source, layer=layer, engine="pyogrio", use_arrow=True, **kwargs)
            except shapely.errors.GEOSException as exc:
                return _read_malformed(source, layer, label, exc, kwargs)
            finally:
                for message in dict.fromkeys(str(w.message) for w in gdal_warnings):
                    logger.warning("%s: GDAL: %s", label, message)
    except InputError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
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
