"""Quality gates: quarantine entries kept across runs, opened by a rejected record and closed by its fixed version.

Revision ID: 0003_quality_gates
Revises: 0002_identity_history
Create Date: 2026-11-22
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003_quality_gates"
down_revision: Union[str, Sequence[str], None] = "0002_identity_history"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEY = sa.String(255)
RUN_ID = sa.String(64)
NAME = sa.String(128)


def upgrade() -> None:
    """Create quarantine_entry (a record's rule from the run that opened it until a run closes it) and gate_outcome."""
    op.create_table(
        "quarantine_entry",
        sa.Column("record_key", KEY, nullable=False),
        sa.Column("rule", NAME, nullable=False),
        sa.Column("opened_run", RUN_ID, nullable=False),
        sa.Column("source", NAME),
        sa.Column("stream", NAME),
        sa.Column("source_record_id", KEY),
        sa.Column("batch_id", KEY),
        sa.Column("reason", sa.Text),
        sa.Column("value", sa.Text),
        sa.Column("last_seen_run", RUN_ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_run", RUN_ID),
        sa.Column("closed_by_record_key", KEY),
        sa.Column("closed_by_batch_id", KEY),
        sa.PrimaryKeyConstraint("record_key", "rule", "opened_run", name="pk_quarantine_entry"),
    )
    op.create_index("ix_quarantine_entry_status", "quarantine_entry", ["status"])
    op.create_table(
        "gate_outcome",
        sa.Column("run_id", RUN_ID, nullable=False),
        sa.Column("dataset", NAME, nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("unexpected_count", sa.BigInteger),
        sa.Column("held", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "dataset", "rule", name="pk_gate_outcome"),
    )


def downgrade() -> None:
    """Drop gate_outcome and quarantine_entry."""
    op.drop_table("gate_outcome")
    op.drop_index("ix_quarantine_entry_status", table_name="quarantine_entry")
    op.drop_table("quarantine_entry")
