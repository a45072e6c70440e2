"""Read models (读模型) and the hub's own bookkeeping tables, SQLAlchemy 2 declarative.

Column names follow the data dictionary (DESIGN.md §6): the Avro field, the SQL column and
the API field agree.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .db import UTCDateTime


class Base(DeclarativeBase):
    pass


class ProjectorOffset(Base):
    """Next offset to read per topic partition, written in the same transaction as the rows."""

    __tablename__ = "projector_offsets"
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


class WorkOrder(Base):
    """12345 work orders (工单) as last reported; complainant identity only as tokens."""

    __tablename__ = "workorders"
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


class Lead(Base):
    """The lead queue (监督线索). Rule output owns the finding; staff actions own status/version."""

    __tablename__ = "leads"
    lead_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rule_code: Mapped[str] = mapped_column(String(40), index=True)
    rule_name: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(10))
    grade: Mapped[str | None] = mapped_column(String(1))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(200), index=True)
    subject_name: Mapped[str | None] = mapped_column(String(500))
    agency_code: Mapped[str | None] = mapped_column(String(18), index=True)
    region_code: Mapped[str | None] = mapped_column(String(6), index=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    explanation: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list] = mapped_column(JSON)
    details: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    assignee: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_offset: Mapped[str] = mapped_column(String(60))  # topic/partition/offset of the last raise


class LeadHistory(Base):
    __tablename__ = "lead_history"
    lead_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)


class CreditTrigger(Base):
    __tablename__ = "credit_triggers"
    trigger_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    decision_no: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[dict] = mapped_column(JSON)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClockState(Base):
    __tablename__ = "clock_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


Index("ix_leads_queue", Lead.status, Lead.detected_at)
