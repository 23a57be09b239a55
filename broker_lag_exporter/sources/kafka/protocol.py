"""Kafka requests aiokafka 0.14 lacks, declared with aiokafka's own protocol types.

ConsumerGroupDescribe (API 69, KIP-848): DescribeGroups cannot see groups that
use the new consumer protocol, so their state and members come from here.
"""

from io import BytesIO
from typing import Any, ClassVar

from aiokafka.protocol.abstract import AbstractType
from aiokafka.protocol.admin import (
    DescribeGroupsRequest_v0,
    DescribeGroupsRequest_v1,
    DescribeGroupsRequest_v2,
)
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactString,
    Int8,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)


class Uuid(AbstractType[bytes]):
    """A 16-byte UUID, as Kafka encodes topic ids."""

    @classmethod
    def encode(cls, value: bytes) -> bytes:
        """Return the raw 16 bytes."""
        return value

    @classmethod
    def decode(cls, data: BytesIO) -> bytes:
        """Read 16 bytes."""
        value = data.read(16)
        if len(value) != 16:
            raise ValueError("Buffer underrun decoding UUID")
        return value


_S = CompactString("utf-8")
_ASSIGNMENT = Schema(
    (
        "topic_partitions",
        CompactArray(
            ("topic_id", Uuid),
            ("topic_name", _S),
            ("partitions", CompactArray(Int32)),
            ("tags", TaggedFields),
        ),
    ),
    ("tags", TaggedFields),
)
_MEMBER_V0: tuple[tuple[str, Any], ...] = (
    ("member_id", _S),
    ("instance_id", _S),
    ("rack_id", _S),
    ("member_epoch", Int32),
    ("client_id", _S),
    ("client_host", _S),
    ("subscribed_topic_names", CompactArray(_S)),
    ("subscribed_topic_regex", _S),
    ("assignment", _ASSIGNMENT),
    ("target_assignment", _ASSIGNMENT),
)


def _response_schema(member: tuple[tuple[str, Any], ...]) -> Schema:
    return Schema(
        ("throttle_time_ms", Int32),
        (
            "groups",
            CompactArray(
                ("error_code", Int16),
                ("error_message", _S),
                ("group_id", _S),
                ("group_state", _S),
                ("group_epoch", Int32),
                ("assignment_epoch", Int32),
                ("assignor_name", _S),
                ("members", CompactArray(*member, ("tags", TaggedFields))),
                ("authorized_operations", Int32),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class ConsumerGroupDescribeResponse_v0(Response):  # noqa: N801 - Kafka's version naming
    """Response v0."""

    API_KEY = 69
    API_VERSION = 0
    SCHEMA = _response_schema(_MEMBER_V0)


class ConsumerGroupDescribeResponse_v1(Response):  # noqa: N801
    """Response v1: members carry their type (classic or consumer)."""

    API_KEY = 69
    API_VERSION = 1
    SCHEMA = _response_schema((*_MEMBER_V0, ("member_type", Int8)))


_REQUEST_SCHEMA = Schema(
    ("group_ids", CompactArray(_S)),
    ("include_authorized_operations", Boolean),
    ("tags", TaggedFields),
)


class ConsumerGroupDescribeRequest_v0(RequestStruct):  # noqa: N801
    """Request v0."""

    FLEXIBLE_VERSION = True
    API_KEY = 69
    API_VERSION = 0
    RESPONSE_TYPE = ConsumerGroupDescribeResponse_v0
    SCHEMA = _REQUEST_SCHEMA


class ConsumerGroupDescribeRequest_v1(RequestStruct):  # noqa: N801
    """Request v1."""

    FLEXIBLE_VERSION = True
    API_KEY = 69
    API_VERSION = 1
    RESPONSE_TYPE = ConsumerGroupDescribeResponse_v1
    SCHEMA = _REQUEST_SCHEMA


class ConsumerGroupDescribeRequest(
    Request[ConsumerGroupDescribeRequest_v0 | ConsumerGroupDescribeRequest_v1]
):
    """Describe KIP-848 consumer groups by id."""

    API_KEY: ClassVar[int] = 69

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[Any]) -> Any:
        """Build the struct of the negotiated version."""
        return request_struct_class(self._groups, False, {})


class DescribeGroupsRequest(
    Request[DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2]
):
    """DescribeGroups capped at v2.

    aiokafka 0.14 parses v3 answers with the v2 schema, which drops each group's
    authorized_operations and misreads every group after the first.
    """

    API_KEY: ClassVar[int] = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[Any]) -> Any:
        """Build the struct of the negotiated version."""
        return request_struct_class(self._groups)


_OFFSET_FETCH_RESPONSE_V8 = Schema(
    ("throttle_time_ms", Int32),
    (
        "groups",
        CompactArray(
            ("group_id", _S),
            (
                "topics",
                CompactArray(
                    ("name", _S),
                    (
                        "partitions",
                        CompactArray(
                            ("partition_index", Int32),
                            ("committed_offset", Int64),
                            ("committed_leader_epoch", Int32),
                            ("metadata", _S),
                            ("error_code", Int16),
                            ("tags", TaggedFields),
                        ),
                    ),
                    ("tags", TaggedFields),
                ),
            ),
            ("error_code", Int16),
            ("tags", TaggedFields),
        ),
    ),
    ("tags", TaggedFields),
)


class OffsetFetchResponse_v8(Response):  # noqa: N801
    """Response v8: committed offsets of many groups."""

    API_KEY = 9
    API_VERSION = 8
    SCHEMA = _OFFSET_FETCH_RESPONSE_V8


class OffsetFetchRequest_v8(RequestStruct):  # noqa: N801
    """Request v8 (KIP-709): many groups in one request; null topics means all."""

    FLEXIBLE_VERSION = True
    API_KEY = 9
    API_VERSION = 8
    RESPONSE_TYPE = OffsetFetchResponse_v8
    SCHEMA = Schema(
        (
            "groups",
            CompactArray(
                ("group_id", _S),
                (
                    "topics",
                    CompactArray(
                        ("name", _S), ("partition_indexes", CompactArray(Int32)), ("tags", TaggedFields)
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("require_stable", Boolean),
        ("tags", TaggedFields),
    )


class OffsetFetchGroupsRequest(Request[OffsetFetchRequest_v8]):
    """Committed offsets of many groups at once, all partitions each.

    aiokafka only knows OffsetFetch up to v3, one group per request: with
    hundreds of groups that is hundreds of requests per poll.
    """

    API_KEY: ClassVar[int] = 9

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[Any]) -> Any:
        """Build the v8 struct."""
        return request_struct_class([(g, None, {}) for g in self._groups], False, {})
