"""`broker-lag-exporter lint FILE...`: the manifest-decidable risk checks over manifests, for CI."""

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from broker_lag_exporter.config.sections import KubeOptions, RiskOptions
from broker_lag_exporter.config.settings import ConfigError, LintSettings, load
from broker_lag_exporter.lint.manifests import Inventory, Located, ManifestError, inventory, load_documents
from broker_lag_exporter.lint.report import LintFinding, render_json, render_text
from broker_lag_exporter.model.broker_ids import recognise_broker
from broker_lag_exporter.model.kube_parse import parse_selector_string
from broker_lag_exporter.risk.checks import BY_NAME, Finding, merge, unknown_checks
from broker_lag_exporter.risk.consumers import grace_finding, trigger_findings
from broker_lag_exporter.risk.pods import broker_findings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE, EXIT_NOTHING_CHECKED = 0, 1, 2, 3


def lint(inv: Inventory, kube: KubeOptions, risk: RiskOptions) -> list[LintFinding]:
    """Evaluate every check the manifests allow; one result per object and check, firing wins."""
    located = [
        *_broker_results(inv, kube, risk),
        *_consumer_results(inv, kube, risk),
        *_keda_results(inv, risk),
    ]
    off = frozenset(risk.risk_disable_checks)
    located = [(path, f) for path, f in located if f.check not in off]
    paths = {f.subject: path for path, f in located}
    results = [
        LintFinding(
            paths[f.subject], f.subject, f.check, f.severity, f.firing, f.reason, BY_NAME[f.check].fix
        )
        for f in merge(f for _, f in located)
    ]
    return sorted(results, key=lambda r: (r.path, r.object, r.check))


def _brokers(inv: Inventory, kube: KubeOptions) -> list[Located]:
    selectors = [parse_selector_string(s) for s in kube.kube_broker_selectors]
    return [p for p in inv.pods if recognise_broker(p.pod, selectors)] + inv.brokers


def _broker_results(inv: Inventory, kube: KubeOptions, risk: RiskOptions) -> Iterable[tuple[str, Finding]]:
    brokers = _brokers(inv, kube)
    pods = [b.pod for b in brokers]
    for b in brokers:
        for found in broker_findings(b.pod, pods, inv.budgets, kube.kube_broker_container, risk):
            yield b.path, replace(found, subject=b.workload)


def _consumer_results(inv: Inventory, kube: KubeOptions, risk: RiskOptions) -> Iterable[tuple[str, Finding]]:
    brokers = {id(b) for b in _brokers(inv, kube)}
    for located in inv.pods:
        if id(located) in brokers:
            continue
        found = grace_finding([located.pod], risk)
        if found is not None:
            yield located.path, replace(found, subject=located.workload)


def _keda_results(inv: Inventory, risk: RiskOptions) -> Iterable[tuple[str, Finding]]:
    for scaled, path in inv.scaled:
        where = f"ScaledObject {scaled.namespace}/{scaled.name}"
        for trigger in scaled.triggers:
            for found in trigger_findings(scaled, trigger, risk):
                yield path, replace(found, subject=where)


def run(
    files: Sequence[Path],
    fmt: str,
    config: Path | None,
    options: Mapping[str, Any],
    *,
    allow_empty: bool = False,
) -> int:
    """Lint the files; print the report on stdout; return the exit status.

    Checking nothing (no broker, consumer or ScaledObject found) is EXIT_NOTHING_CHECKED
    unless `allow_empty`: a typo in a path glob must not pass CI as "clean".
    """
    try:
        settings = load(LintSettings, None, config_file=config, **options)
        unknown_checks(settings.risk_disable_checks)
        inv = inventory(load_documents(files))
    except (ConfigError, ManifestError, ValueError) as exc:
        print(f"broker-lag-exporter lint: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    results = lint(inv, settings.kube, settings.risk)
    checked = {r.path for r in results}
    unchecked = [str(f) for f in files if str(f) not in checked]
    render = render_json if fmt == "json" else render_text
    sys.stdout.write(render(results, inv.objects, unchecked))
    if any(r.firing for r in results):
        return EXIT_FINDINGS
    return EXIT_CLEAN if results or allow_empty else EXIT_NOTHING_CHECKED
