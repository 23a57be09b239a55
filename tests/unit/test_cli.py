"""The command line as a user reads it: --help of each command, metavars, environment names, parsing."""

import re

import pytest

from broker_lag_exporter.cli import main
from broker_lag_exporter.config.sections import KubeOptions, RiskOptions, WebOptions
from broker_lag_exporter.config.settings import Settings

# What pydantic-settings' own CLI printed: type reprs, unions with null and default factories.
LEAKS = (
    "{str,null}",
    "list[str]",
    "dict[",
    "SecretStr",
    "{Path,null}",
    "default factory",
    "<lambda>",
    "null",
)


def help_text(capsys, monkeypatch, *command):
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps at COLUMNS


def flags(text):
    return set(re.findall(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)", text))


def option_names(*sections):
    return {name.replace("_", "-") for s in sections for name in s.model_fields}


@pytest.mark.parametrize("command", ["serve", "once", "lint"])
def test_help_leaks_no_pydantic_internals(capsys, monkeypatch, command):
    text = help_text(capsys, monkeypatch, command)
    assert not [leak for leak in LEAKS if leak in text]


def test_serve_help_reads_well(capsys, monkeypatch):
    text = help_text(capsys, monkeypatch, "serve")
    for usage in (
        "--config PATH",
        "--bootstrap-servers HOST:PORT,...",
        "--poll-interval-seconds SECONDS",
        "--kube-kubeconfig PATH",
        "--jvm-endpoints ID=URL,...",
        "--kube-broker-selectors SELECTOR;...",
        "--listen-port PORT",
        "--granularity {group,topic,partition}",
        "--kube-keda, --no-kube-keda",
    ):
        assert usage in text
    assert "BROKER_LAG_CONFIG" in text
    assert "default: 15" in text  # poll interval
    assert (
        "default: strimzi.io/component-type=kafka,strimzi.io/broker-role!=false;app.kubernetes.io/name=kafka"
        in text
    )


def test_every_serve_option_has_help_and_its_environment_name(capsys, monkeypatch):
    text = help_text(capsys, monkeypatch, "serve")
    assert flags(text) >= option_names(Settings) | {"config", "help"}
    for name in Settings.model_fields:
        # The help line of each flag names its variable (argparse may wrap, never inside a word).
        assert f"BROKER_LAG_{name.upper()}" in text, name
    assert "`" not in text  # Markdown of the docs stays in the docs


def test_once_has_no_http_server_options(capsys, monkeypatch):
    text = help_text(capsys, monkeypatch, "once")
    assert "bootstrap-servers" in flags(text)
    assert not flags(text) & option_names(WebOptions)


def test_lint_shows_only_the_options_manifests_use(capsys, monkeypatch):
    text = help_text(capsys, monkeypatch, "lint")
    # Of the Kubernetes options, only which pods are brokers applies to manifests.
    kube = {"kube-broker-selectors", "kube-broker-container"}
    assert flags(text) == option_names(RiskOptions) | kube | {"config", "format", "allow-empty", "help"}
    assert not flags(text) & (option_names(KubeOptions) - kube)
    assert "FILE" in text
    assert "3 when" in text  # the exit statuses are documented where the user looks


def test_space_separated_values_before_the_files(tmp_path, capsys):
    manifest = tmp_path / "keda.yaml"
    manifest.write_text(
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: orders, namespace: apps}\n"
        "spec:\n  scaleTargetRef: {name: orders}\n  triggers:\n"
        "    - type: kafka\n      metadata: {consumerGroup: orders, topic: orders, lagThreshold: '10',"
        " activationLagThreshold: '10'}\n"
    )
    assert main(["lint", "--risk-keda-lag-threshold-floor", "5", str(manifest)]) == 0
    assert main(["lint", "--risk-keda-lag-threshold-floor=50", str(manifest)]) == 1
    capsys.readouterr()


def test_flag_errors_name_the_flag(capsys):
    with pytest.raises(SystemExit) as done:
        main(["once", "--poll-interval-seconds"])
    assert done.value.code == 2
    assert "--poll-interval-seconds" in capsys.readouterr().err


def test_invalid_values_are_config_errors_naming_flag_and_variable(capsys):
    assert main(["once", "--bootstrap-servers", "no-port"]) == 2
    err = capsys.readouterr().err
    assert "bootstrap_servers (--bootstrap-servers, BROKER_LAG_BOOTSTRAP_SERVERS): " in err
    assert "expected HOST:PORT" in err
