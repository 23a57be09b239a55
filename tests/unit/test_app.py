"""Wiring choices that cost memory or latency: what `serve` imports and how it collects garbage."""

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from broker_lag_exporter.config.sections import KubeOptions
from broker_lag_exporter.config.settings import load_settings


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter (imports and gc state are process-wide); return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


@pytest.mark.parametrize(("mode", "imported"), [("off", "False"), ("on", "True")])
def test_the_kubernetes_library_is_imported_only_when_its_source_is_on(mode: str, imported: str) -> None:
    # kubernetes-asyncio's generated models take about 65 MiB: a Kafka-only exporter must not pay them.
    out = run_python(f"""
        import sys
        from broker_lag_exporter.app import build_sources
        from broker_lag_exporter.config.settings import load_settings
        from broker_lag_exporter.store import Store
        settings = load_settings(bootstrap_servers="127.0.0.1:1", kube_mode="{mode}")
        names = [s.name for s in build_sources(settings, Store(60))]
        print("kubernetes_asyncio" in sys.modules, "kubernetes" in names)
    """)
    assert out == f"{imported} {imported}"


def test_settle_gc_freezes_start_up_objects_and_makes_full_collections_rare() -> None:
    out = run_python("""
        import gc
        from broker_lag_exporter.app import GC_THRESHOLDS, settle_gc
        before = gc.get_threshold()
        settle_gc()
        print(before[2], gc.get_threshold() == GC_THRESHOLDS, gc.get_freeze_count() > 10_000)
    """)
    assert out == "10 True True"


def kube(**options: Any) -> KubeOptions:
    """Return the Kubernetes section of settings with these options."""
    return load_settings(bootstrap_servers="127.0.0.1:1", **options).kube


def test_kube_auto_mode_follows_the_credentials_at_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert not kube().enabled
    assert kube(kube_mode="on").enabled
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{tmp_path / 'kubeconfig'}")
    assert kube().enabled
    assert not kube(kube_mode="off").enabled
    monkeypatch.setenv("KUBECONFIG", "")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert kube().enabled


def test_favour_scrapes_shortens_the_gil_switch_interval() -> None:
    out = run_python("""
        import sys
        from broker_lag_exporter.app import SWITCH_INTERVAL_SECONDS, favour_scrapes
        favour_scrapes()
        print(sys.getswitchinterval() == SWITCH_INTERVAL_SECONDS < 0.005)
    """)
    assert out == "True"
