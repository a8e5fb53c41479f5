"""gridgeo: split urban communities (社区) into balanced, contiguous governance grids (网格)
and group their households into joint-household units (联户).

>>> import gridgeo
>>> callable(gridgeo.partition)
True
"""

import logging

__version__ = "0.1.0"

from .api import partition  # noqa: E402
from .coverage import add_coverage  # noqa: E402
from .errors import CRSError, GridgeoError, InputError, OutputExistsError  # noqa: E402
from .result import Partition, read_outputs  # noqa: E402
from .workload import add_workload  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["partition", "add_workload", "add_coverage", "Partition", "read_outputs", "GridgeoError", "InputError", "CRSError", "OutputExistsError", "__version__"]
