"""Fixtures of the connector tests: an empty lake and state folder, a local HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from local_json_api import LocalApi, ServedApi, make_records

from cityhub.lake import Lake


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
