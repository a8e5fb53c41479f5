"""Distinct geometries by key and exact check (gridgeo.outputs.distinct): the grouping WKB gives, whatever the keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from gridgeo.outputs import distinct
from gridgeo.outputs.distinct import group


def _by_wkb(geoms: np.ndarray) -> list[int]:
    codes, _ = pd.factorize(pd.Series(shapely.to_wkb(geoms), dtype=object))
    return codes.tolist()


def _same_grouping(codes: np.ndarray, geoms: np.ndarray) -> bool:
    """Two rows share a code exactly when their WKB is equal."""
    return pd.factorize(codes)[0].tolist() == _by_wkb(geoms)


def _never_merged_apart(codes: np.ndarray, geoms: np.ndarray) -> bool:
    """Rows of one code have one WKB (the same geometry): what any grouping must give, colliding keys or not."""
    wkb = shapely.to_wkb(geoms)
    return all(len(set(wkb[codes == code].tolist())) == 1 for code in np.unique(codes))


@pytest.fixture(scope="module")
def footprints(monaco):
    """Real footprints, each twice, with near twins (one coordinate a hair off, -0.0 for 0.0, rings reversed)."""
    b = monaco[1].geometry.to_numpy()
    twins = [shapely.transform(g, lambda xy: xy + np.array([1e-9, 0.0])) for g in b[:20]]
    zeros = [shapely.box(0.0, 0.0, 1.0, 1.0), shapely.Polygon([(-0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (-0.0, 1.0), (-0.0, 0.0)])]
    reversed_ = [shapely.reverse(g) for g in b[:5]]
    return np.array([*b, *b[::-1], *twins, *zeros, *reversed_, shapely.Polygon(), shapely.Polygon()], dtype=object)


def test_groups_are_those_of_equal_wkb(footprints):
    codes, rows, after = group(footprints)
    assert _same_grouping(codes, footprints)
    assert codes[rows].tolist() == list(range(len(rows))) and sorted(set(codes.tolist())) == list(range(len(rows)))
    assert len(after[0]) == len(after[1]) == len(rows)


def test_colliding_keys_are_told_apart_exactly(footprints, monkeypatch):
    """Every key the same (the worst collisions): no two different geometries share a code (some equal ones may not)."""
    monkeypatch.setattr(distinct, "_keys", lambda geoms: np.zeros(len(geoms), dtype=np.uint64))
    codes, rows, after = group(footprints)
    assert _never_merged_apart(codes, footprints) and len(set(codes.tolist())) == len(rows) >= len(set(_by_wkb(footprints)))
    assert codes[rows].tolist() == list(range(len(rows)))
    # the rows that matched no first are groups of their own, and do not enter `after` (one geometry per key there)
    assert len(after[0]) == 1 and len(rows) > 1


def test_a_later_call_finds_the_geometries_of_an_earlier_one(footprints, monkeypatch):
    first, second = footprints[:100], footprints[60:]
    codes1, rows1, after = group(first)
    codes2, rows2, after2 = group(second, after)
    # the rows of the second call met in the first have its codes, the others count on from its distinct ones
    combined = np.concatenate([codes1, codes2])
    assert _same_grouping(combined, np.concatenate([first, second]))
    assert (codes2[rows2] >= len(after[0])).all() and len(after2[0]) == len(after[0]) + len(rows2)
    monkeypatch.setattr(distinct, "_keys", lambda geoms: np.zeros(len(geoms), dtype=np.uint64))
    codes3, rows3, _ = group(second, after)
    assert _never_merged_apart(np.concatenate([codes1, codes3]), np.concatenate([first, second]))
    assert codes3[rows3].tolist() == list(range(len(after[0]), len(after[0]) + len(rows3)))


def test_geometries_with_z_are_grouped_by_wkb_and_shared_with_no_call():
    z = np.array([shapely.Point(1, 2, 3), shapely.Point(1, 2, 4), shapely.Point(1, 2, 3)], dtype=object)
    _, _, before = group(np.array([shapely.Point(1, 2)], dtype=object))
    codes, rows, after = group(z, before)
    assert codes.tolist() == [1, 2, 1] and rows.tolist() == [0, 1] and after is None


def test_the_same_objects_are_matched_without_keys(footprints, monkeypatch):
    """Units sharing their building's footprint object: rows of one object, or of an object met before, are not keyed again."""
    first = footprints[:100]
    codes1, rows1, after = group(first)
    # every row keyed and checked, as before the objects were looked at
    reference_codes, reference_rows, reference_after = distinct._group_keyed(np.concatenate([footprints[50:150], footprints[50:150]]), *after)
    keyed = []
    real_keys = distinct._keys
    monkeypatch.setattr(distinct, "_keys", lambda geoms: keyed.append(len(geoms)) or real_keys(geoms))
    # the same rows again, as objects: 50 met in the first call, 50 new ones, each new one twice
    second = np.concatenate([footprints[50:150], footprints[50:150]])
    codes2, rows2, after2 = group(second, after)
    assert _same_grouping(np.concatenate([codes1, codes2]), np.concatenate([first, second]))
    assert keyed == [len(set(map(id, footprints[100:150])))]
    # the same answer as keying every row
    assert codes2.tolist() == reference_codes.tolist() and rows2.tolist() == reference_rows.tolist()
    assert reference_after[0].tolist() == after2[0].tolist() and [id(g) for g in reference_after[1]] == [id(g) for g in after2[1]]
