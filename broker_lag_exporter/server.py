"""HTTP server: /metrics (text or OpenMetrics), /healthz, /readyz, the status page and /api/brokers."""

import asyncio
import base64
import hmac
import ssl
import threading
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from broker_lag_exporter.config.sections import WebOptions
from broker_lag_exporter.status.html import CONTENT_SECURITY_POLICY, render
from broker_lag_exporter.status.view import StatusView, as_json
from broker_lag_exporter.store import Store
from broker_lag_exporter.tls import KeyPair, ReloadingContext
from broker_lag_exporter.web_auth import ServerTls, WatchedWebConfig, allowed_sans, basic_auth

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The page and its JSON are a view of now: never served from a cache.
NO_STORE = {"Cache-Control": "no-store"}


class MetricsPage(Protocol):
    """What /metrics serves: bytes rendered once per snapshot, before any scrape asks."""

    async def page(self, accept: str, accept_encoding: str) -> tuple[bytes, str, str]:
        """Return the body, its content type and its content encoding ("" or "gzip")."""
        ...

    def ready(self) -> bool:
        """Return whether the bytes served now hold the first Kafka snapshot."""
        ...


def make_app(
    exposition: MetricsPage,
    store: Store,
    settings: WebOptions,
    status: Callable[[], StatusView],
) -> web.Application:
    """Build the aiohttp application; `status` returns the page's view of the cached assessment."""
    middlewares: list[Middleware] = []
    # `is not None`, not truthiness: an empty password must fail closed, never turn auth off.
    if settings.web_basic_auth_username is not None and settings.web_basic_auth_password is not None:
        middlewares.append(
            _basic_auth(
                settings.web_basic_auth_username,
                settings.web_basic_auth_password.get_secret_value(),
            )
        )
    if settings.web_config_file is not None:
        watched = WatchedWebConfig(settings.web_config_file)
        middlewares.append(
            allowed_sans(lambda: tls.allowed_sans if (tls := watched.current().tls) else frozenset())
        )
        middlewares.append(basic_auth(lambda: watched.current().users))
    app = web.Application(middlewares=middlewares)

    async def metrics(request: web.Request) -> web.Response:
        body, content_type, encoding = await exposition.page(
            request.headers.get("Accept", ""), request.headers.get("Accept-Encoding", "")
        )
        headers = {"Content-Type": content_type, "Vary": "Accept, Accept-Encoding"}
        if encoding:
            headers["Content-Encoding"] = encoding
        return web.Response(body=body, headers=headers)

    async def healthz(_: web.Request) -> web.Response:
        if not store.alive:
            return web.Response(status=503, text=f"{store.death}\n")
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        # Ready once /metrics serves the snapshot, not just once the store holds it.
        if store.ready("kafka") and exposition.ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="waiting for the first Kafka snapshot\n")

    async def page(_: web.Request) -> web.Response:
        # Like /metrics: CPU work off the event loop (sorting every group of a large cluster).
        text = await asyncio.to_thread(lambda: render(status()))
        headers = {**NO_STORE, "Content-Security-Policy": CONTENT_SECURITY_POLICY}
        return web.Response(text=text, content_type="text/html", headers=headers)

    async def api_brokers(_: web.Request) -> web.Response:
        data = await asyncio.to_thread(lambda: as_json(status()))
        return web.json_response(data, headers=NO_STORE)

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/", page)
    app.router.add_get("/api/brokers", api_brokers)
    return app


def _basic_auth(username: str, password: str) -> Middleware:
    expected = b"Basic " + base64.b64encode(f"{username}:{password}".encode())

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Probes stay open so kubelet needs no credentials.
        if request.path in ("/healthz", "/readyz"):
            return await handler(request)
        # aiohttp keeps undecodable header bytes as surrogates: encode them back
        # as they came, so any bytes compare (and fail) instead of raising.
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="metrics"'})
        return await handler(request)

    return check


def ssl_context(settings: WebOptions) -> ssl.SSLContext | None:
    """Return a server TLS context, re-reading its files when they change, when TLS is configured."""
    if settings.web_config_file is not None:
        return WatchedWebConfig(settings.web_config_file).tls_context()
    if settings.web_tls_certfile is None or settings.web_tls_keyfile is None:
        return None
    tls = ServerTls(KeyPair(settings.web_tls_certfile, settings.web_tls_keyfile))
    return ReloadingContext(tls.build, tls.files)


class ServerThread:
    """The HTTP server on a thread and event loop of its own.

    Decoding a poll's answers is CPU work on the pollers' event loop (about half a
    second at 10,000 partitions); on a loop of its own a scrape waits at most a GIL
    switch interval for it, not the whole poll.
    """

    def __init__(self, app: web.Application, settings: WebOptions, start_timeout: float = 30.0) -> None:
        self._app = app
        self._settings = settings
        self._start_timeout = start_timeout
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def start(self) -> None:
        """Start serving; raise what stopped the server from listening (a port in use, a bad cert)."""
        self._thread.start()
        if not self._started.wait(self._start_timeout):
            raise TimeoutError(f"the HTTP server did not start within {self._start_timeout:g} s")
        if self._error is not None:
            raise self._error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - handed to start(), which raises it in the caller
            self._error = exc
            self._started.set()

    async def _serve(self) -> None:
        runner = web.AppRunner(self._app)
        await runner.setup()
        try:
            site = web.TCPSite(
                runner,
                self._settings.listen_host,
                self._settings.listen_port,
                ssl_context=ssl_context(self._settings),
            )
            await site.start()
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._started.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()
