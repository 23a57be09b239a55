"""HTTP server: /metrics (text or OpenMetrics), /healthz, /readyz, the status page and /api/brokers."""

import asyncio
import base64
import hmac
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from broker_lag_exporter.config.sections import WebOptions
from broker_lag_exporter.status.html import CONTENT_SECURITY_POLICY, render
from broker_lag_exporter.status.view import StatusView, as_json
from broker_lag_exporter.store import Store
from broker_lag_exporter.tls import KeyPair, ReloadingContext
from broker_lag_exporter.web_auth import ServerTls, WatchedWebConfig, allowed_sans, basic_auth

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The page and its JSON are a view of now: never served from a cache.
NO_STORE = {"Cache-Control": "no-store"}


def make_app(
    registry: CollectorRegistry,
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
    last_good: dict[str, bytes] = {}

    async def metrics(request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        try:
            # Rendering is CPU work: keep the event loop free for the pollers.
            body = await asyncio.to_thread(encoder, registry)
        except Exception as exc:  # noqa: BLE001 - counted and logged by the store
            # A bug in a metrics module must not blank every dashboard: serve the
            # last good page (its source timestamps show its age).
            store.internal_error("render", exc)
            if content_type not in last_good:
                raise web.HTTPInternalServerError(text="rendering failed; see the log\n") from None
            body = last_good[content_type]
        else:
            last_good[content_type] = body
        response = web.Response(body=body, headers={"Content-Type": content_type})
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.enable_compression()
        return response

    async def healthz(_: web.Request) -> web.Response:
        if not store.alive:
            return web.Response(status=503, text=f"{store.death}\n")
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if store.ready("kafka"):
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
