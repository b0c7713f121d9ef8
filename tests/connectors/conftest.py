"""Fixtures of the connector tests: a local HTTP API, definitions built from dicts, raw-batch readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq
import pytest

from cityhub.lake import Lake
from connectors.definition import SourceDefinition, parse_source_definition
from local_json_api import LocalApi, ServedApi, make_records


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


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """An empty lake of the test's own."""
    return Lake.under(tmp_path / "home")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A watermark state folder of the test's own."""
    return tmp_path / "home" / "state"


@pytest.fixture
def local_api() -> Iterator[LocalApi]:
    """A local JSON API with 25 records, served on a free loopback port for the test."""
    with ServedApi(LocalApi(make_records(25))) as api:
        yield api
