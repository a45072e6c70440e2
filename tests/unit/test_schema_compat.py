"""Schema evolution: every current schema must read data written with every released version.

`schemas/released/` holds the schemas as released (v1 = the first release). Older versions may
be kept there under other file names (e.g. `work_order.v1.avsc`); they are matched by record
name, and the codec keeps decoding them.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
CURRENT = sorted(SCHEMA_DIR.glob("*.avsc"))
RELEASED = sorted((SCHEMA_DIR / "released").rglob("*.avsc"))


def _raw(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _parse(raw: dict) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(raw, ensure_ascii=False))


def _compatibility(reader: dict, writer: dict) -> SchemaCompatibilityType:
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader=_parse(reader), writer=_parse(writer))
    return result.compatibility


def _released_versions(name: str) -> list[Path]:
    return [p for p in RELEASED if _raw(p)["name"] == name]


def test_there_are_schemas_and_released_copies():
    assert len(CURRENT) == 11
    assert {p.name for p in CURRENT} <= {p.name for p in RELEASED}


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_current_schema_parses_with_the_avro_package(path):
    schema = avro.schema.parse(path.read_text(encoding="utf-8"))
    assert schema.namespace == "cn.gov.zhongshu"
    assert schema.type == "record"


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_current_schema_reads_every_released_version(path):
    current = _raw(path)
    versions = _released_versions(current["name"])
    assert versions, f"{current['name']} has no released version in schemas/released/"
    for released in versions:
        result = ReaderWriterCompatibilityChecker().get_compatibility(
            reader=_parse(current), writer=_parse(_raw(released)))
        assert result.compatibility is SchemaCompatibilityType.compatible, (
            f"{path.name} cannot read data written with {released.relative_to(SCHEMA_DIR)}: "
            f"{result.incompatibilities} at {result.locations}: {result.messages}")


# -- the checker really catches breaking changes ----------------------------------------------------

WORK_ORDER = _raw(SCHEMA_DIR / "work_order.avsc")


def _changed(mutate) -> dict:
    raw = copy.deepcopy(WORK_ORDER)
    mutate(raw)
    return raw


def test_new_required_field_without_default_is_incompatible():
    reader = _changed(lambda r: r["fields"].append({"name": "priority", "type": "string", "doc": "优先级"}))
    assert _compatibility(reader, WORK_ORDER) is SchemaCompatibilityType.incompatible


def test_new_optional_field_with_null_default_is_compatible():
    reader = _changed(lambda r: r["fields"].append(
        {"name": "priority", "type": ["null", "string"], "default": None, "doc": "优先级"}))
    assert _compatibility(reader, WORK_ORDER) is SchemaCompatibilityType.compatible


def test_changing_a_field_type_is_incompatible():
    def mutate(raw):
        next(f for f in raw["fields"] if f["name"] == "order_id")["type"] = "long"
    assert _compatibility(_changed(mutate), WORK_ORDER) is SchemaCompatibilityType.incompatible


def test_making_an_optional_field_required_is_incompatible():
    def mutate(raw):
        field = next(f for f in raw["fields"] if f["name"] == "due_at")
        field["type"] = "string"
        del field["default"]
    assert _compatibility(_changed(mutate), WORK_ORDER) is SchemaCompatibilityType.incompatible


def test_removing_an_enum_symbol_is_incompatible():
    case_event = _raw(SCHEMA_DIR / "case_event.avsc")
    reader = copy.deepcopy(case_event)
    event = next(f for f in reader["fields"] if f["name"] == "event")
    event["type"]["symbols"].remove("changed")
    assert _compatibility(reader, case_event) is SchemaCompatibilityType.incompatible
    # adding one is fine for readers (old data never holds the new symbol)
    event["type"]["symbols"] += ["changed", "transferred"]
    assert _compatibility(reader, case_event) is SchemaCompatibilityType.compatible


def test_renaming_the_record_is_incompatible():
    reader = _changed(lambda r: r.update(name="HotlineOrder"))
    assert _compatibility(reader, WORK_ORDER) is SchemaCompatibilityType.incompatible
