"""List + watch one resource (informer style) into an in-memory store of parsed objects."""

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import structlog

from broker_lag_exporter.model.kube_parse import MalformedObjectError
from broker_lag_exporter.sources.kubernetes.client import KubeClient, KubeError, Resource

T = TypeVar("T")
Key = tuple[str, str]
log = structlog.get_logger(__name__)

GONE = 410
NOT_FOUND = 404
# Worth retrying the same watch: no answer, overload, or a server error.
_TRANSIENT = frozenset({0, 429, 500, 502, 503, 504})


class Backoff:
    """Exponential backoff with full jitter, reset after a success."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self._first, self._cap, self._attempt = first, cap, 0

    def next(self) -> float:
        """Return the next delay in seconds."""
        delay = min(self._cap, self._first * 2**self._attempt)
        self._attempt += 1
        return random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not crypto

    def reset(self) -> None:
        """Start again from the first delay."""
        self._attempt = 0


class Informer(Generic[T]):
    """Keeps `items` equal to a collection: a paginated list, then a watch from its resourceVersion.

    A watch that ends is resumed from the last resourceVersion seen (events
    and bookmarks); 410 Gone means that version expired, so it lists again.
    Errors back off. An optional resource whose API is missing (404: a CRD
    not installed) is "not installed": empty, synced, retried slowly.
    """

    def __init__(
        self,
        kube: KubeClient,
        resource: Resource,
        namespace: str | None,
        parse: Callable[[object], T],
        *,
        page_size: int,
        watch_seconds: int,
        optional: bool = False,
        absent_retry_seconds: float = 60.0,
    ) -> None:
        self._kube, self.resource, self.namespace = kube, resource, namespace
        self._parse = parse
        self._page_size, self._watch_seconds = page_size, watch_seconds
        self._optional, self._absent_retry = optional, absent_retry_seconds
        self._items: dict[Key, T] = {}
        self.synced = asyncio.Event()
        # Set once the first list either succeeded or failed: a poll waits for this, not for success.
        self.settled = asyncio.Event()
        self.installed = True
        self._error: KubeError | None = None
        self._failing_since = 0.0
        # Full lists after the first, by why: "expired" (410 Gone) or "error".
        self.relists: dict[str, int] = {"expired": 0, "error": 0}
        self._relist_reason = "error"
        self.malformed = 0
        self._lists = 0
        self._malformed_keys: set[Key] = set()

    def failure(self, grace_seconds: float) -> KubeError | None:
        """Return the current error if it matters: before the first list, or once it lasted `grace_seconds`.

        A watch that drops and resumes (an apiserver restart, a CRD being
        re-initialised) is routine; the store stays right meanwhile.
        """
        if self._error is None:
            return None
        if not self.synced.is_set() or time.monotonic() - self._failing_since >= grace_seconds:
            return self._error
        return None

    def _fail(self, exc: KubeError) -> None:
        if self._error is None:
            self._failing_since = time.monotonic()
        self._error = exc
        self.settled.set()

    @property
    def items(self) -> Mapping[Key, T]:
        """Return the current objects by (namespace, name)."""
        return self._items

    async def run(self) -> None:
        """List and watch until cancelled."""
        backoff = Backoff()
        while True:
            try:
                version = await self._list()
                backoff.reset()
                await self._watch(version, backoff)
            except KubeError as exc:
                if exc.status == NOT_FOUND and self._optional:
                    self._not_installed()
                    await asyncio.sleep(self._absent_retry)
                    continue
                self._fail(exc)
                await asyncio.sleep(backoff.next())

    def _not_installed(self) -> None:
        if self.installed or not self.synced.is_set():
            log.info("resource not installed", resource=self.resource.name)
        self._items, self.installed, self._error = {}, False, None
        self.synced.set()
        self.settled.set()

    async def _list(self) -> str:
        items: dict[Key, T] = {}
        params: dict[str, object] = {"limit": self._page_size}
        while True:
            page = await self._kube.list(self.resource, self.namespace, params)
            objects = page.get("items")
            for obj in objects if isinstance(objects, list) else ():
                self._store(items, obj)
            meta = _dict(page.get("metadata"))
            token = meta.get("continue")
            if not token:
                break
            params["continue"] = token
        self._lists += 1
        if self._lists > 1:
            self.relists[self._relist_reason] += 1
            log.info(
                "re-listed",
                resource=self.resource.name,
                namespace=self.namespace,
                reason=self._relist_reason,
                objects=len(items),
            )
        self._relist_reason = "error"
        self._items, self.installed, self._error = items, True, None
        self.synced.set()
        self.settled.set()
        return str(meta.get("resourceVersion", ""))

    async def _watch(self, version: str, backoff: Backoff) -> None:
        """Follow changes from `version`; return when the version expired and a list is needed."""
        while True:
            params = {"resourceVersion": version, "allowWatchBookmarks": True}
            try:
                async for event in self._kube.watch(
                    self.resource, self.namespace, params, self._watch_seconds, self._watching
                ):
                    version = self._apply(event, version)
                    backoff.reset()
            except KubeError as exc:
                if exc.status == GONE:
                    self._relist_reason = "expired"
                    return
                if exc.status not in _TRANSIENT:
                    raise
                self._fail(exc)
                await asyncio.sleep(backoff.next())

    def _watching(self) -> None:
        """Clear the error: the server accepted a watch from our version, so the store is current again.

        Waiting for the first event instead kept a quiet resource (nodes, PDBs)
        failing for minutes after an apiserver restart.
        """
        self._error = None

    def _apply(self, event: Mapping[str, Any], version: str) -> str:
        """Apply one event to the store; return the resourceVersion to resume from."""
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            return version
        if kind == "ERROR":
            code = obj.get("code")
            status = code if isinstance(code, int) else 0  # a Status object; anything else is no answer
            raise KubeError(status, "watch", self.resource, self.namespace, str(obj.get("message", "")))
        meta = _dict(obj.get("metadata"))
        if kind == "DELETED":
            self._items.pop(_key(meta), None)
        elif kind in ("ADDED", "MODIFIED"):
            self._store(self._items, obj)
        resume = meta.get("resourceVersion")  # BOOKMARK carries only this
        return resume if isinstance(resume, str) and resume else version

    def _store(self, items: dict[Key, T], obj: object) -> None:
        key = _key(_dict(obj.get("metadata")) if isinstance(obj, dict) else {})
        try:
            items[key] = self._parse(obj)
        except MalformedObjectError as exc:
            items.pop(key, None)
            self.malformed += 1
            if key not in self._malformed_keys:  # log each bad object once, not once per event
                self._malformed_keys.add(key)
                log.warning(
                    "skipped malformed object",
                    resource=self.resource.name,
                    object="/".join(key),
                    error=str(exc),
                )


def _dict(value: object) -> Mapping[str, Any]:
    """Return the value if it is a JSON object, else an empty one: a mistyped field reads as absent."""
    return value if isinstance(value, dict) else {}


def _key(meta: Mapping[str, Any]) -> Key:
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
