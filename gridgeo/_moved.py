"""Old module paths of the flat layout (``gridgeo.update``, ``gridgeo.tessellate``, ...) kept importable.

The modules live in folders by stage since 0.2 (``gridgeo.living.update``,
``gridgeo.cells.tessellate``, ...).  Importing an old path gives the module at
its new path, the same module object, with a :class:`DeprecationWarning` that
names the new path.

>>> import sys, warnings
>>> _ = sys.modules.pop("gridgeo.tessellate", None)  # an earlier import of the old path is cached
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     import gridgeo.tessellate as old
>>> import gridgeo.cells.tessellate as new
>>> old is new, caught[0].category.__name__
(True, 'DeprecationWarning')
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

# old module (below gridgeo.) → new module (below gridgeo.)
MOVED = {
    "adjacency": "cells.adjacency",
    "areas": "cells.areas",
    "chinacoords": "inputs.chinacoords",
    "codes": "governance.codes",
    "corridors": "partition.corridors",
    "coverage": "governance.coverage",
    "crs": "inputs.crs",
    "edits": "living.edits",
    "engine": "partition.engine",
    "export": "outputs.export",
    "files": "outputs.files",
    "geopackage": "outputs.geopackage",
    "gridindex": "outputs.gridindex",
    "households": "inputs.households",
    "io": "inputs.io",
    "lineage": "living.lineage",
    "maps": "outputs.maps",
    "movebound": "living.movebound",
    "network": "governance.network",
    "postgis": "outputs.postgis",
    "printmap": "outputs.printmap",
    "register": "inputs.register",
    "report": "outputs.report",
    "roster": "governance.roster",
    "routes": "partition.routes",
    "seams": "living.seams",
    "shapefile": "outputs.shapefile",
    "standard_codes": "governance.standard_codes",
    "styles": "outputs.styles",
    "tessellate": "cells.tessellate",
    "update": "living.update",
    "validate": "inputs.validate",
    "workload": "governance.workload",
}


class _MovedLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {self.new}; import it from there", DeprecationWarning, stacklevel=2)
        return importlib.import_module(self.new)

    def exec_module(self, module) -> None:
        # the module object is the one at the new path, already run
        pass


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds ``gridgeo.OLD`` for every old path in :data:`MOVED`."""

    def find_spec(self, fullname: str, path=None, target=None):
        if not fullname.startswith("gridgeo."):
            return None
        new = MOVED.get(fullname[len("gridgeo.") :])
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _MovedLoader(f"gridgeo.{new}"))


def install() -> None:
    """Put the finder first on :data:`sys.meta_path`, once (before an editable install's finder of older paths)."""
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedFinder())
