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
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

import gridgeo
from gridgeo.cli import main
from gridgeo.inputs.crs import local_metric_crs
from gridgeo.outputs.styles import STATUS_STYLE, fill_colours, grid_colours

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


# -- what QGIS reads: descriptions, aliases, unique codes, default styles ------------------------------------------
QGIS_PYTHON = "/usr/bin/python3"


def _qgis_available() -> bool:
    if not Path(QGIS_PYTHON).exists():
        return False
    done = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False)
    return done.returncode == 0


def _layer_styles(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, styleQML, useAsDefault, f_table_schema FROM layer_styles").fetchall()
    assert all(geometry == "geom" and default == 1 and schema == "" for _, geometry, _, default, schema in rows)
    return {name: qml for name, _, qml, _, _ in rows}


def test_descriptions_aliases_and_unique_codes(run):
    path = run / "partition.gpkg"
    with sqlite3.connect(path) as db:
        descriptions = dict(db.execute("SELECT table_name, description FROM gpkg_contents WHERE data_type = 'features'"))
        aliases = {(t, c): (n, title) for t, c, n, title in db.execute("SELECT table_name, column_name, name, title FROM gpkg_data_columns")}
        extensions = db.execute("SELECT table_name, column_name, scope FROM gpkg_extensions WHERE extension_name = 'gpkg_schema'").fetchall()
        indexes = {name: sql for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'uq_%'")}
        unique = {(table, row[1]): row[2] for table in ("grids", "buildings", "units") for row in db.execute(f"PRAGMA index_list({table})")}
    assert set(descriptions) == {"communities", "grids", "buildings", "units"}
    assert descriptions["grids"].startswith("网格") and "grids" in descriptions["grids"]
    assert aliases[("grids", "grid_code")] == ("网格编码", "grid code")
    assert aliases[("units", "unit_code")][0] == "联户编码" and aliases[("buildings", "households")][0] == "户数"
    assert ("buildings", "height_m") not in aliases  # input columns keep their own names
    assert sorted(extensions) == [("gpkg_data_column_constraints", None, "read-write"), ("gpkg_data_columns", None, "read-write")]
    assert set(indexes) == {"uq_grids_grid_code", "uq_buildings_building_code", "uq_units_unit_code"}
    assert all("UNIQUE" in sql for sql in indexes.values())
    assert unique[("grids", "uq_grids_grid_code")] == unique[("units", "uq_units_unit_code")] == unique[("buildings", "uq_buildings_building_code")] == 1
    # GDAL still reads every layer as before, and the styles as a plain table
    for layer in ("communities", "grids", "buildings", "units"):
        assert len(pyogrio.read_dataframe(path, layer=layer)) == pyogrio.read_info(path, layer=layer)["features"]
    assert len(pyogrio.read_dataframe(path, layer="layer_styles")) == 4


def test_grid_style_is_the_map_colouring(run):
    grids = gpd.read_file(run / "partition.gpkg", layer="grids")
    colours = grid_colours(grids.to_crs(local_metric_crs(grids)))  # as the map colours them
    qml = ElementTree.fromstring(_layer_styles(run / "partition.gpkg")["grids"].split("\n", 1)[1])
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "grid_code"
    symbols = {s.get("name"): s for s in renderer.find("symbols")}
    fills = fill_colours(int(colours.max()) + 1)
    seen = {}
    for category in renderer.find("categories"):
        fill = {p.get("k"): p.get("v") for p in symbols[category.get("symbol")].find("layer").findall("prop")}["color"]
        for value in category.findall("val"):
            seen[value.get("value")] = fill
    expected = {code: ",".join(str(int(fills[k][i : i + 2], 16)) for i in (1, 3, 5)) + ",255" for code, k in zip(grids["grid_code"], colours)}
    assert seen == expected  # every grid once, in its map colour
    assert qml.get("labelsEnabled") == "1" and qml.find("labeling/settings/text-style").get("fieldName") == "grid_code"


def test_grid_colours_differ_between_neighbours_on_a_larger_real_run(monaco):
    communities, buildings, _ = monaco
    grids = gridgeo.partition(communities, buildings, households="hh_est", grid_size=(40, 80)).grids
    assert len(grids) > 40
    metric = grids.to_crs(local_metric_crs(grids))
    colours = grid_colours(metric)
    left, right = metric.sindex.query(metric.geometry, predicate="intersects")
    pairs = left != right
    assert pairs.any() and (colours[left[pairs]] != colours[right[pairs]]).all()


PROBE = r"""
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import QgsApplication, QgsExpressionContextUtils, QgsRenderContext, QgsSymbolLayer, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
out = {}
for name in ("communities", "grids", "buildings", "units"):
    layer = QgsVectorLayer(sys.argv[1] + "|layername=" + name, name, "ogr")
    renderer = layer.renderer()
    item = {"valid": layer.isValid(), "count": layer.featureCount(), "renderer": renderer.type(), "labels": layer.labelsEnabled(),
            "aliases": {f.name(): layer.attributeAlias(i) for i, f in enumerate(layer.fields())}}
    if name == "grids":
        item["categories"] = sorted(v for c in renderer.categories() for v in (c.value() if isinstance(c.value(), list) else [c.value()]))
        item["label_field"] = layer.labeling().settings().fieldName
        context = QgsRenderContext()
        context.expressionContext().appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
        renderer.startRender(context, layer.fields())
        outlines = {}
        for feature in layer.getFeatures():
            symbol_layer = renderer.symbolForFeature(feature, context).symbolLayer(0)
            context.expressionContext().setFeature(feature)
            colour = symbol_layer.dataDefinedProperties().property(QgsSymbolLayer.PropertyStrokeColor).value(context.expressionContext())[0]
            outlines[feature["grid_code"]] = [feature["status"], colour]
        renderer.stopRender(context)
        item["outlines"] = outlines
    out[name] = item
print(json.dumps(out), flush=True)
os._exit(0)  # QGIS 3.22 may crash while tearing down a headless application; the answer is out
"""


@pytest.mark.skipif(not _qgis_available(), reason="PyQGIS is not installed (Debian: python3-qgis)")
def test_qgis_opens_every_layer_with_its_style(run, tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    done = subprocess.run([QGIS_PYTHON, str(probe), str(run / "partition.gpkg")], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("communities", "grids", "buildings", "units"):
        assert seen[name]["valid"] and seen[name]["count"] == pyogrio.read_info(run / "partition.gpkg", layer=name)["features"], name
    grids = seen["grids"]
    assert grids["renderer"] == "categorizedSymbol" and grids["labels"] and grids["label_field"] == "grid_code"
    assert grids["categories"] == sorted(gpd.read_file(run / "partition.gpkg", layer="grids")["grid_code"])
    assert grids["aliases"]["grid_code"] == "网格编码" and seen["units"]["aliases"]["unit_code"] == "联户编码"
    assert {seen[name]["renderer"] for name in ("communities", "buildings", "units")} == {"singleSymbol"}
    for code, (status, colour) in grids["outlines"].items():
        hex_colour = STATUS_STYLE.get(status, STATUS_STYLE["_other"])["color"]
        assert colour == ",".join(str(int(hex_colour[i : i + 2], 16)) for i in (1, 3, 5)) + ",255", (code, status, colour)


def test_qgis_project_uses_relative_paths(run):
    with zipfile.ZipFile(run / "gridgeo.qgz") as archive:
        assert archive.namelist() == ["gridgeo.qgs"]
        project = ElementTree.fromstring(archive.read("gridgeo.qgs").decode("utf-8").split("\n", 1)[1])
    sources = [e.text for e in project.iter("datasource")]
    assert sorted(sources) == sorted(f"./partition.gpkg|layername={name}" for name in ("communities", "grids", "buildings", "units"))
    assert str(run) not in ElementTree.tostring(project, encoding="unicode")  # no absolute path: the folder can move
    assert project.find("properties/Paths/Absolute").text == "false"


PROJECT_PROBE = r"""
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import QgsApplication, QgsProject
app = QgsApplication([], False)
app.initQgis()
project = QgsProject.instance()
out = {"read": project.read(sys.argv[1]), "crs": project.crs().authid(), "layers": {}}
for layer in project.mapLayers().values():
    table = layer.source().split("layername=")[-1]
    out["layers"][table] = {"valid": layer.isValid(), "count": layer.featureCount(), "renderer": layer.renderer().type(),
                            "labels": layer.labelsEnabled(), "source": layer.source()}
print(json.dumps(out), flush=True)
os._exit(0)  # QGIS 3.22 may crash while tearing down a headless application; the answer is out
"""


@pytest.mark.skipif(not _qgis_available(), reason="PyQGIS is not installed (Debian: python3-qgis)")
def test_qgis_project_opens_from_a_moved_folder(run, tmp_path):
    moved = tmp_path / "moved elsewhere"
    shutil.copytree(run, moved)
    probe = tmp_path / "probe.py"
    probe.write_text(PROJECT_PROBE, encoding="utf-8")
    done = subprocess.run([QGIS_PYTHON, str(probe), str(moved / "gridgeo.qgz")], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["read"] and seen["crs"] == "EPSG:4326"
    assert set(seen["layers"]) == {"communities", "grids", "buildings", "units"}
    for name, layer in seen["layers"].items():
        assert layer["valid"] and layer["count"] == pyogrio.read_info(run / "partition.gpkg", layer=name)["features"], name
        assert layer["source"].startswith(str(moved / "partition.gpkg")), layer["source"]
    # the grids' style is the default one: the map colouring by grid code, with labels
    assert seen["layers"]["grids"]["renderer"] == "categorizedSymbol" and seen["layers"]["grids"]["labels"]
