"""WGS 84 ↔ GCJ-02 against published reference pairs, and the round trip."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridgeo.inputs.chinacoords import gcj02_to_wgs84, to_gcj02, wgs84_to_gcj02

# (wgs_lon, wgs_lat, gcj_lon, gcj_lat)
REFERENCE = [
    # googollee/eviltransform, python/test.py (also go/transform_test.go): Shanghai, Shenzhen, Beijing
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    # feiquan123/coordtransform-go, coordtransform_test.go (p and expWGS84toGCJ02): Wuhan
    (114.363089, 30.517411, 114.36861383019243, 30.515078352018758),
]


@pytest.mark.parametrize("wlon, wlat, glon, glat", REFERENCE)
def test_forward_matches_reference(wlon, wlat, glon, glat):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert abs(float(lon) - glon) < 1e-7
    assert abs(float(lat) - glat) < 1e-7


@pytest.mark.parametrize("wlon, wlat, glon, glat", REFERENCE)
def test_inverse_matches_reference(wlon, wlat, glon, glat):
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert abs(float(lon) - wlon) < 1e-7
    assert abs(float(lat) - wlat) < 1e-7


def test_vectorised_matches_scalar():
    ref = np.array(REFERENCE)
    lon, lat = wgs84_to_gcj02(ref[:, 0], ref[:, 1])
    np.testing.assert_allclose(lon, ref[:, 2], atol=1e-7)
    np.testing.assert_allclose(lat, ref[:, 3], atol=1e-7)


def test_round_trip_tolerance():
    rng = np.random.default_rng(0)
    lon = rng.uniform(73.0, 135.0, 5000)
    lat = rng.uniform(18.0, 53.0, 5000)
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert np.all(np.hypot(glon - lon, glat - lat) > 1e-4)  # it does shift
    back_lon, back_lat = gcj02_to_wgs84(glon, glat)
    assert np.max(np.abs(back_lon - lon)) < 1e-5
    assert np.max(np.abs(back_lat - lat)) < 1e-5


def test_outside_china_unchanged():
    lon = np.array([2.3522, -74.006, 7.4246, 150.0])  # Paris, New York, Monaco, Pacific
    lat = np.array([48.8566, 40.7128, 43.7384, 30.0])
    for f in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = f(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_to_gcj02_geoseries_and_frame():
    square = shapely.box(116.37, 39.91, 116.38, 39.92)
    s = gpd.GeoSeries([square, shapely.Point(2.35, 48.85)], crs=4326, index=[5, 9])
    out = to_gcj02(s)
    assert list(out.index) == [5, 9] and out.crs.equals("EPSG:4326")
    coords = shapely.get_coordinates(out.iloc[0])
    expect = np.column_stack(wgs84_to_gcj02(*shapely.get_coordinates(square).T))
    np.testing.assert_allclose(coords, expect)
    assert out.iloc[1].equals(s.iloc[1])
    assert s.iloc[0].equals(square)  # input untouched

    frame = gpd.GeoDataFrame({"v": [1]}, geometry=[square], crs=4326).to_crs(32650)
    out_frame = to_gcj02(frame)
    assert out_frame.crs.equals("EPSG:4326") and list(out_frame["v"]) == [1]
    np.testing.assert_allclose(shapely.get_coordinates(out_frame.geometry.iloc[0]), expect, atol=1e-7)
