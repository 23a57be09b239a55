"""deploy/helm: the chart lints, renders valid objects for several values files, passes a real
kube-apiserver, and installs the same workload as the kustomize base."""

import copy
import json
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from broker_lag_exporter.config.settings import load_settings
from bundle.alerts import load_groups
from bundle.render import CHART_DIR, DASHBOARD_DIR, DEPLOY_DIR, RBAC, ROOT
from harness.certs import CertificateAuthority
from harness.kube import KubeApiServer
from tests.integration.test_deploy import (
    CRD_FILES,
    KUBERNETES_VERSION,
    _crd,
    _path,
    _render,
    _strict,
    _tools,
    _workload,
)

Doc = dict[str, Any]
RELEASE, NAMESPACE = "broker-lag-exporter", "monitoring"
TLS_MOUNT = "/etc/broker-lag-exporter/kafka-tls"
VALUES = {
    "default": None,
    **{p.name.removesuffix("-values.yaml"): p for p in (CHART_DIR / "ci").glob("*.yaml")},
}
CUSTOM_KINDS = set(CRD_FILES)


@cache
def _helm() -> str:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup-helm.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def _values_args(name: str) -> list[str]:
    path = VALUES[name]
    return [] if path is None else ["--values", str(path)]


@cache
def _template(name: str) -> tuple[Doc, ...]:
    proc = subprocess.run(
        [_helm(), "template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, *_values_args(name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return tuple(doc for doc in yaml.safe_load_all(proc.stdout) if doc)


def _one(docs: tuple[Doc, ...], kind: str) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind and "dashboard" not in d["metadata"]["name"]]
    return doc


@pytest.fixture(params=sorted(VALUES))
def values(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_chart_lints_strictly_with_every_values_file(values: str) -> None:
    proc = subprocess.run(
        [_helm(), "lint", "--strict", str(CHART_DIR), *_values_args(values)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rendered_core_kinds_are_valid_kubernetes_strictly(values: str) -> None:
    docs = _template(values)
    assert docs
    for doc in docs:
        if doc["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        assert doc["metadata"].get("namespace", NAMESPACE) == NAMESPACE


def test_rendered_custom_resources_match_their_crd_schemas(values: str) -> None:
    for doc in _template(values):
        if doc["kind"] in CUSTOM_KINDS:
            crd = _crd(doc["kind"])
            (version,) = [v for v in crd["spec"]["versions"] if v["name"] == doc["apiVersion"].split("/")[1]]
            schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            assert [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)] == []


def test_toggles_switch_whole_objects_off() -> None:
    kinds = {d["kind"] for d in _template("minimal")}
    assert kinds == {"ConfigMap", "Deployment", "Service"}
    pod = _one(_template("minimal"), "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "monitoring-reader"
    assert {d["kind"] for d in _template("default")} == {
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service",
        "ServiceMonitor", "PrometheusRule",
    }  # fmt: skip


def test_secrets_come_from_existing_secrets_never_from_values() -> None:
    docs = _template("secured")
    container = _one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["BROKER_LAG_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "broker-lag-exporter-kafka-user",
        "key": "password",
    }
    assert env["BROKER_LAG_LOG_LEVEL"] == {"name": "BROKER_LAG_LOG_LEVEL", "value": "debug"}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["kafka-tls"]["readOnly"] is True
    config = _config(docs)
    assert config["BROKER_LAG_SSL_CAFILE"] == mounts["kafka-tls"]["mountPath"] + "/ca.crt"
    assert not any(kind == "Secret" for kind in (d["kind"] for d in docs))


def test_values_users_of_other_charts_expect_reach_the_objects() -> None:
    docs = _template("secured")
    pod = _one(docs, "Deployment")["spec"]["template"]
    assert (
        pod["spec"]["containers"][0]["image"]
        == "registry.example.internal/observability/broker-lag-exporter:0.1.0"
    )
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["spec"]["tolerations"][0]["key"] == "dedicated"
    assert "nodeAffinity" in pod["spec"]["affinity"]
    assert pod["metadata"]["labels"]["team"] == "platform"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert _one(docs, "ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:"
    )
    monitor = _one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"][0]["interval"] == "15s"
    assert monitor["spec"]["endpoints"][0]["relabelings"][0]["replacement"] == "prod-eu-1"
    sidecar = [d for d in docs if d["kind"] == "ConfigMap" and "dashboard" in d["metadata"]["name"]]
    assert {d["metadata"]["labels"]["grafana_dashboard"] for d in sidecar} == {"kafka"}


def test_admission_policies_are_the_generated_ones_with_the_chosen_actions() -> None:
    assert not [d for d in _template("default") if d["kind"].startswith("ValidatingAdmissionPolicy")]
    chart = [d for d in _template("policies") if d["kind"].startswith("ValidatingAdmissionPolicy")]
    shipped = [
        doc
        for path in sorted((DEPLOY_DIR / "policies").glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    for doc in shipped:
        if doc["kind"] == "ValidatingAdmissionPolicyBinding":
            assert doc["spec"]["validationActions"] == ["Warn", "Audit"]
            doc["spec"]["validationActions"] = ["Deny", "Audit"]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(chart, key=key) == sorted(shipped, key=key)
    assert len(chart) == 16


def _config(docs: tuple[Doc, ...]) -> dict[str, str]:
    data: dict[str, str] = _one(docs, "ConfigMap")["data"]
    return data


@pytest.mark.parametrize("name", ["default", "secured", "minimal"])
def test_settings_load_as_the_exporter_would_read_them(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The exporter checks TLS files at start: the Secret's mount holds a real CA here.
    mount = tmp_path / "kafka-tls"
    ca = CertificateAuthority(mount)
    ca.cert.rename(mount / "ca.crt")
    for key, value in _config(_template(name)).items():
        monkeypatch.setenv(key, value.replace(TLS_MOUNT, str(mount)))
    monkeypatch.setenv("BROKER_LAG_SASL_USERNAME", "from-secret")
    monkeypatch.setenv("BROKER_LAG_SASL_PASSWORD", "from-secret")
    assert load_settings().bootstrap_servers


def test_the_default_chart_and_the_kustomize_base_run_the_same_workload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chart, base = _template("default"), _render("base")
    # Copies: the rendered documents are cached for the other tests.
    pods = [copy.deepcopy(_one(docs, "Deployment")["spec"]["template"]["spec"]) for docs in (chart, base)]
    for pod in pods:
        for container in pod["containers"]:
            container.pop("image")
            container["envFrom"][0]["configMapRef"].pop("name")
    assert pods[0] == pods[1]
    settings: list[dict[str, object]] = []
    for docs in (chart, base):
        (config,) = [
            d for d in docs if d["kind"] == "ConfigMap" and "BROKER_LAG_BOOTSTRAP_SERVERS" in d["data"]
        ]
        with monkeypatch.context() as env:
            for key, value in config["data"].items():
                env.setenv(key, value)
            settings.append(load_settings().model_dump())
    assert settings[0] == settings[1]
    rules = [_one(docs, "ClusterRole")["rules"] for docs in (chart, base)]
    assert (
        rules[0]
        == rules[1]
        == next(d for d in yaml.safe_load_all(RBAC.read_text()) if d["kind"] == "ClusterRole")["rules"]
    )


def _settings_of(docs: tuple[Doc, ...], monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and "BROKER_LAG_BOOTSTRAP_SERVERS" in d["data"]]
    with monkeypatch.context() as patched:
        for key, value in (config["data"] | env).items():
            patched.setenv(key, value)
        return load_settings().model_dump()


def test_the_sharded_chart_and_the_sharded_overlay_run_the_same_workload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chart, overlay = _template("sharded"), _render("sharded")
    assert "Deployment" not in {d["kind"] for d in chart}
    sets = [copy.deepcopy(_workload(docs)) for docs in (chart, overlay)]
    assert [s["kind"] for s in sets] == ["StatefulSet", "StatefulSet"]
    fields = ("replicas", "revisionHistoryLimit", "podManagementPolicy", "serviceName")
    specs = [{f: s["spec"][f] for f in fields} for s in sets]
    assert specs[0] == specs[1]
    assert sets[0]["spec"]["serviceName"] == _one(chart, "Service")["metadata"]["name"]
    pods = [s["spec"]["template"]["spec"] for s in sets]
    for pod in pods:
        for container in pod["containers"]:
            container.pop("image")
            container["envFrom"][0]["configMapRef"].pop("name")
    assert pods[0] == pods[1]
    # Each pod takes the shard of its ordinal, with the same options as the overlay's.
    for ordinal in range(3):
        pod_name = {"POD_NAME": f"broker-lag-exporter-{ordinal}"}
        settings = [_settings_of(docs, monkeypatch, **pod_name) for docs in (chart, overlay)]
        assert settings[0] == settings[1]
        assert (settings[0]["shard_index"], settings[0]["shard_count"]) == (ordinal, 3)
    # The same rules as one exporter's: they add the shards up (job:broker_lag_exporter_shards:complete).
    assert _one(chart, "PrometheusRule")["spec"]["groups"] == load_groups()
    monitor = _one(chart, "ServiceMonitor")["spec"]["selector"]["matchLabels"]
    assert monitor.items() <= sets[0]["spec"]["template"]["metadata"]["labels"].items()


def test_shard_options_come_from_shards_only() -> None:
    for bad, error in (
        (["--set", "shards=0"], "shards must be 1"),
        (["--set", "config.SHARD_COUNT=3"], "set shards, not config.SHARD_INDEX or config.SHARD_COUNT"),
    ):
        proc = subprocess.run(
            [_helm(), "template", RELEASE, str(CHART_DIR), *bad], capture_output=True, text=True, check=False
        )
        assert proc.returncode != 0
        assert error in proc.stderr


def test_rules_and_dashboards_are_the_shipped_ones() -> None:
    docs = _template("default")
    assert _one(docs, "PrometheusRule")["spec"]["groups"] == load_groups()
    shipped = {p.name: json.loads(p.read_text()) for p in DASHBOARD_DIR.glob("*.json")}
    found = {}
    for doc in docs:
        if doc["kind"] == "ConfigMap" and "dashboard" in doc["metadata"]["name"]:
            ((name, text),) = doc["data"].items()
            found[name] = json.loads(text)
    assert found == shipped


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    _, crds = _tools()
    with KubeApiServer.start(tmp_path_factory.mktemp("kube-helm")) as server:
        for name in CRD_FILES.values():
            server.create_crd(yaml.safe_load((crds / name).read_text()))
        namespace = {"name": NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}
        server.request(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": namespace}
        )
        yield server


@pytest.mark.kube
@pytest.mark.parametrize("name", sorted(VALUES))
def test_server_side_dry_run_apply_accepts_everything(kube: KubeApiServer, name: str) -> None:
    for doc in _template(name):
        applied = kube.request(
            "PATCH",
            _path(doc) + "?dryRun=All&fieldManager=ble-tests&fieldValidation=Strict&force=true",
            doc,
            content_type="application/apply-patch+yaml",
        )
        assert (applied["kind"], applied["metadata"]["name"]) == (doc["kind"], doc["metadata"]["name"])


@pytest.mark.kube
@pytest.mark.parametrize("name", sorted(VALUES))
def test_restricted_namespace_admits_the_exporter_pod(kube: KubeApiServer, name: str) -> None:
    template = _workload(_template(name))["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"ble-helm-{name}", **template["metadata"]},
    }
    pod["spec"] = template["spec"]
    created = kube.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods?dryRun=All", pod)
    assert created["metadata"]["name"] == f"ble-helm-{name}"
