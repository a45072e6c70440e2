"""Agency indicators (执法监督指标) by period, computed by SQL from the projected records.

Every indicator states its numerator, its denominator and the formula: the seeds quote 双随机
shares that do not equal the raw ratio of their own counts, so a bare percentage is not
enough (DESIGN.md §9). The arithmetic is reproducible from the records: counts come straight
from `inspections`, `cases` and `leads`, filtered by the same period, region and agency.

Period: `from`/`to` are calendar dates in China time (北京时间), both inclusive; inspections
count by `started_at`, decisions by `decided_at`, leads by `detected_at`. Region: a city code
covers its districts. Agency: the inspecting agency (`agency_code`, not the joint partners),
the deciding agency of a case, the agency a lead names.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, case, func, select
from starlette.concurrency import run_in_threadpool

from streams.rules.calendar import CalendarYearNotCovered, WorkCalendar

from ..auth import Principal, covers, region_clause
from ..hub import STAFF_ROLES, get_hub, require
from ..models import Case, Inspection, Lead, ReferenceSet
from .leads import SafeValidationRoute

router = APIRouter(tags=["indicators"], route_class=SafeValidationRoute)

CST = timezone(timedelta(hours=8))
INDICATOR_ROLES = (*STAFF_ROLES, "enforcement")
PUBLICATION_WD = 7  # 国办发〔2018〕118号: 行政处罚决定 7 个工作日内公示


@dataclass(frozen=True)
class Definition:
    code: str
    name: str
    numerator: str
    denominator: str | None
    formula: str

    def text(self) -> str:
        parts = [f"分子 numerator：{self.numerator}"]
        if self.denominator:
            parts.append(f"分母 denominator：{self.denominator}")
        parts.append(f"公式 formula：{self.formula}")
        return "；".join(parts)


DEFINITIONS: tuple[Definition, ...] = (
    Definition("inspections", "行政检查次数",
               "期间内开始的行政检查数（inspections.started_at 在期间内）", None, "value = numerator"),
    Definition("random_share", "双随机检查占比",
               "其中双随机抽查数（random = true）", "期间内行政检查数", "value = numerator ÷ denominator"),
    Definition("joint_share", "联合检查占比（综合查一次）",
               "其中联合检查数（joint_agency_codes 非空）", "期间内行政检查数", "value = numerator ÷ denominator"),
    Definition("action_code_share", "亮码检查占比（扫码入企）",
               "其中带行政行为码的检查数（action_code 非空）", "期间内行政检查数", "value = numerator ÷ denominator"),
    Definition("credit_rule_share", "双随机关联信用规则率",
               "双随机抽查中应用信用风险分类的检查数（random = true 且 credit_rule_applied = true）",
               "期间内双随机抽查数（random = true）", "value = numerator ÷ denominator"),
    Definition("publication_timeliness", "处罚决定公示及时率",
               f"期间内作出且已公示的处罚决定中，公示日期不晚于决定日期后第 {PUBLICATION_WD} 个工作日的决定数"
               "（法定节假日与调休按官方日历；国办发〔2018〕118号）",
               "期间内作出且已公示的处罚决定数（cases.decided_at 在期间内且 published_at 非空）",
               "value = numerator ÷ denominator"),
    Definition("leads_by_rule", "监督线索数（按规则）",
               "期间内产生的监督线索数（leads.detected_at 在期间内）；breakdown 按 rule_code 分列", None,
               "value = numerator = Σ breakdown[].count"),
    Definition("decisions", "处罚决定数",
               "期间内作出的处罚决定数（cases.decided_at 在期间内）", None, "value = numerator"),
    Definition("fines", "罚款金额（元）",
               "期间内作出的处罚决定的罚款金额之和（cases.fine_amount，元，十进制字符串；含其后被撤销或变更的决定）",
               None, "value = numerator = Σ fine_amount"),
    Definition("visits_saved", "减少扰企户次",
               "期间内每次联合检查的参加部门数减一之和（参加部门 = 牵头机关 + joint_agency_codes）", None,
               "value = numerator = Σ (1 + len(joint_agency_codes) − 1) = Σ len(joint_agency_codes)"),
)
BY_CODE = {d.code: d for d in DEFINITIONS}

_DESCRIPTION = (
    "Indicators for a period, region and agency. Each item has `code`, `name` (Chinese), `numerator`, "
    "`denominator` (null for counts and sums), `value` (a count, a ratio rounded to 4 places — null when the "
    "denominator is 0 — or yuan as a decimal string) and `definition` (numerator, denominator and formula in "
    "words). `from`/`to` are dates in China time, both inclusive (default: 1 January of `to`'s year to today). "
    "A region-scoped key gets its own region by default and 404 for a region outside it.\n\n"
    + "\n".join(f"- `{d.code}` {d.name}: {d.text()}" for d in DEFINITIONS)
)


class Indicator(BaseModel):
    code: str
    name: str
    numerator: int | str | None
    denominator: int | None
    value: float | int | str | None
    definition: str
    breakdown: list[dict] | None = Field(None, description="leads_by_rule: [{rule_code, rule_name, count}]")
    error: str | None = Field(None, description="why the value could not be computed (e.g. no holiday calendar)")


class Indicators(BaseModel):
    from_: str = Field(alias="from")
    to: str
    region_code: str | None
    agency_code: str | None
    indicators: list[Indicator]


# ---------------------------------------------------------------- arithmetic (pure)

def ratio(numerator: int, denominator: int) -> float | None:
    return None if not denominator else round(numerator / denominator, 4)


def published_on_time(decided_at: datetime, published_at: datetime, calendar: WorkCalendar,
                      days: int = PUBLICATION_WD) -> bool:
    """Published no later than the `days`-th working day after the decision day (China time)."""
    decided = decided_at.astimezone(CST).date()
    return published_at.astimezone(CST).date() <= calendar.add_working_days(decided, days)


def item(code: str, numerator, denominator=None, value=None, **extra) -> dict:
    d = BY_CODE[code]
    return {"code": code, "name": d.name, "numerator": numerator, "denominator": denominator,
            "value": numerator if value is None and denominator is None else value, "definition": d.text(), **extra}


def compute(insp: dict, decisions: int, fines: Decimal | None, publications: list[tuple[datetime, datetime]],
            leads: list[tuple[str, str, int]], calendar: WorkCalendar) -> list[dict]:
    """The indicator list from the counted records (kept apart from SQL for tests)."""
    total, random_ = insp["total"], insp["random"]
    out = [
        item("inspections", total),
        item("random_share", random_, total, ratio(random_, total)),
        item("joint_share", insp["joint"], total, ratio(insp["joint"], total)),
        item("action_code_share", insp["coded"], total, ratio(insp["coded"], total)),
        item("credit_rule_share", insp["credit_rule"], random_, ratio(insp["credit_rule"], random_)),
    ]
    try:
        on_time = sum(1 for decided, published in publications if published_on_time(decided, published, calendar))
        out.append(item("publication_timeliness", on_time, len(publications), ratio(on_time, len(publications))))
    except CalendarYearNotCovered as exc:
        out.append(item("publication_timeliness", None, len(publications), None, error=str(exc)))
    n_leads = sum(n for _, _, n in leads)
    out.append(item("leads_by_rule", n_leads, breakdown=[
        {"rule_code": code, "rule_name": name, "count": n} for code, name, n in sorted(leads)]))
    out.append(item("decisions", decisions))
    total_fines = f"{(fines or Decimal(0)).quantize(Decimal('0.01'))}"
    out.append(item("fines", total_fines))
    out.append(item("visits_saved", insp["visits_saved"]))
    return out


# ---------------------------------------------------------------- SQL

def _period(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(0), CST), datetime.combine(end + timedelta(days=1), time(0), CST)


def gather(s, start: date, end: date, region_code: str | None, agency_code: str | None) -> list[dict]:
    lo, hi = _period(start, end)

    def where(model, time_col, agency_col):
        conds = [time_col >= lo, time_col < hi]
        if region_code:
            conds.append(region_clause(model.region_code, region_code))
        if agency_code:
            conds.append(agency_col == agency_code)
        return and_(*conds)

    one = lambda cond: func.coalesce(func.sum(case((cond, 1), else_=0)), 0)  # noqa: E731
    row = s.execute(select(
        func.count(), one(Inspection.random.is_(True)), one(Inspection.joint_agency_count > 0),
        one(Inspection.action_code.is_not(None)),
        one(and_(Inspection.random.is_(True), Inspection.credit_rule_applied.is_(True))),
        func.coalesce(func.sum(Inspection.joint_agency_count), 0),
    ).where(where(Inspection, Inspection.started_at, Inspection.agency_code))).one()
    insp = dict(zip(("total", "random", "joint", "coded", "credit_rule", "visits_saved"), (int(x) for x in row)))
    decided = where(Case, Case.decided_at, Case.agency_code)
    decisions, fines = s.execute(select(func.count(), func.sum(Case.fine_amount)).where(decided)).one()
    publications = [(d, p) for d, p in s.execute(select(Case.decided_at, Case.published_at)
                                                 .where(decided, Case.published_at.is_not(None)))]
    leads = [(c, n, int(k)) for c, n, k in s.execute(
        select(Lead.rule_code, func.min(Lead.rule_name), func.count())
        .where(where(Lead, Lead.detected_at, Lead.agency_code)).group_by(Lead.rule_code))]
    holidays = s.get(ReferenceSet, "holidays")
    calendar = WorkCalendar(holidays.items if holidays else ())
    return compute(insp, int(decisions), Decimal(fines) if fines is not None else None, publications, leads, calendar)


EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)


@router.get("/api/v1/indicators", response_model=Indicators, response_model_by_alias=True,
            summary="agency indicators by period (执法监督指标)", description=_DESCRIPTION,
            responses={404: {"description": "the region lies outside the key's jurisdiction"},
                       422: {"description": "from after to, or a malformed date"}})
async def indicators(request: Request,
                     region_code: str | None = Query(None, pattern=r"^\d{6}$", description="6-digit 行政区划代码"),
                     agency_code: str | None = Query(None, description="the agency's USCC"),
                     from_: date | None = Query(None, alias="from", description="first day (YYYY-MM-DD), China time"),
                     to: date | None = Query(None, description="last day (YYYY-MM-DD), China time, inclusive"),
                     principal: Principal = Depends(require(*INDICATOR_ROLES))):
    hub = get_hub(request)
    end = to or datetime.now(CST).date()
    start = from_ or date(end.year, 1, 1)
    if start > end:
        raise HTTPException(422, f"from {start} is after to {end}")
    if start < EARLIEST or end > LATEST:  # the period's bounds in UTC must stay inside datetime's range
        raise HTTPException(422, f"from and to must lie between {EARLIEST} and {LATEST}")
    region = region_code or principal.region_code
    if not covers(principal.region_code, region):
        raise HTTPException(404, f"no region {region} in this key's jurisdiction")

    def q():
        with hub.Session() as s:
            return gather(s, start, end, region, agency_code)

    items = await run_in_threadpool(q)
    return {"from": start.isoformat(), "to": end.isoformat(), "region_code": region, "agency_code": agency_code,
            "indicators": items}
