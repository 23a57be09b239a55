"""Consumer groups: list per broker, describe per coordinator, committed offsets per coordinator batch."""

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.protocol.admin import ListGroupsRequest
from aiokafka.protocol.commit import OffsetFetchRequest
from aiokafka.protocol.coordination import FindCoordinatorRequest

from broker_lag_exporter.model.kafka import BrokerId, Group, Member, TopicPartition
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka.client import KafkaConnection, RequestError, UnsupportedRequestError
from broker_lag_exporter.sources.kafka.protocol import (
    ConsumerGroupDescribeRequest,
    DescribeGroupsRequest,
    OffsetFetchGroupsRequest,
)

DESCRIBE_BATCH = 100
OFFSET_FETCH_BATCH = 100
GROUP_ID_NOT_FOUND = 69
NO_OFFSET = -1
# COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR: the
# group is fine, its coordinator is starting, failing over or elsewhere.
COORDINATOR_ERRORS = frozenset({14, 15, 16})
# A failover takes a few seconds (fencing, election, loading the offsets
# partition): retry briefly within the poll, and serve the last good offsets after.
COORDINATOR_ATTEMPTS = 3
COORDINATOR_BACKOFF_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class _Listed:
    name: str
    coordinator: BrokerId
    protocol_type: str


@dataclass(frozen=True, slots=True)
class _Described:
    state: str
    members: tuple[Member, ...]
    error: str | None = None


async def fetch_groups(
    conn: KafkaConnection,
    brokers: Iterable[BrokerId],
    keep_group: Callable[[str], bool],
    concurrency: int,
    remembered: Mapping[str, tuple[BrokerId, str]] | None = None,
) -> tuple[Group, ...]:
    """Return every kept group with its coordinator, state, members and committed offsets.

    Each broker lists the groups it coordinates, so no FindCoordinator round
    trips are needed while coordinators are healthy. `remembered` maps groups of
    the last poll to their coordinator and protocol type: one that no broker
    lists is still polled, and dropped only when its coordinator describes it
    as Dead. Every broker answering ListGroups is not enough: during a
    coordinator move the old leader of its offsets partition has unloaded it and
    the new one has not started loading, and both list nothing, without an error.
    A group whose offsets could not be read has `offsets_age_seconds` None, one
    that could not be described `members_age_seconds` None.
    """
    brokers = list(brokers)
    found = await _list_groups(conn, brokers)
    listed = [g for g in found if keep_group(g.name)]
    names = {g.name for g in listed}
    unlisted = {name for name in remembered or {} if name not in names and keep_group(name)}
    listed += [_Listed(name, *(remembered or {})[name]) for name in sorted(unlisted)]
    offsets = await _committed_all(conn, listed, concurrency)
    # Coordinators found again while reading offsets are where to describe.
    listed = [replace(g, coordinator=offsets[g.name].coordinator) for g in listed]
    described = await _describe_groups(conn, listed)
    groups = []
    for g in listed:
        read = offsets[g.name]
        d = described.get(g.name, _Described("Unknown", (), "not described"))
        if g.name in unlisted and d.state == "Dead" and d.error is None:
            continue  # deleted: its coordinator says so
        groups.append(
            Group(
                name=g.name,
                coordinator=g.coordinator,
                state=d.state,
                protocol_type=g.protocol_type,
                members=d.members,
                committed=read.committed,
                error=read.error or d.error,
                offsets_age_seconds=None if read.unread else 0.0,
                members_age_seconds=None if d.error else 0.0,
            )
        )
    return tuple(sorted(groups, key=lambda g: g.name))


async def _list_groups(conn: KafkaConnection, brokers: Iterable[BrokerId]) -> list[_Listed]:
    """Return the groups the brokers list; a broker that failed lists none."""

    async def one(broker: BrokerId) -> list[_Listed] | None:
        try:
            response = await conn.send(broker, ListGroupsRequest(), "list_groups")
        except RequestError:
            return None
        if response.error_code:
            conn.count_error("list_groups")
            return None
        return [_Listed(name, broker, ptype) for name, ptype in response.groups]

    async with asyncio.TaskGroup() as tg:
        tasks = {b: tg.create_task(one(b)) for b in brokers}
    seen: dict[str, _Listed] = {}
    for task in tasks.values():
        for g in task.result() or ():
            # During a coordinator move two brokers may both list a group: keep one.
            seen.setdefault(g.name, g)
    return list(seen.values())


def _by_coordinator(listed: Iterable[_Listed], size: int) -> list[tuple[BrokerId, list[str]]]:
    """Split group names by coordinator into batches of at most `size`: one request each."""
    by_coordinator: defaultdict[BrokerId, list[str]] = defaultdict(list)
    for g in listed:
        by_coordinator[g.coordinator].append(g.name)
    return [
        (broker, names[i : i + size])
        for broker, names in by_coordinator.items()
        for i in range(0, len(names), size)
    ]


async def _describe_groups(conn: KafkaConnection, listed: Iterable[_Listed]) -> dict[str, _Described]:
    chunks = _by_coordinator(listed, DESCRIBE_BATCH)
    result: dict[str, _Described] = {}
    async with asyncio.TaskGroup() as tg:
        for broker, names in chunks:
            tg.create_task(_describe_chunk(conn, broker, names, result))
    for name in {n for _, names in chunks for n in names} - result.keys():
        result[name] = _Described("Unknown", (), "missing from the DescribeGroups response")
    # DescribeGroups cannot see KIP-848 groups: it calls them Dead (or fails).
    # Ask ConsumerGroupDescribe about exactly those before counting anything.
    retry = [(b, [n for n in names if result[n].error or result[n].state == "Dead"]) for b, names in chunks]
    async with asyncio.TaskGroup() as tg:
        for broker, names in retry:
            if names:
                tg.create_task(_describe_new_protocol(conn, broker, names, result))
    conn.count_error("describe_groups", sum(1 for d in result.values() if d.error))
    return result


async def _describe_chunk(
    conn: KafkaConnection, broker: BrokerId, names: list[str], into: dict[str, _Described]
) -> None:
    try:
        response = await conn.send(broker, DescribeGroupsRequest(names), "describe_groups")
    except RequestError as exc:
        for name in names:
            into[name] = _Described("Unknown", (), str(exc))
        return
    for error, name, state, ptype, _protocol, members, *_ in response.groups:
        if error:
            into[name] = _Described("Unknown", (), f"DescribeGroups error code {error}")
            continue
        into[name] = _Described(
            state,
            tuple(
                # Brokers report the host as "/10.0.0.7"; keep the address alone.
                Member(member_id, client_id, host.lstrip("/"), _assignment(conn, ptype, assigned))
                for member_id, client_id, host, _metadata, assigned in members
            ),
        )


def _assignment(conn: KafkaConnection, protocol_type: str, raw: bytes | None) -> tuple[TopicPartition, ...]:
    if protocol_type != "consumer" or not raw:
        return ()
    try:
        decoded = ConsumerProtocolMemberAssignment.decode(raw)
    except Exception:  # noqa: BLE001 - any malformed bytes from a client: skip, count
        conn.count_error("member_assignment")
        return ()
    return tuple((topic, p) for topic, parts in decoded.assignment for p in parts)


async def _describe_new_protocol(
    conn: KafkaConnection, broker: BrokerId, names: list[str], into: dict[str, _Described]
) -> None:
    try:
        response = await conn.send(broker, ConsumerGroupDescribeRequest(names), "describe_groups")
    except UnsupportedRequestError:
        return  # a broker without KIP-848 groups: what DescribeGroups said stands
    except RequestError as exc:
        # Keep the DescribeGroups errors; a "Dead" answer may be a KIP-848 group
        # DescribeGroups cannot see, so it is unknown, not an empty dead group.
        for name in names:
            if into[name].error is None:
                into[name] = _Described("Unknown", (), str(exc))
        return
    for error, message, name, state, *_epochs, members, _ops, _tags in response.groups:
        if error == GROUP_ID_NOT_FOUND:
            continue  # a classic group after all: keep what DescribeGroups said
        if error:
            into[name] = _Described("Unknown", (), f"ConsumerGroupDescribe error {error}: {message}")
            continue
        into[name] = _Described(state, tuple(_new_protocol_member(*m) for m in members))


def _new_protocol_member(
    member_id: str,
    _instance: str,
    _rack: str,
    _epoch: int,
    client_id: str,
    host: str,
    _topics: object,
    _regex: object,
    assignment: tuple[list[Any], object],
    *_rest: object,
) -> Member:
    # Assignment topics are (topic_id, topic_name, partitions, tags).
    assigned = tuple((t[1], p) for t in assignment[0] for p in t[2])
    return Member(member_id, client_id, host.lstrip("/"), assigned)


@dataclass(frozen=True, slots=True)
class _Read:
    """One group's committed offsets as read this poll, and what went wrong."""

    committed: dict[TopicPartition, int]
    error: str | None = None
    coordinator: BrokerId = -1
    # The group's coordinator failed, moved or is loading: ask FindCoordinator and retry.
    moved: bool = False
    unread: bool = False


async def _committed_all(conn: KafkaConnection, listed: list[_Listed], concurrency: int) -> dict[str, _Read]:
    """Return every group's committed offsets, following coordinators that moved (bounded).

    One OffsetFetch per coordinator and batch of groups (v8); brokers older
    than Kafka 3.0 get one request per group (v3). Groups whose coordinator
    failed or moved are looked up with FindCoordinator and asked again, up to
    COORDINATOR_ATTEMPTS times in this poll.
    """
    limit = asyncio.Semaphore(concurrency)
    result: dict[str, _Read] = {}
    pending = listed
    for attempt in range(COORDINATOR_ATTEMPTS):
        chunks = _by_coordinator(pending, OFFSET_FETCH_BATCH)
        async with asyncio.TaskGroup() as tg:
            for broker, names in chunks:
                tg.create_task(_committed_chunk(conn, broker, names, limit, result))
        # Including groups FindCoordinator could not place last time: ask again.
        moved = [g for g in listed if result[g.name].moved]
        if not moved or attempt == COORDINATOR_ATTEMPTS - 1:
            break
        await asyncio.sleep(COORDINATOR_BACKOFF_SECONDS * 2**attempt)
        found = await _find_coordinators(conn, [g.name for g in moved], limit)
        pending = [replace(g, coordinator=found[g.name]) for g in moved if g.name in found]
    return result


async def _find_coordinators(
    conn: KafkaConnection, names: list[str], limit: asyncio.Semaphore
) -> dict[str, BrokerId]:
    """Return the coordinator of each group that has one now (FindCoordinator, any broker)."""

    async def one(name: str) -> tuple[str, BrokerId | None]:
        async with limit:
            try:
                response = await conn.send_any(FindCoordinatorRequest(name, 0), "find_coordinator")
            except SourceError:
                return name, None
        if response.error_code:
            conn.count_error("find_coordinator")
            return name, None
        return name, int(response.coordinator_id)

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(n)) for n in names]
    return {name: broker for name, broker in (t.result() for t in tasks) if broker is not None}


async def _committed_chunk(
    conn: KafkaConnection,
    broker: BrokerId,
    names: list[str],
    limit: asyncio.Semaphore,
    into: dict[str, _Read],
) -> None:
    async with limit:
        try:
            response = await conn.send(broker, OffsetFetchGroupsRequest(names), "offset_fetch")
        except UnsupportedRequestError:
            response = None
        except RequestError as exc:
            into.update(dict.fromkeys(names, _Read({}, str(exc), broker, moved=True, unread=True)))
            return
    if response is None:
        for name in names:
            into[name] = await _committed_one(conn, broker, name, limit)
        return
    answered = set()
    for name, topics, error_code, _tags in response.groups:
        answers = ((t, p, offset, error) for t, parts, _ in topics for p, offset, _e, _m, error, _ in parts)
        into[name] = _offsets(conn, broker, error_code, answers)
        answered.add(name)
    for name in set(names) - answered:
        into[name] = _Read({}, "missing from the OffsetFetch response", broker, unread=True)


async def _committed_one(
    conn: KafkaConnection, broker: BrokerId, name: str, limit: asyncio.Semaphore
) -> _Read:
    async with limit:
        try:
            response = await conn.send(broker, OffsetFetchRequest(name, None), "offset_fetch")
        except RequestError as exc:
            return _Read({}, str(exc), broker, moved=True, unread=True)
    answers = ((t, p, offset, error) for t, parts in response.topics for p, offset, _m, error in parts)
    return _offsets(conn, broker, getattr(response, "error_code", 0), answers)


def _offsets(
    conn: KafkaConnection, broker: BrokerId, error_code: int, answers: Iterable[tuple[str, int, int, int]]
) -> _Read:
    """Return committed offsets from (topic, partition, offset, error) answers, and the error."""
    # aiokafka's admin helper drops this group-level code; it is the one that
    # says the coordinator is loading or has moved.
    if error_code:
        conn.count_error("offset_fetch")
        text = f"OffsetFetch error code {error_code}"
        return _Read({}, text, broker, moved=error_code in COORDINATOR_ERRORS, unread=True)
    committed: dict[TopicPartition, int] = {}
    failed = 0
    for topic, index, offset, error in answers:
        if error:
            failed += 1
        elif offset != NO_OFFSET:
            committed[topic, index] = offset
    if failed:
        conn.count_error("offset_fetch", failed)
        return _Read(committed, f"OffsetFetch failed for {failed} partition(s)", broker)
    return _Read(committed, None, broker)
