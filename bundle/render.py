"""Every generated file of the bundle, as path -> text."""

import json
import re
from pathlib import Path
from typing import Any

import yaml

from bundle import alert_config, config_doc, metrics_doc, policies, site
from bundle.alerts import RULES_FILE, RULES_TESTS, load_groups
from bundle.dashboards import DASHBOARDS

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_DIR = ROOT / "dashboards"
DEPLOY_DIR = ROOT / "deploy"
BASE_DIR = DEPLOY_DIR / "base"
RBAC = DEPLOY_DIR / "rbac.yaml"
PROMETHEUS_RULE = BASE_DIR / "prometheusrule.yaml"
CHART_DIR = DEPLOY_DIR / "helm" / "broker-lag-exporter"
KUSTOMIZATION = BASE_DIR / "kustomization.yaml"
_RUNBOOK_URL = re.compile(r"^(\s*runbook_url: )\S+?(#[a-z0-9-]+)$", re.MULTILINE)
# The image block's fields of the chart's values.yaml (two-space indented under `image:`).
_CHART_IMAGE = re.compile(r"^(  (registry|repository|tag): ).*$", re.MULTILINE)
_IMAGE = re.compile(r"^(  - name: broker-lag-exporter\n    newName: )\S+(\n    newTag: )\S+$", re.MULTILINE)


class _BlockStyleDumper(yaml.SafeDumper):
    """Dump multi-line strings (PromQL, descriptions) as `|` blocks, as a person would write them."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockStyleDumper.add_representer(str, _str)


def dashboard_files() -> dict[Path, str]:
    """Return the dashboards/ JSON files."""
    return {
        DASHBOARD_DIR / name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def prometheus_rule() -> dict[str, Any]:
    """Return the PrometheusRule resource holding the groups of alerts/."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "broker-lag-exporter",
            "labels": {"app.kubernetes.io/name": "broker-lag-exporter"},
        },
        # The rules as this run writes them (site.py's runbook base), not as they were on disk.
        "spec": {"groups": yaml.safe_load(site_files()[RULES_FILE])["groups"]},
    }


def deploy_files() -> dict[Path, str]:
    """Return the copies kustomize needs inside deploy/base (it reads no file outside its root)."""
    body = yaml.dump(prometheus_rule(), Dumper=_BlockStyleDumper, sort_keys=False, width=110)
    files = {
        PROMETHEUS_RULE: _generated_from(RULES_FILE) + body,
        BASE_DIR / "rbac.yaml": _generated_from(RBAC) + RBAC.read_text(),
    }
    for path, text in dashboard_files().items():
        files[BASE_DIR / "dashboards" / path.name] = text
    return files


def chart_files() -> dict[Path, str]:
    """Return the copies the Helm chart reads with .Files (a chart reads no file outside itself)."""
    groups = yaml.dump({"groups": load_groups()}, Dumper=_BlockStyleDumper, sort_keys=False, width=110)
    files = {CHART_DIR / "files" / "rules.yaml": _generated_from(RULES_FILE) + groups}
    for path, text in dashboard_files().items():
        files[CHART_DIR / "files" / "dashboards" / path.name] = text
    for path, text in policy_files().items():
        if path.parent.name == "policies" and path.name != "kustomization.yaml":
            files[CHART_DIR / "files" / "policies" / path.name] = text
    return files


def _generated_from(source: Path) -> str:
    return f"# Generated from {source.relative_to(ROOT)} by `python -m bundle`: edit that file.\n"


def site_files() -> dict[Path, str]:
    """Return the hand-written files with bundle/site.py's image and runbook base written in.

    The rules also get their generated parts from alerts/config.yaml.
    """
    texts = {RULES_FILE: alert_config.render(RULES_FILE.read_text(), alert_config.load_config())}
    texts[RULES_TESTS] = RULES_TESTS.read_text()
    files = {
        path: _RUNBOOK_URL.sub(lambda m: f"{m[1]}{site.RUNBOOK_BASE}{m[2]}", text)
        for path, text in texts.items()
    }
    # The sharded overlay adds a StatefulSet the base's images entry does not reach: it names the image too.
    for kustomization in (KUSTOMIZATION, DEPLOY_DIR / "overlays" / "sharded" / "kustomization.yaml"):
        files[kustomization] = _IMAGE.sub(
            lambda m: f"{m[1]}{site.image()}{m[2]}{site.IMAGE_TAG}", kustomization.read_text()
        )
    values = CHART_DIR / "values.yaml"
    image = {"registry": site.IMAGE_REGISTRY, "repository": site.IMAGE_REPOSITORY, "tag": site.IMAGE_TAG}
    files[values] = _CHART_IMAGE.sub(lambda m: f'{m[1]}"{image[m[2]]}"', values.read_text())
    return files


def doc_files() -> dict[Path, str]:
    """Return the references generated from the metric catalogue and the options sections."""
    return {
        ROOT / "docs" / "metrics.md": metrics_doc.render(),
        ROOT / "docs" / "configuration.md": config_doc.render(),
    }


def policy_files() -> dict[Path, str]:
    """Return deploy/policies/ and its deny overlay: the admission policies for the default settings."""
    return {DEPLOY_DIR / name: text for name, text in policies.files(*policies.defaults()).items()}


def render() -> dict[Path, str]:
    """Return every generated file."""
    return site_files() | dashboard_files() | deploy_files() | chart_files() | doc_files() | policy_files()
