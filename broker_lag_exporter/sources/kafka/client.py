"""The one place that talks to brokers: deadlines, request counting, error translation."""

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka.client import AIOKafkaClient, ConnectionGroup
from aiokafka.errors import IncompatibleBrokerVersion, KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from broker_lag_exporter.config.sections import KafkaOptions, PollOptions
from broker_lag_exporter.model.kafka import BrokerId
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka.auth import (
    LoginBackoff,
    connect_errors,
    rejection,
    sasl_options,
    tls_context,
)

log = structlog.get_logger(__name__)
# Polls in a row in which no known broker answered before bootstrapping again.
REBOOTSTRAP_AFTER = 3


class RequestError(SourceError):
    """One request failed; the caller decides whether that fails the poll."""


class UnsupportedRequestError(RequestError):
    """The broker supports no version of this request that we can build; not a failure."""


class _BrokersOnlyClient(AIOKafkaClient):  # type: ignore[misc]
    """aiokafka's client, whose own metadata refresh asks for brokers only and is counted.

    Its default refresh (every metadata_max_age_ms and after each connection
    error) asks for every topic: a second copy of each partition's metadata in
    memory, and requests no counter saw. The exporter reads topic metadata
    itself each poll; the client only needs brokers to route requests.
    """

    def __init__(self, on_request: Callable[[], None], **options: Any) -> None:
        super().__init__(**options)
        self._on_request = on_request

    async def _metadata_update(self, cluster_metadata: Any, topics: Any) -> bool:
        nodes = [b.nodeId for b in self.cluster.brokers()]
        random.shuffle(nodes)
        for node in nodes:
            conn = await self._get_conn(node)
            if conn is None:
                continue
            self._on_request()
            try:
                metadata = await conn.send(MetadataRequest([]))
            except (KafkaError, TimeoutError):
                continue
            if not metadata.brokers:
                return False
            cluster_metadata.update_metadata(metadata)
            return True
        cluster_metadata.failed_update(None)
        return False


class KafkaConnection:
    """A bootstrapped aiokafka client plus per-poll request and error counters.

    When no known broker answers REBOOTSTRAP_AFTER polls in a row (every
    broker moved, as when all pods were rescheduled), the client is dropped
    and bootstrapped again from the configured servers, resolving them anew.
    """

    def __init__(self, kafka: KafkaOptions, poll: PollOptions) -> None:
        self._options = kafka
        self._poll = poll
        # A lane shares its owner's client (bootstrap, login, token) on sockets of its own.
        self._owner: KafkaConnection | None = None
        self._group = ConnectionGroup.DEFAULT
        self._deadline = poll.request_timeout_seconds
        self._metadata_age = max(poll.poll_interval_seconds, 30)
        self._client: AIOKafkaClient | None = None
        self._login = LoginBackoff()
        self._unanswered = 0
        self._answered = True
        self._background = 0
        self.requests = 0
        self.errors: Counter[str] = Counter()
        self.errors_total: Counter[str] = Counter()

    def lane(self) -> "KafkaConnection":
        """Return this client on one more connection per broker, with counters of its own.

        A broker answers one connection's requests in order: requests sent on a
        lane (slow DescribeConfigs) never queue ahead of those sent here.
        """
        lane = KafkaConnection(self._options, self._poll)
        lane._owner, lane._group = self, ConnectionGroup.COORDINATION
        return lane

    def reset_counters(self) -> None:
        """Start counting a new poll (and count polls in a row in which no broker answered)."""
        self._unanswered = 0 if self._answered else self._unanswered + 1
        self._answered = False
        # The client's own metadata requests since the last poll count in this one.
        self.requests, self._background = self._background, 0
        self.errors = Counter()

    def _count_request(self) -> None:
        self._background += 1

    async def _connect(self) -> AIOKafkaClient:
        if self._owner is not None:
            return await self._owner._connect()
        if self._client is not None and self._unanswered >= REBOOTSTRAP_AFTER:
            log.warning("no known broker answers; bootstrapping again", polls=self._unanswered)
            self._unanswered = 0
            await self.close()
        if self._client is not None:
            return self._client
        self._login.check()
        client = _BrokersOnlyClient(
            self._count_request, **_client_options(self._options, self._deadline, self._metadata_age)
        )
        self.requests += 1  # the bootstrap's Metadata request
        try:
            with connect_errors() as refused:
                async with asyncio.timeout(self._deadline):
                    await client.bootstrap()
        except asyncio.CancelledError:
            # Cancelled mid-bootstrap (close() during a topic configs refresh): no socket left open.
            await client.close()
            raise
        except (KafkaError, OSError, TimeoutError) as exc:
            await client.close()
            found = rejection(self._options, refused)
            if found is not None:
                text, back_off = found
                if back_off:
                    self._login.rejected(text)
                raise SourceError(text) from exc
            servers = ",".join(self._options.bootstrap_servers)
            raise SourceError(f"cannot bootstrap from {servers}: {_describe(exc)}") from exc
        self._login.accepted()
        self._client = client
        return client

    async def send_any(self, request: Any, kind: str) -> Any:
        """Send a cluster-wide request to the first broker that answers.

        The client's broker list can still name a broker that just died; trying
        them in random order keeps one dead broker from failing the poll.
        """
        client = await self._connect()
        nodes = [int(b.nodeId) for b in client.cluster.brokers()]
        random.shuffle(nodes)
        failures = []
        for node in nodes:
            try:
                return await self.send(node, request, kind)
            except RequestError as exc:
                failures.append(str(exc))
        raise SourceError("; ".join(failures) or "cluster metadata lists no brokers")

    async def send(self, node: BrokerId, request: Any, kind: str) -> Any:
        """Send one request to a broker under the request deadline.

        Raises RequestError naming the request kind and broker; counts it first.
        """
        client = await self._connect()
        self.requests += 1
        try:
            async with asyncio.timeout(self._deadline):
                answer = await client.send(node, request, group=self._group)
        except (NotImplementedError, IncompatibleBrokerVersion) as exc:
            # aiokafka's version negotiation found no common version (an older broker).
            self.requests -= 1
            raise UnsupportedRequestError(f"{kind} to broker {node}: {_describe(exc)}") from exc
        except (KafkaError, OSError, TimeoutError) as exc:
            self.count_error(kind)
            raise RequestError(f"{kind} to broker {node} failed: {_describe(exc)}") from exc
        self._answered = True
        return answer

    def count_error(self, kind: str, n: int = 1) -> None:
        """Count errors a response carried inside it (per partition or per group)."""
        if n:
            self.errors[kind] += n
            self.errors_total[kind] += n

    async def close(self) -> None:
        """Close every connection (a lane's are closed with its owner's)."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()


def _describe(exc: BaseException) -> str:
    name, text = type(exc).__name__, str(exc)
    return text if text.startswith(name) else f"{name}: {text}" if text else name


def _client_options(s: KafkaOptions, deadline: float, metadata_age: float) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": s.bootstrap_servers,
        "client_id": s.client_id,
        "request_timeout_ms": int(deadline * 1000),
        # The client refreshes its own broker list; it only routes requests.
        "metadata_max_age_ms": int(metadata_age * 1000),
        "security_protocol": s.security_protocol,
    }
    if s.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = tls_context(s)
    return options | sasl_options(s, deadline)
