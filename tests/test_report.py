"""report.html: self-contained, escaped, with the band histogram and every flagged grid, in zh and en."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest

import gridgeo
from gridgeo.outputs import report as report_module
from gridgeo.outputs import report_flagged, report_html, report_plots
from gridgeo.outputs.report import build_report_html, write_report

from .conftest import SAMPLE

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
    assert f"{s['share_in_band'] * 100:.1f}%" in page_en
    assert re.search(rf'id="summary-defects".*?>{s["n_defects"]} \({s["n_defects_proven_infeasible"]}\)<', page_en)
    for key in (
        "one_piece",
        "tiling",
        "polsby_popper",
        "spread",
        "max_min",
        "barrier_crossings",
        "units",
        "households_estimated",
    ):
        assert f'id="summary-{key}"' in page_en
    for note in flagged_result.report["notes"]:
        assert report_html._e(note) in page_en


def test_every_flagged_grid_listed_with_reason(page_zh, page_en, flagged_result):
    flagged = flagged_result.grids[flagged_result.grids["status"] != "in_band"]
    for page, column in ((page_zh, "reason_zh"), (page_en, "reason")):
        assert page.count('class="flagged-grid"') == len(flagged)
        for _, grid in flagged.iterrows():
            assert f"<td>{grid['grid_code']}</td>" in page
            assert report_html._e(grid[column]) in page


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


def _svgs(page: str) -> dict[str, ET.Element]:
    """Each inline plot of ``page``, parsed as XML, by its id."""
    blocks = re.findall(r"<svg\b.*?</svg>", page, re.S)
    return {element.get("id"): element for element in (ET.fromstring(block) for block in blocks)}


def test_plots_are_svg_in_the_page_language(page_zh, page_en):
    for page, words in (
        (page_zh, ("户数", "网格数", "在区间内", "Polsby-Popper 紧凑度")),
        (page_en, ("households", "grids", "in band")),
    ):
        plots = _svgs(page)
        assert sorted(plots) == ["hist", "pp"]
        texts = " ".join(t.text or "" for svg in plots.values() for t in svg.iter("{http://www.w3.org/2000/svg}text"))
        assert all(word in texts for word in words)
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in "".join(_svgs(page_en)["hist"].itertext()))


def _bar_heights(svg: ET.Element, prefix: str) -> dict[str, float]:
    heights = {}
    for path in svg.iter("{http://www.w3.org/2000/svg}path"):
        if (path.get("id") or "").startswith(prefix):
            ys = [float(v) for v in re.findall(r"[ML] [-\d.]+ ([-\d.]+)", path.get("d"))]
            heights[path.get("id")] = max(ys) - min(ys)
    return heights


def test_bar_heights_follow_the_counts(flagged_result, page_en):
    low, high = flagged_result.report["parameters"]["grid_size"]
    hh = flagged_result.grids["households"].to_numpy(dtype=float)
    edges, inside = report_plots._bin_edges(hh, low, high)
    counts = report_plots._bin_counts(hh, edges)
    hist = _svgs(page_en)["hist"]
    drawn, expected = [], []
    for name, mask in (("in-band", inside), ("outside", ~inside)):
        heights = _bar_heights(hist, f"hist-bar-{name}-")
        assert len(heights) == int(mask.sum())
        drawn += [heights[f"hist-bar-{name}-{i}"] for i in range(len(heights))]
        expected += counts[mask].tolist()
    drawn, expected = np.array(drawn), np.array(expected)  # one scale, pixels per grid, for every bar
    assert np.allclose(drawn, expected * (drawn.max() / expected.max()), atol=0.02)
    pp = flagged_result.grids["polsby_popper"].to_numpy(dtype=float)
    pp_counts, _ = np.histogram(pp, bins=np.linspace(0.0, 1.0, 21))
    heights = _bar_heights(_svgs(page_en)["pp"], "pp-bar-")
    drawn = np.array([heights[f"pp-bar-{i}"] for i in range(20)])
    assert np.allclose(drawn, pp_counts * (drawn.max() / pp_counts.max()), atol=0.02)


def test_report_loads_no_plotting_library(tmp_path):
    """The plots are written directly: writing report.html imports no matplotlib (it would cost half a second)."""
    code = (
        "import sys, geopandas as gpd, gridgeo\n"
        "from gridgeo.outputs.report import build_report_html\n"
        f"c = gpd.read_file({str(SAMPLE / 'communities.shp')!r}); b = gpd.read_file({str(SAMPLE / 'buildings.shp')!r})\n"
        "page = build_report_html(gridgeo.partition(c, b, households='hh_est'), lang='zh')\n"
        "assert page.count('<svg') == 2\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "[]"


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


# -- city scale: histogram zoomed to the band, a balance that means something, grouped flags, size ---------


@pytest.fixture(scope="module")
def units_band_result(taipei_small):
    """A real run at the joint-unit scale (10–15 households a grid): many grids, many flagged."""
    communities, buildings = taipei_small
    return gridgeo.partition(communities, buildings, households="hh_est", grid_size=(10, 15))


@pytest.mark.parametrize("band, width", [((10, 15), 1), ((300, 500), 20), ((400, 450), 5), ((100, 150), 5), ((3, 4), 1)])
def test_bins_fit_the_band(band, width):
    low, high = band
    assert report_plots._bin_width(low, high) == width
    values = np.array([0, low - 40, low, (low + high) // 2, high, high + 1, high + 3 * (high - low) + 50], dtype=float)
    edges, inside = report_plots._bin_edges(values, low, high)
    # the band is exactly the in-band bins: whole numbers low..high and nothing else
    assert edges[inside.argmax()] == low - 0.5
    assert edges[len(inside) - inside[::-1].argmax()] == high + 0.5
    assert inside.sum() == max((high - low + 1) // width, 1)
    assert np.all(np.diff(edges) > 0)
    # zoomed: the window reaches at most half the band's width (two bins) past each end
    reach = max(2, int(np.ceil(0.5 * (high - low + 1) / width))) * width
    assert edges[0] >= low - 0.5 - reach and edges[-1] <= high + 0.5 + reach
    # every value is either counted in a bin or in a tail
    counts = report_plots._bin_counts(values, edges)
    assert counts.sum() + (values < edges[0]).sum() + (values >= edges[-1]).sum() == len(values)


def _bars(svg: str, name: str) -> list[tuple[float, float]]:
    """x-extent (in SVG user units) of each bar of the household histogram called ``name``."""
    out = []
    for gid in re.findall(rf'id="(hist-bar-{name}-\d+)"', svg):
        block = svg[svg.index(f'id="{gid}"') :]
        path = re.search(r'\sd="([^"]+)"', block).group(1)
        xs = [float(v) for v in re.findall(r"(?:M|L)\s*([-\d.]+)\s+[-\d.]+", path)]
        out.append((min(xs), max(xs)))
    return out


@pytest.mark.parametrize("which", ["units_band_result", "flagged_result"])
def test_histogram_band_in_band_colour(which, request):
    result = request.getfixturevalue(which)
    low, high = result.report["parameters"]["grid_size"]
    page = build_report_html(result, lang="en")
    svg = page[page.index('<figure id="fig-hist">') : page.index("</figure>", page.index('<figure id="fig-hist">'))]
    hh = result.grids["households"].to_numpy(dtype=float)
    n_in = int(((hh >= low) & (hh <= high)).sum())
    assert n_in and 'id="hist-bar-in-band-0"' in svg
    edges, inside = report_plots._bin_edges(hh, low, high)
    counts = report_plots._bin_counts(hh, edges)
    # the in-band bins hold exactly the grids in band, and they are drawn in the in-band colour
    assert counts[inside].sum() == n_in
    assert len(re.findall(r'id="hist-bar-in-band-\d+"', svg)) == int(inside.sum())
    in_band = re.search(r'id="hist-bar-in-band-0".*?style="([^"]+)"', svg, re.S).group(1)
    assert "#1f77b4" in in_band
    for m in re.finditer(r'id="hist-bar-outside-\d+".*?style="([^"]+)"', svg, re.S):
        assert "#d95f02" in m.group(1)
    # the band's bars lie between the band lines
    band = _bars(svg, "in-band")
    outside = _bars(svg, "outside")
    lo, hi = min(b[0] for b in band), max(b[1] for b in band)
    assert all(b[1] <= lo + 1e-6 or b[0] >= hi - 1e-6 for b in outside)
    # the tails beyond the window are summarised with their counts
    beyond = int((hh >= edges[-1]).sum())
    if beyond:
        assert 'id="hist-tail-above"' in svg


def test_spread_of_grids_in_band(units_band_result):
    grids = units_band_result.grids
    in_band = grids.loc[grids["status"] == "in_band", "households"].to_numpy(dtype=float)
    s = report_module._spread(grids)
    assert s["n"] == len(in_band)
    assert s["cv"] == pytest.approx(in_band.std() / in_band.mean())
    low, high = units_band_result.report["parameters"]["grid_size"]
    # within the band the spread is bounded by the band itself: no 4,707 % figures
    assert 0 <= s["cv"] <= (high - low) / low and s["max"] / s["min"] <= high / low
    page = build_report_html(units_band_result, lang="en")
    assert f"{s['cv'] * 100:.1f}%" in re.search(r'id="summary-spread".*?</tr>', page).group(0)
    assert f"{s['max'] / s['min']:.2f}×" in re.search(r'id="summary-max_min".*?</tr>', page).group(0)
    assert 'id="summary-balance"' not in page
    # the domain's balance stays, per community
    for row in units_band_result.report["communities"]:
        assert f"{row['balance'] * 100:.1f}%" in page


def test_flagged_grouped_by_status_and_reason(units_band_result):
    grids = units_band_result.grids
    flagged = grids[grids["status"] != "in_band"]
    assert len(flagged) > 2 * report_flagged.FIRST_ROWS
    for lang in ("en", "zh"):
        page = build_report_html(units_band_result, lang=lang)
        groups = re.findall(
            r'<tr class="flagged-group" data-status="([^"]+)" data-reason="([^"]*)">.*?<td class="n">([\d,]+)</td></tr>', page
        )
        # counts per status equal the grids' statuses; every grid is listed once
        per_status = Counter()
        for status, _, count in groups:
            per_status[status] += int(count.replace(",", ""))
        assert per_status == Counter(flagged["status"].astype(str))
        assert page.count('class="flagged-grid"') == len(flagged)
        listed = re.findall(r'<tr class="flagged-grid"><td>([^<]+)</td>', page)
        assert sorted(listed) == sorted(flagged["grid_code"].astype(str))
        # each grid sits in a table of its own status
        status_of = dict(zip(flagged["grid_code"].astype(str), flagged["status"].astype(str)))
        for status, body in re.findall(
            r'<table class="flagged" data-status="([^"]+)" data-reason="[^"]*">(.*?)</table>', page, re.S
        ):
            assert {status_of[c] for c in re.findall(r'<tr class="flagged-grid"><td>([^<]+)</td>', body)} == {status}
        # each group shows its first rows, the rest folded in a <details>
        for number, (_, _, count) in enumerate(groups, start=1):
            section = page[page.index(f'<h3 id="flagged-{number}">') :]
            section = section[: section.find("<h3", 4) if "<h3" in section[4:] else len(section)]
            visible = section.split("<details>")[0]
            n = int(count.replace(",", ""))
            assert visible.count('class="flagged-grid"') == min(n, report_flagged.FIRST_ROWS)
            assert ("<details>" in section) == (n > report_flagged.FIRST_ROWS)
    # reasons are recognised: no group of unknown reasons on a real run
    assert all(reason != "other" for _, reason, _ in groups)


def test_reason_codes_match_their_sentences():
    from gridgeo.labels import reason_text

    assert (
        report_flagged._reason_code(reason_text("infeasible_total", {"total": 520, "low": 300, "high": 500, "k": 1}, "en"))
        == "infeasible_total"
    )
    assert (
        report_flagged._reason_code(
            reason_text("oversize_absorbed", {"households": 700, "high": 500, "absorbed": 20, "low": 300}, "zh")
        )
        == "oversize_absorbed"
    )
    assert report_flagged._reason_code("") == ""


def _tiled(result, copies: int):
    """``copies`` of a real run side by side, as one city (codes and community ids made distinct)."""
    import pandas as pd

    grids, communities, rows = [], [], []
    for k in range(copies):
        g = result.grids.copy()
        g["grid_code"] = g["grid_code"].astype(str) + f"-{k:03d}"
        g["community_id"] = g["community_id"].astype(str) + f"-{k:03d}"
        grids.append(g)
        c = result.communities.copy()
        c["community_id"] = c["community_id"].astype(str) + f"-{k:03d}"
        c["community_code"] = c["community_code"].astype(str) + f"{k:03d}"
        communities.append(c)
        rows += [dict(r, community_id=f"{r['community_id']}-{k:03d}") for r in result.report["communities"]]
    grids = type(result.grids)(pd.concat(grids, ignore_index=True), crs=result.grids.crs)
    communities = type(result.communities)(pd.concat(communities, ignore_index=True), crs=result.communities.crs)
    summary = dict(result.report["summary"], n_grids=len(grids))
    report = dict(result.report, communities=rows, summary=summary)
    return dataclasses.replace(result, grids=grids, communities=communities, report=report)


def test_report_size_at_city_scale(units_band_result):
    """10,000 grids at 10–15 households (about 40 % flagged, as on taipei_wanhua_datong): the page stays under 1 MB."""
    copies = -(-10_000 // len(units_band_result.grids))
    city = _tiled(units_band_result, copies)
    assert len(city.grids) >= 10_000
    n_flagged = int((city.grids["status"] != "in_band").sum())
    assert n_flagged > 3_000
    for lang in ("zh", "en"):
        page = build_report_html(city, lang=lang)
        assert len(page.encode("utf-8")) <= 1_000_000
        assert page.count('class="flagged-grid"') == n_flagged  # still every flagged grid, folded


def test_the_input_notes_are_chinese_in_a_chinese_report(flagged_result, page_zh, page_en):
    """report.html's 输入说明 lists the run's notes in Chinese where gridgeo knows them (they were all English)."""
    notes_zh = re.search(r'<ul id="notes">(.*?)</ul>', page_zh, re.S).group(1)
    notes_en = re.search(r'<ul id="notes">(.*?)</ul>', page_en, re.S).group(1)
    assert notes_zh.count("<li>") == notes_en.count("<li>") == len(flagged_result.report["notes"])
    assert "geometry computed in" in notes_en and "geometry computed in" not in notes_zh and "几何计算使用坐标系" in notes_zh
    assert "栋建筑跨越两个或多个社区" in notes_zh
