"""Publishing review_queue (a per-run snapshot) and resident_id_history (append-only across runs)."""

from __future__ import annotations

from cityhub.publish import publish_run
from tests.sharedlayer.conftest import read_table, write_parquet

import pyarrow as pa

HOUSING = {"housing": ["unit_no", "floor_area"]}
REVIEW_SCHEMA = pa.schema([("record_key", pa.string()), ("other_record_key", pa.string()), ("reason", pa.string()),
                           ("match_probability", pa.float64()), ("evidence", pa.string())])
HISTORY_SCHEMA = pa.schema([("old_resident_id", pa.string()), ("new_resident_id", pa.string()), ("change", pa.string()),
                            ("reason", pa.string()), ("record_count", pa.int64())])


def land_identity(lake, run_id: str, history: list[dict], reviews: list[dict]) -> None:
    write_parquet(lake.resolved(run_id, "resident_id_history"), history, HISTORY_SCHEMA)
    write_parquet(lake.resolved(run_id, "review_queue"), reviews, REVIEW_SCHEMA)


def history_rows(url: str) -> list[tuple]:
    rows = read_table(url, "resident_id_history", ["run_id", "old_resident_id"])
    return [(r["run_id"], r["old_resident_id"], r["new_resident_id"], r["change"], r["record_count"]) for r in rows]


def test_history_is_appended_per_run_and_review_queue_replaced(db_url, lake, land_run):
    land_run("run1", residents=3)
    land_identity(lake, "run1", [{"old_resident_id": "R9", "new_resident_id": "R0000", "change": "merge", "reason": "r", "record_count": 2}],
                  [{"record_key": "a:b:1", "other_record_key": "a:b:2", "reason": "chains_two_id_anchors", "match_probability": 0.97,
                    "evidence": '{"name": 3.2}'}])
    first = publish_run(db_url, lake, "run1", HOUSING)
    again = publish_run(db_url, lake, "run1", HOUSING)  # the same run again: no repeated history rows
    assert first.rows["review_queue"] == 1 and again.rows["resident_id_history"] == 1
    land_run("run2", residents=3)
    land_identity(lake, "run2", [{"old_resident_id": "R0001", "new_resident_id": None, "change": "retire", "reason": "r", "record_count": 0}], [])
    second = publish_run(db_url, lake, "run2", HOUSING)

    assert history_rows(db_url) == [("run1", "R9", "R0000", "merge", 2), ("run2", "R0001", None, "retire", 0)]
    assert second.rows["review_queue"] == 0 and read_table(db_url, "review_queue", ["record_key"]) == []
    assert second.versions["resident_id_history"] == 2 and second.rows["resident_id_history"] == 2


def test_review_items_are_published_open(db_url, lake, land_run):
    land_run("run1", residents=2)
    land_identity(lake, "run1", [], [{"record_key": "a:b:1", "other_record_key": "a:b:2", "reason": "twins", "match_probability": None,
                                      "evidence": None}])
    publish_run(db_url, lake, "run1", HOUSING)
    [item] = read_table(db_url, "review_queue", ["record_key"])
    assert (item["run_id"], item["status"], item["reason"]) == ("run1", "open", "twins")
