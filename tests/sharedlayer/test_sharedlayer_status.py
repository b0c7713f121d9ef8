"""Pipeline run records and the status report `cityhub status` prints."""

from __future__ import annotations

from datetime import datetime

import pytest

from cityhub.publish import publish_run, record_run_end, record_run_start
from cityhub.sharedlayer import head_revision
from cityhub.status import shared_layer_status

HOUSING = {"housing": ["unit_no", "floor_area"]}


def test_status_of_a_database_not_yet_created_does_not_create_it(tmp_path):
    database = tmp_path / "shared.db"

    status = shared_layer_status(f"sqlite:///{database}")

    assert status["exists"] is False and status["revision"] is None and status["datasets"] == [] and status["runs"] == []
    assert not database.exists()


def test_status_reports_latest_versions_rows_and_runs(db_url, lake, land_run):
    record_run_start(db_url, "run1", summary={"sources": ["housing"]})
    land_run("run1", residents=4)
    publish_run(db_url, lake, "run1", HOUSING)
    record_run_end(db_url, "run1", "success", summary={"residents": 4, "when": datetime(2025, 1, 2)})
    record_run_start(db_url, "run2")
    land_run("run2", residents=2)
    second = publish_run(db_url, lake, "run2", HOUSING)
    record_run_start(db_url, "run3")
    record_run_end(db_url, "run3", "failed", error="housing: drop folder missing")

    status = shared_layer_status(db_url)

    assert status["revision"] == head_revision() and status["up_to_date"] is True
    assert [d["dataset"] for d in status["datasets"]] == sorted(second.rows)
    by_name = {d["dataset"]: d for d in status["datasets"]}
    assert by_name["resident"]["version"] == 2 and by_name["resident"]["row_count"] == 2 and by_name["resident"]["run_id"] == "run2"
    assert by_name["resident_xref"]["row_count"] == 4 and by_name["resident"]["previous_version"] == 1
    assert datetime.fromisoformat(by_name["resident"]["published_at"]).tzinfo is not None
    assert [(r["run_id"], r["status"]) for r in status["runs"]] == [("run3", "failed"), ("run2", "running"), ("run1", "success")]
    run1 = status["runs"][2]
    assert run1["summary"] == {"residents": 4, "when": "2025-01-02 00:00:00"}
    assert run1["finished_at"] >= run1["started_at"]
    assert status["runs"][0]["error"] == "housing: drop folder missing"
    assert len(shared_layer_status(db_url, runs=1)["runs"]) == 1


def test_restarting_a_run_clears_its_end_and_unknown_statuses_are_refused(db_url):
    record_run_start(db_url, "run1")
    record_run_end(db_url, "run1", "failed", error="boom")
    record_run_start(db_url, "run1", summary={"attempt": 2})

    (run,) = shared_layer_status(db_url)["runs"]
    assert (run["status"], run["finished_at"], run["error"], run["summary"]) == ("running", None, None, {"attempt": 2})
    with pytest.raises(ValueError, match="success"):
        record_run_end(db_url, "run1", "succeeded")


def test_a_run_recorded_only_at_its_end_is_listed(db_url):
    record_run_end(db_url, "run9", "cancelled")

    (run,) = shared_layer_status(db_url)["runs"]
    assert run["run_id"] == "run9" and run["started_at"] is None and run["finished_at"] is not None
