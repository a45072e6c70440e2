"""Kafka SASL/TLS settings reach every kind of client the hub builds: kafka-python (projector,
topic creation, clock, rebuild), aiokafka (API producer and log positions, file import, pull
connectors) and Faust (stream workers)."""
from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import certifi
import pytest

from connectors import kafka as kafka_edge
from zhongshu.config import Settings, aiokafka_kwargs

REPO = Path(__file__).resolve().parents[2]
CAFILE = certifi.where()  # any PEM bundle stands in for the cluster's CA


def secured(**over) -> Settings:
    return Settings(**{"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512",
                       "kafka_sasl_username": "zhongshu", "kafka_sasl_password": "s3cret", "kafka_ssl_cafile": CAFILE,
                       **over})


def loaded_cas(context: ssl.SSLContext) -> int:
    return len(context.get_ca_certs())


def test_plaintext_is_the_default_and_adds_nothing():
    s = Settings()
    assert s.kafka_client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert s.aiokafka_client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert s.faust_broker_credentials() is None


def test_kafka_python_clients_take_every_setting_including_the_ca_file():
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    kw = secured().kafka_client_kwargs()
    assert kw == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                  "sasl_plain_username": "zhongshu", "sasl_plain_password": "s3cret", "ssl_cafile": CAFILE}
    for client in (KafkaConsumer, KafkaProducer, KafkaAdminClient):
        assert set(kw) <= set(client.DEFAULT_CONFIG), f"{client.__name__} does not know {set(kw) - set(client.DEFAULT_CONFIG)}"
    # a real consumer built the way the projector builds it keeps them (it connects only when used)
    consumer = KafkaConsumer(bootstrap_servers="127.0.0.1:9", api_version=(2, 5), enable_auto_commit=False,
                             group_id=None, **kw)
    try:
        assert {k: consumer.config[k] for k in kw} == kw
    finally:
        consumer.close()


async def test_aiokafka_clients_get_an_ssl_context_built_from_the_ca_file():
    from aiokafka import AIOKafkaConsumer

    producer = kafka_edge.producer("127.0.0.1:9", secured().kafka_client_kwargs())
    client = producer.client
    assert client._security_protocol == "SASL_SSL" and client._sasl_mechanism == "SCRAM-SHA-512"
    assert (client._sasl_plain_username, client._sasl_plain_password) == ("zhongshu", "s3cret")
    assert isinstance(client._ssl_context, ssl.SSLContext) and loaded_cas(client._ssl_context) > 0
    assert client._ssl_context.verify_mode == ssl.CERT_REQUIRED and client._ssl_context.check_hostname
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", **aiokafka_kwargs(secured().kafka_client_kwargs()))
    assert consumer._client._security_protocol == "SASL_SSL" and loaded_cas(consumer._client._ssl_context) > 0
    # TLS without a CA file verifies against the system's CAs rather than not at all
    bare = Settings(kafka_security_protocol="SSL").aiokafka_client_kwargs()
    assert bare["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_faust_gets_the_same_settings_as_broker_credentials():
    import faust
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    for s in (secured(), secured(kafka_security_protocol="SASL_PLAINTEXT", kafka_ssl_cafile=""),
              Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=CAFILE)):
        app = faust.App("kafka-settings-test", broker="kafka://127.0.0.1:9", broker_credentials=s.faust_broker_credentials())
        got = credentials_to_aiokafka_auth(app.conf.broker_credentials)
        want = s.aiokafka_client_kwargs()
        assert {k: v for k, v in got.items() if k != "ssl_context" and v is not None} == \
            {k: v for k, v in want.items() if k != "ssl_context"}
        assert (got.get("ssl_context") is None) == (want.get("ssl_context") is None)
        if want.get("ssl_context") is not None:
            assert loaded_cas(got["ssl_context"]) == loaded_cas(want["ssl_context"]) > 0


def test_the_stream_workers_app_is_built_with_the_configured_credentials():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
    env.update({"PYTHONPATH": str(REPO), "ZHONGSHU_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "ZHONGSHU_KAFKA_SASL_MECHANISM": "PLAIN", "ZHONGSHU_KAFKA_SASL_USERNAME": "zhongshu",
                "ZHONGSHU_KAFKA_SASL_PASSWORD": "s3cret", "ZHONGSHU_KAFKA_SSL_CAFILE": CAFILE})
    code = ("from streams.app import app; from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth as a;"
            "import json; d = a(app.conf.broker_credentials); d.pop('ssl_context', None); print(json.dumps(d))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_plain_username": "zhongshu",
                   "sasl_plain_password": "s3cret"}
