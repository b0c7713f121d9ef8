"""Row-level quarantine, GX counts reconciled with it, quarantine history, and dataset gates on publishing.

Broken batches go through the real standardiser on Spark and the real GX suites; the gate holds a
broken dataset back from a real SQLite / PostgreSQL publish while the previous version stays live.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from broken_batches import FACT_NAMES, fact_source_definitions, land_broken_city, land_fixed_cremation, write_resolved_run
from cityhub.config import PACKAGE_SOURCES_DIR, Settings
from cityhub.context import RunContext
from cityhub.lake import Lake
from cityhub.pipeline import publish_step
from cityhub.quality.gates import (
    GATE_FILE,
    OUTCOMES_FILE,
    gate_resolved,
    quality_dir,
    validate_published_run,
    validate_standardised_sources,
)
from cityhub.quality.quarantine_history import CLOSED, OPEN, record_quarantine_history
from cityhub.sharedlayer.schema import gate_outcome, quarantine_entry
from connectors.definition import load_source_definitions

pytestmark = pytest.mark.spark

OUTCOME_KEYS = {"layer", "suite", "source", "dataset", "expectation", "target", "rule", "severity", "success",
                "unexpected_count", "element_count", "error"}


@pytest.fixture(scope="module")
def broken(spark, tmp_path_factory):
    """Two standardise runs of the broken city (the second after civil affairs fixed K1), run 1 validated."""
    from transforms.standardise.run import standardise_sources

    home = tmp_path_factory.mktemp("broken-home")
    lake = Lake.under(home)
    definitions = load_source_definitions(PACKAGE_SOURCES_DIR)
    land_broken_city(lake)
    first = standardise_sources(spark, definitions, lake, "run1")
    run_dir = home / "runs" / "run1"
    validation = validate_standardised_sources(spark, lake, "run1", [d.name for d in definitions], run_dir)
    land_fixed_cremation(lake)
    second = standardise_sources(spark, definitions, lake, "run2")
    return {"lake": lake, "home": home, "first": first, "second": second, "validation": validation, "run_dir": run_dir}


def _quarantine(spark, lake, run_id):
    return {(r["record_key"] or f"#{r['source']}", r["rule"]): r for r in spark.read.parquet(str(lake.quarantine(run_id))).collect()}


def test_each_broken_row_is_quarantined_with_its_rule_value_and_reason(spark, broken):
    held = _quarantine(spark, broken["lake"], "run1")
    death = held[("civil_affairs:cremations:K1", "death_before_birth")]
    assert death["batch_id"] == "c1" and death["value"] == "1970-01-01 | 1975-06-15"
    assert death["reason"] == "death date 1970-01-01 is before birth date 1975-06-15"
    assert held[("public_security:persons:P2", "no_identity")]["batch_id"] == "b1"
    assert ("#public_security", "missing_primary_key") in held
    assert "civil_affairs:cremations:K2" not in {key for key, _ in held}


def test_a_wholly_malformed_batch_is_all_quarantined_and_every_stream_reconciles(broken):
    result = broken["first"]
    assert result.balanced, result.unbalanced()
    health = result.persons["health"]["patients"]
    assert (health.current, health.standardised, health.quarantined) == (2, 0, 2)
    ps = result.persons["public_security"]["persons"]
    assert (ps.current, ps.standardised, ps.quarantined) == (3, 1, 2)


def test_gx_counts_equal_the_quarantine_per_rule_and_outcomes_follow_the_contract(broken):
    outcome = broken["validation"]["civil_affairs"].outcome(
        "standardised_civil_affairs", "expect_column_pair_death_date_to_not_be_before_birth_date", "death_date,birth_date")
    assert (outcome.success, outcome.unexpected_count, outcome.rule) == (False, 1, "death_before_birth")
    assert broken["validation"]["health"].outcome("standardised_health", "expect_column_values_to_not_be_null", "record_key").unexpected_count == 2
    rows = json.loads((quality_dir(broken["run_dir"]) / OUTCOMES_FILE).read_text(encoding="utf-8"))
    assert rows and all(set(row) == OUTCOME_KEYS and row["layer"] == "standardised" for row in rows)
    assert {row["source"] for row in rows} == {"public_security", "health", "housing", "civil_affairs"}
    assert (quality_dir(broken["run_dir"]) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()


def test_critical_row_rules_on_spark_catch_future_dates_and_unknown_codes(spark):
    from transforms.standardise.run import classify_persons

    schema = ("source string, source_record_id string, record_hash string, id_number string, name string, id_status string, "
              "raw_id_number string, raw_name string, flags string, birth_date date, death_date date, admin_code string")
    rows = [
        ("housing", "A", "h", None, "甲", "missing", None, "甲", None, date(2999, 1, 1), None, "110101"),
        ("housing", "B", "h", None, "乙", "missing", None, "乙", None, date(1990, 1, 1), date(2999, 1, 1), "999999"),
        ("health", "C", "h", None, "丙", "missing", None, "丙", "name:valid", date(1950, 1, 1), None, None),
    ]
    classified = {r["source_record_id"]: r for r in classify_persons(spark.createDataFrame(rows, schema)).collect()}
    assert [f["rule"] for f in classified["A"]["failures"]] == ["birth_date_in_future"]
    assert [f["rule"] for f in classified["B"]["failures"]] == ["death_date_in_future", "unknown_admin_code"]
    assert classified["B"]["reason"] == "death date 2999-01-01 is in the future"
    # A warning rule flags the row and lets it through.
    assert classified["C"]["rule"] is None and classified["C"]["flags"] == "name:valid,quality:health_id_or_newborn"


def test_fixed_record_closes_its_quarantine_entry_with_a_link_to_the_accepted_record(broken, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    assert record_quarantine_history(url, broken["lake"], "run1")["opened"] == 5
    counts = record_quarantine_history(url, broken["lake"], "run2")
    assert counts["closed"] == 1
    assert record_quarantine_history(url, broken["lake"], "run2") == {"opened": 0, "still_open": 4, "closed": 0}
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        entries = {(r.record_key, r.rule): r for r in connection.execute(sa.select(quarantine_entry))}
    engine.dispose()
    closed = entries[("civil_affairs:cremations:K1", "death_before_birth")]
    assert (closed.status, closed.opened_run, closed.closed_run) == (CLOSED, "run1", "run2")
    assert (closed.closed_by_record_key, closed.closed_by_batch_id, closed.batch_id) == ("civil_affairs:cremations:K1", "c2", "c1")
    assert entries[("public_security:persons:P2", "no_identity")].status == OPEN


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gate.db'}"
    return request.getfixturevalue("postgres_url")


def _rows(url, table):
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = [tuple(r) for r in connection.execute(sa.text(f"SELECT resident_id, fact_key FROM {table} ORDER BY fact_key"))]
    engine.dispose()
    return rows


def _gate_outcomes(url, run_id):
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(gate_outcome).where(gate_outcome.c.run_id == run_id)).all()
    engine.dispose()
    return {(r.dataset, r.rule): r for r in rows}


def _context(tmp_path, url, run_id):
    return RunContext(Settings(home=tmp_path / "home", database_url=url), run_id=run_id, sources=fact_source_definitions())


def _gate_and_publish(spark, ctx):
    """The pipeline's gate and publish steps on a resolved run (the gate on Spark, the publish from its decision)."""
    decision = gate_resolved(spark, ctx.lake, ctx.run_id, FACT_NAMES, ctx.run_dir)
    return decision, publish_step(ctx)


def test_a_failed_fact_gate_keeps_that_table_at_its_previous_version_and_publishes_the_rest(spark, shared_url, tmp_path):
    good, broken = _context(tmp_path, shared_url, "good"), _context(tmp_path, shared_url, "broken")
    write_resolved_run(good.lake, "good")
    write_resolved_run(broken.lake, "broken", dangling_health_fact=True)
    decision, _ = _gate_and_publish(spark, good)
    assert decision.passed
    decision, published = _gate_and_publish(spark, broken)
    assert decision.held == ["fact_health"]
    assert "fact_points_to_resident" in decision.message() and "fact_health" in decision.message()
    assert _rows(shared_url, "fact_health") == [("R1", "health:certificates:good")]  # the previous version, still readable
    assert _rows(shared_url, "fact_housing") == [("R2", "housing:property:broken")]
    checked = validate_published_run(shared_url, broken.lake, "broken", published["rows"], broken.run_dir)
    assert checked.success, [(o.suite, o.expectation, o.error) for o in checked.failures()]
    assert json.loads((broken.run_dir / "quality" / GATE_FILE).read_text())["held"] == ["fact_health"]

    # Every rule of every dataset the gate checked is in gate_outcome, with the held dataset marked.
    resolved = [o for o in json.loads((broken.run_dir / "quality" / OUTCOMES_FILE).read_text()) if o["layer"] == "resolved"]
    stored = _gate_outcomes(shared_url, "broken")
    assert published["gate_outcomes"] == len(stored) == len({(o["dataset"], o["rule"] or (o["expectation"], o["target"])) for o in resolved})
    assert {dataset for dataset, _ in stored} == {"resident", "resident_xref", "resident_lineage", "fact_health", "fact_housing"}
    failed = {key: (row.severity, row.unexpected_count, row.held) for key, row in stored.items() if not row.success}
    assert failed == {("fact_health", "fact_points_to_resident"): ("critical", 1, True)}
    assert {row.held for (dataset, _), row in stored.items() if dataset != "fact_health"} == {False}
    assert stored[("resident_xref", "xref_rows_equal_standardised_persons")].success
    assert all(row.success and not row.held for row in _gate_outcomes(shared_url, "good").values())

    # Republishing the run replaces its rows: none doubled, none left over from before.
    engine = sa.create_engine(shared_url)
    with engine.begin() as connection:
        connection.execute(gate_outcome.insert(), [dict(run_id="broken", dataset="fact_gone", rule="stale", severity="critical", success=False, held=True)])
    engine.dispose()
    assert publish_step(broken)["gate_outcomes"] == len(stored)
    assert _gate_outcomes(shared_url, "broken").keys() == stored.keys()


def test_a_failed_resident_gate_holds_the_whole_publish_and_says_why_in_gate_outcome(spark, tmp_path):
    ctx = _context(tmp_path, f"sqlite:///{tmp_path / 'gate.db'}", "dup")
    write_resolved_run(ctx.lake, "dup", duplicate_resident=True)
    decision, published = _gate_and_publish(spark, ctx)
    assert published["skipped"] and decision.holds_residents
    assert decision.failures["resident"][0].startswith("resident_id_unique")
    assert set(decision.held) == {"resident", "resident_xref", "resident_lineage", "fact_health", "fact_housing"}
    stored = _gate_outcomes(ctx.settings.shared_layer_url, "dup")
    assert published["gate_outcomes"] == len(stored) and all(row.held for row in stored.values())
    assert (stored[("resident", "resident_id_unique")].success, stored[("resident", "resident_id_unique")].unexpected_count) == (False, 1)
