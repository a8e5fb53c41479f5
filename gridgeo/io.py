"""Reading input layers: Shapefile, GeoJSON, GeoPackage, GeoParquet (and zipped Shapefiles).

Readers return a GeoDataFrame exactly as stored (no repair, no reprojection);
:mod:`gridgeo.validate` checks and prepares it.  Shapefile text is decoded with
the encoding in the ``.cpg`` file when there is one, or with ``encoding`` when
the caller names it (GBK/GB18030 DBFs are common in Chinese GIS data).
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pyogrio

from .errors import InputError, Problem

__all__ = ["read_layer", "layer_label"]

logger = logging.getLogger(__name__)

_PARQUET = {".parquet", ".geoparquet"}
_OGR = {".shp", ".geojson", ".json", ".gpkg", ".zip", ".fgb", ".gml", ".kml"}


def layer_label(path: str | Path, layer: str | None = None) -> str:
    """A short label for messages: ``buildings.shp`` or ``data.gpkg:buildings``."""
    name = Path(path).name
    return f"{name}:{layer}" if layer else name


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one vector layer.

    Parameters
    ----------
    path : str or Path
        A ``.shp``, ``.geojson``/``.json``, ``.gpkg``, ``.parquet``/``.geoparquet`` or
        ``.zip`` (a zipped Shapefile) file.
    layer : str, optional
        Layer name in a multi-layer file (GeoPackage).  When omitted, a file
        with one layer is read; a file with several layers is an error that
        lists them.
    encoding : str, optional
        Text encoding of a Shapefile's DBF (``gbk``, ``gb18030``, ``utf-8``);
        overrides the ``.cpg`` file.

    Returns
    -------
    GeoDataFrame
        The layer as stored, with its CRS (``None`` when the file has none).

    Raises
    ------
    InputError
        The file is missing, unreadable, or the layer cannot be chosen.

    Examples
    --------
    >>> from pathlib import Path
    >>> frame = read_layer(Path("sample_shapefiles/communities.shp"))  # doctest: +SKIP
    """
    path = Path(path)
    label = layer_label(path, layer)
    if not path.exists():
        raise InputError(Problem(str(path), "file not found", "check the path"))
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET:
            return gpd.read_parquet(path)
        source = f"/vsizip/{path}" if suffix == ".zip" else str(path)
        if layer is None and suffix in {".gpkg", ".zip"}:
            layers = pyogrio.list_layers(source)
            if len(layers) > 1:
                names = ", ".join(str(name) for name in layers[:, 0])
                raise InputError(
                    Problem(
                        label,
                        f"has {len(layers)} layers ({names})",
                        "name the layer, e.g. FILE.gpkg:LAYER on the command line or layer= in Python",
                    )
                )
        kwargs = {}
        if encoding:
            kwargs["encoding"] = encoding
        return gpd.read_file(source, layer=layer, engine="pyogrio", **kwargs)
    except InputError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(
            Problem(label, f"cannot be read as a vector layer ({exc})", "check the file format and layer name")
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            Problem(label, f"text is not in the expected encoding ({exc.reason})", "pass --encoding gbk (or gb18030)")
        ) from exc


def split_layer_spec(spec: str) -> tuple[str, str | None]:
    """Split ``file.gpkg:layer`` into path and layer (a Windows drive letter is not a layer).

    Examples
    --------
    >>> split_layer_spec("data.gpkg:buildings")
    ('data.gpkg', 'buildings')
    >>> split_layer_spec("C:/data/b.shp")
    ('C:/data/b.shp', None)
    """
    head, sep, tail = spec.rpartition(":")
    if sep and head and not Path(spec).exists() and len(head) > 1 and "/" not in tail and "\\" not in tail:
        return head, tail
    return spec, None
