"""Fuzz of what tests/unit/test_validation.py does not reach:

* `check_decoded`, which the workers and the projector run on every record a producer wrote
  straight onto an ingress topic: any value of the topic's Avro schema, encoded and decoded by
  the codec, gets a list of problems — never an exception;
* the intake path after validation: whatever `validate_batch` accepts has a Kafka key
  (`record_key`) and encodes, so a valid request can never fail with a 500 there.
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.intake import SOURCES, record_key, validate_batch
from connectors.privacy import Tokeniser
from connectors.validation import Problem, check_decoded
from schemas.codec import TOPIC_SCHEMAS, Codec
from tests.unit.test_validation import VALID, json_values

CODEC = Codec()
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
TOKENISE = Tokeniser(b"fuzz")

# strings that walk further into the checks than random text does
DOMAIN = st.sampled_from(["91330203MA2A12345X", "91350100M000100Y43", "N1330203MA2A12345X", "330203", "33020",
                          "2026-05-01T09:00:00+08:00", "2026-05-01T09:00:00", "2026-02-30T09:00:00+08:00",
                          "tk_" + "0" * 32, "tk_short", "13805740000", "张三", "", " "])
TEXT = st.one_of(DOMAIN, st.text(max_size=40))


def strategy(avro, named: dict):
    if isinstance(avro, str):
        if avro in named:
            return named[avro]
        return {"string": TEXT, "boolean": st.booleans(), "int": st.integers(-2**31, 2**31 - 1),
                "long": st.integers(-2**63, 2**63 - 1), "null": st.none()}[avro]
    if isinstance(avro, list):
        return st.one_of(*[strategy(t, named) for t in avro])
    kind = avro["type"]
    if kind == "record":
        fields = {f["name"]: f["type"] for f in avro["fields"]}
        named[avro["name"]] = st.deferred(lambda: st.fixed_dictionaries({k: strategy(t, named) for k, t in fields.items()}))
        return named[avro["name"]]
    if kind == "enum":
        named[avro["name"]] = st.sampled_from(avro["symbols"])
        return named[avro["name"]]
    if kind == "array":
        return st.lists(strategy(avro["items"], named), max_size=4)
    if kind == "map":
        return st.dictionaries(TEXT, strategy(avro["values"], named), max_size=4)
    if kind == "bytes" and avro.get("logicalType") == "decimal":
        return st.decimals(min_value=Decimal("-9999999999999999.99"), max_value=Decimal("9999999999999999.99"),
                           places=2, allow_nan=False, allow_infinity=False)
    return strategy(kind, named)


def schema_of(name: str) -> dict:
    return CODEC.schema_by_fingerprint(CODEC.fingerprint(name))["schema"]


INGRESS = {topic: name for topic, name in TOPIC_SCHEMAS.items()
           if topic in ("hotline.workorders", "enforcement.inspections", "enforcement.cases", "credit.events",
                        "justice.transfers")}
DECODED = st.one_of(*[st.tuples(st.just(name), strategy(schema_of(name), {})) for name in INGRESS.values()])


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(DECODED)
def test_check_decoded_reports_problems_for_any_record_a_direct_producer_can_write(item):
    name, value = item
    decoded_name, decoded = CODEC.decode(CODEC.encode(name, value))
    assert decoded_name == name
    problems = check_decoded(name, decoded)
    assert isinstance(problems, list) and all(isinstance(p, Problem) for p in problems)
    for p in problems:
        str(p)
        json.dumps(p.as_dict(), default=str)
        assert "13805740000" not in str(p.value) or not p.field.endswith(("name_token", "phone_token", "id_token"))


ROUTES = {SOURCES[route][0]: route for route in SOURCES}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_whatever_intake_accepts_has_a_key_and_encodes(data):
    kind = data.draw(st.sampled_from(sorted(ROUTES)))
    items = data.draw(st.lists(st.one_of(st.just(VALID[kind]), json_values,
                                         st.builds(lambda v, f, x: {**v, f: x}, st.just(VALID[kind]),
                                                   st.sampled_from(sorted(VALID[kind])), json_values)),
                               min_size=1, max_size=4))
    records, problems = validate_batch(kind, items, TOKENISE)
    assert len(records) == len(items)
    assert all(isinstance(p, Problem) for p in problems)
    assert (not problems) == all(r is not None for r in records)
    topic = SOURCES[ROUTES[kind]][1]
    for rec in records:
        if rec is None:
            continue
        key = record_key(kind, rec)
        assert isinstance(key, str) and key
        CODEC.encode(TOPIC_SCHEMAS[topic], rec)
        assert check_decoded(TOPIC_SCHEMAS[topic], CODEC.decode(CODEC.encode(TOPIC_SCHEMAS[topic], rec))[1]) == []
