"""Prometheus exporter that attributes Kafka consumer lag, leadership and risk to broker ids."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("broker-lag-exporter")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
