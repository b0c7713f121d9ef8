"""Alembic migrations of the shared layer on SQLite and PostgreSQL, and the engines they run on."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cityhub.sharedlayer import current_revision, engine_for, head_revision, normalise_url, upgrade
from cityhub.sharedlayer.schema import metadata

MANAGED_TABLES = {
    "resident", "resident_xref", "resident_lineage", "quarantine", "dataset_version", "pipeline_run", "review_queue",
    "resident_id_history",
}


def test_upgrade_reaches_head_and_is_idempotent(db_url):
    assert current_revision(db_url) is None
    assert upgrade(db_url) == head_revision()
    assert upgrade(db_url) == head_revision()
    engine = engine_for(db_url)
    try:
        with engine.connect() as connection:
            assert MANAGED_TABLES <= set(sa.inspect(connection).get_table_names())
            assert connection.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()
    assert current_revision(db_url) == head_revision()


def test_schema_module_and_migrations_agree(db_url):
    upgrade(db_url)
    engine = engine_for(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_keys_types_and_indexes(db_url):
    upgrade(db_url)
    engine = engine_for(db_url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            assert inspector.get_pk_constraint("resident")["constrained_columns"] == ["resident_id"]
            assert inspector.get_pk_constraint("resident_xref")["constrained_columns"] == ["record_key"]
            assert inspector.get_pk_constraint("resident_lineage")["constrained_columns"] == ["resident_id", "attribute"]
            assert inspector.get_pk_constraint("quarantine")["constrained_columns"] == ["run_id", "record_key", "rule"]
            assert inspector.get_pk_constraint("dataset_version")["constrained_columns"] == ["dataset", "version"]
            assert ["resident_id"] in [index["column_names"] for index in inspector.get_indexes("resident_xref")]
            types = {column["name"]: column["type"] for column in inspector.get_columns("resident")}
            assert isinstance(types["birth_date"], sa.Date)
            assert isinstance(types["is_deceased"], (sa.Boolean, sa.Integer))  # SQLite reflects BOOLEAN as such
            assert isinstance({c["name"]: c["type"] for c in inspector.get_columns("resident_xref")}["match_probability"], sa.Float)
    finally:
        engine.dispose()


def test_sqlite_engine_uses_wal_foreign_keys_and_busy_timeout(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path / 'nested' / 'shared.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        engine.dispose()


def test_sqlite_ddl_is_rolled_back_with_its_transaction(tmp_path):
    # The publisher relies on this to create fact tables inside the publish transaction.
    engine = engine_for(f"sqlite:///{tmp_path / 'shared.db'}")
    try:
        with pytest.raises(RuntimeError), engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE fact_new (fact_key TEXT PRIMARY KEY)")
            connection.exec_driver_sql("INSERT INTO fact_new VALUES ('a')")
            raise RuntimeError("fail after DDL")
        with engine.connect() as connection:
            assert not sa.inspect(connection).has_table("fact_new")
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(db_url):
    upgrade(db_url)
    engine = engine_for(db_url)
    try:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO resident_xref (record_key, resident_id) VALUES ('x:y:1', 'NO-SUCH-RESIDENT')"))
    finally:
        engine.dispose()


def test_plain_postgresql_urls_mean_psycopg():
    assert normalise_url("postgresql://postgres@127.0.0.1/test").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://postgres@127.0.0.1/test").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_identity_history_tables(db_url):
    upgrade(db_url)
    engine = engine_for(db_url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            assert "match_evidence" in {c["name"] for c in inspector.get_columns("resident_xref")}
            assert inspector.get_pk_constraint("review_queue")["constrained_columns"] == ["run_id", "record_key", "other_record_key", "reason"]
            indexed = [index["column_names"] for index in inspector.get_indexes("resident_id_history")]
            assert ["old_resident_id"] in indexed and ["new_resident_id"] in indexed
    finally:
        engine.dispose()
