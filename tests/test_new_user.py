"""What a new user trips over on real data: each mistake gets one message naming the file, the rows and the fix.

Found by trying gridgeo as a planner would (a typo in a layer name, a facility table without the type column, a
joint-unit band larger than the grid band, an edit file saved by a spreadsheet, `validate --lang zh`), on the
Monaco slice of ``tests/data`` (2 real OSM quarters, 157 buildings) and the three Taipei villages.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner

from gridgeo.cli import main
from gridgeo.messages import translate

from .conftest import DATA

MONACO = [f"{DATA / 'monaco_communities.gpkg'}:communities", f"{DATA / 'monaco_buildings.gpkg'}:buildings"]
OPTIONS = ["--households", "hh_est", "--community-id", "community_id", "--building-id", "building_id"]
FAST = ["--no-map", "--no-report", "--workers", "1"]


def _user_error(result, *expected: str) -> str:
    """An input error as the user sees it: exit 2, one ``Error:`` message holding ``expected`` and a fix, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    message = result.output.strip().splitlines()[-1]
    assert message.startswith("Error: ") and " — fix: " in message, message
    for text in expected:
        assert text in message, (text, message)
    return message


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    """The Monaco slice partitioned as a planner would, with no map or report (the edits only need the plan)."""
    out = tmp_path_factory.mktemp("plan") / "out"
    result = CliRunner().invoke(main, ["partition", *MONACO, *OPTIONS, *FAST, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


# -- layer names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["communities", "buildings", "barriers"])
def test_a_typo_in_a_layer_name_lists_the_layers_of_the_file(tmp_path, where):
    """`file.gpkg:LAYER` with a layer the file does not hold names the file's layers and the one meant."""
    communities, buildings = MONACO
    barriers = f"{DATA / 'monaco_roads.gpkg'}:roads"
    typo = {"communities": f"{DATA / 'monaco_communities.gpkg'}:comunities", "buildings": f"{DATA / 'monaco_buildings.gpkg'}:building", "barriers": f"{DATA / 'monaco_roads.gpkg'}:raods"}[where]
    if where == "communities":
        communities = typo
    elif where == "buildings":
        buildings = typo
    else:
        barriers = typo
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["partition", communities, buildings, *OPTIONS, *FAST, "--barriers", barriers, "-o", str(out)])
    name, layer = typo.rsplit("/", 1)[1].split(":")
    meant = {"communities": "communities", "buildings": "buildings", "barriers": "roads"}[where]
    _user_error(result, f"{name}:{layer}: has no layer '{layer}'; its layers: {meant}", f"fix: name one of them, e.g. {name}:{meant}")
    assert not out.exists()


def test_a_typo_in_a_layer_of_a_file_with_several_names_the_closest_one():
    """A GeoPackage of several layers: every layer is listed and the closest name is the example of the fix."""
    path = DATA / "helsinki_overlap.gpkg"
    result = CliRunner().invoke(main, ["validate", f"{path}:communites", f"{path}:buildings"])
    assert result.exit_code == 1, result.output
    assert "helsinki_overlap.gpkg:communites: has no layer 'communites'; its layers: communities, buildings — fix: name one of them, e.g. helsinki_overlap.gpkg:communities" in result.output
    assert "Traceback" not in result.output


# -- dedicated facilities and compounds ---------------------------------------------------------------------
def _facility_table(path, column: str = "type", ids: list[str] | None = None):
    """A CSV of building ids (real Monaco buildings) naming dedicated facilities."""
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    chosen = ids or buildings.loc[buildings["building"] == "hotel", "building_id"].tolist()
    pd.DataFrame({"building_id": chosen, column: "enterprise"}).to_csv(path, index=False)
    return chosen


def test_a_facility_table_without_the_type_column_names_the_file_and_its_columns(tmp_path):
    """The error names the CSV (not the word "dedicated") and the columns it has, so the user can pick --dedicated-type."""
    _facility_table(tmp_path / "facilities.csv", column="kind")
    result = CliRunner().invoke(main, ["partition", *MONACO, *OPTIONS, *FAST, "--dedicated", str(tmp_path / "facilities.csv"), "-o", str(tmp_path / "out")])
    _user_error(result, "facilities.csv: has no column 'type' with the facility type (its columns: building_id, kind)", "--dedicated-type COL")
    assert not (tmp_path / "out").exists()
    again = CliRunner().invoke(main, ["partition", *MONACO, *OPTIONS, *FAST, "--dedicated", str(tmp_path / "facilities.csv"), "--dedicated-type", "kind", "-o", str(tmp_path / "out")])
    assert again.exit_code == 0, again.output
    grids = gpd.read_file(tmp_path / "out" / "partition.gpkg", layer="grids")
    assert (grids["grid_type"] == "dedicated").sum() >= 1


def test_an_unknown_building_in_a_facility_table_is_named_by_its_row_counted_from_1(tmp_path):
    """Rows are numbered as everywhere else (the first data row is row 1): the second row is row 2."""
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    known = buildings["building_id"].iloc[0]
    _facility_table(tmp_path / "facilities.csv", ids=[known, "w-not-a-building"])
    result = CliRunner().invoke(main, ["partition", *MONACO, *OPTIONS, *FAST, "--dedicated", str(tmp_path / "facilities.csv"), "-o", str(tmp_path / "out")])
    _user_error(result, "facilities.csv: row 2: building_id w-not-a-building is not a building in any community")


def test_validate_counts_facilities_and_compounds_as_they_will_be_placed(tmp_path):
    """`validate` says how many compounds stay whole and how many are above the band's maximum, not one sum."""
    communities = gpd.read_file(DATA / "monaco_communities.gpkg", layer="communities")
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    metric = buildings.to_crs(32632)
    small = metric[(metric["hh_est"] > 0) & (metric["hh_est"] < 300)].iloc[[0]]
    compounds = gpd.GeoDataFrame(
        {"name": ["one block", "a whole quarter"]},
        geometry=[small.geometry.iloc[0].buffer(2), communities.to_crs(32632).geometry.iloc[0].buffer(-1)],
        crs=32632,
    )
    compounds.to_file(tmp_path / "compounds.gpkg", layer="compounds")
    hotels = _facility_table(tmp_path / "facilities.csv")
    result = CliRunner().invoke(main, ["validate", *MONACO, *OPTIONS, "--dedicated", str(tmp_path / "facilities.csv"), "--compounds", str(tmp_path / "compounds.gpkg")])
    assert result.exit_code == 0, result.output
    quarter = int(buildings.loc[buildings["community_id"] == communities["community_id"].iloc[0], "hh_est"].sum())
    assert quarter > 500  # the whole quarter cannot be one grid of 300–500
    assert len(hotels) == 2  # both hotels of MON-006, without a facility_id: a facility each (they stand apart)
    assert "note: 2 dedicated facilities placed in their communities; 2 compounds: 1 kept whole, 1 above the grid maximum 500 (split between its buildings)" in result.output
    # partition agrees: one compound kept whole, the quarter split
    run = CliRunner().invoke(main, ["partition", *MONACO, *OPTIONS, *FAST, "--compounds", str(tmp_path / "compounds.gpkg"), "--dedicated", str(tmp_path / "facilities.csv"), "-o", str(tmp_path / "out")])
    assert run.exit_code == 0, run.output
    placed = gpd.read_file(tmp_path / "out" / "partition.gpkg", layer="compounds")
    assert sorted(placed["kept_whole"].astype(bool).tolist()) == [False, True]


# -- bands ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("unit_size", ["10:600", "10:501", "600:700"])
def test_a_unit_band_above_the_grid_maximum_is_refused(tmp_path, unit_size):
    """`--unit-size 10:150` for 10:15 would silently cut joint units of up to 150 households: a unit lies inside one grid."""
    result = CliRunner().invoke(main, ["partition", *MONACO, *OPTIONS, *FAST, "--unit-size", unit_size, "-o", str(tmp_path / "out")])
    low, high = unit_size.split(":")
    _user_error(result, f"unit size: units of {low}–{high} households cannot fit in grids of at most 500", "at most 500")
    assert not (tmp_path / "out").exists()


def test_a_unit_band_up_to_the_grid_maximum_still_runs(tmp_path):
    """The largest unit band allowed (its maximum equal to the grid's) partitions as before, units within it."""
    result = CliRunner().invoke(main, ["partition", *MONACO, *OPTIONS, *FAST, "--grid-size", "10:15", "--unit-size", "10:15", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    units = gpd.read_file(tmp_path / "out" / "partition.gpkg", layer="units")
    assert units["households"].max() <= 15 or not units.loc[units["households"] > 15, "in_band"].astype(bool).any()


# -- messages in Chinese -------------------------------------------------------------------------------------
def test_validate_speaks_chinese_with_lang_zh_whatever_the_locale():
    """`--lang zh` works for validate as for the other commands (the guide promises it for the command line)."""
    result = CliRunner(env={"LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_US.UTF-8"}).invoke(main, ["validate", *MONACO, *OPTIONS, "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("通过：2 个社区，157 栋建筑已归属")
    english = CliRunner(env={"LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_US.UTF-8"}).invoke(main, ["validate", *MONACO, *OPTIONS])
    assert english.output.startswith("OK: 2 communities, 157 buildings assigned")


def test_apply_edits_messages_follow_the_locale_not_the_run(plan, tmp_path):
    """As `apply-edits --help` says: the map and report take the run's language, the messages the locale's."""
    edits = tmp_path / "edits.csv"
    edits.write_text("building_code,grid_code,action\n,001-01,lock\n", encoding="utf-8")
    result = CliRunner(env={"LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_US.UTF-8"}).invoke(main, ["apply-edits", str(plan), str(edits), "-o", str(tmp_path / "edited"), "--no-map"])
    assert result.exit_code == 0, result.output
    assert "1 grid locked" in result.output
    assert 'lang = "zh"' in (tmp_path / "edited" / "config.toml").read_text(encoding="utf-8")  # the run's language, for the report


# -- edit files saved by a spreadsheet -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "encoding", "expected"),
    [
        ("building_code,grid_code\n{b},001-01\n,001-01,lock\n", "utf-8", ("edits.csv: line 3 has 3 fields where the header has 2", "building_code,grid_code,action")),
        ("building_code;grid_code\n{b};001-01\n", "utf-8", ("edits.csv: missing columns building_code, grid_code (found: building_code;grid_code)", "commas, not semicolons")),
        ("building_code,grid_code\n{b},001-01\n", "utf-16", ("edits.csv: is not UTF-8 text", "CSV UTF-8")),
    ],
    ids=["action_without_its_header", "semicolons", "utf16"],
)
def test_an_edit_file_a_spreadsheet_saved_says_which_line_and_how_to_save_it(plan, tmp_path, content, encoding, expected):
    """A ragged line, semicolons, UTF-16: one message naming the line or the cause and the fix; nothing written."""
    building = gpd.read_file(plan / "partition.gpkg", layer="buildings")["building_code"].iloc[0]
    (tmp_path / "edits.csv").write_text(content.format(b=building), encoding=encoding)
    result = CliRunner().invoke(main, ["apply-edits", str(plan), str(tmp_path / "edits.csv"), "-o", str(tmp_path / "edited"), "--no-map", "--no-report"])
    message = _user_error(result, *expected)
    assert "Error tokenizing" not in message and "codec" not in message
    assert not (tmp_path / "edited").exists()


# -- update with a new building layer ------------------------------------------------------------------------
@pytest.mark.parametrize(("renamed", "what"), [("hh_est", "households"), ("building_id", "building ids")])
def test_an_update_layer_without_the_previous_columns_asks_for_the_column_not_an_option(plan, tmp_path, renamed, what):
    """`update` has no --households or --building-id: a new layer whose column was renamed is told to name it back."""
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    buildings.rename(columns={renamed: f"{renamed}_2027"}).to_file(tmp_path / "buildings-2027.gpkg", layer="buildings")
    result = CliRunner().invoke(main, ["update", str(plan), "--buildings", str(tmp_path / "buildings-2027.gpkg"), "-o", str(tmp_path / "out-2027"), "--no-map", "--no-report"])
    message = _user_error(result, f"buildings-2027.gpkg: has no column '{renamed}', from which the previous plan read its {what}", f"rename yours to '{renamed}'", f"{renamed}_2027")
    assert "omit --households" not in message and "--building-id" not in message
    assert not (tmp_path / "out-2027").exists()


# -- ids ---------------------------------------------------------------------------------------------------
def test_empty_ids_are_one_problem_not_also_duplicates_of_nan(tmp_path):
    """`--community-id name` where the names are empty (shanghai_bund's derived blocks have none): one problem naming
    the rows, not a second one calling the empty values duplicates ('nan'); the same for building ids."""
    communities = gpd.read_file(DATA / "taipei_small_communities.gpkg", layer="communities")
    buildings = gpd.read_file(DATA / "taipei_small_buildings.gpkg", layer="buildings")
    communities.loc[communities.index[1:], "community_id"] = None
    buildings.loc[buildings.index[[4, 9]], "building_id"] = None
    communities.to_file(tmp_path / "c.gpkg", layer="communities")
    buildings.to_file(tmp_path / "b.gpkg", layer="buildings")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "c.gpkg"), str(tmp_path / "b.gpkg"), "--households", "hh_est", "--building-id", "building_id"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("2 problems:"), result.output
    assert "c.gpkg: rows 2, 3: community id 'community_id' is empty — fix: give every community an id" in result.output
    assert "b.gpkg: rows 5, 10: building id 'building_id' is empty — fix: give every building an id" in result.output
    assert "duplicate" not in result.output and "nan" not in result.output


def test_blank_ids_and_blank_households_are_empty_not_duplicates_or_text(tmp_path):
    """Cells emptied in an attribute table are stored as '' or spaces, not NULL: '' ids are "empty" (every row named),
    not "duplicate ''" (which left a single blank id unnamed); a blank households cell is "missing", not "not a number"."""
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    buildings.loc[buildings.index[[3, 4]], "building_id"] = ""
    buildings.loc[buildings.index[9], "building_id"] = "  "
    buildings["hh_est"] = buildings["hh_est"].astype(object)
    buildings.loc[buildings.index[[1, 2]], "hh_est"] = " "
    buildings.loc[buildings.index[6], "hh_est"] = "twelve"
    buildings.to_file(tmp_path / "b.gpkg", layer="buildings")
    result = CliRunner().invoke(main, ["validate", MONACO[0], str(tmp_path / "b.gpkg"), *OPTIONS])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("3 problems:"), result.output
    assert "b.gpkg: rows 4, 5, 10: building id 'building_id' is empty — fix: give every building an id" in result.output
    assert "b.gpkg: rows 2, 3: households 'hh_est' is missing — fix: fill in a count" in result.output
    assert "b.gpkg: row 7: households 'hh_est' is not a number ('twelve') — fix: use whole numbers" in result.output
    assert "duplicate" not in result.output and "' '" not in result.output


# -- column names --------------------------------------------------------------------------------------------
def _as_shapefile(frame: gpd.GeoDataFrame, path) -> None:
    """Save ``frame`` as a GIS package would: field names cut to 10 characters (the warnings about it are expected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame.to_file(path)
    assert all(len(name) <= 10 for name in gpd.read_file(path, rows=0).columns)


def test_a_shapefile_cut_column_name_is_named_with_the_name_the_file_holds(tmp_path):
    """Saved as a Shapefile, `building_id` becomes `building_i` and `community_id` `community_`: the fix names the
    column the file holds and says why; a wrong letter case or a typo gets the closest name."""
    communities = gpd.read_file(DATA / "monaco_communities.gpkg", layer="communities")
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    _as_shapefile(communities, tmp_path / "c.shp")
    _as_shapefile(buildings, tmp_path / "b.shp")
    shp = [str(tmp_path / "c.shp"), str(tmp_path / "b.shp")]
    result = CliRunner().invoke(main, ["validate", *shp, "--households", "HH_EST", "--community-id", "community_id", "--building-id", "building_id"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("3 problems:"), result.output
    assert "c.shp: has no column 'community_id' — fix: use 'community_' (a Shapefile cuts field names to 10 characters); its columns: community_, name" in result.output
    assert "b.shp: has no column 'building_id' — fix: use 'building_i' (a Shapefile cuts field names to 10 characters); its columns: building_i" in result.output
    assert "b.shp: has no column 'HH_EST' — fix: use 'hh_est' (the closest name); its columns:" in result.output
    fixed = CliRunner().invoke(main, ["validate", *shp, "--households", "hh_est", "--community-id", "community_", "--building-id", "building_i"])
    assert fixed.exit_code == 0, fixed.output
    assert fixed.output.startswith("OK: 2 communities, 157 buildings assigned, 0 unassigned")
    unrelated = CliRunner().invoke(main, ["validate", *shp, "--households", "households"])
    assert "has no column 'households' — fix: use one of: building_i," in unrelated.output


def test_an_update_layer_saved_as_a_shapefile_reads_the_cut_id_column(plan, tmp_path):
    """The plan reads `building_id`, which a Shapefile stores as `building_i` (its own 10-character rule): the update
    reads the ids from there, says so, and matches every building; another name is still refused with the columns."""
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    _as_shapefile(buildings, tmp_path / "buildings-2027.shp")
    out = tmp_path / "out-2027"
    result = CliRunner().invoke(main, ["update", str(plan), "--buildings", str(tmp_path / "buildings-2027.shp"), "-o", str(out), "--no-map", "--no-report", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "buildings-2027.shp: the plan's building_id read from 'building_i' (a Shapefile cuts field names to 10 characters)" in result.output
    assert "buildings: 0 added, 0 removed;" in result.output  # (every building matched by its id)
    written = gpd.read_file(out / "partition.gpkg", layer="buildings")
    assert sorted(written["building_id"]) == sorted(buildings["building_id"])
    renamed = buildings.rename(columns={"building_id": "bid"})
    _as_shapefile(renamed, tmp_path / "other.shp")
    result = CliRunner().invoke(main, ["update", str(plan), "--buildings", str(tmp_path / "other.shp"), "-o", str(tmp_path / "never"), "--no-map", "--no-report"])
    _user_error(result, "other.shp: has no column 'building_id', from which the previous plan read its building ids", "rename yours to 'building_i' (a Shapefile cuts 'building_id' to 10 characters)")
    assert not (tmp_path / "never").exists()


# -- edits, folders and export -------------------------------------------------------------------------------
def test_an_unknown_action_is_quoted_as_the_user_wrote_it(plan, tmp_path):
    """`moove` is shown as 'moove' (not as a Python list), beside the other problems of the file; nothing written."""
    building = gpd.read_file(plan / "partition.gpkg", layer="buildings")["building_code"].iloc[0]
    (tmp_path / "edits.csv").write_text(f"building_code,grid_code,action\n{building},001-01,moove\n,001-99,lock\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["apply-edits", str(plan), str(tmp_path / "edits.csv"), "-o", str(tmp_path / "edited"), "--no-map", "--no-report"])
    assert result.exit_code == 2, result.output
    assert "edits.csv: line 2: unknown action 'moove' — fix: use one of move, lock, unlock (empty means move)" in result.output
    assert "edits.csv: line 3: cannot lock unknown grid 001-99" in result.output
    assert "[" not in result.output and not (tmp_path / "edited").exists()


@pytest.mark.parametrize("command", ["update", "map", "report", "print", "apply-edits"])
def test_a_previous_run_that_is_not_there_is_not_found(tmp_path, command):
    """A mistyped run folder is "folder not found", not "not a gridgeo output folder … run gridgeo partition first"."""
    missing = str(tmp_path / "gridgeo-ou")
    (tmp_path / "edits.csv").write_text("building_code,grid_code\n", encoding="utf-8")
    extra = {"update": ["--buildings", MONACO[1], "-o", str(tmp_path / "new")], "apply-edits": [str(tmp_path / "edits.csv"), "-o", str(tmp_path / "new")]}
    result = CliRunner().invoke(main, [command, missing, *extra.get(command, [])])
    _user_error(result, f"{missing}: folder not found", "give the folder a gridgeo run wrote (its -o/--output)")
    assert not (tmp_path / "new").exists()


def test_export_to_a_file_says_the_files_are_already_written(plan):
    """`gridgeo export OUT --to plans.gpkg` (a GIS user after a file): PostGIS only, and where the files already are."""
    result = CliRunner().invoke(main, ["export", str(plan), "--to", "plans.gpkg", "--schema", "monaco"])
    _user_error(result, "--to: 'plans.gpkg' is not a PostgreSQL URL", "partition.gpkg, grids.geojson", "gridgeo export OUTDIR --format shp adds Shapefiles")


def test_demo_into_a_folder_of_other_files_names_the_demo_not_overwrite(tmp_path):
    """`gridgeo demo -o FOLDER` has no --overwrite: the refusal says the demo will not replace it; the folder is kept."""
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path)])
    message = _user_error(result, "is not empty and is not a gridgeo output folder", "so gridgeo demo will not replace it")
    assert "--overwrite" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_the_exit_codes_are_in_the_help_and_hold():
    """`gridgeo --help` (and so docs/cli.md) lists the exit codes; 1 for validate's problems and 2 for a usage error hold."""
    text = CliRunner().invoke(main, ["--help"]).output
    for code in ("0 done", "1 `validate` found problems", "2 a usage or input error", "3 a run that failed its own checks", "130 interrupted"):
        assert code in " ".join(text.split()), code
    assert CliRunner().invoke(main, ["validate", MONACO[0], MONACO[1], "--households", "nope"]).exit_code == 1
    assert CliRunner().invoke(main, ["partition", *MONACO, "--households", "nope", "-o", "never-written"]).exit_code == 2


def test_coordinate_columns_in_another_letter_case_are_named_as_the_header_has_them(tmp_path):
    """A table of points with `X`, `Y` given as `--x x --y y`: the fix gives the options as they must be written."""
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    points = buildings.to_crs(32632).representative_point().to_crs(4326)
    table = pd.DataFrame({"building_id": buildings["building_id"], "hh_est": buildings["hh_est"], "X": points.x.round(7), "Y": points.y.round(7)})
    table.to_csv(tmp_path / "buildings.csv", index=False)
    args = ["validate", MONACO[0], str(tmp_path / "buildings.csv"), *OPTIONS]
    result = CliRunner().invoke(main, [*args, "--x", "x", "--y", "y"])
    assert result.exit_code == 1, result.output
    assert "buildings.csv: has no column 'x', 'y' (columns: building_id, hh_est, X, Y) — fix: name the coordinate columns exactly as in the header row: --x X --y Y" in result.output
    fixed = CliRunner().invoke(main, [*args, "--x", "X", "--y", "Y"])
    assert fixed.exit_code == 0 and fixed.output.startswith("OK: 2 communities, 157 buildings assigned"), fixed.output


def test_an_unknown_grid_code_gets_the_community_s_codes_and_the_next_new_one(plan, tmp_path):
    """`001-77x` or a grid of a community the plan lacks: the fix names the building's own community, its grid codes
    and the code a new grid would take; problems come in the file's line order."""
    buildings = gpd.read_file(plan / "partition.gpkg", layer="buildings")
    grids = gpd.read_file(plan / "partition.gpkg", layer="grids")
    building = buildings.loc[buildings["community_code"] == "001", "building_code"].iloc[0]
    own = sorted(grids.loc[grids["community_code"] == "001", "grid_code"])
    assert len(own) > 2
    following = f"001-{max(int(code.split('-')[1]) for code in own if code.split('-')[1].isdigit()) + 1:02d}"
    (tmp_path / "edits.csv").write_text(f"building_code,grid_code\n001-B99999,001-01\n{building},001-77x\n{building},009-01\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["apply-edits", str(plan), str(tmp_path / "edits.csv"), "-o", str(tmp_path / "edited"), "--no-map", "--no-report"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert [line.split(": ")[1] for line in lines] == ["line 2", "line 3", "line 4"], lines
    assert f"— fix: use a grid_code of the building's community 001 ({own[0]} … {own[-1]}), or {following} for a new grid" in lines[1]
    assert "building code 001-B99999" in lines[0] and "'009-01'" in lines[2]
    assert not (tmp_path / "edited").exists()


# -- which layer is which ------------------------------------------------------------------------------------
def test_a_file_of_several_layers_given_twice_gets_each_argument_its_own_example():
    """COMMUNITIES and BUILDINGS both given as a two-layer GeoPackage without `:LAYER`: each problem's example is the
    layer meant for that argument (not the placeholder FILE.gpkg:LAYER twice)."""
    path = str(DATA / "helsinki_overlap.gpkg")
    result = CliRunner().invoke(main, ["validate", path, path])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("2 problems:"), result.output
    for layer in ("communities", "buildings"):
        assert f"helsinki_overlap.gpkg: has 2 layers (communities, buildings) — fix: name the layer, e.g. helsinki_overlap.gpkg:{layer} on the command line (layer='{layer}' in Python)" in result.output
    assert "FILE.gpkg" not in result.output


@pytest.mark.parametrize("command", ["validate", "partition"])
def test_communities_and_buildings_swapped_are_said_to_be_swapped(tmp_path, command):
    """BUILDINGS first and COMMUNITIES second: one problem saying so, not "duplicate community_id values" (the buildings'
    community column read as ids); nothing is written. Given the right way round the same files pass."""
    communities, buildings = MONACO
    out = ["-o", str(tmp_path / "out"), *FAST] if command == "partition" else []
    result = CliRunner().invoke(main, [command, buildings, communities, *out])
    assert result.exit_code == (1 if command == "validate" else 2), result.output
    assert "monaco_buildings.gpkg:buildings: has 157 features, more and smaller than the 2 of monaco_communities.gpkg:communities" in result.output
    assert "the communities and the buildings look swapped — fix: give the communities first, then the buildings (monaco_communities.gpkg:communities monaco_buildings.gpkg:buildings)" in result.output
    assert "duplicate" not in result.output and not (tmp_path / "out").exists()
    assert CliRunner().invoke(main, ["validate", communities, buildings]).exit_code == 0


# -- configuration files -------------------------------------------------------------------------------------
def test_a_config_typo_gets_the_key_meant_and_a_band_without_quotes_the_syntax(tmp_path):
    """`grid_sise` names `grid_size`; `grid-size = 300:500` (TOML wants text in quotes) shows how values are written."""
    communities, buildings = MONACO
    (tmp_path / "typo.toml").write_text(f'communities = "{communities}"\nbuildings = "{buildings}"\ngrid_sise = "300:500"\n', encoding="utf-8")
    (tmp_path / "unquoted.toml").write_text("grid-size = 300:500\n", encoding="utf-8")
    typo = CliRunner().invoke(main, ["partition", "--config", str(tmp_path / "typo.toml"), "-o", str(tmp_path / "out")])
    assert typo.exit_code == 2 and "typo.toml: unknown key 'grid_sise' — fix: did you mean 'grid_size'? Else use one of:" in typo.output, typo.output
    unquoted = CliRunner().invoke(main, ["partition", "--config", str(tmp_path / "unquoted.toml"), "-o", str(tmp_path / "out")])
    assert unquoted.exit_code == 2, unquoted.output
    assert 'unquoted.toml: is not valid TOML' in unquoted.output and 'fix: fix the syntax: text in quotes (grid-size = "300:500"' in unquoted.output
    assert "Traceback" not in typo.output + unquoted.output and not (tmp_path / "out").exists()


# -- register totals -----------------------------------------------------------------------------------------
def test_register_totals_that_are_text_or_negative_are_named_and_empty_ones_are_said_to_keep_the_estimate(tmp_path):
    """`--community-households COL` skipped 'unknown' and -5 without a word (those communities kept their estimates);
    they are now problems naming the rows, and empty cells, which do keep the estimate, are listed in the note."""
    communities = gpd.read_file(DATA / "monaco_communities.gpkg", layer="communities")
    buildings = gpd.read_file(DATA / "monaco_buildings.gpkg", layer="buildings")
    totals = buildings.groupby("community_id")["hh_est"].sum()
    communities["register"] = communities["community_id"].map(totals).astype(object)
    bad = communities.copy()
    bad.loc[bad.index[0], "register"] = "unknown"
    bad.loc[bad.index[1], "register"] = -5
    bad.to_file(tmp_path / "bad.gpkg", layer="communities")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "bad.gpkg"), MONACO[1], "--community-households", "register"])
    assert result.exit_code == 1, result.output
    assert "bad.gpkg: row 1: register total 'register' is not a number ('unknown') — fix: use whole numbers, or leave the cell empty" in result.output
    assert "bad.gpkg: row 2: register total 'register' is negative — fix: use 0 or more" in result.output
    partial = communities.copy()
    partial.loc[partial.index[1], "register"] = None
    partial.to_file(tmp_path / "partial.gpkg", layer="communities")
    run = CliRunner().invoke(main, ["partition", str(tmp_path / "partial.gpkg"), MONACO[1], "--community-households", "register", *FAST, "-o", str(tmp_path / "out")])
    assert run.exit_code == 0, run.output
    missing = partial["community_id"].iloc[1]
    notes = pd.read_json(tmp_path / "out" / "report.json", typ="series")["notes"]
    note = next(note for note in notes if note.startswith("households scaled"))
    assert note == f"households scaled to the register totals in 'register' (1 community); 1 without a total keeps its estimate ({missing})", notes
    assert translate(note, "zh") == f"户数已按“register”字段的登记总数缩放（1 个社区）；1 个社区没有登记总数，保留估算值（{missing}）"
    grids = gpd.read_file(tmp_path / "out" / "partition.gpkg", layer="grids")
    scaled = partial["community_id"].iloc[0]
    assert grids.loc[grids["community_id"] == scaled, "households"].sum() == totals[scaled]  # the one total given holds


def test_repeating_a_run_from_its_config_keeps_the_terminal_in_the_locale_s_language(plan, tmp_path):
    """Every config.toml records `lang = "zh"` (the outputs' default): `partition --config OUT/config.toml` under an
    English locale spoke Chinese on the terminal. The file sets the outputs' language; only a typed --lang the messages."""
    english = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_US.UTF-8"}
    assert 'lang = "zh"' in (plan / "config.toml").read_text(encoding="utf-8")
    again = CliRunner(env=english).invoke(main, ["partition", "--config", str(plan / "config.toml"), "-o", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    assert "grids, " in again.output and "joint units from 157 buildings" in again.output and "网格" not in again.output
    assert 'lang = "zh"' in (tmp_path / "again" / "config.toml").read_text(encoding="utf-8")  # the outputs stay Chinese
    typed = CliRunner(env=english).invoke(main, ["partition", "--config", str(plan / "config.toml"), "--lang", "zh", "-o", str(tmp_path / "typed")])
    assert typed.exit_code == 0 and "个网格" in typed.output, typed.output
