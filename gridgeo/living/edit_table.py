"""A planner's edits table (EDITS.csv): read and checked against the plan, each problem naming its rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, ProblemCollector
from ..result import Partition

__all__ = ["ACTIONS", "read_edits", "check_edits"]

#: the actions an edit row may name (empty means ``move``)
ACTIONS = ("move", "lock", "unlock")
_SHOWN = 5


def read_edits(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read an edit file (CSV, UTF-8 with or without BOM, or ``encoding``: ``gbk`` for Chinese Excel) as text columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "edits.csv"
    >>> _ = p.write_text("building_code,grid_code\\n001-B00003,001-02\\n", encoding="utf-8")
    >>> read_edits(p).to_dict(orient="records")
    [{'building_code': '001-B00003', 'grid_code': '001-02'}]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(Problem(str(path), "does not exist or is not a file", "give the CSV of edits (columns building_code,grid_code[,action])"))
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding or "utf-8-sig", skipinitialspace=True)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(_unreadable(path, exc, encoding)) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame


def _unreadable(path: Path, exc: Exception, encoding: str | None = None) -> Problem:
    """The problem of an edit file pandas cannot read, in the planner's words: the line and what to change.

    Examples
    --------
    >>> import pandas as pd
    >>> print(_unreadable(Path("edits.csv"), pd.errors.ParserError("Error tokenizing data. C error: Expected 2 fields in line 5, saw 3\\n")))
    edits.csv: line 5 has 3 fields where the header has 2 — fix: give every line the header's columns; a row with an action (lock, unlock) needs the header building_code,grid_code,action
    """
    usual = "save it as UTF-8 CSV with the header building_code,grid_code[,action]"
    if isinstance(exc, UnicodeDecodeError):
        if encoding:
            return Problem(str(path), f"is not {encoding} text ({exc.reason} at byte {exc.start})", "pass the encoding it was saved in with --encoding, or save it as UTF-8 CSV")
        return Problem(str(path), f"is not UTF-8 text ({exc.reason} at byte {exc.start})", f"{usual} (in Excel: Save As > CSV UTF-8), or pass --encoding gbk for a CSV saved by Chinese Excel")
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if ragged:
        expected, line, saw = ragged.groups()
        return Problem(
            str(path),
            f"line {line} has {saw} fields where the header has {expected}",
            "give every line the header's columns; a row with an action (lock, unlock) needs the header building_code,grid_code,action",
        )
    return Problem(str(path), f"cannot be read as CSV: {str(exc).strip()}", usual)


def _lines(rows: list[int]) -> str:
    """CSV line numbers of data rows (the header is line 1)."""
    shown = ", ".join(str(r + 2) for r in rows[:10])
    more = f" (and {len(rows) - 10} more)" if len(rows) > 10 else ""
    return f"{'line' if len(rows) == 1 else 'lines'} {shown}{more}"


def _first_line(problem) -> int:
    """The first line a problem names (problems naming no line first), to list them in the file's order."""
    hit = re.match(r"lines? (\d+)", problem.message)
    return int(hit.group(1)) if hit else 0


def _next_code(community: str, codes: list[str], retired) -> str:
    """The first grid code of ``community`` after every code it has or had: what a new grid is called.

    Examples
    --------
    >>> _next_code("001", ["001-01", "001-09"], {"001-10"})
    '001-11'
    """
    numbers = [code.rsplit("-", 1)[1] for code in [*codes, *retired] if code.startswith(f"{community}-") and code.rsplit("-", 1)[1].isdigit()]
    width = max((len(number) for number in numbers), default=2)  # the community's own width (3 digits past 99 grids)
    return f"{community}-{max((int(n) for n in numbers), default=0) + 1:0{width}d}"


def _own_range(grid_comm: dict[str, str], community: str) -> str:
    """The grid codes of ``community``, shortened: ``001-01 … 001-12``."""
    own = sorted(code for code, comm in grid_comm.items() if comm == community)
    return f"{own[0]} … {own[-1]}" if len(own) > 2 else ", ".join(own) or "none"


def _not_next(new_rows: dict[str, list[int]], grid_comm: dict[str, str], retired) -> list[tuple[list[int], str, str, list[str]]]:
    """The new grid codes that are not their community's next free numbers.

    A move to a code the plan does not have creates a grid, so a typo would
    create one silently: a new code must be the community's next free number
    (:func:`_next_code`), and several new grids of one community in one file
    take consecutive numbers from there.  Returns ``(rows, code, community,
    free codes)`` for every other code, the free codes being the numbers the
    file's new grids leave unused, in order.

    Examples
    --------
    >>> grids = {f"001-{n:02d}": "001" for n in range(1, 13)}
    >>> _not_next({"001-13": [0], "001-77": [1, 3]}, grids, set())
    [([1, 3], '001-77', '001', ['001-14'])]
    >>> _not_next({"001-14": [0], "001-13": [2]}, grids, set())
    []
    """
    by_community: dict[str, list[str]] = {}
    for code in new_rows:
        by_community.setdefault(code.rsplit("-", 1)[0], []).append(code)
    out = []
    for community in sorted(by_community):
        codes = by_community[community]
        own = [code for code, comm in grid_comm.items() if comm == community]
        first = _next_code(community, own, retired)
        width = len(first.rsplit("-", 1)[1])
        start = int(first.rsplit("-", 1)[1])
        expected = [f"{community}-{start + k:0{width}d}" for k in range(len(codes))]
        free = [code for code in expected if code not in new_rows]
        for code in sorted(c for c in codes if c not in expected):
            out.append((sorted(new_rows[code]), code, community, free))
    return out


def check_edits(previous: Partition, edits: pd.DataFrame, *, source: str = "edits") -> tuple[dict[str, str], list[str], list[str], dict[str, list[int]]]:
    """Validate an edit table against ``previous``; every problem together in one :class:`InputError`.

    Returns
    -------
    moves : dict
        Building code → grid code (pins to the current grid included).
    locks, unlocks : list of str
        Grid codes to lock and to unlock.
    lines : dict
        Building or grid code → the data rows (0-based) that named it.

    Examples
    --------
    >>> import geopandas as gpd, shapely, gridgeo, pandas as pd
    >>> c = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 400, 100)], crs=32651)
    >>> b = gpd.GeoDataFrame({"hh": [40] * 20}, geometry=[shapely.box(x + 5, 40, x + 15, 60) for x in range(0, 400, 20)], crs=32651)
    >>> plan = gridgeo.partition(c, b, households="hh")
    >>> check_edits(plan, pd.DataFrame({"building_code": ["001-B00099"], "grid_code": ["001-01"]}))
    Traceback (most recent call last):
    ...
    gridgeo.errors.InputError: edits: line 2: unknown building code 001-B00099 — fix: use a building_code of the plan's buildings layer
    """
    problems = ProblemCollector()
    missing = [c for c in ("building_code", "grid_code") if c not in edits.columns]
    if missing:
        separator = next((sep for sep in (";", "\t") if len(edits.columns) == 1 and sep in str(edits.columns[0])), None)
        fix = "use the header building_code,grid_code[,action]"
        if separator:  # saved by a spreadsheet set to another list separator
            fix = f"separate the columns with commas, not {'semicolons' if separator == ';' else 'tabs'} (header building_code,grid_code[,action])"
        problems.add(source, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} (found: {', '.join(map(str, edits.columns)) or 'none'})", fix)
        problems.raise_if_any()
    frame = edits.astype(str).fillna("")
    frame = frame.apply(lambda column: column.str.strip())
    action = frame["action"].str.lower() if "action" in frame.columns else pd.Series([""] * len(frame), index=frame.index)
    action = action.replace("", "move").to_numpy()
    b_codes = frame["building_code"].to_numpy()
    g_codes = frame["grid_code"].to_numpy()
    buildings = previous.buildings
    comm_of_building = dict(zip(buildings["building_code"].astype(str), buildings["community_code"].astype(str)))
    grid_comm = dict(zip(previous.grids["grid_code"].astype(str), previous.grids["community_code"].astype(str)))
    communities = set(previous.communities["community_code"].astype(str))
    retired = set(previous.report.get("retired_grid_codes", []))
    locked = set(previous.report.get("locked_grids", []))

    def group(mask) -> list[int]:
        return [int(i) for i in np.flatnonzero(mask)]

    bad_action = group(~np.isin(action, ACTIONS))
    if bad_action:
        problems.add(source, f"{_lines(bad_action)}: unknown action {', '.join(repr(str(a)) for a in sorted(set(action[bad_action])))}", f"use one of {', '.join(ACTIONS)} (empty means move)")
    is_move, is_lock, is_unlock = action == "move", action == "lock", action == "unlock"
    no_building = group(is_move & (b_codes == ""))
    if no_building:
        problems.add(source, f"{_lines(no_building)}: a move without building_code", "give the building_code to move, or action lock/unlock for a whole grid")
    no_grid = group(g_codes == "")
    if no_grid:
        problems.add(source, f"{_lines(no_grid)}: no grid_code", "give the grid_code the building goes to (or the grid to lock)")
    with_building = group((is_lock | is_unlock) & (b_codes != ""))
    if with_building:
        problems.add(source, f"{_lines(with_building)}: lock and unlock apply to whole grids, not buildings", "leave building_code empty on lock/unlock rows")
    moves: dict[str, str] = {}
    lines: dict[str, list[int]] = {}
    unknown, foreign, retired_rows, malformed, conflicts = [], [], [], [], []
    new_rows: dict[str, list[int]] = {}  # codes of no grid of the plan (new grids) → the rows that name them
    for i in group(is_move & (b_codes != "") & (g_codes != "")):
        building, grid = b_codes[i], g_codes[i]
        lines.setdefault(building, []).append(i)
        community = comm_of_building.get(building)
        if community is None:
            unknown.append((i, building))
            continue
        target_comm = grid_comm.get(grid)
        if target_comm is None:
            hit = re.match(r"^(.+)-(\d+)$", grid)
            if not hit or hit.group(1) not in communities:
                malformed.append((i, grid, community))
                continue
            if grid in retired:
                retired_rows.append((i, grid))
                continue
            target_comm = hit.group(1)
            new_rows.setdefault(grid, []).append(i)
        if target_comm != community:
            foreign.append((i, building, community, grid))
            continue
        if moves.get(building, grid) != grid:
            conflicts.append((i, building, moves[building], grid))
            continue
        moves[building] = grid
    gone = set(previous.report.get("retired_building_codes", []))
    id_column = previous.report.get("parameters", {}).get("building_id")
    by_id = {}
    for column in (f"input_{id_column}", id_column) if id_column else ():
        if column in buildings.columns:
            by_id = dict(zip(buildings[column].astype(str), buildings["building_code"].astype(str)))
            break
    for i, building in unknown:
        if building in gone:
            problems.add(source, f"{_lines([i])}: building {building} is no longer in the plan (an update removed it; its code stays retired)", "leave the row out, or name the building_code of a building of the plan")
        elif building in by_id:
            problems.add(source, f"{_lines([i])}: {building} is a {id_column}, not a building code", f"use its building_code, {by_id[building]}")
        else:
            problems.add(source, f"{_lines([i])}: unknown building code {building}", "use a building_code of the plan's buildings layer")
    for i, grid, community in malformed:
        own = sorted(code for code, comm in grid_comm.items() if comm == community)
        shown = f"{own[0]} … {own[-1]}" if len(own) > 2 else ", ".join(own)
        problems.add(
            source,
            f"{_lines([i])}: grid code {grid!r} is neither a grid of the plan nor a new code <community>-<number> of one of its communities",
            f"use a grid_code of the building's community {community} ({shown}), or {_next_code(community, own, retired)} for a new grid",
        )
    for i, grid in retired_rows:
        community = grid.rsplit("-", 1)[0]
        own = [code for code, comm in grid_comm.items() if comm == community]
        problems.add(source, f"{_lines([i])}: grid code {grid} was retired and is never reused", f"for a new grid use the next free grid code in community {community}, {_next_code(community, own, retired)}")
    for i, building, community, grid in foreign:
        problems.add(source, f"{_lines([i])}: building {building} of community {community} cannot move to grid {grid} of another community", "every grid belongs to exactly one community: move it to a grid of its own community")
    for i, building, first, second in conflicts:
        problems.add(source, f"{_lines([i])}: building {building} is sent to {second} but also to {first}", "keep one row per building")
    for rows, grid, community, free in _not_next(new_rows, grid_comm, retired):
        problems.add(
            source,
            f"{_lines(rows)}: grid code {grid} is not a grid of community {community}, and a new grid takes the community's next free number",
            f"the next free grid code in community {community} is {free[0]}"
            + (f" (then {', '.join(free[1:])})" if len(free) > 1 else "")
            + f"; use it for a new grid, or a grid_code of the plan ({_own_range(grid_comm, community)}) to move the building into an existing grid",
        )
    created = set(moves.values()) - set(grid_comm)
    locks = sorted({g_codes[i] for i in group(is_lock & (g_codes != ""))})
    unlocks = sorted({g_codes[i] for i in group(is_unlock & (g_codes != ""))})
    for grid in locks:
        lines.setdefault(grid, []).extend(group(is_lock & (g_codes == grid)))
        if grid not in grid_comm and grid not in created:
            problems.add(source, f"{_lines(group(is_lock & (g_codes == grid)))}: cannot lock unknown grid {grid}", "lock a grid_code of the plan (or one created by a move in this file)")
    # a grid locked in the plan refuses moves in and out (as in the map's edit mode) unless this file unlocks it
    grid_of_building = dict(zip(buildings["building_code"].astype(str), buildings["grid_code"].astype(str)))
    held = locked - set(unlocks)
    for building, grid in moves.items():
        current = grid_of_building.get(building)
        if current == grid:
            continue  # (a pin where the building is)
        for code, way in ((current, "out of"), (grid, "into")):
            if code in held:
                problems.add(
                    source,
                    f"{_lines(lines[building])}: grid {code} is locked (report.json locked_grids): a move {way} it is refused",
                    f"unlock it in the same file first (a row ,{code},unlock), or leave the row out",
                )
    for grid in unlocks:
        if grid not in locked:
            problems.add(source, f"{_lines(group(is_unlock & (g_codes == grid)))}: grid {grid} is not locked", "unlock only grids listed in the plan's report.json locked_grids")
        if grid in locks:
            problems.add(source, f"{_lines(group((is_lock | is_unlock) & (g_codes == grid)))}: grid {grid} is both locked and unlocked", "keep one of the two rows")
    problems.problems.sort(key=_first_line)  # in the order of the file, as the user reads it
    problems.raise_if_any()
    return moves, locks, unlocks, lines
