"""alerts/config.yaml: the selectors and thresholds the generated parts of the shipped rules use.

`python -m bundle.alert_config [--config FILE] [--rules FILE]` prints a rules file with the
generated parts rendered from another config: the way monitoring mixins are tuned, not patched.
"""

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bundle import site
from bundle.alerts import ROOT, RULES_FILE

CONFIG_FILE = ROOT / "alerts" / "config.yaml"
_REGION = re.compile(
    r"^(?P<indent> *)# BEGIN generated: (?P<name>[a-z-]+)\n.*?^(?P=indent)# END generated\n",
    re.MULTILINE | re.DOTALL,
)
_DURATION = r"^\d+[smhd]$"


class Thresholds(BaseModel):
    """A default threshold and the groups that have their own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: float = Field(gt=0)
    groups: dict[str, float] = Field(default_factory=dict)


class AlertConfig(BaseModel):
    """Every setting of alerts/config.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    selector: str = Field('job=~".*broker-lag-exporter.*"', min_length=1)
    exporter_absent_for: str = Field("10m", pattern=_DURATION)
    group_lag_messages: Thresholds = Thresholds(default=100000)
    group_lag_seconds: Thresholds = Thresholds(default=900)


def load_config(path: Path = CONFIG_FILE) -> AlertConfig:
    """Read and validate a config file; raise ValueError naming every problem."""
    try:
        return AlertConfig.model_validate(yaml.safe_load(path.read_text()) or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{path}: {problems}") from None


def _number(value: float) -> str:
    return f"{value:g}"


def threshold_expr(metric: str, thresholds: Thresholds) -> str:
    """Return PromQL giving each group its threshold: its own where set, else the default."""
    terms = [
        f'label_replace(vector({_number(v)}), "group", "{_escape(group)}", "", "")'
        for group, v in sorted(thresholds.groups.items())
    ]
    terms.append(f"max by (group) ({metric}) * 0 + {_number(thresholds.default)}")
    return "\n  or ".join(terms)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def regions(config: AlertConfig) -> Mapping[str, list[dict[str, object]]]:
    """Return the rules of each generated region."""
    up = f"up{{{config.selector}}}"
    return {
        "exporter-presence": [
            {
                "alert": "BrokerLagExporterAbsent",
                "expr": f"absent({up} == 1)",
                "for": config.exporter_absent_for,
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": "No broker-lag-exporter is up",
                    "description": (
                        f"No scrape target matching {config.selector} has been up for "
                        f"{config.exporter_absent_for}: the exporter never started, is Pending or "
                        "crash-looping, or Prometheus does not scrape it. Every lag, leadership and "
                        "risk alert is blind."
                    ),
                    "runbook_url": f"{site.RUNBOOK_BASE}#brokerlagexporterabsent",
                },
            },
            {
                "alert": "BrokerLagExporterDown",
                "expr": f"{up} == 0",
                "for": "5m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": "broker-lag-exporter {{ $labels.instance }} is down",
                    "description": (
                        "Prometheus has failed to scrape broker-lag-exporter at {{ $labels.instance }} "
                        "(job {{ $labels.job }}) for 5 minutes: every lag, leadership and risk alert of "
                        "its cluster is blind."
                    ),
                    "runbook_url": f"{site.RUNBOOK_BASE}#brokerlagexporterdown",
                },
            },
        ],
        "group-thresholds": [
            {
                "record": "group:kafka_group_lag_messages:threshold",
                "expr": threshold_expr("kafka_group_lag_messages", config.group_lag_messages),
            },
            {
                "record": "group:kafka_group_lag_seconds:threshold",
                "expr": threshold_expr("kafka_group_lag_seconds", config.group_lag_seconds),
            },
        ],
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, like the hand-written rules."""


_Dumper.add_representer(
    str,
    lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None),
)


def render(text: str, config: AlertConfig) -> str:
    """Return the rules text with every generated region rendered from the config."""
    generated = regions(config)

    def region(m: re.Match[str]) -> str:
        indent, name = m["indent"], m["name"]
        body = yaml.dump(generated[name], Dumper=_Dumper, sort_keys=False, width=10_000)
        lines = "".join(f"{indent}{line}\n" if line else "\n" for line in body.splitlines())
        return f"{indent}# BEGIN generated: {name}\n{lines}{indent}# END generated\n"

    found = {m["name"] for m in _REGION.finditer(text)}
    if found != set(generated):
        raise ValueError(f"the rules hold generated regions {sorted(found)}, expected {sorted(generated)}")
    return _REGION.sub(region, text)


def main(argv: list[str]) -> int:
    """Print the rules with their generated regions rendered from a config."""
    parser = argparse.ArgumentParser(prog="python -m bundle.alert_config", description=__doc__)
    parser.add_argument("--config", type=Path, default=CONFIG_FILE, help="config file")
    parser.add_argument("--rules", type=Path, default=RULES_FILE, help="rules file to render")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(render(args.rules.read_text(), load_config(args.config)))
    except (OSError, ValueError) as exc:
        print(f"bundle.alert_config: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
