"""Partition algorithms: cell graph in, grid labels out.

These modules work on :class:`gridgeo.cells.adjacency.CellGraph` arrays only; they
never read files, draw maps or touch GeoDataFrames.
"""

from .count import choose_grid_count, feasible_counts
from .notes import GridNote
from .plan import partition_part

__all__ = ["choose_grid_count", "feasible_counts", "partition_part", "GridNote"]
