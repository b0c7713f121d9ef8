"""The simulated small city through connectors, standardise and resolve, checked against its ground truth."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

pytestmark = [pytest.mark.spark, pytest.mark.e2e]

def _pairs(groups: pd.Series) -> int:
    return int((groups * (groups - 1) // 2).sum())


def test_every_source_record_is_standardised_or_quarantined(city_run):
    assert city_run.standardised.balanced
    assert city_run.xref["person_id"].notna().all(), "every linked record is a true source record"
    accounted = set(city_run.xref["record_key"]) | set(city_run.quarantine["record_key"].dropna())
    assert set(city_run.truth["record_key"]) <= accounted


def test_linking_is_precise_and_finds_most_pairs(city_run):
    xref = city_run.xref
    true_positive = _pairs(xref.groupby(["resident_id", "person_id"]).size())
    predicted, actual = _pairs(xref.groupby("resident_id").size()), _pairs(xref.groupby("person_id").size())
    precision, recall = true_positive / predicted, true_positive / actual
    assert precision >= 0.99, f"pairwise precision {precision:.3f}"
    assert recall >= 0.95, f"pairwise recall {recall:.3f}"


def test_a_parents_number_on_a_childs_record_does_not_merge_them(city_run):
    xref = city_run.xref
    for case in city_run.cases["parent_id_on_child"]:
        child = xref.loc[case["record_keys"][0], "resident_id"]
        parent_records = xref[xref["person_id"] == case["parent_person_id"]]
        assert child not in set(parent_records["resident_id"])


def test_twins_stay_two_residents(city_run):
    for case in city_run.cases["twins"]:
        assert city_run.xref.loc[case["record_keys"], "resident_id"].nunique() == 2


def test_duplicate_records_become_one_resident(city_run):
    for case in city_run.cases["duplicate_records"]:
        assert city_run.xref.loc[case["record_keys"], "resident_id"].nunique() == 1


def test_deaths_reach_the_golden_record(city_run):
    for case in city_run.cases["benefits_after_death"] + city_run.cases["death_not_in_hukou"]:
        for resident_id in set(city_run.xref.loc[case["record_keys"], "resident_id"]):
            resident = city_run.residents.loc[resident_id]
            assert resident["is_deceased"] and resident["death_date"] == date.fromisoformat(case["death_date"])


def test_no_resident_mixes_two_people(city_run):
    mixed = [rid for rid, people in city_run.xref.groupby("resident_id")["person_id"] if people.nunique() > 1]
    assert mixed == [], f"residents mixing people: {mixed[:5]}"
