"""Watermark state and raw landing: atomic writes, idempotent batch re-runs, provenance, string columns."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from connector_test_helpers import definition_from, read_batch, read_stream

from connectors.errors import SourceUnavailableError
from connectors.extract import extract_source
from connectors.landing import RawBatchWriter, record_hash, to_text
from connectors.state import KEEP_BATCHES, BatchRecord, SourceState


def hukou_db(tmp_path, rows):
    url = f"sqlite:///{tmp_path / 'hukou.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS rk (rkid TEXT PRIMARY KEY, xm TEXT, updated_at TEXT)")
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS ev (sjid TEXT PRIMARY KEY, rkid TEXT, updated_at TEXT)")
        for row in rows:
            connection.execute(sa.text("INSERT OR REPLACE INTO rk VALUES (:r, :x, :u)"), dict(zip("rxu", row, strict=True)))
    engine.dispose()
    streams = [
        {"name": "persons", "table": "rk", "primary_key": "rkid", "replication_key": "updated_at", "person": {"name": "xm"}},
        {"name": "events", "table": "ev", "primary_key": "sjid", "replication_key": "updated_at", "subject": {"stream": "persons", "field": "rkid"}},
    ]
    return definition_from({"name": "hukou", "title": "h", "provider_code": "GA", "kind": "sql", "connection": {"url": url}, "streams": streams})


def test_same_batch_id_rerun_is_idempotent_and_new_batch_continues(tmp_path, lake, state_dir):
    definition = hukou_db(tmp_path, [("A", "甲", "2024-01-01"), ("B", "乙", "2024-01-02")])
    first = extract_source(definition, lake, state_dir, "b1")
    hukou_db(tmp_path, [("C", "丙", "2024-01-03"), ("D", "丁", "2024-01-02")])  # D: late, at b1's bookmark
    second = extract_source(definition, lake, state_dir, "b2")
    assert [r["rkid"] for r in read_batch(second.streams["persons"].path)] == ["D", "C"]

    again = extract_source(definition, lake, state_dir, "b2")  # the same batch: from b2's start again
    assert again.streams["persons"].bookmark_before == first.streams["persons"].bookmark_after == "2024-01-02"
    assert [r["rkid"] for r in read_batch(lake.raw_batch("hukou", "persons", "b2"))] == ["D", "C"]  # overwritten, not appended
    assert sorted(p.name for p in lake.raw_stream("hukou", "persons").iterdir()) == ["batch_id=b1", "batch_id=b2"]

    hukou_db(tmp_path, [("E", "戊", "2024-01-04")])
    third = extract_source(definition, lake, state_dir, "b3")  # a new batch: from the latest bookmark
    assert third.streams["persons"].bookmark_before == "2024-01-03"
    assert [r["rkid"] for r in read_batch(third.streams["persons"].path)] == ["E"]

    state = SourceState(state_dir, "hukou")
    assert state.bookmark("persons") == "2024-01-04" and list(state.boundary("persons")) == ["E"]
    assert state.batch("persons", "b2").rows == 2 and state.batch("events", "b2").rows == 0
    assert third.streams["events"].path is None and third.total_rows == 1
    assert extract_source(definition, lake, state_dir, "b4").total_rows == 0


def test_too_many_records_at_the_bookmark_are_simply_reread(tmp_path, lake, state_dir, monkeypatch):
    monkeypatch.setattr("connectors.extract.MAX_BOUNDARY", 1)
    definition = hukou_db(tmp_path, [("A", "甲", "2024-01-01"), ("B", "乙", "2024-01-01")])
    extract_source(definition, lake, state_dir, "b1")
    assert SourceState(state_dir, "hukou").boundary("persons") is None
    assert extract_source(definition, lake, state_dir, "b2").streams["persons"].rows == 2


def test_rerunning_the_first_batch_starts_from_nothing(tmp_path, lake, state_dir):
    definition = hukou_db(tmp_path, [("A", "甲", "2024-01-01")])
    extract_source(definition, lake, state_dir, "b1")
    hukou_db(tmp_path, [("B", "乙", "2024-01-02")])
    again = extract_source(definition, lake, state_dir, "b1")
    assert again.streams["persons"].bookmark_before is None
    assert [r["rkid"] for r in read_batch(again.streams["persons"].path)] == ["A", "B"]


def test_failure_in_a_later_stream_commits_nothing(tmp_path, lake, state_dir):
    definition = hukou_db(tmp_path, [("A", "甲", "2024-01-01")])
    extract_source(definition, lake, state_dir, "b1")
    state_before = (state_dir / "hukou.json").read_bytes()
    hukou_db(tmp_path, [("B", "乙", "2024-01-02")])
    broken = definition.model_copy(update={"streams": [definition.streams[0], definition.streams[1].model_copy(update={"table": "gone"})]})
    with pytest.raises(SourceUnavailableError, match="table `gone` does not exist"):
        extract_source(broken, lake, state_dir, "b2")
    assert (state_dir / "hukou.json").read_bytes() == state_before
    # the first stream was read completely but never published: no b2 folder, no staging left behind
    assert [p.name for p in lake.raw_stream("hukou", "persons").iterdir()] == ["batch_id=b1"]


def test_provenance_columns(tmp_path, lake, state_dir):
    definition = hukou_db(tmp_path, [("A", "甲", "2024-01-01")])
    extract_source(definition, lake, state_dir, "b1")
    row = read_stream(lake, "hukou", "persons")[0]
    assert (row["_source"], row["_stream"], row["_source_record_id"], row["_batch_id"]) == ("hukou", "persons", "A", "b1")
    assert row["_extracted_at"].endswith("+00:00")
    assert row["_record_hash"] == record_hash({"rkid": "A", "xm": "甲", "updated_at": "2024-01-01"})
    schema = pq.read_schema(next(lake.raw_batch("hukou", "persons", "b1").glob("*.parquet")))
    assert all(field.type == pa.string() for field in schema)
    assert "_file" not in schema.names


def test_parts_share_one_schema_when_records_vary(tmp_path, lake):
    writer = RawBatchWriter(lake, "api", "things", "b1", "2024-01-01T00:00:00+00:00", rows_per_part=2)
    writer.add({"id": 1, "a": "x"}, 1)
    writer.add({"id": 2, "a": None}, 2)
    writer.add({"id": 3, "b": {"nested": [1, 2]}}, 3)  # a field the first part never saw
    path = writer.stage().publish()
    schemas = {tuple(pq.read_schema(p).names) for p in path.glob("*.parquet")}
    assert len(schemas) == 1 and schemas.pop()[:3] == ("id", "a", "b")
    rows = pq.read_table(path).to_pylist()
    assert [(r["id"], r["a"], r["b"]) for r in rows] == [("1", "x", None), ("2", None, None), ("3", None, '{"nested": [1, 2]}')]
    assert not list(path.parent.glob(".staging-*"))


def test_aborted_writer_leaves_nothing(tmp_path, lake):
    writer = RawBatchWriter(lake, "api", "things", "b1", "t", rows_per_part=1)
    writer.add({"id": 1}, 1)
    writer.abort()
    assert not any(lake.raw_stream("api", "things").iterdir())


def test_to_text():
    assert [to_text(v) for v in (None, "00123", 7, 1.5, True, {"a": "甲"}, [1, None])] == [None, "00123", "7", "1.5", "true", '{"a": "甲"}', "[1, null]"]


def test_state_writes_are_atomic_and_batches_are_pruned(state_dir):
    state = SourceState(state_dir, "s")
    for index in range(KEEP_BATCHES + 5):
        state.record("x", f"b{index:04d}", BatchRecord(None, str(index), 1))
    state.commit()
    assert [p.name for p in state_dir.iterdir()] == ["s.json"]  # no temp file left behind
    data = json.loads((state_dir / "s.json").read_text())
    assert len(data["streams"]["x"]["batches"]) == KEEP_BATCHES and "b0000" not in data["streams"]["x"]["batches"]
    reread = SourceState(state_dir, "s")
    assert reread.bookmark("x") == str(KEEP_BATCHES + 4)
    assert reread.starting_bookmark("x", f"b{KEEP_BATCHES + 4:04d}") is None
    assert reread.starting_bookmark("x", "new") == str(KEEP_BATCHES + 4)


def test_corrupt_state_file_is_reported(state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / "s.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="s.json: watermark state is not valid JSON"):
        SourceState(state_dir, "s")
