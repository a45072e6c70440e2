"""Intake (接入): validate, tokenise, deduplicate by source_event_id, append to Kafka.

Framework-free so the HTTP routes, the file importer and the pull connector share it.
A record is appended at most once per source_event_id: the ledger row is claimed in the
database (unique key) before the append, and released again if the append fails, so a
retry after a broker outage is accepted, and a concurrent duplicate answers 200.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from projections.models import IntakeLedger
from schemas.codec import CE_TYPES, TOPIC_SCHEMAS, cloudevent_headers

from .validation import Problem, ValidationFailed, validate_record

# route name -> (kind, topic, ce_source)
SOURCES: dict[str, tuple[str, str, str]] = {
    "hotline/workorders": ("workorder", "hotline.workorders", "12345"),
    "enforcement/inspections": ("inspection", "enforcement.inspections", "enforcement"),
    "enforcement/cases": ("case", "enforcement.cases", "enforcement"),
    "credit/events": ("credit", "credit.events", "credit"),
    "justice/transfers": ("transfer", "justice.transfers", "justice"),
}


def record_key(kind: str, rec: dict) -> str:
    """The correlation subject each ingress topic is keyed by (DESIGN.md §5)."""
    if kind == "workorder":
        return (rec.get("subject") or {}).get("uscc") or rec["order_id"]
    if kind == "inspection":
        return rec["target"]["uscc"]
    if kind in ("case", "transfer"):
        return rec["case_id"]
    if kind == "credit":
        return rec["uscc"]
    raise KeyError(kind)


def record_time(kind: str, rec: dict) -> str:
    for name in ("occurred_at", "received_at", "started_at", "filed_at", "decided_at",
                 "published_at", "reviewed_at", "approved_at", "at"):
        if rec.get(name):
            return rec[name]
    return datetime.now(timezone.utc).isoformat()  # only for ce_time, never for a rule


class IntakeUnavailable(RuntimeError):
    """The broker did not take the record; nothing was appended; the caller may retry."""


@dataclass
class IntakeResult:
    accepted: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)


def validate_batch(kind: str, items: list[Any], tokenise) -> tuple[list[dict | None], list[Problem]]:
    records: list[dict | None] = []
    problems: list[Problem] = []
    for i, item in enumerate(items):
        try:
            records.append(validate_record(kind, item, tokenise=tokenise))
        except ValidationFailed as exc:
            records.append(None)
            prefix = f"[{i}]" if len(items) > 1 else ""
            problems.extend(
                Problem(field=f"{prefix}.{p.field}" if prefix and p.field else (prefix or p.field),
                        value=p.value, expected=p.expected)
                for p in exc.problems
            )
    return records, problems


class IntakeService:
    def __init__(self, session_factory, producer, codec):
        self.session_factory = session_factory
        self.producer = producer
        self.codec = codec

    def _claim(self, kind: str, topic: str, rec: dict, key: str) -> bool:
        with self.session_factory() as s, s.begin():
            try:
                s.add(IntakeLedger(kind=kind, source_event_id=rec["source_event_id"], topic=topic,
                                   key=key, accepted_at=datetime.now(timezone.utc)))
                s.flush()
                return True
            except IntegrityError:
                return False

    def _release(self, kind: str, sid: str):
        with self.session_factory() as s, s.begin():
            s.execute(delete(IntakeLedger).where(IntakeLedger.kind == kind, IntakeLedger.source_event_id == sid))

    def _record_position(self, kind: str, sid: str, partition: int, offset: int):
        with self.session_factory() as s, s.begin():
            s.execute(update(IntakeLedger)
                      .where(IntakeLedger.kind == kind, IntakeLedger.source_event_id == sid)
                      .values(partition=partition, offset=offset))

    def lookup(self, kind: str, sid: str) -> IntakeLedger | None:
        with self.session_factory() as s:
            return s.get(IntakeLedger, (kind, sid))

    async def append(self, route: str, records: list[dict], run_sync) -> IntakeResult:
        """Append validated records; `run_sync` runs blocking DB calls off the event loop."""
        kind, topic, source = SOURCES[route]
        schema = TOPIC_SCHEMAS[topic]
        result = IntakeResult()
        for rec in records:
            sid = rec["source_event_id"]
            key = record_key(kind, rec)
            if not await run_sync(self._claim, kind, topic, rec, key):
                prev = await run_sync(self.lookup, kind, sid)
                result.duplicates.append({"source_event_id": sid, "ce_id": sid, "topic": topic,
                                          "partition": prev.partition if prev else None,
                                          "offset": prev.offset if prev else None})
                continue
            try:
                value = self.codec.encode(schema, rec)
                headers = cloudevent_headers(ce_id=sid, source=f"/zhongshu/intake/{source}",
                                             type=CE_TYPES[topic], time=record_time(kind, rec), subject=key)
                meta = await self.producer.send_and_wait(topic, value=value, key=key.encode(), headers=headers)
            except Exception as exc:
                await run_sync(self._release, kind, sid)
                raise IntakeUnavailable(f"broker did not accept {sid}: {exc}") from exc
            await run_sync(self._record_position, kind, sid, meta.partition, meta.offset)
            result.accepted.append({"source_event_id": sid, "ce_id": sid, "topic": topic,
                                    "partition": meta.partition, "offset": meta.offset})
        return result
