"""File-drop connector: encodings, every cell a string, Excel's float mangling kept, new/changed files by hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from connector_test_helpers import definition_from, read_batch
from openpyxl import Workbook

from connectors.errors import SourceDataError, SourceUnavailableError
from connectors.extract import check_source, extract_source
from connectors.files import detect_encoding, excel_text

HEADER = ["登记编号", "权利人", "证件号码", "房屋坐落", "更新时间"]
ROWS = [
    ["DJ0001", "张三", "110101199003070011", "杭州市西湖区文三路1号", "2024-01-01 10:00:00"],
    ["DJ0002", "䶮喆", "00123", "杭州市上城区解放路2号", "2024-01-02 10:00:00"],  # 䶮 is outside GBK, inside GB18030
    ["DJ0003", "李四", "", "", "2024-01-03 10:00:00"],
]


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    path.write_bytes("\r\n".join(",".join(row) for row in [HEADER, *rows]).encode(encoding) + b"\r\n")
    return path


def files_definition(folder: Path, **stream) -> dict:
    streams = [{"name": "property", "pattern": "property_*.csv", "primary_key": "登记编号", "replication_key": "更新时间", "person": {"name": "权利人", "id_number": "证件号码"}, **stream}]
    return {"name": "drops", "title": "drops", "provider_code": "DR", "kind": "files", "connection": {"path": str(folder)}, "streams": streams}


@pytest.mark.parametrize(("encoding", "expected"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gb18030")])
def test_encoding_is_detected(tmp_path, encoding, expected):
    rows = ROWS if encoding != "gbk" else [r for r in ROWS if r[0] != "DJ0002"]
    path = write_csv(tmp_path / "property_1.csv", rows * 3, encoding)
    assert detect_encoding(path) == expected


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_cells_land_as_exact_strings(tmp_path, lake, state_dir, encoding):
    drop = tmp_path / "drop"
    drop.mkdir()
    write_csv(drop / "property_20240101.csv", ROWS, encoding)
    result = extract_source(definition_from(files_definition(drop)), lake, state_dir, "b1")
    rows = read_batch(result.streams["property"].path)
    assert [r["权利人"] for r in rows] == ["张三", "䶮喆", "李四"]
    assert rows[1]["证件号码"] == "00123"  # leading zeros survive: nothing is parsed as a number
    assert rows[2]["证件号码"] == ""  # empty stays empty, not NaN or null
    assert list(rows[0])[:5] == HEADER  # the BOM is not glued to the first column name
    assert {r["_file"] for r in rows} == {"property_20240101.csv"}
    assert [r["_source_record_id"] for r in rows] == ["DJ0001", "DJ0002", "DJ0003"]


def test_new_and_changed_files_are_found_by_name_and_hash(tmp_path, lake, state_dir):
    drop = tmp_path / "drop"
    drop.mkdir()
    write_csv(drop / "property_20240101.csv", ROWS[:2], "gb18030")
    definition = definition_from(files_definition(drop))
    first = extract_source(definition, lake, state_dir, "b1")
    assert (first.total_rows, first.streams["property"].files) == (2, ["property_20240101.csv"])

    assert extract_source(definition, lake, state_dir, "b2").total_rows == 0  # nothing new
    assert not lake.raw_batch("drops", "property", "b2").exists()

    write_csv(drop / "property_20240102.csv", ROWS[2:], "gb18030")
    third = extract_source(definition, lake, state_dir, "b3")
    assert (third.total_rows, third.streams["property"].files) == (1, ["property_20240102.csv"])

    write_csv(drop / "property_20240101.csv", [ROWS[0], ["DJ0002", "王五", "1", "x", "2024-02-01 00:00:00"]], "gb18030")  # re-sent, corrected
    fourth = extract_source(definition, lake, state_dir, "b4")
    assert fourth.streams["property"].files == ["property_20240101.csv"]
    assert [r["权利人"] for r in read_batch(fourth.streams["property"].path)] == ["张三", "王五"]
    assert set(fourth.streams["property"].bookmark_after) == {"property_20240101.csv", "property_20240102.csv"}


def test_rerunning_a_batch_rereads_its_files(tmp_path, lake, state_dir):
    drop = tmp_path / "drop"
    drop.mkdir()
    write_csv(drop / "property_20240101.csv", ROWS, "utf-8")
    definition = definition_from(files_definition(drop))
    extract_source(definition, lake, state_dir, "b1")
    again = extract_source(definition, lake, state_dir, "b1")
    assert again.total_rows == 3 and again.streams["property"].bookmark_before is None
    assert len(read_batch(lake.raw_batch("drops", "property", "b1"))) == 3


def rental_workbook(path: Path, sheet: str = "租赁备案") -> Path:
    workbook = Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["本表为租赁备案"])
    sheet_ = workbook.create_sheet(sheet)
    sheet_.append(["备案号", "承租人", "身份证号", "建筑面积", "出生日期", "联系电话"])
    sheet_.append(["BA001", "赵六", 330102199001011234.0, 89.5, "1990-01-01", 13800138000])
    sheet_.append(["BA002", "钱七", "33010219900101123X", 100.0, None, "0571-88886666"])
    sheet_.append([None, None, None, None, None, None])  # a blank row Excel users leave behind
    workbook.save(path)
    return path


def test_xlsx_sheet_by_name_keeps_excel_number_forms(tmp_path, lake, state_dir):
    drop = tmp_path / "drop"
    drop.mkdir()
    rental_workbook(drop / "rental_20240101.xlsx")
    data = files_definition(drop, name="rental", pattern="rental_*.xlsx", sheet="租赁备案", primary_key="备案号", replication_key=None, person={"name": "承租人"})
    rows = read_batch(extract_source(definition_from(data), lake, state_dir, "b1").streams["rental"].path)
    assert [r["身份证号"] for r in rows] == ["3.30102199001011e+17", "33010219900101123X"]
    assert [r["建筑面积"] for r in rows] == ["89.5", "100"]
    assert [r["联系电话"] for r in rows] == ["13800138000", "0571-88886666"]
    assert rows[1]["出生日期"] is None


def test_missing_sheet_is_named(tmp_path, lake, state_dir):
    drop = tmp_path / "drop"
    drop.mkdir()
    rental_workbook(drop / "rental_20240101.xlsx", sheet="Sheet9")
    data = files_definition(drop, name="rental", pattern="rental_*.xlsx", sheet="租赁备案", primary_key="备案号", person={"name": "承租人"})
    with pytest.raises(SourceDataError, match="no sheet `租赁备案` \\(sheets: 说明, Sheet9\\)"):
        extract_source(definition_from(data), lake, state_dir, "b1")


def test_excel_text_matches_what_excel_shows():
    assert excel_text(3.3010219900101123e17) == "3.30102199001011e+17"
    assert excel_text(1234.0) == "1234"
    assert excel_text(0.1 + 0.2) == "0.3"
    assert excel_text(True) == "TRUE"


def test_json_and_json_lines(tmp_path, lake, state_dir):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "people_1.json").write_text(json.dumps([{"id": 1, "name": "甲", "tags": {"a": 1}}], ensure_ascii=False), encoding="utf-8")
    (drop / "people_2.jsonl").write_text('{"id": 2, "name": "乙", "tags": null}\n\n{"id": 3, "name": "丙"}\n', encoding="utf-8")
    data = files_definition(drop, name="people", pattern="people_*.json*", primary_key="id", replication_key=None, person={"name": "name"})
    rows = read_batch(extract_source(definition_from(data), lake, state_dir, "b1").streams["people"].path)
    assert [(r["id"], r["name"]) for r in rows] == [("1", "甲"), ("2", "乙"), ("3", "丙")]
    assert json.loads(rows[0]["tags"]) == {"a": 1} and rows[1]["tags"] is None and rows[2]["tags"] is None


def test_missing_primary_key_column_is_named(tmp_path, lake, state_dir):
    drop = tmp_path / "drop"
    drop.mkdir()
    write_csv(drop / "property_1.csv", ROWS, "utf-8")
    with pytest.raises(SourceDataError, match="primary_key `编号` is not a column of property_1.csv"):
        extract_source(definition_from(files_definition(drop, primary_key="编号")), lake, state_dir, "b1")


def test_missing_drop_folder_is_unavailable(tmp_path, lake, state_dir):
    definition = definition_from(files_definition(tmp_path / "not-mounted"))
    with pytest.raises(SourceUnavailableError, match="not-mounted.*does not exist"):
        extract_source(definition, lake, state_dir, "b1")
    with pytest.raises(SourceUnavailableError):
        check_source(definition)


def test_drop_folder_from_environment(tmp_path, lake, state_dir, monkeypatch):
    drop = tmp_path / "drop"
    drop.mkdir()
    write_csv(drop / "property_1.csv", ROWS, "utf-8")
    monkeypatch.setenv("TEST_DROP", str(drop))
    definition = definition_from(files_definition(Path("${TEST_DROP}")))
    assert "property_*.csv: 1 file(s)" in check_source(definition)
