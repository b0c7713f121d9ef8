"""Quarantine history across runs (shared layer table `quarantine_entry`).

The published `quarantine` table holds the live run's snapshot only. Here every (record, rule) a run
quarantines opens an entry (`opened_run`), later runs that still hold it move `last_seen_run`, and
the first run that *accepts* the record (its department fixed it in a later batch) closes the entry
with a link to the accepted record (`closed_run`, `closed_by_record_key`, `closed_by_batch_id`).
Record keys (`<source>:<stream>:<source record id>`) are stable across batches, so the fixed record
is found by its key. Recording the same run twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as pads
import sqlalchemy as sa

from cityhub.lake import Lake
from cityhub.publish.quarantine_keys import QuarantineKeys
from cityhub.sharedlayer import engine_for, upgrade
from cityhub.sharedlayer.engine import writer_connection
from cityhub.sharedlayer.schema import quarantine_entry

OPEN = "open"
CLOSED = "closed"
_ENTRY_COLUMNS = ("record_key", "rule", "source", "stream", "source_record_id", "batch_id", "reason", "value")


def _parquet_rows(folder: Path, columns: list[str]) -> list[dict]:
    if not folder.exists():
        return []
    dataset = pads.dataset(str(folder), format="parquet", partitioning="hive")
    present = [c for c in columns if c in dataset.schema.names]
    return dataset.to_table(columns=present).to_pylist()


def quarantined_entries(lake: Lake, run_id: str) -> dict[tuple[str, str], dict]:
    """The run's quarantine rows keyed by (record_key, rule), key-less records keyed as the publisher keys them."""
    folder = lake.quarantine(run_id)
    if not folder.exists():
        return {}
    table = pads.dataset(str(folder), format="parquet", partitioning="hive").to_table()
    if "run_id" not in table.column_names:
        import pyarrow as pa

        table = table.append_column("run_id", pa.array([run_id] * table.num_rows, pa.string()))
    keyed = QuarantineKeys()
    rows = [row for batch in keyed(table.to_batches()) for row in batch.to_pylist()]
    return {(row["record_key"], row["rule"]): {c: row.get(c) for c in _ENTRY_COLUMNS} for row in rows}


def accepted_records(lake: Lake, run_id: str) -> dict[str, str | None]:
    """Every record key the run accepted (person records and fact rows) with the batch it came in."""
    accepted = {row["record_key"]: row.get("batch_id") for row in _parquet_rows(lake.standardised_persons(run_id), ["record_key", "batch_id"])}
    facts_root = lake.standardised(run_id) / "facts"
    for folder in sorted(facts_root.iterdir()) if facts_root.exists() else []:
        accepted.update({row["fact_key"]: row.get("batch_id") for row in _parquet_rows(folder, ["fact_key", "batch_id"])})
    return accepted


def record_quarantine_history(url: str, lake: Lake, run_id: str) -> dict[str, int]:
    """Open, refresh and close `quarantine_entry` rows for run `run_id`; returns how many were opened, kept open and closed."""
    held = quarantined_entries(lake, run_id)
    accepted = accepted_records(lake, run_id)
    upgrade(url)  # the table comes with revision 0003
    engine = engine_for(url)
    try:
        with writer_connection(engine) as connection, connection.begin():
            return _update_entries(connection, run_id, held, accepted)
    finally:
        engine.dispose()


def _update_entries(connection: sa.Connection, run_id: str, held: dict[tuple[str, str], dict], accepted: dict[str, str | None]) -> dict[str, int]:
    entries = quarantine_entry
    open_rows = connection.execute(sa.select(entries.c.record_key, entries.c.rule, entries.c.opened_run).where(entries.c.status == OPEN)).all()
    still_open = closed = 0
    open_keys = set()
    for record_key, rule, opened_run in open_rows:
        match = (entries.c.record_key == record_key) & (entries.c.rule == rule) & (entries.c.opened_run == opened_run)
        if (record_key, rule) in held:
            open_keys.add((record_key, rule))
            still_open += 1
            connection.execute(entries.update().where(match).values(last_seen_run=run_id))
        elif record_key in accepted:
            closed += 1
            connection.execute(entries.update().where(match).values(
                status=CLOSED, closed_run=run_id, closed_by_record_key=record_key, closed_by_batch_id=accepted[record_key]))
    fresh = [{**row, "opened_run": run_id, "last_seen_run": run_id, "status": OPEN}
             for key, row in held.items() if key not in open_keys and not _opened_by(connection, key, run_id)]
    if fresh:
        connection.execute(entries.insert(), fresh)
    return {"opened": len(fresh), "still_open": still_open, "closed": closed}


def _opened_by(connection: sa.Connection, key: tuple[str, str], run_id: str) -> bool:
    """True when run `run_id` already opened (and perhaps closed) this entry: recording a run again adds nothing."""
    entries = quarantine_entry
    found = connection.execute(sa.select(sa.literal(1)).where(
        (entries.c.record_key == key[0]) & (entries.c.rule == key[1]) & (entries.c.opened_run == run_id))).first()
    return found is not None


def quarantine_entries(url: str) -> list[dict]:
    """Every quarantine entry in the shared layer, oldest first (for reports and tests)."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(quarantine_entry).order_by(quarantine_entry.c.opened_run, quarantine_entry.c.record_key)).mappings().all()
    finally:
        engine.dispose()
    return [dict(row) for row in rows]
