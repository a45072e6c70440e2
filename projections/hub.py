"""Process-wide resources of the API and the helpers every route shares."""
from __future__ import annotations

import json
import time
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from connectors import kafka as kafka_edge
from connectors.intake import IntakeService
from connectors.privacy import Tokeniser
from schemas.codec import Codec

from .auth import Principal, authenticate
from .db import make_engine
from .schema import ensure_schema

STAFF_ROLES = ("supervisor", "admin")


class Hub:
    """Process-wide resources of the API."""

    def __init__(self, settings):
        self.settings = settings
        self.engine = make_engine(settings.db_url)
        ensure_schema(self.engine)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self.codec = Codec()
        self.tokenise = Tokeniser(settings.secret_bytes())
        self.producer = None
        self.positions = None
        self.intake = None
        self._keys: dict[str, tuple[float, Principal | None]] = {}

    async def start(self):
        kw = self.settings.kafka_client_kwargs()
        self.producer = kafka_edge.producer(self.settings.bootstrap, kw)
        await self.producer.start()
        self.positions = kafka_edge.LogPositions(self.settings.bootstrap, kw)
        await self.positions.start()
        self.intake = IntakeService(self.Session, self.producer, self.codec)

    async def stop(self):
        if self.producer:
            await self.producer.stop()
        if self.positions:
            await self.positions.stop()
        self.engine.dispose()

    def principal(self, key: str) -> Principal | None:
        hit = self._keys.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        with self.Session() as s:
            p = authenticate(s, key)
        self._keys[key] = (time.monotonic() + 30, p)
        return p


def problem_response(status: int, title: str, problems: list | None = None, **extra) -> JSONResponse:
    body: dict[str, Any] = {"title": title}
    if problems is not None:
        body["problems"] = [
            {"field": p.field, "value": p.value if _jsonable(p.value) else repr(p.value), "expected": p.expected}
            for p in problems
        ]
    body.update(extra)
    return JSONResponse(body, status_code=status)


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


def get_hub(request: Request) -> Hub:
    return request.app.state.hub


def require(*roles: str):
    """Dependency: a valid key whose role is one of `roles` (admin may do everything)."""
    async def dep(request: Request) -> Principal:
        hub = get_hub(request)
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise HTTPException(401, "missing Authorization: Bearer <key>", headers={"WWW-Authenticate": "Bearer"})
        principal = await run_in_threadpool(hub.principal, auth[7:].strip())
        if principal is None:
            raise HTTPException(401, "unknown or revoked key", headers={"WWW-Authenticate": "Bearer"})
        if roles and principal.role not in roles and principal.role != "admin":
            raise HTTPException(403, f"role {principal.role} may not call this; needs {' or '.join(roles)}")
        return principal
    return dep


async def read_json(request: Request):
    """The body as JSON, refusing more than max_body_bytes with 413 before reading it all."""
    limit = get_hub(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"request body exceeds the limit of {limit} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(422, f"body is not valid JSON: {exc}")


def unavailable(exc: Exception) -> JSONResponse:
    return JSONResponse({"title": "broker unavailable; retry later", "detail": str(exc)},
                        status_code=503, headers={"Retry-After": "5"})


def iso(dt):
    return dt.isoformat() if dt else None
