"""The Avro codec: single-object encoding, fingerprints, round trips, failure modes."""
from __future__ import annotations

import copy
import io
import json
import re
import shutil
import struct
import time
from decimal import Decimal
from pathlib import Path

import avro.schema
import fastavro
import pytest
from avro.schema import _crc_64_fingerprint as avro_crc64
from fastavro.schema import to_parsing_canonical_form

from schemas.codec import (CE_TYPES, REFERENCE_KINDS, SCHEMA_DIR, TOPIC_SCHEMAS, Codec, DecodeError, EncodeError,
                           cloudevent_headers, header_dict)

# -- an independent CRC-64-AVRO ("Rabin") fingerprint, bit by bit as the Avro spec describes ---------

EMPTY64 = 0xC15D213AA4D7A795  # the spec's EMPTY constant


def rabin_bitwise(data: bytes) -> int:
    """Avro spec, "Schema Fingerprints": the table-driven loop unrolled into its 8 bit steps."""
    fp = EMPTY64
    for byte in data:
        fp ^= byte
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY64 & -(fp & 1))
    return fp


def as_signed(fp: int) -> int:
    return fp - (1 << 64) if fp >= 1 << 63 else fp


# Fingerprints published in apache/avro share/test/data/schema-tests.txt (Java longs, cross-checked
# there against Java's slow direct implementation).
SPEC_VECTORS = [
    ('"null"', 7195948357588979594),
    ('"boolean"', -6970731678124411036),
    ('"int"', 8247732601305521295),
    ('"string"', -8142146995180207161),
    ('{"name":"foo","type":"record","fields":[]}', -4824392279771201922),
    ('{"name":"x.y.foo","type":"record","fields":[]}', 5916914534497305771),
    ('{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}', 7843277075252814651),
    ('{"name":"foo","type":"fixed","size":15}', 1756455273707447556),
    ('{"type":"map","values":"string"}', -8732877298790414990),
    ('{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
     -1759257747318642341),
]

# -- realistic records, one per record type (Avro shape: every field present) ----------------------

EVIDENCE = {"topic": "enforcement.inspections", "partition": 3, "offset": 120045,
            "ce_id": "insp-350102-2026-000187", "action_code": "XZJC-350102-20260503-0042",
            "summary": "2026-05-03 鼓楼区市场监督管理局检查福州闽味食品有限公司（双随机，未联合）"}

RECORDS: dict[str, dict] = {
    "WorkOrder": {
        "source_event_id": "12345-FZ-20260501-000123", "occurred_at": "2026-05-01T08:55:12+08:00",
        "order_id": "GD20260501000123", "received_at": "2026-05-01T09:00:00+08:00", "channel": "电话",
        "category": "投诉", "topic": "涉企执法检查",
        "content": "来电人反映：鼓楼区市场监督管理局一个月内三次到店检查，检查内容相同，影响正常经营，要求核实。",
        "subject": {"name": "福州闽味食品有限公司", "uscc": "91350100M000100Y43", "address": "福州市鼓楼区五四路 88 号"},
        "region_code": "350102", "about_agency_code": "113501000036345678", "enforcement_complaint_type": "重复检查",
        "complainant": {"name_token": "tk_" + "a" * 32, "phone_token": "tk_" + "b" * 32},
        "handling_unit": "鼓楼区市场监督管理局", "due_at": "2026-05-20T18:00:00+08:00", "status": "派单",
    },
    "Inspection": {
        "source_event_id": "insp-350102-2026-000187", "occurred_at": None, "inspection_id": "JC-350102-2026-000187",
        "action_code": "XZJC-350102-20260503-0042", "agency_code": "113501000036345678",
        "joint_agency_codes": ["11350100MB00010006"], "officer_cert_nos": ["闽执 35010200123", "闽执 35010200456"],
        "target": {"uscc": "91350100M000100Y43", "name": "福州闽味食品有限公司"}, "region_code": "350102",
        "started_at": "2026-05-03T09:30:00+08:00", "trigger": "双随机", "plan_id": "JH-2026-鼓楼-001",
        "random": True, "credit_rule_applied": True, "risk_class": "B", "items": ["食品经营许可", "从业人员健康证明"],
        "result": "责令整改", "rectification_due": "2026-05-17T17:00:00+08:00",
    },
    "CaseEvent": {
        "source_event_id": "case-evt-000991", "occurred_at": "2026-06-10T16:00:00+08:00", "case_id": "闽榕鼓市监案〔2026〕57号",
        "event": "decided", "party": None, "agency_code": None, "matter_code": None, "region_code": None,
        "filed_at": None, "source_refs": None, "decision_no": "榕鼓市监罚〔2026〕57号",
        "decided_at": "2026-06-10T16:00:00+08:00", "procedure": "普通", "penalty_types": ["警告", "罚款", "没收违法所得"],
        "fine_amount": Decimal("52000.00"), "confiscated_amount": Decimal("1380.50"),
        "amount_involved": {"sales": Decimal("48000.00"), "unsold_value": None, "turnover": None,
                            "illegal_gains": Decimal("1380.50"), "tax_evaded": None, "tax_due": None},
        "circumstance_level": "一般", "violation_type": "生产销售不符合食品安全标准的食品",
        "legal_basis": "《中华人民共和国食品安全法》第一百二十四条第一款", "first_violation": False, "corrected": True,
        "major": True, "hearing_held": False, "complex": False, "penalty_duration_until": None,
        "reviewed_at": None, "passed": None, "days": None, "approved_at": None, "at": None,
        "published_at": None, "channel": None, "masked": None, "by": None,
    },
    "CreditEvent": {
        "source_event_id": "xyzg-2026-0713-0001", "occurred_at": None, "uscc": "91350100M000100Y43",
        "kind": "repair_accepted", "decision_no": "榕鼓市监罚〔2026〕57号", "risk_class": None,
        "at": "2026-07-13T10:00:00+08:00", "details": {"extended": True, "operator": "信用中国（福建）", "pages": 12,
                                                      "note": None},
    },
    "TransferSignal": {
        "source_event_id": "xxsx-2026-000031", "occurred_at": None, "case_id": "闽榕鼓市监案〔2026〕57号",
        "kind": "sent", "at": "2026-06-12T11:20:00+08:00", "organ": "福州市公安局鼓楼分局",
    },
    "ReferenceSet": {
        "kind": "benchmarks", "version": 7, "set_at": "2026-04-01T00:00:00+08:00",
        "items_json": json.dumps([{"matter_code": "SC-FOOD-124", "circumstance_level": "一般",
                                   "min_fine": "50000.00", "max_fine": "100000.00"}], ensure_ascii=False),
    },
    "ClockTick": {"tick_id": "tick-2026-06-20T00:00:00+08:00", "at": "2026-06-20T00:00:00+08:00", "partition": 5},
    "Lead": {
        "lead_id": "LD-3f1c0f7e2a9b4c5d6e7f8091", "rule_code": "INSP_DUPLICATE", "rule_name": "重复检查", "severity": "中",
        "subject": {"type": "enterprise", "id": "91350100M000100Y43", "name": "福州闽味食品有限公司"},
        "agency_code": "113501000036345678", "region_code": "350102", "detected_at": "2026-05-03T09:30:00+08:00",
        "evidence": [EVIDENCE, dict(EVIDENCE, offset=120001, action_code=None, summary="2026-04-20 同一机关检查")],
        "explanation": "同一机关 30 日内对同一企业实施 2 次非联合检查（国办发〔2024〕54号）。", "due_at": None,
        "status": "待认领", "grade": "B", "details_json": json.dumps({"window_days": 30}),
    },
    "LeadAction": {
        "action_id": "ACT-000001", "lead_id": "LD-3f1c0f7e2a9b4c5d6e7f8091", "action": "claimed", "actor": "王监督",
        "at": "2026-05-04T09:00:00+08:00", "version": 1, "note": "已认领，调阅执法记录", "outcome": None,
    },
    "CreditTrigger": {
        "trigger_id": "TR-8b0e", "code": "CR_REPAIR_ELIGIBLE", "uscc": "91350100M000100Y43",
        "decision_no": "榕鼓市监罚〔2026〕57号", "tier": "一般", "decided_at": "2026-06-10T16:00:00+08:00",
        "min_until": "2026-09-10", "max_until": "2027-06-10", "eligible_from": "2026-09-11",
        "reasons": ["最短公示期已满（令第36号第十二条）", "罚款已缴纳", "已整改"], "evidence": [EVIDENCE],
        "detected_at": "2026-09-11T00:00:00+08:00",
    },
    "DeadLetter": {
        "topic": "hotline.workorders", "partition": 1, "offset": 77, "key": b"91350100M000100Y43",
        "original": b"\x00\x01garbage", "reason": "no single-object marker", "stage": "decode",
        "at": "2026-05-01T09:00:01+08:00",
    },
}


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec()


def test_every_record_type_has_a_sample():
    assert set(RECORDS) == set(TOPIC_SCHEMAS.values())


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_round_trip_gives_back_the_same_value(codec, name):
    data = codec.encode(name, RECORDS[name])
    assert codec.decode(data) == (name, RECORDS[name])


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_message_starts_with_marker_and_fingerprint(codec, name):
    data = codec.encode(name, RECORDS[name])
    assert data[:2] == b"\xc3\x01"
    assert data[2:10].hex() == codec.fingerprint(name)
    assert re.fullmatch(r"[0-9a-f]{16}", codec.fingerprint(name))


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_body_is_plain_avro_binary_readable_by_fastavro(codec, name):
    data = codec.encode(name, RECORDS[name])
    schema = fastavro.parse_schema(codec.schemas()[[s["name"] for s in codec.schemas()].index(name)]["schema"])
    assert fastavro.schemaless_reader(io.BytesIO(data[10:]), schema, None) == RECORDS[name]


def test_missing_optionals_decode_as_none(codec):
    value = {k: v for k, v in RECORDS["WorkOrder"].items()
             if k not in ("occurred_at", "about_agency_code", "enforcement_complaint_type", "handling_unit", "due_at")}
    value["subject"] = {"name": "某个体户"}
    _, back = codec.decode(codec.encode("WorkOrder", value))
    assert back["due_at"] is None and back["handling_unit"] is None and back["occurred_at"] is None
    assert back["subject"] == {"name": "某个体户", "uscc": None, "address": None}


def test_decimals_come_back_as_decimal_yuan(codec):
    _, back = codec.decode(codec.encode("CaseEvent", RECORDS["CaseEvent"]))
    assert isinstance(back["fine_amount"], Decimal) and back["fine_amount"] == Decimal("52000.00")
    assert str(back["confiscated_amount"]) == "1380.50"
    assert back["amount_involved"]["sales"] == Decimal("48000.00")


def test_largest_amount_fits_decimal_18_2(codec):
    value = dict(RECORDS["CaseEvent"], fine_amount=Decimal("9999999999999999.99"))
    assert codec.decode(codec.encode("CaseEvent", value))[1]["fine_amount"] == Decimal("9999999999999999.99")


# -- fingerprints ------------------------------------------------------------------------------------

@pytest.mark.parametrize("canonical,expected", SPEC_VECTORS)
def test_bitwise_rabin_matches_the_avro_spec_test_vectors(canonical, expected):
    assert as_signed(rabin_bitwise(canonical.encode())) == expected
    assert avro_crc64(canonical.encode()) == struct.pack("<q", expected)


def test_clock_tick_fingerprint_computed_by_hand(codec):
    # Parsing Canonical Form written out by hand from the spec's rules: full name, only
    # name/type/fields, no doc or namespace, no whitespace.
    pcf = ('{"name":"cn.gov.zhongshu.ClockTick","type":"record","fields":['
           '{"name":"tick_id","type":"string"},{"name":"at","type":"string"},{"name":"partition","type":"int"}]}')
    raw = json.loads((SCHEMA_DIR / "clock_tick.avsc").read_text(encoding="utf-8"))
    assert to_parsing_canonical_form(raw) == pcf
    assert avro.schema.parse(json.dumps(raw)).canonical_form == pcf
    # the single-object header carries the 64-bit value little-endian (Java's BinaryMessageEncoder)
    assert codec.fingerprint("ClockTick") == struct.pack("<Q", rabin_bitwise(pcf.encode())).hex()


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_fingerprint_matches_independent_computations(codec, name):
    raw = next(s["schema"] for s in codec.schemas() if s["name"] == name)
    pcf = to_parsing_canonical_form(raw)
    mine = struct.pack("<Q", rabin_bitwise(pcf.encode())).hex()
    assert codec.fingerprint(name) == mine
    assert avro_crc64(pcf.encode()).hex() == mine
    # The avro package's own canonical form keeps {"type":"bytes"} for decimal logical types,
    # where the spec ([PRIMITIVES]) and Java's SchemaNormalization write "bytes"; apart from that
    # it agrees, and so does its fingerprint.
    parsed = avro.schema.parse(json.dumps(raw))
    assert parsed.canonical_form.replace('{"type":"bytes"}', '"bytes"') == pcf
    if '{"type":"bytes"}' not in parsed.canonical_form:
        assert parsed.fingerprint().hex() == mine


def test_decimal_normalises_to_plain_bytes_in_canonical_form():
    raw = {"type": "record", "name": "M", "fields": [
        {"name": "a", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}}]}
    assert to_parsing_canonical_form(raw) == '{"name":"M","type":"record","fields":[{"name":"a","type":"bytes"}]}'


def test_docs_do_not_change_the_fingerprint(tmp_path):
    for path in SCHEMA_DIR.glob("*.avsc"):
        shutil.copy(path, tmp_path / path.name)
    target = tmp_path / "lead_action.avsc"
    raw = json.loads(target.read_text(encoding="utf-8"))
    raw["doc"] = "改过的说明"
    raw["fields"][0]["doc"] = "另一个说明"
    target.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    assert Codec(tmp_path).fingerprint("LeadAction") == Codec().fingerprint("LeadAction")


# -- failures ----------------------------------------------------------------------------------------

def test_message_without_marker_is_rejected(codec):
    body = codec.encode("ClockTick", RECORDS["ClockTick"])[10:]
    with pytest.raises(DecodeError, match="no single-object marker"):
        codec.decode(body)
    with pytest.raises(DecodeError, match="no single-object marker"):
        codec.decode(b"")
    with pytest.raises(DecodeError, match="no single-object marker"):
        codec.decode(b'{"json": true}')


def test_unknown_fingerprint_is_named_in_the_error(codec):
    data = bytearray(codec.encode("ClockTick", RECORDS["ClockTick"]))
    data[2:10] = bytes.fromhex("0123456789abcdef")
    with pytest.raises(DecodeError, match="unknown fingerprint 0x0123456789abcdef"):
        codec.decode(bytes(data))


@pytest.mark.parametrize("name", ["WorkOrder", "CaseEvent", "Lead", "CreditEvent"])
def test_every_truncation_is_a_decode_error(codec, name):
    data = codec.encode(name, RECORDS[name])
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            codec.decode(data[:cut])
    with pytest.raises(DecodeError, match="truncated body"):
        codec.decode(data[:-1])
    with pytest.raises(DecodeError, match="truncated header"):
        codec.decode(data[:6])


def test_trailing_bytes_are_a_decode_error(codec):
    data = codec.encode("ClockTick", RECORDS["ClockTick"])
    with pytest.raises(DecodeError, match="1 trailing bytes after the ClockTick body"):
        codec.decode(data + b"\x00")


def test_corrupt_body_is_a_decode_error_not_a_crash(codec):
    data = bytearray(codec.encode("WorkOrder", RECORDS["WorkOrder"]))
    # the first body byte is source_event_id's length; make it huge and negative in turn
    for bad in (b"\x7f", b"\x01", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"):
        with pytest.raises(DecodeError):
            codec.decode(bytes(data[:10]) + bad + bytes(data[11:]))
    with pytest.raises(DecodeError, match="expected bytes"):
        codec.decode("c301")  # type: ignore[arg-type]


def test_encode_rejects_unknown_record_and_values_that_do_not_fit(codec):
    with pytest.raises(EncodeError, match="unknown record 'Nope'"):
        codec.encode("Nope", {})
    with pytest.raises(EncodeError, match="ClockTick"):
        codec.encode("ClockTick", {"tick_id": "t", "at": "2026-05-01T00:00:00+08:00"})  # partition missing
    with pytest.raises(EncodeError, match="more fields"):
        codec.encode("ClockTick", dict(RECORDS["ClockTick"], partiton=3))  # a typo must not vanish
    with pytest.raises(EncodeError):
        codec.encode("CaseEvent", dict(RECORDS["CaseEvent"], fine_amount=52000.0))  # never a float
    with pytest.raises(EncodeError):
        codec.encode("CaseEvent", dict(RECORDS["CaseEvent"], event="appealed"))
    with pytest.raises(EncodeError, match="Scale"):
        codec.encode("CaseEvent", dict(RECORDS["CaseEvent"], fine_amount=Decimal("1.005")))


def test_a_released_schema_still_decodes_after_the_schema_evolves(tmp_path):
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir(), new_dir.mkdir(), (new_dir / "released").mkdir()
    for path in SCHEMA_DIR.glob("*.avsc"):
        shutil.copy(path, old_dir / path.name)
        shutil.copy(path, new_dir / path.name)
        shutil.copy(path, new_dir / "released" / path.name)
    raw = json.loads((SCHEMA_DIR / "transfer_signal.avsc").read_text(encoding="utf-8"))
    raw["fields"].append({"name": "organ_code", "type": ["null", "string"], "default": None, "doc": "机关代码"})
    (new_dir / "transfer_signal.avsc").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")

    old, new = Codec(old_dir), Codec(new_dir)
    assert old.fingerprint("TransferSignal") != new.fingerprint("TransferSignal")
    name, value = new.decode(old.encode("TransferSignal", RECORDS["TransferSignal"]))
    assert name == "TransferSignal"
    assert value == dict(RECORDS["TransferSignal"], organ_code=None)
    released = new.schema_by_fingerprint(old.fingerprint("TransferSignal"))
    assert released is not None and released["name"] == "TransferSignal"


# -- catalogue ---------------------------------------------------------------------------------------

def test_topic_catalogue_covers_every_topic_of_the_design():
    design_topics = {"hotline.workorders", "enforcement.inspections", "enforcement.cases", "credit.events",
                     "justice.transfers", "hub.clock", "supervision.leads", "supervision.lead-actions",
                     "credit.repair-triggers", "hub.deadletter"}
    reference_topics = {f"reference.{k}" for k in REFERENCE_KINDS}
    assert set(TOPIC_SCHEMAS) == design_topics | reference_topics
    assert set(REFERENCE_KINDS) == {"benchmarks", "no-penalty-items", "criminal-thresholds", "agencies", "officers",
                                    "inspection-plans", "inspection-caps", "fine-lines", "holidays"}
    assert set(CE_TYPES) == set(TOPIC_SCHEMAS)
    assert all(t.startswith("cn.gov.zhongshu.") for t in CE_TYPES.values())
    assert CE_TYPES["hotline.workorders"] == "cn.gov.zhongshu.hotline.workorder"


def test_schemas_lists_each_current_schema_with_its_topics(codec):
    listed = {s["name"]: s for s in codec.schemas()}
    assert set(listed) == set(RECORDS)
    assert listed["ReferenceSet"]["topics"] == [f"reference.{k}" for k in REFERENCE_KINDS]
    assert listed["WorkOrder"]["topics"] == ["hotline.workorders"]
    assert listed["Lead"]["schema"]["namespace"] == "cn.gov.zhongshu"
    listed["Lead"]["schema"]["name"] = "mutated"
    assert codec.schemas()[0]["schema"]["name"] != "mutated"  # callers get copies


def test_schema_by_fingerprint_accepts_the_wire_hex_in_any_case(codec):
    fp = codec.fingerprint("CaseEvent")
    for spelled in (fp, fp.upper(), "0x" + fp):
        found = codec.schema_by_fingerprint(spelled)
        assert found is not None and found["name"] == "CaseEvent" and found["fingerprint"] == fp
    for bad in ("0" * 16, "xyz", "", fp[:-1], None):
        assert codec.schema_by_fingerprint(bad) is None  # type: ignore[arg-type]


def test_evidence_is_the_same_named_record_in_lead_and_credit_trigger(codec):
    def evidence(name):
        schema = next(s["schema"] for s in codec.schemas() if s["name"] == name)
        field = next(f for f in schema["fields"] if f["name"] == "evidence")
        return field["type"]["items"]

    lead, trigger = evidence("Lead"), evidence("CreditTrigger")
    assert lead["name"] == "Evidence" and lead == trigger


def _walk_fields(schema):
    if isinstance(schema, list):
        for branch in schema:
            yield from _walk_fields(branch)
    elif isinstance(schema, dict):
        for field in schema.get("fields", []):
            yield field
            yield from _walk_fields(field["type"])
        for key in ("items", "values"):
            if key in schema:
                yield from _walk_fields(schema[key])


def _types(schema):
    if isinstance(schema, list):
        for branch in schema:
            yield from _types(branch)
    elif isinstance(schema, dict):
        yield schema
        for field in schema.get("fields", []):
            yield from _types(field["type"])
        for key in ("items", "values"):
            if key in schema:
                yield from _types(schema[key])


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_schema_conventions(codec, name):
    schema = next(s["schema"] for s in codec.schemas() if s["name"] == name)
    assert schema["namespace"] == "cn.gov.zhongshu"
    for field in _walk_fields(schema):
        assert re.search(r"[\u4e00-\u9fff]", field.get("doc", "")), f"{name}.{field['name']} needs a Chinese doc"
        if isinstance(field["type"], list) and "null" in field["type"]:
            assert field["type"][0] == "null" and field.get("default", "missing") is None, field["name"]
    for t in _types(schema):
        assert t.get("logicalType") in (None, "decimal"), "times are RFC 3339 strings, never Avro timestamps"
        if t.get("logicalType") == "decimal":
            assert t == {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}


# Field names exactly as DESIGN.md §6 / the brief (intake JSON, Avro, SQL and API share them).
FIELD_NAMES = {
    "WorkOrder": "source_event_id occurred_at order_id received_at channel category topic content subject "
                 "region_code about_agency_code enforcement_complaint_type complainant handling_unit due_at status",
    "Inspection": "source_event_id occurred_at inspection_id action_code agency_code joint_agency_codes "
                  "officer_cert_nos target region_code started_at trigger plan_id random credit_rule_applied "
                  "risk_class items result rectification_due",
    "CaseEvent": "source_event_id occurred_at case_id event party agency_code matter_code region_code filed_at "
                 "source_refs decision_no decided_at procedure penalty_types fine_amount confiscated_amount "
                 "amount_involved circumstance_level violation_type legal_basis first_violation corrected major "
                 "hearing_held complex penalty_duration_until reviewed_at passed days approved_at at published_at "
                 "channel masked by",
    "CreditEvent": "source_event_id occurred_at uscc kind decision_no risk_class at details",
    "TransferSignal": "source_event_id occurred_at case_id kind at organ",
    "ReferenceSet": "kind version set_at items_json",
    "ClockTick": "tick_id at partition",
    "Lead": "lead_id rule_code rule_name severity subject agency_code region_code detected_at evidence "
            "explanation due_at status grade details_json",
    "LeadAction": "action_id lead_id action actor at version note outcome",
    "CreditTrigger": "trigger_id code uscc decision_no tier decided_at min_until max_until eligible_from reasons "
                     "evidence detected_at",
    "DeadLetter": "topic partition offset key original reason stage at",
}


@pytest.mark.parametrize("name", sorted(FIELD_NAMES))
def test_field_names_follow_the_data_dictionary(codec, name):
    schema = next(s["schema"] for s in codec.schemas() if s["name"] == name)
    assert [f["name"] for f in schema["fields"]] == FIELD_NAMES[name].split()


def test_nested_field_names_follow_the_data_dictionary(codec):
    def nested(record, field):
        schema = next(s["schema"] for s in codec.schemas() if s["name"] == record)
        t = next(f for f in schema["fields"] if f["name"] == field)["type"]
        t = next(b for b in t if b != "null") if isinstance(t, list) else t
        t = t.get("items", t)
        return [f["name"] for f in t["fields"]]

    assert nested("WorkOrder", "subject") == ["name", "uscc", "address"]
    assert nested("Inspection", "target") == ["uscc", "name"]
    assert nested("CaseEvent", "party") == ["type", "uscc", "id_token", "name"]
    assert nested("CaseEvent", "amount_involved") == ["sales", "unsold_value", "turnover", "illegal_gains",
                                                      "tax_evaded", "tax_due"]
    assert nested("Lead", "subject") == ["type", "id", "name"]
    assert nested("Lead", "evidence") == ["topic", "partition", "offset", "ce_id", "action_code", "summary"]


def test_work_order_carries_only_complainant_tokens(codec):
    schema = next(s["schema"] for s in codec.schemas() if s["name"] == "WorkOrder")
    complainant = next(f for f in schema["fields"] if f["name"] == "complainant")
    assert [f["name"] for f in complainant["type"]["fields"]] == ["name_token", "phone_token"]


def test_codec_refuses_a_directory_without_schemas(tmp_path):
    with pytest.raises(ValueError, match="no .avsc"):
        Codec(tmp_path)


# -- headers -----------------------------------------------------------------------------------------

def test_cloudevent_headers_follow_the_kafka_binary_binding():
    headers = cloudevent_headers(ce_id="12345-FZ-20260501-000123", source="/intake/12345",
                                 type=CE_TYPES["hotline.workorders"], time="2026-05-01T09:00:00+08:00",
                                 subject="91350100M000100Y43")
    assert [k for k, _ in headers] == ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject",
                                       "content-type"]
    assert all(isinstance(v, bytes) for _, v in headers)
    assert header_dict(headers) == {
        "ce_specversion": "1.0", "ce_id": "12345-FZ-20260501-000123", "ce_source": "/intake/12345",
        "ce_type": "cn.gov.zhongshu.hotline.workorder", "ce_time": "2026-05-01T09:00:00+08:00",
        "ce_subject": "91350100M000100Y43", "content-type": "application/avro"}


def test_cloudevent_headers_without_subject_and_with_chinese_ids():
    headers = header_dict(cloudevent_headers(ce_id="案件-57", source="s", type="t", time="2026-05-01T09:00:00Z"))
    assert "ce_subject" not in headers and headers["ce_id"] == "案件-57"
    with pytest.raises(ValueError, match="ce_id"):
        cloudevent_headers(ce_id="", source="s", type="t", time="x")


def test_header_dict_accepts_what_kafka_clients_hand_over():
    assert header_dict(None) == {}
    assert header_dict([("a", b"1"), ("b", None), (b"c", "3"), ("a", b"2")]) == {"a": "2", "b": "", "c": "3"}
    assert header_dict({"x": b"\xff"}) == {"x": "\ufffd"}


# -- speed (reported, not asserted) ------------------------------------------------------------------

def test_micro_benchmark_encode_decode(codec, capsys):
    value = RECORDS["WorkOrder"]
    data = codec.encode("WorkOrder", value)
    n = 10_000
    start = time.perf_counter()
    for _ in range(n):
        codec.encode("WorkOrder", value)
    encode_rate = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(n):
        codec.decode(data)
    decode_rate = n / (time.perf_counter() - start)
    with capsys.disabled():
        print(f"\n[codec bench] WorkOrder {len(data)} bytes: encode {encode_rate:,.0f}/s, "
              f"decode {decode_rate:,.0f}/s (one core, informational)")
    assert encode_rate > 0 and decode_rate > 0


def test_codec_value_is_not_mutated_by_encode(codec):
    value = copy.deepcopy(RECORDS["CaseEvent"])
    codec.encode("CaseEvent", value)
    assert value == RECORDS["CaseEvent"]


def test_schema_dir_default_is_the_package(codec):
    assert Path(SCHEMA_DIR).name == "schemas" and (SCHEMA_DIR / "released").is_dir()
