"""Kubernetes objects with missing, null or mistyped fields at any depth: a model or MalformedObjectError."""

import contextlib
import copy
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from broker_lag_exporter.model.kube_parse import (
    MalformedObjectError,
    parse_disruption_budget,
    parse_node,
    parse_pod,
    parse_quantity,
    parse_scaled_object,
    parse_timestamp,
)
from tests.unit.model.test_kube_parse import pod_json

NODE = {
    "metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "eu-1a"}},
    "status": {"nodeInfo": {"kubeletVersion": "v1.30.2"}},
}
BUDGET = {
    "metadata": {"name": "kafka", "namespace": "k"},
    "spec": {
        "minAvailable": "50%",
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {"app": "kafka"},
            "matchExpressions": [{"key": "role", "operator": "In", "values": ["broker"]}],
        },
    },
}
SCALED = {
    "metadata": {"name": "orders", "namespace": "apps", "annotations": {"a": "b"}},
    "spec": {
        "scaleTargetRef": {"name": "orders", "kind": "Deployment"},
        "minReplicaCount": 1,
        "triggers": [
            {"type": "cpu", "metadata": {"value": "50"}},
            {
                "type": "kafka",
                "metadata": {
                    "consumerGroup": "orders-svc",
                    "topic": "orders",
                    "lagThreshold": "50",
                    "activationLagThreshold": "5",
                },
            },
        ],
    },
}
PARSERS: dict[str, tuple[Callable[[object], object], Any]] = {
    "pod": (parse_pod, pod_json()),
    "node": (parse_node, NODE),
    "budget": (parse_disruption_budget, BUDGET),
    "scaled": (parse_scaled_object, SCALED),
}

Path = tuple[str | int, ...]
# What a field can turn into: JSON's other types, and the values that trip naive conversions.
HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, -1, 0, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "²", "1e999999999Gi", "٣", "0001-01-01T00:00:00", "NaN", "-1", "50%", "9" * 40]),
    st.lists(st.integers(), max_size=2),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.just([{}]),
    st.just({"a": [None]}),
)


def paths(obj: object, prefix: Path = ()) -> list[Path]:
    """Return the path of every value inside a JSON object, the object itself included."""
    found = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found += paths(value, (*prefix, i))
    return found


def mutate(obj: Any, path: Path, op: str, value: object) -> Any:
    """Delete the value at `path` or replace it; a path gone after an earlier mutation is left."""
    if not path:
        return value
    parent = obj
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return obj
    last = path[-1]
    in_dict = isinstance(parent, dict) and isinstance(last, str) and last in parent
    in_list = isinstance(parent, list) and isinstance(last, int) and last < len(parent)
    if (in_dict or in_list) and op == "delete":
        del parent[last]
    elif in_dict or in_list:
        parent[last] = value
    return obj


@st.composite
def hostile_objects(draw: st.DrawFn, kinds: tuple[str, ...] = tuple(sorted(PARSERS))) -> tuple[str, Any]:
    """Return a parser's name and a valid object of its kind with one to four fields mutated."""
    kind = draw(st.sampled_from(kinds))
    obj = copy.deepcopy(PARSERS[kind][1])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(obj)))
        # A copy: later mutations must not change what st.just() hands to the next example.
        value = copy.deepcopy(draw(HOSTILE))
        obj = mutate(obj, path, draw(st.sampled_from(["delete", "replace"])), value)
    return kind, obj


def parses_or_is_malformed(kind: str, obj: object) -> bool:
    """Return whether the object parsed; any exception but MalformedObjectError fails the test."""
    try:
        PARSERS[kind][0](obj)
    except MalformedObjectError:
        return False
    return True


def test_the_unmutated_objects_parse():
    assert all(parses_or_is_malformed(kind, copy.deepcopy(obj)) for kind, (_, obj) in PARSERS.items())


def mutated(kind: str, *changes: tuple[Path, object]) -> tuple[str, Any]:
    obj = copy.deepcopy(PARSERS[kind][1])
    for path, value in changes:
        obj = mutate(obj, path, "replace", value)
    return kind, obj


STATUS = ("status", "containerStatuses", 0)


# The crashes these properties found, kept as regressions (each raised TypeError or ValueError).
@example(mutated("scaled", (("spec", "triggers", 1, "type"), [])))
@example(mutated("pod", (("status", "conditions", 0, "type"), [])))
@example(mutated("pod", ((*STATUS, "restartCount"), {"a": 1})))
@example(mutated("pod", ((*STATUS, "restartCount"), "0001-01-01T00:00:00")))
@example(mutated("pod", ((*STATUS, "restartCount"), float("inf"))))
@example(mutated("pod", (("spec", "containers", 0, "resources", "limits", "memory"), "1e999999999Gi")))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_objects())
def test_any_mutation_parses_or_is_malformed(case):
    parses_or_is_malformed(*case)


NUMBERS = st.from_regex(r"\A[+-]?[0-9.]{1,8}([eE][+-]?[0-9]{1,10})?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?\Z")


@example("1e999999999Gi")  # decimal.Overflow
@example("9e99999")  # ValueError: int() of a 100,000-digit number
@settings(max_examples=200, deadline=None)
@given(st.one_of(NUMBERS, HOSTILE))
def test_a_quantity_is_an_integer_or_malformed(value):
    with contextlib.suppress(MalformedObjectError):
        assert isinstance(parse_quantity(value), int)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.datetimes().map(lambda d: d.isoformat()), HOSTILE))
def test_a_timestamp_is_a_number_or_malformed(value):
    with contextlib.suppress(MalformedObjectError):
        assert isinstance(parse_timestamp(value), float)
