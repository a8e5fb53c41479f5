"""The previous run of a living plan: its parameters, its record as a parent, its service settings.

:func:`gridgeo.living.update.update` and :func:`gridgeo.living.edits.apply_edits` both start
from a finished run (an output folder or a :class:`~gridgeo.result.Partition`).
This module reads what they need from it, in one place:

* :func:`read_previous` loads the run and the parameters it recorded in
  ``report.json`` (household band, unit band, seed, pins and locks);
* :func:`parent_record` is the ``report["parent"]`` entry that names it (path,
  sha256 of its ``report.json``, parameters);
* :func:`service_settings` and :func:`add_services` recompute the staffing,
  workload (:mod:`gridgeo.governance.workload`) and service-coverage
  (:mod:`gridgeo.governance.coverage`) columns of a new plan with the settings the
  previous run used: ``report["workload"]`` (households per helper, factor,
  weights, straight or road distances), ``report["coverage"]`` (speed, limit),
  the service centres (the ``service_centres`` layer of ``partition.gpkg``, or
  the file named in ``report["parameters"]["service_centres"]``) and the roads
  (the files named in ``report["parameters"]["roads"]``, recorded by
  ``gridgeo partition --roads``).  Roads or centres passed explicitly win.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd

from ..api import parse_band
from ..errors import InputError, Problem
from ..result import Partition, read_outputs

__all__ = ["PreviousRun", "ServiceSettings", "read_previous", "kept_grid_colours", "parent_record", "report_hash", "service_settings", "add_services", "mark_locked"]

logger = logging.getLogger(__name__)


@dataclass
class PreviousRun:
    """A finished run that a new plan starts from.

    Attributes
    ----------
    partition : Partition
        Its layers and report.
    path : Path or None
        Its output folder (None when it was given in memory).
    params : dict
        ``report["parameters"]`` (a copy).
    band, unit_band : (int, int)
        The household bands of grids and joint units.
    seed : int
    pins : dict
        ``report["pinned_buildings"]``: building code → grid code.
    locks : list of str
        ``report["locked_grids"]``.
    """

    partition: Partition
    path: Path | None
    params: dict
    band: tuple[int, int]
    unit_band: tuple[int, int]
    seed: int
    pins: dict[str, str] = field(default_factory=dict)
    locks: list[str] = field(default_factory=list)

    @property
    def report(self) -> dict:
        return self.partition.report

    @property
    def where(self) -> str:
        """The run's name in messages."""
        return str(self.path) if self.path is not None else "previous"


def kept_grid_colours(previous: Partition, codes) -> dict | None:
    """The fill colours of the previous version's grids whose codes the new version has (:attr:`Partition.grid_colours`).

    None when the previous version carries none (a plan made in memory, never
    written and read back): the new version is then coloured afresh.

    Examples
    --------
    >>> import geopandas as gpd
    >>> plan = Partition(*([gpd.GeoDataFrame()] * 5), grid_colours={"001-01": 0, "001-02": 3})
    >>> kept_grid_colours(plan, ["001-02", "001-03"])
    {'001-02': 3}
    """
    codes = set(codes)
    colours = getattr(previous, "grid_colours", None)
    return {code: colour for code, colour in colours.items() if code in codes} if colours else None


def read_previous(previous: Partition | str | Path, *, fix: str = "give a folder written by gridgeo partition, update or apply-edits") -> PreviousRun:
    """Load a finished run and the parameters it recorded.

    Parameters
    ----------
    previous : Partition or path
        The run, or its output folder (read with :func:`gridgeo.result.read_outputs`).
    fix : str
        The fix named when the report holds no run parameters.

    Returns
    -------
    PreviousRun

    Raises
    ------
    InputError
        Not a gridgeo output folder, or its report has no run parameters.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 400, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [40] * 20}, geometry=[shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 400, 20)], crs=32651)
    >>> run = read_previous(gridgeo.partition(c, b, households="hh"))
    >>> run.band, run.unit_band, run.seed, run.path
    ((300, 500), (10, 15), 0, None)
    """
    if isinstance(previous, (str, Path)):
        prev, path = read_outputs(previous), Path(previous)
    else:
        prev, path = previous, None
    report = prev.report or {}
    params = dict(report.get("parameters", {}))
    if "grid_size" not in params:
        raise InputError(Problem(str(path or "previous"), "has no run parameters in its report", fix))
    return PreviousRun(
        partition=prev,
        path=path,
        params=params,
        band=parse_band(tuple(params["grid_size"]), "grid size"),
        unit_band=parse_band(tuple(params.get("unit_size", (10, 15))), "unit size"),
        seed=int(params.get("seed", 0)),
        pins=dict(report.get("pinned_buildings", {})),
        locks=list(report.get("locked_grids", [])),
    )


def report_hash(path: Path | None, report: dict) -> str:
    """sha256 of a run's ``report.json`` (of its JSON text when the run came from memory)."""
    if path is not None and (path / "report.json").exists():
        return hashlib.sha256((path / "report.json").read_bytes()).hexdigest()
    from ..outputs.export import report_json

    return hashlib.sha256(report_json(report).encode("utf-8")).hexdigest()


def parent_record(run: PreviousRun) -> dict:
    """The ``report["parent"]`` entry naming ``run``: path, sha256 of its report, parameters."""
    return {
        "path": str(run.path.resolve()) if run.path is not None else None,
        "report_sha256": report_hash(run.path, run.report),
        "parameters": run.params,
    }


# -- staffing, workload and coverage with the previous run's settings ---------------------------------
@dataclass
class ServiceSettings:
    """How the previous run computed its staffing, workload and coverage columns.

    ``workload`` / ``coverage`` are None when the previous run has no such
    section; ``roads`` is the road network (None: straight lines) and
    ``road_sources`` the files it was read from, when known; ``explicit_roads``
    is true when the caller gave the roads (they are then used for both).
    ``stale`` lists grid columns of the previous run that cannot be computed
    again (coverage columns without a record of their centres).
    """

    workload: dict | None = None
    coverage: dict | None = None
    roads: object = None
    explicit_roads: bool = False
    stale: list[str] = field(default_factory=list)
    road_sources: list[str] | None = None
    centres: gpd.GeoDataFrame | None = None
    centre_source: str | None = None


def _read_specs(specs: list[str], what: str, where: str, flag: str) -> list[gpd.GeoDataFrame]:
    from ..inputs.io import read_layer, split_layer_spec

    frames, missing = [], []
    for spec in specs:
        path, layer = split_layer_spec(spec)
        if not Path(path).exists():
            missing.append(path)
            continue
        frames.append(read_layer(path, layer=layer))
    if missing:
        raise InputError(
            Problem(where, f"its {what} {', '.join(missing)} cannot be found", f"pass the {what} again ({flag})")
        )
    return frames


def service_settings(run: PreviousRun, *, roads=None, service_centres: gpd.GeoDataFrame | None = None) -> ServiceSettings:
    """The staffing, workload and coverage settings of ``run``, with its roads and centres loaded.

    Parameters
    ----------
    run : PreviousRun
    roads : GeoDataFrame, list of them or RoadNetwork, optional
        Roads to walk along instead of the ones the previous run recorded.
    service_centres : GeoDataFrame, optional
        Service centres instead of the previous run's.

    Returns
    -------
    ServiceSettings

    Raises
    ------
    InputError
        The previous run measured along roads (or to service centres) and
        neither they nor the files it recorded are available.
    """
    from ..governance.coverage import COVERAGE_COLUMNS, prepare_centres
    from ..governance.network import RoadNetwork, build_road_network
    from ..inputs.crs import local_metric_crs

    report, params = run.report, run.params
    has_workload = "workload" in report or "helpers_n" in run.partition.grids.columns
    workload = dict(report.get("workload", {})) if has_workload else None
    coverage = dict(report["coverage"]) if "coverage" in report else None
    on_roads = any(section is not None and section.get("distances") == "road network" for section in (workload, coverage))
    settings = ServiceSettings(workload=workload, coverage=coverage, explicit_roads=roads is not None)
    metric = local_metric_crs(run.partition.communities)
    if roads is None and on_roads:
        sources = list(params.get("roads") or [])
        if not sources:
            raise InputError(
                Problem(
                    run.where,
                    "measured tours and walks along roads, but it records no road files",
                    "pass the same roads again (roads=..., or --roads FILE)",
                )
            )
        roads = _read_specs(sources, "road files", run.where, "--roads FILE")
        settings.road_sources = sources
    if roads is not None and not isinstance(roads, RoadNetwork):
        roads = build_road_network(roads, crs=metric)
    settings.roads = roads
    if coverage is None:
        settings.stale = [c for c in COVERAGE_COLUMNS if c in run.partition.grids.columns]
        if settings.stale and service_centres is None:
            logger.warning("%s: coverage columns without a coverage section in its report; they are dropped", run.where)
        elif service_centres is not None:
            coverage, settings.coverage, settings.stale = {}, {}, []
    if coverage is not None:
        if service_centres is None:
            kept = getattr(run.partition, "service_centres", None)
            if kept is not None and len(kept):
                service_centres = kept
            elif params.get("service_centres"):
                frame = _read_specs([params["service_centres"]], "service centres file", run.where, "--service-centres FILE")[0]
                service_centres = prepare_centres(frame, id_column=params.get("centre_id"), name_column=params.get("centre_name"))
                settings.centre_source = params["service_centres"]
            else:
                raise InputError(
                    Problem(
                        run.where,
                        "measured walks to service centres, but holds no service_centres layer and records no file",
                        "pass the same service centres again (service_centres=..., or --service-centres FILE)",
                    )
                )
        settings.centres = service_centres
    return settings


def add_services(result: Partition, settings: ServiceSettings) -> Partition:
    """``result`` with its staffing, workload and coverage columns and report sections computed afresh.

    The columns of every grid are what :func:`gridgeo.governance.workload.add_workload`
    and :func:`gridgeo.governance.coverage.add_coverage` give on the final grids with the
    previous run's settings (the workload index compares a grid with its
    community's mean, so a change in one grid moves the index of its neighbours).
    """
    from ..governance.coverage import DEFAULT_LIMIT_MIN, DEFAULT_SPEED, add_coverage
    from ..governance.workload import DEFAULT_FACTOR, DEFAULT_HOUSEHOLDS_PER_HELPER, add_workload

    if settings.stale:
        result = dataclasses.replace(result, grids=result.grids.drop(columns=settings.stale))
    if settings.explicit_roads:
        # the recorded road files no longer say what was measured: the next update needs the roads given again
        result = dataclasses.replace(result, report={**result.report, "parameters": {**result.report.get("parameters", {}), "roads": None}})
    if settings.workload is not None:
        w = settings.workload
        result = add_workload(
            result,
            roads=settings.roads if settings.explicit_roads or w.get("distances") == "road network" else None,
            households_per_helper=int(w.get("households_per_helper", DEFAULT_HOUSEHOLDS_PER_HELPER)),
            factor=float(w.get("factor", DEFAULT_FACTOR)),
            weights=w.get("weights"),
        )
    if settings.coverage is not None and settings.centres is not None:
        c = settings.coverage
        result = add_coverage(
            result,
            settings.centres,
            roads=settings.roads if settings.explicit_roads or c.get("distances") == "road network" else None,
            speed=float(c.get("speed_m_per_min", DEFAULT_SPEED)),
            limit_min=float(c.get("limit_min", DEFAULT_LIMIT_MIN)),
        )
    return result



def mark_locked(grids: gpd.GeoDataFrame, locked) -> gpd.GeoDataFrame:
    """``grids`` with a ``locked`` column (true for the grids a planner locked) when any grid is locked; without one
    otherwise (a plan whose last lock was lifted drops it).  The input is not changed.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> grids = gpd.GeoDataFrame({"grid_code": ["001-01", "001-02"]}, geometry=[shapely.box(0, 0, 1, 1)] * 2)
    >>> mark_locked(grids, ["001-02"])["locked"].tolist(), list(mark_locked(grids, []).columns)
    ([False, True], ['grid_code', 'geometry'])
    """
    out = grids.drop(columns=["locked"], errors="ignore")
    locked = {str(code) for code in locked}
    if not locked:
        return out
    out = out.copy()
    out.insert(out.columns.get_loc(out.geometry.name), "locked", out["grid_code"].astype(str).isin(locked).to_numpy())
    return out
