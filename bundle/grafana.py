"""Small builders for Grafana dashboard JSON: panels, targets, variables and layout.

Every panel uses the `$datasource` variable, carries a description, a unit and thresholds
(Grafana's implicit ones paint any value above 80 red), and every selector is scoped by
`$cluster`, `$job` and `$instance`: the rules of grafana/dashboard-linter, which
tests/unit/bundle/test_dashboards.py re-implements, plus our own.

The cluster variable reads a target label (`cluster` unless `python -m bundle --cluster-label
NAME` says otherwise, as monitoring mixins take `clusterLabel`): aggregations keep it, so
broker 0 of two clusters never adds up into one series.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
DATASOURCE: JSON = {"type": "prometheus", "uid": "${datasource}"}
TAG = "broker-lag-exporter"
GRID_WIDTH = 24
DEFAULT_CLUSTER_LABEL = "cluster"
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_cluster_label = [DEFAULT_CLUSTER_LABEL]


def set_cluster_label(name: str) -> None:
    """Use another target label for the cluster variable (before building dashboards)."""
    if not _LABEL.fullmatch(name):
        raise ValueError(f"not a Prometheus label name: {name!r}")
    _cluster_label[0] = name


def cluster_label() -> str:
    """Return the target label that tells clusters apart."""
    return _cluster_label[0]


def scope() -> str:
    """Return the matchers of the cluster, job and instance variables."""
    return f'{cluster_label()}=~"$cluster", job=~"$job", instance=~"$instance"'


def sel(metric: str, *matchers: str) -> str:
    """Return a selector scoped by the cluster, job and instance variables (plus extra matchers)."""
    return f"{metric}{{{', '.join((scope(), *matchers))}}}"


def on(*labels: str) -> str:
    """Return `on (CLUSTER, labels...)`: a join never matches series of two clusters."""
    return f"on ({', '.join((cluster_label(), *labels))})"


def by(*labels: str) -> str:
    """Return `by (CLUSTER, labels...)`: per-broker sums stay per cluster."""
    return f"by ({', '.join((cluster_label(), *labels))})"


def steps(base: str, *levels: tuple[float, str]) -> JSON:
    """Return absolute thresholds: `base` color below the first level, then each level's color."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}, *({"color": c, "value": v} for v, c in levels)],
    }


# Plain counts and sizes: no color judgement (Grafana's default would turn 80 and above red).
NEUTRAL = steps("text")


@dataclass(frozen=True)
class Query:
    """One target: an expression, its legend, and whether it is instant (tables always are)."""

    expr: str
    legend: str = ""
    table: bool = False
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    """A panel before layout: `width` of 24 columns, `height` in grid rows."""

    kind: str
    title: str
    description: str
    unit: str
    queries: Sequence[Query]
    width: int = 12
    height: int = 8
    options: JSON = field(default_factory=dict)
    defaults: JSON = field(default_factory=dict)
    transformations: Sequence[JSON] = ()
    overrides: Sequence[JSON] = ()


def _target(query: Query, ref: str) -> JSON:
    target: JSON = {"refId": ref, "datasource": DATASOURCE, "expr": query.expr}
    if query.table:
        target |= {"instant": True, "range": False, "format": "table"}
    elif query.instant:
        target |= {"instant": True, "range": False, "format": "time_series"}
    else:
        target |= {"instant": False, "range": True, "format": "time_series"}
    if query.legend:
        target["legendFormat"] = query.legend
    return target


def _render(panel: Panel, panel_id: int, x: int, y: int) -> JSON:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {
            "defaults": {"unit": panel.unit, "thresholds": NEUTRAL, **panel.defaults},
            "overrides": list(panel.overrides),
        },
        "options": panel.options,
        "targets": [_target(q, chr(ord("A") + i)) for i, q in enumerate(panel.queries)],
        "transformations": list(panel.transformations),
    }


def layout(items: Iterable[Panel]) -> list[JSON]:
    """Place panels left to right, wrapping at 24 columns."""
    out: list[JSON] = []
    x = y = line_height = 0
    for panel_id, item in enumerate(items, start=1):
        if x + item.width > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        out.append(_render(item, panel_id, x, y))
        x += item.width
        line_height = max(line_height, item.height)
    return out


def datasource_variable() -> JSON:
    """Return the Prometheus data source variable: file provisioning and sidecars need no input."""
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_variable(
    name: str, query: str, *, label: str | None = None, multi: bool = True, all_value: str = ".+"
) -> JSON:
    """Return a label_values() variable refreshed on time range change."""
    variable: JSON = {
        "name": name,
        "label": label or name.capitalize(),
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "sort": 3 if name == "broker_id" else 1,
        "regex": "",
        "hide": 0,
        "multi": multi,
        "includeAll": multi,
        "options": [],
        "current": {},
    }
    if multi:
        variable |= {"allValue": all_value, "current": {"text": ["All"], "value": ["$__all"]}}
    return variable


def scope_variables() -> list[JSON]:
    """Return the data source, cluster, job and instance variables every dashboard starts with."""
    label = cluster_label()
    return [
        datasource_variable(),
        # ".*" rather than ".+": with no such target label, "All" still matches every series.
        query_variable("cluster", f"label_values(broker_lag_exporter_build_info, {label})", all_value=".*"),
        query_variable("job", f'label_values(broker_lag_exporter_build_info{{{label}=~"$cluster"}}, job)'),
        query_variable(
            "instance",
            f'label_values(broker_lag_exporter_build_info{{{label}=~"$cluster", job=~"$job"}}, instance)',
        ),
    ]


def dashboard(uid: str, title: str, description: str, variables: list[JSON], panels: list[JSON]) -> JSON:
    """Return a complete dashboard that imports, provisions and sidecar-loads the same way."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["kafka", TAG],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "schemaVersion": 39,
        "version": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "title": "broker-lag-exporter",
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": variables},
        "panels": panels,
    }
