"""What the Airflow DAG files need from cityhub, kept light so DAG parsing stays fast."""

from __future__ import annotations

import re
from pathlib import Path

RAW_ASSET_PREFIX = "cityhub://raw/"
PUBLISHED_ASSET_URI = "cityhub://published/resident"


def raw_asset_uri(source: str) -> str:
    """The Asset a source's ingest DAG updates when it lands a batch."""
    return f"{RAW_ASSET_PREFIX}{source}"


def source_names(sources_dir: Path | None = None) -> list[str]:
    """Names of the configured sources (reads local YAML only: safe at DAG parse time)."""
    from connectors.definition import load_source_definitions

    from .config import load_settings

    folder = sources_dir or load_settings().sources_dir
    return [definition.name for definition in load_source_definitions(folder)]


def run_id_from_airflow(airflow_run_id: str) -> str:
    """A filesystem-safe cityhub run/batch id from an Airflow run id; stable across task retries."""
    return re.sub(r"[^A-Za-z0-9_-]+", "", airflow_run_id.replace("+00:00", "Z").replace(":", "").replace(".", ""))
