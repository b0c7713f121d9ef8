"""A small real HTTP JSON server for paginator and fault edge cases the department simulators don't cover.

It runs on a loopback port in a thread (stdlib `ThreadingHTTPServer`, so that it can do what a
framework won't: cut a body short behind a full Content-Length, or hang up without answering).

Endpoints, all over the same records (`{"id", "name", "updatedAt"}`):
  /items?page=&size=&updated_since=      {"items": [...], "total": n}
  /offset?offset=&limit=                 {"data": [...]}
  /bundle?_count=&cursor=                FHIR-like Bundle, `link[relation=next].url` (relative or absolute)
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Faults:
    """What the server does wrong next; counters count down as faults are served."""

    error_burst: int = 0
    error_status: int = 503
    retry_after: str | None = None
    truncate_next: int = 0  # full Content-Length announced, half the body sent, connection closed
    garble_next: int = 0  # a 200 whose (complete) body is not valid JSON
    drop_next: int = 0  # hang up without answering
    loop_next_link: bool = False  # the bundle's next link points back to the page being served
    ignore_paging: bool = False  # every page is the first page
    absolute_links: bool = False
    status: int | None = None  # answer every request with this status (e.g. 404, 401)


@dataclass
class LocalApi:
    """State of the local server: its records, its faults, and a log of the requests it saw."""

    records: list[dict[str, Any]]
    faults: Faults = field(default_factory=Faults)
    requests: list[str] = field(default_factory=list)
    token: str | None = None
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, name: str) -> bool:
        """Consume one unit of a counting fault, if any is left."""
        with self._lock:
            left = getattr(self.faults, name)
            if left > 0:
                setattr(self.faults, name, left - 1)
                return True
            return False


def make_records(count: int, start: int = 1, updated_at: str = "2024-01-01T00:00:00") -> list[dict[str, Any]]:
    """`count` records with ids from `start`, all updated at `updated_at` unless changed afterwards."""
    return [{"id": f"R{i:05d}", "name": f"居民{i}", "updatedAt": updated_at, "tags": ["a", i]} for i in range(start, start + count)]


def _page(api: LocalApi, query: dict[str, str]) -> list[dict[str, Any]]:
    since = query.get("updated_since")
    return [r for r in api.records if since is None or r["updatedAt"] >= since]


class _Handler(BaseHTTPRequestHandler):
    api: LocalApi

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        api = self.api
        api.requests.append(self.path)
        if api.take("drop_next"):
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if api.token is not None and self.headers.get("Authorization") != f"Bearer {api.token}":
            return self._send(401, {"error": "unauthorised"})
        if api.faults.status is not None:
            return self._send(api.faults.status, {"error": "forced"})
        if api.take("error_burst"):
            headers = {"Retry-After": api.faults.retry_after} if api.faults.retry_after else {}
            return self._send(api.faults.error_status, {"error": "burst"}, headers)
        parsed = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        route = {"/items": self._items, "/offset": self._offset, "/bundle": self._bundle}.get(parsed.path)
        if route is None:
            return self._send(404, {"error": "no such endpoint"})
        body = route(query)
        if api.take("truncate_next"):
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if api.take("garble_next"):
            return self._send_bytes(200, json.dumps(body, ensure_ascii=False).encode("utf-8")[:-7])
        self._send(200, body)

    def _items(self, query: dict[str, str]) -> dict[str, Any]:
        records = _page(self.api, query)
        size = int(query.get("size", 100))
        page = 1 if self.api.faults.ignore_paging else int(query.get("page", 1))
        return {"items": records[(page - 1) * size: page * size], "total": len(records), "page": page}

    def _offset(self, query: dict[str, str]) -> dict[str, Any]:
        records = _page(self.api, query)
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        return {"data": records[offset: offset + limit]}

    def _bundle(self, query: dict[str, str]) -> dict[str, Any]:
        records = _page(self.api, query)
        count, cursor = int(query.get("_count", 100)), int(query.get("cursor", 0))
        chunk = records[cursor: cursor + count]
        links = [{"relation": "self", "url": self.path}]
        following = cursor + count
        if following < len(records):
            # a looping server links back to the page it is serving
            path = self.path if self.api.faults.loop_next_link else f"/bundle?_count={count}&cursor={following}"
            links.append({"relation": "next", "url": f"{self.api.url}{path}" if self.api.faults.absolute_links else path})
        body: dict[str, Any] = {"resourceType": "Bundle", "total": len(records), "link": links}
        if chunk:
            body["entry"] = [{"resource": r} for r in chunk]
        return body

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), headers)

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class ServedApi:
    """Context manager running a LocalApi on a free loopback port."""

    def __init__(self, api: LocalApi) -> None:
        self.api = api
        handler = type("Handler", (_Handler,), {"api": api})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        api.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LocalApi:
        self.thread.start()
        return self.api

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
