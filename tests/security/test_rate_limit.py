"""Intake rate limits: a token bucket per API key (`intake_rate_per_second`, `intake_burst`);
beyond it intake answers 429 with Retry-After, other keys are not affected."""
from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy.orm import Session

from projections import hub as hub_module
from projections.hub import RateLimiter
from tests.faults.support import record

INTAKE = "/api/v1/intake/hotline/workorders"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_bucket_lets_a_burst_through_then_the_rate(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(hub_module.time, "monotonic", clock)
    limiter = RateLimiter(rate=2, burst=3)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(0.5)          # the next token in half a second
    assert limiter.take("b") == 0                            # every key has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == 0 and limiter.take("a") == pytest.approx(0.5)
    clock.now += 60                                          # refills up to the burst, not beyond
    assert [limiter.take("a") for _ in range(4)][-1] > 0
    assert RateLimiter(rate=0, burst=1).take("a") == 0 and RateLimiter(rate=0, burst=1).take("a") == 0


@pytest.mark.integration
def test_intake_answers_429_with_retry_after_per_key(tmp_path, kafka_bootstrap, monkeypatch):
    """The real API (in process, real broker) configured through the environment."""
    from fastapi.testclient import TestClient

    from projections.api import create_app
    from projections.auth import create_key
    from projections.db import make_engine
    from projections.schema import ensure_schema
    from zhongshu.config import load_settings

    monkeypatch.setenv("ZHONGSHU_INTAKE_RATE_PER_SECOND", "2")
    monkeypatch.setenv("ZHONGSHU_INTAKE_BURST", "5")
    settings = load_settings(None, home=tmp_path, broker=kafka_bootstrap, token_secret="rate-" + uuid.uuid4().hex,
                             database_url=f"sqlite:///{tmp_path / 'rate.db'}")
    assert (settings.intake_rate_per_second, settings.intake_burst) == (2.0, 5)
    engine = make_engine(settings.db_url)
    ensure_schema(engine)
    with Session(engine) as s, s.begin():
        one, two = create_key(s, "hotline"), create_key(s, "hotline")
    engine.dispose()

    with TestClient(create_app(settings)) as api:
        def post(key):  # an empty list: charged, then refused by validation (nothing appended)
            return api.post(INTAKE, json=[], headers={"Authorization": f"Bearer {key}"})

        first = [post(one).status_code for _ in range(5)]
        assert first == [422] * 5
        limited = post(one)
        assert limited.status_code == 429, limited.text
        wait = int(limited.headers["retry-after"])
        assert wait == 1 and "rate limit" in limited.json()["title"]
        assert post(two).status_code == 422, "another key has its own budget"
        # the rule holds over time: about `rate` per second once the burst is spent
        started, passed, refused = time.monotonic(), 0, 0
        while time.monotonic() - started < 3:
            r = post(one)
            passed += r.status_code == 422
            refused += r.status_code == 429
            time.sleep(0.05)
        assert 4 <= passed <= 8 and refused > passed
        time.sleep(wait)
        assert post(one).status_code == 422
    record("security_rate_limit", rate_per_second=2, burst=5, burst_passed=5, then="429 + Retry-After",
           in_3_seconds_passed=passed, in_3_seconds_refused=refused)
