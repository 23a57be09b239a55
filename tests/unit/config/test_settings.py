"""Settings: precedence, validation that lists every problem, secrets, and documentation."""

import re
from pathlib import Path

import pytest

from broker_lag_exporter.config.settings import ConfigError, Settings, load_settings

DOCS = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_only_bootstrap_servers_is_required():
    s = load_settings([], bootstrap_servers="kafka-0:9092,kafka-1:9092")
    assert s.bootstrap_servers == ["kafka-0:9092", "kafka-1:9092"]
    assert s.listen_port != 9308  # kafka_exporter's port


def test_flags_beat_environment_beat_file(tmp_path, monkeypatch):
    config = tmp_path / "exporter.yaml"
    config.write_text("bootstrap_servers: file:1\npoll_interval_seconds: 7\nlisten_port: 9000\n")
    monkeypatch.setenv("BROKER_LAG_POLL_INTERVAL_SECONDS", "9")
    monkeypatch.setenv("BROKER_LAG_LISTEN_PORT", "9001")
    s = load_settings(["--listen-port", "9002"], config_file=config)
    assert (s.bootstrap_servers, s.poll_interval_seconds, s.listen_port) == (["file:1"], 9, 9002)


def test_every_problem_is_listed_at_once():
    with pytest.raises(ConfigError) as err:
        load_settings(
            ["--bootstrap-servers", "no-port", "--poll-interval-seconds", "0", "--group-allow", "("]
        )
    text = str(err.value)
    assert "3 configuration problem(s)" in text
    for name in ("bootstrap_servers", "poll_interval_seconds", "group_allow"):
        assert name in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"shard_index": 2, "shard_count": 2}, "shard_index must be below shard_count"),
        ({"request_timeout_seconds": 90}, "must not exceed collect_timeout_seconds"),
        ({"web_tls_certfile": "cert.pem"}, "go together"),
        ({"security_protocol": "SASL_SSL"}, "SASL needs"),
    ],
)
def test_cross_field_rules(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(bootstrap_servers="k:9092", **overrides)


@pytest.mark.parametrize(
    ("pod_name", "flag", "index"),
    [
        ("ble-sharded-2", "auto", 2),
        ("ble-sharded-0", "auto", 0),
        ("my-exporter-10-1", "auto", 1),
        ("ble-sharded-2", "1", 1),  # an explicit index wins over the pod name
    ],
)
def test_shard_index_auto_is_the_pod_ordinal(monkeypatch, pod_name, flag, index):
    monkeypatch.setenv("POD_NAME", pod_name)
    s = load_settings(["--bootstrap-servers", "k:9092", "--shard-index", flag, "--shard-count", "3"])
    assert s.export.shard_index == index


@pytest.mark.parametrize(
    ("pod_name", "message"),
    [
        ("ble-sharded", "pod name ending in -<ordinal>, got 'ble-sharded'"),
        ("ble-sharded-3", "shard_index must be below shard_count"),
    ],
)
def test_shard_index_auto_rejects_a_pod_name_it_cannot_use(monkeypatch, pod_name, message):
    monkeypatch.setenv("POD_NAME", pod_name)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(bootstrap_servers="k:9092", shard_index="auto", shard_count=3)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings([], config_file=tmp_path / "nope.yaml")


def test_secrets_are_not_in_the_repr():
    s = load_settings(
        bootstrap_servers="k:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="svc",
        sasl_password="hunter2",
    )
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s.model_dump())


def test_every_option_is_documented():
    text = DOCS.read_text()
    flags = set(re.findall(r"--([a-z0-9-]+)", text))
    env = set(re.findall(r"BROKER_LAG_([A-Z0-9_]+)", text))
    for name in Settings.model_fields:
        documented = name.replace("_", "-") in flags or name.upper() in env
        assert documented, f"{name} is missing from docs/configuration.md"


@pytest.mark.parametrize(
    "env",
    [
        # The fail-open bug: an empty password used to switch basic auth off without a word.
        {"BROKER_LAG_WEB_BASIC_AUTH_USERNAME": "prom", "BROKER_LAG_WEB_BASIC_AUTH_PASSWORD": ""},
        {"BROKER_LAG_WEB_BASIC_AUTH_USERNAME": "", "BROKER_LAG_WEB_BASIC_AUTH_PASSWORD": "s3cret"},
        {"BROKER_LAG_WEB_BASIC_AUTH_USERNAME": "prom"},
        {"BROKER_LAG_WEB_BASIC_AUTH_PASSWORD": "s3cret"},
    ],
    ids=["empty-password", "empty-username", "no-password", "no-username"],
)
def test_empty_or_half_set_basic_auth_is_rejected_at_start(env, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="web_basic_auth") as err:
        load_settings([], bootstrap_servers="k:9092")
    assert "s3cret" not in str(err.value)
