"""Errors a connector raises: a bad definition, a source that is down, a source that misbehaves.

Every failure to get a source's data is a `SourceUnavailableError` (the pipeline marks that source
failed and carries on with the others); the subclasses say why. Nothing is committed when one is
raised: the watermark state and earlier raw batches stay as they were.
"""

from __future__ import annotations

from connectors.definition import SourceDefinitionError

__all__ = [
    "ConnectorError",
    "PaginationLoopError",
    "SourceDataError",
    "SourceDefinitionError",
    "SourceResponseError",
    "SourceUnavailableError",
]


class ConnectorError(RuntimeError):
    """Extraction from a source failed."""


class SourceUnavailableError(ConnectorError):
    """A source could not be reached or kept failing after every retry."""

    headline = "is unavailable"

    def __init__(self, source: str, url: str, last_error: str, attempts: int | None = None) -> None:
        self.source, self.url, self.last_error, self.attempts = source, url, last_error, attempts
        tries = f" after {attempts} attempts" if attempts else ""
        super().__init__(f"source `{source}` {self.headline}{tries}: {url}: {last_error}")


class PaginationLoopError(SourceUnavailableError):
    """A paginated endpoint served a page, URL or cursor it had served already, or never stopped."""

    headline = "paginates in a loop"


class SourceResponseError(SourceUnavailableError):
    """A source answered, but not usably (a 4xx status, records not where the definition says)."""

    headline = "answered with something unusable"


class SourceDataError(SourceUnavailableError):
    """A source's data lacks what its definition names (a table, a key column, a sheet)."""

    headline = "does not match its definition"
