"""Addresses: division names at the front → 6-digit code; the rest is detail."""

from __future__ import annotations

import pytest

from transforms.standardise.addresses import standardise_address


@pytest.mark.parametrize("raw, code, detail, status", [
    ("北京市东城区东华门街道1号", "110101", "东华门街道1号", "county"),
    ("浙江省杭州市西湖区文三路 100 号", "330106", "文三路100号", "county"),
    ("浙江杭州西湖区文三路100号", "330106", "文三路100号", "county"),
    ("杭州市余杭区良渚街道", "330110", "良渚街道", "county"),
    ("广西壮族自治区南宁市青秀区民族大道", "450103", "民族大道", "county"),
    ("新疆维吾尔自治区乌鲁木齐市天山区", "650102", None, "county"),
    ("吉林省吉林市船营区1号", "220204", "1号", "county"),
    ("吉林市船营区1号", "220204", "1号", "county"),
    ("河南省济源市天坛街道", "419001", "天坛街道", "county"),
    ("海淀区中关村大街1号", "110108", "中关村大街1号", "county"),
    ("浙江省杭州市某某路1号", "330100", "某某路1号", "city"),
    ("上海市", "310000", None, "province"),
    ("浙江省某县某村", "330000", "某县某村", "province"),
])
def test_division_codes(raw, code, detail, status):
    result = standardise_address(raw)
    assert (result.admin_code, result.detail, result.status) == (code, detail, status)


def test_historical_names_still_resolve():
    # 崇文区 (110103) was merged into 东城区 in 2010; old hukou addresses still name it
    assert standardise_address("北京市崇文区前门大街1号").admin_code == "110103"


def test_county_names_that_exist_twice_need_their_city():
    # 朝阳区 is in Beijing and in Changchun
    assert standardise_address("朝阳区建国路88号").status == "unmatched"
    assert standardise_address("北京市朝阳区建国路88号").admin_code == "110105"
    assert standardise_address("吉林省长春市朝阳区").admin_code == "220104"


def test_short_city_names_only_after_a_province():
    # 朝阳 alone is not taken as 朝阳市 (Liaoning)
    assert standardise_address("朝阳路1号").status == "unmatched"
    assert standardise_address("辽宁朝阳双塔区").admin_code == "211302"


def test_addresses_are_normalised():
    result = standardise_address("北京市　东城区 １号")
    assert result.address == "北京市东城区1号" and result.detail == "1号"


@pytest.mark.parametrize("raw, status", [(None, "missing"), ("", "missing"), ("   ", "missing"), ("某某路1号", "unmatched")])
def test_unusable(raw, status):
    result = standardise_address(raw)
    assert result.admin_code is None and result.status == status
