"""Intake validation (入口校验): JSON from a source system → a record ready for `Codec.encode`.

Pure functions, no I/O. Every problem in a record is reported at once, each with the field path
(`subject.uscc`, `penalty_types[2]`), the value received and what was expected, so a sender can
fix a whole batch from one 422 answer. Field names and allowed values follow DESIGN.md §6.

Deliberately *not* rejected here: facts the rules exist to detect (an inspection without a plan,
code or second officer; a summary-procedure fine above the limit; a late decision). Validation
only refuses records that cannot be read unambiguously.

Personal data (complainant name and phone, a natural person's ID number) is replaced by HMAC
tokens here; problems about those fields never echo the clear value.
"""
from __future__ import annotations

import json
import re
import reprlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable

from connectors.privacy import TOKEN_RE
from connectors.uscc import InvalidUSCC, validate_uscc
from schemas.codec import REFERENCE_KINDS

Tokenise = Callable[[str, str], str]

# -- limits and vocabularies (DESIGN.md §6) --------------------------------------------------------

MAX_ID = 200
MAX_NAME = 500
MAX_TEXT = 2_000
MAX_CONTENT = 20_000
MAX_LIST = 1_000
MAX_REFERENCE_ITEMS = 100_000
MAX_FEN = 10**18 - 1  # Avro decimal(18, 2)
SHOWN_CHARS = 200
REDACTED = "<redacted>"

CHANNELS = ("电话", "网站", "APP", "微信", "其他")
CATEGORIES = ("咨询", "求助", "投诉", "举报", "建议")
ENFORCEMENT_COMPLAINT_TYPES = ("乱罚款", "乱检查", "乱收费", "乱查封", "重复检查", "选择性执法", "态度粗暴", "其他")
WORKORDER_STATUSES = ("受理", "派单", "办理", "办结", "回访")
INSPECTION_TRIGGERS = ("计划", "双随机", "投诉举报", "转办交办", "上级交办", "专项", "复查")
INSPECTION_RESULTS = ("未发现问题", "责令整改", "立案查处", "其他")
RISK_CLASSES = ("A", "B", "C", "D")
PARTY_TYPES = ("法人及非法人组织", "个体工商户", "自然人")
NATURAL_PERSON = "自然人"
PROCEDURES = ("简易", "普通")
PENALTY_TYPES = ("警告", "通报批评", "罚款", "没收违法所得", "没收非法财物", "暂扣许可证件", "降低资质等级",
                 "吊销许可证件", "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业", "行政拘留", "其他")
CIRCUMSTANCE_LEVELS = ("轻微", "一般", "较重", "严重")
PUBLICATION_CHANNELS = ("信用中国", "部门网站", "企业信用信息公示系统")
REVOCATION_BY = ("复议", "诉讼", "自行纠正")
CASE_EVENTS = ("filed", "decided", "legal_reviewed", "extended", "suspended", "resumed", "published",
               "unpublished", "fulfilled", "rectified", "recorded", "revoked", "changed")
CREDIT_KINDS = ("risk_class_changed", "publicity_started", "publicity_ended", "repair_applied",
                "repair_accepted", "repair_granted", "repair_rejected", "commitment_made",
                "dishonest_listed", "dishonest_removed", "trigger_receipt")
CREDIT_KINDS_WITH_DECISION = ("publicity_started", "publicity_ended", "repair_applied", "repair_accepted",
                              "repair_granted", "repair_rejected")
TRANSFER_KINDS = ("report_made", "approved", "refused", "sent", "accepted", "filed", "declined",
                  "reconsideration_requested", "procuratorate_advice", "evidence_handed_over")
AMOUNT_MEASURES = ("sales", "unsold_value", "turnover", "illegal_gains", "tax_evaded", "tax_due")
RECORD_KINDS = ("workorder", "inspection", "case", "credit", "transfer")

TIME_EXPECTED = "RFC 3339 time with explicit UTC offset, e.g. 2026-05-01T09:00:00+08:00"
DATE_EXPECTED = "ISO date YYYY-MM-DD, e.g. 2026-05-01"
MONEY_EXPECTED = ('decimal yuan as a string or integer fen, never a float: e.g. "1234.50" '
                  '(≥ 0, at most 2 decimals, at most 16 integer digits) or {"fen": 123450}')

# -- problems -------------------------------------------------------------------------------------

_repr = reprlib.Repr()
_repr.maxstring = SHOWN_CHARS
_repr.maxother = SHOWN_CHARS
_repr.maxlevel = 3
_repr.maxdict = _repr.maxlist = _repr.maxtuple = 10


def shown(value: Any) -> str:
    """A short, safe rendering of a received value for messages (long strings cut at 200)."""
    if isinstance(value, str):
        if len(value) > SHOWN_CHARS:
            return repr(value[:SHOWN_CHARS]) + f"… ({len(value)} characters)"
        return repr(value)
    try:
        text = _repr.repr(value)
    except Exception:  # a hostile __repr__ or absurd nesting must not hide the real problem
        text = f"<{type(value).__name__}>"
    return text if len(text) <= SHOWN_CHARS + 20 else text[:SHOWN_CHARS] + "…"


@dataclass
class Problem:
    """One thing wrong with the input: where, what was received, what was expected."""

    field: str
    value: Any
    expected: str

    def __str__(self) -> str:
        return f"{self.field or '(record)'}: got {shown(self.value)}, expected {self.expected}"

    def as_dict(self) -> dict:
        """JSON-safe form for a 422 answer (the value shortened like in the message)."""
        value = self.value
        if isinstance(value, str):
            value = value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…"
        elif not (value is None or isinstance(value, (bool, int))):
            try:
                text = json.dumps(value, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError, RecursionError):
                text = None
            if text is None or len(text) > SHOWN_CHARS:
                value = shown(value)
        return {"field": self.field, "value": value, "expected": self.expected}


class ValidationFailed(ValueError):
    """The input has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s):\n{lines}")


class _Ctx:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.redact = 0  # > 0 while inside personal data: never echo received values

    def add(self, path: str, value: Any, expected: str) -> None:
        self.problems.append(Problem(path, REDACTED if self.redact else value, expected))


class _Bad:
    """Marks a value that failed its check (distinct from a legitimately absent None)."""

    def __repr__(self) -> str:
        return "<invalid>"


BAD = _Bad()
_ABSENT = object()


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- field checks ------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class Check:
    def __call__(self, ctx: _Ctx, path: str, value: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class Text(Check):
    """A string of 1..max_len characters. Single-line values are trimmed; text keeps its layout."""

    def __init__(self, max_len: int, *, multiline: bool = False):
        self.max_len = max_len
        self.multiline = multiline

    def __call__(self, ctx, path, value):
        if not isinstance(value, str):
            ctx.add(path, value, f"a string of at most {self.max_len} characters")
            return BAD
        if len(value) > self.max_len:
            ctx.add(path, value, f"at most {self.max_len} characters (got {len(value)})")
            return BAD
        result = value if self.multiline else value.strip()
        bad = (_CONTROL if self.multiline else _CONTROL_LINE).search(result)
        if bad:
            what = "line breaks or control characters" if not self.multiline else "control characters"
            ctx.add(path, value, f"text without {what} (found U+{ord(bad.group()):04X} "
                                 f"at position {bad.start()})")
            return BAD
        if not result.strip():
            ctx.add(path, value, "a non-empty string")
            return BAD
        return result


class Enum(Check):
    def __init__(self, values: Iterable[str]):
        self.values = tuple(values)

    def __call__(self, ctx, path, value):
        if isinstance(value, str) and value in self.values:
            return value
        ctx.add(path, value, "one of " + ", ".join(self.values))
        return BAD


class Bool(Check):
    def __call__(self, ctx, path, value):
        if isinstance(value, bool):
            return value
        ctx.add(path, value, "a boolean (true or false)")
        return BAD


class Int(Check):
    def __init__(self, low: int, high: int):
        self.low, self.high = low, high

    def __call__(self, ctx, path, value):
        if isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high:
            return value
        ctx.add(path, value, f"an integer from {self.low} to {self.high}")
        return BAD


class Region(Check):
    _re = re.compile(r"[0-9]{6}")

    def __call__(self, ctx, path, value):
        if isinstance(value, str) and self._re.fullmatch(value):
            return value
        ctx.add(path, value, "a 6-digit region code (行政区划代码), e.g. 350102")
        return BAD


class Uscc(Check):
    def __call__(self, ctx, path, value):
        if not isinstance(value, str):
            ctx.add(path, value, "an 18-character unified social credit code (统一社会信用代码) string")
            return BAD
        if len(value) > 64:
            ctx.add(path, value, "an 18-character unified social credit code (统一社会信用代码)")
            return BAD
        try:
            return validate_uscc(value)
        except InvalidUSCC as exc:
            ctx.add(path, value, f"a valid unified social credit code (统一社会信用代码, GB 32100): {exc.reason}")
            return BAD


_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?)([Zz]|[+-][0-9]{2}:[0-9]{2})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_rfc3339(value: str) -> datetime:
    """An offset-aware datetime from a string this module accepted."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Time(Check):
    def __call__(self, ctx, path, value):
        m = _RFC3339.fullmatch(value) if isinstance(value, str) else None
        if m is None:
            ctx.add(path, value, TIME_EXPECTED)
            return BAD
        offset = m.group(3).upper()
        if offset == "-00:00":  # RFC 3339 §4.3: "-00:00" means the offset is unknown
            ctx.add(path, value, TIME_EXPECTED + " (-00:00 means an unknown offset)")
            return BAD
        normal = f"{m.group(1)}T{m.group(2)}{offset}"
        try:
            parse_rfc3339(normal)
        except ValueError:
            ctx.add(path, value, TIME_EXPECTED + " (a real calendar date, time and offset)")
            return BAD
        return normal


class Date(Check):
    def __call__(self, ctx, path, value):
        if isinstance(value, str) and _DATE.fullmatch(value):
            try:
                date.fromisoformat(value)
                return value
            except ValueError:
                pass
        ctx.add(path, value, DATE_EXPECTED)
        return BAD


_YUAN = re.compile(r"[0-9]{1,16}(?:\.[0-9]{1,2})?")
_CENT = Decimal("0.01")


class Money(Check):
    """Yuan as Decimal (or, with as_text, the canonical decimal string used in reference JSON)."""

    def __init__(self, *, as_text: bool = False):
        self.as_text = as_text

    def __call__(self, ctx, path, value):
        amount = self._parse(value)
        if amount is None:
            ctx.add(path, value, MONEY_EXPECTED)
            return BAD
        amount = amount.quantize(_CENT) + 0  # "+ 0" turns a Decimal("-0") into 0.00
        return format(amount, "f") if self.as_text else amount

    @staticmethod
    def _parse(value: Any) -> Decimal | None:
        if isinstance(value, str):
            return Decimal(value) if _YUAN.fullmatch(value) else None
        if isinstance(value, dict):
            fen = value.get("fen")
            if (len(value) == 1 and isinstance(fen, int) and not isinstance(fen, bool)
                    and 0 <= fen <= MAX_FEN):
                return Decimal(fen).scaleb(-2)
            return None
        if isinstance(value, Decimal) and value.is_finite() and value >= 0:
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and exponent >= -2 and value < Decimal(10) ** 16:
                return value
        return None  # floats, bare numbers (yuan or fen?), booleans, anything else


class Ratio(Check):
    """A share between 0 and 1 as a decimal string ("0.10"), kept as canonical text."""

    _re = re.compile(r"[01](?:\.[0-9]{1,6})?")

    def __call__(self, ctx, path, value):
        if isinstance(value, str) and self._re.fullmatch(value) and Decimal(value) <= 1:
            return format(Decimal(value).normalize(), "f")
        ctx.add(path, value, 'a ratio from 0 to 1 as a decimal string, e.g. "0.10" (never a float)')
        return BAD


class Token(Check):
    def __call__(self, ctx, path, value):
        if isinstance(value, str) and TOKEN_RE.fullmatch(value):
            return value
        ctx.add(path, value, "a token issued by this hub (tk_ + 32 hex characters)")
        return BAD


class Phone(Check):
    _re = re.compile(r"(?:\+86)?[0-9()\- ]{3,30}")

    def __call__(self, ctx, path, value):
        if isinstance(value, str) and self._re.fullmatch(value.strip()) and \
                3 <= sum(ch.isdigit() for ch in value) <= 20:
            return value.strip()
        ctx.add(path, value, "a telephone number (digits, optional +86, spaces, dashes, parentheses)")
        return BAD


class Details(Check):
    """Free key/value details: scalar values only, so the Avro map and the JSON agree."""

    def __call__(self, ctx, path, value):
        if not isinstance(value, dict):
            ctx.add(path, value, "an object of string/integer/boolean/null values")
            return BAD
        if len(value) > 50:
            ctx.add(path, value, "at most 50 entries")
            return BAD
        out, ok = {}, True
        for key, item in value.items():
            sub = _join(path, str(key))
            if not isinstance(key, str) or not 1 <= len(key) <= 100:
                ctx.add(sub, key, "a key of 1 to 100 characters")
                ok = False
            elif item is None or isinstance(item, bool):
                out[key] = item
            elif isinstance(item, int):
                if -(2**63) <= item < 2**63:
                    out[key] = item
                else:
                    ctx.add(sub, item, "an integer that fits in 64 bits")
                    ok = False
            elif isinstance(item, str):
                checked = Text(MAX_TEXT, multiline=True)(ctx, sub, item) if item else ""
                ok = ok and checked is not BAD
                out[key] = checked
            else:
                ctx.add(sub, item, "a string, integer, boolean or null (no floats, lists or objects; "
                                   "send decimals as strings)")
                ok = False
        return out if ok else BAD


class ListOf(Check):
    def __init__(self, item: Check, *, min_items: int = 0, max_items: int = MAX_LIST, distinct: bool = False):
        self.item, self.min_items, self.max_items, self.distinct = item, min_items, max_items, distinct

    def __call__(self, ctx, path, value):
        if not isinstance(value, list):
            ctx.add(path, value, "a list" + (" (may be empty)" if not self.min_items else ""))
            return BAD
        if not self.min_items <= len(value) <= self.max_items:
            ctx.add(path, value, f"a list of {self.min_items} to {self.max_items} items (got {len(value)})")
            return BAD
        out, ok, seen = [], True, {}
        for i, item in enumerate(value):
            checked = self.item(ctx, f"{path}[{i}]", item)
            if checked is BAD:
                ok = False
                continue
            if self.distinct:
                if checked in seen:
                    ctx.add(f"{path}[{i}]", item, f"distinct values ({checked!s} repeats {path}[{seen[checked]}])")
                    ok = False
                    continue
                seen[checked] = i
            out.append(checked)
        return out if ok else BAD


@dataclass(frozen=True)
class F:
    """One field of an object: its check and whether it must be present (non-null)."""

    check: Check
    required: bool = True


def opt(check: Check) -> F:
    return F(check, required=False)


class Obj(Check):
    """A JSON object with known fields; absent optionals come back as None.
    `pii` redacts every received value under it from problems."""

    def __init__(self, fields: dict[str, F], *, pii: bool = False):
        self.fields, self.pii = fields, pii

    def __call__(self, ctx, path, value):
        ctx.redact += self.pii
        try:
            if not isinstance(value, dict):
                ctx.add(path, value, "an object with fields " + ", ".join(self.fields))
                return BAD
            before = len(ctx.problems)
            out = check_fields(ctx, path, value, self.fields)
            return out if len(ctx.problems) == before else BAD
        finally:
            ctx.redact -= self.pii


def check_fields(ctx: _Ctx, path: str, value: dict, fields: dict[str, F], *,
                 extra: Callable[[str], str | None] | None = None) -> dict:
    """Check `value` against `fields`, recording problems in `ctx`. Every field comes back:
    absent optionals as None, failed ones as BAD (so cross-field checks can skip them).
    Unknown keys are problems (`extra(key)` may explain why a key does not belong)."""
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        raw = value.get(name, _ABSENT)
        sub = _join(path, name)
        if raw is _ABSENT or raw is None:
            if spec.required:
                ctx.add(sub, None, "a value (required field)")
                out[name] = BAD
            else:
                out[name] = None
            continue
        out[name] = spec.check(ctx, sub, raw)
    for key in value:
        if key not in fields:
            reason = extra(key) if extra else None
            ctx.add(_join(path, str(key)), value[key],
                    reason or "no such field (unexpected field); allowed: " + ", ".join(fields))
    return out


def good(out: dict, name: str) -> Any:
    """The checked value of a field, or None when it is absent or failed its check."""
    value = out.get(name)
    return None if value is BAD else value


# -- records ------------------------------------------------------------------------------------------

ID = Text(MAX_ID)
NAME = Text(MAX_NAME)
TIME = Time()
COMMON = {"source_event_id": F(ID), "occurred_at": opt(TIME)}

WORKORDER = {
    **COMMON,
    "order_id": F(ID),
    "received_at": F(TIME),
    "channel": F(Enum(CHANNELS)),
    "category": F(Enum(CATEGORIES)),
    "topic": F(NAME),
    "content": F(Text(MAX_CONTENT, multiline=True)),
    "subject": F(Obj({"name": F(NAME), "uscc": opt(Uscc()), "address": opt(NAME)})),
    "region_code": F(Region()),
    "about_agency_code": opt(Uscc()),
    "enforcement_complaint_type": opt(Enum(ENFORCEMENT_COMPLAINT_TYPES)),
    "complainant": F(Obj({"name": F(NAME), "phone": F(Phone())}, pii=True)),
    "handling_unit": opt(NAME),
    "due_at": opt(TIME),
    "status": F(Enum(WORKORDER_STATUSES)),
}

INSPECTION = {
    **COMMON,
    "inspection_id": F(ID),
    "action_code": opt(ID),
    "agency_code": F(Uscc()),
    "joint_agency_codes": F(ListOf(Uscc(), distinct=True)),
    "officer_cert_nos": F(ListOf(ID, distinct=True)),
    "target": F(Obj({"uscc": F(Uscc()), "name": F(NAME)})),
    "region_code": F(Region()),
    "started_at": F(TIME),
    "trigger": F(Enum(INSPECTION_TRIGGERS)),
    "plan_id": opt(ID),
    "random": F(Bool()),
    "credit_rule_applied": F(Bool()),
    "risk_class": opt(Enum(RISK_CLASSES)),
    "items": F(ListOf(NAME)),
    "result": F(Enum(INSPECTION_RESULTS)),
    "rectification_due": opt(TIME),
}

# At intake a natural person's ID number arrives in clear as `id_number` and leaves as `id_token`.
PARTY = Obj({
    "type": F(Enum(PARTY_TYPES)),
    "uscc": opt(Uscc()),
    "id_number": opt(Text(64)),
    "id_token": opt(Token()),
    "name": F(NAME),
})
AMOUNT_INVOLVED = Obj({m: opt(Money()) for m in AMOUNT_MEASURES})
AT = {"at": F(TIME)}

CASE_EVENT_FIELDS: dict[str, dict[str, F]] = {
    "filed": {
        "agency_code": F(Uscc()), "party": F(PARTY), "matter_code": F(ID), "region_code": F(Region()),
        "filed_at": F(TIME), "source_refs": F(ListOf(ID)),
    },
    "decided": {
        "decision_no": F(ID), "decided_at": F(TIME), "procedure": F(Enum(PROCEDURES)),
        "penalty_types": F(ListOf(Enum(PENALTY_TYPES), min_items=1, distinct=True)),
        "fine_amount": opt(Money()), "confiscated_amount": opt(Money()), "amount_involved": opt(AMOUNT_INVOLVED),
        "circumstance_level": F(Enum(CIRCUMSTANCE_LEVELS)), "violation_type": F(NAME),
        "legal_basis": F(Text(MAX_TEXT, multiline=True)),
        "first_violation": F(Bool()), "corrected": F(Bool()), "major": F(Bool()), "hearing_held": F(Bool()),
        "complex": F(Bool()), "penalty_duration_until": opt(Date()),
    },
    "legal_reviewed": {"reviewed_at": F(TIME), "passed": F(Bool())},
    "extended": {"days": F(Int(1, 3650)), "approved_at": F(TIME)},
    "suspended": AT, "resumed": AT, "unpublished": AT, "fulfilled": AT, "rectified": AT, "recorded": AT,
    "published": {"published_at": F(TIME), "channel": F(Enum(PUBLICATION_CHANNELS)), "masked": F(Bool())},
    "revoked": {"at": F(TIME), "by": F(Enum(REVOCATION_BY))},
    "changed": {"at": F(TIME), "by": F(Enum(REVOCATION_BY))},
}
# Avro field order of CaseEvent: every event's fields, each once.
CASE_FIELD_ORDER: tuple[str, ...] = tuple(dict.fromkeys(
    ["party", "agency_code", "matter_code", "region_code", "filed_at", "source_refs"]
    + list(CASE_EVENT_FIELDS["decided"])
    + ["reviewed_at", "passed", "days", "approved_at", "at", "published_at", "channel", "masked", "by"]))
_FIELD_OWNER: dict[str, str] = {}
for _event, _fields in CASE_EVENT_FIELDS.items():
    for _name in _fields:
        _FIELD_OWNER.setdefault(_name, _event)
assert set(CASE_FIELD_ORDER) == set(_FIELD_OWNER)

CREDIT = {
    **COMMON,
    "uscc": F(Uscc()),
    "kind": F(Enum(CREDIT_KINDS)),
    "decision_no": opt(ID),
    "risk_class": opt(Enum(RISK_CLASSES)),
    "at": F(TIME),
    "details": opt(Details()),
}

TRANSFER = {
    **COMMON,
    "case_id": F(ID),
    "kind": F(Enum(TRANSFER_KINDS)),
    "at": F(TIME),
    "organ": opt(NAME),
}


def _not_before(ctx: _Ctx, out: dict, later: str, earlier: str) -> None:
    a, b = good(out, later), good(out, earlier)
    if a is not None and b is not None and parse_rfc3339(a) < parse_rfc3339(b):
        ctx.add(later, a, f"a time not before {earlier} ({b})")


def _workorder(ctx: _Ctx, payload: dict, tokenise: Tokenise) -> dict:
    out = check_fields(ctx, "", payload, WORKORDER)
    _not_before(ctx, out, "due_at", "received_at")
    if (payload.get("about_agency_code") is None) != (payload.get("enforcement_complaint_type") is None):
        missing = "enforcement_complaint_type" if payload.get("enforcement_complaint_type") is None \
            else "about_agency_code"
        ctx.add(missing, None, "about_agency_code and enforcement_complaint_type together "
                               "(a complaint about enforcement names both the agency and the type)")
    if ctx.problems:
        return out
    person = out["complainant"]
    out["complainant"] = {"name_token": tokenise("name", person["name"]),
                          "phone_token": tokenise("phone", person["phone"])}
    return out


def _inspection(ctx: _Ctx, payload: dict, tokenise: Tokenise) -> dict:
    out = check_fields(ctx, "", payload, INSPECTION)
    _not_before(ctx, out, "rectification_due", "started_at")
    agency, joint = good(out, "agency_code"), good(out, "joint_agency_codes") or []
    if agency and agency in joint:
        ctx.add(f"joint_agency_codes[{joint.index(agency)}]", agency,
                "the partner agencies of a joint inspection, not the inspecting agency_code itself")
    if good(out, "trigger") == "双随机" and good(out, "random") is False:
        ctx.add("random", False, "true when trigger is 双随机")
    return out


def _case(ctx: _Ctx, payload: dict, tokenise: Tokenise) -> dict:
    head = {**COMMON, "case_id": F(ID), "event": F(Enum(CASE_EVENTS))}
    event = payload.get("event")
    known = event if isinstance(event, str) and event in CASE_EVENT_FIELDS else None
    if known:
        own = CASE_EVENT_FIELDS[known]
    else:  # still check every field it does carry, against the event that owns it
        own = {name: opt(CASE_EVENT_FIELDS[owner][name].check) for name, owner in _FIELD_OWNER.items()}

    def foreign(key: str) -> str | None:
        if key not in _FIELD_OWNER:
            return None
        owners = "/".join(e for e, fs in CASE_EVENT_FIELDS.items() if key in fs)
        return f"no {key} on a {known} event ({key} belongs to {owners})"

    out = check_fields(ctx, "", payload, {**head, **own}, extra=foreign)
    party = good(out, "party")
    if party is not None:
        out["party"] = _party(ctx, party, tokenise)
    if known == "decided":
        types = good(out, "penalty_types") or []
        if "罚款" in types and out.get("fine_amount") is None:
            ctx.add("fine_amount", None, "the fine in yuan when penalty_types contains 罚款")
        until, decided_at = good(out, "penalty_duration_until"), good(out, "decided_at")
        if until and decided_at and date.fromisoformat(until) < parse_rfc3339(decided_at).date():
            ctx.add("penalty_duration_until", until, f"a date not before decided_at ({decided_at})")
    record = {name: out.get(name) for name in ("source_event_id", "occurred_at", "case_id", "event")}
    for name in CASE_FIELD_ORDER:
        record[name] = out.get(name)
    return record


def _party(ctx: _Ctx, party: dict, tokenise: Tokenise) -> Any:
    before = len(ctx.problems)
    if party["type"] == NATURAL_PERSON:
        if party["uscc"] is not None:
            ctx.add("party.uscc", party["uscc"], "no uscc for a 自然人 party (use id_number)")
        given = [k for k in ("id_number", "id_token") if party[k] is not None]
        if len(given) != 1:
            ctx.add("party.id_number", REDACTED if given else None,
                    "exactly one of id_number (tokenised at intake) or id_token for a 自然人 party")
    else:
        if party["uscc"] is None:
            ctx.add("party.uscc", None, f"a uscc for a {party['type']} party")
        for key in ("id_number", "id_token"):
            if party[key] is not None:
                ctx.add(f"party.{key}", REDACTED, f"no {key} for a {party['type']} party (use uscc)")
    if len(ctx.problems) > before:
        return BAD
    token = party["id_token"]
    if party["id_number"] is not None:
        token = tokenise("id_number", party["id_number"])
    return {"type": party["type"], "uscc": party["uscc"], "id_token": token, "name": party["name"]}


def _credit(ctx: _Ctx, payload: dict, tokenise: Tokenise) -> dict:
    out = check_fields(ctx, "", payload, CREDIT)
    kind = good(out, "kind")
    if kind in CREDIT_KINDS_WITH_DECISION and out.get("decision_no") is None:
        ctx.add("decision_no", None, f"the decision_no (处罚决定书文号) the {kind} event is about")
    if kind == "risk_class_changed" and out.get("risk_class") is None:
        ctx.add("risk_class", None, "the new risk class (A, B, C or D) for risk_class_changed")
    elif kind is not None and kind != "risk_class_changed" and payload.get("risk_class") is not None:
        ctx.add("risk_class", payload["risk_class"], "risk_class only on a risk_class_changed event")
    return out


def _transfer(ctx: _Ctx, payload: dict, tokenise: Tokenise) -> dict:
    return check_fields(ctx, "", payload, TRANSFER)


_RECORDS = {"workorder": _workorder, "inspection": _inspection, "case": _case, "credit": _credit,
            "transfer": _transfer}
RECORD_NAMES = {"workorder": "WorkOrder", "inspection": "Inspection", "case": "CaseEvent",
                "credit": "CreditEvent", "transfer": "TransferSignal"}


def validate_record(kind: str, payload: Any, *, tokenise: Tokenise) -> dict:
    """The normalised record (every Avro field present, absent optionals None, money as
    Decimal, USCCs upper-case, personal data tokenised) or ValidationFailed with every problem."""
    ctx = _Ctx()
    check = _RECORDS.get(kind) if isinstance(kind, str) else None
    if check is None:
        raise ValidationFailed([Problem("kind", kind, "one of " + ", ".join(RECORD_KINDS))])
    if not isinstance(payload, dict):
        raise ValidationFailed([Problem("", payload, f"a JSON object (one {kind} record)")])
    result = check(ctx, payload, tokenise)
    if ctx.problems:
        raise ValidationFailed(ctx.problems)
    return result


# -- causality across the events of one case --------------------------------------------------------

_EVENT_TIME = {"filed": "filed_at", "decided": "decided_at", "legal_reviewed": "reviewed_at",
               "extended": "approved_at", "published": "published_at"}
_NEEDS_DECISION = ("published", "fulfilled", "rectified", "recorded", "revoked", "changed")


def event_time(record: dict) -> str | None:
    """The time a case event happened (its own time field)."""
    return record.get(_EVENT_TIME.get(record.get("event"), "at"))


def check_case_causality(prev_events: list[dict], record: dict) -> list[Problem]:
    """Order problems between `record` and the earlier (already accepted) events of its case:
    decided before filed, published before decided, fulfilled before decided, and so on.
    Events of a case filed before the hub existed have no `filed` here; that is not a problem."""
    problems: list[Problem] = []
    event = record.get("event")
    own_field = _EVENT_TIME.get(event, "at")
    own = _time_or_none(record.get(own_field))
    if own is None:
        return problems

    def latest(kind: str) -> dict | None:
        found = [e for e in prev_events if e.get("event") == kind]
        return found[-1] if found else None

    filed, decided = latest("filed"), latest("decided")
    if event == "filed" and filed is not None:
        problems.append(Problem("event", event, f"a case is filed once; case {record.get('case_id')} was "
                                                f"already filed at {filed.get('filed_at')}"))
    if event != "filed" and filed is not None:
        start = _time_or_none(filed.get("filed_at"))
        if start is not None and own < start:
            problems.append(Problem(own_field, record.get(own_field),
                                    f"a time not before the filing (filed_at {filed.get('filed_at')})"))
    if event in _NEEDS_DECISION:
        if decided is None:
            problems.append(Problem("event", event, f"a decided event for case {record.get('case_id')} "
                                                    f"before it is {event}"))
        else:
            start = _time_or_none(decided.get("decided_at"))
            if start is not None and own < start:
                problems.append(Problem(own_field, record.get(own_field),
                                        f"a time not before the decision (decided_at {decided.get('decided_at')})"))
    if event == "unpublished":
        published = latest("published")
        if published is None:
            problems.append(Problem("event", event, f"a published event for case {record.get('case_id')} "
                                                    f"before it is unpublished"))
        else:
            start = _time_or_none(published.get("published_at"))
            if start is not None and own < start:
                problems.append(Problem("at", record.get("at"),
                                        f"a time not before the publication (published_at "
                                        f"{published.get('published_at')})"))
    if event == "resumed":
        suspended = latest("suspended")
        resumed = latest("resumed")
        open_since = suspended if suspended is not None and (
            resumed is None or prev_events.index(resumed) < prev_events.index(suspended)) else None
        if open_since is None:
            problems.append(Problem("event", event, f"a suspended event for case {record.get('case_id')} "
                                                    f"before it is resumed"))
        else:
            start = _time_or_none(open_since.get("at"))
            if start is not None and own < start:
                problems.append(Problem("at", record.get("at"),
                                        f"a time not before the suspension (at {open_since.get('at')})"))
    return problems


def _time_or_none(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = parse_rfc3339(value)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None


# -- reference data -----------------------------------------------------------------------------------

MONEY_TEXT = Money(as_text=True)
YEAR = Int(1900, 2100)

REFERENCE_FIELDS: dict[str, dict[str, F]] = {
    "benchmarks": {"matter_code": F(ID), "circumstance_level": F(Enum(CIRCUMSTANCE_LEVELS)),
                   "min_fine": F(MONEY_TEXT), "max_fine": F(MONEY_TEXT)},
    "no-penalty-items": {"matter_code": F(ID), "conditions": opt(Text(MAX_TEXT, multiline=True))},
    "criminal-thresholds": {"violation_type": F(NAME), "party_type": opt(Enum(PARTY_TYPES)),
                            "measure": F(Enum(AMOUNT_MEASURES)), "min_amount": F(MONEY_TEXT),
                            "min_ratio": opt(Ratio())},
    "agencies": {"agency_code": F(Uscc()), "name": F(NAME), "region_code": F(Region()), "domain": F(Text(100))},
    "officers": {"cert_no": F(ID), "agency_code": F(Uscc()), "valid_from": F(Date()), "valid_until": F(Date()),
                 "revoked_at": opt(TIME)},
    "inspection-plans": {"plan_id": F(ID), "agency_code": F(Uscc()), "year": F(YEAR)},
    "inspection-caps": {"domain": opt(Text(100)), "risk_class": F(Enum(RISK_CLASSES)), "per_year": F(Int(0, 1000))},
    "fine-lines": {"domain": opt(Text(100)), "small_below": F(MONEY_TEXT), "huge_from": F(MONEY_TEXT)},
    "holidays": {"year": F(YEAR), "holidays": F(ListOf(Date(), max_items=366, distinct=True)),
                 "workdays": F(ListOf(Date(), max_items=366, distinct=True))},
}
# The natural key of a row: two rows with the same key would make the set ambiguous.
REFERENCE_KEYS: dict[str, tuple[str, ...]] = {
    "benchmarks": ("matter_code", "circumstance_level"),
    "agencies": ("agency_code",),
    "officers": ("cert_no",),
    "inspection-plans": ("agency_code", "plan_id"),
    "inspection-caps": ("domain", "risk_class"),
    "fine-lines": ("domain",),
    "holidays": ("year",),
}
assert set(REFERENCE_FIELDS) == set(REFERENCE_KINDS)
_REFERENCE_ROWS = {kind: Obj(fields) for kind, fields in REFERENCE_FIELDS.items()}


def validate_reference(kind: str, items: Any) -> list[dict]:
    """A whole reference set (it replaces the previous one): normalised rows, money and ratios
    as canonical decimal strings (the set travels as JSON), or ValidationFailed."""
    fields = REFERENCE_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise ValidationFailed([Problem("kind", kind, "one of " + ", ".join(REFERENCE_KINDS))])
    if not isinstance(items, list):
        raise ValidationFailed([Problem("", items, f"a JSON list of {kind} rows (the whole set)")])
    if len(items) > MAX_REFERENCE_ITEMS:
        raise ValidationFailed([Problem("", f"<{len(items)} rows>", f"at most {MAX_REFERENCE_ITEMS} rows")])
    ctx = _Ctx()
    rows: list[dict] = []
    seen: dict[tuple, int] = {}
    key_fields = REFERENCE_KEYS.get(kind)
    for i, item in enumerate(items):
        path = f"[{i}]"
        row = _REFERENCE_ROWS[kind](ctx, path, item)
        if row is BAD:
            continue
        if not _reference_row_ok(ctx, kind, path, row):
            continue
        if key_fields:
            key = tuple(row[k] for k in key_fields)
            if key in seen:
                ctx.add(f"{path}.{key_fields[-1]}", row[key_fields[-1]],
                        f"one row per {' + '.join(key_fields)} (same as [{seen[key]}])")
                continue
            seen[key] = i
        rows.append(row)
    if ctx.problems:
        raise ValidationFailed(ctx.problems)
    return rows


def _reference_row_ok(ctx: _Ctx, kind: str, path: str, row: dict) -> bool:
    if kind == "benchmarks" and Decimal(row["min_fine"]) > Decimal(row["max_fine"]):
        ctx.add(f"{path}.min_fine", row["min_fine"], f"not more than max_fine ({row['max_fine']})")
        return False
    if kind == "fine-lines" and Decimal(row["small_below"]) > Decimal(row["huge_from"]):
        ctx.add(f"{path}.small_below", row["small_below"], f"not more than huge_from ({row['huge_from']})")
        return False
    if kind == "officers" and row["valid_until"] < row["valid_from"]:
        ctx.add(f"{path}.valid_until", row["valid_until"], f"a date not before valid_from ({row['valid_from']})")
        return False
    if kind == "holidays":
        both = sorted(set(row["holidays"]) & set(row["workdays"]))
        if both:
            ctx.add(f"{path}.workdays", both, "dates that are not also listed as holidays")
            return False
    return True


__all__ = [
    "Problem", "ValidationFailed", "validate_record", "validate_reference", "check_case_causality",
    "RECORD_KINDS", "RECORD_NAMES", "REFERENCE_KINDS", "TIME_EXPECTED", "DATE_EXPECTED", "MONEY_EXPECTED",
    "parse_rfc3339", "event_time", "shown",
]


# ---------------------------------------------------------------- records that bypassed intake

_TIME_FIELDS = {"at", "occurred_at", "received_at", "due_at", "started_at", "rectification_due", "filed_at",
                "decided_at", "reviewed_at", "approved_at", "published_at"}
_USCC_FIELDS = {"uscc", "agency_code", "about_agency_code"}


def check_decoded(record_name: str, value: dict) -> list[Problem]:
    """Checks for a record that a producer wrote straight onto an ingress topic: Avro already
    fixed its shape, so what is left is what Avro cannot say — check characters, region codes,
    offsets on times, and complainant fields that must hold tokens, never clear values."""
    from .privacy import TOKEN_RE
    from .uscc import InvalidUSCC, validate_uscc

    problems: list[Problem] = []

    def walk(node, path: str):
        if isinstance(node, dict):
            for k, v in node.items():
                p = f"{path}.{k}" if path else k
                if v is None:
                    continue
                if k in _USCC_FIELDS or (k == "uscc"):
                    try:
                        validate_uscc(v)
                    except InvalidUSCC as exc:
                        problems.append(Problem(p, v, f"统一社会信用代码 per GB 32100 ({exc.reason})"))
                elif k == "region_code":
                    if not (isinstance(v, str) and len(v) == 6 and v.isdigit()):
                        problems.append(Problem(p, v, "6-digit 行政区划代码"))
                elif k in _TIME_FIELDS and isinstance(v, str):
                    Time()(_ProblemSink(problems), p, v)
                elif k in ("name_token", "phone_token", "id_token"):
                    if not (isinstance(v, str) and TOKEN_RE.match(v)):
                        problems.append(Problem(p, "<withheld>", "a complainant token (tk_ + 32 hex) — never a clear value"))
                else:
                    walk(v, p)
        elif isinstance(node, list):
            if len(node) > MAX_LIST:
                problems.append(Problem(path, f"{len(node)} items", f"at most {MAX_LIST} items"))
                return
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
        elif isinstance(node, str) and len(node) > MAX_CONTENT:
            # intake caps every text (content at MAX_CONTENT); a producer past intake must not
            # push megabytes into the rules' state, the projections and every later replay
            problems.append(Problem(path, shown(node), f"at most {MAX_CONTENT} characters"))

    walk(value, "")
    return problems


class _ProblemSink:
    def __init__(self, problems):
        self.problems = problems

    def add(self, path, value, expected):
        self.problems.append(Problem(path, value, expected))
