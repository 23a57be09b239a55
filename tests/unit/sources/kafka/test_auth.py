"""Kafka TLS options: file problems listed at start, the context built from them, insecure mode exported."""

import ssl

import pytest
from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from broker_lag_exporter.app import build_registry, build_sources
from broker_lag_exporter.config.settings import ConfigError, load_settings
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka.auth import LoginBackoff, client_tls, explain_rejection
from broker_lag_exporter.sources.kafka.client import _client_options
from broker_lag_exporter.store import Store
from harness.certs import CertificateAuthority


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority(tmp_path / "pki")


def test_every_tls_file_problem_is_listed_at_once_without_the_password(ca):
    good, other = ca.issue("exporter", client=True, password="k3y-pa55"), ca.issue("other", client=True)
    with pytest.raises(ConfigError) as err:
        load_settings(
            bootstrap_servers="k:9092",
            security_protocol="SSL",
            ssl_cafile=ca.folder / "missing-ca.pem",
            ssl_certfile=good.cert,
            ssl_keyfile=other.key,
            ssl_keyfile_password="k3y-pa55",
        )
    text = str(err.value)
    assert f"ssl_cafile {ca.folder}/missing-ca.pem does not exist" in text
    assert f"ssl_keyfile {other.key} does not match ssl_certfile {good.cert}" in text
    assert "k3y-pa55" not in text
    with pytest.raises(ConfigError, match=r"ssl_keyfile .* is encrypted and no password is set"):
        load_settings(
            bootstrap_servers="k:9092", security_protocol="SSL", ssl_certfile=good.cert, ssl_keyfile=good.key
        )
    with pytest.raises(ConfigError, match="ssl_certfile and ssl_keyfile go together"):
        load_settings(bootstrap_servers="k:9092", security_protocol="SSL", ssl_certfile=good.cert)


def test_tls_options_without_a_tls_protocol_are_an_error(ca):
    # Otherwise a user setting a CA believes the connection is encrypted while it is not.
    with pytest.raises(ConfigError) as err:
        load_settings(bootstrap_servers="k:9092", ssl_cafile=ca.cert, ssl_insecure_skip_verify=True)
    assert "ssl_cafile needs security_protocol SSL or SASL_SSL" in str(err.value)
    assert "ssl_insecure_skip_verify needs security_protocol SSL or SASL_SSL" in str(err.value)


def test_the_client_context_carries_ca_client_certificate_and_hostname_override(ca):
    issued = ca.issue("exporter", client=True, password="k3y-pa55")
    s = load_settings(
        bootstrap_servers="k:9092",
        security_protocol="SSL",
        ssl_cafile=ca.cert,
        ssl_certfile=issued.cert,
        ssl_keyfile=issued.key,
        ssl_keyfile_password="k3y-pa55",
        ssl_server_hostname="kafka.internal",
    )
    context = _client_options(s.kafka, 10, 30)["ssl_context"]
    built = context.current()
    assert built.verify_mode == ssl.CERT_REQUIRED
    assert built.check_hostname
    assert [c["subject"] for c in built.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    obj = context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="127.0.0.1")
    assert obj.server_hostname == "kafka.internal"
    assert "k3y-pa55" not in repr(client_tls(s.kafka))


def _disabled(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("broker_lag_exporter_kafka_tls_verification_disabled")


def test_skipping_verification_is_warned_at_start_and_exported():
    insecure = load_settings(
        bootstrap_servers="k:9092", security_protocol="SSL", ssl_insecure_skip_verify=True
    )
    with capture_logs() as logs:
        build_sources(insecure, Store(60))
    assert [e["log_level"] for e in logs if "NOT verified" in e["event"]] == ["warning"]
    assert _disabled(build_registry(Store(60), insecure)) == 1
    assert _disabled(build_registry(Store(60), load_settings(bootstrap_servers="k:9092"))) == 0


def test_login_backoff_doubles_up_to_ten_minutes_and_resets_on_success():
    now = [0.0]
    backoff = LoginBackoff(clock=lambda: now[0])
    backoff.check()
    waits = []
    for _ in range(7):
        backoff.rejected("SASL PLAIN authentication rejected")
        start = now[0]
        with pytest.raises(SourceError, match="SASL PLAIN authentication rejected"):
            backoff.check()
        while True:
            now[0] += 1
            try:
                backoff.check()
            except SourceError:
                continue
            break
        waits.append(now[0] - start)
    assert waits == [30, 60, 120, 240, 480, 600, 600]
    backoff.accepted()
    backoff.rejected("again")
    with pytest.raises(SourceError):
        backoff.check()
    now[0] += 30
    backoff.check()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            SaslAuthenticationFailed("Authentication failed: Invalid username or password"),
            "SASL SCRAM-SHA-512 authentication as 'svc' rejected by broker b:9093: Authentication failed: "
            "Invalid username or password",
        ),
        (UnsupportedSaslMechanismError(), "broker b:9093 does not enable SASL mechanism SCRAM-SHA-512"),
        (ConnectionRefusedError(111, "refused"), None),
    ],
)
def test_rejections_name_mechanism_and_broker_and_outages_are_not_rejections(error, expected):
    s = load_settings(
        bootstrap_servers="b:9093",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password="hunter2",
    )
    assert explain_rejection(s.kafka, "b:9093", error) == expected


def test_tls_files_broken_after_start_are_a_source_error_naming_them(ca):
    issued = ca.issue("exporter", client=True)
    s = load_settings(
        bootstrap_servers="k:9092",
        security_protocol="SSL",
        ssl_cafile=ca.cert,
        ssl_certfile=issued.cert,
        ssl_keyfile=issued.key,
    )
    issued.key.unlink()  # the Secret was unmounted
    with pytest.raises(SourceError) as err:
        _client_options(s.kafka, 10, 30)
    assert str(err.value) == f"ssl_keyfile {issued.key} does not exist"
