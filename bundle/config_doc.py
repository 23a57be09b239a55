"""docs/configuration.md, generated from the options sections: help text lives in the Field only."""

from collections.abc import Mapping

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from broker_lag_exporter.config.sections import (
    ExportOptions,
    JvmOptions,
    KafkaOptions,
    KubeOptions,
    LogOptions,
    PollOptions,
    RiskOptions,
    WebOptions,
)
from broker_lag_exporter.config.settings import ENV_PREFIX

HEADER = f"""# Configuration

Generated from `broker_lag_exporter/config/sections.py` by `python -m bundle`; do not edit by hand.

Every option is a command-line flag (`--kebab-case`), an environment variable `{ENV_PREFIX}<OPTION>`
(upper case), or a key of the YAML file given with `--config`; flags beat the environment, which beats
the file. Invalid settings stop the exporter at start with every problem listed. Each area below lists
its own options; each part of the exporter receives only its own area's options.

Precedence, highest first: command-line flag, environment variable, `--secrets-dir` folder,
`--config` YAML file (`{ENV_PREFIX}CONFIG` names it too), built-in default. Only
`bootstrap_servers` is required. `broker-lag-exporter lint` takes the risk options and, of the
Kubernetes ones, `--kube-broker-selectors` and `--kube-broker-container` (and no Kafka address);
`once` takes every option but the HTTP server's.

Secrets: each of `sasl_password`, `sasl_oauth_client_secret`, `ssl_keyfile_password` and
`web_basic_auth_password` can come from a file named by its `*_file` option; `--secrets-dir`
(`{ENV_PREFIX}SECRETS_DIR`) names a folder (a mounted Secret) whose files, named like the
variables (`{ENV_PREFIX}SASL_PASSWORD`), hold option values. See docs/security.md.
"""

JVM_EXAMPLES = """Shared options that also bound this source: `--request-timeout-seconds` is the
deadline of one broker's page (connect, headers and body), `--max-concurrent-requests` bounds pages
fetched at once, and `--poll-interval-seconds` sets how often all are fetched.

Examples:

```sh
# Strimzi: the agent listens on 9404 in every broker pod.
broker-lag-exporter serve --bootstrap-servers my-cluster-kafka-bootstrap:9092 \\
  --jvm-url-template 'http://{pod_ip}:9404/metrics'
# Brokers whose advertised host also serves the agent:
BROKER_LAG_JVM_URL_TEMPLATE='http://{host}:7071/metrics' broker-lag-exporter serve ...
# Fixed addresses:
broker-lag-exporter once --bootstrap-servers 10.0.0.5:9092 \\
  --jvm-endpoints '0=http://10.0.0.5:7071/metrics,1=http://10.0.0.6:7071/metrics'
```

```yaml
# --config exporter.yaml
jvm_url_template: "http://{pod_ip}:9404/metrics"
jvm_endpoints:
  3: "http://kafka-3.legacy:7071/metrics"
```
"""

KUBE_NOTES = """**Broker pods.** The default selectors are
`strimzi.io/component-type=kafka,strimzi.io/broker-role!=false` (Strimzi brokers, with or without node
pools; controller-only pools excluded), `app.kubernetes.io/name=kafka` and `app=kafka` (Helm charts and
plain StatefulSets).

**Broker id of a pod** (`--kube-broker-id`):

| value | broker id |
|---|---|
| `auto` | `strimzi` for pods with the `strimzi.io/kind` label, else `ordinal`. |
| `ordinal`, `ordinal+N`, `ordinal-N` | The StatefulSet ordinal (`kafka-2` -> 2) plus an offset, for charts \
whose `node.id` starts at 1 or 100. |
| `strimzi` | The node id ending Strimzi's pod names: `CLUSTER-kafka-N`, or `CLUSTER-POOL-ID` with \
node pools. |
| `label:KEY`, `annotation:KEY` | An integer in that pod label or annotation. |

Kafka brokers that no pod claims are exported with `kafka_broker_pod_found 0`; broker pods without an
id (or claiming one another pod already has) with `kafka_unmapped_broker_pod_info{namespace,pod,reason}`.
"""

# Section, title, text before its table, text after it.
SECTIONS: tuple[tuple[type[BaseModel], str, str, str], ...] = (
    (KafkaOptions, "Kafka connection", "", ""),
    (PollOptions, "Polling and limits", "", ""),
    (ExportOptions, "What is exported", "", ""),
    (WebOptions, "HTTP server", "", ""),
    (
        JvmOptions,
        "JVM memory",
        "The jvm source reads each broker's JVM metrics page (the Prometheus JMX exporter agent,\n"
        "`jmx_prometheus_javaagent` 0.x or 1.x, as Strimzi runs it) for heap, non-heap and direct buffer\n"
        "memory. It is **off unless** `jvm_endpoints` or `jvm_url_template` is set: the exporter makes no\n"
        "HTTP calls to brokers by surprise.\n",
        JVM_EXAMPLES,
    ),
    (
        KubeOptions,
        "Kubernetes",
        "The kubernetes source watches broker pods (and what the risk checks read) through the Kubernetes\n"
        "API, with the read-only RBAC in `deploy/rbac.yaml`. It is on by default whenever credentials are\n"
        "at hand: in a pod (in-cluster service account) or with a kubeconfig. It never blocks the Kafka\n"
        "metrics: when the API is unreachable or a permission is missing,\n"
        '`broker_lag_exporter_source_up{source="kubernetes"}` is 0 and the log names the missing '
        "permission.\n",
        KUBE_NOTES,
    ),
    (
        RiskOptions,
        "Risk checks",
        "Thresholds of the checks in `docs/risks.md`, and where the Kubernetes checks read broker and\n"
        "consumer settings. `lint` uses the same options.\n",
        "",
    ),
    (LogOptions, "Logging", "", ""),
)


def default_text(field: FieldInfo) -> str:
    """Return a field's default as the docs show it."""
    if field.default_factory is None and field.default is PydanticUndefined:
        return "required"
    value = field.get_default(call_default_factory=True)
    return _shown(value)


def _shown(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict | str) and not value:
        return "empty"
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if isinstance(value, int | float) else f"`{text}`"


def _rows(fields: Mapping[str, FieldInfo]) -> list[str]:
    rows = ["| option | default | meaning |", "|---|---|---|"]
    for name, field in fields.items():
        flag, env = "--" + name.replace("_", "-"), ENV_PREFIX + name.upper()
        rows.append(f"| `{flag}` / `{env}` | {default_text(field)} | {field.description or ''} |")
    return rows


def render() -> str:
    """Return docs/configuration.md."""
    parts = [HEADER]
    for section, title, before, after in SECTIONS:
        parts.append(f"## {title}\n")
        if before:
            parts.append(before)
        parts.append("\n".join(_rows(section.model_fields)) + "\n")
        if after:
            parts.append(after)
    return "\n".join(parts)
