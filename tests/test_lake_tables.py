"""The lake's Parquet tables on the driver: rows changed between two versions, rows carried forward, folders replaced whole."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cityhub.lake_tables import (
    BackgroundWrites, carry_forward, changed_keys, has_table, lookup, read_table, rows_with, rows_without, write_table, write_tables,
)


def table(**columns) -> pa.Table:
    return pa.table(columns)


def test_changed_keys_finds_new_changed_and_gone_rows_and_a_null_against_a_value():
    previous = table(key=["a", "b", "c", "d", "e"], name=["x", "y", None, "w", "v"], born=[date(2000, 1, 1)] * 5)
    current = table(key=["a", "b", "c", "d", "f"], name=["x", "Y", "z", None, "u"], born=[date(2000, 1, 1)] * 4 + [date(2001, 1, 1)],
                    batch=["b2"] * 5)
    changed = changed_keys(current, previous, "key", ["name", "born", "batch"])
    # b changed, c and d went between a value and null, f is new, e is gone; a is the same (batch is not in previous)
    assert sorted(changed.to_pylist()) == ["b", "c", "d", "e", "f"]


def test_changed_keys_of_identical_tables_is_empty():
    rows = table(key=["a", "b"], name=["x", None])
    assert changed_keys(rows, rows, "key", ["name"]).to_pylist() == []


def test_rows_without_drops_a_row_named_in_any_column_and_keeps_nulls():
    rows = table(record_key=["r1", "r2", "r3", None], other=["r9", "r1", None, "r2"])
    kept = rows_without(rows, {"record_key": ["r1"], "other": pa.array(["r1"])})
    assert kept.column("record_key").to_pylist() == ["r3", None] and kept.column("other").to_pylist() == [None, "r2"]


def test_rows_with_and_lookup():
    rows = table(record_key=["r1", "r2", "r3"], resident_id=["A", "B", "A"])
    assert rows_with(rows, "resident_id", ["A"]).column("record_key").to_pylist() == ["r1", "r3"]
    found = lookup(pa.array(["r3", "r9", "r1"]), rows, "record_key", ["resident_id"])
    assert found.column("resident_id").to_pylist() == ["A", None, "A"]


def test_carry_forward_keeps_untouched_rows_appends_fresh_ones_in_the_previous_schema_and_sets_the_run(tmp_path):
    schema = pa.schema([pa.field("resident_id", pa.string(), nullable=False), pa.field("count", pa.int64()), pa.field("run_id", pa.string())])
    previous = pa.table({"resident_id": ["A", "B", "C"], "count": [1, 2, 3], "run_id": ["r1"] * 3}, schema=schema)
    fresh = pa.table({"count": pa.array([9], pa.int32()), "resident_id": pa.array(["B"], pa.large_string())})
    carried = carry_forward(previous, fresh, {"resident_id": ["B"]}, "r2")
    assert carried.to_pylist() == [{"resident_id": "A", "count": 1, "run_id": "r2"}, {"resident_id": "C", "count": 3, "run_id": "r2"},
                                   {"resident_id": "B", "count": 9, "run_id": "r2"}]
    assert carried.schema.field("count").type == pa.int64()
    folder = write_table(previous, tmp_path / "previous")
    assert carry_forward(folder, fresh, {"resident_id": ["B"]}, "r2").to_pylist() == carried.to_pylist(), "read from the folder alike"


def test_write_table_replaces_the_folder_whole_and_reads_back(tmp_path):
    folder = tmp_path / "resolved" / "resident"
    folder.mkdir(parents=True)
    (folder / "part-old.parquet").write_bytes(b"stale")
    rows = table(resident_id=["A", "B", "C"], birth_date=[date(2000, 1, 2), None, date(1990, 3, 4)])
    write_table(rows, folder, rows_per_file=2)
    assert sorted(path.name for path in folder.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert has_table(folder) and read_table(folder).sort_by("resident_id").equals(rows)
    assert read_table(folder, ["resident_id"], without={"resident_id": ["B"]}).column("resident_id").to_pylist() == ["A", "C"]
    assert not any(path.name.startswith(".") for path in folder.parent.iterdir()), "no staging folder is left behind"


def test_write_table_leaves_the_previous_folder_when_writing_fails(tmp_path, monkeypatch):
    folder = write_table(table(a=[1]), tmp_path / "t")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table(table(a=[2]), folder)
    assert read_table(folder).column("a").to_pylist() == [1]
    assert [path.name for path in tmp_path.iterdir()] == ["t"]


def test_an_empty_table_is_written_as_one_file_spark_and_arrow_can_read(tmp_path):
    folder = write_table(table(a=pa.array([], pa.string())), tmp_path / "empty")
    assert has_table(folder) and read_table(folder).num_rows == 0


def test_write_tables_writes_each_folder_and_raises_what_one_write_raised(tmp_path, monkeypatch):
    tables = {tmp_path / name: table(a=list(range(size))) for name, size in (("x", 3), ("y", 0), ("z", 5))}
    write_tables(tables)
    assert {folder.name: read_table(folder).num_rows for folder in tables} == {"x": 3, "y": 0, "z": 5}

    original = pq.write_table

    def broken(rows, path, *args, **kwargs):
        if "z" in str(path):
            raise OSError("disk full")
        return original(rows, path, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        write_tables({folder: table(a=[9]) for folder in tables})
    assert read_table(tmp_path / "z").num_rows == 5, "the folder whose write failed keeps its previous table"


def test_background_writes_are_all_on_disk_when_the_block_is_left_and_a_failed_one_raises_there(tmp_path, monkeypatch):
    with BackgroundWrites() as writes:
        writes.submit({tmp_path / "x": table(a=[1, 2])})
        writes.submit({tmp_path / "y": table(a=[3]), tmp_path / "x": table(a=[4, 5, 6])})  # after the first: x is the second table
    assert {name: read_table(tmp_path / name).num_rows for name in ("x", "y")} == {"x": 3, "y": 1}

    original = pq.write_table

    def broken(rows, path, *args, **kwargs):
        if Path(path).parent.name.startswith(".y."):  # write_table's staging folder for y
            raise OSError("disk full")
        return original(rows, path, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        with BackgroundWrites() as writes:
            writes.submit({tmp_path / "y": table(a=[7, 8])})
            writes.submit({tmp_path / "z": table(a=[9])})
    assert read_table(tmp_path / "z").num_rows == 1, "the writes after a failed one still land"
    with pytest.raises(ValueError, match="the step's own error"):
        with BackgroundWrites() as writes:
            writes.submit({tmp_path / "y": table(a=[7])})
            raise ValueError("the step's own error")
