"""One options section per consumer: each source, stage and the web layer takes only its own.

Field names are the public contract: the flag is `--kebab-case` of the name and the
environment variable `BROKER_LAG_` + its upper case, whatever section holds it.
Descriptions are the help text of `--help` and of docs/configuration.md.
"""

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from broker_lag_exporter.config.values import (
    CsvList,
    IdRule,
    JvmEndpoints,
    Metavar,
    Regex,
    RegexList,
    Seconds,
    Selectors,
    Servers,
    ShardIndex,
    UrlTemplate,
    WebConfigFile,
)
from broker_lag_exporter.tls import KeyPair, ca_problems, pair_problems

STRIMZI_BROKERS = "strimzi.io/component-type=kafka,strimzi.io/broker-role!=false"
# Options that may instead be read from a file named by `<option>_file`.
SECRETS = ("sasl_password", "sasl_oauth_client_secret", "ssl_keyfile_password", "web_basic_auth_password")


class Section(BaseModel):
    """Base of every section: frozen, unknown keys are errors, and options that go together are checked.

    Each section adds its own cross-option problems to `problems()` cooperatively, so
    settings composed of several sections report every problem at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """Fill each secret from its `*_file` option (a mounted Secret), listing every unreadable file."""
        if not isinstance(data, dict):
            return data
        out, problems = dict(data), []
        for secret in SECRETS:
            file_option = f"{secret}_file"
            path = out.get(file_option)
            if file_option not in cls.model_fields or path is None:
                continue
            if out.get(secret) is not None:
                problems.append(f"{secret} and {file_option} cannot both be set")
                continue
            try:
                # One trailing newline is how editors and `echo` end a file, not part of the secret.
                out[secret] = Path(path).read_text().removesuffix("\n")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(
                    f"{file_option} {path} cannot be read: {getattr(exc, 'strerror', None) or exc}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return out

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
    client_id: Annotated[str, Metavar("ID")] = Field(
        "broker-lag-exporter", description="Kafka client id (quotas, broker request logs)."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`."
    )
    sasl_mechanism: (
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI", "AWS_MSK_IAM"] | None
    ) = Field(
        None,
        description="`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512` (with username and password), "
        "`OAUTHBEARER` (a token file, or client credentials against a token endpoint), `GSSAPI` "
        "(Kerberos; needs the `gssapi` extra) or `AWS_MSK_IAM` (the AWS credential chain; needs the "
        "`msk` extra). See docs/security.md.",
    )
    sasl_username: Annotated[str, Metavar("USER")] | None = Field(None, description="SASL user.")
    sasl_password: SecretStr | None = Field(
        None, description="SASL password; never logged nor exported. Prefer the environment variable."
    )
    sasl_password_file: Path | None = Field(
        None, description="File holding `--sasl-password` (a mounted Secret), read at start."
    )
    sasl_oauth_token_file: Path | None = Field(
        None,
        description="`OAUTHBEARER`: file holding the token (a projected service-account token, a "
        "sidecar's output); re-read whenever it changes.",
    )
    sasl_oauth_token_url: str | None = Field(
        None,
        description="`OAUTHBEARER`: token endpoint for the client-credentials grant (RFC 6749 4.4); "
        "each request has `--request-timeout-seconds` as deadline and a token is reused until a "
        "minute before it expires.",
    )
    sasl_oauth_client_id: str | None = Field(
        None, description="`OAUTHBEARER`: client id at the token endpoint."
    )
    sasl_oauth_client_secret: SecretStr | None = Field(
        None, description="`OAUTHBEARER`: client secret; never logged nor exported."
    )
    sasl_oauth_client_secret_file: Path | None = Field(
        None, description="File holding `--sasl-oauth-client-secret` (a mounted Secret), read at start."
    )
    sasl_oauth_scope: str | None = Field(
        None, description="`OAUTHBEARER`: scope asked of the token endpoint."
    )
    sasl_kerberos_service_name: str = Field(
        "kafka", description="`GSSAPI`: the brokers' Kerberos service name (`sasl.kerberos.service.name`)."
    )
    sasl_kerberos_domain_name: str | None = Field(
        None, description="`GSSAPI`: host part of the brokers' principal, when not each broker's host."
    )
    sasl_aws_region: str | None = Field(
        None, description="`AWS_MSK_IAM`: the cluster's AWS region (e.g. `eu-west-1`)."
    )
    ssl_cafile: Path | None = Field(None, description="CA bundle that signs the brokers' certificates.")
    ssl_certfile: Path | None = Field(None, description="Client certificate for TLS listeners.")
    ssl_keyfile: Path | None = Field(None, description="Key of the client certificate.")
    ssl_keyfile_password: SecretStr | None = Field(
        None, description="Password of an encrypted `--ssl-keyfile`; never logged nor exported."
    )
    ssl_keyfile_password_file: Path | None = Field(
        None, description="File holding `--ssl-keyfile-password` (a mounted Secret), read at start."
    )
    ssl_server_hostname: str | None = Field(
        None,
        description="Verify every broker's certificate against this name (and send it as SNI) instead "
        "of the host each broker advertises: for certificates issued to one shared name.",
    )
    ssl_insecure_skip_verify: bool = Field(
        False,
        description="Do not verify the brokers' certificates at all. Anyone on the network path can "
        "then read and alter what the exporter sees: logged as a warning at start and exported as "
        "`broker_lag_exporter_kafka_tls_verification_disabled 1`. For tests only.",
    )
    forget_broker_after_seconds: Seconds = Field(
        3600.0,
        description="A broker missing from metadata is exported with `kafka_broker_up 0` while "
        "replica lists name it or until this long after it was last seen.",
    )
    list_offsets_batch: Annotated[int, Metavar("PARTITIONS")] = Field(
        5000,
        ge=1,
        description="Partitions per ListOffsets request; one request per leader broker unless it leads more.",
    )
    topic_configs_refresh_seconds: Seconds = Field(
        300.0,
        description="Topic configs change rarely and DescribeConfigs is costly for brokers: every "
        "topic's configs are re-read this often, in the background (the lag poll never waits for "
        "them); a topic new or unread since the last read is read when the next poll sees it.",
    )
    lag_seconds_budget: int = Field(
        2000,
        ge=0,
        description="Record timestamps read per poll for lag in seconds (one per partition and "
        "committed offset not read before; largest lags first). A group x partition left out keeps "
        "the value read for its earlier offset (an upper bound, counted as `carried`); 0 turns lag "
        "in seconds off.",
    )
    lag_seconds_fetch_bytes: int = Field(
        16384,
        ge=1024,
        le=1048576,
        description="Per-partition byte limit of the Fetch requests that read those timestamps; "
        "a record batch larger than this is read again with a larger limit.",
    )
    describe_configs_batch: Annotated[int, Metavar("TOPICS")] = Field(
        1000,
        ge=1,
        description="Topics per DescribeConfigs request (only `min.insync.replicas` and "
        "`unclean.leader.election.enable` are asked for, for the topic checks in `docs/risks.md`).",
    )

    def problems(self) -> list[str]:
        """Return what is wrong between options (each is valid alone)."""
        return [*super().problems(), *self._sasl_problems(), *self._tls_problems()]

    def _sasl_problems(self) -> list[str]:
        mechanism = self.sasl_mechanism
        if not self.security_protocol.startswith("SASL"):
            return (
                [f"sasl_mechanism {mechanism} needs security_protocol SASL_SSL or SASL_PLAINTEXT"]
                if mechanism
                else []
            )
        if mechanism == "OAUTHBEARER":
            return self._oauth_problems()
        if mechanism == "GSSAPI":
            # aiokafka imports gssapi lazily: without it every poll would fail with an assertion.
            return (
                []
                if find_spec("gssapi")
                else ["GSSAPI needs the gssapi package: pip install 'broker-lag-exporter[gssapi]'"]
            )
        if mechanism == "AWS_MSK_IAM":
            return self._msk_problems()
        complete = bool(mechanism and self.sasl_username and self.sasl_password)
        return [] if complete else ["SASL needs sasl_mechanism, sasl_username and sasl_password"]

    def _oauth_problems(self) -> list[str]:
        client = (self.sasl_oauth_token_url, self.sasl_oauth_client_id, self.sasl_oauth_client_secret)
        if (self.sasl_oauth_token_file is None) == (not any(client)):
            return ["OAUTHBEARER needs either sasl_oauth_token_file or sasl_oauth_token_url (not both)"]
        if any(client) and not all(client):
            return ["sasl_oauth_token_url, sasl_oauth_client_id and sasl_oauth_client_secret go together"]
        return []

    def _msk_problems(self) -> list[str]:
        found = [] if self.sasl_aws_region else ["AWS_MSK_IAM needs sasl_aws_region"]
        if self.security_protocol != "SASL_SSL":
            found.append("AWS_MSK_IAM needs security_protocol SASL_SSL")
        if not find_spec("aws_msk_iam_sasl_signer"):
            found.append("AWS_MSK_IAM needs the signer package: pip install 'broker-lag-exporter[msk]'")
        return found

    def _tls_problems(self) -> list[str]:
        tls_options = (
            "ssl_cafile",
            "ssl_certfile",
            "ssl_keyfile",
            "ssl_keyfile_password",
            "ssl_server_hostname",
        )
        if not self.security_protocol.endswith("SSL"):
            # Set but unused would let a user believe the connection is encrypted.
            return [
                f"{name} needs security_protocol SSL or SASL_SSL"
                for name in (*tls_options, "ssl_insecure_skip_verify")
                if getattr(self, name)
            ]
        found = [] if self.ssl_cafile is None else ca_problems("ssl_cafile", self.ssl_cafile)
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            found.append("ssl_certfile and ssl_keyfile go together")
        elif self.ssl_certfile is not None and self.ssl_keyfile is not None:
            password = self.ssl_keyfile_password.get_secret_value() if self.ssl_keyfile_password else None
            pair = KeyPair(self.ssl_certfile, self.ssl_keyfile, password)
            found += pair_problems("ssl_certfile", "ssl_keyfile", pair)
        return found


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
    granularity: Literal["group", "topic", "partition"] = Field(
        "topic",
        description="`group`: per-broker and per-group series only. `topic` (default) adds "
        "`kafka_group_topic_*{group,topic}` and `kafka_topic_*{topic}`: one series per group and "
        "topic it consumes, plus two per topic, so a 10,000-topic cluster gets tens of thousands of "
        "series rather than millions, and users get the per-topic lag, consumption and production "
        "rates every other exporter shows. `partition` adds `kafka_partition_lag_*` with one series "
        "per group and partition: only for small clusters.",
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
    """The HTTP server of /metrics, the probes, the status page and /api/brokers."""

    listen_host: Annotated[str, Metavar("HOST")] = Field("0.0.0.0", description="Address to bind.")  # noqa: S104
    listen_port: Annotated[int, Metavar("PORT")] = Field(
        9340,
        ge=1,
        le=65535,
        description="Port of `/metrics`, `/healthz`, `/readyz`, the status page `/` and `/api/brokers`.",
    )
    web_tls_certfile: Path | None = Field(None, description="Serve HTTPS with this certificate.")
    web_tls_keyfile: Path | None = Field(None, description="Key of `--web-tls-certfile`.")
    web_basic_auth_username: Annotated[str, Metavar("USER")] | None = Field(
        None,
        description="Require HTTP basic auth with this user on `/metrics`, the status page and "
        "`/api/brokers` (probes stay open).",
    )
    web_basic_auth_password: SecretStr | None = Field(
        None, description="Password of `--web-basic-auth-username`; never logged."
    )
    web_basic_auth_password_file: Path | None = Field(
        None, description="File holding `--web-basic-auth-password` (a mounted Secret), read at start."
    )
    web_config_file: WebConfigFile | None = Field(
        None,
        description="A Prometheus exporter-toolkit web config (`tls_server_config` with `client_ca_file` "
        "and `client_auth_type` for mTLS, `basic_auth_users` with bcrypt hashes), as node_exporter's "
        "`--web.config.file`; checked at start, re-read with its certificates when they change. "
        "Replaces the other `--web-tls-*` and `--web-basic-auth-*` options. See docs/security.md.",
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
        if self.web_config_file is not None:
            legacy = (
                "web_tls_certfile",
                "web_tls_keyfile",
                "web_basic_auth_username",
                "web_basic_auth_password",
            )
            mine += [
                f"{name} cannot be combined with web_config_file"
                for name in legacy
                if getattr(self, name) is not None
            ]
        if self.web_tls_certfile is not None and self.web_tls_keyfile is not None:
            mine += pair_problems(
                "web_tls_certfile", "web_tls_keyfile", KeyPair(self.web_tls_certfile, self.web_tls_keyfile)
            )
        # An empty value is set, not absent: it must never switch authentication off.
        mine += [
            f"{name} must not be empty"
            for name, value in (
                ("web_basic_auth_username", self.web_basic_auth_username),
                ("web_basic_auth_password", self.web_basic_auth_password),
            )
            if value is not None and not (value if isinstance(value, str) else value.get_secret_value())
        ]
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
    jvm_max_page_bytes: Annotated[int, Metavar("BYTES")] = Field(
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
    kube_context: Annotated[str, Metavar("CONTEXT")] | None = Field(
        None, description="kubeconfig context (unset: the current one)."
    )
    kube_namespaces: Annotated[CsvList, Metavar("NS,...")] = Field(
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
    kube_broker_container: Annotated[str, Metavar("NAME")] = Field(
        "kafka",
        description="The broker container (memory limit, env, mounts); a pod without one uses its "
        "first container.",
    )
    kube_recent_restart_window_seconds: Seconds = Field(
        600.0, description="Window of `kafka_broker_pod_recent_restarts`."
    )
    kube_watch_timeout_seconds: Annotated[int, Metavar("SECONDS")] = Field(
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

    @property
    def enabled(self) -> bool:
        """Return whether to read the Kubernetes API: forced on/off, or when credentials are at hand."""
        if self.kube_mode != "auto":
            return self.kube_mode == "on"
        if self.kube_kubeconfig is not None or "KUBERNETES_SERVICE_HOST" in os.environ:
            return True
        paths = os.environ.get("KUBECONFIG", "").split(os.pathsep)
        return any(Path(p).expanduser().is_file() for p in [*paths, "~/.kube/config"] if p)


class RiskOptions(Section):
    """Thresholds of the risk checks and where the checks read consumer and broker settings."""

    risk_disable_checks: Annotated[CsvList, Metavar("CHECK,...")] = Field(
        default_factory=list,
        description="Risk checks (names in `docs/risks.md`) not to evaluate: they export no series "
        "and `lint` skips them. For checks that cannot apply to your platform, such as "
        "`brokers_zone_concentration` in a single-zone cluster. An unknown name stops the start.",
    )
    risk_min_brokers: int = Field(
        3, ge=1, description="`too_few_brokers` fires below this many live brokers."
    )
    risk_leader_share_factor: Annotated[float, Metavar("FACTOR")] = Field(
        1.5,
        gt=1,
        description="`leader_concentration` fires for a broker leading more than its fair share times this.",
    )
    risk_offheap_limit_ratio: Annotated[float, Metavar("RATIO")] = Field(
        0.7,
        gt=0,
        le=1,
        description="`offheap_near_limit` fires above this off-heap / container memory limit ratio "
        "(0 < x <= 1).",
    )
    risk_offheap_markers: Annotated[CsvList, Metavar("OPTION,...")] = Field(
        default_factory=lambda: ["-XX:MaxDirectMemorySize", "-Dio.netty.maxDirectMemory"],
        description="`offheap_enabled`: JVM options (starting with `-`) looked for in the broker's "
        "env values, command and args; other entries are env var names that enable off-heap when "
        "set to a true value.",
    )
    risk_grace_margin_seconds: Annotated[float, Metavar("SECONDS")] = Field(
        5.0,
        ge=0,
        description="`session_timeout_exceeds_grace`: the grace period must exceed the session "
        "timeout by this.",
    )
    risk_keda_lag_threshold_floor: Annotated[float, Metavar("MESSAGES")] = Field(
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
    risk_rebalances_per_hour: int = Field(
        20,
        ge=1,
        description="`rebalance_storm` fires for a group with at least this many rebalances observed "
        "in the last hour (a rolling restart of a few consumers stays below it).",
    )
    kube_log_dir_env: Annotated[CsvList, Metavar("VAR,...")] = Field(
        default_factory=lambda: ["KAFKA_LOG_DIRS", "KAFKA_CFG_LOG_DIRS"],
        description="Broker env vars holding `log.dirs` (apache/kafka, Bitnami).",
    )
    kube_log_dir_paths: Annotated[CsvList, Metavar("PATH,...")] = Field(
        default_factory=lambda: ["/var/lib/kafka", "/bitnami/kafka", "/opt/kafka/data", "/mnt/data"],
        description="Without such a variable, mounts under these paths are the log dirs (Strimzi "
        "mounts `/var/lib/kafka/data[-N]`, Confluent for Kubernetes `/mnt/data/data0`).",
    )
    kube_session_timeout_env: Annotated[CsvList, Metavar("VAR,...")] = Field(
        default_factory=lambda: [
            "KAFKA_SESSION_TIMEOUT_MS",
            "SESSION_TIMEOUT_MS",
            "KAFKA_CONSUMER_SESSION_TIMEOUT_MS",
            "SPRING_KAFKA_CONSUMER_PROPERTIES_SESSION_TIMEOUT_MS",
        ],
        description="Consumer env vars holding `session.timeout.ms`.",
    )
    kube_session_timeout_annotation: Annotated[str, Metavar("KEY")] = Field(
        "broker-lag-exporter.io/session-timeout-ms",
        description="Pod annotation holding `session.timeout.ms`; wins over the env vars.",
    )
    kube_critical_annotation: Annotated[str, Metavar("KEY")] = Field(
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
