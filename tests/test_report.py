"""report.html: self-contained, escaped, with the band histogram and every flagged grid, in zh and en."""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections import Counter

import pytest

import gridgeo
from gridgeo import report as report_module
from gridgeo.report import build_report_html, write_report

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def flagged_result(taipei_small):
    """A real run with a band that leaves grids outside it (infeasible totals)."""
    communities, buildings = taipei_small
    result = gridgeo.partition(communities, buildings, households="hh_est", grid_size=(400, 450))
    assert (result.grids["status"] != "in_band").sum() >= 2
    return result


@pytest.fixture(scope="module")
def sample_result(sample):
    communities, buildings = sample
    return gridgeo.partition(communities, buildings, households="hh_est")


@pytest.fixture(scope="module")
def page_zh(flagged_result):
    return build_report_html(flagged_result, lang="zh")


@pytest.fixture(scope="module")
def page_en(flagged_result):
    return build_report_html(flagged_result, lang="en")


def test_self_contained(page_zh, page_en):
    for page in (page_zh, page_en):
        assert page.startswith("<!DOCTYPE html>")
        assert "<script" not in page.lower()
        assert not re.search(r'(src|href)="(https?:)?//', page)
        assert "@import" not in page and "url(http" not in page
        assert "Content-Security-Policy" in page
        assert page.count("<svg") == 2


def test_deterministic(flagged_result, page_en):
    assert build_report_html(flagged_result, lang="en") == page_en


def test_ids_unique(page_zh):
    counts = Counter(re.findall(r'\bid="([^"]+)"', page_zh))
    assert [k for k, v in counts.items() if v > 1] == []


def test_histogram_marks_the_band(page_zh, flagged_result):
    low, high = flagged_result.report["parameters"]["grid_size"]
    for gid in ("hist-band", "hist-band-low", "hist-band-high", "pp-mean", "pp-min"):
        assert f'id="{gid}"' in page_zh
    # one bar per non-empty bin, outside-band bars for the grids below 400
    assert 'id="hist-bar-outside-0"' in page_zh and 'id="hist-bar-in-band-0"' in page_zh
    assert f"{low}–{high}" in page_zh


def test_summary_figures(page_en, flagged_result):
    s = flagged_result.report["summary"]
    assert re.search(rf'id="summary-grids".*?>{s["n_grids"]}<', page_en)
    assert re.search(rf'id="summary-households".*?>{s["households"]:,}<', page_en)
    assert f'{s["share_in_band"] * 100:.1f}%' in page_en
    assert re.search(rf'id="summary-defects".*?>{s["n_defects"]} \({s["n_defects_proven_infeasible"]}\)<', page_en)
    for key in ("one_piece", "tiling", "polsby_popper", "balance", "barrier_crossings", "units", "households_estimated"):
        assert f'id="summary-{key}"' in page_en
    for note in flagged_result.report["notes"]:
        assert report_module._e(note) in page_en


def test_every_flagged_grid_listed_with_reason(page_zh, page_en, flagged_result):
    flagged = flagged_result.grids[flagged_result.grids["status"] != "in_band"]
    for page, column in ((page_zh, "reason_zh"), (page_en, "reason")):
        assert page.count('class="flagged-grid"') == len(flagged)
        for _, grid in flagged.iterrows():
            assert f"<td>{grid['grid_code']}</td>" in page
            assert report_module._e(grid[column]) in page


def test_clean_run_says_none_flagged(sample_result):
    page = build_report_html(sample_result, lang="en")
    assert "every grid is in the band" in page
    assert 'class="flagged-grid"' not in page
    # one row per community (plus the header), with the community names of the sample
    table = re.search(r'<table id="communities">(.*?)</table>', page, re.S).group(1)
    assert table.count("<tr>") == len(sample_result.communities) + 1
    for name in sample_result.communities["name"]:
        assert f"<td>{name}</td>" in page


def test_injected_markup_is_escaped(flagged_result):
    communities = flagged_result.communities.copy()
    communities.loc[0, "name"] = SCRIPT
    grids = flagged_result.grids.copy()
    grids.loc[grids.index[grids["status"] != "in_band"][0], ["reason", "reason_zh"]] = 'bad "reason" <b>&'
    report = dict(flagged_result.report, notes=[*flagged_result.report["notes"], "<img src=x onerror=alert(1)>"])
    hostile = dataclasses.replace(flagged_result, communities=communities, grids=grids, report=report)
    for lang in ("zh", "en"):
        page = build_report_html(hostile, lang=lang)
        assert SCRIPT not in page and "<script" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "bad &quot;reason&quot; &lt;b&gt;&amp;" in page


def test_languages(page_zh, page_en):
    assert '<html lang="zh-CN">' in page_zh and "网格划分报告" in page_zh and "各社区" in page_zh
    assert '<html lang="en">' in page_en and "Grid partition report" in page_en and "Per community" in page_en
    assert "网格划分报告" not in page_en
    with pytest.raises(gridgeo.InputError, match="lang"):
        build_report_html(gridgeo.Partition(*[None] * 5, report={}), lang="fr")


def test_without_cjk_font_plots_are_ascii(flagged_result, monkeypatch):
    monkeypatch.setattr(report_module, "cjk_font", lambda: None)
    for value in report_module._plot_labels("en").values():
        assert value.isascii()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" on boxes
        page = build_report_html(flagged_result, lang="zh")
    assert "网格划分报告" in page  # the HTML text stays Chinese


def test_estimated_households_banner(flagged_result):
    summary = dict(flagged_result.report["summary"], households_estimated=True)
    estimated = dataclasses.replace(flagged_result, report=dict(flagged_result.report, summary=summary))
    assert 'id="estimated"' in build_report_html(estimated, lang="en")
    assert 'id="estimated"' not in build_report_html(flagged_result, lang="en")


def test_write_report_and_read_outputs(flagged_result, tmp_path):
    folder = flagged_result.to_files(tmp_path / "run")
    path = write_report(gridgeo.read_outputs(folder), folder, lang="en")
    assert path == folder / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.count('class="flagged-grid"') == int((flagged_result.grids["status"] != "in_band").sum())
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []
