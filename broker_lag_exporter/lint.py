"""`broker-lag-exporter lint FILE...`: the Kubernetes risk rules over manifests, for CI before deploy."""

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from broker_lag_exporter.config import ConfigError, Settings, load_settings
from broker_lag_exporter.join.pods import join_pods
from broker_lag_exporter.kube_model import KubeSnapshot
from broker_lag_exporter.manifests import Inventory, Located, ManifestError, inventory, load_documents
from broker_lag_exporter.risk import Facts, Finding
from broker_lag_exporter.risk.consumers import grace_finding, trigger_findings
from broker_lag_exporter.risk.pods import broker_pod_rules
from broker_lag_exporter.sources.kubernetes.mapping import is_broker_pod
from broker_lag_exporter.sources.kubernetes.objects import parse_selector_string

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2
# The lint talks to no broker; settings only need some valid address.
PLACEHOLDER_SERVERS = ["lint.invalid:9092"]
FIXES = {
    "log_dir_ephemeral": "keep log dirs on a PersistentVolumeClaim (Strimzi: persistent-claim storage)",
    "no_memory_limit": "set resources.limits.memory on the broker container (heap + off-heap + ~25%)",
    "offheap_enabled": "size the memory limit for heap + direct memory, or drop the off-heap option",
    "no_pod_anti_affinity": "add required podAntiAffinity on kubernetes.io/hostname for broker pods",
    "no_zone_spread": "add a topologySpreadConstraint on topology.kubernetes.io/zone (DoNotSchedule)",
    "no_pdb": "add a PodDisruptionBudget with maxUnavailable: 1 selecting the broker pods",
    "pdb_allows_multiple_down": "set the PodDisruptionBudget to maxUnavailable: 1",
    "session_timeout_exceeds_grace": "raise terminationGracePeriodSeconds above session.timeout.ms + margin",
    "keda_lag_threshold_low": "raise lagThreshold to the lag one replica clears in about a minute",
    "keda_min_replicas_critical": "set minReplicaCount to 2 or more for a critical consumer group",
    "keda_activation_below_threshold": "set activationLagThreshold >= lagThreshold, or minReplicaCount >= 1",
}


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One check on one object of a manifest."""

    path: str
    object: str
    check: str
    severity: str
    firing: bool
    reason: str
    fix: str


def lint(inv: Inventory, settings: Settings) -> list[LintFinding]:
    """Evaluate every check the manifests allow; one result per object and check, firing wins."""
    results = [
        *_broker_results(inv, settings),
        *_consumer_results(inv, settings),
        *_keda_results(inv, settings),
    ]
    merged: dict[tuple[str, str], LintFinding] = {}
    for r in results:
        key = (r.object, r.check)
        if key not in merged or (r.firing and not merged[key].firing):
            merged[key] = r
    return sorted(merged.values(), key=lambda r: (r.path, r.object, r.check))


def _result(found: Finding, where: Located | tuple[str, str]) -> LintFinding:
    path, obj = (where.path, where.workload) if isinstance(where, Located) else where
    return LintFinding(
        path, obj, found.check, found.severity, found.firing, found.reason, FIXES.get(found.check, "")
    )


def _brokers(inv: Inventory, settings: Settings) -> list[Located]:
    selectors = [parse_selector_string(s) for s in settings.kube_broker_selectors]
    return [p for p in inv.pods if is_broker_pod(p.pod, selectors)] + inv.brokers


def _broker_results(inv: Inventory, settings: Settings) -> Iterable[LintFinding]:
    brokers = _brokers(inv, settings)
    snapshot = KubeSnapshot(
        broker_pods={i: b.pod for i, b in enumerate(brokers)},
        disruption_budgets=tuple(inv.budgets),
        broker_container=settings.kube_broker_container,
    )
    for found in broker_pod_rules(Facts(kube=join_pods(snapshot, None)), settings):
        yield _result(found, brokers[int(found.subject)])


def _consumer_results(inv: Inventory, settings: Settings) -> Iterable[LintFinding]:
    brokers = {id(b) for b in _brokers(inv, settings)}
    for located in inv.pods:
        if id(located) in brokers:
            continue
        found = grace_finding([located.pod], settings)
        if found is not None:
            yield _result(found, located)


def _keda_results(inv: Inventory, settings: Settings) -> Iterable[LintFinding]:
    for scaled, path in inv.scaled:
        where = (path, f"ScaledObject {scaled.namespace}/{scaled.name}")
        for trigger in scaled.triggers:
            for found in trigger_findings(scaled, trigger, settings):
                yield _result(found, where)


def render_text(results: Sequence[LintFinding], inv: Inventory) -> str:
    """Return one paragraph per finding (what, why, fix) and a summary line."""
    firing = [r for r in results if r.firing]
    lines = []
    for r in firing:
        lines.append(f"{r.path}: {r.object}: {r.check} ({r.severity})")
        lines.append(f"  {r.reason}")
        lines.append(f"  fix: {r.fix} (docs/risks.md#{r.check})")
    checked = len(results)
    lines.append(
        f"{len(firing)} finding(s) in {len({r.object for r in firing})} object(s); "
        f"{checked} check(s) over {inv.objects} object(s)"
        if firing
        else f"no findings: {checked} check(s) over {inv.objects} object(s)"
    )
    return "\n".join(lines) + "\n"


def render_json(results: Sequence[LintFinding], inv: Inventory) -> str:
    """Return the findings (firing ones) and what was checked, as JSON."""
    body = {
        "findings": [asdict(r) for r in results if r.firing],
        "passed": [asdict(r) for r in results if not r.firing],
        "objects": inv.objects,
    }
    return json.dumps(body, indent=2) + "\n"


def run(files: Sequence[Path], fmt: str, config: Path | None, rest: Sequence[str]) -> int:
    """Lint the files; print the report on stdout; return the exit status."""
    try:
        settings = load_settings(list(rest), config_file=config, bootstrap_servers=PLACEHOLDER_SERVERS)
        inv = inventory(load_documents(files))
    except (ConfigError, ManifestError) as exc:
        print(f"broker-lag-exporter lint: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    results = lint(inv, settings)
    sys.stdout.write(render_json(results, inv) if fmt == "json" else render_text(results, inv))
    return EXIT_FINDINGS if any(r.firing for r in results) else EXIT_CLEAN
