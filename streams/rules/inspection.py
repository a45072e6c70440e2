"""行政检查规则 (enterprise-related inspections, 国办发〔2024〕54号).

Keys (one state per key):

* every code: the target enterprise's USCC (`target.uscc`). An inspection without a target
  USCC is keyed `INSP:<inspection_id>`, so only the per-inspection codes can fire for it.
* `credit` facts of kind `risk_class_changed` are keyed by their `uscc` and only feed the
  enterprise's credit-risk class to INSP_OVER_CAP.

Codes:

* INSP_DUPLICATE (重复检查, subject enterprise): ≥2 inspections of one enterprise by one agency
  within `window_days`, none joint, triggers 投诉举报/复查/转办交办/上级交办 excluded.
* INSP_MULTI_AGENCY (多头检查, subject enterprise): non-joint inspections by ≥3 different
  agencies within `window_days`. Joint inspections are left out of the count (they are what
  54号 asks for), rather than cancelling the finding.
* INSP_OVER_CAP (超频检查, subject enterprise, agency_code = the inspecting agency): an
  agency's inspections of one enterprise in a calendar year exceed the cap for the
  enterprise's credit-risk class. The class is the inspection's own `risk_class`, else the
  last `risk_class_changed` before it; no known class, no cap. Caps come from reference
  `inspection-caps` (row for the agency's `domain` from reference `agencies`, else a row
  without domain), else the `caps` table in rules.toml. An agency participates in an
  inspection it leads or joins (`joint_agency_codes`); the triggers in `excluded_triggers`
  are not counted (UNCONFIRMED: 54号 leaves the counting to the sector caps).
* INSP_NO_PLAN, INSP_NO_CODE, INSP_UNCERTIFIED (subject agency): judged per inspection on
  arrival. Reference sets `inspection-plans` and `officers` that are empty mean "not
  configured": then only the missing plan_id and the officer count are checked, instead of
  declaring every plan and certificate unknown.

Windows (INSP_DUPLICATE, INSP_MULTI_AGENCY) are anchored on an inspection A and hold the
inspections dated A's day … A's day + window_days (local dates). Each anchor whose window
qualifies raises one lead (finding = agency/enterprise + anchor inspection), unless its
inspections are all inside a qualifying window of an earlier anchor. A later inspection in the
same window re-emits the lead with more evidence. Lateness: facts up to `late_arrival_days`
older than the newest date seen still join their windows; older ones are only checked per
inspection.

State: {"insp": {inspection_id: record}, "cls": [[at, class], …], "_hw": date,
"_seen": {delivery: date}, "_emitted": {lead_id: [signature, anchor date]}}; a record keeps
the fields the windows need plus the event's evidence entry. No deadlines, so no "_due".
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
    event_time,
    local_date,
    make_lead,
    mark_seen,
    parse_time,
    prune_book,
    seen,
)

INPUTS = frozenset({"inspection", "credit"})
CODES = (
    "INSP_DUPLICATE",
    "INSP_MULTI_AGENCY",
    "INSP_OVER_CAP",
    "INSP_NO_PLAN",
    "INSP_NO_CODE",
    "INSP_UNCERTIFIED",
)
RULE_NAMES = {
    "INSP_DUPLICATE": "重复检查",
    "INSP_MULTI_AGENCY": "多头检查",
    "INSP_OVER_CAP": "超频检查",
    "INSP_NO_PLAN": "无计划检查",
    "INSP_NO_CODE": "未亮码检查",
    "INSP_UNCERTIFIED": "执法人员资格不符",
}
_SEVERITY = {
    "INSP_DUPLICATE": "中",
    "INSP_MULTI_AGENCY": "中",
    "INSP_OVER_CAP": "中",
    "INSP_NO_PLAN": "中",
    "INSP_NO_CODE": "低",
    "INSP_UNCERTIFIED": "高",
}
_EXCLUDED_TRIGGERS = ["投诉举报", "复查", "转办交办", "上级交办"]
_DEFAULT_CAPS = {"A": 1, "B": 1, "C": 2}
_SRC54 = "《国务院办公厅关于严格规范涉企行政检查的意见》（国办发〔2024〕54号）"


def key(fact: Fact) -> str | None:
    v = fact.value
    if fact.kind == "inspection":
        uscc = (v.get("target") or {}).get("uscc")
        if uscc:
            return uscc
        return f"INSP:{v['inspection_id']}" if v.get("inspection_id") else None
    if fact.kind == "credit" and v.get("kind") == "risk_class_changed":
        return v.get("uscc") or None
    return None


def evaluate(state: dict, item: Fact | Tick, config: RuleConfig) -> tuple[dict, list[dict]]:
    state = copy_state(state)
    out: list[dict] = []
    if isinstance(item, Tick):
        _advance(state, local_date(item.at), config)
        return state, out
    if item.kind not in INPUTS or seen(state, item):
        return state, out
    at = event_time(item).astimezone(CST)
    day = at.date()
    mark_seen(state, item, day)
    if item.kind == "credit":
        if item.value.get("risk_class"):
            cls = state.setdefault("cls", [])
            cls.append([at.isoformat(), item.value["risk_class"]])
            cls.sort()
        _advance(state, day, config)
        if "insp" in state:
            _check_cap(state, config, out)
        return state, out

    v = item.value
    rec = _record(item, at, day, config)
    _check_single(state, item, rec, config, out)
    state.setdefault("insp", {})[v["inspection_id"]] = rec
    _advance(state, day, config)
    if not str(key(item)).startswith("INSP:"):
        _check_windows(state, config, out)
        _check_cap(state, config, out)
    return state, out


# ---- state keeping -------------------------------------------------------------------------

def _late(config: RuleConfig) -> int:
    return max(int(config.get(c, "late_arrival_days", 30)) for c in CODES[:3])


def _window(config: RuleConfig, code: str) -> int:
    return int(config.get(code, "window_days", 30))


def _bounds(state: dict, config: RuleConfig) -> tuple[date, date, date]:
    """(eval_from, horizon, open_year_from): windows anchored before eval_from are settled;
    facts before horizon can no longer matter; years before open_year_from are settled."""
    hw = date.fromisoformat(state["_hw"])
    late = _late(config)
    window = max(_window(config, "INSP_DUPLICATE"), _window(config, "INSP_MULTI_AGENCY"))
    eval_from = hw - timedelta(days=late + window)
    open_year = (hw - timedelta(days=late)).year
    horizon = min(eval_from - timedelta(days=window), date(open_year, 1, 1))
    return eval_from, horizon, date(open_year, 1, 1)


def _advance(state: dict, day: date, config: RuleConfig) -> None:
    if state.get("_hw", "") >= day.isoformat():
        return
    state["_hw"] = day.isoformat()
    _, horizon, _ = _bounds(state, config)
    cut = horizon.isoformat()
    if "insp" in state:
        state["insp"] = {k: r for k, r in state["insp"].items() if r["d"] >= cut}
    if state.get("cls"):
        # keep the class in force at the horizon plus every later change
        cls = state["cls"]
        keep = [c for c in cls if c[0][:10] >= cut]
        older = [c for c in cls if c[0][:10] < cut]
        state["cls"] = older[-1:] + keep
    prune_book(state, horizon)


def _record(fact: Fact, at, day: date, config: RuleConfig) -> dict:
    v = fact.value
    target = v.get("target") or {}
    joint = [c for c in (v.get("joint_agency_codes") or []) if c and c != v.get("agency_code")]
    agency = _agency_name(config, v.get("agency_code")) or v.get("agency_code")
    summary = (
        f"{agency}检查{target.get('name') or target.get('uscc') or '对象'}"
        f"（{v.get('trigger') or '未注明起因'}{'，联合检查' if joint else ''}，{day.isoformat()}，"
        f"检查编号 {v.get('inspection_id')}）"
    )
    return {
        "id": v["inspection_id"],
        "agency": v.get("agency_code"),
        "joint": joint,
        "trigger": v.get("trigger"),
        "at": at.isoformat(),
        "d": day.isoformat(),
        "cls": v.get("risk_class"),
        "name": target.get("name"),
        "uscc": target.get("uscc"),
        "region": v.get("region_code"),
        "ev": fact.evidence(summary),
    }


def _agency_name(config: RuleConfig, code: str | None) -> str | None:
    row = config.first_by("agencies", "agency_code").get(code)
    return row.get("name") if row is not None else None


def _agency_domain(config: RuleConfig, code: str | None) -> str | None:
    row = config.first_by("agencies", "agency_code").get(code)
    return row.get("domain") if row is not None else None


def _sev(config: RuleConfig, code: str) -> str:
    return config.get(code, "severity", _SEVERITY[code])


# ---- per-inspection codes ------------------------------------------------------------------

def _check_single(state: dict, fact: Fact, rec: dict, config: RuleConfig, out: list) -> None:
    v = fact.value
    day = date.fromisoformat(rec["d"])
    agency = v.get("agency_code")

    def lead(code: str, explanation: str, summary: str) -> None:
        emit(state, make_lead(
            rule_code=code, rule_name=RULE_NAMES[code], severity=_sev(config, code),
            subject_type="agency", subject_id=agency or "",
            subject_name=_agency_name(config, agency),
            finding_key=rec["id"], agency_code=agency, region_code=rec["region"],
            detected_at=rec["at"], evidence=[fact.evidence(summary)],
            explanation=explanation,
        ), out, day)

    # INSP_NO_PLAN — 54号: 无计划不检查 (planned and 双随机 inspections need a registered plan)
    plan_triggers = config.get("INSP_NO_PLAN", "plan_triggers", ["计划", "双随机"])
    if v.get("trigger") in plan_triggers:
        plan_id = v.get("plan_id")
        plans = config.ref("inspection-plans")
        problem = None
        if not plan_id:
            problem = "未关联检查计划（plan_id 为空）"
        elif plans and (plan_id, agency, day.year) not in config.memo("inspection-plan keys", lambda: {
            (p.get("plan_id"), p.get("agency_code"), int(p.get("year") or 0)) for p in plans
        }):
            problem = f"检查计划 {plan_id} 未登记为该机关 {day.year} 年度检查计划"
        if problem:
            lead("INSP_NO_PLAN",
                 f"{_SRC54}要求涉企行政检查按年度检查计划实施（无计划不检查）。检查"
                 f" {rec['id']}（{day.isoformat()}）以“{v.get('trigger')}”方式实施，{problem}。",
                 rec["ev"]["summary"] + f"：{problem}")

    # INSP_NO_CODE — 54号 and local 扫码入企/亮码检查: every inspection carries its 行政行为码
    if not (v.get("action_code") or "").strip():
        lead("INSP_NO_CODE",
             f"{_SRC54}及各地扫码入企（亮码检查）规定要求入企检查生成并出示行政行为码。检查"
             f" {rec['id']}（{day.isoformat()}）未记录行政行为码（action_code）。",
             rec["ev"]["summary"] + "：未记录行政行为码")

    # INSP_UNCERTIFIED — 行政处罚法第四十二条: ≥2 certified officers
    min_officers = int(config.get("INSP_UNCERTIFIED", "min_officers", 2))
    certs = [c for c in (v.get("officer_cert_nos") or []) if c]
    officers = config.memo("officers by cert_no", lambda: {o.get("cert_no"): o for o in config.ref("officers")})
    problems, notes = [], []
    if len(set(certs)) < min_officers:
        problems.append(f"执法人员 {len(set(certs))} 人，少于 {min_officers} 人")
    for cert in dict.fromkeys(certs):
        row = officers.get(cert)
        if row is None:
            if officers:
                problems.append(f"执法证 {cert} 未登记")
                notes.append(f"{cert} 未登记")
            else:
                notes.append(cert)
            continue
        status = _cert_problem(row, day, rec["at"])
        notes.append(f"{cert}（{status or '有效'}）")
        if status:
            problems.append(f"执法证 {cert} {status}")
    if problems:
        lead("INSP_UNCERTIFIED",
             "《中华人民共和国行政处罚法》第四十二条规定执法人员不得少于两人并应具有行政执法资格；"
             f"{_SRC54}禁止不具备执法资格的人员实施检查。检查 {rec['id']}（{day.isoformat()}）："
             + "；".join(problems) + "。",
             rec["ev"]["summary"] + "；执法人员：" + ("、".join(notes) or "无"))


def _cert_problem(row: dict, day: date, instant: str) -> str | None:
    """Why a certificate does not cover an inspection on `day` at `instant`, or None.
    Reference dates may be plain dates (whole days, inclusive) or instants."""
    def on_or_before(value, inclusive_day: bool) -> bool:
        text = str(value)
        if len(text) <= 10:
            return date.fromisoformat(text) <= day if inclusive_day else date.fromisoformat(text) < day
        return parse_time(text) <= parse_time(instant)

    if row.get("revoked_at") and on_or_before(row["revoked_at"], inclusive_day=True):
        return f"已于 {str(row['revoked_at'])[:10]} 吊销/注销"
    if row.get("valid_from") and not on_or_before(row["valid_from"], inclusive_day=True):
        return f"有效期自 {str(row['valid_from'])[:10]} 起，检查时尚未生效"
    if row.get("valid_until") and on_or_before(row["valid_until"], inclusive_day=False):
        return f"已于 {str(row['valid_until'])[:10]} 过期"
    return None


# ---- windowed codes ------------------------------------------------------------------------

def _anchored_windows(records: list[dict], days: int, qualifies) -> list[tuple[dict, list[dict]]]:
    """Windows [anchor day, anchor day + days] that qualify and are not inside an earlier one."""
    recs = sorted(records, key=lambda r: (r["d"], r["at"], r["id"]))
    accepted: list[tuple[dict, list[dict]]] = []
    for i, anchor in enumerate(recs):
        end = (date.fromisoformat(anchor["d"]) + timedelta(days=days)).isoformat()
        members = [r for r in recs[i:] if r["d"] <= end]
        if not qualifies(members):
            continue
        ids = {r["id"] for r in members}
        if any(ids <= {r["id"] for r in m} for _, m in accepted):
            continue
        accepted.append((anchor, members))
    return accepted


def _check_windows(state: dict, config: RuleConfig, out: list) -> None:
    eval_from, _, _ = _bounds(state, config)
    records = list(state.get("insp", {}).values())
    solo = [r for r in records if not r["joint"]]

    # INSP_DUPLICATE — 54号: mergeable checks must not be repeated
    code = "INSP_DUPLICATE"
    days = _window(config, code)
    need = int(config.get(code, "min_inspections", 2))
    excluded = set(config.get(code, "excluded_triggers", _EXCLUDED_TRIGGERS))
    by_agency: dict[str, list[dict]] = {}
    for r in solo:
        if r["trigger"] not in excluded and r["agency"]:
            by_agency.setdefault(r["agency"], []).append(r)
    for agency in sorted(by_agency):
        for anchor, members in _anchored_windows(by_agency[agency], days, lambda m: len(m) >= need):
            if anchor["d"] < eval_from.isoformat():
                continue
            end = date.fromisoformat(anchor["d"]) + timedelta(days=days)
            name = _agency_name(config, agency) or agency
            dates = "、".join(m["d"] for m in members)
            emit(state, make_lead(
                rule_code=code, rule_name=RULE_NAMES[code], severity=_sev(config, code),
                subject_type="enterprise", subject_id=anchor["uscc"], subject_name=anchor["name"],
                finding_key=f"{agency}|{anchor['id']}", agency_code=agency,
                region_code=anchor["region"], detected_at=members[need - 1]["at"],
                evidence=[m["ev"] for m in members],
                explanation=(
                    f"{_SRC54}要求可合并的检查不得重复实施。{name}于 {dates} 对"
                    f"{anchor['name'] or anchor['uscc']}实施 {len(members)} 次非联合检查（检查起因不属于"
                    f"{'、'.join(sorted(excluded))}），均在首次检查 {anchor['d']} 起 {days} 日内"
                    f"（至 {end.isoformat()}），达到重复检查标准（{need} 次）。"
                ),
            ), out, date.fromisoformat(anchor["d"]))

    # INSP_MULTI_AGENCY — 54号: checks that can be done jointly must not be done separately
    code = "INSP_MULTI_AGENCY"
    days = _window(config, code)
    need = int(config.get(code, "min_agencies", 3))

    def agencies_of(members):
        return list(dict.fromkeys(m["agency"] for m in members if m["agency"]))

    for anchor, members in _anchored_windows(solo, days, lambda m: len(agencies_of(m)) >= need):
        if anchor["d"] < eval_from.isoformat():
            continue
        end = date.fromisoformat(anchor["d"]) + timedelta(days=days)
        seen_agencies: list[str] = []
        detected = members[-1]["at"]
        for m in members:
            if m["agency"] not in seen_agencies:
                seen_agencies.append(m["agency"])
                if len(seen_agencies) == need:
                    detected = m["at"]
                    break
        names = "、".join(_agency_name(config, a) or a for a in agencies_of(members))
        emit(state, make_lead(
            rule_code=code, rule_name=RULE_NAMES[code], severity=_sev(config, code),
            subject_type="enterprise", subject_id=anchor["uscc"], subject_name=anchor["name"],
            finding_key=anchor["id"], agency_code=None, region_code=anchor["region"],
            detected_at=detected, evidence=[m["ev"] for m in members],
            explanation=(
                f"{_SRC54}要求能联合实施的检查不得多头检查。{anchor['d']} 至 {end.isoformat()}"
                f"（{days} 日内），{len(agencies_of(members))} 个机关（{names}）分别对"
                f"{anchor['name'] or anchor['uscc']}实施检查 {len(members)} 次，均未联合检查"
                f"（标准：{need} 个及以上机关）。"
            ),
        ), out, date.fromisoformat(anchor["d"]))


def _class_at(state: dict, rec: dict) -> str | None:
    if rec.get("cls"):
        return rec["cls"]
    current = None
    for at, cls in state.get("cls", []):
        if at <= rec["at"]:
            current = cls
    return current


def _cap(config: RuleConfig, agency: str, risk_class: str | None) -> tuple[int | None, str]:
    """(per-year cap or None, where it came from). Class D and unknown classes: no cap."""
    if not risk_class:
        return None, "无信用风险分类"
    rows = [r for r in config.ref("inspection-caps") if r.get("risk_class") == risk_class]
    domain = _agency_domain(config, agency)
    match = [r for r in rows if domain and r.get("domain") == domain] or [
        r for r in rows if not r.get("domain")
    ]
    if match:
        cap = match[0].get("per_year")
        return (None if cap is None else int(cap)), (
            f"参考数据 inspection-caps（{match[0].get('domain') or '通用'}）")
    caps = config.get("INSP_OVER_CAP", "caps", _DEFAULT_CAPS)
    cap = caps.get(risk_class)
    return (None if cap is None else int(cap)), "rules.toml 默认上限"


def _check_cap(state: dict, config: RuleConfig, out: list) -> None:
    # INSP_OVER_CAP — 54号: annual cap on inspections of one enterprise by one authority
    code = "INSP_OVER_CAP"
    _, _, open_from = _bounds(state, config)
    excluded = set(config.get(code, "excluded_triggers", _EXCLUDED_TRIGGERS))
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in state.get("insp", {}).values():
        if r["trigger"] in excluded or r["d"] < open_from.isoformat():
            continue
        for agency in dict.fromkeys([r["agency"], *r["joint"]]):
            if agency:
                groups.setdefault((agency, int(r["d"][:4])), []).append(r)
    for (agency, year), recs in sorted(groups.items()):
        recs.sort(key=lambda r: (r["at"], r["id"]))
        first_over = None
        for n, r in enumerate(recs, start=1):
            cls = _class_at(state, r)
            cap, source = _cap(config, agency, cls)
            if cap is not None and n > cap:
                first_over = (r, cls, cap, source)
                break
        if first_over is None:
            continue
        r, cls, cap, source = first_over
        name = _agency_name(config, agency) or agency
        emit(state, make_lead(
            rule_code=code, rule_name=RULE_NAMES[code], severity=_sev(config, code),
            subject_type="enterprise", subject_id=r["uscc"], subject_name=r["name"],
            finding_key=f"{agency}|{year}", agency_code=agency, region_code=r["region"],
            detected_at=r["at"], evidence=[x["ev"] for x in recs],
            explanation=(
                f"{_SRC54}要求按信用风险分类确定对同一企业的年度检查频次上限。{year} 年{name}对"
                f"{r['name'] or r['uscc']}实施检查 {len(recs)} 次（{'、'.join(x['d'] for x in recs)}，"
                f"不含{'、'.join(sorted(excluded))}）；{r['d']} 第 {recs.index(r) + 1} 次检查时企业"
                f"信用风险分类为 {cls} 类，年度上限 {cap} 次（{source}），已超过上限。"
            ),
        ), out, date(year, 1, 1))
