"""The shipped dashboards: grafana/dashboard-linter's rules re-implemented, plus our own."""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from broker_lag_exporter.metrics.catalogue import sample_names
from bundle.dashboards import DASHBOARDS
from bundle.promql import PROMETHEUS_GENERATED, selectors
from bundle.render import DASHBOARD_DIR, dashboard_files

Json = dict[str, Any]
BOARDS: dict[str, Json] = {name: json.loads((DASHBOARD_DIR / name).read_text()) for name in DASHBOARDS}
# grafana/dashboard-linter's list, the part a Kafka dashboard may need.
VALID_UNITS = {
    "none", "short", "percent", "percentunit", "bytes", "decbytes", "s", "ms", "dtdurations",
    "ops", "reqps", "cps", "bool", "bool_yes_no", "bool_on_off", "dateTimeAsIso", "dateTimeFromNow",
}  # fmt: skip
PANELS_WITH_UNITS = {"stat", "singlestat", "graph", "table", "timeseries", "gauge", "bargauge"}
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__field", "__url_time_range", "__all"}
DATASOURCE_UIDS = {"$datasource", "${datasource}"}


def _panels(board: Json) -> Iterator[Json]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _query_panels(board: Json) -> Iterator[Json]:
    return (p for p in _panels(board) if p["type"] != "row")


def _targets() -> Iterator[tuple[str, str, Json]]:
    for name, board in BOARDS.items():
        for panel in _query_panels(board):
            for target in panel["targets"]:
                yield name, panel["title"], target


TARGETS = list(_targets())
TARGET_IDS = [f"{name}:{title}:{t['refId']}" for name, title, t in TARGETS]
BOARD_IDS = list(BOARDS)


def _variables(board: Json) -> dict[str, Json]:
    return {v["name"]: v for v in board["templating"]["list"]}


def test_dashboards_are_generated_from_code_and_up_to_date() -> None:
    for path, text in dashboard_files().items():
        assert path.read_text() == text, f"{path.name} is stale: run `python -m bundle`"
    assert sorted(p.name for p in DASHBOARD_DIR.glob("*.json")) == sorted(DASHBOARDS)


def test_uids_and_titles_are_unique() -> None:
    assert len({b["uid"] for b in BOARDS.values()}) == len(BOARDS)
    assert len({b["title"] for b in BOARDS.values()}) == len(BOARDS)


# ---- dashboard-linter: template rules


@pytest.mark.parametrize("name", BOARD_IDS)
def test_template_datasource_rule(name: str) -> None:
    board = BOARDS[name]
    datasources = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert len(datasources) == 1
    (ds,) = datasources
    assert (ds["name"], ds["label"], ds["query"]) == ("datasource", "Data source", "prometheus")
    # Import-dialog-only inputs break file provisioning and the Helm sidecar.
    text = json.dumps(board)
    assert "__inputs" not in board
    assert "${DS_" not in text


@pytest.mark.parametrize("name", BOARD_IDS)
@pytest.mark.parametrize("variable", ["job", "instance"])
def test_template_job_and_instance_rules(name: str, variable: str) -> None:
    template = _variables(BOARDS[name])[variable]
    assert template["datasource"]["uid"] in DATASOURCE_UIDS
    assert template["type"] == "query"
    assert template["label"] == variable.capitalize()
    assert template["multi"] is True
    assert template["allValue"] == ".+"


@pytest.mark.parametrize("name", BOARD_IDS)
def test_template_label_promql_rule(name: str) -> None:
    for template in BOARDS[name]["templating"]["list"]:
        if template["type"] != "query":
            continue
        match = re.fullmatch(r"([a-z_]+)\((.+)\)", template["query"])
        assert match, template["query"]
        assert match.group(1) in {"label_names", "label_values", "metrics", "query_result"}
        inner = match.group(2).rsplit(",", 1)[0] if match.group(1) == "label_values" else match.group(2)
        assert selectors(inner), inner
        assert {s.name for s in selectors(inner)} <= sample_names()


@pytest.mark.parametrize("name", BOARD_IDS)
def test_template_on_time_change_reload_rule(name: str) -> None:
    for template in BOARDS[name]["templating"]["list"]:
        if template["type"] == "query":
            assert template["refresh"] == 2, template["name"]


# ---- dashboard-linter: panel rules


@pytest.mark.parametrize("name", BOARD_IDS)
def test_panel_datasource_rule(name: str) -> None:
    for panel in _query_panels(BOARDS[name]):
        assert panel["datasource"]["uid"] in DATASOURCE_UIDS, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in DATASOURCE_UIDS, panel["title"]


@pytest.mark.parametrize("name", BOARD_IDS)
def test_panel_title_description_rule(name: str) -> None:
    for panel in _query_panels(BOARDS[name]):
        assert panel["title"].strip()
        assert len(panel["description"].strip()) > 20, panel["title"]


@pytest.mark.parametrize("name", BOARD_IDS)
def test_panel_units_rule(name: str) -> None:
    for panel in _query_panels(BOARDS[name]):
        if panel["type"] in PANELS_WITH_UNITS:
            assert panel["fieldConfig"]["defaults"].get("unit") in VALID_UNITS, panel["title"]


@pytest.mark.parametrize("name", BOARD_IDS)
def test_panel_no_targets_rule(name: str) -> None:
    for panel in _query_panels(BOARDS[name]):
        assert panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])


# ---- dashboard-linter: target rules


@pytest.mark.parametrize(("name", "title", "target"), TARGETS, ids=TARGET_IDS)
def test_target_promql_rule(name: str, title: str, target: Json) -> None:
    assert selectors(target["expr"]), "parses and selects something"


@pytest.mark.parametrize(("name", "title", "target"), TARGETS, ids=TARGET_IDS)
def test_target_rate_interval_rule(name: str, title: str, target: Json) -> None:
    for selector in selectors(target["expr"]):
        if selector.function in {"rate", "irate"}:
            assert selector.range == "$__rate_interval", selector
        elif selector.range is not None:
            assert selector.range in {"$__rate_interval", "$__range"}, "no hard-coded ranges"


@pytest.mark.parametrize(("name", "title", "target"), TARGETS, ids=TARGET_IDS)
@pytest.mark.parametrize("label", ["job", "instance"])
def test_target_job_and_instance_rules(name: str, title: str, target: Json, label: str) -> None:
    for selector in selectors(target["expr"]):
        assert selector.matcher(label) == ("=~", f"${label}"), selector


@pytest.mark.parametrize(("name", "title", "target"), TARGETS, ids=TARGET_IDS)
def test_target_counter_agg_rule(name: str, title: str, target: Json) -> None:
    for selector in selectors(target["expr"]):
        if (selector.name or "").endswith("_total"):
            assert selector.function in {"rate", "irate", "increase"}, selector
            assert selector.range is not None, selector


# ---- ours: metrics, variables, layout, links


@pytest.mark.parametrize(("name", "title", "target"), TARGETS, ids=TARGET_IDS)
def test_every_metric_exists_in_the_catalogue(name: str, title: str, target: Json) -> None:
    names = {s.name for s in selectors(target["expr"])}
    assert None not in names
    assert names <= sample_names() | PROMETHEUS_GENERATED, names - sample_names()


@pytest.mark.parametrize("name", BOARD_IDS)
def test_every_variable_used_is_defined(name: str) -> None:
    board = BOARDS[name]
    defined = set(_variables(board)) | BUILTIN_VARIABLES
    used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", json.dumps(board["panels"])))
    used |= set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", json.dumps(board["templating"])))
    assert used <= defined, used - defined


@pytest.mark.parametrize("name", BOARD_IDS)
def test_layout_fits_the_grid_without_overlaps(name: str) -> None:
    taken: set[tuple[int, int]] = set()
    ids = [p["id"] for p in _panels(BOARDS[name])]
    assert len(ids) == len(set(ids))
    for panel in _panels(BOARDS[name]):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_data_links_open_shipped_dashboards_with_their_variables() -> None:
    by_uid = {b["uid"]: b for b in BOARDS.values()}
    links = [
        link["url"]
        for board in BOARDS.values()
        for panel in _query_panels(board)
        for link in panel["fieldConfig"]["defaults"].get("links", [])
    ]
    assert links
    for url in links:
        match = re.match(r"/d/([^/]+)/[^?]+\?(.*)", url)
        assert match, url
        target = by_uid[match.group(1)]
        params = set(re.findall(r"var-([a-z_]+)=", match.group(2)))
        assert params <= set(_variables(target)), url
        assert "${datasource:queryparam}" in url


def test_the_overview_opens_with_the_broker_holding_the_lag() -> None:
    first = BOARDS["brokers-at-a-glance.json"]["panels"][0]
    assert first["gridPos"]["x"] == first["gridPos"]["y"] == 0
    assert (
        "topk(1, sum without (instance, pod) (kafka_broker_consumer_lag_messages"
        in first["targets"][0]["expr"]
    )
