"""Hostile HTTP input against the running hub: schemathesis over every operation of
/openapi.json, and hand-made bodies a careless or hostile sender produces. Every answer is a
4xx that names the problem, never a 5xx, and nothing invalid reaches the log; concurrent
duplicates of one source_event_id append exactly one record."""
from __future__ import annotations

import copy
import json
import threading
from collections import Counter

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from tests.faults.support import ce_id_counts, record, uid
from tests.integration.test_thin_path import valid_uscc, work_order

from .conftest import as_role

pytestmark = pytest.mark.integration

WORKORDERS = "/api/v1/intake/hotline/workorders"

# Left out of the fuzz, and why (each is covered by a targeted test):
EXCLUDED = {
    "/api/v1/leads/stream": "server-sent events: the answer never ends, so there is no status to judge after it",
    "/api/v1/sync": "waits up to `timeout` (≤ 600 s) for the log by design; a fuzzer would spend its time waiting",
    "/api/v1/clock/ticks": "a valid tick moves the clock of every hub reading the shared test broker",
    "/api/v1/reference/{kind}": "a valid set replaces reference data every hub on the shared test broker reads",
}


POSITIVE, NEGATIVE = 20, 10  # examples per operation: valid per the schema, and deliberately invalid
# 5xx the fuzz found in routes owned elsewhere go here with a reason until fixed (counted, not hidden)
KNOWN_5XX: dict[str, str] = {}  # the 5xx the fuzz found were fixed; each keeps its regression test below


def test_schemathesis_finds_no_server_error_on_any_operation(sec_hub):
    """Every operation of /openapi.json but the excluded ones, called as admin (so every call
    reaches its handler) with schema-valid and schema-violating parameters and bodies.

    Driven from here rather than through schemathesis' pytest plugin, which does not load under
    pytest 9 ('Function' object has no attribute '_nodeid')."""
    schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis (proposed dev dependency)")
    from schemathesis.generation.modes import GenerationMode

    key = as_role(sec_hub, "admin").key
    schema = schemathesis.openapi.from_url(sec_hub.url + "/openapi.json")
    calls: Counter = Counter()
    errors: list[str] = []
    known: list[str] = []
    nothing_to_negate: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    tested = [op for op in operations if op.path not in EXCLUDED]
    assert len(tested) == len(operations) - len(EXCLUDED)
    for op in tested:
        for mode, examples in ((GenerationMode.POSITIVE, POSITIVE), (GenerationMode.NEGATIVE, NEGATIVE)):
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def call(case):
                response = case.call(base_url=sec_hub.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
                calls[(f"{op.method.upper()} {op.path}", response.status_code)] += 1
                if response.status_code >= 500 and f"{op.method.upper()} {op.path}" in KNOWN_5XX:
                    known.append(f"{case.method} {case.formatted_path} {case.query or ''}")
                elif response.status_code >= 500:
                    errors.append(f"{case.method} {case.formatted_path} {case.query or ''} → {response.status_code}: "
                                  f"{response.text[:200]}")

            try:
                call()
            except Unsatisfiable:  # nothing to break: no parameters, or only free-text path segments
                assert mode == GenerationMode.NEGATIVE, f"{op.method.upper()} {op.path}: no valid call generated"
                nothing_to_negate.append(f"{op.method.upper()} {op.path}")
            except Exception as exc:  # generation trouble with one operation must not hide the others' results
                errors.append(f"{op.method.upper()} {op.path} ({mode}): could not be fuzzed: {exc!r}"[:400])
    statuses = Counter()
    for (_, status), n in calls.items():
        statuses[str(status)] += n
    record("hostile_http_fuzz", operations=len(tested), requests=sum(calls.values()),
           server_errors=len(errors), known_server_errors={"count": len(known), "examples": known[:5],
                                                             "reported": KNOWN_5XX},
           statuses=dict(statuses), examples_per_operation={"positive": POSITIVE, "negative": NEGATIVE},
           operations_without_invalid_form=nothing_to_negate, excluded=EXCLUDED)
    assert not errors, "\n".join(errors[:20])


# ---------------------------------------------------------------- hand-made hostile bodies

def base() -> dict:
    return work_order(f"GD{uid(10)}", valid_uscc())


def hostile_bodies() -> list[tuple[str, bytes, int]]:
    """(what, raw body, expected status)."""
    good = base()
    cases: list[tuple[str, object, int]] = [
        ("malformed JSON", b'{"source_event_id": ', 422),
        ("not UTF-8", b"\xff\xfe\x00{", 422),
        ("nested 100k deep", b"[" * 100_000, 422),
        ("NaN", b'{"order_id": NaN}', 422),
        ("Infinity", b'[{"order_id": -Infinity}]', 422),
        ("null", b"null", 422), ("a number", b"42", 422), ("a string", b'"work order"', 422),
        ("empty list", b"[]", 422), ("empty body", b"", 422),
        ("unknown field", {**good, "password": "x"}, 422),
        ("unknown enum", {**good, "channel": "传真"}, 422),
        ("bad check character", {**good, "subject": {**good["subject"], "uscc": good["subject"]["uscc"][:-1] + (
            "0" if good["subject"]["uscc"][-1] != "0" else "1")}}, 422),
        ("time without offset", {**good, "received_at": "2026-05-06T09:30:00"}, 422),
        ("huge content (1 MB)", {**good, "content": "长" * 1_000_000}, 422),
        ("huge id", {**good, "source_event_id": "x" * 100_000}, 422),
        ("body above the limit (6 MB)", {**good, "content": "x" * 6_000_000}, 413),
        ("2,000 invalid records", [{**good, "channel": "传真"}] * 2_000, 422),
        ("control characters", {**good, "order_id": "GD\x00\x1b[31m"}, 422),
        ("lone surrogate", b'{"order_id": "\\ud800"}', 422),
    ]
    for field in good:  # every field of a work order is required
        for value in (None, 12, 1.5, True, [], {}):
            cases.append((f"{field} = {json.dumps(value)}", {**good, field: value}, 422))
        missing = copy.deepcopy(good)
        del missing[field]
        cases.append((f"missing {field}", missing, 422))
    out = []
    for what, body, status in cases:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        out.append((what, raw, status))
    return out


def test_hostile_bodies_are_refused_with_4xx_and_nothing_is_appended(sec_hub):
    hotline = as_role(sec_hub, "hotline")
    hotline.headers["content-type"] = "application/json"
    bodies = hostile_bodies()
    wrong = []
    for what, raw, expected in bodies:
        r = hotline.post(WORKORDERS, content=raw)
        if r.status_code != expected:
            wrong.append((what, r.status_code, r.text[:200]))
        assert r.status_code < 500, (what, r.status_code, r.text[:300])
        records = raw.count(b'"source_event_id"') or 1
        assert len(r.content) < 64 * 1024 * records, f"{what}: a {len(r.content)}-byte answer echoes the input"
    assert not wrong, wrong
    # none of it reached the log
    sids = set()
    for _, raw, _ in bodies:
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(item, dict) and isinstance(item.get("source_event_id"), str):
                sids.add(item["source_event_id"])
    assert not ce_id_counts(sec_hub.bootstrap, "hotline.workorders", sids)
    record("hostile_http_bodies", bodies_tried=len(bodies), server_errors=0, appended=0)


def test_repeated_ids_in_one_list_and_from_ten_threads_append_exactly_one_record(sec_hub):
    hotline = as_role(sec_hub, "hotline")
    rec = base()
    r = hotline.post(WORKORDERS, json=[rec, rec, rec])
    assert r.status_code == 202, r.text
    assert len(r.json()["accepted"]) == 1 and len(r.json()["duplicates"]) == 2
    assert {d["offset"] for d in r.json()["duplicates"]} == {r.json()["accepted"][0]["offset"]}

    other = base()
    barrier = threading.Barrier(10)
    answers: list[httpx.Response] = []

    def post():
        with httpx.Client(base_url=sec_hub.url, headers={"Authorization": f"Bearer {hotline.key}"}, timeout=60) as c:
            barrier.wait()
            answers.append(c.post(WORKORDERS, json=other))

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {202: 1, 200: 9}, statuses
    positions = {(a.json()["accepted"] + a.json()["duplicates"])[0]["offset"] for a in answers}
    assert len(positions) == 1, "every answer names the one record"
    counts = ce_id_counts(sec_hub.bootstrap, "hotline.workorders", {rec["source_event_id"], other["source_event_id"]})
    assert counts == {rec["source_event_id"]: 1, other["source_event_id"]: 1}, counts
    record("hostile_http_duplicates", same_id_in_one_list=3, concurrent_posts=10, answers=dict(statuses),
           records_on_topic=1)


def test_huge_page_numbers_and_nan_in_action_bodies_are_refused_with_422(sec_hub):
    staff = as_role(sec_hub, "admin")
    for path in ("/api/v1/leads", "/api/v1/credit/triggers", "/api/v1/enterprises/91330203MA2A000009/timeline"):
        r = staff.get(path, params={"page": 10**20})
        assert r.status_code == 422, (path, r.status_code)
    r = staff.post("/api/v1/leads/no-such-lead/claim", content=b'{"version": NaN}',
                   headers={"content-type": "application/json"})
    assert r.status_code == 422, r.status_code


def test_a_huge_page_of_webhook_deliveries_is_refused_not_a_server_error(sec_hub):
    r = as_role(sec_hub, "admin").get("/api/v1/webhooks/deliveries", params={"page": 10**20})
    assert r.status_code == 422, r.status_code


JSON_ROUTES = [("POST", WORKORDERS), ("PUT", "/api/v1/reference/officers"), ("POST", "/api/v1/clock/ticks"),
               ("POST", "/api/v1/webhooks/subscribers")]


def test_every_route_reading_json_refuses_what_json_cannot_carry_with_422(sec_hub):
    """NaN, Infinity, half a surrogate pair and 100,000 levels of nesting: Python's parser takes
    or chokes on them, and an answer echoing them could not be rendered."""
    admin = as_role(sec_hub, "admin")
    admin.headers["content-type"] = "application/json"
    tried = 0
    for method, path in JSON_ROUTES:
        for raw in (b'{"at": NaN, "url": Infinity}', b'[{"cert_no": "\\ud800"}]', b'{"at": "\\udfff", "url": "x"}',
                    b"[" * 100_000, b'{"\\ud800": 1}'):
            r = admin.request(method, path, content=raw)
            assert r.status_code == 422, (method, path, raw[:30], r.status_code, r.text[:200])
            tried += 1
    record("hostile_http_json", routes=len(JSON_ROUTES), bodies_tried=tried, server_errors=0)


def test_half_a_surrogate_pair_in_a_lead_action_is_refused_not_a_server_error(sec_hub):
    r = as_role(sec_hub, "admin").post("/api/v1/leads/no-such-lead/claim", content=b'{"version": 1, "note": "\\ud800"}',
                                       headers={"content-type": "application/json"})
    assert r.status_code < 500, r.status_code


def test_indicator_dates_at_the_ends_of_the_calendar_are_refused_not_a_server_error(sec_hub):
    staff = as_role(sec_hub, "admin")
    for params in ({"to": "0001-01-01"}, {"from": "9999-12-31", "to": "9999-12-31"}):
        r = staff.get("/api/v1/indicators", params=params)
        assert r.status_code < 500, (params, r.status_code)
