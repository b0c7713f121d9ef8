"""Shared layer fixtures: a database per test on SQLite and on the real PostgreSQL, and small lake runs.

The runs are written with pyarrow in the shapes docs/architecture.md documents for the resolved
tables and the quarantine (Spark-like types: dates, booleans, doubles, ints), split over two part
files with a `_SUCCESS` marker, as Spark writes them.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from cityhub.lake import Lake

RESIDENT_SCHEMA = pa.schema([
    ("resident_id", pa.string()), ("id_number", pa.string()), ("name", pa.string()), ("gender", pa.string()),
    ("birth_date", pa.date32()), ("ethnicity", pa.string()), ("marital_status", pa.string()), ("phone", pa.string()),
    ("hukou_address", pa.string()), ("hukou_admin_code", pa.string()), ("current_address", pa.string()),
    ("current_admin_code", pa.string()), ("death_date", pa.date32()), ("is_deceased", pa.bool_()),
    ("record_count", pa.int32()), ("sources", pa.string()), ("run_id", pa.string()),
])
XREF_SCHEMA = pa.schema([
    ("record_key", pa.string()), ("source", pa.string()), ("stream", pa.string()), ("source_record_id", pa.string()),
    ("resident_id", pa.string()), ("match_rule", pa.string()), ("match_probability", pa.float64()),
    ("match_evidence", pa.string()), ("batch_id", pa.string()), ("run_id", pa.string()),
])
LINEAGE_SCHEMA = pa.schema([
    ("resident_id", pa.string()), ("attribute", pa.string()), ("value", pa.string()),
    ("record_key", pa.string()), ("source", pa.string()), ("rule", pa.string()),
])
QUARANTINE_SCHEMA = pa.schema([
    ("record_key", pa.string()), ("source", pa.string()), ("stream", pa.string()), ("source_record_id", pa.string()),
    ("batch_id", pa.string()), ("rule", pa.string()), ("reason", pa.string()), ("value", pa.string()), ("run_id", pa.string()),
])
FACT_KEYS = ["resident_id", "record_key", "fact_key", "stream", "source_record_id", "batch_id"]
HOUSING_FACTS = ["unit_no", "floor_area"]
# Values that CSV-based COPY gets wrong unless quoting and NULL handling are right.
AWKWARD_VALUES = ["", 'a,"b"\nc', "东城区 1号\t院", "\\N", None]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request, tmp_path):
    """A fresh, empty shared layer: a SQLite file, or a schema of its own on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def lake(tmp_path) -> Lake:
    """An empty lake of the test's own."""
    return Lake.under(tmp_path / "home")


def make_run(run_id: str, residents: int = 3, name_suffix: str = "", facts: dict[str, list[str]] | None = None) -> dict[str, list[dict]]:
    """Rows of every published table for one small run: two source records per resident."""
    facts = {"housing": HOUSING_FACTS} if facts is None else facts
    tables: dict[str, list[dict]] = {"resident": [], "resident_xref": [], "resident_lineage": [], "quarantine": []}
    for i in range(residents):
        resident_id = f"R{i:04d}"
        deceased = i == residents - 1
        tables["resident"].append({
            "resident_id": resident_id, "id_number": f"11010119900101{i:03d}X", "name": f"张{i}{name_suffix}",
            "gender": "M" if i % 2 else "F", "birth_date": date(1990, 1, 1) + timedelta(days=i), "ethnicity": "汉族",
            "marital_status": "married", "phone": f"1380000{i:04d}", "hukou_address": "北京市东城区东华门街道",
            "hukou_admin_code": "110101", "current_address": None if i == 0 else "北京市西城区", "current_admin_code": "110102",
            "death_date": date(2024, 5, 1) if deceased else None, "is_deceased": deceased, "record_count": 2,
            "sources": "housing,public_security", "run_id": run_id,
        })
        for source, stream, prefix, rule in (("public_security", "rk_person", "P", "id_number"), ("housing", "property", "H", "id_number")):
            tables["resident_xref"].append({
                "record_key": f"{source}:{stream}:{prefix}{i}", "source": source, "stream": stream, "source_record_id": f"{prefix}{i}",
                "resident_id": resident_id, "match_rule": rule, "match_probability": 0.5 + i / 100,
                "match_evidence": AWKWARD_VALUES[i % len(AWKWARD_VALUES)], "batch_id": "b1", "run_id": run_id,
            })
        for attribute, value in (("name", f"张{i}{name_suffix}"), ("birth_date", str(date(1990, 1, 1) + timedelta(days=i)))):
            tables["resident_lineage"].append({
                "resident_id": resident_id, "attribute": attribute, "value": value,
                "record_key": f"public_security:rk_person:P{i}", "source": "public_security", "rule": "authority",
            })
    for source, columns in facts.items():
        tables[f"fact_{source}"] = [_fact_row(source, i, columns) for i in range(residents)]
    tables["quarantine"].append({
        "record_key": "housing:property:HBAD", "source": "housing", "stream": "property", "source_record_id": "HBAD",
        "batch_id": "b1", "rule": "id_number.bad_checksum", "reason": "check character does not match", "value": "110101199001010010", "run_id": run_id,
    })
    return tables


def _fact_row(source: str, i: int, columns: list[str]) -> dict:
    row = {
        "resident_id": f"R{i:04d}", "record_key": f"{source}:property:H{i}", "fact_key": f"{source}:property:H{i}",
        "stream": "property", "source_record_id": f"H{i}", "batch_id": "b1",
    }
    for position, column in enumerate(columns):
        row[column] = AWKWARD_VALUES[i % len(AWKWARD_VALUES)] if position == 0 else f"{column}-{i}"
    return row


def _schema_for(table: str, rows: list[dict], as_strings: bool = False) -> pa.Schema:
    known = {"resident": RESIDENT_SCHEMA, "resident_xref": XREF_SCHEMA, "resident_lineage": LINEAGE_SCHEMA, "quarantine": QUARANTINE_SCHEMA}
    if table in known and not as_strings:
        return known[table]
    return pa.schema([(name, pa.string()) for name in rows[0]])


def write_parquet(folder: Path, rows: list[dict], schema: pa.Schema, parts: int = 2) -> None:
    """Write rows as Spark does: several part files and a `_SUCCESS` marker."""
    folder.mkdir(parents=True, exist_ok=True)
    size = max(1, -(-len(rows) // parts))
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)] or [[]]
    for number, chunk in enumerate(chunks):
        pq.write_table(pa.Table.from_pylist(chunk, schema=schema), folder / f"part-{number:05d}.snappy.parquet")
    (folder / "_SUCCESS").write_bytes(b"")


def write_run(lake: Lake, run_id: str, tables: dict[str, list[dict]], as_strings: tuple[str, ...] = ()) -> None:
    """Land a run's tables where the resolver and standardiser put them (tables in `as_strings` all-text)."""
    for table, rows in tables.items():
        folder = lake.quarantine(run_id) if table == "quarantine" else lake.resolved(run_id, table)
        write_parquet(folder, rows, _schema_for(table, rows, table in as_strings))


@pytest.fixture
def land_run(lake):
    """Write a run into the test's lake: `land_run(run_id, **make_run options)` returns the rows written."""

    def land(run_id: str, **options) -> dict[str, list[dict]]:
        tables = make_run(run_id, **options)
        write_run(lake, run_id, tables)
        return tables

    return land


def read_table(url: str, table: str, order_by: list[str]) -> list[dict]:
    """Every row of a published table as typed dicts (through the Core table), in a stable order."""
    from cityhub.sharedlayer import engine_for
    from cityhub.sharedlayer.schema import metadata

    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            core = metadata.tables.get(table)
            if core is None:  # fact tables are not in the schema module; their columns are all text
                core = sa.Table(table, sa.MetaData(), autoload_with=connection)
            query = sa.select(core).order_by(*(core.c[column] for column in order_by))
            return [dict(row._mapping) for row in connection.execute(query)]
    finally:
        engine.dispose()


ORDER = {
    "resident": ["resident_id"],
    "resident_xref": ["record_key"],
    "resident_lineage": ["resident_id", "attribute"],
    "quarantine": ["run_id", "record_key", "rule"],
    "dataset_version": ["dataset", "version"],
}


def snapshot(url: str, tables: list[str]) -> dict[str, list[dict]]:
    """The contents of several tables (fact tables ordered by fact_key)."""
    return {table: read_table(url, table, ORDER.get(table, ["fact_key"])) for table in tables}


@pytest.fixture
def published():
    """`published(url, tables)`: the current contents of tables, for before/after comparisons."""
    return snapshot


@pytest.fixture
def make_rows():
    """`make_rows(run_id, residents=3, name_suffix="", facts={...})`: a run's rows, not yet written."""
    return make_run


@pytest.fixture
def write_rows(lake):
    """`write_rows(run_id, tables, as_strings=())`: land rows (possibly altered by the test) in the test's lake."""

    def write(run_id: str, tables: dict[str, list[dict]], as_strings: tuple[str, ...] = ()) -> None:
        write_run(lake, run_id, tables, as_strings)

    return write

