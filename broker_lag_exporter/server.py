"""HTTP server: /metrics (text or OpenMetrics), /healthz, /readyz and a landing page."""

import base64
import hmac
import ssl
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from broker_lag_exporter import __version__
from broker_lag_exporter.config.sections import WebOptions
from broker_lag_exporter.store import Store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class MetricsPage(Protocol):
    """What /metrics serves: bytes rendered once per snapshot, before any scrape asks."""

    async def page(self, accept: str, accept_encoding: str) -> tuple[bytes, str, str]:
        """Return the body, its content type and its content encoding ("" or "gzip")."""
        ...

    def ready(self) -> bool:
        """Return whether the bytes served now hold the first Kafka snapshot."""
        ...


LANDING = """<!doctype html>
<html><head><title>broker-lag-exporter</title></head>
<body><h1>broker-lag-exporter {version}</h1>
<p>Kafka consumer lag, leadership and risk, attributed to broker ids.</p>
<ul><li><a href="metrics">/metrics</a></li><li><a href="healthz">/healthz</a></li>
<li><a href="readyz">/readyz</a></li></ul></body></html>
"""


def make_app(exposition: MetricsPage, store: Store, settings: WebOptions) -> web.Application:
    """Build the aiohttp application."""
    middlewares: list[Middleware] = []
    if settings.web_basic_auth_username and settings.web_basic_auth_password:
        middlewares.append(
            _basic_auth(
                settings.web_basic_auth_username,
                settings.web_basic_auth_password.get_secret_value(),
            )
        )
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
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        # Ready once /metrics serves the snapshot, not just once the store holds it.
        if store.ready("kafka") and exposition.ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="waiting for the first Kafka snapshot\n")

    async def landing(_: web.Request) -> web.Response:
        return web.Response(text=LANDING.format(version=__version__), content_type="text/html")

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/", landing)
    return app


def _basic_auth(username: str, password: str) -> Middleware:
    expected = b"Basic " + base64.b64encode(f"{username}:{password}".encode())

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Probes stay open so kubelet needs no credentials.
        if request.path in ("/healthz", "/readyz"):
            return await handler(request)
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="metrics"'})
        return await handler(request)

    return check


def ssl_context(settings: WebOptions) -> ssl.SSLContext | None:
    """Return a server TLS context when a certificate is configured."""
    if settings.web_tls_certfile is None or settings.web_tls_keyfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.web_tls_certfile, settings.web_tls_keyfile)
    return context
