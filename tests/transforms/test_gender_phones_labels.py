"""Gender, phone numbers, ethnicity and marital status."""

from __future__ import annotations

import pytest

from transforms.standardise.ethnicity import GB3304, standardise_ethnicity
from transforms.standardise.gender import standardise_gender
from transforms.standardise.marital_status import standardise_marital_status
from transforms.standardise.phones import standardise_phone


@pytest.mark.parametrize("raw, gender", [
    ("1", "M"), ("2", "F"), ("男", "M"), ("女", "F"), ("M", "M"), ("f", "F"), ("male", "M"), ("FEMALE", "F"),
    (" 男 ", "M"), ("１", "M"), ("1.0", "M"), ("男性", "M"), ("女士", "F"),
])
def test_gender_values(raw, gender):
    assert standardise_gender(raw) == (gender, "valid")


@pytest.mark.parametrize("raw", ["0", "9", "未知", "未说明", "unknown", "U"])
def test_gender_the_source_does_not_know(raw):
    assert standardise_gender(raw) == (None, "unknown")


@pytest.mark.parametrize("raw, status", [(None, "missing"), ("", "missing"), ("x", "malformed"), ("3", "malformed"), ("男女", "malformed")])
def test_gender_unusable(raw, status):
    assert standardise_gender(raw) == (None, status)


def test_gender_code_tables_come_first():
    codes = {"A": "M", "B": "female", "1": "F"}
    assert standardise_gender("A", codes) == ("M", "valid")
    assert standardise_gender("B", codes) == ("F", "valid")
    assert standardise_gender("1", codes) == ("F", "valid")  # the mapping's meaning beats the standard one
    assert standardise_gender("2", codes) == ("F", "valid")  # codes the table lacks fall through


@pytest.mark.parametrize("raw, phone, kind", [
    ("13800138000", "13800138000", "mobile"),
    ("+86 138-0013-8000", "13800138000", "mobile"),
    ("0086 13800138000", "13800138000", "mobile"),
    ("8613800138000", "13800138000", "mobile"),
    ("+8613800138000", "13800138000", "mobile"),
    ("138 0013 8000", "13800138000", "mobile"),
    ("１３８００１３８０００", "13800138000", "mobile"),
    ("13800138000.0", "13800138000", "mobile"),
    ("(010) 6234-5678", "010-62345678", "landline"),
    ("010-62345678", "010-62345678", "landline"),
    ("0571-87654321", "0571-87654321", "landline"),
    ("0571 8765432", "0571-8765432", "landline"),
    ("021 6123 4567 转 123", "021-61234567", "landline"),
    ("0571-87654321 ext. 12", "0571-87654321", "landline"),
    ("+86-10-62345678", "010-62345678", "landline"),
    ("+86 571 87654321", "0571-87654321", "landline"),
])
def test_usable_phones(raw, phone, kind):
    result = standardise_phone(raw)
    assert (result.phone, result.status, result.kind) == (phone, "valid", kind)


def test_phone_repairs_are_named():
    assert standardise_phone("+86 138-0013-8000").repairs == ("whitespace", "separators", "country_code")
    assert standardise_phone("13800138000").repairs == ()


@pytest.mark.parametrize("raw, status", [
    ("87654321", "no_area_code"), ("6234567", "no_area_code"),
    ("12345", "malformed"), ("12800138000", "malformed"), ("1380013800", "malformed"), ("138001380001", "malformed"),
    ("abc", "malformed"), ("010-1234567", "malformed"), ("400-800-8888", "malformed"),
    (None, "missing"), ("", "missing"), (" ", "missing"),
])
def test_unusable_phones(raw, status):
    result = standardise_phone(raw)
    assert result.phone is None and result.status == status


def test_ethnicity_has_all_56_groups_in_code_order():
    assert len(GB3304) == 56 and GB3304[0] == "汉族" and GB3304[55] == "基诺族"


@pytest.mark.parametrize("raw, value, status", [
    ("汉族", "汉族", "valid"), ("汉", "汉族", "repaired"), ("01", "汉族", "repaired"), ("05", "维吾尔族", "repaired"),
    ("维族", "维吾尔族", "repaired"), (" 蒙古族 ", "蒙古族", "valid"), ("穿青人", "穿青人", "unrecognised"), (None, None, "missing"),
])
def test_ethnicity(raw, value, status):
    assert standardise_ethnicity(raw) == (value, status)


@pytest.mark.parametrize("raw, value, status", [
    ("married", "married", "valid"), ("已婚", "married", "valid"), ("初婚", "married", "valid"), ("未婚", "unmarried", "valid"),
    ("丧偶", "widowed", "valid"), ("离婚", "divorced", "valid"), ("10", "unmarried", "valid"), ("40", "divorced", "valid"),
    ("90", None, "unknown"), ("未说明", None, "unknown"), ("同居", None, "unrecognised"), ("", None, "missing"),
])
def test_marital_status(raw, value, status):
    assert standardise_marital_status(raw) == (value, status)
