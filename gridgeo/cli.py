"""The ``gridgeo`` command line: a click group of thin commands (read → library → write).

Exit codes: 0 success; 1 the input has problems (``validate``); 2 a usage or
input error (one clear message, no traceback unless ``-v``); 3 an unexpected
internal error.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from . import __version__
from .errors import GridgeoError

logger = logging.getLogger("gridgeo")

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


def _configure_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("gridgeo")
    root.handlers[:] = [h for h in root.handlers if isinstance(h, logging.NullHandler)] + [handler]
    root.setLevel(level)


def _handle_errors(func):
    """Map library errors to one message and an exit code; tracebacks only with -v."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        verbose = (ctx.find_root().obj or {}).get("verbosity", 0) > 0
        try:
            return func(*args, **kwargs)
        except GridgeoError as exc:
            if verbose:
                logger.exception("error")
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing was written.", err=True)
            ctx.exit(130)
        except OSError as exc:
            if verbose:
                logger.exception("error")
            click.echo(f"Error: {exc.strerror or exc} ({exc.filename or ''})", err=True)
            ctx.exit(EXIT_USAGE)
        except Exception as exc:  # noqa: BLE001 - the CLI must not print tracebacks
            if verbose:
                logger.exception("internal error")
            click.echo(f"Internal error: {type(exc).__name__}: {exc} (run with -v for details)", err=True)
            ctx.exit(EXIT_INTERNAL)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gridgeo")
@click.option("-v", "--verbose", count=True, help="More messages (-vv for debugging); tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Split communities (社区) into governance grids (网格) and joint-household units (联户)."""
    verbosity = -1 if quiet else verbose
    ctx.obj = {"verbosity": verbosity}
    _configure_logging(verbosity)


def input_options(func):
    """Options shared by commands that read communities and buildings."""
    options = [
        click.option("--households", "households", metavar="COL", help="Buildings column with household counts (estimated from footprint × storeys when omitted)."),
        click.option("--community-id", metavar="COL", help="Communities id column (default: community_id, else row numbers)."),
        click.option("--building-id", metavar="COL", help="Buildings id column (checked for duplicates)."),
        click.option("--community-households", metavar="COL", help="Communities column with register totals; estimates are scaled to them."),
        click.option("--barriers", multiple=True, metavar="FILE", help="Line layer (roads, rivers, walls) that grid boundaries should follow; repeatable; FILE.gpkg:LAYER picks a layer."),
        click.option("--encoding", metavar="ENC", help="Text encoding of Shapefile DBFs without a .cpg (e.g. gbk, gb18030)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _read_inputs(communities: str, buildings: str, barriers: tuple[str, ...], encoding: str | None):
    from .io import layer_label, read_layer, split_layer_spec

    frames = []
    labels = {}
    for key, spec in (("communities", communities), ("buildings", buildings)):
        path, layer = split_layer_spec(spec)
        frames.append(read_layer(path, layer=layer, encoding=encoding))
        labels[key] = layer_label(path, layer)
    barrier_frames = []
    for spec in barriers:
        path, layer = split_layer_spec(spec)
        barrier_frames.append(read_layer(path, layer=layer, encoding=encoding))
    labels["barriers"] = ", ".join(layer_label(*split_layer_spec(s)) for s in barriers) or "barriers"
    return frames[0], frames[1], barrier_frames, labels


@main.command()
@click.argument("communities", metavar="COMMUNITIES")
@click.argument("buildings", metavar="BUILDINGS")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@input_options
@click.option("--grid-size", default="300:500", show_default=True, metavar="MIN:MAX", help="Household band of a grid.")
@click.option("--unit-size", default="10:15", show_default=True, metavar="MIN:MAX", help="Household band of a joint unit.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random choices.")
@click.option("--overwrite", is_flag=True, help="Replace OUTDIR if it exists.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@_handle_errors
def partition(communities, buildings, outdir, households, community_id, building_id, community_households, barriers, encoding, grid_size, unit_size, seed, overwrite, progress):
    """Partition COMMUNITIES into grids using BUILDINGS, writing OUTDIR.

    COMMUNITIES and BUILDINGS are Shapefiles, GeoJSON, GeoPackage (FILE.gpkg:LAYER)
    or GeoParquet files.
    """
    from .api import partition as run_partition
    from .errors import OutputExistsError

    if Path(outdir).exists() and not overwrite:
        raise OutputExistsError(f"{outdir} exists; pass --overwrite to replace it")
    comm, bldg, barrier_frames, labels = _read_inputs(communities, buildings, barriers, encoding)
    if progress is None:
        progress = sys.stderr.isatty() and logger.getEffectiveLevel() <= logging.WARNING
    result = run_partition(
        comm,
        bldg,
        households=households,
        community_id=community_id,
        building_id=building_id,
        community_households=community_households,
        grid_size=grid_size,
        unit_size=unit_size,
        barriers=barrier_frames or None,
        seed=seed,
        labels=labels,
        progress=progress,
    )
    result.to_files(outdir, overwrite=overwrite)
    s = result.report["summary"]
    logger.info("notes: %s", "; ".join(result.report["notes"]))
    if logger.getEffectiveLevel() <= logging.WARNING:
        click.echo(
            f"{s['n_grids']} grids, {s.get('n_units', 0)} joint units from {s['n_buildings']} buildings "
            f"({s['households']} households{', estimated' if s['households_estimated'] else ''}) in "
            f"{s['n_communities']} communities; in band {s['share_feasible_in_band']:.1%} of feasible grids, "
            f"{s['n_excused']} flagged with a reason, {s['n_defects']} defects; written to {outdir}",
            err=True,
        )


@main.command()
@click.argument("communities", metavar="COMMUNITIES")
@click.argument("buildings", metavar="BUILDINGS")
@input_options
@_handle_errors
def validate(communities, buildings, households, community_id, building_id, community_households, barriers, encoding):
    """Check COMMUNITIES and BUILDINGS without partitioning; exit 1 when there are problems."""
    from .errors import InputError
    from .validate import prepare_inputs

    comm, bldg, barrier_frames, labels = _read_inputs(communities, buildings, barriers, encoding)
    try:
        prep = prepare_inputs(
            comm,
            bldg,
            households=households,
            community_id=community_id,
            building_id=building_id,
            community_households=community_households,
            barriers=barrier_frames or None,
            labels=labels,
        )
    except InputError as exc:
        click.echo(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}:")
        for problem in exc.problems:
            click.echo(f"  - {problem}")
        sys.exit(EXIT_PROBLEMS)
    click.echo(f"OK: {len(prep.communities)} communities, {len(prep.buildings)} buildings assigned, {len(prep.unassigned)} unassigned")
    for note in prep.notes:
        click.echo(f"  note: {note}")


if __name__ == "__main__":  # pragma: no cover
    main()
