"""Reading record timestamps out of Fetch data: skipped batches, gaps, log start, limits, layering."""

import struct

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from broker_lag_exporter.model.kafka import Partition
from broker_lag_exporter.sources.kafka.timestamps import (
    OFFSET_OUT_OF_RANGE,
    TOPIC_AUTHORIZATION_FAILED,
    Found,
    Retry,
    Unreadable,
    _Position,
    _requests,
    first_record,
    partition_outcome,
)

TIMESTAMP_TYPE, TRANSACTIONAL, CONTROL = 0x08, 0x10, 0x20
ATTRIBUTES_AT = struct.calcsize(">qiibI")
MAX_TIMESTAMP_AT = struct.calcsize(">qiibIhiq")


def batch(
    base: int,
    records: list[tuple[int, int]],
    *,
    flags: int = 0,
    producer: int = -1,
    key: bytes | None = None,
    max_timestamp: int | None = None,
) -> bytes:
    """Return one v2 batch at `base` holding (offset delta, timestamp) records.

    Attribute flags (control, transactional, LogAppendTime) are patched into the
    header the way a broker writes them; CRCs are not checked by the reader.
    """
    builder = DefaultRecordBatchBuilder(2, 0, int(bool(flags & TRANSACTIONAL)), producer, 0, 0, 1 << 20)
    for delta, timestamp in records:
        builder.append(delta, timestamp, key, b"v", [])
    data = bytearray(builder.build())
    struct.pack_into(">q", data, 0, base)
    (attributes,) = struct.unpack_from(">h", data, ATTRIBUTES_AT)
    struct.pack_into(">h", data, ATTRIBUTES_AT, attributes | flags)
    if max_timestamp is not None:
        struct.pack_into(">q", data, MAX_TIMESTAMP_AT, max_timestamp)
    return bytes(data)


def abort_marker(base: int, producer: int) -> bytes:
    """Return the control batch that aborts `producer`'s transaction (key: version 0, type 0)."""
    return batch(base, [(0, 1)], flags=CONTROL | TRANSACTIONAL, producer=producer, key=b"\x00\x00\x00\x00")


def commit_marker(base: int, producer: int) -> bytes:
    """Return the control batch that commits `producer`'s transaction (key: version 0, type 1)."""
    return batch(base, [(0, 1)], flags=CONTROL | TRANSACTIONAL, producer=producer, key=b"\x00\x00\x00\x01")


@pytest.mark.parametrize(
    ("case", "records", "offset", "aborted", "expected"),
    [
        ("exact-offset", batch(10, [(0, 1000), (1, 2000), (2, 3000)]), 11, (), Found(2000)),
        # The broker answers with the whole batch holding the offset: earlier records are skipped.
        ("batch-starts-earlier", batch(10, [(0, 1000), (1, 2000)]), 11, (), Found(2000)),
        # Compaction removed offsets 11-14: the next existing record is the oldest unconsumed.
        ("compacted-gap", batch(10, [(0, 1000), (5, 6000)]), 11, (), Found(6000)),
        ("gap-between-batches", batch(10, [(0, 1000)]) + batch(20, [(0, 9000)]), 12, (), Found(9000)),
        (
            "control-batch-skipped",
            commit_marker(5, 7) + batch(6, [(0, 4000)]),
            5,
            (),
            Found(4000),
        ),
        (
            "aborted-transaction-skipped",
            batch(5, [(0, 100), (1, 200)], flags=TRANSACTIONAL, producer=7)
            + abort_marker(7, 7)
            + batch(8, [(0, 800)]),
            5,
            [(7, 5)],
            Found(800),
        ),
        (
            "committed-transaction-read",
            batch(5, [(0, 100)], flags=TRANSACTIONAL, producer=7) + commit_marker(6, 7),
            5,
            (),
            Found(100),
        ),
        (
            "other-producer-not-aborted",
            batch(5, [(0, 100)], flags=TRANSACTIONAL, producer=8) + abort_marker(6, 7),
            5,
            [(7, 9)],
            Found(100),
        ),
        # LogAppendTime: every record carries the broker's append time (the batch's max timestamp).
        (
            "log-append-time",
            batch(3, [(0, 111), (1, 222)], flags=TIMESTAMP_TYPE, max_timestamp=5_000),
            4,
            (),
            Found(5_000),
        ),
        # Only control and aborted data came back: fetch again after it.
        ("all-skipped", commit_marker(5, 7), 5, (), Retry(6)),
        # A batch larger than the byte limit arrives truncated: read it again with a larger limit.
        ("truncated-batch", batch(0, [(0, 1), (1, 2)])[:40], 0, (), Retry(0, larger=True)),
        ("empty", b"", 0, (), Unreadable("no_record")),
    ],
)
def test_first_record(case, records, offset, aborted, expected):
    assert first_record(records, offset, aborted) == expected, case


@pytest.mark.parametrize(
    ("case", "error", "high_watermark", "log_start", "records", "offset", "expected"),
    [
        ("found", 0, 10, 0, batch(3, [(0, 42)]), 3, Found(42)),
        # Retention deleted the committed offset's records: read the oldest still there, uncached.
        ("below-log-start", OFFSET_OUT_OF_RANGE, 100, 50, None, 20, Retry(50, cacheable=False)),
        # Brokers answer errors without the log start: ListOffsets finds it.
        ("below-unknown-log-start", OFFSET_OUT_OF_RANGE, -1, -1, None, 20, Unreadable("out_of_range")),
        ("not-authorized", TOPIC_AUTHORIZATION_FAILED, -1, -1, None, 3, Unreadable("not_authorized")),
        ("other-error", 6, -1, -1, None, 3, Unreadable("error")),
        # Empty below the high watermark: the response's byte budget ran out first.
        ("cut-by-response-limit", 0, 10, 0, b"", 3, Retry(3)),
        # Empty at the high watermark: the group caught up between requests.
        ("caught-up-meanwhile", 0, 3, 0, b"", 3, Unreadable("no_record")),
    ],
)
def test_partition_outcome(case, error, high_watermark, log_start, records, offset, expected):
    outcome = partition_outcome(
        offset,
        error=error,
        high_watermark=high_watermark,
        log_start=log_start,
        aborted=None,
        records=records,
    )
    assert outcome == expected, case


def test_requests_one_per_leader_and_layer():
    partitions = {("t", 0): Partition(1, (1,), (1,)), ("t", 1): Partition(2, (2,), (2,))}
    partitions[("t", 2)] = Partition(-1, (2,), ())
    keys = [(("t", 0), 5), (("t", 0), 9), (("t", 0), 12), (("t", 1), 3), (("t", 2), 1)]
    pending = {k: _Position(k[1], 1024) for k in keys}
    requests = _requests(partitions, pending)
    shapes = sorted(
        (leader, sorted((tp, key[1]) for tp, (key, _) in layer.items())) for leader, layer in requests
    )
    # Three groups at different offsets of t-0 take three requests; a leaderless partition none.
    assert shapes == [
        (1, [(("t", 0), 5)]),
        (1, [(("t", 0), 9)]),
        (1, [(("t", 0), 12)]),
        (2, [(("t", 1), 3)]),
    ]
