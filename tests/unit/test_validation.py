"""Intake validation: valid records pass, every problem is reported with field, value and expectation."""
from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.privacy import TOKEN_RE, Tokeniser
from connectors.uscc import make_uscc
from connectors.validation import (MONEY_EXPECTED, RECORD_NAMES, REFERENCE_KINDS, TIME_EXPECTED, Problem,
                                   ValidationFailed, check_case_causality, validate_record, validate_reference)
from schemas.codec import REFERENCE_KINDS as CODEC_REFERENCE_KINDS
from schemas.codec import Codec

TOKENISE = Tokeniser(b"unit-test-secret-0123456789")
CODEC = Codec()

ENTERPRISE = make_uscc("91350102MA2YQ8K3X")   # 福州闽味食品有限公司 (test data)
SOLE_TRADER = make_uscc("92350102MA8T0P1N6")  # 个体工商户
AGENCY = make_uscc("11350102003634567")       # 鼓楼区市场监督管理局
PARTNER = make_uscc("11350102MB0001000")      # 鼓楼区卫生健康局
COMPLAINANT_NAME = "陈秀英"
COMPLAINANT_PHONE = "+86 139-5012-3456"
ID_NUMBER = "35010219800101123X"

WORKORDER = {
    "source_event_id": "12345-FZ-20260501-000123",
    "order_id": "GD20260501000123",
    "received_at": "2026-05-01T09:00:00+08:00",
    "channel": "电话",
    "category": "投诉",
    "topic": "涉企执法检查",
    "content": "来电人反映：鼓楼区市场监督管理局一个月内三次到店检查，检查内容相同，影响正常经营。\n请核实处理。",
    "subject": {"name": "福州闽味食品有限公司", "uscc": ENTERPRISE, "address": "福州市鼓楼区五四路 88 号"},
    "region_code": "350102",
    "about_agency_code": AGENCY,
    "enforcement_complaint_type": "重复检查",
    "complainant": {"name": COMPLAINANT_NAME, "phone": COMPLAINANT_PHONE},
    "handling_unit": "鼓楼区市场监督管理局",
    "due_at": "2026-05-20T18:00:00+08:00",
    "status": "受理",
}

INSPECTION = {
    "source_event_id": "insp-350102-2026-000187",
    "occurred_at": "2026-05-03T09:30:00+08:00",
    "inspection_id": "JC-350102-2026-000187",
    "action_code": "XZJC-350102-20260503-0042",
    "agency_code": AGENCY,
    "joint_agency_codes": [PARTNER],
    "officer_cert_nos": ["闽执35010200123", "闽执35010200456"],
    "target": {"uscc": ENTERPRISE, "name": "福州闽味食品有限公司"},
    "region_code": "350102",
    "started_at": "2026-05-03T09:30:00+08:00",
    "trigger": "双随机",
    "plan_id": "JH-2026-鼓楼-001",
    "random": True,
    "credit_rule_applied": True,
    "risk_class": "B",
    "items": ["食品经营许可", "从业人员健康证明"],
    "result": "责令整改",
    "rectification_due": "2026-05-17T17:00:00+08:00",
}

CASE_ID = "闽榕鼓市监案〔2026〕57号"
FILED = {
    "source_event_id": "case-evt-000900", "case_id": CASE_ID, "event": "filed",
    "agency_code": AGENCY, "party": {"type": "法人及非法人组织", "uscc": ENTERPRISE, "name": "福州闽味食品有限公司"},
    "matter_code": "SC-FOOD-124", "region_code": "350102", "filed_at": "2026-05-06T10:00:00+08:00",
    "source_refs": ["JC-350102-2026-000187"],
}
DECIDED = {
    "source_event_id": "case-evt-000991", "case_id": CASE_ID, "event": "decided",
    "decision_no": "榕鼓市监罚〔2026〕57号", "decided_at": "2026-06-10T16:00:00+08:00", "procedure": "普通",
    "penalty_types": ["警告", "罚款", "没收违法所得"], "fine_amount": "52000", "confiscated_amount": {"fen": 138050},
    "amount_involved": {"sales": "48000.00", "illegal_gains": "1380.50"}, "circumstance_level": "一般",
    "violation_type": "生产销售不符合食品安全标准的食品", "legal_basis": "《中华人民共和国食品安全法》第一百二十四条第一款",
    "first_violation": False, "corrected": True, "major": True, "hearing_held": False, "complex": False,
    "penalty_duration_until": "2026-12-10",
}
CASE_EVENTS = {
    "filed": FILED,
    "decided": DECIDED,
    "legal_reviewed": {"reviewed_at": "2026-06-09T15:00:00+08:00", "passed": True},
    "extended": {"days": 30, "approved_at": "2026-08-01T09:00:00+08:00"},
    "suspended": {"at": "2026-05-20T09:00:00+08:00"},
    "resumed": {"at": "2026-05-25T09:00:00+08:00"},
    "published": {"published_at": "2026-06-15T10:00:00+08:00", "channel": "信用中国", "masked": True},
    "unpublished": {"at": "2027-06-10T10:00:00+08:00"},
    "fulfilled": {"at": "2026-06-20T10:00:00+08:00"},
    "rectified": {"at": "2026-06-21T10:00:00+08:00"},
    "recorded": {"at": "2026-06-22T10:00:00+08:00"},
    "revoked": {"at": "2026-09-01T10:00:00+08:00", "by": "复议"},
    "changed": {"at": "2026-09-01T10:00:00+08:00", "by": "诉讼"},
}
CREDIT = {
    "source_event_id": "xyzg-2026-0713-0001", "uscc": ENTERPRISE, "kind": "repair_accepted",
    "decision_no": "榕鼓市监罚〔2026〕57号", "at": "2026-07-13T10:00:00+08:00",
    "details": {"extended": True, "operator": "信用中国（福建）", "pages": 12, "note": None},
}
TRANSFER = {
    "source_event_id": "xxsx-2026-000031", "case_id": CASE_ID, "kind": "sent",
    "at": "2026-06-12T11:20:00+08:00", "organ": "福州市公安局鼓楼分局",
}


def case_event(event: str, **changes) -> dict:
    base = CASE_EVENTS[event]
    if "case_id" not in base:
        base = {"source_event_id": f"case-evt-{event}", "case_id": CASE_ID, "event": event, **base}
    return {**copy.deepcopy(base), **changes}


VALID = {"workorder": WORKORDER, "inspection": INSPECTION, "case": DECIDED, "credit": CREDIT, "transfer": TRANSFER}


def problems_of(kind: str, payload) -> list[Problem]:
    with pytest.raises(ValidationFailed) as exc:
        validate_record(kind, payload, tokenise=TOKENISE)
    return exc.value.problems


def by_field(problems: list[Problem]) -> dict[str, Problem]:
    return {p.field: p for p in problems}


def avro_fields(record_name: str) -> list[str]:
    schema = next(s["schema"] for s in CODEC.schemas() if s["name"] == record_name)
    return [f["name"] for f in schema["fields"]]


# -- valid records ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_record_passes_and_is_ready_for_the_codec(kind):
    record = validate_record(kind, copy.deepcopy(VALID[kind]), tokenise=TOKENISE)
    assert list(record) == avro_fields(RECORD_NAMES[kind])
    name, back = CODEC.decode(CODEC.encode(RECORD_NAMES[kind], record))
    assert name == RECORD_NAMES[kind] and back == record


@pytest.mark.parametrize("event", sorted(CASE_EVENTS))
def test_every_case_event_type_validates_and_encodes(event):
    record = validate_record("case", case_event(event), tokenise=TOKENISE)
    assert record["event"] == event
    assert CODEC.decode(CODEC.encode("CaseEvent", record))[1] == record
    own = set(CASE_EVENTS[event]) - {"source_event_id", "case_id", "event"}
    others = set(record) - own - {"source_event_id", "occurred_at", "case_id", "event"}
    assert all(record[name] is None for name in others)


def test_validation_does_not_mutate_the_payload():
    payload = copy.deepcopy(WORKORDER)
    validate_record("workorder", payload, tokenise=TOKENISE)
    assert payload == WORKORDER


def test_money_becomes_decimal_yuan_with_two_places():
    record = validate_record("case", copy.deepcopy(DECIDED), tokenise=TOKENISE)
    assert record["fine_amount"] == Decimal("52000.00") and str(record["fine_amount"]) == "52000.00"
    assert str(record["confiscated_amount"]) == "1380.50"  # from {"fen": 138050}
    assert record["amount_involved"] == {"sales": Decimal("48000.00"), "unsold_value": None, "turnover": None,
                                         "illegal_gains": Decimal("1380.50"), "tax_evaded": None, "tax_due": None}


def test_uscc_is_normalised_to_upper_case():
    payload = copy.deepcopy(INSPECTION)
    payload["target"]["uscc"] = ENTERPRISE.lower()
    assert validate_record("inspection", payload, tokenise=TOKENISE)["target"]["uscc"] == ENTERPRISE


def test_times_keep_the_senders_offset():
    payload = dict(TRANSFER, at="2026-06-12T03:20:00.123456Z", occurred_at="2026-06-12t11:20:00-05:00")
    record = validate_record("transfer", payload, tokenise=TOKENISE)
    assert record["at"] == "2026-06-12T03:20:00.123456Z"
    assert record["occurred_at"] == "2026-06-12T11:20:00-05:00"  # only T and Z are upper-cased


def test_single_line_text_is_trimmed_but_content_kept_as_sent():
    payload = dict(WORKORDER, order_id="  GD1  ", content="  第一行\n第二行  ")
    record = validate_record("workorder", payload, tokenise=TOKENISE)
    assert record["order_id"] == "GD1" and record["content"] == "  第一行\n第二行  "


# -- personal data ------------------------------------------------------------------------------------

def test_complainant_is_tokenised_and_the_clear_values_are_gone():
    record = validate_record("workorder", copy.deepcopy(WORKORDER), tokenise=TOKENISE)
    assert set(record["complainant"]) == {"name_token", "phone_token"}
    assert record["complainant"]["name_token"] == TOKENISE("name", COMPLAINANT_NAME)
    assert record["complainant"]["phone_token"] == TOKENISE("phone", "13950123456")
    text = repr(record) + repr(CODEC.encode("WorkOrder", record))
    for clear in (COMPLAINANT_NAME, COMPLAINANT_PHONE, "13950123456", "139-5012-3456", "5012"):
        assert clear not in text


def test_the_same_phone_written_differently_gets_the_same_token():
    tokens = {validate_record("workorder", dict(WORKORDER, complainant={"name": "陈秀英", "phone": phone}),
                              tokenise=TOKENISE)["complainant"]["phone_token"]
              for phone in ("13950123456", "139-5012-3456", "+86 139 5012 3456", "+8613950123456")}
    assert len(tokens) == 1


def test_complainant_is_required_and_problems_about_it_never_echo_clear_values():
    assert "complainant" in by_field(problems_of("workorder", {k: v for k, v in WORKORDER.items()
                                                               if k != "complainant"}))
    payload = dict(WORKORDER, complainant={"name": "陈秀英" * 200, "phone": "call 13950123456", "email": "c@x.cn"})
    problems = problems_of("workorder", payload)
    fields = by_field(problems)
    assert {"complainant.name", "complainant.phone", "complainant.email"} <= set(fields)
    text = repr(problems) + str(ValidationFailed(problems)) + json.dumps([p.as_dict() for p in problems],
                                                                         ensure_ascii=False)
    for clear in ("陈秀英", "13950123456", "c@x.cn"):
        assert clear not in text
    assert problems_of("workorder", dict(WORKORDER, complainant="陈秀英 13950123456"))[0].value == "<redacted>"


def test_natural_person_id_number_becomes_a_token():
    party = {"type": "自然人", "id_number": ID_NUMBER, "name": "林某"}
    record = validate_record("case", case_event("filed", party=party), tokenise=TOKENISE)
    assert record["party"] == {"type": "自然人", "uscc": None, "id_token": TOKENISE("id_number", ID_NUMBER),
                               "name": "林某"}
    assert ID_NUMBER not in repr(record) and "19800101" not in repr(record)
    assert TOKEN_RE.fullmatch(record["party"]["id_token"])


@pytest.mark.parametrize("party,field,expected", [
    ({"type": "自然人", "name": "林某"}, "party.id_number", "exactly one of id_number"),
    ({"type": "自然人", "name": "林某", "id_number": ID_NUMBER, "uscc": ENTERPRISE}, "party.uscc", "no uscc"),
    ({"type": "法人及非法人组织", "name": "某公司"}, "party.uscc", "a uscc for a 法人及非法人组织 party"),
    ({"type": "个体工商户", "name": "某店", "uscc": SOLE_TRADER, "id_number": ID_NUMBER}, "party.id_number", "no id_number"),
    ({"type": "自然人", "name": "林某", "id_token": "not-a-token"}, "party.id_token", "a token issued by this hub"),
    ({"type": "公民", "name": "林某"}, "party.type", "one of 法人及非法人组织, 个体工商户, 自然人"),
])
def test_party_identity_rules(party, field, expected):
    problems = by_field(problems_of("case", case_event("filed", party=party)))
    assert field in problems and expected in problems[field].expected
    assert ID_NUMBER not in repr(list(problems.values()))


# -- every kind of bad input names field, value and expectation ------------------------------------

def test_naive_time_is_rejected_with_the_expected_format():
    problem = by_field(problems_of("workorder", dict(WORKORDER, received_at="2026-05-01T09:00:00")))["received_at"]
    assert problem.value == "2026-05-01T09:00:00"
    assert problem.expected == "RFC 3339 time with explicit UTC offset, e.g. 2026-05-01T09:00:00+08:00"
    assert problem.expected == TIME_EXPECTED


@pytest.mark.parametrize("value", [
    "2026-05-01T09:00:00", "2026-05-01 09:00:00+08:00", "2026-05-01T09:00+08:00", "2026-05-01",
    "2026-02-30T09:00:00+08:00", "2026-05-01T24:00:00+08:00", "2026-05-01T09:00:00+0800",
    "2026-05-01T09:00:00-00:00", "2026-05-01T09:00:00+24:00", "１２026-05-01T09:00:00+08:00", "", 1714525200,
    "2026-05-01T09:00:00.1234567890+08:00", "now",
])
def test_times_that_are_not_rfc3339_with_offset_are_rejected(value):
    problem = by_field(problems_of("transfer", dict(TRANSFER, at=value)))["at"]
    assert problem.value == value and problem.expected.startswith(TIME_EXPECTED)


@pytest.mark.parametrize("value,expected", [
    ("1234.5", Decimal("1234.50")), ("0", Decimal("0.00")), ({"fen": 123450}, Decimal("1234.50")),
    ({"fen": 0}, Decimal("0.00")), ("9999999999999999.99", Decimal("9999999999999999.99")),
])
def test_money_accepts_decimal_yuan_strings_and_integer_fen(value, expected):
    record = validate_record("case", dict(DECIDED, fine_amount=value), tokenise=TOKENISE)
    assert record["fine_amount"] == expected


@pytest.mark.parametrize("value", [
    52000.0, 52000.5, 52000, True, "-1", "1.234", "1,000", "1e5", "¥100", " 100", "12345678901234567",
    {"fen": 1.5}, {"fen": True}, {"fen": -1}, {"fen": 10**18}, {"fen": 1, "yuan": 2}, {"yuan": "1"}, [], "NaN",
])
def test_money_in_any_other_form_is_rejected(value):
    problem = by_field(problems_of("case", dict(DECIDED, fine_amount=value)))["fine_amount"]
    assert problem.value == value and problem.expected == MONEY_EXPECTED
    assert "decimal yuan as a string or integer fen, never a float" in problem.expected


def test_money_from_python_callers_may_be_a_decimal():
    assert validate_record("case", dict(DECIDED, fine_amount=Decimal("52000.5")),
                           tokenise=TOKENISE)["fine_amount"] == Decimal("52000.50")
    assert str(validate_record("case", dict(DECIDED, fine_amount=Decimal("-0")),
                               tokenise=TOKENISE)["fine_amount"]) == "0.00"
    for bad in (Decimal("-1"), Decimal("0.001"), Decimal("NaN"), Decimal("1E+16")):
        assert "fine_amount" in by_field(problems_of("case", dict(DECIDED, fine_amount=bad)))


def test_problem_values_in_the_422_form_stay_json():
    problems = by_field(problems_of("case", dict(DECIDED, fine_amount=52000.0, confiscated_amount={"fen": 1.5})))
    assert problems["fine_amount"].as_dict()["value"] == 52000.0
    assert problems["confiscated_amount"].as_dict()["value"] == {"fen": 1.5}
    assert json.loads(json.dumps([p.as_dict() for p in problems.values()]))


def test_names_may_end_with_a_stray_newline_but_not_contain_one():
    record = validate_record("transfer", dict(TRANSFER, organ="福州市公安局鼓楼分局\n"), tokenise=TOKENISE)
    assert record["organ"] == "福州市公安局鼓楼分局"
    assert "organ" in by_field(problems_of("transfer", dict(TRANSFER, organ="福州市\n公安局")))


def test_landline_numbers_with_area_code_are_accepted():
    record = validate_record("workorder", dict(WORKORDER, complainant={"name": "陈秀英", "phone": "(0591) 8765-4321"}),
                             tokenise=TOKENISE)
    assert record["complainant"]["phone_token"] == TOKENISE("phone", "059187654321")


def test_unknown_enum_value_lists_the_allowed_ones():
    problem = by_field(problems_of("workorder", dict(WORKORDER, channel="传真")))["channel"]
    assert problem.value == "传真" and problem.expected == "one of 电话, 网站, APP, 微信, 其他"


def test_bad_check_character_says_which_one_is_right():
    wrong = ENTERPRISE[:17] + ("0" if ENTERPRISE[17] != "0" else "1")
    problem = by_field(problems_of("credit", dict(CREDIT, uscc=wrong)))["uscc"]
    assert problem.value == wrong
    assert problem.expected.endswith(f"check character should be {ENTERPRISE[17]}")


@pytest.mark.parametrize("field,limit", [("content", 20_000), ("topic", 500), ("order_id", 200),
                                          ("source_event_id", 200), ("handling_unit", 500)])
def test_strings_are_length_capped(field, limit):
    validate_record("workorder", dict(WORKORDER, **{field: "长" * limit}), tokenise=TOKENISE)
    problem = by_field(problems_of("workorder", dict(WORKORDER, **{field: "长" * (limit + 1)})))[field]
    assert problem.expected.startswith(f"at most {limit} characters")
    message = str(problem)
    assert len(message) < 400 and f"({limit + 1} characters)" in message


def test_huge_input_is_cheap_to_reject_and_short_to_report():
    problems = problems_of("workorder", dict(WORKORDER, content="x" * 5_000_000))
    assert len(str(ValidationFailed(problems))) < 600
    assert len(json.dumps([p.as_dict() for p in problems])) < 600


@pytest.mark.parametrize("kind,field,value,expected", [
    ("inspection", "random", "true", "a boolean"),
    ("inspection", "random", 1, "a boolean"),
    ("inspection", "items", "食品经营许可", "a list"),
    ("inspection", "target", ENTERPRISE, "an object with fields uscc, name"),
    ("inspection", "region_code", 350102, "a 6-digit region code"),
    ("inspection", "region_code", "35010", "a 6-digit region code"),
    ("inspection", "region_code", "３５０１０２", "a 6-digit region code"),
    ("transfer", "case_id", 57, "a string"),
    ("transfer", "case_id", "", "a non-empty string"),
    ("transfer", "case_id", "   ", "a non-empty string"),
    ("transfer", "case_id", "57\n58", "text without line breaks"),
    ("transfer", "organ", "公安\x00局", "text without line breaks or control characters"),
    ("credit", "details", ["extended"], "an object"),
    ("credit", "details", {"ratio": 0.5}, "no floats"),
])
def test_wrong_types_are_named(kind, field, value, expected):
    payload = dict(VALID[kind], **{field: value})
    problems = problems_of(kind, payload)
    matching = [p for p in problems if p.field.split(".")[0] == field]
    assert matching and expected in matching[0].expected, problems


def test_no_bool_where_an_integer_is_expected():
    problem = by_field(problems_of("case", case_event("extended", days=True)))["days"]
    assert problem.value is True and problem.expected == "an integer from 1 to 3650"
    assert "days" in by_field(problems_of("case", case_event("extended", days=30.0)))


def test_unknown_fields_are_reported():
    problem = by_field(problems_of("transfer", dict(TRANSFER, prosecutor="李检察官")))["prosecutor"]
    assert problem.value == "李检察官" and "unexpected field" in problem.expected
    nested = by_field(problems_of("inspection", dict(INSPECTION, target={**INSPECTION["target"], "tel": "1"})))
    assert "unexpected field" in nested["target.tel"].expected


def test_required_fields_are_reported_as_missing_and_null_counts_as_missing():
    problems = by_field(problems_of("inspection", {**{k: v for k, v in INSPECTION.items() if k != "agency_code"},
                                                   "started_at": None}))
    assert problems["agency_code"].expected == "a value (required field)"
    assert problems["started_at"].value is None
    assert "action_code" not in problems  # optional


def test_every_problem_is_listed_at_once():
    payload = dict(
        WORKORDER,
        received_at="2026-05-01T09:00:00",                      # naive time
        channel="传真",                                          # unknown enum
        content="x" * 20_001,                                   # too long
        region_code=350102,                                     # wrong type
        subject={"name": "某公司", "uscc": "91350100M000100Y4X"},  # bad check character
        status=None,                                            # required
        priority="高",                                          # unknown field
    )
    del payload["order_id"]
    fields = [p.field for p in problems_of("workorder", payload)]
    assert set(fields) == {"received_at", "channel", "content", "region_code", "subject.uscc", "status",
                           "priority", "order_id"}


def test_list_items_are_reported_with_their_index():
    decided = dict(DECIDED, penalty_types=["警告", "罚款", "罚金", "罚款"])
    problems = by_field(problems_of("case", decided))
    assert problems["penalty_types[2]"].value == "罚金"
    assert "one of 警告" in problems["penalty_types[2]"].expected
    assert "distinct values" in problems["penalty_types[3]"].expected
    inspection = dict(INSPECTION, joint_agency_codes=[PARTNER, "not-a-code"], officer_cert_nos=["A1", "A1"])
    problems = by_field(problems_of("inspection", inspection))
    assert {"joint_agency_codes[1]", "officer_cert_nos[1]"} <= set(problems)


def test_penalty_types_must_not_be_empty():
    problem = by_field(problems_of("case", dict(DECIDED, penalty_types=[])))["penalty_types"]
    assert "1 to" in problem.expected


def test_problem_message_names_field_value_and_expectation():
    problem = Problem("subject.uscc", "91350100M000100Y4X", "a valid unified social credit code")
    assert str(problem) == "subject.uscc: got '91350100M000100Y4X', expected a valid unified social credit code"
    assert problem.as_dict() == {"field": "subject.uscc", "value": "91350100M000100Y4X",
                                 "expected": "a valid unified social credit code"}
    nested = Problem("details", {"a": [[[[1]]]] * 100}, "x").as_dict()
    assert isinstance(nested["value"], str) and len(nested["value"]) < 250


# -- rules inside one record ------------------------------------------------------------------------

def test_work_order_due_before_received_is_rejected():
    problem = by_field(problems_of("workorder", dict(WORKORDER, due_at="2026-05-01T00:59:59Z")))["due_at"]
    assert "not before received_at" in problem.expected
    # the same instant in another offset is fine
    validate_record("workorder", dict(WORKORDER, due_at="2026-05-01T01:00:00Z"), tokenise=TOKENISE)


def test_enforcement_complaint_names_agency_and_type_together():
    payload = {k: v for k, v in WORKORDER.items() if k != "enforcement_complaint_type"}
    assert "enforcement_complaint_type" in by_field(problems_of("workorder", payload))
    plain = {k: v for k, v in payload.items() if k != "about_agency_code"}
    validate_record("workorder", plain, tokenise=TOKENISE)


def test_inspection_internal_consistency():
    problems = by_field(problems_of("inspection", dict(
        INSPECTION, rectification_due="2026-05-01T00:00:00+08:00", joint_agency_codes=[PARTNER, AGENCY],
        random=False)))
    assert "not before started_at" in problems["rectification_due"].expected
    assert "not the inspecting agency_code" in problems["joint_agency_codes[1]"].expected
    assert "true when trigger is 双随机" in problems["random"].expected


def test_what_the_rules_detect_is_not_rejected_at_intake():
    # no plan, no action code, a single officer: INSP_NO_PLAN / INSP_NO_CODE / INSP_UNCERTIFIED leads
    payload = {k: v for k, v in INSPECTION.items() if k not in ("plan_id", "action_code")}
    payload["officer_cert_nos"] = ["闽执35010200123"]
    validate_record("inspection", payload, tokenise=TOKENISE)
    # a summary-procedure fine above the Art. 51 limit: PEN_SUMMARY_LIMIT
    validate_record("case", dict(DECIDED, procedure="简易", fine_amount="5000"), tokenise=TOKENISE)


def test_decided_fine_required_when_penalty_types_include_a_fine():
    decided = {k: v for k, v in DECIDED.items() if k != "fine_amount"}
    assert "fine_amount" in by_field(problems_of("case", decided))
    validate_record("case", dict(decided, penalty_types=["警告"]), tokenise=TOKENISE)


def test_decided_needs_its_fields():
    problems = by_field(problems_of("case", {"source_event_id": "e1", "case_id": CASE_ID, "event": "decided"}))
    assert {"decision_no", "decided_at", "procedure", "penalty_types", "circumstance_level"} <= set(problems)
    assert "fine_amount" not in problems and "penalty_duration_until" not in problems


@pytest.mark.parametrize("event,needed", [
    ("filed", {"agency_code", "party", "matter_code", "region_code", "filed_at"}),
    ("published", {"published_at", "channel", "masked"}),
    ("revoked", {"at", "by"}),
    ("changed", {"at", "by"}),
    ("legal_reviewed", {"reviewed_at", "passed"}),
    ("extended", {"days", "approved_at"}),
    ("fulfilled", {"at"}),
])
def test_each_case_event_requires_its_own_fields(event, needed):
    problems = by_field(problems_of("case", {"source_event_id": "e1", "case_id": CASE_ID, "event": event}))
    assert needed <= set(problems)


def test_fields_of_another_event_are_rejected():
    problems = by_field(problems_of("case", case_event("published", decision_no="榕鼓市监罚〔2026〕57号", at="x")))
    assert "belongs to decided" in problems["decision_no"].expected
    assert "no at on a published event" in problems["at"].expected


def test_unknown_event_is_reported_and_the_other_fields_still_checked():
    problems = by_field(problems_of("case", {"source_event_id": "e1", "case_id": CASE_ID, "event": "appealed",
                                             "at": "2026-05-01T09:00:00"}))
    assert "one of filed, decided" in problems["event"].expected
    assert problems["at"].expected == TIME_EXPECTED


def test_penalty_duration_cannot_end_before_the_decision():
    problem = by_field(problems_of("case", dict(DECIDED, penalty_duration_until="2026-06-09")))
    assert "not before decided_at" in problem["penalty_duration_until"].expected


def test_credit_events_rules():
    assert "decision_no" in by_field(problems_of("credit", {k: v for k, v in CREDIT.items() if k != "decision_no"}))
    assert "risk_class" in by_field(problems_of("credit", dict(CREDIT, kind="risk_class_changed", decision_no=None)))
    assert "risk_class" in by_field(problems_of("credit", dict(CREDIT, risk_class="C")))
    record = validate_record("credit", {"source_event_id": "x1", "uscc": ENTERPRISE, "kind": "risk_class_changed",
                                        "risk_class": "C", "at": "2026-05-01T00:00:00+08:00"}, tokenise=TOKENISE)
    assert record["risk_class"] == "C" and record["details"] is None


def test_unknown_kind_and_non_object_payloads():
    with pytest.raises(ValidationFailed) as exc:
        validate_record("penalty", {}, tokenise=TOKENISE)
    assert exc.value.problems[0].field == "kind"
    for payload in ([WORKORDER], "text", None, 12):
        problem = problems_of("workorder", payload)[0]
        assert problem.field == "" and "a JSON object" in problem.expected


# -- causality across the events of one case ---------------------------------------------------------

def _accepted(event: str, **changes) -> dict:
    return validate_record("case", case_event(event, **changes), tokenise=TOKENISE)


def test_causality_of_a_normal_case_is_fine():
    history: list[dict] = []
    for event in ("filed", "suspended", "resumed", "legal_reviewed", "decided", "published", "fulfilled",
                  "rectified", "recorded", "unpublished"):
        record = _accepted(event)
        assert check_case_causality(history, record) == [], event
        history.append(record)


def test_decision_before_filing_is_a_problem():
    problems = check_case_causality([_accepted("filed")], _accepted("decided", decided_at="2026-05-05T10:00:00+08:00"))
    assert [p.field for p in problems] == ["decided_at"]
    assert "not before the filing" in problems[0].expected


def test_publication_before_decision_is_a_problem():
    history = [_accepted("filed"), _accepted("decided")]
    problems = check_case_causality(history, _accepted("published", published_at="2026-06-10T15:59:59+08:00"))
    assert [p.field for p in problems] == ["published_at"]
    assert "not before the decision" in problems[0].expected


@pytest.mark.parametrize("event", ["published", "fulfilled", "rectified", "recorded", "revoked", "changed"])
def test_acts_on_a_decision_need_the_decision(event):
    problems = check_case_causality([_accepted("filed")], _accepted(event))
    assert [(p.field, p.value) for p in problems] == [("event", event)]
    assert "a decided event" in problems[0].expected


def test_fulfilled_before_decided_is_a_problem():
    history = [_accepted("filed"), _accepted("decided")]
    problems = check_case_causality(history, _accepted("fulfilled", at="2026-06-01T00:00:00+08:00"))
    assert problems and problems[0].field == "at"


def test_unpublish_needs_publication_and_resume_needs_suspension():
    history = [_accepted("filed"), _accepted("decided")]
    assert "a published event" in check_case_causality(history, _accepted("unpublished"))[0].expected
    assert "a suspended event" in check_case_causality(history, _accepted("resumed"))[0].expected
    history += [_accepted("suspended"), _accepted("resumed")]
    assert "a suspended event" in check_case_causality(history, _accepted("resumed"))[0].expected


def test_a_case_is_filed_once_and_unknown_history_is_not_a_problem():
    assert "filed once" in check_case_causality([_accepted("filed")], _accepted("filed"))[0].expected
    assert check_case_causality([], _accepted("decided")) == []


# -- reference data ------------------------------------------------------------------------------------

REFERENCE = {
    "benchmarks": [{"matter_code": "SC-FOOD-124", "circumstance_level": "一般", "min_fine": "50000",
                    "max_fine": {"fen": 10000000}}],
    "no-penalty-items": [{"matter_code": "SC-AD-001", "conditions": "首次违法、危害后果轻微并及时改正"},
                         {"matter_code": "SC-AD-002"}],
    "criminal-thresholds": [
        {"violation_type": "生产销售伪劣产品", "measure": "sales", "min_amount": "50000"},
        {"violation_type": "非法经营", "party_type": "自然人", "measure": "turnover", "min_amount": "50000"},
        {"violation_type": "逃税", "measure": "tax_evaded", "min_amount": "100000", "min_ratio": "0.10"},
    ],
    "agencies": [{"agency_code": AGENCY, "name": "福州市鼓楼区市场监督管理局", "region_code": "350102",
                  "domain": "市场监管"}],
    "officers": [{"cert_no": "闽执35010200123", "agency_code": AGENCY, "valid_from": "2024-01-01",
                  "valid_until": "2028-12-31", "revoked_at": None}],
    "inspection-plans": [{"plan_id": "JH-2026-鼓楼-001", "agency_code": AGENCY, "year": 2026}],
    "inspection-caps": [{"risk_class": "A", "per_year": 1}, {"domain": "市场监管", "risk_class": "C", "per_year": 2}],
    "fine-lines": [{"small_below": "10000", "huge_from": "1000000"}],
    "holidays": [{"year": 2026, "holidays": ["2026-01-01", "2026-01-02"], "workdays": ["2026-01-04"]}],
}


def test_reference_kinds_agree_with_the_codec():
    assert tuple(REFERENCE_KINDS) == tuple(CODEC_REFERENCE_KINDS) and set(REFERENCE) == set(REFERENCE_KINDS)


@pytest.mark.parametrize("kind", sorted(REFERENCE))
def test_valid_reference_sets_pass_and_serialise_as_json(kind):
    rows = validate_reference(kind, copy.deepcopy(REFERENCE[kind]))
    assert len(rows) == len(REFERENCE[kind])
    assert json.loads(json.dumps(rows, ensure_ascii=False)) == rows  # money travels as decimal strings


def test_reference_money_is_canonical_yuan_text():
    rows = validate_reference("benchmarks", REFERENCE["benchmarks"])
    assert rows[0]["min_fine"] == "50000.00" and rows[0]["max_fine"] == "100000.00"
    assert validate_reference("criminal-thresholds", REFERENCE["criminal-thresholds"])[2]["min_ratio"] == "0.1"


@pytest.mark.parametrize("kind,items,field,expected", [
    ("benchmarks", [{"matter_code": "M", "circumstance_level": "一般", "min_fine": "200", "max_fine": "100"}],
     "[0].min_fine", "not more than max_fine"),
    ("benchmarks", [{"matter_code": "M", "circumstance_level": "一般", "min_fine": 100.0, "max_fine": "200"}],
     "[0].min_fine", "never a float"),
    ("benchmarks", REFERENCE["benchmarks"] * 2, "[1].circumstance_level",
     "one row per matter_code + circumstance_level"),
    ("holidays", [{"year": 2026, "holidays": ["2026-01-01"], "workdays": ["2026-01-01"]}], "[0].workdays",
     "not also listed as holidays"),
    ("holidays", [{"year": 2026, "holidays": ["2026/01/01"], "workdays": []}], "[0].holidays[0]", "ISO date"),
    ("officers", [dict(REFERENCE["officers"][0], valid_until="2023-12-31")], "[0].valid_until",
     "not before valid_from"),
    ("criminal-thresholds", [{"violation_type": "逃税", "measure": "tax", "min_amount": "1"}], "[0].measure",
     "one of sales"),
    ("criminal-thresholds", [{"violation_type": "逃税", "measure": "tax_evaded", "min_amount": "1", "min_ratio": 0.1}],
     "[0].min_ratio", "never a float"),
    ("inspection-caps", [{"risk_class": "E", "per_year": 1}], "[0].risk_class", "one of A, B, C, D"),
    ("agencies", [dict(REFERENCE["agencies"][0], agency_code="113501020036345670")], "[0].agency_code",
     "check character"),
    ("fine-lines", [{"small_below": "10", "huge_from": "1", "color": "red"}], "[0].color", "unexpected field"),
    ("inspection-plans", [{"plan_id": "P", "agency_code": AGENCY, "year": "2026"}], "[0].year", "an integer"),
    ("agencies", "not a list", "", "a JSON list"),
    ("officers", [None], "[0]", "an object"),
    ("penalties", [], "kind", "one of benchmarks"),
])
def test_bad_reference_data_is_reported(kind, items, field, expected):
    with pytest.raises(ValidationFailed) as exc:
        validate_reference(kind, copy.deepcopy(items))
    problems = by_field(exc.value.problems)
    assert field in problems and expected in problems[field].expected, exc.value.problems


def test_all_reference_problems_are_listed_at_once():
    items = [{"matter_code": "", "circumstance_level": "很重", "min_fine": 1.0, "max_fine": "2", "x": 1},
             {"matter_code": "M2", "circumstance_level": "一般", "min_fine": "1", "max_fine": "-2"}]
    with pytest.raises(ValidationFailed) as exc:
        validate_reference("benchmarks", items)
    assert {p.field for p in exc.value.problems} == {"[0].matter_code", "[0].circumstance_level", "[0].min_fine",
                                                    "[0].x", "[1].max_fine"}


# -- the tokeniser ----------------------------------------------------------------------------------------

def test_tokens_are_keyed_deterministic_and_field_separated():
    other = Tokeniser(b"another-secret")
    assert TOKENISE("phone", "13950123456") == TOKENISE("phone", "139 5012 3456")
    assert TOKENISE("phone", "13950123456") != other("phone", "13950123456")
    assert TOKENISE("name", "13950123456") != TOKENISE("phone", "13950123456")
    assert TOKENISE("id_number", "35010219800101123x") == TOKENISE("id_number", ID_NUMBER)
    assert TOKEN_RE.fullmatch(TOKENISE("name", "陈秀英"))
    assert "unit-test" not in repr(TOKENISE) and "unit-test" not in str(vars(TOKENISE).keys())
    with pytest.raises(ValueError):
        Tokeniser(b"")


# -- fuzz: arbitrary JSON never escapes as anything but ValidationFailed ---------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                         st.text(max_size=30), st.sampled_from(["2026-05-01T09:00:00+08:00", "1234.50", ENTERPRISE,
                                                                "350102", "filed", "decided", "自然人", "罚款"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)), max_leaves=25)


def _fields_for(kind: str) -> list[str]:
    names = set(VALID[kind])
    if kind == "case":
        for payload in CASE_EVENTS.values():
            names |= set(payload)
        names |= {"party", "id_number"}
    return sorted(names)


def _outcome(kind, payload):
    try:
        result = validate_record(kind, payload, tokenise=TOKENISE)
    except ValidationFailed as exc:
        assert exc.problems and all(isinstance(p, Problem) for p in exc.problems)
        str(exc), [p.as_dict() for p in exc.problems]  # rendering must not fail either
        return None
    assert isinstance(result, dict)
    return result


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VALID)), json_values)
def test_fuzz_arbitrary_json(kind, payload):
    _outcome(kind, payload)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_valid_records(data):
    kind = data.draw(st.sampled_from(sorted(VALID)))
    base = VALID[kind]
    if kind == "case":
        base = case_event(data.draw(st.sampled_from(sorted(CASE_EVENTS))))
    payload = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 4))):
        field = data.draw(st.sampled_from(_fields_for(kind)))
        action = data.draw(st.sampled_from(["replace", "delete", "nest"]))
        if action == "delete":
            payload.pop(field, None)
        elif action == "nest" and isinstance(payload.get(field), dict):
            inner = data.draw(st.sampled_from(sorted(payload[field]) or ["x"]))
            payload[field][inner] = data.draw(json_values)
        else:
            payload[field] = data.draw(json_values)
    result = _outcome(kind, payload)
    if result is not None:  # whatever passes must also encode
        CODEC.encode(RECORD_NAMES[kind], result)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(REFERENCE)), st.one_of(json_values, st.lists(json_values, max_size=4)))
def test_fuzz_reference_data(kind, items):
    try:
        rows = validate_reference(kind, items)
    except ValidationFailed as exc:
        assert exc.problems
        return
    json.dumps(rows)


def test_lone_surrogates_from_json_are_rejected_not_crashing():
    payload = json.loads('{"x": "\\ud800"}')["x"]
    problems = by_field(problems_of("transfer", dict(TRANSFER, organ=payload)))
    assert "control characters" in problems["organ"].expected
