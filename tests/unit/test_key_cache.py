"""The API's key cache (projections/hub.py): a cached key is answered without the database, a
flood of unknown keys does not grow the cache past KEY_CACHE_MAX, and lookups from many threads
at once do not break it. SQLite: the embedded default, enough for a cache in front of one table."""
from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import projections.hub as hubmod
from projections.auth import create_key
from projections.hub import Hub
from zhongshu.config import Settings


def test_known_keys_are_cached_and_a_flood_of_unknown_keys_stays_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(hubmod, "KEY_CACHE_MAX", 200)
    hub = Hub(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'k.db'}", token_secret="t"))
    with hub.Session() as s, s.begin():
        key = create_key(s, "enforcement")
    assert hub.cached_principal(key) == (False, None)
    assert hub.principal(key).role == "enforcement"
    known, p = hub.cached_principal(key)
    assert known and p.role == "enforcement"

    unknown = [f"zs_{secrets.token_hex(6)}_{secrets.token_urlsafe(24)}" for _ in range(2000)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(hub.principal, unknown))
    assert answers == [None] * len(unknown)
    assert len(hub._keys) <= 200, len(hub._keys)
    assert hub.principal(key).role == "enforcement"  # still answered (from the database if it was dropped)
