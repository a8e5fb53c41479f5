"""``gridgeo partition``: communities and buildings in, grids, units and their files out."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from ..errors import InputError, Problem
from ..messages import count, say
from .group import main
from .options import (
    _check_database,
    _handle_errors,
    _lang,
    _load_config,
    code_options,
    database_options,
    input_options,
    known_encoding,
    logger,
    map_options,
    point_table_options,
    register_options,
    service_options,
)
from .steps import (
    _absolute,
    _add_services,
    _check_output,
    _data_options,
    _formats,
    _lines_layer,
    _read_areas,
    _read_inputs,
    _read_register_options,
    _read_services,
    _record_service_sources,
    _register_config,
    _writers,
)


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
@click.option("--shp-encoding", default=None, metavar="ENC", callback=known_encoding, help="Encoding of exported Shapefiles (default utf-8, or --encoding when given; gbk for older Chinese GIS software).")
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
    from .. import timings

    started = timings.process_age()
    mark = time.perf_counter()
    timings.take()
    from ..memory import imports_uncollected

    with imports_uncollected():  # the algorithms' modules, scipy's among them (gridgeo.memory)
        from ..api import partition as run_partition
        from ..config import dump_config
        from ..outputs.export import write_outputs
        from ..parallel import default_workers

    mark = timings.lap("start-up", mark)

    missing = [name for name, value in (("COMMUNITIES", communities), ("BUILDINGS", buildings), ("-o/--output", output)) if not value]
    if missing:
        raise InputError(Problem("command line", f"missing {', '.join(missing)}", "give them as arguments or in --config"))
    _check_output(output, overwrite, [communities, buildings, *barriers, *(spec for spec in (dedicated, compounds) if spec), *services["roads"], *filter(None, [services["service_centres"]])])
    chosen = _formats(formats)
    if shp_encoding and "shp" not in chosen:
        logger.warning("--shp-encoding %s has no effect: Shapefiles are written only with --format shp (add it, e.g. --format shp,csv)", shp_encoding)
    _check_database(database)
    if database.get("to"):
        from ..outputs.postgis import check_postgis_target

        check_postgis_target(database["to"], schema=database["schema"], overwrite=overwrite)  # before the run, not after it
    if basemap == "tianditu" and not tianditu_key and make_map:
        raise InputError(Problem("--basemap tianditu", "needs a Tianditu key", "pass --tianditu-key KEY (or set TIANDITU_KEY), or use --basemap osm"))
    if timings_file:
        _check_timings_file(timings_file, output)
    if make_print:
        from ..outputs.printmap import check_fonts

        check_fonts(lang)  # before the run, not after it
    register_opts = services.pop("register_opts")
    if register_opts.get("register"):
        _check_output(output, overwrite, [register_opts["register"]])
    comm, bldg, barrier_frames, labels = _read_inputs(communities, buildings, barriers, encoding, points)
    if "shp" in chosen:
        from ..outputs.shapefile import mixed_kinds

        mixed = mixed_kinds(bldg, labels["buildings"])
        if mixed is not None:
            raise InputError(mixed)  # before the run, not when the Shapefiles are written
    register_frame, register_kwargs = _read_register_options(register_opts, encoding, chosen, labels)
    dedicated_frame, compound_frame = _read_areas(dedicated, compounds, encoding, labels)
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
    del bldg  # the input's own copy is not needed any more: let it go before the writing
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
        from ..inputs.register import personal_table, prepare_register

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
        from ..outputs.postgis import write_postgis

        tables = write_postgis(result, database["to"], schema=database["schema"], overwrite=overwrite)
        if logger.getEffectiveLevel() <= logging.WARNING:
            click.echo(say("wrote_tables", _lang(), tables=count(len(tables), "table"), n=len(tables), schema=database["schema"], names=", ".join(tables)))
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
        if s.get("n_unassigned"):
            away = s.get("households_unassigned")
            households = "" if away is None else (f" ({count(away, 'household')})" if lang == "en" else f"（{away} 户）")
            click.echo(say("unassigned_summary", lang, buildings=count(s["n_unassigned"], "building"), n_buildings=s["n_unassigned"], households=households))
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

    from .. import timings

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
