"""Mixed-integer programs through SciPy's HiGHS, without the solver's own prints on the command's output.

HiGHS (as SciPy bundles it) writes a few diagnostic lines straight to the C library's standard output, whatever
its logging options say: ``HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();`` appears on
stdout during some solves of an update, also under ``gridgeo -q``.  :func:`milp` solves with file descriptor 1
pointed at the null device and flushes the C library's buffers before putting it back, so nothing the solver prints
reaches the terminal or a pipe; gridgeo's own messages go through :mod:`logging` (stderr) and are not touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys

__all__ = ["milp", "c_stdout_silenced"]


@contextlib.contextmanager
def c_stdout_silenced():
    """Point file descriptor 1 at the null device for the block (what C code prints there is dropped).

    Python's own ``sys.stdout`` is flushed first and works again afterwards; the C library's buffers are flushed
    before the descriptor is restored, so nothing printed inside comes out later.

    Examples
    --------
    >>> import ctypes
    >>> with c_stdout_silenced():
    ...     _ = ctypes.CDLL(None).puts(b"not shown")
    """
    try:
        sys.stdout.flush()
    except (AttributeError, ValueError):  # (no stdout, or a closed one)
        pass
    libc = _libc()
    try:
        saved = os.dup(1)
    except OSError:  # (no descriptor 1 at all: nothing to keep clean)
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        if libc is not None:
            libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def milp(*args, **kwargs):
    """:func:`scipy.optimize.milp`, with HiGHS's prints to the C stdout dropped (:func:`c_stdout_silenced`).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import LinearConstraint
    >>> result = milp(np.array([1.0, 1.0]), constraints=LinearConstraint(np.array([[1.0, 2.0]]), 3, np.inf), integrality=np.ones(2))
    >>> result.status, float(result.fun)
    (0, 2.0)
    """
    # imported here: scipy.optimize takes a third of a second, and most runs never solve a program
    from scipy.optimize import milp as scipy_milp

    with c_stdout_silenced():
        return scipy_milp(*args, **kwargs)


@functools.cache
def _libc():
    """The C library of this process (None where it cannot be loaded), loaded once."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None
