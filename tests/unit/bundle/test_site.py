"""bundle/site.py is the one place naming the image and the runbooks: no other name ships."""

import re

import yaml

from bundle import site
from bundle.alerts import alerts
from bundle.render import KUSTOMIZATION, PROMETHEUS_RULE, ROOT, render

# Files a user deploys or reads; the organisation they once named does not exist.
SHIPPED = ["README.md", "docs", "deploy", "alerts", "dashboards", "bundle"]


def test_kustomize_runs_the_image_site_names():
    (entry,) = yaml.safe_load(KUSTOMIZATION.read_text())["images"]
    assert entry == {"name": "broker-lag-exporter", "newName": site.image(), "newTag": site.IMAGE_TAG}


def test_every_runbook_url_starts_with_the_site_base():
    assert all(a.annotations["runbook_url"].startswith(site.RUNBOOK_BASE + "#") for a in alerts())
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text().split("\n", 1)[1])
    urls = [
        r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r
    ]
    assert urls
    assert all(u.startswith(site.RUNBOOK_BASE + "#") for u in urls)


def test_changing_site_rewrites_image_and_runbooks(monkeypatch):
    monkeypatch.setattr(site, "IMAGE_REGISTRY", "registry.corp.test/kafka")
    monkeypatch.setattr(site, "RUNBOOK_BASE", "https://wiki.corp.test/kafka/runbooks")
    files = render()
    assert "newName: registry.corp.test/kafka/broker-lag-exporter" in files[KUSTOMIZATION]
    text = files[PROMETHEUS_RULE]
    assert "runbook_url: https://wiki.corp.test/kafka/runbooks#brokerlagexporterdown" in text
    assert "runbooks.example.com" not in text


def test_no_placeholder_organisation_ships():
    for top in SHIPPED:
        path = ROOT / top
        files = (
            [path]
            if path.is_file()
            else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        )
        for f in files:
            text = f.read_text(errors="ignore")
            assert not re.search(r"(ghcr\.io|github\.com)/broker-lag-exporter", text), f
