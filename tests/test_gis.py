"""What GIS software sees of a run's files: GeoPackage 1.2 that GDAL 3.6's validator passes, one geometry type per
layer, numbers without binary float tails, CSV type sidecars (.csvt) and Shapefile reals with 6 decimals.

The run is the real Taipei slice of ``tests/data`` (three villages, 284 buildings) through the command line, with
every format.  GDAL's ``validate_gpkg.py`` and ``ogrinfo`` of Debian's GDAL 3.6 (``python3-gdal``, ``gdal-bin``;
installed by ``scripts/install-system-deps.sh``) are run when present.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from gridgeo.cli import main

from .conftest import DATA

#: GDAL's GeoPackage validator, as Debian's python3-gdal ships it (or a venv's GDAL utilities)
VALIDATORS = (
    Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"),
    Path("/usr/share/doc/python3-gdal/examples/validate_gpkg.py"),
)
LONG_DECIMALS = re.compile(r"\d\.\d{8,}")


def validator() -> tuple[str, Path] | None:
    """(python, validate_gpkg.py), the system Python when the script is Debian's (it then also opens the file with GDAL 3.6)."""
    for path in VALIDATORS:
        if path.exists():
            python = "/usr/bin/python3" if str(path).startswith("/usr/") and Path("/usr/bin/python3").exists() else sys.executable
            return python, path
    return None


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gis") / "out"
    args = [
        "partition",
        str(DATA / "taipei_small_communities.gpkg"),
        str(DATA / "taipei_small_buildings.gpkg"),
        "--households", "hh_est",
        "--no-map", "--no-report", "--workers", "1",
        "--format", "shp,csv",
        "-o", str(out),
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out


def test_geopackage_is_version_1_2(run):
    with sqlite3.connect(run / "partition.gpkg") as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10200
        triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    # the spatial index triggers of GeoPackage 1.2 (1.4's update6/update7 fail GDAL 3.6's validator, Req 75)
    for layer in ("communities", "grids", "buildings", "units"):
        assert {f"rtree_{layer}_geom_update1", f"rtree_{layer}_geom_update3"} <= triggers


@pytest.mark.skipif(validator() is None, reason="GDAL's validate_gpkg.py is not installed (Debian: python3-gdal)")
def test_gdal_validator_passes(run):
    python, script = validator()
    done = subprocess.run([python, str(script), "--warning-as-error", str(run / "partition.gpkg")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="ogrinfo (GDAL) is not installed")
def test_ogrinfo_opens_without_a_warning(run):
    done = subprocess.run(["ogrinfo", "-so", "-al", str(run / "partition.gpkg")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "Warning" not in done.stdout, done.stderr
    for layer in ("communities", "grids", "buildings", "units"):
        assert f"Layer name: {layer}" in done.stdout


def _geojson_types(path: Path) -> set[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {f["geometry"]["type"] for f in data["features"] if f["geometry"]}


def test_one_geometry_type_per_layer(run):
    layers = {name for name in pyogrio.list_layers(run / "partition.gpkg")[:, 0]}
    for name in ("grids", "buildings", "units"):
        kinds = _geojson_types(run / f"{name}.geojson")
        stored = set(gpd.read_file(run / "partition.gpkg", layer=name).geom_type)
        assert len(kinds) == 1 and kinds == stored, (name, kinds, stored)
        assert pyogrio.read_info(run / "partition.gpkg", layer=name)["geometry_type"] == kinds.pop()
    # units hold one building (a Polygon in memory) or several (a MultiPolygon): always written as MultiPolygon
    assert _geojson_types(run / "units.geojson") == {"MultiPolygon"}
    assert "units" in layers


def test_geojson_numbers_have_the_set_decimals(run):
    for name in ("grids", "buildings", "units"):
        text = (run / f"{name}.geojson").read_text(encoding="utf-8")
        data = json.loads(text)
        # no binary float tails anywhere: coordinates have at most 7 decimals, properties at most 6
        for feature in data["features"]:
            geometry = json.dumps(feature["geometry"])
            assert not LONG_DECIMALS.search(geometry), (name, LONG_DECIMALS.search(geometry).group())
            for key, value in feature["properties"].items():
                if isinstance(value, float):
                    assert round(value, 6) == value and len(repr(value).partition(".")[2]) <= 6, (name, key, value)
        # the same places as the GeoPackage
        stored = gpd.read_file(run / "partition.gpkg", layer=name).to_crs(4326)
        written = gpd.read_file(run / f"{name}.geojson")
        assert len(stored) == len(written)
        assert shapely.get_num_coordinates(stored.geometry.to_numpy()).sum() == shapely.get_num_coordinates(written.geometry.to_numpy()).sum()
        # every vertex moved by the rounding to 7 decimals only (rings may start elsewhere: RFC 7946 orientation)
        assert shapely.hausdorff_distance(stored.geometry.to_numpy(), written.geometry.to_numpy()).max() <= 0.71e-7


def test_csvt_types_every_column(run):
    for name in ("roster", "units"):
        csv = run / f"{name}.csv"
        types = (run / f"{name}.csvt").read_text(encoding="utf-8").strip().split(",")
        frame = pd.read_csv(csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert len(types) == len(frame.columns)
        # GDAL reads the sidecar: counts come back as integers, areas as reals, codes as text
        read = pyogrio.read_dataframe(csv)
        assert list(read.columns) == list(frame.columns)
        expected = {'"Integer"': "int", '"Real"': "float", '"String"': "object"}
        for column, kind in zip(frame.columns, types):
            assert read[column].dtype.kind == {"int": "i", "float": "f", "object": "O"}[expected[kind]], (name, column, kind)
        for column in frame.columns:  # numbers in the CSV text have at most 6 decimals
            assert not frame[column].str.fullmatch(r"-?\d+\.\d{7,}").any(), (name, column)
    assert (run / "shp" / "fields.csvt").read_text(encoding="utf-8").strip() == '"String","String","String"'
    roster = pyogrio.read_dataframe(run / "roster.csv")
    assert roster["户数"].sum() == gpd.read_file(run / "partition.gpkg", layer="grids")["households"].sum()


def test_shapefile_reals_have_six_decimals(run):
    grids = gpd.read_file(run / "partition.gpkg", layer="grids").set_index("grid_code")
    shp = gpd.read_file(run / "shp" / "grids.shp").set_index("grid_code")
    assert np.allclose(shp.loc[grids.index, "area_m2"], grids["area_m2"], rtol=0, atol=0.51e-6)
    assert np.allclose(shp.loc[grids.index, "polsby_pp"], grids["polsby_popper"], rtol=0, atol=0.51e-6)
    raw = (run / "shp" / "grids.dbf").read_bytes()
    assert all(len(m.group(1)) <= 6 for m in re.finditer(rb"\d\.(\d+)", raw))
    header = int.from_bytes(raw[8:10], "little")
    reals = [raw[i + 17] for i in range(32, header - 1, 32) if raw[i] != 0x0D and raw[i + 11 : i + 12] == b"N" and raw[i + 17] > 0]
    assert reals and set(reals) == {6}
