"""Partition a province (millions of buildings) in batches of communities, on one machine or a Dask cluster.

Usage:
    python scripts/partition_province.py COMMUNITIES BUILDINGS OUTDIR
        [--households COL] [--community-id COL] [--group-column COL | --batch-communities 200]
        [--workers N | --scheduler tcp://HOST:8786] [--seed N] [--overwrite]

No process ever holds the whole province's buildings.  The communities layer
(small: tens of thousands of polygons) is read here and cut into batches,
either one batch per value of ``--group-column`` (a street or county code, so
codes stay per administrative unit) or runs of ``--batch-communities``
neighbouring communities in a Z-order of their centres.  Each batch is one
task: it reads *only its own buildings* from BUILDINGS with a bounding-box read
(pyogrio + Arrow, the file's spatial index), partitions them with gridgeo's
engine and writes a complete gridgeo output to ``OUTDIR/<batch>/``.  With
``--scheduler`` the tasks run on a Dask distributed cluster; the input files
and OUTDIR must then be on storage every worker sees.

Every building is taken by exactly one batch: the batch holding the community
its representative point lies in; a building whose point lies in no
community goes to the first batch whose box holds the point (there gridgeo
assigns it to the community it overlaps most, or lists it as unassigned).  At
the end the script checks that the batches' buildings add up to the file's
feature count and writes ``OUTDIR/batches.csv`` and ``OUTDIR/province.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

import gridgeo
import gridgeo.parallel
from gridgeo.errors import GridgeoError
from gridgeo.inputs.io import read_layer, split_layer_spec

log = logging.getLogger("partition_province")


def make_batches(communities: gpd.GeoDataFrame, *, group_column: str | None, size: int) -> list[np.ndarray]:
    """Row positions of the communities in each batch (administrative groups, or Z-order runs)."""
    if group_column:
        keys = communities[group_column].astype(str).to_numpy()
        return [np.flatnonzero(keys == key) for key in sorted(set(keys))]
    xy = shapely.get_coordinates(communities.geometry.representative_point().to_numpy())
    lo, span = xy.min(axis=0), np.maximum(np.ptp(xy, axis=0), 1e-9)
    cells = np.minimum(((xy - lo) / span * 65535).astype(np.int64), 65535)
    code = np.zeros(len(xy), dtype=np.int64)
    for bit in range(16):  # interleave x and y bits: neighbouring communities share a batch
        code |= ((cells[:, 0] >> bit) & 1) << (2 * bit)
        code |= ((cells[:, 1] >> bit) & 1) << (2 * bit + 1)
    order = np.lexsort((np.arange(len(xy)), code))
    return [order[i : i + size] for i in range(0, len(order), size)]


def run_batch(task: dict) -> dict:
    """One batch: read its buildings by bounding box, keep the ones it owns, partition, write."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    communities = task["communities"]
    path, layer = task["buildings"]
    file_crs = task["file_crs"]
    box = gpd.GeoSeries([shapely.box(*task["box"])], crs=communities.crs)
    box = box.to_crs(file_crs) if file_crs is not None else box
    buildings = read_layer(path, layer=layer, bbox=tuple(box.total_bounds))
    read_s = time.perf_counter() - started
    # ownership: the batch holding the community of the building's representative point
    points = buildings.geometry.representative_point().to_crs(communities.crs).to_numpy()
    inside = shapely.STRtree(communities.geometry.to_numpy()).query(points, predicate="within")
    owned = np.zeros(len(buildings), dtype=bool)
    owned[inside[0]] = True
    orphans = np.flatnonzero(~owned)
    if len(orphans):
        all_tree = shapely.STRtree(np.array([shapely.from_wkb(w) for w in task["province"]], dtype=object))
        in_some = np.zeros(len(orphans), dtype=bool)
        in_some[all_tree.query(points[orphans], predicate="within")[0]] = True
        homeless = orphans[~in_some]
        owners = [0 if points[i] is None else _first_box(task["boxes"], points[i]) for i in homeless]
        owned[homeless[np.asarray(owners, dtype=np.int64) == task["index"]]] = True
    buildings = buildings.loc[owned]
    out = Path(task["outdir"]) / task["name"]
    summary = {"batch": task["name"], "communities": len(communities), "buildings": int(len(buildings))}
    if len(buildings):
        result = gridgeo.partition(communities, buildings, workers=1, **task["options"])
        result.to_files(out, overwrite=True)
        s = result.report["summary"]
        summary.update(
            {
                "unassigned": s["n_unassigned"],
                "households": s["households"],
                "grids": s["n_grids"],
                "defects": s["n_defects"],
                "defects_proven": s["n_defects_proven_infeasible"],
            }
        )
    summary.update(
        {
            "read_s": round(read_s, 2),
            "total_s": round(time.perf_counter() - started, 2),
            # CPU time of this process (the writers forked by to_files not counted): with total_s it
            # tells waiting for a core (oversubscription) from doing more work
            "cpu_s": round(time.process_time() - cpu_started, 2),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )
    return summary


def _first_box(boxes: list[tuple[float, float, float, float]], point) -> int:
    x, y = point.x, point.y
    for index, (minx, miny, maxx, maxy) in enumerate(boxes):
        if minx <= x <= maxx and miny <= y <= maxy:
            return index
    centres = np.array([((a + c) / 2, (b + d) / 2) for a, b, c, d in boxes])
    return int(np.argmin(np.hypot(centres[:, 0] - x, centres[:, 1] - y)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("communities")
    parser.add_argument("buildings")
    parser.add_argument("outdir")
    parser.add_argument("--households", default=None)
    parser.add_argument("--community-id", default=None)
    parser.add_argument("--building-id", default=None)
    parser.add_argument("--group-column", default=None, help="one batch per value (e.g. a street or county code)")
    parser.add_argument("--batch-communities", type=int, default=200, help="communities per batch without --group-column")
    parser.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address; files must be on shared storage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    started = time.perf_counter()
    outdir = Path(args.outdir)
    if outdir.exists() and not args.overwrite:
        log.error("%s exists; pass --overwrite to replace it", outdir)
        return 2
    try:
        c_path, c_layer = split_layer_spec(args.communities)
        b_path, b_layer = split_layer_spec(args.buildings)
        communities = read_layer(c_path, layer=c_layer)
        if communities.crs is None:
            log.error("%s has no CRS; add a .prj or export it with one", c_path)
            return 2
        info = pyogrio.read_info(b_path, layer=b_layer) if not str(b_path).endswith((".parquet", ".geoparquet")) else None
        file_crs = info["crs"] if info is not None else gpd.read_parquet(b_path, columns=[]).crs
        n_features = int(info["features"]) if info is not None else len(gpd.read_parquet(b_path, columns=[]))
    except GridgeoError as exc:
        log.error("%s", exc)
        return 2
    batches = make_batches(communities, group_column=args.group_column, size=args.batch_communities)
    boxes = [tuple(communities.geometry.iloc[rows].total_bounds) for rows in batches]
    province = [shapely.to_wkb(g) for g in communities.geometry.to_numpy()]
    options = {
        "households": args.households,
        "community_id": args.community_id,
        "building_id": args.building_id,
        "seed": args.seed,
    }
    width = max(4, len(str(len(batches))))
    tasks = [
        {
            "index": i,
            "name": f"batch-{i:0{width}d}" + (f"-{_safe(str(communities[args.group_column].iloc[rows[0]]))}" if args.group_column else ""),
            "communities": communities.iloc[rows],
            "buildings": (str(Path(b_path).resolve()), b_layer),
            "file_crs": file_crs,
            "box": boxes[i],
            "boxes": boxes,
            "province": province,
            "outdir": str(outdir.resolve()),
            "options": options,
        }
        for i, rows in enumerate(batches)
    ]
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    log.info("%d communities in %d batches; %d buildings in %s", len(communities), len(batches), n_features, b_path)
    try:
        summaries = gridgeo.parallel.map_ordered(
            run_batch, tasks, workers=args.workers or gridgeo.parallel.default_workers(), scheduler=args.scheduler, progress=sys.stderr.isatty(), desc="batches"
        )
    except GridgeoError as exc:
        log.error("%s", exc)
        return 2
    table = pd.DataFrame(summaries)
    table.to_csv(outdir / "batches.csv", index=False)
    taken = int(table["buildings"].sum())
    elapsed = time.perf_counter() - started
    report = {
        "communities": len(communities),
        "batches": len(batches),
        "buildings_in_file": n_features,
        "buildings_taken": taken,
        "households": int(table.get("households", pd.Series(dtype=int)).fillna(0).sum()),
        "grids": int(table.get("grids", pd.Series(dtype=int)).fillna(0).sum()),
        "defects": int(table.get("defects", pd.Series(dtype=int)).fillna(0).sum()),
        "seconds": round(elapsed, 1),
        "buildings_per_second": round(taken / elapsed, 1) if elapsed > 0 else None,
        "largest_batch_peak_mb": int(table["peak_mb"].max()),
        "batch_seconds_median": round(float(table["total_s"].median()), 2),
        "batch_cpu_seconds_median": round(float(table["cpu_s"].median()), 2),
    }
    (outdir / "province.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if taken != n_features:
        log.error("the batches took %d buildings but %s holds %d: a building was lost or taken twice", taken, b_path, n_features)
        return 3
    log.info("%s", json.dumps(report))
    return 0


def _safe(name: str) -> str:
    """A folder name from a data value: no separators, no leading dots."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name).lstrip(".")
    return cleaned[:80] or "batch"


if __name__ == "__main__":
    sys.exit(main())
