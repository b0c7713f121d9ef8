"""Alembic environment of the shared layer.

`cityhub.sharedlayer.upgrade()` hands over an open connection in `config.attributes["connection"]`
so that migrations run on an engine built by `engine_for` (SQLite pragmas, real transactions).
To write a new revision from a checkout:

    python -m cityhub.sharedlayer revision -m "what changes" --url sqlite:///scratch.db
"""

from __future__ import annotations

from alembic import context

from cityhub.sharedlayer.engine import engine_for
from cityhub.sharedlayer.schema import FACT_TABLE_PREFIX, metadata

config = context.config


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    # Department fact tables are managed by the publisher, not by migrations: never propose to drop them.
    if type_ == "table" and reflected and compare_to is None and name.startswith(FACT_TABLE_PREFIX):
        return False
    table = getattr(obj, "table", None)
    if table is not None and table.name.startswith(FACT_TABLE_PREFIX) and table.name not in metadata.tables:
        return False
    return True


def run_migrations(connection) -> None:
    """Run the pending migrations on an open connection."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can ALTER little; batch mode copies tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Use the caller's connection if given, else connect to `sqlalchemy.url`."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = engine_for(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the shared layer migrations run online only; call cityhub.sharedlayer.upgrade(url)")
run_online()
