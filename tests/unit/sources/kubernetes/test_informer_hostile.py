"""An informer fed malformed objects and events skips and counts them, keeps the rest, and keeps watching."""

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from broker_lag_exporter.model.kube import Pod
from broker_lag_exporter.model.kube_parse import MalformedObjectError, parse_pod
from broker_lag_exporter.sources.kubernetes.client import PODS, KubeError, Resource
from broker_lag_exporter.sources.kubernetes.informer import Informer
from tests.unit.model.test_kube_hostile import HOSTILE, hostile_objects
from tests.unit.model.test_kube_parse import pod_json


def named(name: str) -> dict[str, Any]:
    obj: dict[str, Any] = pod_json()
    obj["metadata"]["name"] = name
    return obj


class Kube:
    """One list page, then one watch that sends `events` and stays open."""

    def __init__(self, items: list[object], events: list[dict[str, Any]]) -> None:
        self.items, self.events = items, events
        self.watched = asyncio.Event()

    async def list(
        self, _resource: Resource, _namespace: str | None, _params: Mapping[str, object]
    ) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": "1"}, "items": copy.deepcopy(self.items)}

    async def watch(
        self,
        _resource: Resource,
        _namespace: str | None,
        _params: Mapping[str, object],
        _seconds: int,
        opened: Callable[[], None] = lambda: None,
    ) -> AsyncIterator[dict[str, Any]]:
        opened()
        for event in copy.deepcopy(self.events):
            yield event
        self.watched.set()
        await asyncio.Event().wait()


async def run_informer(kube: Kube) -> Informer[Pod]:
    informer: Informer[Pod] = Informer(kube, PODS, None, parse_pod, page_size=10, watch_seconds=60)  # type: ignore[arg-type]
    task = asyncio.create_task(informer.run())
    try:
        async with asyncio.timeout(5):
            await asyncio.wait(
                [task, asyncio.create_task(kube.watched.wait())], return_when="FIRST_COMPLETED"
            )
        assert not task.done(), task.exception()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return informer


def is_malformed(obj: object) -> bool:
    try:
        parse_pod(obj)
    except MalformedObjectError:
        return True
    return False


EVENT_TYPES = st.one_of(st.sampled_from(["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]), HOSTILE)
OBJECTS = st.one_of(hostile_objects(("pod",)).map(lambda c: c[1]), HOSTILE)
EVENTS = st.fixed_dictionaries({"type": EVENT_TYPES, "object": OBJECTS}).filter(
    lambda e: e["type"] != "ERROR"
)


@example(items=[], events=[{"type": "MODIFIED", "object": {"metadata": ["x"]}}])
@example(items=[], events=[{"type": "DELETED", "object": {"metadata": "x"}}])
@example(items=[], events=[{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": ["x"]}}}])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(OBJECTS, max_size=3), events=st.lists(EVENTS, max_size=4))
def test_malformed_objects_are_skipped_counted_and_the_watch_goes_on(items, events):
    """Every object or event around a kept pod and before a last good one."""
    keeper, last = named("keeper-zz"), named("last-zz")
    changes = [
        e["object"] for e in events if e["type"] in ("ADDED", "MODIFIED") and isinstance(e["object"], dict)
    ]
    kube = Kube([keeper, *items], [*events, {"type": "ADDED", "object": last}])
    informer = asyncio.run(run_informer(kube))
    assert {("kafka", "keeper-zz"), ("kafka", "last-zz")} <= informer.items.keys()
    assert all(isinstance(p, Pod) for p in informer.items.values())
    assert informer.malformed == sum(map(is_malformed, [*items, *changes]))


@pytest.mark.parametrize("code", ["abc", [], 1e400, {"a": 1}])
def test_an_error_event_with_a_mistyped_code_is_a_kube_error(code):
    informer: Informer[Pod] = Informer(None, PODS, None, parse_pod, page_size=10, watch_seconds=60)  # type: ignore[arg-type]
    with pytest.raises(KubeError):
        informer._apply({"type": "ERROR", "object": {"code": code, "message": "m"}}, "1")
