"""The snapshot store: the latest good data of each source and that source's health."""

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

import structlog

from broker_lag_exporter.model.health import Health

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Entry:
    data: object
    taken_at: float


class Store:
    """Holds immutable data per source; writers replace whole entries, readers never block.

    Data older than `max_age_seconds` is dropped rather than served as fresh,
    and its source reported down.
    """

    def __init__(self, max_age_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._max_age = max_age_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._health: dict[str, Health] = {}
        self._listeners: list[Callable[[], None]] = []
        self._internal_errors: Counter[str] = Counter()
        self._logged: dict[str, str] = {}
        self.death: str | None = None
        self._failure_listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None], *, failures: bool = False) -> None:
        """Call `listener` after every successful poll of any source, and after failed ones if asked."""
        self._listeners.append(listener)
        if failures:
            self._failure_listeners.append(listener)

    def register(self, name: str) -> None:
        """Make a source known so its health is exported before its first poll ends."""
        self._health.setdefault(name, Health())

    def record_success(self, name: str, data: object, duration: float) -> None:
        """Store fresh data from a source."""
        now = self._clock()
        self._entries[name] = _Entry(data, now)
        old = self._health.get(name, Health())
        self._health[name] = replace(
            old, up=True, duration_seconds=duration, last_success=now, last_error=None
        )
        for listener in self._listeners:
            try:
                listener()
            except Exception as exc:  # noqa: BLE001 - counted and logged; see internal_error
                # Listeners run join and risk code over data from outside: a bug
                # there must cost one refresh, never the poller that stored the data.
                self.internal_error("listener", exc, source=name)

    def record_failure(self, name: str, error: str, duration: float) -> None:
        """Count a failed poll; the last good data stays until it is too old."""
        old = self._health.get(name, Health())
        self._health[name] = replace(
            old,
            up=False,
            duration_seconds=duration,
            errors_total=old.errors_total + 1,
            last_error=error,
        )
        for listener in self._failure_listeners:
            listener()

    def latest(self, name: str, kind: type[T]) -> T | None:
        """Return the source's data if it is fresh enough and of the expected type."""
        entry = self._entries.get(name)
        if entry is None or self._clock() - entry.taken_at > self._max_age:
            return None
        return entry.data if isinstance(entry.data, kind) else None

    def health(self) -> Mapping[str, Health]:
        """Return every source's health; `up` is false once its data is stale."""
        now = self._clock()
        return {
            name: h
            if not h.up or (h.last_success or 0) >= now - self._max_age
            else replace(h, up=False, last_error="data older than max_data_age_seconds")
            for name, h in self._health.items()
        }

    def now(self) -> float:
        """Return the store's clock."""
        return self._clock()

    def fresh(self, taken_at: float) -> bool:
        """Return whether something taken at `taken_at` (store clock) is young enough to serve."""
        return self._clock() - taken_at <= self._max_age

    def internal_error(self, stage: str, exc: BaseException, **context: object) -> None:
        """Count an exception a stage caught; log it once per stage and distinct message."""
        self._internal_errors[stage] += 1
        text = f"{type(exc).__name__}: {exc}"
        if self._logged.get(stage) != text:
            self._logged[stage] = text
            log.error("internal error", stage=stage, error=text, exc_info=exc, **context)

    def internal_errors(self) -> Mapping[str, int]:
        """Return the internal errors caught so far, by stage."""
        return dict(self._internal_errors)

    def die(self, reason: str) -> None:
        """Record that background work ended for good: /healthz fails from now on."""
        self.death = reason

    @property
    def alive(self) -> bool:
        """Return whether the background work is still running."""
        return self.death is None

    def ready(self, name: str) -> bool:
        """Return whether the source has succeeded at least once."""
        return self._health.get(name, Health()).last_success is not None
