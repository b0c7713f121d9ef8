"""The simulated HTTP systems over real HTTP: auth, paging, incremental filters, rate limits and every fault."""

from __future__ import annotations

import json
import time

import pytest
import requests

from simulators.readback import read_department_records
from simulators.runtime import CitySystems


@pytest.fixture(scope="module")
def systems(small_city):
    with CitySystems(small_city) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(systems):
    systems.reset_faults()
    yield
    systems.reset_faults()


@pytest.fixture(scope="module")
def civil(systems):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {systems.env['CITYHUB_CIVIL_AFFAIRS_TOKEN']}"
    return session


@pytest.fixture(scope="module")
def fhir(systems):
    session = requests.Session()
    session.headers["X-Api-Key"] = systems.env["CITYHUB_HEALTH_API_KEY"]
    return session


def all_pages(session, url, size, **params) -> list[dict]:
    items, page = [], 1
    while True:
        body = session.get(url, params={"page": page, "size": size, **params}, timeout=10).json()
        if not body["items"]:
            return items
        items += body["items"]
        page += 1


def follow_bundle(session, url, **params) -> tuple[list[dict], int]:
    resources, pages = [], 0
    response = session.get(url, params=params, timeout=10)
    while True:
        bundle = response.json()
        pages += 1
        resources += [entry["resource"] for entry in bundle["entry"]]
        next_links = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not next_links:
            return resources, pages
        response = session.get(next_links[0], timeout=10)


def test_env_names_every_system(systems, small_city):
    env = systems.env
    assert env["CITYHUB_PUBLIC_SECURITY_URL"] == f"sqlite:///{small_city.resolve() / 'public_security.db'}"
    assert env["CITYHUB_CIVIL_AFFAIRS_URL"] == systems.civil_affairs_url.rstrip("/")
    assert env["CITYHUB_HEALTH_URL"].startswith("http://127.0.0.1:")
    assert env["CITYHUB_HOUSING_DROP"].endswith("housing_drop")
    assert env["CITYHUB_CIVIL_AFFAIRS_TOKEN"] and env["CITYHUB_HEALTH_API_KEY"]


def test_civil_affairs_needs_the_bearer_token(systems):
    url = f"{systems.civil_affairs_url}/api/v1/assistance"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
    ok = requests.get(url, headers={"Authorization": f"Bearer {systems.env['CITYHUB_CIVIL_AFFAIRS_TOKEN']}"}, timeout=5)
    assert ok.status_code == 200 and set(ok.json()) == {"page", "size", "total", "items"}


@pytest.mark.parametrize("stream,key", [("assistance", "caseId"), ("marriages", "partyId"), ("cremations", "recordId")])
def test_civil_affairs_pages_cover_every_record_once_in_order(systems, civil, small_city, stream, key):
    expected = {r[key] for r in read_department_records(small_city)[("civil_affairs", stream)]}
    items = all_pages(civil, f"{systems.civil_affairs_url}/api/v1/{stream}", size=7)
    ids = [item[key] for item in items]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    order = [(item["updatedAt"], item[key]) for item in items]
    assert order == sorted(order)
    first = civil.get(f"{systems.civil_affairs_url}/api/v1/{stream}", params={"size": 7}).json()
    assert first["total"] == len(expected) and first["page"] == 1 and first["size"] == 7


def test_updated_since_is_inclusive(systems, civil):
    url = f"{systems.civil_affairs_url}/api/v1/marriages"
    everything = all_pages(civil, url, size=200)
    pivot = sorted(item["updatedAt"] for item in everything)[len(everything) // 2]
    since = all_pages(civil, url, size=200, updated_since=pivot)
    assert since and min(item["updatedAt"] for item in since) == pivot
    assert len(since) == sum(item["updatedAt"] >= pivot for item in everything)
    body = civil.get(url, params={"updated_since": pivot, "size": 1}).json()
    assert body["total"] == len(since)
    assert civil.get(url, params={"updated_since": "not a time"}).status_code == 400


def test_rate_limit_answers_429_with_retry_after(systems, civil):
    systems.set_faults("civil_affairs", rate_limit_per_second=3)
    url = f"{systems.civil_affairs_url}/api/v1/assistance"
    statuses = [civil.get(url, params={"size": 1}, timeout=5) for _ in range(8)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and statuses[0].status_code == 200
    assert limited[0].headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert civil.get(url, params={"size": 1}, timeout=5).status_code == 200


def test_rate_limit_from_construction(small_city):
    with CitySystems(small_city, rate_limit_per_second=2) as limited:
        headers = {"X-Api-Key": limited.env["CITYHUB_HEALTH_API_KEY"]}
        codes = [requests.get(f"{limited.health_url}/fhir/Patient", headers=headers, timeout=5).status_code for _ in range(5)]
        assert codes[:2] == [200, 200] and 429 in codes
        limited.reset_faults()  # a reset keeps the configured limit
        time.sleep(1.05)
        codes = [requests.get(f"{limited.health_url}/fhir/Patient", headers=headers, timeout=5).status_code for _ in range(5)]
        assert 429 in codes


def test_health_needs_the_api_key(systems):
    url = f"{systems.health_url}/fhir/Patient"
    response = requests.get(url, timeout=5)
    assert response.status_code == 401 and response.json()["resourceType"] == "OperationOutcome"
    assert requests.get(url, headers={"X-Api-Key": "nope"}, timeout=5).status_code == 401


@pytest.mark.parametrize("resource,stream", [("Patient", "patients"), ("Observation", "certificates")])
def test_health_next_links_cover_every_resource_once(systems, fhir, small_city, resource, stream):
    expected = {r["id"] for r in read_department_records(small_city)[("health", stream)]}
    resources, pages = follow_bundle(fhir, f"{systems.health_url}/fhir/{resource}", _count=9)
    ids = [r["id"] for r in resources]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert pages == -(-len(expected) // 9)
    order = [(r["meta"]["lastUpdated"], r["id"]) for r in resources]
    assert order == sorted(order)
    assert all(r["resourceType"] == resource for r in resources)


def test_health_bundle_shape_and_last_updated_filter(systems, fhir):
    url = f"{systems.health_url}/fhir/Patient"
    everything, _ = follow_bundle(fhir, url, _count=100)
    pivot = sorted(r["meta"]["lastUpdated"] for r in everything)[len(everything) // 3]
    bundle = fhir.get(url, params={"_count": 5, "_lastUpdated": f"ge{pivot}"}).json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    assert bundle["total"] == sum(r["meta"]["lastUpdated"] >= pivot for r in everything)
    assert bundle["link"][0]["relation"] == "self"
    newer, _ = follow_bundle(fhir, url, _count=5, _lastUpdated=f"ge{pivot}")
    assert len(newer) == bundle["total"] and min(r["meta"]["lastUpdated"] for r in newer) == pivot
    assert fhir.get(url, params={"_cursor": "garbage!"}).status_code == 400


def test_last_page_has_no_next_link(systems, fhir):
    bundle = fhir.get(f"{systems.health_url}/fhir/Observation", params={"_count": 1000}).json()
    assert [link["relation"] for link in bundle["link"]] == ["self"]


# -- faults ---------------------------------------------------------------------------------

def test_error_burst_then_recovery(systems, fhir):
    systems.set_faults("health", error_burst=2)
    url = f"{systems.health_url}/fhir/Patient"
    assert [fhir.get(url, timeout=5).status_code for _ in range(3)] == [503, 503, 200]
    systems.set_faults("health", error_burst=1, error_status=500)
    assert fhir.get(url, timeout=5).status_code == 500


def test_slow_responses(systems, civil):
    systems.set_faults("civil_affairs", slow_seconds=0.4, slow_requests=1)
    url = f"{systems.civil_affairs_url}/api/v1/cremations"
    started = time.monotonic()
    assert civil.get(url, timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.4
    systems.set_faults("civil_affairs", slow_seconds=2, slow_requests=1)
    with pytest.raises(requests.Timeout):
        civil.get(url, timeout=0.5)


def test_truncated_body_is_a_200_with_broken_json(systems, civil):
    systems.set_faults("civil_affairs", truncate_next=1)
    url = f"{systems.civil_affairs_url}/api/v1/assistance"
    response = civil.get(url, timeout=5)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert civil.get(url, timeout=5).json()["items"]


def test_dropped_connection_is_a_connection_error(systems, civil, fhir):
    systems.set_faults("civil_affairs", drop_next=1)
    url = f"{systems.civil_affairs_url}/api/v1/assistance"
    with pytest.raises(requests.ConnectionError):
        civil.get(url, timeout=5)
    assert civil.get(url, timeout=5).status_code == 200
    systems.set_faults("health", drop_next=1)
    with pytest.raises(requests.ConnectionError):
        fhir.get(f"{systems.health_url}/fhir/Patient", timeout=5)


def test_next_link_loop(systems, fhir):
    systems.set_faults("health", loop_next_link=1)
    url = f"{systems.health_url}/fhir/Patient"
    bundle = fhir.get(url, params={"_count": 3}).json()
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert links["next"] == links["self"]
    again = fhir.get(links["next"]).json()
    assert [e["resource"]["id"] for e in again["entry"]] == [e["resource"]["id"] for e in bundle["entry"]]
    assert {link["relation"]: link["url"] for link in again["link"]}["next"] != links["self"]


def test_fault_control_endpoints_over_http(systems, civil):
    control = f"{systems.civil_affairs_url}/_sim/faults"
    assert requests.post(control, json={"error_burst": 1, "error_status": 502}, timeout=5).json()["error_burst"] == 1
    assert civil.get(f"{systems.civil_affairs_url}/api/v1/assistance", timeout=5).status_code == 502
    requests.post(control, json={"error_burst": 5}, timeout=5)
    assert requests.delete(control, timeout=5).json()["error_burst"] == 0
    assert civil.get(f"{systems.civil_affairs_url}/api/v1/assistance", timeout=5).status_code == 200
    assert requests.post(control, json={"no_such_fault": 1}, timeout=5).status_code == 422
    with pytest.raises(ValueError):
        systems.set_faults("civil_affairs", no_such_fault=1)


def test_serve_system_standalone_process(small_city):
    import socket
    import subprocess
    import sys

    from simulators.runtime import wait_until_up

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = f"from simulators.runtime import serve_system; serve_system('health', {str(small_city)!r}, '127.0.0.1', {port})"
    env = {k: v for k, v in __import__("os").environ.items() if k != "CITYHUB_HEALTH_API_KEY"}
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, timeout=20)
        assert requests.get(f"{url}/fhir/Patient", timeout=5).status_code == 401
        bundle = requests.get(f"{url}/fhir/Patient", headers={"X-Api-Key": "health-demo-key"}, params={"_count": 2}, timeout=5).json()
        assert bundle["total"] > 0 and len(bundle["entry"]) == 2
    finally:
        process.terminate()
        process.wait(timeout=10)
