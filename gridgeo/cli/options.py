"""Shared options of the ``gridgeo`` commands, their logging and their error handling (exit codes 1, 2, 3)."""

from __future__ import annotations

import codecs
import functools
import logging
import sys
import warnings
from pathlib import Path

import click

from ..errors import AuditError, GridgeoError, InputError, Problem
from ..messages import error_text, locale_lang, say, translate_warning

logger = logging.getLogger("gridgeo")
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
FORMATS = ("gpkg", "geojson", "shp", "csv", "xlsx")
LANGS = ("zh", "en")
BASEMAPS = ("osm", "tianditu", "gaode")


class _MessageFormatter(logging.Formatter):
    """Warnings in the user's language ("警告：…"); the other levels as ``LEVEL: message``."""

    def __init__(self, lang: str) -> None:
        super().__init__("%(levelname)s: %(message)s")
        self.lang = lang

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno == logging.WARNING and not record.exc_info:
            return translate_warning(record.getMessage(), self.lang)
        return super().format(record)


def _configure_logging(verbosity: int, lang: str = "en") -> _MessageFormatter:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    formatter = _MessageFormatter(lang)
    handler.setFormatter(formatter)
    root = logging.getLogger("gridgeo")
    root.handlers[:] = [h for h in root.handlers if isinstance(h, logging.NullHandler)] + [handler]
    root.setLevel(level)
    return formatter


def _message_lang(ctx: click.Context) -> str:
    """The language of the messages: the command's ``--lang`` when the user typed it, else the locale's.

    A ``--config`` file's ``lang`` (every run's config.toml records the outputs' language, zh by default) sets the
    outputs only: repeating a run from its config.toml does not switch the terminal's language.
    """
    obj = ctx.find_root().obj or {}
    lang = obj.get("lang") or locale_lang()
    typed = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    if ctx.params.get("lang") in LANGS and ctx.get_parameter_source("lang") in typed:
        lang = ctx.params["lang"]
    if obj.get("formatter") is not None:
        obj["formatter"].lang = lang
    obj["lang"] = lang
    return lang


def _lang() -> str:
    """The message language of the running command."""
    ctx = click.get_current_context(silent=True)
    return ((ctx.find_root().obj or {}).get("lang") if ctx else None) or locale_lang()


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings of the libraries (GDAL, pandas, …) as one log line each, shown with -v."""
    logger.info("%s: %s", category.__name__, message)


def _handle_errors(func):
    """Map library errors to one message and an exit code; tracebacks only with -v."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        verbose = (ctx.find_root().obj or {}).get("verbosity", 0) > 0
        lang = _message_lang(ctx)
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _log_warning
                return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException):
            raise  # an inner command (demo → partition) has already said what went wrong and chosen the exit code
        except AuditError as exc:
            click.echo(say("audit_failed", lang, text=exc), err=True)
            ctx.exit(EXIT_INTERNAL)
        except GridgeoError as exc:
            if verbose:
                logger.exception("error")
            click.echo(say("error", lang, text=error_text(exc, lang)), err=True)
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo(say("interrupted", lang), err=True)
            ctx.exit(130)
        except OSError as exc:
            if verbose:
                logger.exception("error")
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            click.echo(say("error", lang, text=f"{exc.strerror or exc}{where}"), err=True)
            ctx.exit(EXIT_USAGE)
        except Exception as exc:  # noqa: BLE001 - the CLI must not print tracebacks
            if verbose:
                logger.exception("internal error")
            click.echo(say("internal", lang, kind=type(exc).__name__, text=exc), err=True)
            ctx.exit(EXIT_INTERNAL)

    return wrapper


# -- shared options ------------------------------------------------------------------------------
_CONFIG_TO_PARAM = {"map": "make_map", "report": "make_report", "print": "make_print", "district_code_column": "county_code_column"}


def _load_config(ctx: click.Context, _param, value):
    if value:
        from ..config import load_config

        try:
            loaded = load_config(value)
            renamed = {_CONFIG_TO_PARAM.get(key, key): item for key, item in loaded.items()}
            ctx.default_map = {**(ctx.default_map or {}), **renamed}
        except InputError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


def _grouped(func, keyword: str, params, options):
    """``func`` with the click ``options``, whose values reach it as one dict under ``keyword``."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        group = {name: kwargs.pop(name, None) for name in params}
        return func(*args, **{keyword: group}, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def known_encoding(_ctx, param, value: str | None) -> str | None:
    """``--encoding``: a text encoding Python knows (``gbk``, ``gb18030``, ``big5``, ``utf-8``, ``cp1252`` …)."""
    if value is None:
        return None
    try:
        codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(f"{value!r} is not a text encoding; use gbk, gb18030, big5, utf-8 or cp1252 (the encoding the file was saved in)", param=param) from None
    return value


def input_options(func):
    """Options shared by commands that read communities and buildings."""
    options = [
        click.option("--households", metavar="COL", help="Buildings column with household counts (estimated from footprint × storeys when omitted)."),
        click.option("--community-id", metavar="COL", help="Communities id column (default: community_id, else row numbers)."),
        click.option("--building-id", metavar="COL", help="Buildings id column (checked for duplicates)."),
        click.option("--community-households", metavar="COL", help="Communities column with register totals; estimates are scaled to them."),
        click.option("--barriers", multiple=True, metavar="FILE", help="Line layer (roads, rivers, walls) grid boundaries should follow; repeatable; FILE.gpkg:LAYER picks a layer."),
        click.option("--encoding", metavar="ENC", callback=known_encoding, help="Text encoding of input Shapefile DBFs and CSV tables (gbk, gb18030, …); overrides a .cpg."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


CODE_PARAMS = (
    "code_scheme",
    "object_class",
    "county_code_column",
    "street_code_column",
    "community_code_column",
    "valid_from",
    "valid_to",
    "responsible_unit_column",
)


def code_options(func):
    """Options of the standard grid codes (gridgeo.governance.standard_codes), handed to the command as one ``codes`` dict."""
    options = [
        click.option("--code-scheme", default="default", show_default=True, metavar="SCHEME", help="Standard grid code in column standard_code: cjt349 (CJ/T 349-2010, 20 digits), db11 (DB11/T 2157-2023, 15 digits) or a template such as '{district}{street}{community}{grid:03d}'."),
        click.option("--object-class", metavar="NNNNNN", help="6-digit object class that begins CJ/T 349-2010 codes (CJ/T 348-2010; required with cjt349)."),
        click.option("--county-code-column", "--district-code-column", "county_code_column", metavar="COL", help="Communities column with the 6-digit county (district) code, GB/T 2260."),
        click.option("--street-code-column", metavar="COL", help="Communities column with the 3-digit street (township) code, GB/T 10114."),
        click.option("--community-code-column", metavar="COL", help="Communities column with the 3-digit community code."),
        click.option("--valid-from", metavar="YYYY-MM-DD", help="Start date written to every grid (valid_from)."),
        click.option("--valid-to", metavar="YYYY-MM-DD", help="End date written to every grid (valid_to)."),
        click.option("--responsible-unit-column", metavar="COL", help="Communities column copied to its grids' responsible_unit."),
    ]
    return _grouped(func, "codes", CODE_PARAMS, options)


POINT_PARAMS = ("x", "y", "wkt", "crs")


def point_table_options(func):
    """Options of a BUILDINGS table of points (CSV or Excel), handed to the command as one ``points`` dict."""
    options = [
        click.option("--x", "x", metavar="COL", help="BUILDINGS is a table (CSV, XLSX): its column of X coordinates (longitude, easting)."),
        click.option("--y", "y", metavar="COL", help="BUILDINGS is a table: its column of Y coordinates (latitude, northing)."),
        click.option("--wkt", metavar="COL", help="BUILDINGS is a table: its column of WKT geometries (POINT (121.5 25.05)), instead of --x/--y."),
        click.option("--crs", metavar="CRS", help="CRS of the coordinates in a BUILDINGS table (default EPSG:4326, longitude and latitude)."),
    ]
    return _grouped(func, "points", POINT_PARAMS, options)


DATABASE_PARAMS = ("to", "schema")


def database_options(func):
    """``--to postgresql://…`` and ``--schema``: also write the plan into PostGIS, handed over as one ``database`` dict."""
    options = [
        click.option("--to", "to", metavar="URL", help="Also write every layer into PostGIS: postgresql://USER@HOST:PORT/DB (password from PGPASSWORD or ~/.pgpass); needs --schema."),
        click.option("--schema", metavar="NAME", help="PostgreSQL schema of the tables written with --to (created if missing; --overwrite replaces its tables)."),
    ]
    return _grouped(func, "database", DATABASE_PARAMS, options)


FILE_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".zip", ".csv", ".xlsx", ".parquet", ".sqlite", ".kml", ".dxf")


def _check_database(database: dict | None) -> None:
    """--to and --schema go together, and the URL is one gridgeo can use (no password in it)."""
    if not database or not (database.get("to") or database.get("schema")):
        return
    if not database.get("to") or not database.get("schema"):
        raise InputError(Problem("--to/--schema", "one is given without the other", "give both: --to postgresql://USER@HOST:PORT/DB --schema NAME"))
    from ..outputs.postgis import is_postgres, parse_postgres_url

    if not is_postgres(database["to"]):
        fix = "write postgresql://USER@HOST:PORT/DB"
        if Path(str(database["to"])).suffix.lower() in FILE_SUFFIXES:
            # a GIS user after a file: the run's folder already holds them
            fix += (
                "; --to writes into a PostGIS database only: the plan's files are in the run's output folder already "
                "(partition.gpkg, grids.geojson, buildings.geojson, units.geojson), and gridgeo export OUTDIR --format shp "
                "adds Shapefiles under shp/ (--format csv,xlsx the rosters)"
            )
        raise InputError(Problem("--to", f"{database['to']!r} is not a PostgreSQL URL", fix))
    parse_postgres_url(database["to"])


def map_options(func):
    options = [
        click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True, help="Language of the map and report; when given, also of the messages (else the locale's)."),
        click.option("--basemap", type=click.Choice(BASEMAPS), default="osm", show_default=True, help="Map background (gaode shifts drawings to GCJ-02)."),
        click.option("--tianditu-key", metavar="KEY", envvar="TIANDITU_KEY", help="Tianditu (天地图) key for --basemap tianditu (or $TIANDITU_KEY)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def service_options(func):
    """Staffing, workload and service coverage options of ``partition`` (gridgeo.governance.workload, gridgeo.governance.coverage)."""
    from ..defaults import DEFAULT_FACTOR, DEFAULT_HOUSEHOLDS_PER_HELPER, DEFAULT_LIMIT_MIN, DEFAULT_SPEED

    positive = click.FloatRange(min=0, min_open=True)
    options = [
        click.option("--roads", multiple=True, metavar="FILE", help="Road and path lines to walk along (tours through a grid's buildings, walks to service centres); FILE.gpkg:LAYER; repeatable; may be the --barriers file. Without: straight lines."),
        click.option("--service-centres", metavar="FILE", help="Points of service centres (党群服务中心, …): each grid's walk to the nearest is measured and flagged beyond --walk-limit."),
        click.option("--centre-id", metavar="COL", help="Service centres id column (default: centre_id, id, 编号, … else row numbers)."),
        click.option("--centre-name", metavar="COL", help="Service centres name column (default: centre_name, name, 名称, …)."),
        click.option("--households-per-helper", type=click.IntRange(min=1), default=DEFAULT_HOUSEHOLDS_PER_HELPER, show_default=True, help="One part-time helper (the N of 1+1+1+N) per this many households; a local rule."),
        click.option("--workload-factor", type=positive, default=DEFAULT_FACTOR, show_default=True, help="Flag grids whose workload index exceeds this multiple of their community's mean."),
        click.option("--walk-speed", type=positive, default=DEFAULT_SPEED, show_default=True, help="Walking speed in metres per minute (80 ≈ 4.8 km/h)."),
        click.option("--walk-limit", type=positive, default=DEFAULT_LIMIT_MIN, show_default=True, help="Minutes: grids farther than this from every service centre are flagged."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


REGISTER_PARAMS = ("register", "register_building", "register_household", "register_order", "register_unmatched", "register_encoding", "personal", "unit_head")


def register_options(func, roster: bool = True):
    """Household register options of ``partition`` (gridgeo.inputs.register), handed to the command as one ``register_opts`` dict.

    ``roster=False`` leaves out ``--personal`` and ``--unit-head`` (``validate`` writes no roster).
    """
    options = [
        click.option("--register", metavar="FILE", help="Household register (户籍/住户台账), one row per household: CSV (UTF-8, or GBK with --register-encoding gbk), .xlsx (FILE.xlsx:SHEET) or a GeoPackage table (FILE.gpkg:TABLE). Households per building come from it; units list its household ids."),
        click.option("--register-building", metavar="COL", help="Register column with the building id (the values of --building-id)."),
        click.option("--register-household", metavar="COL", help="Register column with the unique household id."),
        click.option("--register-order", metavar="COL[,COL…]", help="Register columns giving the walking order inside a building, outermost first (e.g. staircase,floor,door; natural sort: 2-10 after 2-9). Units split as few staircases, then floors, as the band allows."),
        click.option("--register-unmatched", type=click.Choice(("error", "keep")), default="error", show_default=True, help="Register rows whose building is not in BUILDINGS: an error naming the rows, or kept as unassigned households."),
        click.option("--register-encoding", metavar="ENC", callback=known_encoding, help="Text encoding of a CSV register (gbk, gb18030 for files saved by Chinese Excel; default: --encoding, else UTF-8)."),
        click.option("--personal", is_flag=True, help="Write the register's other (personal) columns to the csv/xlsx rosters, each file marked by a notice row. Without it no personal value is written anywhere."),
        click.option("--unit-head", metavar="COL", help="Personal register column that fills the units' 联户长 (unit head) column: its value for the first household of the unit that has one (needs --personal)."),
    ]
    if not roster:
        options = options[:-2]
    return _grouped(func, "register_opts", REGISTER_PARAMS, options)
