"""Barrier audit: which grids cross a barrier, and whether they had to.

:func:`barrier_audit` partitions the communities exactly as
:func:`gridgeo.partition` does (same tasks, same seeds, so the same grids),
keeps every piece's cell graph and asks
:func:`gridgeo.partition.crossings.explain_crossings` about each grid that
joins two or more barrier blocks: *necessary* (a joined block admits no grid
count, or provably has no in-band split), *needless* (every joined block can
form grids on its own) or *undetermined*.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from .api import parse_band
from .build import community_tasks
from .governance.codes import community_codes
from .inputs.validate import prepare_inputs
from .partition.crossings import NECESSARY, NEEDLESS, UNDETERMINED, explain_crossings
from .partition.engine import community_rng, partition_community

__all__ = ["BarrierAudit", "barrier_audit"]

logger = logging.getLogger(__name__)


@dataclass
class BarrierAudit:
    """What :func:`barrier_audit` found.

    Attributes
    ----------
    grids : DataFrame
        One row per grid joining two or more barrier blocks: ``community_id``,
        ``grid`` (index in the community), ``grid_code`` (when a result was
        given), ``households``, ``crossings``, ``block_households``,
        ``block_counts``, ``block_verdicts``, ``verdict``, ``reason``.
    crossings : int
        Total barrier crossings (blocks spanned minus one, summed over grids).
    crossings_min : int
        The proven lower bound of the same partition.
    """

    grids: pd.DataFrame
    crossings: int
    crossings_min: int

    def count(self, verdict: str) -> int:
        """How many crossing grids have ``verdict``."""
        return int((self.grids["verdict"] == verdict).sum()) if len(self.grids) else 0

    def summary(self) -> dict:
        """Crossings, bound, and crossing grids per verdict."""
        return {
            "crossings": self.crossings,
            "crossings_min": self.crossings_min,
            "crossing_grids": int(len(self.grids)),
            NECESSARY: self.count(NECESSARY),
            NEEDLESS: self.count(NEEDLESS),
            UNDETERMINED: self.count(UNDETERMINED),
        }


def barrier_audit(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    barriers,
    *,
    households: str | None = None,
    community_id: str | None = None,
    building_id: str | None = None,
    grid_size=(300, 500),
    seed: int = 0,
    result=None,
    audit_seed: int = 0,
) -> BarrierAudit:
    """Partition with ``barriers`` and explain every grid that crosses one.

    Parameters
    ----------
    communities, buildings : GeoDataFrame
        As for :func:`gridgeo.partition`.
    barriers : GeoDataFrame or list of them
        Line layers (roads, rivers, walls).
    households, community_id, building_id : str, optional
        As for :func:`gridgeo.partition`.
    grid_size : (int, int) or "MIN:MAX"
    seed : int
        The partition's seed (the grids audited are those ``gridgeo.partition``
        makes with this seed).
    result : Partition, optional
        The result of :func:`gridgeo.partition` with the same inputs: when given,
        each row gets its grid code, and the grids are checked to be the same.
    audit_seed : int
        Seed of the audit's own searches (splits of large blocks).

    Returns
    -------
    BarrierAudit
    """
    band = parse_band(grid_size, "grid size")
    low, high = band
    if barriers is not None and not isinstance(barriers, (list, tuple)):
        barriers = [barriers]
    prep = prepare_inputs(
        communities, buildings, households=households, community_id=community_id, building_id=building_id,
        barriers=list(barriers) if barriers else None,
    )
    c_codes = community_codes(prep.community_ids)
    order = np.argsort(c_codes.astype(str), kind="stable")
    member_lists, tasks = community_tasks(prep, order, band, None, seed)
    code_of = None
    if result is not None:
        code_of = result.buildings["grid_code"].reindex(prep.buildings.index).to_numpy()
    rng = np.random.default_rng(audit_seed)
    rows = []
    crossings = crossings_min = 0
    for members, task in zip(member_lists, tasks):
        trace: list = []
        outcome = partition_community(
            task.geometry, task.buildings, task.households, band=band, rng=community_rng(seed, task.community_id),
            barriers=task.barriers, trace=trace,
        )
        crossings += int(outcome.barrier_crossings.sum())
        crossings_min += int(outcome.barrier_crossings_min)
        for graph, labels, notes, offset in trace:
            for row in explain_crossings(graph, labels, notes, low, high, rng):
                grid = offset + row.pop("grid")
                row["crossings"] = len(row.pop("blocks")) - 1
                entry = {"community_id": task.community_id, "grid": grid}
                if code_of is not None:
                    codes = set(code_of[members[outcome.building_grid == grid]].tolist())
                    if len(codes) != 1:
                        raise ValueError(f"community {task.community_id}: grid {grid} is not one grid of the result given")
                    entry["grid_code"] = codes.pop()
                entry.update(row)
                rows.append(entry)
                if row["verdict"] != NECESSARY:
                    logger.info("community %s grid %d: %s (%s)", task.community_id, grid, row["verdict"], row["reason"])
    columns = ["community_id", "grid", "grid_code", "households", "crossings", "block_households", "block_counts", "block_verdicts", "verdict", "reason"]
    frame = pd.DataFrame(rows, columns=[c for c in columns if c != "grid_code" or code_of is not None])
    return BarrierAudit(frame, crossings, crossings_min)
