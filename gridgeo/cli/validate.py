"""``gridgeo validate``: the input checks of ``partition`` without partitioning."""

from __future__ import annotations

import functools
import logging
import sys

import click

from ..errors import InputError
from ..messages import count, problem_text, say, translate
from .group import main
from .options import (
    EXIT_PROBLEMS,
    LANGS,
    REGISTER_PARAMS,
    _handle_errors,
    _lang,
    code_options,
    input_options,
    point_table_options,
    register_options,
)
from .steps import _check_register, _data_options, _read_areas, _read_inputs


# -- validate ---------------------------------------------------------------------------------------
@main.command()
@click.argument("communities", metavar="COMMUNITIES")
@click.argument("buildings", metavar="BUILDINGS")
@input_options
@click.option("--grid-size", default="300:500", show_default=True, metavar="MIN:MAX", help="Household band of a grid (decides which compounds fit in one grid).")
@click.option("--dedicated", metavar="FILE", help="Dedicated facilities to check: polygons with a type column, or a CSV of building ids with a type.")
@click.option("--dedicated-type", default="type", show_default=True, metavar="COL", help="Column of --dedicated with the facility type.")
@click.option("--compounds", metavar="FILE", help="Residential compound (小区) polygons to check.")
@code_options
@point_table_options
@functools.partial(register_options, roster=False)
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language of the messages (default: the locale's).")
@_handle_errors
def validate(communities, buildings, households, community_id, building_id, community_households, barriers, encoding, grid_size, dedicated, dedicated_type, compounds, codes, points, register_opts=None, lang=None):
    """Check COMMUNITIES and BUILDINGS (and the facility, compound and code options) without partitioning.

    Every problem is listed at once, then every note (each once); exit 1 when
    there are problems.  Overlapping communities are a problem: their grids
    would overlap too.
    """
    with _HeldWarnings() as held:
        problems, prep, register_notes = _validate(communities, buildings, households, community_id, building_id, community_households, barriers, encoding, grid_size, dedicated, dedicated_type, compounds, codes, points, register_opts)
    problem_texts = {str(problem) for problem in problems}
    notes = [note for note in (prep.notes if prep is not None else []) + register_notes if note not in problem_texts]
    unused = set()
    if register_opts and register_opts.get("register"):  # (the register gives the households: the estimate made without it is not used)
        unused = {note for note in notes if note.startswith("households ESTIMATED")}
        notes = [note for note in notes if note not in unused]
    held.release(problem_texts | set(notes) | unused)
    if problems:
        click.echo(say("problems", _lang(), problems=count(len(problems), "problem"), n=len(problems)))
        for problem in problems:
            click.echo(f"  - {problem_text(problem, _lang())}")
    else:
        n = {"communities": len(prep.communities), "buildings": len(prep.buildings), "unassigned": len(prep.unassigned)}
        click.echo(say("ok", _lang(), communities=count(n["communities"], "community", "communities"), buildings=count(n["buildings"], "building"),
                       unassigned=str(n["unassigned"]), **{f"n_{k}": v for k, v in n.items()}))
    for note in notes:
        click.echo(say("note", _lang(), text=translate(note, _lang())))
    if problems:
        sys.exit(EXIT_PROBLEMS)


class _HeldWarnings(logging.Filter):
    """Hold back gridgeo's warnings while `validate` checks: it prints each as a problem or a note, once.

    ``release(shown)`` passes on the held warnings whose text was not printed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.handlers = list(logging.getLogger("gridgeo").handlers)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            self.records.append(record)
            return False
        return True

    def __enter__(self):
        for handler in self.handlers:
            handler.addFilter(self)
        return self

    def __exit__(self, *exc) -> None:
        for handler in self.handlers:
            handler.removeFilter(self)
        if exc[0] is not None:
            self.release(set())

    def release(self, shown: set[str]) -> None:
        for record in self.records:
            if record.getMessage() not in shown:
                for handler in self.handlers:
                    handler.handle(record)
        self.records = []


def _validate(communities, buildings, households, community_id, building_id, community_households, barriers, encoding, grid_size, dedicated, dedicated_type, compounds, codes, points, register_opts):
    """Every problem of the inputs of `gridgeo validate`, the prepared inputs (None when they could not be prepared)
    and the notes of the household register check."""
    from ..api import parse_band
    from ..cells.areas import assign_areas
    from ..governance.code_settings import prepare_codes
    from ..inputs.validate import prepare_inputs

    problems = []
    prep = None
    labels: dict = {}
    try:
        band = parse_band(grid_size, "grid size")
    except InputError as exc:
        problems += exc.problems
        band = (300, 500)
    try:
        comm, bldg, barrier_frames, labels = _read_inputs(communities, buildings, barriers, encoding, points)
    except InputError as exc:
        problems += exc.problems
        comm = None
    if comm is not None:
        try:
            prepare_codes(comm, **codes, label=labels.get("communities", "communities"))
        except InputError as exc:
            problems += exc.problems
        try:
            prep = prepare_inputs(comm, bldg, **_data_options(households, community_id, building_id, community_households, barrier_frames, labels))
            problems += prep.overlaps
        except InputError as exc:
            problems += exc.problems
    if dedicated or compounds:
        try:
            dedicated_frame, compound_frame = _read_areas(dedicated, compounds, encoding, labels)
            if prep is not None:  # placing them needs the checked inputs
                areas = assign_areas(prep, dedicated=dedicated_frame, dedicated_type=dedicated_type, building_id=building_id, compounds=compound_frame, high=band[1], labels=labels)
                prep.notes.append(_areas_note(areas, band[1]))
        except InputError as exc:
            problems += exc.problems
    register_notes = []
    if register_opts and (register_opts.get("register") or any(register_opts.get(k) for k in REGISTER_PARAMS[1:4])):
        found, register_notes = _check_register(register_opts, bldg if comm is not None else None, building_id, households, encoding, labels if comm is not None else {})
        problems += found
    return problems, prep, register_notes


def _areas_note(areas, high: int) -> str:
    """What `validate` found of --dedicated and --compounds: facilities made grids, compounds kept whole or split.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from types import SimpleNamespace
    >>> areas = SimpleNamespace(facility=np.array(["school", None, None], dtype=object),
    ...     compounds=pd.DataFrame({"compound": ["A", "B", "C"], "kept_whole": [True, True, False]}))
    >>> _areas_note(areas, 500)
    '1 dedicated facility placed in its community; 3 compounds: 2 kept whole, 1 above the grid maximum 500 (split between its buildings)'
    """
    n_facilities = sum(1 for kind in areas.facility if kind is not None)
    parts = []
    if n_facilities:
        parts.append(f"{n_facilities} dedicated {'facility placed in its community' if n_facilities == 1 else 'facilities placed in their communities'}")
    if len(areas.compounds):
        whole = int(areas.compounds["kept_whole"].sum())
        split = len(areas.compounds) - whole
        parts.append(
            f"{len(areas.compounds)} compound{'' if len(areas.compounds) == 1 else 's'}: {whole} kept whole"
            + (f", {split} above the grid maximum {high} (split between {'its' if split == 1 else 'their'} buildings)" if split else "")
        )
    return "; ".join(parts) or "no dedicated facility or compound lies in a community"
