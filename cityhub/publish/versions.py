"""Dataset versions: one row per dataset per publish, so consumers and auditors can tell what changed when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from cityhub.sharedlayer.schema import dataset_version

PUBLISHED = "published"


@dataclass(frozen=True)
class VersionChange:
    """The version a dataset has after a publish, and whether this publish created it."""

    version: int
    created: bool


def latest_versions(connection: sa.Connection, datasets: list[str] | None = None) -> dict[str, sa.Row]:
    """The newest dataset_version row of each dataset (all datasets, or the ones named)."""
    newest = (
        sa.select(dataset_version.c.dataset, sa.func.max(dataset_version.c.version).label("version"))
        .group_by(dataset_version.c.dataset)
        .subquery()
    )
    query = sa.select(dataset_version).join(
        newest, sa.and_(dataset_version.c.dataset == newest.c.dataset, dataset_version.c.version == newest.c.version)
    )
    if datasets is not None:
        query = query.where(dataset_version.c.dataset.in_(datasets))
    return {row.dataset: row for row in connection.execute(query)}


def record_versions(connection: sa.Connection, run_id: str, rows: Mapping[str, int], published_at: datetime) -> dict[str, VersionChange]:
    """Add version N+1 of each dataset, except where version N already came from this run."""
    # Runs are write-once in the lake, so republishing the run that is already live reloads identical
    # rows: that is the same version, not a new one (retries of a publish step do not inflate versions).
    latest = latest_versions(connection, list(rows))
    changes: dict[str, VersionChange] = {}
    new_rows = []
    for dataset, row_count in rows.items():
        current = latest.get(dataset)
        if current is not None and current.run_id == run_id:
            changes[dataset] = VersionChange(current.version, created=False)
            continue
        version = (current.version if current is not None else 0) + 1
        changes[dataset] = VersionChange(version, created=True)
        new_rows.append({
            "dataset": dataset,
            "version": version,
            "run_id": run_id,
            "row_count": row_count,
            "published_at": published_at,
            "status": PUBLISHED,
            "previous_version": current.version if current is not None else None,
        })
    if new_rows:
        connection.execute(dataset_version.insert(), new_rows)
    return changes
