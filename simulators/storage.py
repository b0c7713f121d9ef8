"""Reading and writing a generated city's files: JSON lines and the city.json manifest."""

from __future__ import annotations

import json
from pathlib import Path


def write_jsonl(path: Path, records: list[dict]) -> None:
    """One JSON object per line, UTF-8, Chinese as is; written to a temporary file first so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    temporary.replace(path)


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_manifest(city_dir: Path, manifest: dict) -> None:
    """city.json."""
    (Path(city_dir) / "city.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def read_manifest(city_dir: Path) -> dict:
    """The manifest of a generated city."""
    return json.loads((Path(city_dir) / "city.json").read_text(encoding="utf-8"))
