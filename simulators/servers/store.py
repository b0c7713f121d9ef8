"""Records the HTTP systems serve: JSON-lines files re-read whenever they change on disk."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

CHINA = timezone(timedelta(hours=8))


class JsonlStore:
    """The records of one JSON-lines file, sorted by a key, reloaded when the file's mtime or size changes."""

    def __init__(self, path: Path, id_field: str, sort_key: Callable[[dict], tuple]):
        self.path = Path(path)
        self.id_field = id_field
        self.sort_key = sort_key
        self._stamp: tuple[int, int] | None = None
        self._records: list[dict] = []
        self._keys: list[tuple] = []
        self._lock = threading.Lock()

    def records(self) -> tuple[list[dict], list[tuple]]:
        """The sorted records and their sort keys (fresh from disk if the file changed)."""
        with self._lock:
            try:
                stat = self.path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
            except FileNotFoundError:
                stamp = (0, 0)
            if stamp != self._stamp:
                records = read_records(self.path, self.id_field) if stamp != (0, 0) else []
                records.sort(key=self.sort_key)
                self._records, self._keys, self._stamp = records, [self.sort_key(r) for r in records], stamp
            return self._records, self._keys


def read_records(path: Path, id_field: str) -> list[dict]:
    """All records of the file; a later line with the same id replaces an earlier one."""
    by_id: dict[str, dict] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                by_id[str(record.get(id_field))] = record
    return list(by_id.values())


def parse_instant(value: str) -> datetime:
    """An ISO timestamp as an aware datetime; naive values are China Standard Time.

    A '+' in an unencoded query string arrives as a space, so a space before the offset is accepted.
    """
    text = value.strip()
    if len(text) > 19 and text[19] == " ":
        text = text[:19] + "+" + text[20:]
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA)
