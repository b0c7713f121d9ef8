"""Masking per DESIGN.md's privacy rules: ID `110101********1234`, name `张*`, mobile `138****8000`."""

from __future__ import annotations

import pytest

from cityhub.privacy import mask_date, mask_field, mask_id_number, mask_name, mask_phone, mask_text


def test_design_examples():
    assert mask_id_number("110101199003071234") == "110101********1234"
    assert mask_name("张三") == "张*"
    assert mask_phone("13812348000") == "138****8000"


@pytest.mark.parametrize("masker, value, expected", [
    (mask_id_number, "110101900307123", "110101*****7123"),   # 15-digit legacy number
    (mask_id_number, "12345", "*****"),
    (mask_name, "欧阳修", "欧**"),
    (mask_name, "王", "王*"),
    (mask_phone, "010-62345678", "010*****5678"),
    (mask_phone, "12345", "****45"),
    (mask_date, "1990-03-07", "1990-**-**"),
    (mask_date, "1990年3月7日", "1990年**月**日"),
    (mask_id_number, None, None),
])
def test_field_maskers(masker, value, expected):
    assert masker(value) == expected


def test_free_text_masks_every_personal_part():
    masked = mask_text("110101199003071234 | 张三丰 tel 13812348000 born 1990-03-07, box 3301991234567")
    assert masked == "110101********1234 | 张** tel 138****8000 born 1990-**-**, box ***********67"


def test_mask_field_picks_the_field_rule_and_falls_back_to_free_text():
    assert mask_field("phone", "13812348000") == "138****8000"
    assert mask_field("address", "北京市东城区1号") == "北*****1号"
    assert mask_field(None, "张三 13812348000") == "张* 138****8000"
