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
    args = shlex.split(main_command.split("&& .venv/bin/gridgeo ", 1)[1])
    assert args == ["demo"]
    # the demo reads sample_shapefiles/ from the repository folder and writes ./gridgeo-demo/
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("gridgeo.cli.demo._sample_folder", lambda: REPO / "sample_shapefiles")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "gridgeo-demo"
    for name in ("partition.gpkg", "report.json", "map.html", "report.html", "roster.xlsx", "grids.geojson"):
        assert (out / name).exists(), name
    assert "map.html" in result.output


def test_readme_planner_recipe_command_runs(tmp_path, monkeypatch):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    recipe = re.search(r"```bash\n(\.venv/bin/gridgeo partition .+?)\n```", text, flags=re.S).group(1)
    args = shlex.split(recipe.replace("\\\n", " "))[1:]
    monkeypatch.chdir(REPO)
    args[args.index("-o") + 1] = str(tmp_path / "out")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


def test_the_guides_python_example_runs_as_written(tmp_path, monkeypatch):
    """docs/guide.md's Python API block, run as a user copies it (it used `roads` and `centres` it never defined)."""
    text = (REPO / "docs" / "guide.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.+?)\n```", section, flags=re.S).group(1)
    monkeypatch.chdir(REPO)
    code = code.replace('"out"', repr(str(tmp_path / "out")))
    namespace: dict = {}
    exec(compile(code, "guide.md", "exec"), namespace)  # noqa: S102 (the documentation's own example)
    again = namespace["again"]
    assert {"walk_min", "coverage_flag", "tour_m"} <= set(again.grids.columns)
    assert again.buildings["households"].sum() == namespace["buildings"]["hh_est"].sum()
