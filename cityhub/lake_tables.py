"""The lake's Parquet tables on the driver, with Arrow: read, write, compare two versions, carry one forward.

Spark does the matching. What an incremental run does around it — finding the rows that changed
between two runs, keeping the previous run's rows that nothing touched, counting a table's
invariants — are column scans and hash lookups that Arrow does in a fraction of one Spark job's
fixed cost, and at a million residents in seconds.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

ROWS_PER_FILE = 1_000_000


def has_table(folder: Path) -> bool:
    """True when `folder` holds Parquet data files (Spark's or Arrow's)."""
    return folder.is_dir() and any(folder.glob("*.parquet"))


def read_table(folder: Path, columns: Sequence[str] | None = None, without: Mapping[str, object] | None = None) -> pa.Table:
    """A Parquet folder as one Arrow table (hidden `_`/`.` files skipped): `columns` only when given, the rows `without`
    names (rows_without) left out as they are read."""
    dataset = pads.dataset(str(folder), format="parquet", exclude_invalid_files=False)
    dropped = None
    for column, values in (without or {}).items():
        hit = pc.field(column).isin(as_values(values))
        dropped = hit if dropped is None else dropped | hit
    return dataset.to_table(columns=list(columns) if columns is not None else None, filter=None if dropped is None else ~dropped)


def write_table(table: pa.Table, folder: Path, rows_per_file: int = ROWS_PER_FILE) -> Path:
    """Write `table` as the Parquet folder `folder`, replacing what was there only once every file is written.

    The schema's Spark metadata is dropped: Spark reads the columns from the Parquet schema, and
    metadata copied from another table could describe columns this one does not have.
    """
    folder = Path(folder)
    staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        table = table.replace_schema_metadata(None)
        for part, start in enumerate(range(0, max(table.num_rows, 1), rows_per_file)):
            pq.write_table(table.slice(start, rows_per_file), staging / f"part-{part:05d}.parquet")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def write_tables(tables: Mapping[Path, pa.Table]) -> None:
    """write_table of each folder's table, side by side: Arrow encodes and compresses a file without holding the GIL."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(tables), os.cpu_count() or 1))) as pool:
        for written in [pool.submit(write_table, table, folder) for folder, table in tables.items()]:
            written.result()


class BackgroundWrites:
    """write_tables in a thread of their own while the caller goes on; leaving the block waits for every write.

    A step that writes tables it does not read again (an incremental resolve's xref and kept tables,
    written while Spark builds golden records) need not wait for Parquet encoding on the driver.
    Leaving the block raises what a write raised, unless the block itself raised.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-writes")
        self._pending: list[Future] = []

    def submit(self, tables: Mapping[Path, pa.Table]) -> None:
        """Write `tables` (folder → table) after the writes submitted before."""
        self._pending.append(self._pool.submit(write_tables, dict(tables)))

    def __enter__(self) -> "BackgroundWrites":
        return self

    def wait(self) -> None:
        """Return once every write submitted is on disk; raise what the first that failed raised."""
        failures = [error for error in (future.exception() for future in self._pending) if error is not None]
        if failures:
            raise failures[0]

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            self.wait()
        except Exception:
            if exc_type is None:
                raise
        finally:
            self._pool.shutdown()


def as_values(values: Iterable | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Distinct non-null values as one Arrow array (for `is_in` lookups)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    elif not isinstance(values, pa.Array):
        values = pa.array(list(values), pa.string())
    return pc.unique(values.drop_null())


def rows_with(table: pa.Table, column: str, values) -> pa.Table:
    """The rows of `table` whose `column` is one of `values`."""
    return table.filter(pc.is_in(table[column], value_set=as_values(values)))


def rows_without(table: pa.Table, drop: Mapping[str, object]) -> pa.Table:
    """The rows of `table` whose value in none of `drop`'s columns is among that column's values."""
    sets = {column: as_values(values) for column, values in drop.items()}
    if not sets:
        return table

    def kept(batch: pa.RecordBatch) -> pa.RecordBatch:  # batch by batch: filtering a many-chunked table realigns every column
        keep = pa.array([True] * batch.num_rows, pa.bool_())
        for column, values in sets.items():
            keep = pc.and_(keep, pc.invert(pc.fill_null(pc.is_in(batch[column], value_set=values), False)))
        return batch.filter(keep)

    return pa.Table.from_batches([kept(batch) for batch in table.to_batches()], schema=table.schema)


def without(values: pa.Array, dropped: pa.Array) -> pa.Array:
    """`values` not among `dropped`."""
    return values.filter(pc.invert(pc.is_in(values, value_set=dropped)))


def among(values: pa.Array, kept: pa.Array) -> pa.Array:
    """`values` among `kept`."""
    return values.filter(pc.is_in(values, value_set=kept))


def values_of(table: pa.Table, column: str) -> pa.Array:
    """The distinct non-null values of one column."""
    return as_values(table[column])


def lookup(keys: pa.ChunkedArray | pa.Array, table: pa.Table, key: str, columns: Sequence[str]) -> pa.Table:
    """For each of `keys`, `columns` of the row of `table` with that `key` (nulls where none); `key` must be unique in `table`."""
    positions = pc.index_in(keys, value_set=table[key].combine_chunks())
    return table.select(list(columns)).take(positions)


def _differs(left: pa.Array, right: pa.Array) -> pa.Array:
    """True where two aligned columns differ, a null against a value included."""
    unequal = pc.fill_null(pc.not_equal(left, right), False)
    return pc.or_(unequal, pc.xor(pc.is_null(left), pc.is_null(right)))


def changed_keys(current: pa.Table, previous: pa.Table, key: str, columns: Sequence[str]) -> pa.Array:
    """`key` of the rows new in `current`, gone from it, or with a value of `columns` (those both tables have) changed.

    Rows are aligned by one hash lookup of the key and compared column by column, nothing else
    copied: a join, or filtering the tables first, would carry every column along.
    """
    compared = [c for c in columns if c != key and c in current.column_names and c in previous.column_names]
    positions = pc.index_in(current[key], value_set=previous[key].combine_chunks())
    changed = pc.is_null(positions)  # new
    for column in compared:
        changed = pc.or_(changed, pc.fill_null(_differs(current[column], previous[column].take(positions)), False))
    kept = np.zeros(previous.num_rows, dtype=bool)
    kept[positions.drop_null().to_numpy()] = True
    return pa.concat_arrays([current[key].filter(changed).combine_chunks(), previous[key].filter(pa.array(~kept)).combine_chunks()])


def constant(value: str, rows: int) -> pa.Array:
    """A string column of `rows` copies of `value`."""
    return pc.fill_null(pa.nulls(rows, pa.string()), value)


def with_run_id(table: pa.Table, run_id: str) -> pa.Table:
    """`table` with every row's `run_id` set to `run_id` (the column added when it has none)."""
    column = constant(run_id, table.num_rows)
    if "run_id" in table.column_names:
        return table.set_column(table.column_names.index("run_id"), "run_id", column)
    return table.append_column("run_id", column)


def nullable(schema: pa.Schema) -> pa.Schema:
    """`schema` with every field nullable and no metadata (Spark marks some columns not null; tables put together must agree)."""
    return pa.schema([pa.field(f.name, f.type) for f in schema])


def conformed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with the columns and types of `schema` (every field nullable), in its order (a column it lacks is all null)."""
    columns = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=nullable(schema))


def stacked(tables: Sequence[pa.Table]) -> pa.Table:
    """The tables one after another, in the first one's columns and types (tables from Spark and Arrow differ in what they mark not null)."""
    schema = nullable(tables[0].schema)
    return pa.concat_tables([table.select(schema.names).cast(schema) for table in tables])


def carry_forward(previous: pa.Table | Path, fresh: pa.Table | None, drop: Mapping[str, object], run_id: str | None = None) -> pa.Table:
    """The previous run's rows (a table, or a folder read with read_table) except those `drop` names (rows_without), followed
    by `fresh` (when any) in the previous rows' schema; every row's `run_id` set when given."""
    kept = read_table(previous, without=drop) if isinstance(previous, Path) else rows_without(previous, drop)
    table = stacked([kept] if fresh is None else [kept, conformed(fresh, kept.schema)])
    return with_run_id(table, run_id) if run_id is not None and "run_id" in table.column_names else table
