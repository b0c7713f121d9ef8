"""Pipeline runs in the shared layer: when each run started and ended, how it went, its summary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from .engine import engine_for, writer_connection
from .migrate import upgrade
from .schema import pipeline_run

# `partial`: some sources failed, the run published from what the lake holds (see cityhub.pipeline).
RUN_STATUSES = ("running", "success", "partial", "failed", "cancelled")


def record_run_start(url: str, run_id: str, status: str = "running", summary: Mapping[str, Any] | None = None) -> None:
    """Record that a run started (a restarted run id starts afresh)."""
    values = {"started_at": _now(), "finished_at": None, "status": _checked(status), "summary": _json(summary), "error": None}
    _upsert(url, run_id, values)


def record_run_end(url: str, run_id: str, status: str, summary: Mapping[str, Any] | None = None, error: str | None = None) -> None:
    """Record how a run ended; the summary replaces the start's only when one is given."""
    values = {"finished_at": _now(), "status": _checked(status), "error": error}
    if summary is not None:
        values["summary"] = _json(summary)
    _upsert(url, run_id, values)


def _upsert(url: str, run_id: str, values: dict[str, Any]) -> None:
    upgrade(url)
    engine = engine_for(url)
    try:
        with writer_connection(engine) as connection, connection.begin():
            exists = connection.execute(sa.select(pipeline_run.c.run_id).where(pipeline_run.c.run_id == run_id).with_for_update()).first()
            if exists:
                connection.execute(pipeline_run.update().where(pipeline_run.c.run_id == run_id).values(**values))
            else:
                connection.execute(pipeline_run.insert().values(run_id=run_id, **values))
    finally:
        engine.dispose()


def _checked(status: str) -> str:
    if status not in RUN_STATUSES:
        raise ValueError(f"run status must be one of {RUN_STATUSES}, got {status!r}")
    return status


def _json(summary: Mapping[str, Any] | None) -> str | None:
    # default=str keeps dates, paths and decimals in a summary readable instead of failing the run.
    return None if summary is None else json.dumps(summary, ensure_ascii=False, sort_keys=True, default=str)


def _now() -> datetime:
    return datetime.now(timezone.utc)
