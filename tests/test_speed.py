"""Speed work that must not change a byte: stage timings of the command, the map's geometry encoding, the dense stress set."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import shapely
from click.testing import CliRunner

import gridgeo
from gridgeo import timings
from gridgeo.cli import main
from gridgeo.outputs.map_geometry import _encode, _origin
from gridgeo.outputs.map_json import json_for_html as _json_for_html

from .conftest import REPO, SAMPLE, SHARED, file_hashes

ARGS = [str(SAMPLE / "communities.shp"), str(SAMPLE / "buildings.shp"), "--households", "hh_est", "--community-id", "comm_id", "--building-id", "bldg_id"]
PARENT_STAGES = {"start-up", "read and checks", "communities", "assembly", "metrics", "audit", "workload", "GeoPackage"}
WRITERS = {"GeoJSON", "report", "map"}  # side by side with the GeoPackage where the platform forks, else in the parent
WORKER_STAGES = {"tessellation", "partition", "units"}


def test_timings_file_leaves_the_outputs_unchanged(tmp_path):
    plain, timed = tmp_path / "plain", tmp_path / "timed"
    assert CliRunner().invoke(main, ["partition", *ARGS, "-o", str(plain)]).exit_code == 0
    result = CliRunner().invoke(main, ["partition", *ARGS, "-o", str(timed), "--timings", str(tmp_path / "t.json")])
    assert result.exit_code == 0, result.output
    a, b = file_hashes(plain), file_hashes(timed)
    a.pop("config.toml"), b.pop("config.toml")  # it names the output folder
    assert a == b
    record = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert PARENT_STAGES <= set(record["stages_s"])
    assert WORKER_STAGES <= set(record["workers_s"])
    assert WRITERS <= set(record["stages_s"]) | set(record["side_by_side_s"])
    assert all(v >= 0 for v in record["stages_s"].values())
    # the parent's stages add up to the command's time (they are exclusive)
    assert sum(record["stages_s"].values()) == pytest.approx(record["command_s"], rel=0.05)
    report = json.loads((timed / "report.json").read_text(encoding="utf-8"))
    assert record["buildings"] == report["summary"]["n_buildings"] and record["grids"] == report["summary"]["n_grids"]
    assert "timing" not in json.dumps(report)


def test_timings_file_inside_outdir_is_refused(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["partition", *ARGS, "-o", str(out), "--timings", str(out / "t.json")])
    assert result.exit_code == 2
    assert "--timings" in result.output and not out.exists()


def test_nested_stages_are_exclusive():
    timings.take()
    with timings.stage("outer"):
        with timings.stage("inner"):
            sum(range(200_000))
    seconds = timings.take()
    assert seconds["inner"] > 0 and seconds["outer"] < seconds["inner"] + 0.05


def _decoded(encoded: dict, origin) -> list[np.ndarray]:
    """The vertices of each ring (micro-degrees) read back from :func:`gridgeo.outputs.map_geometry._encode`."""
    xy = np.cumsum(np.asarray(encoded["xy"], dtype=np.int64).reshape(-1, 2), axis=0) + np.asarray(origin)
    bounds = np.concatenate([[0], np.cumsum(encoded["v"])])
    return [xy[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def test_encoded_geometry_is_exact_on_real_outputs(taipei_small, monaco):
    """Every geometry of real partitions (polygons with holes, multi-polygons, points) encoded once, read back exactly."""
    geoms = []
    for communities, buildings in (taipei_small, monaco[:2]):
        result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
        for frame in (result.grids, result.buildings, result.units, result.communities):
            g = frame.geometry.to_crs(4326).simplify(1e-6, preserve_topology=True)
            geoms.append(shapely.transform(np.asarray(g.array), lambda c: np.round(c, 6)))
    geoms = np.concatenate(geoms + [shapely.centroid(geoms[0]), [shapely.LineString([(121.5, 25.0), (121.500001, 25.000002)])]])
    types = set(shapely.get_type_id(geoms).tolist())
    assert {0, 1, 3, 6} <= types  # points, lines, polygons and multi-polygons were checked
    assert (shapely.get_num_interior_rings(geoms[shapely.get_type_id(geoms) == 3]) > 0).any()  # and holes
    origin = _origin(geoms)
    encoded = _encode(geoms, origin)
    rings = iter(_decoded(encoded, origin))
    parts = iter(encoded["r"])
    for geom, n in zip(geoms, encoded["n"]):
        pieces = shapely.get_parts(geom)
        assert n == len(pieces)
        for piece in pieces:
            expected = shapely.get_rings(piece) if shapely.get_type_id(piece) == 3 else [piece]
            assert next(parts) == len(expected)
            for ring in expected:
                coords = np.rint(shapely.get_coordinates(ring) * 1e6).astype(np.int64)
                if shapely.get_type_id(ring) == 2:
                    coords = coords[:-1]  # a polygon ring leaves out its closing vertex
                assert np.array_equal(next(rings), coords)
    assert next(rings, None) is None


def test_encoded_odd_geometries():
    odd = np.array(
        [
            None,
            shapely.Polygon(),
            shapely.MultiPolygon(),
            shapely.LineString([(0.1, 0.2), (1e-7, -0.0)]),
            shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3.5)]]),
            shapely.MultiPoint([(1, 2), (3, 4)]),
            shapely.GeometryCollection([shapely.Point(1, 1), shapely.LineString([(0, 0), (1, 1)])]),
            shapely.Point(1, 2, 3),
            shapely.Point(np.nan, 1.0),
        ],
        dtype=object,
    )
    encoded = _encode(odd, (0, 0))
    assert encoded["n"] == [0, 0, 0, 1, 2, 2, 2, 1, 0]  # missing, empty and non-finite geometries draw nothing
    assert encoded["r"] == [1] * 8 and encoded["v"] == [2, 2, 2, 1, 1, 1, 2, 1]
    rings = _decoded(encoded, (0, 0))
    assert rings[1].tolist() == [[0, 0], [1_000_000, 1_000_000]] and rings[-1].tolist() == [[1_000_000, 2_000_000]]


def test_json_for_html_is_safe_and_exact():
    data = {"a": "<b>&</script>\u2028", "n": [1, -2], "t": "\x00"}
    text = _json_for_html(data)
    assert not set("<>&") & set(text) and "\u2028" not in text
    assert json.loads(text) == data


@pytest.mark.skipif(not (SHARED / "taipei_wanhua_datong").exists(), reason="needs ../shared/data")
def test_dense_set_is_dense_and_deterministic():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import dense
        import tiles
    finally:
        sys.path.remove(str(REPO / "scripts"))
    communities, buildings = tiles.read_dataset("taipei_wanhua_datong")
    comm, bldg = dense.dense_frames(communities, buildings, copies=2, seed=0)
    figures = dense.check_dense(bldg)
    assert figures["buildings"] == 2 * len(buildings) and figures["communities"] == 2 * len(communities)
    assert figures["mean_households"] >= 30 and figures["share_above_500"] >= 0.004 and figures["max_community"] >= 30_000
    assert (bldg["derived"] == dense.LABEL).all() and (comm["derived"] == dense.LABEL).all()
    assert bldg["building_id"].is_unique
    # the real footprints are kept (first copy in place), and buildings without households keep none
    first = bldg.geometry.iloc[: len(buildings)].to_crs(buildings.crs).array
    assert np.allclose(shapely.get_coordinates(first), shapely.get_coordinates(buildings.geometry.array), atol=1e-7)
    assert np.array_equal(bldg["hh_dense"].to_numpy() == 0, bldg["hh_est"].to_numpy() == 0)
    _, again = dense.dense_frames(communities, buildings, copies=2, seed=0)
    assert again["hh_dense"].equals(bldg["hh_dense"])


def test_extra_writers_side_by_side_write_their_files_or_nothing(tmp_path, monaco):
    """The map, report and other extra writers run beside the GeoPackage: their files land, and a failure leaves nothing."""
    from gridgeo.errors import InputError, Problem
    from gridgeo.outputs.export import write_outputs

    communities, buildings, _ = monaco
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")

    def note(result, folder):
        (folder / "note.txt").write_text(f"{len(result.grids)} grids", encoding="utf-8")

    def broken(result, folder):
        raise InputError(Problem("writer", "cannot write", "nothing to fix"))

    out = write_outputs(result, tmp_path / "ok", writers=(note,))
    assert (out / "note.txt").read_text(encoding="utf-8") == f"{len(result.grids)} grids"
    assert (out / "partition.gpkg").exists() and (out / "grids.geojson").exists()
    with pytest.raises(InputError, match="cannot write"):
        write_outputs(result, tmp_path / "bad", writers=(note, broken))
    assert not (tmp_path / "bad").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok"]  # no staging folder left behind


def test_display_geometry_converts_each_distinct_geometry_once_with_the_same_result(taipei_small):
    """Units share their building's footprint: converted once, the result equals the per-row conversion."""
    import geopandas as gpd

    from gridgeo.inputs.crs import local_metric_crs
    from gridgeo.outputs.map_geometry import DECIMALS, _display_geometry, _simplify

    communities, buildings = taipei_small
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    units = result.units.geometry
    assert len(units) > len(set(shapely.to_wkb(units.array)))  # real units do repeat geometries
    metric = local_metric_crs(result.grids)
    with_gaps = gpd.GeoSeries(list(units.array[:50]) + [None, shapely.Polygon()], crs=units.crs)
    for series in (result.buildings.geometry, units, with_gaps):
        plain = gpd.GeoSeries(_simplify(np.asarray(series.to_crs(metric).array)), crs=metric).to_crs(4326)
        expected = shapely.transform(np.asarray(plain.array), lambda c: np.round(c, DECIMALS))
        known: dict = {}
        got = _display_geometry(series, metric, False, known)
        assert [None if g is None else g.wkb for g in got] == [None if g is None else g.wkb for g in expected]
