"""机关指标规则: AGY_FINE_SURGE (罚没异常增长).

Key: **agency_code** of the deciding agency, taken from the filing the worker attaches to a
`decided` event (`fact.case["agency_code"]`, else the event's own `agency_code`). Only
`decided` case events are keyed; ticks reach states that have a `_due`.

Source: no regulation sets a number. Supervision offices watch agencies whose 罚没收入 grows
sharply (seed 004, 新乡: "紧盯重点领域和罚没收入增幅较大的县(市、区)常态化开展案卷评查"); the
test of RULES.md is the hub's default, configurable.

The finding for a calendar month M (China time): the fines (and, with `include_confiscated`,
the confiscated amounts) of the decisions dated in M total ≥ `ratio` (2) × the mean of the
`baseline_months` (6) months before M — a month without decisions counts 0 — and ≥
`min_amount` (100,000 yuan).

* Time enters only as recorded clock ticks. A decided event is deduplicated when it arrives
  and then held, unjudged; a tick absorbs the held decisions recorded before it (see below),
  advances the clock, and judges. A month is judged once it is complete: on the first tick
  after its last day. detected_at is the month's last instant (end_of_day of its last day), so
  tick spacing never changes a lead.
* Order of arrival: decisions reach this key space forwarded from several case partitions, so
  two replays of one log may interleave them differently with the ticks. The marker protocol
  (streams/app.py) guarantees only that when a tick is applied here, every decision whose case
  record was appended before the tick's record (`Fact.ts` < `Tick.ts`) has arrived. A tick
  therefore absorbs exactly those held decisions (all of them when either `ts` is unknown), in
  (ts, decided_at, log position) order; later ones stay held for the next tick (ties stay held
  too: a case record appended in the tick's own millisecond may be forwarded on either side of
  the markers). What a tick sees is thus a function of the log alone, and so are the leads.
* History: the agency's history starts with the first month in which the hub saw one of its
  decisions. A month is judged only when all its `baseline_months` previous months lie inside
  that history (`min_history_months`, default = baseline_months): the hub cannot tell a surge
  from the months before it started listening, so a new agency's first half-year raises
  nothing instead of comparing against zeros it never observed.
* A decision arriving late (up to `late_arrival_days` behind the clock of the tick that
  absorbs it) re-judges, on that tick, its month and the months whose baseline it belongs to;
  a changed finding re-emits the same lead (finding = month). Leads are not withdrawn.
* Evidence: the `evidence_limit` largest decisions of the month (the explanation gives the
  full count and total), so state and leads stay bounded for busy agencies.

State: {"agency", "region", "first": "YYYY-MM", "months": {"YYYY-MM": {"total": "…", "n": int,
"top": [[amount, at, evidence], …]}}, "held": [{"ts", "at", "amount", "agency", "region", "id",
"evidence"}, …], "_clock", "_due", "_seen", "_emitted"}. Months older than the baseline of the
oldest still-open month are dropped; "top" lists only for open months. "held" (sorted, absent
when empty) lives only until the next tick that passes its entries (ticks come every minute);
while anything is held, `_due` is an instant long past, so the next tick visits the key. A
visit that can change nothing leaves the state untouched, `_clock` included
(`_tick_changes_nothing`): `_clock` is the time of the last tick that could change a finding.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from .base import (
    CST,
    Fact,
    RuleConfig,
    Tick,
    copy_state,
    delivery_id,
    emit,
    end_of_day,
    event_time,
    make_lead,
    mark_seen,
    money,
    prune_book,
    seen,
)

INPUTS = frozenset({"case"})
CODES = ("AGY_FINE_SURGE",)
RULE_NAMES = {"AGY_FINE_SURGE": "罚没异常增长"}
_CODE = "AGY_FINE_SURGE"


def key(fact: Fact) -> str | None:
    if fact.kind != "case" or fact.value.get("event") != "decided":
        return None
    return (fact.case or {}).get("agency_code") or fact.value.get("agency_code") or None


# `_due` while decisions are held: before any tick, so the next tick always visits the key
_HELD_DUE = "1970-01-01T00:00:00+00:00"


def evaluate(state: dict, item: Fact | Tick, config: RuleConfig) -> tuple[dict, list[dict]]:
    out: list[dict] = []
    if isinstance(item, Tick) and _tick_changes_nothing(state, item, config):
        return state, out  # as it was: nothing to copy, judge or write (see _tick_changes_nothing)
    state = copy_state(state)
    if not isinstance(item, Tick):
        if key(item) is None or seen(state, item):
            return state, out
        at = event_time(item).astimezone(CST)
        mark_seen(state, item, at.date())
        _hold(state, item, at, config)
        state["_due"] = _HELD_DUE  # judged on the next tick, never on a fact
        return state, out
    _release(state, item.ts, config)
    at = item.at.astimezone(CST).isoformat()
    if at > state.get("_clock", ""):
        state["_clock"] = at
    if state.get("months"):
        _prune(state, config)
        _judge(state, config, out)
    _set_due(state, config)
    return state, out


# ---- months --------------------------------------------------------------------------------

def _month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _shift(month: str, n: int) -> str:
    y, m = int(month[:4]), int(month[5:7])
    idx = y * 12 + (m - 1) + n
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def _last_day(month: str) -> date:
    return date.fromisoformat(_shift(month, 1) + "-01") - timedelta(days=1)


def _open_from(state: dict, config: RuleConfig) -> str:
    """The oldest month a late decision may still change."""
    return _open_from_at(state["_clock"], config)


def _open_from_at(clock: str, config: RuleConfig) -> str:
    day = date.fromisoformat(clock[:10])
    return _month(day - timedelta(days=int(config.get(_CODE, "late_arrival_days", 30))))


def _month_end(month: str) -> str:
    return end_of_day(_last_day(month)).isoformat()


def _tick_changes_nothing(state: dict, tick: Tick, config: RuleConfig) -> bool:
    """Whether a tick would change nothing but `_clock`: it releases no held decision (each was
    recorded at or after the tick), and between the state's clock and the tick's time no month
    of the state ends and the oldest open month stays the same. Then `_prune` has nothing to
    drop (the state was pruned at its clock, and what arrived since is held), `_judge` judges
    the same complete months from the same totals (re-emitting nothing), and `_due` stays
    "long past". The state is returned as it was, its clock included: the next tick that does
    change something judges at its own time, which is all the clock is for.

    While decisions are held their key is visited on every tick (`_HELD_DUE`); in catch-up most
    of those visits release nothing (12,092 visits for 3,908 decisions on the 30k synth log),
    and each copied, pruned, judged and wrote the whole agency state (bench/RESULTS.md,
    session 8). A changed rule configuration reaches a key with held decisions at its next
    tick that releases or completes something, as it reaches a key with none at its next due
    tick."""
    held, clock = state.get("held"), state.get("_clock")
    if not held or not clock or tick.ts is None:
        return False
    first = held[0]["ts"]  # held is sorted: unknown times first, then by append time
    if first is None or first < tick.ts:
        return False
    at = tick.at.astimezone(CST).isoformat()
    if at <= clock:
        return True
    if not state.get("months"):
        return True
    if _open_from_at(at, config) != _open_from_at(clock, config):
        return False
    return not any(clock <= _month_end(m) < at for m in state["months"])


def _amount(v, config: RuleConfig) -> Decimal:
    total = money(v.get("fine_amount")) or Decimal(0)
    if config.get(_CODE, "include_confiscated", True):
        total += money(v.get("confiscated_amount")) or Decimal(0)
    return total


def _held_order(h: dict):
    ev = h["evidence"]
    return (h["ts"] is not None, h["ts"] or 0.0, h["at"], ev["ce_id"], ev["topic"], ev["partition"], ev["offset"])


def _hold(state: dict, fact: Fact, at, config: RuleConfig) -> None:
    """What `_absorb` needs of a decided event, kept (sorted) until a tick passes it."""
    v = fact.value
    filing = fact.case or {}
    amount = _amount(v, config)
    party = (filing.get("party") or {}).get("name") or "当事人"
    held = state.setdefault("held", [])
    held.append({
        "ts": fact.ts, "at": at.isoformat(), "amount": str(amount), "agency": key(fact),
        "region": filing.get("region_code") or None, "id": delivery_id(fact),
        "evidence": fact.evidence(f"处罚决定 {v.get('decision_no')}（{party}，罚没 {_yuan(amount)} 元，"
                                  f"{at.date().isoformat()}）"),
    })
    held.sort(key=_held_order)


def _release(state: dict, tick_ts: float | None, config: RuleConfig) -> None:
    """Absorb the held decisions recorded before the tick (all, when either time is unknown)."""
    held = state.pop("held", [])
    keep = []
    for h in held:  # already in (ts, at, position) order
        if tick_ts is None or h["ts"] is None or h["ts"] < tick_ts:
            _absorb(state, h, config)
        else:
            keep.append(h)
    if keep:
        state["held"] = keep


def _absorb(state: dict, h: dict, config: RuleConfig) -> None:
    state["agency"] = h["agency"]
    if h["region"]:
        state["region"] = h["region"]
    month = h["at"][:7]
    if month < state.get("first", "9999-99"):
        state["first"] = month
    m = state.setdefault("months", {}).setdefault(month, {"total": "0", "n": 0, "top": []})
    m["total"] = str(Decimal(m["total"]) + Decimal(h["amount"]))
    m["n"] += 1
    m["top"].append([h["amount"], h["at"], h["evidence"]])
    m["top"].sort(key=lambda x: (-Decimal(x[0]), x[1], x[2]["ce_id"]))
    del m["top"][int(config.get(_CODE, "evidence_limit", 50)):]


def _prune(state: dict, config: RuleConfig) -> None:
    open_from = _open_from(state, config)
    keep_from = _shift(open_from, -int(config.get(_CODE, "baseline_months", 6)))
    months = state["months"]
    state["months"] = {k: m for k, m in months.items() if k >= keep_from}
    for k, m in state["months"].items():
        if k < open_from and m["top"]:
            m["top"] = []
    prune_book(state, date.fromisoformat(keep_from + "-01"))
    for h in state.get("held", ()):  # still to come: its duplicates must still be recognised
        state.setdefault("_seen", {})[h["id"]] = h["at"][:10]


def _yuan(x) -> str:
    return f"{Decimal(str(x)):,.2f}"


def _judge(state: dict, config: RuleConfig, out: list) -> None:
    # AGY_FINE_SURGE — a month's 罚没 ≥ ratio × the mean of the previous months and ≥ min_amount
    ratio = money(config.get(_CODE, "ratio", "2"))
    floor = money(config.get(_CODE, "min_amount", "100000"))
    base_n = int(config.get(_CODE, "baseline_months", 6))
    history = int(config.get(_CODE, "min_history_months", base_n))
    clock = state["_clock"]
    open_from = _open_from(state, config)
    months = state["months"]
    names = config.memo("agencies by code (last wins)", lambda: {r.get("agency_code"): r for r in config.ref("agencies")})
    agency = state.get("agency")
    row = names.get(agency) or {}
    for month in sorted(months):
        if month < open_from or end_of_day(_last_day(month)).isoformat() >= clock:
            continue  # settled long ago, or not complete yet
        if _shift(month, -history) < state["first"]:
            continue  # too little observed history to call anything a surge
        total = Decimal(months[month]["total"])
        prior = [_shift(month, -i) for i in range(base_n, 0, -1)]
        amounts = [Decimal(months[p]["total"]) if p in months else Decimal(0) for p in prior]
        if total < floor or total * base_n < ratio * sum(amounts):
            continue
        mean = sum(amounts) / base_n
        top = sorted(months[month]["top"], key=lambda x: (x[1], x[2]["ce_id"]))
        n = months[month]["n"]
        shown = f"（证据列出金额最大的 {len(top)} 件）" if len(top) < n else ""
        deadline = end_of_day(_last_day(month)).isoformat()
        emit(state, make_lead(
            rule_code=_CODE, rule_name=RULE_NAMES[_CODE], severity=config.get(_CODE, "severity", "中"),
            subject_type="agency", subject_id=agency, subject_name=row.get("name"),
            finding_key=month, agency_code=agency, region_code=state.get("region") or row.get("region_code"),
            detected_at=deadline, evidence=[x[2] for x in top],
            explanation=(f"罚没收入异常增长监测（执法监督实践：紧盯罚没收入增幅较大的单位开展案卷评查）。"
                         f"{row.get('name') or agency} {month} 作出处罚决定 {n} 件，罚没金额 {_yuan(total)} 元{shown}；"
                         f"前 {base_n} 个月（{prior[0]} 至 {prior[-1]}）分别为 "
                         f"{'、'.join(_yuan(a) for a in amounts)} 元（无决定的月份计 0），月均 {_yuan(mean)} 元；"
                         f"达到月均的 {ratio} 倍（{_yuan(ratio * mean)} 元）且不低于 {_yuan(floor)} 元。"),
        ), out, date.fromisoformat(month + "-01"))


def _set_due(state: dict, config: RuleConfig) -> None:
    """Long past while decisions are held (the next tick absorbs them); else the end of the
    earliest month not yet complete that could still surge."""
    if state.get("held"):
        state["_due"] = _HELD_DUE
        return
    clock = state["_clock"]
    floor = money(config.get(_CODE, "min_amount", "100000"))
    pending = [end_of_day(_last_day(k)).isoformat() for k, m in (state.get("months") or {}).items()
               if end_of_day(_last_day(k)).isoformat() >= clock and Decimal(m["total"]) >= floor]
    if pending:
        state["_due"] = min(pending)
    else:
        state.pop("_due", None)
