"""rocksdb:// tables get bounded RocksDB memory (Faust's defaults: 2 GiB block cache and 3 x 64
MiB memtables per table partition); memory:// tables get no RocksDB options."""
from __future__ import annotations

from faust.stores.rocksdb import RocksDBOptions

from streams import app as worker


def test_rocksdb_tables_get_the_configured_bounds_and_rocksdb_accepts_them(monkeypatch):
    monkeypatch.setattr(worker.settings, "store", "rocksdb://")
    monkeypatch.setattr(worker.settings, "rocksdb_block_cache_mib", 16)
    monkeypatch.setattr(worker.settings, "rocksdb_write_buffer_mib", 8)
    opts = worker.store_options()
    assert opts == {"block_cache_size": 16 * 2**20, "write_buffer_size": 8 * 2**20, "max_write_buffer_number": 2}
    bounded = RocksDBOptions(**opts)
    assert bounded.block_cache_size == 16 * 2**20 and bounded.max_write_buffer_number == 2
    assert bounded.as_options() is not None  # rocksdict takes them as Faust passes them


def test_memory_tables_get_no_rocksdb_options(monkeypatch):
    monkeypatch.setattr(worker.settings, "store", "memory://")
    assert worker.store_options() is None
