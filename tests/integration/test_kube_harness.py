"""The kube harness: real kube-apiserver + etcd, objects set up as a kubelet would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.rest import ApiException

from harness.kube import KEDA_SCALEDOBJECT_CRD, KubeApiError, KubeApiServer

pytestmark = pytest.mark.kube


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    with KubeApiServer.start(tmp_path_factory.mktemp("kube")) as server:
        yield server


async def _api_client(kubeconfig: Path) -> client.ApiClient:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(configuration=cfg)


async def test_pod_status_set_like_a_kubelet(kube: KubeApiServer, tmp_path: Path) -> None:
    kube.create_node("node-a", zone="a")
    kube.create_namespace("kafka")
    kube.create_pod("kafka", "kafka-0", node_name="node-a", labels={"app": "kafka"})
    kube.patch_pod_status(
        "kafka",
        "kafka-0",
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "kafka",
                    "image": "apache/kafka:4.0.0",
                    "imageID": "",
                    "ready": True,
                    "restartCount": 3,
                    "started": True,
                    "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 137,
                            "reason": "OOMKilled",
                            "startedAt": "2024-12-31T23:00:00Z",
                            "finishedAt": "2024-12-31T23:59:00Z",
                        }
                    },
                }
            ],
        },
    )

    async with await _api_client(kube.kubeconfig(tmp_path / "admin.kubeconfig")) as api:
        core = client.CoreV1Api(api)
        pod = await core.read_namespaced_pod("kafka-0", "kafka")
        node = await core.read_node(pod.spec.node_name)

    assert node.metadata.labels["topology.kubernetes.io/zone"] == "a"
    assert pod.status.phase == "Running"
    (status,) = pod.status.container_statuses
    assert status.restart_count == 3
    assert status.last_state.terminated.reason == "OOMKilled"
    assert status.last_state.terminated.exit_code == 137


async def test_rbac_forbidden_and_granted(kube: KubeApiServer, tmp_path: Path) -> None:
    kube.create_namespace("kafka")
    kube.create_node("node-b", zone="b")
    kube.create_pod("kafka", "kafka-1", node_name="node-b")

    nobody = kube.kubeconfig(tmp_path / "nobody.kubeconfig", token=kube.forbidden_token)
    async with await _api_client(nobody) as api:
        with pytest.raises(ApiException) as excinfo:
            await client.CoreV1Api(api).list_namespaced_pod("kafka")
    assert excinfo.value.status == 403

    exporter = kube.kubeconfig(tmp_path / "exporter.kubeconfig", user="exporter")
    with pytest.raises(KubeApiError) as denied:
        kube.request("GET", "/api/v1/nodes", token=kube.token_for("exporter"))
    assert denied.value.status == 403
    kube.grant(
        "exporter",
        [{"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}],
    )
    async with await _api_client(exporter) as api:
        pods = await client.CoreV1Api(api).list_namespaced_pod("kafka")
        nodes = await client.CoreV1Api(api).list_node()
    assert "kafka-1" in {p.metadata.name for p in pods.items}
    assert "node-b" in {n.metadata.name for n in nodes.items}


async def test_crd_and_custom_object(kube: KubeApiServer, tmp_path: Path) -> None:
    kube.create_namespace("kafka")
    kube.create_crd(KEDA_SCALEDOBJECT_CRD)
    body = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "consumer", "namespace": "kafka"},
        "spec": {
            "scaleTargetRef": {"name": "consumer"},
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {"topic": "orders", "consumerGroup": "orders-svc"},
                }
            ],
        },
    }
    async with await _api_client(kube.kubeconfig(tmp_path / "admin.kubeconfig")) as api:
        custom = client.CustomObjectsApi(api)
        await custom.create_namespaced_custom_object("keda.sh", "v1alpha1", "kafka", "scaledobjects", body)
        got = await custom.get_namespaced_custom_object(
            "keda.sh", "v1alpha1", "kafka", "scaledobjects", "consumer"
        )
    assert got["spec"]["triggers"][0]["metadata"]["consumerGroup"] == "orders-svc"
    # The harness helper reaches the same object without a client library.
    listed = kube.request("GET", "/apis/keda.sh/v1alpha1/namespaces/kafka/scaledobjects")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["consumer"]
