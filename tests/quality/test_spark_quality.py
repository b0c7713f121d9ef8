"""The standardised suite on Spark over good records mixed with planted errors.

One validation run (GX makes a Spark job per metric, so runs are costly): every rule's unexpected count
equals the errors planted for it, which also shows the good records pass every rule.
"""

from __future__ import annotations

import pytest

from cityhub.lake import Lake
from cityhub.quality.run import validate_standardised
from cityhub.quality.suites import CRITICAL, WARNING
from quality_data import BAD_PERSONS, GOOD_PERSONS, PLANTED_UNEXPECTED, persons_frame

pytestmark = pytest.mark.spark

SUITE = "standardised_persons"


@pytest.fixture(scope="module")
def result(spark, tmp_path_factory):
    lake = Lake.under(tmp_path_factory.mktemp("home"))
    run_id = "run-bad"
    persons_frame(spark, GOOD_PERSONS + BAD_PERSONS).write.parquet(str(lake.standardised_persons(run_id)))
    return validate_standardised(spark, lake, run_id, tmp_path_factory.mktemp("bad-report"))


@pytest.mark.parametrize(("rule", "unexpected"), sorted(PLANTED_UNEXPECTED.items()), ids=lambda v: str(v))
def test_each_planted_error_is_counted_by_its_rule(result, rule, unexpected):
    expectation, target = rule
    outcome = result.outcome(SUITE, expectation, target)
    assert outcome.error is None
    assert not outcome.success
    assert outcome.unexpected_count == unexpected


def test_rules_without_planted_errors_still_pass(result):
    planted = set(PLANTED_UNEXPECTED)
    others = [o for o in result.outcomes if (o.expectation, o.target) not in planted]
    assert others and all(o.success for o in others), [(o.expectation, o.target) for o in others if not o.success]


def test_critical_failure_blocks_and_warnings_are_reported_as_such(result):
    assert result.blocking
    warnings = {(o.expectation, o.target) for o in result.failures(WARNING)}
    assert ("expect_column_pair_gender_to_match_id_number", "id_number,gender") in warnings
    assert ("expect_column_values_to_be_well_formed_cn_phone", "phone") in warnings
    assert ("expect_column_values_to_be_valid_cn_id_number", "id_number") in {
        (o.expectation, o.target) for o in result.failures(CRITICAL)
    }


def test_data_docs_render_the_domain_expectations(result):
    assert result.data_docs is not None and result.data_docs.name == "index.html"
    assert SUITE in result.data_docs.read_text(encoding="utf-8")
    pages = "".join(p.read_text(encoding="utf-8") for p in result.data_docs.parent.rglob("*.html"))
    assert "valid resident ID numbers" in pages
    assert "must agree with the sequence digit" in pages
