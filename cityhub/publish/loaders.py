"""Bulk loaders: PostgreSQL COPY through psycopg 3, chunked executemany on SQLite (and, slower, anywhere else)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

Loader = Callable[[sa.Connection, sa.Table, Iterable[pa.RecordBatch]], int]

INSERT_CHUNK_ROWS = 5_000
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False)


def loader_for(connection: sa.Connection) -> Loader:
    """The fastest loader the connection's database supports."""
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        return copy_batches
    if connection.dialect.name == "sqlite":
        return executemany_batches
    return insert_batches


def copy_batches(connection: sa.Connection, table: sa.Table, batches: Iterable[pa.RecordBatch]) -> int:
    """Stream batches into `table` with COPY FROM STDIN on the connection's own transaction; returns rows."""
    # Arrow's CSV writer quotes every string and leaves NULL unquoted and empty, which is exactly how
    # PostgreSQL's CSV format tells NULL from the empty string.
    driver_connection = connection.connection.driver_connection
    statement = f"COPY {_table_name(connection, table)} ({_column_list(connection, table)}) FROM STDIN (FORMAT csv)"
    rows = 0
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for batch in batches:
            if batch.num_rows:
                sink = pa.BufferOutputStream()
                pacsv.write_csv(batch, sink, _CSV_OPTIONS)
                copy.write(sink.getvalue().to_pybytes())
                rows += batch.num_rows
    return rows


def executemany_batches(connection: sa.Connection, table: sa.Table, batches: Iterable[pa.RecordBatch]) -> int:
    """Insert batches into a SQLite `table` with the driver's executemany, a chunk at a time; returns rows."""
    # Values go in as SQLAlchemy itself stores them in SQLite (dates as ISO text, booleans as 0/1), but
    # converted column-wise by Arrow: SQLAlchemy's per-row parameter processing would take most of the time.
    placeholders = ", ".join("?" for _ in table.columns)
    statement = f"INSERT INTO {_table_name(connection, table)} ({_column_list(connection, table)}) VALUES ({placeholders})"
    rows = 0
    for batch in batches:
        columns = [_sqlite_values(column) for column in batch.columns]
        for offset in range(0, batch.num_rows, INSERT_CHUNK_ROWS):
            chunk = list(zip(*(column[offset:offset + INSERT_CHUNK_ROWS] for column in columns)))
            connection.exec_driver_sql(statement, chunk)
            rows += len(chunk)
    return rows


def _sqlite_values(column: pa.Array) -> list:
    if pa.types.is_date(column.type):
        return column.cast(pa.string()).to_pylist()
    if pa.types.is_boolean(column.type):
        return column.cast(pa.int8()).to_pylist()
    return column.to_pylist()


def insert_batches(connection: sa.Connection, table: sa.Table, batches: Iterable[pa.RecordBatch]) -> int:
    """Insert batches into `table` through SQLAlchemy's executemany (any backend), a chunk at a time; returns rows."""
    statement = table.insert()
    rows = 0
    for batch in batches:
        for offset in range(0, batch.num_rows, INSERT_CHUNK_ROWS):
            chunk = batch.slice(offset, INSERT_CHUNK_ROWS).to_pylist()
            connection.execute(statement, chunk)
            rows += len(chunk)
    return rows


def _table_name(connection: sa.Connection, table: sa.Table) -> str:
    return connection.dialect.identifier_preparer.format_table(table)


def _column_list(connection: sa.Connection, table: sa.Table) -> str:
    quote = connection.dialect.identifier_preparer.quote
    return ", ".join(quote(column.name) for column in table.columns)
