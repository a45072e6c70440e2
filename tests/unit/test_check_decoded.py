"""check_decoded: what Avro cannot say about a record written straight onto an ingress topic."""
from connectors.uscc import make_uscc
from connectors.validation import check_decoded

GOOD = {
    "received_at": "2026-05-06T09:30:00+08:00",
    "region_code": "330203",
    "subject": {"name": "某公司", "uscc": make_uscc("91330203MA2A00001")},
    "complainant": {"name_token": "tk_" + "a" * 32, "phone_token": "tk_" + "b" * 32},
}


def test_a_clean_record_has_no_problems():
    assert check_decoded("WorkOrder", GOOD) == []


def test_each_problem_names_field_value_and_expectation():
    bad = {**GOOD, "received_at": "2026-05-06T09:30:00", "region_code": "3302",
           "subject": {"name": "x", "uscc": GOOD["subject"]["uscc"][:-1] + "0"}}
    problems = {p.field: p for p in check_decoded("WorkOrder", bad)}
    assert set(problems) == {"received_at", "region_code", "subject.uscc"}
    assert problems["received_at"].value == "2026-05-06T09:30:00"
    assert "offset" in problems["received_at"].expected
    assert "6-digit" in problems["region_code"].expected


def test_a_clear_complainant_value_is_refused_and_not_repeated_in_the_problem():
    bad = {**GOOD, "complainant": {"name_token": "张三", "phone_token": "13805740000"}}
    problems = check_decoded("WorkOrder", bad)
    assert [p.field for p in problems] == ["complainant.name_token", "complainant.phone_token"]
    assert "张三" not in repr(problems) and "13805740000" not in repr(problems)


def test_nested_lists_are_checked():
    rec = {"case_id": "C1", "party": {"uscc": "91330203MA2AXXXX0Z"}, "joint": [{"agency_code": "bad"}]}
    fields = [p.field for p in check_decoded("CaseEvent", rec)]
    assert fields == ["party.uscc", "joint[0].agency_code"]
