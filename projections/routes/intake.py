"""Intake (接入), reference data (参考数据) and clock (时钟) routes: everything that appends."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from connectors.intake import SOURCES, IntakeUnavailable, validate_batch
from connectors.validation import ValidationFailed, validate_reference
from schemas.codec import CE_TYPES, cloudevent_headers
from streams.clock import tick_records, validate_tick_time
from streams.topics import REFERENCE_KINDS

from ..auth import Principal
from ..hub import Hub, get_hub, problem_response, read_json, require, unavailable

log = logging.getLogger("zhongshu.api")
router = APIRouter()

INTAKE_ROLES = {"hotline/workorders": "hotline", "enforcement/inspections": "enforcement",
                "enforcement/cases": "enforcement", "credit/events": "credit", "justice/transfers": "justice"}


def make_intake_route(route: str):
    async def intake(request: Request,
                     per_record: bool = Query(False, description="accept the valid records of a list and report "
                                                                  "the invalid ones instead of rejecting the whole list"),
                     principal: Principal = Depends(require(INTAKE_ROLES[route]))):
        hub = get_hub(request)
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
            return unavailable(exc)
        body = {"accepted": result.accepted, "duplicates": result.duplicates}
        if per_record:
            body["rejected"] = [
                {"index": i, "problems": [{"field": p.field, "value": p.value, "expected": p.expected}
                                          for p in problems if p.field.startswith(f"[{i}]") or len(items) == 1]}
                for i, r in enumerate(records) if r is None
            ]
        return JSONResponse(body, status_code=202 if result.accepted else 200)

    intake.__name__ = "intake_" + route.replace("/", "_")
    return intake


for _route in SOURCES:
    router.post(f"/api/v1/intake/{_route}", status_code=202, tags=["intake"],
                summary=f"append {_route} records (one or a list)")(make_intake_route(_route))


@router.put("/api/v1/reference/{kind}", tags=["reference"])
async def put_reference(kind: str, request: Request, principal: Principal = Depends(require("admin"))):
    """Replace a whole reference set; each PUT is a new version on the compacted topic."""
    hub = get_hub(request)
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
            ce_id=f"{topic}.{version}", source="/zhongshu/reference", type=CE_TYPES.get(topic, "cn.gov.zhongshu.reference"),
            time=now.isoformat(), subject=kind))
    except Exception as exc:
        return unavailable(exc)
    return {"kind": kind, "version": version, "items": len(items), "offset": meta.offset}


async def append_tick(hub: Hub, at: str) -> dict:
    parts = await hub.producer.partitions_for("hub.clock")
    for p, key, value, headers in tick_records(hub.codec, at, parts):
        await hub.producer.send_and_wait("hub.clock", value=value, key=key, partition=p, headers=headers)
    return {"at": at, "partitions": len(parts)}


@router.post("/api/v1/clock/ticks", status_code=202, tags=["clock"])
async def post_tick(request: Request, principal: Principal = Depends(require("admin"))):
    """Append a tick `{"at": RFC 3339}` to every partition of hub.clock."""
    payload = await read_json(request)
    at = payload.get("at") if isinstance(payload, dict) else None
    try:
        validate_tick_time(at)
    except ValueError:
        return JSONResponse({"title": "invalid tick", "problems": [{
            "field": "at", "value": at,
            "expected": "RFC 3339 time with explicit UTC offset, e.g. 2026-05-01T09:00:00+08:00"}]}, status_code=422)
    try:
        return await append_tick(get_hub(request), str(at))
    except Exception as exc:
        return unavailable(exc)
