"""The ``gridgeo`` command line: a click group of thin commands (read → library → write).

Commands: ``partition``, ``update``, ``apply-edits``, ``validate``, ``export``, ``map``, ``report``, ``print``, ``demo``.

Exit codes: 0 success; 1 the input has problems (``validate``); 2 a usage or
input error (one clear message, no traceback unless ``-v``); 3 an unexpected
internal error; 130 interrupted.

One module per command (``partition``, ``validate``, ``living``: update and
apply-edits, ``outputs``: export, map, report and print, ``demo``), the shared
options in ``options``, the shared steps in ``steps``, the group in ``group``, and the
console command in ``entry`` (the group, then an exit that skips freeing every object).
"""

from ..memory import arrow_on_system_allocator, imports_uncollected

# before the commands import pandas (and with it pyarrow): Arrow's freed buffers go back to the system
arrow_on_system_allocator()

with imports_uncollected():  # no collector's rounds over the modules imported (gridgeo.memory)
    from . import demo, living, outputs, partition, validate  # noqa: F401  (each registers its commands on main)
    from .entry import run
    from .group import main

__all__ = ["main", "run"]
