"""Broker id <-> pod: which pods are brokers, and which broker id each one runs. Pure."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from broker_lag_exporter.model.kafka import BrokerId
from broker_lag_exporter.model.kube import Container, Pod, Selector, UnmappedPod

IdSource = Literal["auto", "ordinal", "strimzi", "label", "annotation"]
STRIMZI_KIND_LABEL = "strimzi.io/kind"
_RULE = re.compile(
    r"^(?:(?P<ordinal>ordinal)(?P<offset>[+-]\d+)?|(?P<plain>auto|strimzi)|(?P<kv>label|annotation):(?P<key>\S+))$"
)
# ASCII digits only, and few enough for a broker id (an int32): str.isdigit() and \d accept "²"
# and "٣", and int() refuses more than 4,300 digits.
_ORDINAL = re.compile(r"-([0-9]{1,10})$")
_ID = re.compile(r"-?[0-9]{1,10}")
# Repositories (registry and tag stripped) whose images run a broker by default.
BROKER_IMAGES = frozenset(
    {
        "apache/kafka",
        "apache/kafka-native",
        "bitnami/kafka",
        "confluentinc/cp-kafka",
        "confluentinc/cp-server",
        "strimzi/kafka",
    }
)
# Variables only a broker or controller reads (apache/kafka and Confluent images; Bitnami's KAFKA_CFG_*).
BROKER_ENV = ("KAFKA_NODE_ID", "KAFKA_BROKER_ID", "KAFKA_PROCESS_ROLES")
BROKER_COMMANDS = ("kafka-server-start", "kafka.Kafka")
# The broker images also ship Kafka's tools and Connect: a container running them is no broker.
TOOL_COMMANDS = (
    "kafka-topics",
    "kafka-configs",
    "kafka-acls",
    "kafka-console-",
    "connect-distributed",
    "connect-standalone",
    "kafka_connect_run",
    "mirror-maker",
)
NOT_BROKER_OWNERS = frozenset({"Job", "CronJob"})
# Strimzi marks the pods of controller-only node pools; they run the broker image.
NOT_BROKER_LABELS = {"strimzi.io/broker-role": "false"}


@dataclass(frozen=True, slots=True)
class IdRule:
    """How a pod names its broker id; parsed from the `kube_broker_id` setting."""

    source: IdSource = "auto"
    offset: int = 0
    key: str = ""


def parse_id_rule(text: str) -> IdRule:
    """Parse `auto`, `ordinal`, `ordinal+N`/`ordinal-N`, `strimzi`, `label:KEY` or `annotation:KEY`.

    Raises ValueError listing the accepted forms.
    """
    m = _RULE.match(text.strip())
    if m is None:
        raise ValueError(
            f"invalid broker id rule {text!r}: use auto, ordinal, ordinal+N, ordinal-N, "
            "strimzi, label:KEY or annotation:KEY"
        )
    if m["ordinal"]:
        return IdRule("ordinal", int(m["offset"] or 0))
    if m["kv"]:
        return IdRule("label" if m["kv"] == "label" else "annotation", key=m["key"])
    return IdRule("strimzi" if m["plain"] == "strimzi" else "auto")


def broker_id(pod: Pod, rule: IdRule) -> tuple[BrokerId | None, str]:
    """Return (broker id, "") for a broker pod, or (None, why not).

    StatefulSet pods are NAME-ORDINAL; the id is the ordinal plus the offset
    (a chart that numbers brokers from 1 uses `ordinal+1`). Strimzi names pods
    CLUSTER-POOL-NODEID (node pools) or CLUSTER-kafka-N, where the trailing
    number is the node id itself. `auto` picks Strimzi for pods carrying its
    labels and the plain ordinal otherwise.
    """
    source = rule.source
    if source == "auto":
        source = "strimzi" if STRIMZI_KIND_LABEL in pod.labels else "ordinal"
    if source in ("label", "annotation"):
        values = pod.labels if source == "label" else pod.annotations
        raw = values.get(rule.key)
        if raw is None:
            return None, f"no {source} {rule.key}"
        return (int(raw), "") if _ID.fullmatch(raw.strip()) else (None, f"{source} {rule.key}={raw!r}")
    m = _ORDINAL.search(pod.name)
    if m is None:
        return None, "pod name has no trailing -N ordinal"
    offset = rule.offset if source == "ordinal" else 0
    return int(m.group(1)) + offset, ""


def is_broker_pod(pod: Pod, selectors: Sequence[Selector]) -> bool:
    """Return whether any broker selector matches the pod's labels."""
    return any(s.matches(pod.labels) for s in selectors)


def recognise_broker(pod: Pod, selectors: Sequence[Selector]) -> str | None:
    """Return why the pod is a broker (label, image, env or command), or None if it is not one.

    Labels differ between every chart and operator, so a pod is also a broker when a
    container runs a broker image, sets a broker-only variable or starts the broker
    itself. Jobs, tool scripts and controller-only KRaft nodes are never brokers.
    """
    if pod.owner is not None and pod.owner.kind in NOT_BROKER_OWNERS:
        return None
    if any(pod.labels.get(k) == v for k, v in NOT_BROKER_LABELS.items()):
        return None
    for selector in selectors:
        if selector.matches(pod.labels):
            return "label " + (",".join(f"{k}={v}" for k, v in selector.match_labels.items()) or "selector")
    for container in pod.spec.containers:
        found = _container_evidence(container)
        if found:
            return found
    return None


def _container_evidence(container: Container) -> str:
    command = " ".join(container.args)
    if any(tool in command for tool in TOOL_COMMANDS) or _controller_only(container):
        return ""
    repository = image_repository(container.image)
    if repository in BROKER_IMAGES:
        return f"image {repository}"
    for name in BROKER_ENV:
        for variable in (name, name.replace("KAFKA_", "KAFKA_CFG_", 1)):
            if variable in container.env_names:
                return f"env {variable}"
    return next((f"command {c}" for c in BROKER_COMMANDS if c in command), "")


def _controller_only(container: Container) -> bool:
    roles = container.env.get("KAFKA_PROCESS_ROLES", container.env.get("KAFKA_CFG_PROCESS_ROLES", ""))
    return bool(roles) and "broker" not in roles


def image_repository(image: str) -> str:
    """Return an image reference's repository path without registry, tag or digest.

    `quay.io/strimzi/kafka:0.45.0-kafka-3.9.0` gives `strimzi/kafka`; a first path part
    with a dot, a colon or `localhost` is a registry (Docker's own rule).
    """
    name = image.split("@", 1)[0]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    parts[-1] = parts[-1].split(":", 1)[0]
    if parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


def map_brokers(pods: Iterable[Pod], rule: IdRule) -> tuple[dict[BrokerId, Pod], tuple[UnmappedPod, ...]]:
    """Key broker pods by broker id; report the pods that get none.

    Two pods claiming one id (a replacement starting while the old pod
    terminates, or two clusters matched by the selectors) keep the newest;
    the others are reported, never silently dropped.
    """
    mapped: dict[BrokerId, Pod] = {}
    unmapped: list[UnmappedPod] = []
    for pod in sorted(pods, key=lambda p: (-p.created, p.namespace, p.name)):
        found, reason = broker_id(pod, rule)
        if found is None:
            unmapped.append(UnmappedPod(pod, reason))
        elif found in mapped:
            other = mapped[found]
            unmapped.append(
                UnmappedPod(pod, f"broker id {found} also claimed by {other.namespace}/{other.name}")
            )
        else:
            mapped[found] = pod
    return mapped, tuple(sorted(unmapped, key=lambda u: (u.pod.namespace, u.pod.name)))
