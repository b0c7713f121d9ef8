"""Persistent resident identities: resident_id_history, review_queue, match evidence on resident_xref.

Revision ID: 0002_identity_history
Revises: 0001_initial
Create Date: 2026-11-22
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002_identity_history"
down_revision: Union[str, Sequence[str], None] = "0001_initial"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEY = sa.String(255)
RUN_ID = sa.String(64)


def upgrade() -> None:
    """Add resident_xref.match_evidence, review_queue and resident_id_history."""
    # batch mode: SQLite cannot ALTER most things in place (adding a nullable column it can, but
    # batch keeps the revision portable if this ever grows).
    with op.batch_alter_table("resident_xref") as batch:
        batch.add_column(sa.Column("match_evidence", sa.Text))

    op.create_table(
        "review_queue",
        sa.Column("run_id", RUN_ID, nullable=False),
        sa.Column("record_key", KEY, nullable=False),
        sa.Column("other_record_key", KEY, nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("match_probability", sa.Float),
        sa.Column("evidence", sa.Text),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.PrimaryKeyConstraint("run_id", "record_key", "other_record_key", "reason", name="pk_review_queue"),
    )

    op.create_table(
        "resident_id_history",
        sa.Column("history_id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("old_resident_id", KEY, nullable=False),
        sa.Column("new_resident_id", KEY),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("run_id", RUN_ID, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_count", sa.Integer),
        sa.PrimaryKeyConstraint("history_id", name="pk_resident_id_history"),
    )
    op.create_index("ix_resident_id_history_old_resident_id", "resident_id_history", ["old_resident_id"])
    op.create_index("ix_resident_id_history_new_resident_id", "resident_id_history", ["new_resident_id"])
    op.create_index("ix_resident_id_history_run_id", "resident_id_history", ["run_id"])


def downgrade() -> None:
    """Drop resident_id_history, review_queue and resident_xref.match_evidence."""
    op.drop_index("ix_resident_id_history_run_id", table_name="resident_id_history")
    op.drop_index("ix_resident_id_history_new_resident_id", table_name="resident_id_history")
    op.drop_index("ix_resident_id_history_old_resident_id", table_name="resident_id_history")
    op.drop_table("resident_id_history")
    op.drop_table("review_queue")
    with op.batch_alter_table("resident_xref") as batch:
        batch.drop_column("match_evidence")
