"""The anchors of the side-by-side comparison in ``scripts/benchmark.py`` (issue 7, "Scale and speed").

gridgeo and five anchors split the same communities on the same cell graphs:

* ``gridgeo`` — :func:`gridgeo.partition.plan.partition_part`, the call
  :func:`gridgeo.partition.engine.partition_community` makes per connected piece;
* ``gerrychain-tree`` / ``gerrychain-seed`` — gerrychain 1.0's
  ``recursive_tree_part`` and ``recursive_seed_part`` (canonical home
  ``gerrychain.partition``; ``gerrychain.tree.recursive_*_part`` are deprecated
  aliases of the same functions), ``pop_target`` = piece total / k,
  ``epsilon`` = min((max − target)/target, (target − min)/target);
* ``kmeans`` — scikit-learn ``KMeans(n_clusters=k).fit(xy, sample_weight=households)``
  on the cell centroids (it does not use the adjacency at all);
* ``skater`` — spopt ``Skater`` (``n_clusters`` = k, households as attribute);
* ``maxp`` — spopt ``MaxPHeuristic`` (households as attribute, threshold =
  households ≥ band minimum; it chooses the region count itself).

k is gridgeo's grid count for the piece, so every method is asked for the
same number of grids.  The inputs are prepared exactly as gridgeo does it
(:func:`gridgeo.inputs.validate.prepare_inputs`: local metric CRS, repaired
geometry, buildings assigned to communities; per community the parts, the
tessellation, the cell graph and its connected pieces as in
``partition_community``), once per community and untimed.  Converting the cell
graph into a method's own input (a rustworkx-backed gerrychain ``Graph``, a
libpysal ``W``, a DataFrame) is untimed too; only the partitioning call is
timed.

Every method runs in its own spawned worker process (the anchors' libraries
are imported there, never by gridgeo).  The parent gives each community a time
limit and a memory limit; a worker over either is killed, the failure is
recorded (``timeout``, ``memory``) and a fresh worker takes the next
community.  Exceptions are recorded with their message (``failed``), e.g.
gerrychain's "Could not find a possible cut after 100000 attempts".  Peak
memory is the worker's peak resident set during the community (Linux
``VmHWM``, reset before every community), which includes the worker's
imports (``baseline_mb``).

Quality uses the definitions and functions of :mod:`gridgeo.metrics`: the cells
of every label are dissolved into a grid polygon (gridgeo's own dissolve),
then :func:`gridgeo.metrics.community_metrics` and :func:`gridgeo.metrics.summarize`.
An out-of-band grid is excused by the same rule for every method (DOMAIN.md,
"How a partition is judged"): it holds a cell whose households alone exceed
the maximum (``oversize_building``), or its piece's total admits no grid count
in the band (``infeasible_total``, or ``detached_part`` for a piece of a
multi-piece community).  Disconnected grids count as not one piece; parts of a
community without buildings become one empty grid each for every method.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import statistics
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

__all__ = [
    "ANCHORS",
    "GRIDGEO",
    "Case",
    "Piece",
    "prepare_cases",
    "run_method",
    "evaluate",
    "compare",
    "compare_dataset",
    "markdown",
]

logger = logging.getLogger(__name__)

GRIDGEO = "gridgeo"
ANCHORS = ("gerrychain-tree", "gerrychain-seed", "kmeans", "skater", "maxp")
#: gerrychain's tolerance when the band gives none (the piece's mean grid lies outside the band)
FALLBACK_EPSILON = 0.10
#: attribute spopt's Skater and MaxPHeuristic measure dissimilarity on
SPOPT_ATTRIBUTE = "households"
_POLL_S = 0.05
_START_TIMEOUT_S = 300.0


@dataclass
class Piece:
    """One connected piece of a community's cell graph (the unit ``partition_part`` splits).

    Attributes
    ----------
    graph : gridgeo.cells.adjacency.CellGraph
    cells : ndarray of Polygon
        The cells of ``graph``, metric CRS (kept in the parent, never sent to a worker).
    detached : bool
        True when the community has other pieces (gridgeo then flags the piece as detached).
    """

    graph: object
    cells: np.ndarray
    detached: bool


@dataclass
class Case:
    """One community, prepared once and shared by every method.

    ``geometry``, ``buildings`` and ``households`` are the arguments of
    ``partition_community`` (metric CRS, buildings in the API's canonical order);
    ``empty_parts`` are the community's parts without buildings.
    """

    community_id: str
    geometry: object
    buildings: np.ndarray
    households: np.ndarray
    pieces: list[Piece]
    empty_parts: list


# -- preparation (parent process, untimed) -------------------------------------------------------


def prepare_cases(communities, buildings, *, households: str, building_id: str | None = None):
    """Check and prepare the inputs as ``gridgeo.partition`` does, and build every community's pieces.

    Parameters
    ----------
    communities, buildings : GeoDataFrame
    households : str
        Household column of ``buildings``.
    building_id : str, optional

    Returns
    -------
    cases : list of Case
        In the order of the API (community codes).
    metric_crs : pyproj.CRS
    """
    import shapely
    from scipy.sparse.csgraph import connected_components

    from gridgeo.build import _canonical_order
    from gridgeo.cells.adjacency import build_cell_graph
    from gridgeo.cells.tessellate import split_parts, tessellate_part
    from gridgeo.governance.codes import community_codes
    from gridgeo.inputs.validate import prepare_inputs
    from gridgeo.partition.engine import _assign_parts

    prep = prepare_inputs(communities, buildings, households=households, building_id=building_id)
    codes = community_codes(prep.community_ids)
    anchors_xy = shapely.get_coordinates(shapely.point_on_surface(prep.building_geoms)).reshape(-1, 2)
    cases = []
    for ci in np.argsort(codes.astype(str), kind="stable"):
        geometry = prep.community_geoms[ci]
        members = np.flatnonzero(prep.building_community == ci)
        members = members[_canonical_order(prep.building_geoms[members], anchors_xy[members], geometry)]
        geoms, hh = prep.building_geoms[members], prep.households[members]
        parts = split_parts(geometry)
        part_of = _assign_parts(parts, geoms)
        pieces, empty = [], []
        for p, part in enumerate(parts):
            inside = np.flatnonzero(part_of == p)
            if len(inside) == 0:
                empty.append(part)
                continue
            tess = tessellate_part(part, geoms[inside])
            n_sites = len(tess.cells)
            weight = np.bincount(tess.site_of_building, weights=hh[inside], minlength=n_sites).astype(np.int64)
            points = np.empty(n_sites, dtype=object)
            points[tess.site_of_building] = shapely.point_on_surface(geoms[inside])
            graph = build_cell_graph(tess.cells, weight, points, None, outline_length=float(shapely.length(part)))
            count, piece = connected_components(graph.shared, directed=False)
            for q in range(count):
                nodes = np.flatnonzero(piece == q)
                sub = graph.subgraph(nodes) if count > 1 else graph
                pieces.append(Piece(sub, tess.cells[nodes], len(parts) > 1 or count > 1))
        cases.append(Case(str(prep.community_ids[ci]), geometry, geoms, hh, pieces, empty))
    return cases, prep.metric_crs


# -- the methods (worker process) ----------------------------------------------------------------


def _import_method(method: str) -> None:
    """Import a method's library before any community, so import time is never timed."""
    if method == GRIDGEO:
        import gridgeo.partition.engine  # noqa: F401
    elif method.startswith("gerrychain"):
        import gerrychain.partition  # noqa: F401
        import networkx  # noqa: F401
    elif method == "kmeans":
        import sklearn.cluster  # noqa: F401
    elif method in ("skater", "maxp"):
        import libpysal.weights  # noqa: F401
        import pandas  # noqa: F401
        import spopt.region  # noqa: F401
    else:
        raise ValueError(f"unknown method {method!r}; use {GRIDGEO} or one of {', '.join(ANCHORS)}")


def gerrychain_epsilon(total: float, k: int, band: tuple[int, int]) -> float:
    """gerrychain's ±ε around total/k that keeps every part in the band (FALLBACK_EPSILON when none does).

    Examples
    --------
    >>> round(gerrychain_epsilon(2000, 5, (300, 500)), 4)
    0.25
    >>> gerrychain_epsilon(552, 2, (300, 500))
    0.1
    """
    low, high = band
    target = total / k
    eps = min((high - target) / target, (target - low) / target) if target > 0 else 0.0
    return eps if eps > 0 else FALLBACK_EPSILON


def _gerrychain_call(function: str, graph, k: int, band: tuple[int, int], seed: int):
    """Prepare gerrychain's graph (untimed) and return the timed call."""
    import networkx as nx
    from gerrychain.graph import Graph
    from gerrychain.partition import recursive_seed_part, recursive_tree_part

    nxg = nx.Graph()
    nxg.add_nodes_from((i, {"households": int(w)}) for i, w in enumerate(graph.weight))
    upper = sp.triu(graph.shared, 1).tocoo()
    nxg.add_edges_from(zip(upper.row.tolist(), upper.col.tolist()))
    # gerrychain's Partition works on the rustworkx form too; its tree code is ~5x faster there than on networkx
    gc_graph = Graph.from_networkx(nxg).convert_from_nx_to_rx()
    total = float(graph.weight.sum())
    eps = gerrychain_epsilon(total, k, band)
    split = recursive_tree_part if function == "tree" else recursive_seed_part

    def call():
        flips = split(gc_graph, list(range(k)), total / k, "households", eps, rng=seed)
        labels = np.full(graph.n, -1, dtype=np.int64)
        for node, part in flips.items():
            labels[gc_graph.original_nx_node_id_for_internal_node_id(node)] = part
        return labels

    return call


def _spopt_inputs(graph):
    import pandas as pd
    from libpysal.weights import WSP

    binary = (graph.shared > 0).astype(float).tocsr()
    w = WSP(binary, id_order=list(range(graph.n))).to_W(silence_warnings=True)
    return pd.DataFrame({"households": graph.weight.astype(float)}), w


def _method_call(method: str, graph, k: int, band: tuple[int, int], seed: int):
    """The zero-argument call of ``method`` on one piece (its preparation done here, untimed)."""
    if k <= 1:
        return lambda: np.zeros(graph.n, dtype=np.int64)
    if method == "gerrychain-tree":
        return _gerrychain_call("tree", graph, k, band, seed)
    if method == "gerrychain-seed":
        return _gerrychain_call("seed", graph, k, band, seed)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        xy, weight = graph.xy, graph.weight.astype(float)
        return lambda: KMeans(n_clusters=k, random_state=seed).fit(xy, sample_weight=weight).labels_
    if method == "skater":
        from spopt.region import Skater

        frame, w = _spopt_inputs(graph)

        def call():
            model = Skater(frame, w, [SPOPT_ATTRIBUTE], n_clusters=k)
            model.solve()
            return np.asarray(model.labels_)

        return call
    if method == "maxp":
        from spopt.region import MaxPHeuristic

        frame, w = _spopt_inputs(graph)

        def call():
            np.random.seed(seed)  # MaxPHeuristic draws from numpy's global generator
            model = MaxPHeuristic(frame, w, [SPOPT_ATTRIBUTE], "households", band[0])
            model.solve()
            if model.labels_ is None:
                raise RuntimeError("MaxPHeuristic returned no labels")
            return np.asarray(model.labels_)

        return call
    raise ValueError(f"unknown method {method!r}")


class _Clock:
    """Accumulated wall-clock and CPU seconds (this process, all threads) of the timed calls."""

    def __init__(self):
        self.wall = float("nan")
        self.cpu = float("nan")

    def reset(self) -> None:
        self.wall, self.cpu = 0.0, 0.0

    def time(self, call, *args, **kwargs):
        """``call(*args, **kwargs)``, its seconds added even when it raises."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu


def _solve_gridgeo(task: dict, clock: _Clock) -> dict:
    """Time ``partition_part`` on every piece and ``partition_community`` on the whole community."""
    from gridgeo.partition.engine import community_rng, partition_community
    from gridgeo.partition.plan import partition_part

    low, high = task["band"]
    runs, cpu_runs, community_runs = [], [], []
    labels: list = []
    ks: list = []
    whole = None
    for _ in range(task["repeats"]):
        rng = community_rng(task["seed"], task["community_id"])
        labels, ks = [], []
        clock.reset()
        for graph, detached in zip(task["graphs"], task["detached"]):
            piece_labels, notes = clock.time(partition_part, graph, low, high, rng, detached=detached)
            labels.append(piece_labels)
            ks.append(len(notes))
        runs.append(clock.wall)
        cpu_runs.append(clock.cpu)
        start = time.perf_counter()
        whole = partition_community(
            task["geometry"], task["buildings"], task["households"], band=task["band"], rng=community_rng(task["seed"], task["community_id"])
        )
        community_runs.append(time.perf_counter() - start)
    return {
        "labels": labels,
        "ks": ks,
        "seconds": statistics.median(runs),
        "cpu_seconds": statistics.median(cpu_runs),
        "runs": runs,
        "community_seconds": statistics.median(community_runs),
        "community_grids": len(whole.grid_geoms),
    }


def _solve(method: str, task: dict, clock: _Clock) -> dict:
    """Run ``method`` on one community (all its pieces), ``repeats`` times; the median time is kept.

    ``clock`` holds the timed seconds of the current repeat, so a failure can
    report how long the method ran before it.
    """
    if method == GRIDGEO:
        return _solve_gridgeo(task, clock)
    start = time.perf_counter()
    calls = [_method_call(method, g, k, task["band"], task["seed"]) for g, k in zip(task["graphs"], task["ks"])]
    prep_seconds = time.perf_counter() - start
    runs, cpu_runs, labels = [], [], []
    for _ in range(task["repeats"]):
        clock.reset()
        labels = [clock.time(call) for call in calls]
        runs.append(clock.wall)
        cpu_runs.append(clock.cpu)
    return {
        "labels": labels,
        "seconds": statistics.median(runs),
        "cpu_seconds": statistics.median(cpu_runs),
        "runs": runs,
        "prep_seconds": prep_seconds,
    }


def _memory_mb(pid: int | str = "self", key: str = "VmHWM") -> float | None:
    """A memory figure of /proc/<pid>/status in MB (None when unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def _reset_peak() -> None:
    """Reset this process's peak resident set (Linux clear_refs 5), so VmHWM is per community."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def worker_main(conn, method: str) -> None:
    """Worker process: import the method, then solve the communities the parent sends until ``None``."""
    _import_method(method)
    warnings.simplefilter("ignore")  # after the imports: gerrychain sets its own filter when imported
    conn.send({"baseline_mb": _memory_mb(key="VmRSS")})
    while True:
        task = conn.recv()
        if task is None:
            return
        _reset_peak()
        clock = _Clock()
        try:
            out = _solve(method, task, clock)
            out["status"] = "ok"
        except MemoryError:
            out = {"status": "memory", "error": "MemoryError", "seconds": clock.wall, "cpu_seconds": clock.cpu}
        except Exception as exc:  # an anchor's failure is a result, not a crash of the benchmark
            out = {
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}"[:300],
                "where": traceback.format_exc(limit=-2)[-600:],
                "seconds": clock.wall,
                "cpu_seconds": clock.cpu,
            }
        out["peak_mb"] = _memory_mb()
        conn.send(out)


# -- running a method with limits (parent process) -----------------------------------------------


def _start_worker(method: str):
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=worker_main, args=(child, method), daemon=True)
    process.start()
    child.close()
    if not parent.poll(_START_TIMEOUT_S):
        _stop(process)
        raise RuntimeError(f"the {method} worker did not start within {_START_TIMEOUT_S:.0f} s")
    return process, parent, parent.recv()["baseline_mb"]


def _stop(process) -> None:
    if process.is_alive():
        process.kill()
    process.join()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat; nan when unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _wait(process, conn, limit_s: float, memory_mb: float) -> dict:
    """The worker's answer, or a timeout / memory / crash record after killing it.

    A killed worker's CPU seconds are those it used since the task was sent
    (the method's preparation included).
    """
    start = time.perf_counter()
    cpu_start = _cpu_seconds(process.pid)
    peak = 0.0
    while not conn.poll(_POLL_S):
        elapsed = time.perf_counter() - start
        rss = _memory_mb(process.pid, "VmRSS") or 0.0
        peak = max(peak, _memory_mb(process.pid) or rss)
        killed = {"seconds": elapsed, "cpu_seconds": _cpu_seconds(process.pid) - cpu_start, "peak_mb": peak}
        if not process.is_alive():
            return {"status": "crashed", "error": f"worker exited with code {process.exitcode}", **killed}
        if elapsed > limit_s:
            _stop(process)
            return {"status": "timeout", "error": f"no result within {limit_s:.0f} s", **killed, "seconds": limit_s}
        if rss > memory_mb:
            _stop(process)
            return {"status": "memory", "error": f"resident memory {rss:.0f} MB over the {memory_mb:.0f} MB limit", **killed}
    try:
        return conn.recv()
    except EOFError:
        process.join()
        return {"status": "crashed", "error": f"worker exited with code {process.exitcode}", "seconds": time.perf_counter() - start, "peak_mb": peak}


def run_method(
    method: str,
    cases: list[Case],
    *,
    ks: list[list[int]] | None,
    band: tuple[int, int],
    timeout_s: float,
    memory_mb: float,
    repeats: int = 1,
    seed: int = 0,
    max_cells: int | None = None,
) -> dict:
    """Run ``method`` on every community under a time and memory limit per community.

    Parameters
    ----------
    ks : list of list of int, optional
        Grid count per piece of every case (gridgeo's); not needed for gridgeo.
    timeout_s : float
        Limit per community and repeat (preparation and call together).
    max_cells : int, optional
        Communities with a piece of more cells are skipped (status ``skipped``).

    Returns
    -------
    dict
        ``baseline_mb`` and ``communities``: per case a dict with ``status``
        (ok, failed, timeout, memory, crashed, skipped), ``seconds`` (median of
        the timed calls), ``peak_mb``, ``labels`` (per piece), ``error``.
    """
    process = conn = None
    baseline = None
    results = []
    try:
        for index, case in enumerate(cases):
            biggest = max((p.graph.n for p in case.pieces), default=0)
            if max_cells is not None and biggest > max_cells:
                results.append({"status": "skipped", "error": f"{biggest} cells > --maxp-max-cells {max_cells}", "seconds": 0.0})
                continue
            task = {
                "community_id": case.community_id,
                "graphs": [p.graph for p in case.pieces],
                "detached": [p.detached for p in case.pieces],
                "ks": ks[index] if ks is not None else None,
                "band": band,
                "seed": seed,
                "repeats": repeats,
            }
            if method == GRIDGEO:
                task.update(geometry=case.geometry, buildings=case.buildings, households=case.households)
            if process is None or not process.is_alive():
                process, conn, started_mb = _start_worker(method)
                baseline = started_mb if baseline is None else baseline
            load = os.getloadavg()[0]
            conn.send(task)
            out = _wait(process, conn, timeout_s * repeats, memory_mb)
            out["community_id"] = case.community_id
            out["load"] = max(load, os.getloadavg()[0])
            results.append(out)
            if out["status"] != "ok":
                logger.info("%s on %s: %s (%s)", method, case.community_id, out["status"], out.get("error", ""))
    finally:
        if process is not None:
            if process.is_alive():
                conn.send(None)
                process.join(5)
            _stop(process)
    return {"baseline_mb": baseline, "communities": results}


# -- quality (parent process) --------------------------------------------------------------------


def _excuse(cell_weights: np.ndarray, feasible: bool, detached: bool, band) -> str:
    """The DOMAIN.md excuse of an out-of-band grid, the same for every method ('' when none applies)."""
    low, high = band
    total = cell_weights.sum()
    if low <= total <= high:
        return ""
    if (cell_weights > high).any():
        return "oversize_building"
    if not feasible:
        return "detached_part" if detached else "infeasible_total"
    return ""


def grids_of(case: Case, labels: list[np.ndarray], band: tuple[int, int]) -> list[dict]:
    """The grids a method made of one community: dissolved cells, households, excuse."""
    from gridgeo.partition.count import feasible_counts
    from gridgeo.partition.engine import _dissolve

    rows = []
    for piece, piece_labels in zip(case.pieces, labels):
        piece_labels = np.asarray(piece_labels)
        _, label = np.unique(piece_labels, return_inverse=True)
        label = label.ravel()
        feasible = len(feasible_counts(int(piece.graph.weight.sum()), *band)) > 0
        for g in range(label.max() + 1 if len(label) else 0):
            nodes = np.flatnonzero(label == g)
            cell_weights = piece.graph.weight[nodes]
            rows.append(
                {
                    "community_id": case.community_id,
                    "households": int(cell_weights.sum()),
                    "status": _excuse(cell_weights, feasible, piece.detached, band),
                    "geometry": _dissolve(piece.cells[nodes]),
                }
            )
    for part in case.empty_parts:
        rows.append({"community_id": case.community_id, "households": 0, "status": "detached_part", "geometry": part})
    return rows


def evaluate(cases: list[Case], run: dict, band: tuple[int, int], metric_crs) -> dict:
    """Quality and time figures of one method's run, with the definitions of :mod:`gridgeo.metrics`.

    Quality covers the communities the method finished; ``communities_meeting``
    counts communities (of all) finished with every grid one piece and in band
    or excused.
    """
    import geopandas as gpd

    from gridgeo.metrics import community_metrics, summarize

    outcomes = run["communities"]
    done = [(case, out) for case, out in zip(cases, outcomes) if out["status"] == "ok"]
    rows = [row for case, out in done for row in grids_of(case, out["labels"], band)]
    status_counts: dict[str, int] = {}
    for out in outcomes:
        status_counts[out["status"]] = status_counts.get(out["status"], 0) + 1
    seconds = [float(out.get("seconds", 0.0)) for out in outcomes]
    loads = [out["load"] for out in outcomes if "load" in out]
    figures = {
        "status_counts": status_counts,
        "n_communities": len(cases),
        "seconds_total": float(np.nansum(seconds)),
        "cpu_seconds_total": float(np.nansum([float(out.get("cpu_seconds", 0.0)) for out in outcomes])),
        "load_median": float(np.median(loads)) if loads else None,
        "load_max": float(np.max(loads)) if loads else None,
        "seconds_total_ok": float(sum(out["seconds"] for out in outcomes if out["status"] == "ok")),
        "seconds_median": float(np.nanmedian(seconds)) if seconds else 0.0,
        "seconds_max": float(np.nanmax(seconds)) if seconds else 0.0,
        "lower_bound": any(out["status"] in ("timeout", "memory", "crashed", "skipped") for out in outcomes),
        "peak_mb": max((out.get("peak_mb") or 0.0 for out in outcomes), default=0.0),
        "baseline_mb": run.get("baseline_mb"),
        "failures": [
            {"community_id": out.get("community_id", case.community_id), "status": out["status"], "error": out.get("error", "")}
            for case, out in zip(cases, outcomes)
            if out["status"] != "ok"
        ],
    }
    if "community_seconds" in (outcomes[0] if outcomes else {}):
        figures["community_seconds_total"] = float(sum(out.get("community_seconds", 0.0) for out in outcomes))
    if rows:
        grids = gpd.GeoDataFrame(rows, geometry="geometry", crs=metric_crs)
        done_frame = gpd.GeoDataFrame({"community_id": [c.community_id for c, _ in done]}, geometry=[c.geometry for c, _ in done], crs=metric_crs)
        per_comm = community_metrics(grids, done_frame, band=band)
        figures["summary"] = summarize(grids, done_frame, band=band, per_community=per_comm)
        meeting = (per_comm["grids_defect"] == 0) & (per_comm["grids_one_piece"] == per_comm["n_grids"])
        figures["communities_meeting"] = int(meeting.sum())
    else:
        figures["summary"] = None
        figures["communities_meeting"] = 0
    return figures


# -- the whole comparison ------------------------------------------------------------------------


def compare(
    communities,
    buildings,
    *,
    households: str,
    building_id: str | None = None,
    methods: tuple[str, ...] = ANCHORS,
    band: tuple[int, int] = (300, 500),
    timeout_s: float = 60.0,
    memory_mb: float = 4096.0,
    gridgeo_repeats: int = 3,
    anchor_repeats: int = 1,
    seed: int = 0,
    maxp_max_cells: int | None = None,
) -> dict:
    """gridgeo and ``methods`` on the same communities and cell graphs.

    gridgeo runs first (``gridgeo_repeats`` times, median kept); its grid count
    per piece is the k the anchors are asked for.

    Returns
    -------
    dict
        ``communities``, ``cells``, ``households``, ``grids_gridgeo`` and per
        method (gridgeo first) the figures of :func:`evaluate`, plus ``ratio``:
        the faster gerrychain function's time over gridgeo's on the same
        communities, when both gerrychain functions ran.
    """
    for method in methods:
        if method not in ANCHORS:
            raise ValueError(f"unknown anchor {method!r}; use {', '.join(ANCHORS)}")
    start = time.perf_counter()
    cases, metric_crs = prepare_cases(communities, buildings, households=households, building_id=building_id)
    logger.info("prepared %d communities (%d cells) in %.1f s", len(cases), sum(p.graph.n for c in cases for p in c.pieces), time.perf_counter() - start)
    limits = {"band": band, "timeout_s": timeout_s, "memory_mb": memory_mb, "seed": seed}
    runs = {GRIDGEO: run_method(GRIDGEO, cases, ks=None, repeats=gridgeo_repeats, **limits)}
    failed = [out for out in runs[GRIDGEO]["communities"] if out["status"] != "ok"]
    if failed:
        raise RuntimeError(f"gridgeo did not finish {len(failed)} communities: {failed[0].get('error')}")
    ks = [out["ks"] for out in runs[GRIDGEO]["communities"]]
    for case, kk, out in zip(cases, ks, runs[GRIDGEO]["communities"]):
        if sum(kk) + len(case.empty_parts) != out["community_grids"]:
            logger.warning("%s: %d grids from partition_part, %d from partition_community", case.community_id, sum(kk) + len(case.empty_parts), out["community_grids"])
    for method in methods:
        start = time.perf_counter()
        runs[method] = run_method(
            method, cases, ks=ks, repeats=anchor_repeats, max_cells=maxp_max_cells if method == "maxp" else None, **limits
        )
        logger.info("%s: %.1f s wall", method, time.perf_counter() - start)
    out = {
        "communities": len(cases),
        "pieces": sum(len(c.pieces) for c in cases),
        "cells": sum(p.graph.n for c in cases for p in c.pieces),
        "households": int(sum(int(c.households.sum()) for c in cases)),
        "grids_gridgeo": int(sum(sum(k) + len(c.empty_parts) for c, k in zip(cases, ks))),
        "gridgeo_repeats": gridgeo_repeats,
        "anchor_repeats": anchor_repeats,
        "methods": {method: evaluate(cases, run, band, metric_crs) for method, run in runs.items()},
        "per_community": [
            {
                "community_id": case.community_id,
                "cells": sum(p.graph.n for p in case.pieces),
                "households": int(case.households.sum()),
                "k": sum(ks[i]),
                **{
                    method: {
                        key: run["communities"][i].get(key)
                        for key in ("status", "seconds", "cpu_seconds", "community_seconds", "error", "load")
                        if key in run["communities"][i]
                    }
                    for method, run in runs.items()
                },
            }
            for i, case in enumerate(cases)
        ],
    }
    out["ratio"] = gerrychain_ratio(out["methods"], out["per_community"])
    return out


def gerrychain_ratio(methods: dict, per_community: list[dict]) -> dict | None:
    """The faster gerrychain function's time over gridgeo's on the same communities.

    Over all communities (a failure counts with the time it took to fail, a
    timeout at the limit, so with timeouts the ratio is a lower bound), against
    gridgeo's ``partition_part`` and ``partition_community``; and over the
    communities the faster function finished (``*_ok``).
    """
    tried = [m for m in ("gerrychain-tree", "gerrychain-seed") if m in methods]
    if not tried or GRIDGEO not in methods:
        return None
    faster = min(tried, key=lambda m: methods[m]["seconds_total"])
    g = methods[GRIDGEO]
    seconds = methods[faster]["seconds_total"]
    ok = [row for row in per_community if row[faster]["status"] == "ok"]
    seconds_ok = sum(row[faster]["seconds"] for row in ok)
    gridgeo_ok = sum(row[GRIDGEO]["seconds"] for row in ok)
    cpu = methods[faster]["cpu_seconds_total"]
    return {
        "faster": faster,
        "seconds": seconds,
        "lower_bound": methods[faster]["lower_bound"],
        "over_partition_part": seconds / g["seconds_total"] if g["seconds_total"] > 0 else math.inf,
        "cpu_over_partition_part": cpu / g["cpu_seconds_total"] if g["cpu_seconds_total"] > 0 else math.inf,
        "over_partition_community": seconds / g["community_seconds_total"] if g.get("community_seconds_total") else math.inf,
        "communities_ok": len(ok),
        "seconds_ok": seconds_ok,
        "gridgeo_seconds_ok": gridgeo_ok,
        "over_partition_part_ok": seconds_ok / gridgeo_ok if gridgeo_ok > 0 else None,
    }


def compare_dataset(folder: Path, *, households: str = "hh_est", **options) -> dict:
    """:func:`compare` on ``folder``/communities.gpkg and buildings.gpkg (household column ``households``, id ``building_id``)."""
    import geopandas as gpd

    communities = gpd.read_file(folder / "communities.gpkg", layer="communities")
    buildings = gpd.read_file(folder / "buildings.gpkg", layer="buildings")
    out = compare(communities, buildings, households=households, building_id="building_id", **options)
    out["dataset"] = folder.name
    out["buildings"] = len(buildings)
    return out


# -- report --------------------------------------------------------------------------------------


def _times(ratio: float) -> str:
    """A ratio with two significant digits below 10 (0.46×, 3.5×) and none above (222×)."""
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.2g}×"


def _share(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def _status_text(counts: dict) -> str:
    order = ("ok", "failed", "timeout", "memory", "crashed", "skipped")
    return " / ".join(f"{counts.get(s, 0)} {s}" for s in order if counts.get(s, 0) or s == "ok")


def markdown(section: dict) -> list[str]:
    """Markdown lines of the anchors section of benchmarks/results.md."""
    settings = section["settings"]
    lines = [
        "## gridgeo and the anchors on the same communities and cell graphs",
        "",
        f"Same inputs for every method: per community the cell graph gridgeo builds (tessellation of the buildings, cells sharing a "
        f"boundary are neighbours), built once and untimed; k = gridgeo's grid count per piece. Timed: only the partitioning call — "
        f"gridgeo `partition_part` on the same graphs (median of {settings['gridgeo_repeats']}), and for reference gridgeo "
        f"`partition_community` (tessellation + graph + partition + dissolve, median of {settings['gridgeo_repeats']}); anchors "
        f"{settings['anchor_repeats']} run each (they are slow). Limits per community: {settings['timeout_s']:.0f} s and "
        f"{settings['memory_mb']:.0f} MB; a timeout counts at the limit, so a total with timeouts is a lower bound (≥). "
        "Peak MB is the worker process's peak resident set during a community, including its imports (baseline in brackets). "
        "Quality with `gridgeo.metrics` over the communities a method finished; the same excuse rule for every method "
        "(a cell above the maximum, or a piece total that admits no grid count). 'Meeting' = communities (of all) finished with "
        "every grid one piece and in band or excused. Households `hh_est`, band "
        f"{settings['band'][0]}–{settings['band'][1]}, seed {settings['seed']}, 2-core machine; gerrychain on its rustworkx graph, "
        f"ε from the band (fallback {FALLBACK_EPSILON} when the mean grid is outside it); spopt on households as attribute; "
        "KMeans on cell centroids weighted by households. Seconds are wall-clock; CPU s is the worker's CPU time over the same "
        "calls (all its threads; for a killed worker everything since the community was sent), which other jobs on the machine "
        "do not inflate; load is the 1-min load average around each community (median / max; the running method counts 1).",
        "",
        "The tiled scale-ups of the end-to-end table are not given to the anchors: a tiling holds translated copies of these "
        "same communities and every method works community by community, so a method's time on a tiling is its time here "
        "times the number of copies (up to its random draws, which depend on the community ids), and so are the ratios below.",
        "",
        "### Speed: gridgeo against the faster gerrychain function (target ≥ 40×)",
        "",
        "Ratios are the faster gerrychain function's total time over gridgeo's on the same communities (all of them; failures "
        "count with the time they took to fail), and, in the last ratio column, over the communities that function finished only.",
        "",
        "| dataset | communities | cells | gridgeo partition_part s | gridgeo partition_community s | gerrychain-tree s (finished) | "
        "gerrychain-seed s (finished) | faster / partition_part | same in CPU time | faster / partition_community | "
        "where it finished: faster / partition_part | ≥ 40× (all; where finished) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def total(m: dict | None, finished: bool = False) -> str:
        if m is None:
            return "–"
        text = ("≥ " if m["lower_bound"] else "") + f"{m['seconds_total']:.2f}"
        return text + (f" ({m['status_counts'].get('ok', 0)}/{m['n_communities']})" if finished else "")

    for d in section["datasets"]:
        ms = d["methods"]
        g = ms[GRIDGEO]
        r = d.get("ratio")
        if r:
            bound = "≥ " if r["lower_bound"] else ""
            ratio_a = f"{bound}{_times(r['over_partition_part'])} ({r['faster'].split('-')[1]})"
            ratio_b = f"{bound}{_times(r['over_partition_community'])}"
            ratio_cpu = f"{bound}{_times(r['cpu_over_partition_part'])}"
            ok = r["over_partition_part_ok"]
            ratio_c = f"{_times(ok)} ({r['seconds_ok']:.2f} s / {r['gridgeo_seconds_ok']:.3f} s, {r['communities_ok']})" if ok is not None else "–"
            target = ("yes" if r["over_partition_part"] >= 40 else "no") + "; " + ("yes" if ok is not None and ok >= 40 else "no")
        else:
            ratio_a = ratio_b = ratio_c = ratio_cpu = target = "–"
        lines.append(
            f"| {d['dataset']} | {d['communities']} | {d['cells']:,} | {g['seconds_total']:.2f} | {g['community_seconds_total']:.2f} | "
            f"{total(ms.get('gerrychain-tree'), True)} | {total(ms.get('gerrychain-seed'), True)} | {ratio_a} | {ratio_cpu} | {ratio_b} | {ratio_c} | {target} |"
        )
    lines += [
        "",
        "### Constraint satisfaction and quality per method",
        "",
        "| dataset | method | s total | s median / max per community | CPU s | load | peak MB (baseline) | communities ok / failed | "
        "meeting | grids | in band | defects | one piece | PP mean | PP min | max balance | max gap |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in section["datasets"]:
        for name, m in d["methods"].items():
            s = m["summary"]
            quality = (
                f"{s['n_grids']} | {_share(s['share_in_band'])} | {s['n_defects']} | {_share(s['share_one_piece'])} | "
                f"{s['polsby_popper_mean']:.3f} | {s['polsby_popper_min']:.3f} | {s['max_balance']:.2f} | {s['max_gap_ratio']:.1e}"
                if s
                else "– | – | – | – | – | – | – | –"
            )
            lines.append(
                f"| {d['dataset']} | {name} | {total(m)} | {m['seconds_median']:.3f} / {m['seconds_max']:.2f} | {m['cpu_seconds_total']:.2f} | "
                f"{m['load_median']:.1f} / {m['load_max']:.1f} | "
                f"{m['peak_mb']:.0f} ({m['baseline_mb'] or 0:.0f}) | {_status_text(m['status_counts'])} | "
                f"{m['communities_meeting']}/{m['n_communities']} | {quality} |"
            )
    lines += ["", "### Failures of the anchors", ""]
    any_failure = False
    for d in section["datasets"]:
        for name, m in d["methods"].items():
            if not m["failures"]:
                continue
            any_failure = True
            kinds: dict[str, list[str]] = {}
            for f in m["failures"]:
                kinds.setdefault(f"{f['status']}: {_short(f['error'])}", []).append(f["community_id"])
            text = "; ".join(f"{len(ids)}× {kind} ({', '.join(ids[:6])}{' …' if len(ids) > 6 else ''})" for kind, ids in kinds.items())
            lines.append(f"- {d['dataset']}, {name}: {text}")
    if not any_failure:
        lines.append("None.")
    return lines


def _short(error: str) -> str:
    """An error message without the numbers that differ between communities."""
    text = error.split("\n")[0]
    for prefix in ("resident memory",):
        if text.startswith(prefix):
            return prefix + " over the limit"
    return text[:120]
