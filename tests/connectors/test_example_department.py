"""The worked example of docs/sources.md: a fifth, file-based department added with one YAML file."""

from __future__ import annotations

from pathlib import Path

from connector_test_helpers import read_batch

from connectors.definition import load_source_definition
from connectors.extract import check_source, extract_source

EXAMPLE = Path(__file__).resolve().parents[2] / "connectors" / "examples" / "social_security.yaml"

INSURED = """参保编号,姓名,公民身份号码,性别,出生日期,联系电话,居住地址,险种,参保状态,缴费基数,参保日期,单位名称,更新时间
RS0001,陈建国,330102196503070019,男,1965-03-07,13957100001,杭州市上城区清波街道河坊街1号,城镇职工基本养老保险,正常参保,6500.00,1988-07-01,杭州某某机械厂,2024-05-01 09:00:00
RS0002,林秀英,330106197811230028,女,1978-11-23,,杭州市西湖区北山街道曙光路8号,城乡居民基本医疗保险,暂停缴费,,2010-01-01,,2024-05-02 10:30:00
RS0003,王小明,3.30105199001011e+17,男,19900101,13957100003,杭州市拱墅区米市巷街道,城镇职工基本养老保险,正常参保,8000.00,2012-09-01,杭州某某科技有限公司,2024-05-03 08:15:00
"""
PAYMENTS = """缴费流水号,参保编号,费款所属期,缴费金额,到账日期,更新时间
JF000001,RS0001,202404,1040.00,2024-05-01,2024-05-01 09:00:00
JF000002,RS0003,202404,1280.00,2024-05-03,2024-05-03 08:15:00
"""


def test_social_security_example_extracts_a_drop(tmp_path, lake, state_dir, monkeypatch):
    drop = tmp_path / "social_security_drop"
    drop.mkdir()
    (drop / "insured_20240503.csv").write_bytes(INSURED.encode("gbk"))  # the bureau exports GBK
    (drop / "payments_20240503.csv").write_bytes(b"\xef\xbb\xbf" + PAYMENTS.encode("utf-8"))  # and UTF-8 with BOM
    monkeypatch.setenv("CITYHUB_SOCIAL_SECURITY_DROP", str(drop))

    definition = load_source_definition(EXAMPLE)
    assert "insured_*.csv: 1 file(s)" in check_source(definition)
    result = extract_source(definition, lake, state_dir, "20240503")

    insured = read_batch(result.streams["insured"].path)
    assert [r["_source_record_id"] for r in insured] == ["RS0001", "RS0002", "RS0003"]
    assert [r["姓名"] for r in insured] == ["陈建国", "林秀英", "王小明"]
    assert insured[2]["公民身份号码"] == "3.30105199001011e+17"  # kept as sent, for the standardiser to flag
    assert insured[1]["联系电话"] == "" and insured[1]["_file"] == "insured_20240503.csv"
    payments = read_batch(result.streams["payments"].path)
    assert [(r["缴费流水号"], r["参保编号"], r["缴费金额"]) for r in payments] == [("JF000001", "RS0001", "1040.00"), ("JF000002", "RS0003", "1280.00")]
    assert result.total_rows == 5
    assert extract_source(definition, lake, state_dir, "20240504").total_rows == 0  # the same files are not landed twice
