"""PostGIS out and in, against a real PostgreSQL + PostGIS server (Debian's packages), never a mock.

The module fixture starts a throwaway cluster (``initdb`` into a temporary folder, ``pg_ctl start`` on a free
local port, trust authentication on 127.0.0.1 only) and stops it afterwards; as root it runs the server as the
``postgres`` user.  Without the server binaries or the PostGIS extension the tests are skipped
(``scripts/install-system-deps.sh`` installs them).  The plan is the real Taipei slice of ``tests/data``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from gridgeo.cli import main
from gridgeo.errors import InputError, OutputExistsError

from .conftest import DATA

psycopg = pytest.importorskip("psycopg")

LAYERS = ("communities", "grids", "buildings", "units")


def _bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _has_postgis(bindir: Path) -> bool:
    done = subprocess.run([str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False) if (bindir / "pg_config").exists() else None
    shares = [Path(done.stdout.strip())] if done and done.returncode == 0 else []
    shares += [Path(f"/usr/share/postgresql/{bindir.parent.name}")]
    return any((share / "extension" / "postgis.control").exists() for share in shares)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """A throwaway PostgreSQL cluster with PostGIS: the URL of its database ``planning``."""
    bindir = _bindir()
    if bindir is None or not _has_postgis(bindir):
        pytest.skip("PostgreSQL server binaries or the PostGIS extension are not installed (Debian: postgresql-15-postgis-3)")
    root = Path(tempfile.mkdtemp(prefix="gridgeo-pg-"))  # in /tmp itself: the postgres user must reach it
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(root, "postgres")
    port = _free_port()
    data = root / "data"

    def run(*args):
        done = subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "gridgeo", "-E", "UTF8", "--locale=C", "--no-sync")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(bindir / "pg_ctl", "-D", data, "-o", options, "-l", root / "server.log", "-w", "start")
    try:
        with psycopg.connect(f"postgresql://gridgeo@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE planning")
        url = f"postgresql://gridgeo@127.0.0.1:{port}/planning"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        yield url
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def plan(server, tmp_path_factory):
    """The Taipei slice partitioned with --to: the output folder, and the database schema ``plan``."""
    out = tmp_path_factory.mktemp("pg") / "out"
    args = [
        "partition", str(DATA / "taipei_small_communities.gpkg"), str(DATA / "taipei_small_buildings.gpkg"),
        "--households", "hh_est", "--building-id", "building_id", "--no-map", "--no-report", "--workers", "1",
        "-o", str(out), "--to", server, "--schema", "plan",
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "4 tables written into PostgreSQL schema plan" in result.output
    return out


def _tables(conn, schema: str) -> set[str]:
    return {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))}


def test_every_layer_is_a_table_matching_the_geopackage(server, plan):
    with psycopg.connect(server) as conn:
        assert _tables(conn, "plan") == set(LAYERS)
        for layer in LAYERS:
            stored = gpd.read_file(plan / "partition.gpkg", layer=layer)
            count, valid, srid = conn.execute(f"SELECT count(*), bool_and(ST_IsValid(geom)), max(ST_SRID(geom)) FROM plan.{layer}").fetchone()
            assert (count, valid, srid) == (len(stored), True, 4326), layer
        kinds = dict(conn.execute("SELECT f_table_name, type FROM geometry_columns WHERE f_table_schema = 'plan'").fetchall())
        assert kinds["units"] == "MULTIPOLYGON" and kinds["grids"] == "POLYGON" and "GEOMETRY" not in kinds.values()
        # row for row: codes, households and geometry
        grids = dict(conn.execute("SELECT grid_code, ST_AsBinary(geom) FROM plan.grids").fetchall())
        households = dict(conn.execute("SELECT grid_code, households FROM plan.grids").fetchall())
        stored = gpd.read_file(plan / "partition.gpkg", layer="grids")
        assert sorted(grids) == sorted(stored["grid_code"])
        for code, geometry, hh in zip(stored["grid_code"], stored.geometry, stored["households"]):
            assert shapely.equals_exact(shapely.from_wkb(bytes(grids[code])), geometry, tolerance=0) and households[code] == hh
        building_grids = dict(conn.execute("SELECT building_code, grid_code FROM plan.buildings").fetchall())
        buildings = gpd.read_file(plan / "partition.gpkg", layer="buildings")
        assert building_grids == dict(zip(buildings["building_code"], buildings["grid_code"]))


def test_grids_tile_each_community_in_sql(server, plan):
    with psycopg.connect(server) as conn:
        rows = conn.execute(
            """
            WITH g AS (SELECT grid_code, community_id, ST_Transform(geom, 3826) AS geom FROM plan.grids),
                 c AS (SELECT community_id, ST_Transform(geom, 3826) AS geom FROM plan.communities)
            SELECT c.community_id, ST_Area(c.geom),
                   ST_Area(ST_SymDifference(c.geom, (SELECT ST_Union(geom) FROM g WHERE g.community_id = c.community_id))),
                   (SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom))), 0) FROM g a JOIN g b
                      ON a.community_id = c.community_id AND b.community_id = c.community_id AND a.grid_code < b.grid_code AND ST_Intersects(a.geom, b.geom))
            FROM c
            """
        ).fetchall()
    assert len(rows) == 3
    for community, area, gap, overlap in rows:
        assert gap < 1e-3 * area and overlap < 1e-3 * area, (community, area, gap, overlap)


def test_keys_indexes_srid_and_comments(server, plan):
    with psycopg.connect(server) as conn:
        keys = dict(conn.execute(
            "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu "
            "ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema WHERE tc.table_schema = 'plan' AND tc.constraint_type = 'PRIMARY KEY'"
        ).fetchall())
        assert keys == {"communities": "community_code", "grids": "grid_code", "buildings": "building_code", "units": "unit_code"}
        foreign = set(conn.execute(
            "SELECT tc.table_name, kcu.column_name, ccu.table_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema "
            "JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name AND tc.table_schema = ccu.table_schema "
            "WHERE tc.table_schema = 'plan' AND tc.constraint_type = 'FOREIGN KEY'"
        ).fetchall())
        assert foreign == {("buildings", "grid_code", "grids"), ("units", "grid_code", "grids")}
        gist = {r[0] for r in conn.execute("SELECT tablename FROM pg_indexes WHERE schemaname = 'plan' AND indexdef LIKE '%USING gist (geom)%'")}
        assert gist == set(LAYERS)
        assert conn.execute("SELECT obj_description('plan.grids'::regclass)").fetchone()[0].startswith("网格")
        column = conn.execute(
            "SELECT col_description('plan.grids'::regclass, ordinal_position::int) FROM information_schema.columns "
            "WHERE table_schema = 'plan' AND table_name = 'grids' AND column_name = 'grid_code'"
        ).fetchone()[0]
        assert column.startswith("网格编码 / grid code")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("UPDATE plan.buildings SET grid_code = 'no-such-grid' WHERE building_code = (SELECT min(building_code) FROM plan.buildings)")


def test_existing_tables_need_overwrite_and_a_failure_changes_nothing(server, plan, monkeypatch):
    from gridgeo.outputs import postgis
    from gridgeo.result import read_outputs

    result = read_outputs(plan)
    with psycopg.connect(server) as conn:
        before = conn.execute("SELECT count(*), sum(households) FROM plan.grids").fetchone()
    with pytest.raises(OutputExistsError, match="plan.communities, plan.grids, plan.buildings, plan.units already exist"):
        postgis.write_postgis(result, server, schema="plan")
    cli = CliRunner().invoke(main, ["export", str(plan), "--to", server, "--schema", "plan"])
    assert cli.exit_code == 2 and "already exist — fix: pass --overwrite" in cli.output, cli.output
    # partition checks before the run: nothing is computed or written
    out = plan.parent / "refused"
    args = ["partition", str(DATA / "taipei_small_communities.gpkg"), str(DATA / "taipei_small_buildings.gpkg"), "--households", "hh_est", "-o", str(out), "--to", server, "--schema", "plan"]
    cli = CliRunner().invoke(main, args)
    assert cli.exit_code == 2 and "tables plan.communities, plan.grids, plan.buildings, plan.units already exist" in cli.output, cli.output
    assert not out.exists()
    # a failure in the middle of the transaction (the third table) leaves the schema as it was, old tables included
    write_table = postgis._write_table

    def failing(conn, schema, name, frame, srid):
        if name == "buildings":
            conn.execute("SELECT no_such_function()")
        return write_table(conn, schema, name, frame, srid)

    monkeypatch.setattr(postgis, "_write_table", failing)
    with pytest.raises(postgis.OutputError, match="nothing was written, schema plan is as it was"):
        postgis.write_postgis(result, server, schema="plan", overwrite=True)
    with pytest.raises(postgis.OutputError):
        postgis.write_postgis(result, server, schema="fresh")
    monkeypatch.undo()
    with psycopg.connect(server) as conn:
        assert conn.execute("SELECT count(*), sum(households) FROM plan.grids").fetchone() == before
        assert _tables(conn, "plan") == set(LAYERS)
        assert conn.execute("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'fresh'").fetchone()[0] == 0
    # with --overwrite the export replaces the tables
    again = CliRunner().invoke(main, ["export", str(plan), "--to", server, "--schema", "plan", "--overwrite"])
    assert again.exit_code == 0, again.output
    with psycopg.connect(server) as conn:
        assert conn.execute("SELECT count(*), sum(households) FROM plan.grids").fetchone() == before


def test_postgis_tables_as_inputs(server, plan, tmp_path):
    """postgresql://…#SCHEMA.TABLE wherever a file is accepted: the plan's own layers partition again identically."""
    communities = f"{server}#plan.communities"
    buildings = f"{server}#plan.buildings"
    out = tmp_path / "again"
    args = ["partition", communities, buildings, "--households", "households", "--community-id", "community_id", "--building-id", "building_code", "--no-map", "--no-report", "--workers", "1", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    first = gpd.read_file(plan / "partition.gpkg", layer="grids")
    second = gpd.read_file(out / "partition.gpkg", layer="grids")
    assert sorted(second["households"]) == sorted(first["households"]) and second["households"].sum() == first["households"].sum()
    assert f'communities = "{communities}"' in (out / "config.toml").read_text(encoding="utf-8")
    checked = CliRunner().invoke(main, ["validate", communities, buildings, "--households", "households", "--community-id", "community_id"])
    assert checked.exit_code == 0 and "OK: 3 communities, 284 buildings assigned" in checked.output, checked.output


def test_bad_database_inputs_are_clear_errors(server):
    from gridgeo.outputs.postgis import read_postgis

    with pytest.raises(InputError, match="there is no table plan.nothing"):
        read_postgis(f"{server}#plan.nothing")
    with pytest.raises(InputError, match="holds a password"):
        read_postgis(server.replace("gridgeo@", "gridgeo:secret@") + "#plan.grids")
    port = _free_port()
    result = CliRunner().invoke(main, ["validate", f"postgresql://gridgeo@127.0.0.1:{port}/planning#plan.communities", str(DATA / "taipei_small_buildings.gpkg")])
    assert result.exit_code == 1 and "cannot connect" in result.output and "Traceback" not in result.output, result.output
    result = CliRunner().invoke(main, ["export", "nowhere", "--to", server])
    assert result.exit_code == 2 and "--schema" in result.output


def test_export_says_what_it_wrote_on_stdout(server, plan):
    # its one line of summary went to stderr in English only: `gridgeo export … > export.log` logged nothing
    done = CliRunner().invoke(main, ["export", str(plan), "--to", server, "--schema", "summary"])
    assert done.exit_code == 0, done.output
    assert done.stdout == "4 tables written into PostgreSQL schema summary: summary.communities, summary.grids, summary.buildings, summary.units\n"
    assert done.stderr == ""
    zh = CliRunner(env={"LC_ALL": "zh_CN.UTF-8"}).invoke(main, ["export", str(plan), "--to", server, "--schema", "summary", "--overwrite"])
    assert zh.exit_code == 0 and zh.stdout.startswith("已写入 PostgreSQL 模式 summary 的 4 张表：summary.communities"), zh.output
