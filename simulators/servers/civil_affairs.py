"""The civil affairs bureau's HTTP JSON API: paged assistance, marriage and cremation records."""

from __future__ import annotations

import bisect
import secrets
from pathlib import Path

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from simulators.servers.faults import SimulatedSystem, install_faults
from simulators.servers.store import JsonlStore, parse_instant

STREAMS = {"assistance": "caseId", "marriages": "partyId", "cremations": "recordId"}
MAX_PAGE_SIZE = 1000


def create_app(city_dir: Path, token: str, rate_limit_per_second: float | None = None) -> SimulatedSystem:
    """The civil affairs API over `city_dir/civil_affairs/*.jsonl`, guarded by a bearer token."""
    app = SimulatedSystem(title="民政局数据接口 (simulated)", version="1.0")
    install_faults(app, rate_limit_per_second)
    folder = Path(city_dir) / "civil_affairs"
    stores = {
        stream: JsonlStore(folder / f"{stream}.jsonl", id_field,
                           lambda r, id_field=id_field: (parse_instant(r["updatedAt"]), str(r[id_field])))
        for stream, id_field in STREAMS.items()
    }
    app.state.stores = stores

    def require_token(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(value.strip(), token):
            raise HTTPException(status_code=401, detail="missing or invalid bearer token",
                                headers={"WWW-Authenticate": 'Bearer realm="civil-affairs"'})

    @app.get("/api/v1/{stream}", dependencies=[Depends(require_token)])
    def list_records(stream: str, page: int = Query(1, ge=1), size: int = Query(100, ge=1, le=MAX_PAGE_SIZE),
                     updated_since: str | None = None) -> JSONResponse:
        if stream not in stores:
            raise HTTPException(status_code=404, detail=f"no such resource {stream!r}; try {sorted(stores)}")
        records, keys = stores[stream].records()
        start = 0
        if updated_since:
            try:
                since = parse_instant(updated_since)
            except ValueError:
                raise HTTPException(status_code=400, detail=f"updated_since must be an ISO timestamp, got {updated_since!r}") from None
            start = bisect.bisect_left(keys, (since,))
        selected = records[start:]
        items = selected[(page - 1) * size: page * size]
        return JSONResponse({"page": page, "size": size, "total": len(selected), "items": items})

    @app.get("/health")
    def health_check() -> dict:
        return {"status": "ok"}

    return app
