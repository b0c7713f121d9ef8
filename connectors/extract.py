"""Extract one source into the raw layer: every stream from its bookmark, then one state commit.

Order of work, so that a failure anywhere leaves nothing half done:
1. each stream is read from its starting bookmark (a re-run batch id starts where that batch
   started; a new batch id where the last committed batch ended) into a hidden staging folder,
   leaving out the records at the bookmark that an earlier batch landed unchanged;
2. only when every stream has been read completely are the staging folders renamed into
   `batch_id=<batch>` (replacing an earlier run of the same batch);
3. then the new bookmarks are written to the state file, atomically.
If the source fails in step 1 the staging folders are removed and the state file is not touched.

`withdraw_batch` undoes a landed batch that failed raw validation: as after an outage, the batch is
not where readers look and the bookmarks are where they were, so the next batch reads it again.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from cityhub.lake import Lake
from connectors.base import SourceClient, later_bookmark
from connectors.definition import SourceDefinition, Stream
from connectors.errors import SourceDefinitionError, SourceUnavailableError
from connectors.landing import RawBatchWriter, StagedBatch, prepare, to_text
from connectors.state import MAX_BOUNDARY, BatchRecord, Bookmark, Boundary, SourceState

Progress = Callable[[str, int], None]
log = logging.getLogger(__name__)

__all__ = ["ExtractResult", "StreamResult", "check_source", "client_for", "extract_source", "withdraw_batch", "SourceUnavailableError"]


@dataclass
class StreamResult:
    """What one stream landed in this batch (`skipped`: records at the bookmark already landed, unchanged)."""

    rows: int
    path: Path | None
    bookmark_before: Bookmark
    bookmark_after: Bookmark
    files: list[str] = field(default_factory=list)
    skipped: int = 0


@dataclass
class ExtractResult:
    """What one source landed in this batch, per stream, and in total."""

    source: str
    batch_id: str
    streams: dict[str, StreamResult] = field(default_factory=dict)
    total_rows: int = 0  # a field rather than a property, so that reports built from fields include it


class BoundaryFilter:
    """Skips records at the starting bookmark that were landed before, unchanged; remembers those at the new one.

    Reads are `>= bookmark` so that late records sharing the bookmark's timestamp are not missed; this
    keeps the ones already landed from landing again in every batch.
    """

    def __init__(self, bookmark: str | None, landed: Boundary) -> None:
        self.start = bookmark
        self.landed = landed or {}
        self.top: str | None = None
        self.at_top: dict[str, str] = {}
        self.overflow = False
        self.skipped = 0

    def already_landed(self, value: str | None, key: str | None, digest: str) -> bool:
        """Note a record; True when it sits at the starting bookmark and was landed before as it is now."""
        short = digest[:16]
        self._note(value, key, short)
        if value is not None and key is not None and value == self.start and self.landed.get(key) == short:
            self.skipped += 1
            return True
        return False

    def _note(self, value: str | None, key: str | None, short: str) -> None:
        if value is None or key is None:
            return
        if self.top is None or (value != self.top and later_bookmark(self.top, value) == value):
            self.top, self.at_top, self.overflow = value, {}, False
        if value == self.top and not self.overflow:
            self.at_top[key] = short
            if len(self.at_top) > MAX_BOUNDARY:
                self.overflow, self.at_top = True, {}

    def boundary_after(self, bookmark: Bookmark) -> Boundary:
        """The landed records at the new bookmark, or None when they are too many or not known."""
        if self.top is None:
            return {} if bookmark == self.start else None
        return None if self.overflow or self.top != bookmark else self.at_top


def client_for(definition: SourceDefinition) -> SourceClient:
    """The protocol client for a definition's `kind`."""
    if definition.kind == "sql":
        from connectors.sql import SqlClient

        return SqlClient(definition)
    if definition.kind == "rest":
        from connectors.rest import RestClient

        return RestClient(definition)
    if definition.kind == "files":
        from connectors.files import FilesClient

        return FilesClient(definition)
    raise SourceDefinitionError(f"{definition.path or definition.name}: kind: unknown kind {definition.kind!r}; use sql, rest or files")


def extract_source(definition: SourceDefinition, lake: Lake, state_dir: Path, batch_id: str, progress: Progress | None = None) -> ExtractResult:
    """Land every stream's new records as raw Parquet for `batch_id`, then commit the bookmarks."""
    _check_batch_id(batch_id)
    state = SourceState(state_dir, definition.name)
    extracted_at = datetime.now(timezone.utc).isoformat()
    staged: dict[str, tuple[StagedBatch, BatchRecord]] = {}
    try:
        with client_for(definition) as client:
            for stream in definition.streams:
                start = state.starting_point(stream.name, batch_id)
                staged[stream.name] = _extract_stream(client, stream, start, lake, batch_id, extracted_at, progress)
    except BaseException:
        for batch, _ in staged.values():
            batch.discard()
        raise
    streams: dict[str, StreamResult] = {}
    for name, (batch, record) in staged.items():
        path = batch.publish()
        state.record(name, batch_id, record)
        streams[name] = StreamResult(record.rows, path, record.bookmark_from, record.bookmark_to, list(record.files), record.skipped)
    state.commit()
    return ExtractResult(definition.name, batch_id, streams, sum(result.rows for result in streams.values()))


def withdraw_batch(definition: SourceDefinition, lake: Lake, state_dir: Path, batch_id: str) -> dict[str, Path]:
    """Move every stream's batch `batch_id` to the lake's rejected area and put the bookmarks back where it started.

    Idempotent, so a retry after a crash half-way finishes the job. Folders move first: a crash
    before the state commit then leaves the bad batch out of sight (its records are read again once
    the withdrawal is repeated), never a bad batch in sight. Returns where each stream's batch went.
    """
    state = SourceState(state_dir, definition.name)
    moved: dict[str, Path] = {}
    for stream in definition.streams:
        landed = lake.raw_batch(definition.name, stream.name, batch_id)
        rejected = lake.rejected_raw_batch(definition.name, stream.name, batch_id)
        if landed.exists():
            shutil.rmtree(rejected, ignore_errors=True)  # an earlier rejection of the same batch id
            rejected.parent.mkdir(parents=True, exist_ok=True)
            landed.rename(rejected)
        if rejected.exists():
            moved[stream.name] = rejected
        if not state.withdraw(stream.name, batch_id) and state.batch(stream.name, batch_id) is not None:
            log.warning("%s.%s: batch %s is not the latest, so its bookmark stays; its records are not read again", definition.name, stream.name, batch_id)
    state.commit()
    return moved


def _extract_stream(client: SourceClient, stream: Stream, start: tuple[Bookmark, Boundary], lake: Lake, batch_id: str, extracted_at: str, progress: Progress | None) -> tuple[StagedBatch, BatchRecord]:
    bookmark, landed = start
    writer = RawBatchWriter(lake, client.definition.name, stream.name, batch_id, extracted_at, with_file=client.definition.kind == "files")
    reader = client.read(stream, bookmark)
    incremental = stream.replication_key is not None and client.definition.kind != "files"
    boundary = BoundaryFilter(bookmark if isinstance(bookmark, str) else None, landed) if incremental else None
    try:
        for chunk in reader.chunks():
            for record, key, file in chunk:
                values, digest = prepare(record)
                if boundary is not None and boundary.already_landed(reader.replication_text(record), to_text(key), digest):
                    continue
                writer.add_prepared(values, digest, key, file)
            if progress is not None:
                progress(stream.name, writer.rows)
        staged = writer.stage()
    except BaseException:
        writer.abort()
        raise
    record = BatchRecord(bookmark, reader.bookmark, writer.rows, list(reader.files), boundary_from=landed)
    if boundary is not None:
        record.boundary_to, record.skipped = boundary.boundary_after(reader.bookmark), boundary.skipped
    return staged, record


def check_source(definition: SourceDefinition) -> str:
    """A cheap connectivity check (one query, one request, one folder listing); raises if down."""
    with client_for(definition) as client:
        return client.check()


def _check_batch_id(batch_id: str) -> None:
    if not batch_id or any(c in batch_id for c in "/\\\0") or batch_id in (".", ".."):
        raise ValueError(f"batch id {batch_id!r} must be a non-empty name without slashes (it becomes a folder name)")
