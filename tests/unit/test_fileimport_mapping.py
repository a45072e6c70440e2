"""Column mapping and cell reading of `zhongshu import` (pure: no broker, no database)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from connectors import validation as v
from connectors.fileimport import (
    FIELDS, REJECT_COLUMN, UsageError, convert_cell, convert_row, derive_source_event_id, detect_encoding,
    find_header_row, header_key, map_headers, parse_kind, parse_overrides, reason_text,
)
from connectors.privacy import Tokeniser
from connectors.uscc import make_uscc

TOKENISE = Tokeniser(b"unit-test-secret")
USCC = make_uscc("91330203MA2A12345")
BAD_USCC = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")

WORKORDER_HEADERS = ["工单编号", "受理时间", "来电渠道", "诉求类型", "诉求主题", "诉求内容", "被反映对象名称",
                     "统一社会信用代码", "地址", "所属区划", "来电人姓名", "联系电话", "办理状态"]


def workorder_row(**over) -> list:
    row = {"工单编号": "GD20260506001", "受理时间": "2026-05-06 09:30:00+08:00", "来电渠道": "电话",
           "诉求类型": "投诉", "诉求主题": "执法检查", "诉求内容": "一个月内三次到店检查。",
           "被反映对象名称": "宁波市海曙区某某餐饮有限公司", "统一社会信用代码": USCC, "地址": "中山西路1号",
           "所属区划": "330203", "来电人姓名": "张三", "联系电话": "13805740000", "办理状态": "受理"}
    row.update(over)
    return [row[h] for h in WORKORDER_HEADERS]


def paths(colmap) -> dict[str, str]:
    return {c.header: c.path for c in colmap.columns}


# ---------------------------------------------------------------- headers

def test_chinese_work_order_headers_map_to_data_dictionary_fields():
    colmap = map_headers("workorder", WORKORDER_HEADERS)
    assert paths(colmap) == {
        "工单编号": "order_id", "受理时间": "received_at", "来电渠道": "channel", "诉求类型": "category",
        "诉求主题": "topic", "诉求内容": "content", "被反映对象名称": "subject.name",
        "统一社会信用代码": "subject.uscc", "地址": "subject.address", "所属区划": "region_code",
        "来电人姓名": "complainant.name", "联系电话": "complainant.phone", "办理状态": "status"}
    assert colmap.ignored == [] and not colmap.has_source_event_id


def test_short_aliases_and_alternative_names_map_too():
    headers = ["工单号", "来电时间", "渠道", "诉求类型", "标题", "内容", "被反映对象", "统一社会信用代码",
               "区划代码", "诉求人", "联系方式", "状态"]
    got = paths(map_headers("workorder", headers))
    assert got["渠道"] == "channel" and got["区划代码"] == "region_code" and got["来电时间"] == "received_at"
    assert got["诉求人"] == "complainant.name" and got["联系方式"] == "complainant.phone"


def test_data_dictionary_names_map_to_themselves_dotted_or_underscored():
    headers = ["source_event_id", "order_id", "received_at", "channel", "category", "topic", "content",
               "subject.name", "subject_uscc", "region_code", "complainant_name", "complainant.phone", "status"]
    colmap = map_headers("workorder", headers)
    assert paths(colmap)["subject_uscc"] == "subject.uscc" and paths(colmap)["subject.name"] == "subject.name"
    assert colmap.has_source_event_id


def test_the_same_header_means_the_kinds_own_field():
    assert paths(map_headers("workorder", WORKORDER_HEADERS))["统一社会信用代码"] == "subject.uscc"
    inspection = ["检查编号", "检查机关统一社会信用代码", "联合检查机关", "执法证号", "统一社会信用代码", "检查对象名称",
                  "所属区划", "检查时间", "检查方式", "是否双随机", "是否关联信用规则", "检查事项", "检查结果"]
    got = paths(map_headers("inspection", inspection))
    assert got["统一社会信用代码"] == "target.uscc" and got["检查对象名称"] == "target.name"
    assert got["联合检查机关"] == "joint_agency_codes" and got["是否双随机"] == "random"
    case = paths(map_headers("case", ["案件编号", "事件", "统一社会信用代码", "当事人名称", "罚款金额(元)"]))
    assert case["统一社会信用代码"] == "party.uscc" and case["罚款金额(元)"] == "fine_amount"


def test_header_spelling_noise_is_ignored():
    assert header_key(" 工单编号* ") == ("工单编号", None)
    assert header_key("受理时间（必填）") == ("受理时间", None)
    assert header_key("\ufeff工单编号") == ("工单编号", None)          # BOM left on the first header
    assert header_key("Ｏｒｄｅｒ_ＩＤ") == ("order_id", None)          # full-width letters
    assert header_key("诉求 主题") == ("诉求主题", None)


def test_a_money_unit_in_the_header_is_kept_as_a_scale():
    assert header_key("罚款金额（元）") == ("罚款金额", Decimal(1))
    assert header_key("罚款金额(万元)") == ("罚款金额", Decimal(10000))
    colmap = map_headers("case", ["案件编号", "事件", "罚款金额（万元）"])
    assert colmap.columns[2].path == "fine_amount" and colmap.columns[2].unit == Decimal(10000)


def test_unknown_columns_are_listed_not_imported_and_strict_refuses_them():
    colmap = map_headers("workorder", WORKORDER_HEADERS + ["回访满意度", "序号", REJECT_COLUMN])
    assert colmap.ignored == ["回访满意度"]  # 序号 and 拒收原因 are expected and skipped quietly
    with pytest.raises(UsageError, match="--strict.*回访满意度"):
        map_headers("workorder", WORKORDER_HEADERS + ["回访满意度"], strict=True)


def test_two_columns_for_one_field_is_a_usage_error_naming_the_fix():
    with pytest.raises(UsageError) as exc:
        map_headers("workorder", WORKORDER_HEADERS + ["来电时间"])
    assert "'受理时间' and '来电时间' both map to received_at" in str(exc.value)
    assert "--map '来电时间='" in str(exc.value)


def test_a_required_field_without_a_column_is_a_usage_error():
    headers = [h for h in WORKORDER_HEADERS if h != "受理时间"]
    with pytest.raises(UsageError) as exc:
        map_headers("workorder", headers)
    assert "required field received_at" in str(exc.value) and "受理时间" in str(exc.value)
    assert "--map 'COLUMN=received_at'" in str(exc.value)


def test_map_override_wins_renames_and_drops_columns():
    headers = [h if h != "受理时间" else "收件时间" for h in WORKORDER_HEADERS] + ["来电时间"]
    overrides = parse_overrides("workorder", ["收件时间=received_at", "来电时间="])
    colmap = map_headers("workorder", headers, overrides)
    assert paths(colmap)["收件时间"] == "received_at" and "来电时间" not in paths(colmap)
    assert colmap.ignored == []
    assert parse_overrides("workorder", ["X=subject_uscc"]) == {"x": "subject.uscc"}
    with pytest.raises(UsageError, match="not a workorder field"):
        parse_overrides("workorder", ["X=nonsense"])
    with pytest.raises(UsageError, match="COLUMN=field"):
        parse_overrides("workorder", ["no-equals-sign"])


def test_a_title_line_above_the_header_is_skipped():
    rows = [["12345热线工单导出（2026年5月）"], [], WORKORDER_HEADERS, workorder_row()]
    assert find_header_row("workorder", rows) == 2


def test_kind_names_and_aliases():
    assert parse_kind("workorders") == "workorder" and parse_kind("工单") == "workorder"
    assert parse_kind("CASE") == "case"
    with pytest.raises(UsageError, match="expected one of workorder"):
        parse_kind("penalties")


# ---------------------------------------------------------------- cells

TIME = v.Time()


@pytest.mark.parametrize("text, expected", [
    ("2026-05-06T09:30:00+08:00", "2026-05-06T09:30:00+08:00"),
    ("2026-05-06 09:30:00+08:00", "2026-05-06T09:30:00+08:00"),
    ("2026/5/6 9:30+0800", "2026-05-06T09:30:00+08:00"),
    ("2026年5月6日 09:30:15.5+08:00", "2026-05-06T09:30:15.5+08:00"),
    ("2026-05-06T01:30:00Z", "2026-05-06T01:30:00Z"),
])
def test_times_with_an_offset_are_read_as_rfc3339(text, expected):
    assert convert_cell("workorder", "received_at", TIME, text).value == expected


@pytest.mark.parametrize("value", ["2026-05-06 09:30:00", "2026/5/6 9:30", "2026-05-06",
                                   datetime(2026, 5, 6, 9, 30), date(2026, 5, 6)])
def test_a_time_without_offset_is_rejected_never_guessed(value):
    got = convert_cell("workorder", "received_at", TIME, value)
    assert got.value is None and "never guesses" in got.problem and "+08:00" in got.problem


def test_money_is_decimal_yuan_never_a_float():
    money = v.Money()
    assert convert_cell("case", "fine_amount", money, "¥1,234.50元").value == "1234.50"
    assert convert_cell("case", "fine_amount", money, 2000).value == "2000"       # whole-number cell
    assert convert_cell("case", "fine_amount", money, 2000.0).value == "2000"     # exact in a float
    assert convert_cell("case", "fine_amount", money, "1234.500").value == "1234.50"
    assert convert_cell("case", "fine_amount", money, "1.5", Decimal(10000)).value == "15000.0"
    floaty = convert_cell("case", "fine_amount", money, 1234.56)
    assert floaty.value is None and "never a float" in floaty.problem
    # text that is not plain decimal yuan goes to validation unchanged, which refuses it
    assert convert_cell("case", "fine_amount", money, "1.2345E+04").value == "1.2345E+04"


def test_booleans_lists_ints_and_region_codes():
    assert convert_cell("inspection", "random", v.Bool(), "是").value is True
    assert convert_cell("inspection", "random", v.Bool(), "N").value is False
    assert convert_cell("inspection", "random", v.Bool(), "也许").value == "也许"  # validation refuses it
    items = v.ListOf(v.NAME)
    assert convert_cell("inspection", "items", items, "消防、食品安全，证照;卫生").value == ["消防", "食品安全", "证照", "卫生"]
    assert convert_cell("case", "days", v.Int(1, 3650), "30").value == 30
    assert convert_cell("workorder", "region_code", v.Region(), "330203 海曙区").value == "330203"
    assert convert_cell("workorder", "region_code", v.Region(), 330203).value == "330203"


def test_numbers_excel_cannot_hold_exactly_are_rejected():
    got = convert_cell("workorder", "order_id", v.ID, 1.2345678901234567e17)
    assert got.value is None and "15" in got.problem
    assert convert_cell("workorder", "order_id", v.ID, 2026050600001).value == "2026050600001"


def test_case_event_names_in_chinese():
    event = v.Enum(v.CASE_EVENTS)
    assert convert_cell("case", "event", event, "立案").value == "filed"
    assert convert_cell("case", "event", event, "处罚决定").value == "decided"
    assert convert_cell("case", "event", event, "公示").value == "published"


# ---------------------------------------------------------------- rows

def test_a_good_row_becomes_an_intake_record_with_a_derived_source_event_id():
    colmap = map_headers("workorder", WORKORDER_HEADERS)
    out = convert_row(colmap, workorder_row(), "orders.csv", TOKENISE)
    assert out.problems == []
    rec = out.record
    assert rec["source_event_id"] == "orders.csv#GD20260506001/受理"
    assert rec["received_at"] == "2026-05-06T09:30:00+08:00"
    assert rec["subject"] == {"name": "宁波市海曙区某某餐饮有限公司", "uscc": USCC, "address": "中山西路1号"}
    assert rec["complainant"]["phone_token"].startswith("tk_") and "13805740000" not in repr(rec)


def test_the_derived_id_depends_on_file_name_and_natural_id_only():
    a = derive_source_event_id("workorder", "orders.csv", {"order_id": "GD1", "status": "受理", "topic": "x"})
    b = derive_source_event_id("workorder", "orders.csv", {"order_id": "GD1", "status": "受理", "topic": "y"})
    assert a == b == "orders.csv#GD1/受理"
    assert derive_source_event_id("workorder", "orders.csv", {"order_id": "GD1", "status": "办结"}) != a
    assert derive_source_event_id("workorder", "other.csv", {"order_id": "GD1", "status": "受理"}) != a
    assert derive_source_event_id("case", "c.xlsx", {"case_id": "AJ-1", "event": "filed"}) == "c.xlsx#AJ-1/filed"
    assert derive_source_event_id("workorder", "orders.csv", {"status": "受理"}) is None
    long = derive_source_event_id("inspection", "x" * 300 + ".csv", {"inspection_id": "JC-1"})
    assert len(long) <= v.MAX_ID and long.startswith("import#")


def test_a_bad_row_lists_every_problem_with_column_field_value_and_expectation():
    colmap = map_headers("workorder", WORKORDER_HEADERS)
    out = convert_row(colmap, workorder_row(**{"受理时间": "2026-05-06 09:30:00", "诉求类型": "吐槽",
                                               "诉求内容": "", "统一社会信用代码": BAD_USCC}),
                      "orders.csv", TOKENISE)
    assert out.record is None
    fields = {p.field for p in out.problems}
    assert fields == {"received_at", "category", "content", "subject.uscc"}
    reason = reason_text(colmap, out.problems)
    assert "受理时间(received_at): got '2026-05-06 09:30:00'" in reason and "never guesses" in reason
    assert "诉求类型(category): got '吐槽', expected one of 咨询" in reason
    assert "诉求内容(content): got (empty), expected a value (required field)" in reason
    assert f"统一社会信用代码(subject.uscc): got '{BAD_USCC}'" in reason and "check character" in reason


def test_personal_data_is_never_echoed_in_a_reason():
    colmap = map_headers("workorder", WORKORDER_HEADERS)
    out = convert_row(colmap, workorder_row(**{"联系电话": "call me maybe"}), "orders.csv", TOKENISE)
    assert "call me maybe" not in reason_text(colmap, out.problems)


def test_a_missing_natural_id_is_reported_once_not_as_a_missing_source_event_id():
    colmap = map_headers("workorder", WORKORDER_HEADERS)
    out = convert_row(colmap, workorder_row(**{"工单编号": ""}), "orders.csv", TOKENISE)
    assert [p.field for p in out.problems] == ["order_id"]


def test_case_rows_carry_only_their_events_fields():
    headers = ["案件编号", "事件", "处罚机关统一社会信用代码", "当事人类型", "统一社会信用代码", "当事人名称", "事项编码",
               "所属区划", "立案时间", "案件来源", "处罚决定书文号", "决定时间", "程序", "处罚种类", "罚款金额(元)", "情节",
               "违法行为类型", "法律依据", "是否首违", "是否已改正", "是否重大案件", "是否听证", "是否复杂案件"]
    colmap = map_headers("case", headers)
    agency = make_uscc("11330203MB1234567")
    filed = ["AJ-1", "立案", agency, "法人及非法人组织", USCC, "某公司", "M-001", "330203",
             "2026-03-01 10:00:00+08:00", ""] + [""] * 13
    out = convert_row(colmap, filed, "cases.xlsx", TOKENISE)
    assert out.problems == [] and out.record["event"] == "filed" and out.record["source_refs"] == []
    decided = ["AJ-1", "处罚决定"] + [""] * 8 + ["甬市监罚〔2026〕1号", "2026-04-01T10:00:00+08:00", "普通", "警告、罚款",
                                              1234.5, "一般", "虚假宣传", "《广告法》第五十五条", "否", "是", "否", "否", "否"]
    out = convert_row(colmap, decided, "cases.xlsx", TOKENISE)
    assert [p.field for p in out.problems] == ["fine_amount"] and "never a float" in out.problems[0].expected
    decided[14] = "1234.50"
    out = convert_row(colmap, decided, "cases.xlsx", TOKENISE)
    assert out.problems == [] and out.record["fine_amount"] == Decimal("1234.50")
    assert out.record["penalty_types"] == ["警告", "罚款"] and out.record["corrected"] is True


def test_every_kind_has_headers_for_its_required_fields():
    from connectors.fileimport import HEADERS

    for kind, fields in FIELDS.items():
        named = set(HEADERS[kind].values())
        missing = [p for p, (_c, required) in fields.items() if required and p != "source_event_id" and p not in named]
        assert missing == [], (kind, missing)


# ---------------------------------------------------------------- encodings

def test_encoding_detection():
    text = "工单编号,受理时间\nGD1,2026-05-06T09:30:00+08:00\n"
    assert detect_encoding(b"\xef\xbb\xbf" + text.encode("utf-8")) == "utf-8-sig"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(text.encode("gb18030")) == "gb18030"
