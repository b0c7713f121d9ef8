"""REST client and paginators against a small local HTTP server: paging, loops, body faults, auth."""

from __future__ import annotations

import json
import time

import pytest
from connector_test_helpers import definition_from, read_batch
from local_json_api import LocalApi, make_records

from connectors.errors import PaginationLoopError, SourceDefinitionError, SourceResponseError, SourceUnavailableError
from connectors.extract import check_source, extract_source
from connectors.state import SourceState


def rest_definition(api: LocalApi, paginator: dict, path: str = "/items", records_path: str | None = "items", **connection) -> dict:
    stream = {"name": "records", "path": path, "primary_key": "id", "replication_key": "updatedAt", "person": {"name": "name"}}
    if records_path:
        stream["records_path"] = records_path
    if path == "/items":
        stream["params"] = {"updated_since": "{bookmark}"}
    return {
        "name": "local", "title": "local api", "provider_code": "LA", "kind": "rest",
        "connection": {"base_url": api.url, "paginator": paginator, "retries": 2, "backoff_factor": 0.01, "timeout_seconds": 5, **connection},
        "streams": [stream],
    }


PAGINATORS = [
    pytest.param({"type": "page", "page_size": 10}, "/items", "items", id="page"),
    pytest.param({"type": "page", "page_size": 5}, "/items", "items", id="page-exact-multiple"),
    pytest.param({"type": "offset", "page_size": 7, "offset_param": "offset", "size_param": "limit"}, "/offset", "data", id="offset"),
    pytest.param({"type": "next_link", "page_size": 10, "size_param": "_count", "next_link_path": "link[relation=next].url"}, "/bundle", "entry[].resource", id="next-link"),
]


@pytest.mark.parametrize(("paginator", "path", "records_path"), PAGINATORS)
def test_every_paginator_lands_every_record_once(local_api, lake, state_dir, paginator, path, records_path):
    definition = definition_from(rest_definition(local_api, paginator, path, records_path))
    result = extract_source(definition, lake, state_dir, "b1")
    rows = read_batch(result.streams["records"].path)
    assert sorted(r["_source_record_id"] for r in rows) == [r["id"] for r in local_api.records]
    assert result.total_rows == 25


def test_page_paginator_stops_on_total_without_fetching_an_empty_page(local_api, lake, state_dir):
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 5}))
    extract_source(definition, lake, state_dir, "b1")
    assert len(local_api.requests) == 5  # 25 records / 5 per page, `total` says when to stop


def test_absolute_next_links_are_followed(local_api, lake, state_dir):
    local_api.faults.absolute_links = True
    definition = definition_from(rest_definition(local_api, {"type": "next_link", "page_size": 10, "size_param": "_count", "next_link_path": "link[relation=next].url"}, "/bundle", "entry[].resource"))
    assert extract_source(definition, lake, state_dir, "b1").total_rows == 25


def test_no_paginator_makes_one_request(local_api, lake, state_dir):
    definition = definition_from(rest_definition(local_api, {"type": "none"}, "/offset", "data"))
    result = extract_source(definition, lake, state_dir, "b1")
    assert (result.total_rows, len(local_api.requests)) == (25, 1)  # the server's default limit is 100


def test_next_link_loop_is_detected_and_nothing_is_committed(local_api, lake, state_dir):
    local_api.faults.loop_next_link = True
    definition = definition_from(rest_definition(local_api, {"type": "next_link", "page_size": 10, "size_param": "_count", "next_link_path": "link[relation=next].url"}, "/bundle", "entry[].resource"))
    with pytest.raises(PaginationLoopError, match="page already fetched") as caught:
        extract_source(definition, lake, state_dir, "b1")
    assert "local" in str(caught.value) and "/bundle" in str(caught.value)
    assert len(local_api.requests) == 1  # the repeated URL is refused before it is fetched again
    assert not (state_dir / "local.json").exists()
    assert not lake.raw_stream("local", "records").exists() or not any(lake.raw_stream("local", "records").iterdir())


def test_server_ignoring_the_page_parameter_is_detected_by_page_hash(local_api, lake, state_dir):
    local_api.faults.ignore_paging = True
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 10}))
    with pytest.raises(PaginationLoopError, match="exactly the records of page 1"):
        extract_source(definition, lake, state_dir, "b1")


def test_max_pages_guard(local_api, lake, state_dir):
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 2}, max_pages=3))
    with pytest.raises(PaginationLoopError, match="max_pages=3"):
        extract_source(definition, lake, state_dir, "b1")
    assert len(local_api.requests) == 3


@pytest.mark.parametrize("fault", ["truncate_next", "garble_next", "drop_next"])
def test_body_faults_are_retried(local_api, lake, state_dir, fault):
    setattr(local_api.faults, fault, 2)
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 10}))
    assert extract_source(definition, lake, state_dir, "b1").total_rows == 25
    assert len(local_api.requests) == 3 + 2


def test_error_burst_is_retried_by_urllib3(local_api, lake, state_dir):
    local_api.faults.error_burst, local_api.faults.error_status = 2, 502
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 10}))
    assert extract_source(definition, lake, state_dir, "b1").total_rows == 25


def test_retry_after_is_honoured(local_api, lake, state_dir):
    local_api.faults.error_burst, local_api.faults.error_status, local_api.faults.retry_after = 1, 429, "1"
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 10}))
    started = time.monotonic()
    assert extract_source(definition, lake, state_dir, "b1").total_rows == 25
    assert time.monotonic() - started >= 0.9  # backoff_factor is 0.01: only Retry-After explains the wait


def test_persistent_errors_raise_source_unavailable_naming_source_and_url(local_api, lake, state_dir):
    local_api.faults.error_burst = 100
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 10}))
    with pytest.raises(SourceUnavailableError) as caught:
        extract_source(definition, lake, state_dir, "b1")
    message = str(caught.value)
    assert "`local`" in message and f"{local_api.url}/items" in message and "503" in message
    assert len(local_api.requests) == 3  # the first try and retries=2, not retries squared


def test_persistent_truncation_gives_up_with_the_last_error(local_api, lake, state_dir):
    local_api.faults.truncate_next = 100
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 10}))
    with pytest.raises(SourceUnavailableError, match="after 3 attempts.*cut short|after 3 attempts.*broke"):
        extract_source(definition, lake, state_dir, "b1")


def test_unreachable_host_is_unavailable(lake, state_dir):
    data = rest_definition(LocalApi([], url="http://127.0.0.1:9"), {"type": "page"})
    with pytest.raises(SourceUnavailableError, match="127.0.0.1:9"):
        extract_source(definition_from(data), lake, state_dir, "b1")


def test_404_is_a_response_error_pointing_at_the_path(local_api, lake, state_dir):
    definition = definition_from(rest_definition(local_api, {"type": "page"}, path="/nowhere", records_path="items"))
    with pytest.raises(SourceResponseError, match="HTTP 404.*`path`"):
        extract_source(definition, lake, state_dir, "b1")


def test_bearer_token_comes_from_the_environment(local_api, lake, state_dir, monkeypatch):
    local_api.token = "s3cret"
    data = rest_definition(local_api, {"type": "page", "page_size": 10}, auth={"type": "bearer", "token_env": "LOCAL_API_TOKEN"})
    monkeypatch.delenv("LOCAL_API_TOKEN", raising=False)
    with pytest.raises(SourceDefinitionError, match="test_source.yaml: connection.auth.token_env.*LOCAL_API_TOKEN"):
        extract_source(definition_from(data), lake, state_dir, "b1")
    monkeypatch.setenv("LOCAL_API_TOKEN", "wrong")
    with pytest.raises(SourceResponseError, match="HTTP 401.*credentials"):
        extract_source(definition_from(data), lake, state_dir, "b1")
    monkeypatch.setenv("LOCAL_API_TOKEN", "s3cret")
    assert extract_source(definition_from(data), lake, state_dir, "b1").total_rows == 25


def test_incremental_params_and_boundary(local_api, lake, state_dir):
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 10}))
    first = extract_source(definition, lake, state_dir, "b1")
    assert first.streams["records"].bookmark_after == "2024-01-01T00:00:00"
    assert "updated_since" not in local_api.requests[0]  # no bookmark yet: the parameter is left out

    local_api.records[3]["updatedAt"] = "2024-01-02T00:00:00"
    local_api.records.extend(make_records(2, start=26, updated_at="2024-01-02T00:00:00"))
    local_api.requests.clear()
    second = extract_source(definition, lake, state_dir, "b2")
    assert "updated_since=2024-01-01T00%3A00%3A00" in local_api.requests[0]
    # `>=` re-reads the 24 records still at the old bookmark, but they were landed by b1 unchanged
    assert sorted(r["_source_record_id"] for r in read_batch(second.streams["records"].path)) == ["R00004", "R00026", "R00027"]
    assert (second.streams["records"].skipped, second.streams["records"].bookmark_after) == (24, "2024-01-02T00:00:00")

    # a record committed late with the bookmark's own timestamp, and one changed without a new timestamp
    local_api.records.extend(make_records(1, start=28, updated_at="2024-01-02T00:00:00"))
    local_api.records[25]["name"] = "改名"
    third = extract_source(definition, lake, state_dir, "b3")
    assert sorted(r["_source_record_id"] for r in read_batch(third.streams["records"].path)) == ["R00026", "R00028"]
    assert extract_source(definition, lake, state_dir, "b4").total_rows == 0  # nothing changed: nothing lands


def test_nested_values_land_as_json_text(local_api, lake, state_dir):
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 50}))
    rows = read_batch(extract_source(definition, lake, state_dir, "b1").streams["records"].path)
    assert json.loads(rows[0]["tags"]) == ["a", 1]
    assert rows[0]["name"] == "居民1"


def test_check_source_reaches_the_first_stream(local_api):
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 10}))
    assert "1 record(s)" in check_source(definition)
    assert "size=1" in local_api.requests[-1]


def test_state_is_untouched_when_the_source_goes_down(local_api, lake, state_dir):
    definition = definition_from(rest_definition(local_api, {"type": "page", "page_size": 10}))
    extract_source(definition, lake, state_dir, "b1")
    before = (state_dir / "local.json").read_bytes()
    local_api.faults.status = 503
    with pytest.raises(SourceUnavailableError):
        extract_source(definition, lake, state_dir, "b2")
    assert (state_dir / "local.json").read_bytes() == before
    assert SourceState(state_dir, "local").batch("records", "b2") is None
    assert [p.name for p in lake.raw_stream("local", "records").iterdir()] == ["batch_id=b1"]
