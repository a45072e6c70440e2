"""Avro codec for every topic of the hub (事件编解码).

Values use Avro *single-object encoding* (Avro spec, "Single-object encoding"):

    C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's
    Parsing Canonical Form | Avro binary body

so any Avro library (Java's `BinaryMessageDecoder`, fastavro, avro) can tell which schema wrote
a message. The `.avsc` files beside this module are the source of truth; `released/` holds the
schemas as released, which stay decodable after the current schema evolves (the writer schema
is resolved against the current reader schema).

Fingerprints are computed with fastavro's Parsing Canonical Form, which matches Java's
`SchemaNormalization` (a decimal logical type normalises to plain "bytes"). The `avro`
package's `Schema.canonical_form` (1.12.2) keeps `{"type":"bytes"}` for logical types and so
gives a different fingerprint for schemas holding money fields: do not use it for routing.

Headers follow the CloudEvents 1.0 Kafka protocol binding, binary mode (`ce_*` headers plus
`content-type`).
"""
from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import fastavro
from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from .fastread import compile_reader

NAMESPACE = "cn.gov.zhongshu"
MAGIC = b"\xc3\x01"  # single-object encoding marker
_HEADER_LEN = len(MAGIC) + 8
SCHEMA_DIR = Path(__file__).resolve().parent

# 参考数据种类 (reference data kinds, DESIGN.md §6); each lives on topic reference.<kind>.
REFERENCE_KINDS: tuple[str, ...] = (
    "benchmarks",
    "no-penalty-items",
    "criminal-thresholds",
    "agencies",
    "officers",
    "inspection-plans",
    "inspection-caps",
    "fine-lines",
    "holidays",
)

TOPIC_SCHEMAS: dict[str, str] = {
    "hotline.workorders": "WorkOrder",
    "enforcement.inspections": "Inspection",
    "enforcement.cases": "CaseEvent",
    "credit.events": "CreditEvent",
    "justice.transfers": "TransferSignal",
    **{f"reference.{kind}": "ReferenceSet" for kind in REFERENCE_KINDS},
    "hub.clock": "ClockTick",
    "supervision.leads": "Lead",
    "supervision.lead-actions": "LeadAction",
    "credit.repair-triggers": "CreditTrigger",
    "hub.deadletter": "DeadLetter",
}

CE_TYPES: dict[str, str] = {
    "hotline.workorders": "cn.gov.zhongshu.hotline.workorder",
    "enforcement.inspections": "cn.gov.zhongshu.enforcement.inspection",
    "enforcement.cases": "cn.gov.zhongshu.enforcement.case",
    "credit.events": "cn.gov.zhongshu.credit.event",
    "justice.transfers": "cn.gov.zhongshu.justice.transfer",
    **{f"reference.{kind}": f"cn.gov.zhongshu.reference.{kind}" for kind in REFERENCE_KINDS},
    "hub.clock": "cn.gov.zhongshu.hub.clock.tick",
    "supervision.leads": "cn.gov.zhongshu.supervision.lead",
    "supervision.lead-actions": "cn.gov.zhongshu.supervision.lead-action",
    "credit.repair-triggers": "cn.gov.zhongshu.credit.repair-trigger",
    "hub.deadletter": "cn.gov.zhongshu.hub.deadletter",
}

CONTENT_TYPE = "application/avro"


class DecodeError(ValueError):
    """The bytes are not a single-object-encoded value of a schema this hub knows."""


class EncodeError(ValueError):
    """The value does not fit the record's schema (names the record and what did not fit)."""


_COMPILE_LATER = object()


class _Version:
    """One parsed schema version, ready for the hot path."""

    __slots__ = ("name", "fingerprint", "header", "raw", "parsed", "current", "fast_read")

    def __init__(self, raw: dict, *, current: bool):
        self.raw = raw
        self.parsed = fastavro.parse_schema(copy.deepcopy(raw))
        self.name = self.parsed["name"].rsplit(".", 1)[-1]
        canonical = to_parsing_canonical_form(raw)
        self.fingerprint = _fastavro_fingerprint(canonical, "CRC-64-AVRO")  # little-endian hex
        self.header = MAGIC + bytes.fromhex(self.fingerprint)
        self.current = current
        # current schemas only (an older writer schema needs fastavro's schema resolution);
        # compiled at the first decode, so a Codec that only encodes never pays for it
        self.fast_read = _COMPILE_LATER if current else None


class Codec:
    """Encodes and decodes every record type; parse the schemas once, then reuse the codec."""

    def __init__(self, schema_dir: str | Path | None = None):
        base = Path(schema_dir) if schema_dir is not None else SCHEMA_DIR
        self._current: dict[str, _Version] = {}
        self._by_fingerprint: dict[bytes, _Version] = {}
        for path in sorted(base.glob("*.avsc")):
            version = _Version(_load(path), current=True)
            if version.name in self._current:
                raise ValueError(f"{path}: record {version.name} is defined twice in {base}")
            self._current[version.name] = version
            self._by_fingerprint[version.header[2:]] = version
        if not self._current:
            raise ValueError(f"no .avsc schemas found in {base}")
        released = base / "released"
        for path in sorted(released.rglob("*.avsc")) if released.is_dir() else ():
            version = _Version(_load(path), current=False)
            if version.name not in self._current:
                raise ValueError(f"{path}: released record {version.name} has no current schema")
            self._by_fingerprint.setdefault(version.header[2:], version)
        unknown = sorted(set(TOPIC_SCHEMAS.values()) - set(self._current))
        if unknown:
            raise ValueError(f"topic catalogue names records without a schema in {base}: {unknown}")

    # -- hot path -------------------------------------------------------------------------------

    def encode(self, record_name: str, value: dict) -> bytes:
        version = self._current.get(record_name)
        if version is None:
            raise EncodeError(f"unknown record {record_name!r}; known: {sorted(self._current)}")
        buf = io.BytesIO()
        buf.write(version.header)
        try:
            # strict_allow_default: a misspelt or extra key fails instead of being dropped.
            fastavro.schemaless_writer(buf, version.parsed, value, strict_allow_default=True)
        except Exception as exc:  # fastavro raises ValueError/TypeError/KeyError/AttributeError
            raise EncodeError(f"{record_name}: value does not fit the schema: {exc}") from exc
        return buf.getvalue()

    def decode(self, data: bytes) -> tuple[str, dict]:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecodeError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if not data or data[:2] != MAGIC[: len(data)]:
            raise DecodeError(_no_marker(data))
        if len(data) < _HEADER_LEN:
            raise DecodeError(f"truncated header: {len(data)} bytes, single-object encoding needs "
                              f"{_HEADER_LEN} before the body")
        version = self._by_fingerprint.get(data[2:_HEADER_LEN])
        if version is None:
            raise DecodeError(f"unknown fingerprint 0x{data[2:_HEADER_LEN].hex()}: no schema in this "
                              f"hub (current or released) has it")
        fast_read = version.fast_read
        if fast_read is _COMPILE_LATER:
            fast_read = version.fast_read = compile_reader(version.parsed)
        if fast_read is not None:
            try:
                value, end = fast_read(data, _HEADER_LEN)
            except Exception:  # malformed: fastavro below says what is wrong
                pass
            else:
                if end == len(data):
                    return version.name, value
        buf = io.BytesIO(data)
        buf.seek(_HEADER_LEN)
        reader = None if version.current else self._current[version.name].parsed
        try:
            value = fastavro.schemaless_reader(buf, version.parsed, reader)
        except EOFError as exc:
            raise DecodeError(f"truncated body for {version.name} (fingerprint 0x{version.fingerprint}): "
                              f"{len(data) - _HEADER_LEN} body bytes end mid-value") from exc
        except Exception as exc:  # corrupt varints, bad union index, invalid UTF-8 …
            raise DecodeError(f"corrupt body for {version.name} (fingerprint 0x{version.fingerprint}): "
                              f"{type(exc).__name__}: {exc}") from exc
        rest = len(data) - buf.tell()
        if rest:
            raise DecodeError(f"{rest} trailing bytes after the {version.name} body "
                              f"(fingerprint 0x{version.fingerprint})")
        return version.name, value

    # -- schema catalogue ------------------------------------------------------------------------

    def fingerprint(self, record_name: str) -> str:
        try:
            return self._current[record_name].fingerprint
        except KeyError:
            raise KeyError(f"unknown record {record_name!r}; known: {sorted(self._current)}") from None

    def record_names(self) -> list[str]:
        return sorted(self._current)

    def schemas(self) -> list[dict]:
        return [self._describe(v) for _, v in sorted(self._current.items())]

    def schema_by_fingerprint(self, fp: str) -> dict | None:
        """Any schema this hub can decode, current or released; `fp` is 16 hex chars as in
        `fingerprint()` (the wire order), with or without a 0x prefix."""
        if not isinstance(fp, str):
            return None
        text = fp.strip().lower().removeprefix("0x")
        if len(text) != 16:
            return None
        try:
            version = self._by_fingerprint.get(bytes.fromhex(text))
        except ValueError:
            return None
        return None if version is None else self._describe(version)

    def _describe(self, version: _Version) -> dict:
        return {
            "name": version.name,
            "fingerprint": version.fingerprint,
            "topics": [t for t, n in TOPIC_SCHEMAS.items() if n == version.name],
            "schema": copy.deepcopy(version.raw),
        }


def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        raw = json.load(fh)
    if raw.get("type") != "record" or raw.get("namespace") != NAMESPACE:
        raise ValueError(f"{path}: expected a record in namespace {NAMESPACE}")
    return raw


def _no_marker(data: bytes) -> str:
    head = data[:2].hex() or "nothing"
    return (f"no single-object marker: message starts with 0x{head}, expected 0xc301 "
            f"(Avro single-object encoding); {len(data)} bytes")


def cloudevent_headers(
    *, ce_id: str, source: str, type: str, time: str, subject: str | None = None
) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binary-mode headers; `ce_id` is the idempotency key."""
    for name, value in (("ce_id", ce_id), ("source", source), ("type", type), ("time", time)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"cloudevent header {name} must be a non-empty string, got {value!r}")
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce_id.encode("utf-8")),
        ("ce_source", source.encode("utf-8")),
        ("ce_type", type.encode("utf-8")),
        ("ce_time", time.encode("utf-8")),
    ]
    if subject is not None:
        headers.append(("ce_subject", subject.encode("utf-8")))
    headers.append(("content-type", CONTENT_TYPE.encode("ascii")))
    return headers


def header_dict(headers: Iterable[tuple[str, Any]] | Mapping[str, Any] | None) -> dict[str, str]:
    """Kafka headers (a list of pairs, as aiokafka gives them, or a mapping, as Faust may) as
    text; a repeated header keeps its last value; undecodable bytes are replaced, not fatal."""
    if not headers:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for key, value in pairs:
        if isinstance(key, (bytes, bytearray)):
            key = bytes(key).decode("utf-8", "replace")
        if value is None:
            out[key] = ""
        elif isinstance(value, (bytes, bytearray, memoryview)):
            out[key] = bytes(value).decode("utf-8", "replace")
        else:
            out[key] = str(value)
    return out
