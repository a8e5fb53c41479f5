"""scripts/writers.py: each writer of a real run timed alone in a forked child, from the very jobs the command runs."""

from __future__ import annotations

import json
import shutil
import sys

from .conftest import DATA, REPO


def test_writers_script_times_every_writer_of_a_real_run(tmp_path, capsys):
    folder = tmp_path / "monaco"
    folder.mkdir()
    shutil.copy(DATA / "monaco_communities.gpkg", folder / "communities.gpkg")
    shutil.copy(DATA / "monaco_buildings.gpkg", folder / "buildings.gpkg")
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import writers
    finally:
        sys.path.remove(str(REPO / "scripts"))
    assert writers.main([str(folder), "--households", "hh_est", "--repeats", "2", "--out", str(tmp_path / "w.json")]) == 0
    record = json.loads((tmp_path / "w.json").read_text(encoding="utf-8"))
    assert list(record["median_cpu_s"]) == list(writers.JOBS)
    assert all(len(values) == 2 and all(v > 0 for v in values) for values in record["cpu_s"].values())
    printed = capsys.readouterr().out
    assert all(name in printed for name in writers.JOBS) and "all" in printed
    assert not any(tmp_path.glob("**/map.html"))  # the run's files go to a temporary folder, thrown away
