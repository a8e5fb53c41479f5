"""WGS 84 ↔ GCJ-02 ("Mars coordinates"), for drawing on Chinese web basemaps.

Web maps licensed in mainland China (AMap/Gaode, Tencent, …) publish their tiles in
GCJ-02, an obfuscated datum that shifts WGS 84 positions by a few hundred metres.
Data in WGS 84 must be shifted the same way to line up with such tiles.  This
module implements the widely published forward algorithm (Krasovsky-ellipsoid
constants ``a = 6378245``, ``ee = 0.00669342162296594323``) vectorised with numpy,
and its inverse by fixed-point iteration.  Points outside the rough bounding box
of China (longitude 72.004–137.8347, latitude 0.8293–55.8271) are returned
unchanged, as every reference implementation does.

The transform is for display only: gridgeo never computes in GCJ-02.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["wgs84_to_gcj02", "gcj02_to_wgs84", "to_gcj02", "out_of_china"]

_A = 6378245.0
_EE = 0.00669342162296594323


def out_of_china(lon, lat) -> np.ndarray:
    """True where a point lies outside the box in which GCJ-02 applies.

    Examples
    --------
    >>> out_of_china([2.35, 116.4], [48.85, 39.9]).tolist()
    [True, False]
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return ~((lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS 84 longitudes/latitudes to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, broadcastable to one shape.

    Returns
    -------
    lon, lat : ndarray
        GCJ-02 degrees (floats); points outside China unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.377817, 39.911954)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.384047, 39.913345)
    >>> wgs84_to_gcj02([2.35], [48.85])[0].tolist()
    [2.35]
    """
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    dlon, dlat = _delta(lon, lat)
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def gcj02_to_wgs84(lon, lat, *, tol: float = 1e-10, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration.

    Starting from the GCJ-02 point, each step moves the estimate by the
    difference between its forward image and the target; the offset field is
    smooth, so a handful of steps reach ``tol`` degrees.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees.
    tol : float
        Stop when every point's forward image is within ``tol`` degrees of the target.
    max_iter : int
        Upper bound on the number of steps.

    Returns
    -------
    lon, lat : ndarray
        WGS 84 degrees; points outside China unchanged.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(116.38404722455657, 39.91334545536069)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.377817, 39.911954)
    """
    glon, glat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.all(np.abs(elon) < tol) and np.all(np.abs(elat) < tol):
            break
    outside = out_of_china(glon, glat)
    return np.where(outside, glon, wlon), np.where(outside, glat, wlat)


def to_gcj02(geoseries):
    """Return a copy of a GeoSeries (or GeoDataFrame) with its geometry in GCJ-02.

    The input is reprojected to EPSG:4326 first when it is in another CRS.  The
    result is labelled EPSG:4326 (GCJ-02 has no EPSG code): it is meant only for
    drawing over GCJ-02 tiles.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> s = gpd.GeoSeries([shapely.Point(116.377817, 39.911954)], crs=4326)
    >>> p = to_gcj02(s).iloc[0]
    >>> round(p.x, 6), round(p.y, 6)
    (116.384047, 39.913345)
    """
    if geoseries.crs is not None and not geoseries.crs.equals("EPSG:4326"):
        geoseries = geoseries.to_crs(4326)
    out = geoseries.copy()

    def shift(coords: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    if isinstance(out, gpd.GeoDataFrame):
        out[out.geometry.name] = gpd.GeoSeries(
            shapely.transform(np.asarray(out.geometry.array), shift), index=out.index, crs=out.crs
        )
        return out
    return gpd.GeoSeries(shapely.transform(np.asarray(out.array), shift), index=out.index, crs=out.crs, name=out.name)
