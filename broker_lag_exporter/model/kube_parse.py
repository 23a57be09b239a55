"""Raw Kubernetes JSON (API answers or manifests) to the plain values of model.kube.

The one parser of pods, nodes, PodDisruptionBudgets and ScaledObjects: the
source and the manifest linter both use it. Anything of the wrong shape raises
MalformedObjectError, which callers count and skip.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, DecimalException
from typing import Any, cast, get_args

from broker_lag_exporter.model.kube import (
    DEFAULT_GRACE_SECONDS,
    ZONE_LABEL,
    Container,
    Disruption,
    KafkaTrigger,
    Node,
    Operator,
    PlacementTerm,
    Pod,
    PodSpec,
    PodStatus,
    Requirement,
    ScaledObject,
    Selector,
    Workload,
)

KAFKA_TRIGGER_TYPES = frozenset({"kafka", "apache-kafka"})
_SUFFIXES: dict[str, Decimal] = {
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60), "k": Decimal(10**3), "M": Decimal(10**6),
    "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18),
    "m": Decimal("0.001"), "": Decimal(1),
}  # fmt: skip
# The API's own quantities hold an int64 (Quantity.Value()); past it a value is a typo, and
# "1e999999" would otherwise become a million-digit integer or overflow the decimal context.
_MAX_QUANTITY = Decimal(2**63)
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$")
_SELECTOR_TERM = re.compile(
    r"^\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?)\s*$"
)


class MalformedObjectError(ValueError):
    """An object lacks a field the rules need, or has one of the wrong type."""


def _map(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedObjectError(f"{key} is not an object")
    return value


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedObjectError(f"{key} is not a list")
    return value


def _str_map(obj: Mapping[str, Any], key: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in _map(obj, key).items()}


def _name(meta: Mapping[str, Any]) -> str:
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise MalformedObjectError("metadata.name is missing")
    return name


def parse_quantity(value: object) -> int:
    """Return a Kubernetes quantity ("512Mi", "1G", "1e9", 1024) as an integer, rounded up."""
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        raise MalformedObjectError(f"invalid quantity {value!r}")
    try:
        number = Decimal(match.group(1)) * _SUFFIXES[match.group(2) or ""]
    except DecimalException as exc:  # InvalidOperation ("1..2"), Overflow ("1e999999999")
        raise MalformedObjectError(f"invalid quantity {value!r}") from exc
    if abs(number) > _MAX_QUANTITY:
        raise MalformedObjectError(f"quantity {value!r} is out of range")
    return int(number.to_integral_value(rounding="ROUND_CEILING"))


def _int(value: object, what: str) -> int:
    try:
        if isinstance(value, int | float | str):
            return int(value)
    except (ValueError, OverflowError) as exc:  # "three", NaN, Infinity
        raise MalformedObjectError(f"{what} is not an integer: {value!r}") from exc
    raise MalformedObjectError(f"{what} is not an integer: {value!r}")


def parse_timestamp(value: object) -> float:
    """Return an RFC 3339 timestamp as seconds since the epoch (0.0 when absent)."""
    if not value:
        return 0.0
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise MalformedObjectError(f"invalid timestamp {value!r}") from exc


def parse_selector(obj: object) -> Selector:
    """Return a LabelSelector object (matchLabels + matchExpressions) as a Selector."""
    if obj is None:
        return Selector()
    if not isinstance(obj, dict):
        raise MalformedObjectError("selector is not an object")
    requirements = []
    for expr in _list(obj, "matchExpressions"):
        operator = expr.get("operator") if isinstance(expr, dict) else None
        if operator not in get_args(Operator) or not isinstance(expr.get("key"), str):
            raise MalformedObjectError(f"invalid matchExpression {expr!r}")
        values = frozenset(str(v) for v in _list(expr, "values"))
        requirements.append(Requirement(expr["key"], cast(Operator, operator), values))
    return Selector(_str_map(obj, "matchLabels"), tuple(requirements))


def parse_selector_string(text: str) -> Selector:
    """Return a string label selector ("a=b,c!=d,e in (x,y),!f,g") as a Selector.

    Raises ValueError naming the term it cannot read.
    """
    labels: dict[str, str] = {}
    requirements: list[Requirement] = []
    for term in _split_terms(text):
        m = _SELECTOR_TERM.match(term)
        if m is None:
            raise ValueError(f"cannot read label selector term {term!r}")
        if m["absent"]:
            requirements.append(Requirement(m["absent"], "DoesNotExist"))
        elif m["op"] in ("=", "=="):
            labels[m["key"]] = m["value"]
        elif m["op"] == "!=":
            requirements.append(Requirement(m["key"], "NotIn", frozenset({m["value"]})))
        elif m["set"]:
            values = frozenset(v.strip() for v in m["values"].split(",") if v.strip())
            requirements.append(Requirement(m["key"], "In" if m["set"] == "in" else "NotIn", values))
        else:
            requirements.append(Requirement(m["key"], "Exists"))
    return Selector(labels, tuple(requirements))


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return [t for t in terms if t.strip()]


def parse_container(obj: object) -> Container:
    """Return a container's name, image, memory limit, env, command line and mounts."""
    if not isinstance(obj, dict):
        raise MalformedObjectError("container is not an object")
    limit = _map(_map(obj, "resources"), "limits").get("memory")
    env = {
        str(e["name"]): str(e["value"])
        for e in _list(obj, "env")
        if isinstance(e, dict) and "name" in e and e.get("value") is not None
    }
    mounts = {
        str(m["mountPath"]): str(m["name"])
        for m in _list(obj, "volumeMounts")
        if isinstance(m, dict) and "mountPath" in m and "name" in m
    }
    args = tuple(str(a) for a in _list(obj, "command") + _list(obj, "args"))
    return Container(
        name=str(obj.get("name", "")),
        memory_limit_bytes=None if limit is None else parse_quantity(limit),
        env=env,
        args=args,
        mounts=mounts,
        image=str(obj.get("image") or ""),
        env_names=frozenset(str(e["name"]) for e in _list(obj, "env") if isinstance(e, dict) and "name" in e),
    )


def _volume_kind(volume: Mapping[str, Any]) -> str:
    kinds = [k for k in volume if k != "name"]
    return kinds[0] if kinds else "emptyDir"  # the API defaults a bare volume to emptyDir


def _placement(terms: list[Any], key: str, required: bool = True) -> tuple[PlacementTerm, ...]:
    out = []
    for term in terms:
        if not isinstance(term, dict) or not isinstance(term.get("topologyKey"), str):
            raise MalformedObjectError(f"{key} term without topologyKey")
        hard = required if key != "spread" else term.get("whenUnsatisfiable") == "DoNotSchedule"
        out.append(PlacementTerm(term["topologyKey"], parse_selector(term.get("labelSelector")), hard))
    return tuple(out)


def parse_pod_spec(spec: object) -> PodSpec:
    """Return the rule-relevant parts of a pod spec or pod template spec."""
    if not isinstance(spec, dict):
        raise MalformedObjectError("spec is not an object")
    anti = _map(_map(spec, "affinity"), "podAntiAffinity")
    volumes = {
        str(v["name"]): _volume_kind(v) for v in _list(spec, "volumes") if isinstance(v, dict) and "name" in v
    }
    grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    if not isinstance(grace, int):
        raise MalformedObjectError("terminationGracePeriodSeconds is not an integer")
    return PodSpec(
        containers=tuple(parse_container(c) for c in _list(spec, "containers")),
        volumes=volumes,
        anti_affinity=_placement(_list(anti, "requiredDuringSchedulingIgnoredDuringExecution"), "affinity"),
        spread=_placement(_list(spec, "topologySpreadConstraints"), "spread"),
        grace_seconds=grace,
        node_name=str(spec.get("nodeName") or ""),
        host_network=bool(spec.get("hostNetwork", False)),
    )


def parse_pod_status(status: Mapping[str, Any]) -> PodStatus:
    """Return phase, readiness, restarts summed over containers and the latest termination reason."""
    containers = [c for c in _list(status, "containerStatuses") if isinstance(c, dict)]
    conditions = {
        c["type"]: c.get("status")
        for c in _list(status, "conditions")
        if isinstance(c, dict) and isinstance(c.get("type"), str)
    }
    if "Ready" in conditions:
        ready = conditions["Ready"] == "True"
    else:
        ready = bool(containers) and all(c.get("ready") is True for c in containers)
    restarts = sum(_int(c.get("restartCount") or 0, "restartCount") for c in containers)
    terminations = [_map(_map(c, "lastState"), "terminated") for c in containers]
    latest = max((t for t in terminations if t), key=lambda t: str(t.get("finishedAt", "")), default={})
    return PodStatus(
        phase=str(status.get("phase") or "Pending"),
        ready=ready,
        restarts=restarts,
        last_termination_reason=str(latest.get("reason") or ""),
        ip=str(status.get("podIP") or ""),
    )


def workload_of(meta: Mapping[str, Any], labels: Mapping[str, str]) -> Workload | None:
    """Return the controller of an object, a ReplicaSet resolved to its Deployment by name."""
    owners = [o for o in _list(meta, "ownerReferences") if isinstance(o, dict)]
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if owner is None:
        return None
    kind, name = str(owner.get("kind", "")), str(owner.get("name", ""))
    template_hash = labels.get("pod-template-hash")
    # A Deployment names its ReplicaSets NAME-HASH and labels their pods with
    # the hash: resolving by name needs no permission to read ReplicaSets.
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        return Workload("Deployment", name.removesuffix(f"-{template_hash}"))
    return Workload(kind, name)


def parse_pod(obj: object) -> Pod:
    """Return a Pod from a pod object of the API."""
    meta = _map(obj, "metadata")
    labels = _str_map(meta, "labels")
    return Pod(
        namespace=str(meta.get("namespace") or ""),
        name=_name(meta),
        uid=str(meta.get("uid") or ""),
        labels=labels,
        annotations=_str_map(meta, "annotations"),
        created=parse_timestamp(meta.get("creationTimestamp")),
        owner=workload_of(meta, labels),
        spec=parse_pod_spec(_map(obj, "spec")),
        status=parse_pod_status(_map(obj, "status")),
    )


def parse_node(obj: object) -> Node:
    """Return a Node's name, zone label and kubelet version."""
    meta = _map(obj, "metadata")
    labels = _str_map(meta, "labels")
    info = _map(_map(obj, "status"), "nodeInfo")
    return Node(_name(meta), labels.get(ZONE_LABEL, ""), str(info.get("kubeletVersion") or ""))


def _int_or_percent(value: object) -> int | str | None:
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d+%|\d+", value):
        return int(value) if value.isdigit() else value
    raise MalformedObjectError(f"invalid int-or-percent {value!r}")


def parse_disruption_budget(obj: object) -> Disruption:
    """Return a PodDisruptionBudget."""
    meta, spec = _map(obj, "metadata"), _map(obj, "spec")
    return Disruption(
        namespace=str(meta.get("namespace") or ""),
        name=_name(meta),
        selector=parse_selector(spec.get("selector")),
        min_available=_int_or_percent(spec.get("minAvailable")),
        max_unavailable=_int_or_percent(spec.get("maxUnavailable")),
    )


def _threshold(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value))
    except ValueError as exc:
        raise MalformedObjectError(f"invalid threshold {value!r}") from exc


def parse_scaled_object(obj: object) -> ScaledObject:
    """Return a KEDA ScaledObject with only its Kafka triggers."""
    meta, spec = _map(obj, "metadata"), _map(obj, "spec")
    target = _map(spec, "scaleTargetRef")
    triggers = []
    for trigger in _list(spec, "triggers"):
        kind = trigger.get("type") if isinstance(trigger, dict) else None
        if not isinstance(kind, str) or kind not in KAFKA_TRIGGER_TYPES:
            continue
        md = _map(trigger, "metadata")
        triggers.append(
            KafkaTrigger(
                group=str(md.get("consumerGroup") or ""),
                topic=str(md.get("topic") or ""),
                lag_threshold=_threshold(md.get("lagThreshold")),
                activation_threshold=_threshold(md.get("activationLagThreshold")),
            )
        )
    min_replicas = spec.get("minReplicaCount", 0)
    if not isinstance(min_replicas, int):
        raise MalformedObjectError("minReplicaCount is not an integer")
    return ScaledObject(
        namespace=str(meta.get("namespace") or ""),
        name=_name(meta),
        target=Workload(str(target.get("kind") or "Deployment"), str(target["name"]))
        if target.get("name")
        else None,
        min_replicas=min_replicas,
        annotations=_str_map(meta, "annotations"),
        triggers=tuple(triggers),
    )
