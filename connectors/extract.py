"""Extract one source into the raw layer: every stream from its bookmark, then one state commit.

Order of work, so that a failure anywhere leaves nothing half done:
1. each stream is read from its starting bookmark (a re-run batch id starts where that batch
   started; a new batch id where the last committed batch ended) into a hidden staging folder;
2. only when every stream has been read completely are the staging folders renamed into
   `batch_id=<batch>` (replacing an earlier run of the same batch);
3. then the new bookmarks are written to the state file, atomically.
If the source fails in step 1 the staging folders are removed and the state file is not touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from cityhub.lake import Lake
from connectors.base import SourceClient
from connectors.definition import SourceDefinition
from connectors.errors import SourceDefinitionError, SourceUnavailableError
from connectors.landing import RawBatchWriter, StagedBatch
from connectors.state import BatchRecord, Bookmark, SourceState

Progress = Callable[[str, int], None]

__all__ = ["ExtractResult", "StreamResult", "check_source", "client_for", "extract_source", "SourceUnavailableError"]


@dataclass
class StreamResult:
    """What one stream landed in this batch."""

    rows: int
    path: Path | None
    bookmark_before: Bookmark
    bookmark_after: Bookmark
    files: list[str] = field(default_factory=list)


@dataclass
class ExtractResult:
    """What one source landed in this batch, per stream."""

    source: str
    batch_id: str
    streams: dict[str, StreamResult] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        """Rows landed over all streams."""
        return sum(result.rows for result in self.streams.values())


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
                staged[stream.name] = _extract_stream(client, stream, state.starting_bookmark(stream.name, batch_id), lake, batch_id, extracted_at, progress)
    except BaseException:
        for batch, _ in staged.values():
            batch.discard()
        raise
    result = ExtractResult(definition.name, batch_id)
    for name, (batch, record) in staged.items():
        path = batch.publish()
        state.record(name, batch_id, record)
        result.streams[name] = StreamResult(record.rows, path, record.bookmark_from, record.bookmark_to, list(record.files))
    state.commit()
    return result


def _extract_stream(client: SourceClient, stream, bookmark: Bookmark, lake: Lake, batch_id: str, extracted_at: str, progress: Progress | None) -> tuple[StagedBatch, BatchRecord]:
    writer = RawBatchWriter(lake, client.definition.name, stream.name, batch_id, extracted_at, with_file=client.definition.kind == "files")
    reader = client.read(stream, bookmark)
    try:
        for chunk in reader.chunks():
            writer.add_many(chunk)
            if progress is not None:
                progress(stream.name, writer.rows)
        staged = writer.stage()
    except BaseException:
        writer.abort()
        raise
    return staged, BatchRecord(bookmark, reader.bookmark, writer.rows, list(reader.files))


def check_source(definition: SourceDefinition) -> str:
    """A cheap connectivity check (one query, one request, one folder listing); raises if down."""
    with client_for(definition) as client:
        return client.check()


def _check_batch_id(batch_id: str) -> None:
    if not batch_id or any(c in batch_id for c in "/\\\0") or batch_id in (".", ".."):
        raise ValueError(f"batch id {batch_id!r} must be a non-empty name without slashes (it becomes a folder name)")
