"""A planner's partition script: one city, its settings in one place, the results and a summary.

Usage: python scripts/partition_city.py COMMUNITIES BUILDINGS OUTDIR [any `gridgeo partition` option]

Copy it and edit the settings block for your city.  It runs `gridgeo partition`
itself, so OUTDIR receives everything the command writes (partition.gpkg, the
GeoJSON layers, report.json, report.html, map.html, config.toml and the formats
asked for) and the script takes the same options (--households, --community-id,
--building-id, --barriers, ...); an option given on the command line wins over
the settings below.  It then logs, per community, how many grids were made and
every flagged grid with its reason, so the results can be checked before they
go to the street offices.  `gridgeo partition --config OUTDIR/config.toml -o NEW`
repeats the run.
"""

from __future__ import annotations

import logging
import sys

import click

import gridgeo
from gridgeo.cli import main as gridgeo_main

# -- settings for this city ---------------------------------------------------------------
SETTINGS = {
    "--grid-size": "300:500",  # households per grid (网格)
    "--unit-size": "10:15",  # households per joint unit (联户)
    "--seed": "0",
    "--format": "csv,xlsx",  # the staffing roster beside the GeoPackage and GeoJSON
}
FLAGS = ["--overwrite"]  # re-running the script replaces its earlier output

log = logging.getLogger("partition_city")


def command_line(argv: list[str]) -> list[str]:
    """The `gridgeo partition` arguments: the three positional ones, the settings, then the options given.

    Examples
    --------
    >>> command_line(["c.shp", "b.shp", "out", "--seed", "3"])[:5]
    ['partition', 'c.shp', 'b.shp', '-o', 'out']
    >>> command_line(["c.shp", "b.shp", "out", "--seed=3"]).count("--seed"), command_line(["c.shp", "b.shp", "out"]).count("--seed")
    (0, 1)
    """
    if len(argv) < 3 or any(arg.startswith("-") for arg in argv[:3]):
        raise SystemExit(__doc__.split("\n\n")[1])
    communities, buildings, outdir, *options = argv
    given = {arg.split("=", 1)[0] for arg in options if arg.startswith("--")}
    settings = [item for name, value in SETTINGS.items() if name not in given for item in (name, value)]
    flags = [flag for flag in FLAGS if flag not in given]
    return ["partition", communities, buildings, "-o", outdir, *settings, *flags, *options]


def summarize(outdir: str) -> None:
    """Log grids per community and every flagged grid with its reason, read back from OUTDIR."""
    result = gridgeo.read_outputs(outdir)
    grids = result.grids
    per_community = grids.groupby("community_id").agg(grids=("grid_code", "count"), households=("households", "sum"))
    log.info("grids per community:\n%s", per_community.to_string())
    for row in grids[grids["status"] != "in_band"].itertuples():
        log.warning("%s (%d households) %s: %s", row.grid_code, row.households, row.status, row.reason)
    summary = result.report["summary"]
    log.info(
        "%d grids, %d units; %d flagged with a reason, %d defects; written to %s",
        summary["n_grids"], summary.get("n_units", 0), summary["n_excused"], summary["n_defects"], outdir,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        return 0
    args = command_line(argv)
    try:
        code = gridgeo_main(args, prog_name="gridgeo", standalone_mode=False)
    except click.ClickException as exc:  # a mistyped option: click's own message, exit 2
        exc.show()
        return exc.exit_code
    if code:  # the command has said what went wrong (exit 2: the input, 3: internal)
        return int(code)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    summarize(args[4])
    return 0


if __name__ == "__main__":
    sys.exit(main())
