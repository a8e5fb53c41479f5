"""gridgeo: split urban communities (社区) into balanced, contiguous governance grids (网格)
and group their households into joint-household units (联户).

The public names are imported when first used, so ``gridgeo --version`` and
``gridgeo --help`` start without loading geopandas, scipy or shapely.

>>> import gridgeo
>>> callable(gridgeo.partition)
True
"""

import importlib
import logging
import sys
import types

__version__ = "0.1.0"

from ._moved import install as _install_moved  # noqa: E402
from .errors import CRSError, GridgeoError, InputError, OutputExistsError  # noqa: E402

_install_moved()  # the old flat module paths (gridgeo.update, ...) still import, with a DeprecationWarning

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["partition", "add_workload", "add_coverage", "Partition", "read_outputs", "GridgeoError", "InputError", "CRSError", "OutputExistsError", "__version__"]

# public name → module that defines it, imported on first use (PEP 562)
_LAZY = {
    "partition": "api",
    "add_coverage": "governance.coverage",
    "Partition": "result",
    "read_outputs": "result",
    "add_workload": "governance.workload",
}


class _Package(types.ModuleType):
    """The ``gridgeo`` module: ``gridgeo.partition`` is the function, also once the subpackage of that name is imported."""

    @property
    def partition(self):
        from .api import partition

        return partition

    @partition.setter
    def partition(self, value) -> None:
        # importing gridgeo.partition.* records the subpackage on its parent; the name stays the function
        # (the subpackage is reached by its full name: from gridgeo.partition.plan import ...)
        pass


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gridgeo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
