"""Topic configs the risk checks read, with DescribeConfigs: only the few keys needed."""

from collections.abc import Iterable

from aiokafka.protocol.admin import DescribeConfigsRequest

from broker_lag_exporter.sources.kafka.client import KafkaConnection, RequestError

TOPIC_RESOURCE = 2
TOPIC_KEYS = ("min.insync.replicas", "unclean.leader.election.enable")


async def fetch_topic_configs(
    conn: KafkaConnection, topics: Iterable[str], batch: int
) -> dict[str, dict[str, str]]:
    """Return the effective value of TOPIC_KEYS per topic (broker defaults included).

    Asking for named keys keeps each answer small; a failed batch or topic is
    counted and left out, so its checks are "could not evaluate", never "fine".
    """
    names = sorted(topics)
    configs: dict[str, dict[str, str]] = {}
    for start in range(0, len(names), batch):
        resources = [(TOPIC_RESOURCE, name, list(TOPIC_KEYS)) for name in names[start : start + batch]]
        try:
            response = await conn.send_any(DescribeConfigsRequest(resources), "describe_configs")
        except RequestError:
            continue
        for error, _message, _type, name, entries in response.resources:
            if error:
                conn.count_error("describe_configs")
                continue
            configs[name] = {entry[0]: entry[1] for entry in entries if entry[1] is not None}
    return configs
