"""Provider scorecards on the GB/T 36344 dimensions, kept as history per department and run.

Revision ID: 0004_provider_scorecards
Revises: 0003_quality_gates
Create Date: 2026-11-22
"""

from typing import Sequence, Union

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0004_provider_scorecards"
down_revision: Union[str, Sequence[str], None] = "0003_quality_gates"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create this revision's tables and columns."""


def downgrade() -> None:
    """Drop this revision's tables and columns."""
