"""Projector (投影器): log → SQL read models, offsets stored in the same transaction.

One handler per topic turns a decoded event into rows; a batch of records, merged by primary
key, is written with dialect upserts (`INSERT … ON CONFLICT`) together with the next offsets
in one transaction, so a crash anywhere replays only what was not committed and nothing is
counted twice (pyeventsourcing's tracking record). A rebuild is "fresh tables, position 0"
(`zhongshu projections rebuild`, projections/cli.py; the fast replay loop is `_replay`).

Results do not depend on how the log was cut into batches nor on the order of different
topics, only on each partition's own order:

* every table says per column how a later row combines with the stored one (`Spec`):
  replace, keep the first, fill what is missing (coalesce), add up, take the maximum, or
  follow the newest event time (`Latest`); the same rule merges rows inside a batch and
  writes the `ON CONFLICT` clause, so one batch of 1000 and 1000 batches of one agree;
* staff actions (supervision.lead-actions) are kept in `lead_history` even when their lead
  has not been projected yet — a rebuild may read that topic first — and a lead's status is
  folded from its history whenever the lead or an action arrives (`fold_actions`).
"""
from __future__ import annotations

import json
import logging
import signal
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, Callable, Iterable

from sqlalchemy import JSON, and_, bindparam, case, delete, false, func, literal_column, select, text, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from connectors.validation import check_decoded
from schemas.codec import Codec, DecodeError
from streams.topics import DERIVED_TOPICS, INGRESS_TOPICS, REFERENCE_TOPICS
from zhongshu.config import Settings

from .models import (
    Case, ClockState, CreditEvent, CreditRepair, CreditState, CreditTrigger, Inspection, Lead, LeadEvidence,
    LeadHistory, ProjectorOffset, ReferenceSet, TimelineEntry, Transfer, WorkOrder,
)
from .schema import POSITIONAL_TABLES, PROJECTOR_LOCK, ensure_schema

log = logging.getLogger("zhongshu.projector")

PROJECTED_TOPICS = (*INGRESS_TOPICS, "hub.clock", *DERIVED_TOPICS, *REFERENCE_TOPICS)

LEAD_OPEN = "待认领"
STATUS_AFTER = {"claimed": "处理中", "resolved": "已办结", "dismissed": "已驳回", "reopened": LEAD_OPEN}


# ---------------------------------------------------------------- merge policies

REPLACE = "replace"    # the later row's value, even NULL
KEEP = "keep"          # the first row's value (insert only)
COALESCE = "coalesce"  # the later row's value where it has one
SUM = "sum"            # added up (NULL counts as 0)
MAX = "max"            # the larger (NULL ignored)


@dataclass(frozen=True)
class Latest:
    """The column follows the row whose `time_col` is newest (ties: the later row)."""

    time_col: str


class Spec:
    """How one table's rows combine: per-column policies, used in Python (inside a batch) and
    in SQL (`ON CONFLICT DO UPDATE`) alike."""

    def __init__(self, model, default=REPLACE, shared: bool = False, **policies):
        """`shared`: rows that records of every partition write (the clock, reference sets);
        a parallel rebuild upserts them always (FreshKeys)."""
        self.table = model.__table__
        self.shared = shared
        # keyed by the record's log position: a rebuild writes each key once (no upsert needed)
        self.positional = self.table.name in POSITIONAL_TABLES
        self.name = self.table.name
        self.pk = tuple(c.name for c in self.table.primary_key.columns)
        self.columns = tuple(c.name for c in self.table.columns)
        unknown = set(policies) - set(self.columns)
        if unknown:
            raise ValueError(f"{self.name}: no column(s) {sorted(unknown)}")
        self.policy = {c: policies.get(c, default) for c in self.columns if c not in self.pk}
        self.sums = tuple(c for c, p in self.policy.items() if p is SUM)
        self.json = frozenset(c.name for c in self.table.columns if isinstance(c.type, JSON))
        self._template = {c: 0 if c in self.sums else None for c in self.columns}
        self._key = itemgetter(*self.pk)
        self._values = itemgetter(*self.columns) if len(self.columns) > 1 else (lambda row: (row[self.columns[0]],))
        self._stmts: dict[str, Any] = {}

    def row(self, **values) -> dict:
        row = {**self._template, **values}
        if len(row) != len(self._template):
            raise KeyError(f"{self.name}: no column(s) {sorted(set(values) - set(self.columns))}")
        for c in self.sums:
            if row[c] is None:
                row[c] = 0
        return row

    def key(self, row: dict):
        return self._key(row)

    def merge(self, old: dict, new: dict) -> dict:
        out = dict(old)
        for c, p in self.policy.items():
            a, b = old[c], new[c]
            if p is REPLACE:
                out[c] = b
            elif p is COALESCE:
                out[c] = a if b is None else b
            elif p is SUM:
                out[c] = (a or 0) + (b or 0)
            elif p is MAX:
                out[c] = a if b is None or (a is not None and a >= b) else b
            elif p is KEEP:
                pass
            else:  # Latest
                ta, tb = old[p.time_col], new[p.time_col]
                out[c] = b if tb is not None and (ta is None or tb >= ta) else a
        return out

    # -- SQL ------------------------------------------------------------------------------------

    def set_sql(self, new: str, old: str) -> dict[str, str]:
        """`ON CONFLICT DO UPDATE SET` expressions (SQL text, PostgreSQL and SQLite alike)."""
        out = {}
        for c, p in self.policy.items():
            x, t = f'{new}."{c}"', f'{old}."{c}"'
            if p == REPLACE:
                out[c] = x
            elif p == COALESCE:
                out[c] = f"COALESCE({x}, {t})"
            elif p == SUM:
                out[c] = f"COALESCE({t}, 0) + COALESCE({x}, 0)"
            elif p == MAX:
                out[c] = f"CASE WHEN {x} IS NULL THEN {t} WHEN {t} IS NULL THEN {x} WHEN {x} > {t} THEN {x} ELSE {t} END"
            elif isinstance(p, Latest):
                xt, tt = f'{new}."{p.time_col}"', f'{old}."{p.time_col}"'
                out[c] = f"CASE WHEN {xt} IS NOT NULL AND ({tt} IS NULL OR {xt} >= {tt}) THEN {x} ELSE {t} END"
        return out

    def conflict_sql(self, new: str, old: str) -> str:
        pk = ", ".join(f'"{c}"' for c in self.pk)
        set_ = self.set_sql(new, old)
        if not set_:
            return f"ON CONFLICT ({pk}) DO NOTHING"
        return f"ON CONFLICT ({pk}) DO UPDATE SET " + ", ".join(f'"{c}" = {e}' for c, e in set_.items())

    def upsert(self, dialect: str):
        """The executemany upsert as a SQLAlchemy statement (SQLite, and small PostgreSQL writes)."""
        stmt = self._stmts.get(dialect)
        if stmt is None:
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            elif dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                raise NotImplementedError(f"projector upserts on {dialect}")
            ins = insert(self.table)
            t, x = self.table.c, ins.excluded
            set_ = {}
            for c, p in self.policy.items():
                if p == REPLACE:
                    set_[c] = x[c]
                elif p == COALESCE:
                    set_[c] = func.coalesce(x[c], t[c])
                elif p == SUM:
                    set_[c] = func.coalesce(t[c], literal_column("0")) + func.coalesce(x[c], literal_column("0"))
                elif p == MAX:
                    set_[c] = case((x[c].is_(None), t[c]), (t[c].is_(None), x[c]), (x[c] > t[c], x[c]), else_=t[c])
                elif isinstance(p, Latest):
                    tc = p.time_col
                    newer = and_(x[tc].is_not(None), (t[tc].is_(None)) | (x[tc] >= t[tc]))
                    set_[c] = case((newer, x[c]), else_=t[c])
            stmt = (ins.on_conflict_do_update(index_elements=list(self.pk), set_=set_) if set_
                    else ins.on_conflict_do_nothing(index_elements=list(self.pk)))
            self._stmts[dialect] = stmt
        return stmt

    def write(self, s: Session, rows: list[dict]) -> None:
        bind = s.get_bind()
        if s.info.get("zs_rebuild") and self.positional:
            # a parallel rebuild on PostgreSQL loads this table without its primary key (schema.rebuild_target)
            self._copy_into(s, rows, (bind.get_execution_options().get("schema_translate_map") or {}).get(None))
            return
        fresh = s.info.get("zs_fresh")
        if fresh is not None and not self.shared and bind.dialect.name == "postgresql":
            schema = (bind.get_execution_options().get("schema_translate_map") or {}).get(None)
            new, rows = fresh.split(self, rows)
            if new:
                self._copy_into(s, new, schema)
            if not rows:
                return
        if bind.dialect.name == "postgresql" and len(rows) > 20:
            self._copy_upsert(s, rows, (bind.get_execution_options().get("schema_translate_map") or {}).get(None))
        else:
            s.execute(self.upsert(bind.dialect.name), rows)

    def _copy_rows(self, cur, table: str, rows: list[dict]) -> None:
        cols = ", ".join(f'"{c}"' for c in self.columns)
        json_cols = self.json
        with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            if json_cols:
                for row in rows:
                    copy.write_row([_json_text(row[c]) if c in json_cols else row[c] for c in self.columns])
            else:
                get = self._values
                for row in rows:
                    copy.write_row(get(row))

    def _copy_into(self, s: Session, rows: list[dict], schema: str | None) -> None:
        """Rebuild only: COPY rows whose keys the table cannot hold yet (FreshKeys) straight
        into the fresh table; no staging table, no ON CONFLICT (about half the database's work)."""
        raw = s.connection().connection.driver_connection
        with raw.cursor() as cur:
            self._copy_rows(cur, f'"{schema}"."{self.name}"' if schema else f'"{self.name}"', rows)

    def _copy_upsert(self, s: Session, rows: list[dict], schema: str | None) -> None:
        """PostgreSQL: COPY the rows into a session-local staging table, then one
        `INSERT … SELECT … ON CONFLICT`. A multi-row VALUES upsert through psycopg spends its
        time splitting the query text; this path keeps a rebuild well above 20,000 events/s."""
        raw = s.connection().connection.driver_connection
        target = f'"{schema}"."{self.name}"' if schema else f'"{self.name}"'
        stage = f'"zs_stage_{self.name}"'
        cols = ", ".join(f'"{c}"' for c in self.columns)
        used = s.info.setdefault("zs_staged", set())
        with raw.cursor() as cur:
            if stage in used:  # a second write to this table in the same transaction
                cur.execute(f"DELETE FROM {stage}")
            else:
                # emptied at every commit (ON COMMIT DELETE ROWS), created once per connection
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {target}) ON COMMIT DELETE ROWS")
                used.add(stage)
            self._copy_rows(cur, stage, rows)
            cur.execute(f"INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM {stage} "
                        + self.conflict_sql("EXCLUDED", "t"))


class FreshKeys:
    """A rebuild process's record of which primary keys it may already have written, per
    table: a bitmap of key hashes. A row whose bit is clear cannot be in the fresh table yet
    (another process aside: see Projector._replay), so it is COPYed in as it is — what the
    upsert would have inserted; a set bit (an earlier write, or a hash collision) sends the row
    through the upsert, which is always right. A false positive costs speed, never a row."""

    BITS = 1 << 25  # 4 MiB a table; about 3 % of keys take the upsert needlessly at a million keys

    def __init__(self):
        self.maps: dict[str, bytearray] = {}

    def split(self, spec: "Spec", rows: list[dict]) -> tuple[list[dict], list[dict]]:
        """(rows with certainly new keys, the others); the new keys count as written from now on."""
        bits = self.maps.get(spec.name)
        if bits is None:
            bits = self.maps[spec.name] = bytearray(self.BITS >> 3)
        mask, key = self.BITS - 1, spec._key
        new, old = [], []
        for row in rows:
            h = hash(key(row)) & mask
            i, bit = h >> 3, 1 << (h & 7)
            if bits[i] & bit:
                old.append(row)
            else:
                bits[i] |= bit
                new.append(row)
        return new, old


def _json_text(value):
    return None if value is None else _json_encode(value)


_json_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # one encoder, not one per value


WORKORDERS = Spec(WorkOrder, events=SUM)
INSPECTIONS = Spec(Inspection)
CASES = Spec(Case, default=COALESCE, extended_days=SUM, events=SUM, last_event_at=MAX)
TRANSFERS = Spec(Transfer, default=KEEP)
CREDIT_EVENTS = Spec(CreditEvent, default=KEEP)
CREDIT_STATES = Spec(CreditState, risk_class=Latest("risk_class_at"), risk_class_at=Latest("risk_class_at"),
                     dishonest=Latest("dishonest_at"), dishonest_at=Latest("dishonest_at"),
                     events=SUM, last_event_at=MAX)
CREDIT_REPAIRS = Spec(CreditRepair, default=COALESCE, last_event_at=MAX)
TIMELINE = Spec(TimelineEntry, default=KEEP)
# the rule owns the finding, staff own the status: a rule update never reopens or bumps a lead
LEADS = Spec(Lead, status=KEEP, version=KEEP, assignee=KEEP, outcome=KEEP, note=KEEP, updated_at=KEEP)
LEAD_EVIDENCE = Spec(LeadEvidence, default=KEEP)
LEAD_HISTORY = Spec(LeadHistory, default=KEEP)
TRIGGERS = Spec(CreditTrigger, default=KEEP)
CLOCK = Spec(ClockState, shared=True, at=MAX)
REFERENCE = Spec(ReferenceSet, shared=True, default=Latest("version"))
OFFSETS = Spec(ProjectorOffset, shared=True)

# write order inside a batch (the history before the fold that reads it)
SPECS = (WORKORDERS, INSPECTIONS, CASES, TRANSFERS, CREDIT_EVENTS, CREDIT_STATES, CREDIT_REPAIRS, TIMELINE,
         LEADS, LEAD_HISTORY, TRIGGERS, CLOCK, REFERENCE)


class Batch:
    """The rows of one batch, merged by primary key; written by `flush` in one go."""

    def __init__(self):
        self.rows: dict[Spec, dict[tuple, dict]] = defaultdict(dict)
        self.lead_ids: set[str] = set()       # leads raised/updated or acted on in this batch
        self.evidence: dict[str, list[dict]] = {}
        self.seq: dict[str, int] = {}

    def put(self, spec: Spec, row: dict) -> None:
        rows = self.rows[spec]
        k = spec.key(row)
        old = rows.get(k)
        rows[k] = row if old is None else spec.merge(old, row)

    def flush(self, s: Session) -> None:
        if self.lead_ids:
            base = s.execute(select(func.coalesce(func.max(Lead.change_seq), 0))).scalar_one()
            self.seq = {lead_id: base + i for i, lead_id in enumerate(sorted(self.lead_ids), 1)}
            for row in self.rows.get(LEADS, {}).values():
                row["change_seq"] = self.seq[row["lead_id"]]
        for spec in SPECS:
            rows = self.rows.get(spec)
            if rows:
                spec.write(s, list(rows.values()))
            if spec is LEADS and self.evidence:
                self._write_evidence(s)
        if self.lead_ids:
            self._fold(s)

    def _write_evidence(self, s: Session) -> None:
        ids = list(self.evidence)
        for chunk in _chunks(ids, 5000):
            s.execute(delete(LeadEvidence).where(LeadEvidence.lead_id.in_(chunk)))
        rows = {(r["lead_id"], r["topic"], r["partition"], r["offset"]): r
                for entries in self.evidence.values() for r in entries}
        if rows:
            LEAD_EVIDENCE.write(s, list(rows.values()))

    def _fold(self, s: Session) -> None:
        ids = sorted(self.lead_ids)
        actions = defaultdict(list)
        for chunk in _chunks(ids, 5000):
            for h in s.execute(select(LeadHistory.lead_id, LeadHistory.action_id, LeadHistory.action,
                                      LeadHistory.actor, LeadHistory.at, LeadHistory.version, LeadHistory.note,
                                      LeadHistory.outcome)
                               .where(LeadHistory.lead_id.in_(chunk), LeadHistory.action != "raised")).mappings():
                actions[h["lead_id"]].append(dict(h))
        params = [{"b_lead_id": lead_id, **fold_actions(acts), "change_seq": self.seq[lead_id]}
                  for lead_id, acts in sorted(actions.items())]
        if params:
            t = Lead.__table__
            s.execute(update(t).where(t.c.lead_id == bindparam("b_lead_id"))
                      .values({c: bindparam(c) for c in ("status", "version", "assignee", "outcome", "note",
                                                         "updated_at", "change_seq")}),
                      params)


def fold_actions(actions: Iterable[dict]) -> dict:
    """A lead's staff-owned fields from its actions (lead_history rows), in version order.

    Pure: the same set of actions gives the same result whatever order they arrived in.
    `version` of a history row is the lead's version after that action (the raise is 1)."""
    st = {"status": LEAD_OPEN, "version": 1, "assignee": None, "outcome": None, "note": None, "updated_at": None}
    for a in sorted(actions, key=lambda a: (a["version"], a["at"], a["action_id"])):
        kind = a["action"]
        st["status"] = STATUS_AFTER[kind]
        st["version"] = max(st["version"], a["version"])
        st["note"] = a.get("note")
        st["updated_at"] = a["at"]
        if kind == "claimed":
            st["assignee"] = a.get("actor")
        elif kind in ("resolved", "dismissed"):
            st["outcome"] = a.get("outcome")
        elif kind == "reopened":
            st["assignee"], st["outcome"] = None, None
    return st


def refold_leads(s: Session) -> int:
    """Fold every acted-on lead's status from its whole history again (after a parallel
    rebuild, in case a lead and its actions were replayed by different processes)."""
    actions = defaultdict(list)
    for h in s.execute(select(LeadHistory.lead_id, LeadHistory.action_id, LeadHistory.action, LeadHistory.actor,
                              LeadHistory.at, LeadHistory.version, LeadHistory.note, LeadHistory.outcome)
                       .where(LeadHistory.action != "raised")).mappings():
        actions[h["lead_id"]].append(dict(h))
    params = [{"b_lead_id": lead_id, **fold_actions(acts)} for lead_id, acts in sorted(actions.items())]
    if params:
        t = Lead.__table__
        s.execute(update(t).where(t.c.lead_id == bindparam("b_lead_id"))
                  .values({c: bindparam(c) for c in ("status", "version", "assignee", "outcome", "note", "updated_at")}),
                  params)
    return len(params)


def _chunks(seq: list, n: int):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


# ---------------------------------------------------------------- handlers (one per topic)

def _t(value):
    if value.__class__ is str:  # the common case first: RFC 3339 text (Python 3.11 reads the "Z" itself)
        return _fromisoformat(value)
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


_fromisoformat = datetime.fromisoformat


def _d(value):
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _pos(msg) -> str:
    return f"{msg.topic}/{msg.partition}/{msg.offset}"


def _ce_id(msg) -> str | None:
    for k, v in msg.headers or ():  # a list of (str, bytes) from both Kafka clients
        if k == "ce_id":
            return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)
    return None


def _from_intake(msg) -> bool:
    """Appended by the hub's own intake (ce_source /zhongshu/intake/…), which validated the
    record with validate_record — a superset of check_decoded — before appending it, so the
    check cannot fail and is skipped: it is about half of a rebuild's Python time. Records
    other producers write straight to Kafka are still checked."""
    for k, v in msg.headers or ():
        if k == "ce_source":
            if v.__class__ is bytes:
                return v.startswith(b"/zhongshu/intake/")
            return bytes(v).startswith(b"/zhongshu/intake/") if isinstance(v, (bytes, bytearray)) \
                else str(v).startswith("/zhongshu/intake/")
    return False


_PLAIN = frozenset((str, int, bool, float, type(None)))


def _jsonable(v):
    t = v.__class__
    if t in _PLAIN:  # most values: no isinstance chain
        return v
    if t is dict:
        return {k: _jsonable(x) for k, x in v.items()}
    if t is list:
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return v


def _money(v) -> str:
    return f"{Decimal(v):,.2f}" if v is not None else "—"


def batch(s: Session) -> Batch:
    return s.info["zs_batch"]


def timeline(s: Session, msg, at, kind: str, summary: str, *, uscc=None, case_id=None, region_code=None,
             action_code=None) -> None:
    batch(s).put(TIMELINE, TIMELINE.row(topic=msg.topic, partition=msg.partition, offset=msg.offset,
                                        ce_id=_ce_id(msg), at=_t(at), kind=kind, uscc=uscc, case_id=case_id,
                                        region_code=region_code, action_code=action_code, summary=summary))


def project_workorder(s: Session, v: dict, msg) -> None:
    subject = v.get("subject") or {}
    batch(s).put(WORKORDERS, WORKORDERS.row(
        order_id=v["order_id"], source_event_id=v["source_event_id"], received_at=_t(v["received_at"]),
        channel=v["channel"], category=v["category"], topic=v["topic"], content=v["content"],
        subject_name=subject.get("name"), subject_uscc=subject.get("uscc"), region_code=v["region_code"],
        about_agency_code=v.get("about_agency_code"), enforcement_complaint_type=v.get("enforcement_complaint_type"),
        complainant_token=(v.get("complainant") or {}).get("name_token"), handling_unit=v.get("handling_unit"),
        due_at=_t(v.get("due_at")), status=v["status"], events=1, source_offset=_pos(msg)))
    about = f"，反映执法问题（{v['enforcement_complaint_type']}，涉及机关 {v['about_agency_code']}）" \
        if v.get("about_agency_code") else ""
    timeline(s, msg, v.get("occurred_at") or v["received_at"], "workorder",
             f"12345 {v['category']}工单 {v['order_id']}：{v['topic']}（{v['status']}）{about}",
             uscc=subject.get("uscc"), region_code=v["region_code"])


def project_inspection(s: Session, v: dict, msg) -> None:
    target = v.get("target") or {}
    joint = list(v.get("joint_agency_codes") or [])
    batch(s).put(INSPECTIONS, INSPECTIONS.row(
        inspection_id=v["inspection_id"], source_event_id=v["source_event_id"], action_code=v.get("action_code"),
        agency_code=v["agency_code"], joint_agency_codes=joint, joint_agency_count=len(joint),
        officer_cert_nos=list(v.get("officer_cert_nos") or []), target_uscc=target.get("uscc"),
        target_name=target.get("name"), region_code=v["region_code"], started_at=_t(v["started_at"]),
        trigger=v["trigger"], plan_id=v.get("plan_id"), random=bool(v["random"]),
        credit_rule_applied=bool(v["credit_rule_applied"]), risk_class=v.get("risk_class"),
        items=list(v.get("items") or []), result=v["result"], rectification_due=_t(v.get("rectification_due")),
        source_offset=_pos(msg)))
    parts = [f"{v['agency_code']} {v['trigger']}检查 {v['inspection_id']}"]
    if joint:
        parts.append(f"联合 {len(joint)} 个部门")
    parts.append("已亮码" if v.get("action_code") else "未亮码")
    parts.append(f"结果：{v['result']}")
    timeline(s, msg, v["started_at"], "inspection", "，".join(parts), uscc=target.get("uscc"),
             region_code=v["region_code"], action_code=v.get("action_code"))


CASE_EVENT_NAMES = {
    "filed": "立案", "decided": "作出处罚决定", "legal_reviewed": "法制审核", "extended": "延长办案期限",
    "suspended": "中止", "resumed": "恢复", "published": "公示", "unpublished": "撤下公示", "fulfilled": "履行完毕",
    "rectified": "整改完成", "recorded": "备案", "revoked": "撤销", "changed": "变更",
}


def _case_row(v: dict) -> tuple[dict, Any, str]:
    """The columns one case event fills, its time and a one-line summary."""
    ev, cid = v["event"], v["case_id"]
    name = CASE_EVENT_NAMES.get(ev, ev)
    cols: dict[str, Any] = {}
    if ev == "filed":
        party = v.get("party") or {}
        at = v["filed_at"]
        cols = dict(agency_code=v.get("agency_code"), party_type=party.get("type"), party_uscc=party.get("uscc"),
                    party_id_token=party.get("id_token"), party_name=party.get("name"),
                    matter_code=v.get("matter_code"), region_code=v.get("region_code"), filed_at=_t(at),
                    source_refs=list(v.get("source_refs") or []))
        summary = f"案件 {cid} 立案（{v.get('agency_code')}，事项 {v.get('matter_code')}）"
    elif ev == "decided":
        at = v["decided_at"]
        cols = dict(decision_no=v.get("decision_no"), decided_at=_t(at), procedure=v.get("procedure"),
                    penalty_types=list(v.get("penalty_types") or []), fine_amount=v.get("fine_amount"),
                    confiscated_amount=v.get("confiscated_amount"),
                    amount_involved=_jsonable({k: x for k, x in (v.get("amount_involved") or {}).items()
                                               if x is not None}) or None,
                    circumstance_level=v.get("circumstance_level"), violation_type=v.get("violation_type"),
                    legal_basis=v.get("legal_basis"), first_violation=v.get("first_violation"),
                    corrected=v.get("corrected"), major=v.get("major"), hearing_held=v.get("hearing_held"),
                    complex=v.get("complex"), penalty_duration_until=_d(v.get("penalty_duration_until")))
        types = [f"罚款 {_money(v['fine_amount'])} 元" if t == "罚款" and v.get("fine_amount") is not None else t
                 for t in v.get("penalty_types") or []]
        summary = f"案件 {cid} 作出处罚决定 {v.get('decision_no')}（{v.get('procedure')}程序：{'、'.join(types)}）"
    elif ev == "legal_reviewed":
        at = v["reviewed_at"]
        cols = dict(legal_reviewed_at=_t(at), legal_review_passed=v.get("passed"))
        summary = f"案件 {cid} 法制审核{'通过' if v.get('passed') else '未通过'}"
    elif ev == "extended":
        at = v["approved_at"]
        cols = dict(extended_days=v.get("days") or 0, extended_at=_t(at))
        summary = f"案件 {cid} 批准延长办案期限 {v.get('days')} 日"
    elif ev == "published":
        at = v["published_at"]
        cols = dict(published_at=_t(at), publication_channel=v.get("channel"), publication_masked=v.get("masked"))
        summary = f"案件 {cid} 处罚决定在{v.get('channel')}公示{'（已脱敏）' if v.get('masked') else ''}"
    elif ev in ("revoked", "changed"):
        at = v["at"]
        cols = {f"{ev}_at": _t(at), f"{ev}_by": v.get("by")}
        summary = f"案件 {cid} 处罚决定因{v.get('by')}{name}"
    else:  # suspended, resumed, unpublished, fulfilled, rectified, recorded
        at = v.get("at")
        cols = {f"{ev}_at": _t(at)}
        summary = f"案件 {cid} {name}"
    at = at or v.get("occurred_at")
    return cols, at, summary


def project_case(s: Session, v: dict, msg) -> None:
    cols, at, summary = _case_row(v)
    batch(s).put(CASES, CASES.row(case_id=v["case_id"], events=1, last_event_at=_t(at), **cols))
    party = v.get("party") or {}
    timeline(s, msg, at, f"case.{v['event']}", summary, uscc=party.get("uscc"), case_id=v["case_id"],
             region_code=v.get("region_code"))


TRANSFER_NAMES = {
    "report_made": "提出移送报告", "approved": "批准移送", "refused": "不批准移送", "sent": "移送公安机关",
    "accepted": "公安机关接受移送", "filed": "公安机关立案", "declined": "公安机关不予立案",
    "reconsideration_requested": "提请复议", "procuratorate_advice": "检察机关建议",
    "evidence_handed_over": "移交涉案物品",
}


def project_transfer(s: Session, v: dict, msg) -> None:
    batch(s).put(TRANSFERS, TRANSFERS.row(source_event_id=v["source_event_id"], case_id=v["case_id"], kind=v["kind"],
                                          at=_t(v["at"]), organ=v.get("organ"), source_offset=_pos(msg)))
    organ = f"（{v['organ']}）" if v.get("organ") else ""
    timeline(s, msg, v["at"], f"transfer.{v['kind']}",
             f"案件 {v['case_id']} 行刑衔接：{TRANSFER_NAMES.get(v['kind'], v['kind'])}{organ}", case_id=v["case_id"])


CREDIT_NAMES = {
    "risk_class_changed": "信用风险分类调整", "publicity_started": "开始公示", "publicity_ended": "公示结束",
    "repair_applied": "申请信用修复", "repair_accepted": "信用修复受理", "repair_granted": "信用修复通过",
    "repair_rejected": "信用修复不予通过", "commitment_made": "作出信用承诺", "dishonest_listed": "列入失信名单",
    "dishonest_removed": "移出失信名单", "trigger_receipt": "确认收到信用修复提示",
}


def project_credit_event(s: Session, v: dict, msg) -> None:
    b, kind, at = batch(s), v["kind"], _t(v["at"])
    b.put(CREDIT_EVENTS, CREDIT_EVENTS.row(
        source_event_id=v["source_event_id"], uscc=v["uscc"], kind=kind, decision_no=v.get("decision_no"),
        risk_class=v.get("risk_class"), at=at, details=_jsonable(v.get("details")), source_offset=_pos(msg)))
    state = CREDIT_STATES.row(uscc=v["uscc"], events=1, last_event_at=at)
    if kind == "risk_class_changed":
        state.update(risk_class=v.get("risk_class"), risk_class_at=at)
    elif kind in ("dishonest_listed", "dishonest_removed"):
        state.update(dishonest=kind == "dishonest_listed", dishonest_at=at)
    b.put(CREDIT_STATES, state)
    if v.get("decision_no") and f"{kind}_at" in CREDIT_REPAIRS.columns:
        b.put(CREDIT_REPAIRS, CREDIT_REPAIRS.row(uscc=v["uscc"], decision_no=v["decision_no"], last_event_at=at,
                                                 **{f"{kind}_at": at}))
    what = CREDIT_NAMES.get(kind, kind)
    if kind == "risk_class_changed":
        what += f"为 {v.get('risk_class')} 类"
    if v.get("decision_no"):
        what += f"（决定书 {v['decision_no']}）"
    timeline(s, msg, at, f"credit.{kind}", what, uscc=v["uscc"])


def project_lead(s: Session, v: dict, msg) -> None:
    b = batch(s)
    subject = v.get("subject") or {}
    detected = _t(v["detected_at"])
    details = json.loads(v["details_json"]) if v.get("details_json") else None
    b.put(LEADS, LEADS.row(
        lead_id=v["lead_id"], rule_code=v["rule_code"], rule_name=v["rule_name"], severity=v["severity"],
        grade=v.get("grade"), subject_type=subject.get("type"), subject_id=subject.get("id"),
        subject_name=subject.get("name"), agency_code=v.get("agency_code"), region_code=v.get("region_code"),
        detected_at=detected, due_at=_t(v.get("due_at")), explanation=v["explanation"],
        evidence=_jsonable(list(v.get("evidence") or [])), details=details,
        status=v.get("status") or LEAD_OPEN, version=1, updated_at=detected, source_offset=_pos(msg)))
    b.put(LEAD_HISTORY, LEAD_HISTORY.row(action_id=f"{v['lead_id']}:raised", lead_id=v["lead_id"], action="raised",
                                         at=detected, version=1, source_offset=_pos(msg)))
    b.evidence[v["lead_id"]] = [{"lead_id": v["lead_id"], "topic": e["topic"], "partition": e["partition"],
                                 "offset": e["offset"]} for e in v.get("evidence") or []]
    b.lead_ids.add(v["lead_id"])


def project_lead_action(s: Session, v: dict, msg) -> None:
    """A staff action; `version` in the event is the lead version it was made against."""
    b = batch(s)
    b.put(LEAD_HISTORY, LEAD_HISTORY.row(
        action_id=v["action_id"], lead_id=v["lead_id"], action=v["action"], actor=v.get("actor"), at=_t(v["at"]),
        version=int(v["version"]) + 1, note=v.get("note"), outcome=v.get("outcome"), source_offset=_pos(msg)))
    b.lead_ids.add(v["lead_id"])


def project_trigger(s: Session, v: dict, msg) -> None:
    """A credit-repair trigger (信用修复触发). Seam for webhook delivery: a function called here
    may add rows (e.g. an outbox entry) to `s`, committed with this batch; it must do nothing
    when `s.info.get("replay")` is true (a rebuild replays every trigger ever raised)."""
    batch(s).put(TRIGGERS, TRIGGERS.row(trigger_id=v["trigger_id"], code=v["code"], uscc=v["uscc"],
                                        decision_no=v.get("decision_no"), body=_jsonable(v),
                                        detected_at=_t(v["detected_at"]), source_offset=_pos(msg)))


def project_tick(s: Session, v: dict, msg) -> None:
    batch(s).put(CLOCK, CLOCK.row(id=1, at=_t(v["at"])))


def project_reference(s: Session, v: dict, msg) -> None:
    batch(s).put(REFERENCE, REFERENCE.row(kind=v["kind"], version=v["version"], set_at=_t(v["set_at"]),
                                          items=json.loads(v["items_json"])))


HANDLERS: dict[str, Callable[[Session, dict, Any], None]] = {
    "hotline.workorders": project_workorder,
    "enforcement.inspections": project_inspection,
    "enforcement.cases": project_case,
    "credit.events": project_credit_event,
    "justice.transfers": project_transfer,
    "supervision.leads": project_lead,
    "supervision.lead-actions": project_lead_action,
    "credit.repair-triggers": project_trigger,
    "hub.clock": project_tick,
    **{t: project_reference for t in REFERENCE_TOPICS},
}

# Credit-trigger webhooks: outbox rows written in the same transaction as the trigger's
# projection, and receipts (credit event trigger_receipt) closing deliveries.
from connectors import webhooks as _webhooks  # noqa: E402

_webhooks.install(HANDLERS)


# ---------------------------------------------------------------- the consumer loop

def load_offsets(session_factory) -> dict[tuple[str, int], int]:
    with session_factory() as s:
        return {(r.topic, r.partition): r.next_offset for r in s.execute(select(ProjectorOffset)).scalars()}


class Resync(Exception):
    """The stored offsets are not the ones this projector committed last: the tables were
    swapped under it (a rebuild). Re-read the log from the stored positions."""

    def __init__(self, stored: dict):
        super().__init__("stored projector offsets changed under the running projector")
        self.stored = stored


class Projector:
    def __init__(self, engine, bootstrap: str, client_kwargs: dict | None = None, topics=PROJECTED_TOPICS,
                 batch_size: int = 2000, migrate: bool = True, replay: bool = False,
                 fetch_min_bytes: int = Settings.fetch_min_bytes, fetch_max_wait_ms: int = Settings.fetch_max_wait_ms):
        self.engine = engine
        if migrate:
            ensure_schema(engine)
        self.Session = sessionmaker(engine, expire_on_commit=False)
        self.dialect = engine.dialect.name
        self.bootstrap = bootstrap
        self.kw = client_kwargs or {}
        self.topics = tuple(topics)
        self.batch_size = batch_size
        self.replay = replay
        # the broker answers a fetch once it has fetch_min_bytes or after fetch_max_wait_ms: with
        # records trickling in, a fetch that answers at the first byte makes a batch (a database
        # transaction of a dozen statements) of a few records, and the projector's CPU goes into
        # batches, not records (half of it at 500 records/s: bench/RESULTS.md "Session 6")
        self.fetch_min_bytes, self.fetch_max_wait_ms = fetch_min_bytes, fetch_max_wait_ms
        self.codec = Codec()
        self.stopping = threading.Event()
        self.expected: dict[tuple[str, int], int] | None = None  # offsets as this projector last committed them
        self.on_batch: Callable[[int], None] | None = None

    def _consumer(self):
        from kafka import KafkaConsumer, TopicPartition

        # check_crcs=False: kafka-python verifies CRC-32C in pure Python (about a fifth of a
        # rebuild's time); the broker checks each batch's CRC when it is produced, and TCP/TLS the wire
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                                 max_poll_records=self.batch_size, fetch_min_bytes=self.fetch_min_bytes,
                                 fetch_max_wait_ms=self.fetch_max_wait_ms, check_crcs=False,
                                 max_partition_fetch_bytes=4 * 1024 * 1024, **self.kw)
        tps = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        self._seek(consumer, load_offsets(self.Session))
        return consumer

    def _seek(self, consumer, stored: dict) -> None:
        for tp in consumer.assignment():
            if (tp.topic, tp.partition) in stored:
                consumer.seek(tp, stored[(tp.topic, tp.partition)])
            else:
                consumer.seek_to_beginning(tp)
        self.expected = dict(stored)

    def _lock(self, s: Session) -> None:
        """Keep a rebuild's swap out of this batch: PostgreSQL shares an advisory lock with it;
        SQLite takes the write lock first (a no-op UPDATE), before reading the offsets."""
        if self.dialect == "postgresql":
            s.execute(select(func.pg_advisory_xact_lock_shared(PROJECTOR_LOCK)))
            if self.replay:
                # a rebuild that dies starts again from zero: no need to wait for each batch's fsync
                s.execute(text("SET LOCAL synchronous_commit = off"))
        else:
            s.execute(update(ProjectorOffset).where(false()).values(next_offset=ProjectorOffset.next_offset))

    def apply(self, records) -> int:
        """Apply one batch of ConsumerRecords in one transaction, offsets included; records at
        positions already stored are skipped, so a redelivered batch changes nothing."""
        positions: dict[tuple[str, int], int] = {}
        with self.Session() as s, s.begin():
            self._lock(s)
            stored = {(r.topic, r.partition): r.next_offset for r in s.execute(select(ProjectorOffset)).scalars()}
            if self.expected is not None and stored != self.expected:
                raise Resync(stored)
            b = self._prepare(s, records, stored, positions)
            self._write(s, b, positions)
        if self.expected is not None:
            self.expected.update(positions)
        return len(records)

    def _prepare(self, s: Session, records, stored: dict, positions: dict) -> Batch:
        """Decode and hand each record to its topic's handler; the rows collect in a Batch."""
        s.info["replay"] = self.replay
        s.info["zs_batch"] = b = Batch()
        decode, handlers = self.codec.decode, HANDLERS
        for msg in records:
            key = (msg.topic, msg.partition)
            if msg.offset < positions.get(key, stored.get(key, 0)):
                continue
            positions[key] = msg.offset + 1
            try:
                name, value = decode(msg.value)
            except DecodeError as exc:
                # ingress poison is dead-lettered by the workers; the projector skips and says so
                log.error("skipping undecodable %s/%s/%s: %s", msg.topic, msg.partition, msg.offset, exc)
                continue
            if msg.topic in INGRESS_TOPICS and not _from_intake(msg) and check_decoded(name, value):
                # the same check the workers apply before dead-lettering: skip what they parked
                log.error("skipping invalid %s/%s/%s (dead-lettered by the workers)",
                          msg.topic, msg.partition, msg.offset)
                continue
            handlers[msg.topic](s, value, msg)
        return b

    def _write(self, s: Session, b: Batch, positions: dict) -> None:
        b.flush(s)
        if positions:
            s.execute(OFFSETS.upsert(self.dialect),
                      [{"topic": t, "partition": p, "next_offset": n} for (t, p), n in positions.items()])

    def _apply_singly(self, records) -> None:
        """Find the poison record of a failed batch: each record alone, and one that still fails
        (not for want of a database) is logged and passed over, so the projection goes on."""
        for msg in records:
            try:
                self.apply([msg])
            except (OperationalError, InterfaceError, Resync):
                raise
            except Exception:
                log.exception("skipping %s/%s/%s: it cannot be projected", msg.topic, msg.partition, msg.offset)
                self.skip(msg)

    def skip(self, msg) -> None:
        with self.Session() as s, s.begin():
            self._lock(s)
            s.execute(OFFSETS.upsert(self.dialect),
                      [{"topic": msg.topic, "partition": msg.partition, "next_offset": msg.offset + 1}])
        if self.expected is not None:
            self.expected[(msg.topic, msg.partition)] = msg.offset + 1

    def poll(self, consumer) -> list:
        batch_ = consumer.poll(timeout_ms=200, max_records=self.batch_size)
        # each partition keeps its own order; across partitions the result does not depend on it
        return [m for tp in sorted(batch_, key=lambda tp: (tp.topic, tp.partition)) for m in batch_[tp]]

    def run(self, once: bool = False, until: dict | None = None) -> None:
        """Consume until stopped; `once`: until a poll brings nothing; `until`: until every
        (topic, partition) reached the given end offset."""
        if self.replay:
            import asyncio

            return asyncio.run(self._replay(until))
        consumer = self._consumer()
        try:
            while not self.stopping.is_set():
                if until is not None and all(consumer.position(tp) >= until.get((tp.topic, tp.partition), 0)
                                             for tp in consumer.assignment()):
                    return
                records = self.poll(consumer)
                if until is not None:
                    records = [m for m in records if m.offset < until.get((m.topic, m.partition), 0)]
                if records:
                    try:
                        self.apply(records)
                    except Resync as exc:
                        log.warning("projected tables were swapped (rebuild); resuming from the stored offsets")
                        self._seek(consumer, exc.stored)
                        continue
                    except (OperationalError, InterfaceError) as exc:
                        # the database is away: nothing was committed; wait and read the batch again
                        log.error("database unavailable (%s); retrying from the stored offsets", exc.__class__.__name__)
                        self.stopping.wait(2.0)
                        self._seek(consumer, load_offsets(self.Session))
                        continue
                    except Exception:
                        log.exception("batch failed; applying its records one by one")
                        self._apply_singly(records)
                    if self.on_batch:
                        self.on_batch(len(records))
                elif once:
                    return
        finally:
            consumer.close()


    async def _replay(self, until: dict | None) -> None:
        """A rebuild into private tables, built for speed: aiokafka's consumer (its record
        parsing is compiled; kafka-python's is pure Python, ~2.5× the CPU), and a writer thread
        that commits one batch while the next is decoded (psycopg and sqlite3 release the GIL
        while the database works), so Python and the database each keep a core busy. On
        PostgreSQL rows with keys this process has not written yet are COPYed straight in
        (FreshKeys). A record that cannot be projected, or whose rows the database refuses, is
        logged and passed over, as the live projector does (the refused batch is written again
        record by record); only an unavailable database stops the rebuild."""
        import asyncio
        import queue

        from aiokafka import AIOKafkaConsumer, TopicPartition

        parts = {(t, p) for t, p in (until or {})} or set(end_offsets(self.bootstrap, self.kw, self.topics))
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                                    check_crcs=False, max_partition_fetch_bytes=4 * 1024 * 1024,
                                    **_aiokafka_kw(self.kw))
        await consumer.start()
        pending: queue.Queue = queue.Queue(maxsize=2)
        failure: list[BaseException] = []

        def write(b: Batch, positions: dict, direct: bool) -> None:
            with self.Session() as s, s.begin():
                self._lock(s)
                s.info["zs_rebuild"] = self.dialect == "postgresql"
                s.info["zs_fresh"] = fresh_keys if direct else None
                self._write(s, b, positions)

        def writer():
            while True:
                item = pending.get()
                if item is None:
                    return
                b, positions, records = item
                direct = fresh_keys is not None
                for attempt in range(5):
                    try:
                        write(b, positions, direct)
                        break
                    except Exception as exc:
                        # parallel rebuild processes share a few rows (the clock, a work order whose
                        # key moved): a deadlock rolls one batch back, which is simply written again;
                        # a key another process wrote first fails a direct COPY: upsert the batch
                        if attempt < 4 and _transient(exc):
                            log.warning("rebuild batch rolled back (%s); writing it again", _sqlstate(exc))
                            continue
                        if attempt < 4 and direct and _sqlstate(exc) == "23505":
                            log.info("a key of this batch was written by another rebuild process; upserting it")
                            direct = False
                            continue
                        if _unavailable(exc):
                            failure.append(exc)
                            return
                        # the database refused a row: find its record and pass over it, as the live
                        # projector does (_apply_singly)
                        log.exception("rebuild batch failed; writing its records one by one")
                        try:
                            self._write_singly(records, write)
                        except BaseException as exc2:
                            failure.append(exc2)
                            return
                        break
                    except BaseException as exc:  # handed to the reading side, which stops
                        failure.append(exc)
                        return
                if self.on_batch:
                    self.on_batch(len(records))

        done = load_offsets(self.Session)
        # fresh tables (none of our partitions stored yet): rows with keys this process has not
        # written are COPYed straight in (PostgreSQL)
        fresh_keys = FreshKeys() if self.dialect == "postgresql" and not parts & set(done) else None
        thread = threading.Thread(target=writer, name="projector-writer", daemon=True)
        thread.start()
        try:
            tps = [TopicPartition(t, p) for t, p in sorted(parts) if t in self.topics]
            consumer.assign(tps)
            for tp in tps:
                if (tp.topic, tp.partition) in done:
                    consumer.seek(tp, done[(tp.topic, tp.partition)])
            fresh = [tp for tp in tps if (tp.topic, tp.partition) not in done]
            if fresh:
                await consumer.seek_to_beginning(*fresh)
            while not self.stopping.is_set() and not failure:
                if until is not None:
                    positions_now = [await consumer.position(tp) for tp in tps]
                    if all(pos >= until.get((tp.topic, tp.partition), 0) for tp, pos in zip(tps, positions_now)):
                        break
                fetched = await consumer.getmany(timeout_ms=200, max_records=self.batch_size)
                records = [m for tp in sorted(fetched, key=lambda tp: (tp.topic, tp.partition)) for m in fetched[tp]]
                if until is not None:
                    records = [m for m in records if m.offset < until.get((m.topic, m.partition), 0)]
                if not records:
                    continue
                b, positions = self._prepare_forgiving(records, done)
                done.update(positions)
                while not failure:
                    try:
                        pending.put((b, positions, records), timeout=0.5)
                        break
                    except queue.Full:
                        await asyncio.sleep(0)
        finally:
            pending.put(None)
            await asyncio.get_running_loop().run_in_executor(None, thread.join)
            await consumer.stop()
        if failure:
            raise failure[0]
        self.expected = done

    def _write_singly(self, records, write: Callable[[Batch, dict, bool], None]) -> None:
        """A rebuild batch the database refused, record by record (upserts only); a record whose
        rows are still refused is logged and passed over, its offset stored."""
        for msg in records:
            for attempt in range(5):
                positions: dict = {}
                prepared = Session(self.engine)
                try:
                    b = self._prepare(prepared, [msg], {}, positions)
                    write(b, positions, False)
                    break
                except Exception as exc:
                    if attempt < 4 and _transient(exc):
                        continue
                    if _unavailable(exc):
                        raise
                    log.exception("skipping %s/%s/%s: it cannot be projected", msg.topic, msg.partition, msg.offset)
                    self.skip(msg)
                    break
                finally:
                    prepared.close()

    def _prepare_forgiving(self, records, done: dict) -> tuple[Batch, dict]:
        """_prepare without a transaction; a batch with a record that raises is prepared again
        record by record and that record is passed over (logged)."""
        positions: dict = {}
        prepared = Session(self.engine)
        try:
            try:
                return self._prepare(prepared, records, done, positions), positions
            except Exception:
                log.exception("batch failed; preparing its records one by one")
            b, positions = Batch(), {}
            for msg in records:
                one: dict = {}
                try:
                    single = self._prepare(prepared, [msg], done, one)
                except Exception:
                    log.exception("skipping %s/%s/%s: it cannot be projected", msg.topic, msg.partition, msg.offset)
                    positions[(msg.topic, msg.partition)] = msg.offset + 1
                    continue
                _merge_batches(b, single)
                positions.update(one)
            return b, positions
        finally:
            prepared.close()


def _sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL error code, from a SQLAlchemy error or a raw psycopg one (the COPY paths)."""
    return getattr(getattr(exc, "orig", exc), "sqlstate", None)


def _unavailable(exc: BaseException) -> bool:
    """The database is away (not: it refused a row), from SQLAlchemy or raw psycopg (COPY paths)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    try:
        import psycopg
    except ImportError:  # SQLite only
        return False
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


def _transient(exc: BaseException) -> bool:
    return _sqlstate(exc) in ("40P01", "40001")  # deadlock, serialization


def _aiokafka_kw(kw: dict) -> dict:
    """The kafka-python style client settings as aiokafka takes them (TLS as an SSL context)."""
    try:
        from zhongshu.config import aiokafka_kwargs
    except ImportError:
        return dict(kw)
    return aiokafka_kwargs(kw)


def _merge_batches(into: Batch, other: Batch) -> None:
    for spec, rows in other.rows.items():
        for row in rows.values():
            into.put(spec, row)
    into.lead_ids |= other.lead_ids
    into.evidence.update(other.evidence)


def end_offsets(bootstrap: str, client_kwargs: dict | None = None, topics=PROJECTED_TOPICS) -> dict:
    """(topic, partition) -> (beginning, end) offsets of the projected topics right now."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             **(client_kwargs or {}))
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        begins, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): (begins[tp], ends[tp]) for tp in tps}
    finally:
        consumer.close()


def main(settings) -> None:
    from .db import make_engine

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    projector = Projector(make_engine(settings.db_url), settings.bootstrap, settings.kafka_client_kwargs(),
                          fetch_min_bytes=settings.fetch_min_bytes, fetch_max_wait_ms=settings.fetch_max_wait_ms)
    signal.signal(signal.SIGTERM, lambda *_: projector.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: projector.stopping.set())
    log.info("projector consuming %s into %s", ", ".join(projector.topics), settings.db_url.split("@")[-1])
    projector.run()
