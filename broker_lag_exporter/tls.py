"""TLS files checked once at start, and contexts re-reading them when they change (cert-manager rotation)."""

import datetime as dt
import os
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from cryptography import x509

log = structlog.get_logger(__name__)

Signature = tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True)
class KeyPair:
    """A certificate chain, its key and the key's password (never in a repr)."""

    certfile: Path
    keyfile: Path
    password: str | None = field(default=None, repr=False)

    def load_into(self, context: ssl.SSLContext) -> None:
        """Load the pair; a password is always passed so OpenSSL never prompts on a terminal."""
        context.load_cert_chain(self.certfile, self.keyfile, password=self.password or "")


def file_problems(what: str, path: Path) -> list[str]:
    """Return why a file cannot be read, naming the option; empty when it can."""
    if not path.exists():
        return [f"{what} {path} does not exist"]
    if not path.is_file():
        return [f"{what} {path} is not a file"]
    if not os.access(path, os.R_OK):
        return [f"{what} {path} is not readable"]
    return []


def ca_problems(what: str, cafile: Path) -> list[str]:
    """Return why a CA bundle is unusable: missing, unreadable or holding no PEM certificate."""
    found = file_problems(what, cafile)
    if found:
        return found
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cafile)
    except (ssl.SSLError, ValueError):
        return [f"{what} {cafile} holds no PEM certificate"]
    return []


def pair_problems(cert_what: str, key_what: str, pair: KeyPair) -> list[str]:
    """Return why a certificate and key are unusable: missing, unparsable, expired, locked or mismatched."""
    found = file_problems(cert_what, pair.certfile) + file_problems(key_what, pair.keyfile)
    if found:
        return found
    problem = _cert_problem(cert_what, pair.certfile) or _key_problem(cert_what, key_what, pair)
    return [problem] if problem else []


def _cert_problem(what: str, certfile: Path) -> str | None:
    try:
        # Parsing the chain alone tells a bad certificate from a bad key.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=certfile)
    except (ssl.SSLError, ValueError):
        return f"{what} {certfile} holds no PEM certificate"
    expiry = expired_on(certfile)
    return f"{what} {certfile} expired on {expiry}" if expiry else None


def _key_problem(cert_what: str, key_what: str, pair: KeyPair) -> str | None:
    try:
        pair.load_into(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            return f"{key_what} {pair.keyfile} does not match {cert_what} {pair.certfile}"
        if pair.password is None and b"ENCRYPTED" in pair.keyfile.read_bytes():
            return f"{key_what} {pair.keyfile} is encrypted and no password is set"
        return f"{key_what} {pair.keyfile} cannot be read: not a PEM private key, or a wrong password"
    return None


def expired_on(certfile: Path, now: dt.datetime | None = None) -> str | None:
    """Return when the file's (first) certificate expired, or None while it is valid or unreadable."""
    try:
        cert = x509.load_pem_x509_certificate(certfile.read_bytes())
    except (OSError, ValueError):
        return None
    end = cert.not_valid_after_utc
    return f"{end:%Y-%m-%d %H:%M:%S} UTC" if end < (now or dt.datetime.now(dt.UTC)) else None


def signature(paths: Sequence[Path]) -> Signature:
    """Return what changes when any of the files is replaced or rewritten (mtime, size, inode)."""
    found = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            found.append((str(path), -1, -1, -1))
        else:
            found.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(found)


class ReloadingContext(ssl.SSLContext):
    """An SSLContext that hands every new connection a context built from the files as they are now.

    asyncio (and so aiohttp and aiokafka) wraps each connection with `wrap_bio`; this
    rebuilds the real context when a watched file changed, and keeps the last good one
    while a rotation is half-written. It can also verify every peer against one fixed
    server name (a certificate issued for a load balancer's name rather than each broker's).
    """

    def __new__(
        cls,
        build: Callable[[], ssl.SSLContext],
        files: Callable[[], Sequence[Path]],
        *,
        server_hostname: str | None = None,
    ) -> "ReloadingContext":
        """Create the outer context (only a carrier; the built one does the TLS)."""
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(
        self,
        build: Callable[[], ssl.SSLContext],
        files: Callable[[], Sequence[Path]],
        *,
        server_hostname: str | None = None,
    ) -> None:
        self._build = build
        self._files = files
        self._server_hostname = server_hostname
        self._signature = signature(files())
        self._current = build()
        self._failed: Signature | None = None

    def current(self) -> ssl.SSLContext:
        """Return the context for a new connection, rebuilt first if a file changed."""
        now = signature(self._files())
        if now not in (self._signature, self._failed):
            try:
                self._current = self._build()
            except (OSError, ssl.SSLError, ValueError) as exc:
                # Logged once per bad state of the files, not on every connection.
                self._failed = now
                log.warning(
                    "tls files changed but cannot be loaded; keeping the previous ones", error=str(exc)
                )
            else:
                self._signature = signature(self._files())
                log.info("tls files reloaded", files=[str(p) for p in self._files()])
        return self._current

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        """Wrap one connection with the current context."""
        name = server_hostname if server_side or self._server_hostname is None else self._server_hostname
        return self.current().wrap_bio(
            incoming, outgoing, server_side=server_side, server_hostname=name, session=session
        )


@dataclass(frozen=True)
class ClientTls:
    """How to verify brokers and prove who we are."""

    cafile: Path | None = None
    pair: KeyPair | None = None
    server_hostname: str | None = None
    insecure_skip_verify: bool = False

    def files(self) -> list[Path]:
        """Return every file the context reads."""
        return [p for p in (self.cafile, *(self._pair_files())) if p is not None]

    def _pair_files(self) -> tuple[Path, ...]:
        return (self.pair.certfile, self.pair.keyfile) if self.pair else ()

    def build(self) -> ssl.SSLContext:
        """Return a fresh client context from the files as they are now."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.cafile)
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.pair is not None:
            self.pair.load_into(context)
        return context

    def context(self) -> ReloadingContext:
        """Return a context that re-reads the files when they change."""
        return ReloadingContext(self.build, self.files, server_hostname=self.server_hostname)
