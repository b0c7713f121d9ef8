"""The shared layer: the published SQL database (embedded SQLite or PostgreSQL), its schema and migrations."""

from .engine import engine_for, is_sqlite, normalise_url
from .migrate import current_revision, head_revision, upgrade
from .runs import RUN_STATUSES, record_run_end, record_run_start

__all__ = [
    "engine_for", "is_sqlite", "normalise_url", "upgrade", "current_revision", "head_revision",
    "record_run_start", "record_run_end", "RUN_STATUSES",
]
