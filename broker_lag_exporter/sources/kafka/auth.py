"""How the exporter proves who it is to Kafka and checks the brokers: TLS and SASL options for aiokafka."""

import logging
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError

from broker_lag_exporter.config.sections import KafkaOptions
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.tls import ClientTls, KeyPair, expired_on

USER_PASSWORD = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


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


def explain_rejection(s: KafkaOptions, broker: str, error: BaseException) -> str | None:
    """Return why a broker refused us (credentials or certificates), naming mechanism and broker; else None.

    Only these errors back off: retrying them on every poll cannot succeed and can lock an account.
    """
    mechanism = s.sasl_mechanism
    # A handshake the broker ends (our certificate refused) surfaces as a closed connection.
    while isinstance(error.__cause__, BaseException) and not isinstance(error, ssl.SSLError):
        error = error.__cause__
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
