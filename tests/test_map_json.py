"""The map page's data as JSON: the same text as json.dumps made safe for HTML, integer lists written from their arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gridgeo
from gridgeo.outputs import map_json, maps
from gridgeo.outputs.map_json import Ints, int_list_text, json_for_html, safe_for_html


def _reference(obj) -> str:
    return safe_for_html(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False))


def test_the_data_of_a_real_map_is_written_as_json_dumps_writes_it(monaco, monkeypatch):
    communities, buildings, _ = monaco
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    seen = {}
    monkeypatch.setattr(maps, "_json_for_html", lambda data: seen.setdefault("data", data) and json_for_html(data))
    maps.build_map(result, lang="zh")
    data = seen["data"]
    geom = data["layers"]["buildings"]["geom"]
    assert all(type(geom[key]) is Ints for key in ("n", "r", "v", "xy")) and len(geom["xy"]) > 1000
    assert json_for_html(data) == _reference(data)


@pytest.mark.parametrize("piece", [3, 1 << 20])
def test_integer_lists_are_json_dumps_texts(monkeypatch, piece):
    monkeypatch.setattr(map_json, "_PIECE", piece)
    rng = np.random.default_rng(7)
    info = np.iinfo(np.int64)
    for values in (
        rng.integers(-(10**6), 10**6, 1000),
        np.array([0, -1, 9, 10, -10, 99, 100, 9999, 10000, -10001, info.max, info.min + 1]),
        np.array([info.min, 5]),
        np.array([], dtype=np.int64),
        np.array([-7]),
    ):
        assert int_list_text(values) == json.dumps(values.tolist(), separators=(",", ":"))


def test_text_keys_values_and_changed_lists():
    data = {"t": "</script><!--]]>&\u2028\u2029中", "n": [1.5, None, True], "k": {2: "x"}, "e": {}, "i": Ints(np.arange(5) - 2)}
    assert json_for_html(data) == _reference(data)
    changed = Ints(np.array([1, 2]))
    changed.append(3)  # its array no longer holds it: written as the list it is
    assert json_for_html({"c": changed}) == '{"c":[1,2,3]}'
    with pytest.raises(ValueError):
        json_for_html({"bad": float("nan")})
