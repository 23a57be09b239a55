"""The Kafka source against a real 3-node cluster, checked with Kafka's own tools as oracle."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.lag import join
from broker_lag_exporter.sources.kafka import KafkaSource
from harness.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.kafka

# Broker 2 is the preferred leader of most partitions: the skew the exporter must expose.
SKEWED = [[2, 0], [2, 1], [2, 0], [2, 1], [1, 2], [0, 2]]


@pytest.fixture(scope="module")
def workload(kafka3: KafkaCluster) -> KafkaCluster:
    """Topics with skewed leaders and groups in every commit state."""
    kafka3.create_topic("oracle-skewed", partitions=6, replication_factor=2, assignment=SKEWED)
    kafka3.create_topic("oracle-even", partitions=3, assignment=[[0], [1], [2]])
    kafka3.produce("oracle-skewed", 600)
    for partition in range(3):
        kafka3.produce("oracle-even", 30, partition=partition)
    kafka3.commit_offsets("oracle-caught-up", {("oracle-even", p): 30 for p in range(3)})
    kafka3.commit_offsets("oracle-lagging", {("oracle-skewed", p): 7 * p for p in range(6)})
    kafka3.commit_offsets("oracle-partial", {("oracle-skewed", 0): 50, ("oracle-skewed", 4): 1})
    return kafka3


@pytest.fixture
async def live_uncommitted(workload: KafkaCluster) -> AsyncIterator[AIOKafkaConsumer]:
    """A group with a live member that is assigned partitions but never commits."""
    consumer = AIOKafkaConsumer(
        "oracle-even",
        bootstrap_servers=workload.bootstrap_servers,
        group_id="oracle-never-committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while len(consumer.assignment()) < 3:
                await consumer.getmany(timeout_ms=200)
        yield consumer
    finally:
        await consumer.stop()


async def snapshot_of(cluster: KafkaCluster):
    s = load_settings(bootstrap_servers=cluster.bootstrap_servers, group_allow="oracle-.*")
    source = KafkaSource(s.kafka, s.poll, s.export)
    try:
        return await source.collect()
    finally:
        await source.close()


async def test_partition_lag_equals_consumer_groups_tool(workload, live_uncommitted):
    snapshot = await snapshot_of(workload)
    # The tool runs in a thread so the live member keeps heartbeating meanwhile.
    oracle = await asyncio.to_thread(workload.describe_groups)
    view = join(snapshot, per_partition=True)
    ours = {(r.group, r.topic, r.partition): r.lag for r in view.partition_lag}
    theirs = {(r.group, r.topic, r.partition): r.lag for r in oracle if r.group.startswith("oracle-")}
    committed = {k: v for k, v in theirs.items() if v is not None}
    assert committed, "the oracle returned no committed rows"
    assert ours == committed
    never = [k for k, v in theirs.items() if v is None]
    assert {k[0] for k in never} == {"oracle-never-committed"}
    rows = {r.group.name: r for r in view.groups}
    assert rows["oracle-never-committed"].uncommitted_partitions == len(never) == 3
    assert rows["oracle-never-committed"].lag == 0
    assert len(rows["oracle-never-committed"].group.members) == 1
    assert rows["oracle-never-committed"].group.state == "Stable"
    assert rows["oracle-partial"].committed_partitions == 2
    assert snapshot.errors == {}


async def test_broker_lag_equals_oracle_grouped_by_leader(workload):
    snapshot = await snapshot_of(workload)
    oracle_groups, leaders = await asyncio.gather(
        asyncio.to_thread(workload.describe_groups), asyncio.to_thread(workload.describe_topics)
    )
    expected: Counter[int] = Counter()
    for r in oracle_groups:
        if r.group.startswith("oracle-") and r.lag is not None:
            expected[leaders[r.topic, r.partition].leader] += r.lag
    view = join(snapshot)
    ours = {row.broker_id: row.lag for row in view.brokers if row.lag}
    assert ours == {b: lag for b, lag in expected.items() if lag}
    assert max(ours, key=ours.__getitem__) == 2


async def test_leadership_matches_topic_tool(workload):
    snapshot = await snapshot_of(workload)
    described = await asyncio.to_thread(workload.describe_topics)
    for tp, row in described.items():
        p = snapshot.partitions[tp]
        assert (p.leader, p.replicas, set(p.isr)) == (row.leader, row.replicas, set(row.isr)), tp
    led = Counter(row.leader for row in described.values())
    view = join(snapshot)
    assert {r.broker_id: r.leader_partitions for r in view.brokers} == {b: led[b] for b in (0, 1, 2)}
    assert all(r.up for r in view.brokers)


async def test_requests_are_batched_per_broker(workload):
    snapshot = await snapshot_of(workload)
    # Metadata 1, then per broker at most: ListOffsets, ListGroups, DescribeGroups,
    # ConsumerGroupDescribe, OffsetFetch (v8, all its groups in one request), DescribeConfigs,
    # and a first-poll Fetch of the lagging partitions' record times (groups at one offset each).
    # Never per partition, never per group.
    assert len(snapshot.groups) >= 4
    assert snapshot.requests <= 1 + 3 * 7
    assert len(snapshot.end_offsets) == len(snapshot.partitions)


async def test_new_consumer_protocol_group_gets_lag(workload):
    workload.commit_offsets_new_protocol("oracle-kip848", "oracle-even", 45)
    snapshot = await snapshot_of(workload)
    group = next(g for g in snapshot.groups if g.name == "oracle-kip848")
    oracle = await asyncio.to_thread(workload.describe_groups)
    theirs = {(r.topic, r.partition): r.lag for r in oracle if r.group == "oracle-kip848"}
    view = join(snapshot, per_partition=True)
    ours = {(r.topic, r.partition): r.lag for r in view.partition_lag if r.group == "oracle-kip848"}
    assert ours == {k: v for k, v in theirs.items() if v is not None}
    assert group.state in {"Empty", "Stable"}
    assert group.error is None


async def test_topic_views_equal_consumer_groups_tool_summed_per_topic(workload):
    snapshot = await snapshot_of(workload)
    oracle = await asyncio.to_thread(workload.describe_groups)
    lag: Counter[tuple[str, str]] = Counter()
    committed: Counter[tuple[str, str]] = Counter()
    ends: dict[tuple[str, int], int] = {}
    for r in oracle:
        if r.group.startswith("oracle-") and r.current_offset is not None and r.lag is not None:
            lag[r.group, r.topic] += r.lag
            committed[r.group, r.topic] += r.current_offset
        if r.log_end_offset is not None:
            ends[r.topic, r.partition] = r.log_end_offset
    view = join(snapshot)
    ours = {(r.group, r.topic): (r.lag, r.committed_sum) for r in view.group_topics}
    assert ours == {k: (lag[k], committed[k]) for k in lag}
    topics = {t.topic: t for t in view.topics}
    # The tool prints the end offset of every partition a group consumes: both oracle topics.
    for topic in ("oracle-skewed", "oracle-even"):
        expected = sum(offset for (t, _), offset in ends.items() if t == topic)
        assert (topics[topic].partitions, topics[topic].end_offset_sum) == (
            len([k for k in ends if k[0] == topic]),
            expected,
        )
