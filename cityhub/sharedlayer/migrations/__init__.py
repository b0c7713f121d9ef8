"""Alembic migrations of the shared layer (run with cityhub.sharedlayer.upgrade, no alembic.ini needed)."""
