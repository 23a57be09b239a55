"""JvmSource: each broker's JVM metrics page (jmx_exporter agent), fetched concurrently."""

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

import aiohttp
import structlog
from prometheus_client.parser import text_string_to_metric_families
from yarl import URL

from broker_lag_exporter.config.sections import JvmOptions, PollOptions
from broker_lag_exporter.model.jvm import JvmMemory, JvmScrape, JvmSnapshot, ScrapeFailure
from broker_lag_exporter.model.kafka import Broker, BrokerId
from broker_lag_exporter.sources import SourceError

log = structlog.get_logger(__name__)

# Returns each broker's page URL, waiting up to the given seconds for the first ones;
# app.py builds it from the other sources' data (a source never reads the store).
EndpointFinder = Callable[[float], Awaitable[Mapping[BrokerId, str]]]
# jmx_exporter 1.x serves OpenMetrics when asked; the classic format is all we parse.
ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"
_NOT_TEXT_TYPES = ("text/html", "application/json", "application/xml", "text/xml")


@dataclass(frozen=True, slots=True)
class _Series:
    """Samples of one name whose labels include `labels`; several matches are summed."""

    name: str
    labels: tuple[tuple[str, str], ...] = ()


def _s(name: str, **labels: str) -> _Series:
    return _Series(name, tuple(labels.items()))


# For each memory part, the names that serve it, newest first: jmx_exporter 1.x
# (client_java 1.x, also Strimzi's agent from 0.43 and its metrics reporter),
# then 0.x (simpleclient_hotspot, older Strimzi). Buffer pools kept their name.
_PARTS: Mapping[str, tuple[_Series, ...]] = {
    "heap_used": (_s("jvm_memory_used_bytes", area="heap"), _s("jvm_memory_bytes_used", area="heap")),
    "heap_max": (_s("jvm_memory_max_bytes", area="heap"), _s("jvm_memory_bytes_max", area="heap")),
    "nonheap_used": (
        _s("jvm_memory_used_bytes", area="nonheap"),
        _s("jvm_memory_bytes_used", area="nonheap"),
    ),
    "direct_used": (_s("jvm_buffer_pool_used_bytes", pool="direct"),),
    "mapped_used": (_s("jvm_buffer_pool_used_bytes", pool="mapped"),),
}
_REQUIRED = ("heap_used", "nonheap_used", "direct_used")
_NAMES = frozenset(series.name for options in _PARTS.values() for series in options)
_LINE_PREFIXES = tuple(f"{name}{end}" for name in _NAMES for end in ("{", " "))


class PageError(Exception):
    """A broker's page could not be used; `reason` is one of ScrapeFailure."""

    def __init__(self, reason: ScrapeFailure, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: ScrapeFailure = reason
        self.detail = detail


def resolve_endpoints(
    static: Mapping[BrokerId, str],
    template: str | None,
    brokers: Iterable[Broker],
    pod_ips: Mapping[BrokerId, str] | None = None,
) -> dict[BrokerId, str]:
    """Return each broker's JVM page URL: the template filled per broker, overridden by the static map.

    A broker lacking what the template names (no pod IP for `{pod_ip}`, not in
    Kafka metadata for `{host}`) is left out rather than given a wrong URL.
    """
    found: dict[BrokerId, str] = {}
    if template is not None:
        known = {b.id: b for b in brokers}
        ips = pod_ips or {}
        for broker_id in sorted(set(known) | set(ips)):
            values: dict[str, object] = {"id": broker_id}
            if broker_id in known:
                values |= {"host": _bracket(known[broker_id].host), "port": known[broker_id].port}
            if broker_id in ips:
                values["pod_ip"] = _bracket(ips[broker_id])
            try:
                found[broker_id] = template.format(**values)
            except KeyError:
                continue
    found.update(static)
    return found


def _bracket(host: str) -> str:
    """Return the host as a URL needs it: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host


def parse_memory(body: bytes, content_type: str = "text/plain") -> JvmMemory:
    """Read heap, non-heap and buffer pool bytes from a Prometheus text page; raise PageError."""
    media = content_type.split(";", 1)[0].strip().lower()
    text = body.decode("utf-8", errors="replace")
    if media in _NOT_TEXT_TYPES or text.lstrip()[:1] in ("<", "{", "["):
        raise PageError("not_prometheus_text", f"content type {media or 'unknown'}")
    # The text format ends every line with a newline (OpenMetrics with "# EOF"):
    # a page without it was cut off, even when its length header agreed.
    if media == "application/openmetrics-text" and not text.rstrip().endswith("# EOF"):
        raise PageError("truncated", "no # EOF line")
    if text and not text.endswith("\n"):
        raise PageError("truncated", "last line has no newline")
    values = _values(_relevant(text))
    missing = [part for part in _REQUIRED if part not in values]
    if missing:
        raise PageError("missing_series", f"no usable series for {', '.join(missing)}")
    heap_max = values.get("heap_max")
    return JvmMemory(
        heap_used=values["heap_used"],
        heap_max=heap_max if heap_max is not None and heap_max >= 0 else None,
        nonheap_used=values["nonheap_used"],
        direct_used=values["direct_used"],
        mapped_used=values.get("mapped_used"),
    )


def _relevant(text: str) -> str:
    """Keep only the lines of the families we read.

    Pages with Kafka MBean rules run to megabytes; parsing them whole every poll
    would cost far more CPU than the five families we need.
    """
    lines = (
        line
        for line in text.splitlines()
        if (line[7:] if line.startswith(("# HELP ", "# TYPE ")) else line).startswith(_LINE_PREFIXES)
    )
    return "".join(f"{line}\n" for line in lines)


def _values(text: str) -> dict[str, float]:
    try:
        samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    except ValueError as exc:
        raise PageError("not_prometheus_text", str(exc)[:200]) from None
    values: dict[str, float] = {}
    for part, options in _PARTS.items():
        for series in options:
            found = [
                s.value
                for s in samples
                if s.name == series.name and all(s.labels.get(k) == v for k, v in series.labels)
            ]
            total = _bytes(found)
            if total is not None:
                values[part] = total
                break
    return values


def _bytes(values: list[float]) -> float | None:
    """Return the sum of some series' bytes, or None when there are none or they are not all usable.

    A JVM reports no NaN, infinite or negative byte counts (JMX's -1 "undefined"
    max reads as no max): such a value is as good as missing, never summed into
    the others (+Inf and -Inf, or two 1e308, made math.fsum raise). The parser
    returns a value written without a point as an int, of any size.
    """
    try:
        numbers = [float(v) for v in values]
        total = math.fsum(numbers)
    except (OverflowError, ValueError):  # an int past float; fsum's overflow or inf - inf
        return None
    if not numbers or not all(math.isfinite(v) and v >= 0 for v in numbers) or not math.isfinite(total):
        return None
    return total


class JvmSource:
    """Scrapes every broker's JVM page each poll; one broker's bad page costs only that broker.

    Counts failures by broker and reason across polls, so the counter is a
    true Prometheus counter.
    """

    name = "jvm"

    def __init__(self, jvm: JvmOptions, poll: PollOptions, endpoints: EndpointFinder) -> None:
        self._endpoints = endpoints
        self._deadline = poll.request_timeout_seconds
        self._max_bytes = jvm.jvm_max_page_bytes
        self._limit = asyncio.Semaphore(poll.max_concurrent_requests)
        self._session: aiohttp.ClientSession | None = None
        self._failures: Counter[tuple[BrokerId, ScrapeFailure]] = Counter()
        self._last: dict[BrokerId, ScrapeFailure | None] = {}

    async def collect(self) -> JvmSnapshot:
        """Fetch every broker's page concurrently; raise SourceError when none is known."""
        endpoints = await self._wait_for_endpoints()
        async with asyncio.TaskGroup() as tg:
            tasks = {b: tg.create_task(self._scrape(url)) for b, url in sorted(endpoints.items())}
        scrapes = {b: task.result() for b, task in tasks.items()}
        for broker_id, scrape in scrapes.items():
            self._note(broker_id, scrape)
        return JvmSnapshot(scrapes, dict(self._failures))

    async def _wait_for_endpoints(self) -> dict[BrokerId, str]:
        """Return the endpoints, waiting up to one request deadline for the first ones.

        At start the Kafka or Kubernetes snapshot a template needs is usually a
        moment away; failing the first poll would log a false alarm every start.
        """
        try:
            return dict(await self._endpoints(self._deadline))
        except TimeoutError:
            raise SourceError(
                "no JVM endpoints: jvm_url_template needs brokers from the Kafka or Kubernetes snapshot"
            ) from None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Deadlines come from asyncio.timeout per page; the semaphore bounds connections.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None),
                connector=aiohttp.TCPConnector(limit=0),
                headers={"Accept": ACCEPT},
            )
        return self._session

    async def _scrape(self, url: str) -> JvmScrape:
        async with self._limit:
            started = time.monotonic()
            try:
                body, content_type = await self._fetch(url)
                memory = parse_memory(body, content_type)
            except PageError as exc:
                return JvmScrape(url, None, exc.reason, exc.detail, time.monotonic() - started)
            return JvmScrape(url, memory, None, "", time.monotonic() - started)

    async def _fetch(self, url: str) -> tuple[bytes, str]:
        """GET one page, reading at most `jvm_max_page_bytes`; translate every failure to PageError."""
        try:
            async with asyncio.timeout(self._deadline), self._http().get(url) as resp:
                if resp.status != 200:
                    raise PageError("http_status", f"HTTP {resp.status}")
                if (resp.content_length or 0) > self._max_bytes:
                    raise PageError("too_large", f"Content-Length {resp.content_length}")
                return await self._read(resp), resp.headers.get("Content-Type", "")
        except TimeoutError:
            raise PageError("timeout", f"no complete page within {self._deadline:g}s") from None
        except aiohttp.ClientPayloadError as exc:
            raise PageError("truncated", str(exc)[:200]) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise PageError("connection", str(exc)[:200] or type(exc).__name__) from None

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self._max_bytes:
                raise PageError("too_large", f"over {self._max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _note(self, broker_id: BrokerId, scrape: JvmScrape) -> None:
        """Count a failure; log a broker's failures and recoveries, not every poll."""
        if scrape.failure is not None:
            self._failures[broker_id, scrape.failure] += 1
        if self._last.get(broker_id) == scrape.failure:
            return
        self._last[broker_id] = scrape.failure
        where = str(URL(scrape.url).with_user(None))
        if scrape.failure is None:
            log.info("jvm page recovered", broker_id=broker_id, url=where)
        else:
            log.warning(
                "jvm page failed", broker_id=broker_id, url=where, reason=scrape.failure, detail=scrape.detail
            )
