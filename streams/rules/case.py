"""行政处罚办案规则 (《中华人民共和国行政处罚法》2021).

Two entry points, two keys:

* `key` / `evaluate` — state keyed by **case_id** (the `enforcement.cases` key), consuming
  every case event and ticks: PEN_SUMMARY_LIMIT, PEN_DECISION_OVERDUE, PEN_NO_LEGAL_REVIEW,
  PEN_NOT_RECORDED, PEN_DISCRETION.
* `party_key` / `evaluate_party` — state keyed by the **party** (`party.uscc`, else
  `party.id_token`), consuming only `decided` events (the worker attaches the filing as
  `fact.case`): PEN_FIRST_VIOLATION, which needs the party's earlier penalties in other cases.
  Party facts carry no deadline, so ticks only prune.

Codes and their readings of RULES.md:

* PEN_SUMMARY_LIMIT (Art. 51): 简易程序 with a fine above 200 yuan (自然人) or 3,000 yuan
  (organisation). 个体工商户 counts as a natural person by default (`individual_business_as`;
  UNCONFIRMED: the Civil Code lists it under 自然人, practice varies). When the filing is
  unknown the organisation line applies. Art. 51 allows only 警告 or 罚款 on the spot, so
  other penalty types under 简易程序 fire too (`allowed_types`).
* PEN_DECISION_OVERDUE (Art. 60): due = filing date + 90 days, + the days of each extension
  approved on or before the due date then in force (an extension approved after expiry does
  not revive the clock), + the days of each suspension (resumption date − suspension date)
  that began on or before the then due date. While a suspension is open the clock stops and
  nothing fires. Fires on a tick after end_of_day(due) without a decision, or on a decision
  dated after the due date.
* PEN_NO_LEGAL_REVIEW (Art. 58): a decision flagged major / hearing_held / complex with no
  passed legal review at or before the decision instant. Judged when the decision arrives
  (and again on later events of the case: a review dated after the decision joins the evidence).
* PEN_NOT_RECORDED (local rules): a `major` decision without a `recorded` (备案) event within
  15 days (calendar by default, `day_kind`) of the decision.
* PEN_DISCRETION (Art. 34; 国办发〔2022〕27号): the fine lies outside [min_fine, max_fine] of
  the reference `benchmarks` rows for the filing's matter_code and the decision's
  circumstance_level (several rows: their union). No row, no judgement.
* PEN_FIRST_VIOLATION (Art. 33): matter_code on reference `no-penalty-items`, the decision
  flagged first_violation and corrected, a fine imposed, and no earlier decision with a
  penalty for the same matter_code against the same party within the look-back (2 years
  before the decision date).

A tick-fired lead has detected_at = end_of_day(due) and the explanation states the day after
the due date, so tick spacing never changes a lead. A late act re-emits the same lead with the
act in the evidence. Leads are never withdrawn when a late-arriving event shows the act was on
time; the supervisor dismisses them.

Case state: {"filing": {...}, "decision": {...}, "ext": [...], "susp": [...], "res": [...],
"reviews": [...], "recorded": {...}, "_tick": iso, "_due": iso, "_seen", "_emitted"}; each
entry keeps the fields the codes need, its time ("at", "d") and its evidence entry ("ev").
Party state: {"pen": {case_id: {...}}, "_hw": date, "_seen", "_emitted"}, pruned to the
look-back plus `late_arrival_days`.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

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
    prune_book,
    seen,
)
from .calendar import WorkCalendar, work_calendar

INPUTS = frozenset({"case"})
CODES = (
    "PEN_SUMMARY_LIMIT",
    "PEN_DECISION_OVERDUE",
    "PEN_NO_LEGAL_REVIEW",
    "PEN_NOT_RECORDED",
    "PEN_DISCRETION",
)
PARTY_INPUTS = frozenset({"case"})
PARTY_CODES = ("PEN_FIRST_VIOLATION",)
RULE_NAMES = {
    "PEN_SUMMARY_LIMIT": "简易程序超限",
    "PEN_DECISION_OVERDUE": "办案超期",
    "PEN_NO_LEGAL_REVIEW": "未经法制审核",
    "PEN_NOT_RECORDED": "重大处罚未备案",
    "PEN_DISCRETION": "裁量越档",
    "PEN_FIRST_VIOLATION": "应免未免",
}
_SEVERITY = {
    "PEN_SUMMARY_LIMIT": "中",
    "PEN_DECISION_OVERDUE": "中",
    "PEN_NO_LEGAL_REVIEW": "高",
    "PEN_NOT_RECORDED": "中",
    "PEN_DISCRETION": "中",
    "PEN_FIRST_VIOLATION": "中",
}
_LAW = "《中华人民共和国行政处罚法》"
_PERSON, _ORG, _INDIVIDUAL_BUSINESS = "自然人", "法人及非法人组织", "个体工商户"


def key(fact: Fact) -> str | None:
    return fact.value.get("case_id") if fact.kind == "case" else None


def party_key(fact: Fact) -> str | None:
    if fact.kind != "case" or fact.value.get("event") != "decided":
        return None
    party = (fact.case or fact.value).get("party") or {}
    return party.get("uscc") or party.get("id_token") or None


# ---- case-keyed codes ----------------------------------------------------------------------

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
        if "decision" in state:
            # re-judged on every later event too: a late filing or review can complete the facts
            _judge_decision(state, config, out)
    if "filing" in state:
        _judge_deadlines(state, config, out)
    return state, out


def _entry(fact: Fact, at, summary: str, **fields) -> dict:
    return {"at": at.isoformat(), "d": at.date().isoformat(), "ev": fact.evidence(summary), **fields}


def _absorb(state: dict, fact: Fact, at) -> None:
    v = fact.value
    event = v.get("event")
    state["case_id"] = v.get("case_id")
    if fact.case and "filing" not in state:
        state["filing"] = _filing(fact.case, None)
    if event == "filed":
        state["filing"] = _filing(v, _entry(fact, at, _filed_summary(v, at)))
    elif event == "decided":
        decision = {
            "decision_no": v.get("decision_no"),
            "procedure": v.get("procedure"),
            "penalty_types": list(v.get("penalty_types") or []),
            "fine": str(money(v.get("fine_amount")) or 0),
            "level": v.get("circumstance_level"),
            "major": bool(v.get("major")),
            "hearing_held": bool(v.get("hearing_held")),
            "complex": bool(v.get("complex")),
            "matter": v.get("matter_code"),
        }
        state["decision"] = _entry(fact, at, (
            f"作出处罚决定 {v.get('decision_no')}（{v.get('procedure') or '程序未注明'}程序，"
            f"{'、'.join(decision['penalty_types']) or '不予处罚'}，罚款 {_yuan(decision['fine'])} 元，"
            f"{at.date().isoformat()}）"), **decision)
    elif event == "extended":
        state.setdefault("ext", []).append(_entry(
            fact, at, f"批准延长办案期限 {int(v.get('days') or 0)} 日（{at.date().isoformat()}）",
            days=int(v.get("days") or 0)))
        state["ext"].sort(key=lambda e: e["at"])
    elif event in ("suspended", "resumed"):
        name = "susp" if event == "suspended" else "res"
        word = "中止" if event == "suspended" else "恢复"
        state.setdefault(name, []).append(_entry(fact, at, f"案件{word}（{at.date().isoformat()}）"))
        state[name].sort(key=lambda e: e["at"])
    elif event == "legal_reviewed":
        passed = bool(v.get("passed"))
        state.setdefault("reviews", []).append(_entry(
            fact, at, f"法制审核{'通过' if passed else '未通过'}（{at.date().isoformat()}）", passed=passed))
        state["reviews"].sort(key=lambda e: e["at"])
    elif event == "recorded":
        if "recorded" not in state or at.isoformat() < state["recorded"]["at"]:
            state["recorded"] = _entry(fact, at, f"重大行政处罚备案（{at.date().isoformat()}）")


def _filing(v, entry: dict | None) -> dict:
    party = v.get("party") or {}
    f = {
        "agency": v.get("agency_code"),
        "party": {k: party.get(k) for k in ("type", "uscc", "id_token", "name")},
        "matter": v.get("matter_code"),
        "region": v.get("region_code"),
        "filed_at": v.get("filed_at"),
    }
    if entry:
        f.update(entry)
    elif v.get("filed_at"):
        f["d"] = parse_time(v["filed_at"]).astimezone(CST).date().isoformat()
    return f


def _filed_summary(v, at) -> str:
    party = v.get("party") or {}
    return f"立案（当事人 {party.get('name') or '未注明'}，事项 {v.get('matter_code')}，{at.date().isoformat()}）"


def _yuan(x) -> str:
    return f"{Decimal(str(x)):,.2f}"


def _sev(config: RuleConfig, code: str) -> str:
    return config.get(code, "severity", _SEVERITY[code])


def _lead(state: dict, config: RuleConfig, code: str, *, finding: str, detected_at: str,
          evidence: list[dict], explanation: str, due_at: str | None = None) -> dict:
    filing = state.get("filing") or {}
    party = filing.get("party") or {}
    case_id = _case_id(state)
    return make_lead(
        rule_code=code, rule_name=RULE_NAMES[code], severity=_sev(config, code),
        subject_type="case", subject_id=case_id, subject_name=party.get("name"),
        finding_key=finding, agency_code=filing.get("agency"), region_code=filing.get("region"),
        detected_at=detected_at, evidence=[e for e in evidence if e], explanation=explanation,
        due_at=due_at,
    )


def _case_id(state: dict) -> str:
    return state.get("case_id") or ""


def _evs(state: dict, *names: str) -> list[dict]:
    """Evidence entries of the named parts of the state, in time order."""
    entries = []
    for name in names:
        part = state.get(name)
        if isinstance(part, dict):
            part = [part]
        entries.extend(e for e in (part or []) if e.get("ev"))
    return [e["ev"] for e in sorted(entries, key=lambda e: e["at"])]


def _judge_decision(state: dict, config: RuleConfig, out: list) -> None:
    dec = state["decision"]
    filing = state.get("filing") or {}
    day = date.fromisoformat(dec["d"])
    fine = Decimal(dec["fine"])

    # PEN_SUMMARY_LIMIT — Art. 51: on-the-spot fines ≤ 200 yuan (citizen) / ≤ 3,000 yuan (organisation)
    code = "PEN_SUMMARY_LIMIT"
    if dec["procedure"] in config.get(code, "summary_procedures", ["简易"]):
        ptype = (filing.get("party") or {}).get("type")
        as_person = ptype == _PERSON or (
            ptype == _INDIVIDUAL_BUSINESS
            and config.get(code, "individual_business_as", "person") == "person")
        limit = money(config.get(code, "person_max_fine" if as_person else "org_max_fine",
                                 "200" if as_person else "3000"))
        allowed = config.get(code, "allowed_types", ["警告", "罚款"])
        problems = []
        if fine > limit:
            problems.append(
                f"对{'公民' if as_person else '法人或者其他组织'}（当事人类型：{ptype or '未知'}）处以罚款"
                f" {_yuan(fine)} 元，超过简易程序上限 {_yuan(limit)} 元")
        other = [p for p in dec["penalty_types"] if p not in allowed]
        if other:
            problems.append(f"适用简易程序作出{'、'.join(other)}，简易程序仅限{'或'.join(allowed)}")
        if problems:
            emit(state, _lead(
                state, config, code, finding=dec["decision_no"] or "decision", detected_at=dec["at"],
                evidence=_evs(state, "filing", "decision"),
                explanation=(f"{_LAW}第五十一条：违法事实确凿并有法定依据，对公民处以二百元以下、对法人或者"
                             f"其他组织处以三千元以下罚款或者警告的，可以当场作出行政处罚决定。"
                             f"决定 {dec['decision_no']}（{dec['d']}）：" + "；".join(problems) + "。"),
            ), out, day)

    # PEN_NO_LEGAL_REVIEW — Art. 58: review before deciding major / heard / complex cases
    code = "PEN_NO_LEGAL_REVIEW"
    flags = [f for f in config.get(code, "review_flags", ["major", "hearing_held", "complex"]) if dec.get(f)]
    if flags:
        reviews = state.get("reviews", [])
        ok = [r for r in reviews if r["passed"] and r["at"] <= dec["at"]]
        if not ok:
            words = {"major": "重大案件", "hearing_held": "经过听证", "complex": "案情复杂"}
            if not reviews:
                why = "无法制审核记录"
            elif any(r["passed"] for r in reviews):
                why = "法制审核通过时间晚于处罚决定（" + "、".join(r["d"] for r in reviews if r["passed"]) + "）"
            else:
                why = "法制审核未通过即作出决定"
            emit(state, _lead(
                state, config, code, finding=dec["decision_no"] or "decision", detected_at=dec["at"],
                evidence=_evs(state, "filing", "reviews", "decision"),
                explanation=(f"{_LAW}第五十八条：涉及重大公共利益、经过听证程序、案件情况疑难复杂的，在作出"
                             f"决定之前应当进行法制审核；未经法制审核或者审核未通过的，不得作出决定。案件属"
                             f"{'、'.join(words.get(f, f) for f in flags)}，{dec['d']} 作出决定 {dec['decision_no']}，"
                             f"{why}。"),
            ), out, day)

    # PEN_DISCRETION — Art. 34: fines inside the published benchmark range
    code = "PEN_DISCRETION"
    matter = filing.get("matter") or dec.get("matter")
    rows = [r for r in config.ref("benchmarks")
            if r.get("matter_code") == matter and r.get("circumstance_level") == dec["level"]]
    if rows and fine > 0:
        lo = min(money(r.get("min_fine")) or Decimal(0) for r in rows)
        his = [money(r.get("max_fine")) for r in rows]
        hi = None if any(h is None for h in his) else max(his)
        if fine < lo or (hi is not None and fine > hi):
            rng = f"{_yuan(lo)}–{_yuan(hi)} 元" if hi is not None else f"不低于 {_yuan(lo)} 元"
            emit(state, _lead(
                state, config, code, finding=dec["decision_no"] or "decision", detected_at=dec["at"],
                evidence=_evs(state, "filing", "decision"),
                explanation=(f"{_LAW}第三十四条及《国务院办公厅关于进一步规范行政裁量权基准制定和管理工作的"
                             f"意见》（国办发〔2022〕27号）：应当按照裁量基准实施处罚。事项 {matter}、"
                             f"情节“{dec['level']}”的基准罚款为 {rng}，决定 {dec['decision_no']} 罚款"
                             f" {_yuan(fine)} 元，{'低于' if fine < lo else '高于'}基准范围。"),
            ), out, day)


def _calendar(config: RuleConfig) -> WorkCalendar:
    return work_calendar(config)


def _decision_due(state: dict, config: RuleConfig) -> tuple[date, list[str], bool]:
    """(due date, the arithmetic in words, clock stopped by an open suspension)."""
    code = "PEN_DECISION_OVERDUE"
    limit = int(config.get(code, "limit_days", 90))
    filed = date.fromisoformat(state["filing"]["d"])
    due = filed + timedelta(days=limit)
    steps = [f"立案日 {filed.isoformat()}，{limit}日期限届满 {due.isoformat()}"]
    events = sorted(
        [("ext", e) for e in state.get("ext", [])] + [("susp", e) for e in state.get("susp", [])]
        + [("res", e) for e in state.get("res", [])],
        key=lambda x: (x[1]["at"], x[0]))
    since = None
    for kind, e in events:
        d = date.fromisoformat(e["d"])
        if kind == "ext":
            if d <= due:
                due += timedelta(days=e["days"])
                steps.append(f"{e['d']} 批准延长 {e['days']} 日至 {due.isoformat()}")
            else:
                steps.append(f"{e['d']} 批准的延长 {e['days']} 日晚于期限届满日，不予计入")
        elif kind == "susp":
            if since is None and d <= due:
                since = d
        elif since is not None:
            days = (d - since).days
            due += timedelta(days=days)
            steps.append(f"{since.isoformat()} 至 {e['d']} 中止 {days} 日不计入，顺延至 {due.isoformat()}")
            since = None
    if since is not None:
        steps.append(f"{since.isoformat()} 起案件中止，期限停止计算")
    return due, steps, since is not None


def _judge_deadlines(state: dict, config: RuleConfig, out: list) -> None:
    tick = state.get("_tick", "")
    dues: list[str] = []
    dec = state.get("decision")

    # PEN_DECISION_OVERDUE — Art. 60: decide within 90 days of filing (+ extensions, − suspension)
    code = "PEN_DECISION_OVERDUE"
    if state["filing"].get("d"):
        due, steps, stopped = _decision_due(state, config)
        deadline = end_of_day(due).isoformat()
        late = dec is not None and dec["d"] > due.isoformat()
        missing = dec is None and not stopped and tick > deadline
        if late or missing:
            after = due + timedelta(days=1)
            tail = (f"；{dec['d']} 作出处罚决定，超期 {(date.fromisoformat(dec['d']) - due).days} 日" if late
                    else f"；截至 {after.isoformat()} 未作出处罚决定")
            emit(state, _lead(
                state, config, code, finding="decision-overdue", detected_at=deadline,
                evidence=_evs(state, "filing", "ext", "susp", "res", "decision"), due_at=deadline,
                explanation=(f"{_LAW}第六十条：行政机关应当自行政处罚案件立案之日起九十日内作出行政处罚决定，"
                             f"法律、法规、规章另有规定的从其规定（市场监管等部门经批准可延长，中止等期间不计入）。"
                             + "，".join(steps) + tail + "。"),
            ), out, due)
        elif dec is None and not stopped:
            dues.append(deadline)

    # PEN_NOT_RECORDED — local rules: 重大行政处罚 filed (备案) within 15 days of the decision
    code = "PEN_NOT_RECORDED"
    if dec is not None and dec["major"]:
        n = int(config.get(code, "limit_days", 15))
        kind = config.get(code, "day_kind", "calendar")
        decided = date.fromisoformat(dec["d"])
        due = add_days(decided, n, kind, _calendar(config))
        deadline = end_of_day(due).isoformat()
        rec = state.get("recorded")
        late = rec is not None and rec["d"] > due.isoformat()
        missing = rec is None and tick > deadline
        if late or missing:
            unit = "个工作日" if kind == "working" else "日"
            tail = (f"{rec['d']} 才备案" if late
                    else f"截至 {(due + timedelta(days=1)).isoformat()} 未备案")
            emit(state, _lead(
                state, config, code, finding="not-recorded", detected_at=deadline, due_at=deadline,
                evidence=_evs(state, "filing", "decision", "recorded"),
                explanation=(f"重大行政处罚决定应当自作出之日起 {n} {unit}内报送备案（地方重大行政处罚备案规定，"
                             f"期限可配置）。决定 {dec['decision_no']} 为重大行政处罚，决定日 {dec['d']}，"
                             f"备案期限届满 {due.isoformat()}；{tail}。"),
            ), out, due)
        elif rec is None:
            dues.append(deadline)

    future = [d for d in dues if d >= tick]
    if future:
        state["_due"] = min(future)
    else:
        state.pop("_due", None)


# ---- party-keyed code: PEN_FIRST_VIOLATION -------------------------------------------------

def evaluate_party(state: dict, item: Fact | Tick, config: RuleConfig) -> tuple[dict, list[dict]]:
    state = copy_state(state)
    out: list[dict] = []
    if isinstance(item, Tick):
        _party_advance(state, item.at.astimezone(CST).date(), config)
        return state, out
    if party_key(item) is None or seen(state, item):
        return state, out
    at = event_time(item).astimezone(CST)
    mark_seen(state, item, at.date())
    v = item.value
    filing = item.case or {}
    party = filing.get("party") or {}
    fine = money(v.get("fine_amount")) or Decimal(0)
    types = list(v.get("penalty_types") or [])
    state.setdefault("pen", {})[v["case_id"]] = {
        "at": at.isoformat(),
        "d": at.date().isoformat(),
        "decision_no": v.get("decision_no"),
        "matter": filing.get("matter_code") or v.get("matter_code"),
        "penalised": bool(types) or fine > 0,
        "fined": fine > 0 or "罚款" in types,
        "fine": str(fine),
        "first": bool(v.get("first_violation")),
        "corrected": bool(v.get("corrected")),
        "agency": filing.get("agency_code"),
        "region": filing.get("region_code"),
        "party": party.get("name"),
        "ev": item.evidence(
            f"处罚决定 {v.get('decision_no')}（事项 {filing.get('matter_code') or v.get('matter_code')}，"
            f"{'、'.join(types) or '不予处罚'}，罚款 {_yuan(fine)} 元，{at.date().isoformat()}）"),
    }
    _party_advance(state, at.date(), config)
    _judge_first_violation(state, config, out)
    return state, out


def _lookback_start(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 Feb
        return d.replace(year=d.year - years, day=28)


def _party_bounds(state: dict, config: RuleConfig) -> tuple[date, date]:
    code = "PEN_FIRST_VIOLATION"
    hw = date.fromisoformat(state["_hw"])
    eval_from = hw - timedelta(days=int(config.get(code, "late_arrival_days", 30)))
    return eval_from, _lookback_start(eval_from, int(config.get(code, "lookback_years", 2)))


def _party_advance(state: dict, day: date, config: RuleConfig) -> None:
    if state.get("_hw", "") >= day.isoformat():
        return
    state["_hw"] = day.isoformat()
    _, horizon = _party_bounds(state, config)
    cut = horizon.isoformat()
    if "pen" in state:
        state["pen"] = {k: p for k, p in state["pen"].items() if p["d"] >= cut}
    prune_book(state, horizon)


def _judge_first_violation(state: dict, config: RuleConfig, out: list) -> None:
    # PEN_FIRST_VIOLATION — Art. 33: 初次违法且危害后果轻微并及时改正的，可以不予行政处罚
    code = "PEN_FIRST_VIOLATION"
    eval_from, _ = _party_bounds(state, config)
    years = int(config.get(code, "lookback_years", 2))
    listed = {r.get("matter_code"): r for r in config.ref("no-penalty-items")}
    pens = state.get("pen", {})
    for case_id, p in sorted(pens.items(), key=lambda kv: (kv[1]["at"], kv[0])):
        if p["d"] < eval_from.isoformat() or p["matter"] not in listed:
            continue
        if not (p["first"] and p["corrected"] and p["fined"]):
            continue
        start = _lookback_start(date.fromisoformat(p["d"]), years).isoformat()
        earlier = [q for cid, q in pens.items() if cid != case_id and q["matter"] == p["matter"]
                   and q["penalised"] and start <= q["d"] and q["at"] < p["at"]]
        if earlier:
            continue
        cond = listed[p["matter"]].get("conditions")
        emit(state, make_lead(
            rule_code=code, rule_name=RULE_NAMES[code], severity=_sev(config, code),
            subject_type="case", subject_id=case_id, subject_name=p["party"],
            finding_key="first-violation", agency_code=p["agency"], region_code=p["region"],
            detected_at=p["at"], evidence=[p["ev"]],
            explanation=(f"{_LAW}第三十三条：初次违法且危害后果轻微并及时改正的，可以不予行政处罚；事项"
                         f" {p['matter']} 列入不予处罚事项清单{f'（适用条件：{cond}）' if cond else ''}。"
                         f"当事人 {start} 至 {p['d']}（{years} 年内）无同一事项的在先处罚，案件认定为初次违法"
                         f"且已改正，决定 {p['decision_no']} 仍处罚款 {_yuan(p['fine'])} 元。"),
        ), out, date.fromisoformat(p["d"]))
