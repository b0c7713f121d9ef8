"""Helpers of the connector tests: definitions built from dicts, raw-batch readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from cityhub.lake import Lake
from connectors.definition import SourceDefinition, parse_source_definition


def definition_from(data: dict[str, Any], file: str = "test_source.yaml") -> SourceDefinition:
    """A validated source definition from a dict, as if read from `file`."""
    return parse_source_definition(data, Path(file))


def read_batch(path: Path | None) -> list[dict[str, Any]]:
    """All rows of a landed raw batch folder (empty when nothing landed)."""
    if path is None:
        return []
    return pq.read_table(path).to_pylist()


def read_stream(lake: Lake, source: str, stream: str) -> list[dict[str, Any]]:
    """All rows of every raw batch of a stream."""
    folder = lake.raw_stream(source, stream)
    return [row for batch in sorted(folder.glob("batch_id=*")) for row in read_batch(batch)]
