"""Department fact tables: created and widened by the publisher, inside the publish transaction."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.operations import Operations

from cityhub.sharedlayer.schema import FACT_KEY_COLUMNS

from .reader import PublishError


def ensure_fact_table(connection: sa.Connection, table: sa.Table) -> list[str]:
    """Create `table` if missing, else add the columns it lacks; returns the columns added."""
    inspector = sa.inspect(connection)
    if not inspector.has_table(table.name):
        table.create(connection)
        return [column.name for column in table.columns]
    existing = {column["name"] for column in inspector.get_columns(table.name)}
    not_facts = [name for name in FACT_KEY_COLUMNS if name not in existing]
    if not_facts:
        raise PublishError(f"table {table.name} exists but lacks the fact key columns {not_facts}; it is not a cityhub fact table, rename or drop it")
    added = [column for column in table.columns if column.name not in existing]
    # Alembic's operations render ADD COLUMN correctly for each backend; old columns are kept (a fact
    # dropped from a definition stays readable in history and is simply NULL from then on).
    operations = Operations(MigrationContext.configure(connection))
    for column in added:
        operations.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
    return [column.name for column in added]
