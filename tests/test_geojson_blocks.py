"""GeoJSON layers written a block of features at a time: the same file as in one piece, every feature once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

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


@pytest.mark.parametrize("edge", [False, True], ids=["texts", "a text ending as a record does"])
def test_properties_are_the_records_pandas_writes_one_per_line(monaco, edge):
    """The records split out of pandas' JSON array are its lines=True records, also for text that looks like a record's edge."""
    table = monaco[1].drop(columns="geometry").copy()
    awkward = ['},{"a":1}', 'x\n"{\\"', None, "中文\u2028}", "\\", '{"', "]"] + (["},{"] if edge else [])
    table["note"] = (awkward * (len(table) // len(awkward) + 1))[: len(table)]
    table["flagged"] = pd.array([None if i % 5 else '},{"' for i in range(len(table))], dtype="string")
    table["share"] = np.where(np.arange(len(table)) % 3, 1 / 3, np.nan)
    expected = table.copy()
    expected["share"] = np.round(expected["share"], 6)
    lines = (
        expected.to_json(orient="records", lines=True, force_ascii=False, date_format="iso", double_precision=6)
        .rstrip("\n")
        .split("\n")
    )
    records = [record.decode("utf-8") for record in export._json_properties(table, len(table))]
    assert records == lines and len(records) == len(table)
    assert [json.loads(r)["note"] for r in records] == [None if pd.isna(v) else v for v in table["note"]]
