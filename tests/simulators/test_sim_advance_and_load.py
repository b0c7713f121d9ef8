"""Advancing the city for incremental extraction, and loading the hukou register into real databases."""

from __future__ import annotations

import filecmp
import os
import shutil
import uuid

import pytest
import requests
import sqlalchemy as sa

from simulators.city import advance_city, load_public_security, read_manifest
from simulators.readback import PRIMARY_KEYS, read_department_records
from simulators.runtime import CitySystems
from simulators.truth import read_csv

MARIADB_URL = os.environ.get("CITYHUB_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def max_stamp(rows, field):
    return max(str(row[field]) for row in rows)


def test_advance_adds_later_records_and_keeps_truth_in_step(fresh_city):
    before = read_department_records(fresh_city)
    truth_before = read_csv(fresh_city / "truth" / "records.csv")
    manifest = advance_city(fresh_city, days=2)
    after = read_department_records(fresh_city)

    assert manifest["today"] == "2026-07-02" and manifest["days_advanced"] == 2
    assert manifest["last_advance"]["births"] == 2 and manifest["last_advance"]["deaths"] == 2
    people = after[("public_security", "persons")]
    assert len(people) == len(before[("public_security", "persons")]) + 2
    old_max = max_stamp(before[("public_security", "persons")], "updated_at")
    changed = [row for row in people if row["updated_at"] > old_max]
    assert len(changed) >= 2 + 2 + 6  # births, deaths, phone changes
    assert all(row["updated_at"] >= "2026-07-01" for row in changed)
    assert len(after[("civil_affairs", "assistance")]) == len(before[("civil_affairs", "assistance")]) + 2
    assert max_stamp(after[("civil_affairs", "assistance")], "updatedAt") >= "2026-07-02"
    assert len(after[("health", "certificates")]) == len(before[("health", "certificates")]) + 4
    drop = sorted(p.name for p in (fresh_city / "housing_drop").iterdir())
    assert "property_20260702.csv" in drop and "rental_20260702.xlsx" in drop

    truth = {r["record_key"]: r["person_id"] for r in read_csv(fresh_city / "truth" / "records.csv")}
    assert len(truth) > len(truth_before)
    facts = {r["fact_key"] for r in read_csv(fresh_city / "truth" / "facts.csv")}
    for (source, stream), rows in after.items():
        if (source, stream) not in PRIMARY_KEYS:
            continue
        for row in rows:
            key = f"{source}:{stream}:{row[PRIMARY_KEYS[(source, stream)]]}"
            assert key in (facts if stream in ("hukou_events", "certificates") else truth), key
    persons = {p["person_id"]: p for p in read_csv(fresh_city / "truth" / "persons.csv")}
    assert len(persons) == manifest["truth"]["persons"] == 402
    assert sum(p["death_date"] >= "2026-06-30" for p in persons.values()) == 2  # generated deaths are older
    assert read_manifest(fresh_city)["today"] == "2026-07-02"


def test_advance_is_deterministic(fresh_city, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(fresh_city, copy)
    advance_city(fresh_city, days=1)
    advance_city(copy, days=1)
    for name in ("civil_affairs/assistance.jsonl", "health/patients.jsonl", "truth/records.csv", "housing_drop/property_20260701.csv"):
        assert filecmp.cmp(fresh_city / name, copy / name, shallow=False), name


def test_running_servers_see_advanced_data(fresh_city):
    with CitySystems(fresh_city) as systems:
        headers = {"Authorization": f"Bearer {systems.env['CITYHUB_CIVIL_AFFAIRS_TOKEN']}"}
        url = f"{systems.civil_affairs_url}/api/v1/cremations"
        total = requests.get(url, headers=headers, timeout=5).json()["total"]
        advance_city(fresh_city, days=1)
        fresh = requests.get(url, headers=headers, params={"updated_since": "2026-07-01T00:00:00"}, timeout=5).json()
        assert fresh["total"] == 1 and fresh["items"][0]["cremationDate"] == "2026-07-01"
        assert requests.get(url, headers=headers, timeout=5).json()["total"] == total + 1
        fhir = {"X-Api-Key": systems.env["CITYHUB_HEALTH_API_KEY"]}
        bundle = requests.get(f"{systems.health_url}/fhir/Observation", headers=fhir,
                              params={"_lastUpdated": "ge2026-07-01T00:00:00+08:00"}, timeout=5).json()
        assert {e["resource"]["code"]["coding"][0]["code"] for e in bundle["entry"]} == {"birth-certificate", "death-certificate"}


def register_rows(url: str, schema: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {table: connection.execute(sa.text(f"SELECT COUNT(*) FROM {schema}.{table}")).scalar()
                    for table in ("rk_person", "rk_household", "rk_event")}
    finally:
        engine.dispose()


def drop_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    statement = f"DROP DATABASE IF EXISTS {schema}" if engine.dialect.name in ("mysql", "mariadb") else f"DROP SCHEMA IF EXISTS {schema} CASCADE"
    with engine.begin() as connection:
        connection.execute(sa.text(statement))
    engine.dispose()


def expected_counts(city) -> dict[str, int]:
    counts = read_manifest(city)["counts"]["public_security"]
    return {"rk_person": counts["persons"], "rk_household": counts["households"], "rk_event": counts["hukou_events"]}


@pytest.mark.integration
def test_load_register_into_postgresql(small_city, postgres_url):
    schema = f"sim_{uuid.uuid4().hex[:8]}"
    try:
        with CitySystems(small_city, postgres_url, public_security_schema=schema) as systems:
            assert register_rows(postgres_url, schema) == expected_counts(small_city)
            engine = sa.create_engine(systems.env["CITYHUB_PUBLIC_SECURITY_URL"])
            with engine.connect() as connection:  # the env URL resolves unqualified names into the schema
                first = connection.execute(sa.text("SELECT sfzh, updated_at FROM rk_person ORDER BY rkid LIMIT 1")).one()
            engine.dispose()
        sqlite_first = read_department_records(small_city)[("public_security", "persons")][0]
        assert (first.sfzh, first.updated_at) == (sqlite_first["sfzh"], sqlite_first["updated_at"])
    finally:
        drop_schema(postgres_url, schema)


@pytest.mark.integration
def test_load_register_into_mariadb(small_city):
    try:
        sa.create_engine(MARIADB_URL).connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means MariaDB is not here
        if os.environ.get("CI"):
            raise
        pytest.skip(f"MariaDB not reachable at {MARIADB_URL}: {exc}")
    schema = f"sim_{uuid.uuid4().hex[:8]}"
    try:
        load_public_security(small_city, MARIADB_URL, schema=schema)
        assert register_rows(MARIADB_URL, schema) == expected_counts(small_city)
    finally:
        drop_schema(MARIADB_URL, schema)
