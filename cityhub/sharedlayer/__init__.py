"""The shared layer: the published SQL database (embedded SQLite or PostgreSQL), its schema and migrations."""

from .engine import engine_for, is_sqlite, normalise_url
from .migrate import current_revision, head_revision, upgrade

__all__ = ["engine_for", "is_sqlite", "normalise_url", "upgrade", "current_revision", "head_revision"]
