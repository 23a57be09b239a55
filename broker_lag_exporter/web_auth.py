"""/metrics secured like a Prometheus exporter: the exporter-toolkit web config (TLS, mTLS, bcrypt users).

The file format is prometheus/exporter-toolkit's (`--web.config.file` of node_exporter), so a
file users already have works here; keys this exporter cannot honour are errors, not ignored.
"""

import asyncio
import base64
import binascii
import hashlib
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import bcrypt
import structlog
import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware

from broker_lag_exporter.tls import KeyPair, ReloadingContext, ca_problems, pair_problems, signature

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Python's ssl module verifies any certificate it asks for, so Go's two "accept unverified
# client certificates" policies cannot be offered.
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
TLS_KEYS = {
    "cert_file",
    "key_file",
    "client_ca_file",
    "client_auth_type",
    "client_allowed_sans",
    "min_version",
    "max_version",
}
# http2 is on by default in the toolkit; aiohttp speaks HTTP/1.1, which every scraper accepts.
HTTP_KEYS = {"http2"}
PROBES = ("/healthz", "/readyz")
_BCRYPT_PREFIXES = (b"$2a$", b"$2b$", b"$2y$")


@cache
def _dummy_hash() -> bytes:
    """Return a hash to check unknown users against, so timing does not tell which users exist."""
    # Made on first use: hashing costs tens of milliseconds, too much for every start of the CLI.
    return bcrypt.hashpw(b"unknown user", bcrypt.gensalt(rounds=10))


@dataclass(frozen=True)
class ServerTls:
    """The server certificate, and how clients' certificates are checked."""

    pair: KeyPair
    client_cafile: Path | None = None
    client_auth: ssl.VerifyMode = ssl.CERT_NONE
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion | None = None
    allowed_sans: frozenset[str] = frozenset()

    def files(self) -> list[Path]:
        """Return every file the context reads."""
        extra = [self.client_cafile] if self.client_cafile else []
        return [self.pair.certfile, self.pair.keyfile, *extra]

    def build(self) -> ssl.SSLContext:
        """Return a fresh server context from the files as they are now."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = self.min_version
        if self.max_version is not None:
            context.maximum_version = self.max_version
        self.pair.load_into(context)
        if self.client_cafile is not None:
            context.load_verify_locations(cafile=self.client_cafile)
        context.verify_mode = self.client_auth
        return context


@dataclass(frozen=True)
class WebConfig:
    """A parsed web config file: optional TLS and the bcrypt hash of each user."""

    tls: ServerTls | None = None
    users: Mapping[str, bytes] = field(default_factory=dict, repr=False)


def load_web_config(path: Path) -> WebConfig:
    """Parse and check a web config file; raise ValueError listing every problem.

    Relative paths are relative to the file's folder, as in the toolkit.
    """
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read web config {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"web config {path} must be a mapping")  # noqa: TRY004 (pydantic lists ValueErrors)
    problems = [
        f"unknown key {k!r}"
        for k in raw
        if k not in ("tls_server_config", "basic_auth_users", "http_server_config")
    ]
    problems += [
        f"http_server_config.{k} is not supported"
        for k in _mapping(raw, "http_server_config", problems)
        if k not in HTTP_KEYS
    ]
    users, user_problems = _users(_mapping(raw, "basic_auth_users", problems))
    tls, tls_problems = _tls(_mapping(raw, "tls_server_config", problems), path.parent)
    problems += user_problems + tls_problems
    if problems:
        raise ValueError(f"web config {path}: " + "; ".join(problems))
    return WebConfig(tls=tls, users=users)


def _mapping(raw: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        problems.append(f"{key} must be a mapping")
        return {}
    return value


def _users(raw: dict[str, Any]) -> tuple[dict[str, bytes], list[str]]:
    users: dict[str, bytes] = {}
    problems = []
    for user, hashed in raw.items():
        if not user or not isinstance(user, str):
            problems.append("basic_auth_users: a user name is empty")
        elif not isinstance(hashed, str) or not hashed:
            problems.append(f"basic_auth_users.{user}: the password hash is empty")
        elif not (hashed.encode().startswith(_BCRYPT_PREFIXES) and len(hashed) == 60):
            problems.append(f"basic_auth_users.{user}: not a bcrypt hash (use `htpasswd -nBC 10 USER`)")
        else:
            users[user] = hashed.encode()
    return users, problems


def _tls(raw: dict[str, Any], base: Path) -> tuple[ServerTls | None, list[str]]:
    if not raw:
        return None, []
    problems = [f"tls_server_config.{k} is not supported" for k in raw if k not in TLS_KEYS]
    cert, key = raw.get("cert_file"), raw.get("key_file")
    if not cert or not key:
        return None, [*problems, "tls_server_config needs both cert_file and key_file"]
    pair = KeyPair(base / str(cert), base / str(key))
    problems += pair_problems("tls_server_config.cert_file", "tls_server_config.key_file", pair)
    policy = raw.get("client_auth_type") or "NoClientCert"
    if policy not in CLIENT_AUTH:
        problems.append(
            f"tls_server_config.client_auth_type {policy!r} is not one of {', '.join(CLIENT_AUTH)}"
        )
    ca = base / str(raw["client_ca_file"]) if raw.get("client_ca_file") else None
    if ca is not None:
        problems += ca_problems("tls_server_config.client_ca_file", ca)
        if policy == "NoClientCert":
            problems.append(
                "tls_server_config.client_ca_file is set without a client_auth_type that verifies"
            )
    elif CLIENT_AUTH.get(policy, ssl.CERT_NONE) != ssl.CERT_NONE:
        problems.append(f"tls_server_config.client_auth_type {policy} needs client_ca_file")
    sans = raw.get("client_allowed_sans") or []
    if not isinstance(sans, list) or not all(isinstance(x, str) and x for x in sans):
        problems.append("tls_server_config.client_allowed_sans must be a list of names")
        sans = []
    elif sans and policy != "RequireAndVerifyClientCert":
        problems.append(
            "tls_server_config.client_allowed_sans needs client_auth_type RequireAndVerifyClientCert"
        )
    versions = {}
    for name in ("min_version", "max_version"):
        value = raw.get(name)
        if value is not None and value not in TLS_VERSIONS:
            problems.append(f"tls_server_config.{name} {value!r} is not one of {', '.join(TLS_VERSIONS)}")
        versions[name] = TLS_VERSIONS.get(value) if value else None
    tls = ServerTls(
        pair=pair,
        client_cafile=ca,
        client_auth=CLIENT_AUTH.get(policy, ssl.CERT_NONE),
        min_version=versions["min_version"] or ssl.TLSVersion.TLSv1_2,
        max_version=versions["max_version"],
        allowed_sans=frozenset(sans),
    )
    return tls, problems


class WatchedWebConfig:
    """The web config as the file is now: re-read on change; the last good one kept while it is invalid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature = signature([path])
        self._config = load_web_config(path)
        self._failed = self._signature

    def current(self) -> WebConfig:
        """Return the config, re-read first if the file changed."""
        now = signature([self.path])
        if now not in (self._signature, self._failed):
            try:
                self._config = load_web_config(self.path)
            except ValueError as exc:
                problem = str(exc)
            else:
                self._signature = now
                log.info("web config reloaded", path=str(self.path))
                return self._config
            # Logged once per bad state of the file, not on every request.
            self._failed = now
            log.error("web config changed but is invalid; keeping the previous one", error=problem)
        return self._config

    def tls_context(self) -> ssl.SSLContext | None:
        """Return a server context re-reading the config and its certificates, or None without TLS."""
        initial = self._config.tls
        if initial is None:
            # Switching between HTTP and HTTPS needs a restart: the listening socket differs.
            return None

        def build() -> ssl.SSLContext:
            # A reloaded file without TLS keeps the first certificates rather than dropping TLS.
            return (self.current().tls or initial).build()

        def files() -> list[Path]:
            return [self.path, *(self.current().tls or initial).files()]

        return ReloadingContext(build, files)


def basic_auth(users: Callable[[], Mapping[str, bytes]]) -> Middleware:
    """Return a middleware requiring one of the bcrypt users on every path but the probes.

    bcrypt is slow on purpose; a successful check is remembered (by a digest of user,
    password and hash, never the password) so each scrape does not pay it again.
    """
    verified: set[bytes] = set()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Probes stay open so kubelet needs no credentials.
        if request.path in PROBES:
            return await handler(request)
        current = users()
        if not current:
            return await handler(request)
        given = _credentials(request.headers.get("Authorization", ""))
        if given is None or not await _verify(given, current, verified):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="metrics"'})
        return await handler(request)

    return check


def allowed_sans(current: Callable[[], frozenset[str]]) -> Middleware:
    """Return a middleware refusing clients whose verified certificate names none of the allowed SANs."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        allowed = current()
        if allowed:
            transport = request.transport
            peer = transport.get_extra_info("peercert") if transport is not None else None
            names = {value for _, value in (peer or {}).get("subjectAltName", ())}
            if not names & allowed:
                # The toolkit fails the handshake; Python's ssl has no hook there, so refuse the request.
                raise web.HTTPForbidden(text="client certificate not allowed\n")
        return await handler(request)

    return check


def _credentials(header: str) -> tuple[bytes, bytes] | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        # aiohttp keeps undecodable header bytes as surrogates; they cannot be base64.
        decoded = base64.b64decode(token.strip().encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else None


async def _verify(given: tuple[bytes, bytes], users: Mapping[str, bytes], verified: set[bytes]) -> bool:
    user, password = given
    try:
        hashed = users.get(user.decode())
    except UnicodeDecodeError:
        hashed = None
    key = hashlib.sha256(b"\0".join((user, password, hashed or b""))).digest()
    if hashed is not None and key in verified:
        return True
    try:
        # bcrypt takes tens of milliseconds: keep the event loop free for other scrapes and the pollers.
        ok = await asyncio.to_thread(lambda: bcrypt.checkpw(password, hashed or _dummy_hash()))
    except ValueError:  # a password over bcrypt's 72 bytes
        ok = False
    if ok and hashed is not None:
        if len(verified) > 1000:
            verified.clear()
        verified.add(key)
        return True
    return False
