"""Render once per snapshot: the exposition's bytes, built after each poll outcome and served as they are."""

import asyncio
import gzip
import threading
import time
from collections.abc import Callable, Iterable

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)
TEXT = "text"
OPENMETRICS = "openmetrics"
CONTENT_TYPES = {TEXT: CONTENT_TYPE_PLAIN_0_0_4, OPENMETRICS: openmetrics.CONTENT_TYPE_LATEST}
# prometheus_client's OpenMetrics encoder is untyped.
_encode_openmetrics: Callable[[CollectorRegistry], bytes] = openmetrics.generate_latest
# zlib's default level: higher levels cost far more CPU for a few percent of size.
GZIP_LEVEL = 6


class _Collected(Collector):
    """Families already collected, so both encoders see one collect."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        """Yield the families collected once."""
        return self._families


class Exposition:
    """One snapshot's exposition in both formats; each is gzipped at most once, when first asked."""

    def __init__(self, bodies: dict[str, bytes], render_seconds: float, *, ready: bool = True) -> None:
        self._bodies = bodies
        self._gzipped: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.render_seconds = render_seconds
        self.ready = ready

    def body(self, kind: str) -> bytes:
        """Return the uncompressed bytes of `kind` (TEXT or OPENMETRICS)."""
        return self._bodies[kind]

    def cached_gzip(self, kind: str) -> bytes | None:
        """Return the gzipped bytes of `kind` if they were made already."""
        return self._gzipped.get(kind)

    def gzipped(self, kind: str) -> bytes:
        """Return the gzipped bytes of `kind`, compressing on the first call only."""
        # Concurrent first requests wait for one compression instead of each doing it.
        with self._lock:
            if kind not in self._gzipped:
                self._gzipped[kind] = gzip.compress(self._bodies[kind], GZIP_LEVEL, mtime=0)
            return self._gzipped[kind]


def render(registry: CollectorRegistry, *, ready: bool = True) -> Exposition:
    """Collect the registry once and encode it in the text format and in OpenMetrics."""
    started = time.perf_counter()
    families = list(registry.collect())
    collected = CollectorRegistry(auto_describe=False)
    collected.register(_Collected(families))
    bodies = {TEXT: generate_latest(collected), OPENMETRICS: _encode_openmetrics(collected)}
    return Exposition(bodies, time.perf_counter() - started, ready=ready)


def negotiate(accept: str) -> str:
    """Return the format prometheus_client would pick for this Accept header."""
    _, content_type = choose_encoder(accept)
    return OPENMETRICS if content_type.startswith("application/openmetrics-text") else TEXT


class Renderer:
    """Holds the latest exposition and renders a new one, in a worker thread, after each change.

    Changes that arrive during a render coalesce into one more render, so a burst
    of poll outcomes costs at most two renders and a scrape never renders.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        ready: Callable[[], bool] = lambda: True,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._registry = registry
        self._ready = ready
        self._on_error = on_error
        self._changed = asyncio.Event()
        self.current = self._render()
        # Renders done (served or failed), counted on the loop once over, so whoever reads it
        # after a successful render also gets that render's bytes.
        self.renders = 1

    def ready(self) -> bool:
        """Return whether the bytes served now were rendered from data that makes the exporter ready."""
        return self.current.ready

    def changed(self) -> None:
        """Mark the exposition stale (a Store listener: called on the event loop after a poll)."""
        self._changed.set()

    async def run(self) -> None:
        """Render after every change until cancelled; a failed render keeps the last bytes served."""
        while True:
            await self._changed.wait()
            try:
                await self.update()
            except Exception as exc:
                # A bug in one family must not stop every later render: try again at the next poll.
                if self._on_error is not None:
                    self._on_error(exc)
                else:
                    log.exception("rendering /metrics failed; serving the last rendered bytes")

    async def update(self) -> None:
        """Render now, off the event loop, and serve the result from then on."""
        self._changed.clear()
        try:
            self.current = await asyncio.to_thread(self._render)
        finally:
            self.renders += 1

    async def page(self, accept: str, accept_encoding: str) -> tuple[bytes, str, str]:
        """Return the body, its content type and its content encoding ("" or "gzip") for a request."""
        exposition, kind = self.current, negotiate(accept)
        if "gzip" not in accept_encoding:
            return exposition.body(kind), CONTENT_TYPES[kind], ""
        # Compression is CPU work: only the first request of a snapshot leaves the event loop for it.
        body = exposition.cached_gzip(kind)
        if body is None:
            body = await asyncio.to_thread(exposition.gzipped, kind)
        return body, CONTENT_TYPES[kind], "gzip"

    def _render(self) -> Exposition:
        # Asked before collecting: data that arrives during the render waits for the next one.
        return render(self._registry, ready=self._ready())
