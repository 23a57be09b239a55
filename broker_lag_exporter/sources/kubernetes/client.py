"""The one place that talks to the Kubernetes API: credentials, deadlines, error translation.

Requests go through kubernetes-asyncio's ApiClient (auth, TLS, token refresh)
but answers are read as raw JSON: its generated models would be thrown away
at once, and watch streams of large lists cost far less as plain dicts.
"""

import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException

from broker_lag_exporter.config.sections import KubeOptions
from broker_lag_exporter.sources import SourceError

_MAX_LINE = 64 * 1024 * 1024  # one watch event; a pod is a few KiB, a huge CR a few MiB


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource kind the source reads, and how its URL is built."""

    plural: str
    group: str = ""
    version: str = "v1"
    namespaced: bool = True

    @property
    def name(self) -> str:
        """Return the resource as RBAC names it: "pods", "poddisruptionbudgets.policy"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None) -> str:
        """Return the collection URL path, in one namespace or across all."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


PODS = Resource("pods")
NODES = Resource("nodes", namespaced=False)
DISRUPTION_BUDGETS = Resource("poddisruptionbudgets", "policy")
SCALED_OBJECTS = Resource("scaledobjects", "keda.sh", "v1alpha1")


class KubeError(SourceError):
    """A request failed; `status` is the HTTP status, 0 when no answer came."""

    def __init__(
        self, status: int, verb: str, resource: Resource, namespace: str | None, detail: str
    ) -> None:
        where = f" in namespace {namespace}" if namespace and resource.namespaced else ""
        hint = ""
        if status == 403:
            hint = f": missing RBAC permission to {verb} {resource.name}{where or ' (cluster-wide)'}"
        elif status == 401:
            hint = ": credentials rejected"
        super().__init__(f"{verb} {resource.name}{where} failed{hint} ({detail})")
        self.status = status


async def _configuration(settings: KubeOptions) -> client.Configuration:
    cfg = client.Configuration()
    try:
        if settings.kube_kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            path = str(settings.kube_kubeconfig) if settings.kube_kubeconfig else None
            await config.load_kube_config(
                config_file=path,
                context=settings.kube_context,
                client_configuration=cfg,
                persist_config=False,
            )
    except (ConfigException, OSError, ValueError) as exc:
        raise SourceError(f"cannot load Kubernetes credentials: {exc}") from exc
    return cfg


class KubeClient:
    """Lists and watches collections as raw JSON, each request under a deadline."""

    def __init__(self, api: client.ApiClient, request_timeout: float) -> None:
        self._api = api
        self._timeout = request_timeout

    @classmethod
    async def connect(cls, settings: KubeOptions, request_timeout: float) -> "KubeClient":
        """Load in-cluster or kubeconfig credentials; raise SourceError when there are none."""
        cfg = await _configuration(settings)
        return cls(client.ApiClient(configuration=cfg), request_timeout)

    async def _get(
        self,
        resource: Resource,
        namespace: str | None,
        params: Mapping[str, object],
        deadline: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        verb = "watch" if params.get("watch") else "list"
        try:
            resp: aiohttp.ClientResponse = await self._api.call_api(
                resource.path(namespace),
                "GET",
                query_params=[
                    (k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items()
                ],
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=deadline,
            )
        except (aiohttp.ClientError, OSError, TimeoutError, ConfigException) as exc:
            raise KubeError(0, verb, resource, namespace, _describe(exc)) from exc
        if resp.status >= 400:
            body = await _read_error(resp)
            raise KubeError(resp.status, verb, resource, namespace, f"HTTP {resp.status}: {body}")
        return resp

    async def list(
        self, resource: Resource, namespace: str | None, params: Mapping[str, object]
    ) -> dict[str, Any]:
        """Return one page of a collection."""
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        resp = await self._get(resource, namespace, params, timeout)
        try:
            body = await resp.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise KubeError(0, "list", resource, namespace, _describe(exc)) from exc
        finally:
            resp.release()
        if not isinstance(body, dict):
            raise KubeError(0, "list", resource, namespace, "answer is not a JSON object")
        return body

    async def watch(
        self,
        resource: Resource,
        namespace: str | None,
        params: Mapping[str, object],
        seconds: int,
        opened: Callable[[], None] = lambda: None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield watch events until the server ends the watch after `seconds`.

        `opened` is called once the server has accepted the watch, before any
        event: a quiet collection may send none for minutes. The deadline is the
        server-side timeout plus the request timeout, so a silent connection
        cannot hang the watch forever.
        """
        timeout = aiohttp.ClientTimeout(total=seconds + self._timeout, sock_connect=self._timeout)
        resp = await self._get(
            resource, namespace, {**params, "watch": True, "timeoutSeconds": seconds}, timeout
        )
        opened()
        try:
            async for line in _lines(resp):
                event = json.loads(line)
                if isinstance(event, dict):
                    yield event
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise KubeError(0, "watch", resource, namespace, _describe(exc)) from exc
        finally:
            resp.release()

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._api.close()


async def _lines(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Yield newline-separated records; aiohttp's readline caps lines far below a big object."""
    buffer = b""
    async for chunk in resp.content.iter_any():
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
        if len(buffer) > _MAX_LINE:
            raise ValueError(f"watch event larger than {_MAX_LINE} bytes")
    if buffer.strip():
        yield buffer


async def _read_error(resp: aiohttp.ClientResponse) -> str:
    try:
        body = await resp.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return resp.reason or ""
    finally:
        resp.release()
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
