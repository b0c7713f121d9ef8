"""The health commission's FHIR-like API: Patient and Observation searchsets paged by opaque cursors."""

from __future__ import annotations

import base64
import bisect
import json
import secrets
from pathlib import Path

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from simulators.servers.faults import SimulatedSystem, install_faults
from simulators.servers.store import JsonlStore, parse_instant

RESOURCES = {"Patient": "patients.jsonl", "Observation": "observations.jsonl"}
MAX_COUNT = 1000


def encode_cursor(key: tuple) -> str:
    """An opaque cursor for the position after the record with sort key `key`."""
    raw = json.dumps([key[0].isoformat(), key[1]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple:
    """The sort key a cursor stands for; 400 if it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, record_id = json.loads(base64.urlsafe_b64decode(padded))
        return parse_instant(moment), str(record_id)
    except Exception:  # noqa: BLE001 - any malformed cursor is the client's error
        raise HTTPException(status_code=400, detail="invalid _cursor") from None


def outcome(status: int, text: str) -> JSONResponse:
    """A FHIR OperationOutcome error."""
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing", "diagnostics": text}]}
    return JSONResponse(body, status_code=status)


def create_app(city_dir: Path, api_key: str, rate_limit_per_second: float | None = None) -> SimulatedSystem:
    """The FHIR-like API over `city_dir/health/*.jsonl`, guarded by the X-Api-Key header."""
    app = SimulatedSystem(title="卫健委 FHIR 接口 (simulated)", version="1.0")
    plan = install_faults(app, rate_limit_per_second)
    folder = Path(city_dir) / "health"
    stores = {name: JsonlStore(folder / file, "id", lambda r: (parse_instant(r["meta"]["lastUpdated"]), str(r["id"])))
              for name, file in RESOURCES.items()}
    app.state.stores = stores

    @app.exception_handler(HTTPException)
    async def fhir_errors(request: Request, exc: HTTPException) -> JSONResponse:
        response = outcome(exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    def require_key(request: Request) -> None:
        if not secrets.compare_digest(request.headers.get("x-api-key", ""), api_key):
            raise HTTPException(status_code=401, detail="missing or invalid X-Api-Key")

    @app.get("/fhir/{resource}", dependencies=[Depends(require_key)])
    def search(resource: str, request: Request, count: int = Query(50, alias="_count", ge=1, le=MAX_COUNT),
               last_updated: str | None = Query(None, alias="_lastUpdated"), cursor: str | None = Query(None, alias="_cursor")) -> JSONResponse:
        if resource not in stores:
            raise HTTPException(status_code=404, detail=f"unknown resource type {resource}")
        records, keys = stores[resource].records()
        start = 0
        if last_updated:
            start = filter_start(keys, last_updated)
        position = start if cursor is None else max(start, bisect.bisect_right(keys, decode_cursor(cursor)))
        page = records[position: position + count]
        links = [{"relation": "self", "url": str(request.url)}]
        with app.state.faults_lock:
            loop = plan.take("loop_next_link") if page else False
        if loop:
            links.append({"relation": "next", "url": str(request.url)})
        elif position + count < len(records):
            links.append({"relation": "next", "url": str(request.url.include_query_params(_cursor=encode_cursor(keys[position + count - 1])))})
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(records) - start, "link": links,
                  "entry": [{"fullUrl": f"{resource}/{r['id']}", "resource": r} for r in page]}
        return JSONResponse(bundle, media_type="application/fhir+json")

    @app.get("/health")
    def health_check() -> dict:
        return {"status": "ok"}

    return app


def filter_start(keys: list[tuple], last_updated: str) -> int:
    """The first position matching `_lastUpdated=ge<instant>` (or `gt`)."""
    prefix, value = last_updated[:2], last_updated[2:]
    if prefix not in ("ge", "gt"):
        prefix, value = "ge", last_updated
    try:
        moment = parse_instant(value)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"_lastUpdated must be ge<instant> or gt<instant>, got {last_updated!r}") from None
    if prefix == "ge":
        return bisect.bisect_left(keys, (moment,))
    return bisect.bisect_left(keys, (moment, "\U0010ffff"))
