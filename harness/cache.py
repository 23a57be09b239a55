"""Where the harness keeps downloads and builds: outside the clone, reused across runs."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$BLE_CACHE_DIR`` or ``~/.cache/broker-lag-exporter``, created on demand."""
    path = Path(os.environ.get("BLE_CACHE_DIR") or Path.home() / ".cache" / "broker-lag-exporter")
    path.mkdir(parents=True, exist_ok=True)
    return path
