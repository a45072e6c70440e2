"""公示监督 (publication of penalty decisions): PEN_PUBLICITY_LATE, PEN_PUBLICITY_SCOPE,
PEN_PUBLICITY_STALE. Outputs are leads only (dicts from base.make_lead), subject type `case`.

- PEN_PUBLICITY_LATE 公示超期 — a publishable decision (tier 一般/严重, tiers.py) not published
  within 7 working days of the decision date (国办发〔2018〕118号; the decision day is not
  counted). Judged on ticks: fires when the tick (or any later fact) is past the end of the
  due day; a publication on the due day is on time. A later late publication extends the lead.
  Natural persons' decisions are not counted as publishable by default (信用中国 does not show
  them, 令第36号 Art. 12, and 118号 leaves department-site publication of individuals to
  local rules) — `[PEN_PUBLICITY_LATE] include_natural_persons`.
- PEN_PUBLICITY_SCOPE 超范围公示 — on a publication: the decision is 轻微-tier (令第36号 Arts. 8,
  12; 总局令第45号 Art. 2), or a natural person's penalty is shown on 信用中国 (Art. 12), or a
  natural person's penalty is published unmasked (行政处罚法 Art. 50; 45号令 Art. 6). One lead
  per (decision, reason); later publications for the same reason extend it. The 轻微 test
  applies to 令第58号-era decisions too (45号令 Art. 2 already excluded warnings and 简易程序).
- PEN_PUBLICITY_STALE 公示未及时撤下 — still published 3 working days after (a) the decision
  was revoked or changed (行政处罚法 Art. 48, Art. 85: "3 days" are working days), (b) a
  repair was granted (令第36号 Art. 12; same 3-WD grace, hub judgement), or (c) the last day of
  the maximum publicity period (tiers.shown_until). Judged on ticks; detected_at = end of the
  due day (or the publication's start, if it went up only after that). For `changed`, a
  re-publication after the change is the corrected record and does not count; for `revoked`
  every publication does.
Working-day deadlines are looked up lazily (tiers.in_time): an act known to be early needs no
calendar for the year the deadline would fall in; the exact deadline is computed only once the
start day is over and the act has not been seen.

Key: the party's USCC (id_token for a natural person) — the enterprise key space, not case_id.
These codes need credit events (信用中国's own publicity_started/ended, repair_granted), which
arrive keyed by uscc and carry decision_no but no case_id; case facts reach the same key
forwarded by the case worker. Inside the state, one record per decision_no
(tiers.evaluate_decisions); a forwarded case fact finds its decision through its case's
`decided`. Leads still name the case (subject type `case`, id case_id).

What the worker must honour (streams/app.py and keyspaces.py as of the spine commit):
  1. run this module in the ENTERPRISE key space (credit.events + hub.facts-by-enterprise),
     not the CASE space: key() returns the party's uscc/id_token, which is the message key
     there; in the CASE space (keyed by case_id) every fact would be skipped as mis-keyed;
  2. forwarded case facts carry fact.case = the case's `filed` record (party, agency_code,
     region_code, case_id) and arrive in case order (the forward preserves it); nothing else
     is needed — no decision_no on case facts, no case_id on credit facts. A natural
     person's credit events correlate only if their `uscc` is the party's id_token;
  3. a tick with tick.at <= state["_due"], or any tick when `_due` is absent, cannot fire
     anything, so the worker may skip the state for it (passing it anyway is harmless);
  4. evaluate raises calendar.CalendarYearNotCovered when a deadline it must judge now lies
     in a year chinesecalendar lacks (2027 in 1.11) and no `holidays` reference row covers
     it; the state passed in is untouched: dead-letter or retry the item after PUT
     /api/v1/reference/holidays. A deadline is looked up only once its start day is over
     and the act is still unseen, so far-off years fail only when they matter.
Time passes only with ticks (`clock`): facts never move it, so deadline findings are judged
on ticks; event-made findings (SCOPE) fire on the event.
"""
from __future__ import annotations

from datetime import datetime

from .base import CST, Fact, RuleConfig, Tick, emit, end_of_day, iso, make_lead, parse_time
from .calendar import work_calendar
from .tiers import (
    CREDIT_CHINA, PUBLICITY_KINDS, REGIME_36, TIER_GENERAL, TIER_MINOR, TIER_SERIOUS, Epoch,
    enterprise_key, epoch_of, epochs, evaluate_decisions, in_time, is_natural_person, periods_of,
    publications, pubs_of, shown_until, sorted_by_time, tier_of,
)

INPUTS = frozenset({"case", "credit"})
CODES = ("PEN_PUBLICITY_LATE", "PEN_PUBLICITY_SCOPE", "PEN_PUBLICITY_STALE")

_NAMES = {
    "PEN_PUBLICITY_LATE": "公示超期",
    "PEN_PUBLICITY_SCOPE": "超范围公示",
    "PEN_PUBLICITY_STALE": "公示未及时撤下",
}
_SEVERITY = {"PEN_PUBLICITY_LATE": "中", "PEN_PUBLICITY_SCOPE": "高", "PEN_PUBLICITY_STALE": "中"}

_CASE_EVENTS = frozenset({"decided", "published", "unpublished", "revoked", "changed"})
_CREDIT_KINDS = PUBLICITY_KINDS | {"repair_granted"}


def key(fact: Fact) -> str | None:
    return enterprise_key(fact, _CASE_EVENTS, _CREDIT_KINDS)


def evaluate(state: dict | None, item: Fact | Tick, config: RuleConfig) -> tuple[dict, list[dict]]:
    return evaluate_decisions(state, item, config, case_events=_CASE_EVENTS, credit_kinds=_CREDIT_KINDS,
                              judge=_judge)


def _judge(record: dict, now: datetime, config: RuleConfig, pending: list[datetime]) -> list[dict]:
    cal = work_calendar(config)
    eps = epochs(record)
    pubs = publications(record)
    outputs: list[dict] = []
    for e in eps:
        for lead in (
            _late(record, e, eps, pubs, now, cal, config, pending),
            *_scope(record, e, eps, pubs, config),
            *_stale(record, e, eps, pubs, now, cal, config, pending),
        ):
            if lead:
                emit(record, lead, outputs, e.at.date())
    return outputs


# ---- PEN_PUBLICITY_LATE ----

def _late(state, e: Epoch, eps, pubs, now, cal, config, pending):
    code = "PEN_PUBLICITY_LATE"
    t = tier_of(state, e, config)
    if t.tier not in config.get(code, "tiers", [TIER_GENERAL, TIER_SERIOUS]):
        return None
    if is_natural_person(state) and not config.get(code, "include_natural_persons", False):
        return None
    wd = int(config.get(code, "wd", 7))
    decided_on = e.at.astimezone(CST).date()
    if e.ending_at is not None and in_time(cal, decided_on, wd, e.ending_at):
        return None  # revoked/changed before the deadline: nothing left to publish
    if any(p.live_after(e.at) and in_time(cal, decided_on, wd, p.start) for p in pubs):
        return None
    deadline = _deadline(cal, decided_on, wd, now, pending)
    if deadline is None:
        return None
    due = deadline.date()
    late = next((p for p in pubs if p.start > deadline and p.live_after(e.at)), None)
    explanation = (
        f"处罚决定{state['decision_no']}于{decided_on}作出，属{t.tier}失信行为（{t.reasons[0]}），"
        f"应自作出决定之日起{wd}个工作日内公示（国办发〔2018〕118号；不含决定当日，按法定节假日和"
        f"调休计算工作日），截止{due}；截至该日未见公示。"
    )
    evidence = [dict(e.rec["ev"])]
    if late:
        explanation += f"实际于{late.start.date()}在{late.channel or '未知渠道'}公示。"
        evidence.append(dict(late.ev))
    return _lead(state, config, code, f"{e.key}|late", iso(deadline), evidence, explanation,
                 iso(deadline))


def _deadline(cal, start_day, wd, now, pending) -> datetime | None:
    """The end of the wd-th working day after `start_day` once `now` is past it; else None,
    recording when a tick should look again. Until the start day is over only that day's end
    is recorded, so the calendar of a later year is consulted only when it is needed."""
    lower = end_of_day(start_day)
    if now <= lower:
        pending.append(lower)
        return None
    deadline = end_of_day(cal.add_working_days(start_day, wd))
    if now <= deadline:
        pending.append(deadline)
        return None
    return deadline


# ---- PEN_PUBLICITY_SCOPE ----

def _scope(state, e: Epoch, eps, pubs, config):
    code = "PEN_PUBLICITY_SCOPE"
    mine = pubs_of(eps, pubs, e)
    if not mine:
        return []
    t = tier_of(state, e, config)
    natural = is_natural_person(state)
    reasons = {
        "minor": (lambda p: t.tier == TIER_MINOR,
                  f"该决定属轻微失信行为（{'；'.join(t.reasons)}），依令第36号第十二条原则上不予公示。"),
        "natural_credit_china": (lambda p: natural and p.channel == CREDIT_CHINA,
                                 "当事人为自然人，依令第36号第十二条信用中国网站原则上不公示自然人失信信息。"),
        "unmasked": (lambda p: natural and p.masked is False,
                     "当事人为自然人，公示内容未脱敏，违反行政处罚法第五十条个人隐私保密义务"
                     "（总局令第45号第六条：公示前应当对个人信息作技术处理）。"),
    }
    leads = []
    for name, (hit, why) in reasons.items():
        offending = [p for p in mine if hit(p)]
        if not offending:
            continue
        first = offending[0]
        explanation = (f"处罚决定{state['decision_no']}（{e.at.date()}作出）于{first.start.date()}"
                       f"在{first.channel or '未知渠道'}公示：{why}")
        if len(offending) > 1:
            explanation += f"另有{len(offending) - 1}次同类公示。"
        evidence = [dict(e.rec["ev"])] + [dict(p.ev) for p in offending]
        leads.append(_lead(state, config, code, f"{e.key}|{name}", iso(first.start), evidence,
                           explanation))
    return leads


# ---- PEN_PUBLICITY_STALE ----

def _stale(state, e: Epoch, eps, pubs, now, cal, config, pending):
    code = "PEN_PUBLICITY_STALE"
    wd = int(config.get(code, "wd", 3))
    leads = []

    def judge(reason, start_day, candidates, why, reason_ev):
        up = [p for p in candidates if p.end is None or not in_time(cal, start_day, wd, p.end)]
        if not up:
            return  # every publication came down in time
        deadline = _deadline(cal, start_day, wd, now, pending)
        if deadline is None:
            return
        due = deadline.date()
        offending = [p for p in up if p.start <= now]
        if not offending:
            return
        detected = max(deadline, min(p.start for p in offending))
        channels = "、".join(sorted({p.channel or "未知渠道" for p in offending}))
        explanation = (f"处罚决定{state['decision_no']}{why}，应在{wd}个工作日内撤下公示，"
                       f"自{start_day}起算截止{due}（不含起算日，按法定节假日和调休计算）；"
                       f"该日之后仍在{channels}公示。")
        evidence = [dict(e.rec["ev"]), *reason_ev] + [dict(p.ev) for p in offending]
        evidence += [dict(p.end_ev) for p in offending if p.end_ev]
        leads.append(_lead(state, config, code, f"{e.key}|{reason}", iso(detected), evidence,
                           explanation, iso(deadline)))

    before_next = [p for p in pubs if e.next_at is None or p.start < e.next_at]
    if e.ending is not None:
        x = e.ending
        if x["kind"] == "changed":
            # a re-publication after the change is the corrected record
            candidates, label = [p for p in before_next if p.start <= e.ending_at], "变更"
        else:
            candidates, label = before_next, "撤销"
        by = f"（{x['by']}）" if x.get("by") else ""
        judge("revoked", e.ending_at.astimezone(CST).date(), candidates,
              f"已于{e.ending_at.date()}被{label}{by}，依行政处罚法第四十八条、第八十五条",
              [dict(x["ev"])])
    granted = next((r for r in sorted_by_time(state.get("repairs", []))
                    if r["kind"] == "repair_granted" and epoch_of(eps, parse_time(r["at"])) is e), None)
    if granted is not None:
        granted_on = parse_time(granted["at"]).astimezone(CST).date()
        judge("repaired", granted_on, before_next,
              f"已于{granted_on}获准信用修复，依令第36号第十二条应停止公示（撤下时限按三个工作日掌握）",
              [dict(granted["ev"])])
    periods = periods_of(state, e, tier_of(state, e, config).tier, config)
    until = shown_until(periods, e, config)
    if e.ending_at is None or e.ending_at > end_of_day(until):
        basis = "令第36号第十二条：期满自动停止公示" if periods.regime == REGIME_36 else "令第58号：最长公示期届满停止公示"
        judge("max_period", until, pubs_of(eps, pubs, e),
              f"最长公示期至{until}届满（{basis}），按三个工作日撤下时限", [])
    return leads


# ---- helpers ----

def _lead(state, config, code, finding, detected_at, evidence, explanation, due_at=None):
    party = state.get("party") or {}
    return make_lead(
        rule_code=code,
        rule_name=_NAMES[code],
        severity=config.get(code, "severity", _SEVERITY[code]),
        subject_type="case",
        subject_id=state.get("case_id") or state["decision_no"],
        subject_name=party.get("name"),
        finding_key=f"{state['decision_no']}|{finding}",
        agency_code=state.get("agency_code"),
        region_code=state.get("region_code"),
        detected_at=detected_at,
        evidence=evidence,
        explanation=explanation,
        due_at=due_at,
    )
