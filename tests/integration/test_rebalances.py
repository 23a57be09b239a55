"""Rebalances of a real consumer group whose members join and leave, counted between polls."""

import asyncio
import itertools

import pytest
from aiokafka import AIOKafkaConsumer

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.join.lag import join
from broker_lag_exporter.model.kafka import KafkaSnapshot
from broker_lag_exporter.risk.consumers import rebalance_storm
from broker_lag_exporter.sources.kafka import KafkaSource
from harness.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.kafka

TOPIC, GROUP = "rb-topic", "rb-group"


async def member(cluster: KafkaCluster) -> AIOKafkaConsumer:
    """Start one member of the group (short timeouts so joins settle quickly)."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=cluster.bootstrap_servers,
        group_id=GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=10_000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    return consumer


async def settle(consumers: list[AIOKafkaConsumer], source: KafkaSource) -> KafkaSnapshot:
    """Until every member holds an assignment and the group is Stable with exactly them; return that poll."""
    async with asyncio.timeout(60):
        while True:
            for c in consumers:
                await c.getmany(timeout_ms=100)
            snapshot = await source.collect()
            group = next((g for g in snapshot.groups if g.name == GROUP), None)
            assigned = all(c.assignment() for c in consumers)
            if group and assigned and group.state == "Stable" and len(group.members) == len(consumers):
                return snapshot


async def test_members_joining_and_leaving_are_counted(kafka3):
    kafka3.create_topic(TOPIC, partitions=4, replication_factor=1)
    s = load_settings(
        bootstrap_servers=kafka3.bootstrap_servers, group_allow="rb-.*", risk_rebalances_per_hour=3
    )
    source = KafkaSource(s.kafka, s.poll, s.export)
    first = await member(kafka3)
    members = [first]
    try:
        seen = [await settle(members, source)]
        members.append(await member(kafka3))  # a member joins
        seen.append(await settle(members, source))
        members.append(await member(kafka3))  # another joins
        seen.append(await settle(members, source))
        await members.pop().stop()  # one leaves (LeaveGroup)
        seen.append(await settle(members, source))
    finally:
        for consumer in members:
            await consumer.stop()
        await source.close()
    counts = [snapshot.rebalances[GROUP] for snapshot in seen]
    # Settling takes several polls, which see the group rebalancing and then its new members:
    # exactly one rebalance per join or leave.
    assert counts[0] <= 1  # the first member's own join may straddle the first polls
    assert [b - a for a, b in itertools.pairwise(counts)] == [1, 1, 1]
    assert seen[-1].recent_rebalances[GROUP] == counts[-1]
    view = join(seen[-1])
    assert next(r.rebalances for r in view.groups if r.group.name == GROUP) == counts[-1]
    findings = list(rebalance_storm(Facts(kafka=seen[-1]), s.risk))
    assert [(f.subject, f.firing) for f in findings] == [(GROUP, True)]
