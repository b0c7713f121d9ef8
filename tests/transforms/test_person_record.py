"""One raw record → canonical person fields: derivations from the ID number, flags, repairs, batch form."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from transforms.standardise.person import PERSON_COLUMNS, RAW_FIELDS, standardise_person, standardise_persons
from transforms_rawdata import make_id

TODAY = date(2025, 6, 1)
MALE = make_id("110101", "19900307", "013")


def test_a_clean_record():
    out = standardise_person({
        "id_number": MALE, "name": "张三", "gender": "1", "birth_date": "19900307", "phone": "13800138000",
        "address": "北京市东城区东华门街道1号", "ethnicity": "汉族", "marital_status": "married",
        "death_date": None, "source_updated_at": "2024-01-15 10:00:00",
    }, TODAY)
    assert out["id_number"] == MALE and out["id_status"] == "valid"
    assert (out["name"], out["name_pinyin"], out["name_initials"]) == ("张三", "zhang san", "zs")
    assert (out["gender"], out["birth_date"], out["phone"]) == ("M", date(1990, 3, 7), "13800138000")
    assert (out["admin_code"], out["address_detail"]) == ("110101", "东华门街道1号")
    assert out["source_updated_at"] == datetime(2024, 1, 15, 10)
    assert out["repairs"] is None and out["flags"] is None


def test_gender_and_birth_date_come_from_the_id_number_when_missing():
    out = standardise_person({"id_number": MALE, "name": "张三"}, TODAY)
    assert (out["gender"], out["birth_date"]) == ("M", date(1990, 3, 7))
    assert out["repairs"] == "gender:from_id_number,birth_date:from_id_number"


def test_an_unreadable_birth_date_is_flagged_and_taken_from_the_id_number():
    out = standardise_person({"id_number": MALE, "name": "张三", "birth_date": "19900230"}, TODAY)
    assert out["birth_date"] == date(1990, 3, 7)
    assert "birth_date:impossible" in out["flags"]


def test_disagreements_with_the_id_number_are_flagged_not_overwritten():
    # a parent's number on a child's record shows up exactly like this
    out = standardise_person({"id_number": MALE, "name": "张小三", "gender": "女", "birth_date": "2015-06-01"}, TODAY)
    assert (out["gender"], out["birth_date"]) == ("F", date(2015, 6, 1))
    assert "gender:id_number_mismatch" in out["flags"] and "birth_date:id_number_mismatch" in out["flags"]


def test_repairs_name_their_field():
    out = standardise_person({"id_number": MALE.lower() + " ", "name": "張三", "phone": "+86 138 0013 8000"}, TODAY)
    repairs = out["repairs"].split(",")
    assert "id_number:whitespace" in repairs and "name:traditional_to_simplified" in repairs
    assert "phone:country_code" in repairs


def test_unusable_values_are_flagged_and_left_out():
    out = standardise_person({"id_number": "1.10101E+17", "name": "李四", "phone": "12345", "death_date": "2024-13-01",
                              "gender": "X", "address": "某某路1号"}, TODAY)
    assert out["id_number"] is None and out["id_status"] == "excel_mangled"
    assert out["phone"] is None and out["death_date"] is None and out["gender"] is None
    assert out["admin_code"] is None and out["address"] == "某某路1号"
    assert set(out["flags"].split(",")) >= {"phone:malformed", "death_date:impossible", "gender:malformed", "address:unmatched"}


def test_nothing_at_all():
    out = standardise_person({}, TODAY)
    assert out["id_status"] == "missing" and out["name"] is None
    assert set(out) == set(PERSON_COLUMNS)


def test_batch_form_matches_row_form():
    raw = pd.DataFrame({"id_number": [MALE, None, "abc"], "name": ["张三", "李四", None], "gender": ["1", "女", None]})
    out = standardise_persons(raw, TODAY)
    assert list(out.columns) == list(PERSON_COLUMNS) and len(out) == 3
    for i, row in raw.iterrows():
        expected = standardise_person({f: row.get(f) for f in RAW_FIELDS}, TODAY)
        assert out.iloc[i].where(out.iloc[i].notna(), None).to_dict() == expected


def test_batch_form_of_nothing():
    out = standardise_persons(pd.DataFrame({name: pd.Series([], dtype=object) for name in RAW_FIELDS}), TODAY)
    assert len(out) == 0 and list(out.columns) == list(PERSON_COLUMNS)


def test_an_excel_mangled_number_still_yields_the_birth_date():
    out = standardise_person({"id_number": MALE[:15] + "000", "name": "张三"}, TODAY)
    assert out["id_number"] is None and out["id_status"] == "excel_mangled"
    assert out["birth_date"] == date(1990, 3, 7) and "birth_date:from_id_number_prefix" in out["repairs"]
    assert out["gender"] is None  # the gender digit is among the lost ones


def test_a_zeroed_tail_that_passes_the_checksum_is_flagged_and_gives_no_gender():
    zeroed = make_id("110101", "19900303", "700")  # 110101199003037000: its check character happens to be 0
    assert zeroed.endswith("000")
    out = standardise_person({"id_number": zeroed, "name": "张三"}, TODAY)
    assert out["id_number"] == zeroed and out["id_status"] == "valid"
    assert "id_number:zero_tail" in out["flags"]
    assert out["gender"] is None and out["birth_date"] == date(1990, 3, 3)  # the date digits survive a zeroed tail


def test_a_birth_date_mistyped_against_the_id_number_is_a_slip_not_someone_elses_number():
    swapped = standardise_person({"id_number": MALE, "name": "张三", "birth_date": "1990-07-03"}, TODAY)
    assert {"birth_date:id_number_mismatch", "birth_date:typing_slip_of_id_number"} <= set(swapped["flags"].split(","))
    decades_apart = standardise_person({"id_number": MALE, "name": "张小三", "birth_date": "2015-06-01"}, TODAY)
    assert "birth_date:typing_slip_of_id_number" not in decades_apart["flags"]
