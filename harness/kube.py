"""A real kube-apiserver backed by a real etcd, on loopback, for integration tests.

The binaries are built from Go modules by ``scripts/setup-kube.sh`` (wrapper
modules in ``harness/kube-build``) and cached outside the clone; :meth:`start`
runs the script, which returns at once when they are already built.

Usage::

    with KubeApiServer.start(tmp_path) as kube:
        cfg = kube.kubeconfig(tmp_path / "kubeconfig")          # admin
        kube.create_namespace("kafka")
        kube.create_node("node-a", zone="a")
        kube.create_pod("kafka", "kafka-0", node_name="node-a")
        kube.patch_pod_status("kafka", "kafka-0", {...})         # as a kubelet would
        kube.kill_apiserver(); kube.restart_apiserver()         # same port, same etcd data

Cluster shape: only kube-apiserver and etcd run. There is no scheduler, no
controller-manager and no kubelet, so nothing acts on objects: a pod stays as
created until a test writes its status. Authentication is a static token file
(:data:`DEFAULT_USERS`, extendable with ``users=`` at start); authorization is
RBAC only, so ``admin`` (group ``system:masters``) can do anything, ``nobody``
can do nothing beyond discovery (403 on resources), and ``exporter`` has exactly
the RBAC a test grants it (see :meth:`grant`).

Pods and their status, as a kubelet would
-----------------------------------------
* Create the namespace first (the NamespaceLifecycle admission plugin rejects
  objects in a missing namespace).
* ``POST /api/v1/namespaces/{ns}/pods`` with a spec (:meth:`create_pod`). The
  ServiceAccount admission plugin is disabled (there is no token controller to
  create ``default`` service accounts), so pods need no service account.
  ``spec.nodeName`` may be set directly: no scheduler is needed for a pod to be
  "on" a node.
* The status is only writable through the ``status`` subresource:
  ``PATCH /api/v1/namespaces/{ns}/pods/{name}/status`` with
  ``Content-Type: application/merge-patch+json`` (or ``application/strategic-merge-patch+json``),
  body ``{"status": {...}}`` (:meth:`patch_pod_status`). A ``status`` sent with the
  create is replaced (``phase: Pending``) and one sent with a plain update of the
  pod is ignored. Validation is lax (checked on 1.34.4): ``containerStatuses[].name``
  is not checked against the spec, but match it anyway since clients join on it;
  ``image``/``imageID``/``ready``/``restartCount`` default to ""/""/false/0 and
  ``lastState.terminated.exitCode`` to 0 (use 137 with ``reason: OOMKilled``).
  A merge patch replaces a list such as ``containerStatuses`` whole; a
  ``application/strategic-merge-patch+json`` patch merges it by container name.
* Nodes are cluster-scoped: ``POST /api/v1/nodes`` with
  ``metadata.labels["topology.kubernetes.io/zone"]`` (:meth:`create_node`). No
  kubelet heartbeats them, and nothing evicts pods from them.
* Custom resources: create the CRD (``apiextensions.k8s.io/v1``), wait until its
  ``Established`` condition is true (:meth:`create_crd` does), then use
  ``/apis/{group}/{version}/namespaces/{ns}/{plural}``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from harness.process import Service, free_port, popen, tail, terminate

REPO_ROOT = Path(__file__).resolve().parent.parent
SETUP_SCRIPT = REPO_ROOT / "scripts" / "setup-kube.sh"

#: Users in the static token file: name -> groups. Every authenticated user is
#: also in ``system:authenticated`` (discovery only).
DEFAULT_USERS: Mapping[str, Sequence[str]] = {
    "admin": ("system:masters",),
    "nobody": (),
    "exporter": (),
}


_OPEN_OBJECT: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

#: KEDA's ScaledObject CRD with an open schema: enough for the exporter to read ScaledObjects.
KEDA_SCALEDOBJECT_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "scaledobjects.keda.sh"},
    "spec": {
        "group": "keda.sh",
        "scope": "Namespaced",
        "names": {
            "kind": "ScaledObject",
            "listKind": "ScaledObjectList",
            "plural": "scaledobjects",
            "singular": "scaledobject",
            "shortNames": ["so"],
        },
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": _OPEN_OBJECT, "status": _OPEN_OBJECT},
                    }
                },
            }
        ],
    },
}


def container_status(
    restarts: int, *, ready: bool = True, last_reason: str | None = None, name: str = "kafka"
) -> dict[str, Any]:
    """Return a running container's status as a kubelet reports it (for patch_pod_status)."""
    status: dict[str, Any] = {
        "name": name,
        "image": "apache/kafka:4.1.1",
        "imageID": "",
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}},
    }
    if last_reason:
        status["lastState"] = {
            "terminated": {"exitCode": 137, "reason": last_reason, "finishedAt": "2025-01-01T00:00:00Z"}
        }
    return status


def running_pod_status(ip: str, *containers: dict[str, Any]) -> dict[str, Any]:
    """Return a Running pod's status, Ready when every container is."""
    ready = all(c["ready"] for c in containers)
    return {
        "phase": "Running",
        "podIP": ip,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": list(containers),
    }


class KubeHarnessError(RuntimeError):
    """etcd or kube-apiserver failed to build, start or stop."""


class KubeApiError(RuntimeError):
    """A request made through :meth:`KubeApiServer.request` got an HTTP error."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:2000]}")
        self.status = status
        self.body = body


def _run_openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise KubeHarnessError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")


def _make_pki(pki: Path) -> None:
    """CA, serving cert for 127.0.0.1/localhost, service-account key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    _run_openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=ble-test-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=pki,
    )  # fmt: skip
    ext = pki / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
    )
    _run_openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=kube-apiserver",
        cwd=pki,
    )  # fmt: skip
    _run_openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-out", "server.crt", "-extfile", "server.ext",
        cwd=pki,
    )  # fmt: skip
    _run_openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _run_openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def bin_dir() -> Path:
    """Build (first time only, ~10 min on 2 cores) and return the bin dir."""
    proc = subprocess.run(
        ["bash", str(SETUP_SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=None,  # build progress goes to the test's stderr
        text=True,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise KubeHarnessError(f"{SETUP_SCRIPT} failed with exit code {proc.returncode}")
    return Path(lines[-1])


class KubeApiServer(Service):
    """etcd + kube-apiserver processes; see the module docstring."""

    def __init__(self, workdir: Path, bin_dir: Path, users: Mapping[str, Sequence[str]]) -> None:
        self.workdir = workdir
        self.bin_dir = bin_dir
        self.users: dict[str, tuple[str, ...]] = {u: tuple(g) for u, g in users.items()}
        self._tokens = {user: secrets.token_hex(16) for user in self.users}
        self.pki_dir = workdir / "pki"
        self.ca_file = self.pki_dir / "ca.crt"
        self.etcd_log = workdir / "etcd.log"
        self.apiserver_log = workdir / "kube-apiserver.log"
        self.etcd_port = 0
        self.port = 0
        self.etcd: subprocess.Popen[bytes] | None = None
        self.apiserver: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self._ssl: ssl.SSLContext | None = None

    # ------------------------------------------------------------------ life cycle

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        users: Mapping[str, Sequence[str]] | None = None,
        timeout: float = 120.0,
    ) -> Self:
        """Start etcd and kube-apiserver on free loopback ports; wait for ``/readyz``.

        ``users`` adds static-token users (name -> groups) to :data:`DEFAULT_USERS`.
        Raises :class:`KubeHarnessError` with the log tail when either fails.
        """
        all_users = dict(DEFAULT_USERS)
        all_users.update(users or {})
        workdir = Path(workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        server = cls(workdir, bin_dir(), all_users)
        server._track()
        try:
            server._start(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def _popen(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return popen(args, stdout=out, cwd=self.workdir, death_signal=signal.SIGTERM)

    def _start(self, timeout: float) -> None:
        t0 = time.monotonic()
        deadline = t0 + timeout
        _make_pki(self.pki_dir)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(
            "".join(
                f'{self._tokens[u]},{u},uid-{u},"{",".join(groups)}"\n' for u, groups in self.users.items()
            )
        )
        tokens.chmod(0o600)
        self._start_etcd(deadline)
        self._start_apiserver(deadline)
        self.startup_seconds = time.monotonic() - t0

    def _start_etcd(self, deadline: float) -> None:
        for attempt in range(3):  # a picked port can be taken before etcd binds it
            client, peer = free_port(), free_port()
            data = self.workdir / "etcd-data"
            self.etcd = self._popen(
                [
                    str(self.bin_dir / "etcd"),
                    "--name=harness",
                    f"--data-dir={data}",
                    f"--listen-client-urls=http://127.0.0.1:{client}",
                    f"--advertise-client-urls=http://127.0.0.1:{client}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                    f"--initial-cluster=harness=http://127.0.0.1:{peer}",
                    "--initial-cluster-state=new",
                    "--unsafe-no-fsync=true",  # test data: durability not needed
                    "--quota-backend-bytes=1073741824",
                    "--log-level=warn",
                ],
                self.etcd_log,
            )
            while time.monotonic() < deadline:
                if self.etcd.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=2) as resp:
                        if json.load(resp).get("health") == "true":
                            self.etcd_port = client
                            return
                except (OSError, ValueError):
                    pass
                time.sleep(0.1)
            terminate(self.etcd, 15)
            if time.monotonic() >= deadline or attempt == 2:
                break
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(data)
        raise KubeHarnessError(f"etcd did not become healthy; log tail:\n{tail(self.etcd_log)}")

    def _start_apiserver(self, deadline: float) -> None:
        for attempt in range(3):
            self.port = free_port()
            if self._spawn_apiserver(deadline):
                return
            in_use = "address already in use" in tail(self.apiserver_log, 200)
            if not in_use or time.monotonic() >= deadline or attempt == 2:
                break
        raise KubeHarnessError(f"kube-apiserver did not become ready; log tail:\n{tail(self.apiserver_log)}")

    def _spawn_apiserver(self, deadline: float) -> bool:
        """Start kube-apiserver on :attr:`port`; return whether it became ready (stopped if not)."""
        pki = self.pki_dir
        self.apiserver = self._popen(
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--tls-cert-file={pki / 'server.crt'}",
                f"--tls-private-key-file={pki / 'server.key'}",
                f"--token-auth-file={self.workdir / 'tokens.csv'}",
                "--anonymous-auth=false",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/16",
                # No token controller creates "default" service accounts.
                "--disable-admission-plugins=ServiceAccount",
                # Single apiserver, nothing routes to it: skip the
                # kubernetes-service endpoint reconciler's writes.
                "--endpoint-reconciler-type=none",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                "--event-ttl=5m",
                "--v=1",
            ],
            self.apiserver_log,
        )
        while time.monotonic() < deadline:
            if self.apiserver.poll() is not None:
                break
            if self._ready():
                return True
            time.sleep(0.2)
        terminate(self.apiserver, 15)
        return False

    def kill_apiserver(self) -> None:
        """SIGKILL kube-apiserver and reap it (etcd keeps running with the data)."""
        if self.apiserver is not None and self.apiserver.poll() is None:
            self.apiserver.kill()
            self.apiserver.wait()

    def restart_apiserver(self, *, timeout: float = 120.0) -> None:
        """Start kube-apiserver again on the same port and etcd (stopping it first if running)."""
        terminate(self.apiserver, 15)
        if not self._spawn_apiserver(time.monotonic() + timeout):
            raise KubeHarnessError(
                f"kube-apiserver did not come back on port {self.port}; log tail:\n{tail(self.apiserver_log)}"
            )

    def _ready(self) -> bool:
        try:
            status, _ = self._raw("GET", "/readyz", None, token=self.admin_token, timeout=3)
        except OSError:
            return False
        return status == 200

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd; idempotent."""
        terminate(self.apiserver, 15)
        terminate(self.etcd, 15)
        self._untrack()

    # ------------------------------------------------------------------ access

    @property
    def url(self) -> str:
        """``https://127.0.0.1:<port>``; the certificate is signed by :attr:`ca_file`."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def admin_token(self) -> str:
        """Token of ``admin``, in group ``system:masters``."""
        return self._tokens["admin"]

    @property
    def forbidden_token(self) -> str:
        """Token of ``nobody``: authenticated, no RBAC: 403 on any resource."""
        return self._tokens["nobody"]

    def token_for(self, user: str) -> str:
        """Token of a user from the static token file (``admin``, ``nobody``, ``exporter``, ...)."""
        try:
            return self._tokens[user]
        except KeyError:
            raise KeyError(
                f"no token for {user!r}: static tokens are fixed at start; pass users= to start()"
            ) from None

    def kubeconfig(self, path: Path, *, token: str | None = None, user: str = "admin") -> Path:
        """Write a kubeconfig (CA embedded, bearer token) for ``user`` or ``token``."""
        bearer = token if token is not None else self.token_for(user)
        ca = base64.b64encode(self.ca_file.read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "harness",
                    "cluster": {"server": self.url, "certificate-authority-data": ca},
                }
            ],
            "users": [{"name": user, "user": {"token": bearer}}],
            "contexts": [{"name": "harness", "context": {"cluster": "harness", "user": user}}],
            "current-context": "harness",
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        path.chmod(0o600)
        return path

    def ssl_context(self) -> ssl.SSLContext:
        """Client TLS context that trusts the harness CA."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=str(self.ca_file))
        return self._ssl

    def rss_bytes(self) -> dict[str, int]:
        """Resident set size of each running process (Linux /proc)."""
        out: dict[str, int] = {}
        for name, proc in (("etcd", self.etcd), ("kube-apiserver", self.apiserver)):
            if proc is None or proc.poll() is not None:
                continue
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[name] = int(line.split()[1]) * 1024
        return out

    # ------------------------------------------------------------------ sync REST helpers

    def _raw(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        token: str,
        content_type: str = "",
        timeout: float = 30,
    ) -> tuple[int, bytes]:
        # The URL is always https://127.0.0.1:<port>/...: no file: or other schemes.
        req = urllib.request.Request(self.url + path, data=body, method=method)  # noqa: S310
        req.add_header("Authorization", f"Bearer {token}")
        req.add_header("Accept", "application/json")
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(  # noqa: S310
                req, timeout=timeout, context=self.ssl_context()
            ) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read()

    def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """JSON request as ``admin`` (or ``token``); returns the decoded body.

        Raises :class:`KubeApiError` on HTTP status >= 400.
        """
        data = None if body is None else json.dumps(body).encode()
        status, raw = self._raw(
            method,
            path,
            data,
            token=token if token is not None else self.admin_token,
            content_type=content_type,
        )
        if status >= 400:
            raise KubeApiError(status, method, path, raw.decode(errors="replace"))
        return json.loads(raw) if raw else None

    def apply(self, path: str, obj: Mapping[str, Any]) -> Any:
        """Create ``obj`` by POST to the collection ``path``; on 409 return the existing one."""
        try:
            return self.request("POST", path, obj)
        except KubeApiError as err:
            if err.status != 409:
                raise
            return self.request("GET", f"{path}/{obj['metadata']['name']}")

    def create_namespace(self, name: str) -> Any:
        """Create a Namespace (or return the existing one)."""
        return self.apply(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )

    def create_node(
        self, name: str, *, zone: str | None = None, labels: Mapping[str, str] | None = None
    ) -> Any:
        """Create a Node; ``zone`` sets ``topology.kubernetes.io/zone``."""
        all_labels = {"kubernetes.io/hostname": name, **(labels or {})}
        if zone is not None:
            all_labels["topology.kubernetes.io/zone"] = zone
        return self.apply(
            "/api/v1/nodes",
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": all_labels}},
        )

    def create_pod(
        self,
        namespace: str,
        name: str,
        *,
        node_name: str | None = None,
        labels: Mapping[str, str] | None = None,
        containers: Sequence[str] = ("kafka",),
        image: str = "apache/kafka:4.0.0",
    ) -> Any:
        """Create a Pod (the namespace must exist). Nothing runs it: set its status yourself."""
        spec: dict[str, Any] = {
            "containers": [{"name": c, "image": image} for c in containers],
            "automountServiceAccountToken": False,
        }
        if node_name is not None:
            spec["nodeName"] = node_name
        return self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": dict(labels or {})},
                "spec": spec,
            },
        )

    def patch_pod_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> Any:
        """Merge-patch ``status`` through the ``status`` subresource, as a kubelet would."""
        return self.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{name}/status",
            {"status": dict(status)},
            content_type="application/merge-patch+json",
        )

    def create_crd(self, crd: Mapping[str, Any], *, timeout: float = 30.0) -> Any:
        """Create a CustomResourceDefinition and wait until it is Established."""
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        self.apply(path, crd)
        name = crd["metadata"]["name"]
        deadline = time.monotonic() + timeout
        while True:
            obj = self.request("GET", f"{path}/{name}")
            # A fresh CRD may answer "conditions": null before its first condition.
            conditions = (obj.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return obj
            if time.monotonic() > deadline:
                raise KubeHarnessError(f"CRD {name} not Established after {timeout}s: {obj}")
            time.sleep(0.1)

    def grant(
        self,
        user: str,
        rules: Sequence[Mapping[str, Any]],
        *,
        namespace: str | None = None,
        name: str | None = None,
    ) -> None:
        """Bind ``rules`` to ``user``: a (Cluster)Role and its binding (cluster-wide by default)."""
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        role_name = name or f"harness-{user}"
        subject = {"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}
        if namespace is None:
            role_kind, prefix = "ClusterRole", rbac
            roles, bindings = f"{prefix}/clusterroles", f"{prefix}/clusterrolebindings"
        else:
            role_kind, prefix = "Role", f"{rbac}/namespaces/{namespace}"
            roles, bindings = f"{prefix}/roles", f"{prefix}/rolebindings"
        self.apply(
            roles,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": role_kind,
                "metadata": {"name": role_name},
                "rules": [dict(r) for r in rules],
            },
        )
        self.apply(
            bindings,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": f"{role_kind}Binding",
                "metadata": {"name": role_name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": role_kind,
                    "name": role_name,
                },
                "subjects": [subject],
            },
        )
        self._wait_allowed(user, rules[0], namespace)

    def _wait_allowed(
        self, user: str, rule: Mapping[str, Any], namespace: str | None, timeout: float = 10.0
    ) -> None:
        """RBAC reads bindings through a watch: wait until the first rule is in force."""
        attrs: dict[str, str] = {
            "verb": rule["verbs"][0],
            "group": rule.get("apiGroups", [""])[0],
            "resource": rule.get("resources", [""])[0],
        }
        if namespace is not None:
            attrs["namespace"] = namespace
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "resourceAttributes": attrs},
        }
        deadline = time.monotonic() + timeout
        while True:
            result = self.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
            if result.get("status", {}).get("allowed"):
                return
            if time.monotonic() > deadline:
                raise KubeHarnessError(f"RBAC grant for {user} not in force: {result}")
            time.sleep(0.05)


__all__ = [
    "DEFAULT_USERS",
    "KEDA_SCALEDOBJECT_CRD",
    "KubeApiError",
    "KubeApiServer",
    "KubeHarnessError",
    "bin_dir",
    "container_status",
    "running_pod_status",
]
