"""Kafka source: metadata, end offsets and consumer groups over the Kafka protocol."""

from broker_lag_exporter.sources.kafka.source import KafkaSource

__all__ = ["KafkaSource"]
