"""Digests of the outputs of ``gridgeo partition`` on the real datasets (and dense sets), to prove a change keeps them identical.

Usage: python scripts/digest.py [--gridgeo PATH] [--dense FOLDER ...] [--datasets NAME ...] [--out FILE.json]

Runs the command a user types (defaults: GeoPackage, GeoJSON, report, map,
``--households hh_est --building-id building_id``; dense sets ``hh_dense``)
as a fresh process per dataset, and prints the SHA-256 of every output file
(config.toml is left out: it names the output folder).  ``--gridgeo`` is the
checkout to run (default: this one), so a digest of the code before a change
is ``git worktree``/``git archive`` of the old commit plus ``--gridgeo`` on it.
Two runs are the same when their JSON files are equal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DATASETS = ["monaco", "munich_altstadt", "shanghai_bund", "taipei_wanhua_datong", "porto"]
SKIPPED = {"config.toml"}


def run_digest(folder: Path, households: str, checkout: Path, extra: list[str] | None = None) -> dict[str, str]:
    """SHA-256 per output file of one ``gridgeo partition`` run on ``folder``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        command = [
            sys.executable, "-m", "gridgeo.cli", "partition",
            f"{folder / 'communities.gpkg'}:communities", f"{folder / 'buildings.gpkg'}:buildings",
            "--households", households, "--building-id", "building_id", "-o", str(out), *(extra or []),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=tmp)
        return {
            str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(out.rglob("*"))
            if path.is_file() and path.name not in SKIPPED
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gridgeo", type=Path, default=REPO, help="checkout whose gridgeo runs (default: this one)")
    parser.add_argument("--datasets", nargs="*", default=DATASETS, help="folders of ../shared/data (households hh_est)")
    parser.add_argument("--dense", nargs="*", type=Path, default=[], help="dense sets of scripts/dense.py (households hh_dense)")
    parser.add_argument("--out", type=Path, help="write the digests to this JSON file")
    args = parser.parse_args(argv)
    digests = {}
    for name in args.datasets:
        digests[name] = run_digest(SHARED / name, "hh_est", args.gridgeo)
    for folder in args.dense:
        digests[str(folder)] = run_digest(folder, "hh_dense", args.gridgeo)
    text = json.dumps(digests, indent=2, sort_keys=True)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
