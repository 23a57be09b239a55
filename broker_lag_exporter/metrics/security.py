"""How the exporter itself is secured, for alerts on an unsafe deployment."""

from collections.abc import Iterable

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from broker_lag_exporter.config.sections import KafkaOptions
from broker_lag_exporter.metrics.families import Families

SECURITY = ("broker_lag_exporter_kafka_tls_verification_disabled",)


def security_metrics(kafka: KafkaOptions) -> Families:
    """Return whether the brokers' certificates go unverified."""
    out = Families(SECURITY)
    insecure = kafka.security_protocol.endswith("SSL") and kafka.ssl_insecure_skip_verify
    out.add("broker_lag_exporter_kafka_tls_verification_disabled", (), int(insecure))
    return out


class SecurityCollector(Collector):
    """Renders the security families from the options (they change only with a restart)."""

    def __init__(self, kafka: KafkaOptions) -> None:
        self._kafka = kafka

    def collect(self) -> Iterable[Metric]:
        """Yield the security families."""
        yield from security_metrics(self._kafka)
