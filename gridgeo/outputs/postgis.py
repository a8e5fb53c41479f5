"""PostgreSQL/PostGIS: writing a finished partition into a schema, and reading a PostGIS table as an input layer.

A database is named by a libpq URL, ``postgresql://USER@HOST:PORT/DB``; an
input table adds ``#SCHEMA.TABLE`` (``postgresql://gis@db:5432/planning#base.buildings``).
Passwords come from the usual libpq sources (``PGPASSWORD``, ``~/.pgpass``,
``PGSERVICE``); a URL holding one is refused, so it never lands in a shell
history or in ``config.toml``.

:func:`write_postgis` writes every layer of a result (``communities``,
``grids``, ``buildings``, ``units``, and ``unassigned``, ``compounds`` and
``service_centres`` when present) as a table of one schema, in **one
transaction**: a failure leaves the schema exactly as it was.  The tables have
primary keys on the codes (``grid_code``, ``building_code``, ``unit_code``,
``community_code``; ``fid`` for the others), ``buildings.grid_code`` and
``units.grid_code`` as foreign keys to ``grids``, a GiST index on each
geometry, the input SRID with one geometry type per table, and comments (the
layer descriptions, and each gridgeo column's Chinese name and meaning).  An
existing table is replaced only with ``overwrite=True``; otherwise it is an
error naming it.  This module never runs an algorithm.
"""

from __future__ import annotations

import logging
import urllib.parse

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError, OutputError, OutputExistsError, Problem
from .geopackage import COLUMN_MEANINGS, LAYER_DESCRIPTIONS, alias

__all__ = ["is_postgres", "parse_postgres_url", "read_postgis", "write_postgis", "check_postgis_target", "postgres_label"]

logger = logging.getLogger(__name__)

_SCHEMES = ("postgresql://", "postgres://")
#: primary key of each layer (the others get a serial ``fid``)
PRIMARY_KEYS = {"communities": "community_code", "grids": "grid_code", "buildings": "building_code", "units": "unit_code"}
#: every table a result may write
TABLES = ("communities", "grids", "buildings", "units", "unassigned", "compounds", "service_centres")
#: (layer, column) → referenced layer
FOREIGN_KEYS = {("buildings", "grid_code"): "grids", ("units", "grid_code"): "grids"}
_MULTI = ("units",)


def is_postgres(spec) -> bool:
    """Whether ``spec`` is a PostgreSQL URL rather than a file.

    Examples
    --------
    >>> is_postgres("postgresql://gis@localhost:5432/planning#base.buildings"), is_postgres("buildings.gpkg")
    (True, False)
    """
    return isinstance(spec, str) and spec.lower().startswith(_SCHEMES)


def parse_postgres_url(url: str, *, table: bool = False) -> tuple[str, str | None, str | None]:
    """Split ``postgresql://USER@HOST:PORT/DB#SCHEMA.TABLE`` into (libpq URL, schema, table).

    Raises
    ------
    InputError
        The URL holds a password, names no database, or (``table=True``) no ``#SCHEMA.TABLE``.

    Examples
    --------
    >>> parse_postgres_url("postgresql://gis@localhost:5432/planning#base.buildings", table=True)
    ('postgresql://gis@localhost:5432/planning', 'base', 'buildings')
    >>> parse_postgres_url("postgresql://gis@localhost/planning#grids", table=True)
    ('postgresql://gis@localhost/planning', 'public', 'grids')
    """
    base, _, fragment = url.partition("#")
    parts = urllib.parse.urlsplit(base)
    shown = postgres_label(url)
    if parts.password:
        raise InputError(Problem(shown, "holds a password", "leave it out of the URL: put it in PGPASSWORD or ~/.pgpass, where libpq finds it"))
    if not parts.path.strip("/"):
        raise InputError(Problem(shown, "names no database", "write postgresql://USER@HOST:PORT/DATABASE"))
    schema = name = None
    if fragment:
        schema, _, name = fragment.rpartition(".")
        schema = schema or "public"
    if table and not name:
        raise InputError(Problem(shown, "names no table", "add #SCHEMA.TABLE, e.g. postgresql://USER@HOST:PORT/DB#public.buildings"))
    return base, schema, name or None


def postgres_label(url: str) -> str:
    """The URL for messages, without a password.

    Examples
    --------
    >>> postgres_label("postgresql://gis:secret@db:5432/planning#base.b")
    'postgresql://gis@db:5432/planning#base.b'
    """
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.rsplit("@", 1)[1]
        netloc = f"{parts.username}@{netloc}" if parts.username else netloc
        parts = parts._replace(netloc=netloc)
    return urllib.parse.urlunsplit(parts)


def _connect(base: str, label: str, *, for_output: bool):
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - a dependency
        raise InputError(Problem(label, "needs the psycopg package", "pip install 'psycopg[binary]'")) from exc
    try:
        return psycopg.connect(base, connect_timeout=15)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        problem = Problem(label, f"cannot connect: {reason}", "check the host, port, database and user; the password goes in PGPASSWORD or ~/.pgpass")
        if for_output:
            raise OutputError(str(problem)) from exc
        raise InputError(problem) from exc


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def read_postgis(url: str, *, bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """Read the PostGIS table ``postgresql://USER@HOST:PORT/DB#SCHEMA.TABLE`` as a GeoDataFrame.

    The first geometry column (from ``geometry_columns``) becomes the geometry,
    in the table's SRID; the other columns are kept; rows come in primary-key
    (else physical) order.  ``bbox`` (in the table's SRID) reads only the rows
    whose geometry meets it, through the GiST index.

    Raises
    ------
    InputError
        No connection, no such table, or no geometry column.
    """
    base, schema, table = parse_postgres_url(url, table=True)
    label = postgres_label(url)
    with _connect(base, label, for_output=False) as conn:
        row = conn.execute(
            "SELECT f_geometry_column, srid FROM geometry_columns WHERE f_table_schema = %s AND f_table_name = %s ORDER BY f_geometry_column LIMIT 1",
            (schema, table),
        ).fetchone()
        if row is None:
            exists = conn.execute("SELECT to_regclass(%s)", (f"{_ident(schema)}.{_ident(table)}",)).fetchone()[0]
            if exists is None:
                raise InputError(Problem(label, f"there is no table {schema}.{table}", "check the schema and table name after #"))
            raise InputError(Problem(label, f"{schema}.{table} has no geometry column (an attribute table), where a map layer is needed", "name a table with a PostGIS geometry column"))
        geometry, srid = row
        keys = [r[0] for r in conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY a.attnum",
            (f"{_ident(schema)}.{_ident(table)}",),
        ).fetchall()]
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position", (schema, table)
        ).fetchall()]
        others = [c for c in columns if c != geometry]
        select = ", ".join([*(_ident(c) for c in others), f"ST_AsBinary({_ident(geometry)})"])
        sql = f"SELECT {select} FROM {_ident(schema)}.{_ident(table)}"
        params: tuple = ()
        if bbox is not None:
            sql += f" WHERE {_ident(geometry)} && ST_MakeEnvelope(%s, %s, %s, %s, %s)"
            params = (*map(float, bbox), int(srid))
        if keys:
            sql += " ORDER BY " + ", ".join(_ident(k) for k in keys)
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    frame = pd.DataFrame([r[:-1] for r in rows], columns=others) if rows else pd.DataFrame(columns=others)
    geoms = shapely.from_wkb([bytes(r[-1]) if r[-1] is not None else None for r in rows]) if rows else np.array([], dtype=object)
    crs = f"EPSG:{srid}" if srid and int(srid) > 0 else None
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)


def check_postgis_target(url: str, *, schema: str, overwrite: bool) -> None:
    """Before a run: the database answers, and no table a result writes exists in ``schema`` unless ``overwrite``.

    :func:`write_postgis` checks again in its transaction; this check only
    spares computing a plan that could not be written.

    Raises
    ------
    OutputExistsError
        Tables of those names exist and ``overwrite`` is false.
    OutputError
        No connection.
    """
    base, _, _ = parse_postgres_url(url)
    label = postgres_label(base)
    with _connect(base, label, for_output=True) as conn:
        existing = [name for name in TABLES if conn.execute("SELECT to_regclass(%s)", (f"{_ident(schema)}.{_ident(name)}",)).fetchone()[0] is not None]
    if existing and not overwrite:
        names = ", ".join(f"{schema}.{n}" for n in existing)
        raise OutputExistsError(Problem(label, f"{'table' if len(existing) == 1 else 'tables'} {names} already exist", "pass --overwrite (overwrite=True) to replace them, or choose another --schema"))


def _layers(result) -> list[tuple[str, gpd.GeoDataFrame]]:
    layers = [("communities", result.communities), ("grids", result.grids), ("buildings", result.buildings), ("units", result.units)]
    for name in ("unassigned", "compounds", "service_centres"):
        frame = getattr(result, name, None)
        if frame is not None and len(frame):
            layers.append((name, frame))
    return layers


def _sql_type(values: pd.Series) -> str:
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp with time zone" if getattr(dtype, "tz", None) is not None else "timestamp"
    return "text"


def _geometry_type(geoms: np.ndarray) -> str:
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    kinds = set(shapely.get_type_id(present).tolist())
    names = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString", 6: "MultiPolygon"}
    if len(kinds) != 1 or next(iter(kinds)) not in names:
        return "Geometry"
    z = shapely.has_z(present)
    if z.all():
        return names[next(iter(kinds))] + "Z"
    return names[next(iter(kinds))] if not z.any() else "Geometry"


def _cell(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_postgis(result, url: str, *, schema: str, overwrite: bool = False) -> list[str]:
    """Write every layer of ``result`` as a table of ``schema``, in one transaction.

    Parameters
    ----------
    result : Partition
    url : str
        ``postgresql://USER@HOST:PORT/DB`` (no password: libpq reads PGPASSWORD or ~/.pgpass).
    schema : str
        Created if missing.
    overwrite : bool
        Replace tables of the same names; otherwise an existing one is an error naming it.

    Returns
    -------
    list of str
        The tables written, ``schema.table``.

    Raises
    ------
    OutputExistsError
        A table exists and ``overwrite`` is false (nothing is written).
    OutputError
        No connection, or the database refused a statement; the transaction is
        rolled back and the schema is as it was.
    InputError
        The URL holds a password, or the result's CRS has no EPSG code (PostGIS needs an SRID).
    """
    import psycopg

    from .export import _gpkg_safe, uniform_geometry

    base, _, _ = parse_postgres_url(url)
    label = postgres_label(base)
    crs = result.grids.crs if result.grids is not None else None
    srid = crs.to_epsg() if crs is not None else None
    if srid is None:
        raise InputError(Problem("result", f"its CRS ({crs.name if crs is not None else 'none'}) has no EPSG code, which PostGIS needs as the SRID", "give the inputs in a CRS with an EPSG code"))
    layers = [(name, uniform_geometry(_gpkg_safe(frame), multi=name in _MULTI)) for name, frame in _layers(result)]
    written = []
    with _connect(base, label, for_output=True) as conn:
        try:
            with conn.transaction():
                existing = [
                    name for name, _ in layers
                    if conn.execute("SELECT to_regclass(%s)", (f"{_ident(schema)}.{_ident(name)}",)).fetchone()[0] is not None
                ]  # fmt: skip
                if existing and not overwrite:
                    names = ", ".join(f"{schema}.{n}" for n in existing)
                    raise OutputExistsError(Problem(label, f"{'table' if len(existing) == 1 else 'tables'} {names} already exist", "pass --overwrite (overwrite=True) to replace them, or choose another --schema"))
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
                for name in reversed([n for n, _ in layers]):
                    conn.execute(f"DROP TABLE IF EXISTS {_ident(schema)}.{_ident(name)} CASCADE")
                for name, frame in layers:
                    written.append(_write_table(conn, schema, name, frame, srid))
                for (name, column), target in FOREIGN_KEYS.items():
                    if any(n == name for n, _ in layers) and column in dict(layers)[name].columns:
                        conn.execute(
                            f"ALTER TABLE {_ident(schema)}.{_ident(name)} ADD CONSTRAINT {_ident(f'{name}_{column}_fkey')} "
                            f"FOREIGN KEY ({_ident(column)}) REFERENCES {_ident(schema)}.{_ident(target)} ({_ident(column)})"
                        )
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise OutputError(str(Problem(label, f"the database refused the write ({reason}); nothing was written, schema {schema} is as it was", "check the user's rights on the schema"))) from exc
    logger.info("wrote %s into %s", ", ".join(written), label)
    return written


def _write_table(conn, schema: str, name: str, frame: gpd.GeoDataFrame, srid: int) -> str:
    """CREATE TABLE, COPY the rows, keys, GiST index and comments of one layer."""
    table = f"{_ident(schema)}.{_ident(name)}"
    geometry = frame.geometry.name
    columns = [str(c) for c in frame.columns if c != geometry]
    key = PRIMARY_KEYS.get(name)
    if key not in columns or frame[key].isna().any() or frame[key].duplicated().any():
        key = None
    definitions = [] if key else ["fid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"]
    for column in columns:
        definitions.append(f"{_ident(column)} {_sql_type(frame[column])}" + (" PRIMARY KEY" if column == key else ""))
    geoms = frame.geometry.to_numpy()
    definitions.append(f"geom geometry({_geometry_type(geoms)}, {int(srid)})")
    conn.execute(f"CREATE TABLE {table} ({', '.join(definitions)})")
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    wkb = np.full(len(geoms), None, dtype=object)
    if present.any():
        wkb[present] = shapely.to_wkb(shapely.set_srid(geoms[present], int(srid)), hex=True, include_srid=True, output_dimension=3)
    names = ", ".join([*(_ident(c) for c in columns), "geom"])
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        values = [frame[c].astype(object).to_numpy() for c in columns]
        for i in range(len(frame)):
            copy.write_row([*(_cell(v[i]) for v in values), wkb[i]])
    conn.execute(f"CREATE INDEX {_ident(f'{name}_geom_gist')} ON {table} USING GIST (geom)")
    conn.execute(f"COMMENT ON TABLE {table} IS {_literal(LAYER_DESCRIPTIONS.get(name, name))}")
    for column in columns:
        names_ = alias(column)
        if names_ is None:
            continue
        meaning = COLUMN_MEANINGS.get(column)
        text = f"{names_[0]} / {names_[1]}" + (f": {meaning}" if meaning else "")
        conn.execute(f"COMMENT ON COLUMN {table}.{_ident(column)} IS {_literal(text)}")
    return f"{schema}.{name}"


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT takes no parameters)."""
    return "'" + str(text).replace("'", "''") + "'"
