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
    standby_replicas: int = 1                # Faust standby copies of each table partition (faster fail-over)
    kafka_security_protocol: str = "PLAINTEXT"   # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    kafka_sasl_mechanism: str = ""           # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_ssl_cafile: str = ""
    stall_seconds: float = 60.0              # a consumer that has not moved this long with records waiting is stalled
    max_body_bytes: int = 5_000_000          # intake request size limit (413 above it)
    log_level: str = "INFO"
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
        """SASL/TLS settings passed through to aiokafka / Faust / kafka-python clients."""
        kw: dict = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_sasl_mechanism:
            kw.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password,
            )
        return kw

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
