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
        "kafka_broker_metadata_info",
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
    _m(
        "kafka_group_members",
        "gauge",
        "Members of the consumer group (absent while it cannot be described and no recent description "
        "is known).",
        "group",
    ),
    _m(
        "kafka_group_members_age_seconds",
        "gauge",
        "Age of the group's members and state: 0 when described this poll, more while DescribeGroups "
        "fails and the last good description is served (up to max_data_age_seconds).",
        "group",
    ),
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
    # Per topic (--granularity topic or partition): the view every peer shows, and offsets to rate().
    _m(
        "kafka_group_topic_lag_messages",
        "gauge",
        "Lag in messages of one group on one topic (--granularity topic or partition).",
        "group",
        "topic",
    ),
    _m(
        "kafka_group_topic_committed_offsets",
        "gauge",
        "Sum of the group's committed offsets on the topic's partitions with a known end offset; "
        "rate() of it is the consumption rate.",
        "group",
        "topic",
    ),
    _m(
        "kafka_topic_end_offsets",
        "gauge",
        "Sum of the topic's partitions' end offsets (high watermarks); rate() of it is the "
        "production rate (--granularity topic or partition).",
        "topic",
    ),
    _m(
        "kafka_topic_metadata_partitions",
        "gauge",
        "Partitions of the topic in cluster metadata (--granularity topic or partition).",
        "topic",
    ),
    # Lag in seconds: now minus the timestamp of the oldest unconsumed record, read with Fetch.
    _m(
        "kafka_group_lag_seconds",
        "gauge",
        "Age of the group's oldest unconsumed record, max over its partitions (0 caught up); "
        "absent while a lagging partition's record time is unknown.",
        "group",
    ),
    _m(
        "kafka_group_lag_seconds_staleness_seconds",
        "gauge",
        "0 when the group's lag in seconds is exact; else how long ago its oldest carried "
        "partition value (kept while the read budget left the new offset out) was exact.",
        "group",
    ),
    _m(
        "kafka_group_topic_lag_seconds",
        "gauge",
        "Age of the group's oldest unconsumed record on the topic (--granularity topic or partition).",
        "group",
        "topic",
    ),
    _m(
        "kafka_broker_consumer_lag_seconds_max",
        "gauge",
        "Worst lag in seconds of any group on a partition this broker leads (over known values).",
        B,
    ),
    _m(
        "kafka_partition_lag_seconds",
        "gauge",
        "Age of the oldest record the group has not consumed on the partition (only with "
        "--granularity partition).",
        "group",
        "topic",
        "partition",
        B,
    ),
    _m(
        "kafka_group_rebalances_total",
        "counter",
        "Rebalances observed since the exporter first saw the group: polls in which its member set "
        "changed or it entered a rebalancing state (a lower bound; DescribeGroups has no generation).",
        "group",
    ),
    _m(
        "broker_lag_exporter_lag_seconds_partitions",
        "gauge",
        "Lagging group x partitions of the last poll by how their lag in seconds was obtained: "
        "exact, carried (read for an earlier offset: an upper bound), future (clamped to 0), "
        "pending (not read yet) or the reason it cannot be read.",
        "state",
        source="exporter",
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
    _m(
        "broker_lag_exporter_build_info",
        "info",
        "Version of the exporter and the source revision it was built from ('unknown' outside an image).",
        "version",
        "revision",
        source="exporter",
    ),
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
        "broker_lag_exporter_kafka_request_errors_total",
        "counter",
        "Failed Kafka requests by kind since the exporter started (partial data is still served).",
        "request",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_kafka_requests",
        "gauge",
        "Kafka requests sent in the last poll (the topic configs refresh runs apart and is not counted).",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_kafka_tls_verification_disabled",
        "gauge",
        "1 when --ssl-insecure-skip-verify turns off checking the brokers' certificates (anyone on the "
        "path can read and alter what the exporter reads), 0 otherwise.",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_kafka_acl_missing",
        "gauge",
        "1 when the brokers deny the exporter's principal this operation on this resource type (its "
        "data is then missing), 0 when allowed; see docs/security.md#least-privilege-acls.",
        "operation",
        "resource",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_internal_errors_total",
        "counter",
        "Exceptions caught inside the exporter by stage (listener, join, risk, render); the last good "
        "output is served meanwhile.",
        "stage",
        source="exporter",
    ),
    _m(
        "broker_lag_exporter_last_good_age_seconds",
        "gauge",
        "0 while the latest snapshots are joined; while a join or risk rule fails on them, the age of "
        "the last good output served instead (dropped past max_data_age_seconds).",
        source="exporter",
    ),
    _m(
        "kafka_group_offsets_age_seconds",
        "gauge",
        "Age of the committed offsets the group's lag uses: 0 when read this poll, more while its "
        "coordinator fails over and the last good read is served (up to max_data_age_seconds).",
        "group",
    ),
    _m(
        "kafka_group_offset_out_of_range_partitions",
        "gauge",
        "Partitions whose committed offset is below the log start offset: retention deleted records "
        "the group never read (its lag still counts them).",
        "group",
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
# Names this exporter no longer emits -> (the name that replaced it, why); docs/metrics.md lists them.
REMOVED = {
    "kafka_broker_info": (
        "kafka_broker_metadata_info",
        "kafka_exporter, which Strimzi deploys, exports a `kafka_broker_info` with other labels.",
    ),
    "broker_lag_exporter_kafka_request_errors": (
        "broker_lag_exporter_kafka_request_errors_total",
        "A gauge of the last poll lost the errors of the polls between two scrapes.",
    ),
}
# prometheus_client's process, platform and GC collectors: their names and help are theirs.
RUNTIME_PREFIXES = ("process_", "python_")
# The runtime samples dashboards and alerts may use (all of Linux's process collector emits).
RUNTIME_SAMPLES = frozenset(
    {
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    }
)

# With --shard-count N, each shard computes lag over its own groups only: it exports that lag, and
# the recording rules add the shards up (`sum without (instance, pod)`). Series with a `group`
# label are split by the shards already; these are lag totals over groups that each shard holds
# a part of. Every lag family must be one of the two (a test checks it).
# Each shard computes these over its own groups: every shard exports them, the rules add (or max) them.
SUMMED_OVER_SHARDS = frozenset(
    {"kafka_broker_consumer_lag_messages", "kafka_broker_consumer_lag_seconds_max"}
)


def from_every_shard(spec: MetricSpec) -> bool:
    """Return whether every shard exports the family; the rest are cluster facts from shard 0 only.

    A shard's own groups and its lag are its share of a sum; its own health describes
    that process. Brokers, pods, the cluster and their risks would be repeated by every
    shard, and an alert on them would fire once per shard.
    """
    return spec.name in SUMMED_OVER_SHARDS or "group" in spec.labels or spec.source == "exporter"


def sample_names() -> frozenset[str]:
    """Return every sample name the exporter can emit, for dashboard and alert checks."""
    return frozenset(spec.name for spec in METRICS) | RUNTIME_SAMPLES
