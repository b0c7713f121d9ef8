"""SQL sources: any SQLAlchemy 2 URL (SQLite, PostgreSQL via psycopg, MariaDB/MySQL via pymysql).

Rows are read with a server-side cursor in chunks of `chunk_size`, incrementally with
`WHERE replication_key >= :bookmark ORDER BY replication_key, primary_key`. `>=` re-reads the rows
that share the bookmark's value, so rows committed later with that same timestamp are not missed
(downstream keeps the latest row per primary key).

Columns are deliberately untyped (`sa.column`) so the driver's own values come back unconverted:
SQLAlchemy's SQLite DATETIME processing would, for example, turn `2024-01-01 10:00:00` text into
`2024-01-01T10:00:00`, and the bookmark would then no longer compare correctly with the stored text.
"""

from __future__ import annotations

import time
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, OperationalError, SQLAlchemyError

from connectors.base import Record, SourceClient, StreamRead
from connectors.definition import SourceDefinition, SqlConnection, Stream, resolve_env
from connectors.errors import SourceDataError, SourceUnavailableError
from connectors.landing import to_text
from connectors.state import Bookmark

CONNECT_ATTEMPTS = 3
CONNECT_BACKOFF_SECONDS = 0.5


class SqlClient(SourceClient):
    """One engine per source; streams are tables."""

    def __init__(self, definition: SourceDefinition) -> None:
        super().__init__(definition)
        self.connection: SqlConnection = definition.connection  # type: ignore[assignment]
        url = resolve_env(self.connection.url, where=f"{self.where}: connection.url")
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise SourceUnavailableError(definition.name, _redacted(url), f"cannot create an engine for this URL: {exc}") from None
        self.url = self.engine.url.render_as_string(hide_password=True)

    def connect(self) -> sa.Connection:
        """A connection, retried a few times with backoff when the database is briefly unreachable."""
        last: Exception | None = None
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                return self.engine.connect()
            except OperationalError as exc:
                last = exc
                time.sleep(CONNECT_BACKOFF_SECONDS * 2**attempt)
        raise SourceUnavailableError(self.definition.name, self.url, _first_line(last), CONNECT_ATTEMPTS)

    def table(self, stream: Stream) -> sa.TableClause:
        """The stream's table as an untyped table clause (identifiers quoted as the dialect needs)."""
        return sa.table(stream.table or stream.name, schema=self.connection.schema_name)

    def read(self, stream: Stream, bookmark: Bookmark) -> StreamRead:
        return SqlStreamRead(self, stream, bookmark)

    def check(self) -> str:
        with self.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            inspector = sa.inspect(connection)
            tables = []
            for stream in self.definition.streams:
                self.require_columns(inspector, stream)
                tables.append(stream.table or stream.name)
        return f"{self.url}: tables {', '.join(tables)} present"

    def require_columns(self, inspector: sa.Inspector, stream: Stream) -> None:
        """Fail clearly when the stream's table or its key columns are missing."""
        name = stream.table or stream.name
        try:
            columns = {c["name"] for c in inspector.get_columns(name, schema=self.connection.schema_name)}
        except NoSuchTableError:
            columns = set()
        if not columns:
            raise SourceDataError(self.definition.name, self.url, f"stream `{stream.name}`: table `{name}` does not exist; fix `table:` in {self.where}")
        for key in ("primary_key", "replication_key"):
            column = getattr(stream, key)
            if column is not None and column not in columns:
                raise SourceDataError(self.definition.name, self.url, f"stream `{stream.name}`: {key} `{column}` is not a column of `{name}` (columns: {', '.join(sorted(columns))}); fix it in {self.where}")

    def close(self) -> None:
        self.engine.dispose()


class SqlStreamRead(StreamRead):
    """One table read in server-side chunks, from the bookmark on."""

    def __init__(self, client: SqlClient, stream: Stream, bookmark: Bookmark) -> None:
        super().__init__(stream, bookmark)
        self.client = client

    def query(self) -> sa.Select:
        """`SELECT * FROM table [WHERE rk >= :bookmark] ORDER BY rk, pk`."""
        stream = self.stream
        query = sa.select(sa.text("*")).select_from(self.client.table(stream))
        order = [sa.column(stream.primary_key)]
        if stream.replication_key:
            replication = sa.column(stream.replication_key)
            order.insert(0, replication)
            if self.bookmark_before is not None:
                # untyped, so no `::VARCHAR` cast: the database compares the text with its own column type
                query = query.where(replication >= sa.bindparam("bookmark", self.bookmark_before, type_=sa.types.NullType()))
        return query.order_by(*order)

    def chunks(self) -> Iterator[list[Record]]:
        stream, chunk_size = self.stream, self.client.connection.chunk_size
        with self.client.connect() as connection:
            self.client.require_columns(sa.inspect(connection), stream)
            try:
                result = connection.execution_options(stream_results=True, yield_per=chunk_size).execute(self.query())
                for rows in result.partitions():
                    yield [self._record(row._mapping) for row in rows]
            except OperationalError as exc:
                raise SourceUnavailableError(self.client.definition.name, self.client.url, f"stream `{stream.name}`: {_first_line(exc)}") from None

    def replication_text(self, record: dict) -> str | None:
        key = self.stream.replication_key
        return to_text(record.get(key)) if key else None  # column names may contain dots

    def _record(self, values: sa.RowMapping) -> Record:
        record = dict(values)
        if self.stream.replication_key:
            value = record.get(self.stream.replication_key)
            if value is not None:  # ordered ascending, so the last non-null value is the largest
                self.bookmark = to_text(value)
        return record, record.get(self.stream.primary_key), None


def _first_line(exc: BaseException | None) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _redacted(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL is shown without its middle
        return url.split("@")[-1]
