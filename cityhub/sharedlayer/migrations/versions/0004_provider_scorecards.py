"""Provider scorecards on the GB/T 36344 dimensions, kept as history per department and run.

Revision ID: 0004_provider_scorecards
Revises: 0003_quality_gates
Create Date: 2026-11-22
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004_provider_scorecards"
down_revision: Union[str, Sequence[str], None] = "0003_quality_gates"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

RUN_ID = sa.String(64)
NAME = sa.String(128)


def upgrade() -> None:
    """Create provider_scorecard (scores per run, department, dimension) and provider_rule_failure (worst rules)."""
    op.create_table(
        "provider_scorecard",
        sa.Column("run_id", RUN_ID, nullable=False),
        sa.Column("source", NAME, nullable=False),
        sa.Column("dimension", sa.String(32), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("numerator", sa.BigInteger, nullable=False),
        sa.Column("denominator", sa.BigInteger, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "source", "dimension", name="pk_provider_scorecard"),
    )
    op.create_table(
        "provider_rule_failure",
        sa.Column("run_id", RUN_ID, nullable=False),
        sa.Column("source", NAME, nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("failing_count", sa.BigInteger, nullable=False),
        sa.Column("examples", sa.Text),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "source", "rule", name="pk_provider_rule_failure"),
    )


def downgrade() -> None:
    """Drop the scorecard tables."""
    op.drop_table("provider_rule_failure")
    op.drop_table("provider_scorecard")
