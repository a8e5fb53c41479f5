"""Property-based tests (hypothesis): random communities, layouts and household counts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.partition.count import choose_grid_count, feasible_counts
from gridgeo.units import cut_units

CRS = 32650


@st.composite
def layouts(draw):
    """A community (box, L-shape or two-part) with 1–60 buildings of 0–200 households."""
    width = draw(st.floats(150, 600))
    height = draw(st.floats(100, 400))
    shape = draw(st.sampled_from(["box", "L", "islands"]))
    community = shapely.box(0, 0, width, height)
    if shape == "L":
        community = shapely.difference(community, shapely.box(width * 0.5, height * 0.5, width + 1, height + 1))
    elif shape == "islands":
        community = shapely.MultiPolygon([community, shapely.box(width + 50, 0, width + 120, 70)])
    n = draw(st.integers(1, 60))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = community.bounds
    points = []
    while len(points) < n:
        p = shapely.Point(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax))
        if community.contains(p.buffer(6)):
            points.append(p)
    sizes = rng.uniform(3, 6, n)
    footprints = [shapely.box(p.x - s, p.y - s, p.x + s, p.y + s) for p, s in zip(points, sizes)]
    hh = draw(st.lists(st.integers(0, 200), min_size=n, max_size=n))
    if draw(st.booleans()):
        hh[0] = draw(st.integers(501, 2500))  # a tower above the band
    return community, footprints, hh, seed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
def test_random_layouts_keep_every_guarantee(layout):
    community, footprints, hh, seed = layout
    c = gpd.GeoDataFrame({"community_id": ["X"]}, geometry=[community], crs=CRS)
    b = gpd.GeoDataFrame({"hh": hh}, geometry=footprints, crs=CRS)
    result = gridgeo.partition(c, b, households="hh", seed=seed % 1000)
    # the audit covers: buildings once, households at every level, one polygon, tiling, band or excuse, units
    assert audit_partition(result, b) == []
    assert int(result.grids["households"].sum()) == sum(hh)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 80), min_size=1, max_size=40), st.sampled_from([(10, 15), (3, 5), (20, 30)]))
def test_units_conserve_households_and_fit_whenever_possible(households, band):
    low, high = band
    units = cut_units(np.array(households), low, high)
    total = sum(households)
    assert sum(u.households for u in units) == total
    covered = {}
    for u in units:
        assert sum(z - a + 1 for _, a, z in u.members) == u.households
        for i, a, z in u.members:
            covered.setdefault(i, []).append((a, z))
    for i, h in enumerate(households):
        spans = sorted(covered.get(i, []))
        assert sum(z - a + 1 for a, z in spans) == h
        if spans:
            assert spans[0][0] == 1 and spans[-1][1] == h
    reachable = {0}
    for p in range(1, total + 1):
        if any(p - s in reachable for s in range(low, high + 1)):
            reachable.add(p)
    if total in reachable:
        assert all(u.in_band for u in units)


def test_units_split_buildings_as_little_as_possible():
    # 12 + 13 + 14 fit as whole buildings: no split needed
    units = cut_units(np.array([12, 13, 14]), 10, 15)
    assert [len(u.members) for u in units] == [1, 1, 1]
    # a 60-household block becomes 4-6 units
    units = cut_units(np.array([60]), 10, 15)
    assert 4 <= len(units) <= 6 and all(u.in_band for u in units)



def test_building_boundary_program_does_not_depend_on_how_its_costs_are_blocked(monkeypatch):
    # a long walk (as in a low-rise grid of hundreds of buildings): the costs of the stretches are
    # computed a block of rows at a time; tiny blocks must give the very same cut and units
    from gridgeo.units import cut as cut_module

    households = np.random.default_rng(7).integers(0, 40, 400)
    whole = cut_units(households, 10, 15)
    monkeypatch.setattr(cut_module, "_STRETCH_BLOCK", 1000)  # 2 rows per block
    assert cut_units(households, 10, 15) == whole
    assert all(u.in_band for u in whole)
    assert sum(u.households for u in whole) == int(households.sum())

@given(st.integers(0, 100000), st.integers(1, 600), st.integers(0, 600))
def test_grid_count_is_feasible_when_one_exists(total, low, extra):
    high = low + extra
    k, feasible = choose_grid_count(total, low, high)
    counts = list(feasible_counts(total, low, high))
    assert feasible == bool(counts)
    if feasible:
        assert low <= total / k <= high
    assert k >= 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 70), min_size=1, max_size=25))
def test_building_boundary_program_splits_as_few_buildings_as_the_household_program(households):
    from gridgeo.units.cut import _cuts_any, _cuts_between_buildings, _decomposable

    h = np.array(households)
    total = int(h.sum())
    assume(_decomposable(np.array([total]), 10, 15)[0])
    ends = np.cumsum(h)
    boundaries = set(np.concatenate([[0], ends]).tolist())

    def splits(cuts):
        return sum(1 for c in cuts if c not in boundaries)

    fast = _cuts_between_buildings(ends[h > 0], 10, 15)
    exact = _cuts_any(total, ends, 10, 15)
    assert all(10 <= b - a <= 15 for a, b in zip(fast[:-1], fast[1:]))
    assert splits(fast) == splits(exact)
