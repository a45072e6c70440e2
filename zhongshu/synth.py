"""Realistic synthetic data (仿真数据) for demos, browser tests and benchmarks.

`generate(seed, months, enterprises, end)` builds, from one seed and nothing else (no wall
clock, no I/O):

* reference sets (参考数据) for `PUT /api/v1/reference/{kind}`: Ningbo agencies with their own
  统一社会信用代码, certified officers (执法证, validity, a few expired or revoked), annual
  inspection plans, discretion benchmarks, criminal thresholds, fine lines, 不予处罚 items and
  inspection caps;
* a time-ordered stream of intake records `(at, kind, record)` — 12345 work orders in natural
  Chinese, inspections, case lifecycles, credit events, transfer signals — with clock ticks
  (`kind == "tick"`, record `{"at": …}`) between the days;
* the list of planted scenarios: for every lead code of RULES.md and every CR_* trigger,
  several true positives (`expect == "fire"`) and near-misses that must stay quiet
  (`expect == "quiet"`), each naming its subject.

Shape of the data. The last `months` months up to `end` are the dense window: routine
inspections of the baseline enterprises (双随机 ≈ 70%, every routine inspection coded — the
planted INSP_NO_CODE ones are the ~1–3% 未亮码 the seeds talk about), complaints, cases
arising from inspections. The six months before it are a sparse prelude: agencies' earlier
decisions (the history AGY_FINE_SURGE needs before it may call a month a surge), older
decisions whose publicity periods run out inside the window, and the first halves of the
deadline scenarios. Ticks are daily in the window and weekly in the prelude.

Baseline activity is kept clean on purpose — it is checked here against conservative versions
of the rule conditions (no second inspection by an agency within 31 days, fewer than three
agencies in any 31-day window, annual caps by credit class, on-time publication, recording and
decisions, monthly fines below the surge floor) — so the leads the hub raises come from the
planted scenarios, plus CR_REPAIR_ELIGIBLE for routine decisions whose parties fulfilled and
rectified (those are true notifications, not violations). Names, phones and ID numbers are
fake.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from connectors.uscc import make_uscc

CST_SUFFIX = "+08:00"
ORDER36_FROM = date(2026, 4, 1)  # 国家发展改革委令第36号 in force (令第58号 before)
DEFAULT_END = date(2026, 8, 31)
PRELUDE_MONTHS = 6               # AGY_FINE_SURGE judges a month only after 6 observed months

REGIONS = {
    "330203": ("海曙区", "海曙", "甬海"),
    "330205": ("江北区", "江北", "甬北"),
    "330206": ("北仑区", "北仑", "甬仑"),
    "330211": ("镇海区", "镇海", "甬镇"),
    "330212": ("鄞州区", "鄞州", "甬鄞"),
    "330213": ("奉化区", "奉化", "甬奉"),
    "330225": ("象山县", "象山", "象"),
    "330226": ("宁海县", "宁海", "宁"),
    "330281": ("余姚市", "余姚", "余"),
    "330282": ("慈溪市", "慈溪", "慈"),
}
STREETS = {
    "330203": ["鼓楼街道", "南门街道", "西门街道", "石碶街道", "集士港镇"],
    "330205": ["甬江街道", "庄桥街道", "洪塘街道", "慈城镇"],
    "330206": ["新碶街道", "大碶街道", "小港街道", "霞浦街道"],
    "330211": ["招宝山街道", "蛟川街道", "骆驼街道", "庄市街道"],
    "330212": ["首南街道", "钟公庙街道", "下应街道", "姜山镇", "东吴镇"],
    "330213": ["锦屏街道", "岳林街道", "溪口镇", "江口街道"],
    "330225": ["丹东街道", "丹西街道", "石浦镇", "爵溪街道"],
    "330226": ["跃龙街道", "桃源街道", "西店镇", "长街镇"],
    "330281": ["凤山街道", "阳明街道", "梨洲街道", "泗门镇"],
    "330282": ["浒山街道", "白沙路街道", "坎墩街道", "周巷镇"],
}
ROADS = ["中山路", "解放路", "天童路", "四明路", "钱湖路", "兴宁路", "人民路", "环城北路", "学士路",
         "前河路", "新城大道", "沿江路", "金山路", "明州路", "江南路"]

# (short name, domain, agency name pattern, decision-number word)
AGENCY_KINDS = [
    ("市监", "市场监管", "宁波市{district}市场监督管理局", "市监处罚"),
    ("综执", "综合执法", "宁波市{district}综合行政执法局", "综执罚决"),
    ("生态", "生态环境", "宁波市生态环境局{district}分局", "环罚"),
    ("应急", "应急管理", "宁波市{district}应急管理局", "应急罚"),
    ("卫健", "卫生健康", "宁波市{district}卫生健康局", "卫医罚"),
]

# industry -> (name stem, agency shorts that inspect it, complaint topics, inspection items)
INDUSTRIES = {
    "餐饮": ("餐饮管理", ["市监", "综执", "卫健"], ["油烟扰民", "食品安全", "噪声扰民"],
             ["食品经营许可证", "从业人员健康证明", "餐饮油烟净化设施", "后厨卫生", "食品留样"]),
    "食品销售": ("食品商行", ["市监", "综执"], ["食品安全", "价格欺诈", "无证经营"],
               ["食品经营许可证", "进货查验记录", "过期食品", "明码标价"]),
    "化工": ("化工", ["生态", "应急", "市监"], ["环境污染", "安全隐患", "异味扰民"],
             ["危险化学品储存", "废气排放", "安全生产责任制", "应急预案"]),
    "机械制造": ("机械制造", ["应急", "生态", "市监"], ["噪声扰民", "安全隐患", "环境污染"],
                 ["特种设备使用登记", "安全生产教育培训", "危险废物贮存", "噪声排放"]),
    "建材": ("建材", ["生态", "应急", "综执"], ["扬尘污染", "噪声扰民", "占道经营"],
             ["扬尘防治", "粉尘涉爆", "建筑垃圾处置"]),
    "美容美发": ("美容美发", ["卫健", "市监"], ["卫生条件差", "虚假宣传", "价格欺诈"],
                 ["公共场所卫生许可证", "消毒记录", "从业人员健康证明"]),
    "住宿": ("酒店管理", ["卫健", "市监", "综执"], ["卫生条件差", "噪声扰民", "价格欺诈"],
             ["公共场所卫生许可证", "消防通道", "布草消毒"]),
    "零售": ("商贸", ["市监", "综执"], ["虚假宣传", "价格欺诈", "占道经营"],
             ["明码标价", "产品质量", "广告发布"]),
}
NAME_WORDS = ["明辉", "华昌", "恒远", "甬兴", "宏泰", "鑫源", "东升", "瑞丰", "博达", "嘉和", "宁信", "天禄",
              "盛世", "金港", "永安", "百川", "汇丰", "众诚", "凯越", "新海", "海曙湾", "四明", "三江", "和美",
              "佳禾", "锦程", "诚泰", "万润", "德昌", "远航", "润泽", "乐家", "港城", "春晓", "梅园", "慈孝"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "霞", "平", "刚", "桂英", "建华", "海燕", "晓东", "文博", "子涵", "欣怡", "浩然", "雨萱", "志强", "丽华"]
FOODS = ["卤味", "生鲜鱼片", "凉拌菜", "外卖盒饭", "蛋糕", "熟食", "海鲜"]

# matter_code -> (domain, violation, legal basis, benchmark ranges by level (yuan), penalty types beside 罚款)
MATTERS = {
    "SJ-SP-0101": ("市场监管", "未取得食品经营许可从事食品经营", "《中华人民共和国食品安全法》第一百二十二条",
                   {"轻微": (0, 5000), "一般": (5000, 50000), "较重": (50000, 100000), "严重": (100000, 200000)}),
    "SJ-SP-0205": ("市场监管", "经营超过保质期的食品", "《中华人民共和国食品安全法》第一百二十四条",
                   {"轻微": (0, 10000), "一般": (10000, 50000), "较重": (50000, 100000), "严重": (100000, 300000)}),
    "SJ-JG-0301": ("市场监管", "不按规定明码标价", "《中华人民共和国价格法》第四十二条",
                   {"轻微": (0, 1000), "一般": (1000, 3000), "较重": (3000, 4000), "严重": (4000, 5000)}),
    "SJ-GG-0402": ("市场监管", "发布虚假广告", "《中华人民共和国广告法》第五十五条",
                   {"轻微": (0, 20000), "一般": (20000, 100000), "较重": (100000, 300000), "严重": (300000, 1000000)}),
    "SJ-ZL-0501": ("市场监管", "伪劣产品", "《中华人民共和国产品质量法》第五十条",
                   {"轻微": (0, 20000), "一般": (20000, 80000), "较重": (80000, 150000), "严重": (150000, 500000)}),
    "ZF-HJ-0101": ("综合执法", "餐饮油烟未经净化设施处理直接排放", "《中华人民共和国大气污染防治法》第一百一十八条",
                   {"轻微": (0, 5000), "一般": (5000, 20000), "较重": (20000, 50000), "严重": (50000, 100000)}),
    "ZF-SR-0203": ("综合执法", "占道经营", "《浙江省城市市容和环境卫生管理条例》第四十二条",
                   {"轻微": (0, 200), "一般": (200, 500), "较重": (500, 1000), "严重": (1000, 2000)}),
    "ZF-JS-0305": ("综合执法", "非法经营", "《浙江省综合行政执法条例》及相关规定",
                   {"轻微": (0, 10000), "一般": (10000, 50000), "较重": (50000, 100000), "严重": (100000, 200000)}),
    "ST-DQ-0101": ("生态环境", "超标排放大气污染物", "《中华人民共和国大气污染防治法》第九十九条",
                   {"轻微": (0, 100000), "一般": (100000, 300000), "较重": (300000, 600000), "严重": (600000, 1000000)}),
    "ST-FS-0302": ("生态环境", "危险废物贮存不符合规定", "《中华人民共和国固体废物污染环境防治法》第一百一十二条",
                   {"轻微": (0, 100000), "一般": (100000, 300000), "较重": (300000, 400000), "严重": (400000, 500000)}),
    "YJ-AQ-0101": ("应急管理", "未按规定开展安全生产教育和培训", "《中华人民共和国安全生产法》第九十七条",
                   {"轻微": (0, 10000), "一般": (10000, 50000), "较重": (50000, 80000), "严重": (80000, 100000)}),
    "YJ-WH-0204": ("应急管理", "危险化学品储存不符合规定", "《危险化学品安全管理条例》第八十条",
                   {"轻微": (0, 50000), "一般": (50000, 100000), "较重": (100000, 150000), "严重": (150000, 200000)}),
    "WJ-GG-0101": ("卫生健康", "未取得公共场所卫生许可证擅自营业", "《公共场所卫生管理条例实施细则》第三十五条",
                   {"轻微": (0, 5000), "一般": (5000, 15000), "较重": (15000, 25000), "严重": (25000, 30000)}),
    "WJ-GG-0203": ("卫生健康", "从业人员未取得有效健康合格证明", "《公共场所卫生管理条例实施细则》第三十八条",
                   {"轻微": (0, 500), "一般": (500, 1000), "较重": (1000, 1500), "严重": (1500, 2000)}),
}
NO_PENALTY = {  # 首违不罚 list (不予处罚事项清单)
    "SJ-JG-0301": "初次违法、危害后果轻微并在责令期限内改正的",
    "WJ-GG-0203": "首次发现、及时改正且未造成危害后果的",
    "ZF-SR-0203": "首次违反、经教育当场改正的",
    "SJ-GG-0402": "首次发布、影响范围小、及时停止发布并消除影响的",
}
DOMAIN_MATTERS: dict[str, list[str]] = {}
for _m, (_d, *_rest) in MATTERS.items():
    DOMAIN_MATTERS.setdefault(_d, []).append(_m)

LEAD_CODES = (
    "INSP_DUPLICATE", "INSP_MULTI_AGENCY", "INSP_NO_PLAN", "INSP_NO_CODE", "INSP_UNCERTIFIED", "INSP_OVER_CAP",
    "PEN_SUMMARY_LIMIT", "PEN_DECISION_OVERDUE", "PEN_NO_LEGAL_REVIEW", "PEN_NOT_RECORDED", "PEN_DISCRETION",
    "PEN_FIRST_VIOLATION", "PEN_PUBLICITY_LATE", "PEN_PUBLICITY_SCOPE", "PEN_PUBLICITY_STALE",
    "XFER_SUBSTITUTION", "XFER_APPROVAL_LATE", "XFER_POLICE_NO_DECISION",
    "HOT_ENFORCEMENT_COMPLAINT", "HOT_COMPLAINT_CLUSTER", "AGY_FINE_SURGE", "CR_REPAIR_SLA",
)
TRIGGER_CODES = ("CR_REPAIR_ELIGIBLE", "CR_PUBLICITY_EXPIRED", "CR_WITHDRAW_NOT_PUBLISHABLE", "CR_WITHDRAW_REVOKED")
EXCLUDED_TRIGGERS = ("投诉举报", "复查", "转办交办", "上级交办")
CAPS = {"A": 1, "B": 1, "C": 2}
SMALL_FINE = 10000      # fine-lines: below = 较小数额 (轻微)
HUGE_FINE = 1000000
SECTOR_SMALL_FINE = {"生态环境": 50000}   # the sector row of the fine-lines reference set


def small_line(agency: "Agency") -> int:
    return SECTOR_SMALL_FINE.get(agency.domain, SMALL_FINE)


# ---------------------------------------------------------------------------------- model

@dataclass
class Agency:
    code: str
    name: str
    region: str
    domain: str
    short: str
    doc_word: str
    officers: list[str] = field(default_factory=list)
    managed: bool = False       # fine history fixed by an AGY_FINE_SURGE scenario


@dataclass
class Enterprise:
    uscc: str
    name: str
    region: str
    industry: str
    risk_class: str
    address: str
    party_type: str = "法人及非法人组织"
    reserved: bool = False      # used by an inspection/complaint scenario only


@dataclass
class Item:
    at: datetime
    seq: int
    kind: str                   # workorder | inspection | case | credit | transfer | tick
    record: dict


@dataclass
class Scenario:
    code: str
    expect: str                 # "fire" or "quiet"
    subject_id: str
    note: str


@dataclass
class Dataset:
    seed: int
    start: date                 # first day of the dense window
    end: date
    prelude_start: date
    reference: dict[str, list[dict]]
    items: list[Item]
    scenarios: list[Scenario]
    enterprises: list[Enterprise]
    agencies: list[Agency]
    parties: list[Enterprise] = field(default_factory=list)   # other case parties outside the population

    def records(self):
        """(kind, record) pairs in stream order, ticks included (`kind == "tick"`)."""
        return [(i.kind, i.record) for i in self.items]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.items:
            out[i.kind] = out.get(i.kind, 0) + 1
        return out

    def expected(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {c: {"fire": 0, "quiet": 0} for c in (*LEAD_CODES, *TRIGGER_CODES)}
        for s in self.scenarios:
            out[s.code][s.expect] += 1
        return out


def _at(d: date, hh: int, mm: int = 0) -> datetime:
    from datetime import timezone
    return datetime.combine(d, time(hh, mm), timezone(timedelta(hours=8)))


def rfc(dt: datetime) -> str:
    return dt.isoformat()


def _add_months(d: date, n: int) -> date:
    import calendar
    m = d.year * 12 + d.month - 1 + n
    y, mo = divmod(m, 12)
    return date(y, mo + 1, min(d.day, calendar.monthrange(y, mo + 1)[1]))


def _money(x) -> str:
    return f"{Decimal(x):.2f}"


def _org_code(rng: random.Random) -> str:
    """A GB 11714 organisation code: 8 characters + its check character."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "".join(rng.choice("0123456789") for _ in range(2)) + "".join(rng.choice(alphabet) for _ in range(6))
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body]
    c = 11 - sum(v * w for v, w in zip(values, weights)) % 11
    return body + ("X" if c == 10 else "0" if c == 11 else str(c))


def _id_number(rng: random.Random, region: str) -> str:
    """A fake 居民身份证号 with a valid ISO 7064 check character (never a real person's)."""
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 40 * 365))
    body = region + born.strftime("%Y%m%d") + f"{rng.randrange(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(a) * w for a, w in zip(body, weights)) % 11]


class _Calendar:
    def __init__(self):
        from streams.rules.calendar import WorkCalendar
        self.cal = WorkCalendar()

    def add_wd(self, d: date, n: int) -> date:
        return self.cal.add_working_days(d, n)


# ---------------------------------------------------------------------------------- generator

class Generator:
    def __init__(self, seed: int, months: int, enterprises: int, end: date):
        if months < 2:
            raise ValueError("months must be at least 2: AGY_FINE_SURGE needs a complete month inside the window")
        self.seed, self.months, self.end = seed, months, end
        self.rng = random.Random(seed)
        self.tag = f"{seed % 100:02d}"
        self.start = _add_months(date(end.year, end.month, 1), -(months - 1))
        self.prelude_start = _add_months(self.start, -PRELUDE_MONTHS)
        self.per_code = max(3, enterprises // 40)
        self.near = max(2, self.per_code // 2)
        need = 5 * (self.per_code + self.near) + 20
        if enterprises < need:
            raise ValueError(f"enterprises must be at least {need} for {self.per_code} planted cases per rule "
                             f"(got {enterprises})")
        self.n_enterprises = enterprises
        self.cal = _Calendar()
        self.items: list[Item] = []
        self.scenarios: list[Scenario] = []
        self._seq = 0
        self._ids: dict[str, int] = {}
        # bookkeeping for the clean checks
        self.insp_by_ent: dict[str, list[dict]] = {}
        self.fines: dict[tuple[str, str], Decimal] = {}     # (agency, YYYY-MM) -> fines + confiscations
        self.complaints: dict[tuple[str, str], list[date]] = {}
        self.party_matters: dict[str, set[str]] = {}

    # ---- ids and emission

    def next_id(self, name: str) -> int:
        self._ids[name] = self._ids.get(name, 0) + 1
        return self._ids[name]

    def emit(self, at: datetime, kind: str, record: dict) -> None:
        self._seq += 1
        record.setdefault("source_event_id", f"syn{self.seed}-{kind}-{self._seq:06d}")
        self.items.append(Item(at, self._seq, kind, record))

    def scenario(self, code: str, expect: str, subject: str, note: str) -> None:
        self.scenarios.append(Scenario(code, expect, subject, note))

    # ---- population

    def build(self) -> Dataset:
        self._agencies()
        self._choose_managed()
        self._enterprises()
        reference = self._reference()
        self._baseline_history()
        self._baseline_window()
        self._plant()
        self._classifications()
        self._ticks()
        self.items.sort(key=lambda i: (i.at, i.seq))
        self._check_fine_months()
        return Dataset(self.seed, self.start, self.end, self.prelude_start, reference, self.items,
                       self.scenarios, self.enterprises, self.agencies,
                       [e for r in sorted(self.others) for e in self.others[r]])

    def _check_fine_months(self) -> None:
        """Baseline agencies stay below the AGY_FINE_SURGE floor in every month (generator invariant)."""
        for (code, month), total in sorted(self.fines.items()):
            if not self.agency_by_code[code].managed and total >= 100000:
                raise AssertionError(f"synthetic data: {self.agency_by_code[code].name} {month} fines {total} "
                                     f"would raise an unplanned AGY_FINE_SURGE")

    def _agencies(self) -> None:
        self.agencies: list[Agency] = []
        self.by_region: dict[str, dict[str, Agency]] = {}
        for region, (district, _, _) in REGIONS.items():
            for short, domain, pattern, word in AGENCY_KINDS:
                code = make_uscc("11" + region + _org_code(self.rng))
                a = Agency(code, pattern.format(district=district), region, domain, short, word)
                for _ in range(6):
                    a.officers.append(f"浙{region}{self.next_id('officer'):05d}")
                self.agencies.append(a)
                self.by_region.setdefault(region, {})[short] = a
        self.agency_by_code = {a.code: a for a in self.agencies}

    def _choose_managed(self) -> None:
        cands = [a for a in self.agencies if a.domain in ("市场监管", "应急管理")]
        self.rng.shuffle(cands)
        self.managed = cands[: self.per_code + self.near]
        for a in self.managed:
            a.managed = True

    def window_day(self, after: int = 1, before_end: int = 0, lo: float = 0.0, hi: float = 1.0) -> date:
        """A day of the dense window at least `after` days after its start and `before_end` days
        before its end, in the [lo, hi] share of what is left."""
        first = self.start + timedelta(days=after)
        last = self.end - timedelta(days=before_end)
        span = max(0, (last - first).days)
        return first + timedelta(days=self.rng.randint(int(span * lo), int(span * hi)))

    def _enterprises(self) -> None:
        self.enterprises: list[Enterprise] = []
        self._used_names: set[str] = set()
        regions = list(REGIONS)
        for i in range(self.n_enterprises):
            region = regions[i % len(regions)] if i < len(regions) else self.rng.choice(regions)
            self.enterprises.append(self._make_enterprise(region))
        # other parties of the agencies' cases (not in the population the demo follows), so that
        # no single enterprise collects every routine decision of its district
        self.others: dict[str, list[Enterprise]] = {
            r: [self._make_enterprise(r) for _ in range(max(6, self.n_enterprises // 5))] for r in regions}
        # reserve a pool for the enterprise-keyed scenarios; the rest carry the baseline
        order = list(range(len(self.enterprises)))
        self.rng.shuffle(order)
        reserved = 5 * (self.per_code + self.near)
        for idx in order[:reserved]:
            self.enterprises[idx].reserved = True
        self.reserved_pool = [self.enterprises[i] for i in order[:reserved]]
        self.baseline = [e for e in self.enterprises if not e.reserved]

    def _make_enterprise(self, region: str) -> Enterprise:
        used = self._used_names
        industry = self.rng.choice(list(INDUSTRIES))
        while True:
            word = self.rng.choice(NAME_WORDS) + self.rng.choice(["", "", "新", "佳", "嘉"])
            name = f"宁波{REGIONS[region][1]}{word}{INDUSTRIES[industry][0]}有限公司"
            if name not in used:
                used.add(name)
                break
        kind = "91"
        ptype = "法人及非法人组织"
        if industry in ("餐饮", "美容美发", "零售") and self.rng.random() < 0.3:
            kind, ptype = "92", "个体工商户"
            shop = {"餐饮": "小吃店", "美容美发": "美发店", "零售": "便利店"}[industry]
            name = f"{REGIONS[region][0]}{word}{shop}"
            if name in used:
                name = f"{REGIONS[region][0]}{self.rng.choice(STREETS[region])[:2]}{word}{shop}"
            used.add(name)
        uscc = make_uscc(kind + region + _org_code(self.rng))
        cls = self.rng.choices("ABCD", weights=(20, 50, 25, 5))[0]
        address = (f"浙江省宁波市{REGIONS[region][0]}{self.rng.choice(STREETS[region])}"
                   f"{self.rng.choice(ROADS)}{self.rng.randint(1, 999)}号")
        return Enterprise(uscc, name, region, industry, cls, address, ptype)

    def _reference(self) -> dict[str, list[dict]]:
        ref: dict[str, list[dict]] = {}
        ref["agencies"] = [{"agency_code": a.code, "name": a.name, "region_code": a.region, "domain": a.domain}
                           for a in self.agencies]
        officers = []
        self.expired_cert: dict[str, tuple[str, date]] = {}
        self.revoked_cert: dict[str, tuple[str, date]] = {}
        for a in self.agencies:
            for n, cert in enumerate(a.officers):
                row = {"cert_no": cert, "agency_code": a.code,
                       "valid_from": (date(2022, 1, 1) + timedelta(days=self.rng.randrange(0, 700))).isoformat(),
                       "valid_until": (date(2028, 1, 1) + timedelta(days=self.rng.randrange(0, 700))).isoformat()}
                if n == 4:   # one certificate per agency lapsed during the prelude
                    lapse = self.prelude_start + timedelta(days=self.rng.randrange(10, 60))
                    row["valid_until"] = lapse.isoformat()
                    self.expired_cert[a.code] = (cert, lapse)
                if n == 5:   # one revoked (注销) during the prelude
                    gone = self.prelude_start + timedelta(days=self.rng.randrange(10, 60))
                    row["revoked_at"] = rfc(_at(gone, 10))
                    self.revoked_cert[a.code] = (cert, gone)
                officers.append(row)
        ref["officers"] = officers
        plans = []
        self.plans: dict[tuple[str, int], list[str]] = {}
        for a in self.agencies:
            for year in sorted({self.prelude_start.year, self.end.year}):
                for k in range(1, 4):
                    pid = f"JH{year}-{a.region}-{a.short}-{k:02d}"
                    plans.append({"plan_id": pid, "agency_code": a.code, "year": year})
                    self.plans.setdefault((a.code, year), []).append(pid)
        ref["inspection-plans"] = plans
        ref["benchmarks"] = [{"matter_code": m, "circumstance_level": lvl, "min_fine": _money(lo), "max_fine": _money(hi)}
                             for m, (_, _, _, ranges) in MATTERS.items() for lvl, (lo, hi) in ranges.items()]
        ref["no-penalty-items"] = [{"matter_code": m, "conditions": c} for m, c in NO_PENALTY.items()]
        ref["criminal-thresholds"] = [
            {"violation_type": "伪劣产品", "party_type": None, "measure": "sales", "min_amount": "50000.00"},
            {"violation_type": "伪劣产品", "party_type": None, "measure": "unsold_value", "min_amount": "150000.00"},
            {"violation_type": "非法经营", "party_type": "自然人", "measure": "turnover", "min_amount": "50000.00"},
            {"violation_type": "非法经营", "party_type": "自然人", "measure": "illegal_gains", "min_amount": "10000.00"},
            {"violation_type": "非法经营", "party_type": "法人及非法人组织", "measure": "turnover", "min_amount": "500000.00"},
            {"violation_type": "非法经营", "party_type": "法人及非法人组织", "measure": "illegal_gains",
             "min_amount": "100000.00"},
            {"violation_type": "逃税", "party_type": None, "measure": "tax_evaded", "min_amount": "100000.00",
             "min_ratio": "0.10"},
        ]
        ref["inspection-caps"] = [{"domain": None, "risk_class": c, "per_year": n} for c, n in CAPS.items()] + [
            {"domain": "应急管理", "risk_class": "C", "per_year": 3}]
        ref["fine-lines"] = [{"domain": None, "small_below": _money(SMALL_FINE), "huge_from": _money(HUGE_FINE)},
                             {"domain": "生态环境", "small_below": "50000.00", "huge_from": "2000000.00"}]
        return ref

    # ---- helpers: people, agencies, texts

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def phone(self) -> str:
        return "1" + self.rng.choice("3589") + "".join(self.rng.choice("0123456789") for _ in range(9))

    def agency_for(self, ent: Enterprise, exclude=()) -> Agency:
        shorts = [s for s in INDUSTRIES[ent.industry][1] if s not in exclude]
        return self.by_region[ent.region][self.rng.choice(shorts)]

    def officers(self, agency: Agency, n: int = 2) -> list[str]:
        return self.rng.sample(agency.officers[:4], n)

    def work_time(self, d: date) -> datetime:
        return _at(d, self.rng.randint(8, 17), self.rng.choice((0, 10, 15, 20, 30, 40, 45, 50)))

    def dense_day(self, lo: float = 0.0, hi: float = 1.0) -> date:
        days = (self.end - self.start).days
        return self.start + timedelta(days=self.rng.randint(int(days * lo), max(int(days * lo), int(days * hi))))

    # ---- inspections

    def _cap_ok(self, ent: Enterprise, agencies: list[str], d: date, trigger: str) -> bool:
        if trigger in EXCLUDED_TRIGGERS:
            return True
        cap = CAPS.get(ent.risk_class)
        if cap is None:
            return True
        for code in agencies:
            if self.agency_by_code[code].domain == "应急管理" and ent.risk_class == "C":
                limit = 3
            else:
                limit = cap
            n = sum(1 for r in self.insp_by_ent.get(ent.uscc, []) if r["d"].year == d.year
                    and r["trigger"] not in EXCLUDED_TRIGGERS and code in r["agencies"])
            if n + 1 > limit:
                return False
        return True

    def clean_inspection(self, ent: Enterprise, agency: Agency, joint: list[Agency], d: date, trigger: str) -> bool:
        """No INSP_DUPLICATE / INSP_MULTI_AGENCY / INSP_OVER_CAP would follow (31-day margins)."""
        past = self.insp_by_ent.get(ent.uscc, [])
        near = [r for r in past if abs((r["d"] - d).days) <= 31]
        if any(agency.code in r["agencies"] for r in near):
            return False
        if not joint:
            solo = {r["agency"] for r in near if not r["joint"]}
            if len(solo | {agency.code}) >= 3:
                return False
        return self._cap_ok(ent, [agency.code] + [j.code for j in joint], d, trigger)

    def inspection(self, ent: Enterprise, agency: Agency, d: date, trigger: str, *, joint=(), result="未发现问题",
                   officers=None, plan_id: str | None = "auto", coded=True, at: datetime | None = None,
                   risk_class: str | None = "auto") -> dict:
        n = self.next_id("inspection")
        at = at or self.work_time(d)
        if plan_id == "auto":
            plan_id = self.rng.choice(self.plans[(agency.code, d.year)]) if trigger in ("计划", "双随机") else None
        items = INDUSTRIES[ent.industry][3]
        rec = {
            "inspection_id": f"JC{agency.region}{d:%Y%m%d}{self.tag}{n:04d}",
            "action_code": f"{agency.region}JC{d:%y%m%d}{self.tag}{n:05d}" if coded else None,
            "agency_code": agency.code,
            "joint_agency_codes": [j.code for j in joint],
            "officer_cert_nos": officers if officers is not None else self.officers(agency),
            "target": {"uscc": ent.uscc, "name": ent.name},
            "region_code": ent.region,
            "started_at": rfc(at),
            "trigger": trigger,
            "plan_id": plan_id,
            "random": trigger == "双随机",
            "credit_rule_applied": trigger == "双随机" and self.rng.random() < 0.997,
            "risk_class": ent.risk_class if risk_class == "auto" else risk_class,
            "items": self.rng.sample(items, min(len(items), self.rng.randint(2, 3))),
            "result": result,
            "rectification_due": rfc(_at(d + timedelta(days=15), 17)) if result == "责令整改" else None,
        }
        rec = {k: v for k, v in rec.items() if v is not None}
        self.emit(at, "inspection", rec)
        self.insp_by_ent.setdefault(ent.uscc, []).append({
            "d": d, "agency": agency.code, "joint": bool(joint), "trigger": trigger,
            "agencies": [agency.code] + [j.code for j in joint]})
        return rec

    # ---- cases

    def _month_room(self, agency: Agency, d: date) -> Decimal:
        return Decimal(90000) - self.fines.get((agency.code, f"{d:%Y-%m}"), Decimal(0))

    def _book_fine(self, agency: Agency, d: date, amount: Decimal) -> None:
        key = (agency.code, f"{d:%Y-%m}")
        self.fines[key] = self.fines.get(key, Decimal(0)) + amount

    def pick_fine(self, matter: str, level: str, cap: Decimal | None = None) -> Decimal:
        lo, hi = MATTERS[matter][3][level]
        lo = max(lo, 100)
        if cap is not None:
            hi = min(hi, int(cap))
        if hi < lo:
            return Decimal(0)
        return Decimal(self.rng.randint(lo // 100, hi // 100) * 100)

    def case(self, agency: Agency, party: dict, matter: str, filed: datetime, *, region: str,
             refs=(), case_id: str | None = None) -> str:
        n = self.next_id("case")
        case_id = case_id or f"AJ{region}{filed:%Y}{self.tag}{n:05d}"
        rec = {"case_id": case_id, "event": "filed", "agency_code": agency.code, "party": party,
               "matter_code": matter, "region_code": region, "filed_at": rfc(filed), "source_refs": list(refs)}
        self.emit(filed, "case", rec)
        return case_id

    def decision_no(self, agency: Agency, d: date) -> str:
        n = self.next_id(f"dec-{agency.code}-{d.year}")
        return f"{REGIONS[agency.region][2]}{agency.doc_word}〔{d.year}〕{self.tag}{n:03d}号"

    def decide(self, case_id: str, agency: Agency, matter: str, at: datetime, *, level: str, fine: Decimal,
               procedure="普通", types=None, major=False, hearing=False, complex_=False, first=False,
               corrected=False, amounts=None, confiscated: Decimal | None = None, violation: str | None = None,
               duration_until: date | None = None) -> str:
        types = list(types or (["罚款"] if fine > 0 else ["警告"]))
        no = self.decision_no(agency, at.date())
        rec = {"case_id": case_id, "event": "decided", "decision_no": no, "decided_at": rfc(at),
               "procedure": procedure, "penalty_types": types,
               "circumstance_level": level, "violation_type": violation or MATTERS[matter][1],
               "legal_basis": MATTERS[matter][2], "first_violation": first, "corrected": corrected,
               "major": major, "hearing_held": hearing, "complex": complex_}
        if "罚款" in types or fine > 0:
            rec["fine_amount"] = _money(fine)
        if confiscated:
            rec["confiscated_amount"] = _money(confiscated)
        if amounts:
            rec["amount_involved"] = {k: _money(v) for k, v in amounts.items()}
        if duration_until:
            rec["penalty_duration_until"] = duration_until.isoformat()
        self.emit(at, "case", rec)
        self._book_fine(agency, at.date(), fine + (confiscated or 0))
        return no

    def case_event(self, case_id: str, event: str, at: datetime, **fields) -> None:
        rec = {"case_id": case_id, "event": event}
        if event == "published":
            rec.update(published_at=rfc(at), channel=fields.get("channel", "信用中国"), masked=fields.get("masked", True))
        elif event == "legal_reviewed":
            rec.update(reviewed_at=rfc(at), passed=fields.get("passed", True))
        elif event == "extended":
            rec.update(approved_at=rfc(at), days=fields["days"])
        else:
            rec["at"] = rfc(at)
            if event in ("revoked", "changed"):
                rec["by"] = fields.get("by", "复议")
        self.emit(at, "case", rec)

    def org_party(self, ent: Enterprise) -> dict:
        return {"type": ent.party_type, "uscc": ent.uscc, "name": ent.name}

    def person_party(self, region: str) -> dict:
        return {"type": "自然人", "id_number": _id_number(self.rng, region), "name": self.person()}

    def routine_case(self, agency: Agency, party: dict, region: str, filed_day: date, *, refs=(),
                     publish_ok=True, rectify_share=0.5) -> None:
        """A clean lifecycle: decided within 60 days, published in time when publishable,
        legal review and 备案 for major decisions, fulfilment and (sometimes) rectification."""
        matter = self.rng.choice(DOMAIN_MATTERS[agency.domain])
        if party["type"] == "自然人" and "ZF-SR-0203" in DOMAIN_MATTERS[agency.domain]:
            matter = "ZF-SR-0203"
        filed = self.work_time(filed_day)
        decided_day = filed_day + timedelta(days=self.rng.randint(12, 60))
        if decided_day > self.end:
            decided_day = None
        if decided_day is not None and decided_day < self.prelude_start:
            return
        party_key = party.get("uscc") or party.get("id_number")
        case_id = self.case(agency, party, matter, filed, region=region, refs=refs)
        if decided_day is None:
            return
        self.party_matters.setdefault(party_key, set()).add(matter)
        room = self._month_room(agency, decided_day)
        natural = party["type"] == "自然人"
        as_person = party["type"] in ("自然人", "个体工商户")  # PEN_SUMMARY_LIMIT reads 个体工商户 as a person
        level = self.rng.choices(("轻微", "一般", "较重"), weights=(30, 55, 15))[0]
        fine = self.pick_fine(matter, level, cap=min(room, Decimal(200) if natural else room))
        if fine <= 0:
            level, fine = "轻微", Decimal(0)
        types = ["罚款"] if fine > 0 else ["警告"]
        confiscated = None
        if fine > 0 and level == "较重" and self.rng.random() < 0.3 and not natural:
            confiscated = min(Decimal(self.rng.randint(5, 50) * 100), max(room - fine, Decimal(0)))
            if confiscated > 0:
                types.append("没收违法所得")
            else:
                confiscated = None
        on_the_spot = (as_person and fine <= 200) or (not as_person and 0 < fine <= 1000 and self.rng.random() < 0.4)
        procedure = "简易" if on_the_spot and confiscated is None else "普通"
        hearing = level == "较重" and fine >= 20000
        decided = self.work_time(decided_day)
        if hearing:
            self.case_event(case_id, "legal_reviewed", decided - timedelta(days=self.rng.randint(1, 5)))
        self.decide(case_id, agency, matter, decided, level=level, fine=fine, procedure=procedure, types=types,
                    hearing=hearing, confiscated=confiscated)
        tier_general = procedure == "普通" and (fine >= small_line(agency) or confiscated is not None)
        if tier_general and not natural and publish_ok:
            pub = decided + timedelta(days=self.rng.randint(1, 3), hours=1)
            self.case_event(case_id, "published", pub,
                            channel=self.rng.choice(("信用中国", "企业信用信息公示系统", "部门网站")))
        if self.rng.random() < 0.9:
            self.case_event(case_id, "fulfilled", decided + timedelta(days=self.rng.randint(3, 14), hours=2))
            if tier_general and self.rng.random() < rectify_share:
                self.case_event(case_id, "rectified", decided + timedelta(days=self.rng.randint(15, 30), hours=3))

    # ---- work orders

    def workorder(self, d: date, *, category: str, topic: str, content: str, subject: dict, region: str,
                  about: Agency | None = None, ctype: str | None = None, at: datetime | None = None,
                  handling: Agency | None = None) -> dict:
        n = self.next_id("order")
        at = at or _at(d, self.rng.randint(7, 21), self.rng.randint(0, 59))
        rec = {"order_id": f"GD{d:%Y%m%d}{self.tag}{n:05d}", "received_at": rfc(at),
               "channel": self.rng.choices(("电话", "微信", "APP", "网站", "其他"), weights=(60, 15, 10, 10, 5))[0],
               "category": category, "topic": topic, "content": content, "subject": subject, "region_code": region,
               "complainant": {"name": self.person(), "phone": self.phone()},
               "status": self.rng.choice(("派单", "办理", "办结", "办结", "回访"))}
        if about is not None:
            rec["about_agency_code"], rec["enforcement_complaint_type"] = about.code, ctype
        if handling is not None:
            rec["handling_unit"] = handling.name
        if category in ("投诉", "举报"):
            rec["due_at"] = rfc(_at(self.cal.add_wd(d, 13), 17, 30))
        self.emit(at, "workorder", rec)
        return rec

    def complaint_text(self, ent: Enterprise, topic: str) -> str:
        r = self.rng
        where = ent.address.replace("浙江省宁波市", "")
        t = {
            "油烟扰民": [f"来电人反映：{where}的{ent.name}厨房油烟直排，油烟管道对着居民楼窗户，"
                     f"每天{r.randint(10, 11)}点到{r.randint(20, 23)}点油烟味很重，家里窗户都不敢开，要求尽快处理。",
                     f"市民反映{ent.name}油烟净化器形同虚设，楼上住户晾晒的衣服都是油烟味，之前反映过一次没有改善。"],
            "食品安全": [f"市民反映在{ent.name}购买的{r.choice(FOODS)}食用后全家出现腹泻，怀疑食材不新鲜，"
                     f"店内后厨卫生条件差，请市场监管部门核查。",
                     f"来电人称{ent.name}售卖的商品已过保质期{r.randint(3, 40)}天仍在货架上销售，要求查处。"],
            "噪声扰民": [f"来电人反映{ent.name}夜间{r.randint(22, 23)}点后仍在施工作业，机器轰鸣声很大，"
                     f"严重影响周边居民休息，已持续{r.randint(3, 14)}天。",
                     f"市民反映{where}附近{ent.name}的风机噪声很大，晚上睡不着觉。"],
            "无证经营": [f"举报人反映{ent.name}未取得相关许可证即对外营业，要求相关部门依法查处。"],
            "价格欺诈": [f"消费者反映{ent.name}结账价格与标价不一致，多收了{r.randint(12, 280)}元，商家拒绝退还。"],
            "虚假宣传": [f"消费者反映{ent.name}宣传“{r.choice(['包治百病', '全网最低价', '零添加', '三天见效'])}”，"
                     f"实际与宣传严重不符，要求查处虚假宣传。"],
            "环境污染": [f"来电人反映{ent.name}疑似将生产废水直排附近河道，河水发黑发臭，请生态环境部门调查。",
                     f"市民反映{ent.name}厂区夜间偷排废气，周边有刺鼻气味。"],
            "异味扰民": [f"市民反映{ent.name}周边经常有刺鼻异味，尤其是傍晚时分，影响居民生活。"],
            "安全隐患": [f"来电人反映{ent.name}消防通道被货物堵塞，危险化学品随意堆放，存在安全隐患。"],
            "扬尘污染": [f"市民反映{ent.name}堆场未覆盖，刮风时扬尘很大，周边车辆和住户受影响。"],
            "占道经营": [f"来电人反映{ent.name}长期在店门口人行道上摆摊经营，行人只能走机动车道。"],
            "卫生条件差": [f"消费者反映{ent.name}毛巾、用具未消毒重复使用，卫生条件很差。"],
        }[topic]
        return r.choice(t)

    def enforcement_text(self, ent: Enterprise, agency: Agency, ctype: str) -> str:
        r = self.rng
        return r.choice({
            "重复检查": [f"{ent.name}负责人反映：{agency.name}本月已经来检查了{r.randint(2, 3)}次，检查内容基本一样，"
                     f"每次都要安排人员陪同，影响正常生产经营，希望规范涉企检查、减少重复检查。"],
            "乱检查": [f"{ent.name}反映{agency.name}执法人员未出示检查码即入企检查，检查事项也不在公布的清单内，"
                    f"要求说明检查依据。"],
            "乱罚款": [f"{ent.name}反映{agency.name}对其处以罚款，认为处罚金额明显过重、未说明裁量依据，"
                    f"要求复核处罚决定。"],
            "态度粗暴": [f"{ent.name}员工反映{agency.name}执法人员检查时态度粗暴，言语不文明，要求处理。"],
            "选择性执法": [f"{ent.name}反映同一条街上多家店铺存在同样问题，{agency.name}只查处其一家，认为是选择性执法。"],
        }[ctype])

    # ---- baseline

    def _baseline_history(self) -> None:
        """Prelude: each agency's routine decisions (fine history) — small, steady months."""
        for a in self.agencies:
            if a.managed:
                continue
            ents = self.others[a.region] + [e for e in self.baseline if e.region == a.region][:2]
            month = self.prelude_start
            while month < self.start:
                for _ in range(1 if self.rng.random() < 0.7 else 0):
                    filed = month - timedelta(days=self.rng.randint(15, 40)) + timedelta(days=self.rng.randint(0, 20))
                    if ents and self.rng.random() < 0.8:
                        party = self.org_party(self.rng.choice(ents))
                    else:
                        party = self.person_party(a.region)
                    self.routine_case(a, party, a.region, filed, rectify_share=0.15)
                month = _add_months(month, 1)

    def _baseline_window(self) -> None:
        days = (self.end - self.start).days + 1
        triggers = ("双随机", "计划", "投诉举报", "专项", "复查", "转办交办")
        weights = (72, 12, 7, 5, 3, 1)
        for k in range(days):
            d = self.start + timedelta(days=k)
            workday = d.weekday() < 5
            # routine inspections
            for ent in self.baseline:
                if not workday or self.rng.random() > 0.45 / 21:
                    continue
                trigger = self.rng.choices(triggers, weights=weights)[0]
                agency = self.agency_for(ent)
                joint: list[Agency] = []
                if self.rng.random() < 0.3:  # 综合查一次: a partner agency joins
                    partners = [self.by_region[ent.region][s] for s in INDUSTRIES[ent.industry][1]
                                if s != agency.short]
                    if partners:
                        joint = [self.rng.choice(partners)]
                if not self.clean_inspection(ent, agency, joint, d, trigger):
                    continue
                result = self.rng.choices(("未发现问题", "责令整改", "立案查处"), weights=(70, 20, 10))[0]
                if result == "立案查处" and agency.managed:
                    result = "责令整改"
                rec = self.inspection(ent, agency, d, trigger, joint=joint, result=result)
                if result == "立案查处":
                    self.routine_case(agency, self.org_party(ent), ent.region, d + timedelta(days=self.rng.randint(0, 3)),
                                      refs=[rec["inspection_id"]])
            # 12345 work orders
            for _ in range(max(1, len(self.enterprises) // 15) + self.rng.randint(0, 2)):
                self._baseline_order(d)

    def _baseline_order(self, d: date) -> None:
        r = self.rng
        cat = r.choices(("投诉", "举报", "咨询", "求助", "建议"), weights=(45, 15, 25, 8, 7))[0]
        if cat in ("投诉", "举报"):
            ent = r.choice(self.baseline)
            topic = r.choice(INDUSTRIES[ent.industry][2])
            recent = [x for x in self.complaints.get((ent.uscc, topic), []) if (d - x).days <= 31]
            if len(recent) >= 1:
                return
            self.complaints.setdefault((ent.uscc, topic), []).append(d)
            self.workorder(d, category=cat, topic=topic, content=self.complaint_text(ent, topic),
                           subject={"name": ent.name, "uscc": ent.uscc, "address": ent.address}, region=ent.region,
                           handling=self.agency_for(ent))
            return
        region = r.choice(list(REGIONS))
        district = REGIONS[region][0]
        street = r.choice(STREETS[region])
        topic, content = r.choice([
            ("证照办理", f"来电人咨询在{district}开办餐饮店需要办理哪些证照，食品经营许可证网上怎么申请。"),
            ("政策咨询", f"企业咨询{district}小微企业首违不罚清单包含哪些事项，在哪里可以查询。"),
            ("信用修复", f"企业咨询行政处罚信息公示期满后如何申请信用修复，需要提交哪些材料。"),
            ("市容环境", f"市民建议在{street}{r.choice(ROADS)}增设垃圾分类投放点，现有点位太少。"),
            ("交通出行", f"市民求助：{street}路口红绿灯损坏，早高峰车辆拥堵，请尽快维修。"),
            ("消费维权", f"市民咨询网购商品七天无理由退货被拒应向哪个部门投诉。"),
            ("执法规范", f"市民建议{district}执法部门检查时统一亮码，方便企业核验执法人员身份。"),
        ])
        self.workorder(d, category=cat, topic=topic, content=content,
                       subject={"name": f"{district}{street}"}, region=region)

    # ---- planted scenarios

    def _take(self, n: int = 1, classes: str = "ABCD") -> list[Enterprise]:
        out = []
        for e in list(self.reserved_pool):
            if len(out) == n:
                break
            if e.risk_class in classes or classes == "*":
                out.append(e)
                self.reserved_pool.remove(e)
        while len(out) < n:  # not enough of the classes wanted: re-class a pool member
            e = self.reserved_pool.pop(0)
            e.risk_class = classes[0]
            out.append(e)
        return out

    def _plant(self) -> None:
        self._plant_inspections()
        self._plant_hotline()
        self._plant_cases()
        self._plant_publicity()
        self._plant_transfers()
        self._plant_surge()
        self._plant_credit()

    def _other_agencies(self, ent: Enterprise, n: int) -> list[Agency]:
        regional = list(self.by_region[ent.region].values())
        self.rng.shuffle(regional)
        return regional[:n]

    def _plant_inspections(self) -> None:
        P, N = self.per_code, self.near
        # INSP_DUPLICATE: the same agency twice within 30 days, not joint, routine triggers
        for i, ent in enumerate(self._take(P + N, "D")):
            agency = self.agency_for(ent)
            d1 = self.window_day(2, 35)
            self.inspection(ent, agency, d1, "双随机")
            if i < P:
                gap = self.rng.randint(6, 25)
                self.inspection(ent, agency, d1 + timedelta(days=gap), self.rng.choice(("双随机", "计划")))
                self.scenario("INSP_DUPLICATE", "fire", ent.uscc, f"{agency.name}{gap}日内两次检查")
            elif i % 2 == 0:
                self.inspection(ent, agency, d1 + timedelta(days=31), "双随机")
                self.scenario("INSP_DUPLICATE", "quiet", ent.uscc, "两次检查相隔31日（窗口外）")
            else:
                self.inspection(ent, agency, d1 + timedelta(days=10), "投诉举报")
                self.scenario("INSP_DUPLICATE", "quiet", ent.uscc, "第二次检查由投诉举报引起（排除）")
        # INSP_MULTI_AGENCY: three agencies within 30 days, none joint
        for i, ent in enumerate(self._take(P + N, "D")):
            a1, a2, a3 = self._other_agencies(ent, 3)
            d1 = self.window_day(2, 30)
            self.inspection(ent, a1, d1, "双随机")
            self.inspection(ent, a2, d1 + timedelta(days=self.rng.randint(3, 12)), "双随机")
            if i < P:
                self.inspection(ent, a3, d1 + timedelta(days=self.rng.randint(14, 28)), "计划")
                self.scenario("INSP_MULTI_AGENCY", "fire", ent.uscc, "30日内3个机关分别检查")
            else:
                partner = next(a for a in self.by_region[ent.region].values() if a not in (a1, a2, a3))
                self.inspection(ent, a3, d1 + timedelta(days=20), "计划", joint=[partner])
                self.scenario("INSP_MULTI_AGENCY", "quiet", ent.uscc, "第三个机关为联合检查（综合查一次）")
        # INSP_OVER_CAP: class A, one agency twice in a year (> 30 days apart, so no duplicate)
        for i, ent in enumerate(self._take(P + N, "A")):
            if i >= P and i % 2 == 1:
                ent.risk_class = "C"
            agency = self.agency_for(ent)
            d1 = self.prelude_start + timedelta(days=self.rng.randint(40, 120))
            d1 = max(d1, date(self.end.year, 1, 5))
            d2 = self.dense_day(0.1, 0.6)
            if (d2 - d1).days < 40:
                d1 = d2 - timedelta(days=45)
            self.inspection(ent, agency, d1, "双随机")
            if i < P:
                self.inspection(ent, agency, d2, "双随机")
                self.scenario("INSP_OVER_CAP", "fire", ent.uscc, "A类企业同一机关年内第2次检查（上限1次）")
            elif i % 2 == 0:
                self.inspection(ent, agency, d2, "复查")
                self.scenario("INSP_OVER_CAP", "quiet", ent.uscc, "第二次为复查（不计入频次）")
            else:
                self.inspection(ent, agency, d2, "双随机")
                self.scenario("INSP_OVER_CAP", "quiet", ent.uscc, "C类企业年内第2次检查（上限2次）")
        # per-inspection codes on baseline enterprises (kept clean otherwise)
        for code in ("INSP_NO_PLAN", "INSP_NO_CODE", "INSP_UNCERTIFIED"):
            for idx in range(P + N):
                ent, agency, d = self._clean_slot("双随机")
                if code == "INSP_NO_PLAN":
                    if idx < P:
                        bad = None if idx % 2 == 0 else f"JH{d.year - 3}-{agency.region}-{agency.short}-09"
                        self.inspection(ent, agency, d, "双随机", plan_id=bad)
                        self.scenario(code, "fire", agency.code,
                                      "双随机检查" + ("未关联检查计划" if bad is None else f"关联未登记计划 {bad}"))
                    else:
                        self.inspection(ent, agency, d, "专项", plan_id=None)
                        self.scenario(code, "quiet", agency.code, "专项检查无需年度计划")
                elif code == "INSP_NO_CODE":
                    if idx < P:
                        self.inspection(ent, agency, d, "双随机", coded=False)
                        self.scenario(code, "fire", agency.code, "检查未记录行政行为码")
                    else:
                        self.inspection(ent, agency, d, "双随机")
                        self.scenario(code, "quiet", agency.code, "亮码检查")
                elif idx < P:
                    variant = idx % 4
                    if variant == 0:
                        officers, why = [agency.officers[0]], "仅1名执法人员"
                    elif variant == 1:
                        officers, why = [agency.officers[0], self.expired_cert[agency.code][0]], "执法证已过期"
                    elif variant == 2:
                        officers, why = [agency.officers[1], self.revoked_cert[agency.code][0]], "执法证已注销"
                    else:
                        officers, why = [agency.officers[0], f"浙{agency.region}99{idx:03d}"], "执法证未登记"
                    self.inspection(ent, agency, d, "双随机", officers=officers)
                    self.scenario(code, "fire", agency.code, why)
                else:
                    self.inspection(ent, agency, d, "双随机", officers=self.officers(agency))
                    self.scenario(code, "quiet", agency.code, "2名持有效执法证人员")

    def _clean_slot(self, trigger: str) -> tuple[Enterprise, Agency, date]:
        """A baseline enterprise, an agency and a workday on which one more inspection stays clean."""
        for _ in range(500):
            ent = self.rng.choice(self.baseline)
            agency = self.agency_for(ent)
            d = self.window_day(2, 2)
            if d.weekday() < 5 and self.clean_inspection(ent, agency, [], d, trigger):
                return ent, agency, d
        raise ValueError("no room for another clean inspection: use more enterprises or months")

    def _plant_hotline(self) -> None:
        P, N = self.per_code, self.near
        # HOT_COMPLAINT_CLUSTER: 3 complaints on one topic in 30 days, no inspection within 15 WD
        for i, ent in enumerate(self._take(P + N, "*")):
            topic = self.rng.choice(INDUSTRIES[ent.industry][2])
            d0 = self.window_day(1, 60, 0, 0.5)  # the third complaint + 15 working days stays inside
            days = sorted(self.rng.sample(range(0, 25), 3))
            for off in days:
                self.workorder(d0 + timedelta(days=off), category=self.rng.choice(("投诉", "举报")), topic=topic,
                               content=self.complaint_text(ent, topic),
                               subject={"name": ent.name, "uscc": ent.uscc, "address": ent.address},
                               region=ent.region, handling=self.agency_for(ent))
            third = d0 + timedelta(days=days[-1])
            if i < P:
                self.scenario("HOT_COMPLAINT_CLUSTER", "fire", ent.uscc, f"“{topic}”30日内投诉3件，15个工作日内未检查")
            else:
                self.inspection(ent, self.agency_for(ent), third + timedelta(days=4), "投诉举报", result="责令整改")
                self.scenario("HOT_COMPLAINT_CLUSTER", "quiet", ent.uscc, "第3件投诉后4日内即开展检查")
        # HOT_ENFORCEMENT_COMPLAINT: a complaint about the agency that inspected the enterprise days before
        for i, ent in enumerate(self._take(P + N, "D")):
            agency = self.agency_for(ent)
            d = self.window_day(2, 15 if i < P else 42)
            self.inspection(ent, agency, d, "双随机", result="责令整改")
            subject = {"name": ent.name, "uscc": ent.uscc, "address": ent.address}
            if i < P:
                grade = ("A", "B", "C")[i % 3]
                n, types = {"A": (3, ["乱检查", "态度粗暴", "重复检查"]), "B": (2, ["乱罚款", "乱罚款"]),
                            "C": (1, ["乱检查"])}[grade]
                for k in range(n):
                    ctype = types[k]
                    self.workorder(d + timedelta(days=3 + 4 * k), category="投诉", topic="涉企执法",
                                   content=self.enforcement_text(ent, agency, ctype), subject=subject,
                                   region=ent.region, about=agency, ctype=ctype)
                self.scenario("HOT_ENFORCEMENT_COMPLAINT", "fire", agency.code,
                              f"投诉前30日内该机关检查过该企业（预期分级 {grade}）")
            else:
                self.workorder(d + timedelta(days=40), category="投诉", topic="涉企执法",
                               content=self.enforcement_text(ent, agency, "态度粗暴"), subject=subject,
                               region=ent.region, about=agency, ctype="态度粗暴")
                self.scenario("HOT_ENFORCEMENT_COMPLAINT", "quiet", agency.code, "该机关最近一次检查在投诉40日前")

    def _case_agency(self, d: date, domains=("市场监管", "综合执法", "应急管理", "卫生健康"), room=Decimal(0)) -> Agency:
        pool = [a for a in self.agencies if a.domain in domains and not a.managed]
        cands = [a for a in pool if self._month_room(a, d) >= room]
        if not cands:  # every agency of these domains is busy that month: the least busy one
            return max(pool, key=lambda a: (self._month_room(a, d), a.code))
        return self.rng.choice(cands)

    def _party_for(self, agency: Agency, org_only: bool = False) -> tuple[dict, Enterprise]:
        pool = self.others[agency.region] if self.rng.random() < 0.85 else self.baseline
        ents = [e for e in pool if e.region == agency.region and (
            not org_only or e.party_type == "法人及非法人组织")] or [
            e for e in self.others[agency.region] if not org_only or e.party_type == "法人及非法人组织"]
        ent = self.rng.choice(ents)
        return self.org_party(ent), ent

    def _plant_cases(self) -> None:
        P, N = self.per_code, self.near
        # PEN_SUMMARY_LIMIT
        for i in range(P + N):
            d = self.dense_day(0.05, 0.9)
            agency = self._case_agency(d, ("综合执法", "市场监管"), Decimal(6000))
            natural = i % 2 == 0
            party = self.person_party(agency.region) if natural else self._party_for(agency, org_only=True)[0]
            limit = 200 if natural else 3000
            fine = (Decimal(limit + 100 * (1 + i)) if natural else Decimal(5000)) if i < P else Decimal(limit)
            fits = {m: lvl for m in DOMAIN_MATTERS[agency.domain] for lvl, (a, b) in MATTERS[m][3].items()
                    if a <= fine <= b}
            matter = self.rng.choice(sorted(fits))
            level = fits[matter]
            case_id = self.case(agency, party, matter, self.work_time(d), region=agency.region)
            self.decide(case_id, agency, matter, self.work_time(d), level=level, fine=fine, procedure="简易")
            self.scenario("PEN_SUMMARY_LIMIT", "fire" if i < P else "quiet", case_id,
                          f"简易程序罚款{fine}元（{'自然人' if natural else '单位'}，上限{limit}元）")
        # PEN_DECISION_OVERDUE: no decision 90 days after filing (+ extension, − suspension)
        for i in range(P + N):
            agency = self._case_agency(self.start, room=Decimal(20000))
            party, _ = self._party_for(agency)
            matter = self.rng.choice(DOMAIN_MATTERS[agency.domain])
            filed_day = self.start - timedelta(days=self.rng.randint(70, 85))
            case_id = self.case(agency, party, matter, self.work_time(filed_day), region=agency.region)
            due = filed_day + timedelta(days=90)
            if i < P:
                if i % 2 == 0:
                    late = due + timedelta(days=self.rng.randint(5, 20))
                    if late <= self.end:
                        self._decide_small(case_id, agency, matter, late)
                    note = "立案后90日以上才作出决定"
                else:
                    note = "立案满90日未作出决定"
                self.scenario("PEN_DECISION_OVERDUE", "fire", case_id, note)
            elif i % 2 == 0:
                self.case_event(case_id, "extended", self.work_time(due - timedelta(days=10)), days=30)
                self._decide_small(case_id, agency, matter, due + timedelta(days=20))
                self.scenario("PEN_DECISION_OVERDUE", "quiet", case_id, "期限届满前批准延长30日，延长期内作出决定")
            else:
                self.case_event(case_id, "suspended", self.work_time(filed_day + timedelta(days=30)))
                self.case_event(case_id, "resumed", self.work_time(filed_day + timedelta(days=55)))
                self._decide_small(case_id, agency, matter, due + timedelta(days=15))
                self.scenario("PEN_DECISION_OVERDUE", "quiet", case_id, "中止25日不计入，顺延期内作出决定")
        # PEN_NO_LEGAL_REVIEW and PEN_NOT_RECORDED: major decisions
        for i in range(2 * (P + N)):
            d = self.window_day(2, 25)
            agency = self._case_agency(d, ("市场监管", "应急管理"), Decimal(60000))
            party, _ = self._party_for(agency)
            matter = next(m for m in DOMAIN_MATTERS[agency.domain]
                          if MATTERS[m][3]["较重"][0] <= 50000 <= MATTERS[m][3]["较重"][1])
            fine = Decimal(50000)
            filed = self.work_time(d - timedelta(days=30))
            case_id = self.case(agency, party, matter, filed, region=agency.region)
            decided = self.work_time(d)
            code, k = ("PEN_NO_LEGAL_REVIEW", i) if i < P + N else ("PEN_NOT_RECORDED", i - P - N)
            review, record_after = True, self.rng.randint(3, 10)
            if code == "PEN_NO_LEGAL_REVIEW":
                if k < P:
                    review = k % 2 == 1  # odd: reviewed only after the decision
                    note = "重大案件未经法制审核即作出决定" if not review else "法制审核晚于处罚决定"
                    if review:
                        self.case_event(case_id, "legal_reviewed", decided + timedelta(days=2))
                    review = False
                else:
                    note = "决定前2日法制审核通过"
            else:
                if k < P:
                    record_after = None if k % 2 == 0 else 22
                    note = "重大处罚决定未备案" if record_after is None else "决定后22日才备案"
                else:
                    record_after = 15
                    note = "决定后第15日备案（期限当日）"
            if review:
                self.case_event(case_id, "legal_reviewed", decided - timedelta(days=2))
            self.decide(case_id, agency, matter, decided, level="较重", fine=fine, major=True, hearing=True)
            self.case_event(case_id, "published", decided + timedelta(days=2), channel="信用中国")
            if record_after is not None and d + timedelta(days=record_after) <= self.end:
                self.case_event(case_id, "recorded", self.work_time(d + timedelta(days=record_after)))
            self.scenario(code, "fire" if k < P else "quiet", case_id, note)
        # PEN_DISCRETION: the fine outside the benchmark of its matter and level
        for i in range(P + N):
            d = self.dense_day(0.05, 0.9)
            agency = self._case_agency(d, ("市场监管", "综合执法", "卫生健康"), Decimal(60000))
            party, _ = self._party_for(agency)
            matter = self.rng.choice([m for m in DOMAIN_MATTERS[agency.domain] if MATTERS[m][3]["一般"][1] <= 50000])
            lo, hi = MATTERS[matter][3]["一般"]
            if i < P:
                fine, note = (Decimal(hi + max(500, hi // 5)), "高于基准上限") if i % 2 == 0 else \
                    (Decimal(max(lo - max(100, lo // 4), 100)), "低于基准下限")
                if fine >= lo and fine <= hi:
                    fine = Decimal(hi + 1000)
            else:
                fine, note = Decimal(hi), "恰为基准上限"
            case_id = self.case(agency, party, matter, self.work_time(d - timedelta(days=20)), region=agency.region)
            decided = self.work_time(d)
            self.decide(case_id, agency, matter, decided, level="一般", fine=fine)
            if fine >= SMALL_FINE:
                self.case_event(case_id, "published", decided + timedelta(days=1), channel="信用中国")
            self.scenario("PEN_DISCRETION", "fire" if i < P else "quiet", case_id,
                          f"“一般”情节基准 {lo}–{hi} 元，罚款 {fine} 元：{note}")
        # PEN_FIRST_VIOLATION: listed matter, first violation, corrected, fined anyway
        for i in range(P + N):
            d = self.dense_day(0.05, 0.9)
            matter = self.rng.choice(sorted(NO_PENALTY))
            domain = MATTERS[matter][0]
            agency = self._case_agency(d, (domain,), Decimal(5000))
            ents = [e for e in self.baseline if e.uscc not in self.party_matters or
                    matter not in self.party_matters[e.uscc]]
            ent = self.rng.choice(ents)
            party = self.org_party(ent)
            self.party_matters.setdefault(ent.uscc, set()).add(matter)
            lo, hi = MATTERS[matter][3]["轻微"]
            fine = Decimal(max(100, min(hi, 2000)))
            if i >= P and i % 2 == 0:  # an earlier penalty for the same matter a year ago
                earlier = d - timedelta(days=self.rng.randint(120, 170))
                old = self.case(agency, party, matter, self.work_time(earlier - timedelta(days=10)),
                                region=agency.region)
                self._decide_small(old, agency, matter, earlier)
                note = "当事人半年前因同一事项受过处罚（非初次）"
            elif i >= P:
                fine = Decimal(0)
                note = "首违不罚：仅警告，未罚款"
            else:
                note = "列入不予处罚清单、首次违法且已改正，仍处罚款"
            case_id = self.case(agency, party, matter, self.work_time(d - timedelta(days=12)), region=agency.region)
            self.decide(case_id, agency, matter, self.work_time(d), level="轻微", fine=fine,
                        types=["罚款"] if fine else ["警告"], first=True, corrected=True)
            self.scenario("PEN_FIRST_VIOLATION", "fire" if i < P else "quiet", case_id, note)

    def _decide_small(self, case_id: str, agency: Agency, matter: str, d: date) -> str:
        lo, hi = MATTERS[matter][3]["轻微"]
        fine = Decimal(max(100, min(hi, 3000) // 100 * 100))
        return self.decide(case_id, agency, matter, self.work_time(d), level="轻微", fine=fine)

    def _general_case(self, d: date, *, natural=False, domains=("市场监管", "综合执法", "应急管理", "卫生健康"),
                      ent: Enterprise | None = None) -> tuple[str, str, Agency, dict, datetime]:
        """A 一般-tier decision (ordinary procedure, fine ≥ the small-fine line) on day d."""
        agency = self._case_agency(d, domains, Decimal(30000))
        if natural:
            party = self.person_party(agency.region)
        elif ent is not None:
            party = self.org_party(ent)
        else:
            party, ent = self._party_for(agency)
        matter = next(m for m in DOMAIN_MATTERS[agency.domain] if MATTERS[m][3]["一般"][1] >= 15000)
        lo, hi = MATTERS[matter][3]["一般"]
        fine = Decimal(max(lo, SMALL_FINE) + self.rng.randint(0, (min(hi, 30000) - max(lo, SMALL_FINE)) // 100) * 100)
        case_id = self.case(agency, party, matter, self.work_time(d - timedelta(days=self.rng.randint(15, 40))),
                            region=agency.region)
        decided = self.work_time(d)
        no = self.decide(case_id, agency, matter, decided, level="一般", fine=fine)
        return case_id, no, agency, party, decided

    def _plant_publicity(self) -> None:
        P, N = self.per_code, self.near
        # PEN_PUBLICITY_LATE: 一般 tier not published within 7 working days
        for i in range(P + N):
            d = self.window_day(2, 24)
            while d.weekday() >= 5:
                d -= timedelta(days=1)
            case_id, no, agency, party, decided = self._general_case(d)
            due = self.cal.add_wd(d, 7)
            if i < P:
                if i % 2 == 0:
                    self.case_event(case_id, "published", _at(self.cal.add_wd(d, 12), 10), channel="信用中国")
                    note = "决定后第12个工作日才公示"
                else:
                    note = "决定后7个工作日内未公示"
            else:
                self.case_event(case_id, "published", _at(due, 16), channel="信用中国")
                note = f"第7个工作日（{due}）公示"
            self.scenario("PEN_PUBLICITY_LATE", "fire" if i < P else "quiet", case_id, note)
        # PEN_PUBLICITY_SCOPE (+ CR_WITHDRAW_NOT_PUBLISHABLE): 轻微 or natural person published
        for i in range(P + N):
            d = self.dense_day(0.05, 0.8)
            if i < P:
                variant = i % 3
                if variant == 0:  # warning only, ordinary procedure: 轻微
                    agency = self._case_agency(d, ("市场监管",))
                    party, _ = self._party_for(agency)
                    matter = "SJ-JG-0301"
                    case_id = self.case(agency, party, matter, self.work_time(d - timedelta(days=10)),
                                        region=agency.region)
                    self.decide(case_id, agency, matter, self.work_time(d), level="轻微", fine=Decimal(0),
                                types=["警告"])
                    self.case_event(case_id, "published", self.work_time(d + timedelta(days=2)), channel="部门网站")
                    note, trig = "仅警告的轻微失信决定被公示", True
                elif variant == 1:  # natural person on 信用中国
                    case_id, no, agency, party, decided = self._general_case(d, natural=True, domains=("综合执法",))
                    self.case_event(case_id, "published", decided + timedelta(days=1), channel="信用中国", masked=True)
                    note, trig = "自然人处罚信息在信用中国公示", True
                else:  # natural person unmasked on the department site
                    case_id, no, agency, party, decided = self._general_case(d, natural=True, domains=("综合执法",))
                    self.case_event(case_id, "published", decided + timedelta(days=1), channel="部门网站", masked=False)
                    note, trig = "自然人处罚信息未脱敏公示", False
                self.scenario("PEN_PUBLICITY_SCOPE", "fire", case_id, note)
                if trig:
                    self.scenario("CR_WITHDRAW_NOT_PUBLISHABLE", "fire", party.get("uscc") or case_id, note)
            else:
                case_id, no, agency, party, decided = self._general_case(d, natural=True, domains=("综合执法",))
                self.case_event(case_id, "published", decided + timedelta(days=1), channel="部门网站", masked=True)
                self.scenario("PEN_PUBLICITY_SCOPE", "quiet", case_id, "自然人一般失信决定脱敏后在部门网站公示")
                self.scenario("CR_WITHDRAW_NOT_PUBLISHABLE", "quiet", case_id, "脱敏公示于部门网站")
        # PEN_PUBLICITY_STALE + CR_WITHDRAW_REVOKED: revoked while published
        for i in range(P + N):
            d = self.window_day(2, 40)
            case_id, no, agency, party, decided = self._general_case(d)
            self.case_event(case_id, "published", decided + timedelta(days=1), channel="信用中国")
            revoked_day = d + timedelta(days=self.rng.randint(15, 25))
            while revoked_day.weekday() >= 5:
                revoked_day += timedelta(days=1)
            self.case_event(case_id, "revoked", self.work_time(revoked_day), by=self.rng.choice(("复议", "诉讼")))
            if i < P:
                if i % 2 == 1:
                    self.case_event(case_id, "unpublished", _at(self.cal.add_wd(revoked_day, 6), 10))
                    note = "撤销后第6个工作日才撤下公示"
                else:
                    note = "决定被撤销后仍在公示"
            else:
                self.case_event(case_id, "unpublished", _at(self.cal.add_wd(revoked_day, 3), 11))
                note = "撤销后第3个工作日撤下公示"
            self.scenario("PEN_PUBLICITY_STALE", "fire" if i < P else "quiet", case_id, note)
            self.scenario("CR_WITHDRAW_REVOKED", "fire", party["uscc"], "公示中的决定被撤销")
        # CR_PUBLICITY_EXPIRED: a 轻微 record (max 3 months under 令第36号) still shown after it
        for i in range(P):
            d = max(ORDER36_FROM, self.start - timedelta(days=100)) + timedelta(days=i)
            if _add_months(d, 3) + timedelta(days=10) > self.end:
                break
            agency = self._case_agency(d, ("市场监管",))
            party, _ = self._party_for(agency)
            matter = "SJ-JG-0301"
            case_id = self.case(agency, party, matter, self.work_time(d - timedelta(days=7)), region=agency.region)
            decided = self.work_time(d)
            self.decide(case_id, agency, matter, decided, level="一般", fine=Decimal(2000))
            self.case_event(case_id, "published", decided + timedelta(days=1), channel="部门网站")
            self.scenario("CR_PUBLICITY_EXPIRED", "fire", party["uscc"], "轻微失信信息最长公示3个月，期满仍在公示")
            self.scenario("PEN_PUBLICITY_SCOPE", "fire", case_id, "轻微失信决定（小额罚款）被公示")
            self.scenario("CR_WITHDRAW_NOT_PUBLISHABLE", "fire", party["uscc"], "轻微失信决定被公示")
            self.scenario("PEN_PUBLICITY_STALE", "fire", case_id, "最长公示期满3个工作日后仍在公示")

    def _plant_transfers(self) -> None:
        P, N = self.per_code, self.near
        police = {r: f"宁波市公安局{REGIONS[r][0]}分局" for r in REGIONS}
        for i in range(P + N):  # XFER_SUBSTITUTION
            d = self.window_day(2, 8)
            agency = self._case_agency(d, ("市场监管",), Decimal(30000))
            party, _ = self._party_for(agency)
            matter = "SJ-ZL-0501"
            sales = Decimal(self.rng.randint(60, 140) * 1000) if i < P or i % 2 == 0 else Decimal(49000)
            case_id = self.case(agency, party, matter, self.work_time(d - timedelta(days=35)), region=agency.region)
            decided = self.work_time(d)
            fine = Decimal(min(30000, max(20000, int(sales) // 4 // 100 * 100)))
            self.decide(case_id, agency, matter, decided, level="一般", fine=fine, amounts={"sales": sales},
                        violation="伪劣产品")
            self.case_event(case_id, "published", decided + timedelta(days=2), channel="信用中国")
            if i < P:
                note = f"伪劣产品销售金额{sales}元达追诉标准，决定后5日内未移送"
            elif i % 2 == 0:
                self._transfer_chain(case_id, decided + timedelta(days=1), police[agency.region])
                note = "达到追诉标准，决定次日即移送公安机关"
            else:
                note = "销售金额49000元，未达5万元追诉标准"
            self.scenario("XFER_SUBSTITUTION", "fire" if i < P else "quiet", case_id, note)
        for i in range(P + N):  # XFER_APPROVAL_LATE
            d = self.window_day(max(2, (self.end - self.start).days - 55), 10)
            agency = self._case_agency(d, ("市场监管", "综合执法"))
            party, _ = self._party_for(agency)
            matter = "SJ-ZL-0501" if agency.domain == "市场监管" else "ZF-JS-0305"
            case_id = self.case(agency, party, matter, self.work_time(d - timedelta(days=20)), region=agency.region)
            report = self.work_time(d)
            if i < P and i % 2 == 0:
                approved, sent, note = report + timedelta(days=5), report + timedelta(days=5, hours=3), "报告后5日才审批"
            elif i < P:
                approved, sent, note = report + timedelta(days=1), report + timedelta(days=1, hours=30), \
                    "批准后30小时才移送"
            else:
                approved, sent, note = report + timedelta(days=3), report + timedelta(days=3, hours=23), \
                    "第3日审批、批准后23小时移送"
            self._transfer_chain(case_id, report, police[agency.region], approved=approved, sent=sent)
            self.scenario("XFER_APPROVAL_LATE", "fire" if i < P else "quiet", case_id, note)
        for i in range(P + N):  # XFER_POLICE_NO_DECISION
            d = self.window_day(max(2, (self.end - self.start).days - 55), 12)
            agency = self._case_agency(d, ("市场监管", "综合执法"))
            party, _ = self._party_for(agency)
            matter = "SJ-ZL-0501" if agency.domain == "市场监管" else "ZF-JS-0305"
            case_id = self.case(agency, party, matter, self.work_time(d - timedelta(days=20)), region=agency.region)
            report = self.work_time(d)
            accepted = report + timedelta(days=1, hours=5)
            if i < P:
                decision = None if i % 2 == 0 else accepted + timedelta(days=7)
                note = "公安机关受理后3日内未作出立案决定" if decision is None else "受理后第7日才决定立案"
            else:
                decision, note = accepted + timedelta(days=3), "受理后第3日决定立案"
            self._transfer_chain(case_id, report, police[agency.region], accepted=accepted, decision=decision)
            self.scenario("XFER_POLICE_NO_DECISION", "fire" if i < P else "quiet", case_id, note)

    def _transfer_chain(self, case_id: str, report: datetime, organ: str, *, approved=None, sent=None,
                        accepted=None, decision="auto") -> None:
        approved = approved or report + timedelta(hours=20)
        sent = sent or approved + timedelta(hours=4)
        accepted = accepted or sent + timedelta(hours=20)
        if decision == "auto":
            decision = accepted + timedelta(days=2)
        for kind, at in (("report_made", report), ("approved", approved), ("sent", sent), ("accepted", accepted),
                         ("filed", decision)):
            if at is None or at.date() > self.end:
                continue
            rec = {"case_id": case_id, "kind": kind, "at": rfc(at)}
            if kind in ("sent", "accepted", "filed"):
                rec["organ"] = organ
            self.emit(at, "transfer", rec)

    def _plant_surge(self) -> None:
        """AGY_FINE_SURGE: managed agencies with fixed monthly fines; the first window month surges."""
        P, N = self.per_code, self.near
        for i, agency in enumerate(self.managed):
            steady, surge = (Decimal(20000), Decimal(150000)) if i < P else (Decimal(80000), Decimal(150000))
            month = self.prelude_start
            matter = max(DOMAIN_MATTERS[agency.domain], key=lambda m: MATTERS[m][3]["较重"][1])
            while month <= self.end:
                total = surge if month == self.start else steady
                parts = 3 if total == surge else 2
                for k in range(parts):
                    d = month + timedelta(days=3 + 8 * k)
                    party, _ = self._party_for(agency)
                    fine = total / parts
                    level = next((lvl for lvl, (a, b) in MATTERS[matter][3].items() if a <= fine <= b), None)
                    if level is None:
                        raise AssertionError(f"no benchmark level of {matter} holds {fine}")
                    case_id = self.case(agency, party, matter, self.work_time(d - timedelta(days=20)),
                                        region=agency.region)
                    decided = self.work_time(d)
                    self.decide(case_id, agency, matter, decided, level=level, fine=fine)
                    if fine >= SMALL_FINE:
                        self.case_event(case_id, "published", decided + timedelta(days=1), channel="信用中国")
                    self.case_event(case_id, "fulfilled", decided + timedelta(days=8))
                month = _add_months(month, 1)
            self.scenario("AGY_FINE_SURGE", "fire" if i < P else "quiet", agency.code,
                          f"{self.start:%Y-%m} 罚没 {surge} 元，前6个月月均 {steady} 元")

    def _plant_credit(self) -> None:
        P, N = self.per_code, self.near
        # CR_REPAIR_ELIGIBLE: 一般 decisions whose minimum period (3 months) ends inside the window
        eligible = []
        for i in range(P + N):
            d = self.start - timedelta(days=self.rng.randint(60, 80))
            case_id, no, agency, party, decided = self._general_case(d)
            self.case_event(case_id, "published", decided + timedelta(days=2), channel="信用中国")
            self.case_event(case_id, "fulfilled", decided + timedelta(days=10))
            if i < P:
                self.case_event(case_id, "rectified", decided + timedelta(days=25))
                self.scenario("CR_REPAIR_ELIGIBLE", "fire", party["uscc"], "最短公示期届满，已履行并整改")
                eligible.append((case_id, no, party, decided))
            else:
                self.scenario("CR_REPAIR_ELIGIBLE", "quiet", party["uscc"], "已履行但未完成整改")
        # CR_REPAIR_SLA: repair applications processed too slowly (令第36号第十六条)
        for i in range(P + N):
            d = self.window_day(2, 24)
            while d.weekday() >= 5:
                d -= timedelta(days=1)
            case_id, no, agency, party, decided = self._general_case(d - timedelta(days=100))
            self.case_event(case_id, "published", decided + timedelta(days=2), channel="信用中国")
            self.case_event(case_id, "fulfilled", decided + timedelta(days=10))
            self.case_event(case_id, "rectified", decided + timedelta(days=20))
            uscc = party["uscc"]
            applied = _at(d, 9, 30)
            self.credit(uscc, "commitment_made", applied - timedelta(hours=1), no)
            self.credit(uscc, "repair_applied", applied, no)
            if i < P and i % 2 == 0:
                accepted = _at(self.cal.add_wd(d, 6), 10)
                note = "推送后第6个工作日才受理（时限3个工作日）"
                granted = _at(self.cal.add_wd(accepted.date(), 4), 15)
            elif i < P:
                accepted = _at(self.cal.add_wd(d, 2), 10)
                granted = _at(self.cal.add_wd(accepted.date(), 11), 15)
                note = "受理后第11个工作日才办结（时限7个工作日）"
            else:
                accepted = _at(self.cal.add_wd(d, 3), 16)
                granted = _at(self.cal.add_wd(accepted.date(), 7), 15)
                note = "第3个工作日受理、第7个工作日办结"
            self.credit(uscc, "repair_accepted", accepted, no)
            if granted.date() <= self.end:
                self.credit(uscc, "repair_granted", granted, no)
                self.case_event(case_id, "unpublished", granted + timedelta(hours=20))
            self.scenario("CR_REPAIR_SLA", "fire" if i < P else "quiet", no, note)
        # a clean repair for some eligible decisions: applied, accepted and granted in time, record withdrawn
        for case_id, no, party, decided in eligible[:2]:
            applied = _at(_add_months(decided.date(), 3) + timedelta(days=5), 10)
            if self.cal.add_wd(applied.date(), 12) > self.end:
                continue
            self.credit(party["uscc"], "commitment_made", applied - timedelta(hours=2), no)
            self.credit(party["uscc"], "repair_applied", applied, no)
            acc = _at(self.cal.add_wd(applied.date(), 2), 11)
            self.credit(party["uscc"], "repair_accepted", acc, no)
            granted = _at(self.cal.add_wd(acc.date(), 5), 15)
            self.credit(party["uscc"], "repair_granted", granted, no)
            self.case_event(case_id, "unpublished", granted + timedelta(days=1))

    def credit(self, uscc: str, kind: str, at: datetime, decision_no: str | None = None, **details) -> None:
        rec = {"uscc": uscc, "kind": kind, "at": rfc(at)}
        if decision_no and kind != "commitment_made" or kind in ("repair_applied", "repair_accepted",
                                                                 "repair_granted", "repair_rejected"):
            rec["decision_no"] = decision_no
        elif decision_no:
            rec["details"] = {"decision_no": decision_no}
        if details:
            rec.setdefault("details", {}).update(details)
        self.emit(at, "credit", rec)

    def _classifications(self) -> None:
        """The monthly credit-risk classification (信用风险分类, A–D) of the population as the credit
        platform reports it: one risk_class_changed per enterprise at the start of the prelude, with
        the class its inspections carry."""
        for e in self.enterprises:
            at = _at(self.prelude_start + timedelta(days=self.rng.randint(0, 6)), 9, self.rng.randint(0, 59))
            self.emit(at, "credit", {"uscc": e.uscc, "kind": "risk_class_changed", "risk_class": e.risk_class,
                                     "at": rfc(at), "details": {"basis": "市场监管部门企业信用风险分类（月度）"}})

    # ---- clock

    def _ticks(self) -> None:
        """Weekly ticks in the prelude, daily in the window; each at 00:00 of the day after."""
        d = self.prelude_start
        while d <= self.end:
            nxt = d + timedelta(days=1)
            if d >= self.start - timedelta(days=1) or nxt.weekday() == 0:
                self._seq += 1
                self.items.append(Item(_at(nxt, 0), self._seq, "tick", {"at": rfc(_at(nxt, 0))}))
            d = nxt


def generate(seed: int = 7, months: int = 3, enterprises: int = 120, end: date = DEFAULT_END) -> Dataset:
    """The synthetic data set for one seed (same arguments → identical output)."""
    return Generator(seed, months, enterprises, end).build()
