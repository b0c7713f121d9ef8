"""REST/JSON sources: one requests Session per source, retries at two levels.

urllib3's `Retry` (mounted on the session's adapter) retries what it can see: refused or dropped
connections, read timeouts, and 429/5xx statuses, honouring `Retry-After`. It cannot see a body
that is cut short or is not valid JSON behind a 200, so each page fetch is also wrapped in a
bounded retry loop of our own with exponential backoff. When both give up the source is declared
unavailable with its name, the URL and the last error.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any, Iterator

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from connectors.base import Record, SourceClient, StreamRead, dotted_get, later_bookmark
from connectors.definition import RestConnection, SourceDefinition, Stream, resolve_env, secret_from_env
from connectors.errors import SourceResponseError, SourceUnavailableError
from connectors.landing import to_text
from connectors.paginators import make_paginator
from connectors.state import Bookmark

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_BACKOFF_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 300


def build_retry(retries: int, backoff_factor: float) -> Retry:
    """urllib3 Retry for GETs: connection errors, read errors and 429/5xx, honouring Retry-After."""
    options: dict[str, Any] = dict(
        total=retries, connect=retries, read=retries, status=retries, other=retries,
        backoff_factor=backoff_factor, backoff_max=MAX_BACKOFF_SECONDS,
        status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True, raise_on_status=True,
    )
    if "retry_after_max" in inspect.signature(Retry).parameters:  # urllib3 >= 2.5 caps Retry-After
        options["retry_after_max"] = MAX_RETRY_AFTER_SECONDS
    return Retry(**options)


def build_session(connection: RestConnection, where: str) -> requests.Session:
    """A Session with the retrying adapter mounted and the definition's authentication applied."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=build_retry(connection.retries, connection.backoff_factor))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["Accept"] = "application/json"
    auth = connection.auth
    if auth.type == "bearer":
        session.headers["Authorization"] = f"Bearer {secret_from_env(auth.token_env, f'{where}: connection.auth.token_env')}"
    elif auth.type == "header":
        session.headers[auth.header] = secret_from_env(auth.token_env, f"{where}: connection.auth.token_env")
    elif auth.type == "basic":
        session.auth = (
            secret_from_env(auth.username_env, f"{where}: connection.auth.username_env"),
            secret_from_env(auth.password_env, f"{where}: connection.auth.password_env"),
        )
    return session


class RestClient(SourceClient):
    """One session per source; streams are endpoints under `base_url`."""

    def __init__(self, definition: SourceDefinition) -> None:
        super().__init__(definition)
        self.connection: RestConnection = definition.connection  # type: ignore[assignment]
        self.base_url = resolve_env(self.connection.base_url, where=f"{self.where}: connection.base_url").rstrip("/")
        self.session = build_session(self.connection, self.where)

    def url_for(self, stream: Stream) -> str:
        """The stream's endpoint URL (its `path` appended to `base_url`, which may have a path of its own)."""
        return f"{self.base_url}/{(stream.path or '').lstrip('/')}"

    def get_json(self, url: str, params: dict[str, str]) -> tuple[Any, str]:
        """GET a page and parse it, retrying body failures; returns the JSON and the final URL."""
        attempts = self.connection.retries + 1
        last_error = ""
        for attempt in range(attempts):
            try:
                response = self.session.get(url, params=params, timeout=self.connection.timeout_seconds)
            except requests.exceptions.RetryError as exc:  # urllib3 already retried the status to exhaustion
                raise SourceUnavailableError(self.definition.name, url, f"still failing after {self.connection.retries} retries: {_reason(exc)}") from None
            except requests.exceptions.ConnectionError as exc:
                if _retries_exhausted(exc):
                    raise SourceUnavailableError(self.definition.name, url, f"still failing after {self.connection.retries} retries: {_reason(exc)}") from None
                last_error = f"connection broke while reading the response: {_reason(exc)}"
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
                last_error = f"response body cut short: {_reason(exc)}"
            except requests.exceptions.Timeout as exc:
                last_error = f"timed out: {exc}"
            else:
                self._raise_for_status(response, url)
                try:
                    return response.json(), response.url
                except ValueError as exc:  # a 200 whose body was truncated or is not JSON
                    last_error = f"invalid JSON body ({len(response.content)} bytes): {exc}"
            log.warning("%s: %s (attempt %d of %d)", self.definition.name, last_error, attempt + 1, attempts)
            if attempt + 1 < attempts:
                time.sleep(min(MAX_BACKOFF_SECONDS, self.connection.backoff_factor * 2**attempt))
        raise SourceUnavailableError(self.definition.name, url, last_error, attempts)

    def _raise_for_status(self, response: requests.Response, url: str) -> None:
        if response.status_code < 400:
            return
        detail = f"HTTP {response.status_code}: {response.text[:200]}"
        if response.status_code in (401, 403):
            raise SourceResponseError(self.definition.name, url, f"{detail}; check the credentials in the environment variables named under connection.auth in {self.where}")
        if response.status_code < 500:
            raise SourceResponseError(self.definition.name, url, f"{detail}; check the stream's `path` and `params` in {self.where}")
        raise SourceUnavailableError(self.definition.name, url, detail)

    def read(self, stream: Stream, bookmark: Bookmark) -> StreamRead:
        return RestStreamRead(self, stream, bookmark)

    def check(self) -> str:
        stream = self.definition.streams[0]
        config = self.connection.paginator.model_copy(update={"page_size": 1})
        url, params = make_paginator(config, source=self.definition.name).first_request(self.url_for(stream), stream_params(stream, None))
        body, _ = self.get_json(url, params)
        records = extract_records(body, stream.records_path, self.definition.name, url)
        return f"{url}: answered with {len(records)} record(s) on a one-record page"

    def close(self) -> None:
        self.session.close()


class RestStreamRead(StreamRead):
    """One endpoint read page by page through the definition's paginator."""

    def __init__(self, client: RestClient, stream: Stream, bookmark: Bookmark) -> None:
        super().__init__(stream, bookmark)
        self.client = client

    def chunks(self) -> Iterator[list[Record]]:
        client, stream = self.client, self.stream
        paginator = make_paginator(client.connection.paginator, source=client.definition.name, max_pages=client.connection.max_pages)
        request = paginator.start(client.url_for(stream), stream_params(stream, self.bookmark_before))
        while request is not None:
            body, response_url = client.get_json(*request)
            records = extract_records(body, stream.records_path, client.definition.name, response_url)
            following = paginator.advance(request, body, records, response_url)
            yield [self._record(record) for record in records]
            request = following

    def _record(self, record: dict[str, Any]) -> Record:
        if self.stream.replication_key:
            self.bookmark = later_bookmark(self.bookmark, to_text(dotted_get(record, self.stream.replication_key)))
        return record, dotted_get(record, self.stream.primary_key), None


def stream_params(stream: Stream, bookmark: Bookmark) -> dict[str, str]:
    """The stream's query parameters: `{bookmark}` filled in, or the parameter left out before the first batch."""
    params = {}
    for name, value in stream.params.items():
        if "{bookmark}" in value:
            if bookmark is None:
                continue
            value = value.replace("{bookmark}", str(bookmark))
        params[name] = resolve_env(value, where=f"stream {stream.name}: params.{name}")
    return params


def extract_records(body: Any, path: str | None, source: str, url: str) -> list[dict[str, Any]]:
    """The records at `records_path` (`items`, `entry[].resource`); the body itself when no path."""
    values = [body]
    for part in (path.split(".") if path else []):
        name, many = part.removesuffix("[]"), part.endswith("[]")
        found: list[Any] = []
        for value in values:
            if not isinstance(value, dict):
                raise SourceResponseError(source, url, f"records_path `{path}`: expected an object at `{name}`, got {type(value).__name__}")
            child = value.get(name)
            if child is None:
                continue  # e.g. a FHIR Bundle with no matches has no `entry`
            found.extend(child if many and isinstance(child, list) else [child])
        values = found
    if len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    elif not values and _announces_records(body):
        raise SourceResponseError(source, url, f"records_path `{path}` matches nothing although the response says total={body['total']}; response keys: {sorted(body)}; fix `records_path`")
    bad = next((v for v in values if not isinstance(v, dict)), None)
    if bad is not None:
        raise SourceResponseError(source, url, f"records at `{path or '(the body)'}` must be JSON objects, found {type(bad).__name__}; fix `records_path`")
    return values


def _announces_records(body: Any) -> bool:
    total = body.get("total") if isinstance(body, dict) else None
    return isinstance(total, int) and total > 0


def _retries_exhausted(exc: requests.exceptions.ConnectionError) -> bool:
    return bool(exc.args) and isinstance(exc.args[0], MaxRetryError)


def _reason(exc: BaseException) -> str:
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    return str(reason or inner)
