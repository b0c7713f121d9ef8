"""Resident ID numbers: every status, the checksum, the 15→18 upgrade, permits, gender and birth date."""

from __future__ import annotations

from datetime import date

import pytest

from transforms.standardise import id_number as ids
from transforms.standardise.id_number import (
    birth_date_from_id, check_character, gender_from_id, has_valid_checksum, id_kind, standardise_id_number,
    upgrade_15_to_18,
)
from transforms_rawdata import make_id

TODAY = date(2025, 6, 1)
MALE = make_id("110101", "19900307", "013")
FEMALE = make_id("110105", "19650412", "024")
# a number with no two equal neighbours, so every adjacent swap changes it
DISTINCT = next(i for i in (make_id("130102", "19740926", f"{s:03d}") for s in range(1, 999))
                if all(a != b for a, b in zip(i, i[1:])))
WITH_X = next(i for i in (make_id("440305", "19881111", f"{s:03d}") for s in range(1, 999)) if i.endswith("X"))


def status(value) -> str:
    return standardise_id_number(value, today=TODAY).status


def test_check_character_matches_the_published_example():
    # GB 11643-1999's worked example: 11010519491231002 → X
    assert check_character("11010519491231002") == "X"
    assert has_valid_checksum("11010519491231002X")


@pytest.mark.parametrize("value", [MALE, FEMALE, WITH_X, "11010519491231002X"])
def test_valid(value):
    result = standardise_id_number(value, today=TODAY)
    assert result == (value, "valid", ())


@pytest.mark.parametrize("raw, repair", [
    (WITH_X.lower(), "lowercase_x"),
    (WITH_X[:17] + "×", "times_sign"),
    (MALE.translate(str.maketrans("0123456789", "０１２３４５６７８９")), "full_width"),
    (f" {MALE[:6]} {MALE[6:14]} {MALE[14:]} ", "whitespace"),
    (f"{MALE[:6]}-{MALE[6:14]}-{MALE[14:]}", "separators"),
    (f"'{MALE}", "quotes"),
    (f"{MALE}\u200b", "invisible_characters"),
    (WITH_X[:17] + "ｘ", "full_width"),
])
def test_cosmetic_repairs(raw, repair):
    result = standardise_id_number(raw, today=TODAY)
    assert result.status == "repaired"
    assert result.id_number in (MALE, WITH_X)
    assert repair in result.repairs


def test_fifteen_digit_numbers_are_upgraded():
    legacy = MALE[:6] + MALE[8:17]
    assert upgrade_15_to_18(legacy) == MALE
    result = standardise_id_number(legacy, today=TODAY)
    assert result.id_number == MALE and result.status == "upgraded_15"


def test_fifteen_digit_numbers_keep_their_other_repairs():
    legacy = FEMALE[:6] + FEMALE[8:17]
    result = standardise_id_number(f"{legacy[:6]} {legacy[6:]}", today=TODAY)
    assert result.status == "upgraded_15"
    assert "whitespace" in result.repairs and "upgraded_15" in result.repairs


@pytest.mark.parametrize("position", range(17))
def test_any_single_digit_error_breaks_the_checksum(position):
    wrong = str((int(MALE[position]) + 3) % 10)
    assert status(MALE[:position] + wrong + MALE[position + 1:]) == "bad_checksum"


@pytest.mark.parametrize("position", range(16))
def test_adjacent_transpositions_break_the_checksum(position):
    swapped = DISTINCT[:position] + DISTINCT[position + 1] + DISTINCT[position] + DISTINCT[position + 2:]
    assert status(swapped) == "bad_checksum"


@pytest.mark.parametrize("birth", ["19900230", "19901301", "19900000", "20250602", "18700101"])
def test_impossible_or_future_birth_dates(birth):
    assert status(make_id("110101", birth, "013")) == "bad_date"


def test_impossible_dates_in_fifteen_digit_numbers():
    assert status("110101900230013") == "bad_date"


@pytest.mark.parametrize("region", ["000000", "560101", "110199", "123456"])
def test_unknown_regions(region):
    assert status(make_id(region, "19900307", "013")) == "bad_region"


def test_historical_regions_are_known():
    # 110103 崇文区 was merged into 东城区 in 2010, but numbers issued there stay valid
    assert status(make_id("110103", "19800101", "015")) == "valid"


@pytest.mark.parametrize("value", ["1.10101E+17", "1.10101199003E+17", "110101199003070000", "1.1010119900307E17"])
def test_spreadsheet_mangled_numbers(value):
    result = standardise_id_number(value, today=TODAY)
    assert result.status == "excel_mangled" and result.id_number is None


def test_a_real_number_ending_in_000_is_not_mangled():
    # sequence x00 with check character 0 exists; only a broken checksum marks the zeros as Excel's
    candidates = (make_id("110101", f"1990{month:02d}07", f"{s}00") for month in range(1, 13) for s in range(1, 10))
    real = next(i for i in candidates if i.endswith("000"))
    assert status(real) == "valid"


@pytest.mark.parametrize("value", ["abc", "12345", "1101011990030701", "11010119900307013", MALE + "1", MALE[:17] + "Y", "身份证", "X" * 18])
def test_malformed(value):
    assert status(value) == "malformed"


@pytest.mark.parametrize("value", [None, "", "   ", "\u3000", float("nan"), "\u200b"])
def test_missing(value):
    assert status(value) == "missing"


@pytest.mark.parametrize("prefix, kind", [("810000", "hk_macao_residence_permit"), ("820000", "hk_macao_residence_permit"), ("830000", "taiwan_residence_permit")])
def test_residence_permits(prefix, kind):
    permit = make_id(prefix, "19900307", "013")
    assert status(permit) == "valid"
    assert id_kind(permit) == kind
    assert status(permit[:17] + ("1" if permit[17] != "1" else "2")) == "bad_checksum"


def test_foreign_permanent_residence_cards_are_valid_when_the_checksum_is():
    card = make_id("931156", "19900307", "013")  # 9 + province 31 + nationality 156
    assert status(card) == "valid"
    assert id_kind(card) == "foreign_permanent_residence_card"
    assert status(card[:17] + ("1" if card[17] != "1" else "2")) == "bad_checksum"


def test_only_usable_statuses_carry_a_number():
    for value in [MALE, WITH_X.lower(), MALE[:6] + MALE[8:17], "abc", make_id("999999", "19900307", "013")]:
        result = standardise_id_number(value, today=TODAY)
        assert (result.id_number is not None) == (result.status in ids.USABLE_STATUSES)


def test_statuses_are_the_documented_ones():
    assert set(ids.STATUSES) == {"valid", "upgraded_15", "repaired", "bad_checksum", "bad_date", "bad_region", "malformed", "missing", "excel_mangled"}


def test_gender_and_birth_date_from_the_number():
    assert gender_from_id(MALE) == "M"
    assert gender_from_id(FEMALE) == "F"
    assert gender_from_id(MALE.lower()) == "M"
    assert gender_from_id(MALE[:6] + MALE[8:17]) == "M"
    assert birth_date_from_id(MALE) == date(1990, 3, 7)
    assert birth_date_from_id(FEMALE[:6] + FEMALE[8:17]) == date(1965, 4, 12)
    for unusable in (None, "", "abc", MALE[:17] + "0" if MALE[17] != "0" else MALE[:17] + "1"):
        assert gender_from_id(unusable) is None
        assert birth_date_from_id(unusable) is None


def test_the_surviving_digits_of_an_excel_mangled_number_still_give_the_birth_date():
    from transforms.standardise.id_number import birth_date_from_prefix, surviving_prefix

    mangled = MALE[:15] + "000"
    assert surviving_prefix(mangled) == MALE[:15]
    assert birth_date_from_prefix(mangled) == date(1990, 3, 7)
    assert birth_date_from_prefix("1.10101E+17") is None  # too few digits survive
    assert birth_date_from_prefix(MALE) is None  # not mangled
    assert birth_date_from_prefix(make_id("000000", "19900307", "013")[:15] + "000") is None  # no such region
