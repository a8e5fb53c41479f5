"""The command line speaks Chinese with --lang zh or under a Chinese locale: summary on stdout, warnings on stderr."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from gridgeo.cli import main
from gridgeo.messages import MESSAGES, count, locale_lang, translate

from .conftest import DATA

TAIPEI = [str(DATA / "taipei_small_communities.gpkg"), str(DATA / "taipei_small_buildings.gpkg")]
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_LOCALE = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_US.UTF-8"}
CHINESE_LOCALE = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}


def _partition(tmp_path, env, *extra):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["partition", *TAIPEI, "--no-map", "--no-report", "-o", str(out), "--overwrite", *extra], env=env)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("env, extra", [(CHINESE_LOCALE, ()), (ENGLISH_LOCALE, ("--lang", "zh"))])
def test_chinese_summary_on_stdout_and_warnings_on_stderr(tmp_path, env, extra):
    result = _partition(tmp_path, env, *extra)
    out, err = result.stdout.splitlines(), result.stderr.splitlines()
    # the summary, in Chinese, with the run's real counts
    assert out[0].startswith("共 10 个网格、") and "来自 284 栋建筑" in out[0] and "分属 3 个社区" in out[0], out
    assert out[1].startswith("1+1+1+N 队伍：")
    # the warnings (straddling buildings, estimated households), each in Chinese on stderr and never on stdout
    assert err and all(line.startswith("警告：") for line in err), err
    assert any("栋建筑跨越两个或多个社区" in line and "第 13, 18, 45 行" in line for line in err)
    assert any(line.startswith("警告：户数为估算值") for line in err)
    assert not any("警告" in line for line in out)


@pytest.mark.parametrize("env, extra", [(ENGLISH_LOCALE, ()), (CHINESE_LOCALE, ("--lang", "en"))])
def test_english_summary_and_plurals(tmp_path, env, extra):
    result = _partition(tmp_path, env, *extra)
    out, err = result.stdout.splitlines(), result.stderr.splitlines()
    assert out[0].startswith("10 grids, 307 joint units from 284 buildings (3990 households, ESTIMATED) in 3 communities;"), out
    assert "0 grids flagged with a reason, 0 defects (0 proven unavoidable)" in out[0]
    assert not CJK.search(result.stdout + result.stderr.replace("×", ""))
    assert all(line.startswith("WARNING: ") for line in err), err
    assert not re.search(r"\b1 (grids|buildings|communities|helpers|defects)\b", result.stdout)


def test_one_grid_is_one_grid(tmp_path):
    """A community small enough for one grid: "1 grid … 1 community", not "1 grids … 1 communities"."""
    communities = str(DATA / "taipei_small_communities.gpkg")
    buildings = str(DATA / "taipei_small_buildings.gpkg")
    out = tmp_path / "one"
    result = CliRunner().invoke(main, ["partition", communities, buildings, "--grid-size", "1000:5000", "--no-map", "--no-report", "-o", str(out)], env=ENGLISH_LOCALE)
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    n_grids = int(first.split()[0])
    assert first.startswith(f"{n_grids} grid{'s' if n_grids != 1 else ''}, ")
    assert count(1, "grid") == "1 grid" and count(1, "community", "communities") == "1 community"


def test_validate_and_errors_follow_the_locale(tmp_path):
    zh = CliRunner().invoke(main, ["validate", *TAIPEI], env=CHINESE_LOCALE)
    assert zh.exit_code == 0, zh.output
    lines = zh.stdout.splitlines()
    assert lines[0] == "通过：3 个社区，284 栋建筑已归属，0 栋未归属"
    assert all(line.startswith("  说明：") for line in lines[1:])
    en = CliRunner().invoke(main, ["validate", *TAIPEI], env=ENGLISH_LOCALE)
    assert en.stdout.splitlines()[0] == "OK: 3 communities, 284 buildings assigned, 0 unassigned"
    # a usage error: one line on stderr with the Chinese prefix, exit 2
    bad = CliRunner().invoke(main, ["report", str(tmp_path / "missing")], env=CHINESE_LOCALE)
    assert bad.exit_code == 2 and bad.stderr.startswith("错误：") and bad.stdout == ""
    bad = CliRunner().invoke(main, ["report", str(tmp_path / "missing")], env=ENGLISH_LOCALE)
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: ")


def test_report_command_line_in_the_chosen_language(tmp_path):
    _partition(tmp_path, ENGLISH_LOCALE)
    result = CliRunner().invoke(main, ["report", str(tmp_path / "out"), "--lang", "zh"], env=ENGLISH_LOCALE)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"报告：{tmp_path / 'out' / 'report.html'}"


@pytest.mark.parametrize("environ, lang", [
    ({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LANG": "zh_TW.UTF-8"}, "zh"), ({"LC_ALL": "zh_CN.GB18030", "LANG": "en_US.UTF-8"}, "zh"),
    ({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"), ({"LC_MESSAGES": "zh_CN", "LANG": "C"}, "zh"), ({}, "en"), ({"LANG": "de_DE"}, "en"),
])
def test_locale_language(environ, lang):
    assert locale_lang(environ) == lang


def test_every_message_in_both_languages_with_the_same_fields():
    for key, texts in MESSAGES.items():
        assert set(texts) == {"en", "zh"}, key
        assert CJK.search(texts["zh"]) or not CJK.search(texts["en"]), key


def test_validate_notes_translated_on_real_data():
    """Every note validate prints for the real Taipei slice has a Chinese text."""
    en = CliRunner().invoke(main, ["validate", *TAIPEI], env=ENGLISH_LOCALE)
    notes = [line[len("  note: "):] for line in en.stdout.splitlines() if line.startswith("  note: ")]
    assert notes
    for note in notes:
        assert translate(note, "zh") != note and CJK.search(translate(note, "zh")), note


def test_counts_of_one_are_singular_in_english_and_translated_in_chinese(tmp_path):
    """The real Taipei slice with one straddling building left (of its three), one community without households and
    one self-intersecting footprint: "1 building straddles", "1 community has", "1 invalid geometry", never
    "1 buildings straddle", and every such note still has its Chinese."""
    import geopandas as gpd
    import shapely

    communities, buildings = (gpd.read_file(path) for path in TAIPEI)
    buildings = buildings.drop(buildings.index[[17, 44]]).reset_index(drop=True)  # rows 18 and 45 straddle too
    buildings.loc[buildings["community_id"] == "6300600017", "hh_est"] = 0
    x, y = buildings.geometry[30].centroid.coords[0]
    d = 0.00005
    buildings.loc[30, "geometry"] = shapely.Polygon([(x - d, y - d), (x + d, y + d), (x + d, y - d), (x - d, y + d)])  # a bow-tie
    path = tmp_path / "b.gpkg"
    buildings.to_file(path)
    args = ["validate", TAIPEI[0], str(path), "--households", "hh_est", "--building-id", "building_id"]
    en = CliRunner().invoke(main, [*args, "--lang", "en"], env=ENGLISH_LOCALE)
    assert en.exit_code == 0, en.output
    notes = [line[len("  note: "):] for line in en.stdout.splitlines() if line.startswith("  note: ")]
    for text in ("b.gpkg: 1 building straddles two or more communities", "1 community has no households (6300600017)", "b.gpkg: repaired 1 invalid geometry with make_valid"):
        assert any(text in note for note in notes), (text, notes)
    assert not re.search(r"\b1 (buildings|communities|geometries|groups|pairs|parts)\b", en.stdout), en.stdout
    for note in notes:
        assert translate(note, "zh") != note and CJK.search(translate(note, "zh")), note
    zh = CliRunner().invoke(main, [*args, "--lang", "zh"], env=CHINESE_LOCALE)
    assert "1 栋建筑跨越两个或多个社区" in zh.stdout and "1 个社区没有住户" in zh.stdout and "已用 make_valid 修复 1 个无效几何" in zh.stdout, zh.stdout


def test_renamed_input_columns_are_said_in_chinese_too():
    """Input columns named as gridgeo's own (a buildings 'households', a communities 'n_buildings') are kept as
    input_…; the report's notes that say so have their Chinese, like every other note of the run."""
    import geopandas as gpd

    import gridgeo

    communities, buildings = (gpd.read_file(path) for path in TAIPEI)
    communities["n_buildings"] = 1
    buildings["households"] = buildings["hh_est"]
    result = gridgeo.partition(communities, buildings, households="hh_est", building_id="building_id")
    notes = result.report["notes"]
    renamed = [note for note in notes if "columns renamed" in note]
    assert len(renamed) == 2, notes
    for note in notes:
        assert translate(note, "zh") != note and CJK.search(translate(note, "zh")), note


def test_errors_are_chinese_under_a_chinese_locale(tmp_path):
    """The errors a planner meets first — a folder that exists, a missing file, a mistyped layer or column, household
    counts that are not numbers, a bad edits file — name the file, what is wrong and the fix in Chinese (only the
    prefix was Chinese), and stay English under an English locale."""
    import geopandas as gpd

    out = tmp_path / "out"
    _partition(tmp_path, ENGLISH_LOCALE)

    def error(*args, env=CHINESE_LOCALE):
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == 2, result.output
        return result.stderr.strip()

    assert error("partition", *TAIPEI, "-o", str(out)) == f"错误：{out}：已存在——修正：加 --overwrite 覆盖它，或换一个文件夹"
    assert error("partition", *TAIPEI, "-o", str(out), env=ENGLISH_LOCALE) == f"Error: {out}: exists — fix: pass --overwrite to replace it, or choose another folder"
    missing = str(tmp_path / "nothing.gpkg")
    assert error("partition", TAIPEI[0], missing, "-o", str(tmp_path / "a")) == f"错误：{missing}：文件不存在——修正：请检查路径"
    layer = error("partition", f"{TAIPEI[0]}:communites", TAIPEI[1], "-o", str(tmp_path / "a"))
    assert "没有图层 'communites'；它的图层有：" in layer and "——修正：请指定其中一个，例如" in layer
    column = error("partition", *TAIPEI, "--households", "hh_estt", "-o", str(tmp_path / "a"))
    assert "没有字段“hh_estt”——修正：请使用“hh_est”（名称最接近）；它的字段有：" in column and "或去掉 --households，按估算户数" in column
    buildings = gpd.read_file(TAIPEI[1])
    buildings["hh_text"] = buildings["hh_est"].astype(str)
    buildings.loc[[2, 4], "hh_text"] = "多"
    buildings.to_file(tmp_path / "b.gpkg", layer="buildings")
    counts = error("partition", TAIPEI[0], str(tmp_path / "b.gpkg"), "--households", "hh_text", "-o", str(tmp_path / "a"))
    assert "b.gpkg：第 3, 5 行：户数字段“hh_text”不是数字" in counts and "——修正：请使用整数" in counts
    edits = tmp_path / "edits.csv"
    edits.write_text("building_code,grid_code\nzzz,001-01\n", encoding="utf-8")
    edit = error("apply-edits", str(out), str(edits), "-o", str(tmp_path / "e"))
    assert edit == f"错误：{edits}：第 2 行：未知的建筑编码 zzz——修正：请使用方案 buildings 图层中的 building_code"
    assert not any(p.exists() for p in (tmp_path / "a", tmp_path / "e"))
