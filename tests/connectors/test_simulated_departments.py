"""The connectors against the simulated department systems: every kind end to end, faults, increments."""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from connector_test_helpers import read_batch

from cityhub.config import PACKAGE_SOURCES_DIR
from connectors.definition import SourceDefinition, load_source_definition
from connectors.errors import PaginationLoopError, SourceUnavailableError
from connectors.extract import check_source, extract_source
from simulators.city import advance_city
from simulators.runtime import CitySystems
from simulators.servers.store import read_records

MARIADB_SERVER = "mysql+pymysql://root@127.0.0.1:3306"
SQL_TABLES = {"persons": "rk_person", "hukou_events": "rk_event"}
JSONL_FILES = {
    ("civil_affairs", "assistance"): ("civil_affairs/assistance.jsonl", "caseId"),
    ("civil_affairs", "marriages"): ("civil_affairs/marriages.jsonl", "partyId"),
    ("civil_affairs", "cremations"): ("civil_affairs/cremations.jsonl", "recordId"),
    ("health", "patients"): ("health/patients.jsonl", "id"),
    ("health", "certificates"): ("health/observations.jsonl", "id"),
}


def source(name: str) -> SourceDefinition:
    return load_source_definition(PACKAGE_SOURCES_DIR / f"{name}.yaml")


def with_connection(definition: SourceDefinition, **changes) -> SourceDefinition:
    """The definition with connection settings changed (smaller pages, shorter timeouts) for a test."""
    return definition.model_copy(update={"connection": definition.connection.model_copy(update=changes)})


def with_page_size(definition: SourceDefinition, size: int) -> SourceDefinition:
    paginator = definition.connection.paginator.model_copy(update={"page_size": size})
    return with_connection(definition, paginator=paginator)


@pytest.fixture(scope="module")
def systems(small_city: Path):
    """The small city's systems, served for this module (faults are reset after each test)."""
    with CitySystems(small_city) as running:
        yield running


@pytest.fixture
def city_env(systems, monkeypatch):
    """The running systems' URLs and secrets in the environment, faults cleared afterwards."""
    for name, value in systems.env.items():
        monkeypatch.setenv(name, value)
    yield systems
    systems.reset_faults()


def source_ids(city: Path, name: str, stream: str, url: str | None = None) -> list[str]:
    """The primary keys the department system holds for a stream, read from the system's own storage."""
    if name == "public_security":
        engine = sa.create_engine(url or f"sqlite:///{city / 'public_security.db'}")
        key = source(name).stream(stream).primary_key
        with engine.connect() as connection:
            ids = [row[0] for row in connection.execute(sa.text(f"SELECT {key} FROM {SQL_TABLES[stream]}"))]
        engine.dispose()
        return sorted(ids)
    file, key = JSONL_FILES[(name, stream)]
    return sorted(str(r[key]) for r in read_records(city / file, key))


def landed_ids(result, stream: str) -> list[str]:
    return sorted(r["_source_record_id"] for r in read_batch(result.streams[stream].path))


@pytest.mark.parametrize("name", ["public_security", "civil_affairs", "health"])
def test_sql_and_rest_sources_land_every_record(city_env, small_city, lake, state_dir, name):
    definition = source(name)
    assert check_source(definition)
    result = extract_source(definition, lake, state_dir, "b1")
    for stream in definition.streams:
        assert landed_ids(result, stream.name) == source_ids(small_city, name, stream.name), stream.name
    assert result.total_rows > 0


def test_housing_drop_lands_every_row_of_every_file(city_env, small_city, lake, state_dir):
    manifest = json.loads((small_city / "city.json").read_text(encoding="utf-8"))
    result = extract_source(source("housing"), lake, state_dir, "b1")
    for stream in ("property", "rental"):
        files = {f: info["rows"] for f, info in manifest["housing_files"].items() if f.startswith(stream)}
        landed = read_batch(result.streams[stream].path)
        assert len(landed) == manifest["counts"]["housing"][stream] == sum(files.values())
        assert sorted(result.streams[stream].files) == sorted(files)
        for file, rows in files.items():
            assert sum(1 for r in landed if r["_file"] == file) == rows
    # GBK and UTF-8 property files decode to the same readable Chinese
    assert all("杭州" in r["房屋坐落"] for r in read_batch(result.streams["property"].path) if r["房屋坐落"])


def test_rest_records_are_nested_json_text(city_env, lake, state_dir):
    rows = read_batch(extract_source(source("health"), lake, state_dir, "b1").streams["certificates"].path)
    subject = json.loads(rows[0]["subject"])
    assert subject["reference"].startswith("Patient/")


@pytest.mark.integration
def test_public_security_on_postgresql(small_city, postgres_url, lake, state_dir, monkeypatch):
    schema = f"cx_ps_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    try:
        url = f"{postgres_url}?options=-csearch_path%3D{schema}"
        with CitySystems(small_city, public_security_url=url) as systems:
            monkeypatch.setenv("CITYHUB_PUBLIC_SECURITY_URL", systems.env["CITYHUB_PUBLIC_SECURITY_URL"])
            result = extract_source(source("public_security"), lake, state_dir, "b1")
        for stream in SQL_TABLES:
            assert landed_ids(result, stream) == source_ids(small_city, "public_security", stream)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        engine.dispose()


def test_public_security_on_mariadb(small_city, lake, state_dir, monkeypatch):
    database = f"cx_ps_{uuid.uuid4().hex[:8]}"
    try:
        server = sa.create_engine(MARIADB_SERVER)
        with server.begin() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means MariaDB is not here
        pytest.skip(f"MariaDB not reachable at {MARIADB_SERVER}: {exc}")
    try:
        with CitySystems(small_city, public_security_url=f"{MARIADB_SERVER}/{database}?charset=utf8mb4") as systems:
            monkeypatch.setenv("CITYHUB_PUBLIC_SECURITY_URL", systems.env["CITYHUB_PUBLIC_SECURITY_URL"])
            result = extract_source(source("public_security"), lake, state_dir, "b1")
        for stream in SQL_TABLES:
            assert landed_ids(result, stream) == source_ids(small_city, "public_security", stream)
        names = {r["_source_record_id"]: r["xm"] for r in read_batch(result.streams["persons"].path)}
        assert any("\u4e00" <= (name or " ")[0] <= "\u9fff" for name in names.values())  # Chinese survives the round trip
    finally:
        with server.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {database}")
        server.dispose()


@pytest.mark.parametrize(("system", "faults"), [
    ("civil_affairs", {"error_burst": 3, "error_status": 503}),
    ("civil_affairs", {"error_burst": 2, "error_status": 500}),
    ("civil_affairs", {"truncate_next": 2}),
    ("civil_affairs", {"drop_next": 2}),
    ("health", {"truncate_next": 2}),
    ("health", {"drop_next": 1, "error_burst": 1, "error_status": 502}),
])
def test_transient_faults_are_recovered(city_env, small_city, lake, state_dir, system, faults):
    definition = with_page_size(source(system), 20)  # several pages, so faults hit mid-stream too
    city_env.set_faults(system, **faults)
    result = extract_source(definition, lake, state_dir, "b1")
    for stream in definition.streams:
        assert landed_ids(result, stream.name) == source_ids(small_city, system, stream.name)
    plan = city_env.app(system).state.faults
    assert all(getattr(plan, name) == 0 for name in faults if name != "error_status")  # every fault was served


def test_slow_response_times_out_and_is_retried(city_env, small_city, lake, state_dir):
    definition = with_connection(source("civil_affairs"), timeout_seconds=0.3)
    city_env.set_faults("civil_affairs", slow_seconds=1.0, slow_requests=1)
    result = extract_source(definition, lake, state_dir, "b1")
    assert landed_ids(result, "assistance") == source_ids(small_city, "civil_affairs", "assistance")
    assert city_env.app("civil_affairs").state.faults.slow_requests == 0


def test_rate_limit_429_is_honoured(small_city, lake, state_dir, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")  # it logs every response's status
    with CitySystems(small_city, rate_limit_per_second=8) as systems:
        for name, value in systems.env.items():
            monkeypatch.setenv(name, value)
        definition = with_page_size(source("civil_affairs"), 10)  # ~15 requests at 8 per second
        started = time.monotonic()
        result = extract_source(definition, lake, state_dir, "b1")
        elapsed = time.monotonic() - started
    for stream in definition.streams:
        assert landed_ids(result, stream.name) == source_ids(small_city, "civil_affairs", stream.name)
    limited = [r for r in caplog.records if '" 429 ' in r.getMessage()]
    assert limited, "the rate limit was never hit; the test proves nothing"
    assert elapsed >= 1.0  # the 429s' Retry-After: 1 was waited out, not retried into the ground


def test_next_link_loop_is_a_clear_error(city_env, lake, state_dir):
    city_env.set_faults("health", loop_next_link=1)
    with pytest.raises(PaginationLoopError) as caught:
        extract_source(with_page_size(source("health"), 20), lake, state_dir, "b1")
    message = str(caught.value)
    assert "`health`" in message and "/fhir/Patient" in message and "already fetched" in message
    assert not (state_dir / "health.json").exists()


def test_source_down_raises_and_leaves_state_and_raw_untouched(city_env, lake, state_dir):
    definition = with_connection(source("civil_affairs"), retries=2, backoff_factor=0.05)  # give up quickly
    extract_source(definition, lake, state_dir, "b1")
    state_before = (state_dir / "civil_affairs.json").read_bytes()
    raw_before = sorted((p.relative_to(lake.root), p.stat().st_mtime_ns) for p in lake.root.rglob("*"))
    city_env.set_faults("civil_affairs", error_burst=1000, error_status=503)
    with pytest.raises(SourceUnavailableError) as caught:
        extract_source(definition, lake, state_dir, "b2")
    message = str(caught.value)
    assert "`civil_affairs`" in message and "/api/v1/assistance" in message and "503" in message
    assert (state_dir / "civil_affairs.json").read_bytes() == state_before
    assert sorted((p.relative_to(lake.root), p.stat().st_mtime_ns) for p in lake.root.rglob("*")) == raw_before


def test_same_batch_id_rerun_lands_the_same_records_once(city_env, lake, state_dir):
    definition = source("health")
    first = extract_source(definition, lake, state_dir, "b1")
    again = extract_source(definition, lake, state_dir, "b1")
    for stream in ("patients", "certificates"):
        assert landed_ids(again, stream) == landed_ids(first, stream)
        assert len(list(lake.raw_stream("health", stream).iterdir())) == 1


def snapshot(city: Path) -> dict[tuple[str, str], dict[str, str]]:
    """Every record of the SQL and REST systems by primary key, as canonical JSON, to diff across an advance."""
    engine = sa.create_engine(f"sqlite:///{city / 'public_security.db'}")
    state: dict[tuple[str, str], dict[str, str]] = {}
    with engine.connect() as connection:
        for stream, table in SQL_TABLES.items():
            key = source("public_security").stream(stream).primary_key
            state[("public_security", stream)] = {str(r[key]): json.dumps(dict(r), sort_keys=True, default=str) for r in connection.execute(sa.text(f"SELECT * FROM {table}")).mappings()}
    engine.dispose()
    for (name, stream), (file, key) in JSONL_FILES.items():
        state[(name, stream)] = {str(r[key]): json.dumps(r, sort_keys=True) for r in read_records(city / file, key)}
    return state


def extract_around_an_advance(city: Path, lake, state_dir: Path, monkeypatch, **advance) -> tuple[dict, dict, int, list[str]]:
    """Extract every source, advance the city, extract again; check the second batch landed exactly what changed.

    Returns the advance's manifest, the second batch per source, the changed SQL and REST records and the new drop files.
    """
    names = ("public_security", "civil_affairs", "health", "housing")
    with CitySystems(city) as systems:
        for name, value in systems.env.items():
            monkeypatch.setenv(name, value)
        first = {name: extract_source(source(name), lake, state_dir, "day1") for name in names}
        before = snapshot(city)
        files_before = {p.name for p in (city / "housing_drop").iterdir()}
        manifest = advance_city(city, **advance)
        after = snapshot(city)
        second = {name: extract_source(source(name), lake, state_dir, "day2") for name in names}

    changed_somewhere = 0
    for (name, stream), records in after.items():
        bookmark = first[name].streams[stream].bookmark_after
        changed = {key for key, value in records.items() if before[(name, stream)].get(key) != value}
        landed = set(landed_ids(second[name], stream))
        assert landed == changed, f"{name}.{stream}: landed {sorted(landed - changed)} unchanged, missed {sorted(changed - landed)}"
        assert second[name].streams[stream].bookmark_before == bookmark
        changed_somewhere += len(changed)

    new_files = sorted({p.name for p in (city / "housing_drop").iterdir()} - files_before)
    assert sorted(second["housing"].streams["property"].files + second["housing"].streams["rental"].files) == new_files
    return manifest, second, changed_somewhere, new_files


def test_incremental_batches_after_the_city_advances(fresh_city, lake, state_dir, monkeypatch):
    _, second, changed_somewhere, _ = extract_around_an_advance(fresh_city, lake, state_dir, monkeypatch, days=1)
    assert changed_somewhere >= 5  # births, deaths, phone changes, enrolments
    assert second["housing"].total_rows >= 2  # today's property registration, a re-measured one, a rental filing


def test_incremental_batch_after_a_change_set_lands_exactly_the_changed_records(fresh_city, lake, state_dir, monkeypatch):
    manifest, second, _, new_files = extract_around_an_advance(fresh_city, lake, state_dir, monkeypatch, change_share=0.05)
    summary = manifest["last_advance"]
    assert new_files == ["property_20260701.csv", "rental_20260701.xlsx"]
    person_streams = [(name, stream) for name, result in second.items() for stream in result.streams
                      if stream not in ("hukou_events", "certificates")]
    landed = {f"{name}:{stream}:{key}" for name, stream in person_streams for key in landed_ids(second[name], stream)}
    assert len(landed) == summary["records_changed"]  # the change set, no more and no less, is the next batch
    assert len(landed_ids(second["public_security"], "hukou_events")) == summary["hukou_events"]
    assert len(landed_ids(second["health"], "certificates")) == summary["certificates"]
