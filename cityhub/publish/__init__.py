"""Publishing a run's resolved tables into the shared layer: one transaction, versioned datasets.

What a publish does, all inside one transaction (readers see the previous version until commit;
any failure rolls everything back, fact table DDL included):

1. take the publish lock (PostgreSQL advisory lock; SQLite `BEGIN IMMEDIATE`),
2. create or widen the department fact tables `fact_<source>`,
3. delete the previous contents (DELETE, not TRUNCATE: PostgreSQL readers keep their snapshot
   instead of waiting on an exclusive lock),
4. bulk-load `resident`, `resident_xref`, `resident_lineage`, `review_queue`, `fact_<source>` and
   `quarantine` from the run's Parquet, in record batches (COPY on PostgreSQL, executemany on SQLite),
5. replace this run's rows of the append-only `resident_id_history` (other runs' rows stay),
6. add one `dataset_version` row per dataset,
7. run the caller's `before_commit` on the same connection (the pipeline replaces the run's
   `gate_outcome` rows there, so the gate's record commits with what it let through).

On PostgreSQL, widening a fact table (ALTER TABLE) locks that one table until commit, so its readers
wait for the publish instead of reading the old version; all other tables stay readable throughout.

Every dataset holds the published run's snapshot: `quarantine` too holds the quarantine of the
live run (earlier runs' quarantine stays in the lake and in `dataset_version` counts).
Publishing the run that is already live again reloads the same rows and keeps the version numbers
(`PublishResult.created` says which datasets got a new version). A fact table whose source is no
longer passed in `fact_sources` is left as it is.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import pyarrow as pa
import sqlalchemy as sa

from cityhub.lake import Lake
from cityhub.sharedlayer import engine_for, record_run_end, record_run_start, upgrade
from cityhub.sharedlayer.engine import writer_connection
from cityhub.sharedlayer.schema import NAMING_CONVENTION, RESOLVED_TABLES, fact_table, quarantine, review_queue

from . import loaders
from .facts import ensure_fact_table
from .history import HISTORY, publish_history
from .quarantine_keys import QuarantineKeys
from .reader import ParquetSource, PublishError
from .versions import record_versions

__all__ = ["publish_run", "PublishResult", "PublishError", "record_run_start", "record_run_end"]

DEFAULT_BATCH_ROWS = 50_000
_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PUBLISH_LOCK_KEY = 0x6369747968756202  # "cityhub" + 2: one publisher at a time per database

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class PublishResult:
    """What one publish did: each dataset's version and row count."""

    run_id: str
    versions: dict[str, int]
    rows: dict[str, int]
    created: tuple[str, ...]  # datasets that got a new version (none when the live run is republished)
    fact_columns_added: dict[str, list[str]] = field(default_factory=dict)
    quarantine_duplicates: int = 0  # repeated (run_id, record_key, rule) rows left out, see publish.quarantine_keys
    seconds: float = 0.0


@dataclass(frozen=True)
class _Dataset:
    name: str
    table: sa.Table
    source: ParquetSource
    is_fact: bool = False
    prepare: Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]] | None = None

    def batches(self, batch_rows: int) -> Iterable[pa.RecordBatch]:
        """The dataset's batches as they are loaded."""
        batches = self.source.batches(batch_rows)
        return self.prepare(batches) if self.prepare is not None else batches


def publish_run(
    url: str,
    lake: Lake,
    run_id: str,
    fact_sources: Mapping[str, Sequence[str]],
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
    before_commit: Callable[[sa.Connection], object] | None = None,
) -> PublishResult:
    """Publish run `run_id` from the lake into the shared layer at `url`, atomically (with `before_commit`'s writes)."""
    started = time.monotonic()
    datasets = _plan(lake, run_id, fact_sources)
    upgrade(url)
    engine = engine_for(url)
    try:
        with writer_connection(engine) as connection, connection.begin():
            result = _publish(connection, lake, run_id, datasets, batch_rows, progress)
            if before_commit is not None:
                before_commit(connection)
    finally:
        engine.dispose()
    return replace(result, seconds=round(time.monotonic() - started, 3))


def _plan(lake: Lake, run_id: str, fact_sources: Mapping[str, Sequence[str]]) -> list[_Dataset]:
    """Every dataset of the run with its checked Parquet files, in load order; fails before any write."""
    fill = {"run_id": run_id}  # run_id columns may be left out of the Parquet: the run is known
    datasets = [_Dataset(t.name, t, ParquetSource.open(lake.resolved(run_id, t.name), t, fill)) for t in RESOLVED_TABLES]
    # Runs resolved before the review queue existed have no folder: an empty queue, not an error.
    reviews = ParquetSource.open(lake.resolved(run_id, review_queue.name), review_queue, {**fill, "status": "open"}, required=False)
    datasets.append(_Dataset(review_queue.name, review_queue, reviews))
    facts_meta = sa.MetaData(naming_convention=NAMING_CONVENTION)
    for source in sorted(fact_sources):
        if not _SOURCE_NAME.match(source):
            raise PublishError(f"fact source name {source!r} must be lower_snake_case (it names table fact_{source})")
        table = fact_table(source, fact_sources[source], facts_meta)
        datasets.append(_Dataset(table.name, table, ParquetSource.open(lake.resolved(run_id, table.name), table), is_fact=True))
    # Nothing quarantined may mean no folder at all; the resolved tables, in contrast, must exist.
    quarantined = ParquetSource.open(lake.quarantine(run_id), quarantine, fill, required=False)
    datasets.append(_Dataset(quarantine.name, quarantine, quarantined, prepare=QuarantineKeys()))
    return datasets


def _publish(connection: sa.Connection, lake: Lake, run_id: str, datasets: list[_Dataset], batch_rows: int,
             progress: Progress | None) -> PublishResult:
    _take_publish_lock(connection)
    added = {d.name: cols for d in datasets if d.is_fact and (cols := ensure_fact_table(connection, d.table))}
    for dataset in reversed(datasets):  # children before the residents they reference
        connection.execute(dataset.table.delete())
    load = loaders.loader_for(connection)
    rows: dict[str, int] = {}
    for dataset in datasets:
        rows[dataset.name] = _load(load, connection, dataset, batch_rows)
        if progress is not None:
            progress(dataset.name, rows[dataset.name])
    now = datetime.now(timezone.utc)
    rows[HISTORY] = publish_history(connection, lake, run_id, now)  # append-only: not among the snapshots deleted above
    changes = record_versions(connection, run_id, rows, now)
    return PublishResult(
        run_id=run_id,
        versions={name: change.version for name, change in changes.items()},
        rows=rows,
        created=tuple(name for name, change in changes.items() if change.created),
        fact_columns_added=added,
        quarantine_duplicates=sum(d.prepare.duplicates for d in datasets if isinstance(d.prepare, QuarantineKeys)),
    )


def _load(load: loaders.Loader, connection: sa.Connection, dataset: _Dataset, batch_rows: int) -> int:
    driver_error = connection.dialect.loaded_dbapi.Error  # raised as is from COPY, outside SQLAlchemy
    try:
        return load(connection, dataset.table, dataset.batches(batch_rows))
    except sa.exc.DBAPIError as exc:
        raise PublishError(f"loading {dataset.name} from {dataset.source.folder} failed: {exc.orig}") from exc
    except driver_error as exc:
        raise PublishError(f"loading {dataset.name} from {dataset.source.folder} failed: {exc}") from exc


def _take_publish_lock(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PUBLISH_LOCK_KEY})
