"""What the shared layer holds now: schema revision, each dataset's live version, recent pipeline runs."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from cityhub.publish.versions import latest_versions
from cityhub.sharedlayer import engine_for, head_revision, normalise_url
from cityhub.sharedlayer.engine import sqlite_file
from cityhub.sharedlayer.migrate import revision_of
from cityhub.sharedlayer.schema import dataset_version, pipeline_run


def shared_layer_status(url: str, runs: int = 10) -> dict[str, Any]:
    """Revision, per-dataset latest version/row_count/published_at/run_id, and the last `runs` pipeline runs.

    `datasets` is a list sorted by dataset name; `runs` is newest first, summaries parsed from JSON.
    """
    status: dict[str, Any] = {
        "url": normalise_url(url).render_as_string(hide_password=True),
        "exists": True,
        "revision": None,
        "head": head_revision(),
        "up_to_date": False,
        "datasets": [],
        "runs": [],
    }
    database_file = sqlite_file(url)
    if database_file is not None and not database_file.exists():
        status["exists"] = False  # reading status must not create an empty database file
        return status
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            status["revision"] = revision_of(connection)
            status["up_to_date"] = status["revision"] == status["head"]
            tables = set(sa.inspect(connection).get_table_names())
            if dataset_version.name in tables:
                status["datasets"] = _datasets(connection)
            if pipeline_run.name in tables:
                status["runs"] = _runs(connection, runs)
    finally:
        engine.dispose()
    return status


def _datasets(connection: sa.Connection) -> list[dict[str, Any]]:
    return [
        {
            "dataset": name,
            "version": row.version,
            "row_count": row.row_count,
            "published_at": _iso(row.published_at),
            "run_id": row.run_id,
            "status": row.status,
            "previous_version": row.previous_version,
        }
        for name, row in sorted(latest_versions(connection).items())
    ]


def _runs(connection: sa.Connection, limit: int) -> list[dict[str, Any]]:
    # A run recorded only at its end has no started_at; its end time places it instead.
    moment = sa.func.coalesce(pipeline_run.c.started_at, pipeline_run.c.finished_at)
    query = sa.select(pipeline_run).order_by(moment.desc(), pipeline_run.c.run_id.desc()).limit(limit)
    return [
        {
            "run_id": row.run_id,
            "status": row.status,
            "started_at": _iso(row.started_at),
            "finished_at": _iso(row.finished_at),
            "summary": json.loads(row.summary) if row.summary else None,
            "error": row.error,
        }
        for row in connection.execute(query)
    ]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    # SQLite keeps no offset; every time the shared layer writes is UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()
