"""12345 热线规则 (司法部 12345 热线与行政执法监督合作机制试点, 司办通〔2023〕90号; 国办发〔2024〕54号).

Key: the **enterprise USCC** for both codes. The state consumes
* work orders of category 投诉/举报 keyed by `subject.uscc` (other categories and orders without
  an enterprise USCC are not keyed); a later status change of the same order_id only fills
  fields the first delivery lacked (the complaint keeps its first `received_at`);
* inspections keyed by `target.uscc`;
* case `filed` events keyed by `party.uscc` (the filing is what "a case of the enterprise"
  means; later case events are not needed).

HOT_ENFORCEMENT_COMPLAINT (执法投诉印证, subject = the agency complained about): a 投诉/举报 with
`about_agency_code` X and `enforcement_complaint_type` matches X's inspections (as lead agency
or joint partner) or case filings of the enterprise dated within `match_window_days` (30)
before the complaint (local dates; same-day records count when they precede the complaint).
One lead per complaint (finding = order_id); a late inspection or filing updates it. The lead
carries `grade`, after the Binzhou pilot's A/B/C sorting (DOMAIN.md §6; the thresholds are our
reading, UNCONFIRMED):
* A 集中投诉: ≥ `a_min_complaints` (3) enforcement complaints about the same agency and
  enterprise within `a_window_days` (30) up to this one → 个案监督;
* B 反复投诉未纠正: ≥ `b_min_complaints` (2) enforcement complaints of the same type about the
  same agency and enterprise within `b_window_days` (90) up to this one → 专项监督;
* C 一般: otherwise → 提醒函.
The grade counts complaints up to the graded one, so a later complaint never regrades an
earlier lead; an earlier complaint that arrives late does regrade (and re-emits) later leads.

HOT_COMPLAINT_CLUSTER (投诉集中未处置, subject = the enterprise): ≥ `min_complaints` (3)
投诉/举报 about the enterprise with the same `topic` within `window_days` (30), and no
inspection of the enterprise by any agency from the third complaint until `inspect_within_wd`
(15) working days after its date. Complaints about an agency's own enforcement (with
`about_agency_code`) are left out: they are not about the enterprise's conduct. Windows are
anchored on a complaint as in inspection.py (a further complaint in the window adds evidence;
the deadline stays with the third). Fires on a tick after end_of_day(due), or when the first
inspection after the third complaint is dated after the due date.

Lateness: facts up to `late_arrival_days` older than the newest date seen are still joined.
State: {"uscc", "orders": {order_id: …}, "insp": {inspection_id: …}, "filings": {case_id: …},
"_hw", "_tick", "_due", "_seen", "_emitted"}; records keep "at", "d", the matching fields and
the evidence entry "ev".
"""
from __future__ import annotations

from datetime import date, timedelta

from .base import (
    CST,
    Fact,
    RuleConfig,
    Tick,
    copy_state,
    emit,
    end_of_day,
    event_time,
    make_lead,
    mark_seen,
    prune_book,
    seen,
)
from .calendar import work_calendar

INPUTS = frozenset({"workorder", "inspection", "case"})
CODES = ("HOT_ENFORCEMENT_COMPLAINT", "HOT_COMPLAINT_CLUSTER")
RULE_NAMES = {"HOT_ENFORCEMENT_COMPLAINT": "执法投诉印证", "HOT_COMPLAINT_CLUSTER": "投诉集中未处置"}
_COMPLAINT = ("投诉", "举报")
_GRADE_SEVERITY = {"A": "高", "B": "中", "C": "低"}
_PILOT = "司法部行政执法监督与12345政务服务便民热线合作机制试点（司办通〔2023〕90号）"
_SRC54 = "《国务院办公厅关于严格规范涉企行政检查的意见》（国办发〔2024〕54号）"


def key(fact: Fact) -> str | None:
    v = fact.value
    if fact.kind == "workorder":
        if v.get("category") not in _COMPLAINT:
            return None
        return (v.get("subject") or {}).get("uscc") or None
    if fact.kind == "inspection":
        return (v.get("target") or {}).get("uscc") or None
    if fact.kind == "case" and v.get("event") == "filed":
        return (v.get("party") or {}).get("uscc") or None
    return None


def evaluate(state: dict, item: Fact | Tick, config: RuleConfig) -> tuple[dict, list[dict]]:
    state = copy_state(state)
    out: list[dict] = []
    if isinstance(item, Tick):
        at = item.at.astimezone(CST)
        if at.isoformat() > state.get("_tick", ""):
            state["_tick"] = at.isoformat()
        _advance(state, at.date(), config)
    else:
        if key(item) is None or seen(state, item):
            return state, out
        at = event_time(item).astimezone(CST)
        mark_seen(state, item, at.date())
        state["uscc"] = key(item)
        _absorb(state, item, at, config)
        _advance(state, at.date(), config)
    if state.get("orders"):
        _judge_enforcement(state, config, out)
        _judge_cluster(state, config, out)
    else:
        state.pop("_due", None)
    return state, out


# ---- state keeping -------------------------------------------------------------------------

def _int(config: RuleConfig, code: str, name: str, default: int) -> int:
    return int(config.get(code, name, default))


def _late(config: RuleConfig) -> int:
    return max(_int(config, c, "late_arrival_days", 30) for c in CODES)


def _bounds(state: dict, config: RuleConfig) -> tuple[date, date, date]:
    """(complaints judged from, cluster anchors judged from, horizon before which facts go)."""
    hw = date.fromisoformat(state["_hw"])
    e, c = "HOT_ENFORCEMENT_COMPLAINT", "HOT_COMPLAINT_CLUSTER"
    judge_from = hw - timedelta(days=_late(config))
    back = max(_int(config, e, "match_window_days", 30), _int(config, e, "a_window_days", 30),
               _int(config, e, "b_window_days", 90))
    window = _int(config, c, "window_days", 30)
    # 15 working days never span more than 2 × 15 + 14 calendar days (weekends + a Golden Week)
    span = window + 2 * _int(config, c, "inspect_within_wd", 15) + 14
    cluster_from = judge_from - timedelta(days=span)
    horizon = min(judge_from - timedelta(days=back), cluster_from - timedelta(days=window))
    return judge_from, cluster_from, horizon


def _advance(state: dict, day: date, config: RuleConfig) -> None:
    if state.get("_hw", "") >= day.isoformat():
        return
    state["_hw"] = day.isoformat()
    _, _, horizon = _bounds(state, config)
    cut = horizon.isoformat()
    for name in ("orders", "insp", "filings"):
        if name in state:
            state[name] = {k: r for k, r in state[name].items() if r["d"] >= cut}
    prune_book(state, horizon)


def _absorb(state: dict, fact: Fact, at, config: RuleConfig) -> None:
    v = fact.value
    base = {"at": at.isoformat(), "d": at.date().isoformat()}
    if fact.kind == "workorder":
        subject = v.get("subject") or {}
        rec = {
            **base, "cat": v.get("category"), "topic": v.get("topic"),
            "about": v.get("about_agency_code"), "ctype": v.get("enforcement_complaint_type"),
            "name": subject.get("name"), "region": v.get("region_code"),
            "ev": fact.evidence(
                f"12345工单 {v.get('order_id')}（{v.get('category')}，{v.get('topic') or '未分类'}"
                + (f"，反映{_agency_name(config, v.get('about_agency_code'))}{v.get('enforcement_complaint_type') or ''}"
                   if v.get("about_agency_code") else "")
                + f"，{at.date().isoformat()}）"),
        }
        orders = state.setdefault("orders", {})
        old = orders.get(v["order_id"])
        if old is None:
            orders[v["order_id"]] = rec
        else:  # a status change: keep the first receipt, fill what it lacked
            for k, x in rec.items():
                if old.get(k) in (None, "") and x not in (None, ""):
                    old[k] = x
    elif fact.kind == "inspection":
        joint = [c for c in (v.get("joint_agency_codes") or []) if c]
        state.setdefault("insp", {})[v["inspection_id"]] = {
            **base, "agencies": list(dict.fromkeys([v.get("agency_code"), *joint])),
            "ev": fact.evidence(f"{_agency_name(config, v.get('agency_code'))}实施检查"
                                f"（{v.get('trigger') or '未注明起因'}，{at.date().isoformat()}，"
                                f"检查编号 {v.get('inspection_id')}）"),
        }
    else:
        state.setdefault("filings", {})[v["case_id"]] = {
            **base, "agencies": [v.get("agency_code")],
            "ev": fact.evidence(f"{_agency_name(config, v.get('agency_code'))}立案查处"
                                f"（案件 {v.get('case_id')}，{at.date().isoformat()}）"),
        }


def _agency_name(config: RuleConfig, code: str | None) -> str:
    row = config.first_by("agencies", "agency_code").get(code)
    if row is not None:
        return row.get("name") or code
    return code or "未知机关"


# ---- HOT_ENFORCEMENT_COMPLAINT -------------------------------------------------------------

def _judge_enforcement(state: dict, config: RuleConfig, out: list) -> None:
    code = "HOT_ENFORCEMENT_COMPLAINT"
    judge_from, _, _ = _bounds(state, config)
    match_days = _int(config, code, "match_window_days", 30)
    a_min, a_days = _int(config, code, "a_min_complaints", 3), _int(config, code, "a_window_days", 30)
    b_min, b_days = _int(config, code, "b_min_complaints", 2), _int(config, code, "b_window_days", 90)
    severities = {**_GRADE_SEVERITY, **config.get(code, "grade_severity", {})}
    orders = state["orders"]
    enforcement = {oid: o for oid, o in orders.items()
                   if o["cat"] in _COMPLAINT and o.get("about") and o.get("ctype")}
    for oid, c in sorted(enforcement.items(), key=lambda kv: (kv[1]["at"], kv[0])):
        if c["d"] < judge_from.isoformat():
            continue
        agency = c["about"]
        cday = date.fromisoformat(c["d"])
        since = (cday - timedelta(days=match_days)).isoformat()
        matched = [r for part in ("insp", "filings") for r in state.get(part, {}).values()
                   if agency in r["agencies"] and since <= r["d"] and r["at"] <= c["at"]]
        if not matched:
            continue

        def same(days, same_type=False):
            start = (cday - timedelta(days=days)).isoformat()
            return [o for o in enforcement.values() if o["about"] == agency and start <= o["d"]
                    and o["at"] <= c["at"] and (not same_type or o["ctype"] == c["ctype"])]

        group_a, group_b = same(a_days), same(b_days, same_type=True)
        if len(group_a) >= a_min:
            grade, peers = "A", group_a
            why = (f"A 类（集中投诉）：{a_days} 日内针对该机关、该企业的执法投诉 {len(group_a)} 件"
                   f"（标准 {a_min} 件），建议转入个案监督")
        elif len(group_b) >= b_min:
            grade, peers = "B", group_b
            why = (f"B 类（反复投诉、问题未纠正）：{b_days} 日内同类（{c['ctype']}）执法投诉 {len(group_b)} 件"
                   f"（标准 {b_min} 件），建议开展专项监督")
        else:
            grade, peers = "C", [c]
            why = "C 类（一般投诉）：建议制发提醒函"
        records = sorted({id(r): r for r in matched + peers}.values(), key=lambda r: r["at"])
        name = _agency_name(config, agency)
        found = "；".join(r["ev"]["summary"] for r in sorted(matched, key=lambda r: r["at"]))
        lead = make_lead(
            rule_code=code, rule_name=RULE_NAMES[code], severity=severities[grade],
            subject_type="agency", subject_id=agency, subject_name=name if name != agency else None,
            finding_key=oid, agency_code=agency, region_code=c["region"], detected_at=c["at"],
            evidence=[r["ev"] for r in records],
            explanation=(f"{_PILOT}：12345 涉执法投诉应与执法记录比对并分级处置。工单 {oid}（{c['d']}，{c['cat']}）"
                         f"反映{name}对{c['name'] or '企业'}{c['ctype']}；投诉前 {match_days} 日内（{since} 起）"
                         f"该机关对该企业的执法记录：{found}。分级 {why}。"),
        )
        lead["grade"] = grade
        emit(state, lead, out, cday)


# ---- HOT_COMPLAINT_CLUSTER -----------------------------------------------------------------

def _windows(records: list[tuple[str, dict]], days: int, need: int):
    recs = sorted(records, key=lambda kv: (kv[1]["d"], kv[1]["at"], kv[0]))
    accepted: list[list[tuple[str, dict]]] = []
    for i, (_, anchor) in enumerate(recs):
        end = (date.fromisoformat(anchor["d"]) + timedelta(days=days)).isoformat()
        members = [kv for kv in recs[i:] if kv[1]["d"] <= end]
        if len(members) < need:
            continue
        ids = {k for k, _ in members}
        if any(ids <= {k for k, _ in m} for m in accepted):
            continue
        accepted.append(members)
    return accepted


def _judge_cluster(state: dict, config: RuleConfig, out: list) -> None:
    code = "HOT_COMPLAINT_CLUSTER"
    _, cluster_from, _ = _bounds(state, config)
    days = _int(config, code, "window_days", 30)
    need = _int(config, code, "min_complaints", 3)
    wd = _int(config, code, "inspect_within_wd", 15)
    tick = state.get("_tick", "")
    dues: list[str] = []
    calendar = None
    topics: dict[str, list[tuple[str, dict]]] = {}
    for oid, o in state["orders"].items():
        if o["cat"] in _COMPLAINT and not o.get("about"):
            topics.setdefault(o.get("topic") or "", []).append((oid, o))
    for topic in sorted(topics):
        for members in _windows(topics[topic], days, need):
            anchor_id, anchor = members[0]
            if anchor["d"] < cluster_from.isoformat():
                continue
            third = members[need - 1][1]
            calendar = calendar or work_calendar(config)
            due = calendar.add_working_days(date.fromisoformat(third["d"]), wd)
            deadline = end_of_day(due).isoformat()
            after = sorted((r for r in state.get("insp", {}).values() if r["at"] >= third["at"]),
                           key=lambda r: r["at"])
            first = after[0] if after else None
            late = first is not None and first["d"] > due.isoformat()
            missing = first is None and tick > deadline
            if not (late or missing):
                if first is None:
                    dues.append(deadline)
                continue
            tail = (f"首次检查晚至 {first['d']}" if late
                    else f"截至 {(due + timedelta(days=1)).isoformat()} 未对该企业实施检查")
            evidence = [m["ev"] for _, m in members] + ([first["ev"]] if late else [])
            emit(state, make_lead(
                rule_code=code, rule_name=RULE_NAMES[code], severity=config.get(code, "severity", "中"),
                subject_type="enterprise", subject_id=state["uscc"], subject_name=anchor["name"],
                finding_key=f"{topic}|{anchor_id}", agency_code=None, region_code=third["region"],
                detected_at=deadline, due_at=deadline, evidence=evidence,
                explanation=(f"{_SRC54}将投诉举报列为检查启动事由；集中投诉应及时核查处置。{anchor['d']} 起"
                             f" {days} 日内，关于{anchor['name'] or '该企业'}“{topic or '未分类'}”的投诉举报"
                             f" {len(members)} 件（{'、'.join(m['d'] for _, m in members)}）；第 {need} 件"
                             f" {third['d']} 起 {wd} 个工作日（扣除法定节假日和休息日，计入调休上班日）期限届满"
                             f" {due.isoformat()}；{tail}。"),
            ), out, date.fromisoformat(anchor["d"]))
    future = [d for d in dues if d >= tick]
    if future:
        state["_due"] = min(future)
    else:
        state.pop("_due", None)

