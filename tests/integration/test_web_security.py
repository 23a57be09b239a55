"""/metrics secured by the toolkit web config; a real Prometheus scrapes it over mTLS + basic auth."""

import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest

from broker_lag_exporter.web_auth import load_web_config
from harness.certs import CertificateAuthority
from harness.exporter import ExporterProcess
from harness.kafka.cluster import KafkaCluster
from harness.process import wait_until
from harness.prometheus import Prometheus, binary

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "web-config.example.yml"
PASSWORD = "scrape-pa55"


def _web_folder(tmp_path: Path) -> tuple[Path, CertificateAuthority]:
    """The shipped example beside the files a cert-manager Secret holds (tls.crt, tls.key, ca.crt)."""
    folder = tmp_path / "web"
    ca = CertificateAuthority(tmp_path / "pki")
    server = ca.issue("exporter")
    folder.mkdir()
    shutil.copy(server.cert, folder / "tls.crt")
    shutil.copy(server.key, folder / "tls.key")
    shutil.copy(ca.cert, folder / "ca.crt")
    shutil.copy(EXAMPLE, folder / "web-config.yml")
    return folder, ca


@pytest.mark.prometheus
def test_promtool_and_the_exporter_accept_the_shipped_example(tmp_path):
    folder, _ = _web_folder(tmp_path)
    config = folder / "web-config.yml"
    result = subprocess.run(
        [binary("promtool"), "check", "web-config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    parsed = load_web_config(config)
    assert parsed.tls is not None
    assert parsed.tls.client_auth == ssl.CERT_REQUIRED
    assert set(parsed.users) == {"prometheus"}


@pytest.mark.kafka
@pytest.mark.prometheus
def test_prometheus_scrapes_through_mtls_and_basic_auth_and_strangers_get_401(tmp_path):
    folder, ca = _web_folder(tmp_path)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    config = folder / "web-config.yml"
    config.write_text(
        config.read_text().replace(config.read_text().split("prometheus: ")[-1].strip(), hashed)
    )
    scraper = ca.issue("prometheus", client=True)
    client = ssl.create_default_context(cafile=ca.cert)
    client.load_cert_chain(scraper.cert, scraper.key)
    with KafkaCluster.start(1, workdir=tmp_path / "kafka") as kafka:
        kafka.create_topic("web-secured", partitions=2)
        kafka.produce("web-secured", 40)
        kafka.commit_offsets("web-scraper", {("web-secured", 0): 3, ("web-secured", 1): 4})
        expected = sum(r.lag or 0 for r in kafka.describe_groups() if r.group == "web-scraper")
        with ExporterProcess.start(
            tmp_path / "exporter",
            bootstrap_servers=kafka.bootstrap_servers,
            args=["--web-config-file", str(config), "--poll-interval-seconds", "1"],
            tls=client,
        ) as exporter:
            # The probes stay open; everything else needs a user, and HTTP is not served at all.
            assert exporter.get("/metrics")[0] == 401
            assert exporter.get("/")[0] == 401
            with pytest.raises(ConnectionError):
                urllib.request.urlopen(f"http://{exporter.address}/metrics", timeout=5)
            with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
                # No client certificate: the TLS handshake itself is refused.
                urllib.request.urlopen(
                    f"https://{exporter.address}/healthz",
                    timeout=5,
                    context=ssl.create_default_context(cafile=ca.cert),
                )
            scrape = {
                "scheme": "https",
                "tls_config": {
                    "ca_file": str(ca.cert),
                    "cert_file": str(scraper.cert),
                    "key_file": str(scraper.key),
                },
                "basic_auth": {"username": "prometheus", "password": PASSWORD},
            }
            with Prometheus.start(tmp_path / "prom", targets=[exporter.address], scrape=scrape) as prom:
                prom.wait_for_target_up()

                def lag() -> float | None:
                    rows = prom.query('kafka_group_lag_messages{group="web-scraper"}')
                    return float(rows[0]["value"][1]) if rows else None

                wait_until(lambda: lag() is not None, timeout=30, what="lag scraped through TLS")
                assert lag() == expected == 33
                assert PASSWORD not in exporter.log_tail(400)
