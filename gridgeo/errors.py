"""Exception types of gridgeo.

Every error a user can cause is a :class:`GridgeoError`; the ones caused by the
input data also subclass :class:`ValueError` so that callers who catch
``ValueError`` keep working.  Input checks collect all problems first and raise
one :class:`InputError` that lists them, each naming the file, the rows and the
remedy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "GridgeoError",
    "InputError",
    "CRSError",
    "OutputExistsError",
    "OutputError",
    "FontMissingError",
    "AuditError",
    "SeamError",
    "Problem",
]


class GridgeoError(Exception):
    """Base class of every error gridgeo raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in the input.

    Parameters
    ----------
    source : str
        The file (or layer label) the problem is in.
    message : str
        What is wrong, naming the rows where rows are at fault.
    fix : str
        How to fix it.
    """

    source: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.source}: {self.message}"
        return f"{text} — fix: {self.fix}" if self.fix else text


class InputError(GridgeoError, ValueError):
    """The input data cannot be used as it is; lists every problem found."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("input", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self._format())

    def __reduce__(self):
        # rebuilt from its problems (a writer process sends it to the parent): from the message, every problem would
        # become one problem of a file named "input"
        return type(self), (self.problems,)

    def _format(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems in the input:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class CRSError(InputError):
    """A layer has no CRS, or a CRS that does not fit its coordinates."""


class AuditError(GridgeoError):
    """The result failed the comparison with its input (a bug in gridgeo: please report it)."""


class SeamError(AuditError):
    """The re-drawn grids of a community cannot be made to meet the grids kept around them exactly (their edges
    would not match, ``shapely.coverage_is_valid`` false): nothing is written (a bug in gridgeo: please report it).

    The command line treats it as every :class:`AuditError` (exit code 3).

    Examples
    --------
    >>> issubclass(SeamError, AuditError) and issubclass(SeamError, GridgeoError)
    True
    """


class OutputExistsError(GridgeoError, FileExistsError):
    """The output folder exists and ``overwrite`` was not given (or may not be replaced).

    Examples
    --------
    >>> error = OutputExistsError(Problem("out", "exists", "pass --overwrite to replace it, or choose another folder"))
    >>> str(error), error.problems[0].message
    ('out: exists — fix: pass --overwrite to replace it, or choose another folder', 'exists')
    """

    def __init__(self, problem: Problem | str):
        self.problems: list[Problem] = [problem] if isinstance(problem, Problem) else []
        super().__init__(str(problem))

    def __reduce__(self):
        return type(self), (self.problems[0] if self.problems else str(self),)


class FontMissingError(GridgeoError):
    """No installed font can draw the Chinese text of a printed map.

    Examples
    --------
    >>> isinstance(FontMissingError("no CJK font"), GridgeoError)
    True
    """


class OutputError(GridgeoError, OSError):
    """The output could not be written (no permission, disk full); nothing was left behind.

    Examples
    --------
    >>> import errno
    >>> error = OutputError("out: disk full", errno.ENOSPC)
    >>> str(error), error.errno == errno.ENOSPC, isinstance(error, OSError)
    ('out: disk full', True, True)
    """

    def __init__(self, message: str, code: int | None = None):
        OSError.__init__(self, message)
        self.errno = code


@dataclass
class ProblemCollector:
    """Collect problems and raise them together.

    Examples
    --------
    >>> problems = ProblemCollector()
    >>> problems.add("buildings.shp", "rows 3, 9: households is negative", "use 0 or more")
    >>> len(problems)
    1
    """

    problems: list[Problem] = field(default_factory=list)

    def add(self, source: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(source, message, fix))

    def __len__(self) -> int:
        return len(self.problems)

    def raise_if_any(self, error: type[InputError] = InputError) -> None:
        if self.problems:
            raise error(self.problems)


def describe_rows(labels, limit: int = 10) -> str:
    """Name rows compactly: ``rows 3, 7, 12 (and 40 more)``.

    Examples
    --------
    >>> describe_rows([1, 2, 3])
    'rows 1, 2, 3'
    """
    labels = list(labels)
    shown = ", ".join(str(x) for x in labels[:limit])
    word = "row" if len(labels) == 1 else "rows"
    more = f" (and {len(labels) - limit} more)" if len(labels) > limit else ""
    return f"{word} {shown}{more}"
