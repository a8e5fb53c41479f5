"""The console command ends the process without freeing every object: the files and messages are the same as ever."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import geopandas as gpd
from click.testing import CliRunner

from gridgeo.cli import main

from .conftest import SAMPLE

ARGS = ["partition", str(SAMPLE / "communities.shp"), str(SAMPLE / "buildings.shp"), "--households", "hh_est"]


def _command(*args: str, cwd) -> subprocess.CompletedProcess:
    """``gridgeo ARGS`` as a user runs it, through the console command's function."""
    return subprocess.run([sys.executable, "-m", "gridgeo.cli", *args], capture_output=True, text=True, cwd=cwd)


def _digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.name != "config.toml"}


def test_the_command_writes_what_the_group_writes(tmp_path):
    done = _command("-v", *ARGS, "-o", str(tmp_path / "command"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # the messages written last still reach the terminal (logging is flushed before the process ends)
    said = done.stdout + done.stderr
    assert "1+1+1+N teams" in said and "map.html" in said and "INFO" in done.stderr
    in_process = CliRunner().invoke(main, ["-q", *ARGS, "-o", str(tmp_path / "group")])
    assert in_process.exit_code == 0, in_process.output
    # every file complete and byte for byte what the in-process run writes (config.toml names its own folder)
    assert _digests(tmp_path / "command") == _digests(tmp_path / "group")
    report = json.loads((tmp_path / "command" / "report.json").read_text(encoding="utf-8"))
    grids = gpd.read_file(tmp_path / "command" / "partition.gpkg", layer="grids")
    assert len(grids) == report["summary"]["n_grids"] == len(gpd.read_file(tmp_path / "command" / "grids.geojson"))
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_the_command_keeps_its_exit_codes(tmp_path):
    missing = _command("-q", "partition", str(tmp_path / "none.shp"), str(SAMPLE / "buildings.shp"), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert missing.returncode == 2
    assert "none.shp" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "out").exists()
    version = _command("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("gridgeo, version")
    usage = _command("partition", "--no-such-option", cwd=tmp_path)
    assert usage.returncode == 2 and "No such option" in usage.stderr
