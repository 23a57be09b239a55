"""Risk rules: pure functions from joined facts to 0/1 findings with a bounded `check` name."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from broker_lag_exporter.config import Settings
from broker_lag_exporter.join.lag import LagView
from broker_lag_exporter.join.memory import MemoryView
from broker_lag_exporter.join.pods import PodView
from broker_lag_exporter.model import JvmSnapshot, KafkaSnapshot

Scope = Literal["broker", "group", "cluster"]
Severity = Literal["info", "warning", "critical"]


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


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the rules may read: the latest data of each source, already joined."""

    kafka: KafkaSnapshot | None = None
    lag: LagView | None = None
    jvm: JvmSnapshot | None = None
    memory: MemoryView | None = None
    kube: PodView | None = None


Rule = Callable[[Facts, Settings], Iterable[Finding]]
