"""Configuration (配置): defaults < config file < environment variables.

The config file is `zhongshu.toml` in the working directory, or the path in ZHONGSHU_CONFIG.
Every key can be overridden by an environment variable ZHONGSHU_<KEY upper-cased>, e.g.
ZHONGSHU_DATABASE_URL. See deploy/zhongshu.example.toml for every key with its meaning.
"""
from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass
class Settings:
    home: Path = Path("var")                 # state of the embedded default (Kafka data, SQLite, secret)
    broker: str = ""                         # host:port[,host:port]; empty = start the embedded local Kafka
    kafka_port: int = 19092                  # port of the embedded local Kafka (controller = port + 1)
    partitions: int = 4                      # partitions of every keyed topic (scale-out unit)
    database_url: str = ""                   # SQLAlchemy URL; empty = sqlite:///<home>/zhongshu.db
    api_host: str = "127.0.0.1"
    api_port: int = 8040
    clock: str = "manual"                    # manual: time moves only by ticks; wall: a wall-clock ticker
    tick_interval: float = 60.0              # seconds between wall-clock ticks
    token_secret: str = ""                   # HMAC key for complainant tokens; empty = generated into <home>/secret
    app_id: str = "zhongshu"                 # Faust app id = consumer group of the stream workers
    store: str = "memory://"                 # Faust table store: memory:// or rocksdb:// (rocksdict, for large state)
    rocksdb_block_cache_mib: int = 16        # rocksdb:// read cache per table partition (Faust's default: 2 GiB each)
    rocksdb_write_buffer_mib: int = 8        # rocksdb:// memtable size per table partition, two of them (Faust: 3 x 64 MiB)
    standby_replicas: int = 1                # Faust standby copies of each table partition (faster fail-over)
    kafka_security_protocol: str = "PLAINTEXT"   # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    kafka_sasl_mechanism: str = ""           # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_ssl_cafile: str = ""
    stall_seconds: float = 60.0              # a consumer that has not moved this long with records waiting is stalled
    max_body_bytes: int = 5_000_000          # intake request size limit (413 above it)
    intake_rate_per_second: float = 50.0     # intake requests per second per API key (token bucket); 0 = no limit
    intake_burst: int = 200                  # requests a key may send at once before the rate applies (429 beyond)
    intake_send_timeout: float = 10.0        # seconds intake waits for the broker to take a record (503 after)
    intake_claim_lease: float = 30.0         # seconds before a record claimed by a vanished API process is recovered
    log_level: str = "INFO"
    event_loop: str = "uvloop"               # uvloop: libuv loop (+ httptools parser in the API); asyncio: the standard library's
    fetch_min_bytes: int = 65536             # a worker's or projector's fetch waits for this many bytes ...
    fetch_max_wait_ms: int = 50              # ... or this long: fewer, fuller fetches (bench/RESULTS.md "Session 6")
    extra: dict = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.broker or f"127.0.0.1:{self.kafka_port}"

    @property
    def embedded_kafka(self) -> bool:
        return not self.broker

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'zhongshu.db').resolve()}"

    def secret_bytes(self) -> bytes:
        if self.token_secret:
            return self.token_secret.encode()
        path = self.home / "secret"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    def kafka_client_kwargs(self) -> dict:
        """SASL/TLS settings in kafka-python's terms (KafkaConsumer, KafkaProducer, KafkaAdminClient).

        aiokafka takes the CA file as an `ssl_context` instead: see `aiokafka_client_kwargs`
        (connectors/kafka.py converts for every aiokafka client); Faust: `faust_broker_credentials`."""
        kw: dict = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_sasl_mechanism:
            kw.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password,
            )
        if self.kafka_ssl_cafile:
            kw["ssl_cafile"] = self.kafka_ssl_cafile
        return kw

    def aiokafka_client_kwargs(self) -> dict:
        """The same settings for aiokafka (producer, consumer, admin)."""
        return aiokafka_kwargs(self.kafka_client_kwargs())

    def faust_broker_credentials(self):
        """`broker_credentials` for faust.App: None for PLAINTEXT, else SSL/SASL credentials that
        Faust turns into the same aiokafka settings as `aiokafka_client_kwargs`."""
        import faust

        protocol = self.kafka_security_protocol.upper()
        if protocol == "PLAINTEXT":
            return None
        context = _ssl_context(self.kafka_ssl_cafile) if protocol in ("SSL", "SASL_SSL") else None
        if protocol == "SSL":
            return faust.SSLCredentials(context)
        return faust.SASLCredentials(username=self.kafka_sasl_username, password=self.kafka_sasl_password,
                                     ssl_context=context, mechanism=self.kafka_sasl_mechanism or "PLAIN")

    def to_env(self) -> dict[str, str]:
        """Environment for child processes, so `zhongshu up`'s children share one configuration."""
        env = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            env[f"ZHONGSHU_{f.name.upper()}"] = str(value.resolve() if isinstance(value, Path) else value)
        env["ZHONGSHU_DATABASE_URL"] = self.db_url
        env["ZHONGSHU_BROKER"] = self.bootstrap
        return env


def _ssl_context(cafile: str | None):
    from aiokafka.helpers import create_ssl_context

    return create_ssl_context(cafile=cafile or None)


def aiokafka_kwargs(kw: dict) -> dict:
    """kafka-python style client settings → aiokafka's: the CA file becomes an SSL context
    (aiokafka has no `ssl_cafile`), and TLS protocols get a default-verifying context."""
    out = dict(kw)
    cafile = out.pop("ssl_cafile", None)
    if "ssl_context" not in out and (cafile or str(out.get("security_protocol", "")).upper() in ("SSL", "SASL_SSL")):
        out["ssl_context"] = _ssl_context(cafile)
    return out


def load_settings(config_file: str | os.PathLike | None = None, **overrides) -> Settings:
    values: dict = {}
    path = Path(config_file or os.environ.get("ZHONGSHU_CONFIG") or "zhongshu.toml")
    if path.exists():
        with open(path, "rb") as fh:
            values.update(tomllib.load(fh))
    for f in fields(Settings):
        env = os.environ.get(f"ZHONGSHU_{f.name.upper()}")
        if env is not None and f.name != "extra":
            values[f.name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f for f in fields(Settings)}
    kwargs, extra = {}, {}
    for key, value in values.items():
        if key not in known:
            extra[key] = value
            continue
        default = known[key].default
        if isinstance(default, bool):
            value = str(value).lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
        elif isinstance(default, Path):
            value = Path(value)
        kwargs[key] = value
    settings = Settings(**kwargs, extra=extra)
    if settings.clock not in ("manual", "wall"):
        raise ValueError(f"clock {settings.clock!r}: expected 'manual' or 'wall'")
    return settings
