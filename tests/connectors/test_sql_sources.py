"""SQL connector on SQLite, the local PostgreSQL and the local MariaDB: full, chunked and incremental reads."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from connector_test_helpers import definition_from, read_batch

from connectors.errors import SourceDataError, SourceUnavailableError
from connectors.extract import check_source, extract_source

MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


def make_table(engine: sa.Engine, name: str, schema: str | None = None) -> sa.Table:
    table = sa.Table(
        name, sa.MetaData(schema=schema),
        sa.Column("rkid", sa.String(20), primary_key=True),
        sa.Column("姓名", sa.String(40)),  # a Chinese column name, as some departments use
        sa.Column("hjrs", sa.Integer),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    table.create(engine)
    return table


def insert(engine: sa.Engine, table: sa.Table, rows: list[tuple[str, str, int, str]]) -> None:
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"rkid": r, "姓名": n, "hjrs": h, "updated_at": datetime.fromisoformat(u)} for r, n, h, u in rows])


def sql_definition(url: str, table: str, schema: str | None = None, chunk_size: int = 3) -> dict:
    connection = {"url": url, "chunk_size": chunk_size, **({"schema": schema} if schema else {})}
    stream = {"name": "persons", "table": table, "primary_key": "rkid", "replication_key": "updated_at", "person": {"name": "姓名"}}
    return {"name": "hukou", "title": "hukou", "provider_code": "GA", "kind": "sql", "connection": connection, "streams": [stream]}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration), "mariadb"])
def database(request, tmp_path):
    """(url, schema, table, engine) on each backend, with a table name of the test's own; dropped afterwards."""
    name = f"cx_person_{uuid.uuid4().hex[:8]}"
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hukou.db'}"
    elif request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        schema = f"cx_{uuid.uuid4().hex[:8]}"
    else:
        url = MARIADB_URL
        try:
            sa.create_engine(url).connect().close()
        except Exception as exc:  # noqa: BLE001 - any failure to connect means MariaDB is not here
            pytest.skip(f"MariaDB not reachable at {url}: {exc}")
    engine = sa.create_engine(url)
    if schema:
        with engine.begin() as connection:
            connection.execute(sa.schema.CreateSchema(schema))
    table = make_table(engine, name, schema)
    yield url, schema, table, engine
    table.drop(engine)
    if schema:
        with engine.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema))
    engine.dispose()


def test_full_then_incremental_extraction(database, lake, state_dir):
    url, schema, table, engine = database
    insert(engine, table, [(f"P{i:03d}", f"居民{i}", i, f"2024-01-0{1 + i % 3} 10:00:00") for i in range(10)])
    definition = definition_from(sql_definition(url, table.name, schema))
    seen: list[int] = []
    first = extract_source(definition, lake, state_dir, "b1", progress=lambda stream, rows: seen.append(rows))
    rows = read_batch(first.streams["persons"].path)
    assert sorted(r["rkid"] for r in rows) == [f"P{i:03d}" for i in range(10)]
    assert seen == [3, 6, 9, 10]  # chunks of chunk_size from a server-side cursor
    by_id = {r["rkid"]: r for r in rows}
    assert by_id["P004"]["姓名"] == "居民4" and by_id["P004"]["hjrs"] == "4"
    assert by_id["P004"]["updated_at"].startswith("2024-01-02") and "10:00:00" in by_id["P004"]["updated_at"]
    bookmark = first.streams["persons"].bookmark_after
    assert bookmark.startswith("2024-01-03")

    # a row committed late with the bookmark's own timestamp, a changed row and a new row
    insert(engine, table, [("P100", "迟到", 1, "2024-01-03 10:00:00"), ("P101", "新人", 1, "2024-01-05 09:00:00")])
    with engine.begin() as connection:
        connection.execute(table.update().where(table.c.rkid == "P000").values(hjrs=99, updated_at=datetime(2024, 1, 4)))
    second = extract_source(definition, lake, state_dir, "b2")
    landed = {r["rkid"]: r for r in read_batch(second.streams["persons"].path)}
    assert set(landed) == {"P100", "P101", "P000"}  # not the rows at the old bookmark that b1 landed
    assert second.streams["persons"].skipped == 3
    assert landed["P000"]["hjrs"] == "99"
    assert second.streams["persons"].bookmark_before == bookmark
    assert second.streams["persons"].bookmark_after.startswith("2024-01-05")


def test_check_and_missing_table(database):
    url, schema, table, _ = database
    assert table.name in check_source(definition_from(sql_definition(url, table.name, schema)))
    with pytest.raises(SourceDataError, match="table `no_such_table` does not exist"):
        check_source(definition_from(sql_definition(url, "no_such_table", schema)))


def test_sqlite_text_timestamps_are_landed_and_compared_as_stored(tmp_path, lake, state_dir):
    """A DATETIME-declared SQLite column holding text keeps its text: bookmark and data compare alike."""
    url = f"sqlite:///{tmp_path / 'text.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (rkid TEXT PRIMARY KEY, xm TEXT, updated_at DATETIME)")
        connection.exec_driver_sql("INSERT INTO t VALUES ('A', '甲', '2024-01-01 10:00:00'), ('B', '乙', '2024-01-01 11:00:00')")
    definition = definition_from(sql_definition(url, "t"))
    first = extract_source(definition, lake, state_dir, "b1")
    assert first.streams["persons"].bookmark_after == "2024-01-01 11:00:00"
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES ('C', '丙', '2024-01-01 12:00:00')")
    second = extract_source(definition, lake, state_dir, "b2")
    assert [r["rkid"] for r in read_batch(second.streams["persons"].path)] == ["C"]


def test_unreachable_database_is_unavailable(lake, state_dir):
    definition = definition_from(sql_definition("postgresql+psycopg://nobody:pw@127.0.0.1:9/none", "t"))
    with pytest.raises(SourceUnavailableError) as caught:
        extract_source(definition, lake, state_dir, "b1")
    assert "127.0.0.1:9" in str(caught.value) and "pw" not in str(caught.value)
    assert not state_dir.exists() or not any(state_dir.iterdir())


def test_url_from_environment(tmp_path, lake, state_dir, monkeypatch):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    with sa.create_engine(url).begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (rkid TEXT PRIMARY KEY, xm TEXT, updated_at TEXT)")
    monkeypatch.setenv("TEST_HUKOU_URL", url)
    assert "tables t present" in check_source(definition_from(sql_definition("${TEST_HUKOU_URL}", "t")))
