"""Groups survive their coordinator's failure: FindCoordinator retries, kept listings, last good reads."""

import asyncio
from collections import Counter
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from aiokafka.protocol.admin import ListGroupsRequest
from aiokafka.protocol.coordination import FindCoordinatorRequest

from broker_lag_exporter.model.kafka import Group, Member
from broker_lag_exporter.sources.kafka.client import RequestError
from broker_lag_exporter.sources.kafka.groups import COORDINATOR_ATTEMPTS, fetch_groups
from broker_lag_exporter.sources.kafka.protocol import (
    ConsumerGroupDescribeRequest,
    DescribeGroupsRequest,
    OffsetFetchGroupsRequest,
)
from broker_lag_exporter.sources.kafka.rebalances import Rebalances, seen
from broker_lag_exporter.sources.kafka.source import LastGood, serve_last_good

NOT_COORDINATOR = 16
COORDINATOR_NOT_AVAILABLE = 15
COORDINATOR_LOAD_IN_PROGRESS = 14


class Cluster:
    """Brokers as a failover shows them: some dead, coordinators moving, FindCoordinator lagging behind.

    `coordinator` maps each group to the broker that really coordinates it;
    `find` is what FindCoordinator answers (a broker id or an error code).
    """

    def __init__(self, coordinator: dict[str, int], dead: frozenset[int] = frozenset()) -> None:
        self.coordinator = coordinator
        self.dead = dead
        self.find: dict[str, tuple[int, int]] = {g: (0, b) for g, b in coordinator.items()}
        self.list_fails: set[int] = set()
        self.fails: set[type] = set()  # request types that fail with a connection error
        self.state = "Empty"  # what DescribeGroups says of every group that exists
        # Groups between coordinators: no broker lists them (without an error) and each says NOT_COORDINATOR.
        self.moving: set[str] = set()
        self.sent: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    def count_error(self, kind: str, n: int = 1) -> None:
        if n:
            self.errors[kind] += n

    async def send_any(self, request: Any, kind: str) -> Any:
        assert isinstance(request, FindCoordinatorRequest)
        self.sent[kind] += 1
        error, broker = self.find[request._coordinator_key]
        return SimpleNamespace(error_code=error, coordinator_id=broker)

    async def send(self, node: int, request: Any, kind: str) -> Any:
        self.sent[kind] += 1
        if node in self.dead or type(request) in self.fails:
            raise RequestError(f"{kind} to broker {node} failed: KafkaConnectionError")
        if isinstance(request, ListGroupsRequest):
            mine = [
                (g, "consumer") for g, b in self.coordinator.items() if b == node and g not in self.moving
            ]
            return SimpleNamespace(error_code=14 if node in self.list_fails else 0, groups=mine)
        if isinstance(request, OffsetFetchGroupsRequest):
            return SimpleNamespace(groups=[self._offsets(node, g) for g in request._groups])
        if isinstance(request, DescribeGroupsRequest):
            return SimpleNamespace(groups=[self._described(node, g) for g in request._groups])
        assert isinstance(request, ConsumerGroupDescribeRequest)
        return SimpleNamespace(groups=[])

    def _described(self, node: int, group: str) -> tuple[Any, ...]:
        if node in self.list_fails:
            return (COORDINATOR_LOAD_IN_PROGRESS, group, "", "", "", [])
        if group in self.moving or (group in self.coordinator and self.coordinator[group] != node):
            return (NOT_COORDINATOR, group, "", "", "", [])
        # A deleted group: its coordinator calls it Dead.
        return (0, group, self.state if group in self.coordinator else "Dead", "consumer", "", [])

    def _offsets(self, node: int, group: str) -> tuple[Any, ...]:
        if group in self.moving:
            return (group, [], NOT_COORDINATOR, {})
        if group not in self.coordinator:
            return (group, [], 0, {})  # a deleted group: Kafka answers no offsets, no error
        if self.coordinator[group] != node:
            return (group, [], NOT_COORDINATOR, {})
        return (group, [("t", [(0, 5, -1, "", 0, {})], {})], 0, {})


def fetch(cluster: Cluster, brokers: list[int], remembered: dict[str, tuple[int, str]] | None = None):
    groups = asyncio.run(fetch_groups(cluster, brokers, lambda _: True, 8, remembered))  # type: ignore[arg-type]
    return {g.name: g for g in groups}


def test_a_moved_coordinator_is_found_again_within_the_poll():
    cluster = Cluster({"g": 2})
    # The group moved to broker 2, but this poll's listing still says broker 0.
    groups = fetch(cluster, [0, 2], remembered={"g": (0, "consumer")})
    cluster_listing_missed = Cluster({"g": 2})
    cluster_listing_missed.list_fails = {2}
    moved = fetch(cluster_listing_missed, [0, 2], remembered={"g": (0, "consumer")})
    assert groups["g"].committed == {("t", 0): 5}
    assert (moved["g"].coordinator, moved["g"].committed) == (2, {("t", 0): 5})
    assert moved["g"].offsets_age_seconds == 0.0
    assert cluster_listing_missed.sent["find_coordinator"] == 1


def test_a_dead_coordinator_is_retried_a_bounded_number_of_times():
    cluster = Cluster({"g": 1, "h": 0}, dead=frozenset({1}))
    groups = fetch(cluster, [0, 1], remembered={"g": (1, "consumer")})
    # Kafka has not fenced broker 1 yet: FindCoordinator still names it.
    assert groups["g"].offsets_age_seconds is None
    assert groups["g"].committed == {}
    assert "broker 1" in (groups["g"].error or "")
    assert groups["h"].committed == {("t", 0): 5}
    assert cluster.sent["find_coordinator"] == COORDINATOR_ATTEMPTS - 1
    assert cluster.errors["list_groups"] == 0  # request failures are counted by send, not here


def test_coordinator_not_available_then_found():
    cluster = Cluster({"g": 2}, dead=frozenset({1}))
    cluster.find["g"] = (COORDINATOR_NOT_AVAILABLE, -1)
    cluster.list_fails = {2}  # loading the moved group: it lists nothing yet
    groups = fetch(cluster, [0, 2], remembered={"g": (1, "consumer")})
    assert groups["g"].offsets_age_seconds is None
    assert cluster.errors["find_coordinator"] == COORDINATOR_ATTEMPTS - 1
    cluster.find["g"] = (0, 2)
    assert fetch(cluster, [0, 2], remembered={"g": (1, "consumer")})["g"].committed == {("t", 0): 5}


def test_groups_of_a_failed_lister_are_kept_and_forgotten_only_by_a_healthy_one():
    cluster = Cluster({"g": 0, "h": 1})
    remembered = {"g": (0, "consumer"), "h": (1, "consumer"), "deleted": (1, "consumer")}
    cluster.list_fails = {1}
    kept = fetch(cluster, [0, 1], remembered)
    assert set(kept) == {"g", "h", "deleted"}  # broker 1 failed to list: nothing it had vanishes
    cluster.list_fails = set()
    assert set(fetch(cluster, [0, 1], remembered)) == {"g", "h"}


def test_a_group_no_healthy_broker_lists_is_kept_until_its_coordinator_says_it_is_gone():
    # A coordinator move, as after a whole-cluster restart: the old leader of the offsets partition
    # has unloaded it and the new one has not started loading, so both list nothing, without an error.
    cluster = Cluster({"g": 2, "h": 0})
    cluster.moving = {"g"}
    remembered = {"g": (1, "consumer"), "h": (0, "consumer")}
    groups = fetch(cluster, [0, 1, 2], remembered)
    assert set(groups) == {"g", "h"}
    assert groups["g"].offsets_age_seconds is None  # so the last good offsets are served
    cluster.moving = set()
    del cluster.coordinator["g"]  # deleted since: its coordinator now calls it Dead
    assert set(fetch(cluster, [0, 1, 2], remembered)) == {"h"}


def test_group_kept_while_its_dead_coordinator_is_out_of_metadata():
    cluster = Cluster({"g": 2})
    cluster.list_fails = {2}  # the new coordinator is still loading
    # Broker 1 was fenced: metadata no longer lists it, so nobody can say the group is gone.
    groups = fetch(cluster, [0, 2], remembered={"g": (1, "consumer")})
    assert groups["g"].committed == {("t", 0): 5}
    assert groups["g"].coordinator == 2


def group(name: str, committed: dict[tuple[str, int], int] | None, coordinator: int = 0) -> Group:
    age = None if committed is None else 0.0
    return Group(name, coordinator, committed=committed or {}, offsets_age_seconds=age, error=None)


def test_last_good_offsets_are_served_with_their_age_until_max_age():
    served, memory = serve_last_good([group("g", {("t", 0): 5})], {}, now=100, max_age=30)
    assert served[0].offsets_age_seconds == 0.0
    served, memory = serve_last_good([group("g", None, coordinator=2)], memory, now=110, max_age=30)
    assert (served[0].committed, served[0].offsets_age_seconds, served[0].coordinator) == (
        {("t", 0): 5},
        10,
        2,
    )
    served, memory = serve_last_good([group("g", None)], memory, now=131, max_age=30)
    assert (served[0].committed, served[0].offsets_age_seconds) == ({}, None)
    assert memory["g"].offsets_at is None  # forgotten; the group itself was described


def test_groups_gone_from_the_poll_are_forgotten():
    _, memory = serve_last_good([group("g", {("t", 0): 5}), group("h", {})], {}, now=1, max_age=30)
    _, memory = serve_last_good([group("h", {})], memory, now=2, max_age=30)
    assert set(memory) == {"h"}


def test_a_failed_describe_is_marked_not_described():
    cluster = Cluster({"g": 0})
    cluster.fails = {DescribeGroupsRequest}
    g = fetch(cluster, [0])["g"]
    assert (g.committed, g.offsets_age_seconds) == ({("t", 0): 5}, 0.0)
    assert (g.state, g.members, g.members_age_seconds) == ("Unknown", (), None)
    assert "describe_groups" in (g.error or "")


def test_a_new_protocol_describe_failure_is_not_an_empty_dead_group():
    """DescribeGroups calls a KIP-848 group Dead; if ConsumerGroupDescribe then fails, nothing is known."""
    cluster = Cluster({"g": 0})
    cluster.state = "Dead"
    cluster.fails = {ConsumerGroupDescribeRequest}
    g = fetch(cluster, [0])["g"]
    assert g.members_age_seconds is None
    assert g.error is not None
    assert seen(g) is None  # it was counted as every member leaving: a rebalance


def described(name: str, *members: str, state: str = "Stable", committed: bool = True) -> Group:
    return Group(
        name,
        0,
        state,
        members=tuple(Member(m, "c", "h") for m in members),
        committed={("t", 0): 5} if committed else {},
        offsets_age_seconds=0.0 if committed else None,
    )


def not_described(name: str, committed: bool = True) -> Group:
    return replace(
        described(name, state="Unknown", committed=committed),
        error="describe_groups to broker 0 failed",
        members_age_seconds=None,
    )


def test_last_good_members_and_state_are_served_with_their_age_until_max_age():
    served, memory = serve_last_good([described("g", "a", "b")], {}, now=100, max_age=30)
    assert served[0].members_age_seconds == 0.0
    served, memory = serve_last_good([not_described("g")], memory, now=110, max_age=30)
    g = served[0]
    assert ([m.member_id for m in g.members], g.state, g.members_age_seconds) == (["a", "b"], "Stable", 10)
    assert (g.committed, g.offsets_age_seconds) == ({("t", 0): 5}, 0.0)  # read this poll: fresh
    assert g.error is not None  # the failure stays visible
    served, memory = serve_last_good([not_described("g")], memory, now=131, max_age=30)
    assert (served[0].members, served[0].state, served[0].members_age_seconds) == ((), "Unknown", None)


def test_offsets_and_description_are_carried_each_on_its_own():
    _, memory = serve_last_good([described("g", "a")], {}, now=100, max_age=30)
    # Offsets unreadable, but the group was described (at its new coordinator): fresh members win.
    served, memory = serve_last_good([described("g", "b", committed=False)], memory, now=110, max_age=30)
    g = served[0]
    assert ([m.member_id for m in g.members], g.members_age_seconds) == (["b"], 0.0)
    assert (g.committed, g.offsets_age_seconds) == ({("t", 0): 5}, 10)
    served, _ = serve_last_good([not_described("g", committed=False)], memory, now=125, max_age=30)
    g = served[0]
    assert ([m.member_id for m in g.members], g.members_age_seconds) == (["b"], 15)
    assert (g.committed, g.offsets_age_seconds) == ({("t", 0): 5}, 25)


def test_describe_failures_are_never_counted_as_rebalances():
    counter, memory = Rebalances(), dict[str, LastGood]()
    polls = [
        [described("g", "a", "b")],
        [not_described("g")],  # carried: a, b
        [not_described("g")],  # past max_age: nothing known
        [not_described("g")],
        [described("g", "a", "b")],
        [described("g", "a")],  # a real rebalance: b left
    ]
    totals = []
    for i, fresh in enumerate(polls):
        served, memory = serve_last_good(fresh, memory, now=20.0 * i, max_age=30)
        totals.append(counter.observe(served, 20.0 * i)[0]["g"])
    assert totals == [0, 0, 0, 0, 0, 1]
