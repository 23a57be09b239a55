"""Shared fixtures: real Kafka clusters started once per session on loopback."""

from collections.abc import Iterator

import pytest

from harness.kafka.cluster import KafkaCluster


@pytest.fixture(scope="session")
def kafka3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """A 3-node KRaft cluster with the JMX agent on every broker, shared by the session.

    Tests create their own uniquely named topics and groups; none may stop a
    node of this cluster (the failover test starts its own).
    """
    with KafkaCluster.start(3, workdir=tmp_path_factory.mktemp("kafka3"), jmx=True) as cluster:
        yield cluster
