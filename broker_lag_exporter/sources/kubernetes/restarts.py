"""Restart-count history per pod, to count restarts within a recent window."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from broker_lag_exporter.model.kafka import BrokerId
from broker_lag_exporter.model.kube import Pod


@dataclass(slots=True)
class _PodHistory:
    broker_id: BrokerId
    created: float
    last_seen: float
    # (time first observed, restart count) at each change of the count, oldest first.
    changes: list[tuple[float, int]] = field(default_factory=list)


class RestartHistory:
    """Restart counts of broker pods over time, keyed by pod uid.

    Kubernetes only reports a running total per container, so "restarts in the
    last N minutes" needs memory across polls. A pod replaced within the window
    (a new uid) keeps counting for its broker until its samples age out.
    """

    def __init__(self, window_seconds: float) -> None:
        self._window = window_seconds
        self._pods: dict[str, _PodHistory] = {}

    def observe(self, now: float, pods: Mapping[BrokerId, Pod]) -> dict[BrokerId, int]:
        """Record the current counts; return restarts per broker within the window ending at `now`."""
        start = now - self._window
        for broker, pod in pods.items():
            key = pod.uid or f"{pod.namespace}/{pod.name}"
            history = self._pods.setdefault(key, _PodHistory(broker, pod.created, now))
            history.last_seen = now
            if not history.changes or history.changes[-1][1] != pod.status.restarts:
                history.changes.append((now, pod.status.restarts))
        recent: dict[BrokerId, int] = dict.fromkeys(pods, 0)
        for key, history in list(self._pods.items()):
            if history.last_seen < start:
                del self._pods[key]  # gone longer than the window: nothing recent left
                continue
            _prune(history, start)
            recent[history.broker_id] = recent.get(history.broker_id, 0) + _increase(history, start)
        return recent


def _prune(history: _PodHistory, start: float) -> None:
    """Drop changes before the window, keeping the last one: the count at the window's start."""
    changes = history.changes
    while len(changes) > 1 and changes[1][0] <= start:
        changes.pop(0)


def _increase(history: _PodHistory, start: float) -> int:
    """Return restarts within the window.

    The baseline is the count at the window's start. A pod first seen inside
    the window that was also created inside it restarted from zero; one seen
    first inside the window but older than it has no known baseline, so only
    increases since it was first seen count.
    """
    first_time, baseline = history.changes[0]
    if first_time > start and history.created > start:
        baseline = 0
    return max(0, history.changes[-1][1] - baseline)
