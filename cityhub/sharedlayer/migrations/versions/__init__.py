"""Alembic revision files of the shared layer."""
