"""One `zhongshu up` for the security tests (session broker, its own PostgreSQL database,
consumer group and token secret), and helpers to call it as each role."""
from __future__ import annotations

import os
import uuid

import httpx
import pytest

from tests.conftest import start_hub, stop_hub


@pytest.fixture(scope="package")
def sec_hub(tmp_path_factory, kafka_bootstrap, pg_server):
    if pg_server is None:
        db = os.environ["ZHONGSHU_TEST_DATABASE_URL"]
    else:
        db = pg_server.create_database(f"sec_{uuid.uuid4().hex[:8]}")
    secret = "security-" + uuid.uuid4().hex
    hub = start_hub(tmp_path_factory.mktemp("security"), {
        "ZHONGSHU_BROKER": kafka_bootstrap, "ZHONGSHU_DATABASE_URL": db,
        "ZHONGSHU_APP_ID": f"zhongshu-sec-{uuid.uuid4().hex[:8]}", "ZHONGSHU_TOKEN_SECRET": secret,
    }, from_log_end=True)
    hub.secret = secret
    hub.pg = pg_server
    try:
        yield hub
    finally:
        stop_hub(hub)


def as_role(hub, role: str, region: str | None = None, label: str | None = None) -> httpx.Client:
    args = ["keys", "create", "--role", role] + (["--region", region] if region else []) + \
        (["--label", label] if label else [])
    key = hub.cli(*args).stdout.strip()
    client = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    client.key = key
    return client
