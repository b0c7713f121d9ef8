"""Ground-truth files: the true persons, which person every source record is about, planted cases, noise."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from simulators.departments.common import Truth, record_key
from simulators.events import World
from simulators.population import Person

PERSON_COLUMNS = ("person_id", "id_number", "name", "gender", "birth_date", "ethnicity", "marital_status", "phone",
                  "hukou_address", "hukou_admin_code", "current_address", "current_admin_code", "household_id",
                  "is_migrant", "hukou_registered", "death_date", "death_in_hukou", "spouse_id", "mother_id",
                  "father_id", "twin_id", "old_phone", "previous_address", "moved_in_date",
                  "moved_out_date")
RECORD_COLUMNS = ("source", "stream", "source_record_id", "record_key", "person_id")
FACT_COLUMNS = ("source", "stream", "source_record_id", "fact_key", "subject_record_key", "person_id")
NOISE_COLUMNS = ("record_key", "field", "kind", "true_value", "noisy_value")
CASE_NAMES = ("subsistence_multi_property", "benefits_after_death", "elderly_living_alone", "floating_population",
              "newborn_without_hukou", "twins", "parent_id_on_child", "death_not_in_hukou", "duplicate_records")


def person_row(person: Person) -> dict:
    """A persons.csv row (dates ISO, booleans true/false, missing values empty)."""
    row = {}
    for column in PERSON_COLUMNS:
        value = getattr(person, column)
        row[column] = ("true" if value else "false") if isinstance(value, bool) else ("" if value is None else str(value))
    return row


def write_csv(path: Path, columns: tuple[str, ...], rows) -> None:
    """UTF-8 CSV with a header."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def append_csv(path: Path, rows) -> None:
    """Append rows to an existing CSV."""
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def read_csv(path: Path) -> list[dict]:
    """All rows of a truth CSV as dicts of strings."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_truth(truth_dir: Path, world: World, truth: Truth, cases: dict) -> None:
    """persons.csv, records.csv, facts.csv, noise.csv and cases.json."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_csv(truth_dir / "persons.csv", PERSON_COLUMNS, (list(person_row(p).values()) for p in world.persons.values()))
    write_csv(truth_dir / "records.csv", RECORD_COLUMNS, ((s, st, i, record_key(s, st, i), p) for s, st, i, p in truth.records))
    write_csv(truth_dir / "facts.csv", FACT_COLUMNS, ((s, st, i, record_key(s, st, i), k, p) for s, st, i, k, p in truth.facts))
    write_csv(truth_dir / "noise.csv", NOISE_COLUMNS, truth.noise.rows)
    (truth_dir / "cases.json").write_text(json.dumps(cases, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def keys_by_person(truth: Truth) -> dict[tuple[str, str], dict[str, list[str]]]:
    """(source, stream) -> person_id -> record keys, in rendering order."""
    index: dict[tuple[str, str], dict[str, list[str]]] = {}
    for source, stream, record_id, person_id in truth.records:
        index.setdefault((source, stream), {}).setdefault(person_id, []).append(record_key(source, stream, record_id))
    return index


def collect_cases(world: World, truth: Truth) -> dict[str, list[dict]]:
    """The planted cross-department and hard cases, each with `person_ids` and `record_keys`."""
    keys = keys_by_person(truth)
    ps = keys.get(("public_security", "persons"), {})
    patients = keys.get(("health", "patients"), {})
    properties = keys.get(("housing", "property"), {})
    rentals = keys.get(("housing", "rental"), {})
    assistance_key = truth.index.get("assistance", {})
    cases_by_no = {case.case_no: case for case in world.assistance}
    cases: dict[str, list[dict]] = {name: [] for name in CASE_NAMES}

    for person_id in world.planted.get("subsistence_multi_property", []):
        dibao = [c for c in world.assistance if c.person_id == person_id and c.program == "低保"]
        cases["subsistence_multi_property"].append({
            "person_ids": [person_id], "property_count": len(properties.get(person_id, [])),
            "record_keys": [assistance_key[c.case_no] for c in dibao] + properties.get(person_id, [])})
    for case_no in world.planted.get("benefits_after_death", []):
        case = cases_by_no[case_no]
        person = world.persons[case.person_id]
        cases["benefits_after_death"].append({
            "person_ids": [person.person_id], "program": case.program, "death_date": person.death_date.isoformat(),
            "record_keys": [assistance_key[case_no]] + patients.get(person.person_id, [])[:1]})
    for household in world.households.values():
        living = [world.persons[pid] for pid in household.member_ids if world.persons[pid].alive]
        if len(living) == 1 and living[0].age_on(world.today) >= 80 and living[0].person_id in ps and not living[0].moved_out_date:
            cases["elderly_living_alone"].append({"person_ids": [living[0].person_id], "household_id": household.household_id,
                                                  "age": living[0].age_on(world.today), "record_keys": ps[living[0].person_id][:1]})
    for item in world.rentals:
        person = world.persons[item.person_id]
        if person.is_migrant:
            cases["floating_population"].append({"person_ids": [person.person_id], "hukou_admin_code": person.hukou_admin_code,
                                                 "record_keys": [truth.index["rental"][item.filing_no]]})
    for person_id in world.planted.get("newborn_without_hukou", []):
        person = world.persons[person_id]
        cases["newborn_without_hukou"].append({"person_ids": [person_id], "birth_date": person.birth_date.isoformat(),
                                               "record_keys": patients.get(person_id, [])[:1]})
    for person in world.persons.values():
        if person.twin_id and person.person_id < person.twin_id:
            pair = [person.person_id, person.twin_id]
            cases["twins"].append({"person_ids": pair, "record_keys": [k for pid in pair for k in ps.get(pid, [])[:1]]})
    for item in truth.parent_id_on_child:
        cases["parent_id_on_child"].append({"person_ids": [item["person_id"]], "parent_person_id": item["parent_person_id"],
                                            "field": item["field"], "record_keys": [item["record_key"]]})
    for person_id in world.planted.get("death_not_in_hukou", []):
        person = world.persons[person_id]
        cases["death_not_in_hukou"].append({"person_ids": [person_id], "death_date": person.death_date.isoformat(),
                                            "record_keys": ps.get(person_id, [])[:1] + patients.get(person_id, [])[:1]})
    for person_id, first, duplicate in truth.duplicates:
        cases["duplicate_records"].append({"person_ids": [person_id], "record_keys": [first, duplicate]})
    return cases


def person_from_row(row: dict) -> Person:
    """A Person back from its persons.csv row."""
    from datetime import date

    values: dict = {}
    for column in PERSON_COLUMNS:
        text = row.get(column, "")
        if column in ("is_migrant", "hukou_registered", "death_in_hukou"):
            values[column] = text == "true"
        elif column in ("birth_date", "death_date", "moved_in_date", "moved_out_date"):
            values[column] = date.fromisoformat(text) if text else None
        else:
            values[column] = text or None
    return Person(**values)
