"""A raw Metadata v1 request and its decoder: no JVM and no client library, so polls are cheap."""

from __future__ import annotations

import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BrokerMetadata:
    """What one broker's Metadata (v1) response says: live brokers, controller, leaders."""

    brokers: Mapping[int, str]
    controller_id: int
    leaders: Mapping[tuple[str, int], int | None]


def _pack_str(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return bytes(buf)


class _Reader:
    """Big-endian cursor over a response body."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str | None:
        size = self.take(">h")
        if size < 0:
            return None
        text = self.data[self.pos : self.pos + size].decode()
        self.pos += size
        return text

    def int_array(self) -> list[int]:
        return [self.take(">i") for _ in range(self.take(">i"))]


def _parse_metadata_v1(body: bytes) -> BrokerMetadata:
    reader = _Reader(body)
    brokers: dict[int, str] = {}
    for _ in range(reader.take(">i")):
        node_id, host, port = reader.take(">i"), reader.string(), reader.take(">i")
        reader.string()  # rack
        brokers[node_id] = f"{host}:{port}"
    controller_id = reader.take(">i")
    leaders: dict[tuple[str, int], int | None] = {}
    for _ in range(reader.take(">i")):
        reader.take(">h")  # topic error code
        topic = reader.string() or ""
        reader.take(">b")  # is_internal
        for _ in range(reader.take(">i")):
            reader.take(">h")  # partition error code
            partition, leader = reader.take(">i"), reader.take(">i")
            reader.int_array()  # replicas
            reader.int_array()  # isr
            leaders[(topic, partition)] = leader if leader >= 0 else None
    return BrokerMetadata(brokers, controller_id, leaders)


def fetch_metadata(address: str, topics: Sequence[str] = (), *, timeout: float = 2.0) -> BrokerMetadata:
    """Send one Metadata v1 request to ``host:port`` (no topics unless named)."""
    host, port = address.rsplit(":", 1)
    body = struct.pack(">i", len(topics)) + b"".join(_pack_str(t) for t in topics)
    header = struct.pack(">hhi", 3, 1, 1) + _pack_str("ble-harness")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        response = _recv_exact(sock, size)
    return _parse_metadata_v1(response[4:])  # skip the correlation id


def probe(address: str, topics: Sequence[str] = ()) -> BrokerMetadata | None:
    """Like :func:`fetch_metadata`, but None while the broker is not answering."""
    try:
        return fetch_metadata(address, topics)
    except (OSError, struct.error):
        return None
