"""Joint-household units (联户): the grid's households cut into units (:mod:`gridgeo.units.cut`), and cut again keeping households in their unit (:mod:`gridgeo.units.keep`)."""

from .cut import Unit, cut_households, cut_units, fits_units, walking_order

__all__ = ["Unit", "walking_order", "cut_units", "cut_households", "fits_units"]
