"""Provider scorecard numbers on a hand-built run (tests/quality/scorecard_data.py), each dimension worked out by hand."""

from __future__ import annotations

import pytest

from cityhub.quality.scorecard import (ACCURACY, COMPLETENESS, CONSISTENCY, TIMELINESS, UNIQUENESS, VALIDITY, ScoringRules,
                                       compute_scorecard, cycle_seconds, fact_fingerprints)

from scorecard_data import frames

pytestmark = pytest.mark.spark

RULES = ScoringRules(required={("a", "s1"): ("id_number", "name", "gender", "birth_date", "phone", "address"),
                               ("b", "s2"): ("id_number", "name", "address"), ("c", "s3"): ("name",), ("d", "s4"): ("name",)},
                     cycle_seconds={"a": 86_400, "b": 86_400}, registers=frozenset({("d", "s4")}))
OUTCOMES = [
    {"layer": "standardised", "suite": "standardised_persons", "source": "a", "dataset": "persons", "expectation": "expect_x",
     "target": "phone", "severity": "critical", "success": False, "unexpected_count": 7, "element_count": 10, "error": None},
    {"layer": "published", "suite": "resident", "source": None, "dataset": "resident", "expectation": "expect_y",
     "target": "resident_id", "severity": "critical", "success": False, "unexpected_count": 2, "element_count": 10, "error": None},
]


@pytest.fixture(scope="module")
def scorecard(spark):
    persons, quarantine, xref, residents, facts = frames(spark)
    return compute_scorecard("run1", persons, quarantine, xref, residents, RULES, OUTCOMES, fact_fingerprints(facts))


@pytest.mark.parametrize("source, dimension, numerator, denominator", [
    # a: 4 records x 6 fields; a:2 lacks phone and address (the blank counts as missing).
    ("a", COMPLETENESS, 22, 24),
    # a: 22 supplied values; a:3's ID number (check character), phone (12345) and address (no division) fail.
    ("a", VALIDITY, 19, 22),
    # a: birth date and gender checked against the ID on a:1, a:2, a:4 (a:3's ID is unusable); a:4 fails both.
    ("a", CONSISTENCY, 4, 6),
    # a: a:1 and a:2 are the same resident in one stream.
    ("a", UNIQUENESS, 3, 4),
    # a: latest batch b2 (a:2-a:4), newest update 06-30 10:00; a:4 (06-20) is older than the daily cycle.
    ("a", TIMELINESS, 2, 3),
    # a: only R1 spans two departments; a:1 and a:2 agree with its name, birth date and gender.
    ("a", ACCURACY, 6, 6),
    # b: 2 records x 3 fields; b:2 has no address.
    ("b", COMPLETENESS, 5, 6),
    # b: 5 supplied values, all valid, plus one quarantined record.
    ("b", VALIDITY, 5, 6),
    # b: gender and birth date come from the ID number, never from b: nothing to compare.
    ("b", CONSISTENCY, 0, 0),
    ("b", UNIQUENESS, 2, 2),
    # b: one batch only (a first load): not scored.
    ("b", TIMELINESS, 0, 0),
    # b: b:1's name 张叁 disagrees with R1's 张三; b's gender and birth date are not its own.
    ("b", ACCURACY, 0, 1),
    # c records items: the owner's two units count once each, the unit entered twice once.
    ("c", UNIQUENESS, 2, 3),
    # d is a register: one person twice is a duplicate whatever the facts say.
    ("d", UNIQUENESS, 1, 2),
])
def test_dimension_numbers(scorecard, source, dimension, numerator, denominator):
    score = scorecard.score(source, dimension)
    assert (score.numerator, score.denominator) == (numerator, denominator)
    assert score.score == (round(100 * numerator / denominator, 2) if denominator else None)


def test_worst_rules_with_masked_examples(scorecard):
    a_rules = [(r.rule, r.severity, r.failing_count) for r in scorecard.rules if r.source == "a"]
    # The department's GX failure (critical) first, then the five warnings cut to the worst five.
    assert a_rules[0] == ("standardised_persons: expect_x (phone)", "critical", 7)
    assert len(a_rules) == 5
    assert {rule for rule, _, _ in a_rules[1:]} <= {"id_number:bad_checksum", "phone:malformed", "address:unmatched",
                                                     "gender:id_number_mismatch", "birth_date:id_number_mismatch"}
    examples = {r.rule: r.examples for r in scorecard.rules}
    assert examples["id_number:bad_checksum"] == (f"110101********{examples['id_number:bad_checksum'][0][-4:]}",)
    assert examples["birth_date:id_number_mismatch"] == ("1991-**-**",)
    b_rules = [r for r in scorecard.rules if r.source == "b"]
    assert [(r.rule, r.severity, r.failing_count) for r in b_rules] == [("no_identity", "critical", 1)]
    assert "钱七" not in b_rules[0].examples[0] and "钱*" in b_rules[0].examples[0]
    # A published-layer outcome has no department: it is not on anyone's scorecard.
    assert not any("expect_y" in r.rule for r in scorecard.rules)


def test_cycle_from_schedule():
    assert cycle_seconds("@daily") == 86_400
    assert cycle_seconds("@weekly") == 7 * 86_400
    assert cycle_seconds("0 2 * * *") == 86_400


def test_rules_from_the_demo_source_definitions():
    from connectors.definition import load_source_definitions

    from cityhub.config import PACKAGE_SOURCES_DIR

    rules = ScoringRules.from_definitions(load_source_definitions(PACKAGE_SOURCES_DIR))
    assert rules.registers == {("public_security", "persons"), ("health", "patients")}
    assert rules.required[("housing", "property")] == ("id_number", "name", "address")
    assert rules.cycle_seconds["health"] == 86_400
