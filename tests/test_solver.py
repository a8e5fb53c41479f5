"""HiGHS's own prints (to the C library's stdout) stay off the command's output (:mod:`gridgeo.solver`).

SciPy's HiGHS prints ``HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();`` to the C stdout in
some solves (an update of shanghai_bund with 5 % of its buildings added at random, seed 5, printed it twice under
``gridgeo -q``); no HiGHS option turns it off.  These tests print from C the same way.
"""

from __future__ import annotations

import ctypes

import numpy as np
from scipy.optimize import LinearConstraint
from scipy.optimize import milp as scipy_milp

from gridgeo.solver import c_stdout_silenced, milp


def test_what_c_code_prints_inside_is_dropped_and_stdout_works_after(capfd):
    libc = ctypes.CDLL(None)
    print("before", flush=True)
    with c_stdout_silenced():
        libc.puts(b"HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();")
        libc.printf(b"no newline, still buffered")
    print("after", flush=True)
    libc.puts(b"from C, after")
    libc.fflush(None)
    out, _ = capfd.readouterr()
    assert out == "before\nafter\nfrom C, after\n"


def test_the_solution_is_scipys():
    cost = np.array([3.0, 2.0, 4.0])
    constraints = [LinearConstraint(np.array([[1.0, 1.0, 1.0]]), 2, 2), LinearConstraint(np.array([[1.0, 0.0, 1.0]]), 1, np.inf)]
    ours = milp(cost, constraints=constraints, integrality=np.ones(3), bounds=(0, 1))
    theirs = scipy_milp(cost, constraints=constraints, integrality=np.ones(3), bounds=(0, 1))
    assert ours.status == theirs.status == 0
    assert ours.x.tolist() == theirs.x.tolist() and ours.fun == theirs.fun == 5.0
