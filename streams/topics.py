"""Topic catalog (主题目录) of DESIGN.md §5 and idempotent creation."""
from __future__ import annotations

from dataclasses import dataclass

REFERENCE_KINDS = (
    "benchmarks", "no-penalty-items", "criminal-thresholds", "agencies", "officers",
    "inspection-plans", "inspection-caps", "fine-lines", "holidays",
)


# A reference set (参考数据) is one message holding the whole set: a city's officers or inspection
# plans pass Kafka's 1 MB default. Reference topics, the worker's reference changelog and every
# producer that writes them allow this much (the intake body limit, max_body_bytes, is below it).
REFERENCE_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    keyed: bool = True            # keyed topics share the configured partition count (co-partitioning)
    compacted: bool = False
    retention_ms: int = -1        # -1 = forever (the log is the system of record)
    description: str = ""


CATALOG: tuple[TopicSpec, ...] = (
    TopicSpec("hotline.workorders", description="12345 工单"),
    TopicSpec("enforcement.inspections", description="行政检查"),
    TopicSpec("enforcement.cases", description="行政处罚案件生命周期"),
    TopicSpec("credit.events", description="信用事件"),
    TopicSpec("justice.transfers", description="行刑衔接"),
    *(TopicSpec(f"reference.{k}", keyed=False, compacted=True, description="参考数据") for k in REFERENCE_KINDS),
    TopicSpec("hub.clock", retention_ms=7 * 24 * 3600 * 1000, description="时钟"),
    TopicSpec("hub.facts-by-enterprise", description="按企业重分区的案件事实 (internal)"),
    TopicSpec("hub.facts-by-agency", description="按机关重分区的案件事实 (internal)"),
    TopicSpec("supervision.leads", description="监督线索"),
    TopicSpec("supervision.lead-actions", description="线索处置动作"),
    TopicSpec("credit.repair-triggers", description="信用修复触发"),
    TopicSpec("hub.deadletter", description="死信"),
)

INGRESS_TOPICS = (
    "hotline.workorders", "enforcement.inspections", "enforcement.cases",
    "credit.events", "justice.transfers",
)
REFERENCE_TOPICS = tuple(f"reference.{k}" for k in REFERENCE_KINDS)
INTERNAL_TOPICS = ("hub.facts-by-enterprise", "hub.facts-by-agency")
DERIVED_TOPICS = ("supervision.leads", "supervision.lead-actions", "credit.repair-triggers")


def partitions_for(spec: TopicSpec, partitions: int) -> int:
    return partitions if spec.keyed else 1


def topic_configs(spec: TopicSpec) -> dict[str, str]:
    cfg = {"cleanup.policy": "compact" if spec.compacted else "delete",
           "retention.ms": str(spec.retention_ms)}
    if spec.compacted:
        cfg["min.compaction.lag.ms"] = "0"
    if spec.name.startswith("reference."):
        cfg["max.message.bytes"] = str(REFERENCE_MAX_BYTES)
    return cfg


def create_topics(bootstrap: str, partitions: int, client_kwargs: dict | None = None) -> list[str]:
    """Create every catalog topic that does not exist yet; returns the names created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="zhongshu-topics",
                             **(client_kwargs or {}))
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(name=s.name, num_partitions=partitions_for(s, partitions),
                     replication_factor=1, topic_configs=topic_configs(s))
            for s in CATALOG if s.name not in existing
        ]
        created = []
        for topic in new:  # one by one: a concurrent creator must not fail the whole batch
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        _raise_message_limits(admin, existing)
        return created
    finally:
        admin.close()


def _raise_message_limits(admin, existing: set) -> None:
    """Topics created before REFERENCE_MAX_BYTES existed keep Kafka's 1 MB limit: raise it
    (an incremental SET: the topics' other settings stay; idempotent)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    names = [s.name for s in CATALOG if s.name.startswith("reference.") and s.name in existing]
    names += [t for t in existing if t.endswith("-reference-changelog")]
    if names:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name,
                                            configs={"max.message.bytes": str(REFERENCE_MAX_BYTES)})
                             for name in names])
