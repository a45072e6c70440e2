"""`zhongshu topics create` on a real broker: new topics get the catalog's settings, and topics
made before a setting existed are brought up to it."""
from __future__ import annotations

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from streams.topics import REFERENCE_MAX_BYTES, create_topics

pytestmark = pytest.mark.integration


def _setting(admin, topic: str, name: str):
    """The value of one topic setting as the broker reports it (default or set)."""
    result = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
    (by_name,) = result.values()
    entry = by_name[topic].get(name)
    return entry.get("value") if isinstance(entry, dict) else entry


def test_reference_topics_take_a_whole_city_set_even_when_created_before_the_limit(kafka_bootstrap):
    create_topics(kafka_bootstrap, 4)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        topic = "reference.officers"
        assert int(_setting(admin, topic, "max.message.bytes")) == REFERENCE_MAX_BYTES
        assert _setting(admin, topic, "cleanup.policy") == "compact"
        # a topic from before the limit: Kafka's 1 MB default
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                            configs={"max.message.bytes": "1048588"})])
        assert int(_setting(admin, topic, "max.message.bytes")) == 1048588
        create_topics(kafka_bootstrap, 4)
        assert int(_setting(admin, topic, "max.message.bytes")) == REFERENCE_MAX_BYTES
        assert _setting(admin, topic, "cleanup.policy") == "compact"  # the other settings stayed
        assert _setting(admin, "hotline.workorders", "max.message.bytes") != str(REFERENCE_MAX_BYTES)
    finally:
        admin.close()
