"""The shipped Prometheus rules (`alerts/`): loading, and the facts tests check about them."""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bundle import site

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "alerts" / "broker-lag-exporter.rules.yml"
RULES_TESTS = ROOT / "alerts" / "tests" / "broker-lag-exporter.test.yml"
ALERTMANAGER_EXAMPLE = ROOT / "alerts" / "alertmanager.example.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
RUNBOOK_BASE = site.RUNBOOK_BASE


@dataclass(frozen=True, slots=True)
class Alert:
    """One alerting rule as written in the rule file."""

    name: str
    expr: str
    for_: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


def load_groups(path: Path = RULES_FILE) -> list[dict[str, Any]]:
    """Return the rule groups of a Prometheus rule file."""
    data = yaml.safe_load(path.read_text())
    groups: list[dict[str, Any]] = data["groups"]
    return groups


def _rules(path: Path) -> Iterator[dict[str, Any]]:
    for group in load_groups(path):
        yield from group["rules"]


def alerts(path: Path = RULES_FILE) -> list[Alert]:
    """Return every alerting rule, in file order."""
    return [
        Alert(
            r["alert"],
            r["expr"],
            r.get("for", "0s"),
            r.get("labels", {}),
            r.get("annotations", {}),
        )
        for r in _rules(path)
        if "alert" in r
    ]


def recorded_names(path: Path = RULES_FILE) -> frozenset[str]:
    """Return the metric names the file's recording rules create."""
    return frozenset(r["record"] for r in _rules(path) if "record" in r)


def expressions(path: Path = RULES_FILE) -> list[str]:
    """Return the expression of every rule, recording and alerting."""
    return [r["expr"] for r in _rules(path)]


def github_anchor(heading: str) -> str:
    """Return the anchor GitHub renders for a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def markdown_anchors(path: Path = RUNBOOKS) -> frozenset[str]:
    """Return the anchors of every heading in a Markdown file (fenced code skipped)."""
    anchors: set[str] = set()
    fenced = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6}\s+(.*)", line)):
            anchors.add(github_anchor(match.group(1)))
    return frozenset(anchors)


def duration_seconds(text: str) -> int:
    """Convert a Prometheus duration such as `1h30m` to seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|[smhdwy])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return int(sum(int(n) * units[u] for n, u in parts))
