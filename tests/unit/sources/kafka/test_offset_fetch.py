"""Committed offsets: batched v8 answers, per-group fallback for older brokers, errors kept per group."""

import asyncio
from collections import Counter
from types import SimpleNamespace
from typing import Any

from aiokafka.protocol.commit import OffsetFetchRequest

from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka.client import RequestError, UnsupportedRequestError
from broker_lag_exporter.sources.kafka.groups import _committed_all, _Listed
from broker_lag_exporter.sources.kafka.protocol import OffsetFetchGroupsRequest


class FakeConnection:
    """Answers OffsetFetch like a broker would, recording what was asked."""

    def __init__(self, *, batched: bool, failing: frozenset[str] = frozenset()) -> None:
        self.batched, self.failing = batched, failing
        self.sent: list[Any] = []
        self.errors: Counter[str] = Counter()

    def count_error(self, kind: str, n: int = 1) -> None:
        if n:
            self.errors[kind] += n

    async def send_any(self, request: Any, kind: str) -> Any:
        raise SourceError("no broker answers FindCoordinator here")

    async def send(self, node: int, request: Any, kind: str) -> Any:
        self.sent.append(request)
        if isinstance(request, OffsetFetchGroupsRequest):
            if not self.batched:
                raise UnsupportedRequestError("no common version")
            return SimpleNamespace(groups=[self._v8(g) for g in request._groups])
        assert isinstance(request, OffsetFetchRequest)
        group = request._consumer_group
        if group in self.failing:
            raise RequestError("offset_fetch to broker 0 failed: timeout")
        return SimpleNamespace(topics=[("t", [(0, 5, "", 0), (1, -1, "", 0)])], error_code=0)

    def _v8(self, group: str) -> tuple[Any, ...]:
        if group in self.failing:
            return (group, [], 14, {})  # COORDINATOR_LOAD_IN_PROGRESS
        return (
            group,
            [("t", [(0, 5, -1, "", 0, {}), (1, -1, -1, "", 0, {}), (2, 9, -1, "", 3, {})], {})],
            0,
            {},
        )


def listed(*names: str) -> list[_Listed]:
    return [_Listed(n, 0, "consumer") for n in names]


def test_batched_answers_keep_errors_per_group():
    conn = FakeConnection(batched=True, failing=frozenset({"loading"}))
    result = asyncio.run(_committed_all(conn, listed("a", "loading"), 4))  # type: ignore[arg-type]
    assert isinstance(conn.sent[0], OffsetFetchGroupsRequest)
    assert (result["a"].committed, result["a"].error) == (
        {("t", 0): 5},
        "OffsetFetch failed for 1 partition(s)",
    )
    assert not result["a"].unread  # partition errors: what could be read is kept
    loading = result["loading"]
    assert (loading.committed, loading.error, loading.unread) == ({}, "OffsetFetch error code 14", True)
    assert loading.moved  # a coordinator error: looked up again (this fake knows no FindCoordinator)


def test_older_brokers_get_one_request_per_group():
    conn = FakeConnection(batched=False, failing=frozenset({"down"}))
    result = asyncio.run(_committed_all(conn, listed("a", "b", "down"), 4))  # type: ignore[arg-type]
    assert sum(isinstance(r, OffsetFetchRequest) for r in conn.sent) == 3
    assert (result["a"].committed, result["a"].error) == ({("t", 0): 5}, None)  # -1: never committed
    assert result["down"].committed == {}
    assert result["down"].unread
    assert "timeout" in (result["down"].error or "")
