"""resident_id_history: append-only across runs, so it is loaded apart from the per-run snapshots.

A publish replaces the rows of its own run (so publishing a run again does not repeat them) and
leaves every other run's rows alone.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow.parquet as pq
import sqlalchemy as sa

from cityhub.lake import Lake
from cityhub.sharedlayer.schema import resident_id_history

from .reader import PublishError, parquet_files

HISTORY = resident_id_history.name
LOADED_COLUMNS = ("old_resident_id", "new_resident_id", "change", "reason", "record_count")
CHUNK_ROWS = 5_000


def publish_history(connection: sa.Connection, lake: Lake, run_id: str, changed_at: datetime) -> int:
    """Replace run `run_id`'s id changes in resident_id_history from the lake; returns the table's rows."""
    connection.execute(resident_id_history.delete().where(resident_id_history.c.run_id == run_id))
    folder = lake.resolved(run_id, HISTORY)
    for file in parquet_files(folder) if folder.is_dir() else []:
        try:
            reader = pq.ParquetFile(file)
            for batch in reader.iter_batches(batch_size=CHUNK_ROWS, columns=list(LOADED_COLUMNS)):
                rows = [dict(row, run_id=run_id, changed_at=changed_at) for row in batch.to_pylist()]
                if rows:
                    connection.execute(resident_id_history.insert(), rows)
        except (OSError, ValueError, KeyError) as exc:
            raise PublishError(f"{file}: cannot load {HISTORY}: {exc}") from exc
    return connection.execute(sa.select(sa.func.count()).select_from(resident_id_history)).scalar_one()
