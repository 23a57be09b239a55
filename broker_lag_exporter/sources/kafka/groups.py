"""Consumer groups: list per broker, describe per coordinator, committed offsets per coordinator batch."""

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.protocol.admin import ListGroupsRequest
from aiokafka.protocol.commit import OffsetFetchRequest

from broker_lag_exporter.model.kafka import BrokerId, Group, Member, TopicPartition
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
) -> tuple[Group, ...]:
    """Return every kept group with its coordinator, state, members and committed offsets.

    Each broker lists the groups it coordinates, so no FindCoordinator round
    trips are needed. A failure stays attached to its group.
    """
    listed = [g for g in await _list_groups(conn, brokers) if keep_group(g.name)]
    described = await _describe_groups(conn, listed)
    offsets = await _committed_all(conn, listed, concurrency)
    groups = []
    for g in listed:
        committed, fetch_error = offsets[g.name]
        d = described.get(g.name, _Described("Unknown", (), "not described"))
        groups.append(
            Group(
                name=g.name,
                coordinator=g.coordinator,
                state=d.state,
                protocol_type=g.protocol_type,
                members=d.members,
                committed=committed,
                error=fetch_error or d.error,
            )
        )
    return tuple(sorted(groups, key=lambda g: g.name))


async def _list_groups(conn: KafkaConnection, brokers: Iterable[BrokerId]) -> list[_Listed]:
    async def one(broker: BrokerId) -> list[_Listed]:
        try:
            response = await conn.send(broker, ListGroupsRequest(), "list_groups")
        except RequestError:
            return []
        if response.error_code:
            conn.count_error("list_groups")
            return []
        return [_Listed(name, broker, ptype) for name, ptype in response.groups]

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(b)) for b in brokers]
    seen: dict[str, _Listed] = {}
    for task in tasks:
        for g in task.result():
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
    except RequestError:
        return  # keep the DescribeGroups error already recorded for these groups
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


async def _committed_all(
    conn: KafkaConnection, listed: list[_Listed], concurrency: int
) -> dict[str, tuple[dict[TopicPartition, int], str | None]]:
    """Return every group's committed offsets and the error that hid any of them.

    One OffsetFetch per coordinator and batch of groups (v8); brokers older
    than Kafka 3.0 get one request per group (v3).
    """
    chunks = _by_coordinator(listed, OFFSET_FETCH_BATCH)
    limit = asyncio.Semaphore(concurrency)
    result: dict[str, tuple[dict[TopicPartition, int], str | None]] = {}
    async with asyncio.TaskGroup() as tg:
        for broker, names in chunks:
            tg.create_task(_committed_chunk(conn, broker, names, limit, result))
    return result


async def _committed_chunk(
    conn: KafkaConnection,
    broker: BrokerId,
    names: list[str],
    limit: asyncio.Semaphore,
    into: dict[str, tuple[dict[TopicPartition, int], str | None]],
) -> None:
    async with limit:
        try:
            response = await conn.send(broker, OffsetFetchGroupsRequest(names), "offset_fetch")
        except UnsupportedRequestError:
            response = None
        except RequestError as exc:
            into.update(dict.fromkeys(names, ({}, str(exc))))
            return
    if response is None:
        for name in names:
            into[name] = await _committed_one(conn, broker, name, limit)
        return
    for name, topics, error_code, _tags in response.groups:
        answers = ((t, p, offset, error) for t, parts, _ in topics for p, offset, _e, _m, error, _ in parts)
        into[name] = _offsets(conn, error_code, answers)
    for name in set(names) - into.keys():
        into[name] = ({}, "missing from the OffsetFetch response")


async def _committed_one(
    conn: KafkaConnection, broker: BrokerId, name: str, limit: asyncio.Semaphore
) -> tuple[dict[TopicPartition, int], str | None]:
    async with limit:
        try:
            response = await conn.send(broker, OffsetFetchRequest(name, None), "offset_fetch")
        except RequestError as exc:
            return {}, str(exc)
    answers = ((t, p, offset, error) for t, parts in response.topics for p, offset, _m, error in parts)
    return _offsets(conn, getattr(response, "error_code", 0), answers)


def _offsets(
    conn: KafkaConnection, error_code: int, answers: Iterable[tuple[str, int, int, int]]
) -> tuple[dict[TopicPartition, int], str | None]:
    """Return committed offsets from (topic, partition, offset, error) answers, and the error."""
    # aiokafka's admin helper drops this group-level code; it is the one that
    # says the coordinator is loading or has moved.
    if error_code:
        conn.count_error("offset_fetch")
        return {}, f"OffsetFetch error code {error_code}"
    committed: dict[TopicPartition, int] = {}
    failed = 0
    for topic, index, offset, error in answers:
        if error:
            failed += 1
        elif offset != NO_OFFSET:
            committed[topic, index] = offset
    if failed:
        conn.count_error("offset_fetch", failed)
        return committed, f"OffsetFetch failed for {failed} partition(s)"
    return committed, None
