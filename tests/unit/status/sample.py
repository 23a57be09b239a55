"""A hand-built cluster for the status page tests: broker 2 holds most lag, broker 1 is down."""

from broker_lag_exporter.join.facts import join_all
from broker_lag_exporter.model.health import Health
from broker_lag_exporter.model.jvm import JvmMemory, JvmScrape, JvmSnapshot
from broker_lag_exporter.model.kafka import NO_LEADER, Broker, Group, KafkaSnapshot, Member, Partition
from broker_lag_exporter.model.kube import Container, KubeSnapshot, Node, Pod, PodSpec, PodStatus
from broker_lag_exporter.risk.checks import LEADER_CONCENTRATION, NO_PDB, TOO_FEW_BROKERS
from broker_lag_exporter.risk.engine import Assessment

NOW = 1_700_000_000.0
EVIL = "<script>alert(1)</script>"
MiB = 2**20


def kafka() -> KafkaSnapshot:
    partitions = {
        ("orders", 0): Partition(2, (2, 0), (2, 0)),
        ("orders", 1): Partition(2, (2, 0), (2,)),
        ("orders", 2): Partition(0, (0, 2), (0, 2)),
        ("orders", 3): Partition(NO_LEADER, (1,), (), offline=(1,), last_leader=1),
        (EVIL, 0): Partition(2, (2, 0), (2, 0)),
    }
    end = {("orders", 0): 1000, ("orders", 1): 800, ("orders", 2): 300, ("orders", 3): 50, (EVIL, 0): 10}
    groups = (
        Group(
            "fraud-slow",
            0,
            "Stable",
            members=(Member("m1", "c", "/10.0.0.9"),),
            committed={("orders", 0): 100, ("orders", 1): 300, ("orders", 2): 200, ("orders", 3): 20},
        ),
        Group("checkout-fast", 2, "Stable", committed={("orders", 0): 990, ("orders", 2): 300}),
        Group(EVIL, 2, "Empty", committed={(EVIL, 0): 3}, error="OffsetFetch <timed out>"),
        Group("idle", 0, "Empty"),
    )
    return KafkaSnapshot(
        brokers={0: Broker(0, "k0", 9092), 2: Broker(2, "k2", 9092)},
        controller_id=2,
        partitions=partitions,
        end_offsets=end,
        groups=groups,
        known_brokers=frozenset({0, 1, 2}),
    )


def jvm() -> JvmSnapshot:
    memory = JvmMemory(heap_used=300 * MiB, heap_max=1024 * MiB, nonheap_used=80 * MiB, direct_used=20 * MiB)
    return JvmSnapshot(
        {
            0: JvmScrape("http://k0/metrics", memory),
            2: JvmScrape("http://k2/metrics", JvmMemory(300 * MiB, None, 700 * MiB, 100 * MiB)),
            1: JvmScrape("http://k1/metrics", failure="timeout"),
        }
    )


def kube() -> KubeSnapshot:
    def pod(i: int, *, ready: bool = True, restarts: int = 0, reason: str = "") -> Pod:
        spec = PodSpec(containers=(Container("kafka", 1024 * MiB),), node_name=f"node-{i}")
        return Pod(
            "kafka", f"kafka-{i}", f"uid-{i}", spec=spec, status=PodStatus("Running", ready, restarts, reason)
        )

    return KubeSnapshot(
        broker_pods={0: pod(0), 2: pod(2, restarts=7, reason="OOMKilled")},
        nodes={"node-0": Node("node-0", "zone-a"), "node-2": Node("node-2", "<zone>")},
        recent_restarts={2: 3},
    )


def assessment(*, with_jvm: bool = True, with_kube: bool = True) -> Assessment:
    facts = join_all(kafka(), jvm() if with_jvm else None, kube() if with_kube else None)
    findings = (
        TOO_FEW_BROKERS.finding("", True, "2 live broker(s) <of 3>"),
        LEADER_CONCENTRATION.finding("2", True, "leads 60% of partitions"),
        LEADER_CONCENTRATION.finding("0", False, "leads 20% of partitions"),
        NO_PDB.finding("2", True, "no PodDisruptionBudget selects kafka-2"),
        NO_PDB.finding("7", True, "broker 7 is only known to Kubernetes"),
    )
    return Assessment(facts, findings)


def health() -> dict[str, Health]:
    return {
        "kafka": Health(up=True, duration_seconds=0.4, last_success=NOW - 3),
        "jvm": Health(up=True, duration_seconds=0.1, last_success=NOW - 5),
        "kubernetes": Health(False, 0.0, None, 2, "403 <Forbidden>"),
    }
