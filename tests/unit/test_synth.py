"""The synthetic data generator (zhongshu/synth.py): valid, reproducible, shaped like the seeds."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest

from connectors.privacy import Tokeniser
from connectors.uscc import is_valid_uscc
from connectors.validation import check_case_causality, validate_record, validate_reference
from zhongshu.synth import LEAD_CODES, REGIONS, TRIGGER_CODES, generate

TOKENISE = Tokeniser(b"synthetic-test-secret")


@pytest.fixture(scope="module")
def data():
    return generate(seed=7, months=2, enterprises=60)


def test_every_generated_record_passes_intake_validation(data):
    for kind, record in data.records():
        if kind == "tick":
            continue
        validate_record(kind, record, tokenise=TOKENISE)  # raises ValidationFailed with every problem


def test_every_reference_set_passes_validation(data):
    for kind, rows in data.reference.items():
        assert validate_reference(kind, rows), kind


def test_same_seed_gives_identical_output_and_another_seed_does_not(data):
    again = generate(seed=7, months=2, enterprises=60)
    assert again.reference == data.reference
    assert [(i.at, i.kind, i.record) for i in again.items] == [(i.at, i.kind, i.record) for i in data.items]
    other = generate(seed=8, months=2, enterprises=60)
    assert [i.record for i in other.items] != [i.record for i in data.items]


def test_stream_is_time_ordered_with_ticks_closing_the_days(data):
    times = [i.at for i in data.items]
    assert times == sorted(times)
    ticks = [datetime.fromisoformat(r["at"]) for k, r in data.records() if k == "tick"]
    window = [t.date() for t in ticks if t.date() > data.start]
    assert len(window) == (data.end - data.start).days + 1  # daily in the window, through end + 1
    assert all(t.hour == 0 and t.minute == 0 for t in ticks)
    assert max(ticks).date() == date.fromordinal(data.end.toordinal() + 1)


def test_identifiers_are_valid_and_unique(data):
    assert all(is_valid_uscc(e.uscc) for e in data.enterprises)
    assert all(is_valid_uscc(a.code) and a.code.startswith("11") for a in data.agencies)
    assert {a.region for a in data.agencies} == set(REGIONS)
    assert len({e.uscc for e in data.enterprises}) == len(data.enterprises)
    sids = [r["source_event_id"] for k, r in data.records() if k != "tick"]
    assert len(sids) == len(set(sids))
    decisions = [r["decision_no"] for k, r in data.records() if k == "case" and r["event"] == "decided"]
    assert len(decisions) == len(set(decisions))


def test_case_lifecycles_are_causal(data):
    by_case: dict[str, list[dict]] = {}
    for kind, record in data.records():
        if kind == "case":
            previous = by_case.setdefault(record["case_id"], [])
            assert check_case_causality(previous, record) == [], record
            previous.append(record)


def test_distributions_follow_the_seeds():
    big = generate(seed=11, months=4, enterprises=200)
    inspections = [r for k, r in big.records() if k == "inspection"]
    share = Counter(r["trigger"] for r in inspections)["双随机"] / len(inspections)
    coded = sum(1 for r in inspections if r.get("action_code")) / len(inspections)
    assert 0.6 <= share <= 0.8          # seeds: 双随机 ≈ 70 % (85.8 % in one city)
    assert 0.97 <= coded < 1.0          # seeds: 亮码 ≈ 99 %; the rest are the planted INSP_NO_CODE
    assert any(r["joint_agency_codes"] for r in inspections)
    kinds = Counter(k for k, _ in big.records())
    assert kinds["workorder"] > kinds["inspection"] > 0 and kinds["transfer"] > 0 and kinds["credit"] > 0


def test_every_rule_code_has_planted_positives_and_most_have_near_misses(data):
    expected = data.expected()
    for code in (*LEAD_CODES, *TRIGGER_CODES):
        assert expected[code]["fire"] >= 3, code
    quiet = [c for c in LEAD_CODES if expected[c]["quiet"] >= 2]
    assert len(quiet) == len(LEAD_CODES)


def test_complainants_are_present_in_clear_only_before_intake(data):
    order = next(r for k, r in data.records() if k == "workorder")
    assert order["complainant"]["name"] and order["complainant"]["phone"].isdigit()
    normalised = validate_record("workorder", order, tokenise=TOKENISE)
    assert set(normalised["complainant"]) == {"name_token", "phone_token"}


def test_too_few_enterprises_or_months_are_refused():
    with pytest.raises(ValueError, match="enterprises"):
        generate(seed=1, months=2, enterprises=20)
    with pytest.raises(ValueError, match="months"):
        generate(seed=1, months=1, enterprises=60)
