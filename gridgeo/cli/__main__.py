"""``python -m gridgeo.cli``: the ``gridgeo`` command."""

from . import main

main()
