"""信用修复 (credit repair): the four credit triggers and the CR_REPAIR_SLA lead.

Outputs are of two kinds, told apart by their id field:
  - credit triggers (dicts with `trigger_id`) for credit.repair-triggers:
        {trigger_id, code, uscc, decision_no, tier, decided_at, min_until, max_until,
         eligible_from, reasons, evidence, detected_at}
    trigger_id = make_id("CR", code, decision_no, decided_at in China time): one per (code,
    decision as decided). It is fired once — re-delivery, replays and later ticks never repeat it. A
    decision that is `changed` and then decided again (a new `decided` for the same
    decision_no with a new decided_at) is a new decision: it may legitimately produce its own
    triggers. Dates are ISO days; min_until / max_until are the last days of the minimum and
    maximum publicity periods (tiers.py; max_until already extended by a running penalty
    duration); eligible_from is the first day repair may be applied for (None while the
    obligations are not all known to be met). `uscc` is the party's USCC; a natural person has
    none, so it carries the party's id_token (the key; credit_trigger.avsc needs a string).
    detected_at is the instant the condition became true, from the facts alone: the event's
    time for event-made conditions, the start of the first day after a period for time-made
    ones — never the tick's time, so replays with other tick spacing give the same triggers.
  - leads (dicts with `lead_id`, base.make_lead) for CR_REPAIR_SLA, subject type `decision`.

Codes (RULES.md):
- CR_REPAIR_ELIGIBLE 可申请信用修复 — the minimum publicity period is over (令第36号 Art. 12:
  一般 3 months, 严重 1 year, 轻微 none; 令第58号 periods before 2026-04-01), the penalty is
  fulfilled AND rectified (`fulfilled`, `rectified` case events; Art. 14(2)), and no penalty
  duration is still running (`penalty_duration_until`; Art. 12). The 信用承诺 of Art. 14(3) is
  made with the application, so it is not awaited. Only for records that are or may be shown:
  一般/严重 decisions of organisations and 个体工商户, or any decision seen published. Not
  fired if the decision was revoked/changed first or the record comes down (max period)
  before eligibility.
- CR_PUBLICITY_EXPIRED 公示期满应撤下 — the last day of the maximum period (tiers.shown_until)
  has passed and the record is still shown (Art. 12: display stops automatically).
- CR_WITHDRAW_NOT_PUBLISHABLE 不应公示应撤下 — a 轻微-tier decision appears published on any
  channel (Arts. 8, 12), or a natural person's on 信用中国 (Art. 12). Fired on the
  publication even if it has since ended.
- CR_WITHDRAW_REVOKED 决定撤销应撤下 — a decision is revoked or changed while published
  (令第36号 Art. 19; 行政处罚法 Art. 48).
- CR_REPAIR_SLA 信用修复办理超时 (lead) — Art. 16: the identifying unit accepts or refuses within
  3 working days of the push (`repair_applied` → `repair_accepted`), and returns the result
  within 7 working days of accepting (`repair_accepted` → `repair_granted`/`repair_rejected`),
  +10 working days when the acceptance's details say {"extended": true}. One lead per
  application / acceptance; a late act extends it with its evidence. Needs only credit
  events, so it works for decisions whose case the hub never saw.

Key, state and worker contract: as publicity.py — key = the party's USCC (id_token for a
natural person), one record per decision_no inside (tiers.evaluate_decisions), run in the
ENTERPRISE key space (where streams/keyspaces.py already places `credit`), ticks needed only
when tick.at > `_due`, CalendarYearNotCovered raised (state untouched) when an SLA deadline
falls in an uncovered year. Each record adds `_fired` {trigger_id: detected_at}.
`fulfilled` / `rectified` belong to the decision_no, not to one epoch: a decision changed and
re-decided counts obligations met before the change (the credit platform checks the
application anyway). Time passes only with ticks, so eligibility and expiry are fired on a
tick (or on the fact that completes them when the clock is already past), but dated by the
facts.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from .base import CST, Fact, RuleConfig, Tick, emit, end_of_day, iso, make_id, make_lead, parse_time
from .calendar import work_calendar
from .tiers import (
    CREDIT_CHINA, DECISION_EVENTS, PUBLICITY_KINDS, REPAIR_KINDS, TIER_MINOR, Epoch, duration_until,
    enterprise_key, epochs, evaluate_decisions, first_obligation, in_time, is_natural_person, periods_of,
    publications, pubs_of, shown_until, sorted_by_time, start_of_day, tier_of,
)

INPUTS = frozenset({"case", "credit"})
CODES = (
    "CR_REPAIR_ELIGIBLE",
    "CR_PUBLICITY_EXPIRED",
    "CR_WITHDRAW_NOT_PUBLISHABLE",
    "CR_WITHDRAW_REVOKED",
    "CR_REPAIR_SLA",
)

_CREDIT_KINDS = PUBLICITY_KINDS | REPAIR_KINDS


def key(fact: Fact) -> str | None:
    return enterprise_key(fact, DECISION_EVENTS, _CREDIT_KINDS)


def evaluate(state: dict | None, item: Fact | Tick, config: RuleConfig) -> tuple[dict, list[dict]]:
    return evaluate_decisions(state, item, config, case_events=DECISION_EVENTS, credit_kinds=_CREDIT_KINDS,
                              judge=_judge)


def _judge(record: dict, now: datetime, config: RuleConfig, pending: list[datetime]) -> list[dict]:
    eps = epochs(record)
    pubs = publications(record)
    outputs: list[dict] = []
    fired = record.setdefault("_fired", {})
    for e in eps:
        view = _View(record, e, eps, pubs, config)
        for trig in (
            _eligible(view, now, pending),
            _expired(view, now, pending),
            _not_publishable(view),
            _revoked(view),
        ):
            if trig is not None and trig["trigger_id"] not in fired:
                fired[trig["trigger_id"]] = trig["detected_at"]
                outputs.append(trig)
    if record.get("repairs"):
        cal = work_calendar(config)
        for lead, anchor in _sla(record, now, cal, config, pending):
            emit(record, lead, outputs, anchor)
    return outputs


class _View:
    """What one decision epoch looks like now: tier, periods, obligations, publications."""

    def __init__(self, state, e: Epoch, eps, pubs, config):
        self.state, self.e, self.config = state, e, config
        self.tier = tier_of(state, e, config)
        self.periods = periods_of(state, e, self.tier.tier, config)
        self.shown_until = shown_until(self.periods, e, config)
        self.mine = pubs_of(eps, pubs, e)
        self.pubs = pubs
        self.fulfilled = first_obligation(state, "fulfilled")
        self.rectified = first_obligation(state, "rectified")
        self.duration_until = duration_until(e)

    def ready_at(self) -> datetime | None:
        """When every repair condition holds (None while an obligation is not known met)."""
        if not (self.fulfilled and self.rectified):
            return None
        parts = [start_of_day(self.periods.repair_from), parse_time(self.fulfilled["at"]),
                 parse_time(self.rectified["at"])]
        if self.duration_until:
            parts.append(start_of_day(self.duration_until + timedelta(days=1)))
        return max(parts)

    def trigger(self, code: str, detected_at: datetime, reasons: list[str], evidence: list[dict]) -> dict:
        ready = self.ready_at()
        return {
            "trigger_id": make_id("CR", code, self.state["decision_no"], self.e.key),
            "code": code,
            "uscc": _subject(self.state),
            "decision_no": self.state["decision_no"],
            "tier": self.tier.tier,
            "decided_at": self.e.decided_at,
            "min_until": self.periods.min_until.isoformat(),
            "max_until": self.shown_until.isoformat(),
            "eligible_from": ready.astimezone(CST).date().isoformat() if ready else None,
            "reasons": [*self.tier.reasons, *self.periods.reasons, *self._duration_reason(), *reasons],
            "evidence": [dict(self.e.rec["ev"]), *evidence],
            "detected_at": iso(detected_at),
        }

    def _duration_reason(self) -> list[str]:
        if not self.duration_until:
            return []
        text = f"该处罚带有期限，至{self.duration_until}届满，期限届满前不得撤下、不得修复（令第36号第十二条）"
        if self.shown_until == self.duration_until:
            text += f"，公示截止日相应延至{self.duration_until}"
        return [text + "。"]


# ---- CR_REPAIR_ELIGIBLE ----

def _eligible(v: _View, now: datetime, pending: list[datetime]):
    if not (v.mine or (v.tier.tier != TIER_MINOR and not is_natural_person(v.state))):
        return None
    ready = v.ready_at()
    if ready is None:
        return None
    if v.e.ending_at is not None and v.e.ending_at <= ready:
        return None
    if ready > end_of_day(v.shown_until):
        return None  # the record comes down before repair could matter
    if now < ready:
        pending.append(ready - timedelta(microseconds=1))
        return None
    p = v.periods
    if p.min_months:
        time_part = f"最短公示期已于{p.min_until}届满"
    else:
        time_part = "轻微失信行为无最短公示期，履行义务后即可申请"
    reasons = [
        f"当事人已于{_day(v.fulfilled['at'])}履行处罚决定、于{_day(v.rectified['at'])}完成整改，"
        f"{time_part}，自{ready.astimezone(CST).date()}起符合令第36号第十四条信用修复条件"
        f"（申请时还需作出信用承诺）。"
    ]
    return v.trigger("CR_REPAIR_ELIGIBLE", ready, reasons, [dict(v.fulfilled["ev"]), dict(v.rectified["ev"])])


# ---- CR_PUBLICITY_EXPIRED ----

def _expired(v: _View, now: datetime, pending: list[datetime]):
    last = end_of_day(v.shown_until)
    if v.e.ending_at is not None and v.e.ending_at <= last:
        return None  # revoked/changed first: CR_WITHDRAW_REVOKED covers it
    up = [p for p in v.mine if p.live_after(last)]
    if not up:
        return None
    if now <= last:
        pending.append(last)
        return None
    shown = [p for p in up if p.start <= now]
    if not shown:
        return None
    detected = max(start_of_day(v.shown_until + timedelta(days=1)), min(p.start for p in shown))
    channels = "、".join(sorted({p.channel or "未知渠道" for p in shown}))
    reasons = [f"最长公示期已于{v.shown_until}届满（令第36号第十二条：期满自动停止公示），"
               f"{_day(iso(detected))}仍在{channels}公示，应撤下。"]
    return v.trigger("CR_PUBLICITY_EXPIRED", detected, reasons, [dict(p.ev) for p in shown])


# ---- CR_WITHDRAW_NOT_PUBLISHABLE ----

def _not_publishable(v: _View):
    natural = is_natural_person(v.state)
    offending = [p for p in v.mine
                 if v.tier.tier == TIER_MINOR or (natural and p.channel == CREDIT_CHINA)]
    if not offending:
        return None
    first = offending[0]
    if v.tier.tier == TIER_MINOR:
        why = "属轻微失信行为，依令第36号第八条、第十二条原则上不予公示"
    else:
        why = "当事人为自然人，依令第36号第十二条信用中国网站原则上不公示自然人失信信息"
    reasons = [f"该决定{why}；{first.start.date()}起在{first.channel or '未知渠道'}公示，应撤下。"]
    return v.trigger("CR_WITHDRAW_NOT_PUBLISHABLE", first.start, reasons, [dict(first.ev)])


# ---- CR_WITHDRAW_REVOKED ----

def _revoked(v: _View):
    e = v.e
    if e.ending is None:
        return None
    shown = [p for p in v.pubs
             if p.start <= e.ending_at and p.live_after(e.ending_at)
             and (e.next_at is None or p.start < e.next_at)]
    if not shown:
        return None
    label = "撤销" if e.ending["kind"] == "revoked" else "变更"
    by = f"（{e.ending['by']}）" if e.ending.get("by") else ""
    channels = "、".join(sorted({p.channel or "未知渠道" for p in shown}))
    reasons = [f"处罚决定已于{e.ending_at.date()}被{label}{by}，其时仍在{channels}公示；"
               f"依令第36号第十九条、行政处罚法第四十八条应及时撤下或更正。"]
    return v.trigger("CR_WITHDRAW_REVOKED", e.ending_at, reasons,
                     [dict(e.ending["ev"]), *(dict(p.ev) for p in shown)])


# ---- CR_REPAIR_SLA (lead) ----

_SLA = "CR_REPAIR_SLA"


def _sla(state, now, cal, config, pending):
    repairs = sorted_by_time(state.get("repairs", []))
    steps = []  # (start record, answering kinds, working days, label, finding)
    accept_wd = int(config.get(_SLA, "accept_wd", 3))
    result_wd = int(config.get(_SLA, "result_wd", 7))
    extension_wd = int(config.get(_SLA, "extension_wd", 10))
    for r in repairs:
        if r["kind"] == "repair_applied":
            steps.append((r, {"repair_accepted"}, accept_wd,
                          f"认定单位应在收到推送后{accept_wd}个工作日内作出是否受理的决定", "accept"))
        elif r["kind"] == "repair_accepted":
            wd = result_wd + (extension_wd if r.get("extended") else 0)
            text = f"认定单位应在受理后{result_wd}个工作日内反馈办理结果"
            if r.get("extended"):
                text += f"，情况复杂已延长{extension_wd}个工作日，共{wd}个工作日"
            steps.append((r, {"repair_granted", "repair_rejected"}, wd, text, "result"))
    out = []
    for start, answers, wd, text, finding in steps:
        started = parse_time(start["at"])
        start_day = started.astimezone(CST).date()
        answer = next((r for r in repairs if r["kind"] in answers and parse_time(r["at"]) >= started), None)
        if answer is not None and in_time(cal, start_day, wd, parse_time(answer["at"])):
            continue
        lower = end_of_day(start_day)
        if now <= lower:
            pending.append(lower)  # the exact deadline (maybe in a later year) is looked up then
            continue
        due = cal.add_working_days(start_day, wd)
        deadline = end_of_day(due)
        if now <= deadline:
            pending.append(deadline)
            continue
        no = state["decision_no"]
        explanation = (f"信用修复（处罚决定{no}）：{_day(start['at'])}{_STEP[start['kind']]}；依令第36号第十六条，"
                       f"{text}，自{start_day}起算截止{due}（不含起算日，按法定节假日和调休计算）；"
                       + (f"实际于{_day(answer['at'])}才{_STEP[answer['kind']]}。" if answer
                          else "截至该日未见办理结果。" if finding == "result" else "截至该日未见受理。"))
        evidence = [dict(start["ev"])] + ([dict(answer["ev"])] if answer else [])
        party = state.get("party") or {}
        lead = make_lead(
            rule_code=_SLA,
            rule_name="信用修复办理超时",
            severity=config.get(_SLA, "severity", "中"),
            subject_type="decision",
            subject_id=no,
            subject_name=party.get("name"),
            finding_key=f"{finding}|{started.astimezone(CST).isoformat()}",
            agency_code=state.get("agency_code"),
            region_code=state.get("region_code"),
            detected_at=iso(deadline),
            evidence=evidence,
            explanation=explanation,
            due_at=iso(deadline),
        )
        out.append((lead, start_day))
    return out


def _subject(record) -> str | None:
    party = record.get("party") or {}
    return party.get("uscc") or party.get("id_token")


_STEP = {
    "repair_applied": "信用修复申请推送至认定单位",
    "repair_accepted": "认定单位受理",
    "repair_granted": "作出准予修复决定",
    "repair_rejected": "作出不予修复决定",
}


def _day(value: str) -> date:
    return parse_time(value).astimezone(CST).date()
