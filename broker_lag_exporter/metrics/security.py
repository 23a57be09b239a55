"""How the exporter itself is secured, for alerts on an unsafe deployment."""

from collections.abc import Callable, Iterable

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from broker_lag_exporter.config.sections import KafkaOptions
from broker_lag_exporter.metrics.families import Families
from broker_lag_exporter.model.kafka import KafkaSnapshot

SECURITY = ("broker_lag_exporter_kafka_tls_verification_disabled", "broker_lag_exporter_kafka_acl_missing")
# Every ACL the exporter needs, so a granted one exports 0 rather than nothing.
NEEDED_ACLS = (("Describe", "topic"), ("DescribeConfigs", "topic"), ("Describe", "group"))


def security_metrics(kafka: KafkaOptions, snapshot: KafkaSnapshot | None) -> Families:
    """Return whether the brokers' certificates go unverified and which ACLs the brokers deny."""
    out = Families(SECURITY)
    insecure = kafka.security_protocol.endswith("SSL") and kafka.ssl_insecure_skip_verify
    out.add("broker_lag_exporter_kafka_tls_verification_disabled", (), int(insecure))
    if snapshot is not None:
        for acl in NEEDED_ACLS:
            out.add("broker_lag_exporter_kafka_acl_missing", acl, int(acl in snapshot.missing_acls))
    return out


class SecurityCollector(Collector):
    """Renders the security families from the options and the latest Kafka snapshot."""

    def __init__(self, kafka: KafkaOptions, latest: Callable[[], KafkaSnapshot | None]) -> None:
        self._kafka = kafka
        self._latest = latest

    def collect(self) -> Iterable[Metric]:
        """Yield the security families."""
        yield from security_metrics(self._kafka, self._latest())
