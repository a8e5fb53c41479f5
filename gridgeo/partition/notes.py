"""The note of every grid: its status (in band, oversize building, infeasible total, detached part, out of band, dedicated) and the figures of its reason."""

from __future__ import annotations

from dataclasses import dataclass

from ..labels import reason_text

__all__ = ["GridNote", "make_note", "absorbed_note", "IN_BAND", "OVERSIZE", "INFEASIBLE", "DETACHED", "OUT_OF_BAND", "DEDICATED"]

IN_BAND = "in_band"
OVERSIZE = "oversize_building"
INFEASIBLE = "infeasible_total"
DETACHED = "detached_part"
OUT_OF_BAND = "out_of_band"
DEDICATED = "dedicated"


@dataclass(frozen=True)
class GridNote:
    """Why a grid is (or is not) allowed outside the band; ``status`` is empty for ordinary grids.

    ``code`` and ``params`` name the reason (see :data:`gridgeo.labels.REASONS`);
    ``reason`` is its English sentence.
    """

    status: str = ""
    code: str = ""
    params: tuple = ()

    @property
    def reason(self) -> str:
        return reason_text(self.code, dict(self.params), "en")


def make_note(status: str, code: str = "", **params) -> GridNote:
    """A :class:`GridNote` with its reason parameters."""
    return GridNote(status, code, tuple(sorted(params.items())))


def absorbed_note(note: GridNote, households: int, *, low: int, high: int) -> GridNote:
    """The note of an oversize grid once it took in ``households`` of grids that could not reach the band."""
    params = dict(note.params)
    return make_note(
        OVERSIZE, "oversize_absorbed", households=params.get("households", 0), high=high, low=low, absorbed=params.get("absorbed", 0) + households
    )


def _infeasible_note(total, k, low, high, detached):
    if detached:
        return make_note(DETACHED, "detached_part", total=total, low=low, high=high)
    if total == 0:
        return make_note(INFEASIBLE, "no_households")
    return make_note(INFEASIBLE, "infeasible_total", total=total, k=k, low=low, high=high)
