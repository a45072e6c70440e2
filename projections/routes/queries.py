"""Read side: the enterprise file (一企一档) and its timeline, and credit-repair triggers.

The lead queue lives in routes/leads.py, indicators in routes/indicators.py.
Every answer is limited to the key's jurisdiction; what lies outside it answers 404.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ..auth import Principal, region_clause
from ..hub import STAFF_ROLES, get_hub, iso, require
from ..models import (
    Case, CreditEvent, CreditRepair, CreditState, CreditTrigger, Inspection, Lead, LeadEvidence, LeadHistory,
    TimelineEntry, WorkOrder,
)
from .leads import MAX_PAGE, LeadOut, SafeValidationRoute, lead_json

router = APIRouter(route_class=SafeValidationRoute)

ENTERPRISE_ROLES = (*STAFF_ROLES, "enforcement", "credit")
TRIGGER_ROLES = (*STAFF_ROLES, "credit")
OPEN_STATUSES = ("待认领", "处理中")


# ---------------------------------------------------------------- JSON shapes

def _money(v):
    return None if v is None else str(v)


def workorder_json(o: WorkOrder) -> dict:
    return {"order_id": o.order_id, "received_at": iso(o.received_at), "channel": o.channel,
            "category": o.category, "topic": o.topic, "content": o.content, "region_code": o.region_code,
            "subject_name": o.subject_name, "about_agency_code": o.about_agency_code,
            "enforcement_complaint_type": o.enforcement_complaint_type, "status": o.status,
            "handling_unit": o.handling_unit, "due_at": iso(o.due_at)}


def inspection_json(i: Inspection) -> dict:
    return {"inspection_id": i.inspection_id, "action_code": i.action_code, "agency_code": i.agency_code,
            "joint_agency_codes": i.joint_agency_codes, "officer_cert_nos": i.officer_cert_nos,
            "target": {"uscc": i.target_uscc, "name": i.target_name}, "region_code": i.region_code,
            "started_at": iso(i.started_at), "trigger": i.trigger, "plan_id": i.plan_id, "random": i.random,
            "credit_rule_applied": i.credit_rule_applied, "risk_class": i.risk_class, "items": i.items,
            "result": i.result, "rectification_due": iso(i.rectification_due)}


_STAGES = (("filed_at", "已立案"), ("decided_at", "已作出处罚决定"), ("published_at", "已公示"),
           ("unpublished_at", "已撤下公示"), ("fulfilled_at", "已履行"), ("rectified_at", "已整改"),
           ("recorded_at", "已备案"), ("revoked_at", "已撤销"), ("changed_at", "已变更"))


def case_stage(c: Case) -> str | None:
    """The case's latest lifecycle milestone (办理阶段) by event time."""
    best = None
    for col, name in _STAGES:
        at = getattr(c, col)
        if at is not None and (best is None or at >= best[0]):
            best = (at, name)
    return best[1] if best else None


def case_json(c: Case) -> dict:
    return {
        "case_id": c.case_id, "stage": case_stage(c), "agency_code": c.agency_code,
        "party": {"type": c.party_type, "uscc": c.party_uscc, "name": c.party_name}, "matter_code": c.matter_code,
        "region_code": c.region_code, "filed_at": iso(c.filed_at), "source_refs": c.source_refs,
        "decision_no": c.decision_no, "decided_at": iso(c.decided_at), "procedure": c.procedure,
        "penalty_types": c.penalty_types, "fine_amount": _money(c.fine_amount),
        "confiscated_amount": _money(c.confiscated_amount), "amount_involved": c.amount_involved,
        "circumstance_level": c.circumstance_level, "violation_type": c.violation_type,
        "legal_basis": c.legal_basis, "first_violation": c.first_violation, "corrected": c.corrected,
        "major": c.major, "hearing_held": c.hearing_held, "complex": c.complex,
        "penalty_duration_until": iso(c.penalty_duration_until),
        "legal_reviewed_at": iso(c.legal_reviewed_at), "legal_review_passed": c.legal_review_passed,
        "extended_days": c.extended_days, "suspended_at": iso(c.suspended_at), "resumed_at": iso(c.resumed_at),
        "published_at": iso(c.published_at), "publication_channel": c.publication_channel,
        "publication_masked": c.publication_masked, "unpublished_at": iso(c.unpublished_at),
        "fulfilled_at": iso(c.fulfilled_at), "rectified_at": iso(c.rectified_at), "recorded_at": iso(c.recorded_at),
        "revoked_at": iso(c.revoked_at), "revoked_by": c.revoked_by, "changed_at": iso(c.changed_at),
        "changed_by": c.changed_by,
    }


_REPAIR_STEPS = (("publicity_started_at", "公示中"), ("publicity_ended_at", "公示结束"),
                 ("trigger_receipt_at", "已确认修复提示"), ("commitment_made_at", "已作出信用承诺"),
                 ("repair_applied_at", "已申请修复"), ("repair_accepted_at", "修复受理中"),
                 ("repair_granted_at", "已修复"), ("repair_rejected_at", "修复未通过"))


def repair_json(r: CreditRepair) -> dict:
    best = None
    for col, name in _REPAIR_STEPS:
        at = getattr(r, col)
        if at is not None and (best is None or at >= best[0]):
            best = (at, name)
    return {"decision_no": r.decision_no, "status": best[1] if best else None,
            **{col: iso(getattr(r, col)) for col, _ in _REPAIR_STEPS}}


def trigger_json(t: CreditTrigger, region_code: str | None = None) -> dict:
    b = t.body or {}
    return {"trigger_id": t.trigger_id, "code": t.code, "uscc": t.uscc, "decision_no": t.decision_no,
            "tier": b.get("tier"), "decided_at": b.get("decided_at"), "min_until": b.get("min_until"),
            "max_until": b.get("max_until"), "eligible_from": b.get("eligible_from"),
            "reasons": b.get("reasons") or [], "evidence": b.get("evidence") or [],
            "detected_at": iso(t.detected_at), "region_code": region_code}


class TriggerOut(BaseModel):
    trigger_id: str
    code: str = Field(description="CR_REPAIR_ELIGIBLE / CR_PUBLICITY_EXPIRED / CR_WITHDRAW_NOT_PUBLISHABLE / CR_WITHDRAW_REVOKED")
    uscc: str
    decision_no: str | None
    tier: str | None = Field(description="公示等级 轻微/一般/严重")
    decided_at: str | None
    min_until: str | None
    max_until: str | None
    eligible_from: str | None
    reasons: list[str]
    evidence: list[dict]
    detected_at: str
    region_code: str | None = Field(description="region of the decision's case, when the hub knows the case")


class TriggerPage(BaseModel):
    items: list[TriggerOut]
    next_page: int | None


class TimelineItem(BaseModel):
    at: str
    kind: str = Field(description="workorder, inspection, case.<event>, credit.<kind>, transfer.<kind>, "
                                  "lead.<action>, trigger.<code>")
    summary: str = Field(description="一句话摘要（中文）")
    topic: str = Field(description="evidence position: the Kafka topic …")
    partition: int
    offset: int
    ce_id: str | None
    action_code: str | None = None
    case_id: str | None = None
    lead_id: str | None = None
    trigger_id: str | None = None


class TimelinePage(BaseModel):
    uscc: str
    name: str | None
    items: list[TimelineItem]
    next_page: int | None


class EnterpriseFile(BaseModel):
    uscc: str
    name: str | None
    region_code: str | None
    inspections: list[dict]
    cases: list[dict]
    complaints: list[dict]
    credit: dict = Field(description="risk_class (latest by event time), dishonest list standing, publicity and "
                                     "repair status per decision, credit events")
    credit_triggers: list[TriggerOut]
    open_leads: list[LeadOut]


# ---------------------------------------------------------------- the enterprise file

class _File:
    """Everything the hub holds about one enterprise, limited to the principal's jurisdiction."""

    def __init__(self, s: Session, uscc: str, principal: Principal):
        self.uscc = uscc
        self.inspections = list(s.execute(select(Inspection).where(Inspection.target_uscc == uscc)
                                          .order_by(Inspection.started_at, Inspection.inspection_id)).scalars())
        self.cases = list(s.execute(select(Case).where(Case.party_uscc == uscc)
                                    .order_by(Case.filed_at, Case.case_id)).scalars())
        self.orders = list(s.execute(select(WorkOrder).where(WorkOrder.subject_uscc == uscc)
                                     .order_by(WorkOrder.received_at, WorkOrder.order_id)).scalars())
        case_ids = [c.case_id for c in self.cases]
        decisions = [c.decision_no for c in self.cases if c.decision_no]
        via_evidence = (select(LeadEvidence.lead_id).join(TimelineEntry, and_(
            TimelineEntry.topic == LeadEvidence.topic, TimelineEntry.partition == LeadEvidence.partition,
            TimelineEntry.offset == LeadEvidence.offset))
            .where(or_(TimelineEntry.uscc == uscc, TimelineEntry.case_id.in_(case_ids or [""]))))
        self.leads = list(s.execute(select(Lead).where(or_(
            and_(Lead.subject_type == "enterprise", Lead.subject_id == uscc),
            and_(Lead.subject_type == "case", Lead.subject_id.in_(case_ids or [""])),
            and_(Lead.subject_type == "decision", Lead.subject_id.in_(decisions or [""])),
            Lead.lead_id.in_(via_evidence))).order_by(Lead.detected_at, Lead.lead_id)).scalars())
        seen = principal.sees_region
        # the enterprise is where its own records are: a lead elsewhere that merely cites one of
        # its events does not open its file to that region
        own = (*self.inspections, *self.cases, *self.orders,
               *(l for l in self.leads if l.subject_type == "enterprise" and l.subject_id == uscc))
        self.visible = any(seen(r.region_code) for r in own)
        self.inspections = [i for i in self.inspections if seen(i.region_code)]
        self.cases = [c for c in self.cases if seen(c.region_code)]
        self.orders = [o for o in self.orders if seen(o.region_code)]
        self.leads = [l for l in self.leads if seen(l.region_code)]
        self.case_ids = [c.case_id for c in self.cases]
        self.region_by_case = {c.case_id: c.region_code for c in self.cases}
        self.state = s.get(CreditState, uscc)
        self.repairs = list(s.execute(select(CreditRepair).where(CreditRepair.uscc == uscc)
                                      .order_by(CreditRepair.decision_no)).scalars())
        self.credit_events = list(s.execute(select(CreditEvent).where(CreditEvent.uscc == uscc)
                                            .order_by(CreditEvent.at, CreditEvent.source_event_id)).scalars())
        self.triggers = list(s.execute(select(CreditTrigger).where(CreditTrigger.uscc == uscc)
                                       .order_by(CreditTrigger.detected_at, CreditTrigger.trigger_id)).scalars())
        if principal.region_code is not None:
            visible_decisions = {c.decision_no for c in self.cases if c.decision_no}
            self.triggers = [t for t in self.triggers if t.decision_no in visible_decisions]

    @property
    def name(self) -> str | None:
        named = [(i.started_at, i.target_name) for i in self.inspections] + \
                [(c.filed_at, c.party_name) for c in self.cases if c.filed_at and c.party_name] + \
                [(o.received_at, o.subject_name) for o in self.orders if o.subject_name]
        return max(named)[1] if named else next((l.subject_name for l in self.leads
                                                 if l.subject_type == "enterprise" and l.subject_name), None)

    @property
    def region_code(self) -> str | None:
        dated = [(i.started_at, i.region_code) for i in self.inspections] + \
                [(c.filed_at, c.region_code) for c in self.cases if c.filed_at and c.region_code] + \
                [(o.received_at, o.region_code) for o in self.orders]
        return max(dated)[1] if dated else None


def _load_file(request: Request, uscc: str, principal: Principal) -> _File:
    hub = get_hub(request)
    with hub.Session() as s:
        f = _File(s, uscc.strip().upper(), principal)
    if not f.visible:
        raise HTTPException(404, f"no records about enterprise {uscc}")
    return f


@router.get("/api/v1/enterprises/{uscc}", tags=["enterprises"], response_model=EnterpriseFile,
            summary="enterprise file (一企一档)",
            responses={404: {"description": "the hub holds no record about this enterprise in the key's jurisdiction"}})
async def enterprise(uscc: str, request: Request, principal: Principal = Depends(require(*ENTERPRISE_ROLES))):
    """Name, region, inspections, cases (lifecycle folded in), 12345 complaints, credit state
    (latest risk class by event time, dishonest list, publicity/repair status per decision),
    credit-repair triggers and open leads (待认领 / 处理中) about the enterprise — as subject, through
    its cases or decisions, or citing its events as evidence."""
    f = await run_in_threadpool(_load_file, request, uscc, principal)
    st = f.state
    return {
        "uscc": f.uscc, "name": f.name, "region_code": f.region_code,
        "inspections": [inspection_json(i) for i in f.inspections],
        "cases": [case_json(c) for c in f.cases],
        "complaints": [workorder_json(o) for o in f.orders],
        "credit": {
            "risk_class": st.risk_class if st else None, "risk_class_at": iso(st.risk_class_at) if st else None,
            "dishonest": st.dishonest if st else None, "dishonest_at": iso(st.dishonest_at) if st else None,
            "repairs": [repair_json(r) for r in f.repairs],
            "events": [{"source_event_id": e.source_event_id, "kind": e.kind, "decision_no": e.decision_no,
                        "risk_class": e.risk_class, "at": iso(e.at), "details": e.details} for e in f.credit_events],
        },
        "credit_triggers": [trigger_json(t, f.region_code) for t in f.triggers],
        "open_leads": [lead_json(l) for l in f.leads if l.status in OPEN_STATUSES],
    }


def _position(source_offset: str | None) -> tuple[str, int, int]:
    topic, partition, offset = (source_offset or "//").rsplit("/", 2)
    return topic, int(partition or 0), int(offset or 0)


@router.get("/api/v1/enterprises/{uscc}/timeline", tags=["enterprises"], response_model=TimelinePage,
            summary="every event about the enterprise in time order",
            responses={404: {"description": "the hub holds no record about this enterprise in the key's jurisdiction"}})
async def enterprise_timeline(uscc: str, request: Request, page: int = Query(1, ge=1, le=MAX_PAGE),
                              page_size: int = Query(200, ge=1, le=500),
                              principal: Principal = Depends(require(*ENTERPRISE_ROLES))):
    """Work orders, inspections, case lifecycle events, transfers, credit events, leads (raise and
    staff actions) and credit triggers, oldest first, each with a one-line Chinese summary and its
    evidence position (topic / partition / offset / ce_id)."""
    hub = get_hub(request)

    def q():
        f = _load_file(request, uscc, principal)
        with hub.Session() as s:
            rows = list(s.execute(select(TimelineEntry).where(or_(
                TimelineEntry.uscc == f.uscc, TimelineEntry.case_id.in_(f.case_ids or [""])))).scalars())
            lead_ids = [l.lead_id for l in f.leads]
            history = list(s.execute(select(LeadHistory).where(LeadHistory.lead_id.in_(lead_ids or [""]))).scalars())
        items = []
        for r in rows:
            region = r.region_code or f.region_by_case.get(r.case_id)
            if r.case_id and r.case_id not in f.region_by_case:
                continue  # a case outside the jurisdiction
            if region is not None and not principal.sees_region(region):
                continue
            items.append({"at": r.at, "kind": r.kind, "summary": r.summary, "topic": r.topic,
                          "partition": r.partition, "offset": r.offset, "ce_id": r.ce_id,
                          "action_code": r.action_code, "case_id": r.case_id})
        leads = {l.lead_id: l for l in f.leads}
        for h in history:
            lead = leads[h.lead_id]
            topic, partition, offset = _position(h.source_offset)
            what = {"raised": "线索产生", "claimed": "线索认领", "resolved": "线索办结", "dismissed": "线索驳回",
                    "reopened": "线索重新打开"}.get(h.action, h.action)
            extra = f"：{h.outcome or h.note}" if (h.outcome or h.note) else ""
            items.append({"at": h.at, "kind": f"lead.{h.action}",
                          "summary": f"{what}【{lead.rule_name} {lead.rule_code}】{extra}", "topic": topic,
                          "partition": partition, "offset": offset, "ce_id": h.action_id, "lead_id": h.lead_id})
        for t in f.triggers:
            topic, partition, offset = _position(t.source_offset)
            names = {"CR_REPAIR_ELIGIBLE": "可申请信用修复", "CR_PUBLICITY_EXPIRED": "公示期满应撤下",
                     "CR_WITHDRAW_NOT_PUBLISHABLE": "不应公示应撤下", "CR_WITHDRAW_REVOKED": "决定撤销应撤下"}
            items.append({"at": t.detected_at, "kind": f"trigger.{t.code}",
                          "summary": f"信用修复触发【{names.get(t.code, t.code)}】决定书 {t.decision_no}",
                          "topic": topic, "partition": partition, "offset": offset, "ce_id": t.trigger_id,
                          "trigger_id": t.trigger_id})
        items.sort(key=lambda i: (i["at"], i["topic"], i["partition"], i["offset"]))
        return f, items

    f, items = await run_in_threadpool(q)
    start = (page - 1) * page_size
    chunk = items[start:start + page_size]
    for i in chunk:
        i["at"] = iso(i["at"])
    return {"uscc": f.uscc, "name": f.name, "items": chunk,
            "next_page": page + 1 if len(items) > start + page_size else None}


# ---------------------------------------------------------------- credit triggers

@router.get("/api/v1/credit/triggers", tags=["credit"], response_model=TriggerPage,
            summary="credit-repair triggers (信用修复触发)")
async def credit_triggers(request: Request, uscc: str | None = None,
                          kind: str | None = Query(None, description="the trigger code, e.g. CR_REPAIR_ELIGIBLE"),
                          page: int = Query(1, ge=1, le=MAX_PAGE), page_size: int = Query(50, ge=1, le=500),
                          principal: Principal = Depends(require(*TRIGGER_ROLES))):
    """Newest first; `{"items": [...], "next_page": N|null}`. A region-scoped key sees the
    triggers whose decision belongs to a case in its region."""
    hub = get_hub(request)

    def q():
        stmt = select(CreditTrigger, Case.region_code).outerjoin(
            Case, and_(Case.decision_no == CreditTrigger.decision_no, Case.party_uscc == CreditTrigger.uscc))
        if uscc:
            stmt = stmt.where(CreditTrigger.uscc == uscc.strip().upper())
        if kind:
            stmt = stmt.where(CreditTrigger.code == kind)
        if principal.region_code:
            stmt = stmt.where(region_clause(Case.region_code, principal.region_code))
        stmt = stmt.order_by(CreditTrigger.detected_at.desc(), CreditTrigger.trigger_id) \
            .offset((page - 1) * page_size).limit(page_size + 1)
        with hub.Session() as s:
            return list(s.execute(stmt).all())

    rows = await run_in_threadpool(q)
    return {"items": [trigger_json(t, region) for t, region in rows[:page_size]],
            "next_page": page + 1 if len(rows) > page_size else None}
