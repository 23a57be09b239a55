"""Kafka families: per broker, per group, per partition and cluster totals."""

from collections.abc import Iterable

from prometheus_client.core import Metric

from broker_lag_exporter.join.lag import LagView
from broker_lag_exporter.metrics.families import emit, families
from broker_lag_exporter.model import KafkaSnapshot


def broker_metrics(view: LagView, snapshot: KafkaSnapshot) -> Iterable[Metric]:
    """Yield every per-broker family."""
    up, info, lag, led, replicas, share, topics, urp, offline, imbalance = families(
        "kafka_broker_up",
        "kafka_broker_info",
        "kafka_broker_consumer_lag_messages",
        "kafka_broker_leader_partitions",
        "kafka_broker_replica_partitions",
        "kafka_broker_leader_share_ratio",
        "kafka_broker_topics_led",
        "kafka_broker_under_replicated_partitions",
        "kafka_broker_offline_partitions",
        "kafka_broker_preferred_leader_imbalance",
    )
    for row in view.brokers:
        b = (row.broker_id,)
        up.add(b, int(row.up))
        lag.add(b, row.lag)
        led.add(b, row.leader_partitions)
        replicas.add(b, row.replica_partitions)
        share.add(b, row.leader_share)
        topics.add(b, row.topics_led)
        urp.add(b, row.under_replicated)
        offline.add(b, row.offline)
        imbalance.add(b, row.preferred_imbalance)
    for broker in snapshot.brokers.values():
        info.add_info((broker.id, broker.host, broker.port, broker.rack or ""))
    (group_lag,) = families("kafka_broker_group_lag_messages")
    for (broker_id, group), value in sorted(view.broker_group_lag.items()):
        group_lag.add((broker_id, group), value)
    return emit((up, info, lag, group_lag, led, replicas, share, topics, urp, offline, imbalance))


def group_metrics(view: LagView) -> Iterable[Metric]:
    """Yield every per-group family."""
    lag, members, info, committed, uncommitted = families(
        "kafka_group_lag_messages",
        "kafka_group_members",
        "kafka_group_info",
        "kafka_group_committed_partitions",
        "kafka_group_uncommitted_partitions",
    )
    for row in view.groups:
        g = row.group
        lag.add((g.name,), row.lag)
        members.add((g.name,), len(g.members))
        info.add_info((g.name, g.state, g.protocol_type, g.coordinator))
        committed.add((g.name,), row.committed_partitions)
        uncommitted.add((g.name,), row.uncommitted_partitions)
    return emit((lag, members, info, committed, uncommitted))


def partition_metrics(view: LagView) -> Iterable[Metric]:
    """Yield per-partition lag (only rendered with partition granularity)."""
    (lag,) = families("kafka_partition_lag_messages")
    for p in view.partition_lag:
        lag.add((p.group, p.topic, p.partition, p.broker_id), p.lag)
    return emit((lag,))


def cluster_metrics(view: LagView, snapshot: KafkaSnapshot) -> Iterable[Metric]:
    """Yield cluster totals and Kafka request counters of the last poll."""
    partitions, brokers, requests, errors = families(
        "kafka_cluster_partitions",
        "kafka_cluster_brokers",
        "broker_lag_exporter_kafka_requests",
        "broker_lag_exporter_kafka_request_errors",
    )
    partitions.add((), view.partitions)
    brokers.add((), len(snapshot.brokers))
    requests.add((), snapshot.requests)
    for kind, count in sorted(snapshot.errors.items()):
        errors.add((kind,), count)
    return emit((partitions, brokers, requests, errors))
