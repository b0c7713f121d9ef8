"""Engines for the shared layer: embedded SQLite (WAL, foreign keys, real transactions) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def normalise_url(url: str | sa.URL) -> sa.URL:
    """Parse a shared layer URL; plain `postgresql://` and `postgres://` mean psycopg 3 (the only driver installed)."""
    parsed = sa.make_url(str(url)) if not isinstance(url, sa.URL) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | sa.URL) -> bool:
    """Whether a URL points at SQLite."""
    return normalise_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str | sa.URL) -> Path | None:
    """The database file of a SQLite URL (None for in-memory databases and other backends)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def engine_for(url: str | sa.URL) -> sa.Engine:
    """A new Engine for the shared layer at `url`; dispose of it when done."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(parsed)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection, _record) -> None:
    # pysqlite opens transactions only before DML and never before DDL; taking BEGIN into our own
    # hands (see _begin_sqlite_transaction) makes CREATE/ALTER TABLE part of the publish transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers keep reading the previous version while a publish is being written.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: sa.Connection) -> None:
    # Writers ask for `sqlite_begin="IMMEDIATE"` to take the write lock up front: a deferred
    # transaction that reads first and writes later can fail on lock upgrade without waiting.
    mode = connection.get_execution_options().get("sqlite_begin", "")
    if mode not in ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
        raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, got {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def writer_connection(engine: sa.Engine) -> sa.Connection:
    """A connection whose transactions take the database's write lock at BEGIN on SQLite."""
    return engine.connect().execution_options(sqlite_begin="IMMEDIATE")
