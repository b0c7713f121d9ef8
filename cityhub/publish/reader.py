"""Reading a published table's Parquet folder in record batches, conformed to the shared layer's column types."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa


class PublishError(RuntimeError):
    """A publish could not be done; the message names the file or table and what is wrong."""


def arrow_type(column: sa.Column) -> pa.DataType:
    """The Arrow type a shared layer column is loaded from."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.Date):
        return pa.date32()
    if isinstance(kind, sa.Integer):
        return pa.int64()
    if isinstance(kind, sa.Float):
        return pa.float64()
    if isinstance(kind, sa.String):
        return pa.string()
    raise TypeError(f"no Arrow type for column {column.table.name}.{column.name} of type {kind!r}")


def arrow_schema(table: sa.Table) -> pa.Schema:
    """The Arrow schema of a table, columns in table order (the order loaders write them in)."""
    return pa.schema([pa.field(column.name, arrow_type(column)) for column in table.columns])


def parquet_files(folder: Path) -> list[Path]:
    """Parquet data files under a folder, recursively, skipping `_SUCCESS`, `.crc` and other hidden files."""
    files = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not any(part.startswith(("_", ".")) for part in parts):
            files.append(path)
    return files


def partition_values(relative: Path) -> dict[str, str]:
    """Hive-style `key=value` folder names on the way to a file (Spark's partitionBy)."""
    return dict(part.split("=", 1) for part in relative.parts[:-1] if "=" in part)


@dataclass
class ParquetSource:
    """One table's Parquet folder, checked against the columns the shared layer needs."""

    folder: Path
    schema: pa.Schema
    fill: Mapping[str, str] = field(default_factory=dict)  # constant values for columns a file may leave out
    files: list[Path] = field(default_factory=list)

    @classmethod
    def open(cls, folder: Path, table: sa.Table, fill: Mapping[str, str] | None = None, required: bool = True) -> "ParquetSource":
        """Find the files and check their footers and columns, before anything is written."""
        source = cls(Path(folder), arrow_schema(table), dict(fill or {}))
        if not source.folder.is_dir():
            if required:
                raise PublishError(f"{source.folder}: the Parquet folder of table {table.name} does not exist; run the step that writes it first")
            return source
        source.files = parquet_files(source.folder)
        for file in source.files:
            source._check_columns(file)
        return source

    def _check_columns(self, file: Path) -> None:
        present = set(_footer(file).schema_arrow.names) | set(partition_values(file.relative_to(self.folder)))
        missing = [name for name in self.schema.names if name not in present and name not in self.fill]
        if missing:
            raise PublishError(f"{file}: missing columns {missing} (see docs/architecture.md for the table's columns)")

    def batches(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Record batches of at most `batch_rows` rows, in the shared layer's column order and types."""
        for file in self.files:
            partitions = partition_values(file.relative_to(self.folder))
            reader = _footer(file)
            wanted = [name for name in self.schema.names if name in reader.schema_arrow.names]
            try:
                for batch in reader.iter_batches(batch_size=batch_rows, columns=wanted):
                    yield self._conform(batch, partitions, file)
            except (pa.ArrowInvalid, OSError) as exc:
                raise PublishError(f"{file}: cannot read: {exc}") from exc

    def _conform(self, batch: pa.RecordBatch, partitions: Mapping[str, str], file: Path) -> pa.RecordBatch:
        arrays = []
        for target in self.schema:
            if target.name in batch.schema.names:
                values = batch.column(target.name)
            else:
                constant = partitions.get(target.name, self.fill.get(target.name))
                values = pa.array([constant] * batch.num_rows, pa.string())
            arrays.append(_cast(values, target, file))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _footer(file: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise PublishError(f"{file}: not a readable Parquet file: {exc}") from exc


def _cast(values: pa.Array, target: pa.Field, file: Path) -> pa.Array:
    if values.type == target.type:
        return values
    try:
        return pc.cast(values, target.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise PublishError(f"{file}: column {target.name}: cannot read {values.type} values as {target.type}: {exc}") from exc
