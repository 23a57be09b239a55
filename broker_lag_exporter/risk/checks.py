"""THE risk-check catalogue: every check's name, scope, severity, fix and doc anchor, declared once.

Rules build their findings from these entries; `lint`, the alert rules, the
docs and the tests read this table, never the rules' source.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Scope = Literal["broker", "group", "cluster"]
Severity = Literal["info", "warning", "critical"]
Input = Literal["kafka", "jvm", "kubernetes", "manifest"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One evaluated check: `firing` exports 1, checked-and-fine exports 0.

    `subject` is the broker id, group name, or "" for cluster checks; a check
    that could not be evaluated yields no Finding at all.
    """

    check: str
    scope: Scope
    subject: str
    firing: bool
    severity: Severity
    reason: str


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """Merge findings of the same check and subject: a firing one wins, else the first."""
    by_key: defaultdict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        by_key[f.check, f.subject].append(f)
    return [next((f for f in fs if f.firing), fs[0]) for fs in by_key.values()]


@dataclass(frozen=True, slots=True)
class Check:
    """One risk check as users see it; `reads` names the inputs it needs ("manifest": lint can run it).

    `static` checks judge configuration (specs, topic configs, placement): a finding stays
    until someone edits it, so unless critical they are `info` (a ticket, not a page).
    """

    name: str
    scope: Scope
    severity: Severity
    summary: str
    fix: str
    reads: tuple[Input, ...]
    static: bool = True

    @property
    def anchor(self) -> str:
        """Return where the check is explained."""
        return f"docs/risks.md#{self.name}"

    def finding(self, subject: str, firing: bool, reason: str) -> Finding:
        """Return this check's finding for one subject."""
        return Finding(self.name, self.scope, subject, firing, self.severity, reason)


TOO_FEW_BROKERS = Check(
    "too_few_brokers",
    "cluster",
    "warning",
    "fewer live brokers than --risk-min-brokers",
    "run at least 3 brokers so replication factor 3 with min.insync.replicas 2 survives one failure",
    ("kafka",),
    static=False,
)
LEADER_CONCENTRATION = Check(
    "leader_concentration",
    "broker",
    "warning",
    "a broker leads more than its fair share of partitions times --risk-leader-share-factor",
    "run a preferred leader election (kafka-leader-election --election-type PREFERRED) or reassign",
    ("kafka",),
    static=False,
)
OFFHEAP_NEAR_LIMIT = Check(
    "offheap_near_limit",
    "broker",
    "warning",
    "off-heap memory above --risk-offheap-limit-ratio of the container memory limit",
    "cap -XX:MaxDirectMemorySize, bound request sizes, or raise the memory limit",
    ("jvm", "kubernetes"),
    static=False,
)
LOG_DIR_EPHEMERAL = Check(
    "log_dir_ephemeral",
    "broker",
    "critical",
    "a broker log dir on emptyDir, an ephemeral volume or the container filesystem",
    "keep log dirs on a PersistentVolumeClaim (Strimzi: persistent-claim storage)",
    ("kubernetes", "manifest"),
)
NO_MEMORY_LIMIT = Check(
    "no_memory_limit",
    "broker",
    "info",
    "the broker container has no memory limit",
    "set resources.limits.memory on the broker container (heap + off-heap + ~25%)",
    ("kubernetes", "manifest"),
)
OFFHEAP_ENABLED = Check(
    "offheap_enabled",
    "broker",
    "info",
    "off-heap memory enabled on purpose by a JVM option or env var",
    "size the memory limit for heap + direct memory, or drop the off-heap option",
    ("kubernetes", "manifest"),
)
NO_POD_ANTI_AFFINITY = Check(
    "no_pod_anti_affinity",
    "broker",
    "info",
    "no required pod anti-affinity between brokers",
    "add required podAntiAffinity on kubernetes.io/hostname for broker pods",
    ("kubernetes", "manifest"),
)
NO_ZONE_SPREAD = Check(
    "no_zone_spread",
    "broker",
    "info",
    "no topology spread or anti-affinity over zones",
    "add a topologySpreadConstraint on topology.kubernetes.io/zone (DoNotSchedule)",
    ("kubernetes", "manifest"),
)
NO_PDB = Check(
    "no_pdb",
    "broker",
    "info",
    "no PodDisruptionBudget selects the broker pod",
    "add a PodDisruptionBudget with maxUnavailable: 1 selecting the broker pods",
    ("kubernetes", "manifest"),
)
PDB_ALLOWS_MULTIPLE_DOWN = Check(
    "pdb_allows_multiple_down",
    "broker",
    "info",
    "the broker's PodDisruptionBudget allows more than one broker down",
    "set the PodDisruptionBudget to maxUnavailable: 1",
    ("kubernetes", "manifest"),
)
KUBELET_VERSION_DENIED = Check(
    "kubelet_version_denied",
    "broker",
    "info",
    "the broker's node runs a kubelet version on --risk-kubelet-deny",
    "move the broker off that node or upgrade its kubelet",
    ("kubernetes",),
)
BROKERS_SAME_NODE = Check(
    "brokers_same_node",
    "cluster",
    "critical",
    "two or more brokers run on one node",
    "add required podAntiAffinity on kubernetes.io/hostname and reschedule one of them",
    ("kubernetes",),
)
BROKERS_ZONE_CONCENTRATION = Check(
    "brokers_zone_concentration",
    "cluster",
    "info",
    "brokers crowd into fewer zones than the nodes offer",
    "spread brokers over zones with a topologySpreadConstraint and reschedule",
    ("kubernetes",),
)
SESSION_TIMEOUT_EXCEEDS_GRACE = Check(
    "session_timeout_exceeds_grace",
    "group",
    "info",
    "consumer pods may be killed before their session timeout expires",
    "raise terminationGracePeriodSeconds above session.timeout.ms + margin",
    ("kubernetes", "manifest"),
)
KEDA_LAG_THRESHOLD_LOW = Check(
    "keda_lag_threshold_low",
    "group",
    "info",
    "a KEDA Kafka trigger's lagThreshold below --risk-keda-lag-threshold-floor",
    "raise lagThreshold to the lag one replica clears in about a minute",
    ("kubernetes", "manifest"),
)
KEDA_MIN_REPLICAS_CRITICAL = Check(
    "keda_min_replicas_critical",
    "group",
    "critical",
    "a critical consumer group may scale below 2 replicas",
    "set minReplicaCount to 2 or more for a critical consumer group",
    ("kubernetes", "manifest"),
)
KEDA_ACTIVATION_BELOW_THRESHOLD = Check(
    "keda_activation_below_threshold",
    "group",
    "info",
    "a KEDA trigger scales from zero at a lag below its lagThreshold",
    "set activationLagThreshold >= lagThreshold, or minReplicaCount >= 1",
    ("kubernetes", "manifest"),
)
TOPIC_REPLICATION_FACTOR_ONE = Check(
    "topic_replication_factor_one",
    "cluster",
    "info",
    "topics with replication factor 1",
    "reassign the topic's partitions to 3 replicas (kafka-reassign-partitions)",
    ("kafka",),
)
TOPIC_MIN_INSYNC_NOT_BELOW_RF = Check(
    "topic_min_insync_not_below_rf",
    "cluster",
    "info",
    "topics whose min.insync.replicas is not below their replication factor",
    "set min.insync.replicas to replication factor - 1 (2 for RF 3)",
    ("kafka",),
)
UNCLEAN_LEADER_ELECTION = Check(
    "unclean_leader_election",
    "cluster",
    "info",
    "topics with unclean.leader.election.enable=true",
    "set unclean.leader.election.enable=false on the topic",
    ("kafka",),
)
REBALANCE_STORM = Check(
    "rebalance_storm",
    "group",
    "warning",
    "a group rebalanced at least --risk-rebalances-per-hour times in the last hour",
    "find why members come and go: session or poll timeouts, crash loops, autoscaler churn",
    ("kafka",),
    static=False,
)

CHECKS: tuple[Check, ...] = (
    TOO_FEW_BROKERS,
    LEADER_CONCENTRATION,
    OFFHEAP_NEAR_LIMIT,
    LOG_DIR_EPHEMERAL,
    NO_MEMORY_LIMIT,
    OFFHEAP_ENABLED,
    NO_POD_ANTI_AFFINITY,
    NO_ZONE_SPREAD,
    NO_PDB,
    PDB_ALLOWS_MULTIPLE_DOWN,
    KUBELET_VERSION_DENIED,
    BROKERS_SAME_NODE,
    BROKERS_ZONE_CONCENTRATION,
    SESSION_TIMEOUT_EXCEEDS_GRACE,
    KEDA_LAG_THRESHOLD_LOW,
    KEDA_MIN_REPLICAS_CRITICAL,
    KEDA_ACTIVATION_BELOW_THRESHOLD,
    TOPIC_REPLICATION_FACTOR_ONE,
    TOPIC_MIN_INSYNC_NOT_BELOW_RF,
    UNCLEAN_LEADER_ELECTION,
    REBALANCE_STORM,
)
BY_NAME = {check.name: check for check in CHECKS}


def unknown_checks(names: Iterable[str]) -> None:
    """Raise ValueError naming every name that is no check of the catalogue (a typo disables nothing)."""
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(
            f"risk_disable_checks: unknown risk check {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(BY_NAME)}"
        )
