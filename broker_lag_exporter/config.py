"""Settings: one frozen object from flags, environment and an optional YAML file."""

import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "BROKER_LAG_"
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


class ConfigError(Exception):
    """Settings are invalid; the message lists every problem."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _check_servers(servers: list[str]) -> list[str]:
    if not servers:
        raise ValueError("at least one HOST:PORT is required")
    bad = [s for s in servers if not _HOST_PORT.match(s) or int(s.rsplit(":", 1)[1]) > 65535]
    if bad:
        raise ValueError(f"expected HOST:PORT, got {', '.join(map(repr, bad))}")
    return servers


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


Servers = Annotated[list[str], NoDecode, BeforeValidator(_split_csv), AfterValidator(_check_servers)]
Regex = Annotated[str, AfterValidator(_check_regex)]
Seconds = Annotated[float, Field(gt=0)]


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL with a host, got {url!r}")
    return url


def _split_endpoints(value: object) -> object:
    """Accept `ID=URL[,ID=URL...]` from flags and environment; YAML gives a mapping."""
    if not isinstance(value, str):
        return value
    pairs = [part.strip().partition("=") for part in value.split(",") if part.strip()]
    bad = [key for key, sep, _ in pairs if not sep]
    if bad:
        raise ValueError(f"expected ID=URL pairs, got {', '.join(map(repr, bad))}")
    return {key.strip(): url.strip() for key, _, url in pairs}


def _check_endpoints(endpoints: dict[int, str]) -> dict[int, str]:
    for url in endpoints.values():
        _check_url(url)
    return endpoints


TEMPLATE_FIELDS = frozenset({"host", "port", "id", "pod_ip"})


def _check_template(template: str) -> str:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"invalid template {template!r}: {exc}") from exc
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {sorted(unknown)}; use {{host}}, {{port}}, {{id}}, {{pod_ip}}"
        )
    _check_url(template.format(host="broker", port=9092, id=0, pod_ip="10.0.0.1"))
    return template


JvmEndpoints = Annotated[
    dict[int, str], NoDecode, BeforeValidator(_split_endpoints), AfterValidator(_check_endpoints)
]
UrlTemplate = Annotated[str, AfterValidator(_check_template)]


def _split_semicolons(value: object) -> object:
    # Label selectors contain commas, so flags and environment separate them with ";".
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def _check_selectors(selectors: list[str]) -> list[str]:
    from broker_lag_exporter.sources.kubernetes.objects import parse_selector_string  # noqa: PLC0415

    for selector in selectors:
        parse_selector_string(selector)
    return selectors


def _check_id_rule(rule: str) -> str:
    from broker_lag_exporter.sources.kubernetes.mapping import parse_id_rule  # noqa: PLC0415

    parse_id_rule(rule)
    return rule


CsvList = Annotated[list[str], NoDecode, BeforeValidator(_split_csv)]
Selectors = Annotated[
    list[str], NoDecode, BeforeValidator(_split_semicolons), AfterValidator(_check_selectors)
]
IdRule = Annotated[str, AfterValidator(_check_id_rule)]
RegexList = Annotated[
    list[str], NoDecode, BeforeValidator(_split_csv), AfterValidator(lambda p: [_check_regex(r) for r in p])
]
STRIMZI_BROKERS = "strimzi.io/component-type=kafka,strimzi.io/broker-role!=false"


class Settings(BaseSettings):
    """Every option of the exporter; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        cli_kebab_case=True,
        cli_implicit_flags=True,
    )

    bootstrap_servers: Servers = Field(description="Kafka bootstrap servers, HOST:PORT[,...]")
    client_id: str = Field("broker-lag-exporter", description="Kafka client id")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = Field(None, description="never logged")
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    listen_host: str = Field("0.0.0.0", description="address the HTTP server binds")  # noqa: S104
    listen_port: int = Field(9340, ge=1, le=65535, description="HTTP port")
    web_tls_certfile: Path | None = Field(None, description="serve HTTPS with this cert")
    web_tls_keyfile: Path | None = None
    web_basic_auth_username: str | None = Field(None, description="require basic auth")
    web_basic_auth_password: SecretStr | None = None

    poll_interval_seconds: Seconds = Field(15.0, description="how often each source polls")
    request_timeout_seconds: Seconds = Field(10.0, description="deadline of one request")
    collect_timeout_seconds: Seconds = Field(60.0, description="deadline of one whole poll")
    max_data_age_seconds: Seconds = Field(
        300.0, description="drop a source's data when its last success is older"
    )
    forget_broker_after_seconds: Seconds = Field(
        3600.0, description="stop exporting a broker absent from metadata and replicas this long"
    )
    max_concurrent_requests: int = Field(32, ge=1, le=1024)
    list_offsets_batch: int = Field(5000, ge=1, description="partitions per ListOffsets request")
    describe_configs_batch: int = Field(1000, ge=1, description="topics per DescribeConfigs request")
    topic_configs_refresh_seconds: Seconds = Field(
        300.0, description="re-read every topic's configs this often; new topics are read at once"
    )

    group_allow: Regex = Field(".*", description="export groups matching this regex")
    group_deny: Regex = Field("", description="skip groups matching this regex (empty: none)")
    topic_allow: Regex = Field(".*", description="export topics matching this regex")
    topic_deny: Regex = Field("", description="skip topics matching this regex (empty: none)")
    granularity: Literal["group", "partition"] = Field(
        "group", description="'partition' adds kafka_partition_lag_messages"
    )
    shard_index: int = Field(0, ge=0, description="this shard of consumer groups")
    shard_count: int = Field(1, ge=1, description="number of shards splitting consumer groups")

    risk_min_brokers: int = Field(3, ge=1, description="fewer live brokers is a cluster finding")
    risk_leader_share_factor: float = Field(
        1.5, gt=1, description="a broker leading more than fair share x this is a finding"
    )
    risk_offheap_limit_ratio: float = Field(
        0.7, gt=0, le=1, description="off-heap / container memory limit above this is a finding"
    )

    jvm_endpoints: JvmEndpoints = Field(
        default_factory=dict,
        description="broker JVM metrics pages, ID=URL[,ID=URL...]; win over jvm_url_template",
    )
    jvm_url_template: UrlTemplate | None = Field(
        None,
        description="JVM metrics page per broker: {host} {port} {id} from Kafka metadata, {pod_ip} "
        "from the Kubernetes source, e.g. http://{host}:9404/metrics",
    )
    jvm_max_page_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="a larger JVM metrics page counts as too_large"
    )

    kube_mode: Literal["auto", "on", "off"] = Field(
        "auto", description="read the Kubernetes API; auto: when in a cluster or a kubeconfig exists"
    )
    kube_kubeconfig: Path | None = Field(
        None, description="kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config)"
    )
    kube_context: str | None = Field(None, description="kubeconfig context (default: the current one)")
    kube_namespaces: CsvList = Field(
        default_factory=list, description="namespaces to read, NS[,NS...] (empty: all namespaces)"
    )
    kube_broker_selectors: Selectors = Field(
        default_factory=lambda: [STRIMZI_BROKERS, "app.kubernetes.io/name=kafka", "app=kafka"],
        description="label selectors of broker pods, any may match; separate them with ';'",
    )
    kube_broker_id: IdRule = Field(
        "auto",
        description="broker id of a pod: auto, ordinal, ordinal+N, ordinal-N, strimzi, "
        "label:KEY or annotation:KEY",
    )
    kube_broker_container: str = Field("kafka", description="broker container (else the pod's first)")
    kube_recent_restart_window_seconds: Seconds = Field(
        600.0, description="window of kafka_broker_pod_recent_restarts"
    )
    kube_watch_timeout_seconds: int = Field(
        300, ge=10, le=3600, description="server-side timeout of one watch request"
    )
    kube_page_size: int = Field(500, ge=1, le=10000, description="objects per list page")
    kube_keda: bool = Field(True, description="read KEDA ScaledObjects (a missing CRD is 'not installed')")
    kube_log_dir_env: CsvList = Field(
        default_factory=lambda: ["KAFKA_LOG_DIRS", "KAFKA_CFG_LOG_DIRS"],
        description="broker env vars holding log.dirs",
    )
    kube_log_dir_paths: CsvList = Field(
        default_factory=lambda: ["/var/lib/kafka", "/bitnami/kafka", "/opt/kafka/data"],
        description="mount path prefixes taken as log dirs when no log.dirs env var is set",
    )
    kube_session_timeout_env: CsvList = Field(
        default_factory=lambda: [
            "KAFKA_SESSION_TIMEOUT_MS",
            "SESSION_TIMEOUT_MS",
            "KAFKA_CONSUMER_SESSION_TIMEOUT_MS",
            "SPRING_KAFKA_CONSUMER_PROPERTIES_SESSION_TIMEOUT_MS",
        ],
        description="consumer env vars holding session.timeout.ms",
    )
    kube_session_timeout_annotation: str = Field(
        "broker-lag-exporter.io/session-timeout-ms", description="pod annotation holding session.timeout.ms"
    )
    kube_critical_annotation: str = Field(
        "broker-lag-exporter.io/critical", description="'true' on a ScaledObject marks its groups critical"
    )
    risk_offheap_markers: CsvList = Field(
        default_factory=lambda: ["-XX:MaxDirectMemorySize", "-Dio.netty.maxDirectMemory"],
        description="JVM options (-...) in the broker's env or args, or env var names set true, "
        "that enable off-heap memory on purpose",
    )
    risk_grace_margin_seconds: float = Field(
        5.0, ge=0, description="terminationGracePeriodSeconds must exceed the session timeout by this"
    )
    risk_keda_lag_threshold_floor: float = Field(
        100.0, ge=0, description="a KEDA Kafka lagThreshold below this is a finding"
    )
    risk_critical_groups: Regex = Field(
        "", description="consumer groups that need minReplicaCount >= 2 (empty: none)"
    )
    risk_kubelet_deny: RegexList = Field(
        default_factory=list, description="kubelet versions (regexes) to flag; empty: none"
    )

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="after")
    def _check_pairs(self) -> "Settings":
        problems = []
        if self.shard_index >= self.shard_count:
            problems.append("shard_index must be below shard_count")
        if self.request_timeout_seconds > self.collect_timeout_seconds:
            problems.append("request_timeout_seconds must not exceed collect_timeout_seconds")
        if (self.web_tls_certfile is None) != (self.web_tls_keyfile is None):
            problems.append("web_tls_certfile and web_tls_keyfile go together")
        if (self.web_basic_auth_username is None) != (self.web_basic_auth_password is None):
            problems.append("web_basic_auth_username and web_basic_auth_password go together")
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            problems.append("SASL needs sasl_mechanism, sasl_username and sasl_password")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_settings(
    cli_args: list[str] | None = None,
    *,
    config_file: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings: flags beat environment, which beats the config file, then defaults.

    Raises ConfigError listing every invalid field at once.
    """

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources = [init_settings, env_settings]
            if config_file is not None:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
            return tuple(sources)

    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist")
    try:
        if cli_args is not None:
            overrides["_cli_parse_args"] = cli_args
        loaded = _Loaded(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None
    return loaded


def format_errors(exc: ValidationError) -> str:
    """Render every validation problem on its own line, naming the option."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        lines.append(f"  {where}: {err['msg']}")
    return f"{len(lines)} configuration problem(s):\n" + "\n".join(lines)
