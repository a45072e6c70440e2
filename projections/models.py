"""Read models (读模型) and the hub's own bookkeeping tables, SQLAlchemy 2 declarative.

Column names follow the data dictionary (DESIGN.md §6): the Avro field, the SQL column and
the API field agree. The schema is created by the Alembic migrations in
`projections/migrations/` (`ensure_schema` runs `upgrade head`); a test checks that
autogenerate finds no difference between these models and the migrations.

Two kinds of tables live here:

* **projected** tables (``info={"projected": True}``) hold only what the projector derived
  from the log, plus `projector_offsets` (the log positions they reflect). `zhongshu
  projections rebuild` replays the log into fresh copies of exactly these tables and swaps
  them in; no other table may hold a foreign key to them.
* **own state** (api_keys, intake_ledger, lead_claims, and other engineers' tables) is not
  derived from the log and survives a rebuild untouched.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, Date, Index, Integer, MetaData, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .db import UTCDateTime

# Deterministic constraint names, so a rebuild's fresh tables carry the same names as the
# migrated ones and Alembic's autogenerate compares like with like.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PROJECTED = {"info": {"projected": True}}

# Python None is SQL NULL (not the JSON value null), so "fill what is missing" upserts work
JSON_ = JSON(none_as_null=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# ---------------------------------------------------------------- bookkeeping (own state)

class ProjectorOffset(Base):
    """Next offset to read per topic partition, written in the same transaction as the rows."""

    __tablename__ = "projector_offsets"
    __table_args__ = PROJECTED
    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)


class ApiKey(Base):
    __tablename__ = "api_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the secret; the secret is never stored
    role: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[str | None] = mapped_column(String(6))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IntakeLedger(Base):
    """Every accepted source_event_id (ce_id): a repeat answers 200 and appends nothing."""

    __tablename__ = "intake_ledger"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    source_event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    topic: Mapped[str] = mapped_column(String(200))
    partition: Mapped[int | None] = mapped_column(Integer)
    offset: Mapped[int | None] = mapped_column(BigInteger)
    key: Mapped[str | None] = mapped_column(String(200))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LeadClaim(Base):
    """The API's concurrency guard for staff actions (线索处置并发控制), not derived from the log.

    A staff action first moves this row from the version it acted on to the next one with a
    conditional upsert, holds that row lock while the LeadAction is appended to Kafka, and
    commits only once the broker took it; so of two concurrent claims at the same version
    exactly one is appended. The projection's `leads.version` follows from the log; the
    effective version of a lead is the larger of the two.
    """

    __tablename__ = "lead_claims"
    lead_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)          # version the lead reached with this action
    status: Mapped[str] = mapped_column(String(20))
    action_id: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# ---------------------------------------------------------------- ingress facts (projected)

class WorkOrder(Base):
    """12345 work orders (工单) as last reported; complainant identity only as tokens."""

    __tablename__ = "workorders"
    __table_args__ = PROJECTED
    order_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source_event_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str] = mapped_column(String(500))
    content: Mapped[str] = mapped_column(Text)
    subject_name: Mapped[str | None] = mapped_column(String(500))
    subject_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    about_agency_code: Mapped[str | None] = mapped_column(String(18))
    enforcement_complaint_type: Mapped[str | None] = mapped_column(String(20))
    complainant_token: Mapped[str | None] = mapped_column(String(64))
    handling_unit: Mapped[str | None] = mapped_column(String(500))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    events: Mapped[int] = mapped_column(Integer, default=1)
    source_offset: Mapped[str] = mapped_column(String(260))  # topic/partition/offset of the last event


class Inspection(Base):
    """行政检查 records (enforcement.inspections), one row per inspection_id."""

    __tablename__ = "inspections"
    __table_args__ = PROJECTED
    inspection_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source_event_id: Mapped[str] = mapped_column(String(200))
    action_code: Mapped[str | None] = mapped_column(String(200))
    agency_code: Mapped[str] = mapped_column(String(18), index=True)
    joint_agency_codes: Mapped[list] = mapped_column(JSON_)
    joint_agency_count: Mapped[int] = mapped_column(Integer)   # len(joint_agency_codes): 综合查一次 in SQL
    officer_cert_nos: Mapped[list] = mapped_column(JSON_)
    target_uscc: Mapped[str] = mapped_column(String(18), index=True)
    target_name: Mapped[str] = mapped_column(String(500))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    trigger: Mapped[str] = mapped_column(String(20))
    plan_id: Mapped[str | None] = mapped_column(String(200))
    random: Mapped[bool] = mapped_column(Boolean)
    credit_rule_applied: Mapped[bool] = mapped_column(Boolean)
    risk_class: Mapped[str | None] = mapped_column(String(1))
    items: Mapped[list] = mapped_column(JSON_)
    result: Mapped[str] = mapped_column(String(20))
    rectification_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_offset: Mapped[str] = mapped_column(String(260))


class Case(Base):
    """行政处罚 cases, one row per case_id with its lifecycle folded in (enforcement.cases).

    Each lifecycle event fills its own columns; a column no event carries stays NULL, so the
    row does not depend on how the events were split into projector batches.
    """

    __tablename__ = "cases"
    __table_args__ = PROJECTED
    case_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # filed (立案)
    agency_code: Mapped[str | None] = mapped_column(String(18), index=True)
    party_type: Mapped[str | None] = mapped_column(String(20))
    party_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    party_id_token: Mapped[str | None] = mapped_column(String(100))
    party_name: Mapped[str | None] = mapped_column(String(500))
    matter_code: Mapped[str | None] = mapped_column(String(200))
    region_code: Mapped[str | None] = mapped_column(String(6), index=True)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_refs: Mapped[list | None] = mapped_column(JSON_)
    # decided (作出处罚决定)
    decision_no: Mapped[str | None] = mapped_column(String(200), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    procedure: Mapped[str | None] = mapped_column(String(10))
    penalty_types: Mapped[list | None] = mapped_column(JSON_)
    fine_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    confiscated_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_involved: Mapped[dict | None] = mapped_column(JSON_)   # yuan as decimal strings
    circumstance_level: Mapped[str | None] = mapped_column(String(10))
    violation_type: Mapped[str | None] = mapped_column(String(500))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    first_violation: Mapped[bool | None] = mapped_column(Boolean)
    corrected: Mapped[bool | None] = mapped_column(Boolean)
    major: Mapped[bool | None] = mapped_column(Boolean)
    hearing_held: Mapped[bool | None] = mapped_column(Boolean)
    complex: Mapped[bool | None] = mapped_column(Boolean)
    penalty_duration_until: Mapped[date | None] = mapped_column(Date)
    # later lifecycle events
    legal_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legal_review_passed: Mapped[bool | None] = mapped_column(Boolean)
    extended_days: Mapped[int] = mapped_column(Integer, default=0)   # sum of approved extensions
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    publication_channel: Mapped[str | None] = mapped_column(String(40))
    publication_masked: Mapped[bool | None] = mapped_column(Boolean)
    unpublished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(20))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_by: Mapped[str | None] = mapped_column(String(20))
    events: Mapped[int] = mapped_column(Integer, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Transfer(Base):
    """行刑衔接 signals (justice.transfers), one row per signal."""

    __tablename__ = "transfers"
    __table_args__ = PROJECTED
    source_event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    organ: Mapped[str | None] = mapped_column(String(500))
    source_offset: Mapped[str] = mapped_column(String(260))


class CreditEvent(Base):
    """信用事件 as received (credit.events), one row per event."""

    __tablename__ = "credit_events"
    __table_args__ = PROJECTED
    source_event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(64), index=True)  # a natural person is keyed by an id_token (tk_…)
    kind: Mapped[str] = mapped_column(String(40))
    decision_no: Mapped[str | None] = mapped_column(String(200), index=True)
    risk_class: Mapped[str | None] = mapped_column(String(1))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[dict | None] = mapped_column(JSON_)
    source_offset: Mapped[str] = mapped_column(String(260))


class CreditState(Base):
    """Credit state per enterprise (信用状态): the latest risk class and dishonest-list standing,
    "latest" by the events' own time, not by arrival."""

    __tablename__ = "credit_states"
    __table_args__ = PROJECTED
    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    risk_class: Mapped[str | None] = mapped_column(String(1))
    risk_class_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dishonest: Mapped[bool | None] = mapped_column(Boolean)
    dishonest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    events: Mapped[int] = mapped_column(Integer, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CreditRepair(Base):
    """Publicity and credit-repair status per decision (信用修复状态)."""

    __tablename__ = "credit_repairs"
    __table_args__ = PROJECTED
    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    decision_no: Mapped[str] = mapped_column(String(200), primary_key=True)
    publicity_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    publicity_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repair_applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repair_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repair_granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repair_rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    commitment_made_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger_receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TimelineEntry(Base):
    """Every event about an enterprise (一企一档 timeline) with its one-line Chinese summary
    and its position in the log. Case and transfer events carry `case_id` only: they are
    joined to the enterprise through `cases.party_uscc` when read, so the order in which the
    case's filing and its later events were projected does not matter."""

    __tablename__ = "timeline"
    __table_args__ = PROJECTED
    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ce_id: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(60))
    uscc: Mapped[str | None] = mapped_column(String(64), index=True)  # a natural person is keyed by an id_token (tk_…)
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    region_code: Mapped[str | None] = mapped_column(String(6))
    action_code: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)


# ---------------------------------------------------------------- derived (projected)

class Lead(Base):
    """The lead queue (监督线索). Rule output owns the finding; staff actions own status/version."""

    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_queue", "status", "detected_at"), PROJECTED)
    lead_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rule_code: Mapped[str] = mapped_column(String(40), index=True)
    rule_name: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(10))
    grade: Mapped[str | None] = mapped_column(String(1), index=True)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(200), index=True)
    subject_name: Mapped[str | None] = mapped_column(String(500))
    agency_code: Mapped[str | None] = mapped_column(String(18), index=True)
    region_code: Mapped[str | None] = mapped_column(String(6), index=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    explanation: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list] = mapped_column(JSON_)
    details: Mapped[dict | None] = mapped_column(JSON_)
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    assignee: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_offset: Mapped[str] = mapped_column(String(260))  # topic/partition/offset of the last raise
    # Projection-local change counter for GET /api/v1/leads/stream (SSE ids). It counts commits
    # of this database, so it is the one column a rebuild does not reproduce: the swap shifts
    # the rebuilt numbers above the old ones, and streams re-announce every lead once.
    change_seq: Mapped[int] = mapped_column(BigInteger, index=True)


class LeadHistory(Base):
    """The lead's raise and every staff action on it (from supervision.lead-actions).

    Actions are kept here even when their lead has not been projected yet (a rebuild can read
    supervision.lead-actions ahead of supervision.leads); the lead's status is folded from
    these rows whenever either side arrives, so the result does not depend on that order.
    `version` is the lead's version after the action (the raise is version 1).
    """

    __tablename__ = "lead_history"
    __table_args__ = PROJECTED
    action_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    source_offset: Mapped[str | None] = mapped_column(String(260))


class LeadEvidence(Base):
    """The log positions a lead cites (its evidence chain), one row per event, replaced with
    each raise: an enterprise's file finds the leads about its events through this table."""

    __tablename__ = "lead_evidence"
    __table_args__ = (Index("ix_lead_evidence_position", "topic", "partition", "offset"), PROJECTED)
    lead_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class CreditTrigger(Base):
    """Credit-repair triggers (credit.repair-triggers); `body` is the whole Avro record."""

    __tablename__ = "credit_triggers"
    __table_args__ = PROJECTED
    trigger_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    uscc: Mapped[str] = mapped_column(String(64), index=True)  # a natural person is keyed by an id_token (tk_…)
    decision_no: Mapped[str | None] = mapped_column(String(200), index=True)
    body: Mapped[dict] = mapped_column(JSON_)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    source_offset: Mapped[str] = mapped_column(String(260))


class ClockState(Base):
    __tablename__ = "clock_state"
    __table_args__ = PROJECTED
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReferenceSet(Base):
    """The current version of each reference set (reference.<kind>), e.g. holidays for the
    working-day arithmetic of the indicators and agency names for display."""

    __tablename__ = "reference_sets"
    __table_args__ = PROJECTED
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    items: Mapped[list] = mapped_column(JSON_)


PROJECTED_TABLES: tuple[str, ...] = tuple(
    t.name for t in Base.metadata.sorted_tables if t.info.get("projected")
)
