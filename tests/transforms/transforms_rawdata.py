"""Write tiny raw batches the way connectors land them (strings + provenance columns), with pyarrow."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq

from cityhub.lake import Lake
from transforms.standardise.id_number import check_character


def make_id(region: str, birth: str, sequence: str) -> str:
    """A valid 18-character ID number from region, YYYYMMDD birth date and 3-digit sequence."""
    first17 = region + birth + sequence
    return first17 + check_character(first17)


def write_batch(lake: Lake, source: str, stream: str, primary_key: str, batch_id: str, extracted_at: str,
                records: list[dict], columns: list[str] | None = None) -> None:
    """Land one batch of records (values as strings or None) under raw/<source>/<stream>/batch_id=<batch>/."""
    columns = columns or list(dict.fromkeys(k for r in records for k in r))
    rows = []
    for record in records:
        values = {c: (None if record.get(c) is None else str(record[c])) for c in columns}
        canonical = json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        rows.append({
            **values, "_source": source, "_stream": stream, "_source_record_id": values.get(primary_key),
            "_batch_id": batch_id, "_extracted_at": extracted_at,
            "_record_hash": hashlib.sha256(canonical.encode()).hexdigest(),
        })
    names = [*columns, "_source", "_stream", "_source_record_id", "_batch_id", "_extracted_at", "_record_hash"]
    table = pa.table({n: pa.array([r[n] for r in rows], type=pa.string()) for n in names})
    folder = lake.raw_batch(source, stream, batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part-00000.parquet")


def jtext(value) -> str:
    """JSON text, as REST connectors land nested values."""
    return json.dumps(value, ensure_ascii=False)
