"""Which ACL the exporter's principal lacks, asked of the brokers only when a poll saw too little.

Kafka hides what a principal may not Describe: all-topics Metadata leaves such topics
out and ListGroups such groups, without an error. So when a poll sees no topic or no
group, or its DescribeConfigs failed, one named request tells an authorization
failure apart from an empty cluster (authorization is checked before existence).
"""

from aiokafka.protocol.admin import DescribeConfigsRequest
from aiokafka.protocol.commit import OffsetFetchRequest
from aiokafka.protocol.metadata import MetadataRequest

from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka.client import KafkaConnection

TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
TOPIC_RESOURCE = 2
# Exists once any group committed; asking for it by name is answered with 29 if denied.
PROBE_TOPIC = "__consumer_offsets"
PROBE_GROUP = "broker-lag-exporter-acl-probe"

# (operation, resource type) as `kafka-acls --operation X --topic|--group` names them.
ALL = (("Describe", "topic"), ("DescribeConfigs", "topic"), ("Describe", "group"))
TOPIC_DESCRIBE = ("Describe", "topic")
TOPIC_DESCRIBE_CONFIGS = ("DescribeConfigs", "topic")
GROUP_DESCRIBE = ("Describe", "group")


async def missing_acls(
    conn: KafkaConnection, *, topics_seen: int, groups_seen: int, configs_missing: list[str]
) -> frozenset[tuple[str, str]]:
    """Return the (operation, resource type) pairs the brokers deny, probing only what the poll suggests."""
    found: set[tuple[str, str]] = set()
    if topics_seen == 0 and await _topic_denied(conn):
        found.add(TOPIC_DESCRIBE)
    if configs_missing and await _configs_denied(conn, configs_missing[0]):
        found.add(TOPIC_DESCRIBE_CONFIGS)
    if groups_seen == 0 and await _group_denied(conn):
        found.add(GROUP_DESCRIBE)
    return frozenset(found)


def describe(missing: frozenset[tuple[str, str]], principal: str) -> str:
    """Return one sentence naming each missing ACL and the `kafka-acls` options that grant it."""
    pairs = sorted(missing)
    grants = " and ".join(f"--operation {op} --{kind} '*'" for op, kind in pairs)
    denied = ", ".join(f"{op} on {kind}s" for op, kind in pairs)
    return (
        f"the brokers deny {principal} {denied}: grant with kafka-acls --add --allow-principal "
        f"<principal> {grants} (docs/security.md#least-privilege-acls)"
    )


async def _topic_denied(conn: KafkaConnection) -> bool:
    try:
        response = await conn.send_any(
            MetadataRequest(topics=[PROBE_TOPIC], allow_auto_topic_creation=False), "acl_probe"
        )
    except SourceError:
        return False
    return any(topic[0] == TOPIC_AUTHORIZATION_FAILED for topic in response.topics)


async def _configs_denied(conn: KafkaConnection, topic: str) -> bool:
    try:
        response = await conn.send_any(
            DescribeConfigsRequest([(TOPIC_RESOURCE, topic, ["min.insync.replicas"])]), "acl_probe"
        )
    except SourceError:
        return False
    return any(resource[0] == TOPIC_AUTHORIZATION_FAILED for resource in response.resources)


async def _group_denied(conn: KafkaConnection) -> bool:
    try:
        response = await conn.send_any(OffsetFetchRequest(PROBE_GROUP, None), "acl_probe")
    except SourceError:
        return False
    return getattr(response, "error_code", 0) == GROUP_AUTHORIZATION_FAILED
