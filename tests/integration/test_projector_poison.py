"""A record the projector cannot project is passed over; the records around it are projected."""
from __future__ import annotations

import uuid

import pytest
from kafka import KafkaProducer
from sqlalchemy import select

from projections.db import make_engine
from projections.models import Lead
from projections.projector import Projector, load_offsets
from schemas.codec import Codec
from streams.rules.base import make_lead

pytestmark = pytest.mark.integration


def lead(n: str, detected_at: str, region_code: str = "330203") -> dict:
    return make_lead(rule_code="INSP_NO_CODE", rule_name="未亮码检查", severity="中", subject_type="agency",
                     subject_id=f"AG{n}", subject_name=None, finding_key=n, agency_code=None, region_code=region_code,
                     detected_at=detected_at, evidence=[], explanation="测试")


def test_poison_record_is_skipped_and_projection_goes_on(kafka_bootstrap, pg_url):
    codec = Codec()
    tag = uuid.uuid4().hex[:8]
    good1, poison, good2 = (lead(f"{tag}-1", "2026-05-06T09:30:00+08:00"),
                            # a region code longer than its column: PostgreSQL refuses the row
                            lead(f"{tag}-2", "2026-05-06T09:30:00+08:00", region_code="3302" * 20),
                            lead(f"{tag}-3", "2026-05-07T09:30:00+08:00"))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for rec in (good1, poison, good2):
        producer.send("supervision.leads", key=rec["lead_id"].encode(), value=codec.encode("Lead", rec), partition=0)
    producer.flush()

    engine = make_engine(pg_url)
    projector = Projector(engine, kafka_bootstrap, topics=("supervision.leads",))
    projector.run(once=True)

    with engine.connect() as c:
        ids = set(c.execute(select(Lead.lead_id).where(Lead.subject_id.like(f"AG{tag}%"))).scalars())
    assert ids == {good1["lead_id"], good2["lead_id"]}
    offsets = load_offsets(projector.Session)
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    end = consumer.end_offsets([TopicPartition("supervision.leads", 0)])[TopicPartition("supervision.leads", 0)]
    consumer.close()
    assert offsets[("supervision.leads", 0)] == end


def test_rebuild_passes_over_a_record_the_database_refuses_as_the_live_projector_does(tmp_path, kafka_bootstrap,
                                                                                       pg_url):
    """`projections rebuild` meets the same poison record: its batch is written again record by
    record, the refused one is logged and passed over, and the rebuild finishes with the live
    projector's tables (in parallel processes, and in one)."""
    from projections.cli import rebuild
    from streams.topics import create_topics
    from zhongshu.config import Settings

    from .test_projections_support import assert_same_tables, snapshot

    create_topics(kafka_bootstrap, 4)
    codec = Codec()
    tag = uuid.uuid4().hex[:8]
    good1, poison, good2 = (lead(f"{tag}-1", "2026-05-06T09:30:00+08:00"),
                            lead(f"{tag}-2", "2026-05-06T09:30:00+08:00", region_code="3302" * 20),
                            lead(f"{tag}-3", "2026-05-07T09:30:00+08:00"))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for rec in (good1, poison, good2):
        producer.send("supervision.leads", key=rec["lead_id"].encode(), value=codec.encode("Lead", rec), partition=0)
    producer.flush()

    engine = make_engine(pg_url)
    Projector(engine, kafka_bootstrap).run(once=True)
    live = snapshot(pg_url)
    with engine.connect() as c:
        ids = set(c.execute(select(Lead.lead_id).where(Lead.subject_id.like(f"AG{tag}%"))).scalars())
    assert ids == {good1["lead_id"], good2["lead_id"]}

    settings = Settings(home=tmp_path, broker=kafka_bootstrap, database_url=pg_url)
    for workers in (2, 1):
        result = rebuild(settings, progress=False, workers=workers)
        assert result["workers"] == workers
        assert_same_tables(live, snapshot(pg_url))  # projector_offsets too: the poison's offset is passed
    engine.dispose()
