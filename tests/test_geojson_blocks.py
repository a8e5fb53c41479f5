"""GeoJSON layers written a block of features at a time: the same file as in one piece, every feature once."""

from __future__ import annotations

import json

from gridgeo.outputs import export


def test_blocks_give_the_same_file(monaco, tmp_path, monkeypatch):
    """Monaco's buildings (real, 157 features with text, numbers and missing values) in blocks of 7, 157 and more."""
    buildings = monaco[1]
    files = {}
    for block in (7, 157, 10_000):
        monkeypatch.setattr(export, "_GEOJSON_BLOCK", block)
        path = tmp_path / f"b{block}.geojson"
        export.write_geojson(buildings, path, multi=True)
        files[block] = path.read_bytes()
    assert files[7] == files[157] == files[10_000]
    features = json.loads(files[7])["features"]
    assert [f["properties"]["building_id"] for f in features] == buildings["building_id"].tolist()
    empty = tmp_path / "empty.geojson"
    export.write_geojson(buildings.iloc[:0], empty)
    assert json.loads(empty.read_text(encoding="utf-8")) == {"type": "FeatureCollection", "features": []}
