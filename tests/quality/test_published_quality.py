"""The published-dataset suites over SQL: dataset rules catch a dangling xref and a resident with two ID numbers.

The tables are plain copies of the published columns without constraints, as a staged load would be
before the gate lets it go live: the shared layer's own keys would refuse the planted rows outright.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from cityhub.quality.run import validate_published
from quality_data import MAN_1949, MAN_1980, WOMAN_1975

TABLES = [
    "CREATE TABLE resident (resident_id TEXT, id_number TEXT, name TEXT, gender TEXT, birth_date DATE, death_date DATE)",
    "CREATE TABLE resident_xref (record_key TEXT, source TEXT, stream TEXT, source_record_id TEXT, resident_id TEXT, match_rule TEXT)",
    "CREATE TABLE resident_lineage (resident_id TEXT, attribute TEXT, record_key TEXT)",
]
RESIDENTS = [
    {"resident_id": "r1", "id_number": MAN_1980, "name": "张三", "gender": "M", "birth_date": "1980-01-01", "death_date": None},
    {"resident_id": "r2", "id_number": WOMAN_1975, "name": "李四", "gender": "F", "birth_date": "1975-06-15", "death_date": None},
    {"resident_id": "r3", "id_number": MAN_1949, "name": "王五", "gender": "M", "birth_date": "1949-12-31", "death_date": "2020-05-01"},
]
XREFS = [
    {"record_key": "ps:rk_person:1", "source": "public_security", "stream": "rk_person", "source_record_id": "1", "resident_id": "r1", "match_rule": "id_number"},
    {"record_key": "ca:person:9", "source": "civil_affairs", "stream": "person", "source_record_id": "9", "resident_id": "r2", "match_rule": "id_number"},
    {"record_key": "hs:owner:4", "source": "housing", "stream": "owner", "source_record_id": "4", "resident_id": "r3", "match_rule": "name_birth_date"},
]
TWO_ID_NUMBERS = {**RESIDENTS[0], "id_number": MAN_1949}
DANGLING = {**XREFS[0], "record_key": "hs:owner:5", "source_record_id": "5", "resident_id": "r404"}


def load(url: str, residents: list[dict], xrefs: list[dict]) -> None:
    """Create the resident tables at `url` and insert the rows (lineage left empty)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for ddl in TABLES:
            connection.execute(sa.text(ddl))
        insert_rows(connection, "resident", residents)
        insert_rows(connection, "resident_xref", xrefs)
    engine.dispose()


def insert_rows(connection: sa.Connection, table: str, rows: list[dict]) -> None:
    """Insert dict rows into `table` by name."""
    columns = list(rows[0])
    placeholders = ", ".join(f":{column}" for column in columns)
    statement = sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})")
    if "birth_date" in columns:
        statement = statement.bindparams(sa.bindparam("birth_date", type_=sa.Date), sa.bindparam("death_date", type_=sa.Date))
        rows = [{**row, **{k: _date(row[k]) for k in ("birth_date", "death_date")}} for row in rows]
    connection.execute(statement, rows)


def _date(value):
    from datetime import date

    return date.fromisoformat(value) if value else None


def rule(result, suite: str, name: str):
    """The outcome of the dataset rule `name` (its meta.rule) in `suite`."""
    return result.outcome(suite, "unexpected_rows_expectation", name)


def assert_clean_tables_pass(url, report_dir):
    load(url, RESIDENTS, XREFS)
    result = validate_published(url, report_dir)
    assert [(o.suite, o.target, o.error) for o in result.failures()] == []
    assert not result.blocking
    assert result.data_docs is not None
    pages = "".join(page.read_text(encoding="utf-8") for page in result.data_docs.parent.rglob("*.html"))
    assert "values must not be dates in the future" in pages


def assert_planted_errors_are_caught(url, report_dir):
    load(url, RESIDENTS + [TWO_ID_NUMBERS], XREFS + [DANGLING])
    result = validate_published(url, report_dir)
    dangling = rule(result, "resident_xref", "xref_points_to_resident")
    assert (dangling.success, dangling.unexpected_count, dangling.severity, dangling.error) == (False, 1, "critical", None)
    two_ids = rule(result, "resident", "one_id_number_per_resident")
    assert (two_ids.success, two_ids.unexpected_count, two_ids.severity) == (False, 1, "critical")
    # The same number now on r1 and r3: one person split in two is a warning of its own.
    split = rule(result, "resident", "one_resident_per_id_number")
    assert (split.success, split.unexpected_count, split.severity) == (False, 1, "warning")
    assert rule(result, "resident", "resident_id_unique").unexpected_count == 1
    assert rule(result, "resident_xref", "record_key_unique").success
    assert result.blocking


def test_sqlite_clean_tables_pass(tmp_path):
    assert_clean_tables_pass(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path / "report")


def test_sqlite_dataset_rules_catch_dangling_xref_and_two_id_numbers(tmp_path):
    assert_planted_errors_are_caught(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path / "report")


@pytest.fixture
def postgres_database(postgres_url):
    """A throwaway database of its own on the test PostgreSQL, dropped afterwards."""
    name = f"cityhub_quality_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.integration
def test_postgres_dataset_rules_catch_dangling_xref_and_two_id_numbers(postgres_database, tmp_path):
    assert_planted_errors_are_caught(postgres_database, tmp_path / "report")
