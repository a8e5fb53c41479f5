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


def test_the_grids_are_coloured_once_per_write_with_the_same_colours(run, tmp_path, monkeypatch):
    """write_outputs colours the grids once (the GeoPackage's styles; the map forked after them inherits the
    colours): the map draws the colours of a separate colouring, its run key is the written report's sha256,
    and outside a write every call colours again."""
    from gridgeo.outputs import map_data, maps, styles

    calls, drawn = [], []
    colour, props = styles.grid_colours, map_data._grid_props
    monkeypatch.setattr(styles, "grid_colours", lambda *a, **k: calls.append(1) or colour(*a, **k))
    monkeypatch.setattr(map_data, "_grid_props", lambda grids, colours, *a: drawn.append(colours.tolist()) or props(grids, colours, *a))
    expected = styles.plan_colours(run)
    assert len(calls) == 1 and len(set(expected.tolist())) > 1
    monkeypatch.setattr("gridgeo.outputs.side_by_side.default_workers", lambda: 1)  # every writer in this process: calls are counted
    write = lambda result, folder: maps.write_maps(result, folder)  # noqa: E731
    out = write_outputs(run, tmp_path / "out", writers=(write,))
    assert (out / "map.html").exists() and (out / "partition.gpkg").exists()
    assert len(calls) == 2  # one more for the whole write, the GeoPackage's and the map's
    assert drawn == [expected.tolist()]
    # the map's edit mode is keyed to the sha256 of the report.json written beside it (its text is made once too)
    assert _sha(out / "report.json") in (out / "map.html").read_text(encoding="utf-8")
    assert styles.plan_colours(run).tolist() == expected.tolist()
    assert len(calls) == 3  # outside a write: coloured again
