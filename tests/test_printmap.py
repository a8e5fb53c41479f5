"""Printable notice maps (公示图): one A3-landscape PNG and PDF per community, on the real test slices."""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import warnings

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from PIL import Image

import gridgeo
from gridgeo.cli import main
from gridgeo.errors import FontMissingError, InputError
from gridgeo.outputs.printmap import PAGE_MM, find_cjk_font, print_figure, render_print_map, write_print_maps

from .conftest import DATA

DATE = dt.date(2026, 1, 2)
TAIPEI = [str(DATA / "taipei_small_communities.gpkg"), str(DATA / "taipei_small_buildings.gpkg"), "--households", "hh_est"]
PT_PER_MM = 72 / 25.4
ATTRIBUTION = "Taipei City Government open data"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A partition of the Taipei slice (3 villages) written with --print (150 dpi)."""
    out = tmp_path_factory.mktemp("print") / "out"
    result = CliRunner().invoke(main, ["partition", *TAIPEI, "--print", "--print-attribution", ATTRIBUTION, "--no-map", "--no-report", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def taipei(run_dir):
    return gridgeo.read_outputs(run_dir)


@pytest.fixture(scope="module")
def monaco_result(monaco):
    communities, buildings, _ = monaco
    return gridgeo.partition(communities, buildings, households="hh_est")


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _glyph_problems(records, caplog) -> list[str]:
    found = [str(w.message) for w in records if "missing from font" in str(w.message) or "Glyph" in str(w.message)]
    found += [r.getMessage() for r in caplog.records if "missing from font" in r.getMessage() or "findfont" in r.getMessage()]
    return found


def test_partition_print_writes_one_png_and_pdf_per_community(run_dir, taipei):
    codes = sorted(taipei.communities["community_code"].astype(str))
    assert codes == ["001", "002", "003"]
    names = sorted(p.name for p in (run_dir / "print").iterdir())
    assert names == sorted([f"{c}.png" for c in codes] + [f"{c}.pdf" for c in codes])
    assert "print = true" in (run_dir / "config.toml").read_text(encoding="utf-8")
    # written in the staging folder and renamed with the rest: nothing left beside OUTDIR
    assert sorted(p.name for p in run_dir.parent.iterdir()) == ["out"]


def test_png_is_a3_landscape_at_the_dpi(run_dir):
    for path in sorted((run_dir / "print").glob("*.png")):
        with Image.open(path) as image:
            width, height = image.size
            assert abs(width - PAGE_MM[0] / 25.4 * 150) <= 1 and abs(height - PAGE_MM[1] / 25.4 * 150) <= 1, image.size
            assert image.info["dpi"][0] == pytest.approx(150, abs=0.1)
            assert image.mode in ("RGB", "RGBA")


def test_pdf_page_is_a3_landscape(run_dir):
    for path in sorted((run_dir / "print").glob("*.pdf")):
        data = path.read_bytes()
        assert data.startswith(b"%PDF-")
        boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
        assert len(boxes) == 1, boxes  # one page
        width, height = (float(v) for v in boxes[0])
        assert width == pytest.approx(420 * PT_PER_MM, abs=0.01) and height == pytest.approx(297 * PT_PER_MM, abs=0.01)
        assert b"CreationDate" not in data
        # the CJK font is embedded (Type 42 for a TrueType font), so the page prints the same anywhere
        font = find_cjk_font()
        if font.truetype:
            assert re.search(rb"/BaseFont /[A-Z]{6}\+" + re.escape(font.family.replace(" ", "").encode()), data)


def test_same_inputs_give_identical_bytes(taipei):
    first = render_print_map(taipei, "002", dpi=40, date=DATE)
    second = render_print_map(taipei, "002", dpi=40, date=DATE)
    assert first[0] == second[0] and first[1] == second[1]
    assert len(first[0]) > 10_000 and len(first[1]) > 10_000


def test_chinese_text_renders_without_missing_glyphs(taipei, caplog):
    name = taipei.communities.set_index("community_code").loc["001", "name"]
    assert name == "景星里"
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        fig = print_figure(taipei, "001", date=DATE, data_attribution="臺北市政府 臺北市自動化3D近似建物模型；內政部國土測繪中心 村里界圖")
        png, pdf = render_print_map(taipei, "001", dpi=40, date=DATE)
        fig.canvas.draw()
    assert _glyph_problems(records, caplog) == []
    texts = _texts(fig)
    assert f"{name} 网格划分公示图" in texts
    assert "制图日期：2026年1月2日" in texts
    assert find_cjk_font(name + "网格划分公示图") is not None
    families = {tuple(t.get_fontfamily()) for ax in fig.axes for t in ax.texts}
    assert families == {(find_cjk_font(" ".join(texts)).family, "DejaVu Sans")}
    assert png[:4] == b"\x89PNG" and pdf[:5] == b"%PDF-"


def test_page_has_labels_legend_scale_north_and_footer(taipei):
    fig = print_figure(taipei, "002", date=DATE, data_attribution="Taipei City Government open data")
    paper, map_ax = fig.axes
    grids = taipei.grids[taipei.grids["community_code"] == "002"].sort_values("grid_code")
    map_texts = [t.get_text() for t in map_ax.texts]
    panel_texts = [t.get_text() for t in paper.texts]
    for code, households in zip(grids["grid_code"], grids["households"]):
        assert code in map_texts and f"{households}户" in map_texts  # labelled on the map
        assert code in panel_texts and f"{households:,}" in panel_texts  # listed in the table
    assert f"{grids['households'].sum():,}" in panel_texts  # total row
    assert "北" in map_texts
    scale = next(t for t in map_texts if t.startswith("比例尺 1:"))
    denominator = int(re.search(r"1:([\d,]+)", scale).group(1).replace(",", ""))
    # the frame is 290 mm wide on paper and drawn at exactly that scale, in metres
    x0, x1 = map_ax.get_xlim()
    y0, y1 = map_ax.get_ylim()
    assert (x1 - x0) / 0.290 == pytest.approx(denominator) and (y1 - y0) / 0.240 == pytest.approx(denominator)
    assert str(denominator)[0] in "1234579"  # a round scale: 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7.5 × 10ⁿ
    assert any(t.endswith(" 米") for t in map_texts)  # scale bar in metres
    community = taipei.communities[taipei.communities["community_code"] == "002"].to_crs(taipei.report["metric_crs"])
    minx, miny, maxx, maxy = community.total_bounds
    assert x0 <= minx and maxx <= x1 and y0 <= miny and maxy <= y1  # the whole community is on the page
    footer = " ".join(panel_texts)
    assert f"gridgeo {gridgeo.__version__}" in footer and "EPSG:32651" in footer and "hh_est" in footer
    assert "数据：Taipei City Government open data" in panel_texts


def test_touching_grids_never_share_a_colour(taipei):
    for code in ("001", "002", "003"):
        fig = print_figure(taipei, code, date=DATE)
        fills = next(c for c in fig.axes[1].collections if c.get_gid() == "grid-fills").get_facecolors()
        grids = taipei.grids[taipei.grids["community_code"] == code].sort_values("grid_code").to_crs(taipei.report["metric_crs"])
        assert len(fills) == len(grids)
        geoms = grids.geometry.to_numpy()
        touching = 0
        for i in range(len(geoms)):
            for j in range(i + 1, len(geoms)):
                if shapely.intersects(geoms[i], geoms[j]):
                    touching += 1
                    assert not np.allclose(fills[i], fills[j]), (code, i, j)
        assert touching >= len(geoms) - 1  # grids tile a community: the check is not vacuous


@pytest.mark.parametrize("plan", ["taipei", "monaco_result"])
def test_printed_fills_are_the_maps(plan, request):
    """A grid has the same fill on its printed notice as on map.html (the plan's colouring, not one per page)."""
    result = request.getfixturevalue(plan)
    from matplotlib.colors import to_rgba

    from gridgeo.outputs.map_data import _map_data
    from gridgeo.outputs.styles import fill_colours

    data = _map_data(result, lang="en", basemap="osm", tianditu_key=None, barriers=None, title=None, data_attribution=None)
    index = data["layers"]["grids"]["p"]["k"]
    palette = fill_colours(max(index) + 1)
    on_map = dict(zip(result.grids["grid_code"], (palette[k] for k in index)))
    compared = 0
    for code in sorted(set(result.grids["community_code"])):
        fig = print_figure(result, code, date=DATE)
        fills = next(c for c in fig.axes[1].collections if c.get_gid() == "grid-fills").get_facecolors()
        codes = sorted(result.grids.loc[result.grids["community_code"] == code, "grid_code"])
        assert len(fills) == len(codes)
        for grid, fill in zip(codes, fills):
            assert np.allclose(fill[:3], to_rgba(on_map[grid])[:3]), grid
            compared += 1
    assert compared == len(result.grids)


def test_flagged_grids_show_their_status_and_reason(monaco_result):
    monaco = monaco_result
    flagged = monaco.grids[monaco.grids["status"] != "in_band"]
    assert set(flagged["status"]) == {"oversize_building", "detached_part"}
    for lang, labels in (("en", {"oversize_building": "oversize building", "detached_part": "detached part"}), ("zh", {"oversize_building": "含超大建筑", "detached_part": "分离地块"})):
        for code, status in zip(flagged["grid_code"], flagged["status"]):
            texts = _texts(print_figure(monaco, code[:3], lang=lang, date=DATE))
            assert labels[status] in texts  # status column and legend
            assert any(t.startswith(f"{code} {labels[status]}") for t in texts)  # the reason under the table


def test_without_a_cjk_font(taipei, monkeypatch, caplog):
    for module in ("gridgeo.outputs.printmap", "gridgeo.outputs.printfonts"):  # the page and the check before a run
        monkeypatch.setattr(f"{module}.find_cjk_font", lambda text="": None)
    with pytest.raises(FontMissingError, match="install-system-deps.sh"):
        render_print_map(taipei, "001", dpi=30, date=DATE)
    # English pages need no CJK font: Chinese names give way to the community id
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        fig = print_figure(taipei, "001", lang="en", date=DATE)
        fig.canvas.draw()
    assert _glyph_problems(records, caplog) == []
    texts = _texts(fig)
    assert "Community 6300600014: governance grids for public notice" in texts
    assert not any("景星里" in t for t in texts)
    with pytest.raises(FontMissingError):
        print_figure(taipei, "001", lang="en", data_attribution="臺北市政府")


def test_file_names_come_from_sanitised_codes(taipei, tmp_path):
    one = gridgeo.Partition(
        communities=taipei.communities[taipei.communities["community_code"] == "003"].assign(community_code="../../evil code"),
        grids=taipei.grids[taipei.grids["community_code"] == "003"].assign(community_code="../../evil code"),
        buildings=taipei.buildings[taipei.buildings["community_code"] == "003"].assign(community_code="../../evil code"),
        units=taipei.units.iloc[0:0],
        unassigned=taipei.unassigned,
        report=taipei.report,
    )
    paths = write_print_maps(one, tmp_path, lang="en", dpi=20, date=DATE)
    assert [p.name for p in paths] == ["evil_code.png", "evil_code.pdf"]
    assert all(p.parent == tmp_path / "print" for p in paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["print"]


def test_bad_arguments(taipei):
    with pytest.raises(InputError, match="dpi"):
        render_print_map(taipei, "001", dpi=5)
    with pytest.raises(InputError, match="no community with code"):
        print_figure(taipei, "999")
    with pytest.raises(InputError, match="unknown language"):
        print_figure(taipei, "001", lang="fr")


def test_cli_print_renders_from_an_output_folder(run_dir, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(run_dir, out)
    before = {p.name: p.read_bytes() for p in (out / "print").iterdir()}
    result = CliRunner().invoke(main, ["print", str(out), "--lang", "en", "--dpi", "40", "--date", "2026-01-02", "--attribution", "© Taipei City Government"])
    assert result.exit_code == 0, result.output
    assert "3 communities" in result.output
    after = {p.name: p.read_bytes() for p in (out / "print").iterdir()}
    assert sorted(after) == sorted(before) and all(after[name] != before[name] for name in after)
    with Image.open(out / "print" / "001.png") as image:
        assert abs(image.size[0] - PAGE_MM[0] / 25.4 * 40) <= 1
    # the staging folder is gone: OUTDIR holds what it held before
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in run_dir.iterdir())


def test_cli_print_on_a_folder_that_is_not_an_output_exits_2(tmp_path):
    (tmp_path / "notes.txt").write_text("not a run", encoding="utf-8")
    for folder, said in ((tmp_path, "is not a gridgeo output folder"), (tmp_path / "missing", "missing: folder not found")):
        result = CliRunner().invoke(main, ["print", str(folder)])
        assert result.exit_code == 2, result.output
        assert said in result.output
        assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_partition_print_without_a_cjk_font_fails_before_the_run(tmp_path, monkeypatch):
    for module in ("gridgeo.outputs.printmap", "gridgeo.outputs.printfonts"):  # the page and the check before a run
        monkeypatch.setattr(f"{module}.find_cjk_font", lambda text="": None)
    monkeypatch.setattr("gridgeo.api.partition", lambda *a, **k: pytest.fail("the partition ran"))
    result = CliRunner().invoke(main, ["partition", *TAIPEI, "--print", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "install-system-deps.sh" in result.output and "--lang en" in result.output
    assert not (tmp_path / "out").exists()


def test_partition_print_attribution_reaches_the_page(run_dir, tmp_path):
    """--print-attribution prints the data source in the footer: re-drawing the run with the same
    text gives the same bytes, and without it different ones."""
    assert f'print_attribution = "{ATTRIBUTION}"' in (run_dir / "config.toml").read_text(encoding="utf-8")
    day = dt.date.today()
    pages = {}
    for name, extra in (("same", ["--attribution", ATTRIBUTION]), ("none", [])):
        out = tmp_path / name
        shutil.copytree(run_dir, out)
        result = CliRunner().invoke(main, ["print", str(out), *extra])
        assert result.exit_code == 0, result.output
        pages[name] = (out / "print" / "001.png").read_bytes()
    if dt.date.today() != day:
        pytest.skip("the date printed on the pages changed during the test")
    assert pages["same"] == (run_dir / "print" / "001.png").read_bytes()
    assert pages["none"] != pages["same"]


# -- the scale bar and the north arrow leave the community uncovered; the attribution is printed once ---------


def _furniture(fig):
    """The scale bar's box and the north arrow's disc, as shapes in the map's metres."""
    from matplotlib.patches import Circle, Rectangle

    map_ax = fig.axes[1]
    bar = next(p for p in map_ax.patches if isinstance(p, Rectangle) and p.get_gid() == "scale-bar")
    disc = next(p for p in map_ax.patches if isinstance(p, Circle) and p.get_gid() == "north-arrow")
    box = shapely.box(bar.get_x(), bar.get_y(), bar.get_x() + bar.get_width(), bar.get_y() + bar.get_height())
    return box, shapely.Point(disc.center).buffer(disc.radius, 64), map_ax


def _check_furniture_clear(result, code):
    from gridgeo.outputs.printpage import _prepare

    fig = print_figure(result, code, date=DATE, lang="en")
    box, disc, map_ax = _furniture(fig)
    prep = _prepare(result)
    community = shapely.union_all(prep.communities[prep.communities["community_code"].astype(str) == code].geometry.to_numpy())
    grids = shapely.union_all(prep.grids[prep.grids["community_code"].astype(str) == code].geometry.to_numpy())
    frame = shapely.box(*map_ax.get_xlim()[:1], map_ax.get_ylim()[0], map_ax.get_xlim()[1], map_ax.get_ylim()[1])
    for piece in (box, disc):
        assert not piece.intersects(community) and not piece.intersects(grids), code
        assert frame.contains(piece), code  # inside the map frame
    assert not box.intersects(disc)
    # the whole community is still on the page
    assert frame.contains(community)


def test_scale_bar_and_north_arrow_leave_sample_community_004_uncovered(sample):
    """Sample community 004 fills the bottom-left corner, where the scale bar used to sit over it."""
    communities, buildings = sample
    result = gridgeo.partition(communities, buildings, households="hh_est")
    _check_furniture_clear(result, "004")
    for code in result.communities["community_code"].astype(str):
        _check_furniture_clear(result, code)


def test_scale_bar_and_north_arrow_clear_on_real_communities(taipei, monaco_result):
    for result in (taipei, monaco_result):
        for code in result.communities["community_code"].astype(str):
            _check_furniture_clear(result, code)


def test_a_community_filling_the_frame_is_drawn_smaller_rather_than_covered():
    """A rectangle with the frame's proportions touches every corner at the first round scale."""
    import geopandas as gpd

    from gridgeo.outputs.printpage import _MAP

    w, h = _MAP[2] * 2.5, _MAP[3] * 2.5  # metres: fills 1:2,500 with no margin for the pieces
    c = gpd.GeoDataFrame({"community_id": ["R"]}, geometry=[shapely.box(0, 0, w / 1.06, h / 1.06)], crs=32651)
    b = gpd.GeoDataFrame({"hh": [100] * 4}, geometry=[shapely.box(20 + 80 * i, 40, 40 + 80 * i, 60) for i in range(4)], crs=32651)
    result = gridgeo.partition(c, b, households="hh")
    _check_furniture_clear(result, result.communities["community_code"].iloc[0])


@pytest.mark.parametrize("given, printed", [
    ("Data: © OpenStreetMap contributors", "© OpenStreetMap contributors"),
    ("data source: Taipei City Government", "Taipei City Government"),
    ("数据：天地图", "天地图"),
    ("Taipei City Government open data", "Taipei City Government open data"),
])
def test_attribution_prefix_printed_once(taipei, given, printed):
    for lang, prefix in (("en", "Data: "), ("zh", "数据：")):
        fig = print_figure(taipei, "002", date=DATE, lang=lang, data_attribution=given)
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert prefix + printed in texts
        footer = next(t for t in texts if t.startswith(prefix))
        assert footer.count("Data") + footer.count("数据") == 1


# -- a rural community: the village's labels collide at the page's scale, so a detail page enlarges them ---------


@pytest.fixture(scope="module")
def rural():
    """Real Taipei buildings (one village) as the core of a rural community: 6 km × 4 km of fields added to its outline."""
    import geopandas as gpd

    communities = gpd.read_file(DATA / "taipei_small_communities.gpkg").to_crs(32651)
    buildings = gpd.read_file(DATA / "taipei_small_buildings.gpkg").to_crs(32651)
    village = communities.iloc[[0]].copy()
    x0, y0, _, _ = village.geometry.iloc[0].bounds
    village["geometry"] = [shapely.union_all([village.geometry.iloc[0], shapely.box(x0, y0 - 4000, x0 + 6000, y0 + 1)])]
    inside = buildings[buildings.within(village.geometry.iloc[0])]
    result = gridgeo.partition(village, inside, households="hh_est", grid_size=(100, 150))
    return result, str(result.communities["community_code"].iloc[0])


def _label_extents(fig):
    """Window extents of the grid labels drawn inside the map frame (code and households lines)."""
    map_ax = fig.axes[1]
    renderer = fig.canvas.get_renderer()
    (x0, x1), (y0, y1) = map_ax.get_xlim(), map_ax.get_ylim()
    out = []
    for text in map_ax.texts:
        x, y = text.get_position()
        if text.get_clip_on() and x0 <= x <= x1 and y0 <= y <= y1 and text.get_color() != "#c51b7d":
            e = text.get_window_extent(renderer)
            out.append(shapely.box(e.x0, e.y0, e.x1, e.y1))
    return out


def _overlaps(boxes) -> int:
    return sum(1 for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.intersection(b).area > 0.5)


def test_rural_community_gets_a_detail_page(rural, tmp_path):
    result, code = rural
    main_page = print_figure(result, code, date=DATE)
    assert _overlaps(_label_extents(main_page)) > 0  # at 1:25,000 the village's labels run into each other
    detail = print_figure(result, code, date=DATE, detail=1)
    assert detail is not None
    assert _overlaps(_label_extents(detail)) == 0  # enlarged, every label has room
    scale = [int(re.search(r"1:([\d,]+)", t.get_text()).group(1).replace(",", "")) for fig in (main_page, detail) for t in fig.axes[1].texts if "1:" in t.get_text()]
    assert scale[1] * 4 <= scale[0]
    # the main page marks the enlarged ground, and it holds every grid whose label collided
    frame = next(p for p in main_page.axes[1].patches if p.get_gid() == "detail-frame")
    marked = shapely.box(frame.get_x(), frame.get_y(), frame.get_x() + frame.get_width(), frame.get_y() + frame.get_height())
    (dx0, dx1), (dy0, dy1) = detail.axes[1].get_xlim(), detail.axes[1].get_ylim()
    assert shapely.box(dx0, dy0, dx1, dy1).contains(marked)
    assert any(t.endswith("（局部放大图 1）") for t in _texts(detail))
    assert "局部放大图 1" in [t.get_text() for t in main_page.axes[1].texts]
    assert print_figure(result, code, date=DATE, detail=2) is None  # one village, one detail page
    # written next to the main page
    paths = write_print_maps(result, tmp_path, dpi=30, date=DATE)
    assert [p.name for p in paths] == [f"{code}.png", f"{code}.pdf", f"{code}-detail.png", f"{code}-detail.pdf"]


def test_no_detail_page_where_labels_have_room(sample):
    communities, buildings = sample
    result = gridgeo.partition(communities, buildings, households="hh_est")
    fig = print_figure(result, "004", date=DATE)
    assert _overlaps(_label_extents(fig)) == 0
    assert print_figure(result, "004", date=DATE, detail=1) is None
    assert not any(p.get_gid() == "detail-frame" for p in fig.axes[1].patches)


def test_update_and_apply_edits_draw_the_notices_again_as_the_plan_did(run_dir, tmp_path):
    """A plan written with --print keeps its notices through apply-edits and update (its config.toml says so), drawn
    for the new grids with the plan's attribution; --no-print leaves them out and says so in the next config."""
    plan = gridgeo.read_outputs(run_dir)
    buildings = plan.buildings
    code, grid = buildings["building_code"].iloc[0], buildings["grid_code"].iloc[0]
    (tmp_path / "edits.csv").write_text(f"building_code,grid_code,action\n,{grid},lock\n", encoding="utf-8")
    edited = tmp_path / "edited"
    result = CliRunner().invoke(main, ["apply-edits", str(run_dir), str(tmp_path / "edits.csv"), "-o", str(edited), "--no-map", "--no-report", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert f"print: {edited / 'print'}" in result.output
    pages = sorted(p.name for p in (edited / "print").iterdir())
    assert pages == sorted(p.name for p in (run_dir / "print").iterdir()) and pages  # one PNG and PDF per community, as before
    assert 'print = true' in (edited / "config.toml").read_text(encoding="utf-8")
    assert ATTRIBUTION in (edited / "config.toml").read_text(encoding="utf-8")
    layer = DATA / "taipei_small_buildings.gpkg"
    updated = tmp_path / "updated"
    result = CliRunner().invoke(main, ["update", str(edited), "--buildings", str(layer), "-o", str(updated), "--no-map", "--no-report", "--no-print", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert not (updated / "print").exists() and "print = false" in (updated / "config.toml").read_text(encoding="utf-8")
    assert code in set(gridgeo.read_outputs(updated).buildings["building_code"])
