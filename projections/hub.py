"""Process-wide resources of the API and the helpers every route shares."""
from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import threading
import time
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from connectors import kafka as kafka_edge
from connectors.intake import IntakeService, IntakeUnavailable
from connectors.privacy import Tokeniser
from schemas.codec import Codec

from .auth import Principal, authenticate
from .db import make_engine
from .schema import ensure_schema

log = logging.getLogger("zhongshu.api")

STAFF_ROLES = ("supervisor", "admin")


KEY_CACHE_MAX = 10_000  # API keys remembered (30 s each), known or not


class Hub:
    """Process-wide resources of the API."""

    def __init__(self, settings):
        self.settings = settings
        # no pre-ping: two transactions per intake request each paid a round trip for it; a
        # connection lost to a database restart answers 503 once (api.py) and the pool renews
        self.engine = make_engine(settings.db_url, pre_ping=False)
        ensure_schema(self.engine)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self.codec = Codec()
        self.tokenise = Tokeniser(settings.secret_bytes())
        self.producer = None
        self.positions = None
        self.intake = None
        self._keys: dict[str, tuple[float, Principal | None]] = {}
        self._keys_lock = threading.Lock()
        self.intake_limiter = RateLimiter(settings.intake_rate_per_second, settings.intake_burst)
        self._renew_lock = asyncio.Lock()
        self.producers_renewed = 0

    async def start(self):
        kw = self.settings.kafka_client_kwargs()
        self.producer = kafka_edge.producer(self.settings.bootstrap, kw)
        await self.producer.start()
        self.positions = kafka_edge.LogPositions(self.settings.bootstrap, kw)
        await self.positions.start()
        self.intake = IntakeService(self.Session, self.producer, self.codec,
                                    send_timeout=self.settings.intake_send_timeout,
                                    claim_lease=self.settings.intake_claim_lease,
                                    bootstrap=self.settings.bootstrap, client_kwargs=kw,
                                    renew_producer=self.renew_producer)

    async def renew_producer(self, broken) -> None:
        """Replace a producer whose idempotence state is broken (every later send would fail);
        once, however many requests saw it fail."""
        async with self._renew_lock:
            if self.producer is not broken:
                return
            fresh = kafka_edge.producer(self.settings.bootstrap, self.settings.kafka_client_kwargs())
            await asyncio.wait_for(fresh.start(), self.settings.intake_send_timeout)
            self.producer = self.intake.producer = fresh
            self.producers_renewed += 1
            log.warning("producer idempotence state broken; a new producer took over (#%d)", self.producers_renewed)

        async def retire():
            try:
                await asyncio.wait_for(broken.stop(), 30)
            except Exception:  # its batches fail; their claims are in doubt and checked on retry
                pass

        asyncio.ensure_future(retire())

    async def stop(self):
        if self.producer:
            await self.producer.stop()
        if self.positions:
            await self.positions.stop()
        self.engine.dispose()

    def cached_principal(self, key: str):
        """(True, principal or None) if the key was looked up within the last 30 s, else (False, None):
        answered on the event loop, without a thread or the database."""
        hit = self._keys.get(key)
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def principal(self, key: str) -> Principal | None:
        known, p = self.cached_principal(key)
        if known:
            return p
        with self.Session() as s:
            p = authenticate(s, key)
        now = time.monotonic()
        with self._keys_lock:  # lookups run in several threads at once
            if len(self._keys) >= KEY_CACHE_MAX:  # unknown keys are cached too: a flood of them must not grow it
                self._keys = {k: v for k, v in self._keys.items() if v[0] > now}
                if len(self._keys) >= KEY_CACHE_MAX:
                    self._keys = {}
            self._keys[key] = (now + 30, p)
        return p


class RateLimiter:
    """A token bucket per API key: `burst` requests at once, then `rate` per second. Intake is
    where source systems can flood the hub (and the broker behind it), so each key is held to
    its own budget and told when to come back (429 + Retry-After), never slowed silently."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = float(rate), max(1, int(burst))
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, at)

    def take(self, key_id: str, cost: float = 1.0) -> float:
        """0 if allowed (and the tokens taken), else the seconds until it would be."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        tokens, at = self._buckets.get(key_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        cost = min(cost, float(self.burst))
        if tokens >= cost:
            self._buckets[key_id] = (tokens - cost, now)
            return 0.0
        self._buckets[key_id] = (tokens, now)
        return (cost - tokens) / self.rate


def problem_response(status: int, title: str, problems: list | None = None, **extra) -> JSONResponse:
    body: dict[str, Any] = {"title": title}
    if problems is not None:
        body["problems"] = [{"field": p.field, "value": _echo(p.value), "expected": p.expected} for p in problems]
    body.update(extra)
    return JSONResponse(body, status_code=status)


ECHO_CHARS = 200  # a problem shows this much of the value it is about, never a megabyte of it


def _echo(value):
    """The value a problem is about, as the answer shows it: JSON as sent when short and JSON
    (no NaN), else a shortened text form."""
    if _jsonable(value) and len(json.dumps(value, ensure_ascii=False)) <= ECHO_CHARS + 2:
        return value
    from connectors.validation import shown

    return shown(value)


def _jsonable(v) -> bool:
    try:  # as the answer will be rendered: no NaN, and UTF-8 (a lone surrogate from JSON is not)
        json.dumps(v, allow_nan=False, ensure_ascii=False).encode("utf-8")
        return True
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
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
        key = auth[7:].strip()
        known, principal = hub.cached_principal(key)
        try:
            if not known:
                principal = await run_in_threadpool(hub.principal, key)
        except SQLAlchemyError as exc:  # keys live in the database: unavailable, not an error of the caller
            raise HTTPException(503, f"cannot check the key: database unavailable ({type(exc).__name__}); retry later",
                                headers={"Retry-After": "5"})
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
        value = json.loads(body, parse_constant=_not_json)
        if _SURROGATE.search(body):  # "\ud800" is JSON but not Unicode: nothing could store or echo it
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except RecursionError:
        raise HTTPException(422, "body is not accepted: JSON nested too deeply")
    except UnicodeEncodeError:
        raise HTTPException(422, "body is not accepted: a \\u escape names half a surrogate pair, not a character")
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity
        raise HTTPException(422, f"body is not valid JSON: {exc}")


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _not_json(name: str):
    # Python's json reads NaN and Infinity, which RFC 8259 JSON has not (and which no answer could echo)
    raise ValueError(f"{name} is not a JSON value (RFC 8259)")


def unavailable(exc: Exception) -> JSONResponse:
    title = "unavailable; nothing was acknowledged, retry later" if isinstance(exc, IntakeUnavailable) \
        else "broker unavailable; retry later"
    return JSONResponse({"title": title, "detail": str(exc)}, status_code=503,
                        headers={"Retry-After": str(getattr(exc, "retry_after", 5))})


def too_many(key_id: str, wait: float) -> JSONResponse:
    seconds = max(1, math.ceil(wait))
    return JSONResponse({"title": f"rate limit of this key exceeded; retry after {seconds} s", "key_id": key_id},
                        status_code=429, headers={"Retry-After": str(seconds)})


def iso(dt):
    return dt.isoformat() if dt else None
