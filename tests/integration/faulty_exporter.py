"""`broker-lag-exporter` whose join raises while a file exists: a bug injected from outside the package.

Usage: ``python faulty_exporter.py SWITCH_FILE serve ...``; everything after the
file is the real command line. Production code has no hook for this: the
pipeline's join function is replaced before the real CLI starts.
"""

import sys
from pathlib import Path

import pytest

from broker_lag_exporter import cli, pipeline
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.join.facts import join_all as real
from broker_lag_exporter.model.jvm import JvmSnapshot
from broker_lag_exporter.model.kafka import KafkaSnapshot
from broker_lag_exporter.model.kube import KubeSnapshot


def main() -> int:
    """Replace the pipeline's join with one that fails while the switch file exists; run the CLI."""
    switch = Path(sys.argv[1])

    def join_all(
        kafka: KafkaSnapshot | None,
        jvm: JvmSnapshot | None,
        kube: KubeSnapshot | None,
        *,
        per_partition: bool = False,
    ) -> Facts:
        if switch.exists():
            raise RuntimeError("injected join failure")
        return real(kafka, jvm, kube, per_partition=per_partition)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "join_all", join_all)
        return cli.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
