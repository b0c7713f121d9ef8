"""Standardise over the landed scenario: current state, mappings, quarantine rules, reconciliation."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from transforms.standardise.run import Counts, ReconciliationError, standardise_sources
from transforms_scenario import LI_ID, LI_ID15, WANG_ID, ZHANG_ID, ZHAO_BAD_ID

pytestmark = pytest.mark.spark


def test_counts_reconcile_per_stream(scenario_run):
    result = scenario_run.standardised
    assert result.balanced
    assert result.persons["public_security"]["persons"] == Counts(current=9, standardised=7, quarantined=2)
    assert result.persons["health"]["patients"] == Counts(current=7, standardised=7, quarantined=0)
    assert result.persons["civil_affairs"] == {"assistance": Counts(), "marriages": Counts(1, 1, 0), "cremations": Counts(1, 1, 0)}
    assert result.persons["housing"] == {"property": Counts(), "rental": Counts()}
    assert result.facts["public_security"] == {"persons": Counts(9, 7, 2), "hukou_events": Counts(3, 1, 2)}
    assert result.facts["health"] == {"certificates": Counts(2, 1, 1)}


def test_counts_match_what_was_written(scenario_run):
    persons, quarantine = scenario_run.persons, scenario_run.quarantine
    result = scenario_run.standardised
    assert len(persons) == sum(c.standardised for streams in result.persons.values() for c in streams.values())
    held_persons = sum(c.quarantined for streams in result.persons.values() for c in streams.values())
    held_fact_rows = sum(result.facts[s][st].quarantined for s, st in [("public_security", "hukou_events"), ("health", "certificates")])
    assert len(quarantine) == held_persons + held_fact_rows
    assert persons["record_key"].is_unique


def test_current_state_takes_the_latest_extraction(scenario_run):
    zhang = scenario_run.persons.loc["public_security:persons:P1"]
    assert zhang["batch_id"] == "b2" and zhang["phone"] == "13800000002"
    assert zhang["source_updated_at"] == datetime(2024, 1, 15, 10)


def test_current_state_then_takes_the_latest_replication_value(scenario_run):
    wang = scenario_run.persons.loc["public_security:persons:P3"]
    assert wang["phone"] == "13800000033"


def test_canonical_record_from_a_sql_source(scenario_run):
    li = scenario_run.persons.loc["public_security:persons:P2"]
    assert (li["source"], li["stream"], li["source_record_id"]) == ("public_security", "persons", "P2")
    assert (li["id_number"], li["id_number_raw"], li["id_status"]) == (LI_ID, LI_ID15, "upgraded_15")
    assert (li["gender"], li["gender_raw"], li["birth_date"], li["birth_date_raw"]) == ("F", "2", date(1965, 4, 12), "19650412")
    assert (li["admin_code"], li["address_detail"]) == ("110102", "金融街2号")
    assert li["ethnicity"] == "汉族"


def test_code_tables_are_applied(scenario_run):
    persons = scenario_run.persons
    assert persons.loc["public_security:persons:P1", "marital_status"] == "married"  # hyzk 20
    assert persons.loc["public_security:persons:P2", "marital_status"] == "widowed"  # hyzk 30
    assert persons.loc["public_security:persons:P3", "marital_status"] == "unmarried"  # hyzk 10


def test_json_paths_are_followed(scenario_run):
    h1 = scenario_run.persons.loc["health:patients:H1"]
    assert h1["id_number"] == ZHANG_ID and h1["id_status"] == "repaired"  # landed in full-width digits
    assert (h1["name"], h1["name_raw"]) == ("张三", "張三")
    assert h1["phone"] == "13900000009" and h1["admin_code"] == "110108"
    assert h1["source_updated_at"] == datetime(2024, 3, 1, 8)
    assert h1["gender"] == "M" and h1["birth_date"] == date(1990, 3, 7)


def test_every_id_status_is_kept_beside_the_raw_value(scenario_run):
    persons = scenario_run.persons
    assert persons.loc["public_security:persons:P3", "id_number"] == WANG_ID
    assert "id_number:lowercase_x" in persons.loc["public_security:persons:P3", "repairs"]
    zhao = persons.loc["public_security:persons:P6"]
    assert zhao["id_number"] is None and zhao["id_status"] == "bad_checksum" and zhao["id_number_raw"] == ZHAO_BAD_ID
    assert persons.loc["health:patients:H2", "id_status"] == "missing"


def test_quarantine_rules(scenario_run):
    quarantine = scenario_run.quarantine
    rules = {(row.source, row.stream, row.source_record_id): row for row in quarantine.itertuples()}
    assert set(quarantine["run_id"]) == {"run1"}
    no_key = rules[("public_security", "persons", None)]
    assert no_key.rule == "missing_primary_key" and no_key.record_key is None and len(no_key.value) == 64  # the record hash
    assert rules[("public_security", "persons", "P4")].rule == "no_identity"
    for key, subject in [(("public_security", "hukou_events", "E2"), "P99"), (("public_security", "hukou_events", "E3"), "P4"),
                         (("health", "certificates", "C2"), "H404")]:
        row = rules[key]
        assert row.rule == "orphan_subject" and row.value == subject and row.record_key == ":".join(key)
    assert "is quarantined" in rules[("public_security", "hukou_events", "E3")].reason
    assert "does not exist" in rules[("public_security", "hukou_events", "E2")].reason


def test_facts_of_person_streams_and_subject_streams(scenario_run):
    ps = scenario_run.facts("public_security").set_index("fact_key")
    assert list(ps.columns[:4]) == ["record_key", "stream", "source_record_id", "batch_id"]
    assert set(ps.columns) >= {"household_no", "hukou_status", "event_type", "event_date"}
    assert ps.loc["public_security:persons:P1", "record_key"] == "public_security:persons:P1"
    assert ps.loc["public_security:persons:P1", "household_no"] == "HP1"
    event = ps.loc["public_security:hukou_events:E1"]
    assert (event["record_key"], event["event_type"], event["event_date"]) == ("public_security:persons:P2", "死亡注销", "20240105")
    health = scenario_run.facts("health").set_index("fact_key")
    certificate = health.loc["health:certificates:C1"]
    assert certificate["record_key"] == "health:patients:H1" and certificate["certificate_type"] == "death-certificate"


def test_sources_without_batches_still_get_their_tables(scenario_run):
    housing = scenario_run.facts("housing")
    assert len(housing) == 0 and {"unit_no", "rental_address", "filing_date"} <= set(housing.columns)


def test_a_run_with_nothing_landed(spark, tmp_path, scenario_run):
    from cityhub.lake import Lake

    result = standardise_sources(spark, scenario_run.definitions, Lake.under(tmp_path), "empty")
    assert result.balanced and all(c == Counts() for streams in result.persons.values() for c in streams.values())


def test_reconciliation_error_is_raised_before_writing():
    # the guard itself: counts that do not add up name the stream
    from transforms.standardise.run import StandardiseResult

    result = StandardiseResult(run_id="r", persons={"s": {"t": Counts(current=3, standardised=1, quarantined=1)}})
    assert not result.balanced and result.unbalanced() == ["persons s.t: {'current': 3, 'standardised': 1, 'quarantined': 1}"]
    assert issubclass(ReconciliationError, RuntimeError)
