"""Prometheus exporter that attributes Kafka consumer lag, leadership and risk to broker ids."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("broker-lag-exporter")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# The image build writes the source revision next to this file (Dockerfile, REVISION build argument).
_REVISION = Path(__file__).with_name("REVISION")
__revision__ = _REVISION.read_text().strip() if _REVISION.is_file() else "unknown"
