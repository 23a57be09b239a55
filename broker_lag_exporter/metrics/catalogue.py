"""The one table of exported metrics: the collector, docs/metrics.md and tests read it."""

from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter", "info"]
CACHED = " Cached: collected in the background, see *_last_success_timestamp_seconds."


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """Name (as samples carry it), type, help text and labels of one metric family."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    source: str = "kafka"

    @property
    def family_name(self) -> str:
        """Return the name prometheus_client wants: without the `_total`/`_info` suffix."""
        return self.name.removesuffix({"counter": "_total", "info": "_info", "gauge": ""}[self.kind])


def _m(name: str, kind: Kind, help_: str, *labels: str, source: str = "kafka") -> MetricSpec:
    return MetricSpec(name, kind, help_, labels, source)


B = "broker_id"
METRICS: tuple[MetricSpec, ...] = (
    # Per broker: who is up, who leads, who holds the lag.
    _m("kafka_broker_up", "gauge", "1 if the broker is in cluster metadata, 0 if known but missing.", B),
    _m(
        "kafka_broker_info",
        "info",
        "Broker address and rack from cluster metadata.",
        B,
        "host",
        "port",
        "rack",
    ),
    _m(
        "kafka_broker_consumer_lag_messages",
        "gauge",
        "Lag in messages of all groups on partitions this broker leads.",
        B,
    ),
    _m(
        "kafka_broker_group_lag_messages",
        "gauge",
        "Lag in messages of one group on partitions this broker leads.",
        B,
        "group",
    ),
    _m("kafka_broker_leader_partitions", "gauge", "Partitions this broker leads.", B),
    _m("kafka_broker_replica_partitions", "gauge", "Partitions with a replica on this broker.", B),
    _m(
        "kafka_broker_leader_share_ratio",
        "gauge",
        "Partitions this broker leads divided by all partitions.",
        B,
    ),
    _m(
        "kafka_broker_topics_led",
        "gauge",
        "Topics with at least one partition led by this broker (its blast radius).",
        B,
    ),
    _m(
        "kafka_broker_under_replicated_partitions",
        "gauge",
        "Partitions led by this broker whose ISR is smaller than their replica set.",
        B,
    ),
    _m(
        "kafka_broker_offline_partitions",
        "gauge",
        "Leaderless partitions last led by this broker (or with it as first replica).",
        B,
    ),
    _m(
        "kafka_broker_preferred_leader_imbalance",
        "gauge",
        "Partitions this broker leads whose preferred leader is another broker.",
        B,
    ),
    # Per group.
    _m("kafka_group_lag_messages", "gauge", "Lag in messages of the group over all partitions.", "group"),
    _m("kafka_group_members", "gauge", "Members of the consumer group.", "group"),
    _m(
        "kafka_group_info",
        "info",
        "Group state, protocol type and coordinator.",
        "group",
        "state",
        "protocol_type",
        "coordinator_id",
    ),
    _m("kafka_group_committed_partitions", "gauge", "Partitions with a committed offset.", "group"),
    _m(
        "kafka_group_uncommitted_partitions",
        "gauge",
        "Partitions assigned to a member but never committed (not counted as lag).",
        "group",
    ),
    _m(
        "kafka_partition_lag_messages",
        "gauge",
        "Lag of one group on one partition (only with --granularity partition).",
        "group",
        "topic",
        "partition",
        B,
    ),
    # Cluster.
    _m("kafka_cluster_partitions", "gauge", "Partitions in cluster metadata after topic filters."),
    _m("kafka_cluster_brokers", "gauge", "Live brokers in cluster metadata."),
    # Per broker, from the Kubernetes API (joined on broker id).
    _m(
        "kafka_broker_pod_found",
        "gauge",
        "1 if a pod runs this broker id, 0 if Kafka knows the broker but no pod claims it.",
        B,
        source="kubernetes",
    ),
    _m(
        "kafka_broker_pod_info",
        "info",
        "The broker's pod, its node, the node's zone and kubelet version.",
        B,
        "namespace",
        "pod",
        "node",
        "zone",
        "kubelet_version",
        source="kubernetes",
    ),
    _m(
        "kafka_broker_pod_restarts_total",
        "counter",
        "Container restarts of the broker's pod, summed over containers; a replaced pod is a new uid.",
        B,
        "pod",
        "uid",
        source="kubernetes",
    ),
    _m(
        "kafka_broker_pod_recent_restarts",
        "gauge",
        "Container restarts of the broker's pods within --kube-recent-restart-window-seconds.",
        B,
        source="kubernetes",
    ),
    _m("kafka_broker_pod_ready", "gauge", "1 if the broker's pod is Ready.", B, "pod", source="kubernetes"),
    _m(
        "kafka_broker_pod_last_termination_info",
        "info",
        "Reason of the latest container termination of the broker's pod (e.g. OOMKilled).",
        B,
        "pod",
        "reason",
        source="kubernetes",
    ),
    _m(
        "kafka_broker_pod_memory_limit_bytes",
        "gauge",
        "Memory limit of the broker container.",
        B,
        source="kubernetes",
    ),
    _m(
        "kafka_unmapped_broker_pod_info",
        "info",
        "A pod matched by the broker selectors that got no broker id, and why.",
        "namespace",
        "pod",
        "reason",
        source="kubernetes",
    ),
    _m(
        "broker_lag_exporter_kube_malformed_objects_total",
        "counter",
        "Kubernetes objects skipped because a field had the wrong shape.",
        "resource",
        source="kubernetes",
    ),
    _m(
        "broker_lag_exporter_kube_relists_total",
        "counter",
        "Full re-lists of a watched resource; reason: expired (410 Gone) or error.",
        "resource",
        "reason",
        source="kubernetes",
    ),
    # Per broker JVM memory, from each broker's JVM metrics page; defined in docs.py NOTES.
    _m(
        "kafka_broker_offheap_bytes",
        "gauge",
        "Off-heap memory of the broker JVM: non-heap areas plus the direct buffer pool.",
        B,
        source="jvm",
    ),
    _m(
        "kafka_broker_offheap_limit_ratio",
        "gauge",
        "kafka_broker_offheap_bytes divided by the broker container's memory limit (only with a limit).",
        B,
        source="jvm",
    ),
    _m(
        "kafka_broker_jvm_memory_used_bytes",
        "gauge",
        "JVM memory in use by area (heap, nonheap).",
        B,
        "area",
        source="jvm",
    ),
    _m(
        "kafka_broker_jvm_memory_max_bytes",
        "gauge",
        "Maximum JVM memory by area (heap only, when the JVM sets one).",
        B,
        "area",
        source="jvm",
    ),
    _m(
        "kafka_broker_jvm_buffer_pool_used_bytes",
        "gauge",
        "JVM buffer pool bytes in use (direct, mapped); mapped is file-backed, not off-heap.",
        B,
        "pool",
        source="jvm",
    ),
    _m(
        "broker_lag_exporter_jvm_scrape_up",
        "gauge",
        "1 if the broker's JVM metrics page was read and understood in the last poll.",
        B,
        source="jvm",
    ),
    _m(
        "broker_lag_exporter_jvm_scrape_duration_seconds",
        "gauge",
        "Time taken to fetch and read the broker's JVM metrics page in the last poll.",
        B,
        source="jvm",
    ),
    _m(
        "broker_lag_exporter_jvm_scrape_errors_total",
        "counter",
        "Failed reads of the broker's JVM metrics page since start, by reason.",
        B,
        "reason",
        source="jvm",
    ),
    # Risk findings: 1 a finding, 0 checked and fine, absent could not be evaluated.
    _m(
        "kafka_broker_risk",
        "gauge",
        "1 if the check found a risk on this broker (docs/risks.md).",
        B,
        "check",
        source="risk",
    ),
    _m(
        "kafka_group_risk",
        "gauge",
        "1 if the check found a risk for this consumer group.",
        "group",
        "check",
        source="risk",
    ),
    _m("kafka_cluster_risk", "gauge", "1 if the cluster-wide check found a risk.", "check", source="risk"),
    # The exporter itself.
    _m("broker_lag_exporter_build_info", "info", "Version of the exporter.", "version", source="exporter"),
    _m(
        "broker_lag_exporter_source_up",
        "gauge",
        "1 if the source's last poll succeeded and its data is fresh.",
        "source",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_source_duration_seconds",
        "gauge",
        "Duration of the source's last poll.",
        "source",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_source_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the source's last successful poll.",
        "source",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_source_errors_total",
        "counter",
        "Failed polls of the source.",
        "source",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_kafka_request_errors",
        "gauge",
        "Failed requests by kind in the last Kafka poll (partial data is still served).",
        "request",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_kafka_requests",
        "gauge",
        "Kafka requests sent in the last poll.",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_shards",
        "gauge",
        "Shards the consumer groups are split into (--shard-count); the recording rules add up "
        "the shards' lag only while this many are scraped.",
        source="exporter",
    ),
)

BY_NAME = {spec.name: spec for spec in METRICS}

# With --shard-count N, each shard computes lag over its own groups only: it exports that lag, and
# the recording rules add the shards up (`sum without (instance, pod)`). Series with a `group`
# label are split by the shards already; these are lag totals over groups that each shard holds
# a part of. Every lag family must be one of the two (a test checks it).
SUMMED_OVER_SHARDS = frozenset({"kafka_broker_consumer_lag_messages"})


def from_every_shard(spec: MetricSpec) -> bool:
    """Return whether every shard exports the family; the rest are cluster facts from shard 0 only.

    A shard's own groups and its lag are its share of a sum; its own health describes
    that process. Brokers, pods, the cluster and their risks would be repeated by every
    shard, and an alert on them would fire once per shard.
    """
    return spec.name in SUMMED_OVER_SHARDS or "group" in spec.labels or spec.source == "exporter"


def sample_names() -> frozenset[str]:
    """Return every sample name the exporter can emit, for dashboard and alert checks."""
    return frozenset(spec.name for spec in METRICS)
