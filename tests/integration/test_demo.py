"""`make demo` as a user runs it: Kafka, the exporter, Prometheus firing the lag alert, and Ctrl-C."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from bundle.alerts import RULES_FILE, alerts, duration_seconds
from harness.demo import (
    FOR_DIVISOR,
    LAG_ALERT,
    alert_states,
    banner,
    shorten,
    start_prometheus,
    write_demo_rules,
)
from harness.process import free_port, free_ports

ROOT = Path(__file__).resolve().parents[2]


def test_demo_rules_change_only_the_for_durations(tmp_path: Path):
    demo = tmp_path / "demo.rules.yml"
    changed = write_demo_rules(demo)
    shipped, shortened = alerts(RULES_FILE), alerts(demo)
    assert [a.name for a in shortened] == [a.name for a in shipped]
    for old, new in zip(shipped, shortened, strict=True):
        assert (new.expr, new.labels, new.annotations) == (old.expr, old.labels, old.annotations)
        assert duration_seconds(new.for_) == max(5, duration_seconds(old.for_) // FOR_DIVISOR)
    assert changed[LAG_ALERT] == ("10m", "30s")
    assert demo.read_text().startswith("# DEMO ONLY")
    assert yaml.safe_load(demo.read_text())["groups"]


def test_shorten_and_alert_lines():
    assert (shorten("10m"), shorten("2m"), shorten("1h")) == ("30s", "6s", "180s")
    assert shorten("1m") == "5s"
    line = alert_states([{"labels": {"alertname": LAG_ALERT, "broker_id": "2"}, "state": "pending"}])
    assert line == f"alerts: {LAG_ALERT}{{broker_id=2}} pending"
    assert alert_states([]) == "alerts: none active yet"


def test_banner_says_where_to_look_and_that_the_rules_are_shortened():
    text = banner("http://127.0.0.1:9340", (0, 1, 2), "http://127.0.0.1:9090", 5)
    assert "status page:  http://127.0.0.1:9340/ " in text
    assert "http://127.0.0.1:9090/alerts" in text
    assert "DEMO ONLY" in text
    assert f"divided by {FOR_DIVISOR}" in text
    assert "g0.expr=topk%281%2C+kafka_broker_consumer_lag_messages%29" in text
    without = banner("http://127.0.0.1:9340", (0, 1, 2), None, 5)
    assert "Prometheus:   not running" in without
    assert "topk(1, kafka_broker_consumer_lag_messages)" in without


def test_without_prometheus_the_demo_says_so_and_goes_on(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no prometheus binary anywhere
    assert start_prometheus(tmp_path, "127.0.0.1:9", 5, free_port()) is None
    out = capsys.readouterr().out
    assert "Prometheus is not running (prometheus not found: run scripts/setup-system.sh)" in out
    assert "the demo goes on without it" in out


@pytest.mark.prometheus
def test_promtool_accepts_the_demo_rules(tmp_path: Path):
    demo = tmp_path / "demo.rules.yml"
    write_demo_rules(demo)
    proc = subprocess.run(
        ["promtool", "check", "rules", str(demo)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.kafka
@pytest.mark.prometheus
def test_make_demo_fires_the_lag_alert_on_broker_2_and_stops_on_ctrl_c():
    port, prom_port = free_ports(2)
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.demo", "--port", str(port), "--prometheus-port", str(prom_port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    stdout = proc.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        firing = f"{LAG_ALERT}{{broker_id=2}} firing"
        while not any(firing in line for line in lines):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines[-30:])
            time.sleep(1)
        out = "".join(lines)
        alerts_page = re.search(rf"Prometheus: +(http://127\.0\.0\.1:{prom_port}\S*/alerts)", out)
        assert alerts_page, out
        with urllib.request.urlopen(alerts_page.group(1), timeout=5) as page:
            assert LAG_ALERT in page.read().decode()
        assert "DEMO ONLY" in out
        assert f"{LAG_ALERT}{{broker_id=2}} pending" in out  # pending came first
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            html = page.read().decode()
        assert html.index('data-broker-id="2"') < html.index('data-broker-id="0"')
        with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/-/ready", timeout=5) as ready:
            assert ready.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
        reader.join(5)
        stdout.close()
    assert code == 0, "".join(lines[-30:])
    assert "demo stopped" in "".join(lines)
    with pytest.raises(urllib.error.URLError):  # Prometheus went with it
        urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/-/ready", timeout=2)
