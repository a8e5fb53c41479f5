"""The bad-input matrix (issue 4): every broken or unusual input gives a clear error or a documented repair.

Each case builds its input in tmp_path from a small real slice — two villages of ``tests/data/taipei_small_*``
(景星里 and 國順里, 161 buildings) or, for islands and swapped axes, the Monaco slice — runs the command line
and checks the outcome documented in ``docs/bad-inputs.md``:

* ``error``: exit 2 and one ``Error:`` line naming the file (and the rows) with a fix; no traceback; the output's
  parent folder exactly as before (no OUTDIR, no staging folder, an existing OUTDIR untouched);
* ``repair`` / ``flag`` / ``accepted``: exit 0, the warning (or flag) in the log or outputs, and the invariants:
  every input building once in ``buildings`` + ``unassigned``, households conserved, input attributes unchanged;
* ``interrupt``: exit 130 and nothing written.

Every case also checks that the input files are byte-identical afterwards.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from gridgeo.cli import main
from gridgeo.inputs.io import is_table, read_layer, read_point_table, split_layer_spec

from .conftest import DATA, REPO

TAIPEI_VILLAGES = ["6300600014", "6300600017"]  # 景星里 (70 buildings) and 國順里 (91), sharing a ~350 m border
OPTIONS = ["--households", "hh_est", "--community-id", "comm_id", "--building-id", "bldg_id"]
MONACO_OPTIONS = ["--households", "hh_est", "--community-id", "community_id", "--building-id", "building_id"]
FAST = ["--no-map", "--no-report", "--workers", "1"]


@dataclass
class Setup:
    """The inputs of one case, written by its builder."""

    communities: str
    buildings: str
    options: list[str] = field(default_factory=lambda: list(OPTIONS))
    extra: list[str] = field(default_factory=list)
    out: Path | None = None  # default: WORK/out
    encoding: str | None = None  # to read the buildings back for the invariants
    building_id: str = "bldg_id"
    table: dict = field(default_factory=dict)  # --x/--y/--wkt/--crs of a BUILDINGS table, to read it back


@dataclass
class Case:
    id: str
    build: Callable  # (base, inputs folder, work folder, monkeypatch) -> Setup
    outcome: str  # error | repair | flag | accepted | interrupt
    expect: tuple[str, ...] = ()  # text in the command's output (messages, warnings)
    check: Callable | None = None  # more assertions on the output folder
    lines: int = 1  # lines of an error message
    fix: bool = True  # the error message carries "— fix:"


# -- the base slices --------------------------------------------------------------------------------------
@dataclass
class Base:
    communities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    monaco_communities: gpd.GeoDataFrame
    monaco_buildings: gpd.GeoDataFrame


@pytest.fixture(scope="module")
def base() -> Base:
    c = gpd.read_file(DATA / "taipei_small_communities.gpkg", layer="communities")
    b = gpd.read_file(DATA / "taipei_small_buildings.gpkg", layer="buildings")
    c = c[c["community_id"].isin(TAIPEI_VILLAGES)].rename(columns={"community_id": "comm_id"})
    b = b[b["community_id"].isin(TAIPEI_VILLAGES)].rename(columns={"building_id": "bldg_id", "community_id": "comm_id"})
    # short column names, so the same frames fit a Shapefile's 10-character limit
    c = c[["comm_id", "name", "district", "geometry"]].reset_index(drop=True)
    b = b[["bldg_id", "hh_est", "height_m", "comm_id", "district", "geometry"]].reset_index(drop=True)
    mc = gpd.read_file(DATA / "monaco_communities.gpkg", layer="communities")
    mb = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    return Base(c, b, mc, mb)


def _write(inputs: Path, c: gpd.GeoDataFrame, b: gpd.GeoDataFrame, *, cname="c.gpkg", bname="b.gpkg", **kwargs) -> Setup:
    c.to_file(inputs / cname)
    b.to_file(inputs / bname)
    return Setup(str(inputs / cname), str(inputs / bname), **kwargs)


def _plain(base, inputs, work, mp) -> Setup:
    return _write(inputs, base.communities, base.buildings)


def _buildings(change: Callable) -> Callable:
    """A builder writing the base communities and ``change(copy of the base buildings)``."""

    def build(base, inputs, work, mp):
        return _write(inputs, base.communities, change(base.buildings.copy()))

    return build


def _communities(change: Callable) -> Callable:
    def build(base, inputs, work, mp):
        return _write(inputs, change(base.communities.copy()), base.buildings)

    return build


def _swap_xy(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.set_geometry(shapely.transform(frame.geometry.to_numpy(), lambda xy: xy[:, ::-1]))


def _households(row: int, value) -> Callable:
    def change(b):
        b["hh_est"] = b["hh_est"].astype(object)
        b.loc[row, "hh_est"] = value
        return b

    return change


def _existing_output(work: Path) -> Path:
    """An earlier gridgeo output folder (its report.json marks it)."""
    out = work / "out"
    out.mkdir()
    (out / "report.json").write_text('{"earlier": "run"}\n', encoding="utf-8")
    (out / "grids.geojson").write_text("earlier grids\n", encoding="utf-8")
    return out


# -- builders of the individual cases ------------------------------------------------------------------------
def _missing_file(base, inputs, work, mp):
    setup = _plain(base, inputs, work, mp)
    setup.buildings = str(inputs / "none.gpkg")
    return setup


def _empty_file(base, inputs, work, mp):
    base.communities.to_file(inputs / "c.gpkg")
    (inputs / "b.geojson").write_bytes(b"")
    return Setup(str(inputs / "c.gpkg"), str(inputs / "b.geojson"))


def _corrupt_file(base, inputs, work, mp):
    base.communities.to_file(inputs / "c.gpkg")
    (inputs / "b.gpkg").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    return Setup(str(inputs / "c.gpkg"), str(inputs / "b.gpkg"))


def _shapefile(drop: str | None = None, encoding: str | None = None) -> Callable:
    """Buildings as a Shapefile, written in ``encoding``, then without the ``drop`` part (.prj, .shx, .dbf, .cpg)."""

    def build(base, inputs, work, mp):
        base.communities.to_file(inputs / "c.gpkg")
        kwargs = {"encoding": encoding} if encoding else {}
        base.buildings.to_file(inputs / "b.shp", **kwargs)
        if drop:
            (inputs / f"b{drop}").unlink()
        return Setup(str(inputs / "c.gpkg"), str(inputs / "b.shp"))

    return build


def _check_chinese_text(out, setup):
    written = gpd.read_file(out / "partition.gpkg", layer="buildings")
    assert set(written["district"]) == {"大同區"}


def _zipped(folder: str) -> Callable:
    def build(base, inputs, work, mp):
        base.communities.to_file(inputs / "c.gpkg")
        parts = work.parent / "parts"
        parts.mkdir()
        base.buildings.to_file(parts / "b.shp")
        with zipfile.ZipFile(inputs / "b.zip", "w") as archive:
            for part in sorted(parts.iterdir()):
                archive.write(part, f"{folder}{part.name}")
        return Setup(str(inputs / "c.gpkg"), str(inputs / "b.zip"))

    return build


def _not_a_zip(base, inputs, work, mp):
    base.communities.to_file(inputs / "c.gpkg")
    (inputs / "b.zip").write_bytes(b"PK\x03\x04 not really a zip")
    return Setup(str(inputs / "c.gpkg"), str(inputs / "b.zip"))


def _non_ascii_paths(base, inputs, work, mp):
    folder = inputs / "网格 数据" / "社区"
    folder.mkdir(parents=True)
    base.communities.to_file(folder / "社区.shp")
    base.buildings.to_file(folder / "楼栋.gpkg")
    # every writer, into a non-ASCII output folder
    return Setup(str(folder / "社区.shp"), str(folder / "楼栋.gpkg"), out=work / "输出 结果", extra=["--format", "shp,csv,xlsx", "--map", "--report"])


def _check_all_writers(out, setup):
    names = {p.name for p in out.iterdir()}
    assert {"map.html", "report.html", "roster.csv", "roster.xlsx", "shp"} <= names


def _projected_as_wgs84(base, inputs, work, mp):
    c = base.communities.to_crs(3826).set_crs(4326, allow_override=True)
    b = base.buildings.to_crs(3826).set_crs(4326, allow_override=True)
    return _write(inputs, c, b)


def _swapped_both(base, inputs, work, mp):
    return _write(inputs, _swap_xy(base.communities), _swap_xy(base.buildings))


def _swapped_in_range(base, inputs, work, mp):
    # Monaco (7.4° E, 43.7° N) swapped is still a valid lon/lat pair: only the two layers' mismatch shows it
    return _write(inputs, base.monaco_communities, _swap_xy(base.monaco_buildings), options=list(MONACO_OPTIONS), building_id="building_id")


def _mixed_types(b):
    b.loc[3, "geometry"] = b.geometry[3].boundary  # a line
    b.loc[5, "geometry"] = b.geometry[5].representative_point()  # a point is a valid building
    b.loc[7, "geometry"] = shapely.GeometryCollection([b.geometry[7]])
    return b


def _community_point(c):
    c.loc[1, "geometry"] = c.geometry[1].representative_point()
    return c


def _z_coordinates(base, inputs, work, mp):
    c = base.communities.set_geometry(shapely.force_3d(base.communities.geometry.to_numpy(), 0.0))
    b = base.buildings.set_geometry(shapely.force_3d(base.buildings.geometry.to_numpy(), 12.5))
    return _write(inputs, c, b)


def _check_z_note(out, setup):
    notes = json.loads((out / "report.json").read_text(encoding="utf-8"))["notes"]
    assert any("Z coordinates" in note for note in notes)


def _m_coordinates(base, inputs, work, mp):
    # GDAL cannot write M values from Python, GeoParquet can
    polygons = shapely.get_geometry(base.buildings.geometry.to_numpy(), 0)
    measured = [
        shapely.from_wkt("POLYGON M ((" + ", ".join(f"{float(x)!r} {float(y)!r} 7" for x, y in shapely.get_coordinates(p)) + "))")
        for p in polygons
    ]
    b = base.buildings.set_geometry(gpd.GeoSeries(measured, crs=base.buildings.crs))
    base.communities.to_file(inputs / "c.gpkg")
    b.to_parquet(inputs / "b.parquet")
    return Setup(str(inputs / "c.gpkg"), str(inputs / "b.parquet"))


def _no_geometry(b):
    b.loc[5, "geometry"] = None
    return b


def _self_intersecting(b):
    minx, miny, maxx, maxy = b.geometry[3].bounds
    b.loc[3, "geometry"] = shapely.Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)])  # a bow tie
    return b


def _sliver_part(c):
    parts = list(shapely.get_parts(c.geometry[0]))
    minx, miny, maxx, maxy = c.geometry[0].bounds
    x, y = maxx + 0.001, (miny + maxy) / 2
    sliver = shapely.Polygon([(x, y), (x + 2e-6, y), (x, y + 2e-6)])  # ~0.02 m², 100 m east of the community
    c.loc[0, "geometry"] = shapely.MultiPolygon([*parts, sliver])
    return c


def _sliver_building(base, inputs, work, mp):
    # a footprint of zero area (three collinear corners), in a projected CRS so it stays collinear
    c, b = base.communities.to_crs(3826), base.buildings.to_crs(3826)
    x, y = b.geometry[3].representative_point().coords[0]
    b.loc[3, "geometry"] = shapely.Polygon([(x, y), (x + 5, y), (x + 10, y)])
    return _write(inputs, c, b)


def _malformed_ring(base, inputs, work, mp):
    # a footprint stored as a ring of two points (as some OSM extracts hold): shapely cannot even parse it
    setup = _write(inputs, base.communities, base.buildings, bname="b.geojson")
    data = json.loads(Path(setup.buildings).read_text(encoding="utf-8"))
    geometry = data["features"][3]["geometry"]
    exterior = geometry["coordinates"][0] if geometry["type"] == "Polygon" else geometry["coordinates"][0][0]
    ring = exterior[:2]
    data["features"][3]["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    Path(setup.buildings).write_text(json.dumps(data), encoding="utf-8")
    return setup


def _duplicate_geometry(b):
    twin = b.iloc[[2]].assign(bldg_id="twin-of-row-3")
    return gpd.GeoDataFrame(pd.concat([b, twin], ignore_index=True), crs=b.crs)


def _duplicate_outline_redrawn(b):
    """The same footprint digitised again from another corner, running the other way: the same outline."""
    polygon = b.geometry.iloc[2]
    ring = list(polygon.exterior.coords)[:-1]
    redrawn = shapely.Polygon(list(reversed(ring[1:] + ring[:1])))
    assert shapely.equals(redrawn, polygon) and redrawn.wkb != polygon.wkb
    twin = b.iloc[[2]].assign(bldg_id="redrawn-row-3")
    twin = twin.set_geometry([redrawn], crs=b.crs)
    return gpd.GeoDataFrame(pd.concat([b, twin], ignore_index=True), crs=b.crs)


def _overlapping(c):
    c.loc[0, "geometry"] = c.geometry[0].buffer(0.0004)  # ~40 m into the neighbour
    return c


def _hole_and_enclave(c):
    outer = c.geometry[0]
    hole = outer.representative_point().buffer(0.0004)
    c.loc[0, "geometry"] = outer.difference(hole)
    enclave = c.iloc[[0]].assign(comm_id="ENCLAVE", name="飛地")
    enclave = enclave.set_geometry(gpd.GeoSeries([hole], index=enclave.index, crs=c.crs))
    return gpd.GeoDataFrame(pd.concat([c, enclave], ignore_index=True), crs=c.crs)


def _check_enclave(out, setup):
    grids = gpd.read_file(out / "partition.gpkg", layer="grids")
    assert "ENCLAVE" in set(grids["community_id"])
    holed = grids[grids["community_id"] == "6300600014"].to_crs(3826).union_all()
    enclave = grids[grids["community_id"] == "ENCLAVE"].to_crs(3826).union_all()
    assert holed.intersection(enclave).area < 1e-3 * enclave.area  # the enclave stays out of its host's grids


def _islands(base, inputs, work, mp):
    # La Rousse and Larvotto; Larvotto is a real two-part multipolygon (a detached strip without buildings)
    return _write(inputs, base.monaco_communities, base.monaco_buildings, options=list(MONACO_OPTIONS), building_id="building_id")


def _status(status: str, community: str | None = None) -> Callable:
    def check(out, setup):
        grids = gpd.read_file(out / "partition.gpkg", layer="grids")
        chosen = grids if community is None else grids[grids["community_id"] == community]
        assert status in set(chosen["status"]), chosen[["grid_code", "households", "status"]]
        assert (grids["reason"][grids["status"] != "in_band"].astype(str) != "").all()

    return check


def _outside(b):
    b.loc[5, "geometry"] = shapely.affinity.translate(b.geometry[5], 0.05, 0)  # 5 km east
    return b


def _check_unassigned(reason: str) -> Callable:
    def check(out, setup):
        unassigned = gpd.read_file(out / "partition.gpkg", layer="unassigned")
        assert list(unassigned["reason"]) == [reason]

    return check


def _all_outside(b):
    return b.set_geometry(b.geometry.translate(5, 5))


def _straddling(base, inputs, work, mp):
    b = base.buildings.copy()
    border = base.communities.geometry[0].intersection(base.communities.geometry[1])
    b.loc[5, "geometry"] = border.interpolate(0.5, normalized=True).buffer(0.0001)  # a round building on the border
    return _write(inputs, base.communities, b)


def _zero_community(b):
    b.loc[b["comm_id"] == "6300600017", "hh_est"] = 0
    return b


def _all_zero(b):
    b["hh_est"] = 0
    return b


def _huge(b):
    b.loc[10, "hh_est"] = 10_000
    return b


def _check_huge(out, setup):
    grids = gpd.read_file(out / "partition.gpkg", layer="grids")
    oversize = grids[grids["status"] == "oversize_building"]
    assert len(oversize) == 1 and oversize["households"].iloc[0] >= 10_000
    units = gpd.read_file(out / "partition.gpkg", layer="units")
    assert units["households"].between(10, 15).all()


def _one_building(b):
    keep = (b["comm_id"] != "6300600017") | (b.index == b.index[b["comm_id"] == "6300600017"][0])
    return b[keep].reset_index(drop=True)


def _duplicate_ids(b):
    b.loc[7, "bldg_id"] = b.loc[2, "bldg_id"]
    return b


def _duplicate_community_ids(c):
    c.loc[1, "comm_id"] = c.loc[0, "comm_id"]
    return c


def _output_exists(base, inputs, work, mp):
    setup = _plain(base, inputs, work, mp)
    _existing_output(work)
    return setup


def _output_overwrite(base, inputs, work, mp):
    setup = _output_exists(base, inputs, work, mp)
    setup.extra = ["--overwrite"]
    return setup


def _check_replaced(out, setup):
    assert json.loads((out / "report.json").read_text(encoding="utf-8")).get("earlier") is None
    assert (out / "grids.geojson").read_text(encoding="utf-8").startswith('{"type":"FeatureCollection"')


def _output_not_gridgeo(base, inputs, work, mp):
    setup = _plain(base, inputs, work, mp)
    (work / "out").mkdir()
    (work / "out" / "thesis.docx").write_bytes(b"not a gridgeo output")
    setup.extra = ["--overwrite"]
    return setup


def _output_holds_inputs(base, inputs, work, mp):
    setup = _plain(base, inputs, work, mp)
    setup.out = inputs
    setup.extra = ["--overwrite"]
    return setup


def _output_is_a_file(base, inputs, work, mp):
    setup = _plain(base, inputs, work, mp)
    (work / "out").write_text("a file\n", encoding="utf-8")
    return setup


def _read_only(base, inputs, work, mp):
    setup = _plain(base, inputs, work, mp)
    if os.geteuid() != 0:
        work.chmod(0o555)
        return setup
    # root ignores permissions: refuse to create anything inside WORK, as a read-only folder would
    mkdir = os.mkdir

    def refuse(path, *args, **kwargs):
        if Path(path).parent == work:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return mkdir(path, *args, **kwargs)

    mp.setattr(os, "mkdir", refuse)
    return setup


def _fail_geojson(exc: BaseException) -> Callable:
    """Make the GeoJSON writer (after the GeoPackage is written) write half a file and fail with ``exc``."""

    def patch(mp):
        def failing(frame, path, **kwargs):
            Path(path).write_bytes(b'{"type":"FeatureCollection","features":[{"type":')
            raise exc

        mp.setattr("gridgeo.outputs.export.write_geojson", failing)

    return patch


DISK_FULL = OSError(errno.ENOSPC, "No space left on device", "grids.geojson")


def _failing(exc: BaseException, existing: bool = False) -> Callable:
    def build(base, inputs, work, mp):
        setup = _plain(base, inputs, work, mp)
        if existing:
            _existing_output(work)
            setup.extra = ["--overwrite"]
        _fail_geojson(exc)(mp)
        return setup

    return build


def _point_table(kind: str) -> Callable:
    """Buildings as a table of their representative points: CSV with lon/lat columns, XLSX with WKT, or broken."""

    def build(base, inputs, work, mp):
        base.communities.to_file(inputs / "c.gpkg")
        points = base.buildings.geometry.representative_point()
        table = pd.DataFrame(base.buildings.drop(columns="geometry"))
        name, table_options = "b.csv", {"x": "lon", "y": "lat"}
        if kind == "xlsx_wkt":
            name, table_options = "b.xlsx", {"wkt": "wkt"}
            table.assign(wkt=points.to_wkt()).to_excel(inputs / name, index=False)
        elif kind == "projected":
            projected = points.to_crs(3826)
            table_options = {"x": "e", "y": "n", "crs": "EPSG:3826"}
            table.assign(e=projected.x.round(3), n=projected.y.round(3)).to_csv(inputs / name, index=False, encoding="utf-8-sig")
        else:
            table = table.assign(lon=points.x, lat=points.y)
            if kind == "bad_number":
                table["lon"] = table["lon"].astype(object)
                table.loc[4, "lon"] = "121°30'38\""
            table.to_csv(inputs / name, index=False, encoding="utf-8-sig")
        flags = [] if kind == "no_options" else [arg for key, value in table_options.items() for arg in (f"--{key}", value)]
        return Setup(str(inputs / "c.gpkg"), str(inputs / name), options=[*OPTIONS, *flags], table=table_options)

    return build


def _table_as_communities(base, inputs, work, mp):
    pd.DataFrame(base.communities.drop(columns="geometry")).to_csv(inputs / "c.csv", index=False)
    base.buildings.to_file(inputs / "b.gpkg")
    return Setup(str(inputs / "c.csv"), str(inputs / "b.gpkg"))


def _attribute_table_as_communities(base, inputs, work, mp):
    pyogrio.write_dataframe(pd.DataFrame(base.communities.drop(columns="geometry")), inputs / "c.gpkg", layer="communities")
    base.buildings.to_file(inputs / "b.gpkg")
    return Setup(str(inputs / "c.gpkg"), str(inputs / "b.gpkg"))


def _interrupt_at_rename(base, inputs, work, mp):
    """An interrupt in the last step, between retiring the existing OUTDIR and renaming the new one into place."""
    setup = _output_overwrite(base, inputs, work, mp)
    rename = pathlib.Path.rename

    def interrupted(self, target):
        if self.name.endswith(".tmp") and self.parent == work:
            raise KeyboardInterrupt
        return rename(self, target)

    mp.setattr(pathlib.Path, "rename", interrupted)
    return setup


CASES = [
    # files and formats
    Case("missing_file", _missing_file, "error", ("none.gpkg", "file not found")),
    Case("empty_file_0_bytes", _empty_file, "error", ("b.geojson", "is empty (0 bytes)")),
    Case("corrupt_file", _corrupt_file, "error", ("b.gpkg", "cannot be read as a vector layer (not a valid GeoPackage")),
    Case("layer_without_features", _buildings(lambda b: b.iloc[:0]), "error", ("b.gpkg", "has no features")),
    Case("shapefile_without_prj", _shapefile(".prj"), "error", ("b.shp", "no coordinate reference system", ".prj")),
    Case("shapefile_without_shx", _shapefile(".shx"), "error", ("b.shp", "b.shx is missing")),
    Case("shapefile_without_dbf", _shapefile(".dbf"), "error", ("b.shp", "b.dbf is missing")),
    Case("gbk_dbf_without_cpg", _shapefile(".cpg", "gbk"), "error", ("b.shp", "rows 1, 2, 3", "not UTF-8", "--encoding gbk")),
    Case("utf8_dbf_without_cpg", _shapefile(".cpg"), "repair", ("b.shp: no .cpg file; its text is valid UTF-8",), _check_chinese_text),
    Case("zipped_shapefile", _zipped(""), "accepted"),
    Case("zipped_shapefile_in_a_folder", _zipped("buildings/"), "accepted"),
    Case("zip_that_is_not_a_zip", _not_a_zip, "error", ("b.zip", "is not a zip archive")),
    Case("non_ascii_file_and_folder_names", _non_ascii_paths, "accepted", (), _check_all_writers),
    Case("buildings_table_of_points_csv", _point_table("csv"), "accepted"),
    Case("buildings_table_of_points_xlsx_wkt", _point_table("xlsx_wkt"), "accepted"),
    Case("buildings_table_of_points_projected_crs", _point_table("projected"), "accepted"),
    Case("buildings_table_without_coordinate_options", _point_table("no_options"), "error", ("b.csv", "is a table: its coordinate columns must be named", "pass --x lon --y lat")),
    Case("buildings_table_coordinate_not_a_number", _point_table("bad_number"), "error", ("b.csv", "row 5: coordinate 'lon' is not a number")),
    Case("table_as_communities", _table_as_communities, "error", ("c.csv", "is a table (CSV or spreadsheet) without geometry", "GeoPackage, Shapefile or GeoJSON of polygons")),
    Case("attribute_table_as_communities", _attribute_table_as_communities, "error", ("c.gpkg", "has no geometry (an attribute table)")),
    # coordinate reference systems
    Case("crs_projected_labelled_wgs84", _projected_as_wgs84, "error", ("c.gpkg", "b.gpkg", "are not longitudes and latitudes"), lines=3),
    Case("crs_lat_lon_swapped", _swapped_both, "error", ("c.gpkg", "b.gpkg", "look like latitude, longitude (swapped)"), lines=3),
    Case("crs_lat_lon_swapped_in_range", _swapped_in_range, "error", ("b.gpkg", "none of the 157 buildings", "(swapped)", "swap the X and Y")),
    # geometry
    Case("mixed_geometry_types", _buildings(_mixed_types), "error", ("b.gpkg", "rows 4, 8: geometry is GeometryCollection or LineString, not a footprint or point")),
    Case("community_not_a_polygon", _communities(_community_point), "error", ("c.gpkg", "row 2: geometry is Point, not a polygon")),
    Case("z_coordinates", _z_coordinates, "accepted", (), _check_z_note),
    Case("m_coordinates", _m_coordinates, "repair", ("b.parquet: dropped the M (measure) values of 161 geometries",)),
    Case("building_without_geometry", _buildings(_no_geometry), "repair", ("1 without geometry: bldg_id tpe-004447",), _check_unassigned("no geometry (empty or missing)")),
    Case("self_intersecting_building", _buildings(_self_intersecting), "repair", ("b.gpkg: repaired 1 invalid geometry with make_valid (bldg_id tpe-004445)",)),
    Case("sliver_community_part", _communities(_sliver_part), "repair", ("c.gpkg: dropped 1 sliver part smaller",)),
    Case("sliver_building_zero_area", _sliver_building, "repair", ("repaired 1 invalid geometry with", "1 without geometry: bldg_id tpe-004445"), _check_unassigned("no geometry (empty or missing)")),
    Case(
        "malformed_ring_in_file",
        _malformed_ring,
        "repair",
        ("b.geojson: some geometries are malformed as stored", "1 without geometry: bldg_id tpe-004445"),
        _check_unassigned("no geometry (empty or missing)"),
    ),
    Case("duplicate_geometries", _buildings(_duplicate_geometry), "repair", ("bldg_id tpe-004444, twin-of-row-3 have the same geometry",)),
    Case("duplicate_outline_redrawn", _buildings(_duplicate_outline_redrawn), "repair", ("bldg_id tpe-004444, redrawn-row-3 have the same geometry",)),
    Case("overlapping_communities", _communities(_overlapping), "repair", ("c.gpkg: 1 pair of communities overlaps: 6300600014 & 6300600017",)),
    Case("community_with_hole_and_enclave", _communities(_hole_and_enclave), "accepted", (), _check_enclave),
    Case("multipolygon_community_islands", _islands, "flag", (), _status("detached_part", "MON-006")),
    Case("building_outside_every_community", _buildings(_outside), "repair", ("1 outside every community: bldg_id tpe-004447",), _check_unassigned("outside every community")),
    Case("no_building_in_any_community", _buildings(_all_outside), "error", ("b.gpkg", "none of the 161 buildings lies in any community of c.gpkg")),
    Case("building_across_two_communities", _straddling, "repair", ("1 building straddles two or more communities",)),
    # households
    Case("households_nan", _buildings(_households(2, None)), "error", ("b.gpkg", "row 3", "is missing")),
    Case("households_text", _buildings(_households(3, "十二")), "error", ("b.gpkg", "row 4", "is not a number ('十二')")),
    Case("households_negative", _buildings(_households(4, -3)), "error", ("b.gpkg", "row 5", "is negative")),
    Case("households_fractional", _buildings(_households(6, 2.5)), "error", ("b.gpkg", "row 7", "is not a whole number")),
    Case("households_infinite", _buildings(_households(6, np.inf)), "error", ("b.gpkg", "row 7", "is infinite")),
    Case("zero_household_community", _buildings(_zero_community), "flag", ("1 community has no households (6300600017)",), _status("infeasible_total", "6300600017")),
    Case("all_households_zero", _buildings(_all_zero), "flag", ("every building has 0 households in 'hh_est'",), _status("infeasible_total")),
    Case("one_building_10000_households", _buildings(_huge), "flag", (), _check_huge),
    Case("community_of_one_building", _buildings(_one_building), "flag", (), _status("infeasible_total", "6300600017")),
    Case("duplicate_building_ids", _buildings(_duplicate_ids), "error", ("b.gpkg", "rows 3, 8", "duplicate bldg_id")),
    Case("duplicate_community_ids", _communities(_duplicate_community_ids), "error", ("c.gpkg", "rows 1, 2", "duplicate comm_id")),
    # the output folder
    Case("output_folder_exists", _output_exists, "error", ("out", "exists", "--overwrite")),
    Case("output_folder_exists_overwrite", _output_overwrite, "accepted", (), _check_replaced),
    Case("output_folder_not_from_gridgeo", _output_not_gridgeo, "error", ("out", "is not a gridgeo output folder")),
    Case("output_folder_holds_the_inputs", _output_holds_inputs, "error", ("-o/--output", "holds the input file", "inputs/c.gpkg;")),  # as given
    Case("output_path_is_a_file", _output_is_a_file, "error", ("is a file",), lines=3, fix=False),
    Case("output_folder_read_only", _read_only, "error", ("out: permission denied: cannot write in", "nothing was written")),
    Case("disk_full", _failing(DISK_FULL), "error", ("disk full while writing (grids.geojson)", "nothing was written")),
    Case("disk_full_keeps_existing_output", _failing(DISK_FULL, existing=True), "error", ("disk full",)),
    Case("interrupt_while_writing", _failing(KeyboardInterrupt()), "interrupt"),
    Case("interrupt_keeps_existing_output", _failing(KeyboardInterrupt(), existing=True), "interrupt"),
    Case("interrupt_while_replacing_output", _interrupt_at_rename, "interrupt"),
]


# -- checks ----------------------------------------------------------------------------------------------------
def tree(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` (relative path → SHA-256, or "dir")."""
    found = {}
    for path in sorted(folder.rglob("*")):
        found[str(path.relative_to(folder))] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _values(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series.astype(object)]


def assert_invariants(setup: Setup, out: Path) -> None:
    """Every input building once in buildings + unassigned; households conserved; input attributes unchanged."""
    path, layer = split_layer_spec(setup.buildings)
    source = read_point_table(path, sheet=layer, **setup.table) if is_table(path) else read_layer(path, layer=layer, encoding=setup.encoding)
    key = setup.building_id
    layers = set(pyogrio.list_layers(out / "partition.gpkg")[:, 0])
    assigned = gpd.read_file(out / "partition.gpkg", layer="buildings")
    unassigned = gpd.read_file(out / "partition.gpkg", layer="unassigned") if "unassigned" in layers else assigned.iloc[:0]
    written = pd.concat([assigned, unassigned], ignore_index=True)
    assert len(assigned) + len(unassigned) == len(source)
    assert sorted(written[key].astype(str)) == sorted(source[key].astype(str))
    source = source.set_index(source[key].astype(str))
    written = written.set_index(written[key].astype(str)).loc[source.index]
    for column in source.columns:
        if column != source.geometry.name:
            assert _values(written[column]) == _values(source[column]), column
    given = source.loc[assigned[key].astype(str), "hh_est"].astype(int).to_numpy()
    assert (assigned["households"].to_numpy() == given).all()
    total = int(assigned["households"].sum())
    for name in ("grids", "communities", "units"):
        frame = gpd.read_file(out / "partition.gpkg", layer=name)
        assert int(frame["households"].sum()) == total, name


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, work = tmp_path / "inputs", tmp_path / "work"
    inputs.mkdir()
    work.mkdir()
    try:
        setup = case.build(base, inputs, work, monkeypatch)
        out = setup.out or work / "out"
        inputs_before, work_before = tree(inputs), tree(work)
        args = ["partition", setup.communities, setup.buildings, *setup.options, *FAST, *setup.extra, "-o", str(out)]
        result = CliRunner().invoke(main, args)
        monkeypatch.undo()
    finally:
        work.chmod(0o755)
    output = result.output
    assert "Traceback" not in output, output
    assert tree(inputs) == inputs_before, "an input file changed"
    if case.outcome in ("error", "interrupt"):
        assert result.exit_code == (2 if case.outcome == "error" else 130), output
        assert tree(work) == work_before, "a failed run left something behind or changed an existing OUTDIR"
        lines = [line for line in output.splitlines() if line.strip()]
        if case.outcome == "interrupt":
            assert lines == ["Interrupted; no output was written."], output
            return
        assert len(lines) == case.lines and lines[-1 if not case.fix else 0].startswith("Error: "), output
        assert ("— fix:" in output) == case.fix, output
        for text in case.expect:
            assert text in output, (text, output)
        return
    assert result.exit_code == 0, output
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name], "staging folder left behind"
    for text in case.expect:
        assert text in output, (text, output)
    if case.outcome == "repair":
        assert "WARNING:" in output, output
    assert_invariants(setup, out)
    if case.check:
        case.check(out, setup)


def test_matrix_is_documented() -> None:
    """docs/bad-inputs.md lists every case of the matrix by its test id, and nothing else."""
    text = (REPO / "docs" / "bad-inputs.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`test_bad_input\[([a-z0-9_]+)\]`", text))
    assert documented == {case.id for case in CASES}
    assert len(CASES) >= 30


def test_real_process_prints_one_line_and_no_traceback(base: Base, tmp_path: Path) -> None:
    """Outside CliRunner: a user error is one line on stderr and exit 2; -v adds the traceback."""
    setup = _write(tmp_path, base.communities, _households(4, -3)(base.buildings.copy()))
    command = [sys.executable, "-m", "gridgeo.cli", "partition", setup.communities, setup.buildings, *OPTIONS, "-o", str(tmp_path / "out")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    plain = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert plain.returncode == 2
    assert plain.stdout == ""
    assert plain.stderr.splitlines() == [
        "Error: b.gpkg: row 5 (bldg_id tpe-004446): households 'hh_est' is negative — fix: use 0 or more",
    ]
    verbose = subprocess.run([*command[:3], "-v", *command[3:]], capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr
    assert not (tmp_path / "out").exists()
