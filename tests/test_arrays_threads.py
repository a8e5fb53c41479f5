"""Element-wise geometry functions computed a slice per thread give the array of one call (real footprints)."""

from __future__ import annotations

import numpy as np
import shapely

from gridgeo.arrays import on_threads


def test_on_threads_equals_one_call_on_real_footprints(monaco):
    _, buildings, _ = monaco
    geoms = buildings.geometry.to_numpy().copy()
    geoms[3] = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])  # a bow-tie: invalid
    geoms[5] = None
    for func in (shapely.is_valid, shapely.to_wkb, shapely.area):
        alone = func(geoms)
        for threads in (2, 3, 7):
            sliced = on_threads(func, geoms, threads=threads, minimum=1)
            assert sliced.shape == alone.shape
            assert [a == b or (a is None and b is None) or (isinstance(a, float) and np.isnan(a) and np.isnan(b)) for a, b in zip(sliced.tolist(), alone.tolist())] == [True] * len(geoms)
    assert not on_threads(shapely.is_valid, geoms, threads=2, minimum=1)[3]
    assert len(on_threads(shapely.area, geoms[:0], threads=2, minimum=0)) == 0
