"""Run configuration files (TOML): the same keys as the command-line flags.

``gridgeo partition --config plan.toml`` reads the keys below (dashes or
underscores); flags given on the command line win.  Every run writes the
resolved configuration to ``OUTDIR/config.toml`` so it can be repeated exactly
with ``gridgeo partition --config OUTDIR/config.toml``.
"""

from __future__ import annotations

import datetime
import difflib
import json
import tomllib
from pathlib import Path

from .errors import InputError, Problem

__all__ = ["KEYS", "load_config", "dump_config"]

#: key → expected Python type(s)
KEYS: dict[str, tuple[type, ...]] = {
    "communities": (str,),
    "buildings": (str,),
    "output": (str,),
    "households": (str,),
    "community_id": (str,),
    "building_id": (str,),
    "community_households": (str,),
    "barriers": (list,),
    "dedicated": (str,),
    "dedicated_type": (str,),
    "compounds": (str,),
    "encoding": (str,),
    "grid_size": (str,),
    "unit_size": (str,),
    "seed": (int,),
    "formats": (list,),
    "map": (bool,),
    "report": (bool,),
    "print": (bool,),
    "print_attribution": (str,),
    "lang": (str,),
    "basemap": (str,),
    "tianditu_key": (str,),
    "overwrite": (bool,),
    "workers": (int,),
    "shp_encoding": (str,),
    "scheduler": (str,),
    "code_scheme": (str,),
    "object_class": (str,),
    "county_code_column": (str,),
    "district_code_column": (str,),
    "street_code_column": (str,),
    "community_code_column": (str,),
    "valid_from": (str, datetime.date),
    "valid_to": (str, datetime.date),
    "responsible_unit_column": (str,),
    # a BUILDINGS table of points (CSV, XLSX)
    "x": (str,),
    "y": (str,),
    "wkt": (str,),
    "crs": (str, int),
    # PostGIS output (--to, --schema)
    "to": (str,),
    "schema": (str,),
    # staffing, workload and service coverage
    "roads": (list,),
    "service_centres": (str,),
    "centre_id": (str,),
    "centre_name": (str,),
    "households_per_helper": (int,),
    "workload_factor": (float, int),
    "walk_speed": (float, int),
    "walk_limit": (float, int),
    # a household register (gridgeo.inputs.register): a path and column names, no personal value
    "register": (str,),
    "register_building": (str,),
    "register_household": (str,),
    "register_order": (str,),
    "register_unmatched": (str,),
    "register_encoding": (str,),
    "personal": (bool,),
    "unit_head": (str,),
}


def load_config(path: str | Path) -> dict:
    """Read a TOML run configuration; unknown keys and wrong types are errors.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = p.write_text('grid-size = "300:500"\\nseed = 3\\n', encoding="utf-8")
    >>> load_config(p)
    {'grid_size': '300:500', 'seed': 3}
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Problem(str(path), "file not found", "check the --config path")) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(Problem(path.name, f"is not valid TOML ({exc})", 'fix the syntax: text in quotes (grid-size = "300:500", households = "hh"), lists in brackets (barriers = ["roads.gpkg:roads"])')) from None
    config = {}
    problems = []
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in KEYS:
            close = difflib.get_close_matches(name, list(KEYS), n=1, cutoff=0.75)
            meant = f"did you mean '{close[0].replace('_', '-') if '-' in key else close[0]}'? Else " if close else ""
            problems.append(Problem(path.name, f"unknown key '{key}'", f"{meant}use one of: {', '.join(sorted(KEYS))}"))
            continue
        if isinstance(value, int) and not isinstance(value, bool) and name in {"grid_size", "unit_size"}:
            problems.append(Problem(path.name, f"'{key}' must be text like \"300:500\"", "quote the band"))
            continue
        if not isinstance(value, KEYS[name]) or (isinstance(value, bool) and bool not in KEYS[name]):
            problems.append(Problem(path.name, f"'{key}' has the wrong type ({type(value).__name__})", f"give a {KEYS[name][0].__name__}"))
            continue
        config[name] = value
    if problems:
        raise InputError(problems)
    return config


def dump_config(config: dict) -> str:
    """TOML text for a flat configuration (keys sorted, ``None`` values left out).

    Examples
    --------
    >>> print(dump_config({"seed": 0, "households": "hh", "barriers": ["roads.gpkg"], "map": True}))
    barriers = ["roads.gpkg"]
    households = "hh"
    map = true
    seed = 0
    <BLANKLINE>
    """
    lines = []
    for key in sorted(config):
        value = config[key]
        if value is None:
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
