"""Land records in the raw layer: string-only Parquet with provenance columns, one folder per batch.

A batch is written into a hidden staging folder beside its final place (Spark skips names that start
with `.`) and renamed into `batch_id=<batch>` only when complete, so a crash never leaves half a
batch where readers look.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cityhub.lake import Lake

PROVENANCE_COLUMNS = ("_source", "_stream", "_source_record_id", "_batch_id", "_extracted_at", "_record_hash")
FILE_COLUMN = "_file"
ROWS_PER_PART = 50_000


def to_text(value: Any) -> str | None:
    """A source value as the string the raw layer keeps: nested values as JSON text, None as null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex()
    return str(value)


def record_hash(values: dict[str, str | None]) -> str:
    """SHA-256 of a record's canonical JSON (sorted keys, compact), provenance excluded."""
    canonical = json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def prepare(record: dict[str, Any]) -> tuple[dict[str, str | None], str]:
    """A record's values as the raw layer's strings, and its record hash."""
    values = {str(key): to_text(value) for key, value in record.items()}
    return values, record_hash(values)


@dataclass
class StagedBatch:
    """A fully written batch waiting in its staging folder to be published (renamed into place)."""

    rows: int
    staging: Path | None
    final: Path

    def publish(self) -> Path | None:
        """Move the batch into `batch_id=<batch>`, replacing an earlier run of the same batch."""
        old = self.final.with_name(f".replaced-{self.final.name}-{uuid.uuid4().hex[:8]}")
        if self.final.exists():
            self.final.rename(old)
        try:
            if self.staging is not None:
                self.staging.rename(self.final)
        except BaseException:
            if old.exists() and not self.final.exists():
                old.rename(self.final)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return self.final if self.staging is not None else None

    def discard(self) -> None:
        """Remove the staging folder (after a failure elsewhere in the extraction)."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)


class RawBatchWriter:
    """Writes one stream's batch as Parquet part files, every column a string, with provenance."""

    def __init__(self, lake: Lake, source: str, stream: str, batch_id: str, extracted_at: str, *, with_file: bool = False, rows_per_part: int = ROWS_PER_PART) -> None:
        self.final = lake.raw_batch(source, stream, batch_id)
        # A leading dot, not an underscore: Spark still reads `_x=y` folders as partitions, and one of
        # them beside `batch_id=…` (an extract running, or killed) breaks every read of the stream.
        self.staging = self.final.parent / f".staging-{self.final.name}-{uuid.uuid4().hex[:8]}"
        self.constants = {"_source": source, "_stream": stream, "_batch_id": batch_id, "_extracted_at": extracted_at}
        self.with_file = with_file
        self.rows_per_part = rows_per_part
        self.rows = 0
        self._buffer: list[dict[str, str | None]] = []
        self._columns: dict[str, None] = {}  # union of source columns, first-seen order
        self._parts: list[tuple[Path, tuple[str, ...]]] = []

    def add(self, record: dict[str, Any], source_record_id: Any, file: str | None = None) -> None:
        """Buffer one source record (values are turned into strings here)."""
        values, digest = prepare(record)
        self.add_prepared(values, digest, source_record_id, file)

    def add_prepared(self, values: dict[str, str | None], digest: str, source_record_id: Any, file: str | None = None) -> None:
        """Buffer one record already turned into strings and hashed by `prepare`."""
        for column in values:
            self._columns.setdefault(column, None)
        row = dict(values)
        row.update(self.constants)
        row["_source_record_id"] = to_text(source_record_id)
        row["_record_hash"] = digest
        if self.with_file:
            row[FILE_COLUMN] = file
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self.rows_per_part:
            self._flush()

    def _all_columns(self) -> tuple[str, ...]:
        extra = (FILE_COLUMN,) if self.with_file else ()
        return (*self._columns, *PROVENANCE_COLUMNS, *extra)

    def _flush(self) -> None:
        if not self._buffer:
            return
        self.staging.mkdir(parents=True, exist_ok=True)
        columns = self._all_columns()
        path = self.staging / f"part-{len(self._parts):05d}.parquet"
        pq.write_table(_string_table(self._buffer, columns), path)
        self._parts.append((path, columns))
        self._buffer = []

    def _align_parts(self) -> None:
        """Give every part the batch's full column list, so readers see one schema."""
        columns = self._all_columns()
        for path, written in self._parts:
            if written != columns:
                table = pq.read_table(path)
                pq.write_table(_string_table(table.to_pylist(), columns), path)

    def stage(self) -> StagedBatch:
        """Finish writing; the batch sits complete in its staging folder until published."""
        try:
            self._flush()
            self._align_parts()
        except BaseException:
            self.abort()
            raise
        return StagedBatch(self.rows, self.staging if self.rows else None, self.final)

    def abort(self) -> None:
        """Throw away everything written so far."""
        self._buffer = []
        shutil.rmtree(self.staging, ignore_errors=True)


def _string_table(rows: list[dict[str, str | None]], columns: tuple[str, ...]) -> pa.Table:
    schema = pa.schema([pa.field(name, pa.string()) for name in columns])
    return pa.Table.from_pydict({name: [row.get(name) for row in rows] for name in columns}, schema=schema)
