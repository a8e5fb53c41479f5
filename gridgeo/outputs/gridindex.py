"""The persisted spatial index of a plan's grids: ``grids.rtree.idx`` and ``grids.rtree.dat`` beside its output.

Every run writes it (:func:`write_grid_index`); :func:`gridgeo.living.update.update`
loads it to place new buildings in the previous grids without rebuilding an
index of every grid (:func:`load_grid_index` rebuilds one in memory when the
files are missing or do not match the grids).  rtree is used here, not
shapely's STRtree, because the index lives on disk between runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["GRID_INDEX", "write_grid_index", "load_grid_index"]

logger = logging.getLogger(__name__)

#: base name of the persisted spatial index of the grids (``grids.rtree.idx`` and ``grids.rtree.dat``)
GRID_INDEX = "grids.rtree"


def write_grid_index(grids: gpd.GeoDataFrame, folder: str | Path) -> None:
    """Write an rtree index of ``grids`` (bounding boxes in their CRS, id = row position) into ``folder``.

    Examples
    --------
    >>> import tempfile, geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"grid_code": ["001-01"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=32651)
    >>> folder = tempfile.mkdtemp()
    >>> write_grid_index(g, folder)
    >>> list(load_grid_index(folder, g).intersection((0.5, 0.5, 0.5, 0.5)))
    [0]
    """
    from rtree import index

    bounds = shapely.bounds(grids.geometry.to_numpy()) if len(grids) else np.zeros((0, 4))
    items = [(i, tuple(float(v) for v in b), None) for i, b in enumerate(bounds) if np.isfinite(b).all()]
    properties = index.Property()
    properties.overwrite = True
    idx = index.Index(str(Path(folder) / GRID_INDEX), items, properties=properties) if items else index.Index(str(Path(folder) / GRID_INDEX), properties=properties)
    idx.close()


def load_grid_index(folder: str | Path | None, grids: gpd.GeoDataFrame):
    """The rtree index of ``grids`` saved in ``folder``, or a new in-memory one when it is missing or stale."""
    from rtree import index

    base = Path(folder) / GRID_INDEX if folder is not None else None
    if base is not None and base.with_suffix(".rtree.idx").exists() and base.with_suffix(".rtree.dat").exists():
        idx = index.Index(str(base))
        expected = shapely.bounds(grids.geometry.to_numpy())
        full = (float(np.nanmin(expected[:, 0])), float(np.nanmin(expected[:, 1])), float(np.nanmax(expected[:, 2])), float(np.nanmax(expected[:, 3]))) if len(grids) else None
        if full is not None and idx.count(full) == len(grids):
            logger.info("using the saved grid index %s", base)
            return idx
        logger.info("the saved grid index %s does not match the grids; rebuilding it in memory", base)
    bounds = shapely.bounds(grids.geometry.to_numpy()) if len(grids) else np.zeros((0, 4))
    items = [(i, tuple(float(v) for v in b), None) for i, b in enumerate(bounds) if np.isfinite(b).all()]
    return index.Index(items) if items else index.Index()
