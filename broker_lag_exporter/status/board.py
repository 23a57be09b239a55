"""The status page's inputs: the pipeline's cached assessment, the sources' health and the clock."""

import time
from collections.abc import Callable, Mapping

from broker_lag_exporter.model.health import Health
from broker_lag_exporter.risk.engine import Assessment
from broker_lag_exporter.status.view import StatusView, build_view


class StatusBoard:
    """Builds the page's view on request from the same cached assessment `/metrics` renders."""

    def __init__(
        self,
        latest: Callable[[], Assessment],
        health: Callable[[], Mapping[str, Health]],
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._latest = latest
        self._health = health
        self._refresh = refresh_seconds
        self._clock = clock

    def view(self) -> StatusView:
        """Return the view of the latest assessment, now."""
        return build_view(self._latest(), self._health(), now=self._clock(), refresh_seconds=self._refresh)
