"""One options section per consumer: each source, stage and the web layer takes only its own.

Field names are the public contract: the flag is `--kebab-case` of the name and the
environment variable `BROKER_LAG_` + its upper case, whatever section holds it.
Descriptions are the help text of `--help` and of docs/configuration.md.
"""

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from broker_lag_exporter.config.values import (
    CsvList,
    IdRule,
    JvmEndpoints,
    Regex,
    RegexList,
    Seconds,
    Selectors,
    Servers,
    ShardIndex,
    UrlTemplate,
)

STRIMZI_BROKERS = "strimzi.io/component-type=kafka,strimzi.io/broker-role!=false"


class Section(BaseModel):
    """Base of every section: frozen, unknown keys are errors, and options that go together are checked.

    Each section adds its own cross-option problems to `problems()` cooperatively, so
    settings composed of several sections report every problem at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="after")
    def _check_together(self) -> Self:
        found = self.problems()
        if found:
            raise ValueError("; ".join(found))
        return self

    def problems(self) -> list[str]:
        """Return what is wrong between options (each is valid alone)."""
        return []


class KafkaOptions(Section):
    """How to reach and authenticate to the Kafka cluster, and the request batch sizes."""

    bootstrap_servers: Servers = Field(
        description="`HOST:PORT[,HOST:PORT...]` of any brokers of the cluster."
    )
    client_id: str = Field(
        "broker-lag-exporter", description="Kafka client id (quotas, broker request logs)."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None,
        description="`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`; SASL needs mechanism, username "
        "and password.",
    )
    sasl_username: str | None = Field(None, description="SASL user.")
    sasl_password: SecretStr | None = Field(
        None, description="SASL password; never logged nor exported. Prefer the environment variable."
    )
    ssl_cafile: Path | None = Field(None, description="CA bundle that signs the brokers' certificates.")
    ssl_certfile: Path | None = Field(None, description="Client certificate for TLS listeners.")
    ssl_keyfile: Path | None = Field(None, description="Key of the client certificate.")
    forget_broker_after_seconds: Seconds = Field(
        3600.0,
        description="A broker missing from metadata is exported with `kafka_broker_up 0` while "
        "replica lists name it or until this long after it was last seen.",
    )
    list_offsets_batch: int = Field(
        5000,
        ge=1,
        description="Partitions per ListOffsets request; one request per leader broker unless it leads more.",
    )
    topic_configs_refresh_seconds: Seconds = Field(
        300.0,
        description="Topic configs change rarely and DescribeConfigs is costly for brokers: every "
        "topic's configs are re-read this often; a topic new since the last read is read on the "
        "next poll.",
    )
    describe_configs_batch: int = Field(
        1000,
        ge=1,
        description="Topics per DescribeConfigs request (only `min.insync.replicas` and "
        "`unclean.leader.election.enable` are asked for, for the topic checks in `docs/risks.md`).",
    )

    def problems(self) -> list[str]:
        """Return what is wrong between options (each is valid alone)."""
        sasl = self.security_protocol.startswith("SASL")
        complete = bool(self.sasl_mechanism and self.sasl_username and self.sasl_password)
        mine = [] if complete or not sasl else ["SASL needs sasl_mechanism, sasl_username and sasl_password"]
        return [*super().problems(), *mine]


class PollOptions(Section):
    """How often and under which deadlines every source polls."""

    poll_interval_seconds: Seconds = Field(
        15.0,
        description="How often each source polls in the background. Scrapes never wait for Kafka.",
    )
    request_timeout_seconds: Seconds = Field(
        10.0, description="Deadline of each single request (Kafka, Kubernetes, JVM page)."
    )
    collect_timeout_seconds: Seconds = Field(
        60.0,
        description="Deadline of one whole poll of a source; past it the poll fails and the source is down.",
    )
    max_data_age_seconds: Seconds = Field(
        300.0,
        description="A source whose last success is older stops exporting its data (and shows "
        "`source_up` 0) rather than serving stale values as fresh.",
    )
    max_concurrent_requests: int = Field(
        32,
        ge=1,
        le=1024,
        description="Bound on concurrent OffsetFetch requests (each covers up to 100 groups of one "
        "coordinator; one per group on brokers older than Kafka 3.0) and on JVM pages fetched at once.",
    )

    def problems(self) -> list[str]:
        """Return what is wrong between options (each is valid alone)."""
        mine = (
            ["request_timeout_seconds must not exceed collect_timeout_seconds"]
            if self.request_timeout_seconds > self.collect_timeout_seconds
            else []
        )
        return [*super().problems(), *mine]


class ExportOptions(Section):
    """Which groups and topics are exported, at which granularity, by which shard."""

    group_allow: Regex = Field(
        ".*", description="Export consumer groups whose name fully matches this regex."
    )
    group_deny: Regex = Field(
        "", description="Skip groups whose name fully matches this regex (empty: none)."
    )
    topic_allow: Regex = Field(
        ".*",
        description="Export topics (leadership and lag) fully matching this regex. Internal topics "
        "such as `__consumer_offsets` count in leadership because they are real load.",
    )
    topic_deny: Regex = Field("", description="Skip topics fully matching this regex (empty: none).")
    granularity: Literal["group", "partition"] = Field(
        "group",
        description="`partition` adds `kafka_partition_lag_messages{group,topic,partition,broker_id}`: "
        "one series per group and partition, so only for small clusters.",
    )
    shard_index: ShardIndex = Field(
        0,
        description="With `--shard-count N`, this process exports only the consumer groups whose "
        "stable hash (CRC-32 of the name) modulo N equals the index; `auto` takes the ordinal at the "
        "end of the pod name (`$POD_NAME`, else the hostname), as a StatefulSet names its pods. "
        "Every shard exports its groups' lag; broker, cluster and pod series come from shard 0 only. "
        "Add the shards up with `sum without (instance, pod)` (the shipped recording rules do).",
    )
    shard_count: int = Field(1, ge=1, description="Number of shards splitting the consumer groups.")

    def problems(self) -> list[str]:
        """Return what is wrong between options (each is valid alone)."""
        mine = ["shard_index must be below shard_count"] if self.shard_index >= self.shard_count else []
        return [*super().problems(), *mine]


class WebOptions(Section):
    """The HTTP server of /metrics, the probes and the landing page."""

    listen_host: str = Field("0.0.0.0", description="Address to bind.")  # noqa: S104
    listen_port: int = Field(
        9340,
        ge=1,
        le=65535,
        description="Port of `/metrics`, `/healthz`, `/readyz` and the landing page.",
    )
    web_tls_certfile: Path | None = Field(None, description="Serve HTTPS with this certificate.")
    web_tls_keyfile: Path | None = Field(None, description="Key of `--web-tls-certfile`.")
    web_basic_auth_username: str | None = Field(
        None,
        description="Require HTTP basic auth with this user on `/metrics` and the landing page "
        "(probes stay open).",
    )
    web_basic_auth_password: SecretStr | None = Field(
        None, description="Password of `--web-basic-auth-username`; never logged."
    )

    def problems(self) -> list[str]:
        """Return what is wrong between options (each is valid alone)."""
        pairs = (
            ("web_tls_certfile", self.web_tls_certfile, "web_tls_keyfile", self.web_tls_keyfile),
            (
                "web_basic_auth_username",
                self.web_basic_auth_username,
                "web_basic_auth_password",
                self.web_basic_auth_password,
            ),
        )
        mine = [f"{a} and {b} go together" for a, x, b, y in pairs if (x is None) != (y is None)]
        return [*super().problems(), *mine]


class JvmOptions(Section):
    """Where each broker's JVM metrics page is; the jvm source is off unless one is set."""

    jvm_url_template: UrlTemplate | None = Field(
        None,
        description="URL of each broker's page. `{host}`, `{port}`, `{id}` come from the broker as "
        "Kafka metadata lists it; `{pod_ip}` from the broker's pod (the Kubernetes source). A broker "
        "lacking a placeholder's value is skipped.",
    )
    jvm_endpoints: JvmEndpoints = Field(
        default_factory=dict,
        description="Static `ID=URL[,ID=URL...]` (a mapping in YAML); wins over the template for "
        "those ids and adds ids the template cannot reach.",
    )
    jvm_max_page_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="A page larger than this (declared or read) is not read further and counts as "
        "`too_large`.",
    )

    @property
    def enabled(self) -> bool:
        """Return whether any endpoint is configured: no surprise HTTP calls otherwise."""
        return bool(self.jvm_endpoints) or self.jvm_url_template is not None


class KubeOptions(Section):
    """How the Kubernetes API is reached and which pods are brokers with which ids."""

    kube_mode: Literal["auto", "on", "off"] = Field(
        "auto",
        description="`on`, `off`, or `auto`: on when running in a pod or a kubeconfig exists "
        "(`--kube-kubeconfig`, `$KUBECONFIG`, `~/.kube/config`).",
    )
    kube_kubeconfig: Path | None = Field(
        None,
        description="kubeconfig file; unset: in-cluster credentials, else `$KUBECONFIG` or `~/.kube/config`.",
    )
    kube_context: str | None = Field(None, description="kubeconfig context (unset: the current one).")
    kube_namespaces: CsvList = Field(
        default_factory=list,
        description="`NS[,NS...]` to watch pods, PodDisruptionBudgets and ScaledObjects in (empty: "
        "all). Consumers are found by pod IP only in these namespaces.",
    )
    kube_broker_selectors: Selectors = Field(
        default_factory=lambda: [STRIMZI_BROKERS, "app.kubernetes.io/name=kafka", "app=kafka"],
        description="Label selectors of broker pods, separated by `;` (a selector itself contains "
        "commas); a pod matching any is a broker.",
    )
    kube_broker_id: IdRule = Field(
        "auto",
        description="How a broker pod names its broker id: `auto`, `ordinal`, `ordinal+N`, "
        "`ordinal-N`, `strimzi`, `label:KEY` or `annotation:KEY`.",
    )
    kube_broker_container: str = Field(
        "kafka",
        description="The broker container (memory limit, env, mounts); a pod without one uses its "
        "first container.",
    )
    kube_recent_restart_window_seconds: Seconds = Field(
        600.0, description="Window of `kafka_broker_pod_recent_restarts`."
    )
    kube_watch_timeout_seconds: int = Field(
        300,
        ge=10,
        le=3600,
        description="Server-side timeout of one watch request; the watch then resumes from its last "
        "resourceVersion.",
    )
    kube_page_size: int = Field(500, ge=1, le=10000, description="Objects per page of a list.")
    kube_keda: bool = Field(
        True,
        description='Read KEDA `ScaledObject`s; without the CRD they count as "not installed", not '
        "as an error.",
    )


class RiskOptions(Section):
    """Thresholds of the risk checks and where the checks read consumer and broker settings."""

    risk_min_brokers: int = Field(
        3, ge=1, description="`too_few_brokers` fires below this many live brokers."
    )
    risk_leader_share_factor: float = Field(
        1.5,
        gt=1,
        description="`leader_concentration` fires for a broker leading more than its fair share times this.",
    )
    risk_offheap_limit_ratio: float = Field(
        0.7,
        gt=0,
        le=1,
        description="`offheap_near_limit` fires above this off-heap / container memory limit ratio "
        "(0 < x <= 1).",
    )
    risk_offheap_markers: CsvList = Field(
        default_factory=lambda: ["-XX:MaxDirectMemorySize", "-Dio.netty.maxDirectMemory"],
        description="`offheap_enabled`: JVM options (starting with `-`) looked for in the broker's "
        "env values, command and args; other entries are env var names that enable off-heap when "
        "set to a true value.",
    )
    risk_grace_margin_seconds: float = Field(
        5.0,
        ge=0,
        description="`session_timeout_exceeds_grace`: the grace period must exceed the session "
        "timeout by this.",
    )
    risk_keda_lag_threshold_floor: float = Field(
        100.0,
        ge=0,
        description="`keda_lag_threshold_low`: a Kafka trigger's `lagThreshold` below this.",
    )
    risk_critical_groups: Regex = Field(
        "",
        description="Regex of consumer groups that need `minReplicaCount` >= 2 "
        "(`keda_min_replicas_critical`); empty: none.",
    )
    risk_kubelet_deny: RegexList = Field(
        default_factory=list,
        description="Regexes of kubelet versions to flag (`kubelet_version_denied`); ships empty: "
        "fill it from your own incident history.",
    )
    kube_log_dir_env: CsvList = Field(
        default_factory=lambda: ["KAFKA_LOG_DIRS", "KAFKA_CFG_LOG_DIRS"],
        description="Broker env vars holding `log.dirs` (apache/kafka, Bitnami).",
    )
    kube_log_dir_paths: CsvList = Field(
        default_factory=lambda: ["/var/lib/kafka", "/bitnami/kafka", "/opt/kafka/data"],
        description="Without such a variable, mounts under these paths are the log dirs (Strimzi "
        "mounts `/var/lib/kafka/data[-N]`).",
    )
    kube_session_timeout_env: CsvList = Field(
        default_factory=lambda: [
            "KAFKA_SESSION_TIMEOUT_MS",
            "SESSION_TIMEOUT_MS",
            "KAFKA_CONSUMER_SESSION_TIMEOUT_MS",
            "SPRING_KAFKA_CONSUMER_PROPERTIES_SESSION_TIMEOUT_MS",
        ],
        description="Consumer env vars holding `session.timeout.ms`.",
    )
    kube_session_timeout_annotation: str = Field(
        "broker-lag-exporter.io/session-timeout-ms",
        description="Pod annotation holding `session.timeout.ms`; wins over the env vars.",
    )
    kube_critical_annotation: str = Field(
        "broker-lag-exporter.io/critical",
        description='`"true"` on a ScaledObject marks its consumer groups critical.',
    )


class LogOptions(Section):
    """How the exporter logs."""

    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="`json`, `console`, or `auto` (console on a terminal, JSON otherwise)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="`debug`, `info`, `warning` or `error`."
    )
