"""The real-Kafka harness: clusters start, oracles parse, nodes die and come back."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from harness.kafka.cluster import KafkaCluster
from harness.kafka.oracle import parse_group_describe, parse_quorum_status, parse_topic_describe
from harness.process import wait_until

GROUPS_OUTPUT = """
Consumer group 'idle' has no active members.

GROUP  TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST  CLIENT-ID
idle   t      1          -               7               -    -            -     -
idle   t      0          3               7               4    -            -     -

Warning: Consumer group 'busy' is rebalancing.

GROUP  TOPIC  PARTITION  LOG-END-OFFSET  CURRENT-OFFSET  LAG  CONSUMER-ID  HOST        CLIENT-ID
busy   t      0          9               9               0    c-1          /127.0.0.1  cli
busy   -      -          -               -               -    c-2          /127.0.0.1  cli
"""

TOPICS_OUTPUT = (
    "Topic: t\tTopicId: abc\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: \n"
    "\tTopic: t\tPartition: 0\tLeader: 2\tReplicas: 1,2,0\tIsr: 2,0\tElr: \tLastKnownElr: \n"
    "\tTopic: t\tPartition: 1\tLeader: none\tReplicas: 1\tIsr: \tElr: \tLastKnownElr: \n"
)

QUORUM_OUTPUT = """ClusterId:              abc
LeaderId:               2
LeaderEpoch:            5
HighWatermark:          120
MaxFollowerLag:         0
MaxFollowerLagTimeMs:   0
CurrentVoters:          [{"id": 0, "endpoints": ["CONTROLLER://127.0.0.1:1"]}, {"id": 2}]
CurrentObservers:       []
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_parsers_read_tool_output_by_header_names() -> None:
    rows = parse_group_describe(GROUPS_OUTPUT)
    assert [(r.group, r.partition, r.current_offset, r.lag) for r in rows] == [
        ("busy", 0, 9, 0),
        ("idle", 0, 3, 4),
        ("idle", 1, None, None),
    ]
    assert rows[0].consumer_id == "c-1"
    assert rows[0].log_end_offset == 9
    topics = parse_topic_describe(TOPICS_OUTPUT)
    assert topics[("t", 0)].leader == 2
    assert topics[("t", 0)].replicas == (1, 2, 0)
    assert topics[("t", 0)].isr == (2, 0)
    assert topics[("t", 1)].leader is None
    assert topics[("t", 1)].isr == ()
    quorum = parse_quorum_status(QUORUM_OUTPUT)
    assert (quorum.leader_id, quorum.voters, quorum.observers) == (2, (0, 2), ())


@pytest.mark.kafka
def test_single_node_oracles(tmp_path: Path) -> None:
    with KafkaCluster.start(1, workdir=tmp_path, jmx=True) as kafka:
        kafka.create_topic("orders", assignment=[[0], [0]], configs={"retention.ms": "3600000"})
        kafka.create_topic("events")
        kafka.produce("orders", 10, partition=0)
        kafka.produce("orders", 4, partition=1)
        kafka.produce("events", 5)
        kafka.commit_offsets("billing", {("orders", 0): 4, ("orders", 1): 4})
        assert kafka.commit_offsets_new_protocol("audit", "events", 3) == 3

        rows = {(r.group, r.topic, r.partition): r for r in kafka.describe_groups()}
        billing = rows[("billing", "orders", 0)]
        assert (billing.current_offset, billing.log_end_offset, billing.lag) == (4, 10, 6)
        assert rows[("billing", "orders", 1)].lag == 0
        audit = rows[("audit", "events", 0)]
        assert (audit.current_offset, audit.log_end_offset, audit.lag) == (3, 5, 2)

        topics = kafka.describe_topics()
        assert topics[("orders", 1)].leader == 0
        assert topics[("orders", 1)].replicas == (0,)
        assert ("__consumer_offsets", 2) in topics

        assert kafka.quorum_status().leader_id == 0
        page = urllib.request.urlopen(kafka.jmx_url(0), timeout=10).read().decode()
        assert 'jvm_memory_used_bytes{area="nonheap"}' in page
        assert 'jvm_buffer_pool_used_bytes{pool="direct"}' in page
        pid = kafka.pid(0)
    assert not _alive(pid)


@pytest.mark.kafka
def test_three_nodes_kill_and_restart_moves_leader(tmp_path: Path) -> None:
    with KafkaCluster.start(3, workdir=tmp_path) as kafka:
        assert kafka.node_ids == (0, 1, 2)
        assert kafka.bootstrap_servers.count(",") == 2
        assert kafka.quorum_status().voters == (0, 1, 2)
        kafka.create_topic("moving", assignment=[[1, 2, 0]])
        assert kafka.describe_topics()[("moving", 0)].leader == 1

        kafka.kill(1)
        assert not kafka.is_running(1)
        wait_until(
            lambda: kafka.metadata(0, ["moving"]).leaders[("moving", 0)] in {0, 2},
            timeout=30,
            what="leader to move off node 1",
        )
        row = kafka.describe_topics()[("moving", 0)]
        assert row.leader in {0, 2}
        assert 1 not in row.isr

        kafka.restart(1)
        wait_until(
            lambda: 1 in kafka.describe_topics()[("moving", 0)].isr,
            timeout=30,
            what="node 1 back in the ISR",
        )
        report = kafka.elect_preferred_leaders([("moving", 0)])
        assert "moving-0" in report
        wait_until(
            lambda: kafka.describe_topics()[("moving", 0)].leader == 1,
            timeout=30,
            what="preferred leader back",
        )
        pids = [kafka.pid(i) for i in kafka.node_ids]
    assert not any(_alive(p) for p in pids)
