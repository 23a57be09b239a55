"""Broker id <-> pod: which pods are brokers, and which broker id each one runs. Pure."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from broker_lag_exporter.model.kafka import BrokerId
from broker_lag_exporter.model.kube import Pod, Selector, UnmappedPod

IdSource = Literal["auto", "ordinal", "strimzi", "label", "annotation"]
STRIMZI_KIND_LABEL = "strimzi.io/kind"
_RULE = re.compile(
    r"^(?:(?P<ordinal>ordinal)(?P<offset>[+-]\d+)?|(?P<plain>auto|strimzi)|(?P<kv>label|annotation):(?P<key>\S+))$"
)
_ORDINAL = re.compile(r"-(\d+)$")


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
        return (int(raw), "") if raw.strip().lstrip("-").isdigit() else (None, f"{source} {rule.key}={raw!r}")
    m = _ORDINAL.search(pod.name)
    if m is None:
        return None, "pod name has no trailing -N ordinal"
    offset = rule.offset if source == "ordinal" else 0
    return int(m.group(1)) + offset, ""


def is_broker_pod(pod: Pod, selectors: Sequence[Selector]) -> bool:
    """Return whether any broker selector matches the pod's labels."""
    return any(s.matches(pod.labels) for s in selectors)


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
