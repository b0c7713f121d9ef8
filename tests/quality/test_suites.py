"""The JSON suites load as GX suites, every rule carries a severity, and a broken suite is refused."""

from __future__ import annotations

import json

import pytest

from cityhub.quality.suites import (
    PUBLISHED_DATASETS,
    SEVERITIES,
    STANDARDISED_PERSONS,
    SUITES_DIR,
    SuiteError,
    load_suite,
    severity_of,
)


@pytest.mark.parametrize("name", [STANDARDISED_PERSONS, *PUBLISHED_DATASETS])
def test_suite_loads_with_every_expectation_and_its_severity(name):
    document = json.loads((SUITES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    suite = load_suite(name)
    assert suite.name == name
    assert len(suite.expectations) == len(document["expectations"])
    assert [severity_of(e) for e in suite.expectations] == [e["meta"]["severity"] for e in document["expectations"]]
    assert {severity_of(e) for e in suite.expectations} <= set(SEVERITIES)


def test_standardised_suite_uses_the_domain_expectations():
    types = {expectation.expectation_type for expectation in load_suite(STANDARDISED_PERSONS).expectations}
    assert {
        "expect_column_values_to_be_valid_cn_id_number",
        "expect_column_pair_birth_date_to_match_id_number",
        "expect_column_pair_gender_to_match_id_number",
        "expect_column_values_to_not_be_in_the_future",
        "expect_column_values_to_be_well_formed_cn_phone",
    } <= types


def _write_suite(folder, expectations):
    (folder / "broken.json").write_text(json.dumps({"name": "broken", "expectations": expectations}), encoding="utf-8")


def test_expectation_without_severity_is_refused(tmp_path):
    _write_suite(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {}}])
    with pytest.raises(SuiteError, match="severity"):
        load_suite("broken", tmp_path)


def test_unknown_expectation_is_refused_not_dropped(tmp_path):
    _write_suite(tmp_path, [{"type": "expect_column_values_to_be_a_unicorn", "kwargs": {"column": "a"}, "meta": {"severity": "warning"}}])
    with pytest.raises(SuiteError, match="could not be built"):
        load_suite("broken", tmp_path)
