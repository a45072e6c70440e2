"""Intake (接入), reference data (参考数据) and clock (时钟) routes: everything that appends."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from connectors.intake import SOURCES, IntakeUnavailable, validate_batch
from connectors.validation import ValidationFailed, validate_reference
from schemas.codec import CE_TYPES, TOPIC_SCHEMAS, cloudevent_headers
from streams.clock import tick_records, validate_tick_time
from streams.topics import REFERENCE_KINDS

from ..auth import Principal
from ..hub import Hub, _echo, get_hub, problem_response, read_json, require, too_many, unavailable

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
        wait = hub.intake_limiter.take(principal.key_id)
        if wait:
            return too_many(principal.key_id, wait)
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


def _json_schema(avro, named: dict) -> dict:
    """The intake JSON shape of an Avro type (the Avro record and the intake JSON share names)."""
    if isinstance(avro, str):
        if avro in named:
            return named[avro]
        return {"string": {"type": "string"}, "boolean": {"type": "boolean"}, "int": {"type": "integer"},
                "long": {"type": "integer"}, "double": {"type": "number"}, "null": {"type": "null"}}.get(avro, {})
    if isinstance(avro, list):
        kinds = [_json_schema(t, named) for t in avro if t != "null"] + ([{"type": "null"}] if "null" in avro else [])
        return kinds[0] if len(kinds) == 1 else {"anyOf": kinds}
    t = avro.get("type")
    if t == "record":
        out = {"type": "object", "description": avro.get("doc", ""),
               "properties": {f["name"]: {**_json_schema(f["type"], named), "description": f.get("doc", "")}
                              for f in avro["fields"]},
               "required": [f["name"] for f in avro["fields"] if "default" not in f
                            and not (isinstance(f["type"], list) and "null" in f["type"])]}
        named[avro["name"]] = out
        return out
    if t == "enum":
        named[avro["name"]] = out = {"type": "string", "enum": list(avro["symbols"])}
        return out
    if t == "array":
        return {"type": "array", "items": _json_schema(avro["items"], named)}
    if t == "map":
        return {"type": "object", "additionalProperties": _json_schema(avro["values"], named)}
    if t == "bytes" and avro.get("logicalType") == "decimal":
        return {"anyOf": [{"type": "string", "description": "decimal yuan, e.g. \"1234.50\""},
                          {"type": "object", "properties": {"fen": {"type": "integer"}}, "required": ["fen"]}]}
    return _json_schema(t, named) if isinstance(t, (str, list)) else {}


def intake_body_schema(route: str) -> dict:
    """OpenAPI request body of an intake route: one record or a list, as in DESIGN.md §6.
    Complainant and natural-person identity arrive in clear and leave as tokens."""
    from schemas.codec import Codec

    codec = Codec()
    name = TOPIC_SCHEMAS[SOURCES[route][1]]
    record = _json_schema(codec.schema_by_fingerprint(codec.fingerprint(name))["schema"], {})
    props = record.get("properties", {})
    if "complainant" in props:
        props["complainant"] = {"type": "object", "required": ["name", "phone"], "description": "投诉人/举报人（入口即令牌化）",
                                "properties": {"name": {"type": "string"}, "phone": {"type": "string"}}}
    if "party" in props:
        party = next(x for x in props["party"].get("anyOf", [props["party"]]) if x.get("type") == "object")
        party["properties"] = {**{k: v for k, v in party["properties"].items() if k != "id_token"},
                               "id_number": {"anyOf": [{"type": "string"}, {"type": "null"}],
                                             "description": "自然人证件号码（入口即令牌化）"}}
    return {"required": True, "content": {"application/json": {"schema": {
        "oneOf": [record, {"type": "array", "items": record, "minItems": 1}]}}}}


INTAKE_RESPONSES = {
    200: {"description": "every record was appended before (duplicate source_event_id): nothing appended; "
                         "`duplicates` gives their positions"},
    202: {"description": "appended: `accepted` gives each record's topic, partition and offset"},
    401: {"description": "no or unknown API key"},
    403: {"description": "the key's role may not post to this source"},
    413: {"description": "body above max_body_bytes"},
    422: {"description": "invalid records: every problem with field path, value and what was expected; nothing appended"},
    429: {"description": "this key's intake rate limit is exceeded; retry after Retry-After seconds"},
    503: {"description": "broker or database unavailable, or the record is still being appended; retry after "
                         "Retry-After seconds (nothing is appended twice)"},
}

for _route in SOURCES:
    router.post(f"/api/v1/intake/{_route}", status_code=202, tags=["intake"], responses=INTAKE_RESPONSES,
                openapi_extra={"requestBody": intake_body_schema(_route)},
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
        # bounded: the idempotent producer would wait for the broker forever
        meta = await asyncio.wait_for(hub.producer.send_and_wait(topic, value=value, key=kind.encode(), headers=cloudevent_headers(
            ce_id=f"{topic}.{version}", source="/zhongshu/reference", type=CE_TYPES.get(topic, "cn.gov.zhongshu.reference"),
            time=now.isoformat(), subject=kind)), hub.settings.intake_send_timeout)
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
            "field": "at", "value": _echo(at),
            "expected": "RFC 3339 time with explicit UTC offset, e.g. 2026-05-01T09:00:00+08:00"}]}, status_code=422)
    hub = get_hub(request)
    try:
        return await asyncio.wait_for(append_tick(hub, str(at)), hub.settings.intake_send_timeout)
    except Exception as exc:
        return unavailable(exc)
