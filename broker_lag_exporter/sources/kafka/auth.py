"""How the exporter proves who it is to Kafka and checks the brokers: TLS and SASL options for aiokafka."""

import asyncio
import base64
import datetime as dt
import json
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka.abc import AbstractTokenProvider
from aiokafka.errors import KafkaError, SaslAuthenticationFailed, UnsupportedSaslMechanismError

from broker_lag_exporter.config.sections import KafkaOptions
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.tls import (
    ClientTls,
    KeyPair,
    ReloadingContext,
    Signature,
    ca_problems,
    expired_on,
    pair_problems,
    signature,
)

USER_PASSWORD = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def sasl_options(s: KafkaOptions, deadline: float) -> dict[str, Any]:
    """Return aiokafka's SASL arguments for the mechanism (checked complete when the options were loaded)."""
    mechanism = s.sasl_mechanism
    if mechanism is None or not s.security_protocol.startswith("SASL"):
        return {}
    if mechanism in USER_PASSWORD:
        password = s.sasl_password.get_secret_value() if s.sasl_password else None
        return {
            "sasl_mechanism": mechanism,
            "sasl_plain_username": s.sasl_username,
            "sasl_plain_password": password,
        }
    if mechanism == "GSSAPI":
        return {
            "sasl_mechanism": "GSSAPI",
            "sasl_kerberos_service_name": s.sasl_kerberos_service_name,
            "sasl_kerberos_domain_name": s.sasl_kerberos_domain_name,
        }
    provider: AbstractTokenProvider
    if mechanism == "AWS_MSK_IAM":
        # MSK's IAM login is OAUTHBEARER on the wire, with a signed URL as the token.
        provider = MskIamTokenProvider(s.sasl_aws_region or "")
    elif s.sasl_oauth_token_file is not None:
        provider = FileTokenProvider(s.sasl_oauth_token_file)
    else:
        secret = s.sasl_oauth_client_secret.get_secret_value() if s.sasl_oauth_client_secret else ""
        provider = ClientCredentialsTokenProvider(
            s.sasl_oauth_token_url or "",
            s.sasl_oauth_client_id or "",
            secret,
            s.sasl_oauth_scope,
            deadline=deadline,
        )
    return {"sasl_mechanism": "OAUTHBEARER", "sasl_oauth_token_provider": provider}


class TokenError(KafkaError):  # type: ignore[misc]
    """No usable OAUTHBEARER token; raised inside aiokafka's login so it is reported like a refused one."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _jwt_expiry(token: str) -> float | None:
    """Return a JWT's `exp` claim, or None when the token is not a JWT or has none."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


def _utc(seconds: float) -> str:
    return f"{dt.datetime.fromtimestamp(seconds, dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


class FileTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """The OAUTHBEARER token in a file (a projected token, a sidecar's output), re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._signature: Signature = ()
        self._token = ""

    async def token(self) -> str:
        """Return the file's token, read again only if the file changed."""
        now = signature([self._path])
        if now != self._signature:
            try:
                self._token = self._path.read_text().strip()
            except OSError as exc:
                raise TokenError(
                    f"sasl_oauth_token_file {self._path} cannot be read: {exc.strerror}"
                ) from None
            self._signature = now
        if not self._token:
            raise TokenError(f"sasl_oauth_token_file {self._path} is empty")
        expiry = _jwt_expiry(self._token)
        if expiry is not None and expiry < time.time():
            # aiokafka ignores the broker's OAUTHBEARER error answer, so an expired token is caught here.
            raise TokenError(f"the token in sasl_oauth_token_file {self._path} expired at {_utc(expiry)}")
        return self._token


class ClientCredentialsTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """OAUTHBEARER tokens from a token endpoint (client-credentials grant), reused until near expiry."""

    def __init__(
        self,
        url: str,
        client_id: str,
        secret: str,
        scope: str | None,
        *,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self._headers = {"Authorization": f"Basic {basic}"}
        self._scope = scope
        self._deadline = deadline
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token = ""
        self._renew_at = 0.0

    async def token(self) -> str:
        """Return a valid token; one request at a time, so concurrent connections share it."""
        async with self._lock:
            if not self._token or self._clock() >= self._renew_at:
                self._token, lifetime = await self._fetch()
                # Renewed a minute early (or at half-life for short tokens) so no login uses an expiring one.
                self._renew_at = self._clock() + max(lifetime - 60, lifetime / 2)
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", **({"scope": self._scope} if self._scope else {})}
        try:
            async with (
                asyncio.timeout(self._deadline),
                aiohttp.ClientSession() as http,
                http.post(self._url, data=form, headers=self._headers) as response,
            ):
                body = await response.json(content_type=None)
        except TimeoutError:
            raise TokenError(
                f"token endpoint {self._url} gave no answer within {self._deadline:g} s"
            ) from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise TokenError(f"token endpoint {self._url} failed: {type(exc).__name__}") from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status != 200 or not isinstance(token, str):
            # The endpoint's error code only: its description could echo what was sent.
            error = body.get("error") if isinstance(body, dict) else None
            refused = f"token endpoint {self._url} refused the client credentials: HTTP {response.status}"
            raise TokenError(f"{refused} {error}" if error else refused)
        lifetime = body.get("expires_in")
        return token, float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 300.0


class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """AWS MSK IAM tokens signed with the standard AWS credential chain, reused until near expiry."""

    def __init__(self, region: str, clock: Callable[[], float] = time.time) -> None:
        self._region = region
        self._clock = clock
        self._token = ""
        self._expires = 0.0

    async def token(self) -> str:
        """Return a signed token; signing is local, but finding credentials may ask the instance metadata."""
        if not self._token or self._clock() >= self._expires - 60:
            from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # noqa: PLC0415 (an optional extra)

            token, expiry_ms = await asyncio.to_thread(MSKAuthTokenProvider.generate_auth_token, self._region)
            self._token, self._expires = token, expiry_ms / 1000
        return self._token


def principal(s: KafkaOptions) -> str:
    """Return who the brokers see us as, for messages (never a secret)."""
    if s.security_protocol.startswith("SASL") and s.sasl_mechanism in USER_PASSWORD:
        return f"User:{s.sasl_username}"
    if s.sasl_mechanism == "OAUTHBEARER":
        return "the token's subject"
    if s.security_protocol == "SSL" and s.ssl_certfile is not None:
        return f"the subject of {s.ssl_certfile}"
    return "the exporter's principal"


def tls_context(s: KafkaOptions) -> ReloadingContext:
    """Return the client context re-reading its files; raise SourceError naming files broken since start."""
    tls = client_tls(s)
    try:
        return tls.context()
    except (OSError, ssl.SSLError, ValueError):
        found = ca_problems("ssl_cafile", tls.cafile) if tls.cafile else []
        if tls.pair is not None:
            found += pair_problems("ssl_certfile", "ssl_keyfile", tls.pair)
        raise SourceError("; ".join(found) or "the TLS files cannot be loaded") from None


def client_tls(s: KafkaOptions) -> ClientTls:
    """Return the TLS settings of the options (files were checked when the options were loaded)."""
    pair = None
    if s.ssl_certfile is not None and s.ssl_keyfile is not None:
        password = s.ssl_keyfile_password.get_secret_value() if s.ssl_keyfile_password else None
        pair = KeyPair(s.ssl_certfile, s.ssl_keyfile, password)
    return ClientTls(
        cafile=s.ssl_cafile,
        pair=pair,
        server_hostname=s.ssl_server_hostname,
        insecure_skip_verify=s.ssl_insecure_skip_verify,
    )


class _ConnectErrors(logging.Filter):
    """Keeps aiokafka's per-broker connect errors, which its bootstrap logs and then drops."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[tuple[str, BaseException]] = []

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if str(record.msg).startswith("Unable connect to") and isinstance(args, tuple) and len(args) == 3:
            host, port, error = args
            if isinstance(error, BaseException):
                self.errors.append((f"{host}:{port}", error))
                # Reported once as the source's error instead of on every poll.
                return False
        return True


@contextmanager
def connect_errors() -> Iterator[list[tuple[str, BaseException]]]:
    """Collect the errors of each broker aiokafka fails to connect to inside the block."""
    capture = _ConnectErrors()
    logger = logging.getLogger("aiokafka")
    logger.addFilter(capture)
    try:
        yield capture.errors
    finally:
        logger.removeFilter(capture)


def rejection(s: KafkaOptions, refused: list[tuple[str, BaseException]]) -> tuple[str, bool] | None:
    """Return why brokers refused us and whether to back off, or None for plain outages.

    Refused credentials and certificates back off; a missing token does not, so a
    rotated token file is picked up on the next poll.
    """
    found = [
        (text, not isinstance(e, TokenError)) for b, e in refused if (text := explain_rejection(s, b, e))
    ]
    if not found:
        return None
    return "; ".join(dict.fromkeys(text for text, _ in found)), any(back_off for _, back_off in found)


def explain_rejection(s: KafkaOptions, broker: str, error: BaseException) -> str | None:
    """Return why a broker refused us (credentials or certificates), naming mechanism and broker; else None.

    Only these errors back off: retrying them on every poll cannot succeed and can lock an account.
    """
    mechanism = s.sasl_mechanism
    # A handshake the broker ends (our certificate refused) surfaces as a closed connection.
    while isinstance(error.__cause__, BaseException) and not isinstance(error, ssl.SSLError):
        error = error.__cause__
    if isinstance(error, TokenError):
        return f"OAUTHBEARER login to broker {broker}: {error}"
    if isinstance(error, SaslAuthenticationFailed):
        who = f" as {s.sasl_username!r}" if s.sasl_username and mechanism in USER_PASSWORD else ""
        return f"SASL {mechanism} authentication{who} rejected by broker {broker}: {_broker_text(error)}"
    if isinstance(error, UnsupportedSaslMechanismError):
        return f"broker {broker} does not enable SASL mechanism {mechanism}"
    if isinstance(error, ssl.SSLCertVerificationError):
        name = f" for name {s.ssl_server_hostname!r}" if s.ssl_server_hostname else ""
        return (
            f"TLS to broker {broker}: its certificate is not trusted{name}: {error.verify_message} "
            "(check ssl_cafile and the broker's certificate)"
        )
    if isinstance(error, ssl.SSLError) and error.reason:
        reason = error.reason.lower().replace("_", " ")
        return f"TLS to broker {broker} failed: {reason} ({_tls_hint(s, error.reason)})"
    return None


def _broker_text(error: BaseException) -> str:
    # aiokafka prefixes the broker's own message with the error class and code.
    text = str(error)
    return text.split(": ", 1)[1] if text.startswith("[Error") and ": " in text else text


def _tls_hint(s: KafkaOptions, reason: str) -> str:
    if "ALERT" not in reason:
        return "check the listener's security_protocol and certificates"
    if s.ssl_certfile is None:
        return "the broker wants a client certificate: set ssl_certfile and ssl_keyfile"
    # Java answers "certificate unknown" for an expired certificate too, so look at ours.
    expiry = expired_on(s.ssl_certfile)
    if expiry is not None:
        return f"our client certificate ssl_certfile {s.ssl_certfile} expired on {expiry}"
    return (
        f"the broker rejected our client certificate ssl_certfile {s.ssl_certfile}: "
        "is its CA in the broker's truststore?"
    )


class LoginBackoff:
    """After a rejected login, wait longer and longer before trying again, so no account gets locked."""

    def __init__(
        self, first: float = 30.0, cap: float = 600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._first = first
        self._cap = cap
        self._clock = clock
        self._delay = 0.0
        self._until = 0.0
        self._error = ""

    def check(self) -> None:
        """Raise the last rejection while backing off; the message is the same so it is logged once."""
        if self._clock() < self._until:
            raise SourceError(self._error)

    def rejected(self, error: str) -> None:
        """Record a rejected login: the next attempt waits twice as long as the last (30 s up to 10 min)."""
        self._delay = min(self._cap, self._delay * 2 or self._first)
        self._until = self._clock() + self._delay
        self._error = error

    def accepted(self) -> None:
        """Record a successful login."""
        self._delay = 0.0
        self._until = 0.0
