"""Kafka families: per broker, per group, per partition and cluster totals."""

from broker_lag_exporter.join.lag import LagView
from broker_lag_exporter.metrics.families import Families
from broker_lag_exporter.model.kafka import KafkaSnapshot

BROKER = (
    "kafka_broker_up",
    "kafka_broker_metadata_info",
    "kafka_broker_consumer_lag_messages",
    "kafka_broker_group_lag_messages",
    "kafka_broker_leader_partitions",
    "kafka_broker_replica_partitions",
    "kafka_broker_leader_share_ratio",
    "kafka_broker_topics_led",
    "kafka_broker_under_replicated_partitions",
    "kafka_broker_offline_partitions",
    "kafka_broker_preferred_leader_imbalance",
    "kafka_broker_consumer_lag_seconds_max",
)
GROUP = (
    "kafka_group_lag_messages",
    "kafka_group_members",
    "kafka_group_members_age_seconds",
    "kafka_group_info",
    "kafka_group_committed_partitions",
    "kafka_group_uncommitted_partitions",
    "kafka_group_lag_seconds",
    "kafka_group_rebalances_total",
    "kafka_group_lag_seconds_staleness_seconds",
    "kafka_group_offsets_age_seconds",
    "kafka_group_offset_out_of_range_partitions",
)
TOPIC = (
    "kafka_group_topic_lag_messages",
    "kafka_group_topic_committed_offsets",
    "kafka_group_topic_lag_seconds",
    "kafka_topic_end_offsets",
    "kafka_topic_metadata_partitions",
)
PARTITION = ("kafka_partition_lag_messages", "kafka_partition_lag_seconds")
CLUSTER = (
    "kafka_cluster_partitions",
    "kafka_cluster_brokers",
    "broker_lag_exporter_kafka_requests",
    "broker_lag_exporter_kafka_request_errors_total",
    "broker_lag_exporter_lag_seconds_partitions",
)


def broker_metrics(view: LagView, snapshot: KafkaSnapshot) -> Families:
    """Return every per-broker family."""
    out = Families(BROKER)
    for row in view.brokers:
        b = (row.broker_id,)
        out.add("kafka_broker_up", b, int(row.up))
        out.add("kafka_broker_consumer_lag_messages", b, row.lag)
        out.add("kafka_broker_leader_partitions", b, row.leader_partitions)
        out.add("kafka_broker_replica_partitions", b, row.replica_partitions)
        out.add("kafka_broker_leader_share_ratio", b, row.leader_share)
        out.add("kafka_broker_topics_led", b, row.topics_led)
        out.add("kafka_broker_under_replicated_partitions", b, row.under_replicated)
        out.add("kafka_broker_offline_partitions", b, row.offline)
        out.add("kafka_broker_preferred_leader_imbalance", b, row.preferred_imbalance)
    for broker in snapshot.brokers.values():
        out.info("kafka_broker_metadata_info", (broker.id, broker.host, broker.port, broker.rack or ""))
    for broker_id, seconds in sorted(view.broker_lag_seconds_max.items()):
        out.add("kafka_broker_consumer_lag_seconds_max", (broker_id,), seconds)
    for (broker_id, group), value in sorted(view.broker_group_lag.items()):
        out.add("kafka_broker_group_lag_messages", (broker_id, group), value)
    return out


def group_metrics(view: LagView) -> Families:
    """Return every per-group family."""
    out = Families(GROUP)
    for row in view.groups:
        g = row.group
        if g.members_age_seconds is not None:  # not described: unknown, not a false 0
            out.add("kafka_group_members", (g.name,), len(g.members))
            out.add("kafka_group_members_age_seconds", (g.name,), g.members_age_seconds)
        out.info("kafka_group_info", (g.name, g.state, g.protocol_type, g.coordinator))
        out.add("kafka_group_uncommitted_partitions", (g.name,), row.uncommitted_partitions)
        out.add("kafka_group_rebalances_total", (g.name,), row.rebalances)
        if g.offsets_age_seconds is None:
            continue  # offsets never read (or too old): no lag rather than a false 0
        out.add("kafka_group_lag_messages", (g.name,), row.lag)
        out.add("kafka_group_committed_partitions", (g.name,), row.committed_partitions)
        out.add("kafka_group_offsets_age_seconds", (g.name,), g.offsets_age_seconds)
        out.add("kafka_group_offset_out_of_range_partitions", (g.name,), row.out_of_range_partitions)
        if row.lag_seconds is not None:
            out.add("kafka_group_lag_seconds", (g.name,), row.lag_seconds)
            out.add("kafka_group_lag_seconds_staleness_seconds", (g.name,), row.lag_seconds_staleness)
    return out


def topic_metrics(view: LagView) -> Families:
    """Return per-topic families (rendered with topic or partition granularity)."""
    out = Families(TOPIC)
    for r in view.group_topics:
        gt = (r.group, r.topic)
        out.add("kafka_group_topic_lag_messages", gt, r.lag)
        out.add("kafka_group_topic_committed_offsets", gt, r.committed_sum)
        if r.lag_seconds is not None:
            out.add("kafka_group_topic_lag_seconds", gt, r.lag_seconds)
    for t in view.topics:
        out.add("kafka_topic_end_offsets", (t.topic,), t.end_offset_sum)
        out.add("kafka_topic_metadata_partitions", (t.topic,), t.partitions)
    return out


def partition_metrics(view: LagView) -> Families:
    """Return per-partition lag (only rendered with partition granularity)."""
    out = Families(PARTITION)
    for p in view.partition_lag:
        labels = (p.group, p.topic, p.partition, p.broker_id)
        out.add("kafka_partition_lag_messages", labels, p.lag)
        if p.lag_seconds is not None:
            out.add("kafka_partition_lag_seconds", labels, p.lag_seconds)
    return out


def cluster_metrics(view: LagView, snapshot: KafkaSnapshot) -> Families:
    """Return cluster totals, Kafka requests of the last poll and failed requests of the whole run."""
    out = Families(CLUSTER)
    out.add("kafka_cluster_partitions", (), view.partitions)
    out.add("kafka_cluster_brokers", (), len(snapshot.brokers))
    out.add("broker_lag_exporter_kafka_requests", (), snapshot.requests)
    for kind, count in sorted(snapshot.errors_total.items()):
        out.add("broker_lag_exporter_kafka_request_errors_total", (kind,), count)
    for state, count in sorted(view.lag_seconds_states.items()):
        out.add("broker_lag_exporter_lag_seconds_partitions", (state,), count)
    return out
