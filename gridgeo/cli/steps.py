"""Steps the commands share: reading the inputs, the register and the services, checking the output folder, the writers of a run."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, Problem
from ..messages import count
from .options import FORMATS, REGISTER_PARAMS


def _read_register_options(opts: dict, encoding, formats, labels: dict, *, full_labels: bool = False):
    """Check the register options and read the register: (register frame or None, keyword options of gridgeo.partition)."""
    from ..inputs.io import layer_label, split_layer_spec
    from ..inputs.register import read_register

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
    labels["register"] = layer_label(path, layer, full=full_labels)  # update names it as given
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
    from ..inputs.register import match_register, prepare_register

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
        known = None
        if building_id is not None and buildings is not None and building_id in buildings.columns and (opts.get("register_unmatched") or "error") == "error":
            known = (buildings[building_id].to_numpy(), labels.get("buildings", "buildings"), building_id)
        checked = prepare_register(frame, building=opts.get("register_building"), household=opts.get("register_household"), order=opts.get("register_order"), label=labels["register"], known=known)
        if building_id is None or buildings is None or building_id not in buildings.columns:
            return problems, []
        matched = match_register(
            checked, buildings[building_id].to_numpy(), unmatched=opts.get("register_unmatched") or "error", buildings_label=labels.get("buildings", "buildings"), building_column=building_id
        )
    except InputError as exc:
        return problems + exc.problems, []
    notes = [
        f"{labels['register']}: {count(int(matched.counts.sum()), 'household')} in {count(int((matched.counts > 0).sum()), 'building')}; "
        f"{count(len(matched.buildings_without), 'building')} without households; {count(len(matched.unmatched), 'unassigned household')}; "
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
    from ..governance.coverage import prepare_centres
    from ..governance.network import build_road_network
    from ..inputs.crs import local_metric_crs
    from ..inputs.io import layer_label, read_layer, split_layer_spec

    problems, road_frames, centres = [], [], None
    for spec in roads:
        path, layer = split_layer_spec(spec)
        try:
            road_frames.append(read_layer(path, layer=layer, encoding=encoding, kind="roads"))
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
    from ..governance.coverage import add_coverage
    from ..governance.workload import DEFAULT_FACTOR, DEFAULT_HOUSEHOLDS_PER_HELPER, add_workload

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

    from ..governance.coverage import prepare_centres
    from ..inputs.io import read_layer, split_layer_spec

    recorded = {}
    if (previous / "report.json").exists():
        try:
            recorded = json.loads((previous / "report.json").read_text(encoding="utf-8")).get("parameters", {})
        except (OSError, ValueError):
            recorded = {}
    if not roads and "roads" not in recorded:
        roads = tuple(_saved_config(previous).get("roads", ()))
    road_frames = [read_layer(split_layer_spec(spec)[0], layer=split_layer_spec(spec)[1], encoding=encoding, full_label=True) for spec in roads] or None
    centres = None
    if service_centres:
        path, layer = split_layer_spec(service_centres)
        centres = prepare_centres(read_layer(path, layer=layer, encoding=encoding, full_label=True), id_column=recorded.get("centre_id"), name_column=recorded.get("centre_name"))
    return tuple(roads), road_frames, centres


def _read_inputs(communities: str, buildings: str, barriers, encoding: str | None, points: dict | None = None):
    from ..inputs.io import is_table, layer_label, read_layer, read_point_table, split_layer_spec

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
            frames.append(read_layer(path, layer=layer, encoding=encoding, kind=key))
        except InputError as exc:
            problems += exc.problems
    barrier_frames = []
    for spec in barriers:
        path, layer = split_layer_spec(spec)
        try:
            barrier_frames.append(read_layer(path, layer=layer, encoding=encoding, kind="roads"))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    labels["barriers"] = ", ".join(layer_label(*split_layer_spec(s)) for s in barriers) or "barriers"
    return frames[0], frames[1], barrier_frames, labels


def _read_areas(dedicated: str | None, compounds: str | None, encoding: str | None, labels: dict | None = None):
    """The --dedicated layer (or CSV of building ids) and the --compounds layer, None when not given.

    ``labels`` (the inputs' names in messages) receives ``dedicated`` and ``compounds``: their file names.
    """
    import pandas as pd

    from ..inputs.io import layer_label, read_layer, split_layer_spec

    frames = []
    problems = []
    for key, spec in (("dedicated", dedicated), ("compounds", compounds)):
        if not spec:
            frames.append(None)
            continue
        path, layer = split_layer_spec(spec)
        if labels is not None:
            labels[key] = layer_label(path, layer)
        try:
            if path.lower().endswith(".csv") and key == "dedicated":
                if not Path(path).exists():
                    raise InputError(Problem(path, "file not found", "check the path"))
                frames.append(pd.read_csv(path, dtype=str, encoding=encoding or "utf-8-sig"))
            else:
                frames.append(read_layer(path, layer=layer, encoding=encoding, kind=key))
        except InputError as exc:
            problems += exc.problems
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            problems.append(Problem(path, f"cannot be read as CSV ({exc})", "save it as UTF-8 CSV with a header row"))
    if problems:
        raise InputError(problems)
    return frames[0], frames[1]


def _data_options(households, community_id, building_id, community_households, barrier_frames, labels) -> dict:
    """Keyword options shared by gridgeo.partition and gridgeo.inputs.validate.prepare_inputs."""
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
    from ..inputs.io import split_layer_spec

    if spec.lower().startswith(("postgresql://", "postgres://")):
        return spec  # a database table (its URL holds no password)
    path, layer = split_layer_spec(spec)
    full = str(Path(path).resolve())
    return f"{full}:{layer}" if layer else full


def _check_output(output: str, overwrite: bool, specs) -> None:
    """Refuse an OUTDIR that holds an input (replacing it would delete the input) or may not be replaced."""
    from ..inputs.io import split_layer_spec
    from ..outputs.export import check_output_folder

    out = Path(output).resolve()
    for spec in specs:
        given = split_layer_spec(spec)[0]
        path = Path(given).resolve()
        if path == out or out in path.parents:
            raise InputError(
                Problem("-o/--output", f"{output} holds the input file {given}; writing there would replace it", "write the output to another folder")
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
        from ..outputs.shapefile import write_shapefiles

        writers.append(lambda result, folder: write_shapefiles(result, folder / "shp", encoding=shp_encoding))
    if "csv" in formats or "xlsx" in formats:
        from ..governance.roster import write_roster

        kinds = tuple(kind for kind in ("csv", "xlsx") if kind in formats)
        if personal is None:
            writers.append(lambda result, folder: write_roster(result, folder, lang=lang, kinds=kinds))
        else:  # a register's personal columns: only here, with --personal
            writers.append(lambda result, folder: write_roster(result, folder, lang=lang, personal=personal, unit_head=unit_head, kinds=kinds))
    # the map before the report: the writers are forked in this order, one per core (gridgeo.outputs.side_by_side),
    # and the map, the larger, then starts as soon as the GeoPackage is written
    if make_map:
        from ..outputs.maps import write_maps

        writers.append(
            lambda result, folder: write_maps(
                result, folder, lang=lang, basemap=basemap, tianditu_key=tianditu_key, barriers=barriers, service_centres=service_centres
            )
        )
    if make_report:
        writers.append(lambda result, folder: _write_report(result, folder, lang=lang))
    if make_print:
        from ..outputs.printmap import write_print_maps

        writers.append(lambda result, folder: write_print_maps(result, folder, lang=lang, data_attribution=print_attribution, progress=progress))
    return tuple(writers)


def _write_report(result, folder, *, lang) -> None:
    """report.html, imported in the writer that writes it (forked beside the GeoPackage), not before the fork."""
    from ..outputs.report import write_report

    write_report(result, folder, lang=lang)


def _carried_config(saved: dict, output, *, lang, roads=(), service_centres=None, **changes) -> str:
    """The parent run's config.toml for a derived plan (update, apply-edits), so the next update in a chain
    finds the same barriers, roads, language and map settings."""
    from ..config import dump_config

    config = {**saved, **changes, "output": str(Path(output).resolve()), "lang": lang}
    if roads:
        config["roads"] = [_absolute(spec) for spec in roads]
    if service_centres:
        config["service_centres"] = _absolute(service_centres)
    return dump_config({k: v for k, v in config.items() if v is not None})


# -- map / report from a finished run -------------------------------------------------------------------
def _saved_config(outdir) -> dict:
    """The resolved configuration a run wrote into its folder (empty when missing)."""
    from ..config import load_config

    path = Path(outdir) / "config.toml"
    if not path.exists():
        return {}
    try:
        return load_config(path)
    except InputError:
        return {}
