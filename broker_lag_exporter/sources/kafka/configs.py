"""Topic configs the risk checks read, with DescribeConfigs: only the few keys needed, off the lag path."""

import asyncio
import time
from collections.abc import Callable, Collection, Iterable, Mapping

import structlog
from aiokafka.protocol.admin import DescribeConfigsRequest

from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka.client import KafkaConnection

log = structlog.get_logger(__name__)
TOPIC_RESOURCE = 2
TOPIC_KEYS = ("min.insync.replicas", "unclean.leader.election.enable")
KIND = "describe_configs"


async def fetch_topic_configs(
    conn: KafkaConnection,
    topics: Iterable[str],
    batch: int,
    into: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Return the effective value of TOPIC_KEYS per topic (broker defaults included).

    Asking for named keys keeps each answer small; a failed batch or topic is
    counted and left out, so its checks are "could not evaluate", never "fine".
    Never raises for a broker's failure: only the risk checks need configs.
    Answers land in `into` as they come, so a caller's deadline keeps them.
    """
    names = sorted(topics)
    configs: dict[str, dict[str, str]] = {} if into is None else into
    for start in range(0, len(names), batch):
        chunk = names[start : start + batch]
        resources = [(TOPIC_RESOURCE, name, list(TOPIC_KEYS)) for name in chunk]
        try:
            response = await conn.send_any(DescribeConfigsRequest(resources), KIND)
        except SourceError:
            # Every broker failed (each failure already counted by send): count the topics missed.
            conn.count_error(KIND, len(chunk))
            continue
        for error, _message, _type, name, entries in response.resources:
            if error:
                conn.count_error(KIND)
                continue
            configs[name] = {entry[0]: entry[1] for entry in entries if entry[1] is not None}
    return configs


class TopicConfigs:
    """Topic configs refreshed by a task of their own, on connections of their own (a lane).

    The lag poll never awaits them: DescribeConfigs is the slowest request a
    broker answers (up to 3 s per 1,000 topics), and a broker answers one
    connection's requests in order, so config batches sharing the lag
    requests' connection would delay OffsetFetch and ListOffsets behind them.
    `latest()` returns what is known and starts a refresh when one is due:
    every topic every `refresh_seconds`, and in between the topics not known
    yet (new, or failed last time). A refresh gets `budget` seconds in all.
    """

    def __init__(
        self,
        conn: KafkaConnection,
        *,
        refresh_seconds: float,
        batch: int,
        budget: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conn = conn
        self._refresh_seconds = refresh_seconds
        self._batch = batch
        self._budget = budget
        self._clock = clock
        self._known: dict[str, dict[str, str]] = {}
        self._read_at = -float("inf")
        self._task: asyncio.Task[None] | None = None
        # Errors of the last finished refresh (0: it read every topic it asked for).
        self.failed = 0

    def latest(self, topics: Collection[str]) -> dict[str, dict[str, str]]:
        """Return the known configs of `topics` (deleted ones forgotten); start a refresh if one is due."""
        self._known = {t: c for t, c in self._known.items() if t in topics}
        if self._task is None or self._task.done():
            now = self._clock()
            stale = now - self._read_at >= self._refresh_seconds
            wanted = set(topics) if stale else set(topics) - self._known.keys()
            if wanted:
                self._task = asyncio.create_task(self._refresh(wanted, now if stale else None))
        return dict(self._known)

    def known(self, topics: Collection[str]) -> dict[str, dict[str, str]]:
        """Return the known configs of `topics`, starting nothing."""
        return {t: c for t, c in self._known.items() if t in topics}

    async def settled(self) -> None:
        """Wait for the refresh under way, if any (a caller's deadline leaves the refresh running)."""
        if self._task is not None and not self._task.done():
            # wait(), not await: the caller's cancellation propagates, the refresh's never does.
            await asyncio.wait({self._task})

    @property
    def errors_total(self) -> Mapping[str, int]:
        """Return failed requests by kind since the start (the connection's own count)."""
        return self._conn.errors_total

    async def _refresh(self, wanted: set[str], full_read_at: float | None) -> None:
        conn = self._conn
        conn.reset_counters()
        fresh: dict[str, dict[str, str]] = {}
        try:
            async with asyncio.timeout(self._budget):
                await fetch_topic_configs(conn, wanted, self._batch, fresh)
        except TimeoutError:
            # Topics not read keep their last configs; unknown ones are asked for next poll.
            conn.count_error(KIND, len(wanted) - len(fresh))
        except Exception:
            # A bug must cost configs one refresh, never the task that keeps them coming.
            log.exception("topic configs refresh raised unexpectedly")
            conn.count_error(KIND, len(wanted) - len(fresh))
        if full_read_at is not None:
            self._read_at = full_read_at
        self._known.update(fresh)
        self.failed = conn.errors[KIND]

    async def close(self) -> None:
        """Stop a refresh under way and close the connection (a lane's closes with its owner)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task})
        await self._conn.close()
