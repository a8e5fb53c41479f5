"""`gridgeo export OUTDIR --format …` adds the Shapefiles and rosters a run given that --format writes, from the plan as
it is — on the real Taipei slice of the tests (tests/data/taipei_small_*)."""

from __future__ import annotations

import hashlib

from click.testing import CliRunner

from gridgeo.cli import main

from .conftest import DATA, file_hashes


def _tree(folder) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}

TAIPEI = [str(DATA / "taipei_small_communities.gpkg"), str(DATA / "taipei_small_buildings.gpkg"), "--households", "hh_est", "--no-map", "--no-report"]


def _run(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result


def test_export_adds_the_files_a_run_with_format_writes(tmp_path):
    _run(["partition", *TAIPEI, "--format", "shp,csv,xlsx", "-o", str(tmp_path / "with")])
    _run(["partition", *TAIPEI, "-o", str(tmp_path / "plain")])
    plan = tmp_path / "plain"
    before = _tree(plan)
    out = _run(["export", str(plan), "--format", "shp", "--format", "csv,xlsx"])
    assert f"wrote: {plan / 'shp'}" in out.output
    after = _tree(plan)
    added = {name: digest for name, digest in after.items() if name not in before}
    expected = {name: digest for name, digest in _tree(tmp_path / "with").items() if name.startswith(("shp/", "roster.", "units.csv"))}
    assert len(added) > 10 and added == expected  # byte for byte what the run with --format wrote
    assert all(after[name] == digest for name, digest in before.items() if name != "config.toml")  # the rest untouched
    config = (plan / "config.toml").read_text(encoding="utf-8")
    assert 'formats = ["shp", "csv", "xlsx"]' in config  # so an update of the plan writes them too
    # an update carries them
    update = tmp_path / "v2"
    _run(["update", str(plan), "--buildings", str(DATA / "taipei_small_buildings.gpkg"), "-o", str(update), "--no-map", "--no-report"])
    assert (update / "shp" / "grids.shp").exists() and (update / "roster.xlsx").exists()


def test_export_without_a_target_or_with_a_format_every_run_writes_is_refused(tmp_path):
    _run(["partition", *TAIPEI, "-o", str(tmp_path / "plan")])
    before = file_hashes(tmp_path / "plan")
    for args, text in (
        ([], "export: nothing to export — fix: give --to URL --schema NAME for PostGIS, or --format shp,csv,xlsx"),
        (["--format", "geojson"], "--format: geojson: every run writes these already"),
        (["--format", "dxf"], "--format: unknown format 'dxf'"),
    ):
        result = CliRunner().invoke(main, ["export", str(tmp_path / "plan"), *args])
        assert result.exit_code == 2 and text in result.output, result.output
    assert file_hashes(tmp_path / "plan") == before
