"""The plain row rules behind the domain expectations, value by value (no Spark)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cityhub.quality.rules import birth_date_matches_id, gender_matches_id, is_valid_id_number, is_well_formed_phone
from quality_data import BAD_PERSONS, GOOD_PERSONS, MAN_1980, OLD_REGION_1960, WOMAN_1975, id_number, wrong_check


@pytest.mark.parametrize("row", GOOD_PERSONS, ids=lambda row: row[0])
def test_good_person_passes_every_row_rule(row):
    _, _, _, _, number, _, gender, born, _, phone, _ = row
    assert is_valid_id_number(number)
    assert birth_date_matches_id(number, born)
    assert gender_matches_id(number, gender)
    assert is_well_formed_phone(phone)


def test_id_number_rule_needs_check_character_real_date_and_known_region():
    assert is_valid_id_number(OLD_REGION_1960)  # a historical division still counts
    assert not is_valid_id_number(wrong_check(MAN_1980))
    assert not is_valid_id_number(id_number("110105", "19800230", "001"))
    assert not is_valid_id_number(id_number("123456", "19800101", "001"))
    assert not is_valid_id_number(" " + MAN_1980)  # a stored value must already be clean


def test_birth_date_rule_accepts_timestamps_and_rejects_another_day():
    assert birth_date_matches_id(WOMAN_1975, datetime(1975, 6, 15, 0, 0))
    assert not birth_date_matches_id(WOMAN_1975, date(1975, 6, 16))


def test_gender_rule_reads_parity():
    assert gender_matches_id(MAN_1980, "M") and not gender_matches_id(MAN_1980, "F")
    assert gender_matches_id(WOMAN_1975, "F") and not gender_matches_id(WOMAN_1975, "M")


def test_phone_rule_wants_the_cleaned_form():
    assert is_well_formed_phone("0571-87654321")
    assert not is_well_formed_phone("057187654321")
    assert not is_well_formed_phone("+8613800138000")
    assert sum(not is_well_formed_phone(row[9]) for row in BAD_PERSONS) == 2
