"""``gridgeo export``, ``map``, ``report`` and ``print``: outputs made again from a finished run's folder."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

import click

from ..errors import InputError, Problem
from ..messages import count, say
from .group import main
from .options import BASEMAPS, LANGS, _check_database, _handle_errors, _lang, known_encoding, logger
from .steps import _lines_layer, _saved_config

# -- export: PostGIS tables, or the extra file formats of a finished plan ------------------------------------
#: the formats ``export --format`` adds to a plan folder (the GeoPackage and GeoJSON files are always there)
ADDED_FORMATS = ("shp", "csv", "xlsx")


@main.command("export")
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.option("--to", "to", metavar="URL", help="postgresql://USER@HOST:PORT/DB (password from PGPASSWORD or ~/.pgpass, never the URL).")
@click.option("--schema", metavar="NAME", help="Schema of the tables (created if missing).")
@click.option("--format", "formats", multiple=True, metavar="FMT", help="Add files to OUTDIR: shp (Shapefiles under shp/), csv, xlsx (the rosters); comma-separated or repeated.")
@click.option("--shp-encoding", metavar="ENC", default=None, callback=known_encoding, help="DBF encoding of the Shapefiles (default: the run's, else utf-8; gbk for older ArcGIS).")
@click.option("--overwrite", is_flag=True, help="Replace tables of the same names in the schema (files of the same names are always replaced).")
@_handle_errors
def export_command(outdir, to, schema, formats, shp_encoding, overwrite):
    """Write the plan in OUTDIR into PostGIS (--to, --schema), or add Shapefiles and rosters to OUTDIR (--format).

    PostGIS: one table per layer, in one transaction; primary keys on the codes, buildings.grid_code and
    units.grid_code as foreign keys to grids, GiST indexes, the input SRID and comments; a failure leaves the schema
    as it was.  --format writes the files a run given that --format writes, from the plan as it is (nothing is
    computed again), each into place once complete; OUTDIR's config.toml then lists them, so an update or edit of
    the plan writes them too.
    """
    from ..result import read_outputs
    from .steps import _formats

    chosen = _formats(formats)
    if not to and not schema and not chosen:
        raise InputError(Problem("export", "nothing to export", "give --to URL --schema NAME for PostGIS, or --format shp,csv,xlsx for files in OUTDIR"))
    already = [f for f in chosen if f not in ADDED_FORMATS]
    if already:
        raise InputError(Problem("--format", f"{', '.join(already)}: every run writes these already (partition.gpkg, *.geojson)", f"use {', '.join(ADDED_FORMATS)}"))
    if to or schema:
        _check_database({"to": to, "schema": schema})
    result = read_outputs(outdir)
    if chosen:
        _add_files(result, Path(outdir), chosen, shp_encoding)
    if to:
        from ..outputs.postgis import write_postgis

        tables = write_postgis(result, to, schema=schema, overwrite=overwrite)
        click.echo(say("wrote_tables", _lang(), tables=count(len(tables), "table"), n=len(tables), schema=schema, names=", ".join(tables)))  # the summary on stdout


def _add_files(result, outdir: Path, chosen: list[str], shp_encoding: str | None) -> None:
    """Write the ``chosen`` extra formats of ``result`` into ``outdir`` (staged, then moved into place) and list them in
    its config.toml."""
    import shutil

    from ..config import dump_config
    from .steps import _writers

    saved = _saved_config(outdir)
    encoding = shp_encoding or saved.get("shp_encoding") or "utf-8"
    lang = saved.get("lang", "zh")
    writers = _writers(chosen, make_map=False, make_report=False, lang=lang, basemap="osm", tianditu_key=None, barriers=None, shp_encoding=encoding)
    with tempfile.TemporaryDirectory(dir=outdir) as staging:
        for write in writers:
            write(result, Path(staging))
        for path in sorted(Path(staging).iterdir()):
            target = outdir / path.name
            if path.is_dir() and target.exists():
                shutil.rmtree(target)  # (a folder is not replaced by a rename onto it: shp/ of an earlier export)
            os.replace(path, target)
            click.echo(say("wrote_file", _lang(), path=target))
    if (outdir / "config.toml").exists():
        listed = list(dict.fromkeys([*saved.get("formats", ()), *chosen]))
        config = {**saved, "formats": listed}
        if "shp" in chosen:
            config["shp_encoding"] = encoding
        (outdir / "config.toml").write_text(dump_config({k: v for k, v in config.items() if v is not None}), encoding="utf-8")


@main.command("map")
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language (default: the run's).")
@click.option("--basemap", type=click.Choice(BASEMAPS), default=None, help="Map background (default: the run's).")
@click.option("--tianditu-key", metavar="KEY", envvar="TIANDITU_KEY", help="Tianditu key (or $TIANDITU_KEY).")
@click.option("--barriers", multiple=True, metavar="FILE", help="Barrier lines to draw.")
@click.option("--edit", "review", is_flag=True, help="A review map: the edit mode also tells whether each grid stays one piece (adds a tessellation of every grid, about half the run's time).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes for --edit (default: all cores); the map does not depend on it.")
@_handle_errors
def map_command(outdir, lang, basemap, tianditu_key, barriers, review, workers):
    """Re-render OUTDIR/map.html from a finished run (e.g. with another basemap or language).

    Without --lang/--basemap/--barriers the run's own settings (its config.toml) are used.
    Every map has the edit mode (its Edit button); with --edit it also checks that the grids stay one piece.
    """
    from ..inputs.io import read_layer, split_layer_spec
    from ..living.lineage import report_hash
    from ..outputs.editmodel import edit_model
    from ..outputs.maps import write_maps
    from ..parallel import default_workers
    from ..result import read_outputs

    result = read_outputs(outdir)
    saved = _saved_config(outdir)
    lang = lang or saved.get("lang", "zh")
    basemap = basemap or saved.get("basemap", "osm")
    if basemap == "tianditu" and not (tianditu_key or "").strip():  # (the library's message names its arguments)
        raise InputError(Problem("--basemap tianditu", "needs a Tianditu key", "pass --tianditu-key KEY (or set TIANDITU_KEY), or use --basemap osm"))
    barriers = barriers or tuple(saved.get("barriers", ()))
    centres = None
    if saved.get("service_centres"):  # the run's service centres, drawn again
        from ..governance.coverage import prepare_centres

        path, layer = split_layer_spec(saved["service_centres"])
        centres = prepare_centres(read_layer(path, layer=layer), id_column=saved.get("centre_id"), name_column=saved.get("centre_name"))
    barrier_layer = None
    if barriers:
        frames = []
        for spec in barriers:
            path, layer = split_layer_spec(spec)
            frames.append(read_layer(path, layer=layer))
        barrier_layer = _lines_layer(frames, result.grids.crs)
    model = edit_model(  # keyed by the run's report.json as written, as the partition's own map
        result, run_key=report_hash(Path(outdir), result.report or {}), lang=lang, adjacency=review, workers=(workers or default_workers()) if review else 1
    )
    with tempfile.TemporaryDirectory(dir=outdir) as staging:
        paths = write_maps(
            result, Path(staging), lang=lang, basemap=basemap, tianditu_key=tianditu_key, barriers=barrier_layer, service_centres=centres, edit_model=model
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
    from ..outputs.report import write_report
    from ..result import read_outputs

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
    from ..outputs.printmap import write_print_maps
    from ..result import read_outputs

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
