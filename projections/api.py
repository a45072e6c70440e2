"""HTTP API (DESIGN.md §9): intake, reference data, clock, sync, leads, schemas, health.

FastAPI on uvicorn; OpenAPI at /openapi.json is generated from these routes.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from connectors import kafka as kafka_edge
from connectors.intake import SOURCES, IntakeService, IntakeUnavailable, validate_batch
from connectors.privacy import Tokeniser
from connectors.validation import ValidationFailed, validate_reference
from schemas.codec import CE_TYPES, Codec, cloudevent_headers
from streams.clock import tick_records, validate_tick_time
from streams.topics import DERIVED_TOPICS, INGRESS_TOPICS, INTERNAL_TOPICS, REFERENCE_KINDS

from .auth import Principal, authenticate
from .db import make_engine
from .models import ClockState, Lead, LeadHistory, ProjectorOffset, WorkOrder
from .projector import PROJECTED_TOPICS, load_offsets
from .schema import ensure_schema

log = logging.getLogger("zhongshu.api")

INTAKE_ROLES = {"hotline/workorders": "hotline", "enforcement/inspections": "enforcement",
                "enforcement/cases": "enforcement", "credit/events": "credit", "justice/transfers": "justice"}
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


def create_app(settings) -> FastAPI:
    hub = Hub(settings)

    @asynccontextmanager
    async def lifespan(app):
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(title="zhongshu 执法监督数据中枢", version="0.1.0", lifespan=lifespan)
    app.state.hub = hub

    def require(*roles: str):
        async def dep(request: Request) -> Principal:
            auth = request.headers.get("authorization", "")
            if not auth.lower().startswith("bearer "):
                raise HTTPException(401, "missing Authorization: Bearer <key>",
                                    headers={"WWW-Authenticate": "Bearer"})
            principal = await run_in_threadpool(hub.principal, auth[7:].strip())
            if principal is None:
                raise HTTPException(401, "unknown or revoked key", headers={"WWW-Authenticate": "Bearer"})
            if roles and principal.role not in roles and principal.role != "admin":
                raise HTTPException(403, f"role {principal.role} may not call this; needs {' or '.join(roles)}")
            return principal
        return dep

    async def read_json(request: Request):
        limit = settings.max_body_bytes
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

    def make_intake_route(route: str):
        async def intake(request: Request, per_record: bool = Query(False, description="accept the valid records of a list and report the invalid ones instead of rejecting the whole list"),
                         principal: Principal = Depends(require(INTAKE_ROLES[route]))):
            payload = await read_json(request)
            kind = SOURCES[route][0]
            items = payload if isinstance(payload, list) else [payload]
            if not items:
                return problem_response(422, "empty list", [])
            records, problems = validate_batch(kind, items, hub.tokenise)
            if problems and not per_record:
                return problem_response(422, f"{len(problems)} problem(s); nothing was appended", problems)
            valid = [r for r in records if r is not None]
            try:
                result = await hub.intake.append(route, valid, run_in_threadpool)
            except IntakeUnavailable as exc:
                log.warning("intake unavailable: %s", exc)
                return JSONResponse({"title": "broker unavailable; retry later", "detail": str(exc)},
                                    status_code=503, headers={"Retry-After": "5"})
            body = {"accepted": result.accepted, "duplicates": result.duplicates}
            if per_record:
                body["rejected"] = [{"index": i, "problems": [p.__dict__ for p in problems if p.field.startswith(f"[{i}]")]}
                                    for i, r in enumerate(records) if r is None]
            return JSONResponse(body, status_code=202 if result.accepted else 200)

        intake.__name__ = "intake_" + route.replace("/", "_")
        return intake

    for route in SOURCES:
        app.post(f"/api/v1/intake/{route}", status_code=202, tags=["intake"],
                 summary=f"append {route} records (one or a list)")(make_intake_route(route))

    @app.put("/api/v1/reference/{kind}", tags=["reference"])
    async def put_reference(kind: str, request: Request, principal: Principal = Depends(require("admin"))):
        if kind not in REFERENCE_KINDS:
            raise HTTPException(404, f"reference kind {kind!r}: expected one of {', '.join(REFERENCE_KINDS)}")
        payload = await read_json(request)
        try:
            items = validate_reference(kind, payload)
        except ValidationFailed as exc:
            return problem_response(422, f"{len(exc.problems)} problem(s); the set was not replaced", exc.problems)
        now = datetime.now(timezone.utc)
        version = time.time_ns()
        value = hub.codec.encode("ReferenceSet", {"kind": kind, "version": version, "set_at": now.isoformat(),
                                                   "items_json": json.dumps(items, ensure_ascii=False, default=str)})
        topic = f"reference.{kind}"
        try:
            meta = await hub.producer.send_and_wait(topic, value=value, key=kind.encode(), headers=cloudevent_headers(
                ce_id=f"reference.{kind}.{version}", source="/zhongshu/reference", type=CE_TYPES.get(topic, "cn.gov.zhongshu.reference"),
                time=now.isoformat(), subject=kind))
        except Exception as exc:
            return JSONResponse({"title": "broker unavailable; retry later", "detail": str(exc)},
                                status_code=503, headers={"Retry-After": "5"})
        return {"kind": kind, "version": version, "items": len(items), "offset": meta.offset}

    @app.post("/api/v1/clock/ticks", status_code=202, tags=["clock"])
    async def post_tick(request: Request, principal: Principal = Depends(require("admin"))):
        payload = await read_json(request)
        at = payload.get("at") if isinstance(payload, dict) else None
        try:
            validate_tick_time(at)
        except ValueError:
            return JSONResponse({"title": "invalid tick", "problems": [{"field": "at", "value": at,
                                 "expected": "RFC 3339 time with explicit UTC offset, e.g. 2026-05-01T09:00:00+08:00"}]},
                                status_code=422)
        try:
            return await append_tick(hub, str(at))
        except Exception as exc:
            return JSONResponse({"title": "broker unavailable; retry later", "detail": str(exc)},
                                status_code=503, headers={"Retry-After": "5"})

    @app.get("/api/v1/sync", tags=["clock"])
    async def sync(timeout: float = Query(30.0, ge=0, le=600), principal: Principal = Depends(require())):
        try:
            return await asyncio.wait_for(wait_caught_up(hub), timeout=timeout)
        except asyncio.TimeoutError:
            return JSONResponse({"title": f"not caught up within {timeout}s"}, status_code=504)

    @app.get("/api/v1/leads", tags=["leads"])
    async def list_leads(rule_code: str | None = None, status: str | None = None, region_code: str | None = None,
                         agency_code: str | None = None, subject_id: str | None = None,
                         page: int = Query(1, ge=1), page_size: int = Query(50, ge=1, le=500),
                         principal: Principal = Depends(require(*STAFF_ROLES))):
        def q():
            stmt = select(Lead)
            for col, val in ((Lead.rule_code, rule_code), (Lead.status, status), (Lead.region_code, region_code),
                             (Lead.agency_code, agency_code), (Lead.subject_id, subject_id)):
                if val is not None:
                    stmt = stmt.where(col == val)
            if principal.region_code:
                from .auth import scope_prefix
                stmt = stmt.where(Lead.region_code.like(scope_prefix(principal.region_code) + "%"))
            stmt = stmt.order_by(Lead.detected_at.desc(), Lead.lead_id).offset((page - 1) * page_size).limit(page_size + 1)
            with hub.Session() as s:
                return list(s.execute(stmt).scalars())
        rows = await run_in_threadpool(q)
        return {"items": [lead_json(r) for r in rows[:page_size]], "next_page": page + 1 if len(rows) > page_size else None}

    @app.get("/api/v1/leads/{lead_id}", tags=["leads"])
    async def get_lead(lead_id: str, principal: Principal = Depends(require(*STAFF_ROLES))):
        def q():
            with hub.Session() as s:
                row = s.get(Lead, lead_id)
                hist = list(s.execute(select(LeadHistory).where(LeadHistory.lead_id == lead_id)
                                      .order_by(LeadHistory.seq)).scalars())
                return row, hist
        row, hist = await run_in_threadpool(q)
        if row is None or not principal.sees_region(row.region_code):
            raise HTTPException(404, f"no lead {lead_id}")
        body = lead_json(row)
        body["history"] = [{"seq": h.seq, "action": h.action, "actor": h.actor, "at": _iso(h.at),
                            "version": h.version, "note": h.note, "outcome": h.outcome} for h in hist]
        return body

    @app.get("/api/v1/enterprises/{uscc}", tags=["enterprises"])
    async def enterprise(uscc: str, principal: Principal = Depends(require(*STAFF_ROLES))):
        def q():
            with hub.Session() as s:
                orders = list(s.execute(select(WorkOrder).where(WorkOrder.subject_uscc == uscc)
                                        .order_by(WorkOrder.received_at)).scalars())
                leads = list(s.execute(select(Lead).where(Lead.subject_id == uscc)).scalars())
                return orders, leads
        orders, leads = await run_in_threadpool(q)
        orders = [o for o in orders if principal.sees_region(o.region_code)]
        leads = [l for l in leads if principal.sees_region(l.region_code)]
        if not orders and not leads:
            raise HTTPException(404, f"no records about enterprise {uscc}")
        return {"uscc": uscc, "name": orders[-1].subject_name if orders else leads[0].subject_name,
                "complaints": [workorder_json(o) for o in orders],
                "open_leads": [lead_json(l) for l in leads if l.status in ("待认领", "处理中")]}

    @app.get("/api/v1/schemas", tags=["schemas"])
    async def schemas(principal: Principal = Depends(require())):
        return {"items": hub.codec.schemas()}

    @app.get("/api/v1/schemas/{fingerprint}", tags=["schemas"])
    async def schema(fingerprint: str, principal: Principal = Depends(require())):
        found = hub.codec.schema_by_fingerprint(fingerprint.lower())
        if found is None:
            raise HTTPException(404, f"no schema with fingerprint {fingerprint}")
        return found

    @app.get("/healthz", tags=["health"])
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz():
        checks: dict[str, Any] = {}
        ok = True
        try:
            await run_in_threadpool(lambda: hub.Session().execute(select(1)).close())
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            ok, checks["database"] = False, f"error: {exc}"
        try:
            lag = await asyncio.wait_for(stage_lag(hub), timeout=5)
            checks["broker"] = "ok"
            checks["lag"] = lag
        except Exception as exc:
            ok, checks["broker"] = False, f"error: {exc!r}"
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return JSONResponse({"title": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    return app


async def append_tick(hub: Hub, at: str) -> dict:
    parts = await hub.producer.partitions_for("hub.clock")
    for p, key, value, headers in tick_records(hub.codec, at, parts):
        await hub.producer.send_and_wait("hub.clock", value=value, key=key, partition=p, headers=headers)
    return {"at": at, "partitions": len(parts)}


WORKER_TOPICS = (*INGRESS_TOPICS, "hub.clock", *INTERNAL_TOPICS)


async def stage_lag(hub: Hub) -> dict:
    ends = await hub.positions.end_offsets(WORKER_TOPICS)
    committed = await hub.positions.group_offsets(hub.settings.app_id)
    worker = sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())
    pends = await hub.positions.end_offsets(PROJECTED_TOPICS)
    stored = await run_in_threadpool(load_offsets, hub.Session)
    projector = sum(max(0, end - stored.get((tp.topic, tp.partition), 0)) for tp, end in pends.items())
    return {"worker": worker, "projector": projector}


async def _wait_offsets(ends, current, poll: float = 0.1):
    while True:
        have = await current()
        if all(have.get(tp, 0) >= end for tp, end in ends.items() if end > 0):
            return
        await asyncio.sleep(poll)


async def wait_caught_up(hub: Hub) -> dict:
    """Read-your-writes: workers past the log ends as of the call, then the projector past
    everything the workers produced up to then."""
    started = time.monotonic()
    ends = await hub.positions.end_offsets(WORKER_TOPICS)
    beginnings = await hub.positions.beginning_offsets(ends.keys())

    async def worker_offsets():
        got = await hub.positions.group_offsets(hub.settings.app_id)
        # an empty partition (end == beginning) needs no commit to be caught up
        return {tp: got.get(tp, beginnings.get(tp, 0)) for tp in ends}

    while True:
        await _wait_offsets(ends, worker_offsets)
        # workers may have forwarded facts to internal topics meanwhile: chase them too
        again = await hub.positions.end_offsets(INTERNAL_TOPICS)
        if all(again[tp] <= ends.get(tp, 0) for tp in again):
            break
        ends.update(again)
    pends = await hub.positions.end_offsets(PROJECTED_TOPICS)

    async def projector_offsets():
        stored = await run_in_threadpool(load_offsets, hub.Session)
        return {tp: stored.get((tp.topic, tp.partition), 0) for tp in pends}

    await _wait_offsets(pends, projector_offsets)
    return {"caught_up": True, "seconds": round(time.monotonic() - started, 3)}


def _iso(dt):
    return dt.isoformat() if dt else None


def lead_json(r: Lead) -> dict:
    return {"lead_id": r.lead_id, "rule_code": r.rule_code, "rule_name": r.rule_name, "severity": r.severity,
            "grade": r.grade, "subject": {"type": r.subject_type, "id": r.subject_id, "name": r.subject_name},
            "agency_code": r.agency_code, "region_code": r.region_code, "detected_at": _iso(r.detected_at),
            "due_at": _iso(r.due_at), "explanation": r.explanation, "evidence": r.evidence, "status": r.status,
            "version": r.version, "assignee": r.assignee, "outcome": r.outcome}


def workorder_json(o: WorkOrder) -> dict:
    return {"order_id": o.order_id, "received_at": _iso(o.received_at), "channel": o.channel,
            "category": o.category, "topic": o.topic, "content": o.content, "region_code": o.region_code,
            "about_agency_code": o.about_agency_code, "enforcement_complaint_type": o.enforcement_complaint_type,
            "status": o.status, "handling_unit": o.handling_unit}
