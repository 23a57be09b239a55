"""A real Prometheus (the Debian package's binary) on loopback, for end-to-end tests.

Usage::

    with Prometheus.start(tmp_path, targets=["127.0.0.1:9340"], rule_files=[RULES]) as prom:
        prom.wait_for_target_up()
        prom.query('kafka_broker_up{job="broker-lag-exporter"}')
        prom.alerts()

Each instance has its own config, TSDB directory and port; it scrapes and evaluates rules
every second so tests see data within seconds. ``scripts/setup-system.sh`` installs it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.process import Service, free_port, popen, tail, terminate, wait_until

JOB = "broker-lag-exporter"


class PrometheusHarnessError(RuntimeError):
    """Prometheus is missing, failed to start, or answered with an error."""


def binary(name: str = "prometheus") -> str:
    """Return the path of a Prometheus tool, or raise naming the setup script."""
    path = shutil.which(name)
    if path is None:
        raise PrometheusHarnessError(f"{name} not found: run scripts/setup-system.sh")
    return path


class Prometheus(Service):
    """A running Prometheus scraping fixed targets as one job, with optional rule files."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
        self.proc = proc
        self.port = port
        self.workdir = workdir

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        targets: Sequence[str],
        rule_files: Sequence[Path] = (),
        job: str = JOB,
        interval: str = "1s",
        timeout: float = 30.0,
        port: int | None = None,
        target_labels: Mapping[str, str] | None = None,
        scrape: Mapping[str, Any] | None = None,
        more_jobs: Mapping[str, Sequence[str]] | None = None,
    ) -> Prometheus:
        """Write a config, start Prometheus on `port` (default: a free one) and wait until it is ready.

        `target_labels` are added to every scraped series, as a `cluster` label usually is;
        `scrape` adds keys to the jobs' scrape config (`scheme`, `tls_config`, `basic_auth`);
        `more_jobs` adds jobs (name -> targets) beside `job`, e.g. a sharded exporter next to an
        unsharded one.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        jobs = {job: targets, **(more_jobs or {})}
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {
                    "job_name": name,
                    "static_configs": [{"targets": list(addresses), "labels": dict(target_labels or {})}],
                    **(scrape or {}),
                }
                for name, addresses in jobs.items()
            ],
        }
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        port = port or free_port()
        with (workdir / "prometheus.log").open("ab") as log:
            proc = popen(
                [
                    binary(),
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                cwd=workdir,
            )
        prom = cls(proc, port, workdir)
        prom._track()
        try:
            wait_until(prom._ready, timeout=timeout, what="Prometheus /-/ready")
        except TimeoutError as exc:
            prom.stop()
            raise PrometheusHarnessError(f"{exc}\n{prom.log_tail()}") from None
        return prom

    # ------------------------------------------------------------ lifecycle

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise PrometheusHarnessError(f"prometheus exited {self.proc.returncode}\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; idempotent."""
        terminate(self.proc, timeout)
        self._untrack()

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of Prometheus' log."""
        return tail(self.workdir / "prometheus.log", lines)

    # ------------------------------------------------------------ HTTP API

    @property
    def url(self) -> str:
        """Return the base URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``; raise on an error status."""
        query = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body.get("status") != "success":
            raise PrometheusHarnessError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Run an instant query; return its result list (vector samples, or one scalar)."""
        data = self.api("query", query=expr)
        result = data["result"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return list(result)

    def query_range(self, expr: str, *, seconds: float, step: str = "1s") -> list[dict[str, Any]]:
        """Run a range query over the last ``seconds``; return its matrix."""
        end = time.time()
        data = self.api("query_range", query=expr, start=str(end - seconds), end=str(end), step=step)
        return list(data["result"])

    def format_query(self, expr: str) -> str:
        """Have Prometheus' own parser check and pretty-print an expression."""
        return str(self.api("format_query", query=expr))

    def targets(self) -> list[dict[str, Any]]:
        """Return the active scrape targets."""
        return list(self.api("targets")["activeTargets"])

    def alerts(self) -> list[dict[str, Any]]:
        """Return active alerts (pending and firing), with labels, annotations and state."""
        return list(self.api("alerts")["alerts"])

    def rule_groups(self) -> list[dict[str, Any]]:
        """Return the loaded rule groups with each rule's health and last error."""
        return list(self.api("rules")["groups"])

    def wait_for_target_up(self, timeout: float = 30.0) -> None:
        """Until every target has been scraped successfully at least once."""

        def all_up() -> bool:
            targets = self.targets()
            return bool(targets) and all(t["health"] == "up" for t in targets)

        wait_until(all_up, timeout=timeout, what="every scrape target up")


__all__ = ["JOB", "Prometheus", "PrometheusHarnessError", "binary"]
