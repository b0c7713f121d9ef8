"""Resolve over the landed scenario: ID and no-ID linking, resident ids, survivorship, lineage, death, facts."""

from __future__ import annotations

from datetime import date

import pytest

from transforms.resolve.ids import resident_id_for
from transforms_scenario import CHEN_TWIN_IDS, LI_ID, WANG_ID, ZHANG_ID

pytestmark = pytest.mark.spark

SECRET = "test-hub-secret"


@pytest.fixture(scope="module")
def xref(scenario_run):
    return scenario_run.resolved_table("resident_xref").set_index("record_key", drop=False)


@pytest.fixture(scope="module")
def residents(scenario_run):
    return scenario_run.resolved_table("resident").set_index("resident_id", drop=False)


@pytest.fixture(scope="module")
def lineage(scenario_run):
    table = scenario_run.resolved_table("resident_lineage")
    return {(row.resident_id, row.attribute): row for row in table.itertuples()}


def test_every_standardised_record_is_linked_once(scenario_run, xref):
    persons = scenario_run.persons
    assert sorted(xref["record_key"]) == sorted(persons["record_key"])
    assert xref["resident_id"].notna().all()
    assert scenario_run.resolved.xref_by_rule == {"id_number": 9, "name_birth_date": 4, "singleton": 3}
    assert scenario_run.resolved.residents == 10 == xref["resident_id"].nunique()


def test_records_sharing_an_id_number_are_one_resident(xref):
    zhang = resident_id_for(ZHANG_ID, SECRET)
    keys = set(xref.index[xref["resident_id"] == zhang])
    assert keys == {"public_security:persons:P1", "health:patients:H1", "civil_affairs:marriages:M1"}
    assert (xref.loc[list(keys), "match_rule"] == "id_number").all()
    assert (xref.loc[list(keys), "match_probability"] == 1.0).all()


def test_resident_ids_are_keyed_hashes_of_the_anchor(xref):
    wang = resident_id_for(WANG_ID, SECRET)
    assert wang.startswith("R") and len(wang) == 17
    assert xref.loc["public_security:persons:P3", "resident_id"] == wang
    assert xref.loc["civil_affairs:cremations:K1", "resident_id"] == wang
    assert resident_id_for(WANG_ID, "another secret") != wang


def test_a_legacy_number_links_after_its_upgrade(xref):
    assert xref.loc["public_security:persons:P2", "resident_id"] == resident_id_for(LI_ID, SECRET)


def test_records_without_an_id_join_the_one_resident_with_their_name_and_birth_date(xref):
    li = xref.loc["health:patients:H2"]
    assert li["resident_id"] == resident_id_for(LI_ID, SECRET)
    assert (li["match_rule"], li["match_probability"]) == ("name_birth_date", 0.9)


def test_same_pinyin_links_when_the_characters_differ(xref, scenario_run):
    # 李纳 (no ID) and 李娜 (ID) read the same and share a birth date
    h7 = xref.loc["health:patients:H7"]
    assert h7["resident_id"] == xref.loc["public_security:persons:P9", "resident_id"]
    assert (h7["match_rule"], h7["match_probability"]) == ("name_birth_date", 0.8)


def test_ambiguous_matches_do_not_link(xref):
    # two twins called 陈明 share the birth date: the ID-less record cannot tell which
    h6 = xref.loc["health:patients:H6"]
    assert h6["match_rule"] == "singleton"
    assert h6["resident_id"] not in {resident_id_for(i, SECRET) for i in CHEN_TWIN_IDS}
    assert h6["resident_id"] == resident_id_for("health:patients:H6", SECRET)


def test_a_conflicting_gender_does_not_link(xref):
    assert xref.loc["health:patients:H5", "match_rule"] == "singleton"
    assert xref.loc["health:patients:H5", "resident_id"] != xref.loc["public_security:persons:P3", "resident_id"]


def test_id_less_duplicates_link_together(xref):
    # 孫七 / 孙七 with the same birth date and gender and no ID anywhere
    h3, h4 = xref.loc["health:patients:H3"], xref.loc["health:patients:H4"]
    assert h3["resident_id"] == h4["resident_id"] == resident_id_for("health:patients:H3", SECRET)
    assert h3["match_rule"] == h4["match_rule"] == "name_birth_date"


def test_a_bad_checksum_stands_alone(xref):
    assert xref.loc["public_security:persons:P6", "match_rule"] == "singleton"


def test_golden_record_takes_the_authority_first(residents, lineage):
    zhang_id = resident_id_for(ZHANG_ID, SECRET)
    zhang = residents.loc[zhang_id]
    assert (zhang["name"], zhang["id_number"], zhang["gender"], zhang["birth_date"]) == ("张三", ZHANG_ID, "M", date(1990, 3, 7))
    # public security outranks the newer health record for the name
    assert (lineage[zhang_id, "name"].record_key, lineage[zhang_id, "name"].rule) == ("public_security:persons:P1", "authority")
    assert zhang["hukou_address"] == "北京市东城区东华门街道1号" and zhang["hukou_admin_code"] == "110101"
    assert zhang["record_count"] == 3 and zhang["sources"] == "civil_affairs,health,public_security"


def test_marital_status_from_civil_affairs_registrations(residents, lineage):
    zhang_id = resident_id_for(ZHANG_ID, SECRET)
    # public security says married; civil affairs, the authority, registered a divorce
    assert residents.loc[zhang_id, "marital_status"] == "divorced"
    assert (lineage[zhang_id, "marital_status"].record_key, lineage[zhang_id, "marital_status"].rule) == ("civil_affairs:marriages:M1", "authority")
    li_id = resident_id_for(LI_ID, SECRET)
    assert residents.loc[li_id, "marital_status"] == "widowed"
    assert lineage[li_id, "marital_status"].source == "public_security"


def test_phone_and_current_address_take_the_most_recent(residents, lineage):
    zhang_id = resident_id_for(ZHANG_ID, SECRET)
    zhang = residents.loc[zhang_id]
    assert zhang["phone"] == "13900000009" and zhang["current_address"] == "北京市海淀区中关村1号"
    assert zhang["current_admin_code"] == "110108"
    assert (lineage[zhang_id, "phone"].record_key, lineage[zhang_id, "phone"].rule) == ("health:patients:H1", "most_recent")


def test_death_from_the_certificate_first(residents, lineage):
    zhang_id = resident_id_for(ZHANG_ID, SECRET)
    assert residents.loc[zhang_id, "is_deceased"] and residents.loc[zhang_id, "death_date"] == date(2024, 3, 1)
    assert lineage[zhang_id, "death_date"].record_key == "health:certificates:C1"


def test_death_from_hukou_cancellation_and_cremation(residents, lineage):
    li_id, wang_id = resident_id_for(LI_ID, SECRET), resident_id_for(WANG_ID, SECRET)
    assert residents.loc[li_id, "death_date"] == date(2024, 1, 5)
    assert lineage[li_id, "death_date"].record_key == "public_security:hukou_events:E1"
    assert residents.loc[wang_id, "death_date"] == date(2024, 4, 1)
    assert lineage[wang_id, "death_date"].record_key == "civil_affairs:cremations:K1"


def test_the_living_are_not_deceased(residents):
    living = residents[~residents["is_deceased"]]
    assert living["death_date"].isna().all() and len(living) == 7


def test_lineage_values_are_the_golden_values(residents, lineage):
    for (resident_id, attribute), row in lineage.items():
        golden = residents.loc[resident_id, attribute]
        assert str(golden) == row.value


def test_facts_carry_their_resident(scenario_run, xref):
    facts = scenario_run.resolved_table("fact_public_security").set_index("fact_key")
    event = facts.loc["public_security:hukou_events:E1"]
    assert event["resident_id"] == resident_id_for(LI_ID, SECRET)
    assert facts["resident_id"].notna().all()
    assert scenario_run.resolved.facts == {"civil_affairs": 2, "health": 1, "housing": 0, "public_security": 8}
