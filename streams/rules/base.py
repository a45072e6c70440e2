"""Shared vocabulary of the pure rules (纯规则): facts in, leads out, no I/O.

Every rule module in this package exposes

    INPUTS: frozenset[str]        # fact kinds it consumes ("workorder", "inspection", "case",
                                  # "credit", "transfer"); ticks always reach it
    CODES: tuple[str, ...]        # the RULES.md codes it can raise
    def key(fact) -> str | None   # the correlation subject the fact belongs to (None: ignore)
    def evaluate(state, item, config) -> (state, outputs)

`state` is a JSON-serialisable dict for one subject key (the Faust table value), `item` a
`Fact` or a `Tick`, `config` a `RuleConfig`. Rules never read the wall clock: time is the
event's own time or the tick's `at`.
"""
from __future__ import annotations

import hashlib
import json

import orjson
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Mapping

CST = timezone(timedelta(hours=8), "+08:00")  # 北京时间: deadlines are counted in China time

LEAD_STATUS_OPEN = "待认领"


@dataclass(frozen=True)
class Fact:
    """One decoded input event and where it sits in the log (the evidence chain needs both).

    `case` carries the case's `filed` record (agency_code, party, region_code, matter_code, …)
    for case events, attached by the worker that keys cases by case_id, so rules keyed by
    enterprise or agency can use later lifecycle events that do not repeat those fields.

    `ts` is the append timestamp (seconds) of the original input record (for a forwarded case
    fact: of the case record, not of the forward), None where unknown. It orders a fact against
    the ticks' `ts` (the marker protocol's watermark); it is never part of evidence.
    """

    kind: str
    value: Mapping[str, Any]
    topic: str = ""
    partition: int = 0
    offset: int = -1
    ce_id: str = ""
    case: Mapping[str, Any] | None = None
    ts: float | None = None

    def evidence(self, summary: str) -> dict:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "ce_id": self.ce_id,
            "action_code": self.value.get("action_code"),
            "summary": summary,
        }


@dataclass(frozen=True)
class Tick:
    """A recorded clock tick (时钟事件) from hub.clock; deadlines are judged only on these.

    `ts` is the append timestamp (seconds) of the tick record on hub.clock, None where unknown:
    when a key space applies the tick, every input whose own `ts` is before it has been read."""

    at: datetime
    ts: float | None = None


@dataclass
class RuleConfig:
    """Thresholds (from streams/rules.toml) plus the current reference data sets."""

    thresholds: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, list[dict]] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def get(self, rule_code: str, name: str, default: Any = None) -> Any:
        table = self.thresholds.get(rule_code)
        if table is None and "." in rule_code:
            # a dotted section ("credit.order36") is a nested TOML table: [credit.order36]
            table = self.thresholds
            for part in rule_code.split("."):
                table = table.get(part) if isinstance(table, dict) else None
        return (table if isinstance(table, dict) else {}).get(name, default)

    def ref(self, kind: str) -> list[dict]:
        return self.reference.get(kind, [])

    def memo(self, name: str, build):
        """A value derived from this configuration, built once: reference sets hold thousands of
        rows (every officer of a city) and rules look them up on every event."""
        try:
            return self._memo[name]
        except KeyError:
            value = self._memo[name] = build()
            return value

    def first_by(self, kind: str, column: str) -> dict:
        """Rows of a reference set by one column, the first row of a value winning (as a scan
        that stops at the first match)."""
        def build():
            out: dict = {}
            for row in self.ref(kind):
                out.setdefault(row.get(column), row)
            return out
        return self.memo(f"first_by:{kind}:{column}", build)


def parse_time(value: str | datetime) -> datetime:
    """RFC 3339 with an explicit offset; intake already rejected anything else."""
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return dt


def local_date(value: str | datetime) -> date:
    """The calendar day in China time: deadlines in days are counted on this date."""
    return parse_time(value).astimezone(CST).date()


def end_of_day(d: date) -> datetime:
    """The last instant of day `d` in China time: an act on the due day is still on time."""
    return datetime.combine(d + timedelta(days=1), time(0), CST) - timedelta(microseconds=1)


def iso(dt: datetime | date) -> str:
    return dt.isoformat()


def money(value: Any) -> Decimal | None:
    """Yuan as Decimal; the codec already turns Avro decimals and intake strings into Decimal."""
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def make_id(prefix: str, *parts: Any) -> str:
    """Deterministic id from the facts that define a finding: a replay yields the same id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}-{digest[:24]}"


def make_lead(
    *,
    rule_code: str,
    rule_name: str,
    severity: str,
    subject_type: str,
    subject_id: str,
    subject_name: str | None,
    finding_key: str,
    agency_code: str | None,
    region_code: str | None,
    detected_at: str,
    evidence: list[dict],
    explanation: str,
    due_at: str | None = None,
) -> dict:
    """A lead (监督线索) as it goes onto supervision.leads. `finding_key` names the facts that
    make this finding, so the same facts always give the same lead_id."""
    return {
        "lead_id": make_id("LD", rule_code, subject_type, subject_id, finding_key),
        "rule_code": rule_code,
        "rule_name": rule_name,
        "severity": severity,
        "subject": {"type": subject_type, "id": subject_id, "name": subject_name},
        "agency_code": agency_code,
        "region_code": region_code,
        "detected_at": detected_at,
        "evidence": evidence,
        "explanation": explanation,
        "due_at": due_at,
        "status": LEAD_STATUS_OPEN,
    }


# ---- shared by the stateful rule modules: event time, idempotency, lead bookkeeping ----

_CASE_TIME_FIELD = {
    "filed": "filed_at",
    "decided": "decided_at",
    "legal_reviewed": "reviewed_at",
    "extended": "approved_at",
    "published": "published_at",
}
_KIND_TIME_FIELD = {"workorder": "received_at", "inspection": "started_at"}


def event_time(fact: Fact) -> datetime:
    """When the fact happened (§6 field names): the time every window and deadline uses."""
    v = fact.value
    if fact.kind == "case":
        name = _CASE_TIME_FIELD.get(v.get("event"), "at")
    else:
        name = _KIND_TIME_FIELD.get(fact.kind, "at")
    raw = v.get(name) or v.get("occurred_at")
    if raw is None:
        raise ValueError(f"{fact.kind} fact {fact.ce_id or fact.offset}: no {name} or occurred_at")
    return parse_time(raw)


def delivery_id(fact: Fact) -> str:
    """Idempotency key of a delivery: the CloudEvents id, else its log position."""
    return fact.ce_id or f"{fact.topic}:{fact.partition}:{fact.offset}"


def seen(state: dict, fact: Fact) -> bool:
    return delivery_id(fact) in state.get("_seen", {})


def mark_seen(state: dict, fact: Fact, day: date) -> None:
    """Remember a delivery until `day` falls out of the state's retention (see prune_book)."""
    state.setdefault("_seen", {})[delivery_id(fact)] = day.isoformat()


def emit(state: dict, lead: dict, outputs: list, anchor: date) -> None:
    """Append `lead` unless this state already emitted it with identical content.

    Rules recompute their findings from state on every item; this keeps a replay, a duplicate
    delivery or an unrelated tick from re-sending a lead, while a finding that grew (more
    evidence) is re-sent under the same lead_id. `anchor` is the day the finding is filed
    under for pruning.

    A state written before session 8 holds signatures of the standard library's JSON (16 hex
    digits); one that matches the lead's content is taken as the same content and rewritten
    in the current form, so an upgrade re-sends no lead.
    """
    sig = signature(lead)
    book = state.setdefault("_emitted", {})
    entry = book.get(lead["lead_id"])
    if entry is not None and entry[0] == sig:
        return
    if entry is not None and not entry[0].startswith("o") and entry[0] == legacy_signature(lead):
        book[lead["lead_id"]] = [sig, entry[1]]  # same content, signed the old way: nothing to send
        return
    book[lead["lead_id"]] = [sig, anchor.isoformat()]
    outputs.append(lead)


def signature(lead: dict) -> str:
    """The content signature `emit` compares: "o" and 15 hex digits of SHA-256 over orjson's
    sorted-key JSON (the standard library's json here was 3.7 % of the worker at 1,000
    inspections/s). A lead orjson cannot encode (an integer beyond 64 bits) is signed the
    old way."""
    try:
        text = orjson.dumps(lead, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return legacy_signature(lead)
    return "o" + hashlib.sha256(text).hexdigest()[:15]


def legacy_signature(lead: dict) -> str:
    """The signature of states written before session 8: 16 hex digits, standard library json."""
    return hashlib.sha256(
        json.dumps(lead, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()[:16]


def prune_book(state: dict, before: date) -> None:
    """Forget deliveries and emitted-lead signatures filed under days before `before`."""
    cut = before.isoformat()
    for name, day_of in (("_seen", lambda v: v), ("_emitted", lambda v: v[1])):
        book = state.get(name)
        if book:
            state[name] = {k: v for k, v in book.items() if day_of(v) >= cut}


def add_days(start: date, n: int, day_kind: str, calendar) -> date:
    """Due date n days after `start` (start not counted): "calendar" or "working" days."""
    if day_kind == "working":
        return calendar.add_working_days(start, n)
    if day_kind != "calendar":
        raise ValueError(f"day_kind {day_kind!r}: expected \"calendar\" or \"working\"")
    return start + timedelta(days=n)


def copy_state(state: Mapping | None) -> dict:
    """A deep copy, so a rule that raises half-way leaves the table value untouched. A JSON
    round trip (orjson: ~10x the standard library's speed, on every record) also keeps the copy
    exactly what the table changelog will hold."""
    return orjson.loads(orjson.dumps(state or {}, option=orjson.OPT_NON_STR_KEYS))
