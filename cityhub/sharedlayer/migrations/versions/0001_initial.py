"""Initial shared layer: resolved tables, quarantine, dataset versions, pipeline runs.

Mirrors cityhub/sharedlayer/schema.py as it was when written; later changes go in new revisions.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEY = sa.String(255)
RUN_ID = sa.String(64)
NAME = sa.String(128)


def upgrade() -> None:
    """Create the managed tables."""
    op.create_table(
        "resident",
        sa.Column("resident_id", KEY, nullable=False),
        sa.Column("id_number", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("gender", sa.Text),
        sa.Column("birth_date", sa.Date),
        sa.Column("ethnicity", sa.Text),
        sa.Column("marital_status", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("hukou_address", sa.Text),
        sa.Column("hukou_admin_code", sa.Text),
        sa.Column("current_address", sa.Text),
        sa.Column("current_admin_code", sa.Text),
        sa.Column("death_date", sa.Date),
        sa.Column("is_deceased", sa.Boolean),
        sa.Column("record_count", sa.Integer),
        sa.Column("sources", sa.Text),
        sa.Column("run_id", RUN_ID),
        sa.PrimaryKeyConstraint("resident_id", name="pk_resident"),
    )
    op.create_index("ix_resident_id_number", "resident", ["id_number"])

    op.create_table(
        "resident_xref",
        sa.Column("record_key", KEY, nullable=False),
        sa.Column("source", NAME),
        sa.Column("stream", NAME),
        sa.Column("source_record_id", KEY),
        sa.Column("resident_id", KEY, nullable=False),
        sa.Column("match_rule", sa.Text),
        sa.Column("match_probability", sa.Float),
        sa.Column("batch_id", KEY),
        sa.Column("run_id", RUN_ID),
        sa.PrimaryKeyConstraint("record_key", name="pk_resident_xref"),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.resident_id"], name="fk_resident_xref_resident_id_resident"),
    )
    op.create_index("ix_resident_xref_resident_id", "resident_xref", ["resident_id"])

    op.create_table(
        "resident_lineage",
        sa.Column("resident_id", KEY, nullable=False),
        sa.Column("attribute", NAME, nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("record_key", KEY),
        sa.Column("source", NAME),
        sa.Column("rule", sa.Text),
        sa.PrimaryKeyConstraint("resident_id", "attribute", name="pk_resident_lineage"),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.resident_id"], name="fk_resident_lineage_resident_id_resident"),
    )

    op.create_table(
        "quarantine",
        sa.Column("run_id", RUN_ID, nullable=False),
        sa.Column("record_key", KEY, nullable=False),
        sa.Column("rule", NAME, nullable=False),
        sa.Column("source", NAME),
        sa.Column("stream", NAME),
        sa.Column("source_record_id", KEY),
        sa.Column("batch_id", KEY),
        sa.Column("reason", sa.Text),
        sa.Column("value", sa.Text),
        sa.PrimaryKeyConstraint("run_id", "record_key", "rule", name="pk_quarantine"),
    )

    op.create_table(
        "dataset_version",
        sa.Column("dataset", NAME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("run_id", RUN_ID, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("previous_version", sa.Integer),
        sa.PrimaryKeyConstraint("dataset", "version", name="pk_dataset_version"),
    )

    op.create_table(
        "pipeline_run",
        sa.Column("run_id", RUN_ID, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("run_id", name="pk_pipeline_run"),
    )


def downgrade() -> None:
    """Drop the managed tables (department fact tables are left alone)."""
    op.drop_table("pipeline_run")
    op.drop_table("dataset_version")
    op.drop_table("quarantine")
    op.drop_table("resident_lineage")
    op.drop_index("ix_resident_xref_resident_id", table_name="resident_xref")
    op.drop_table("resident_xref")
    op.drop_index("ix_resident_id_number", table_name="resident")
    op.drop_table("resident")
