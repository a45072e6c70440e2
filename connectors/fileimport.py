"""File import (文件导入): CSV and XLSX exports of the source systems into the hub.

    zhongshu import KIND FILE [--rejects PATH] [--batch N] [--encoding ENC] [--sheet NAME]
                              [--map 'COLUMN=field' …] [--strict] [--json]

KIND is workorder, inspection, case, credit or transfer (plurals and 工单/检查/案件 work too).
FILE is a CSV — UTF-8 with or without BOM, GB18030/GBK (12345 platforms export both; the
encoding is detected, or given with --encoding), comma- or tab-separated — or an XLSX
workbook (the first sheet, or --sheet). Legacy .xls is not read: save it as .xlsx or CSV.

Every row goes through the same intake path as `POST /api/v1/intake/...` (validation,
tokenisation of complainant and ID numbers, the intake ledger, the same topics, keys and
CloudEvents headers), written straight to the hub's database and broker (the settings of
`zhongshu up`: ./var/runtime.json beside a running hub, or the configured broker and
database_url) — no HTTP, no API key.

Columns. Headers in Chinese or English map to data-dictionary fields (DESIGN.md §6): e.g.
工单编号→order_id, 受理时间→received_at, 来电渠道/渠道→channel, 诉求类型→category,
诉求主题→topic, 诉求内容→content, 被反映对象名称→subject.name, 统一社会信用代码→subject.uscc,
地址→subject.address, 所属区划/区划代码→region_code, 来电人姓名→complainant.name,
联系电话→complainant.phone, 办理状态→status; the data-dictionary names themselves
(`order_id`, `subject.uscc` or `subject_uscc`) always work. `HEADERS` below has every alias.
`--map 'COLUMN=field'` maps a column explicitly (and wins over the aliases); `--map
'COLUMN='` drops a column. Header spelling is forgiving: full-width characters, spaces, a
trailing `*` or (必填) are ignored; a unit in the header — 罚款金额(元), 罚款金额(万元) —
scales money exactly (decimal arithmetic). A title line above the header row is skipped.
Columns that map to nothing are listed on stderr and not imported (--strict: refuse the
file instead). Two columns mapping to one field, or a required field without a column, are
usage errors (exit 2) — the message says which --map would fix it.

Cells. Empty cells are absent fields. Lists (检查事项, 执法证号, 处罚种类, …) are split on
、，,;；| or line breaks. Booleans accept 是/否, Y/N, true/false, 1/0. Times must carry an
offset: `2026-05-06 09:30:00+08:00` and `2026/5/6 9:30+08:00` are read as RFC 3339, but a time
without an offset — a text cell or an Excel date-time cell, which never has one — is
rejected, never guessed (the reason says so). Money is decimal yuan: a text cell "1,234.50",
"¥1234.5" or "1234.50元", or a whole-number cell; a fractional number cell (a float) is
rejected, because money is never read through a float (format the column as text). Long
numeric ids that Excel stored as floats beyond 15 digits are rejected for the same reason.
Case events: 事件 may be the event code or its Chinese name (立案, 处罚决定, 公示, …).

Identity. A `source_event_id` column gives each row's id (the idempotency key). Without one,
the id is derived from the file name and the row's natural id — order_id + status for work
orders (so an export listing an order's status changes keeps each change), inspection_id,
case_id + event, uscc + kind + decision_no + at for credit, case_id + kind + at for
transfers — `<file name>#<natural id>`, so importing the same file again appends nothing
(every row answers as a duplicate); a renamed file is a new source.

Output. A tqdm progress bar on stderr (when stderr is a terminal), then a summary: rows read
/ accepted / duplicates / rejected. Rejected rows are written to a rejects file (CSV, UTF-8
with BOM so Excel opens it; default `<file stem>.rejects.csv` in the current directory, or
--rejects PATH): the header and each rejected row as read, plus a column 拒收原因 listing
every problem as `column(field): got VALUE, expected …`. The rejects file can be fixed and
imported again (拒收原因 is ignored on import). Personal data in the source (complainant
name and phone) is repeated there as it was in the export: keep the file as carefully as
the export itself.

Exit codes: 0 every row accepted or duplicate; 1 some rows rejected; 2 usage error (kind,
file, encoding, columns); 3 the broker or database failed mid-way (the rows appended so far
stay; run the same command again — they answer as duplicates).
"""
from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import validation as v
from .intake import SOURCES, IntakeService, IntakeUnavailable, record_key
from .validation import Problem, ValidationFailed, shown, validate_record

REJECT_COLUMN = "拒收原因"
ROUTES = {kind: route for route, (kind, _topic, _source) in SOURCES.items()}
TOPICS = {kind: topic for _route, (kind, topic, _source) in SOURCES.items()}
KIND_ALIASES = {
    "workorder": "workorder", "workorders": "workorder", "hotline": "workorder", "工单": "workorder",
    "inspection": "inspection", "inspections": "inspection", "检查": "inspection", "行政检查": "inspection",
    "case": "case", "cases": "case", "案件": "case", "行政处罚": "case",
    "credit": "credit", "credit-events": "credit", "信用": "credit",
    "transfer": "transfer", "transfers": "transfer", "行刑衔接": "transfer",
}
DEFAULT_BATCH = 500
LANES = 8  # concurrent appends per batch; records of one key stay in one lane, in file order
MAX_SID = v.MAX_ID
EXACT_FLOAT_LIMIT = 2 ** 53
SKIP_QUIETLY = {"拒收原因", "序号", "行号", "#", "no", "no."}


class UsageError(ValueError):
    """The command cannot run on this file as given (exit code 2); the message says why."""


# ---------------------------------------------------------------- fields of each kind

def _flatten(prefix: str, fields: dict[str, v.F], required: bool = True) -> dict[str, tuple[v.Check, bool]]:
    out: dict[str, tuple[v.Check, bool]] = {}
    for name, spec in fields.items():
        path = f"{prefix}{name}"
        if isinstance(spec.check, v.Obj):
            out.update(_flatten(path + ".", spec.check.fields, required and spec.required))
        else:
            out[path] = (spec.check, required and spec.required)
    return out


def _case_fields() -> dict[str, tuple[v.Check, bool]]:
    head = {**v.COMMON, "case_id": v.F(v.ID), "event": v.F(v.Enum(v.CASE_EVENTS))}
    out = _flatten("", head)
    for event_fields in v.CASE_EVENT_FIELDS.values():
        for path, (check, _required) in _flatten("", event_fields).items():
            out.setdefault(path, (check, False))  # which fields a row needs depends on its event
    return out


# path → (check, required for every row)
FIELDS: dict[str, dict[str, tuple[v.Check, bool]]] = {
    "workorder": _flatten("", v.WORKORDER),
    "inspection": _flatten("", v.INSPECTION),
    "case": _case_fields(),
    "credit": _flatten("", v.CREDIT),
    "transfer": _flatten("", v.TRANSFER),
}

# Chinese (and common English) column names of the source systems' exports → field paths.
# Data-dictionary names map to themselves without being listed here.
HEADERS: dict[str, dict[str, str]] = {
    "workorder": {
        "工单编号": "order_id", "工单号": "order_id", "工单编码": "order_id", "工单id": "order_id",
        "受理时间": "received_at", "来电时间": "received_at", "登记时间": "received_at",
        "来电渠道": "channel", "渠道": "channel", "受理渠道": "channel", "诉求渠道": "channel", "来源渠道": "channel",
        "诉求类型": "category", "诉求类别": "category", "工单类型": "category", "工单类别": "category",
        "诉求主题": "topic", "主题": "topic", "工单标题": "topic", "标题": "topic",
        "诉求内容": "content", "内容": "content", "来电内容": "content", "工单内容": "content",
        "问题描述": "content",
        "被反映对象名称": "subject.name", "被反映对象": "subject.name", "被反映单位": "subject.name",
        "被投诉对象": "subject.name", "被投诉对象名称": "subject.name", "反映对象": "subject.name",
        "统一社会信用代码": "subject.uscc", "被反映对象统一社会信用代码": "subject.uscc",
        "社会信用代码": "subject.uscc", "信用代码": "subject.uscc",
        "地址": "subject.address", "被反映对象地址": "subject.address", "被反映地址": "subject.address",
        "事发地址": "subject.address", "事发地点": "subject.address",
        "所属区划": "region_code", "区划代码": "region_code", "所属区划代码": "region_code",
        "行政区划代码": "region_code", "区划": "region_code",
        "被投诉执法部门代码": "about_agency_code", "涉及执法部门代码": "about_agency_code",
        "被投诉部门统一社会信用代码": "about_agency_code",
        "执法投诉类型": "enforcement_complaint_type", "涉企执法投诉类型": "enforcement_complaint_type",
        "来电人姓名": "complainant.name", "来电人": "complainant.name", "诉求人姓名": "complainant.name",
        "诉求人": "complainant.name", "投诉人姓名": "complainant.name", "举报人姓名": "complainant.name",
        "联系电话": "complainant.phone", "来电号码": "complainant.phone", "来电人电话": "complainant.phone",
        "联系方式": "complainant.phone", "诉求人电话": "complainant.phone",
        "承办单位": "handling_unit", "办理单位": "handling_unit", "承办部门": "handling_unit",
        "办理时限": "due_at", "办结时限": "due_at", "到期时间": "due_at",
        "办理状态": "status", "工单状态": "status", "状态": "status",
        "发生时间": "occurred_at", "事件编号": "source_event_id",
    },
    "inspection": {
        "检查编号": "inspection_id", "检查记录编号": "inspection_id", "检查id": "inspection_id",
        "行政行为码": "action_code", "行为码": "action_code", "检查码": "action_code",
        "检查机关统一社会信用代码": "agency_code", "检查机关代码": "agency_code", "实施机关代码": "agency_code",
        "执法机关代码": "agency_code", "执法主体代码": "agency_code",
        "联合检查机关": "joint_agency_codes", "联合检查机关代码": "joint_agency_codes",
        "联合检查部门代码": "joint_agency_codes", "联合检查单位代码": "joint_agency_codes",
        "执法证号": "officer_cert_nos", "执法人员证号": "officer_cert_nos", "检查人员执法证号": "officer_cert_nos",
        "执法人员执法证号": "officer_cert_nos",
        "检查对象统一社会信用代码": "target.uscc", "被检查对象统一社会信用代码": "target.uscc",
        "统一社会信用代码": "target.uscc", "社会信用代码": "target.uscc",
        "检查对象名称": "target.name", "被检查对象名称": "target.name", "检查对象": "target.name",
        "被检查单位": "target.name", "被检查对象": "target.name",
        "所属区划": "region_code", "区划代码": "region_code", "所属区划代码": "region_code",
        "行政区划代码": "region_code",
        "检查时间": "started_at", "检查开始时间": "started_at", "开始时间": "started_at",
        "检查方式": "trigger", "检查类型": "trigger", "检查来源": "trigger", "触发方式": "trigger",
        "检查计划编号": "plan_id", "计划编号": "plan_id",
        "是否双随机": "random", "双随机": "random",
        "是否关联信用规则": "credit_rule_applied", "关联信用规则": "credit_rule_applied",
        "是否应用信用规则": "credit_rule_applied",
        "风险等级": "risk_class", "信用风险分类": "risk_class", "风险分类": "risk_class",
        "检查事项": "items", "检查内容": "items",
        "检查结果": "result", "处理结果": "result",
        "整改期限": "rectification_due", "整改截止时间": "rectification_due",
        "发生时间": "occurred_at", "事件编号": "source_event_id",
    },
    "case": {
        "案件编号": "case_id", "案件号": "case_id", "案件id": "case_id",
        "事件": "event", "事件类型": "event", "环节": "event", "案件环节": "event",
        "处罚机关统一社会信用代码": "agency_code", "处罚机关代码": "agency_code", "办案机关代码": "agency_code",
        "执法机关代码": "agency_code",
        "当事人类型": "party.type",
        "当事人统一社会信用代码": "party.uscc", "统一社会信用代码": "party.uscc",
        "当事人身份证号": "party.id_number", "身份证号": "party.id_number", "证件号码": "party.id_number",
        "当事人名称": "party.name", "当事人": "party.name", "当事人姓名": "party.name",
        "事项编码": "matter_code", "违法事项编码": "matter_code", "处罚事项编码": "matter_code",
        "所属区划": "region_code", "区划代码": "region_code", "行政区划代码": "region_code",
        "立案时间": "filed_at", "立案日期": "filed_at",
        "案件来源": "source_refs", "来源编号": "source_refs", "案源编号": "source_refs",
        "处罚决定书文号": "decision_no", "决定书文号": "decision_no", "文号": "decision_no",
        "决定时间": "decided_at", "处罚决定时间": "decided_at", "处罚决定日期": "decided_at",
        "程序": "procedure", "适用程序": "procedure", "程序类型": "procedure",
        "处罚种类": "penalty_types", "处罚类型": "penalty_types",
        "罚款金额": "fine_amount", "罚款": "fine_amount",
        "没收金额": "confiscated_amount", "没收违法所得金额": "confiscated_amount",
        "销售金额": "amount_involved.sales", "涉案货值": "amount_involved.sales",
        "未销售货值": "amount_involved.unsold_value", "营业额": "amount_involved.turnover",
        "违法所得": "amount_involved.illegal_gains", "偷税金额": "amount_involved.tax_evaded",
        "逃税金额": "amount_involved.tax_evaded", "应纳税额": "amount_involved.tax_due",
        "情节": "circumstance_level", "违法情节": "circumstance_level", "情节等级": "circumstance_level",
        "违法行为类型": "violation_type", "违法类型": "violation_type",
        "法律依据": "legal_basis", "处罚依据": "legal_basis",
        "是否首违": "first_violation", "首次违法": "first_violation",
        "是否已改正": "corrected", "已改正": "corrected",
        "是否重大案件": "major", "重大案件": "major",
        "是否听证": "hearing_held", "是否举行听证": "hearing_held",
        "是否复杂案件": "complex", "复杂案件": "complex",
        "处罚期限截止日": "penalty_duration_until", "处罚期限至": "penalty_duration_until",
        "审核时间": "reviewed_at", "法制审核时间": "reviewed_at", "审核是否通过": "passed", "审核通过": "passed",
        "延期天数": "days", "批准时间": "approved_at",
        "事件时间": "at", "时间": "at",
        "公示时间": "published_at", "公示渠道": "channel", "公示平台": "channel", "是否脱敏": "masked",
        "撤销变更原因": "by", "撤销原因": "by", "变更原因": "by",
        "发生时间": "occurred_at", "事件编号": "source_event_id",
    },
    "credit": {
        "统一社会信用代码": "uscc", "社会信用代码": "uscc", "信用代码": "uscc",
        "事件类型": "kind", "类型": "kind",
        "处罚决定书文号": "decision_no", "决定书文号": "decision_no", "文号": "decision_no",
        "风险等级": "risk_class", "信用风险分类": "risk_class",
        "时间": "at", "事件时间": "at",
        "发生时间": "occurred_at", "事件编号": "source_event_id",
    },
    "transfer": {
        "案件编号": "case_id", "案件号": "case_id",
        "事件类型": "kind", "类型": "kind", "环节": "kind",
        "时间": "at", "事件时间": "at",
        "机关": "organ", "接收机关": "organ", "办理机关": "organ",
        "发生时间": "occurred_at", "事件编号": "source_event_id",
    },
}

CASE_EVENT_NAMES = {
    "立案": "filed", "作出处罚决定": "decided", "处罚决定": "decided", "决定": "decided",
    "法制审核": "legal_reviewed", "延期": "extended", "延长办案期限": "extended", "中止": "suspended",
    "恢复": "resumed", "公示": "published", "撤下公示": "unpublished", "撤销公示": "unpublished",
    "停止公示": "unpublished", "履行": "fulfilled", "履行完毕": "fulfilled", "执行完毕": "fulfilled",
    "整改": "rectified", "整改完成": "rectified", "备案": "recorded", "撤销": "revoked", "变更": "changed",
}
VALUE_ALIASES: dict[tuple[str, str], dict[str, str]] = {("case", "event"): CASE_EVENT_NAMES}

# the natural id a derived source_event_id is made of
NATURAL_ID: dict[str, tuple[str, ...]] = {
    "workorder": ("order_id", "status"),
    "inspection": ("inspection_id",),
    "case": ("case_id", "event"),
    "credit": ("uscc", "kind", "decision_no", "at"),
    "transfer": ("case_id", "kind", "at"),
}
NATURAL_REQUIRED: dict[str, tuple[str, ...]] = {
    "workorder": ("order_id",), "inspection": ("inspection_id",), "case": ("case_id", "event"),
    "credit": ("uscc", "kind"), "transfer": ("case_id", "kind"),
}


def parse_kind(text: str) -> str:
    kind = KIND_ALIASES.get(str(text).strip().lower())
    if kind is None:
        raise UsageError(f"kind {text!r}: expected one of {', '.join(v.RECORD_KINDS)}")
    return kind


# ---------------------------------------------------------------- headers

_UNIT = re.compile(r"\((万元|万|元)\)$")
_MARKS = re.compile(r"\((必填|选填|可选|必输)\)")


def header_key(text: Any) -> tuple[str, Decimal | None]:
    """(lookup key, money unit in yuan or None) of a column header."""
    t = unicodedata.normalize("NFKC", "" if text is None else str(text)).replace("\ufeff", "").strip()
    t = _MARKS.sub("", t.replace("*", ""))
    t = re.sub(r"\s+", "", t)
    unit = None
    m = _UNIT.search(t)
    if m:
        unit = Decimal(10000) if m.group(1) in ("万元", "万") else Decimal(1)
        t = t[: m.start()]
    return t.lower(), unit


def aliases(kind: str) -> dict[str, str]:
    """Every accepted header key → field path for `kind`."""
    table: dict[str, str] = {}
    for path in FIELDS[kind]:
        table[path.lower()] = path
        table[path.replace(".", "_").lower()] = path
    for header, path in HEADERS[kind].items():
        table[header_key(header)[0]] = path
    return table


@dataclass
class Column:
    index: int
    header: str
    path: str
    unit: Decimal | None = None


@dataclass
class ColumnMap:
    kind: str
    headers: list[str]
    columns: list[Column]
    ignored: list[str]
    has_source_event_id: bool

    def column_of(self, path: str) -> str | None:
        base = re.sub(r"\[\d+\]", "", path)
        for col in self.columns:
            if col.path == base:
                return col.header
        return None


def parse_overrides(kind: str, maps: list[str]) -> dict[str, str]:
    """`--map 'COLUMN=field'` flags → {header key: field path ('' drops the column)}."""
    out: dict[str, str] = {}
    for item in maps or ():
        if "=" not in item:
            raise UsageError(f"--map {item!r}: expected COLUMN=field (or COLUMN= to drop the column)")
        column, target = item.rsplit("=", 1)
        target = target.strip()
        target = target.replace("_", ".") if target not in FIELDS[kind] and target.replace("_", ".") in FIELDS[kind] \
            else target
        if target and target not in FIELDS[kind]:
            raise UsageError(f"--map {item!r}: {target!r} is not a {kind} field; fields: "
                             + ", ".join(FIELDS[kind]))
        out[header_key(column)[0]] = target
    return out


def map_headers(kind: str, headers: list[Any], overrides: dict[str, str] | None = None, *,
                strict: bool = False) -> ColumnMap:
    """Map a header row to field paths, or UsageError naming every ambiguity and gap."""
    overrides = overrides or {}
    table = aliases(kind)
    texts = ["" if h is None else str(h).strip() for h in headers]
    columns, ignored, problems = [], [], []
    used: dict[str, str] = {}
    for i, text in enumerate(texts):
        key, unit = header_key(text)
        if not key:
            continue
        path = overrides[key] if key in overrides else table.get(key)
        if key not in overrides and path is None and key.startswith("details.") and kind == "credit":
            path = key  # free details of a credit event: details.<name>
        if not path:
            if key not in SKIP_QUIETLY and key not in overrides:
                ignored.append(text)
            continue
        if path in used:
            problems.append(f"columns {used[path]!r} and {text!r} both map to {path}; drop one with --map '{text}='")
            continue
        used[path] = text
        columns.append(Column(i, text, path, unit))
    missing = [path for path, (_check, required) in FIELDS[kind].items()
               if required and path != "source_event_id" and path not in used]
    for path in missing:
        known = [h for h, p in HEADERS[kind].items() if p == path][:3]
        hint = f" (e.g. {' / '.join(known)})" if known else ""
        problems.append(f"no column for the required field {path}{hint}; name one with --map 'COLUMN={path}'")
    if strict and ignored:
        problems.append("--strict: columns that map to no field: " + ", ".join(ignored))
    if problems:
        raise UsageError("the header row does not fit a " + kind + " file:\n  " + "\n  ".join(problems))
    return ColumnMap(kind, texts, columns, ignored, "source_event_id" in used)


def find_header_row(kind: str, rows: list[list[Any]], overrides: dict[str, str] | None = None) -> int:
    """Index of the header row among the first rows (a title line above it is common)."""
    table = aliases(kind)
    overrides = overrides or {}
    best, best_hits = 0, -1
    for i, row in enumerate(rows[:10]):
        hits = sum(1 for cell in row if (k := header_key(cell)[0]) and (k in table or k in overrides))
        if hits >= 2:
            return i
        if hits > best_hits:
            best, best_hits = i, hits
    return best


# ---------------------------------------------------------------- cells

@dataclass
class Converted:
    value: Any = None
    problem: str | None = None       # what is expected instead (the cell is left out)


NO_OFFSET = (" (this time has no UTC offset, and the importer never guesses one: export it with its offset, "
             "e.g. 2026-05-06T09:30:00+08:00)")
EXCEL_TIME = ("an RFC 3339 time with an explicit UTC offset, as text (this Excel date-time cell has no offset, "
              "and the importer never guesses one: format the column as text with the offset, e.g. "
              "2026-05-06T09:30:00+08:00)")
FLOAT_MONEY = ("decimal yuan as text, never a float (this is a fractional number cell: format the column as "
               'text with the amount, e.g. "1234.50")')
INEXACT_NUMBER = ("text (this number has more digits than an Excel number cell keeps exactly, 15: format the "
                  "column as text)")

_LOOSE_TIME = re.compile(
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+|[Tt])(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?\s*"
    r"(Z|z|[+-]\d{2}:?\d{2})?")
_LOOSE_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_BOOLS = {"是": True, "否": False, "y": True, "n": False, "yes": True, "no": False, "true": True,
          "false": False, "1": True, "0": False, "√": True, "×": False, "有": True, "无": False}
_LIST_SPLIT = re.compile(r"[、，,;；|\n]+")
_MONEY_NOISE = re.compile(r"[\s,，¥￥]|元$")
_REGION_PREFIX = re.compile(r"(\d{6})(?!\d)\D*")


def normalise_time(text: str) -> tuple[str, bool]:
    """(RFC 3339 text if it can be read without guessing, else the text; has no offset?)."""
    t = unicodedata.normalize("NFKC", text).strip()
    m = _LOOSE_TIME.fullmatch(t)
    if m is None:
        return t, bool(_LOOSE_DATE.fullmatch(t))
    y, mo, d, h, mi, s, frac, off = m.groups()
    if off is None:
        return t, True
    off = "Z" if off in ("Z", "z") else (off if ":" in off else f"{off[:3]}:{off[3:]}")
    return f"{y}-{int(mo):02d}-{int(d):02d}T{int(h):02d}:{mi}:{s or '00'}{frac or ''}{off}", False


def _plain_text(value: Any) -> Converted:
    if isinstance(value, bool):
        return Converted("是" if value else "否")
    if isinstance(value, int):
        return Converted(str(value))
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) >= EXACT_FLOAT_LIMIT:
                return Converted(problem=INEXACT_NUMBER)
            return Converted(str(int(value)))
        return Converted(repr(value))
    if isinstance(value, datetime):
        return Converted(value.isoformat(sep=" "))
    if isinstance(value, (date, time)):
        return Converted(value.isoformat())
    return Converted(unicodedata.normalize("NFC", str(value)))


def convert_cell(kind: str, path: str, check: v.Check, value: Any, unit: Decimal | None = None) -> Converted:
    """A cell's value as the intake JSON would carry it (or why it cannot be read without guessing)."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        return Converted(None)
    if isinstance(check, v.ListOf):
        parts = _LIST_SPLIT.split(value) if isinstance(value, str) else [value]
        out = []
        for part in parts:
            if isinstance(part, str) and not part.strip():
                continue
            item = convert_cell(kind, path, check.item, part)
            if item.problem:
                return item
            out.append(item.value)
        return Converted(out)
    if isinstance(check, v.Time):
        if isinstance(value, datetime) and value.tzinfo is not None:
            return Converted(value.isoformat())
        if isinstance(value, (datetime, date, time)):
            return Converted(problem=EXCEL_TIME)
        text, naive = normalise_time(_plain_text(value).value)
        if naive:
            return Converted(problem=v.TIME_EXPECTED + NO_OFFSET)
        return Converted(text)
    if isinstance(check, v.Date):
        if isinstance(value, datetime):
            if value.time() != time(0):
                return Converted(problem=v.DATE_EXPECTED + " (this cell also has a time of day)")
            return Converted(value.date().isoformat())
        if isinstance(value, date):
            return Converted(value.isoformat())
        text = unicodedata.normalize("NFKC", str(value)).strip()
        m = _LOOSE_DATE.fullmatch(text)
        return Converted(f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" if m else text)
    if isinstance(check, v.Money):
        if isinstance(value, float) and value.is_integer() and abs(value) < EXACT_FLOAT_LIMIT:
            value = int(value)  # a whole number is exact in a float; fractions of a yuan are not
        if isinstance(value, (bool, float)):
            return Converted(problem=FLOAT_MONEY)
        if isinstance(value, (int, Decimal)):
            amount = Decimal(value)
        else:
            text = _MONEY_NOISE.sub("", unicodedata.normalize("NFKC", str(value)))
            if not re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
                return Converted(str(value))  # validation says what a money field must look like
            amount = Decimal(text)
        if unit is not None and unit != 1:
            amount = amount * unit
        return Converted(_decimal_text(amount))
    if isinstance(check, v.Bool):
        if isinstance(value, bool):
            return Converted(value)
        if isinstance(value, (int, float)) and value in (0, 1):
            return Converted(bool(value))
        return Converted(_BOOLS.get(str(value).strip().lower(), str(value)))
    if isinstance(check, v.Int):
        if isinstance(value, int) and not isinstance(value, bool):
            return Converted(value)
        if isinstance(value, float) and value.is_integer():
            return Converted(int(value))
        text = str(value).strip()
        return Converted(int(text) if re.fullmatch(r"-?[0-9]{1,9}", text) else text)
    converted = _plain_text(value)
    if converted.problem:
        return converted
    text = converted.value
    if isinstance(check, v.Region):
        m = _REGION_PREFIX.fullmatch(text)
        if m:
            text = m.group(1)  # "330203 海曙区" → the code; the name is only a label
    aliases_of = VALUE_ALIASES.get((kind, path))
    if aliases_of:
        text = aliases_of.get(text, text)
    return Converted(text)


def _decimal_text(amount: Decimal) -> str:
    """Plain decimal text; zeros beyond the cent are dropped (exact), other digits kept so
    validation refuses them rather than this rounding them away."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and amount == amount.quantize(Decimal("0.01")):
        amount = amount.quantize(Decimal("0.01"))
    return format(amount, "f")


# ---------------------------------------------------------------- rows

@dataclass
class RowOutcome:
    record: dict | None                  # validated record, ready for IntakeService
    problems: list[Problem] = field(default_factory=list)


def derive_source_event_id(kind: str, file_name: str, raw: dict) -> str | None:
    """`<file name>#<natural id>`; None when the natural id is missing (the row is rejected)."""
    parts = []
    for path in NATURAL_ID[kind]:
        value = raw.get(path)
        if path in NATURAL_REQUIRED[kind] and (value is None or value == ""):
            return None
        parts.append("" if value is None else str(value))
    natural = "/".join(parts).rstrip("/")
    sid = f"{file_name}#{natural}"
    if len(sid) > MAX_SID:
        sid = "import#" + hashlib.sha256(sid.encode("utf-8")).hexdigest()[:40]
    return sid


def _nest(flat: dict[str, Any]) -> dict:
    out: dict = {}
    for path, value in flat.items():
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def convert_row(colmap: ColumnMap, row: list[Any], file_name: str, tokenise) -> RowOutcome:
    """One data row → a validated record, or every problem with it."""
    kind = colmap.kind
    fields_of = FIELDS[kind]
    flat: dict[str, Any] = {}
    problems: list[Problem] = []
    flagged: set[str] = set()
    extra = [c for i, c in enumerate(row) if i >= len(colmap.headers) and c not in (None, "")]
    if extra:
        problems.append(Problem("", f"{len(colmap.headers) + len(extra)}+ cells",
                                f"at most {len(colmap.headers)} cells, one per header column"))
    for col in colmap.columns:
        cell = row[col.index] if col.index < len(row) else None
        check = fields_of[col.path][0] if col.path in fields_of else v.Text(v.MAX_TEXT, multiline=True)
        got = convert_cell(kind, col.path, check, cell, col.unit)
        if got.problem:
            shown_value = cell if cell is None or isinstance(cell, (int, float)) else _plain_text(cell).value
            problems.append(Problem(col.path, shown_value, got.problem))
            flagged.add(col.path)
        elif got.value is not None:
            flat[col.path] = got.value
    if kind == "case":
        event = flat.get("event")
        own = v.CASE_EVENT_FIELDS.get(event, {}) if isinstance(event, str) else {}
        for name, spec in own.items():  # an empty list cell of a list the event needs = an empty list
            if isinstance(spec.check, v.ListOf) and spec.required and name not in flat and \
                    colmap.column_of(name) is not None and name not in flagged:
                flat[name] = []
    else:
        for path, (check, required) in fields_of.items():
            if isinstance(check, v.ListOf) and required and path not in flat and path not in flagged and \
                    colmap.column_of(path) is not None:
                flat[path] = []
    derived = False
    if not colmap.has_source_event_id:
        sid = derive_source_event_id(kind, file_name, flat)
        derived = True
        if sid is not None:
            flat["source_event_id"] = sid
    record = _nest(flat)
    try:
        normalised = validate_record(kind, record, tokenise=tokenise)
    except ValidationFailed as exc:
        for p in exc.problems:
            if p.field in flagged:
                continue  # already explained by the cell conversion
            if derived and p.field == "source_event_id":
                continue  # explained by the missing natural id the id is derived from
            problems.append(p)
        if not problems:  # defensive: never accept a record validation refused
            problems = list(exc.problems)
        return RowOutcome(None, problems)
    if problems:
        return RowOutcome(None, problems)
    return RowOutcome(normalised)


REASON_SEPARATOR = "；"


def reason_text(colmap: ColumnMap, problems: list[Problem]) -> str:
    """Every problem as `column(field): got VALUE, expected …`, joined with '；'."""
    parts = []
    for p in problems:
        column = colmap.column_of(p.field) if p.field else None
        where = f"{column}({p.field})" if column and column != p.field else (p.field or "(row)")
        got = "(empty)" if p.value is None else shown(p.value)
        parts.append(f"{where}: got {got}, expected {p.expected}")
    return REASON_SEPARATOR.join(parts)


# ---------------------------------------------------------------- reading files

def detect_encoding(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot tell the encoding: neither UTF-8 nor GB18030 (byte {exc.start}); "
                         f"pass --encoding") from None


@dataclass
class Table:
    rows: list[list[Any]]     # every row, header included
    encoding: str | None      # CSV only
    fmt: str


def read_csv(path: Path, encoding: str | None = None) -> Table:
    data = path.read_bytes()
    enc = encoding or detect_encoding(data)
    if enc.replace("_", "-").lower() in ("utf-8", "utf8") and data.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8-sig"
    try:
        text = data.decode(enc)
    except LookupError:
        raise UsageError(f"--encoding {enc!r}: unknown encoding") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path.name} is not {enc}: undecodable byte at {exc.start}; "
                         f"pass the right --encoding (gb18030, utf-8, …)") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))  # long 诉求内容 cells
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise UsageError(f"{path.name}: not a readable CSV file ({exc})") from None
    return Table(rows, enc, "csv")


def read_xlsx(path: Path, sheet: str | None = None) -> Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise UsageError(f"{path.name}: not a readable XLSX workbook ({exc})") from None
    try:
        if sheet is not None:
            if sheet not in wb.sheetnames:
                raise UsageError(f"--sheet {sheet!r}: the workbook has {', '.join(wb.sheetnames)}")
            ws = wb[sheet]
        else:
            ws = wb.worksheets[0]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    return Table(rows, None, "xlsx")


def read_table(path: Path, *, encoding: str | None = None, sheet: str | None = None) -> Table:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    with path.open("rb") as fh:
        magic = fh.read(8)
    suffix = path.suffix.lower()
    if suffix == ".xls" or magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise UsageError(f"{path.name}: legacy .xls is not supported; save it as .xlsx or CSV")
    if suffix in (".xlsx", ".xlsm") or magic.startswith(b"PK\x03\x04"):
        return read_xlsx(path, sheet)
    return read_csv(path, encoding)


def _blank(row: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in row)


# ---------------------------------------------------------------- import

@dataclass
class ImportSummary:
    file: str
    kind: str
    topic: str
    fmt: str
    encoding: str | None = None
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    @property
    def exit_code(self) -> int:
        return 3 if self.error else (1 if self.rejected else 0)

    def text(self) -> str:
        lines = [f"{self.file} → {self.topic} ({self.fmt}{', ' + self.encoding if self.encoding else ''})",
                 f"read {self.read}, accepted {self.accepted}, duplicates {self.duplicates}, rejected {self.rejected}"]
        if self.rejects_file:
            lines.append(f"rejects: {self.rejects_file}")
        if self.error:
            lines.append(f"stopped: {self.error}; rows appended so far stay — run the same command again "
                         f"(they answer as duplicates)")
        return "\n".join(lines)


def _lanes(kind: str, records: list[dict], lanes: int) -> list[list[dict]]:
    out: list[list[dict]] = [[] for _ in range(lanes)]
    for rec in records:
        key = record_key(kind, rec)
        out[int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) % lanes].append(rec)
    return [lane for lane in out if lane]


def _already_appended(session_factory, kind: str, sids: list[str]) -> set[str]:
    """The ids of a batch the intake ledger already holds with a position (a re-import's rows):
    one query instead of a failed claim per row. Anything else goes through IntakeService."""
    from sqlalchemy import select

    from projections.models import IntakeLedger

    with session_factory() as s:
        rows = s.execute(select(IntakeLedger.source_event_id).where(
            IntakeLedger.kind == kind, IntakeLedger.source_event_id.in_(sids), IntakeLedger.offset.is_not(None)))
        return {sid for (sid,) in rows}


async def _append_batch(intake: IntakeService, kind: str, records: list[dict], summary: ImportSummary) -> None:
    route = ROUTES[kind]
    known = await asyncio.to_thread(_already_appended, intake.session_factory, kind,
                                    list({r["source_event_id"] for r in records}))
    if known:
        summary.duplicates += sum(1 for r in records if r["source_event_id"] in known)
        records = [r for r in records if r["source_event_id"] not in known]
    results = await asyncio.gather(*(intake.append(route, lane, asyncio.to_thread)
                                     for lane in _lanes(kind, records, LANES)), return_exceptions=True)
    failure = None
    for result in results:
        if isinstance(result, BaseException):
            failure = failure or result
            continue
        summary.accepted += len(result.accepted)
        summary.duplicates += len(result.duplicates)
    if failure is not None:
        # appends of the other lanes that finished are counted above; the failed lane's
        # earlier records are in the ledger and will answer as duplicates on a re-run
        raise failure if isinstance(failure, IntakeUnavailable) else IntakeUnavailable(str(failure))


async def import_rows(table: Table, colmap: ColumnMap, header_index: int, file_name: str, *, intake: IntakeService,
                      tokenise, summary: ImportSummary, batch: int = DEFAULT_BATCH, rejects=None,
                      progress=None) -> None:
    """Validate every data row and append the valid ones in batches; rejected rows go to
    `rejects(row, reason)`. IntakeUnavailable stops the import (counts stay accurate)."""
    pending: list[dict] = []
    for row in table.rows[header_index + 1:]:
        if _blank(row):
            if progress is not None:
                progress.update(1)
            continue
        summary.read += 1
        outcome = convert_row(colmap, row, file_name, tokenise)
        if outcome.record is None:
            summary.rejected += 1
            if rejects is not None:
                rejects(row, reason_text(colmap, outcome.problems))
        else:
            pending.append(outcome.record)
            if len(pending) >= batch:
                await _append_batch(intake, colmap.kind, pending, summary)
                pending = []
        if progress is not None:
            progress.update(1)
    if pending:
        await _append_batch(intake, colmap.kind, pending, summary)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    return _plain_text(value).value if not isinstance(value, str) else value


class RejectsWriter:
    """CSV, UTF-8 with BOM (Excel), the original header plus 拒收原因."""

    def __init__(self, path: Path, headers: list[str]):
        self.path = path
        self.width = len(headers)
        self.fh = path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.fh)
        self.writer.writerow(list(headers) + [REJECT_COLUMN])

    def __call__(self, row: list[Any], reason: str) -> None:
        cells = [_cell_text(c) for c in row]
        cells = cells + [""] * (self.width - len(cells)) if len(cells) < self.width else cells
        self.writer.writerow(cells + [reason])

    def close(self) -> None:
        self.fh.close()


def default_rejects_path(source: Path) -> Path:
    return Path.cwd() / f"{source.stem}.rejects.csv"


async def run_import(settings, kind: str, path: Path, *, rejects_path: Path | None = None,
                     batch: int = DEFAULT_BATCH, encoding: str | None = None, sheet: str | None = None,
                     maps: list[str] | None = None, strict: bool = False, progress: bool | None = None,
                     warn=print) -> ImportSummary:
    """The whole `zhongshu import`: read, map, validate, append, write rejects."""
    from sqlalchemy.orm import sessionmaker
    from tqdm import tqdm

    from projections.db import make_engine
    from projections.schema import ensure_schema
    from schemas.codec import Codec

    from . import kafka as kafka_edge
    from .privacy import Tokeniser
    from .pull import make_intake, stop_producer

    kind = parse_kind(kind)
    if batch < 1:
        raise UsageError(f"--batch {batch}: a positive number of rows")
    overrides = parse_overrides(kind, maps or [])
    table = read_table(path, encoding=encoding, sheet=sheet)
    if not any(not _blank(r) for r in table.rows):
        raise UsageError(f"{path.name}: the file has no rows")
    header_index = find_header_row(kind, table.rows, overrides)
    colmap = map_headers(kind, table.rows[header_index], overrides, strict=strict)
    if colmap.ignored:
        warn(f"columns not imported (no {kind} field; --map 'COLUMN=field' imports one): "
             + ", ".join(colmap.ignored))
    summary = ImportSummary(file=str(path), kind=kind, topic=TOPICS[kind], fmt=table.fmt, encoding=table.encoding,
                            ignored_columns=colmap.ignored)
    asked_for_rejects = rejects_path is not None
    rejects_path = rejects_path or default_rejects_path(path)
    if not rejects_path.parent.is_dir():
        raise UsageError(f"--rejects {rejects_path}: no such directory")
    writer: RejectsWriter | None = None

    def reject(row, reason):
        nonlocal writer
        if writer is None:
            writer = RejectsWriter(rejects_path, colmap.headers)
        writer(row, reason)

    engine = make_engine(settings.db_url)
    producer = None
    bar = tqdm(total=len(table.rows) - header_index - 1, unit="row", desc=path.name, file=sys.stderr,
               disable=None if progress is None else not progress, leave=False)
    try:
        try:
            await asyncio.to_thread(ensure_schema, engine)
            producer = kafka_edge.producer(settings.bootstrap, settings.kafka_client_kwargs())
            await producer.start()
        except Exception as exc:
            summary.error = f"cannot reach the hub's database or broker ({settings.bootstrap}): {exc}"
            return summary
        intake = make_intake(settings, sessionmaker(engine, expire_on_commit=False), producer, Codec())
        tokenise = Tokeniser(settings.secret_bytes())
        try:
            await import_rows(table, colmap, header_index, path.name, intake=intake, tokenise=tokenise,
                              summary=summary, batch=batch, rejects=reject, progress=bar)
        except IntakeUnavailable as exc:
            summary.error = str(exc)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        if producer is not None:
            await stop_producer(producer)
        engine.dispose()
    if writer is not None:
        summary.rejects_file = str(rejects_path)
    elif asked_for_rejects:
        RejectsWriter(rejects_path, colmap.headers).close()  # asked for: an empty rejects file says "none"
        summary.rejects_file = str(rejects_path)
    return summary


def main(settings, args) -> int:
    """Entry of `zhongshu import` (see connectors/cli.py)."""
    def warn(message):
        print(f"warning: {message}", file=sys.stderr)

    try:
        summary = asyncio.run(run_import(
            settings, args.kind, Path(args.file), rejects_path=Path(args.rejects) if args.rejects else None,
            batch=args.batch, encoding=args.encoding, sheet=args.sheet, maps=args.map, strict=args.strict,
            progress=args.progress, warn=warn))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        print(summary.text())
    return summary.exit_code
