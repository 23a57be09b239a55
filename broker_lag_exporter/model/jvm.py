"""Immutable JVM memory data the jvm source produces: one page per broker."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, get_args

from broker_lag_exporter.model.kafka import BrokerId

ScrapeFailure: TypeAlias = Literal[
    "timeout",
    "connection",
    "http_status",
    "too_large",
    "truncated",
    "not_prometheus_text",
    "missing_series",
]
SCRAPE_FAILURES: tuple[ScrapeFailure, ...] = get_args(ScrapeFailure)


@dataclass(frozen=True, slots=True)
class JvmMemory:
    """One broker JVM's memory, in bytes, as its metrics page reported it.

    `heap_max` is None when the JVM reports no limit; `mapped_used` is None when
    the page has no mapped buffer pool.
    """

    heap_used: float
    heap_max: float | None
    nonheap_used: float
    direct_used: float
    mapped_used: float | None = None


@dataclass(frozen=True, slots=True)
class JvmScrape:
    """The outcome of fetching one broker's JVM metrics page: memory or a failure."""

    url: str
    memory: JvmMemory | None = None
    failure: ScrapeFailure | None = None
    detail: str = ""
    duration_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class JvmSnapshot:
    """Every broker's JVM page of one poll, and failures counted since start."""

    brokers: Mapping[BrokerId, JvmScrape]
    failures_total: Mapping[tuple[BrokerId, ScrapeFailure], int] = field(default_factory=dict)
