"""Reading every supported format, text encodings, and points as buildings."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import pytest
from click.testing import CliRunner

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.inputs.io import read_layer, split_layer_spec

from .conftest import SAMPLE


@pytest.fixture(scope="module")
def sample_frames():
    return gpd.read_file(SAMPLE / "communities.shp"), gpd.read_file(SAMPLE / "buildings.shp")


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet", ".shp"])
def test_every_format_reads_back_the_same_rows(sample_frames, tmp_path, suffix):
    communities, buildings = sample_frames
    path = tmp_path / f"b{suffix}"
    if suffix == ".parquet":
        buildings.to_parquet(path)
    else:
        buildings.to_file(path)
    frame = read_layer(path)
    assert len(frame) == len(buildings)
    assert frame.crs.equals(buildings.crs)
    assert list(frame["district"]) == list(buildings["district"])


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".parquet"])
def test_bbox_reads_only_the_buildings_of_one_community(sample_frames, tmp_path, suffix):
    communities, buildings = sample_frames
    path = tmp_path / f"b{suffix}"
    buildings.to_parquet(path, write_covering_bbox=True) if suffix == ".parquet" else buildings.to_file(path)
    box = tuple(communities.geometry.iloc[0].bounds)
    frame = read_layer(path, bbox=box)
    envelope = communities.geometry.iloc[0].envelope
    expected = buildings[buildings.geometry.intersects(envelope)]
    assert 0 < len(frame) < len(buildings)
    # every building meeting the box is read, and nothing whose extent misses it
    assert set(expected.geometry.to_wkb()) <= set(frame.geometry.to_wkb())
    assert frame.geometry.envelope.intersects(envelope).all()


def test_cpg_is_honoured_for_chinese_text():
    frame = read_layer(SAMPLE / "communities.shp")
    assert frame["name"].str.endswith("里").all()


def test_gbk_dbf_without_cpg_needs_encoding(sample_frames, tmp_path):
    communities, _ = sample_frames
    path = tmp_path / "gbk.shp"
    communities.to_file(path, encoding="gbk")
    (tmp_path / "gbk.cpg").unlink(missing_ok=True)
    frame = read_layer(path, encoding="gbk")
    assert list(frame["name"]) == list(communities["name"])


def test_gb18030_shapefile_runs_through_the_cli(sample_frames, tmp_path):
    communities, buildings = sample_frames
    communities.to_file(tmp_path / "c.shp", encoding="gb18030")
    buildings.to_file(tmp_path / "b.shp", encoding="gb18030")
    for name in ("c.cpg", "b.cpg"):
        (tmp_path / name).unlink(missing_ok=True)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["partition", str(tmp_path / "c.shp"), str(tmp_path / "b.shp"), "--encoding", "gb18030", "--households", "hh_est", "--community-id", "comm_id", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = gpd.read_file(out / "partition.gpkg", layer="communities")
    assert set(written["name"]) == set(communities["name"])


def test_encoding_for_a_gbk_shapefile_leaves_a_geopackage_given_with_it_alone(sample_frames, tmp_path):
    """--encoding names the Shapefile's text; the GeoPackage beside it stores UTF-8 and is read as such (it crashed)."""
    communities, buildings = sample_frames
    communities.to_file(tmp_path / "c.shp", encoding="gbk")
    (tmp_path / "c.cpg").unlink(missing_ok=True)
    buildings.to_file(tmp_path / "b.gpkg", layer="buildings")
    out = tmp_path / "out"
    args = ["partition", str(tmp_path / "c.shp"), str(tmp_path / "b.gpkg"), "--households", "hh_est", "--community-id", "comm_id", "-o", str(out), "--no-map"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "--encoding gbk" in refused.output and not out.exists()
    result = CliRunner().invoke(main, [*args, "--encoding", "gbk"])
    assert result.exit_code == 0, result.output
    written = gpd.read_file(out / "partition.gpkg", layer="communities")
    assert set(written["name"]) == set(communities["name"])
    assert gpd.read_file(out / "partition.gpkg", layer="buildings")["households"].sum() == buildings["hh_est"].sum()


def test_an_unknown_encoding_name_is_refused_before_any_work(sample_frames, tmp_path):
    result = CliRunner().invoke(main, ["partition", str(SAMPLE / "communities.shp"), str(SAMPLE / "buildings.shp"), "--encoding", "gbkk", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "'gbkk' is not a text encoding" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_zipped_shapefile(sample_frames, tmp_path):
    _, buildings = sample_frames
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as archive:
        for part in SAMPLE.glob("buildings.*"):
            archive.write(part, part.name)
    frame = read_layer(tmp_path / "b.zip")
    assert len(frame) == len(buildings)


def test_geopackage_with_several_layers_needs_a_layer_name(sample_frames, tmp_path):
    communities, buildings = sample_frames
    path = tmp_path / "both.gpkg"
    communities.to_file(path, layer="communities")
    buildings.to_file(path, layer="buildings")
    with pytest.raises(InputError, match="2 layers"):
        read_layer(path)
    assert len(read_layer(path, layer="buildings")) == len(buildings)
    assert split_layer_spec(f"{path}:buildings") == (str(path), "buildings")


def test_buildings_as_points(sample_frames):
    communities, buildings = sample_frames
    points = buildings.copy()
    points["geometry"] = buildings.to_crs(3826).representative_point().to_crs(buildings.crs)
    result = gridgeo.partition(communities, points, households="hh_est", community_id="comm_id")
    assert int(result.grids["households"].sum()) == int(buildings["hh_est"].sum())
    assert (result.grids.geom_type == "Polygon").all()
    assert result.report["summary"]["n_defects"] == result.report["summary"]["n_defects_proven_infeasible"]


def test_a_shifted_building_layer_says_how_many_households_fell_outside_and_why(sample_frames, tmp_path):
    """Buildings shifted off their communities (GCJ-02 read as WGS 84 …) are kept in 'unassigned': the warning gives
    their households and share and asks whether the layers line up; the summary line repeats them."""
    communities, buildings = sample_frames
    metric = buildings.to_crs(buildings.estimate_utm_crs())
    metric["geometry"] = metric.geometry.translate(350, -300)
    shifted = metric.to_crs(buildings.crs)
    shifted.to_file(tmp_path / "shifted.gpkg", layer="buildings")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["partition", str(SAMPLE / "communities.shp"), str(tmp_path / "shifted.gpkg"), "--households", "hh_est", "-o", str(out), "--no-map"])
    assert result.exit_code == 0, result.output
    report = __import__("json").loads((out / "report.json").read_text(encoding="utf-8"))
    s = report["summary"]
    assert s["n_unassigned"] > 0 and s["households_unassigned"] + s["households"] == int(buildings["hh_est"].sum())
    share = 100 * s["households_unassigned"] / int(buildings["hh_est"].sum())
    assert share >= 20, share
    assert f"({s['households_unassigned']} households, {share:.1f} % of the layer's)" in result.output
    assert "the two layers do not line up: check each layer's CRS" in result.output
    assert f"{s['n_unassigned']} buildings ({s['households_unassigned']} households) outside every community" in result.output
    assert len(gpd.read_file(out / "partition.gpkg", layer="unassigned")) == s["n_unassigned"]
