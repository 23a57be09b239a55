"""Lag in seconds on a real 3-node cluster: records with known timestamps, offsets set by Kafka's tool."""

import asyncio
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.lag import LagView, join
from broker_lag_exporter.model.kafka import KafkaSnapshot
from broker_lag_exporter.sources.kafka import KafkaSource
from harness.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.kafka

GROUP_TOOL = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"


async def produce_at(
    cluster: KafkaCluster, topic: str, partition: int, timestamps_ms: Sequence[int], **options: Any
) -> None:
    """Produce one record per timestamp, CreateTime set explicitly, in order."""
    producer = AIOKafkaProducer(
        bootstrap_servers=cluster.bootstrap_servers, acks="all", linger_ms=5, **options
    )
    await producer.start()
    try:
        sent = [
            await producer.send(topic, b"x", partition=partition, timestamp_ms=ts) for ts in timestamps_ms
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def burst(cluster: KafkaCluster, topic: str, count: int) -> None:
    """Produce `count` small records to partition 0 now, in a few large batches (about a second)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=cluster.bootstrap_servers, acks="all", max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        sent = 0
        while sent < count:
            batch = producer.create_batch()
            while sent < count and batch.append(key=None, value=b"b", timestamp=None) is not None:
                sent += 1
            batch.close()
            await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()


def set_offset(cluster: KafkaCluster, group: str, topic: str, partition: int, how: Sequence[str]) -> None:
    """Set a (member-less) group's committed offset with kafka-consumer-groups --reset-offsets."""
    cluster.run_tool(
        GROUP_TOOL,
        "--bootstrap-server",
        cluster.bootstrap_servers,
        "--group",
        group,
        "--topic",
        f"{topic}:{partition}",
        "--reset-offsets",
        *how,
        "--execute",
    )


async def poll(
    cluster: KafkaCluster, groups: str, **options: Any
) -> tuple[KafkaSnapshot, LagView, float, float]:
    """Return one snapshot, its per-partition view, and the wall clock before and after the poll."""
    s = load_settings(bootstrap_servers=cluster.bootstrap_servers, group_allow=groups, **options)
    source = KafkaSource(s.kafka, s.poll, s.export)
    try:
        before = time.time()
        snapshot = await source.collect()
        after = time.time()
    finally:
        await source.close()
    return snapshot, join(snapshot, per_partition=True), before, after


def seconds_of(view: LagView, group: str) -> float | None:
    return next(r.lag_seconds for r in view.groups if r.group.name == group)


@pytest.fixture(scope="module")
def spaced(kafka3: KafkaCluster) -> tuple[KafkaCluster, int]:
    """Topic ls-spaced: partition p led by broker p, 30 records 10 s apart ending 100 s ago."""
    kafka3.create_topic("ls-spaced", assignment=[[0], [1], [2]])
    base = int(time.time() * 1000) - 400_000
    for partition in range(3):
        asyncio.run(produce_at(kafka3, "ls-spaced", partition, [base + i * 10_000 for i in range(30)]))
    return kafka3, base


async def test_lag_seconds_within_a_second_of_the_truth(spaced):
    cluster, base = spaced
    # Offsets set with Kafka's own tool: 5, 12 and 29 records consumed (29: one record left).
    for partition, offset in ((0, 5), (1, 12), (2, 29)):
        set_offset(cluster, "ls-exact", "ls-spaced", partition, ["--to-offset", str(offset)])
    set_offset(cluster, "ls-caught-up", "ls-spaced", 0, ["--to-latest"])
    snapshot, view, before, after = await poll(cluster, "ls-(exact|caught-up)")
    ours = {(r.topic, r.partition): r.lag_seconds for r in view.partition_lag if r.group == "ls-exact"}
    for partition, offset in ((0, 5), (1, 12), (2, 29)):
        record_time = (base + offset * 10_000) / 1000
        value = ours["ls-spaced", partition]
        assert value is not None
        assert before - record_time - 1 <= value <= after - record_time + 1, partition
    oldest = (base + 5 * 10_000) / 1000
    group_seconds = seconds_of(view, "ls-exact")
    assert group_seconds is not None
    assert before - oldest - 1 <= group_seconds <= after - oldest + 1
    assert seconds_of(view, "ls-caught-up") == 0.0
    # The worst partition (offset 5) is led by broker 0: the per-broker maximum names it.
    assert max(view.broker_lag_seconds_max, key=view.broker_lag_seconds_max.__getitem__) == 0
    assert view.broker_lag_seconds_max[0] == pytest.approx(group_seconds)
    assert snapshot.record_time_errors == {}
    assert view.lag_seconds_states == {"exact": 3}


async def test_replay_from_earliest_on_hour_old_data_reads_an_hour(kafka3):
    kafka3.create_topic("ls-replay", partitions=1)
    hour_ago = int(time.time() * 1000) - 3_600_000
    await produce_at(kafka3, "ls-replay", 0, [hour_ago + i for i in range(50)])
    await produce_at(kafka3, "ls-replay", 0, [int(time.time() * 1000)] * 50)
    set_offset(kafka3, "ls-replay", "ls-replay", 0, ["--to-earliest"])
    _, view, before, after = await poll(kafka3, "ls-replay")
    seconds = seconds_of(view, "ls-replay")
    assert seconds is not None
    assert before - hour_ago / 1000 - 1 <= seconds <= after - hour_ago / 1000 + 1


async def test_burst_of_new_records_does_not_distort_a_group_ten_minutes_behind(kafka3):
    kafka3.create_topic("ls-burst", partitions=1)
    ten_minutes_ago = int(time.time() * 1000) - 600_000
    await produce_at(kafka3, "ls-burst", 0, [ten_minutes_ago + i * 1000 for i in range(10)])
    set_offset(kafka3, "ls-burst", "ls-burst", 0, ["--to-offset", "0"])
    _, calm, before, after = await poll(kafka3, "ls-burst")
    await burst(kafka3, "ls-burst", 100_000)
    _, spiked, before2, after2 = await poll(kafka3, "ls-burst")
    for view, start, end in ((calm, before, after), (spiked, before2, after2)):
        seconds = seconds_of(view, "ls-burst")
        assert seconds is not None
        assert start - ten_minutes_ago / 1000 - 1 <= seconds <= end - ten_minutes_ago / 1000 + 1
    assert next(r.lag for r in spiked.groups if r.group.name == "ls-burst") == 100_010


async def test_offset_below_log_start_uses_the_first_existing_record(kafka3):
    kafka3.create_topic("ls-deleted", partitions=1)
    start = int(time.time() * 1000) - 900_000
    await produce_at(kafka3, "ls-deleted", 0, [start + i * 60_000 for i in range(10)])
    kafka3.commit_offsets("ls-deleted", {("ls-deleted", 0): 2})
    kafka3.delete_records({("ls-deleted", 0): 6})
    snapshot, view, before, after = await poll(kafka3, "ls-deleted")
    first_existing = (start + 6 * 60_000) / 1000
    seconds = seconds_of(view, "ls-deleted")
    assert seconds is not None
    assert before - first_existing - 1 <= seconds <= after - first_existing + 1
    assert snapshot.errors == {}


async def test_aborted_transactions_and_markers_are_skipped(kafka3):
    kafka3.create_topic("ls-txn", partitions=1)
    now = int(time.time() * 1000)
    aborted_at, committed_at = now - 900_000, now - 300_000
    producer = AIOKafkaProducer(bootstrap_servers=kafka3.bootstrap_servers, transactional_id="ls-txn-p")
    await producer.start()
    try:
        async with producer.transaction():
            pass  # warm up: the coordinator assigns the producer id
        await producer.begin_transaction()
        for i in range(5):
            await producer.send_and_wait("ls-txn", b"aborted", partition=0, timestamp_ms=aborted_at + i)
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait("ls-txn", b"kept", partition=0, timestamp_ms=committed_at)
    finally:
        await producer.stop()
    kafka3.commit_offsets("ls-txn", {("ls-txn", 0): 0})
    _, view, before, after = await poll(kafka3, "ls-txn")
    seconds = seconds_of(view, "ls-txn")
    assert seconds is not None
    # The five aborted records and the abort marker come first; the oldest record a
    # read_committed consumer would get is the committed one.
    assert before - committed_at / 1000 - 1 <= seconds <= after - committed_at / 1000 + 1


async def test_log_append_time_topic_reads_the_brokers_time(kafka3):
    kafka3.create_topic("ls-append", partitions=1, configs={"message.timestamp.type": "LogAppendTime"})
    appended = time.time()
    # The producer claims a day-old CreateTime; the broker stamps its own append time.
    await produce_at(kafka3, "ls-append", 0, [int(appended * 1000) - 86_400_000] * 3)
    kafka3.commit_offsets("ls-append", {("ls-append", 0): 1})
    _, view, _, after = await poll(kafka3, "ls-append")
    seconds = seconds_of(view, "ls-append")
    assert seconds is not None
    assert 0 <= seconds <= after - appended + 1


async def test_future_timestamps_are_clamped_and_counted(kafka3):
    kafka3.create_topic("ls-future", partitions=1)
    await produce_at(kafka3, "ls-future", 0, [int(time.time() * 1000) + 3_600_000] * 2)
    kafka3.commit_offsets("ls-future", {("ls-future", 0): 0})
    _, view, _, _ = await poll(kafka3, "ls-future")
    assert seconds_of(view, "ls-future") == 0.0
    assert view.lag_seconds_states == {"future": 1}


async def test_empty_partition_is_zero_and_costs_no_fetch(kafka3):
    kafka3.create_topic("ls-empty", partitions=1)
    kafka3.commit_offsets("ls-empty", {("ls-empty", 0): 0})
    snapshot, view, _, _ = await poll(kafka3, "ls-empty")
    without, _, _, _ = await poll(kafka3, "ls-empty", lag_seconds_budget=0)
    assert seconds_of(view, "ls-empty") == 0.0
    assert snapshot.requests == without.requests


async def test_a_group_that_has_not_moved_costs_nothing(spaced):
    cluster, _ = spaced
    for partition in range(3):
        set_offset(cluster, "ls-still", "ls-spaced", partition, ["--to-offset", str(partition + 1)])
    s = load_settings(bootstrap_servers=cluster.bootstrap_servers, group_allow="ls-still")
    source = KafkaSource(s.kafka, s.poll, s.export)
    off = load_settings(
        bootstrap_servers=cluster.bootstrap_servers, group_allow="ls-still", lag_seconds_budget=0
    )
    baseline = KafkaSource(off.kafka, off.poll, off.export)
    try:
        cold, steady = await source.collect(), await source.collect()
        # Compare first with first: the cold poll reads record times the steady one has.
        plain, plain_steady = await baseline.collect(), await baseline.collect()
    finally:
        await source.close()
        await baseline.close()
    # Cold: one Fetch per leader broker (three partitions on three brokers); steady: none.
    assert cold.requests - plain.requests == 3
    assert steady.requests == plain_steady.requests
    # The same records, now exact as of the later poll.
    assert {k: (t.timestamp_ms, t.offset) for k, t in steady.record_times.items()} == {
        k: (t.timestamp_ms, t.offset) for k, t in cold.record_times.items()
    }
    assert all(t.exact_at == steady.taken_at for t in steady.record_times.values())
    assert len(cold.record_times) == 3


@pytest.fixture(scope="module")
def acl_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One node with KRaft's StandardAuthorizer; everything is allowed until an ACL says otherwise."""
    props = {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "true",
    }
    with KafkaCluster.start(1, workdir=tmp_path_factory.mktemp("kafka-acl"), broker_props=props) as cluster:
        yield cluster


async def test_fetch_not_authorized_leaves_the_group_without_lag_seconds(acl_cluster):
    cluster = acl_cluster
    for topic in ("ls-denied", "ls-allowed"):
        cluster.create_topic(topic, partitions=1)
        await produce_at(cluster, topic, 0, [int(time.time() * 1000) - 60_000] * 3)
    cluster.commit_offsets("ls-acl-denied", {("ls-denied", 0): 1, ("ls-allowed", 0): 1})
    cluster.commit_offsets("ls-acl-allowed", {("ls-allowed", 0): 1})
    # Reading records of ls-denied is refused; describing it (metadata, offsets) stays allowed.
    # Once a topic has any ACL, "allow everyone if no ACL is found" no longer covers it.
    for rule in (["--allow-principal", "User:ANONYMOUS", "--operation", "Describe"],
                 ["--deny-principal", "User:ANONYMOUS", "--operation", "Read"]):  # fmt: skip
        cluster.run_tool(
            "org.apache.kafka.tools.AclCommand",
            "--bootstrap-server",
            cluster.bootstrap_servers,
            "--add",
            *rule,
            "--topic",
            "ls-denied",
        )
    snapshot, view, _, _ = await poll(cluster, "ls-acl-.*")
    assert snapshot.record_time_errors == {("ls-acl-denied", ("ls-denied", 0)): "not_authorized"}
    assert seconds_of(view, "ls-acl-denied") is None
    assert seconds_of(view, "ls-acl-allowed") is not None
    topics = {(r.group, r.topic): r.lag_seconds for r in view.group_topics}
    assert topics["ls-acl-denied", "ls-denied"] is None
    assert topics["ls-acl-denied", "ls-allowed"] is not None
    assert view.lag_seconds_states == {"not_authorized": 1, "exact": 2}
    # Lag in messages does not depend on reading records.
    assert next(r.lag for r in view.groups if r.group.name == "ls-acl-denied") == 4


async def test_budget_serves_largest_lags_first_and_carries_what_it_leaves_out(spaced):
    cluster, base = spaced
    for partition, offset in ((0, 5), (1, 20), (2, 28)):
        set_offset(cluster, "ls-budget", "ls-spaced", partition, ["--to-offset", str(offset)])
    s = load_settings(
        bootstrap_servers=cluster.bootstrap_servers, group_allow="ls-budget", lag_seconds_budget=1
    )
    source = KafkaSource(s.kafka, s.poll, s.export)
    try:
        first, second, third = [join(await source.collect(), per_partition=True) for _ in range(3)]
        # The group moves on two partitions; the budget reads the larger lag (p0) and carries p1.
        set_offset(cluster, "ls-budget", "ls-spaced", 0, ["--to-offset", "6"])
        set_offset(cluster, "ls-budget", "ls-spaced", 1, ["--to-offset", "21"])
        snapshot = await source.collect()
    finally:
        await source.close()
    assert [v.lag_seconds_states for v in (first, second, third)] == [
        {"exact": 1, "pending": 2},
        {"exact": 2, "pending": 1},
        {"exact": 3},
    ]
    known = [{r.partition for r in v.partition_lag if r.lag_seconds is not None} for v in (first, second)]
    assert known == [{0}, {0, 1}]
    assert seconds_of(first, "ls-budget") is None
    assert seconds_of(third, "ls-budget") is not None
    fourth = join(snapshot, per_partition=True)
    assert fourth.lag_seconds_states == {"exact": 2, "carried": 1}
    carried = snapshot.record_times["ls-budget", ("ls-spaced", 1)]
    # The record time read for offset 20, kept while the group sits at 21: 10 s more than the truth.
    assert (carried.offset, carried.timestamp_ms) == (20, base + 20 * 10_000)
    assert snapshot.record_times["ls-budget", ("ls-spaced", 0)].timestamp_ms == base + 6 * 10_000
    # Its staleness: since the poll before, when offset 20's value was last exact.
    staleness = next(r.lag_seconds_staleness for r in fourth.groups if r.group.name == "ls-budget")
    assert 0 < staleness == pytest.approx(snapshot.taken_at - carried.exact_at)
