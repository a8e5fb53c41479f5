"""The ``gridgeo`` command group: version, verbosity and the language of the messages; the commands register on it."""

from __future__ import annotations

import click

from .. import __version__
from ..messages import locale_lang
from .options import _configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gridgeo")
@click.option("-v", "--verbose", count=True, help="More messages (-vv for debugging); tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Split communities (社区) into governance grids (网格) and joint-household units (联户).

    Start with `gridgeo demo`, then `gridgeo partition --help`.

    Exit codes: 0 done; 1 `validate` found problems; 2 a usage or input error (one message naming the file,
    the rows and the fix; nothing is written); 3 a run that failed its own checks, or an internal error
    (nothing is written; please report it with the -v output); 130 interrupted (nothing is written).
    """
    verbosity = -1 if quiet else verbose
    lang = locale_lang()
    ctx.obj = {"verbosity": verbosity, "lang": lang}
    ctx.obj["formatter"] = _configure_logging(verbosity, lang)
