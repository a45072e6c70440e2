"""Retry schedule of the webhook delivery (pure)."""
from __future__ import annotations

import random

import pytest

from connectors.webhooks import WebhookConfig, backoff_delay, nominal_schedule


class Fixed(random.Random):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def random(self):
        return self.value


def test_default_schedule_doubles_from_two_seconds_up_to_the_ten_minute_cap_over_twelve_attempts():
    cfg = WebhookConfig()
    assert cfg.max_attempts == 12 and cfg.timeout == 10.0
    assert nominal_schedule(cfg) == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    assert sum(nominal_schedule(cfg)) == 2222  # ≈ 37 min from the first attempt to 死信, without jitter


def test_without_a_random_share_the_delay_is_the_nominal_one():
    cfg = WebhookConfig()
    assert [backoff_delay(n, cfg, Fixed(0.0)) for n in (1, 2, 3, 9, 10, 11, 40)] == [2, 4, 8, 512, 600, 600, 600]


def test_jitter_only_shortens_the_delay_and_by_at_most_the_jitter_share():
    cfg = WebhookConfig(jitter=0.5)
    assert backoff_delay(1, cfg, Fixed(0.999999)) == pytest.approx(1.0, abs=1e-5)
    rng = random.Random(7)
    for n in range(1, 30):
        nominal = min(600, 2 * 2 ** (n - 1))
        d = backoff_delay(n, cfg, rng)
        assert nominal * 0.5 <= d <= nominal <= 600


def test_jittered_delays_spread_out():
    cfg = WebhookConfig()
    rng = random.Random(1)
    delays = {round(backoff_delay(5, cfg, rng), 3) for _ in range(50)}
    assert len(delays) > 40


def test_huge_failure_counts_stay_at_the_cap():
    assert backoff_delay(10_000, WebhookConfig(jitter=0), Fixed(0.3)) == 600


def test_failures_count_from_one():
    with pytest.raises(ValueError, match="counts from 1"):
        backoff_delay(0)


def test_schedule_is_configurable_from_the_config_file_and_the_environment():
    class S:
        extra = {"webhooks": {"backoff_base": 0.5, "max_attempts": 4, "timeout": 3}}

    cfg = WebhookConfig.from_settings(S(), environ={"ZHONGSHU_WEBHOOKS_MAX_ATTEMPTS": "5",
                                                    "ZHONGSHU_WEBHOOKS_BACKOFF_CAP": "1.5"})
    assert (cfg.backoff_base, cfg.max_attempts, cfg.timeout, cfg.backoff_cap) == (0.5, 5, 3.0, 1.5)
    assert nominal_schedule(cfg) == [0.5, 1.0, 1.5, 1.5]


def test_nonsense_configuration_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="max_attempts 0"):
        WebhookConfig(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        WebhookConfig(jitter=2)
    with pytest.raises(ValueError, match="unknown key"):
        WebhookConfig.from_settings(type("S", (), {"extra": {"webhooks": {"retries": 3}}})(), environ={})
