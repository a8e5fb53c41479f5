"""The README's two set-up commands stay true: CI runs the same test command, the main command works."""

from __future__ import annotations

import re
import shlex

from click.testing import CliRunner

from gridgeo.cli import main

from .conftest import REPO


def _commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)[:2]


def test_ci_runs_the_readme_test_command():
    _, test_command = _commands()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_readme_main_command_runs(tmp_path, monkeypatch):
    main_command, _ = _commands()
    gridgeo_part = main_command.split("&& .venv/bin/gridgeo ", 1)[1]
    args = shlex.split(gridgeo_part)
    monkeypatch.chdir(REPO)
    out = tmp_path / "gridgeo-out"
    args[args.index("-o") + 1] = str(out)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (out / "partition.gpkg").exists() and (out / "report.json").exists()
