"""Parsers of what Kafka's CLI tools print, so the tools can serve as oracles in tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TopicPartitionRow:
    """One partition as ``kafka-topics --describe`` shows it."""

    topic: str
    partition: int
    leader: int | None
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class GroupOffsetRow:
    """One partition row of ``kafka-consumer-groups --describe``; None where it prints '-'."""

    group: str
    topic: str
    partition: int
    current_offset: int | None
    log_end_offset: int | None
    lag: int | None
    consumer_id: str | None
    host: str | None
    client_id: str | None


@dataclass(frozen=True)
class QuorumStatus:
    """``kafka-metadata-quorum describe --status``."""

    cluster_id: str
    leader_id: int
    leader_epoch: int
    high_watermark: int
    voters: tuple[int, ...]
    observers: tuple[int, ...]


def _int_or_none(text: str | None) -> int | None:
    if text is None or text in {"-", "none", ""}:
        return None
    value = int(text)
    return value if value >= 0 else None


def _int_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def parse_topic_describe(output: str) -> dict[tuple[str, int], TopicPartitionRow]:
    """Parse ``kafka-topics --describe``: tab-separated ``Key: value`` fields per partition."""
    rows: dict[tuple[str, int], TopicPartitionRow] = {}
    for line in output.splitlines():
        fields = dict(_split_field(f) for f in line.strip().split("\t") if ":" in f)
        if "Partition" not in fields or "Topic" not in fields:
            continue  # the per-topic summary line, or a warning
        row = TopicPartitionRow(
            topic=fields["Topic"],
            partition=int(fields["Partition"]),
            leader=_int_or_none(fields.get("Leader")),
            replicas=_int_tuple(fields.get("Replicas", "")),
            isr=_int_tuple(fields.get("Isr", "")),
        )
        rows[(row.topic, row.partition)] = row
    return rows


def _split_field(field: str) -> tuple[str, str]:
    key, _, value = field.partition(":")
    return key.strip(), value.strip()


def parse_group_describe(output: str) -> list[GroupOffsetRow]:
    """Parse ``kafka-consumer-groups --describe`` by its header names.

    Notices such as "has no active members" or "is rebalancing" are skipped, and
    so are member rows without partitions (TOPIC '-').
    """
    rows: list[GroupOffsetRow] = []
    header: list[str] | None = None
    for line in output.splitlines():
        tokens = line.split()
        if not tokens:
            header = None  # a blank line ends one group's table
        elif tokens[0] == "GROUP" and "TOPIC" in tokens:
            header = tokens
        elif header is not None and len(tokens) >= 3:
            row = _group_row(dict(zip(header, tokens, strict=False)))
            if row is not None:
                rows.append(row)
    return sorted(rows, key=lambda r: (r.group, r.topic, r.partition))


def _group_row(cols: Mapping[str, str]) -> GroupOffsetRow | None:
    partition = cols.get("PARTITION", "-")
    if cols.get("TOPIC", "-") == "-" or not partition.isdigit():
        return None

    def text(name: str) -> str | None:
        value = cols.get(name)
        return None if value in {None, "-"} else value

    return GroupOffsetRow(
        group=cols["GROUP"],
        topic=cols["TOPIC"],
        partition=int(partition),
        current_offset=_int_or_none(cols.get("CURRENT-OFFSET")),
        log_end_offset=_int_or_none(cols.get("LOG-END-OFFSET")),
        lag=_int_or_none(cols.get("LAG")),
        consumer_id=text("CONSUMER-ID"),
        host=text("HOST"),
        client_id=text("CLIENT-ID"),
    )


def parse_quorum_status(output: str) -> QuorumStatus:
    """Parse ``kafka-metadata-quorum describe --status`` (``Key: value`` lines)."""
    fields = dict(_split_field(line) for line in output.splitlines() if ":" in line)
    return QuorumStatus(
        cluster_id=fields["ClusterId"],
        leader_id=int(fields["LeaderId"]),
        leader_epoch=int(fields["LeaderEpoch"]),
        high_watermark=int(fields["HighWatermark"]),
        voters=_replica_ids(fields.get("CurrentVoters", "[]")),
        observers=_replica_ids(fields.get("CurrentObservers", "[]")),
    )


def _replica_ids(text: str) -> tuple[int, ...]:
    """4.x prints ``[{"id": 0, ...}]``; 3.x printed ``[0,1,2]``: accept both."""
    items: list[Any] = json.loads(text)
    return tuple(int(i["id"]) if isinstance(i, dict) else int(i) for i in items)
