"""The Kafka client against real brokers: lean background metadata, counted, and re-bootstrapping."""

import asyncio
from pathlib import Path

import pytest
from aiokafka.protocol.metadata import MetadataRequest

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka import KafkaSource
from broker_lag_exporter.sources.kafka.client import REBOOTSTRAP_AFTER, KafkaConnection
from harness.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.kafka


async def test_background_metadata_asks_for_brokers_only_and_is_counted(kafka3: KafkaCluster) -> None:
    kafka3.create_topic("lean-a", partitions=3)
    settings = load_settings(bootstrap_servers=kafka3.bootstrap_servers)
    conn = KafkaConnection(settings.kafka, settings.poll)
    try:
        await conn.send_any(MetadataRequest([]), "metadata")
        client = conn._client
        assert client is not None
        conn.reset_counters()
        # What aiokafka does every metadata_max_age_ms and after each connection error.
        assert await asyncio.wait_for(client.force_metadata_update(), 10)
        conn.reset_counters()
        assert conn.requests == 1  # counted in the poll that follows it
        assert {b.nodeId for b in client.cluster.brokers()} == set(kafka3.node_ids)
        assert client.cluster.topics() == set()  # no copy of every partition's metadata
    finally:
        await conn.close()


async def test_rebootstraps_when_no_known_broker_answers(tmp_path: Path) -> None:
    with (
        KafkaCluster.start(1, workdir=tmp_path / "old") as old,
        KafkaCluster.start(1, workdir=tmp_path / "new") as new,
    ):
        old.create_topic("moved")
        new.create_topic("moved")
        # One name for both, as a Service's DNS name resolves to wherever the pods run now.
        servers = f"{old.bootstrap_servers},{new.bootstrap_servers}"
        settings = load_settings(bootstrap_servers=servers, request_timeout_seconds=2)
        source = KafkaSource(settings.kafka, settings.poll, settings.export)
        try:
            first = await source.collect()
            assert ("moved", 0) in first.partitions
            # The client bootstraps from either address: stop the cluster it is on.
            on_new = first.brokers[0].port == _port(new)
            gone, there = (new, old) if on_new else (old, new)
            gone.stop()
            failures = 0
            while True:
                try:
                    after = await source.collect()
                    break
                except SourceError:
                    failures += 1
                    assert failures <= REBOOTSTRAP_AFTER, "the client never bootstrapped again"
            assert failures == REBOOTSTRAP_AFTER
            assert ("moved", 0) in after.partitions
            assert after.brokers[0].port == _port(there)
        finally:
            await source.close()


def _port(cluster: KafkaCluster) -> int:
    return int(cluster.bootstrap_servers.rsplit(":", 1)[1])
