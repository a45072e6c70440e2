"""The generated Avro readers (schemas/fastread.py) give what fastavro gives, value for value
and type for type, and malformed bodies get fastavro's answer (the same value or the same
DecodeError)."""
from __future__ import annotations

import random

import pytest

from schemas.codec import Codec, DecodeError

from .test_codec import RECORDS


@pytest.fixture(scope="module")
def codecs() -> tuple[Codec, Codec]:
    fast, plain = Codec(), Codec()
    for version in plain._by_fingerprint.values():
        version.fast_read = None  # fastavro only
    fast.decode(fast.encode("ClockTick", RECORDS["ClockTick"]))
    assert any(callable(v.fast_read) for v in fast._by_fingerprint.values())
    return fast, plain


def _typed(value):
    """The value with the type of every leaf, so True/1 or Decimal('1.0')/Decimal('1.00') differ."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, repr(value))


def _outcome(codec: Codec, data: bytes):
    try:
        name, value = codec.decode(data)
    except DecodeError as exc:
        return ("error", str(exc))
    return (name, _typed(value))


def _samples(codec: Codec) -> list[bytes]:
    out = [codec.encode(name, rec) for name, rec in RECORDS.items()]
    out.append(codec.encode("CaseEvent", {**RECORDS["CaseEvent"], "fine_amount": None, "amount_involved": None}))
    return out


def test_generated_readers_match_fastavro_on_every_record_type(codecs):
    fast, plain = codecs
    for data in _samples(plain):
        assert _outcome(fast, data) == _outcome(plain, data)
        assert _outcome(fast, data)[0] != "error"


def test_generated_readers_match_fastavro_on_synthetic_intake(codecs):
    """Every record the realistic generator makes (zhongshu/synth.py), validated, tokenised and
    encoded as intake does (bench.workload.Encoder), and the clock ticks."""
    from bench.workload import Encoder
    from zhongshu.synth import generate

    fast, plain = codecs
    enc = Encoder(4)
    kinds = set()
    for item in generate(seed=7).items:
        msgs = enc.tick(item.record["at"]) if item.kind == "tick" else [enc.record(item.kind, item.record)]
        for _, _, value, _, _ in msgs:
            assert _outcome(fast, value) == _outcome(plain, value)
        kinds.add(item.kind)
    assert {"workorder", "inspection", "case", "credit", "transfer", "tick"} <= kinds


def test_malformed_bodies_get_fastavro_s_answer(codecs):
    """Byte flips, truncations and extensions of valid messages: the generated reader may only
    accept what fastavro accepts, with the same value."""
    fast, plain = codecs
    rng = random.Random(20260507)
    for data in _samples(plain):
        for _ in range(400):
            b = bytearray(data)
            what = rng.random()
            if what < 0.6:
                for _ in range(rng.randint(1, 3)):
                    i = rng.randrange(10, len(b))
                    b[i] = rng.choice((0, 1, 2, 3, 0x7F, 0x80, 0xFF, rng.randrange(256)))
            elif what < 0.8:
                del b[rng.randrange(10, len(b)):]
            else:
                b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
            assert _outcome(fast, bytes(b)) == _outcome(plain, bytes(b)), bytes(b).hex()
