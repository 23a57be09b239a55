"""KubernetesSource: informers on pods, nodes, PDBs and ScaledObjects; each poll reads their stores."""

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from broker_lag_exporter.config.sections import KubeOptions, PollOptions
from broker_lag_exporter.model.broker_ids import is_broker_pod, map_brokers, parse_id_rule
from broker_lag_exporter.model.kube import KubeSnapshot, Pod
from broker_lag_exporter.model.kube_parse import (
    parse_disruption_budget,
    parse_node,
    parse_pod,
    parse_scaled_object,
    parse_selector_string,
)
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kubernetes.client import (
    DISRUPTION_BUDGETS,
    NODES,
    PODS,
    SCALED_OBJECTS,
    KubeClient,
    Resource,
)
from broker_lag_exporter.sources.kubernetes.informer import Informer
from broker_lag_exporter.sources.kubernetes.restarts import RestartHistory

_FINISHED = frozenset({"Succeeded", "Failed"})


class KubernetesSource:
    """Reads broker pods (and what the risk rules need) through long-running watches.

    The informers start on the first poll and run until close(); a poll only
    waits for their first list, then turns their stores into a KubeSnapshot.
    Restart counts are remembered across polls for the recent-restarts window.
    """

    name = "kubernetes"

    def __init__(
        self, settings: KubeOptions, poll: PollOptions, clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._poll = poll
        self._clock = clock
        self._selectors = [parse_selector_string(s) for s in settings.kube_broker_selectors]
        self._id_rule = parse_id_rule(settings.kube_broker_id)
        self._history = RestartHistory(settings.kube_recent_restart_window_seconds)
        self._kube: KubeClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pods: list[Informer[Pod]] = []
        self._informers: list[Informer[Any]] = []

    async def _start(self) -> KubeClient:
        if self._kube is not None:
            return self._kube
        self._kube = kube = await KubeClient.connect(self._settings, self._poll.request_timeout_seconds)
        s = self._settings
        namespaces: list[str | None] = list(s.kube_namespaces) or [None]

        def informer(
            resource: Resource, ns: str | None, parse: Callable[[object], Any], optional: bool = False
        ) -> Informer[Any]:
            return Informer(
                kube,
                resource,
                ns,
                parse,
                page_size=s.kube_page_size,
                watch_seconds=s.kube_watch_timeout_seconds,
                optional=optional,
            )

        self._pods = [informer(PODS, ns, parse_pod) for ns in namespaces]
        self._nodes = informer(NODES, None, parse_node)
        self._budgets = [informer(DISRUPTION_BUDGETS, ns, parse_disruption_budget) for ns in namespaces]
        self._scaled = (
            [informer(SCALED_OBJECTS, ns, parse_scaled_object, optional=True) for ns in namespaces]
            if s.kube_keda
            else []
        )
        self._informers = [*self._pods, self._nodes, *self._budgets, *self._scaled]
        self._tasks = [
            asyncio.create_task(i.run(), name=f"informer-{i.resource.name}") for i in self._informers
        ]
        return kube

    async def collect(self) -> KubeSnapshot:
        """Return the current broker pods and related objects; raise SourceError when any read fails."""
        kube = await self._start()
        # The first poll waits for every first list (bounded by the poll's deadline).
        await asyncio.gather(*(i.settled.wait() for i in self._informers))
        grace = self._poll.poll_interval_seconds
        failed = [str(e) for i in self._informers if (e := i.failure(grace)) is not None]
        if failed:
            raise SourceError("; ".join(sorted(set(failed))))
        await self._still_answering(kube)
        return self._snapshot()

    async def _still_answering(self, kube: KubeClient) -> None:
        """Read one pod under the request deadline: raise SourceError if the API server does not answer.

        A hung API server accepts connections and answers nothing: open watches
        just go quiet (as on a quiet cluster) for up to the watch timeout, while
        the cache ages unseen. One tiny read per poll tells the two apart.
        """
        pods = self._pods[0]
        await kube.list(pods.resource, pods.namespace, {"limit": 1})

    def _snapshot(self) -> KubeSnapshot:
        pods = [p for inf in self._pods for p in inf.items.values()]
        brokers = [p for p in pods if p.status.phase not in _FINISHED and is_broker_pod(p, self._selectors)]
        mapped, unmapped = map_brokers(brokers, self._id_rule)
        scaled = None
        if self._scaled and any(i.installed for i in self._scaled):
            scaled = tuple(so for i in self._scaled for so in i.items.values())
        return KubeSnapshot(
            broker_pods=mapped,
            unmapped=unmapped,
            nodes={n.name: n for n in self._nodes.items.values()},
            disruption_budgets=tuple(b for i in self._budgets for b in i.items.values()),
            pods_by_ip=_by_ip(pods),
            scaled_objects=scaled,
            recent_restarts=self._history.observe(self._clock(), mapped),
            malformed=_per_resource(self._informers, lambda i: i.malformed),
            relists=_relists(self._informers),
            broker_container=self._settings.kube_broker_container,
        )

    async def close(self) -> None:
        """Stop the watches and close the connections."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._kube is not None:
            kube, self._kube = self._kube, None
            await kube.close()


def _by_ip(pods: Iterable[Pod]) -> dict[str, Pod]:
    # Host-network pods share their node's address: an IP would name many pods.
    return {
        p.status.ip: p
        for p in pods
        if p.status.ip and not p.spec.host_network and p.status.phase == "Running"
    }


def _relists(informers: Iterable[Informer[Any]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for i in informers:
        for reason, count in i.relists.items():
            out[i.resource.name, reason] = out.get((i.resource.name, reason), 0) + count
    return out


def _per_resource(
    informers: Iterable[Informer[Any]], count: Callable[[Informer[Any]], int]
) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in informers:
        out[i.resource.name] = out.get(i.resource.name, 0) + count(i)
    return out
