"""Standard grid codes (CJ/T 349-2010, DB11/T 2157-2023, templates) on the sample Shapefiles and tests/data.

The Taipei villages and Monaco quartiers have no Chinese administrative codes, so the tests give them plausible
ones in extra columns (county 110105 = Beijing Chaoyang district, streets 001/002, communities 001…).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

import gridgeo
from gridgeo.audit import audit_partition
from gridgeo.cli import main
from gridgeo.errors import InputError
from gridgeo.governance.admin_codes import admin_codes
from gridgeo.governance.codes import reading_order
from gridgeo.governance.roster import grid_roster
from gridgeo.governance.standard_codes import (
    add_standard_codes,
    check_standard_codes,
    code_problem,
    parse_code_scheme,
    validate_code,
)
from gridgeo.inputs.crs import local_metric_crs

from .conftest import SAMPLE

CODE_OPTIONS = {"county_code_column": "xq", "street_code_column": "jd", "community_code_column": "sq"}
SAMPLE_OPTIONS = {"households": "hh_est", "community_id": "comm_id", "building_id": "bldg_id"}


def with_codes(communities: gpd.GeoDataFrame, ids: str) -> gpd.GeoDataFrame:
    """Plausible administrative codes: county 110105, two communities per street, numbered by id."""
    out = communities.copy()
    rank = out[ids].astype(str).rank(method="first").astype(int).to_numpy() - 1
    out["xq"] = "110105"
    out["jd"] = [f"{r // 2 + 1:03d}" for r in rank]
    out["sq"] = [f"{r % 2 + 1:03d}" for r in rank]
    out["zr"] = [f"街道办事处 {r // 2 + 1}" for r in rank]
    return out


@pytest.fixture(scope="module")
def sample_coded(sample):
    communities, buildings = sample
    return with_codes(communities, "comm_id"), buildings


@pytest.fixture(scope="module")
def cjt349(sample_coded):
    communities, buildings = sample_coded
    return gridgeo.partition(communities, buildings, **SAMPLE_OPTIONS, code_scheme="cjt349", object_class="120000", **CODE_OPTIONS)


@pytest.fixture(scope="module")
def db11(sample_coded):
    communities, buildings = sample_coded
    return gridgeo.partition(
        communities, buildings, **SAMPLE_OPTIONS, code_scheme="db11", **CODE_OPTIONS,
        valid_from="2024-01-01", valid_to="2026-12-31", responsible_unit_column="zr",
    )


def _admin_prefix(communities: gpd.GeoDataFrame, ids: str) -> dict[str, str]:
    return {str(row[ids]): f"{row['xq']}{row['jd']}{row['sq']}" for _, row in communities.iterrows()}


# -- every code valid, in the right place ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme, length", [("cjt349", 20), ("db11", 15)])
def test_every_grid_code_validates_against_its_scheme(request, sample_coded, scheme, length):
    result = request.getfixturevalue(scheme)
    grids = result.grids
    assert len(grids) > 4  # the sample's communities are subdivided
    assert list(grids.columns[:2]) == ["grid_code", "standard_code"]
    for code in grids["standard_code"]:
        assert len(code) == length and code.isdigit()
        assert validate_code(code, scheme, strict=True)
    assert grids["standard_code"].is_unique
    assert check_standard_codes(grids, scheme) == []
    # the other scheme does not accept them
    other = "db11" if scheme == "cjt349" else "cjt349"
    assert not any(validate_code(code, other) for code in grids["standard_code"])
    # the community's own administrative codes, after the object class for CJ/T 349
    prefix = _admin_prefix(sample_coded[0], "comm_id")
    start = 6 if scheme == "cjt349" else 0
    for cid, code in zip(grids["community_id"], grids["standard_code"]):
        assert code[start : start + 12] == prefix[cid]
    if scheme == "cjt349":
        assert set(grids["standard_code"].str[:6]) == {"120000"}
    assert result.report["parameters"]["code_scheme"] == scheme


@pytest.mark.parametrize("scheme", ["cjt349", "db11"])
def test_numbering_is_west_to_east_north_to_south_like_grid_code(request, sample_coded, scheme):
    grids = request.getfixturevalue(scheme).grids
    width = 2 if scheme == "cjt349" else 3
    metric = local_metric_crs(sample_coded[0])
    communities = sample_coded[0].set_index("comm_id").to_crs(metric)
    for cid, group in grids.groupby("community_id"):
        by_grid_code = group.sort_values("grid_code")
        by_standard = group.sort_values("standard_code")
        assert by_grid_code["grid_code"].tolist() == by_standard["grid_code"].tolist()
        numbers = [int(c[-width:]) for c in by_grid_code["standard_code"]]
        assert numbers == list(range(1, len(group) + 1))
        # the numbers follow rows from north to south, west to east within a row
        metric_grids = by_grid_code.to_crs(metric)
        xy = shapely.get_coordinates(shapely.point_on_surface(metric_grids.geometry.to_numpy()))
        area = float(communities.loc[cid].geometry.area)
        order = reading_order(xy[:, 0], xy[:, 1], np.sqrt(area / len(group)))
        assert order.tolist() == list(range(len(group)))


def test_undivided_community_has_cjt349_grid_number_00(taipei_small):
    communities, buildings = taipei_small
    coded = with_codes(communities, "community_id")
    result = gridgeo.partition(
        coded, buildings, households="hh_est", grid_size="600:1000", code_scheme="cjt349", object_class="120000", **CODE_OPTIONS
    )
    counts = result.grids.groupby("community_id").size()
    assert sorted(counts.tolist()) == [1, 1, 3]  # 景星里 and 國順里 stay whole, 隆和里 is split
    for cid, group in result.grids.groupby("community_id"):
        numbers = sorted(group["standard_code"].str[-2:])
        assert numbers == (["00"] if counts[cid] == 1 else ["01", "02", "03"])
    assert all(validate_code(c, "cjt349") for c in result.grids["standard_code"])
    assert check_standard_codes(result.grids, "cjt349") == []
    # DB11/T 2157-2023 has no 00: an undivided community's grid is 001
    db11 = gridgeo.partition(coded, buildings, households="hh_est", grid_size="600:1000", code_scheme="db11", **CODE_OPTIONS)
    whole = db11.grids.groupby("community_id").filter(lambda g: len(g) == 1)
    assert len(whole) == 2 and set(whole["standard_code"].str[-3:]) == {"001"}


def test_template_codes_on_monaco(monaco):
    communities, buildings, _ = monaco
    coded = with_codes(communities, "community_id")
    template = "{district}-{street}-{community}-{grid:03d}"
    result = gridgeo.partition(coded, buildings, households="hh_est", code_scheme=template, **CODE_OPTIONS)
    codes = result.grids["standard_code"]
    assert codes.str.fullmatch(r"110105-00\d-00\d-\d{3}").all()
    assert all(validate_code(c, template, strict=True) for c in codes)
    assert not validate_code("110105-001-001-000", template)  # template grids count from 1
    assert check_standard_codes(result.grids, template) == []
    assert result.report["parameters"]["code_scheme"] == template


def test_default_scheme_changes_nothing(sample):
    communities, buildings = sample
    result = gridgeo.partition(communities, buildings, **SAMPLE_OPTIONS)
    assert not {"standard_code", "valid_from", "valid_to", "responsible_unit"} & set(result.grids.columns)
    assert all(validate_code(c, "default") for c in result.grids["grid_code"])
    assert result.report["parameters"]["code_scheme"] == "default"


def test_too_many_grids_for_the_grid_field_names_the_community(taipei_small):
    communities, buildings = taipei_small
    coded = with_codes(communities, "community_id")
    with pytest.raises(InputError) as info:
        gridgeo.partition(coded, buildings, households="hh_est", grid_size="100:200", code_scheme="{county}{street}{community}{grid:01d}", **CODE_OPTIONS)
    message = str(info.value)
    assert "community 6300600015 has 15 grids" in message and "at most 9" in message
    # CJ/T 349-2010 numbers at most 99 grids per community: the same check on 100 grids of one real community
    grids = gpd.GeoDataFrame(
        {"grid_code": [f"001-{i:03d}" for i in range(1, 101)], "community_id": "6300600015"},
        geometry=[communities.geometry.iloc[1]] * 100,
        crs=communities.crs,
    )
    admin = admin_codes(coded.set_index("community_id"), scheme="cjt349", **CODE_OPTIONS)
    with pytest.raises(InputError, match="community 6300600015 has 100 grids, but CJ/T 349-2010 numbers at most 99"):
        add_standard_codes(grids, admin, scheme="cjt349", object_class="120000")
    assert len(add_standard_codes(grids.iloc[:99], admin, scheme="cjt349", object_class="120000")) == 99


# -- validity dates and responsible units ----------------------------------------------------------------------------


def test_dates_and_responsible_units_on_every_grid(db11, sample_coded):
    grids = db11.grids
    assert set(grids["valid_from"]) == {"2024-01-01"} and set(grids["valid_to"]) == {"2026-12-31"}
    units = dict(zip(sample_coded[0]["comm_id"].astype(str), sample_coded[0]["zr"]))
    assert grids["responsible_unit"].tolist() == [units[c] for c in grids["community_id"]]
    assert db11.report["parameters"]["valid_from"] == "2024-01-01"


@pytest.mark.parametrize(
    "valid_from, valid_to, message",
    [
        ("2024-02-30", None, "--valid-from: '2024-02-30' is not a date"),
        ("2024/01/01", None, "--valid-from: '2024/01/01' is not a date"),
        (None, "tomorrow", "--valid-to: 'tomorrow' is not a date"),
        ("2025-01-01", "2024-12-31", "--valid-to: 2024-12-31 is before --valid-from 2025-01-01"),
    ],
)
def test_bad_dates_are_input_errors(sample, valid_from, valid_to, message):
    communities, buildings = sample
    with pytest.raises(InputError) as info:
        gridgeo.partition(communities, buildings, **SAMPLE_OPTIONS, valid_from=valid_from, valid_to=valid_to)
    assert message in str(info.value) and "fix:" in str(info.value)


# -- exports ----------------------------------------------------------------------------------------------------------


def test_codes_in_every_export(tmp_path, sample_coded):
    communities, _ = sample_coded
    path = tmp_path / "communities.gpkg"
    communities.to_file(path, layer="communities")
    out = tmp_path / "out"
    args = [
        "partition", str(path), str(SAMPLE / "buildings.shp"), "--households", "hh_est", "--community-id", "comm_id",
        "--code-scheme", "cjt349", "--object-class", "120000", "--district-code-column", "xq", "--street-code-column", "jd",
        "--community-code-column", "sq", "--valid-from", "2024-01-01", "--responsible-unit-column", "zr",
        "--format", "csv,xlsx,shp", "--no-map", "--no-report", "-o", str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    gpkg = gpd.read_file(out / "partition.gpkg", layer="grids")
    # GDAL's GeoJSON reader turns date-like text into dates: read the properties as written
    features = json.loads((out / "grids.geojson").read_text(encoding="utf-8"))["features"]
    geojson = pd.DataFrame([f["properties"] for f in features])
    for frame in (gpkg, geojson):
        assert frame["standard_code"].map(lambda c: validate_code(c, "cjt349")).all()
        assert set(frame["valid_from"]) == {"2024-01-01"}
        assert frame["responsible_unit"].str.startswith("街道办事处").all()
    assert gpkg["standard_code"].tolist() == geojson["standard_code"].tolist()
    roster = pd.read_csv(out / "roster.csv", dtype=str, encoding="utf-8-sig")
    assert list(roster.columns[:2]) == ["网格编码", "网格标准编码"]
    assert roster["网格标准编码"].tolist() == gpkg.sort_values("grid_code")["standard_code"].tolist()
    assert {"有效期起", "责任单位"} <= set(roster.columns)
    workbook = pd.read_excel(out / "roster.xlsx", sheet_name="grids", dtype=str)
    assert workbook["网格标准编码"].tolist() == roster["网格标准编码"].tolist()
    shp = gpd.read_file(out / "shp" / "grids.shp")
    assert shp["std_code"].tolist() == gpkg["standard_code"].tolist()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["parameters"]["code_scheme"] == "cjt349" and report["parameters"]["object_class"] == "120000"
    assert report["parameters"]["county_code_column"] == "xq"
    # the saved configuration repeats the run exactly (district-code-column is saved as county_code_column)
    again = tmp_path / "again"
    result = CliRunner().invoke(main, ["partition", "--config", str(out / "config.toml"), "-o", str(again)])
    assert result.exit_code == 0, result.output
    assert (again / "grids.geojson").read_bytes() == (out / "grids.geojson").read_bytes()


def test_english_roster_lists_the_standard_code_after_grid_code(db11):
    roster = grid_roster(db11)
    assert list(roster.columns[:2]) == ["grid_code", "standard_code"]
    after_reason = list(roster.columns).index("reason") + 1
    assert list(roster.columns[after_reason : after_reason + 3]) == ["valid_from", "valid_to", "responsible_unit"]


def test_toml_config_keys(tmp_path, sample_coded):
    communities, _ = sample_coded
    path = tmp_path / "communities.gpkg"
    communities.to_file(path, layer="communities")
    config = tmp_path / "run.toml"
    config.write_text(
        "\n".join(
            [
                f'communities = "{path}"',
                f'buildings = "{SAMPLE / "buildings.shp"}"',
                'households = "hh_est"',
                'community-id = "comm_id"',
                'code-scheme = "db11"',
                'district-code-column = "xq"',
                'street_code_column = "jd"',
                'community-code-column = "sq"',
                "valid-from = 2024-07-01",  # a TOML date
                'valid-to = "2027-06-30"',
                'responsible-unit-column = "zr"',
                "map = false",
                "report = false",
            ]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "o"
    result = CliRunner().invoke(main, ["partition", "--config", str(config), "-o", str(out)])
    assert result.exit_code == 0, result.output
    grids = gpd.read_file(out / "partition.gpkg", layer="grids")
    assert grids["standard_code"].map(lambda c: validate_code(c, "db11")).all()
    assert set(grids["valid_from"]) == {"2024-07-01"} and set(grids["valid_to"]) == {"2027-06-30"}


# -- input errors -----------------------------------------------------------------------------------------------------


def test_bad_admin_codes_exit_2_with_one_message(tmp_path, sample_coded):
    communities, _ = sample_coded
    bad = communities.copy()
    bad["xq"] = ["110105", None, "11010", "1101O5"]
    bad["jd"] = ["001", "01", "001", "002"]
    bad["sq"] = ["001", "002", "650", "002"]
    path = tmp_path / "bad_codes.gpkg"
    bad.to_file(path, layer="communities")
    out = tmp_path / "out"
    args = [
        "partition", str(path), str(SAMPLE / "buildings.shp"), "--households", "hh_est", "--community-id", "comm_id",
        "--code-scheme", "cjt349", "--object-class", "12000", "--county-code-column", "xq", "--street-code-column", "jd",
        "--community-code-column", "sq", "-o", str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.count("Error:") == 1 and "Traceback" not in result.output
    assert "5 problems in the input" in result.output
    for expected in (
        "--object-class: '12000' is not 6 digits",
        "bad_codes.gpkg: row 2: county code 'xq' is missing",
        "bad_codes.gpkg: rows 3, 4: county code 'xq' is not 6 digits ('11010', '1101O5')",
        "bad_codes.gpkg: row 2: street code 'jd' is not 3 digits ('01')",
        "bad_codes.gpkg: row 3: community code 'sq' (650) is in 601–999",
        "fix: give the 6-digit county (district) code",
    ):
        assert expected in result.output, expected
    assert not out.exists()


def test_missing_code_columns_and_options_are_named(sample):
    communities, buildings = sample
    with pytest.raises(InputError) as info:
        gridgeo.partition(communities, buildings, **SAMPLE_OPTIONS, code_scheme="db11", county_code_column="xq", street_code_column="district")
    text = str(info.value)
    assert "has no column 'xq' (--county-code-column)" in text and "comm_id, name, district, full_name" in text
    assert "street code 'district' is not 3 digits ('萬華區')" in text
    assert "--community-code-column COL" in text


def test_shared_codes_and_numbers_stored_as_numbers(sample_coded):
    communities, _ = sample_coded
    numeric = communities.assign(xq=110105, jd=communities["jd"].astype(int), sq=communities["sq"].astype(int))
    notes: list[str] = []
    codes = admin_codes(numeric, scheme="db11", notes=notes, **CODE_OPTIONS)
    assert codes.to_dict("records") == admin_codes(communities, scheme="db11", **CODE_OPTIONS).to_dict("records")
    assert "zero-padded" in notes[0]
    shared = communities.assign(jd="001", sq="001")
    with pytest.raises(InputError, match=r"rows 1, 2, 3, 4: communities share the codes 110105-001-001"):
        admin_codes(shared, scheme="db11", **CODE_OPTIONS)
    # a template without the street cannot tell communities of different streets apart
    with pytest.raises(InputError, match="or add the missing fields to the template"):
        admin_codes(communities, scheme="{county}{community}{grid}", **CODE_OPTIONS)


@pytest.mark.parametrize(
    "template, message",
    [
        ("{county}{street}{community}{village}{grid}", "unknown field {village}"),
        ("{county.real}{grid}", "unknown field {county.real}"),
        ("{0}{grid}", "unknown field {0}"),
        ("{county}{street:02d}{community}{grid}", "gives {street} 2 digits, but the code has 3"),
        ("{county}{grid:>5}", "formats {grid} as '>5'"),
        ("{county!r}{grid}", "converts {county} with !r"),
        ("{county}{county}{grid}", "has {county} twice"),
        ("{county}{street}{community}", "has no {grid}"),
        ("{county}{grid", "is not a valid template"),
        ("cjt-349", "unknown code scheme 'cjt-349'"),
    ],
)
def test_bad_templates_are_clear_errors(template, message):
    with pytest.raises(InputError) as info:
        parse_code_scheme(template)
    assert message in str(info.value) and "fix:" in str(info.value)


def test_template_with_an_unknown_field_through_the_cli(tmp_path):
    args = ["partition", str(SAMPLE / "communities.shp"), str(SAMPLE / "buildings.shp"), "--households", "hh_est", "--code-scheme", "{county}{jiedao}{grid}", "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "--code-scheme: the template '{county}{jiedao}{grid}' has the unknown field {jiedao}" in result.output
    assert "{object_class}, {county}, {district}, {street}, {community}, {grid}" in result.output


# -- the validators ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, scheme, problem",
    [
        ("12000011010500100203", "cjt349", None),
        ("12000011010500100200", "cjt349", None),  # undivided community
        ("12000011010500160101", "cjt349", None),  # 601+: a grid merged from several communities
        ("1200001101050010020", "cjt349", "has 19 characters, CJ/T 349-2010 codes have 20"),
        ("1200001101050010020x", "cjt349", "has characters other than the digits 0–9"),
        ("12000099010500100203", "cjt349", "county code 990105 does not start with a GB/T 2260 province code"),
        ("12000011010500000203", "cjt349", "street code 000 is 0"),
        ("12000011010500100003", "cjt349", "community code 000 is 0"),
        ("110105001002999", "db11", None),
        ("110105001002000", "db11", "grid number 000 is not in 001–999"),
        ("11010500100200", "db11", "has 14 characters, DB11/T 2157-2023 codes have 15"),
        ("003-07", "default", None),
        ("003-00", "default", "grid number 0"),
        ("11010500100207", "{county}{street}{community}{grid}", None),
    ],
)
def test_code_problem(code, scheme, problem):
    assert code_problem(code, scheme) == problem
    assert validate_code(code, scheme) is (problem is None)
    if problem is not None:
        with pytest.raises(ValueError, match=problem):
            validate_code(code, scheme, strict=True)


def test_audit_catches_broken_standard_codes(cjt349, sample):
    _, buildings = sample
    assert audit_partition(cjt349, buildings, quality=False) == []
    grids = cjt349.grids.copy()
    codes = grids["standard_code"].tolist()
    codes[0], codes[1] = codes[1], codes[0]
    broken = gridgeo.Partition(cjt349.communities, grids.assign(standard_code=codes), cjt349.buildings, cjt349.units, cjt349.unassigned, cjt349.report)
    assert any("do not follow the grid_code order" in p for p in audit_partition(broken, buildings, quality=False))
    codes[0] = codes[0][:-2] + "AB"
    broken.grids = grids.assign(standard_code=codes)
    assert any("not valid CJ/T 349-2010 codes" in p for p in audit_partition(broken, buildings, quality=False))


# -- determinism ------------------------------------------------------------------------------------------------------


def test_codes_do_not_depend_on_row_order(cjt349, sample_coded):
    communities, buildings = sample_coded
    before = communities.copy()
    rng = np.random.default_rng(7)
    shuffled_c = communities.iloc[rng.permutation(len(communities))]
    shuffled_b = buildings.iloc[rng.permutation(len(buildings))]
    again = gridgeo.partition(shuffled_c, shuffled_b, **SAMPLE_OPTIONS, code_scheme="cjt349", object_class="120000", **CODE_OPTIONS)
    first = dict(zip(cjt349.grids["grid_code"], cjt349.grids["standard_code"]))
    second = dict(zip(again.grids["grid_code"], again.grids["standard_code"]))
    assert first == second
    pd.testing.assert_frame_equal(communities, before)  # the input is never modified
    assert "standard_code" not in shuffled_c.columns
