"""Projector (投影器): log → SQL read models, offsets stored in the same transaction.

One handler per topic. A batch of records and the next offsets are committed together, so a
crash anywhere replays only what was not committed and nothing is counted twice. A rebuild
is "fresh tables, position 0" (pyeventsourcing's tracking-record idea).
"""
from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schemas.codec import Codec, DecodeError, header_dict
from connectors.validation import check_decoded
from streams.topics import DERIVED_TOPICS, INGRESS_TOPICS

from .models import ClockState, CreditTrigger, Lead, LeadHistory, ProjectorOffset, WorkOrder
from .schema import ensure_schema

log = logging.getLogger("zhongshu.projector")

PROJECTED_TOPICS = ("hotline.workorders", "hub.clock", *DERIVED_TOPICS)


def _t(value):
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def project_workorder(s: Session, v: dict, msg) -> None:
    row = s.get(WorkOrder, v["order_id"])
    subject = v.get("subject") or {}
    fields = dict(
        source_event_id=v["source_event_id"], received_at=_t(v["received_at"]), channel=v["channel"],
        category=v["category"], topic=v["topic"], content=v["content"], subject_name=subject.get("name"),
        subject_uscc=subject.get("uscc"), region_code=v["region_code"],
        about_agency_code=v.get("about_agency_code"),
        enforcement_complaint_type=v.get("enforcement_complaint_type"),
        complainant_token=(v.get("complainant") or {}).get("name_token"),
        handling_unit=v.get("handling_unit"), due_at=_t(v.get("due_at")), status=v["status"],
    )
    if row is None:
        s.add(WorkOrder(order_id=v["order_id"], events=1, **fields))
    else:
        for k, val in fields.items():
            setattr(row, k, val)
        row.events += 1


def project_lead(s: Session, v: dict, msg) -> None:
    row = s.get(Lead, v["lead_id"])
    subject = v.get("subject") or {}
    finding = dict(
        rule_code=v["rule_code"], rule_name=v["rule_name"], severity=v["severity"], grade=v.get("grade"),
        subject_type=subject.get("type"), subject_id=subject.get("id"), subject_name=subject.get("name"),
        agency_code=v.get("agency_code"), region_code=v.get("region_code"),
        detected_at=_t(v["detected_at"]), due_at=_t(v.get("due_at")), explanation=v["explanation"],
        evidence=v.get("evidence") or [], source_offset=f"{msg.topic}/{msg.partition}/{msg.offset}",
    )
    now = _t(v["detected_at"])
    if row is None:
        s.add(Lead(lead_id=v["lead_id"], status=v.get("status") or "待认领", version=1, updated_at=now, **finding))
        s.add(LeadHistory(lead_id=v["lead_id"], seq=1, action="raised", actor=None, at=now, version=1))
    else:
        # the rule owns the finding, staff own the status: an update never reopens or bumps a lead
        for k, val in finding.items():
            setattr(row, k, val)


def project_lead_action(s: Session, v: dict, msg) -> None:
    row = s.get(Lead, v["lead_id"])
    if row is None:
        log.warning("lead action %s for unknown lead %s", v.get("action_id"), v["lead_id"])
        return
    status = {"claimed": "处理中", "resolved": "已办结", "dismissed": "已驳回", "reopened": "待认领"}[v["action"]]
    seq = (s.execute(select(LeadHistory.seq).where(LeadHistory.lead_id == row.lead_id)
                     .order_by(LeadHistory.seq.desc()).limit(1)).scalar() or 0) + 1
    row.status, row.version, row.updated_at = status, row.version + 1, _t(v["at"])
    if v["action"] == "claimed":
        row.assignee = v.get("actor")
    row.outcome = v.get("outcome") if v["action"] in ("resolved", "dismissed") else row.outcome
    row.note = v.get("note")
    s.add(LeadHistory(lead_id=row.lead_id, seq=seq, action=v["action"], actor=v.get("actor"),
                      at=_t(v["at"]), version=row.version, note=v.get("note"), outcome=v.get("outcome")))


def project_trigger(s: Session, v: dict, msg) -> None:
    if s.get(CreditTrigger, v["trigger_id"]) is None:
        s.add(CreditTrigger(trigger_id=v["trigger_id"], code=v["code"], uscc=v["uscc"],
                            decision_no=v.get("decision_no"), body=_jsonable(v), detected_at=_t(v["detected_at"])))


def project_tick(s: Session, v: dict, msg) -> None:
    row = s.get(ClockState, 1)
    at = _t(v["at"])
    if row is None:
        s.add(ClockState(id=1, at=at))
    elif at > row.at:
        row.at = at


HANDLERS = {
    "hotline.workorders": project_workorder,
    "supervision.leads": project_lead,
    "supervision.lead-actions": project_lead_action,
    "credit.repair-triggers": project_trigger,
    "hub.clock": project_tick,
}


def _jsonable(v):
    from decimal import Decimal
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, Decimal):
        return str(v)
    return v


def load_offsets(session_factory) -> dict[tuple[str, int], int]:
    with session_factory() as s:
        return {(r.topic, r.partition): r.next_offset for r in s.execute(select(ProjectorOffset)).scalars()}


class Projector:
    def __init__(self, engine, bootstrap: str, client_kwargs: dict | None = None,
                 topics=PROJECTED_TOPICS, batch_size: int = 1000):
        self.engine = engine
        ensure_schema(engine)
        self.Session = sessionmaker(engine, expire_on_commit=False)
        self.bootstrap = bootstrap
        self.kw = client_kwargs or {}
        self.topics = topics
        self.batch_size = batch_size
        self.codec = Codec()
        self.stopping = threading.Event()

    def _consumer(self):
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                                 max_poll_records=self.batch_size, fetch_max_wait_ms=100, **self.kw)
        tps = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        stored = load_offsets(self.Session)
        for tp in tps:
            if (tp.topic, tp.partition) in stored:
                consumer.seek(tp, stored[(tp.topic, tp.partition)])
            else:
                consumer.seek_to_beginning(tp)
        return consumer

    def apply(self, records) -> int:
        """Apply one batch of ConsumerRecords in one transaction, offsets included."""
        positions: dict[tuple[str, int], int] = {}
        with self.Session() as s, s.begin():
            for msg in records:
                positions[(msg.topic, msg.partition)] = msg.offset + 1
                try:
                    name, value = self.codec.decode(msg.value)
                except DecodeError as exc:
                    # ingress poison is dead-lettered by the workers; the projector skips and says so
                    log.error("skipping undecodable %s/%s/%s: %s", msg.topic, msg.partition, msg.offset, exc)
                    continue
                if msg.topic in INGRESS_TOPICS and check_decoded(name, value):
                    # the same check the workers apply before dead-lettering: skip what they parked
                    log.error("skipping invalid %s/%s/%s (dead-lettered by the workers)", msg.topic, msg.partition, msg.offset)
                    continue
                HANDLERS[msg.topic](s, value, msg)
                s.flush()
            for (topic, partition), nxt in positions.items():
                row = s.get(ProjectorOffset, (topic, partition))
                if row is None:
                    s.add(ProjectorOffset(topic=topic, partition=partition, next_offset=nxt))
                else:
                    row.next_offset = nxt
        return len(records)

    def run(self, once: bool = False) -> None:
        consumer = self._consumer()
        try:
            while not self.stopping.is_set():
                batch = consumer.poll(timeout_ms=200, max_records=self.batch_size)
                records = sorted((m for msgs in batch.values() for m in msgs),
                                 key=lambda m: (m.timestamp, m.topic, m.partition, m.offset))
                if records:
                    self.apply(records)
                elif once:
                    return
        finally:
            consumer.close()


def main(settings) -> None:
    from .db import make_engine

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    projector = Projector(make_engine(settings.db_url), settings.bootstrap, settings.kafka_client_kwargs())
    signal.signal(signal.SIGTERM, lambda *_: projector.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: projector.stopping.set())
    log.info("projector consuming %s into %s", ", ".join(projector.topics), settings.db_url.split("@")[-1])
    projector.run()
