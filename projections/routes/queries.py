"""Read side: the lead queue and the enterprise file (一企一档)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..auth import Principal, scope_prefix
from ..hub import STAFF_ROLES, get_hub, iso, require
from ..models import Lead, LeadHistory, WorkOrder

router = APIRouter()


def lead_json(r: Lead) -> dict:
    return {"lead_id": r.lead_id, "rule_code": r.rule_code, "rule_name": r.rule_name, "severity": r.severity,
            "grade": r.grade, "subject": {"type": r.subject_type, "id": r.subject_id, "name": r.subject_name},
            "agency_code": r.agency_code, "region_code": r.region_code, "detected_at": iso(r.detected_at),
            "due_at": iso(r.due_at), "explanation": r.explanation, "evidence": r.evidence, "status": r.status,
            "version": r.version, "assignee": r.assignee, "outcome": r.outcome}


def workorder_json(o: WorkOrder) -> dict:
    return {"order_id": o.order_id, "received_at": iso(o.received_at), "channel": o.channel,
            "category": o.category, "topic": o.topic, "content": o.content, "region_code": o.region_code,
            "about_agency_code": o.about_agency_code, "enforcement_complaint_type": o.enforcement_complaint_type,
            "status": o.status, "handling_unit": o.handling_unit}


@router.get("/api/v1/leads", tags=["leads"])
async def list_leads(request: Request, rule_code: str | None = None, status: str | None = None,
                     region_code: str | None = None, agency_code: str | None = None, subject_id: str | None = None,
                     page: int = Query(1, ge=1), page_size: int = Query(50, ge=1, le=500),
                     principal: Principal = Depends(require(*STAFF_ROLES))):
    """Leads newest first; a region-scoped key sees only its region's leads."""
    hub = get_hub(request)

    def q():
        stmt = select(Lead)
        for col, val in ((Lead.rule_code, rule_code), (Lead.status, status), (Lead.region_code, region_code),
                         (Lead.agency_code, agency_code), (Lead.subject_id, subject_id)):
            if val is not None:
                stmt = stmt.where(col == val)
        if principal.region_code:
            stmt = stmt.where(Lead.region_code.like(scope_prefix(principal.region_code) + "%"))
        stmt = stmt.order_by(Lead.detected_at.desc(), Lead.lead_id).offset((page - 1) * page_size).limit(page_size + 1)
        with hub.Session() as s:
            return list(s.execute(stmt).scalars())

    rows = await run_in_threadpool(q)
    return {"items": [lead_json(r) for r in rows[:page_size]], "next_page": page + 1 if len(rows) > page_size else None}


@router.get("/api/v1/leads/{lead_id}", tags=["leads"])
async def get_lead(lead_id: str, request: Request, principal: Principal = Depends(require(*STAFF_ROLES))):
    hub = get_hub(request)

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
    body["history"] = [{"seq": h.seq, "action": h.action, "actor": h.actor, "at": iso(h.at),
                        "version": h.version, "note": h.note, "outcome": h.outcome} for h in hist]
    return body


@router.get("/api/v1/enterprises/{uscc}", tags=["enterprises"])
async def enterprise(uscc: str, request: Request, principal: Principal = Depends(require(*STAFF_ROLES))):
    hub = get_hub(request)

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
