"""Generate docs/metrics.md from the metric catalogue: `python -m broker_lag_exporter.docs`."""

import sys
from pathlib import Path

from broker_lag_exporter.metrics.catalogue import METRICS, MetricSpec

TARGET = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
SOURCES = {
    "kafka": "Kafka (metadata, ListOffsets, consumer groups)",
    "kubernetes": "Kubernetes API (broker pods, nodes, PDBs, consumer workloads)",
    "jvm": "Each broker's JVM metrics endpoint (jmx_exporter)",
    "risk": "Risk rules over the joined data",
    "exporter": "The exporter itself",
}
HEADER = """# Metric reference

Generated from `broker_lag_exporter/metrics/catalogue.py` by `make docs`; do not edit by hand.

Every per-broker series carries `broker_id`; consumer groups are labelled `group`. Values of the
Kafka, Kubernetes and JVM families are collected in the background and served from the latest
snapshot: `broker_lag_exporter_source_last_success_timestamp_seconds{source}` tells their age, and a
source whose data is older than `--max-data-age-seconds` stops exporting it. Target labels such as
`cluster` or `env` are yours to add in the scrape configuration.
"""


def _row(spec: MetricSpec) -> str:
    labels = ", ".join(f"`{label}`" for label in spec.labels) or "-"
    return f"| `{spec.name}` | {spec.kind} | {labels} | {spec.help} |"


def render() -> str:
    """Return the Markdown reference for every metric, grouped by source."""
    parts = [HEADER]
    for source, title in SOURCES.items():
        specs = [s for s in METRICS if s.source == source]
        if not specs:
            continue
        parts.append(f"\n## {title}\n\n| metric | type | labels | meaning |\n|---|---|---|---|")
        parts.extend(_row(s) for s in specs)
    return "\n".join(parts) + "\n"


def main() -> int:
    """Write docs/metrics.md; with --check, fail when it is out of date instead."""
    text = render()
    if "--check" in sys.argv[1:]:
        return 0 if TARGET.read_text() == text else 1
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
