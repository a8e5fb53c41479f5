"""``gridgeo demo``: a partition of the bundled sample, to try gridgeo in one command."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError, Problem
from ..messages import say
from ..outputs.export import check_output_folder
from .group import main
from .options import LANGS, _handle_errors, _lang
from .partition import partition


# -- demo ---------------------------------------------------------------------------------------------
def _sample_folder() -> Path:
    for candidate in (Path.cwd() / "sample_shapefiles", Path(__file__).resolve().parents[2] / "sample_shapefiles"):
        if (candidate / "buildings.shp").exists():
            return candidate
    raise InputError(
        Problem("sample_shapefiles", "not found next to this installation or in the current folder", "run `gridgeo demo` from the gridgeo repository folder")
    )


@main.command()
@click.option("-o", "--output", default="gridgeo-demo", show_default=True, type=click.Path(file_okay=False), help="Output folder (replaced if it is an earlier gridgeo output; a folder holding other files is refused).")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True, help="Language of the map and report; when given, also of the messages (else the locale's).")
@click.pass_context
@_handle_errors
def demo(ctx, output, lang):
    """Partition the sample data (four Taipei villages) into OUTPUT and say where the map is."""
    sample = _sample_folder()
    check_output_folder(output, True, overwrite_hint="gridgeo demo")  # the demo replaces only an earlier output
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
