"""Default settings of the staffing, workload and coverage options, in a module that imports nothing.

The command line reads them when it starts (for ``--help``), before any
geometry library is loaded; :mod:`gridgeo.governance.workload` and
:mod:`gridgeo.governance.coverage` use the same values.

>>> DEFAULT_HOUSEHOLDS_PER_HELPER, DEFAULT_FACTOR, DEFAULT_SPEED, DEFAULT_LIMIT_MIN
(100, 1.5, 80.0, 15.0)
"""

#: one part-time helper per this many households (a local rule: a user setting)
DEFAULT_HOUSEHOLDS_PER_HELPER = 100
#: a grid is flagged when its workload index exceeds this multiple of its community's mean (1.0)
DEFAULT_FACTOR = 1.5
#: walking speed in metres per minute (80 m/min ≈ 4.8 km/h)
DEFAULT_SPEED = 80.0
#: grids whose walk to the nearest centre takes longer than this many minutes are flagged
DEFAULT_LIMIT_MIN = 15.0
