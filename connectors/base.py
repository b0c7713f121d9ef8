"""What every protocol's client provides (Singer-style): read one declarative stream from a bookmark."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, Iterator

from connectors.definition import SourceDefinition, Stream
from connectors.landing import to_text
from connectors.state import Bookmark

# One landed record: its values, its primary key value, and the file it came from (file sources).
Record = tuple[dict[str, Any], Any, "str | None"]


class StreamRead(ABC):
    """One stream read from a starting bookmark; after `chunks()` is exhausted, `bookmark` is the new one."""

    def __init__(self, stream: Stream, bookmark: Bookmark) -> None:
        self.stream = stream
        self.bookmark_before = bookmark
        self.bookmark: Bookmark = bookmark
        self.files: list[str] = []

    @abstractmethod
    def chunks(self) -> Iterator[list[Record]]:
        """The stream's records in chunks (a page, a fetch of rows, a file)."""

    def replication_text(self, record: dict[str, Any]) -> str | None:
        """A record's replication value as bookmark text (None without a replication key)."""
        key = self.stream.replication_key
        return to_text(dotted_get(record, key)) if key else None


class SourceClient(ABC):
    """One client per protocol: connection, authentication, retries; streams are read through it."""

    def __init__(self, definition: SourceDefinition) -> None:
        self.definition = definition

    @property
    def where(self) -> str:
        """The definition's file (or name) for error messages."""
        return str(self.definition.path or self.definition.name)

    @abstractmethod
    def read(self, stream: Stream, bookmark: Bookmark) -> StreamRead:
        """A reader of `stream` starting at `bookmark`."""

    @abstractmethod
    def check(self) -> str:
        """A cheap connectivity check; a one-line description of what was reached."""

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> "SourceClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dotted_get(record: Any, path: str) -> Any:
    """The value at a dotted path (`meta.lastUpdated`) in nested dicts; None where it is missing."""
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def later_bookmark(current: str | None, candidate: str | None) -> str | None:
    """The later of two replication values: as numbers or timestamps when both parse, else as strings."""
    if candidate is None:
        return current
    if current is None:
        return candidate
    for parse in (float, _as_datetime):
        try:
            return candidate if parse(candidate) > parse(current) else current
        except (ValueError, TypeError):  # not this kind of value, or naive against aware
            continue
    return candidate if candidate > current else current


def _as_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
