"""`cityhub explain`: golden record with lineage, linked records with evidence, id history, open reviews."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cityhub.cli import app
from cityhub.explain import ExplainError, explain_resident
from cityhub.publish import publish_run
from tests.sharedlayer.test_identity_publish import land_identity

HOUSING = {"housing": ["unit_no", "floor_area"]}


@pytest.fixture
def explained_run(db_url, lake, make_rows, write_rows):
    """Run run1 published with evidence on R0001's links, a merge R9 → R0001, a retired R8 and a review item."""
    tables = make_rows("run1", residents=3)
    for row in tables["resident_xref"]:
        row["match_evidence"] = json.dumps({"name": {"level": "same pinyin", "weight": 6.1}}) if row["resident_id"] == "R0001" else None
    write_rows("run1", tables)
    land_identity(lake, "run1", [
        {"old_resident_id": "R9", "new_resident_id": "R0001", "change": "merge", "reason": "joined resident R0001 with 2 records", "record_count": 2},
        {"old_resident_id": "R8", "new_resident_id": None, "change": "retire", "reason": "none of its 1 records is in this run", "record_count": 1},
    ], [{"record_key": "housing:property:H1", "other_record_key": "housing:property:H2", "reason": "chains_two_id_anchors",
         "match_probability": 0.96, "evidence": '{"phone": 8.0}'}])
    publish_run(db_url, lake, "run1", HOUSING)
    return db_url


def test_explain_shows_lineage_evidence_history_and_reviews(explained_run):
    explanation = explain_resident(explained_run, "R0001")
    assert explanation.golden["name"] == "张1"
    assert {(r["attribute"], r["source"], r["rule"]) for r in explanation.lineage} == {
        ("name", "public_security", "authority"), ("birth_date", "public_security", "authority")}
    assert [r["record_key"] for r in explanation.records] == ["housing:property:H1", "public_security:rk_person:P1"]
    assert explanation.records[0]["match_evidence"] == {"name": {"level": "same pinyin", "weight": 6.1}}
    assert [(h["old_resident_id"], h["change"]) for h in explanation.history] == [("R9", "merge")]
    assert [(r["other_record_key"], r["status"]) for r in explanation.reviews] == [("housing:property:H2", "open")]


def test_explain_follows_a_merged_id_and_names_retired_and_unknown_ids(explained_run):
    merged = explain_resident(explained_run, "R9")
    assert (merged.asked_for, merged.resident_id) == ("R9", "R0001")
    assert [step["old_resident_id"] for step in merged.followed] == ["R9"]
    with pytest.raises(ExplainError, match="retired in run run1"):
        explain_resident(explained_run, "R8")
    with pytest.raises(ExplainError, match="no resident 'NOPE'"):
        explain_resident(explained_run, "NOPE")


def test_explain_command_prints_tables_and_json(explained_run, monkeypatch, tmp_path):
    monkeypatch.setenv("CITYHUB_DATABASE_URL", explained_run)
    runner = CliRunner()
    shown = runner.invoke(app, ["explain", "R9", "--home", str(tmp_path / "home")], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "R9 was merged into R0001" in shown.output and "golden record" in shown.output and "phone=8.0" in shown.output
    as_json = runner.invoke(app, ["explain", "R0001", "--json", "--home", str(tmp_path / "home")])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["golden"]["resident_id"] == "R0001"
    unknown = runner.invoke(app, ["explain", "NOPE", "--home", str(tmp_path / "home")])
    assert unknown.exit_code == 1 and "no resident 'NOPE'" in unknown.output
