"""deploy/: the kustomize base and its overlays render, validate and pass a real kube-apiserver.

kustomize (built from the Go module proxy) renders; kubernetes-validate checks core kinds strictly;
the ServiceMonitor and PrometheusRule are checked against the prometheus-operator CRDs' schemas;
a real kube-apiserver then server-side dry-run applies everything with strict field validation,
and admits the exporter's pod in a namespace enforcing Pod Security "restricted".
"""

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

from broker_lag_exporter.config.settings import ConfigError, load_settings
from bundle.alerts import load_groups
from bundle.render import BASE_DIR, DASHBOARD_DIR, DEPLOY_DIR, ROOT
from harness.kube import KubeApiServer

Doc = dict[str, Any]
OVERLAYS = {
    "base": BASE_DIR,
    "strimzi": DEPLOY_DIR / "overlays" / "strimzi",
    "sharded": DEPLOY_DIR / "overlays" / "sharded",
}
KUBERNETES_VERSION = "1.34.0"
WORKLOADS = {"Deployment", "StatefulSet"}
CORE_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Service", *WORKLOADS}
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}
CRD_FILES = {
    "ServiceMonitor": "monitoring.coreos.com_servicemonitors.yaml",
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.yaml",
}


@cache
def _tools() -> tuple[str, Path]:
    """Return the kustomize binary and the CRD directory (setup-kustomize.sh is idempotent)."""
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup-kustomize.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    kustomize, crds = proc.stdout.strip().splitlines()[-2:]
    return kustomize, Path(crds)


@cache
def _render(name: str) -> tuple[Doc, ...]:
    kustomize, _ = _tools()
    proc = subprocess.run(
        [kustomize, "build", str(OVERLAYS[name])], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return tuple(doc for doc in yaml.safe_load_all(proc.stdout) if doc)


def _one(docs: tuple[Doc, ...], kind: str, name: str = "broker-lag-exporter") -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    return doc


def _workload(docs: tuple[Doc, ...]) -> Doc:
    """Return the one Deployment or StatefulSet that runs the exporter."""
    (doc,) = [d for d in docs if d["kind"] in WORKLOADS]
    return doc


def _config(docs: tuple[Doc, ...]) -> Doc:
    deployment = _workload(docs)
    (source,) = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    return _one(docs, "ConfigMap", source["configMapRef"]["name"])


@pytest.fixture(params=sorted(OVERLAYS))
def docs(request: pytest.FixtureRequest) -> tuple[Doc, ...]:
    return _render(request.param)


def test_renders_every_kind(docs: tuple[Doc, ...]) -> None:
    kinds = [d["kind"] for d in docs]
    assert len(set(kinds) & WORKLOADS) == 1
    assert set(kinds) | WORKLOADS == CORE_KINDS | CUSTOM_KINDS
    assert kinds.count("ConfigMap") == 5, "the exporter's settings and four dashboards"
    namespaced = [d for d in docs if d["kind"] not in {"ClusterRole", "ClusterRoleBinding"}]
    assert {d["metadata"]["namespace"] for d in namespaced} == {"monitoring"}


def test_core_kinds_are_valid_kubernetes_strictly(docs: tuple[Doc, ...]) -> None:
    for doc in docs:
        if doc["kind"] in CORE_KINDS:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _strict(schema: Any) -> Any:
    """Turn a CRD schema into JSON Schema rejecting unknown fields (the API server would prune them)."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
        out["properties"].setdefault("apiVersion", {"type": "string"})
        out["properties"].setdefault("kind", {"type": "string"})
        out["properties"].setdefault("metadata", {"type": "object"})
    return out


@cache
def _crd(kind: str) -> Doc:
    _, crds = _tools()
    crd: Doc = yaml.safe_load((crds / CRD_FILES[kind]).read_text())
    return crd


def test_custom_resources_match_their_crd_schemas(docs: tuple[Doc, ...]) -> None:
    for doc in docs:
        if doc["kind"] not in CUSTOM_KINDS:
            continue
        crd = _crd(doc["kind"])
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == doc["apiVersion"].split("/")[1]]
        assert version["served"]
        schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
        errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
        assert errors == [], doc["kind"]


def test_the_crd_check_rejects_a_misspelt_field() -> None:
    monitor = copy.deepcopy(_one(_render("base"), "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["scrapeTimout"] = "10s"
    schema = _strict(
        copy.deepcopy(_crd("ServiceMonitor")["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    )
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(monitor)]
    assert len(errors) == 1
    assert "scrapeTimout" in errors[0]


def test_pod_security_restricted_fields(docs: tuple[Doc, ...]) -> None:
    pod = _workload(docs)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert set(container["resources"]["requests"]) == {"cpu", "memory"}
        assert set(container["resources"]["limits"]) == {"cpu", "memory"}


def test_probes_ports_and_selectors_line_up(docs: tuple[Doc, ...]) -> None:
    deployment, service = _workload(docs), _one(docs, "Service")
    monitor, account = _one(docs, "ServiceMonitor"), _one(docs, "ServiceAccount")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["serve"]
    (port,) = container["ports"]
    assert port["containerPort"] == 9340
    probes = {
        name: container[name]["httpGet"] for name in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert {p["port"] for p in probes.values()} == {port["name"]}
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [service_port["name"]]
    assert pod["spec"]["serviceAccountName"] == account["metadata"]["name"]
    binding = _one(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "monitoring"}
    ]


def test_rbac_is_read_only(docs: tuple[Doc, ...]) -> None:
    role = _one(docs, "ClusterRole")
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs <= {"get", "list", "watch"}
    resources = {resource for rule in role["rules"] for resource in rule["resources"]}
    assert "secrets" not in resources
    assert "*" not in resources


def test_settings_load_as_the_exporter_would_read_them(
    docs: tuple[Doc, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _config(docs)["data"]
    assert "BROKER_LAG_BOOTSTRAP_SERVERS" in data
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    # What the downward API gives a StatefulSet's pod; a Deployment's pods do not need it.
    monkeypatch.setenv("POD_NAME", "broker-lag-exporter-0")
    try:
        settings = load_settings()
    except ConfigError as exc:  # pragma: no cover - the message is the assertion
        pytest.fail(str(exc))
    assert settings.bootstrap_servers


def test_strimzi_overlay_finds_strimzi_brokers_and_their_jmx_agents() -> None:
    data = _config(_render("strimzi"))["data"]
    assert data["BROKER_LAG_BOOTSTRAP_SERVERS"].endswith("-kafka-bootstrap.kafka.svc:9092")
    assert data["BROKER_LAG_KUBE_BROKER_ID"] == "strimzi"
    assert "strimzi.io/component-type=kafka" in data["BROKER_LAG_KUBE_BROKER_SELECTORS"]
    assert data["BROKER_LAG_JVM_URL_TEMPLATE"] == "http://{pod_ip}:9404/metrics"


def test_sharded_overlay_runs_one_shard_per_pod_ordinal(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _render("sharded")
    workload = copy.deepcopy(_workload(docs))  # edited below; _render's result is shared
    assert workload["kind"] == "StatefulSet"
    replicas = workload["spec"]["replicas"]
    assert replicas > 1
    assert workload["spec"]["serviceName"] == _one(docs, "Service")["metadata"]["name"]
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in container["env"]
    for key, value in _config(docs)["data"].items():
        monkeypatch.setenv(key, value)
    for ordinal in range(replicas):
        monkeypatch.setenv("POD_NAME", f"{workload['metadata']['name']}-{ordinal}")
        export = load_settings().export
        assert (export.shard_index, export.shard_count) == (ordinal, replicas)
    # The pod is the base's pod plus its name: the two files must not drift apart. (The
    # ConfigMap's name differs by its content hash.)
    base = copy.deepcopy(_workload(_render("base"))["spec"]["template"])
    del container["env"]
    for template in (base, workload["spec"]["template"]):
        template["spec"]["containers"][0]["envFrom"] = []
    assert workload["spec"]["template"] == base


def test_dashboards_configmaps_carry_the_shipped_dashboards_for_the_sidecar(docs: tuple[Doc, ...]) -> None:
    shipped = {p.name: json.loads(p.read_text()) for p in DASHBOARD_DIR.glob("*.json")}
    found = {}
    for doc in docs:
        if doc["kind"] == "ConfigMap" and "grafana_dashboard" in doc["metadata"].get("labels", {}):
            assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"
            assert doc["metadata"]["annotations"]["grafana_folder"] == "Kafka"
            ((name, text),) = doc["data"].items()
            assert len(json.dumps(doc)) < 256 * 1024, "fits kubectl's last-applied annotation"
            found[name] = json.loads(text)
    assert found == shipped


def test_prometheusrule_holds_the_alerts_and_promtool_accepts_it(
    docs: tuple[Doc, ...], tmp_path: Path
) -> None:
    rule = _one(docs, "PrometheusRule")
    assert rule["spec"]["groups"] == load_groups()
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    proc = subprocess.run(
        ["promtool", "check", "rules", str(rules_file)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---- a real kube-apiserver


def _path(doc: Doc) -> str:
    group_version = doc["apiVersion"]
    prefix = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    namespace = doc["metadata"].get("namespace")
    scope = f"/namespaces/{namespace}" if namespace else ""
    kind = doc["kind"].lower()
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return f"{prefix}{scope}/{plural}/{doc['metadata']['name']}"


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    _, crds = _tools()
    with KubeApiServer.start(tmp_path_factory.mktemp("kube-deploy")) as server:
        for name in CRD_FILES.values():
            server.create_crd(yaml.safe_load((crds / name).read_text()))
        server.request(
            "POST",
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": "monitoring",
                    "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
                },
            },
        )
        yield server


@pytest.mark.kube
@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_server_side_dry_run_apply_accepts_everything(kube: KubeApiServer, overlay: str) -> None:
    for doc in _render(overlay):
        applied = kube.request(
            "PATCH",
            _path(doc) + "?dryRun=All&fieldManager=ble-tests&fieldValidation=Strict&force=true",
            doc,
            content_type="application/apply-patch+yaml",
        )
        assert applied["kind"] == doc["kind"]
        assert applied["metadata"]["name"] == doc["metadata"]["name"]


@pytest.mark.kube
def test_restricted_namespace_admits_the_exporter_pod(kube: KubeApiServer) -> None:
    template = _one(_render("base"), "Deployment")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ble-psa", **template["metadata"]}}
    pod["spec"] = template["spec"]
    created = kube.request("POST", "/api/v1/namespaces/monitoring/pods?dryRun=All", pod)
    assert created["metadata"]["name"] == "ble-psa"


@pytest.mark.kube
def test_restricted_namespace_would_reject_a_root_pod(kube: KubeApiServer) -> None:
    template = copy.deepcopy(_one(_render("base"), "Deployment")["spec"]["template"])
    del template["spec"]["securityContext"]["runAsNonRoot"]
    for container in template["spec"]["containers"]:
        container["securityContext"]["runAsNonRoot"] = False
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ble-root"}, "spec": template["spec"]}
    with pytest.raises(Exception, match="violates PodSecurity"):
        kube.request("POST", "/api/v1/namespaces/monitoring/pods?dryRun=All", pod)
