"""Fill a real broker: many single-partition topics, records in each, groups committing on subsets."""

import asyncio
import random

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.commit import OffsetCommitRequest
from aiokafka.protocol.coordination import FindCoordinatorRequest

BATCH = 500
# The test harness fences a broker after 4 s without a heartbeat, for fast failover tests. A broker
# creating 10,000 topics on a busy machine misses that and fences itself: every partition then loses
# its leader and groups their coordinator. Kafka's defaults, and then some, for the benchmark.
BROKER_PROPS = {
    "num.partitions": "1",
    "broker.heartbeat.interval.ms": "2000",
    "broker.session.timeout.ms": "60000",
}


def topic_name(i: int) -> str:
    """Return the name of bench topic `i`."""
    return f"bench-{i:05d}"


async def create_topics(bootstrap: str, count: int, first: int = 0) -> None:
    """Create single-partition topics `first` to `count - 1` in batches."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=120_000)
    await admin.start()
    try:
        for start in range(first, count, BATCH):
            names = [topic_name(i) for i in range(start, min(count, start + BATCH))]
            await admin.create_topics([NewTopic(n, 1, 1) for n in names], timeout_ms=120_000)
    finally:
        await admin.close()


async def produce(bootstrap: str, count: int, records: int, first: int = 0, within: float = 600.0) -> None:
    """Write `records` records to topics `first` to `count - 1`, retrying what the broker refused.

    A broker that has just created thousands of topics answers NOT_LEADER for
    them until it has applied their leadership: those records are sent again
    until every one is written, so each point of a benchmark measures a settled
    broker with the records it claims.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, acks=1)
    await producer.start()
    deadline = asyncio.get_running_loop().time() + within
    try:
        # One metadata request for all topics; otherwise every first send to a
        # topic asks again for every topic seen so far (quadratic in topics).
        await producer.client.set_topics([topic_name(i) for i in range(first, count)])
        pending = [(topic_name(i), r) for i in range(first, count) for r in range(records)]
        while pending:
            sent = [await producer.send(t, b"x" * 100, key=str(r).encode()) for t, r in pending]
            results = await asyncio.gather(*sent, return_exceptions=True)
            pending = [
                key for key, result in zip(pending, results, strict=True) if isinstance(result, Exception)
            ]
            if pending and asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"{len(pending)} records still refused after {within:g} s: {results[-1]!r}"
                )
            if pending:
                await asyncio.sleep(1)
    finally:
        await producer.stop()


async def commit_groups(bootstrap: str, topics: int, groups: int, per_group: int, first: int = 0) -> int:
    """Have groups `first` to `groups - 1` commit offset 0 on `per_group` random topics; return offsets."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=60_000)
    await client.bootstrap()
    rng = random.Random(7)  # noqa: S311 - reproducible workload, not security
    try:
        node = client.get_random_node()
        for g in range(first, groups):
            chosen = rng.sample(range(topics), min(per_group, topics))
            offsets = [(topic_name(t), [(0, 0, "")]) for t in chosen]
            await commit_with_retry(client, node, f"bench-group-{g:03d}", offsets)
    finally:
        await client.close()
    return (groups - first) * min(per_group, topics)


async def commit_with_retry(
    client: AIOKafkaClient, node: int, group: str, offsets: list[tuple[str, list[tuple[int, int, str]]]]
) -> None:
    """Commit as a member-less group at its coordinator, waiting while the offsets topic is created."""
    request = OffsetCommitRequest(group, -1, "", -1, offsets)
    errors: set[int] = set()
    # Up to 5 minutes: on a loaded machine a broker with 10,000 partitions loads its offsets slowly.
    for _ in range(600):
        # FindCoordinator is what makes the broker create its offsets topic; with several brokers
        # only the coordinator takes the commit.
        found = await client.send(node, FindCoordinatorRequest(group, 0))
        if found.error_code:
            errors = {found.error_code}
        else:
            response = await client.send(found.coordinator_id, request)
            errors = {e for _, parts in response.topics for _, e in parts if e}
        if not errors:
            return
        if not errors <= {14, 15, 16}:
            raise RuntimeError(f"OffsetCommit failed with error codes {errors}")
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the group coordinator never became available (error codes {errors})")


async def create_offsets_topic(bootstrap: str, attempts: int = 600) -> None:
    """Have the broker create its offsets topic now, while it is idle, and wait for a coordinator.

    Created later, behind thousands of new topics on a busy machine, it took more
    than a minute to get a leader.
    """
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=60_000)
    await client.bootstrap()
    try:
        node = client.get_random_node()
        for _ in range(attempts):
            if not (await client.send(node, FindCoordinatorRequest("bench-warm-up", 0))).error_code:
                return
            await asyncio.sleep(0.5)
    finally:
        await client.close()
    raise RuntimeError("the group coordinator never became available")


async def populate(
    bootstrap: str,
    topics: int,
    groups: int,
    per_group: int,
    records: int,
    *,
    grown_from: tuple[int, int] = (0, 0),
) -> int:
    """Create topics, write records and commit group offsets, past the (topics, groups) already there."""
    first_topic, first_group = grown_from
    if grown_from == (0, 0):
        await create_offsets_topic(bootstrap)
    await create_topics(bootstrap, topics, first_topic)
    await produce(bootstrap, topics, records, first_topic)
    return await commit_groups(bootstrap, topics, groups, per_group, first_group)


def run(
    bootstrap: str,
    topics: int,
    groups: int,
    per_group: int,
    records: int,
    *,
    grown_from: tuple[int, int] = (0, 0),
) -> int:
    """Run populate synchronously."""
    return asyncio.run(populate(bootstrap, topics, groups, per_group, records, grown_from=grown_from))


async def grow(
    bootstrap: str, topics: tuple[int, int], groups: tuple[int, int], per_group: int, records: int
) -> None:
    """Grow a populated broker from (had, want) topics and (had, want) groups."""
    await populate(bootstrap, topics[1], groups[1], per_group, records, grown_from=(topics[0], groups[0]))
