"""The lead queue (监督线索队列): list, detail, staff actions and a server-sent event stream.

Staff actions are events: each one is appended to `supervision.lead-actions` as a LeadAction
(Avro, CloudEvents headers) and reaches the `leads` table through the projector like
everything else. Optimistic concurrency: a request names the lead version it saw; the API
moves the lead's row in `lead_claims` from that version to the next with a conditional
upsert, keeps the row locked while the broker takes the event, and commits only then — of
two concurrent requests at the same version exactly one is appended, the other gets 409.

LeadAction.version is the version the action was made against; the lead has version + 1
afterwards. Legal transitions (状态流转):

    待认领 --claim--> 处理中 --resolve--> 已办结
                       处理中 --dismiss--> 已驳回
    已办结 / 已驳回 --reopen--> 待认领
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from datetime import datetime, timedelta, timezone
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from schemas.codec import CE_TYPES, cloudevent_headers

from ..auth import Principal, scope_prefix
from ..hub import STAFF_ROLES, get_hub, iso, require
from ..models import Lead, LeadClaim, LeadHistory

log = logging.getLogger("zhongshu.api.leads")

MAX_PAGE = 1_000_000  # page × page_size must stay a sane SQL OFFSET


def _json_safe(v):
    """A validation error echoes the input; NaN/Infinity (accepted by Python's JSON parser)
    cannot be rendered as JSON, so they are echoed as text."""
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, str):  # half a surrogate pair (valid JSON, not Unicode) cannot be UTF-8 encoded
        return v.encode("utf-8", "backslashreplace").decode("utf-8")
    if v is None or isinstance(v, (int, float, bool)):
        return v
    return str(v)


class SafeValidationRoute(APIRoute):
    """Answers a request that fails validation with 422 listing the problems, whatever the
    input held (FastAPI's own handler fails with 500 on a NaN in a JSON body)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors(), custom_encoder={
                    float: lambda f: f if math.isfinite(f) else repr(f)}))}, status_code=422)

        return route


router = APIRouter(tags=["leads"], route_class=SafeValidationRoute)

CST = timezone(timedelta(hours=8))
OPEN, WORKING, RESOLVED, DISMISSED = "待认领", "处理中", "已办结", "已驳回"
LEAD_STATUSES = (OPEN, WORKING, RESOLVED, DISMISSED)

# action path -> (LeadAction.action, statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "claim": ("claimed", (OPEN,), WORKING),
    "resolve": ("resolved", (WORKING,), RESOLVED),
    "dismiss": ("dismissed", (WORKING,), DISMISSED),
    "reopen": ("reopened", (RESOLVED, DISMISSED), OPEN),
}
_EN = {OPEN: "open", WORKING: "in progress", RESOLVED: "resolved", DISMISSED: "dismissed"}
_VERB_ZH = {"claim": "认领", "resolve": "办结", "dismiss": "驳回（排除）", "reopen": "重新打开"}


# ---------------------------------------------------------------- JSON shapes

class LeadSubject(BaseModel):
    type: str = Field(description="对象类型 enterprise/agency/case/officer/workorder/decision")
    id: str = Field(description="统一社会信用代码、机关代码、案件编号、执法证号、工单编号或决定书文号")
    name: str | None = None


class EvidenceItem(BaseModel):
    topic: str
    partition: int
    offset: int
    ce_id: str
    action_code: str | None = None
    summary: str


class LeadOut(BaseModel):
    """A lead (监督线索) with the fields of RULES.md plus the queue's own state."""

    lead_id: str
    rule_code: str
    rule_name: str
    severity: str
    grade: Literal["A", "B", "C"] | None = Field(None, description="12345 线索分级 A 集中投诉 / B 反复投诉 / C 一般")
    subject: LeadSubject
    agency_code: str | None
    region_code: str | None
    detected_at: str
    due_at: str | None
    explanation: str
    evidence: list[EvidenceItem]
    details: dict | None = None
    status: str = Field(description="待认领 / 处理中 / 已办结 / 已驳回")
    version: int = Field(description="乐观并发版本号；处置请求须带上当前版本")
    assignee: str | None
    outcome: str | None
    note: str | None
    updated_at: str


class HistoryItem(BaseModel):
    action: str = Field(description="raised / claimed / resolved / dismissed / reopened")
    action_id: str
    actor: str | None
    at: str
    version: int = Field(description="the lead's version after this entry")
    note: str | None
    outcome: str | None


class LeadDetail(LeadOut):
    history: list[HistoryItem]


class LeadPage(BaseModel):
    items: list[LeadOut]
    next_page: int | None


class LeadActionIn(BaseModel):
    """A staff action on a lead (线索处置)."""

    version: int = Field(description="the lead version the action is made against (optimistic concurrency)")
    note: str | None = Field(None, max_length=4000, description="备注；dismiss 需要理由（note 或 outcome）")
    outcome: str | None = Field(None, max_length=4000, description="处置结果；resolve 必填")


class LeadActionOut(BaseModel):
    lead_id: str
    action: str
    action_id: str
    status: str = Field(description="the lead's status after the action")
    version: int = Field(description="the lead's new version")
    topic: str
    partition: int
    offset: int


class Conflict(BaseModel):
    title: str
    lead_id: str
    current_version: int
    status: str


def lead_json(r: Lead) -> dict:
    return {"lead_id": r.lead_id, "rule_code": r.rule_code, "rule_name": r.rule_name, "severity": r.severity,
            "grade": r.grade, "subject": {"type": r.subject_type, "id": r.subject_id, "name": r.subject_name},
            "agency_code": r.agency_code, "region_code": r.region_code, "detected_at": iso(r.detected_at),
            "due_at": iso(r.due_at), "explanation": r.explanation, "evidence": r.evidence, "details": r.details,
            "status": r.status, "version": r.version, "assignee": r.assignee, "outcome": r.outcome, "note": r.note,
            "updated_at": iso(r.updated_at)}


def history_json(h: LeadHistory) -> dict:
    return {"action": h.action, "action_id": h.action_id, "actor": h.actor, "at": iso(h.at), "version": h.version,
            "note": h.note, "outcome": h.outcome}


def scoped(stmt, principal: Principal, column=Lead.region_code):
    if principal.region_code:
        stmt = stmt.where(column.like(scope_prefix(principal.region_code) + "%"))
    return stmt


# ---------------------------------------------------------------- reads

@router.get("/api/v1/leads", response_model=LeadPage, summary="list leads (线索列表)")
async def list_leads(request: Request,
                     rule_code: str | None = Query(None, description="rule code, e.g. INSP_NO_CODE"),
                     status: str | None = Query(None, description="待认领 / 处理中 / 已办结 / 已驳回"),
                     region_code: str | None = Query(None, description="6-digit 行政区划代码; a city code covers its districts"),
                     agency_code: str | None = None, subject_id: str | None = None,
                     grade: Literal["A", "B", "C"] | None = Query(None, description="12345 线索分级"),
                     page: int = Query(1, ge=1, le=MAX_PAGE), page_size: int = Query(50, ge=1, le=500),
                     principal: Principal = Depends(require(*STAFF_ROLES))):
    """Leads newest first (`detected_at`), `{"items": [...], "next_page": N|null}`; a
    region-scoped key sees only its region's leads."""
    hub = get_hub(request)

    def q():
        stmt = select(Lead)
        for col, val in ((Lead.rule_code, rule_code), (Lead.status, status), (Lead.agency_code, agency_code),
                         (Lead.subject_id, subject_id), (Lead.grade, grade)):
            if val is not None:
                stmt = stmt.where(col == val)
        if region_code is not None:
            stmt = stmt.where(Lead.region_code.like(scope_prefix(region_code) + "%"))
        stmt = scoped(stmt, principal)
        stmt = stmt.order_by(Lead.detected_at.desc(), Lead.lead_id).offset((page - 1) * page_size).limit(page_size + 1)
        with hub.Session() as s:
            return list(s.execute(stmt).scalars())

    rows = await run_in_threadpool(q)
    return {"items": [lead_json(r) for r in rows[:page_size]], "next_page": page + 1 if len(rows) > page_size else None}


STREAM_PAGE = 500  # changes read per poll of the lead stream


def stream_page(s, after: int, principal: Principal, rule_code: str | None = None,
                grade: str | None = None) -> tuple[list, int, bool]:
    """The next changes of the lead projection after change sequence `after`, as the stream
    sends them: (the leads that pass the filters and the key's region scope, the sequence read
    up to, whether more changes wait).

    The changes are read in order through ix_leads_change_seq and filtered here, not in SQL: with
    the filters in the WHERE clause the planner may read every lead of the rule or region
    through its index and sort them — it does while the table's statistics lag behind its
    growth — so each poll of every open stream would cost the size of the table (9 ms at 30k
    leads) instead of the number of new changes. The cursor moves past changes that do not pass."""
    rows = list(s.execute(select(Lead).where(Lead.change_seq > after)
                          .order_by(Lead.change_seq).limit(STREAM_PAGE)).scalars())
    if not rows:
        return [], after, False
    wanted = [r for r in rows if (rule_code is None or r.rule_code == rule_code)
              and (grade is None or r.grade == grade) and principal.sees_region(r.region_code)]
    return wanted, rows[-1].change_seq, len(rows) == STREAM_PAGE


@router.get("/api/v1/leads/stream", summary="server-sent events of new and changed leads",
            response_description="`text/event-stream`: one `lead` event per new or changed lead; the event "
                                 "`id` is the lead's change sequence (send it back as `Last-Event-ID` to resume); "
                                 "`data` is the lead as in GET /api/v1/leads/{lead_id} without history")
async def stream_leads(request: Request,
                       since: int | None = Query(None, ge=0, description="start after this change sequence "
                                                 "(default: Last-Event-ID, else only changes from now on)"),
                       rule_code: str | None = None, grade: Literal["A", "B", "C"] | None = None,
                       poll: float = Query(0.5, ge=0.1, le=10, description="seconds between polls of the projection"),
                       principal: Principal = Depends(require(*STAFF_ROLES))):
    """Server-sent events (SSE) of leads as they are raised, updated by their rule or acted on,
    polled from the projection in change order. Region scope applies."""
    from sse_starlette.sse import EventSourceResponse

    hub = get_hub(request)
    header = request.headers.get("last-event-id")
    cursor = since
    if cursor is None and header and header.strip().isdigit():
        cursor = int(header.strip())

    def fetch(after: int | None):
        with hub.Session() as s:
            if after is None:
                return [], s.execute(select(Lead.change_seq).order_by(Lead.change_seq.desc()).limit(1)).scalar() or 0, False
            return stream_page(s, after, principal, rule_code=rule_code, grade=grade)

    async def events():
        after = cursor
        if after is None:
            _, after, _ = await run_in_threadpool(fetch, None)
        while True:
            rows, after, more = await run_in_threadpool(fetch, after)
            for r in rows:
                yield {"id": str(r.change_seq), "event": "lead", "data": json.dumps(lead_json(r), ensure_ascii=False)}
            if not more:
                if await request.is_disconnected():
                    return
                await asyncio.sleep(poll)

    return EventSourceResponse(events(), ping=15)


@router.get("/api/v1/leads/{lead_id}", response_model=LeadDetail, summary="one lead with evidence and history",
            responses={404: {"description": "no such lead in the key's jurisdiction"}})
async def get_lead(lead_id: str, request: Request, principal: Principal = Depends(require(*STAFF_ROLES))):
    hub = get_hub(request)

    def q():
        with hub.Session() as s:
            row = s.get(Lead, lead_id)
            hist = list(s.execute(select(LeadHistory).where(LeadHistory.lead_id == lead_id)
                                  .order_by(LeadHistory.version, LeadHistory.at, LeadHistory.action_id)).scalars())
            return row, hist

    row, hist = await run_in_threadpool(q)
    if row is None or not principal.sees_region(row.region_code):
        raise HTTPException(404, f"no lead {lead_id}")
    return {**lead_json(row), "history": [history_json(h) for h in hist]}


# ---------------------------------------------------------------- actions

def action_id_for(lead_id: str, version: int) -> str:
    """Deterministic: only one action can be accepted at a given version of a lead."""
    return "LA-" + hashlib.sha256(f"{lead_id}\x1f{version}".encode()).hexdigest()[:24]


def _effective(s: Session, lead_id: str) -> tuple[Lead | None, int, str]:
    """The lead, and its current version and status: the projection's, or the guard's when an
    accepted action has not been projected yet."""
    lead = s.get(Lead, lead_id)
    if lead is None:
        return None, 0, ""
    guard = s.get(LeadClaim, lead_id)
    if guard is not None and guard.version > lead.version:
        return lead, guard.version, guard.status
    return lead, lead.version, lead.status


def _reserve(s: Session, lead_id: str, acted_on: int, status: str, action_id: str, actor: str, at: datetime) -> bool:
    """Move the guard row from `acted_on` to the next version; False if someone else did."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    t = LeadClaim.__table__
    ins = insert(t).values(lead_id=lead_id, version=acted_on + 1, status=status, action_id=action_id,
                           actor=actor, at=at)
    stmt = ins.on_conflict_do_update(
        index_elements=["lead_id"],
        set_={"version": ins.excluded.version, "status": ins.excluded.status, "action_id": ins.excluded.action_id,
              "actor": ins.excluded.actor, "at": ins.excluded.at},
        where=t.c.version <= acted_on).returning(t.c.version)
    # a row comes back when it was inserted or moved; none when another action got there first
    return s.connection().execute(stmt).first() is not None


def _conflict(lead_id: str, version: int, status: str, title: str) -> JSONResponse:
    return JSONResponse({"title": title, "lead_id": lead_id, "current_version": version, "status": status},
                        status_code=409)


def _problem(field: str, value, expected: str) -> JSONResponse:
    return JSONResponse({"title": f"1 problem(s); nothing was appended",
                         "problems": [{"field": field, "value": value, "expected": expected}]}, status_code=422)


def make_action_route(path: str):
    kind, allowed_from, new_status = TRANSITIONS[path]

    async def act(request: Request, body: LeadActionIn,
                  lead_id: str = Path(..., description="lead_id"),
                  principal: Principal = Depends(require(*STAFF_ROLES))):
        hub = get_hub(request)
        note = (body.note or "").strip() or None
        outcome = (body.outcome or "").strip() or None
        if path == "resolve" and outcome is None:
            return _problem("outcome", body.outcome, "the outcome (处置结果) of the resolved lead")
        if path == "dismiss" and note is None and outcome is None:
            return _problem("note", body.note, "the reason for dismissing (驳回理由) in note or outcome")
        actor = principal.actor
        at = datetime.now(CST)
        aid = action_id_for(lead_id, body.version)

        def reserve():
            s = hub.Session()
            try:
                s.begin()
                lead, version, status = _effective(s, lead_id)
                if lead is None or not principal.sees_region(lead.region_code):
                    s.rollback()
                    s.close()
                    return None, "missing", 0, ""
                if body.version != version:
                    s.rollback()
                    s.close()
                    return None, "version", version, status
                if status not in allowed_from:
                    s.rollback()
                    s.close()
                    return None, "state", version, status
                if not _reserve(s, lead_id, version, new_status, aid, actor, at):
                    s.rollback()
                    lead, version, status = _effective(s, lead_id)
                    s.close()
                    return None, "version", version, status
                return s, "ok", version, status
            except BaseException:
                s.rollback()
                s.close()
                raise

        s, outcome_, version, status = await run_in_threadpool(reserve)
        if outcome_ == "missing":
            raise HTTPException(404, f"no lead {lead_id}")
        if outcome_ == "version":
            return _conflict(lead_id, version, status,
                             f"版本冲突：线索当前版本为 {version}（{status}）/ version conflict: the lead is at "
                             f"version {version} ({_EN.get(status, status)}), the request named {body.version}")
        if outcome_ == "state":
            return _conflict(lead_id, version, status,
                             f"状态不允许：{status}的线索不能{_VERB_ZH[path]} / illegal transition: cannot {path} a "
                             f"lead that is {_EN.get(status, status)}; allowed from "
                             f"{', '.join(_EN[x] for x in allowed_from)}")
        value = hub.codec.encode("LeadAction", {
            "action_id": aid, "lead_id": lead_id, "action": kind, "actor": actor, "at": at.isoformat(),
            "version": body.version, "note": note, "outcome": outcome})
        topic = "supervision.lead-actions"
        try:
            # bounded: aiokafka's idempotent producer waits for an absent broker forever (holding the guard row);
            # an action appended after the timeout is harmless: its action_id is the one a retry would append
            meta = await asyncio.wait_for(hub.producer.send_and_wait(
                topic, value=value, key=lead_id.encode(), headers=cloudevent_headers(
                    ce_id=aid, source="/zhongshu/api/leads", type=CE_TYPES[topic], time=at.isoformat(),
                    subject=lead_id)), hub.settings.intake_send_timeout)
        except Exception as exc:
            await run_in_threadpool(_finish, s, False)
            log.warning("lead action %s not appended: %s", aid, exc)
            return JSONResponse({"title": "broker unavailable; nothing was appended, retry later", "detail": str(exc)},
                                status_code=503, headers={"Retry-After": "5"})
        await run_in_threadpool(_finish, s, True)
        return JSONResponse({"lead_id": lead_id, "action": kind, "action_id": aid, "status": new_status,
                             "version": body.version + 1, "topic": topic, "partition": meta.partition,
                             "offset": meta.offset}, status_code=202)

    act.__name__ = f"{path}_lead"
    return act


def _finish(s: Session, commit: bool) -> None:
    try:
        s.commit() if commit else s.rollback()
    finally:
        s.close()


_DOCS = {
    "claim": "认领：待认领 → 处理中. Body `{\"version\"}` (the lead's current version); `note` optional.",
    "resolve": "办结：处理中 → 已办结. Body `{\"version\", \"outcome\"}`; `outcome` is required (422 otherwise).",
    "dismiss": "驳回（排除）：处理中 → 已驳回. Body `{\"version\", \"note\"}`; a reason in `note` or `outcome` "
               "is required (422 otherwise).",
    "reopen": "重新打开：已办结 / 已驳回 → 待认领. Body `{\"version\"}`; `note` optional.",
}

for _path in TRANSITIONS:
    router.post(
        f"/api/v1/leads/{{lead_id}}/{_path}", status_code=202, response_model=LeadActionOut,
        summary=f"{_path} a lead", description=_DOCS[_path] + " The action is appended to "
        "`supervision.lead-actions` and projected; the answer carries the lead's new version.",
        responses={404: {"description": "no such lead in the key's jurisdiction"},
                   409: {"model": Conflict, "description": "the version is not the lead's current one, or the "
                         "transition is not allowed from the lead's status (message in Chinese and English)"},
                   422: {"description": "a required field is missing (names the field)"},
                   503: {"description": "the broker did not take the action; nothing changed"}},
    )(make_action_route(_path))
