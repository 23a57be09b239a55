"""Topic configs the risk checks read, with DescribeConfigs: only the few keys needed."""

from collections.abc import Iterable

from aiokafka.protocol.admin import DescribeConfigsRequest

from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka.client import KafkaConnection

TOPIC_RESOURCE = 2
TOPIC_KEYS = ("min.insync.replicas", "unclean.leader.election.enable")


async def fetch_topic_configs(
    conn: KafkaConnection,
    topics: Iterable[str],
    batch: int,
    into: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Return the effective value of TOPIC_KEYS per topic (broker defaults included).

    Asking for named keys keeps each answer small; a failed batch or topic is
    counted and left out, so its checks are "could not evaluate", never "fine".
    Never raises for a broker's failure: only the risk checks need configs.
    Answers land in `into` as they come, so a caller's deadline keeps them.
    """
    names = sorted(topics)
    configs: dict[str, dict[str, str]] = {} if into is None else into
    for start in range(0, len(names), batch):
        chunk = names[start : start + batch]
        resources = [(TOPIC_RESOURCE, name, list(TOPIC_KEYS)) for name in chunk]
        try:
            response = await conn.send_any(DescribeConfigsRequest(resources), "describe_configs")
        except SourceError:
            # Every broker failed (each failure already counted by send): count the topics missed.
            conn.count_error("describe_configs", len(chunk))
            continue
        for error, _message, _type, name, entries in response.resources:
            if error:
                conn.count_error("describe_configs")
                continue
            configs[name] = {entry[0]: entry[1] for entry in entries if entry[1] is not None}
    return configs
