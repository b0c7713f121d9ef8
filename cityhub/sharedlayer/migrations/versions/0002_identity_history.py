"""Persistent resident identities: resident_id_history, review_queue, match evidence on resident_xref.

Revision ID: 0002_identity_history
Revises: 0001_initial
Create Date: 2026-11-22
"""

from typing import Sequence, Union

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0002_identity_history"
down_revision: Union[str, Sequence[str], None] = "0001_initial"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create this revision's tables and columns."""


def downgrade() -> None:
    """Drop this revision's tables and columns."""
