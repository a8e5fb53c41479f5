"""The ``gridgeo`` console command: the click group, then an exit that does not free the process's objects one by one.

After a run at city scale the process holds a gigabyte of Python objects;
freeing them one at a time as the interpreter shuts down took 0.2 s at
~14,000 buildings and 0.5 s at ~100,000.  The outputs are all written and
closed by then, so :func:`run` runs the exit handlers (logging's flush,
multiprocessing's clean-up, temporary files) and ends the process at once, as
mypy's command line does.  With another thread still running it exits the
usual way.  Calling :data:`gridgeo.cli.main` from Python (click's test
runner, a script) is not affected.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

from .group import main

__all__ = ["run"]


def exit_status(code) -> int:
    """The process status for ``SystemExit(code)``, as the interpreter would give it.

    Examples
    --------
    >>> exit_status(None), exit_status(0), exit_status(2), exit_status("message")
    (0, 0, 2, 1)
    """
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    return 1


def run() -> None:
    """Run ``gridgeo`` on ``sys.argv`` and end the process with its status."""
    try:
        main(prog_name="gridgeo")
        code = None
    except SystemExit as exc:
        code = exc.code
    if threading.active_count() > 1:
        raise SystemExit(code)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # as the interpreter prints a SystemExit's message
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said on it
            pass
    os._exit(exit_status(code))
