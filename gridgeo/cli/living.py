"""``gridgeo update`` and ``gridgeo apply-edits``: a finished plan kept alive for new buildings and planner edits."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from ..errors import InputError, Problem
from ..messages import count, say
from .group import main
from .options import LANGS, POINT_PARAMS, _handle_errors, _lang, known_encoding, logger, register_options
from .steps import (
    _absolute,
    _carried_config,
    _check_output,
    _formats,
    _lines_layer,
    _living_services,
    _read_register_options,
    _record_service_sources,
    _register_config,
    _saved_config,
    _writers,
)


# -- update ---------------------------------------------------------------------------------------------
@main.command("update")
@click.argument("previous", metavar="PREVIOUS_OUTDIR", type=click.Path(file_okay=False))
@click.option("--buildings", "buildings", required=True, metavar="FILE", help="The complete new building layer (same columns as the previous run's input).")
@click.option("-o", "--output", required=True, metavar="OUTDIR", type=click.Path(file_okay=False), help="Output folder of the updated plan.")
@click.option("--barriers", multiple=True, metavar="FILE", help="Barrier lines for re-partitioned grids (default: the previous run's, from its config.toml).")
@click.option("--roads", multiple=True, metavar="FILE", help="Roads for the walking tours and walks (default: the ones the previous run recorded).")
@click.option("--service-centres", metavar="FILE", help="Service centres for the walks (default: the previous run's).")
@click.option("--encoding", metavar="ENC", callback=known_encoding, help="Text encoding of an input Shapefile DBF or CSV table (gbk, gb18030, …).")
@click.option("--format", "formats", multiple=True, metavar="FMT", help="Extra exports: shp, csv, xlsx (default: the previous run's; --format '' for none).")
@click.option("--map/--no-map", "make_map", default=True, show_default=True, help="Write map.html.")
@click.option("--report/--no-report", "make_report", default=True, show_default=True, help="Write report.html.")
@click.option("--print/--no-print", "make_print", default=None, help="Write the printable notices (print/), as the previous run did unless given.")
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language of the map and report (default: the previous run's) and of the messages (default: the locale's).")
@click.option(
    "--kept-cell-bound/--no-kept-cell-bound", default=True, show_default=True,
    help="Also bound the households moved (changes.json) by the cheapest repair in whole kept cells where the other programs leave a gap: an integer program per such community, within fixed limits (seconds each; tens of seconds in some communities). --no-kept-cell-bound: faster, a looser bound.",
)
@click.option(
    "--kept-cell-candidate/--no-kept-cell-candidate", default=True, show_default=True,
    help="Try, as each repaired community's last candidate, the cheapest repair in whole kept cells: an integer program per community, within fixed limits (seconds each; tens of seconds in some communities). --no-kept-cell-candidate: faster, and the repair may move more households.",
)
@click.option(
    "--allow-removal", is_flag=True,
    help="Accept a building layer that removes more than half of the plan's households (by default an error: a layer of the new buildings only, or of one community, would retire most grids).",
)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes repairing communities in parallel (default: all cores); results do not depend on it.")
@click.option("--overwrite", is_flag=True, help="Replace OUTDIR if it exists.")
@register_options
@_handle_errors
def update_command(previous, buildings, output, barriers, roads, service_centres, encoding, formats, make_map, make_report, make_print, lang, kept_cell_bound, kept_cell_candidate, allow_removal, workers, overwrite, register_opts=None):
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
    from ..inputs.io import is_table, layer_label, read_layer, read_point_table, split_layer_spec
    from ..living.update import update
    from ..outputs.export import write_outputs
    from ..parallel import default_workers

    prev = Path(previous)
    if prev.resolve() == Path(output).resolve():
        raise InputError(Problem("-o/--output", f"{output} is PREVIOUS_OUTDIR; writing there would replace the plan being updated", "write the update to a new folder"))
    register_opts = register_opts or {}
    _check_output(output, overwrite, [buildings, *barriers, *roads, *filter(None, [service_centres, register_opts.get("register")])])
    saved = _saved_config(prev)
    chosen = _formats(formats or saved.get("formats", ()))  # the previous run's extra exports unless given
    register_labels: dict = {}
    register_frame, register_kwargs = _read_register_options(register_opts, encoding, chosen, register_labels, full_labels=True)
    if register_kwargs and click.get_current_context().get_parameter_source("register_unmatched") == click.core.ParameterSource.DEFAULT:
        register_kwargs["register_unmatched"] = None  # as the previous run recorded it
    barriers = barriers or tuple(saved.get("barriers", ()))
    path, layer = split_layer_spec(buildings)
    if is_table(path):  # a table of points, read as the previous run read its own (--x/--y/--wkt/--crs in its config.toml)
        recorded = {name: saved[name] for name in POINT_PARAMS if saved.get(name) is not None}
        if not recorded.get("wkt") and not (recorded.get("x") and recorded.get("y")):
            raise InputError(Problem(layer_label(path, layer, full=True), "is a table, and the previous run read its buildings from a map layer (no --x/--y or --wkt in its config.toml)", "give the new buildings as the same kind of layer as before"))
        frame = read_point_table(path, sheet=layer, encoding=encoding, full_label=True, **recorded)
    else:
        frame = read_layer(path, layer=layer, encoding=encoding, kind="buildings", full_label=True)
    barrier_frames = [read_layer(split_layer_spec(spec)[0], layer=split_layer_spec(spec)[1], encoding=encoding, full_label=True) for spec in barriers]
    road_specs, road_frames, centres = _living_services(prev, roads, service_centres, encoding)
    result = update(
        prev, frame, barriers=barrier_frames or None, roads=road_frames, service_centres=centres,
        labels={"buildings": layer_label(path, layer, full=True), "communities": f"{previous}/partition.gpkg:communities", **register_labels},
        kept_cell_bound=kept_cell_bound, kept_cell_candidate=kept_cell_candidate, allow_removal=allow_removal, workers=workers or default_workers(),
        **register_kwargs,
    )
    personal, register_config = _update_register_outputs(result, register_frame, register_opts)
    if road_specs or service_centres:
        _record_service_sources(result, road_specs, service_centres, result.report["parameters"].get("centre_id"), result.report["parameters"].get("centre_name"))
    lang = lang or saved.get("lang", "zh")
    make_print = bool(saved.get("print")) if make_print is None else make_print  # (the notices of the previous run, redrawn)
    writers = _writers(
        chosen, make_map=make_map, make_report=make_report, lang=lang, basemap=saved.get("basemap", "osm") if os.environ.get("TIANDITU_KEY") or saved.get("basemap") != "tianditu" else "osm",
        tianditu_key=os.environ.get("TIANDITU_KEY"), barriers=_lines_layer(barrier_frames, result.grids.crs) if barrier_frames else None, shp_encoding=saved.get("shp_encoding") or encoding or "utf-8",
        personal=personal, unit_head=register_opts.get("unit_head"), make_print=make_print, print_attribution=saved.get("print_attribution"),
    )
    carried = _carried_config(
        saved, output, lang=lang, buildings=_absolute(buildings), barriers=[_absolute(spec) for spec in barriers], roads=roads, service_centres=service_centres,
        formats=chosen, print=make_print, **register_config,
    )
    write_outputs(result, output, overwrite=overwrite, writers=writers, extra={"config.toml": carried})
    c = result.changes
    if logger.getEffectiveLevel() <= logging.WARNING:
        n = {"added": len(c["grids_added"]), "retired": len(c["grids_retired"]), "reshaped": len(c["grids_reshaped"]),
             "modified": len(c["grids_modified"]), "moved": len(c["buildings_moved"]), "households": c["households_moved"],
             "bound": c.get("households_moved_lower_bound", 0), "b_added": len(c["buildings_added"]), "b_removed": len(c["buildings_removed"])}
        click.echo(say(
            "update_summary", _lang(), output=output, share=100 * c["share_households_moved"], added=count(n["added"], "grid") + "",
            retired=str(n["retired"]), reshaped=str(n["reshaped"]), modified=str(n["modified"]), moved=count(n["moved"], "building"),
            households=count(n["households"], "household"), **{f"n_{k}": v for k, v in n.items()},
        ))
        if "households_kept_in_unit" in c:
            click.echo(_units_summary(c))
        _echo_plan_quality(result, output, make_map, make_print)


def _echo_plan_quality(result, output, make_map: bool, make_print: bool = False) -> None:
    """The written plan's flagged grids and defects (as ``partition`` reports them), and where its map and notices are."""
    s = result.report["summary"]
    q = {"grids": s["n_grids"], "communities": s["n_communities"], "excused": s["n_excused"], "defects": s["n_defects"],
         "proven": s.get("n_defects_proven_infeasible", 0)}
    click.echo(say(
        "plan_quality", _lang(), grids=count(q["grids"], "grid"), communities=count(q["communities"], "community", "communities"),
        excused=count(q["excused"], "grid"), defects=count(q["defects"], "defect"), proven=q["proven"], **{f"n_{k}": v for k, v in q.items()},
    ))
    grids = result.grids
    split = int((grids["status"].astype(str) == "edited_split").sum()) if grids is not None and "status" in grids else 0
    if split:
        click.echo(say("plan_split", _lang(), grids=count(split, "grid"), n_grids=split))
    if make_map:
        click.echo(say("wrote_map", _lang(), path=Path(output) / "map.html"))
    if make_print:
        click.echo(say("wrote_print", _lang(), path=Path(output) / "print"))


def _update_register_outputs(result, frame, opts: dict) -> tuple:
    """`update --register`: the personal columns for the rosters (with --personal) and the register's config.toml entries."""
    if frame is None:
        return None, {}
    from ..inputs.register import personal_table, prepare_register

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


# -- apply-edits -----------------------------------------------------------------------------------------
@main.command("apply-edits")
@click.argument("previous", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.argument("edits", metavar="EDITS.csv", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, metavar="NEW", type=click.Path(file_okay=False), help="Output folder of the edited plan.")
@click.option("--format", "formats", multiple=True, metavar="FMT", help="Extra exports: shp, csv, xlsx (default: the previous run's; --format '' for none).")
@click.option("--map/--no-map", "make_map", default=True, show_default=True, help="Write map.html.")
@click.option("--report/--no-report", "make_report", default=True, show_default=True, help="Write report.html.")
@click.option("--print/--no-print", "make_print", default=None, help="Write the printable notices (print/), as the previous run did unless given.")
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language of the map and report (default: the run's) and of the messages (default: the locale's).")
@click.option("--roads", multiple=True, metavar="FILE", help="Roads for the walking tours and walks (default: the ones the plan recorded).")
@click.option("--service-centres", metavar="FILE", help="Service centres for the walks (default: the plan's).")
@click.option("--encoding", metavar="ENC", callback=known_encoding, help="Text encoding of EDITS.csv (default UTF-8; gbk for a CSV saved by Chinese Excel).")
@click.option("--overwrite", is_flag=True, help="Replace NEW if it exists.")
@_handle_errors
def apply_edits_command(previous, edits, output, formats, make_map, make_report, make_print, lang, roads, service_centres, encoding, overwrite):
    """Apply a planner's edits in EDITS.csv to the plan in OUTDIR, writing NEW.

    EDITS.csv has the header building_code,grid_code[,action]: a row moves (pins)
    the building into the grid (a new grid takes its community's next free
    number, such as 003-10 after 003-09); action lock (or unlock) with an empty
    building_code locks a whole grid against `gridgeo update`.  Only the grids the moves touch are re-drawn; every edit is
    kept, and each constraint it breaks (band, one piece) is flagged and listed in
    NEW/edits.json.
    """
    from ..living.edits import apply_edits, broken_summary
    from ..outputs.export import write_outputs

    prev = Path(previous)
    if prev.resolve() == Path(output).resolve():
        raise InputError(Problem("-o/--output", f"{output} is OUTDIR; writing there would replace the plan being edited", "write the edited plan to a new folder"))
    _check_output(output, overwrite, [edits, previous, *roads, *filter(None, [service_centres])])
    saved = _saved_config(prev)
    chosen = _formats(formats or saved.get("formats", ()))  # the plan's extra exports unless given
    road_specs, road_frames, centres = _living_services(prev, roads, service_centres, None)
    from ..living.edit_table import read_edits

    table = read_edits(edits, encoding=encoding)
    if not len(table):
        logger.warning("%s has no edit rows (only its header): the plan is written again unchanged", edits)
    result = apply_edits(prev, table, source=str(edits), roads=road_frames, service_centres=centres)
    if road_specs or service_centres:
        _record_service_sources(result, road_specs, service_centres, result.report["parameters"].get("centre_id"), result.report["parameters"].get("centre_name"))
    lang = lang or saved.get("lang", "zh")
    make_print = bool(saved.get("print")) if make_print is None else make_print  # (the notices of the plan, redrawn)
    writers = _writers(
        chosen, make_map=make_map, make_report=make_report, lang=lang, basemap="osm" if saved.get("basemap") == "tianditu" and not os.environ.get("TIANDITU_KEY") else saved.get("basemap", "osm"),
        tianditu_key=os.environ.get("TIANDITU_KEY"), barriers=None, shp_encoding=saved.get("shp_encoding") or "utf-8",
        make_print=make_print, print_attribution=saved.get("print_attribution"),
    )
    carried = _carried_config(saved, output, lang=lang, roads=roads, service_centres=service_centres, formats=chosen, print=make_print)
    write_outputs(result, output, overwrite=overwrite, writers=writers, extra={"config.toml": carried})
    record = result.edits
    if logger.getEffectiveLevel() <= logging.WARNING:
        moved = sum(1 for m in record["moves"] if m["from"] != m["to"])
        pinned = len(result.report.get("pinned_buildings", {}))  # a move pins too; earlier edits' pins stay
        n = {"moved": moved, "stayed": len(record["moves"]) - moved, "pinned": pinned, "locked": len(record["locked"]), "unlocked": len(record.get("unlocked", [])), "redrawn": len(record["grids_redrawn"]),
             "created": len(record["grids_created"]), "retired": len(record["grids_retired"]), "broken": len(record["broken_constraints"])}
        words = _lang()
        click.echo(say(
            "edits_summary", words, output=output, moved=count(n["moved"], "building"), stayed=str(n["stayed"]), pinned=str(n["pinned"]),
            locked=count(n["locked"], "grid"), unlocked=str(n["unlocked"]), redrawn=count(n["redrawn"], "grid"), created=str(n["created"]), retired=str(n["retired"]),
            broken=count(n["broken"], "broken constraint"), **{f"n_{k}": v for k, v in n.items()},
        ))
        for line in broken_summary(result, words):
            click.echo(say("kept", words, text=line))
        if "households_kept_in_unit" in result.changes:
            click.echo(_units_summary(result.changes))
        _echo_plan_quality(result, output, make_map, make_print)
