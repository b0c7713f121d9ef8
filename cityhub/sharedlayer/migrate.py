"""Migrating the shared layer with Alembic, programmatically (migrations ship inside the package)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .engine import engine_for, normalise_url, writer_connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Two processes starting at once (say, two Airflow tasks) must not both create the tables.
_UPGRADE_LOCK_KEY = 0x6369747968756201  # "cityhub" + 1; any constant shared by all cityhub processes


def alembic_config(url: str | sa.URL | None = None) -> Config:
    """An Alembic Config whose script_location points into the installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser treats % as interpolation; URLs may hold %-escapes (passwords, options).
        rendered = normalise_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this version of cityhub."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(url: str | sa.URL, revision: str = "head") -> str | None:
    """Migrate the shared layer at `url` to `revision` (head by default); safe to call every time."""
    engine = engine_for(url)
    try:
        with writer_connection(engine) as connection, connection.begin():
            _take_upgrade_lock(connection)
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            return revision_of(connection)
    finally:
        engine.dispose()


def current_revision(url: str | sa.URL) -> str | None:
    """The revision the shared layer at `url` is at (None before the first upgrade)."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return revision_of(connection)
    finally:
        engine.dispose()


def revision_of(connection: sa.Connection) -> str | None:
    """The revision recorded in the database behind an open connection."""
    return MigrationContext.configure(connection).get_current_revision()


def _take_upgrade_lock(connection: sa.Connection) -> None:
    # SQLite is already serialised by BEGIN IMMEDIATE; PostgreSQL needs a lock held until commit.
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})
