"""An informer whose watch failed is healthy again once a watch is accepted, before any event."""

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from broker_lag_exporter.model.kube import Pod
from broker_lag_exporter.model.kube_parse import parse_pod
from broker_lag_exporter.sources.kubernetes.client import NODES, KubeError, Resource
from broker_lag_exporter.sources.kubernetes.informer import Informer


class Restarting:
    """One list, a watch refused as by an apiserver that is down, then a quiet watch that stays open."""

    def __init__(self) -> None:
        self.watches = 0
        self.refused = asyncio.Event()
        self.quiet = asyncio.Event()

    async def list(
        self, _resource: Resource, _namespace: str | None, _params: Mapping[str, object]
    ) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": "7"}, "items": []}

    async def watch(
        self,
        resource: Resource,
        namespace: str | None,
        _params: Mapping[str, object],
        _seconds: int,
        opened: Callable[[], None] = lambda: None,
    ) -> AsyncIterator[dict[str, Any]]:
        self.watches += 1
        if self.watches == 1:
            self.refused.set()
            raise KubeError(0, "watch", resource, namespace, "connection refused")
        opened()
        self.quiet.set()
        await asyncio.Event().wait()  # nodes that do not change: no event for minutes
        yield {}


async def test_a_quiet_watch_accepted_after_a_failure_clears_it() -> None:
    kube = Restarting()
    informer: Informer[Pod] = Informer(kube, NODES, None, parse_pod, page_size=10, watch_seconds=60)  # type: ignore[arg-type]
    task = asyncio.create_task(informer.run())
    try:
        async with asyncio.timeout(5):
            await kube.refused.wait()
            await asyncio.sleep(0)
            assert informer.failure(0) is not None
            await kube.quiet.wait()
        assert informer.failure(0) is None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
