"""The writers' shortcuts leave the files as they were: the GeoPackage without disk syncs, the GeoJSON layers sharing texts."""

from __future__ import annotations

import hashlib

import pyogrio
import pytest

import gridgeo
from gridgeo.outputs.export import (
    _FIXED_DATE,
    GPKG_VERSION,
    _unsynchronised_sqlite,
    uniform_geometry,
    write_geojson,
    write_outputs,
)


@pytest.fixture(scope="module")
def run(taipei_small):
    communities, buildings = taipei_small
    return gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id", seed=7)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _geopackage(result, path) -> None:
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})
    try:
        for i, (name, frame) in enumerate((("grids", result.grids), ("units", result.units), ("buildings", result.buildings))):
            options = {"dataset_options": {"VERSION": GPKG_VERSION}} if i == 0 else {}
            uniform_geometry(frame, multi=name == "units").to_file(path, layer=name, driver="GPKG", engine="pyogrio", **options)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def test_geopackage_without_syncs_has_the_same_bytes(run, tmp_path):
    _geopackage(run, tmp_path / "synced.gpkg")
    with _unsynchronised_sqlite():
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") in (False, "OFF")  # pyogrio reads OFF as False
        _geopackage(run, tmp_path / "unsynced.gpkg")
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") is None  # restored
    assert _sha(tmp_path / "synced.gpkg") == _sha(tmp_path / "unsynced.gpkg")


def test_geojson_written_together_is_each_layer_written_alone(run, tmp_path):
    out = write_outputs(run, tmp_path / "out")
    for name in ("grids", "buildings", "units"):
        alone = tmp_path / f"{name}.geojson"
        write_geojson(getattr(run, name), alone, multi=name == "units")
        assert _sha(out / f"{name}.geojson") == _sha(alone), name
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") is None
