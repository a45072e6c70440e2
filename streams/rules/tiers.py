"""失信程度 (轻微/一般/严重) and publicity periods of a penalty decision, and the per-decision
records (处罚决定档案) that publicity.py and credit.py fold case and credit events into
(`evaluate_decisions`, `enterprise_key`: the state layout is described below).

Tier — 《信用修复管理办法》(国家发展改革委令第36号) Arts. 8–11:
  轻微 (Art. 8): 简易程序; under the ordinary procedure only 警告 / 通报批评; a fine below the
        sector's small-fine line (较小数额).
  一般 (Art. 9): larger fines (较大数额); 没收非法财物.
  严重 (Art. 10): huge fines (巨额); 暂扣许可证件, 降低资质等级, 吊销许可证件, 限制开展生产经营活动,
        责令停产停业, 责令关闭, 限制从业.
  Art. 11 leaves the fine lines to each sector: they come from the `fine-lines` reference set
  ({domain?, small_below, huge_from}, yuan), else from `[tiers]` in rules.toml (UNCONFIRMED
  defaults). A fine exactly at `small_below` is 一般; exactly at `huge_from` is 严重.
  The most severe penalty type in one decision sets the tier (Art. 12: the longest period
  applies). Judgement calls, all configurable in `[tiers]`:
  - a decision under the 简易程序 is 轻微 whatever it lists (Art. 8 classifies by procedure;
    行政处罚法 Art. 51 only allows warnings and small fines there, PEN_SUMMARY_LIMIT polices it);
  - 没收违法所得 is not named in Arts. 8–10; it is a property penalty like 没收非法财物
    (行政处罚法 Art. 9(2)), so it is 一般;
  - 行政拘留 (natural persons only) is not named either; as the heaviest type of 行政处罚法
    Art. 9 it is 严重;
  - any other type ("其他", unknown words) is 一般; a fine amount > 0 counts as 罚款 even if the
    type list forgets it; an ordinary-procedure decision with no type and no fine is 轻微.

Periods count from the decision date (Art. 7). Month arithmetic follows 民法典 Arts. 201–202:
the decision day is not counted and the period ends on the same-numbered day of the final
month, or on that month's last day when it has no such day. So decided 2026-05-31 + 3 months
→ the period's last day is 2026-08-31; 2026-11-30 + 3 months → 2027-02-28. `min_until` and
`max_until` are those last days (inclusive): repair may be applied for from the day after
`min_until` (from the decision day itself when the minimum is 0 months), and the record may be
shown through `max_until`.
  令第36号 (decisions from 2026-04-01, Art. 30) Art. 12: 轻微 max 3 months, repairable as soon
    as obligations are met (min 0); 一般 3 months / 1 year; 严重 1 year / 3 years.
  令第58号 (decisions 2023-05-01 … 2026-03-31; DOMAIN.md [R2] Shenzhen guidance): min 3
    months, max 3 years for every tier; min 1 year for 特种设备 / 安全生产 / 消防 and (weak)
    food and drugs. Its article numbers are UNCONFIRMED, so reasons cite the order only.
The sector (`domain`) of a decision is its agency's `domain` in the `agencies` reference set.

Pure: no I/O, no wall clock. Calendar arithmetic in months needs no holiday table.
"""
from __future__ import annotations

import calendar as _gregorian
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping

from .base import CST, Fact, RuleConfig, Tick, copy_state, event_time, local_date, mark_seen, money, parse_time
from .base import seen as fact_seen

TIER_MINOR = "轻微"
TIER_GENERAL = "一般"
TIER_SERIOUS = "严重"
TIERS = (TIER_MINOR, TIER_GENERAL, TIER_SERIOUS)
_RANK = {t: i for i, t in enumerate(TIERS)}

REGIME_36 = "令第36号"
REGIME_58 = "令第58号"

NATURAL_PERSON = "自然人"
CREDIT_CHINA = "信用中国"

_EMPTY = RuleConfig()

# Defaults mirror streams/rules.toml; the file wins.
_DEFAULT_MINOR_TYPES = ("警告", "通报批评")
_DEFAULT_GENERAL_TYPES = ("没收非法财物", "没收违法所得")
_DEFAULT_SERIOUS_TYPES = (
    "暂扣许可证件", "降低资质等级", "吊销许可证件", "限制开展生产经营活动",
    "责令停产停业", "责令关闭", "限制从业", "行政拘留",
)
_FINE = "罚款"


# ---------------------------------------------------------------------------------------
# tier
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TierResult:
    tier: str
    reasons: tuple[str, ...]  # Chinese sentences citing the article that set the tier


def fine_lines(config: RuleConfig | None = None, domain: str | None = None) -> tuple[Decimal, Decimal]:
    """(small_below, huge_from) in yuan for a sector: its `fine-lines` row, else the row without
    a domain, else `[tiers]` in rules.toml (令第36号 Art. 11: sectors set these lines)."""
    config = config or _EMPTY
    rows = config.ref("fine-lines")
    row = next((r for r in rows if domain and r.get("domain") == domain), None)
    if row is None:
        row = next((r for r in rows if not r.get("domain")), None)
    if row is not None:
        return money(row["small_below"]), money(row["huge_from"])
    return (
        money(config.get("tiers", "small_below", "10000")),
        money(config.get("tiers", "huge_from", "1000000")),
    )


def is_summary_procedure(procedure: str | None) -> bool:
    return bool(procedure) and str(procedure).startswith("简易")


def classify(
    penalty_types: Iterable[str] | None,
    procedure: str | None,
    fine_amount: Any,
    config: RuleConfig | None = None,
    domain: str | None = None,
) -> TierResult:
    """The 令第36号 tier of one decision, with the reasons that set it."""
    config = config or _EMPTY
    if is_summary_procedure(procedure):
        return TierResult(TIER_MINOR, ("依令第36号第八条，按简易程序作出的行政处罚属轻微失信行为。",))

    minor = set(config.get("tiers", "minor_types", _DEFAULT_MINOR_TYPES))
    general = set(config.get("tiers", "general_types", _DEFAULT_GENERAL_TYPES))
    serious = set(config.get("tiers", "serious_types", _DEFAULT_SERIOUS_TYPES))
    unknown_tier = config.get("tiers", "unknown_type_tier", TIER_GENERAL)
    small_below, huge_from = fine_lines(config, domain)

    found: list[tuple[str, str]] = []  # (tier, reason)
    types = [str(t) for t in (penalty_types or [])]
    fine = money(fine_amount)
    for t in dict.fromkeys(types):
        if t == _FINE:
            continue
        if t in serious:
            found.append((TIER_SERIOUS, f"处“{t}”，依令第36号第十条属严重失信行为。"))
        elif t in general:
            if t == "没收非法财物":
                found.append((TIER_GENERAL, f"处“{t}”，依令第36号第九条属一般失信行为。"))
            else:
                found.append((TIER_GENERAL, f"处“{t}”，令第36号第八至十条未列明，本中枢比照第九条“没收非法财物”按一般失信行为处理（可配置）。"))
        elif t in minor:
            found.append((TIER_MINOR, f"普通程序处“{t}”，依令第36号第八条属轻微失信行为。"))
        else:
            found.append((unknown_tier, f"处罚种类“{t}”令第36号第八至十条未列明，本中枢按{unknown_tier}失信行为处理（可配置）。"))
    if _FINE in types or (fine is not None and fine > 0):
        lines = f"（本领域较小数额罚款线{_yuan(small_below)}元、巨额罚款线{_yuan(huge_from)}元，依令第36号第十一条由行业确定）"
        if fine is None:
            found.append((unknown_tier, f"处罚款但未载明金额，按{unknown_tier}失信行为处理{lines}。"))
        elif fine >= huge_from:
            found.append((TIER_SERIOUS, f"罚款{_yuan(fine)}元达到巨额罚款线，依令第36号第十条属严重失信行为{lines}。"))
        elif fine >= small_below:
            found.append((TIER_GENERAL, f"罚款{_yuan(fine)}元不低于较小数额罚款线，依令第36号第九条属一般失信行为{lines}。"))
        else:
            found.append((TIER_MINOR, f"罚款{_yuan(fine)}元低于较小数额罚款线，依令第36号第八条属轻微失信行为{lines}。"))
    if not found:
        return TierResult(TIER_MINOR, ("决定未载明处罚种类和罚款金额，按轻微失信行为处理。",))

    tier = max((t for t, _ in found), key=lambda t: _RANK.get(t, _RANK[TIER_GENERAL]))
    reasons = [r for t, r in found if t == tier]
    if len(found) > 1:
        reasons.append(f"一个决定含多种处罚的，按最重者定档（令第36号第十二条）：{tier}。")
    return TierResult(tier, tuple(reasons))


def tier(penalty_types, procedure, fine_amount, config=None, domain=None) -> str:
    return classify(penalty_types, procedure, fine_amount, config, domain).tier


# ---------------------------------------------------------------------------------------
# periods
# ---------------------------------------------------------------------------------------

def add_months(d: date, n: int) -> date:
    """民法典 Art. 202: the same-numbered day n months on, or that month's last day."""
    months = d.year * 12 + (d.month - 1) + n
    year, month = divmod(months, 12)
    month += 1
    return date(year, month, min(d.day, _gregorian.monthrange(year, month)[1]))


def _as_date(value: str | date | datetime) -> date:
    if isinstance(value, datetime):
        return local_date(value)
    if isinstance(value, date):
        return value
    text = str(value)
    return date.fromisoformat(text) if len(text) == 10 else local_date(text)


def regime(decided_at: str | date | datetime, config: RuleConfig | None = None) -> str:
    """令第36号 governs decisions from its effective date (Art. 30 repeals 令第58号)."""
    config = config or _EMPTY
    start = date.fromisoformat(str(config.get("credit", "order36_from", "2026-04-01")))
    return REGIME_36 if _as_date(decided_at) >= start else REGIME_58


@dataclass(frozen=True)
class Periods:
    regime: str
    tier: str
    decided_on: date
    min_months: int
    max_months: int
    min_until: date      # last day of the minimum period (== decided_on when it is 0 months)
    max_until: date      # last day the record may be shown
    repair_from: date    # first day repair may be applied for on time grounds
    reasons: tuple[str, ...]


def period_detail(
    tier: str,
    decided_at: str | date | datetime,
    domain: str | None = None,
    config: RuleConfig | None = None,
) -> Periods:
    config = config or _EMPTY
    decided_on = _as_date(decided_at)
    which = regime(decided_on, config)
    if which == REGIME_36:
        section = "credit.order36"
        key = {TIER_MINOR: "minor", TIER_GENERAL: "general", TIER_SERIOUS: "serious"}[tier]
        defaults = {"minor": (0, 3), "general": (3, 12), "serious": (12, 36)}[key]
        min_m = int(config.get(section, f"{key}_min_months", defaults[0]))
        max_m = int(config.get(section, f"{key}_max_months", defaults[1]))
        basis = f"依令第36号第十二条，{tier}失信行为信息"
        if min_m == 0:
            basis += f"最长公示{_span(max_m)}，履行义务后即可申请信用修复"
        else:
            basis += f"最短公示{_span(min_m)}、最长公示{_span(max_m)}"
    else:
        section = "credit.order58"
        min_m = int(config.get(section, "min_months", 3))
        max_m = int(config.get(section, "max_months", 36))
        long_domains = config.get(section, "long_min_domains", ["特种设备", "安全生产", "消防", "食品", "药品"])
        basis = (f"决定日期早于{config.get('credit', 'order36_from', '2026-04-01')}，适用令第58号"
                 f"（已由令第36号第三十条废止）")
        if domain and domain in long_domains:
            min_m = int(config.get(section, "long_min_months", 12))
            basis += f"：{domain}领域最短公示{_span(min_m)}"
        else:
            basis += f"：最短公示{_span(min_m)}"
        basis += f"、最长公示{_span(max_m)}"
    min_until = add_months(decided_on, min_m)
    max_until = add_months(decided_on, max_m)
    repair_from = decided_on if min_m == 0 else min_until + timedelta(days=1)
    arithmetic = f"自处罚决定日{decided_on}起算"
    if min_m:
        arithmetic += f"，最短公示期至{min_until}（含）"
    arithmetic += f"，最长公示期至{max_until}（含）（民法典第二百零二条：到期月对应日为最后一日，无对应日的取月末）"
    return Periods(which, tier, decided_on, min_m, max_m, min_until, max_until, repair_from,
                   (f"{basis}；{arithmetic}。",))


def periods(
    tier: str,
    decided_at: str | date | datetime,
    domain: str | None = None,
    config: RuleConfig | None = None,
) -> tuple[date, date]:
    """(min_until, max_until): last day of the minimum and of the maximum publicity period."""
    p = period_detail(tier, decided_at, domain, config)
    return p.min_until, p.max_until


def agency_domain(config: RuleConfig | None, agency_code: str | None) -> str | None:
    if not agency_code or config is None:
        return None
    row = config.first_by("agencies", "agency_code").get(agency_code)
    return row.get("domain") if row else None


def _span(months: int) -> str:
    return f"{months // 12}年" if months and months % 12 == 0 else f"{months}个月"


def _yuan(amount: Decimal) -> str:
    text = format(amount.normalize(), "f") if amount == amount.to_integral() else format(amount, "f")
    return text


# ---------------------------------------------------------------------------------------
# the decision records publicity.py and credit.py keep (one enterprise's state)
# ---------------------------------------------------------------------------------------
#
# State of one subject key (the party's USCC, or id_token for a natural person), JSON:
#   records   {decision_no: record}
#   cases     {case_id: decision_no}      the case's latest `decided`
#   held      {case_id: [fact]}           case facts that came before their `decided`
#   clock     latest tick (RFC 3339)      time passes only with ticks
#   _seen     {ce_id: day}                base.mark_seen, last MAX_SEEN kept
#   _due      earliest record `_due`      the worker may skip ticks at or before it
# record (times RFC 3339 as the sender wrote them, compared as instants; money decimal strings):
#   decision_no, case_id, party {type, uscc, name, id_token?}, agency_code, region_code
#   decisions  [{at, procedure, penalty_types, fine_amount, duration_until, ev, seq}]
#   endings    [{at, kind: revoked|changed, by, ev, seq}]
#   pubs       [{at, op: start|end, src: case|credit, channel, masked, ev, seq}]
#   fulfilled, rectified [{at, ev, seq}]
#   repairs    [{at, kind: repair_applied|…, extended, ev, seq}]
#   _seq (arrival counter), _due, _emitted (base.emit, leads), _fired (credit triggers)
# A record keeps raw facts and every view is recomputed from them sorted by time, so facts
# that arrive out of order give the in-order answer once a tick judges them. Each list is
# capped (MAX_RECORDS, oldest dropped); one decision never produces that many in practice.

MAX_RECORDS = 64

DECISION_EVENTS = frozenset({"decided", "published", "unpublished", "fulfilled", "rectified",
                             "revoked", "changed"})
PUBLICITY_KINDS = frozenset({"publicity_started", "publicity_ended"})
REPAIR_KINDS = frozenset({"repair_applied", "repair_accepted", "repair_granted", "repair_rejected"})


def details_of(fact: Fact) -> Mapping:
    """A credit event's `details`: a map, or a JSON string when the Avro field is a string."""
    details = fact.value.get("details") or {}
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return {}
    return details if isinstance(details, Mapping) else {}


def _truthy(value) -> bool:
    return value is True or (isinstance(value, (int, str)) and str(value).strip().lower() in ("1", "true", "是"))


def _day_text(value) -> str | None:
    """penalty_duration_until as an ISO day (the codec may hand over a date or a time)."""
    return _as_date(value).isoformat() if value else None


def _t(value) -> str:
    """An RFC 3339 time as stored: canonical form, the sender's offset kept."""
    return parse_time(value).isoformat()


def _cst(value) -> datetime:
    return parse_time(value).astimezone(CST)


def _push(state: dict, name: str, rec: dict, same: tuple[str, ...]) -> None:
    """Append `rec` unless a record with the same content (fields `same`) exists: a duplicate
    sent under another ce_id is still the same fact."""
    items = state.setdefault(name, [])

    def ident(r):  # times compare as instants, whatever offset they were sent with
        return tuple(parse_time(r[f]) if f == "at" else r.get(f) for f in same)

    if any(ident(r) == ident(rec) for r in items):
        return
    state["_seq"] = state.get("_seq", 0) + 1
    rec["seq"] = state["_seq"]
    items.append(rec)
    if len(items) > MAX_RECORDS:
        del items[0]


def fold(state: dict, fact: Fact, summary: str) -> None:
    """Record one case or credit fact of this decision in `state` (mutates it)."""
    v = fact.value
    at = _t(event_time(fact))
    ev = fact.evidence(summary)
    filing = fact.case or {}
    party = filing.get("party") or {}
    if party:
        state["party"] = {"type": party.get("type"), "uscc": party.get("uscc"), "name": party.get("name")}
    for name in ("agency_code", "region_code"):
        if filing.get(name):
            state[name] = filing[name]
    if v.get("case_id") or filing.get("case_id"):
        state["case_id"] = v.get("case_id") or filing.get("case_id")
    if fact.kind == "credit" and v.get("uscc"):
        # the credit platform's subject: a USCC, except for a natural person (then the key token)
        state.setdefault("party", {"type": None, "uscc": None, "name": None})
        if state["party"].get("type") != NATURAL_PERSON:
            state["party"]["uscc"] = state["party"].get("uscc") or v["uscc"]
    if party.get("id_token"):
        state["party"]["id_token"] = party["id_token"]

    if fact.kind == "case":
        event = v.get("event")
        if event == "decided":
            rec = {
                "at": at,
                "procedure": v.get("procedure"),
                "penalty_types": list(v.get("penalty_types") or []),
                "fine_amount": None if money(v.get("fine_amount")) is None else str(money(v.get("fine_amount"))),
                "duration_until": _day_text(v.get("penalty_duration_until")),
                "ev": ev,
            }
            # a corrected `decided` at the same decision time replaces the earlier one; the same
            # content under another ce_id keeps the first delivery as evidence
            items = state.setdefault("decisions", [])
            content = ("procedure", "penalty_types", "fine_amount", "duration_until")
            same_time = [r for r in items if parse_time(r["at"]) == parse_time(at)]
            if not any(all(r.get(f) == rec[f] for f in content) for r in same_time):
                items[:] = [r for r in items if r not in same_time]
                _push(state, "decisions", rec, ("at",))
        elif event == "published":
            _push(state, "pubs", {"at": at, "op": "start", "src": "case", "channel": v.get("channel"),
                                  "masked": v.get("masked"), "ev": ev}, ("at", "op", "src", "channel"))
        elif event == "unpublished":
            _push(state, "pubs", {"at": at, "op": "end", "src": "case", "channel": v.get("channel"),
                                  "masked": None, "ev": ev}, ("at", "op", "src", "channel"))
        elif event in ("fulfilled", "rectified"):
            _push(state, event, {"at": at, "ev": ev}, ("at",))
        elif event in ("revoked", "changed"):
            _push(state, "endings", {"at": at, "kind": event, "by": v.get("by"), "ev": ev}, ("at", "kind"))
    elif fact.kind == "credit":
        kind = v.get("kind")
        details = details_of(fact)
        if kind in PUBLICITY_KINDS:
            op = "start" if kind == "publicity_started" else "end"
            _push(state, "pubs", {"at": at, "op": op, "src": "credit", "channel": CREDIT_CHINA,
                                  "masked": details.get("masked") if op == "start" else None, "ev": ev},
                  ("at", "op", "src", "channel"))
        elif kind in REPAIR_KINDS:
            _push(state, "repairs", {"at": at, "kind": kind, "extended": _truthy(details.get("extended")),
                                     "ev": ev}, ("at", "kind"))


# ---- views recomputed from the record ----

@dataclass(frozen=True)
class Epoch:
    """One decision as decided; a `changed` decision re-decided starts a new epoch."""

    index: int
    rec: Mapping[str, Any]
    at: datetime
    next_at: datetime | None
    ending: Mapping[str, Any] | None
    ending_at: datetime | None

    @property
    def decided_at(self) -> str:
        """The decision time as the sender wrote it."""
        return self.rec["at"]

    @property
    def key(self) -> str:
        """The decision time in China time: identifies the epoch in lead and trigger ids."""
        return self.at.isoformat()


@dataclass(frozen=True)
class Pub:
    """One publication interval on one channel: [start, end)."""

    start: datetime
    end: datetime | None
    src: str
    channel: str | None
    masked: Any
    ev: Mapping[str, Any]
    end_ev: Mapping[str, Any] | None

    def live_after(self, t: datetime) -> bool:
        return self.end is None or self.end > t


def sorted_by_time(items: Iterable[Mapping]) -> list[Mapping]:
    return sorted(items, key=lambda r: (parse_time(r["at"]), r.get("seq", 0)))


def epochs(state: Mapping) -> list[Epoch]:
    decisions = sorted_by_time(state.get("decisions", []))
    endings = sorted_by_time(state.get("endings", []))
    out = []
    for i, rec in enumerate(decisions):
        at = _cst(rec["at"])
        next_at = _cst(decisions[i + 1]["at"]) if i + 1 < len(decisions) else None
        ending = next((x for x in endings
                       if (i == 0 or _cst(x["at"]) >= at) and (next_at is None or _cst(x["at"]) < next_at)), None)
        out.append(Epoch(i, rec, at, next_at, ending, _cst(ending["at"]) if ending else None))
    return out


def epoch_of(eps: list[Epoch], t: datetime) -> Epoch | None:
    """The decision in force at `t` (a record dated before the first decision belongs to it)."""
    current = eps[0] if eps else None
    for e in eps:
        if e.at <= t:
            current = e
    return current


def publications(state: Mapping) -> list[Pub]:
    """Publication intervals. A new `published` on a channel that is already showing the record
    replaces it (a corrected re-publication); `unpublished` without a channel ends every
    channel the enforcement system published on; 信用中国's own publicity_ended ends its own."""
    open_: dict[tuple, dict] = {}
    out: list[Pub] = []

    def close(k, at, ev):
        o = open_.pop(k)
        out.append(Pub(o["start"], at, k[0], k[1], o["masked"], o["ev"], ev))

    for r in sorted_by_time(state.get("pubs", [])):
        at = _cst(r["at"])
        k = (r["src"], r.get("channel"))
        if r["op"] == "start":
            if k in open_:
                close(k, at, r["ev"])
            open_[k] = {"start": at, "masked": r.get("masked"), "ev": r["ev"]}
        else:
            keys = [k] if (r["src"] == "case" and r.get("channel")) else [x for x in open_ if x[0] == r["src"]]
            for x in keys:
                if x in open_:
                    close(x, at, r["ev"])
    for k, o in open_.items():
        out.append(Pub(o["start"], None, k[0], k[1], o["masked"], o["ev"], None))
    return sorted(out, key=lambda p: p.start)


def pubs_of(eps: list[Epoch], pubs: list[Pub], epoch: Epoch) -> list[Pub]:
    return [p for p in pubs if epoch_of(eps, p.start) is epoch]


def first_obligation(state: Mapping, name: str) -> Mapping | None:
    items = sorted_by_time(state.get(name, []))
    return items[0] if items else None


def is_natural_person(state: Mapping) -> bool:
    return (state.get("party") or {}).get("type") == NATURAL_PERSON


def tier_of(state: Mapping, epoch: Epoch, config: RuleConfig) -> TierResult:
    rec = epoch.rec
    return classify(rec.get("penalty_types"), rec.get("procedure"), rec.get("fine_amount"),
                    config, agency_domain(config, state.get("agency_code")))


def periods_of(state: Mapping, epoch: Epoch, tier_: str, config: RuleConfig) -> Periods:
    return period_detail(tier_, epoch.at, agency_domain(config, state.get("agency_code")), config)


def duration_until(epoch: Epoch) -> date | None:
    raw = epoch.rec.get("duration_until")
    return _as_date(raw) if raw else None


def shown_until(p: Periods, epoch: Epoch, config: RuleConfig) -> date:
    """The last day the record may be shown: the maximum period, or longer while a penalty
    with its own duration still runs (令第36号 Art. 12: it cannot come down before the
    duration ends; 总局令第45号 Art. 13 likewise keeps longer restrictions up)."""
    until = duration_until(epoch)
    if until and config.get("credit", "duration_extends_max", True) and until > p.max_until:
        return until
    return p.max_until


def start_of_day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=CST)


def in_time(calendar, start: date, n: int, acted: datetime) -> bool:
    """Whether an act at `acted` falls on or before the n-th working day after `start` (the
    start day not counted; an act on the due day is on time). Looks no further than the act's
    own day, so an act known to be early needs no calendar for the year the deadline would
    fall in (a decision on 2026-12-28 published on 12-30 needs no 2027 table)."""
    day = acted.astimezone(CST).date()
    if n <= 0:
        return day <= start
    d, count = start, 0
    while d < day:
        d += timedelta(days=1)
        if calendar.is_workday(d):
            count += 1
            if count == n and d < day:
                return False
    return True


def summarize(fact: Fact) -> str:
    """The one-line evidence summary of a decision-record fact (Chinese, as the console shows)."""
    v = fact.value
    no = v.get("decision_no") or (fact.case or {}).get("decision_no") or ""
    if fact.kind == "case":
        event = v.get("event")
        if event == "decided":
            parts = [f"{v.get('procedure') or '?'}程序", "、".join(v.get("penalty_types") or []) or "未载明处罚种类"]
            if money(v.get("fine_amount")) is not None:
                parts.append(f"罚款{_yuan(money(v.get('fine_amount')))}元")
            if v.get("penalty_duration_until"):
                parts.append(f"处罚期限至{v['penalty_duration_until']}")
            return f"{v.get('decided_at')} 作出处罚决定{no}（{'；'.join(parts)}）"
        if event == "published":
            masked = {True: "已脱敏", False: "未脱敏"}.get(v.get("masked"), "脱敏情况未知")
            return f"{v.get('published_at')} 在{v.get('channel') or '未知渠道'}公示处罚决定{no}（{masked}）"
        if event == "unpublished":
            return f"{v.get('at')} 撤下处罚决定{no}的公示" + (f"（{v['channel']}）" if v.get("channel") else "")
        label = {"fulfilled": "履行处罚决定", "rectified": "完成整改", "revoked": "处罚决定被撤销",
                 "changed": "处罚决定被变更"}.get(event, event)
        by = f"（{v['by']}）" if v.get("by") else ""
        return f"{v.get('at')} {label}{by}：{no}"
    label = {"publicity_started": "信用中国开始公示", "publicity_ended": "信用中国停止公示",
             "repair_applied": "信用修复申请推送认定单位", "repair_accepted": "认定单位受理信用修复申请",
             "repair_granted": "准予信用修复", "repair_rejected": "不予信用修复"}.get(v.get("kind"), v.get("kind"))
    if v.get("kind") == "repair_accepted" and details_of(fact).get("extended"):
        label += "（情况复杂，延长办理期限）"
    return f"{v.get('at')} {label}：{no}（{v.get('uscc') or ''}）"


MAX_SEEN = 512
NEVER = datetime(1, 1, 2, tzinfo=CST)  # "no tick yet": earlier than any deadline


def enterprise_key(fact: Fact, case_events: frozenset[str], credit_kinds: frozenset[str]) -> str | None:
    """The subject a publicity/credit fact is correlated under: the party's USCC.

    Credit events are keyed by `uscc` at intake; case facts reach the enterprise key space
    forwarded by the case worker under the filing party's uscc (id_token for natural persons),
    with `fact.case` = the filing. The same key is returned here, so the worker's key check
    holds. Facts this module does not use answer None."""
    v = fact.value
    if fact.kind == "credit":
        if v.get("kind") not in credit_kinds or not v.get("decision_no"):
            return None
        return v.get("uscc") or None
    if fact.kind == "case":
        if v.get("event") not in case_events:
            return None
        if v.get("event") == "decided" and not v.get("decision_no"):
            return None
        party = (fact.case or {}).get("party") or {}
        return party.get("uscc") or party.get("id_token") or None
    return None


def evaluate_decisions(state: Mapping | None, item, config: RuleConfig, *, case_events: frozenset[str],
                       credit_kinds: frozenset[str], judge) -> tuple[dict, list[dict]]:
    """`evaluate` of publicity.py and credit.py: one enterprise's state holds one decision
    record per decision_no (`records`), and `judge(record, now, config, pending)` looks at one
    record and returns its outputs, adding to `pending` the instants after which a tick may
    fire something.

    A case fact other than `decided` names its case, not its decision: the case's latest
    `decided` (seen earlier in this same key, in case order, since the case worker forwards
    in order) gives the decision_no through `cases` {case_id: decision_no}; a case fact that
    comes before any `decided` is held (`held` {case_id: [facts]}) and folded in when that
    `decided` arrives. Credit events carry decision_no themselves.

    `now` is the tick's time, or on a fact the last tick's (NEVER before the first tick):
    deadlines are judged on ticks only, while conditions an event makes true (a publication
    out of scope, a revocation while published) fire on the event.
    Facts already seen (ce_id) are ignored. A record no tick can fire anything for and with no
    fact for `[credit] retain_years` is dropped, keeping the state bounded."""
    state = copy_state(state)
    records = state.setdefault("records", {})
    if isinstance(item, Tick):
        now = parse_time(item.at)
        if not state.get("clock") or now > parse_time(state["clock"]):
            state["clock"] = _t(now)
        targets = [no for no, r in records.items() if r.get("_due") and parse_time(r["_due"]) < now]
        latest = now
    else:
        if fact_seen(state, item):
            return state, []
        at = event_time(item)
        mark_seen(state, item, local_date(at))
        book = state["_seen"]
        while len(book) > MAX_SEEN:
            del book[next(iter(book))]
        no = _decision_of(state, item, case_events, credit_kinds)
        if no is None:
            _hold(state, item, case_events)
            return state, []
        record = records.setdefault(no, {"decision_no": no})
        folded = [item]
        if item.kind == "case" and item.value.get("event") == "decided":
            folded += _release(state, item)
        for fact in folded:
            fold(record, fact, summarize(fact))
        # time passes only with ticks: a fact never moves the clock, so facts arriving out of
        # order cannot fire a deadline that a fact still on its way would have met
        now = parse_time(state["clock"]) if state.get("clock") else NEVER
        latest = max(now, *(event_time(f) for f in folded))
        targets = [no]
    outputs: list[dict] = []
    for no in targets:
        pending: list[datetime] = []
        outputs.extend(judge(records[no], now, config, pending))
        set_due(records[no], pending)
    _prune(state, latest, config)  # memory only: the latest time known, facts' own included
    set_due(state, [parse_time(r["_due"]) for r in records.values() if r.get("_due")])
    return state, outputs


def _decision_of(state: dict, fact: Fact, case_events, credit_kinds) -> str | None:
    v = fact.value
    if fact.kind == "credit":
        return str(v["decision_no"]).strip() or None if v.get("kind") in credit_kinds and v.get("decision_no") else None
    if v.get("event") not in case_events:
        return None
    cases = state.setdefault("cases", {})
    case_id = v.get("case_id") or (fact.case or {}).get("case_id")
    if v.get("event") == "decided":
        no = str(v.get("decision_no") or "").strip()
        if no and case_id:
            cases[case_id] = no
        return no or None
    no = v.get("decision_no") or (fact.case or {}).get("decision_no") or cases.get(case_id)
    return str(no).strip() or None if no else None


MAX_HELD_CASES, MAX_HELD_FACTS = 32, 16


def _case_id(fact: Fact) -> str | None:
    return fact.value.get("case_id") or (fact.case or {}).get("case_id")


def _hold(state: dict, fact: Fact, case_events) -> None:
    """Keep a case fact that arrived before its case's `decided` (a source sending out of
    order) until that `decided` comes; bounded, oldest cases dropped first."""
    if fact.kind != "case" or fact.value.get("event") not in case_events or not _case_id(fact):
        return
    held = state.setdefault("held", {})
    items = held.setdefault(_case_id(fact), [])
    items.append(json.loads(json.dumps(
        {"kind": fact.kind, "value": dict(fact.value), "topic": fact.topic, "partition": fact.partition,
         "offset": fact.offset, "ce_id": fact.ce_id, "case": dict(fact.case) if fact.case else None},
        default=str)))
    del items[:-MAX_HELD_FACTS]
    while len(held) > MAX_HELD_CASES:
        del held[next(iter(held))]


def _release(state: dict, decided: Fact) -> list[Fact]:
    held = state.get("held") or {}
    return [Fact(**h) for h in held.pop(_case_id(decided), [])]


def _prune(state: dict, now: datetime, config: RuleConfig) -> None:
    if now == NEVER:
        return
    years = int(config.get("credit", "retain_years", 5))
    horizon = now - timedelta(days=366 * years)
    records = state["records"]
    for no in [no for no, r in records.items() if not r.get("_due") and _newest(r) and _newest(r) < horizon]:
        del records[no]
    if "cases" in state:
        state["cases"] = {c: no for c, no in state["cases"].items() if no in records}


def _newest(record: Mapping) -> datetime | None:
    times = [parse_time(r["at"]) for name in ("decisions", "endings", "pubs", "fulfilled", "rectified", "repairs")
             for r in record.get(name, [])]
    return max(times) if times else None


def set_due(state: dict, pending: list[datetime]) -> None:
    """`_due`: the earliest instant after which a tick may fire something; a tick with
    at <= _due cannot, so the worker may skip this state for it. Absent: no tick can."""
    if pending:
        state["_due"] = _t(min(pending))
    else:
        state.pop("_due", None)
