"""File-drop sources: CSV, XLSX and JSON / JSON-lines files in a folder, every cell read as a string.

A stream is a glob `pattern` in the drop folder. Its bookmark is the set of files already processed,
as `{file name: sha256 of its content}`: a new name or a known name with new content is read
(whole), everything else is skipped. Each row carries the file it came from in `_file`.

Encodings are detected per file (`connection.encoding: auto`): a UTF-8 BOM or valid UTF-8 wins,
otherwise charset-normalizer guesses, and Chinese guesses are decoded as GB18030 (a superset of
GBK and GB2312, so rare name characters survive).

XLSX numbers are rendered the way Excel shows them: 15 significant digits, so an ID number typed
into a numeric cell arrives as `3.30102199001011e+17`. That mangling is data the standardiser must
see and repair, so it is kept rather than "fixed" here.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Iterator

from charset_normalizer import from_bytes

from connectors.base import Record, SourceClient, StreamRead
from connectors.definition import FilesConnection, SourceDefinition, Stream, resolve_env
from connectors.errors import SourceDataError, SourceUnavailableError
from connectors.landing import to_text
from connectors.state import Bookmark

SNIFF_BYTES = 1 << 20
ROWS_PER_CHUNK = 5000
CHINESE_ENCODINGS = {"gbk", "gb2312", "gb18030", "hz", "big5", "big5hkscs", "cp936", "cp950"}


class FileFormatError(ValueError):
    """A drop file cannot be read as its extension says (wrong sheet, not JSON objects, bad bytes)."""


class FilesClient(SourceClient):
    """A drop folder; streams are glob patterns inside it."""

    def __init__(self, definition: SourceDefinition) -> None:
        super().__init__(definition)
        self.connection: FilesConnection = definition.connection  # type: ignore[assignment]
        self.folder = Path(resolve_env(self.connection.path, where=f"{self.where}: connection.path")).expanduser()

    def require_folder(self) -> None:
        """Fail as unavailable when the drop folder is missing (an unmounted share looks like this)."""
        if not self.folder.is_dir():
            raise SourceUnavailableError(self.definition.name, str(self.folder), "drop folder does not exist or is not mounted")

    def files(self, stream: Stream) -> list[Path]:
        """The stream's files, sorted by name (drops are named by date)."""
        return sorted(p for p in self.folder.glob(stream.pattern or "*") if p.is_file() and not p.name.startswith((".", "~$")))

    def read(self, stream: Stream, bookmark: Bookmark) -> StreamRead:
        return FilesStreamRead(self, stream, bookmark)

    def check(self) -> str:
        self.require_folder()
        counts = ", ".join(f"{s.pattern}: {len(self.files(s))} file(s)" for s in self.definition.streams)
        return f"drop folder {self.folder}: {counts}"


class FilesStreamRead(StreamRead):
    """The new and changed files of one stream, one chunk per file (or part of a large file)."""

    def __init__(self, client: FilesClient, stream: Stream, bookmark: Bookmark) -> None:
        super().__init__(stream, bookmark)
        self.client = client

    def chunks(self) -> Iterator[list[Record]]:
        self.client.require_folder()
        processed: dict[str, str] = dict(self.bookmark_before) if isinstance(self.bookmark_before, dict) else {}
        for path in self.client.files(self.stream):
            name = path.relative_to(self.client.folder).as_posix()
            digest = file_sha256(path)
            if processed.get(name) == digest:
                continue
            try:
                for rows in _chunked(read_rows(path, self.stream, self.client.connection.encoding), ROWS_PER_CHUNK):
                    yield [self._record(row, name, path) for row in rows]
            except (FileFormatError, UnicodeDecodeError, csv.Error, json.JSONDecodeError, zipfile.BadZipFile, OSError) as exc:
                raise SourceDataError(self.client.definition.name, str(path), f"stream `{self.stream.name}`: cannot read {name}: {exc}") from None
            processed[name] = digest
            self.files.append(name)
        self.bookmark = processed

    def _record(self, row: dict[str, str | None], name: str, path: Path) -> Record:
        key = self.stream.primary_key
        if key not in row:
            raise SourceDataError(self.client.definition.name, str(path), f"stream `{self.stream.name}`: primary_key `{key}` is not a column of {name} (columns: {', '.join(row)}); fix `primary_key` or the file")
        return row, row[key], name


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def detect_encoding(path: Path) -> str:
    """The file's text encoding: utf-8-sig (BOM), utf-8, or charset-normalizer's guess (GBK as gb18030)."""
    with path.open("rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # incremental, so that a character cut at the end of the sample is not an error
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) < SNIFF_BYTES)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample).best()
    guess = codecs.lookup(best.encoding).name if best is not None else "gb18030"
    return "gb18030" if guess in CHINESE_ENCODINGS or guess.startswith("gb") else guess


def read_rows(path: Path, stream: Stream, encoding: str = "auto") -> Iterator[dict[str, str | None]]:
    """Every row of a drop file as `{column: string}`, by the file's extension."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path, stream.sheet)
    text_encoding = detect_encoding(path) if encoding == "auto" else encoding
    if suffix in (".json", ".jsonl", ".ndjson"):
        return read_json(path, text_encoding, stream.records_path)
    return read_csv(path, text_encoding)


def read_csv(path: Path, encoding: str) -> Iterator[dict[str, str | None]]:
    """CSV rows with the header's names (stripped); missing trailing cells are null, never guessed."""
    with path.open("r", encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        columns = _column_names(header)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row: dict[str, str | None] = {column: (cells[i] if i < len(cells) else None) for i, column in enumerate(columns)}
            for extra, cell in enumerate(cells[len(columns):], start=len(columns) + 1):
                row[f"column_{extra}"] = cell
            yield row


def read_xlsx(path: Path, sheet: str | None) -> Iterator[dict[str, str | None]]:
    """XLSX rows of the named sheet (the first by default), each cell as Excel would display it."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise FileFormatError(f"no sheet `{sheet}` (sheets: {', '.join(workbook.sheetnames)}); fix `sheet:` in the stream")
        rows = (workbook[sheet] if sheet else workbook.worksheets[0]).iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        columns = _column_names([excel_text(v) or "" for v in header])
        for values in rows:
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            yield {column: excel_text(values[i]) if i < len(values) else None for i, column in enumerate(columns)}
    finally:
        workbook.close()


def excel_text(value: Any) -> str | None:
    """A cell value as text the way Excel displays it (floats to 15 significant digits)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return format(value, ".15g")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def read_json(path: Path, encoding: str, records_path: str | None = None) -> Iterator[dict[str, str | None]]:
    """Records of a JSON array / object (at `records_path`) or of JSON lines, values as strings."""
    text = path.read_text(encoding=encoding)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]  # JSON lines
    if isinstance(data, dict):
        for part in (records_path or "").split("."):
            if part:
                data = data.get(part, []) if isinstance(data, dict) else []
        data = data if isinstance(data, list) else [data]
    for record in data:
        if not isinstance(record, dict):
            raise FileFormatError(f"expected JSON objects, found {type(record).__name__}")
        yield {str(key): to_text(value) for key, value in record.items()}


def _column_names(header: list[str]) -> list[str]:
    names: list[str] = []
    for index, raw in enumerate(header, start=1):
        name = (raw or "").strip() or f"column_{index}"
        names.append(name if name not in names else f"{name}_{index}")
    return names


def _chunked(rows: Iterator[dict[str, str | None]], size: int) -> Iterator[list[dict[str, str | None]]]:
    chunk: list[dict[str, str | None]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
