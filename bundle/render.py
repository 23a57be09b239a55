"""Every generated file of the bundle, as path -> text."""

import json
from pathlib import Path

from bundle.dashboards import DASHBOARDS

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_DIR = ROOT / "dashboards"


def dashboard_files() -> dict[Path, str]:
    """Return the dashboards/ JSON files."""
    return {
        DASHBOARD_DIR / name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def render() -> dict[Path, str]:
    """Return every generated file."""
    return dashboard_files()
