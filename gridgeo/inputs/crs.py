"""The CRS policy of gridgeo, in one place.

* A layer without a CRS is an error: gridgeo never guesses.
* Layers in different CRSs are reprojected to the communities' CRS (logged).
* All geometry work happens in a local metric CRS: the input's own CRS when it
  is already projected in metres, the CGCS2000 3-degree Gauss-Krüger zone
  (EPSG:4534–4554) when the input is CGCS2000 geographic (EPSG:4490), and the
  WGS 84 UTM zone of the data's centre otherwise.
* EPSG:4326 is used only at the edges: GeoJSON files and web maps.
"""

from __future__ import annotations

import logging
import re

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from ..arrays import THREADED_MINIMUM_LARGE, on_threads
from ..errors import CRSError, Problem

__all__ = ["require_crs", "local_metric_crs", "check_coordinates_fit_crs", "reproject_polygons", "WGS84"]

logger = logging.getLogger(__name__)

WGS84 = CRS.from_epsg(4326)
CGCS2000 = CRS.from_epsg(4490)


def require_crs(frame: gpd.GeoDataFrame, source: str) -> CRS:
    """Return the CRS of ``frame`` or raise :class:`CRSError` naming ``source``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> require_crs(gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=4326), "a.shp").to_epsg()
    4326
    """
    if frame.crs is None:
        raise CRSError(Problem(source, *_missing_crs(source)))
    return CRS.from_user_input(frame.crs)


def _missing_crs(source: str) -> tuple[str, str]:
    """What is missing and how to give a layer named ``source`` its CRS: a Shapefile lacks its .prj, another file its
    CRS metadata, a layer given in Python its ``crs``.

    >>> _missing_crs("roads.shp")[1].startswith("add a .prj")
    True
    >>> _missing_crs("new.gpkg:buildings")
    ('has no coordinate reference system (no CRS metadata)', "set the layer's CRS and save it again (QGIS: Layer ▸ Set CRS of Layer, then Export ▸ Save Features As… with that CRS)")
    >>> _missing_crs("buildings")[1]
    "set the GeoDataFrame's CRS (gdf.set_crs(...)) or read it from a file that records one"
    """
    kind = _source_kind(source)
    if kind == "shapefile":
        return "has no coordinate reference system (no .prj file)", "add a .prj (e.g. save the layer from QGIS with its CRS set) or convert the file to GeoPackage with its CRS"
    if kind != "frame":
        return "has no coordinate reference system (no CRS metadata)", "set the layer's CRS and save it again (QGIS: Layer ▸ Set CRS of Layer, then Export ▸ Save Features As… with that CRS)"
    return "has no coordinate reference system", "set the GeoDataFrame's CRS (gdf.set_crs(...)) or read it from a file that records one"


def _source_kind(source: str) -> str:
    """What a layer named ``source`` was read from: ``"shapefile"`` (.shp, .dbf, a zip of them), ``"geojson"``, another
    ``"file"`` (FILE or FILE:LAYER), or a ``"frame"`` (a GeoDataFrame given in Python).

    Examples
    --------
    >>> [_source_kind(s) for s in ("roads.shp", "b.geojson", "new.gpkg:buildings", "buildings")]
    ['shapefile', 'geojson', 'file', 'frame']
    """
    name = source.lower()
    if any(part in name for part in (".shp", ".zip", ".dbf")):
        return "shapefile"
    if any(part in name for part in (".geojson", ".json")):
        return "geojson"
    if re.search(r"\.[a-z0-9]{2,8}(:|$)", name):  # (a file, FILE or FILE:LAYER)
        return "file"
    return "frame"


def check_coordinates_fit_crs(frame: gpd.GeoDataFrame, source: str) -> Problem | None:
    """Return a problem when geographic coordinates fall outside longitude/latitude ranges.

    This catches projected coordinates labelled as EPSG:4326 (or CGCS2000), a frequent
    mistake when a ``.prj`` is copied from another file, and latitude/longitude pairs
    stored in swapped order (when the latitude column then exceeds 90°).
    """
    crs = CRS.from_user_input(frame.crs)
    if not crs.is_geographic or frame.empty:
        return None
    minx, miny, maxx, maxy = frame.total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        return None
    if minx < -180.0 or maxx > 180.0 or miny < -90.0 or maxy > 90.0:
        if -90.0 <= minx and maxx <= 90.0 and -180.0 <= miny and maxy <= 180.0:
            return Problem(
                source,
                f"coordinates ({minx:.4f}, {miny:.4f}) – ({maxx:.4f}, {maxy:.4f}) are not longitude, latitude: they look like "
                f"latitude, longitude (swapped), yet the layer's CRS is geographic ({crs.name}) with longitude first",
                "swap the X and Y coordinates (longitude first) and save the layer again",
            )
        return Problem(
            source,
            f"coordinates ({minx:.0f}, {miny:.0f}) – ({maxx:.0f}, {maxy:.0f}) are not longitudes and "
            f"latitudes, yet the layer's CRS is geographic ({crs.name})",
            _wrong_geographic_fix(source),
        )
    return None


def _wrong_geographic_fix(source: str) -> str:
    """How to give a layer holding projected coordinates its real CRS, in the terms of its file.

    Examples
    --------
    >>> _wrong_geographic_fix("b.shp")[:20], _wrong_geographic_fix("b.geojson")[:28], _wrong_geographic_fix("buildings")[:25]
    ('the .prj is wrong: s', 'GeoJSON is longitude, latitu', "set the GeoDataFrame's re")
    """
    kind = _source_kind(source)
    zone = "(for example a Gauss-Krüger or UTM zone)"
    if kind == "shapefile":
        return f"the .prj is wrong: set the layer's real projected CRS {zone} before running gridgeo"
    if kind == "geojson":
        return f"GeoJSON is longitude, latitude (EPSG:4326) by definition: convert the file to it from its real projected CRS {zone}, or save it as GeoPackage with that CRS"
    if kind == "file":
        return f"the file's CRS is wrong: set the layer's real projected CRS {zone} and save it again (QGIS: Layer ▸ Set CRS of Layer)"
    return f"set the GeoDataFrame's real projected CRS {zone} with gdf.set_crs(..., allow_override=True)"


def local_metric_crs(frame: gpd.GeoDataFrame) -> CRS:
    """Choose the metric CRS in which gridgeo computes for ``frame``.

    Parameters
    ----------
    frame : GeoDataFrame
        Data with a CRS (geographic or projected).

    Returns
    -------
    pyproj.CRS
        ``frame.crs`` itself when it is projected in metres; the CGCS2000
        Gauss-Krüger 3° zone for CGCS2000 geographic input; otherwise the WGS 84
        UTM zone of the data's centre.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> local_metric_crs(gpd.GeoDataFrame(geometry=[Point(121.5, 25.0)], crs=4326)).to_epsg()
    32651
    >>> local_metric_crs(gpd.GeoDataFrame(geometry=[Point(116.4, 39.9)], crs=4490)).to_epsg()
    4548
    """
    crs = CRS.from_user_input(frame.crs)
    if crs.is_projected:
        units = {axis.unit_name for axis in crs.axis_info}
        if units <= {"metre", "meter", "m"}:
            return crs
    lonlat = frame.to_crs(WGS84) if not crs.is_geographic else frame
    minx, miny, maxx, maxy = lonlat.total_bounds
    lon, lat = (minx + maxx) / 2.0, (miny + maxy) / 2.0
    if crs.is_geographic and _is_cgcs2000(crs):
        central = int(np.clip(round(lon / 3.0) * 3, 75, 135))
        return CRS.from_epsg(4534 + (central - 75) // 3)
    zone = int(np.clip((lon + 180.0) // 6 + 1, 1, 60))
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _is_cgcs2000(crs: CRS) -> bool:
    if crs.to_epsg() == 4490:
        return True
    datum = crs.datum.name if crs.datum is not None else ""
    return "China Geodetic Coordinate System 2000" in datum or "CGCS2000" in datum


def reproject_polygons(geoms, source, target, *, whole: bool = False) -> np.ndarray:
    """Polygons reprojected from ``source`` to ``target``, each still valid.

    A sliver a few millimetres wide that is valid in metres can cross itself
    after reprojection (the transform is not exactly affine at that scale).  Such
    a polygon is repaired with ``make_valid``: its valid form keeps the largest
    piece, which loses at most the sliver's tip (far below a square metre).  With
    ``whole``, for layers whose features may be several pieces (joint units: the
    cells of their buildings, where two pieces that nearly touch in metres can
    overlap after reprojection, or a piece can be degenerate), it keeps every
    polygonal part instead (a MultiPolygon when there are several), so no area is
    dropped.  How many were repaired is logged.

    Examples
    --------
    >>> import shapely
    >>> out = reproject_polygons([shapely.box(500000, 2700000, 500100, 2700100)], 32651, 4326)
    >>> bool(shapely.is_valid(out[0])), out[0].geom_type
    (True, 'Polygon')
    >>> touching = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])  # (invalid: they share an edge)
    >>> out = reproject_polygons([touching], 32651, 32651, whole=True)
    >>> bool(shapely.is_valid(out[0])), round(float(shapely.area(out[0])), 6)
    (True, 2.0)
    """
    out = gpd.GeoSeries(list(geoms), crs=source).to_crs(target).to_numpy()
    broken = np.flatnonzero(~shapely.is_missing(out) & ~on_threads(shapely.is_valid, out, minimum=THREADED_MINIMUM_LARGE))
    for i in broken:
        parts = shapely.get_parts(shapely.make_valid(out[i]))
        if not whole:
            parts = parts[shapely.get_type_id(parts) == 3]
            if len(parts):
                out[i] = parts[int(np.argmax(shapely.area(parts)))]
            continue
        kinds = shapely.get_type_id(parts)
        polygons = [*parts[kinds == 3], *shapely.get_parts(parts[kinds == 6])]  # (the polygons, then a multi-polygon's)
        if polygons:
            out[i] = polygons[0] if len(polygons) == 1 and shapely.get_type_id(out[i]) == 3 else shapely.MultiPolygon(polygons)
    if len(broken):
        logger.info("%d polygons repaired after reprojection to %s (slivers crossing themselves, pieces overlapping)", len(broken), CRS.from_user_input(target).name)
    return out
