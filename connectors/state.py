"""Watermark state: one JSON file per source with a bookmark per stream and a record per batch.

`<home>/state/<source>.json`:

    {"source": "civil_affairs",
     "streams": {"assistance": {
         "bookmark": "2024-05-01T08:00:00",                 # latest committed
         "boundary": {"C1021": "9f2c..."},                  # landed records at the bookmark
         "batches": {"20240501": {"from": null, "to": "2024-05-01T08:00:00",
                                  "rows": 120, "files": [], "committed_at": "..."}}}}}

A batch re-run with the same batch id starts again from that batch's `from`, so it lands the same
records (and more, if the source has moved on) and overwrites its raw folder; a new batch starts
from the latest committed bookmark. Bookmarks are strings for SQL and REST streams (the largest
replication value seen) and `{file name: sha256}` maps for file streams (the files processed).

SQL and REST streams read `replication_key >= bookmark`, so that a record committed later with the
bookmark's own timestamp is not missed. To keep the records at the bookmark that were already
landed from landing again, the state also keeps the `boundary`: `{primary key: record hash}` of the
records whose replication value is the bookmark (at most MAX_BOUNDARY of them; beyond that they are
simply re-read, which downstream tolerates as it keeps the latest row per primary key).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Re-running a batch needs its starting bookmark; older batch records are pruned to bound the file.
KEEP_BATCHES = 100

# Records sharing the bookmark's replication value remembered to skip them next time; more are re-read.
MAX_BOUNDARY = 2000

Bookmark = str | dict[str, str] | None
Boundary = dict[str, str] | None


@dataclass
class BatchRecord:
    """What one batch of one stream read: bookmarks before and after, rows landed, files read."""

    bookmark_from: Bookmark
    bookmark_to: Bookmark
    rows: int
    files: list[str] = field(default_factory=list)
    committed_at: str = ""
    boundary_from: Boundary = None
    boundary_to: Boundary = None
    skipped: int = 0  # records at the starting bookmark not landed again (already landed, unchanged)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.bookmark_from, "to": self.bookmark_to, "rows": self.rows, "skipped": self.skipped,
            "files": self.files, "committed_at": self.committed_at, "from_boundary": self.boundary_from,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "BatchRecord":
        return cls(data.get("from"), data.get("to"), int(data.get("rows", 0)), list(data.get("files", [])), data.get("committed_at", ""),
                   data.get("from_boundary"), None, int(data.get("skipped", 0)))


class SourceState:
    """The watermark state of one source, read from and written to `<state_dir>/<source>.json`."""

    def __init__(self, state_dir: Path, source: str) -> None:
        self.path = Path(state_dir) / f"{source}.json"
        self.source = source
        self._data = self._read()

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"source": self.source, "streams": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.path}: watermark state is not valid JSON ({exc}); restore it or delete it to re-extract everything") from None
        data.setdefault("streams", {})
        return data

    def _stream(self, stream: str) -> dict[str, Any]:
        return self._data["streams"].get(stream, {})

    def bookmark(self, stream: str) -> Bookmark:
        """The latest committed bookmark of a stream (None before its first batch)."""
        return self._stream(stream).get("bookmark")

    def batch(self, stream: str, batch_id: str) -> BatchRecord | None:
        """The committed record of one batch of a stream, if that batch ran before."""
        data = self._stream(stream).get("batches", {}).get(batch_id)
        return BatchRecord.from_json(data) if data is not None else None

    def boundary(self, stream: str) -> Boundary:
        """`{primary key: record hash}` of the landed records at the latest bookmark (None if unknown)."""
        return self._stream(stream).get("boundary")

    def starting_bookmark(self, stream: str, batch_id: str) -> Bookmark:
        """Where a batch starts: its own earlier start when re-run, else the latest committed bookmark."""
        return self.starting_point(stream, batch_id)[0]

    def starting_point(self, stream: str, batch_id: str) -> tuple[Bookmark, Boundary]:
        """The bookmark and boundary a batch starts from: its own when re-run, else the latest committed."""
        earlier = self.batch(stream, batch_id)
        if earlier is not None:
            return earlier.bookmark_from, earlier.boundary_from
        return self.bookmark(stream), self.boundary(stream)

    def record(self, stream: str, batch_id: str, batch: BatchRecord) -> None:
        """Note a finished batch in memory; `commit()` writes it."""
        entry = self._data["streams"].setdefault(stream, {"bookmark": None, "batches": {}})
        batch.committed_at = batch.committed_at or datetime.now(timezone.utc).isoformat()
        batches = entry.setdefault("batches", {})
        batches.pop(batch_id, None)  # re-insert so that dict order is commit order
        batches[batch_id] = batch.to_json()
        while len(batches) > KEEP_BATCHES:
            batches.pop(next(iter(batches)))
        entry["bookmark"] = batch.bookmark_to
        entry["boundary"] = batch.boundary_to

    def withdraw(self, stream: str, batch_id: str) -> bool:
        """Forget the stream's latest batch (in memory; `commit()` writes it): its bookmark and boundary go
        back to where that batch started, so the next batch reads the same records again.

        False, and nothing changed, when `batch_id` is not the stream's latest batch: a later batch
        started from its end, and moving the bookmark back would land that later batch's records twice.
        """
        entry = self._data["streams"].get(stream)
        batches = (entry or {}).get("batches", {})
        if not batches or next(reversed(batches)) != batch_id:
            return False
        batch = BatchRecord.from_json(batches.pop(batch_id))
        entry["bookmark"] = batch.bookmark_from
        entry["boundary"] = batch.boundary_from
        return True

    def commit(self) -> None:
        """Write the state atomically: a crash leaves the old file or the new one, never half of one."""
        self._data["updated_at"] = datetime.now(timezone.utc).isoformat()
        write_json_atomically(self.path, self._data)

    def as_dict(self) -> dict[str, Any]:
        """A copy of the whole state (for status reports)."""
        return json.loads(json.dumps(self._data))


def write_json_atomically(path: Path, data: Any) -> None:
    """Write JSON to a temp file in the same folder, fsync it, then os.replace it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
