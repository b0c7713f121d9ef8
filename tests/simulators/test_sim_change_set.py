"""A change set sized as a share of the source records: the share, its kinds, exact truth, determinism."""

from __future__ import annotations

import filecmp
import json
import shutil
from collections import Counter

import pytest

from simulators.city import advance_city
from simulators.readback import PRIMARY_KEYS, read_department_records
from simulators.truth import read_csv

SHARE = 0.05  # a few hundred residents have ~750 records: 5% gives every kind a few changes
FACT_STREAMS = ("hukou_events", "certificates", "households")
FHIR_VALUE = {"identifier": "value", "telecom": "value", "name": "text", "address": "text"}


def served_records(city) -> dict[str, dict]:
    """record key -> the latest version of every person record the department systems now serve."""
    latest = {}
    for (source, stream), rows in read_department_records(city).items():
        if stream in FACT_STREAMS:
            continue
        for row in rows:  # housing: later drop files come later and carry the newer version
            latest[f"{source}:{stream}:{row[PRIMARY_KEYS[(source, stream)]]}"] = row
    return latest


def served_facts(city) -> set[str]:
    return {f"{source}:{stream}:{row[PRIMARY_KEYS[(source, stream)]]}" for (source, stream), rows in read_department_records(city).items()
            if stream in ("hukou_events", "certificates") for row in rows}


def field_value(row: dict, field: str):
    """A field of a native row, reaching into the FHIR shapes the health system uses."""
    value = row.get(field)
    if field in FHIR_VALUE and isinstance(value, list):
        return value[0][FHIR_VALUE[field]] if value else None
    return value


def canonical(row: dict) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)


@pytest.fixture
def advanced(fresh_city):
    """The small city before and after one change-set advance, with the advance's summary."""
    before = served_records(fresh_city)
    noise_before = read_csv(fresh_city / "truth" / "noise.csv")
    manifest = advance_city(fresh_city, days=1, change_share=SHARE)
    return fresh_city, before, noise_before, manifest


def test_share_is_achieved_and_every_kind_occurs(advanced):
    city, before, _, manifest = advanced
    summary = manifest["last_advance"]
    assert summary["source_records"] == len(before)
    assert SHARE * 0.8 <= summary["achieved_share"] <= SHARE * 1.25, summary
    assert all(count > 0 for count in summary["changes"].values()), summary["changes"]
    assert summary["hukou_events"] > 0 and summary["certificates"] > 0 and summary["households_moved"] > 0

    after = served_records(city)
    changed = {key for key, row in after.items() if key not in before or canonical(before[key]) != canonical(row)}
    assert len(changed) == summary["records_changed"]  # the summary counts exactly what the systems now serve differently
    assert summary["achieved_share"] == pytest.approx(len(changed) / len(before), abs=1e-6)


def test_truth_stays_exact(advanced):
    city, before, noise_before, manifest = advanced
    served = served_records(city)
    records = read_csv(city / "truth" / "records.csv")
    counts = Counter(r["record_key"] for r in records)
    assert set(counts) == set(served) and max(counts.values()) == 1  # every served record once, nothing else
    assert len(records) == manifest["truth"]["records"]

    persons = {p["person_id"]: p for p in read_csv(city / "truth" / "persons.csv")}
    assert {r["person_id"] for r in records} <= set(persons)
    born = [p for p in persons.values() if p["birth_date"] == "2026-06-30"]
    assert len(born) == manifest["last_advance"]["changes"]["births"] // 2  # a register row and a Patient each
    assert served_facts(city) <= {f["fact_key"] for f in read_csv(city / "truth" / "facts.csv")}

    noise = read_csv(city / "truth" / "noise.csv")
    assert len(noise) == manifest["truth"]["noise"]
    for entry in noise:  # every logged error is in the data as logged, and nothing corrected is still logged
        value = field_value(served[entry["record_key"]], entry["field"])
        noisy = entry["noisy_value"]
        assert (value == float(noisy)) if isinstance(value, float) else ("" if value is None else value) == noisy, entry
    logged = {(n["record_key"], n["field"]) for n in noise}
    corrected = [n for n in noise_before if (n["record_key"], n["field"]) not in logged]
    assert corrected and all(field_value(served[n["record_key"]], n["field"]) == n["true_value"] for n in corrected)

    moved = [p for p in persons.values() if p["moved_in_date"] == "2026-07-01"]
    stale = {n["record_key"] for n in noise if n["kind"] == "stale_address"}
    truth = {r["record_key"]: r["person_id"] for r in records}
    for key, person_id in truth.items():
        if key.startswith("civil_affairs:assistance:") and person_id in {p["person_id"] for p in moved}:
            assert key in stale  # the case still shows the address the household left

    cases = json.loads((city / "truth" / "cases.json").read_text(encoding="utf-8"))
    assert all(key in truth for items in cases.values() for item in items for key in item["record_keys"])
    assert {name: len(items) for name, items in cases.items()} == manifest["cases"]


def test_same_seed_same_changes_other_seed_other_changes(fresh_city, tmp_path):
    copy, other = tmp_path / "copy", tmp_path / "other"
    shutil.copytree(fresh_city, copy)
    shutil.copytree(fresh_city, other)
    first = advance_city(fresh_city, change_share=SHARE)["last_advance"]
    again = advance_city(copy, change_share=SHARE)["last_advance"]
    assert first == again
    for name in ("civil_affairs/assistance.jsonl", "civil_affairs/cremations.jsonl", "health/patients.jsonl", "truth/records.csv",
                 "truth/noise.csv", "truth/persons.csv", "truth/cases.json", "housing_drop/property_20260701.csv"):
        assert filecmp.cmp(fresh_city / name, copy / name, shallow=False), name
    assert read_department_records(fresh_city)[("public_security", "persons")] == read_department_records(copy)[("public_security", "persons")]
    advance_city(other, change_share=SHARE, seed=99)
    assert not filecmp.cmp(fresh_city / "truth" / "records.csv", other / "truth" / "records.csv", shallow=False)


def test_bookmarks_keep_working_across_two_change_sets(fresh_city):
    advance_city(fresh_city, change_share=SHARE)
    before = served_records(fresh_city)
    stamps = {"public_security": "updated_at", "civil_affairs": "updatedAt", "housing": "更新时间"}
    advance_city(fresh_city, change_share=SHARE)
    after = served_records(fresh_city)
    for key, row in after.items():
        if key in before and canonical(before[key]) == canonical(row):
            continue
        stamp = row["meta"]["lastUpdated"] if key.startswith("health:") else row[stamps[key.split(":")[0]]]
        assert str(stamp).replace("T", " ")[:10] == "2026-07-02", (key, stamp)  # changed today, after every earlier write


def test_a_share_outside_zero_to_one_is_refused(fresh_city):
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        advance_city(fresh_city, change_share=1.5)


def test_cli_prints_the_change_set(fresh_city):
    from typer.testing import CliRunner

    from cityhub.cli import app

    result = CliRunner().invoke(app, ["simulate", "advance", "--city", str(fresh_city), "--change-share", "0.05"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "change set:" in result.output and "phone changes" in result.output and "corrections" in result.output
    refused = CliRunner().invoke(app, ["simulate", "advance", "--city", str(fresh_city), "--change-share", "2"])
    assert refused.exit_code == 2 and "(0, 1]" in refused.output
