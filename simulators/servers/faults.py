"""Fault injection shared by the simulated HTTP systems: outages, slowness, truncation, drops, rate limits.

A `FaultPlan` lives on `app.state.faults`; `POST /_sim/faults` sets its fields (counters count down per
request), `DELETE /_sim/faults` resets it. The middleware works at the ASGI level so it can cut a body
mid-JSON or close the connection without any response, as real proxies and overloaded servers do.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, fields

from fastapi import APIRouter, FastAPI, Request

CONTROL_PREFIX = "/_sim"
_RAW_SEND = "cityhub.simulator.raw_send"


class SimulatedSystem(FastAPI):
    """A FastAPI app that keeps the server's own `send` in the scope, so a fault can drop the connection."""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope[_RAW_SEND] = send
        await super().__call__(scope, receive, send)


@dataclass
class FaultPlan:
    """What goes wrong with the next requests (counters are decremented as requests arrive)."""

    error_burst: int = 0  # next N requests answer `error_status`
    error_status: int = 503
    slow_seconds: float = 0.0  # delay of each of the next `slow_requests` requests
    slow_requests: int = 0
    truncate_next: int = 0  # next N responses are cut mid-body, still with status 200
    drop_next: int = 0  # next N requests: the connection is closed without a response
    loop_next_link: int = 0  # health: next N pages link back to themselves
    rate_limit_per_second: float | None = None  # more requests than this in one second get 429

    def update(self, values: dict) -> None:
        """Set the named fields, rejecting unknown names."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown fault fields {unknown}; known: {sorted(names)}")
        for name, value in values.items():
            setattr(self, name, value)

    def reset(self, keep_rate_limit: float | None = None) -> None:
        """Back to no faults (keeping the server's configured rate limit)."""
        for f in fields(self):
            setattr(self, f.name, f.default)
        self.rate_limit_per_second = keep_rate_limit

    def take(self, name: str) -> bool:
        """Use one unit of the counter `name` if any is left."""
        count = getattr(self, name)
        if count > 0:
            setattr(self, name, count - 1)
            return True
        return False


class RateLimiter:
    """A sliding one-second window of request times."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self, per_second: float | None) -> bool:
        if not per_second:
            return True
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= 1.0:
                self._times.popleft()
            if len(self._times) >= per_second:
                return False
            self._times.append(now)
            return True


class FaultMiddleware:
    """ASGI middleware applying the app's FaultPlan to every request outside /_sim."""

    def __init__(self, app, plan: FaultPlan, lock: threading.Lock):
        self.app = app
        self.plan = plan
        self.lock = lock
        self.limiter = RateLimiter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        with self.lock:
            drop = self.plan.take("drop_next")
            error = self.plan.take("error_burst")
            slow = self.plan.slow_seconds if self.plan.take("slow_requests") else 0.0
            truncate = self.plan.take("truncate_next")
            limit = self.plan.rate_limit_per_second
            status = self.plan.error_status
        if drop:
            await drop_connection(scope.get(_RAW_SEND, send))
            return
        if not self.limiter.allow(limit):
            await send_json(send, 429, {"error": "rate limit exceeded", "limit_per_second": limit}, [(b"retry-after", b"1")])
            return
        if slow:
            await asyncio.sleep(slow)
        if error:
            await send_json(send, status, {"error": "simulated outage", "status": status}, [(b"retry-after", b"0")] if status in (429, 503) else [])
            return
        if truncate:
            await self.app(scope, receive, truncating_send(send))
            return
        await self.app(scope, receive, send)


async def send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]]) -> None:
    """A complete JSON response."""
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})


async def drop_connection(send) -> None:
    """Close the client's connection before any byte of a response is written.

    uvicorn's `send` is a bound method of the request cycle that owns the transport; closing that
    transport and marking the cycle disconnected makes uvicorn skip its fallback 500 response.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("drop_next needs uvicorn's HTTP protocol (no transport reachable from send)")
    transport.close()
    cycle.disconnected = True


def truncating_send(send):
    """A `send` that buffers the body and sends only its first half, with a matching Content-Length."""
    state: dict = {"start": None, "body": bytearray()}

    async def wrapped(message):
        if message["type"] == "http.response.start":
            state["start"] = message
            return
        if message["type"] == "http.response.body":
            state["body"].extend(message.get("body", b""))
            if message.get("more_body"):
                return
            body = bytes(state["body"][: max(1, len(state["body"]) // 2)])
            start = state["start"]
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return wrapped


def install_faults(app: FastAPI, rate_limit_per_second: float | None = None) -> FaultPlan:
    """Attach a FaultPlan, its middleware and the /_sim/faults control endpoints to `app`."""
    plan = FaultPlan(rate_limit_per_second=rate_limit_per_second)
    lock = threading.Lock()
    app.state.faults = plan
    app.state.faults_lock = lock
    app.add_middleware(FaultMiddleware, plan=plan, lock=lock)
    router = APIRouter(prefix=CONTROL_PREFIX, include_in_schema=False)

    @router.get("/faults")
    def show_faults() -> dict:
        return asdict(plan)

    @router.post("/faults")
    async def set_faults(request: Request) -> dict:
        values = await request.json()
        with lock:
            try:
                plan.update(values)
            except ValueError as exc:
                from fastapi import HTTPException

                raise HTTPException(status_code=422, detail=str(exc)) from None
        return asdict(plan)

    @router.delete("/faults")
    def reset_faults() -> dict:
        with lock:
            plan.reset(keep_rate_limit=rate_limit_per_second)
        return asdict(plan)

    app.include_router(router)
    return plan
