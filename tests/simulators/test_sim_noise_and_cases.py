"""Noise really lands in the data at about the configured rates; planted cases are really there."""

from __future__ import annotations

import json
from datetime import date

import pytest

from simulators.city import generate_city
from simulators.idnumber import is_valid_id_number
from simulators.noise import NoiseProfile, noise_profile
from simulators.readback import PRIMARY_KEYS, read_department_records
from simulators.truth import read_csv


@pytest.fixture(scope="module")
def noisy_city(tmp_path_factory):
    out = tmp_path_factory.mktemp("noisy-city")
    generate_city(out, residents=3000, seed=5, noise="default")
    return out


def field_value(row: dict, field: str):
    """A field of a native row, reaching into the FHIR shapes the health system uses."""
    nested = {"identifier": "value", "telecom": "value", "name": "text", "address": "text"}
    value = row.get(field)
    if field in nested and isinstance(value, list):
        return value[0][nested[field]] if value else None
    if field == "identifier" and value is None:
        return None
    return value


def test_noise_log_matches_the_data(noisy_city):
    records = read_department_records(noisy_city)
    by_key = {}
    for (source, stream), rows in records.items():
        if (source, stream) in PRIMARY_KEYS:
            for row in rows:
                by_key[f"{source}:{stream}:{row[PRIMARY_KEYS[(source, stream)]]}"] = row
    noise = read_csv(noisy_city / "truth" / "noise.csv")
    assert noise
    for entry in noise:
        value = field_value(by_key[entry["record_key"]], entry["field"])
        if isinstance(value, float):  # Excel turned the typed number into a float
            assert value == float(entry["noisy_value"]), entry
        else:
            assert ("" if value is None else value) == entry["noisy_value"], entry
        assert entry["noisy_value"] != entry["true_value"]


def test_noisy_ids_are_what_their_kind_says(noisy_city):
    for entry in read_csv(noisy_city / "truth" / "noise.csv"):
        true, noisy, kind = entry["true_value"], entry["noisy_value"], entry["kind"]
        if kind == "id_missing":
            assert noisy == ""
        elif kind == "id_legacy15":
            assert len(noisy) == 15 and noisy == true[:6] + true[8:17] and true[6:8] == "19"
        elif kind == "id_lowercase_x":
            assert noisy == true[:-1] + "x"
        elif kind == "id_fullwidth":
            assert all("０" <= c <= "９" or c == "Ｘ" for c in noisy)
        elif kind == "id_spaces":
            assert noisy.replace(" ", "").replace("-", "") == true and noisy != true
        elif kind in ("id_typo", "id_transposition"):
            assert len(noisy) == 18 and not is_valid_id_number(noisy)
            assert sorted(noisy) == sorted(true) if kind == "id_transposition" else sum(a != b for a, b in zip(noisy, true)) == 1
        elif kind == "id_excel":
            assert noisy == true[:15] + "000" or ("E+17" in noisy and abs(float(noisy) - int(true)) <= 5e8)
            assert entry["record_key"].startswith("housing:")


def test_noise_rates_are_near_the_profile(noisy_city):
    profile = noise_profile("default")
    truth = read_csv(noisy_city / "truth" / "records.csv")
    non_register = [r for r in truth if r["source"] != "public_security"]
    noise = [n for n in read_csv(noisy_city / "truth" / "noise.csv") if not n["record_key"].startswith("public_security:")]
    counts: dict[str, int] = {}
    for entry in noise:
        counts[entry["kind"]] = counts.get(entry["kind"], 0) + 1
    for kind in ("id_missing", "id_fullwidth", "id_spaces", "id_typo", "name_traditional"):
        expected = getattr(profile, kind) * len(non_register)
        assert 0.45 * expected <= counts.get(kind, 0) <= 1.7 * expected, (kind, counts.get(kind, 0), expected)
    housing = [r for r in truth if r["source"] == "housing"]
    expected_excel = profile.id_excel * len(housing) * 10 / 11  # numbers ending in X stay text
    assert 0.45 * expected_excel <= counts.get("id_excel", 0) <= 1.7 * expected_excel
    register = [n for n in read_csv(noisy_city / "truth" / "noise.csv") if n["record_key"].startswith("public_security:")]
    register_records = [r for r in truth if r["source"] == "public_security"]
    assert len(register) / len(register_records) < 0.5 * len(noise) / len(non_register), "the register should be cleaner"


def test_hard_profile_is_noisier(tmp_path, noisy_city):
    generate_city(tmp_path, residents=3000, seed=5, noise="hard")
    hard = len(read_csv(tmp_path / "truth" / "noise.csv"))
    default = len(read_csv(noisy_city / "truth" / "noise.csv"))
    assert hard > 2 * default


def test_duplicates_are_the_same_person_under_two_ids(noisy_city):
    cases = json.loads((noisy_city / "truth" / "cases.json").read_text(encoding="utf-8"))
    truth = {r["record_key"]: r["person_id"] for r in read_csv(noisy_city / "truth" / "records.csv")}
    assert len(cases["duplicate_records"]) >= 10
    for item in cases["duplicate_records"]:
        first, second = item["record_keys"]
        assert first != second and first.rsplit(":", 1)[0] == second.rsplit(":", 1)[0]
        assert truth[first] == truth[second] == item["person_ids"][0]


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="none, default or hard"):
        noise_profile("extreme")
    assert NoiseProfile().scaled(0).id_missing == 0


# -- planted cases ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def city_facts(small_city):
    persons = {p["person_id"]: p for p in read_csv(small_city / "truth" / "persons.csv")}
    truth = {r["record_key"]: r["person_id"] for r in read_csv(small_city / "truth" / "records.csv")}
    cases = json.loads((small_city / "truth" / "cases.json").read_text(encoding="utf-8"))
    records = read_department_records(small_city)
    rows = {f"{s}:{st}:{row[PRIMARY_KEYS[(s, st)]]}": row for (s, st), rs in records.items() if (s, st) in PRIMARY_KEYS for row in rs}
    return persons, truth, cases, rows


def age(person: dict, today: date = date(2026, 6, 30)) -> int:
    born = date.fromisoformat(person["birth_date"])
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def test_every_case_kind_is_planted(city_facts):
    _, truth, cases, _ = city_facts
    for name in ("subsistence_multi_property", "benefits_after_death", "elderly_living_alone", "floating_population",
                 "newborn_without_hukou", "twins", "parent_id_on_child", "death_not_in_hukou"):
        assert cases[name], f"no {name} case planted"
        for item in cases[name]:
            assert item["person_ids"] and item["record_keys"]
            assert all(key in truth for key in item["record_keys"])


def test_subsistence_recipients_with_several_properties(city_facts):
    _, truth, cases, rows = city_facts
    for item in cases["subsistence_multi_property"]:
        person_id = item["person_ids"][0]
        properties = [k for k in item["record_keys"] if k.startswith("housing:property:")]
        assistance = [k for k in item["record_keys"] if k.startswith("civil_affairs:assistance:")]
        assert len(properties) >= 2 and assistance
        assert all(truth[k] == person_id for k in item["record_keys"])
        assert rows[assistance[0]]["program"] == "低保"


def test_benefits_still_paid_after_death(city_facts):
    persons, truth, cases, rows = city_facts
    for item in cases["benefits_after_death"]:
        person = persons[item["person_ids"][0]]
        assert person["death_date"]
        record = rows[item["record_keys"][0]]
        assert record["status"] == "在保" and record["endDate"] is None


def test_elderly_living_alone(city_facts):
    persons, _, cases, _ = city_facts
    for item in cases["elderly_living_alone"]:
        person = persons[item["person_ids"][0]]
        assert age(person) >= 80 and not person["death_date"]
        housemates = [p for p in persons.values() if p["household_id"] == person["household_id"] and not p["death_date"]]
        assert housemates == [person]


def test_floating_population_rents_with_hukou_elsewhere(city_facts):
    persons, _, cases, rows = city_facts
    for item in cases["floating_population"]:
        person = persons[item["person_ids"][0]]
        assert person["is_migrant"] == "true" and not person["hukou_admin_code"].startswith("33")
        assert rows[item["record_keys"][0]]["户籍地址"] == person["hukou_address"]


def test_newborns_without_hukou(city_facts):
    persons, truth, cases, _ = city_facts
    register = {pid for key, pid in truth.items() if key.startswith("public_security:persons:")}
    for item in cases["newborn_without_hukou"]:
        person_id = item["person_ids"][0]
        assert person_id not in register
        assert (date(2026, 6, 30) - date.fromisoformat(persons[person_id]["birth_date"])).days > 30
        assert item["record_keys"][0].startswith("health:patients:")


def test_twins_share_surname_birth_date_and_address(city_facts):
    persons, _, cases, _ = city_facts
    for item in cases["twins"]:
        a, b = (persons[pid] for pid in item["person_ids"])
        assert a["birth_date"] == b["birth_date"] and a["current_address"] == b["current_address"]
        assert a["name"][0] == b["name"][0] and a["mother_id"] == b["mother_id"]
        assert a["id_number"] != b["id_number"] and is_valid_id_number(a["id_number"]) and is_valid_id_number(b["id_number"])


def test_parent_id_on_child_record(city_facts):
    persons, truth, cases, rows = city_facts
    for item in cases["parent_id_on_child"]:
        child, parent = persons[item["person_ids"][0]], persons[item["parent_person_id"]]
        record = rows[item["record_keys"][0]]
        assert truth[item["record_keys"][0]] == child["person_id"]
        assert record["identifier"][0]["value"] == parent["id_number"] != child["id_number"]


def test_deaths_not_reflected_in_hukou(city_facts):
    persons, _, cases, rows = city_facts
    for item in cases["death_not_in_hukou"]:
        assert persons[item["person_ids"][0]]["death_date"]
        register_row = rows[item["record_keys"][0]]
        assert register_row["hjzt"] == "正常"
