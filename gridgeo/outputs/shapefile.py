"""Shapefile export of a finished partition, for GIS software that wants ``.shp``.

:func:`write_shapefiles` writes ``grids.shp``, ``buildings.shp``, ``units.shp``
and ``communities.shp`` (and ``unassigned.shp`` when some buildings lie outside
every community), each with ``.shx``, ``.dbf``, ``.prj`` (the result's CRS) and
``.cpg`` (the text encoding of the ``.dbf``: ``UTF-8``, ``GBK``, ...), plus
``fields.csv`` recording every field name (with ``fields.csvt``, GDAL's column types).

The format's limits are handled in the open, never silently:

* **Field names** hold at most 10 bytes in the file's encoding.  Longer names
  get a deterministic, collision-free short name (gridgeo's own columns have
  fixed abbreviations such as ``community_code`` → ``comm_code``; other names
  are cut at a character boundary, with ``_1``, ``_2``, ... when two would
  clash, case-insensitively).  ``fields.csv`` (UTF-8 with a byte-order mark)
  lists ``layer, field, shapefile_field`` for every field, renamed or not.
* **Text** holds at most 254 bytes; longer values (typically the ``members``
  of a large joint unit) are cut at a character boundary with a logged warning
  naming the layer, the field and the count.  The GeoPackage keeps them whole.
* **Encodings**: a value that the chosen encoding cannot represent (an emoji,
  ``ß`` or ``€`` in GBK) raises :class:`~gridgeo.errors.InputError` naming the
  layer, field and rows, before anything is written; for GBK it names GB18030
  (``--shp-encoding gb18030``), GBK's superset that holds every character, as
  the alternative, and UTF-8.
* **Numbers** with a fraction are written with 6 decimals (``17760.814493``;
  GDAL's own 15 would show the binary tail ``17760.814493000001676``).
* **Booleans** become integers 1 (true) / 0 (false) (empty when missing);
  dates and times become ISO 8601 text.
* **Geometry**: one kind per file; a layer mixing points and polygons (or
  holding geometry collections) is an :class:`~gridgeo.errors.InputError`.
  Points and multipoints are two Shapefile types (a polygon Shapefile holds
  polygons and multipolygons alike): a point layer that holds any MultiPoint
  is written as MultiPoint throughout, and so are the joint units of point
  buildings (a unit of several buildings is a MultiPoint), as in the GeoPackage.

Files are written into a temporary folder and moved into ``folder`` when all
are complete.  The ``.dbf`` header date is fixed (2000-01-01), so the same
result gives byte-identical files.  This module only reads a
:class:`~gridgeo.result.Partition`; it never runs an algorithm.
"""

from __future__ import annotations

import codecs
import csv
import io
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

from ..errors import InputError, Problem, ProblemCollector, describe_rows
from .export import ALWAYS_MULTI, uniform_geometry

__all__ = ["LAYERS", "ABBREVIATIONS", "mixed_kinds", "shapefile_field_names", "write_shapefiles"]

logger = logging.getLogger(__name__)

#: layers written, in this order (``unassigned`` follows when not empty)
LAYERS = ("grids", "buildings", "units", "communities")
#: short names of gridgeo's own long columns (used when free)
ABBREVIATIONS = {
    "community_id": "comm_id",
    "community_code": "comm_code",
    "households_estimated": "hh_estim",
    "n_buildings": "n_bldgs",
    "polsby_popper": "polsby_pp",
    "barrier_crossings": "barr_cross",
    "building_code": "bldg_code",
    "standard_code": "std_code",
    "responsible_unit": "resp_unit",
    "workload_index": "wl_index",
    "workload_flag": "wl_flag",
    "centre_name": "centre_nm",
    "coverage_flag": "cov_flag",
}
MAX_NAME_BYTES = 10
MAX_TEXT_BYTES = 254
#: decimals of the .dbf's real-number fields (GDAL writes 15, showing binary tails such as 17760.814493000001676)
DBF_DECIMALS = 6
_CODE_COLUMNS = {"grids": "grid_code", "buildings": "building_code", "units": "unit_code", "communities": "community_code"}
_CPG_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gbk": "GBK", "gb18030": "GB18030", "gb2312": "GB2312", "big5": "BIG5"}
_DBF_DATE = "2000-01-01"
#: legacy Chinese code pages whose superset GB18030 holds every character and reads the same for GBK text
_GBK_FAMILY = {"gbk", "gb2312", "cp936", "hz"}


def _fix(codec: str) -> str:
    """The remedy for text the chosen encoding cannot hold: GB18030 (GBK's superset) where GBK was asked, or UTF-8."""
    utf8 = "UTF-8 (encoding='utf-8', --shp-encoding utf-8)"
    if codec in _GBK_FAMILY:
        return (
            "write the Shapefiles as GB18030 (encoding='gb18030', --shp-encoding gb18030: GBK's superset, which holds every "
            f"character and writes GBK text byte for byte the same) or as {utf8}, or use the GeoPackage"
        )
    return f"write the Shapefiles as {utf8}, or use the GeoPackage"


def write_shapefiles(result, folder: str | Path, *, encoding: str = "utf-8") -> list[Path]:
    """Write the layers of ``result`` as Shapefiles into ``folder``.

    Parameters
    ----------
    result : Partition
    folder : str or Path
        Created if needed (e.g. ``OUTDIR/shp``); files of the same names are replaced.
    encoding : str
        Text encoding of the ``.dbf`` files, declared in each ``.cpg``:
        ``"utf-8"`` (default, every character) or a legacy code page such as
        ``"gbk"`` for older Chinese GIS software.

    Returns
    -------
    list of Path
        ``grids.shp``, ``buildings.shp``, ``units.shp``, ``communities.shp``
        (``unassigned.shp`` when any) and ``fields.csv``.

    Raises
    ------
    InputError
        The encoding is unknown or not ASCII-compatible, a value or field name
        cannot be encoded (naming layer, field and rows), or a layer mixes
        geometry kinds.  Nothing is written then.

    Examples
    --------
    >>> import tempfile, geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"], "name": ["景星里"]}, geometry=[shapely.box(0, 0, 200, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 40 * i, 40, 30 + 40 * i, 50) for i in range(4)], crs=32651)
    >>> paths = write_shapefiles(gridgeo.partition(c, b, households="hh"), tempfile.mkdtemp(), encoding="gbk")
    >>> [p.name for p in paths]
    ['grids.shp', 'buildings.shp', 'units.shp', 'communities.shp', 'fields.csv']
    >>> gpd.read_file(paths[3])["name"].tolist(), paths[3].with_suffix(".cpg").read_text()
    (['景星里'], 'GBK')
    """
    codec, cpg = _encoding(encoding)
    layers = [(name, getattr(result, name)) for name in LAYERS]
    if result.unassigned is not None and len(result.unassigned):
        layers.append(("unassigned", result.unassigned))
    problems = ProblemCollector()
    prepared = []
    records = []
    for layer, frame in layers:
        frame = _as_frame(frame)
        columns = [c for c in frame.columns if c != frame.geometry.name]
        names = shapefile_field_names([str(c) for c in columns], encoding=codec)
        bad_names = [c for c in columns if not _encodable(str(c), codec)]
        for column in bad_names:
            problems.add(f"{layer}.shp", f"field name '{column}' has characters {cpg} cannot encode", _fix(codec))
        data = _prepare(frame, layer, columns, codec, cpg, problems)
        if _check_geometry(data, layer, problems) == ["point"]:
            data = uniform_geometry(data, multi=layer in ALWAYS_MULTI)  # Point and MultiPoint are two Shapefile types
        data = data.rename(columns={c: names[str(c)] for c in columns})
        prepared.append((layer, data))
        records += [(layer, str(c), names[str(c)]) for c in columns]
    problems.raise_if_any()

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        paths = []
        for layer, data in prepared:
            target = staging / f"{layer}.shp"
            # an empty layer has no geometry to infer a type from
            options = {"geometry_type": "Polygon"} if not len(data) or data.geometry.isna().all() else {}
            pyogrio.write_dataframe(
                data,
                target,
                driver="ESRI Shapefile",
                encoding=cpg,
                layer_options={"DBF_DATE_LAST_UPDATE": _DBF_DATE},
                **options,
            )
            _round_dbf_reals(target.with_suffix(".dbf"), DBF_DECIMALS)
            if data.crs is None:
                logger.warning("%s has no CRS; %s.shp is written without a .prj", layer, layer)
            paths.append(folder / target.name)
        _write_fields_csv(staging / "fields.csv", records)
        paths.append(folder / "fields.csv")
        folder.mkdir(parents=True, exist_ok=True)
        for item in sorted(staging.iterdir()):
            os.replace(item, folder / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("wrote %d Shapefiles (%s) into %s", len(prepared), cpg, folder)
    return paths


def shapefile_field_names(columns: list[str], *, encoding: str = "utf-8") -> dict[str, str]:
    """Map column names to unique Shapefile field names of at most 10 bytes.

    Names that fit are kept.  Longer ones take their entry of
    :data:`ABBREVIATIONS` when free, else are cut to 10 bytes at a character
    boundary, else cut shorter with ``_1``, ``_2``, ... appended.  Uniqueness is
    case-insensitive (as in ``.dbf`` readers).  The same columns in the same
    order always give the same names.

    Parameters
    ----------
    columns : list of str
    encoding : str
        The ``.dbf`` encoding; the 10-byte limit counts encoded bytes.

    Returns
    -------
    dict
        Original name → Shapefile name, in the order of ``columns``.

    Examples
    --------
    >>> shapefile_field_names(["grid_code", "community_code", "community_codes", "households_estimated"])
    {'grid_code': 'grid_code', 'community_code': 'comm_code', 'community_codes': 'community_', 'households_estimated': 'hh_estim'}
    >>> shapefile_field_names(["社区名称名称", "社区名称名称2"])
    {'社区名称名称': '社区名', '社区名称名称2': '社区_1'}
    """
    used: set[str] = set()
    out: dict[str, str] = {}
    for column in columns:
        if 0 < _nbytes(column, encoding) <= MAX_NAME_BYTES and column.casefold() not in used:
            out[column] = column
            used.add(column.casefold())
    for column in columns:
        if column in out:
            continue
        candidates = [ABBREVIATIONS.get(column), _cut(column, MAX_NAME_BYTES, encoding) or "field"]
        name = next((c for c in candidates if c and c.casefold() not in used), None)
        k = 1
        while name is None:
            suffix = f"_{k}"
            trial = (_cut(column, MAX_NAME_BYTES - len(suffix), encoding) or "field") + suffix
            name = trial if trial.casefold() not in used else None
            k += 1
        out[column] = name
        used.add(name.casefold())
    return {column: out[column] for column in columns}


# -- helpers ---------------------------------------------------------------------------------------


def _encoding(encoding: str) -> tuple[str, str]:
    """(Python codec name, the name written to .cpg) or an InputError."""
    try:
        codec = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise InputError(Problem("Shapefile encoding", f"unknown encoding {encoding!r}", "use utf-8 or gbk")) from None
    if "A".encode(codec) != b"A":
        raise InputError(Problem("Shapefile encoding", f"{encoding!r} is not ASCII-compatible; a .dbf cannot use it", "use utf-8 or gbk"))
    return codec, _CPG_NAMES.get(codec, codec.upper())


def _nbytes(text: str, encoding: str) -> int:
    return len(text.encode(encoding, errors="replace"))


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _cut(text: str, limit: int, encoding: str) -> str:
    """The longest prefix of ``text`` whose encoding takes at most ``limit`` bytes."""
    size = 0
    for i, ch in enumerate(text):
        size += _nbytes(ch, encoding)
        if size > limit:
            return text[:i]
    return text


def _as_frame(frame) -> gpd.GeoDataFrame:
    if frame is None:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([]))
    try:
        _ = frame.geometry
    except AttributeError:  # a plain DataFrame, or a GeoDataFrame without an active geometry
        return gpd.GeoDataFrame(pd.DataFrame(frame), geometry=gpd.GeoSeries([None] * len(frame), index=frame.index))
    return frame


#: the widest whole numbers a .dbf field of GDAL's Integer type (``N(9,0)``) holds
_DBF_INTEGER_RANGE = (-99_999_999, 999_999_999)


def _narrow_integers(values: pd.Series) -> pd.Series:
    """Whole numbers as 32-bit when every one fits nine digits, so GDAL writes an ``N(9,0)`` field.

    GDAL writes 64-bit integers as ``N(18,0)``, which ArcGIS reads as Double;
    nine digits or fewer it reads as Long Integer.  Larger values keep 64 bits.

    Examples
    --------
    >>> _narrow_integers(pd.Series([3, 412])).dtype, _narrow_integers(pd.Series([1, None], dtype="Int64")).dtype
    (dtype('int32'), Int32Dtype())
    >>> _narrow_integers(pd.Series([6300600014])).dtype
    dtype('int64')
    """
    present = values.dropna()
    low, high = _DBF_INTEGER_RANGE
    if len(present) and (present.min() < low or present.max() > high):
        return values
    return values.astype("Int32" if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) else "int32")


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def _prepare(frame: gpd.GeoDataFrame, layer: str, columns, codec: str, cpg: str, problems: ProblemCollector) -> gpd.GeoDataFrame:
    """A copy of ``frame`` with values a .dbf can hold (booleans 0/1, text checked and cut)."""
    out = frame.copy()
    out.index = range(len(out))
    code_column = _CODE_COLUMNS.get(layer)
    if code_column in out.columns:
        labels, rows_by = out[code_column].astype(str).tolist(), code_column
    else:
        labels, rows_by = [str(i + 1) for i in range(len(out))], "row numbers from 1"
    for column in columns:
        values = out[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            out[column] = _narrow_integers(values.astype("Int64") if values.isna().any() else values.astype("int64"))
            continue
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            out[column] = values.map(lambda v: None if _is_missing(v) else v.isoformat()).astype(object)
            continue
        if pd.api.types.is_integer_dtype(values.dtype):
            out[column] = _narrow_integers(values)
            continue
        if pd.api.types.is_numeric_dtype(values.dtype):
            continue
        items = values.tolist()
        present = [v for v in items if not _is_missing(v)]
        if present and all(isinstance(v, (bool, np.bool_)) for v in present):
            out[column] = _narrow_integers(pd.Series([None if _is_missing(v) else int(bool(v)) for v in items], index=out.index, dtype="Int64"))
            continue
        texts: list[str | None] = []
        bad_rows: list[str] = []
        bad_chars: set[str] = set()
        cut = 0
        for i, value in enumerate(items):
            if _is_missing(value):
                texts.append(None)
                continue
            text = value.isoformat() if hasattr(value, "isoformat") else str(value)
            try:
                encoded = text.encode(codec)
            except UnicodeEncodeError:
                bad_rows.append(labels[i])
                bad_chars.update(ch for ch in text if not _encodable(ch, codec))
                texts.append(text)
                continue
            if len(encoded) > MAX_TEXT_BYTES:
                text = _cut(text, MAX_TEXT_BYTES, codec)
                cut += 1
            texts.append(text)
        if bad_rows:
            shown = " ".join(sorted(bad_chars))
            problems.add(
                f"{layer}.shp",
                f"field '{column}' has characters {cpg} cannot encode ({shown}) in {describe_rows(bad_rows)} (by {rows_by})",
                _fix(codec),
            )
        if cut:
            logger.warning(
                "%s.shp: field '%s': %d value%s longer than %d bytes cut to fit the Shapefile (the GeoPackage keeps them whole)",
                layer, column, cut, "s" if cut != 1 else "", MAX_TEXT_BYTES,
            )
        out[column] = pd.Series(texts, index=out.index, dtype=object)
    return out


_FAMILIES = {
    "Point": "point", "MultiPoint": "point",
    "LineString": "line", "MultiLineString": "line", "LinearRing": "line",
    "Polygon": "polygon", "MultiPolygon": "polygon",
}


def _check_geometry(frame: gpd.GeoDataFrame, layer: str, problems: ProblemCollector) -> list[str]:
    """Add a problem when ``frame`` holds geometries a Shapefile cannot; return its geometry families (``["point"]``, …)."""
    geoms = frame.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kinds = np.array([_FAMILIES.get(t, "other") for t in frame.geometry.geom_type.fillna("").to_numpy()])[present]
    if not len(kinds):
        return []
    other = np.flatnonzero(present)[kinds == "other"]
    if len(other):
        problems.add(f"{layer}.shp", f"{describe_rows(other + 1)} hold geometry collections, which a Shapefile cannot store", "use the GeoPackage")
    families = sorted(set(kinds) - {"other"})
    if len(families) > 1:
        problems.add(f"{layer}.shp", f"mixes {' and '.join(families)} geometries; a Shapefile holds one kind", "use the GeoPackage")
    return families


def mixed_kinds(frame: gpd.GeoDataFrame, label: str) -> Problem | None:
    """The problem of an input layer mixing points and polygons, which Shapefiles of its buildings cannot hold, or None.

    ``--format shp`` checks the buildings before the run (its buildings and joint units would mix kinds too), naming
    the rows of the fewer kind.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> frame = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1), shapely.Point(5, 5), shapely.box(2, 0, 3, 1)])
    >>> print(mixed_kinds(frame, "b.gpkg"))
    b.gpkg: row 2 is a point among polygon footprints, and a Shapefile holds one kind of geometry — fix: leave shp out of --format (the GeoPackage and GeoJSON hold both), or give footprints for those buildings
    """
    kinds = np.array([_FAMILIES.get(t, "other") for t in frame.geometry.geom_type.fillna("").to_numpy()])
    points, polygons = np.flatnonzero(kinds == "point"), np.flatnonzero(kinds == "polygon")
    if not len(points) or not len(polygons):
        return None
    fewer, word = (points, "a point among polygon footprints") if len(points) <= len(polygons) else (polygons, "a polygon among points")
    verb = "is" if len(fewer) == 1 else "are"
    what = word if len(fewer) == 1 else word.replace("a point among", "points among").replace("a polygon among", "polygons among")
    return Problem(
        label,
        f"{describe_rows(fewer + 1)} {verb} {what}, and a Shapefile holds one kind of geometry",
        "leave shp out of --format (the GeoPackage and GeoJSON hold both), or give "
        + ("footprints for those buildings" if len(fewer) == len(points) else "points for every building"),
    )


def _write_fields_csv(path: Path, records: list[tuple[str, str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["layer", "field", "shapefile_field"])
    writer.writerows(records)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    path.with_suffix(".csvt").write_text('"String","String","String"\r\n', encoding="utf-8")


def _round_dbf_reals(path: Path, decimals: int) -> None:
    """Rewrite the real-number fields of a ``.dbf`` with ``decimals`` decimals (in place, same field widths).

    GDAL writes every real field as width 24 with 15 decimals.  Each value is
    written again right-aligned in the same width, and the field's decimal
    count in the header is set to ``decimals``; empty (null) values are kept.
    """
    data = bytearray(path.read_bytes())
    count = int.from_bytes(data[4:8], "little")
    header = int.from_bytes(data[8:10], "little")
    width = int.from_bytes(data[10:12], "little")
    fields = []  # (offset in the record, length)
    offset = 1  # after the deletion flag
    for start in range(32, header - 1, 32):
        if data[start] == 0x0D:
            break
        length = data[start + 16]
        if data[start + 11 : start + 12] in (b"N", b"F") and data[start + 17] > decimals:
            fields.append((offset, length))
            data[start + 17] = decimals
        offset += length
    if not fields or count == 0:
        path.write_bytes(data)
        return
    records = np.frombuffer(bytes(data), dtype=np.uint8, count=count * width, offset=header).reshape(count, width).copy()
    for start, length in fields:
        cells = np.ascontiguousarray(records[:, start : start + length]).view(f"S{length}").ravel()
        texts = np.char.strip(cells)
        present = texts != b""
        try:
            values = texts[present].astype(float)
        except ValueError:  # a value GDAL could not write as a number (overflow asterisks): leave the field as it is
            continue
        finite = np.isfinite(values)
        formatted = np.char.encode(np.char.mod(f"%{length}.{decimals}f", values), "ascii")
        fits = finite & (np.char.str_len(formatted) == length)
        rows = np.flatnonzero(present)[fits]
        if len(rows):
            records[rows, start : start + length] = np.frombuffer(b"".join(formatted[fits].tolist()), dtype=np.uint8).reshape(len(rows), length)
    data[header : header + count * width] = records.tobytes()
    path.write_bytes(data)
