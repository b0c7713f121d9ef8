"""Quarantine rows made fit for the shared layer's key (run_id, record_key, rule).

A record without a primary key has no record key: the standardiser quarantines it with
`record_key` null and its record hash in `value`. Such a row is published under the key
`<source>:<stream>:#<value>`, `#` marking a key the publisher made up. And as a record quarantined
twice for the same rule in one run says nothing more than once (say, a key-less record landed in two
batches), later copies are left out and counted in `PublishResult.quarantine_duplicates`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa


class QuarantineKeys:
    """A batch filter filling missing record keys and dropping repeats of a (run_id, record_key, rule)."""

    def __init__(self) -> None:
        self.seen: set[tuple] = set()
        self.duplicates = 0

    def __call__(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield self._keyed(batch)

    def _keyed(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = {name: batch.column(name).to_pylist() for name in ("run_id", "record_key", "rule", "source", "stream", "value")}
        keys, keep = [], []
        for run_id, record_key, rule, source, stream, value in zip(*columns.values()):
            if record_key is None:
                record_key = f"{source}:{stream}:#{value or ''}"
            key = (run_id, record_key, rule)
            fresh = key not in self.seen
            self.seen.add(key)
            self.duplicates += not fresh
            keys.append(record_key)
            keep.append(fresh)
        index = batch.schema.get_field_index("record_key")
        keyed = batch.set_column(index, "record_key", pa.array(keys, pa.string()))
        return keyed if all(keep) else keyed.filter(pa.array(keep))
