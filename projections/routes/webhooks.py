"""Credit-trigger webhooks (信用修复提示推送): subscribers (admin), the delivery log, operator retry.

Delivery itself runs in `zhongshu webhooks run` (connectors/webhooks.py); these routes only
read and edit the outbox tables.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from connectors import webhooks as wh
from connectors.webhook_models import WebhookOutbox, WebhookSubscriber, ensure_tables

from ..auth import Principal, scope_prefix
from ..hub import Hub, get_hub, problem_response, read_json, require
from ..models import CreditTrigger
from .leads import MAX_PAGE

router = APIRouter(tags=["webhooks"])


def _hub(request: Request) -> Hub:
    """The hub, with the webhook tables present (until a migration creates them)."""
    hub = get_hub(request)
    if not getattr(hub, "_webhook_tables", False):
        ensure_tables(hub.engine)
        hub._webhook_tables = True
    return hub


def _raise(exc: wh.WebhookError):
    raise HTTPException(exc.status, str(exc))


def _region(principal: Principal) -> str | None:
    return scope_prefix(principal.region_code) if principal.region_code else None


@router.post("/api/v1/webhooks/subscribers", status_code=201)
async def put_subscriber(request: Request, principal: Principal = Depends(require("admin"))):
    """Add a subscriber `{url, secret, codes?, region_code?, subscriber_id?, label?, backfill?}`;
    an existing subscriber_id is replaced and reactivated (200). The secret is never shown again."""
    hub = await run_in_threadpool(_hub, request)
    payload = await read_json(request)
    if not isinstance(payload, dict):
        return JSONResponse({"title": "expected a JSON object"}, status_code=422)
    unknown = sorted(set(payload) - {"url", "secret", "codes", "region_code", "subscriber_id", "label", "backfill"})
    problems = [{"field": k, "value": payload[k], "expected": "no such field"} for k in unknown]
    problems += wh.validate_subscriber(payload.get("url"), payload.get("secret"), payload.get("codes"),
                                       payload.get("region_code"), payload.get("subscriber_id"))
    if problems:
        return JSONResponse({"title": f"{len(problems)} problem(s); nothing was saved", "problems": problems},
                            status_code=422)

    def save():
        with hub.Session() as s, s.begin():
            row, created, backfilled = wh.put_subscriber(
                s, url=payload["url"], secret=payload["secret"], codes=payload.get("codes"),
                region_code=payload.get("region_code"), subscriber_id=payload.get("subscriber_id"),
                label=payload.get("label"), backfill=bool(payload.get("backfill")))
            return {**wh.subscriber_json(row), "backfilled": backfilled}, created

    body, created = await run_in_threadpool(save)
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/api/v1/webhooks/subscribers")
async def list_subscribers(request: Request, principal: Principal = Depends(require("admin"))):
    hub = await run_in_threadpool(_hub, request)

    def q():
        with hub.Session() as s:
            return [wh.subscriber_json(r) for r in
                    s.execute(select(WebhookSubscriber).order_by(WebhookSubscriber.subscriber_id)).scalars()]

    return {"items": await run_in_threadpool(q)}


@router.delete("/api/v1/webhooks/subscribers/{subscriber_id}")
async def delete_subscriber(subscriber_id: str, request: Request, principal: Principal = Depends(require("admin"))):
    """Deactivate: nothing more is sent to it; its open deliveries wait until it is added again."""
    hub = await run_in_threadpool(_hub, request)

    def q():
        with hub.Session() as s, s.begin():
            return wh.subscriber_json(wh.deactivate_subscriber(s, subscriber_id))

    try:
        return await run_in_threadpool(q)
    except wh.WebhookError as exc:
        _raise(exc)


@router.get("/api/v1/webhooks/deliveries")
async def list_deliveries(request: Request, trigger_id: str | None = None, state: str | None = None,
                          subscriber_id: str | None = None, page: int = Query(1, ge=1, le=MAX_PAGE),
                          page_size: int = Query(50, ge=1, le=500),
                          principal: Principal = Depends(require("credit"))):
    """Deliveries newest first; `state` is an id (pending, in_flight, delivered, acknowledged,
    dead) or its label (待投递, 投递中, 已送达, 已确认, 死信)."""
    hub = await run_in_threadpool(_hub, request)

    def q():
        with hub.Session() as s:
            return wh.list_deliveries(s, trigger_id=trigger_id, state=state, subscriber_id=subscriber_id,
                                      region_prefix=_region(principal), page=page, page_size=page_size)

    try:
        rows = await run_in_threadpool(q)
    except wh.WebhookError as exc:
        return problem_response(422, str(exc))
    return {"items": [wh.delivery_json(r) for r in rows[:page_size]],
            "next_page": page + 1 if len(rows) > page_size else None}


def _with_log(hub: Hub, rows: list[WebhookOutbox]) -> list[dict]:
    with hub.Session() as s:
        logs = wh.attempts_of(s, [r.delivery_id for r in rows])
    return [wh.delivery_json(r, logs[r.delivery_id]) for r in rows]


@router.get("/api/v1/webhooks/deliveries/{delivery_id}")
async def get_delivery(delivery_id: str, request: Request, principal: Principal = Depends(require("credit"))):
    """One delivery with its attempt log."""
    hub = await run_in_threadpool(_hub, request)

    def q():
        with hub.Session() as s:
            row = s.get(WebhookOutbox, delivery_id)
        return None if row is None else _with_log(hub, [row])[0]

    body = await run_in_threadpool(q)
    if body is None or not principal.sees_region(wh.uscc_region(body["uscc"])):
        raise HTTPException(404, f"no webhook delivery {delivery_id}")
    return body


@router.post("/api/v1/webhooks/deliveries/{delivery_id}/retry")
async def retry_delivery(delivery_id: str, request: Request, principal: Principal = Depends(require("admin"))):
    """Operator retry of a 死信 (dead) delivery: due now, with a fresh round of attempts."""
    hub = await run_in_threadpool(_hub, request)

    def q():
        with hub.Session() as s, s.begin():
            return wh.delivery_json(wh.retry_delivery(s, delivery_id))

    try:
        return await run_in_threadpool(q)
    except wh.WebhookError as exc:
        _raise(exc)


@router.get("/api/v1/credit/triggers/{trigger_id}/deliveries")
async def trigger_deliveries(trigger_id: str, request: Request, principal: Principal = Depends(require("credit"))):
    """Every webhook delivery of one trigger, each with its attempt log."""
    hub = await run_in_threadpool(_hub, request)

    def q():
        with hub.Session() as s:
            rows = list(s.execute(select(WebhookOutbox).where(WebhookOutbox.trigger_id == trigger_id)
                                  .order_by(WebhookOutbox.subscriber_id)).scalars())
            known = bool(rows) or s.get(CreditTrigger, trigger_id) is not None
        return known, _with_log(hub, rows)

    known, items = await run_in_threadpool(q)
    items = [d for d in items if principal.sees_region(wh.uscc_region(d["uscc"]))]
    if not known:
        raise HTTPException(404, f"no credit trigger {trigger_id}")
    return {"trigger_id": trigger_id, "items": items}
