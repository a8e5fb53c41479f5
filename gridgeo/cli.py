"""The ``gridgeo`` command line: a click group of thin commands (read → library → write).

Commands: ``partition``, ``update``, ``apply-edits``, ``validate``, ``export``, ``map``, ``report``, ``print``, ``demo``.

Exit codes: 0 success; 1 the input has problems (``validate``); 2 a usage or
input error (one clear message, no traceback unless ``-v``); 3 an unexpected
internal error; 130 interrupted.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import click

from . import __version__
from .errors import AuditError, GridgeoError, InputError, Problem
from .messages import count, locale_lang, say, translate, translate_warning

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
    """The language of the messages: the command's ``--lang`` when the user set it, else the locale's."""
    obj = ctx.find_root().obj or {}
    lang = obj.get("lang") or locale_lang()
    if ctx.params.get("lang") in LANGS and ctx.get_parameter_source("lang") not in (None, click.core.ParameterSource.DEFAULT):
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
            click.echo(say("error", lang, text=exc), err=True)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gridgeo")
@click.option("-v", "--verbose", count=True, help="More messages (-vv for debugging); tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Split communities (社区) into governance grids (网格) and joint-household units (联户).

    Start with `gridgeo demo`, then `gridgeo partition --help`.
    """
    verbosity = -1 if quiet else verbose
    lang = locale_lang()
    ctx.obj = {"verbosity": verbosity, "lang": lang}
    ctx.obj["formatter"] = _configure_logging(verbosity, lang)


# -- shared options ------------------------------------------------------------------------------
_CONFIG_TO_PARAM = {"map": "make_map", "report": "make_report", "print": "make_print", "district_code_column": "county_code_column"}


def _load_config(ctx: click.Context, _param, value):
    if value:
        from .config import load_config

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


def input_options(func):
    """Options shared by commands that read communities and buildings."""
    options = [
        click.option("--households", metavar="COL", help="Buildings column with household counts (estimated from footprint × storeys when omitted)."),
        click.option("--community-id", metavar="COL", help="Communities id column (default: community_id, else row numbers)."),
        click.option("--building-id", metavar="COL", help="Buildings id column (checked for duplicates)."),
        click.option("--community-households", metavar="COL", help="Communities column with register totals; estimates are scaled to them."),
        click.option("--barriers", multiple=True, metavar="FILE", help="Line layer (roads, rivers, walls) grid boundaries should follow; repeatable; FILE.gpkg:LAYER picks a layer."),
        click.option("--encoding", metavar="ENC", help="Text encoding of input Shapefile DBFs (gbk, gb18030, …); overrides a .cpg."),
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
    """Options of the standard grid codes (gridgeo.standard_codes), handed to the command as one ``codes`` dict."""
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


def _check_database(database: dict | None) -> None:
    """--to and --schema go together, and the URL is one gridgeo can use (no password in it)."""
    if not database or not (database.get("to") or database.get("schema")):
        return
    if not database.get("to") or not database.get("schema"):
        raise InputError(Problem("--to/--schema", "one is given without the other", "give both: --to postgresql://USER@HOST:PORT/DB --schema NAME"))
    from .postgis import is_postgres, parse_postgres_url

    if not is_postgres(database["to"]):
        raise InputError(Problem("--to", f"{database['to']!r} is not a PostgreSQL URL", "write postgresql://USER@HOST:PORT/DB"))
    parse_postgres_url(database["to"])


def map_options(func):
    options = [
        click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True, help="Language of the map and report."),
        click.option("--basemap", type=click.Choice(BASEMAPS), default="osm", show_default=True, help="Map background (gaode shifts drawings to GCJ-02)."),
        click.option("--tianditu-key", metavar="KEY", envvar="TIANDITU_KEY", help="Tianditu (天地图) key for --basemap tianditu (or $TIANDITU_KEY)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def service_options(func):
    """Staffing, workload and service coverage options of ``partition`` (gridgeo.workload, gridgeo.coverage)."""
    from .defaults import DEFAULT_FACTOR, DEFAULT_HOUSEHOLDS_PER_HELPER, DEFAULT_LIMIT_MIN, DEFAULT_SPEED

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
    """Household register options of ``partition`` (gridgeo.register), handed to the command as one ``register_opts`` dict.

    ``roster=False`` leaves out ``--personal`` and ``--unit-head`` (``validate`` writes no roster).
    """
    options = [
        click.option("--register", metavar="FILE", help="Household register (户籍/住户台账), one row per household: CSV (UTF-8, or GBK with --register-encoding gbk), .xlsx (FILE.xlsx:SHEET) or a GeoPackage table (FILE.gpkg:TABLE). Households per building come from it; units list its household ids."),
        click.option("--register-building", metavar="COL", help="Register column with the building id (the values of --building-id)."),
        click.option("--register-household", metavar="COL", help="Register column with the unique household id."),
        click.option("--register-order", metavar="COL[,COL…]", help="Register columns giving the walking order inside a building, outermost first (e.g. staircase,floor,door; natural sort: 2-10 after 2-9). Units split as few staircases, then floors, as the band allows."),
        click.option("--register-unmatched", type=click.Choice(("error", "keep")), default="error", show_default=True, help="Register rows whose building is not in BUILDINGS: an error naming the rows, or kept as unassigned households."),
        click.option("--register-encoding", metavar="ENC", help="Text encoding of a CSV register (gbk, gb18030 for files saved by Chinese Excel; default: --encoding, else UTF-8)."),
        click.option("--personal", is_flag=True, help="Write the register's other (personal) columns to the csv/xlsx rosters, each file marked by a notice row. Without it no personal value is written anywhere."),
        click.option("--unit-head", metavar="COL", help="Personal register column that fills the units' 联户长 (unit head) column: its value for the first household of the unit that has one (needs --personal)."),
    ]
    if not roster:
        options = options[:-2]
    return _grouped(func, "register_opts", REGISTER_PARAMS, options)


def _read_register_options(opts: dict, encoding, formats, labels: dict):
    """Check the register options and read the register: (register frame or None, keyword options of gridgeo.partition)."""
    from .io import layer_label, split_layer_spec
    from .register import read_register

    if not opts.get("register"):
        given = [f"--{name.replace('_', '-')}" for name in REGISTER_PARAMS[1:] if opts.get(name) and name != "register_unmatched"]
        if given:
            raise InputError(Problem(", ".join(given), "given without --register", "add --register FILE (the household register)"))
        return None, {}
    problems = []
    if opts.get("unit_head") and not opts.get("personal"):
        problems.append(Problem("--unit-head", "fills the roster with personal data, so it needs --personal", "add --personal, or omit --unit-head"))
    if opts.get("personal") and not {"csv", "xlsx"} & set(formats):
        problems.append(Problem("--personal", "personal columns go only to the csv/xlsx rosters, and neither is written", "add --format csv,xlsx, or omit --personal"))
    path, layer = split_layer_spec(opts["register"])
    labels["register"] = layer_label(path, layer)
    frame = None
    try:
        frame = read_register(path, layer=layer, encoding=opts.get("register_encoding") or encoding)
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    return frame, {
        "register": frame,
        "register_building": opts.get("register_building"),
        "register_household": opts.get("register_household"),
        "register_order": opts.get("register_order"),
        "register_unmatched": opts.get("register_unmatched") or "error",
    }


def _check_register(opts: dict, buildings, building_id, households, encoding, labels: dict) -> tuple[list, list[str]]:
    """`validate --register`: the register's problems against BUILDINGS, and notes on what it holds."""
    from .register import match_register, prepare_register

    try:
        frame, _ = _read_register_options(opts, encoding, (), labels)
    except InputError as exc:
        return exc.problems, []
    if frame is None:
        return [], []
    problems = []
    if building_id is None:
        problems.append(Problem(labels["register"], "a register needs the buildings' id column", "pass --building-id COL"))
    if households:
        problems.append(Problem("--households", f"'{households}' given with a register, which gives the households per building", "omit --households when a register is given"))
    try:
        checked = prepare_register(frame, building=opts.get("register_building"), household=opts.get("register_household"), order=opts.get("register_order"), label=labels["register"])
        if building_id is None or buildings is None or building_id not in buildings.columns:
            return problems, []
        matched = match_register(
            checked, buildings[building_id].to_numpy(), unmatched=opts.get("register_unmatched") or "error", buildings_label=labels.get("buildings", "buildings"), building_column=building_id
        )
    except InputError as exc:
        return problems + exc.problems, []
    notes = [
        f"{labels['register']}: {int(matched.counts.sum())} households in {int((matched.counts > 0).sum())} buildings; "
        f"{len(matched.buildings_without)} buildings without households; {len(matched.unmatched)} unassigned households; "
        f"personal columns (left out of shared outputs): {', '.join(checked.personal_columns) or 'none'}"
    ]
    return problems, notes + matched.notes


def _register_config(opts: dict) -> dict:
    """The register settings recorded in config.toml (a path and column names: no personal value)."""
    if not opts.get("register"):
        return {}
    return {
        "register": _absolute(opts["register"]),
        "register_building": opts.get("register_building"),
        "register_household": opts.get("register_household"),
        "register_order": opts.get("register_order"),
        "register_unmatched": opts.get("register_unmatched") or "error",
        "register_encoding": opts.get("register_encoding"),
        "personal": bool(opts.get("personal")),
        "unit_head": opts.get("unit_head"),
    }


def _read_services(roads, service_centres, centre_id, centre_name, encoding, communities):
    """Read and check the roads and service centres before the run; build the walking network once."""
    from .coverage import prepare_centres
    from .crs import local_metric_crs
    from .io import layer_label, read_layer, split_layer_spec
    from .network import build_road_network

    problems, road_frames, centres = [], [], None
    for spec in roads:
        path, layer = split_layer_spec(spec)
        try:
            road_frames.append(read_layer(path, layer=layer, encoding=encoding))
        except InputError as exc:
            problems += exc.problems
    if service_centres:
        path, layer = split_layer_spec(service_centres)
        label = layer_label(path, layer)
        try:
            centres = prepare_centres(read_layer(path, layer=layer, encoding=encoding), id_column=centre_id, name_column=centre_name, label=label)
        except InputError as exc:
            problems += exc.problems
    elif centre_id or centre_name:
        problems.append(Problem("--centre-id/--centre-name", "given without --service-centres", "add --service-centres FILE"))
    network = None
    if road_frames and not problems:
        labels = [layer_label(*split_layer_spec(spec)) for spec in roads]
        try:
            network = build_road_network(road_frames, crs=local_metric_crs(communities), labels=labels)
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return network, centres


def _add_services(result, network, centres, *, households_per_helper, workload_factor, walk_speed, walk_limit):
    """Workload along the roads and with the chosen settings (partition() used the defaults), and coverage."""
    from .coverage import add_coverage
    from .workload import DEFAULT_FACTOR, DEFAULT_HOUSEHOLDS_PER_HELPER, add_workload

    if network is not None or households_per_helper != DEFAULT_HOUSEHOLDS_PER_HELPER or workload_factor != DEFAULT_FACTOR:
        result = add_workload(result, roads=network, households_per_helper=households_per_helper, factor=workload_factor)
    if centres is not None:
        result = add_coverage(result, centres, roads=network, speed=walk_speed, limit_min=walk_limit)
    return result


def _record_service_sources(result, roads, service_centres, centre_id=None, centre_name=None) -> None:
    """Name the road and service-centre files in ``report["parameters"]``, so `gridgeo update` measures with them again."""
    params = dict(result.report.get("parameters", {}))
    params["roads"] = [_absolute(spec) for spec in roads]
    params["service_centres"] = _absolute(service_centres) if service_centres else params.get("service_centres")
    params["centre_id"] = centre_id if service_centres else params.get("centre_id")
    params["centre_name"] = centre_name if service_centres else params.get("centre_name")
    result.report["parameters"] = params


def _living_services(previous: Path, roads, service_centres, encoding):
    """Roads and service centres for `update` / `apply-edits`: the flags, else (roads) the config.toml of a plan whose
    report records none; None leaves the choice to the library (the files or layer the plan recorded).

    Returns the road file specs used, the road layers and the prepared centres.
    """
    import json

    from .coverage import prepare_centres
    from .io import read_layer, split_layer_spec

    recorded = {}
    if (previous / "report.json").exists():
        try:
            recorded = json.loads((previous / "report.json").read_text(encoding="utf-8")).get("parameters", {})
        except (OSError, ValueError):
            recorded = {}
    if not roads and "roads" not in recorded:
        roads = tuple(_saved_config(previous).get("roads", ()))
    road_frames = [read_layer(split_layer_spec(spec)[0], layer=split_layer_spec(spec)[1], encoding=encoding) for spec in roads] or None
    centres = None
    if service_centres:
        path, layer = split_layer_spec(service_centres)
        centres = prepare_centres(read_layer(path, layer=layer, encoding=encoding), id_column=recorded.get("centre_id"), name_column=recorded.get("centre_name"))
    return tuple(roads), road_frames, centres


def _read_inputs(communities: str, buildings: str, barriers, encoding: str | None, points: dict | None = None):
    from .io import is_table, layer_label, read_layer, read_point_table, split_layer_spec

    frames = []
    labels = {}
    problems = []  # every unreadable file is reported at once
    points = {name: value for name, value in (points or {}).items() if value is not None}
    for key, spec in (("communities", communities), ("buildings", buildings)):
        path, layer = split_layer_spec(spec)
        labels[key] = layer_label(path, layer)
        try:
            if key == "buildings" and is_table(path):
                frames.append(read_point_table(path, sheet=layer, encoding=encoding, **points))
                continue
            if key == "buildings" and points:
                given = ", ".join(f"--{name}" for name in points)
                raise InputError(Problem(labels[key], f"is a map layer with its own geometry and CRS, so {given} do not apply", "leave them out: they describe a BUILDINGS table (CSV, XLSX) of points"))
            frames.append(read_layer(path, layer=layer, encoding=encoding))
        except InputError as exc:
            problems += exc.problems
    barrier_frames = []
    for spec in barriers:
        path, layer = split_layer_spec(spec)
        try:
            barrier_frames.append(read_layer(path, layer=layer, encoding=encoding))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    labels["barriers"] = ", ".join(layer_label(*split_layer_spec(s)) for s in barriers) or "barriers"
    return frames[0], frames[1], barrier_frames, labels


def _read_areas(dedicated: str | None, compounds: str | None, encoding: str | None):
    """The --dedicated layer (or CSV of building ids) and the --compounds layer, None when not given."""
    import pandas as pd

    from .io import read_layer, split_layer_spec

    frames = []
    problems = []
    for spec in (dedicated, compounds):
        if not spec:
            frames.append(None)
            continue
        path, layer = split_layer_spec(spec)
        try:
            if path.lower().endswith(".csv") and spec is dedicated:
                if not Path(path).exists():
                    raise InputError(Problem(path, "file not found", "check the path"))
                frames.append(pd.read_csv(path, dtype=str, encoding=encoding or "utf-8-sig"))
            else:
                frames.append(read_layer(path, layer=layer, encoding=encoding))
        except InputError as exc:
            problems += exc.problems
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            problems.append(Problem(path, f"cannot be read as CSV ({exc})", "save it as UTF-8 CSV with a header row"))
    if problems:
        raise InputError(problems)
    return frames[0], frames[1]


def _data_options(households, community_id, building_id, community_households, barrier_frames, labels) -> dict:
    """Keyword options shared by gridgeo.partition and gridgeo.validate.prepare_inputs."""
    return {
        "households": households,
        "community_id": community_id,
        "building_id": building_id,
        "community_households": community_households,
        "barriers": barrier_frames or None,
        "labels": labels,
    }


def _absolute(spec: str) -> str:
    """``file[:layer]`` with the file made absolute, so a saved config works from any folder."""
    from .io import split_layer_spec

    if spec.lower().startswith(("postgresql://", "postgres://")):
        return spec  # a database table (its URL holds no password)
    path, layer = split_layer_spec(spec)
    full = str(Path(path).resolve())
    return f"{full}:{layer}" if layer else full


def _check_output(output: str, overwrite: bool, specs) -> None:
    """Refuse an OUTDIR that holds an input (replacing it would delete the input) or may not be replaced."""
    from .export import check_output_folder
    from .io import split_layer_spec

    out = Path(output).resolve()
    for spec in specs:
        path = Path(split_layer_spec(spec)[0]).resolve()
        if path == out or out in path.parents:
            raise InputError(
                Problem("-o/--output", f"{output} holds the input file {path.name}; writing there would replace it", "write the output to another folder")
            )
    check_output_folder(output, overwrite, overwrite_hint="--overwrite")


def _lines_layer(frames, crs):
    """Barrier layers as one GeoDataFrame of geometries in ``crs`` (for drawing)."""
    import geopandas as gpd
    import pandas as pd

    parts = [gpd.GeoDataFrame(geometry=f.to_crs(crs).geometry.to_numpy(), crs=crs) for f in frames]
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)


def _formats(values) -> list[str]:
    chosen = []
    for value in values or ():
        for item in str(value).split(","):
            item = item.strip().lower()
            if not item:
                continue
            if item not in FORMATS:
                raise InputError(Problem("--format", f"unknown format '{item}'", f"use {', '.join(FORMATS)}"))
            if item not in chosen:
                chosen.append(item)
    return chosen


def _writers(formats, *, make_map, make_report, lang, basemap, tianditu_key, barriers, shp_encoding, make_print=False, print_attribution=None, progress=False, service_centres=None, personal=None, unit_head=None):
    """The extra outputs of a run, each written into the staging folder."""
    writers = []
    if "shp" in formats:
        from .shapefile import write_shapefiles

        writers.append(lambda result, folder: write_shapefiles(result, folder / "shp", encoding=shp_encoding))
    if "csv" in formats or "xlsx" in formats:
        from .roster import write_roster

        if personal is None:
            writers.append(lambda result, folder: write_roster(result, folder, lang=lang))
        else:  # a register's personal columns: only here, with --personal
            writers.append(lambda result, folder: write_roster(result, folder, lang=lang, personal=personal, unit_head=unit_head))
    if make_report:
        from .report import write_report

        writers.append(lambda result, folder: write_report(result, folder, lang=lang))
    if make_map:
        from .maps import write_maps

        writers.append(
            lambda result, folder: write_maps(
                result, folder, lang=lang, basemap=basemap, tianditu_key=tianditu_key, barriers=barriers, service_centres=service_centres
            )
        )
    if make_print:
        from .printmap import write_print_maps

        writers.append(lambda result, folder: write_print_maps(result, folder, lang=lang, data_attribution=print_attribution, progress=progress))
    return tuple(writers)


# -- partition -------------------------------------------------------------------------------------
@main.command()
@click.argument("communities", metavar="COMMUNITIES", required=False)
@click.argument("buildings", metavar="BUILDINGS", required=False)
@click.option("--config", type=click.Path(dir_okay=False), callback=_load_config, is_eager=True, expose_value=False, help="TOML file with the same keys as these options (flags win).")
@click.option("-o", "--output", metavar="OUTDIR", type=click.Path(file_okay=False), help="Output folder.")
@input_options
@click.option("--grid-size", default="300:500", show_default=True, metavar="MIN:MAX", help="Household band of a grid.")
@click.option("--unit-size", default="10:15", show_default=True, metavar="MIN:MAX", help="Household band of a joint unit.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random choices.")
@click.option("--dedicated", metavar="FILE", help="Dedicated facilities (专属网格): polygons with a type column, or a CSV of building ids (--building-id column) with a type; each becomes its own grid.")
@click.option("--dedicated-type", default="type", show_default=True, metavar="COL", help="Column of --dedicated with the facility type (school, hospital, mall, enterprise, campus, market).")
@click.option("--compounds", metavar="FILE", help="Residential compound (小区) polygons: a compound that fits the band's maximum is never split.")
@click.option("--format", "formats", multiple=True, metavar="FMT", help="Extra exports: shp, csv, xlsx (GeoPackage and GeoJSON are always written); repeatable or comma-separated.")
@click.option("--shp-encoding", default=None, metavar="ENC", help="Encoding of exported Shapefiles (default utf-8, or --encoding when given; gbk for older Chinese GIS software).")
@click.option("--map/--no-map", "make_map", default=True, show_default=True, help="Write map.html.")
@click.option("--report/--no-report", "make_report", default=True, show_default=True, help="Write report.html.")
@click.option("--print/--no-print", "make_print", default=False, show_default=True, help="Write print/<community>.png and .pdf: A3 notice maps (公示图), about 1-2 s per community.")
@click.option("--print-attribution", metavar="TEXT", help="Source and licence of the input data, printed in the footer of the --print maps.")
@map_options
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes working on communities in parallel (default: all cores); results do not depend on it.")
@click.option("--scheduler", metavar="ADDRESS", help="Run the communities on a Dask distributed cluster (tcp://host:8786).")
@click.option("--overwrite", is_flag=True, help="Replace OUTDIR if it exists.")
@click.option("--progress/--no-progress", default=None, help="Progress bar per community (default: when stderr is a terminal).")
@click.option("--timings", "timings_file", metavar="FILE.json", hidden=True, help="Write the wall time of each stage to FILE.json, outside OUTDIR (for benchmarks; the outputs do not change).")
@code_options
@service_options
@point_table_options
@database_options
@register_options
@_handle_errors
def partition(communities, buildings, output, households, community_id, building_id, community_households, barriers, encoding, grid_size, unit_size, seed, dedicated, dedicated_type, compounds, formats, shp_encoding, make_map, make_report, make_print, print_attribution, lang, basemap, tianditu_key, workers, scheduler, overwrite, progress, codes, points, database, timings_file=None, **services):
    """Partition COMMUNITIES into grids using BUILDINGS, writing OUTDIR.

    COMMUNITIES and BUILDINGS are Shapefiles, GeoJSON, GeoPackage (FILE.gpkg:LAYER),
    GeoParquet or zipped Shapefiles, or PostGIS tables (postgresql://USER@HOST:PORT/DB#SCHEMA.TABLE);
    BUILDINGS may also be a CSV or XLSX table of points (--x/--y or --wkt, --crs).
    OUTDIR receives partition.gpkg, gridgeo.qgz, grids.geojson, buildings.geojson,
    units.geojson, report.json, report.html, map.html and config.toml.
    """
    from . import timings

    started = timings.process_age()
    mark = time.perf_counter()
    timings.take()
    from .api import partition as run_partition
    from .config import dump_config
    from .export import write_outputs
    from .parallel import default_workers

    mark = timings.lap("start-up", mark)

    missing = [name for name, value in (("COMMUNITIES", communities), ("BUILDINGS", buildings), ("-o/--output", output)) if not value]
    if missing:
        raise InputError(Problem("command line", f"missing {', '.join(missing)}", "give them as arguments or in --config"))
    _check_output(output, overwrite, [communities, buildings, *barriers, *(spec for spec in (dedicated, compounds) if spec), *services["roads"], *filter(None, [services["service_centres"]])])
    chosen = _formats(formats)
    _check_database(database)
    if database.get("to"):
        from .postgis import check_postgis_target

        check_postgis_target(database["to"], schema=database["schema"], overwrite=overwrite)  # before the run, not after it
    if basemap == "tianditu" and not tianditu_key and make_map:
        raise InputError(Problem("--basemap tianditu", "needs a Tianditu key", "pass --tianditu-key KEY (or set TIANDITU_KEY), or use --basemap osm"))
    if timings_file:
        _check_timings_file(timings_file, output)
    if make_print:
        from .printmap import check_fonts

        check_fonts(lang)  # before the run, not after it
    register_opts = services.pop("register_opts")
    if register_opts.get("register"):
        _check_output(output, overwrite, [register_opts["register"]])
    comm, bldg, barrier_frames, labels = _read_inputs(communities, buildings, barriers, encoding, points)
    register_frame, register_kwargs = _read_register_options(register_opts, encoding, chosen, labels)
    dedicated_frame, compound_frame = _read_areas(dedicated, compounds, encoding)
    network, centres = _read_services(services["roads"], services["service_centres"], services["centre_id"], services["centre_name"], encoding, comm)
    mark = timings.lap("read and checks", mark)
    if progress is None:
        progress = sys.stderr.isatty() and logger.getEffectiveLevel() <= logging.WARNING
    result = run_partition(
        comm,
        bldg,
        **_data_options(households, community_id, building_id, community_households, barrier_frames, labels),
        grid_size=grid_size,
        unit_size=unit_size,
        seed=seed,
        dedicated=dedicated_frame,
        dedicated_type=dedicated_type,
        compounds=compound_frame,
        progress=progress,
        workers=workers or default_workers(),
        scheduler=scheduler,
        **codes,
        **register_kwargs,
    )
    mark = time.perf_counter()  # gridgeo.partition times its own stages
    result = _add_services(
        result, network, centres, **{k: services[k] for k in ("households_per_helper", "workload_factor", "walk_speed", "walk_limit")}
    )
    mark = timings.lap("workload", mark)
    _record_service_sources(result, services["roads"], services["service_centres"], services["centre_id"], services["centre_name"])
    resolved = {
        "communities": _absolute(communities),
        "buildings": _absolute(buildings),
        "output": str(Path(output).resolve()),
        "households": households,
        "community_id": community_id,
        "building_id": building_id,
        "community_households": community_households,
        "barriers": [_absolute(spec) for spec in barriers],
        "dedicated": _absolute(dedicated) if dedicated else None,
        "dedicated_type": dedicated_type,
        "compounds": _absolute(compounds) if compounds else None,
        "encoding": encoding,
        "shp_encoding": shp_encoding,
        "grid_size": grid_size,
        "unit_size": unit_size,
        "seed": seed,
        "formats": chosen,
        "map": make_map,
        "report": make_report,
        "print": make_print,
        "print_attribution": print_attribution,
        "lang": lang,
        "basemap": basemap,
        **codes,
        **points,
        **database,
        "roads": [_absolute(spec) for spec in services["roads"]],
        "service_centres": _absolute(services["service_centres"]) if services["service_centres"] else None,
        "centre_id": services["centre_id"],
        "centre_name": services["centre_name"],
        "households_per_helper": services["households_per_helper"],
        "workload_factor": services["workload_factor"],
        "walk_speed": services["walk_speed"],
        "walk_limit": services["walk_limit"],
        **_register_config(register_opts),
    }
    personal = None
    if register_frame is not None and register_opts.get("personal"):
        from .register import personal_table, prepare_register

        checked = prepare_register(register_frame, building=register_opts["register_building"], household=register_opts["register_household"], order=register_opts["register_order"])
        personal = personal_table(register_frame, checked)
    barrier_layer = None
    if barrier_frames:
        barrier_layer = _lines_layer(barrier_frames, comm.crs)
    writers = _writers(
        chosen,
        make_map=make_map,
        make_report=make_report,
        lang=lang,
        basemap=basemap,
        tianditu_key=tianditu_key,
        barriers=barrier_layer,
        shp_encoding=shp_encoding or encoding or "utf-8",
        make_print=make_print,
        print_attribution=print_attribution,
        progress=progress,
        service_centres=centres,
        personal=personal,
        unit_head=register_opts.get("unit_head"),
    )
    mark = timings.lap("other", mark)
    with timings.stage("other writing"):
        write_outputs(result, output, overwrite=overwrite, extra={"config.toml": dump_config(resolved)}, writers=writers)
    if database.get("to"):
        from .postgis import write_postgis

        tables = write_postgis(result, database["to"], schema=database["schema"], overwrite=overwrite)
        if logger.getEffectiveLevel() <= logging.WARNING:
            click.echo(f"{len(tables)} tables written into PostgreSQL schema {database['schema']}: {', '.join(tables)}", err=True)
    mark = time.perf_counter()
    if timings_file:
        _write_timings(timings_file, started, mark, result, workers or default_workers())
    s = result.report["summary"]
    logger.info("notes: %s", "; ".join(result.report["notes"]))
    if logger.getEffectiveLevel() <= logging.WARNING:
        proven = s.get("n_defects_proven_infeasible", 0)
        lang = _lang()
        n = {"grids": s["n_grids"], "units": s.get("n_units", 0), "buildings": s["n_buildings"], "households": s["households"],
             "communities": s["n_communities"], "excused": s["n_excused"], "defects": s["n_defects"], "proven": proven}
        click.echo(say(
            "partition_summary", lang, output=output, estimated=say("estimated", lang) if s["households_estimated"] else "",
            grids=count(n["grids"], "grid"), units=count(n["units"], "joint unit"), buildings=count(n["buildings"], "building"),
            households=count(n["households"], "household"), communities=count(n["communities"], "community", "communities"),
            excused=count(n["excused"], "grid"), defects=count(n["defects"], "defect"), proven=proven, **{f"n_{k}": v for k, v in n.items()},
        ))  # the summary on stdout, warnings on stderr
        if make_map:
            click.echo(say("wrote_map", lang, path=Path(output) / "map.html"))
        if make_print:
            click.echo(say("wrote_print", lang, path=Path(output) / "print"))
        click.echo(_services_summary(result.report, lang))


def _check_timings_file(path: str, output: str) -> None:
    """Refuse a --timings file inside OUTDIR: the outputs must not depend on timing."""
    target, out = Path(path).resolve(), Path(output).resolve()
    if target == out or out in target.parents:
        raise InputError(Problem("--timings", f"{path} is inside the output folder {output}", "write the timings outside OUTDIR"))


def _write_timings(path: str, started: float | None, mark: float, result, workers: int) -> None:
    """The stage times of this run (``gridgeo.timings``) as JSON: parent stages in order, the workers' summed."""
    import json
    import time as clock

    from . import timings

    seconds = timings.take()
    stages = {k: v for k, v in seconds.items() if not k.startswith(("workers: ", "side by side: "))}
    stages["start-up"] = stages.get("start-up", 0.0) + (started or 0.0)  # the interpreter and `import gridgeo` too
    record = {
        "start_up_before_command_s": started,
        "stages_s": stages,
        "side_by_side_s": {k[len("side by side: ") :]: v for k, v in seconds.items() if k.startswith("side by side: ")},
        "workers_s": {k[len("workers: ") :]: v for k, v in seconds.items() if k.startswith("workers: ")},
        "workers": workers,
        "buildings": int(len(result.buildings)),
        "communities": int(len(result.communities)),
        "grids": int(len(result.grids)),
        "process_s": timings.process_age(),
        "command_s": clock.perf_counter() - mark + sum(stages.values()),
    }
    Path(path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _services_summary(report: dict, lang: str = "en") -> str:
    """One line on the teams, workload flags and (when measured) the walks to service centres."""
    w, c = report.get("workload", {}), report.get("coverage")
    helpers, flagged = w.get("helpers", 0), w.get("n_flagged", 0)
    text = say("services_summary", lang, helpers=count(helpers, "helper"), flagged=count(flagged, "grid"), n_helpers=helpers, n_flagged=flagged)
    if c:
        text += say("coverage_summary", lang, flagged=count(c["n_flagged"], "grid"), n_flagged=c["n_flagged"], limit=f"{c['limit_min']:g}",
                    centres=count(c["n_centres"], "service centre"), n_centres=c["n_centres"])
    return text


# -- update ---------------------------------------------------------------------------------------------
@main.command("update")
@click.argument("previous", metavar="PREVIOUS_OUTDIR", type=click.Path(file_okay=False))
@click.option("--buildings", "buildings", required=True, metavar="FILE", help="The complete new building layer (same columns as the previous run's input).")
@click.option("-o", "--output", required=True, metavar="OUTDIR", type=click.Path(file_okay=False), help="Output folder of the updated plan.")
@click.option("--barriers", multiple=True, metavar="FILE", help="Barrier lines for re-partitioned grids (default: the previous run's, from its config.toml).")
@click.option("--roads", multiple=True, metavar="FILE", help="Roads for the walking tours and walks (default: the ones the previous run recorded).")
@click.option("--service-centres", metavar="FILE", help="Service centres for the walks (default: the previous run's).")
@click.option("--encoding", metavar="ENC", help="Text encoding of an input Shapefile DBF (gbk, gb18030, …).")
@click.option("--format", "formats", multiple=True, metavar="FMT", help="Extra exports: shp, csv, xlsx.")
@click.option("--map/--no-map", "make_map", default=True, show_default=True, help="Write map.html.")
@click.option("--report/--no-report", "make_report", default=True, show_default=True, help="Write report.html.")
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language of the map and report (default: the previous run's).")
@click.option("--overwrite", is_flag=True, help="Replace OUTDIR if it exists.")
@register_options
@_handle_errors
def update_command(previous, buildings, output, barriers, roads, service_centres, encoding, formats, make_map, make_report, lang, overwrite, register_opts=None):
    """Update the plan in PREVIOUS_OUTDIR for a new building layer, writing OUTDIR.

    Unchanged grids keep their polygons and codes; only grids whose buildings or
    households changed (and as few neighbours as needed) are re-drawn.  OUTDIR also
    receives changes.json (grids added, retired, reshaped; buildings moved; the
    share of households whose grid changed); report.json names the parent run.
    Compounds of the previous run stay whole where grids are re-drawn, and the
    team, workload and walk columns are measured again as the previous run did.
    A plan made with a household register needs the register as it is now
    (--register; its column options default to the previous run's): every
    household still in its grid keeps its unit where the unit band allows, and
    changes.json lists the households that changed unit.
    """
    from .export import write_outputs
    from .io import is_table, layer_label, read_layer, read_point_table, split_layer_spec
    from .update import update

    prev = Path(previous)
    if prev.resolve() == Path(output).resolve():
        raise InputError(Problem("-o/--output", f"{output} is PREVIOUS_OUTDIR; writing there would replace the plan being updated", "write the update to a new folder"))
    register_opts = register_opts or {}
    _check_output(output, overwrite, [buildings, *barriers, *roads, *filter(None, [service_centres, register_opts.get("register")])])
    chosen = _formats(formats)
    saved = _saved_config(prev)
    register_labels: dict = {}
    register_frame, register_kwargs = _read_register_options(register_opts, encoding, chosen, register_labels)
    if register_kwargs and click.get_current_context().get_parameter_source("register_unmatched") == click.core.ParameterSource.DEFAULT:
        register_kwargs["register_unmatched"] = None  # as the previous run recorded it
    barriers = barriers or tuple(saved.get("barriers", ()))
    path, layer = split_layer_spec(buildings)
    if is_table(path):  # a table of points, read as the previous run read its own (--x/--y/--wkt/--crs in its config.toml)
        recorded = {name: saved[name] for name in POINT_PARAMS if saved.get(name) is not None}
        if not recorded.get("wkt") and not (recorded.get("x") and recorded.get("y")):
            raise InputError(Problem(layer_label(path, layer), "is a table, and the previous run read its buildings from a map layer (no --x/--y or --wkt in its config.toml)", "give the new buildings as the same kind of layer as before"))
        frame = read_point_table(path, sheet=layer, encoding=encoding, **recorded)
    else:
        frame = read_layer(path, layer=layer, encoding=encoding)
    barrier_frames = [read_layer(split_layer_spec(spec)[0], layer=split_layer_spec(spec)[1], encoding=encoding) for spec in barriers]
    road_specs, road_frames, centres = _living_services(prev, roads, service_centres, encoding)
    result = update(
        prev, frame, barriers=barrier_frames or None, roads=road_frames, service_centres=centres,
        labels={"buildings": layer_label(path, layer), "communities": f"{previous}/partition.gpkg:communities", **register_labels},
        **register_kwargs,
    )
    personal, register_config = _update_register_outputs(result, register_frame, register_opts)
    if road_specs or service_centres:
        _record_service_sources(result, road_specs, service_centres, result.report["parameters"].get("centre_id"), result.report["parameters"].get("centre_name"))
    lang = lang or saved.get("lang", "zh")
    writers = _writers(
        chosen, make_map=make_map, make_report=make_report, lang=lang, basemap=saved.get("basemap", "osm") if os.environ.get("TIANDITU_KEY") or saved.get("basemap") != "tianditu" else "osm",
        tianditu_key=os.environ.get("TIANDITU_KEY"), barriers=_lines_layer(barrier_frames, result.grids.crs) if barrier_frames else None, shp_encoding=encoding or "utf-8",
        personal=personal, unit_head=register_opts.get("unit_head"),
    )
    carried = _carried_config(
        saved, output, lang=lang, buildings=_absolute(buildings), barriers=[_absolute(spec) for spec in barriers], roads=roads, service_centres=service_centres,
        **register_config,
    )
    write_outputs(result, output, overwrite=overwrite, writers=writers, extra={"config.toml": carried})
    c = result.changes
    if logger.getEffectiveLevel() <= logging.WARNING:
        n = {"added": len(c["grids_added"]), "retired": len(c["grids_retired"]), "reshaped": len(c["grids_reshaped"]),
             "modified": len(c["grids_modified"]), "moved": len(c["buildings_moved"]), "households": c["households_moved"],
             "bound": c.get("households_moved_lower_bound", 0)}
        click.echo(say(
            "update_summary", _lang(), output=output, share=100 * c["share_households_moved"], added=count(n["added"], "grid") + "",
            retired=str(n["retired"]), reshaped=str(n["reshaped"]), modified=str(n["modified"]), moved=count(n["moved"], "building"),
            households=count(n["households"], "household"), **{f"n_{k}": v for k, v in n.items()},
        ))
        if "households_kept_in_unit" in c:
            click.echo(_units_summary(c))


def _update_register_outputs(result, frame, opts: dict) -> tuple:
    """`update --register`: the personal columns for the rosters (with --personal) and the register's config.toml entries."""
    if frame is None:
        return None, {}
    from .register import personal_table, prepare_register

    used = result.report["parameters"]
    order = used.get("register_order") or []
    personal = None
    if opts.get("personal"):
        checked = prepare_register(frame, building=used["register_building"], household=used["register_household"], order=order)
        personal = personal_table(frame, checked)
    config = {
        **_register_config(opts),
        "register_building": used.get("register_building"),
        "register_household": used.get("register_household"),
        "register_order": ",".join(order) or None,
        "register_unmatched": used.get("register_unmatched"),
    }
    return personal, config


def _units_summary(changes: dict) -> str:
    """The joint-unit line of `update` / `apply-edits` on a register plan."""
    moved = len(changes["households_moved_units"])
    return say(
        "units_summary", _lang(), compared=str(changes["households_compared_units"]),
        moved=count(moved, "household"), added=str(len(changes["register_households_added"])), removed=str(len(changes["register_households_removed"])),
        n_kept=changes["households_kept_in_unit"], n_moved=moved,
    )


def _carried_config(saved: dict, output, *, lang, roads=(), service_centres=None, **changes) -> str:
    """The parent run's config.toml for a derived plan (update, apply-edits), so the next update in a chain
    finds the same barriers, roads, language and map settings."""
    from .config import dump_config

    config = {**saved, **changes, "output": str(Path(output).resolve()), "lang": lang}
    if roads:
        config["roads"] = [_absolute(spec) for spec in roads]
    if service_centres:
        config["service_centres"] = _absolute(service_centres)
    return dump_config({k: v for k, v in config.items() if v is not None})


# -- apply-edits -----------------------------------------------------------------------------------------
@main.command("apply-edits")
@click.argument("previous", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.argument("edits", metavar="EDITS.csv", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, metavar="NEW", type=click.Path(file_okay=False), help="Output folder of the edited plan.")
@click.option("--format", "formats", multiple=True, metavar="FMT", help="Extra exports: shp, csv, xlsx.")
@click.option("--map/--no-map", "make_map", default=True, show_default=True, help="Write map.html.")
@click.option("--report/--no-report", "make_report", default=True, show_default=True, help="Write report.html.")
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language of the map, report and messages (default: the run's).")
@click.option("--roads", multiple=True, metavar="FILE", help="Roads for the walking tours and walks (default: the ones the plan recorded).")
@click.option("--service-centres", metavar="FILE", help="Service centres for the walks (default: the plan's).")
@click.option("--overwrite", is_flag=True, help="Replace NEW if it exists.")
@_handle_errors
def apply_edits_command(previous, edits, output, formats, make_map, make_report, lang, roads, service_centres, overwrite):
    """Apply a planner's edits in EDITS.csv to the plan in OUTDIR, writing NEW.

    EDITS.csv has the header building_code,grid_code[,action]: a row moves (pins)
    the building into the grid (a new code such as 003-09 creates a grid); action
    lock (or unlock) with an empty building_code locks a whole grid against
    `gridgeo update`.  Only the grids the moves touch are re-drawn; every edit is
    kept, and each constraint it breaks (band, one piece) is flagged and listed in
    NEW/edits.json.
    """
    from .edits import apply_edits, broken_summary
    from .export import write_outputs

    prev = Path(previous)
    if prev.resolve() == Path(output).resolve():
        raise InputError(Problem("-o/--output", f"{output} is OUTDIR; writing there would replace the plan being edited", "write the edited plan to a new folder"))
    _check_output(output, overwrite, [edits, previous, *roads, *filter(None, [service_centres])])
    chosen = _formats(formats)
    saved = _saved_config(prev)
    road_specs, road_frames, centres = _living_services(prev, roads, service_centres, None)
    result = apply_edits(prev, edits, roads=road_frames, service_centres=centres)
    if road_specs or service_centres:
        _record_service_sources(result, road_specs, service_centres, result.report["parameters"].get("centre_id"), result.report["parameters"].get("centre_name"))
    lang = lang or saved.get("lang", "zh")
    writers = _writers(
        chosen, make_map=make_map, make_report=make_report, lang=lang, basemap="osm" if saved.get("basemap") == "tianditu" and not os.environ.get("TIANDITU_KEY") else saved.get("basemap", "osm"),
        tianditu_key=os.environ.get("TIANDITU_KEY"), barriers=None, shp_encoding="utf-8",
    )
    carried = _carried_config(saved, output, lang=lang, roads=roads, service_centres=service_centres)
    write_outputs(result, output, overwrite=overwrite, writers=writers, extra={"config.toml": carried})
    record = result.edits
    if logger.getEffectiveLevel() <= logging.WARNING:
        moved = sum(1 for m in record["moves"] if m["from"] != m["to"])
        pinned = len(result.report.get("pinned_buildings", {}))  # a move pins too; earlier edits' pins stay
        n = {"moved": moved, "stayed": len(record["moves"]) - moved, "pinned": pinned, "locked": len(record["locked"]), "redrawn": len(record["grids_redrawn"]),
             "created": len(record["grids_created"]), "retired": len(record["grids_retired"]), "broken": len(record["broken_constraints"])}
        words = _lang()
        click.echo(say(
            "edits_summary", words, output=output, moved=count(n["moved"], "building"), stayed=str(n["stayed"]), pinned=str(n["pinned"]),
            locked=count(n["locked"], "grid"), redrawn=count(n["redrawn"], "grid"), created=str(n["created"]), retired=str(n["retired"]),
            broken=count(n["broken"], "broken constraint"), **{f"n_{k}": v for k, v in n.items()},
        ))
        for line in broken_summary(result, words):
            click.echo(say("kept", words, text=line))
        if "households_kept_in_unit" in result.changes:
            click.echo(_units_summary(result.changes))


# -- validate ---------------------------------------------------------------------------------------
@main.command()
@click.argument("communities", metavar="COMMUNITIES")
@click.argument("buildings", metavar="BUILDINGS")
@input_options
@click.option("--grid-size", default="300:500", show_default=True, metavar="MIN:MAX", help="Household band of a grid (decides which compounds fit in one grid).")
@click.option("--dedicated", metavar="FILE", help="Dedicated facilities to check: polygons with a type column, or a CSV of building ids with a type.")
@click.option("--dedicated-type", default="type", show_default=True, metavar="COL", help="Column of --dedicated with the facility type.")
@click.option("--compounds", metavar="FILE", help="Residential compound (小区) polygons to check.")
@code_options
@point_table_options
@functools.partial(register_options, roster=False)
@_handle_errors
def validate(communities, buildings, households, community_id, building_id, community_households, barriers, encoding, grid_size, dedicated, dedicated_type, compounds, codes, points, register_opts=None):
    """Check COMMUNITIES and BUILDINGS (and the facility, compound and code options) without partitioning.

    Every problem is listed at once, then every note (each once); exit 1 when
    there are problems.  Overlapping communities are a problem: their grids
    would overlap too.
    """
    with _HeldWarnings() as held:
        problems, prep, register_notes = _validate(communities, buildings, households, community_id, building_id, community_households, barriers, encoding, grid_size, dedicated, dedicated_type, compounds, codes, points, register_opts)
    problem_texts = {str(problem) for problem in problems}
    notes = [note for note in (prep.notes if prep is not None else []) + register_notes if note not in problem_texts]
    held.release(problem_texts | set(notes))
    if problems:
        click.echo(say("problems", _lang(), problems=count(len(problems), "problem"), n=len(problems)))
        for problem in problems:
            click.echo(f"  - {problem}")
    else:
        n = {"communities": len(prep.communities), "buildings": len(prep.buildings), "unassigned": len(prep.unassigned)}
        click.echo(say("ok", _lang(), communities=count(n["communities"], "community", "communities"), buildings=count(n["buildings"], "building"),
                       unassigned=str(n["unassigned"]), **{f"n_{k}": v for k, v in n.items()}))
    for note in notes:
        click.echo(say("note", _lang(), text=translate(note, _lang())))
    if problems:
        sys.exit(EXIT_PROBLEMS)


class _HeldWarnings(logging.Filter):
    """Hold back gridgeo's warnings while `validate` checks: it prints each as a problem or a note, once.

    ``release(shown)`` passes on the held warnings whose text was not printed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.handlers = list(logging.getLogger("gridgeo").handlers)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            self.records.append(record)
            return False
        return True

    def __enter__(self):
        for handler in self.handlers:
            handler.addFilter(self)
        return self

    def __exit__(self, *exc) -> None:
        for handler in self.handlers:
            handler.removeFilter(self)
        if exc[0] is not None:
            self.release(set())

    def release(self, shown: set[str]) -> None:
        for record in self.records:
            if record.getMessage() not in shown:
                for handler in self.handlers:
                    handler.handle(record)
        self.records = []


def _validate(communities, buildings, households, community_id, building_id, community_households, barriers, encoding, grid_size, dedicated, dedicated_type, compounds, codes, points, register_opts):
    """Every problem of the inputs of `gridgeo validate`, the prepared inputs (None when they could not be prepared)
    and the notes of the household register check."""
    from .api import parse_band
    from .areas import assign_areas
    from .standard_codes import prepare_codes
    from .validate import prepare_inputs

    problems = []
    prep = None
    try:
        band = parse_band(grid_size, "grid size")
    except InputError as exc:
        problems += exc.problems
        band = (300, 500)
    try:
        comm, bldg, barrier_frames, labels = _read_inputs(communities, buildings, barriers, encoding, points)
    except InputError as exc:
        problems += exc.problems
        comm = None
    if comm is not None:
        try:
            prepare_codes(comm, **codes, label=labels.get("communities", "communities"))
        except InputError as exc:
            problems += exc.problems
        try:
            prep = prepare_inputs(comm, bldg, **_data_options(households, community_id, building_id, community_households, barrier_frames, labels))
            problems += prep.overlaps
        except InputError as exc:
            problems += exc.problems
    if dedicated or compounds:
        try:
            dedicated_frame, compound_frame = _read_areas(dedicated, compounds, encoding)
            if prep is not None:  # placing them needs the checked inputs
                areas = assign_areas(prep, dedicated=dedicated_frame, dedicated_type=dedicated_type, building_id=building_id, compounds=compound_frame, high=band[1])
                prep.notes.append(f"{len(areas.geoms)} dedicated facilities and compounds placed in their communities")
        except InputError as exc:
            problems += exc.problems
    register_notes = []
    if register_opts and (register_opts.get("register") or any(register_opts.get(k) for k in REGISTER_PARAMS[1:4])):
        found, register_notes = _check_register(register_opts, bldg if comm is not None else None, building_id, households, encoding, labels if comm is not None else {})
        problems += found
    return problems, prep, register_notes


# -- export to PostGIS ------------------------------------------------------------------------------------
@main.command("export")
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.option("--to", "to", required=True, metavar="URL", help="postgresql://USER@HOST:PORT/DB (password from PGPASSWORD or ~/.pgpass, never the URL).")
@click.option("--schema", required=True, metavar="NAME", help="Schema of the tables (created if missing).")
@click.option("--overwrite", is_flag=True, help="Replace tables of the same names in the schema.")
@_handle_errors
def export_command(outdir, to, schema, overwrite):
    """Write the plan in OUTDIR into PostGIS: one table per layer, in one transaction.

    Primary keys on the codes, buildings.grid_code and units.grid_code as foreign keys to grids,
    GiST indexes, the input SRID and comments; a failure leaves the schema as it was.
    """
    from .postgis import write_postgis
    from .result import read_outputs

    _check_database({"to": to, "schema": schema})
    tables = write_postgis(read_outputs(outdir), to, schema=schema, overwrite=overwrite)
    click.echo(f"{len(tables)} tables written into schema {schema}: {', '.join(tables)}", err=True)


# -- map / report from a finished run -------------------------------------------------------------------
def _saved_config(outdir) -> dict:
    """The resolved configuration a run wrote into its folder (empty when missing)."""
    from .config import load_config

    path = Path(outdir) / "config.toml"
    if not path.exists():
        return {}
    try:
        return load_config(path)
    except InputError:
        return {}


@main.command("map")
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language (default: the run's).")
@click.option("--basemap", type=click.Choice(BASEMAPS), default=None, help="Map background (default: the run's).")
@click.option("--tianditu-key", metavar="KEY", envvar="TIANDITU_KEY", help="Tianditu key (or $TIANDITU_KEY).")
@click.option("--barriers", multiple=True, metavar="FILE", help="Barrier lines to draw.")
@_handle_errors
def map_command(outdir, lang, basemap, tianditu_key, barriers):
    """Re-render OUTDIR/map.html from a finished run (e.g. with another basemap or language).

    Without --lang/--basemap/--barriers the run's own settings (its config.toml) are used.
    """
    from .io import read_layer, split_layer_spec
    from .maps import write_maps
    from .result import read_outputs

    result = read_outputs(outdir)
    saved = _saved_config(outdir)
    lang = lang or saved.get("lang", "zh")
    basemap = basemap or saved.get("basemap", "osm")
    barriers = barriers or tuple(saved.get("barriers", ()))
    centres = None
    if saved.get("service_centres"):  # the run's service centres, drawn again
        from .coverage import prepare_centres

        path, layer = split_layer_spec(saved["service_centres"])
        centres = prepare_centres(read_layer(path, layer=layer), id_column=saved.get("centre_id"), name_column=saved.get("centre_name"))
    barrier_layer = None
    if barriers:
        frames = []
        for spec in barriers:
            path, layer = split_layer_spec(spec)
            frames.append(read_layer(path, layer=layer))
        barrier_layer = _lines_layer(frames, result.grids.crs)
    with tempfile.TemporaryDirectory(dir=outdir) as staging:
        paths = write_maps(
            result, Path(staging), lang=lang, basemap=basemap, tianditu_key=tianditu_key, barriers=barrier_layer, service_centres=centres
        )
        for path in paths:
            target = Path(outdir) / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    click.echo(say("wrote_map", _lang(), path=Path(outdir) / "map.html"))


@main.command("report")
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language (default: the run's).")
@_handle_errors
def report_command(outdir, lang):
    """Re-render OUTDIR/report.html from a finished run (in the run's language unless --lang is given)."""
    from .report import write_report
    from .result import read_outputs

    result = read_outputs(outdir)
    lang = lang or _saved_config(outdir).get("lang", "zh")
    with tempfile.TemporaryDirectory(dir=outdir) as staging:
        path = write_report(result, Path(staging), lang=lang)
        os.replace(path, Path(outdir) / "report.html")
    click.echo(say("wrote_report", _lang(), path=Path(outdir) / "report.html"))


@main.command("print")
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language (default: the run's).")
@click.option("--dpi", type=click.IntRange(20, 600), default=150, show_default=True, help="PNG resolution (300 for a print shop); the PDF is vector.")
@click.option("--date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Date printed under the title, YYYY-MM-DD (default: today).")
@click.option("--attribution", metavar="TEXT", help="Source and licence of the input data, printed in the footer.")
@click.option("--progress/--no-progress", default=None, help="Progress bar over the communities (default: when stderr is a terminal).")
@_handle_errors
def print_command(outdir, lang, dpi, date, attribution, progress):
    """Draw OUTDIR/print/<community>.png and .pdf: one A3-landscape notice map (公示图) per community of a finished run."""
    from .printmap import write_print_maps
    from .result import read_outputs

    result = read_outputs(outdir)
    lang = lang or _saved_config(outdir).get("lang", "zh")
    if progress is None:
        progress = sys.stderr.isatty() and logger.getEffectiveLevel() <= logging.WARNING
    with tempfile.TemporaryDirectory(dir=outdir) as staging:
        paths = write_print_maps(
            result, Path(staging), lang=lang, dpi=dpi, date=date.date() if date else None, data_attribution=attribution, progress=progress
        )
        for path in paths:
            target = Path(outdir) / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    n = sum(1 for path in paths if path.suffix == ".png" and not (path.stem.endswith("-detail") or path.stem.rsplit("-", 1)[0].endswith("-detail")))  # detail pages are extra
    click.echo(say("wrote_prints", _lang(), communities=count(n, "community", "communities"), n=n, path=Path(outdir) / "print"))


# -- demo ---------------------------------------------------------------------------------------------
def _sample_folder() -> Path:
    for candidate in (Path.cwd() / "sample_shapefiles", Path(__file__).resolve().parents[1] / "sample_shapefiles"):
        if (candidate / "buildings.shp").exists():
            return candidate
    raise InputError(
        Problem("sample_shapefiles", "not found next to this installation or in the current folder", "run `gridgeo demo` from the gridgeo repository folder")
    )


@main.command()
@click.option("-o", "--output", default="gridgeo-demo", show_default=True, type=click.Path(file_okay=False), help="Output folder (replaced if it exists).")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
@click.pass_context
@_handle_errors
def demo(ctx, output, lang):
    """Partition the sample data (four Taipei villages) into OUTPUT and say where the map is."""
    sample = _sample_folder()
    ctx.invoke(
        partition,
        communities=str(sample / "communities.shp"),
        buildings=str(sample / "buildings.shp"),
        output=output,
        households="hh_est",
        community_id="comm_id",
        building_id="bldg_id",
        community_households=None,
        barriers=(),
        encoding=None,
        grid_size="300:500",
        unit_size="10:15",
        seed=0,
        formats=("csv", "xlsx"),
        shp_encoding=None,
        make_map=True,
        make_report=True,
        make_print=False,
        lang=lang,
        basemap="osm",
        tianditu_key=None,
        workers=None,
        scheduler=None,
        overwrite=True,
        progress=None,
    )
    click.echo(say("open_map", _lang(), path=Path(output).resolve() / "map.html"))


if __name__ == "__main__":  # pragma: no cover
    main()
