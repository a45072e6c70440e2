"""行刑衔接规则 (《行政执法机关移送涉嫌犯罪案件的规定》, 国务院令第310号, 2020 revision).

Key: **case_id** for every code. The state consumes the case's `filed` and `decided` events
from `enforcement.cases` (other case events are not keyed; the filing may also come as the
worker-attached `fact.case`), its `justice.transfers` signals, and ticks.

310号 says "日" without saying calendar or working days (DOMAIN.md §4); every day-counted code
reads `day_kind` ("calendar", the default, or "working" on the official calendar).

* XFER_SUBSTITUTION (以罚代刑, Arts. 3, 11): the decision's `amount_involved` reaches the
  prosecution threshold of reference `criminal-thresholds`: any row with the decision's
  `violation_type` whose `party_type` is null or the filing's party type, and whose `measure`
  amount is ≥ `min_amount` and, when `min_ratio` is set, measure ÷ `tax_due` ≥ min_ratio.
  Then a transfer must be `sent` on or before decision date + 5 days (a transfer sent before
  the decision counts). Composite thresholds such as 伪劣产品 "3 × sales + unsold ≥ 15万" and
  the repeat-offender clauses are not expressible as rows and are not screened.
* XFER_APPROVAL_LATE (Art. 5), two findings under one code:
  - "approval": the head's approval or refusal of the transfer report later than report
    date + 3 days (or none by then);
  - "sending": the case sent to the public security organ more than 24 hours (an instant, not
    a day count) after the approval.
* XFER_POLICE_NO_DECISION (Art. 8): no `filed`/`declined` signal by acceptance date + 3 days.

For each kind of signal the earliest one counts. A deadline fires on a tick after its deadline
instant, or when the act arrives late; detected_at is the deadline instant (end_of_day(due),
or approval + 24 h). Leads are not withdrawn when a late-arriving signal shows the act was on
time.

State: {"case_id", "filing": {...}, "decision": {...}, "signals": {kind: [entry, …]},
"_tick", "_due", "_seen", "_emitted"}; entries keep "at", "d" and the evidence entry "ev".
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from .base import (
    CST,
    Fact,
    RuleConfig,
    Tick,
    add_days,
    copy_state,
    emit,
    end_of_day,
    event_time,
    make_lead,
    mark_seen,
    money,
    parse_time,
    seen,
)
from .calendar import work_calendar

INPUTS = frozenset({"case", "transfer"})
CODES = ("XFER_SUBSTITUTION", "XFER_APPROVAL_LATE", "XFER_POLICE_NO_DECISION")
RULE_NAMES = {
    "XFER_SUBSTITUTION": "以罚代刑",
    "XFER_APPROVAL_LATE": "移送审批超期",
    "XFER_POLICE_NO_DECISION": "公安未及时作出立案决定",
}
_SEVERITY = {"XFER_SUBSTITUTION": "高", "XFER_APPROVAL_LATE": "中", "XFER_POLICE_NO_DECISION": "中"}
_REG = "《行政执法机关移送涉嫌犯罪案件的规定》（国务院令第310号）"
_SIGNALS = {
    "report_made": "专案组提交移送书面报告",
    "approved": "机关负责人批准移送",
    "refused": "机关负责人决定不批准移送",
    "sent": "移送公安机关",
    "accepted": "公安机关受理移送案件",
    "filed": "公安机关决定立案",
    "declined": "公安机关决定不予立案",
}
_MEASURES = {
    "sales": "销售金额", "unsold_value": "未销售货值金额", "turnover": "非法经营数额",
    "illegal_gains": "违法所得数额", "tax_evaded": "逃避缴纳税款数额", "tax_due": "应纳税额",
}


def key(fact: Fact) -> str | None:
    if fact.kind == "transfer" or (fact.kind == "case" and fact.value.get("event") in ("filed", "decided")):
        return fact.value.get("case_id") or None
    return None


def evaluate(state: dict, item: Fact | Tick, config: RuleConfig) -> tuple[dict, list[dict]]:
    state = copy_state(state)
    out: list[dict] = []
    if isinstance(item, Tick):
        at = item.at.astimezone(CST).isoformat()
        if at > state.get("_tick", ""):
            state["_tick"] = at
    else:
        if item.kind not in INPUTS or seen(state, item):
            return state, out
        at = event_time(item).astimezone(CST)
        mark_seen(state, item, at.date())
        _absorb(state, item, at)
    _judge(state, config, out)
    return state, out


def _absorb(state: dict, fact: Fact, at) -> None:
    v = fact.value
    state["case_id"] = v.get("case_id")
    entry = {"at": at.isoformat(), "d": at.date().isoformat()}
    if fact.kind == "transfer":
        kind = v.get("kind")
        if kind in _SIGNALS:
            entry["ev"] = fact.evidence(f"{_SIGNALS[kind]}（{at.strftime('%Y-%m-%d %H:%M')}）")
            lst = state.setdefault("signals", {}).setdefault(kind, [])
            lst.append(entry)
            lst.sort(key=lambda e: e["at"])
        return
    filing = fact.case if fact.case else None
    if v.get("event") == "filed":
        filing = v
    if filing and (v.get("event") == "filed" or "filing" not in state):
        party = filing.get("party") or {}
        state["filing"] = {"agency": filing.get("agency_code"), "region": filing.get("region_code"),
                           "party_type": party.get("type"), "party_name": party.get("name")}
        if v.get("event") == "filed":
            state["filing"].update(entry, ev=fact.evidence(
                f"立案（当事人 {party.get('name') or '未注明'}，{at.date().isoformat()}）"))
    if v.get("event") == "decided":
        amounts = {k: str(money(x)) for k, x in (v.get("amount_involved") or {}).items()
                   if money(x) is not None}
        state["decision"] = {
            **entry, "decision_no": v.get("decision_no"), "violation_type": v.get("violation_type"),
            "amounts": amounts,
            "ev": fact.evidence(f"作出行政处罚决定 {v.get('decision_no')}（{v.get('violation_type')}，"
                                f"{at.date().isoformat()}）"),
        }


def _sev(config: RuleConfig, code: str) -> str:
    return config.get(code, "severity", _SEVERITY[code])


def _first(state: dict, *kinds: str) -> dict | None:
    entries = [e for k in kinds for e in state.get("signals", {}).get(k, [])]
    return min(entries, key=lambda e: e["at"]) if entries else None


def _evidence(state: dict, *kinds: str, case: bool = True) -> list[dict]:
    entries = [e for k in kinds for e in state.get("signals", {}).get(k, [])]
    if case:
        entries += [e for e in (state.get("filing"), state.get("decision")) if e and e.get("ev")]
    return [e["ev"] for e in sorted(entries, key=lambda e: e["at"])]


def _lead(state: dict, config: RuleConfig, code: str, *, finding: str, deadline: str,
          evidence: list[dict], explanation: str) -> dict:
    filing = state.get("filing") or {}
    return make_lead(
        rule_code=code, rule_name=RULE_NAMES[code], severity=_sev(config, code),
        subject_type="case", subject_id=state["case_id"], subject_name=filing.get("party_name"),
        finding_key=finding, agency_code=filing.get("agency"), region_code=filing.get("region"),
        detected_at=deadline, evidence=evidence, explanation=explanation, due_at=deadline,
    )


def _days(config: RuleConfig, code: str, name: str, default: int) -> tuple[int, str, str]:
    kind = config.get(code, "day_kind", "calendar")
    return int(config.get(code, name, default)), kind, ("个工作日" if kind == "working" else "日")


def _yuan(x: Decimal) -> str:
    return f"{x:,.2f}"


def _threshold(state: dict, config: RuleConfig) -> str | None:
    """Why the decided amounts reach a prosecution threshold (the first matching row), or None."""
    dec = state["decision"]
    ptype = (state.get("filing") or {}).get("party_type")
    amounts = {k: Decimal(x) for k, x in dec["amounts"].items()}
    for row in config.ref("criminal-thresholds"):
        if row.get("violation_type") != dec["violation_type"]:
            continue
        if row.get("party_type") and row["party_type"] != ptype:
            continue
        measure = row.get("measure")
        value, floor = amounts.get(measure), money(row.get("min_amount"))
        if value is None or floor is None or value < floor:
            continue
        why = f"{_MEASURES.get(measure, measure)} {_yuan(value)} 元，达到 {_yuan(floor)} 元"
        if row.get("min_ratio") not in (None, ""):
            ratio, due = money(row["min_ratio"]), amounts.get("tax_due")
            try:
                if not due or value / due < ratio:
                    continue
            except InvalidOperation:
                continue
            why += f"，占应纳税额 {_yuan(due)} 元的 {value / due:.2%}（标准 {ratio:.0%}）"
        who = f"（{row['party_type']}）" if row.get("party_type") else ""
        return f"{dec['violation_type']}{who}：{why}"
    return None


def _judge(state: dict, config: RuleConfig, out: list) -> None:
    tick = state.get("_tick", "")
    cal = None
    dues: list[str] = []

    def calendar():
        nonlocal cal
        cal = cal or work_calendar(config)
        return cal

    def check(code, finding, start_d: date, n, kind, unit, act, evidence_kinds, text_start, act_word):
        due = add_days(start_d, n, kind, calendar())
        deadline = end_of_day(due).isoformat()
        late = act is not None and act["d"] > due.isoformat()
        missing = act is None and tick > deadline
        if late or missing:
            tail = (f"{act['d']} 才{act_word}" if late
                    else f"截至 {(due + timedelta(days=1)).isoformat()} 未{act_word}")
            emit(state, _lead(state, config, code, finding=finding, deadline=deadline,
                              evidence=_evidence(state, *evidence_kinds),
                              explanation=f"{text_start}期限届满 {due.isoformat()}（{n} {unit}）；{tail}。"),
                 out, due)
        elif act is None:
            dues.append(deadline)

    # XFER_SUBSTITUTION — Arts. 3, 11: reaching the prosecution standard means transfer, not a fine
    code = "XFER_SUBSTITUTION"
    dec = state.get("decision")
    if dec:
        why = _threshold(state, config)
        if why:
            n, kind, unit = _days(config, code, "transfer_within_days", 5)
            sent = _first(state, "sent")
            check(code, "substitution", date.fromisoformat(dec["d"]), n, kind, unit, sent,
                  ("report_made", "approved", "refused", "sent"),
                  f"{_REG}第三条、第十一条：涉嫌犯罪数额达到追诉标准的必须向公安机关移送，不得以行政处罚代替移送。"
                  f"决定 {dec['decision_no']}（{dec['d']}）认定{why}；自决定日起 {n} {unit}内应移送，",
                  "移送公安机关")

    # XFER_APPROVAL_LATE — Art. 5: the head decides within 3 days; sent within 24 hours of approval
    code = "XFER_APPROVAL_LATE"
    report = _first(state, "report_made")
    if report:
        n, kind, unit = _days(config, code, "approve_within_days", 3)
        check(code, "approval", date.fromisoformat(report["d"]), n, kind, unit,
              _first(state, "approved", "refused"), ("report_made", "approved", "refused"),
              f"{_REG}第五条：机关正职负责人或者主持工作的负责人应当自接到移送书面报告之日起 3 日内作出"
              f"批准移送或者不批准移送的决定。移送报告 {report['d']}，",
              "作出审批决定")
    approved = _first(state, "approved")
    if approved:
        hours = int(config.get(code, "send_within_hours", 24))
        deadline = (parse_time(approved["at"]) + timedelta(hours=hours)).astimezone(CST).isoformat()
        sent = _first(state, "sent")
        late = sent is not None and sent["at"] > deadline
        missing = sent is None and tick > deadline
        if late or missing:
            when = deadline[:16].replace("T", " ")
            tail = (f"{sent['at'][:16].replace('T', ' ')} 才移送" if late else f"截至 {when} 未移送")
            emit(state, _lead(
                state, config, code, finding="sending", deadline=deadline,
                evidence=_evidence(state, "approved", "sent", case=False),
                explanation=(f"{_REG}第五条：决定批准的，应当在 24 小时内向同级公安机关移送。"
                             f"{approved['at'][:16].replace('T', ' ')} 批准移送，{hours} 小时期限届满 {when}；"
                             f"{tail}。")), out, date.fromisoformat(approved["d"]))
        elif sent is None:
            dues.append(deadline)

    # XFER_POLICE_NO_DECISION — Art. 8: the PSB decides on filing within 3 days of accepting
    code = "XFER_POLICE_NO_DECISION"
    accepted = _first(state, "accepted")
    if accepted:
        n, kind, unit = _days(config, code, "decide_within_days", 3)
        check(code, "police-decision", date.fromisoformat(accepted["d"]), n, kind, unit,
              _first(state, "filed", "declined"), ("sent", "accepted", "filed", "declined"),
              f"{_REG}第八条：公安机关应当自接受行政执法机关移送的涉嫌犯罪案件之日起 3 日内进行审查，"
              f"并作出立案或者不予立案的决定。受理 {accepted['d']}，",
              "作出立案决定")

    future = [d for d in dues if d >= tick]
    if future:
        state["_due"] = min(future)
    else:
        state.pop("_due", None)
