"""The anchor harness of scripts/benchmark.py on one small real community (skipped without the ``bench`` extra)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import REPO, read


@pytest.fixture
def anchors(monkeypatch):
    pytest.importorskip("sklearn", reason="install gridgeo[bench]")
    # the workers are spawned processes: they find the module through the parent's sys.path
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import anchors

    return anchors


@pytest.fixture(scope="module")
def one_community():
    """MON-006 of Monaco: 46 buildings, 1,805 households, and a part without buildings."""
    communities = read("monaco_communities.gpkg", "communities")
    buildings = read("monaco_buildings.gpkg", "buildings")
    return communities[communities["community_id"] == "MON-006"], buildings[buildings["community_id"] == "MON-006"]


def test_kmeans_and_gridgeo_on_the_same_cells(anchors, one_community):
    communities, buildings = one_community
    out = anchors.compare(communities, buildings, households="hh_est", building_id="building_id", methods=("kmeans",), timeout_s=30, gridgeo_repeats=1)
    gridgeo, kmeans = out["methods"]["gridgeo"], out["methods"]["kmeans"]
    assert gridgeo["status_counts"] == {"ok": 1} and kmeans["status_counts"] == {"ok": 1}
    # the same grid count (gridgeo's, plus the empty part as one grid for both) and the same households
    assert kmeans["summary"]["n_grids"] == gridgeo["summary"]["n_grids"] == out["grids_gridgeo"]
    assert gridgeo["summary"]["n_defects"] == 0 and gridgeo["summary"]["share_one_piece"] == 1.0
    assert gridgeo["communities_meeting"] == 1
    assert gridgeo["seconds_total"] > 0 and kmeans["seconds_total"] > 0 and kmeans["peak_mb"] > 0
    assert out["households"] == int(buildings["hh_est"].sum())
    lines = anchors.markdown({"settings": {"band": [300, 500], "timeout_s": 30, "memory_mb": 4096, "gridgeo_repeats": 1, "anchor_repeats": 1, "seed": 0}, "datasets": [{**out, "dataset": "MON-006"}]})
    assert any(line.startswith("| MON-006 | kmeans |") for line in lines)


def test_a_method_over_its_time_limit_is_stopped_and_recorded(anchors, one_community):
    pytest.importorskip("gerrychain", reason="install gridgeo[bench]")
    communities, buildings = one_community
    cases, _ = anchors.prepare_cases(communities, buildings, households="hh_est")
    # gerrychain searches this community for ~8 s before it gives up; the limit stops it first
    run = anchors.run_method("gerrychain-tree", cases, ks=[[5]], band=(300, 500), timeout_s=1.0, memory_mb=4096)
    (outcome,) = run["communities"]
    assert outcome["status"] == "timeout" and outcome["seconds"] == 1.0


def test_gridgeo_never_imports_the_anchors():
    code = (
        "import importlib, pkgutil, sys, gridgeo\n"
        "for m in pkgutil.walk_packages(gridgeo.__path__, 'gridgeo.'): importlib.import_module(m.name)\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'gerrychain', 'spopt', 'sklearn', 'libpysal'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"
