"""The shipped dashboards: grafana/dashboard-linter's rules re-implemented, plus our own."""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from broker_lag_exporter.metrics.catalogue import sample_names
from bundle import grafana
from bundle.dashboards import DASHBOARDS
from bundle.grafana import DEFAULT_CLUSTER_LABEL
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
BUILTIN_VARIABLES = {
    "__rate_interval", "__interval", "__range", "__field", "__data", "__url_time_range", "__all",
}  # fmt: skip
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
@pytest.mark.parametrize(
    ("label", "variable"), [("job", "job"), ("instance", "instance"), (DEFAULT_CLUSTER_LABEL, "cluster")]
)
def test_target_job_and_instance_rules(
    name: str, title: str, target: Json, label: str, variable: str
) -> None:
    for selector in selectors(target["expr"]):
        assert selector.matcher(label) == ("=~", f"${variable}"), selector


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


# ---- ours: what Grafana renders (each test failed on a bug the dashboards shipped with)

# Grafana's FieldConfig (grafana-foundation-sdk's models.dashboard.FieldConfig): anything else is
# silently dropped, as `defaults.defaults.mappings` was.
FIELD_CONFIG_KEYS = {
    "displayName", "displayNameFromDS", "description", "path", "writeable", "filterable", "unit",
    "decimals", "min", "max", "mappings", "thresholds", "color", "links", "noValue", "custom", "fieldMinMax",
}  # fmt: skip
MATCHERS = {"byName", "byRegexp", "byType", "byFrameRefID", "byValue"}
MAPPING_TYPES = {"value", "range", "regex", "special"}
UP_PANELS = {"Up", "Pod ready", "Exporter up"}


def _check_thresholds(thresholds: Json, where: str) -> None:
    assert thresholds["mode"] in {"absolute", "percentage"}, where
    values = [step["value"] for step in thresholds["steps"]]
    assert values[0] is None, where  # the base step
    assert values[1:] == sorted(values[1:]), where
    assert all(isinstance(step["color"], str) for step in thresholds["steps"]), where


def _check_field_config(config: Json, where: str) -> None:
    assert set(config) <= FIELD_CONFIG_KEYS, (where, set(config) - FIELD_CONFIG_KEYS)
    for mapping in config.get("mappings", []):
        assert mapping["type"] in MAPPING_TYPES, where
        assert isinstance(mapping["options"], dict), where
    if "thresholds" in config:
        _check_thresholds(config["thresholds"], where)
    for link in config.get("links", []):
        assert set(link) >= {"title", "url"}, where


@pytest.mark.parametrize("name", BOARD_IDS)
def test_field_config_has_grafanas_shape(name: str) -> None:
    for panel in _query_panels(BOARDS[name]):
        config = panel["fieldConfig"]
        assert set(config) == {"defaults", "overrides"}, panel["title"]
        _check_field_config(config["defaults"], panel["title"])
        for override in config["overrides"]:
            assert override["matcher"]["id"] in MATCHERS, panel["title"]
            assert override["properties"], panel["title"]
            for prop in override["properties"]:
                key = prop["id"]
                assert key in FIELD_CONFIG_KEYS or key.startswith("custom."), (panel["title"], key)
                if key in FIELD_CONFIG_KEYS:
                    _check_field_config({key: prop["value"]}, panel["title"])


@pytest.mark.parametrize("name", BOARD_IDS)
def test_every_panel_has_thresholds(name: str) -> None:
    # Without them Grafana colors every value from 80 up red: 6 GiB of memory limit, 120 partitions.
    for panel in _query_panels(BOARDS[name]):
        assert "thresholds" in panel["fieldConfig"]["defaults"], panel["title"]


@pytest.mark.parametrize("name", BOARD_IDS)
def test_sizes_and_counts_are_never_red(name: str) -> None:
    for panel in _query_panels(BOARDS[name]):
        defaults = panel["fieldConfig"]["defaults"]
        if defaults.get("unit") in {"bytes", "decbytes"}:
            colors = {step["color"] for step in defaults.get("thresholds", {}).get("steps", [])}
            assert "red" not in colors, panel["title"]


def test_up_panels_show_words_and_down_is_red() -> None:
    found = 0
    for board in BOARDS.values():
        for panel in _query_panels(board):
            if panel["title"] not in UP_PANELS:
                continue
            found += 1
            defaults = panel["fieldConfig"]["defaults"]
            (mapping,) = defaults["mappings"]
            assert mapping["options"]["0"] == {"text": "down", "color": "red", "index": 0}
            assert defaults["thresholds"]["steps"][0]["color"] == "red"  # 0, and no data, are red
            assert defaults["color"] == {"mode": "thresholds"}
    assert found == len(UP_PANELS)


@pytest.mark.parametrize("name", BOARD_IDS)
def test_table_links_and_mappings_address_columns(name: str) -> None:
    for panel in _query_panels(BOARDS[name]):
        defaults = panel["fieldConfig"]["defaults"]
        urls = [link["url"] for link in defaults.get("links", [])]
        if panel["type"] == "table":
            # Table-format frames carry no labels: a link reads the row's field.
            assert not any("__field.labels" in url for url in urls), panel["title"]
            assert all("${__data.fields." in url for url in urls), panel["title"]
            # A value mapping in the defaults also maps the broker_id column ("0" -> "ok").
            assert "mappings" not in defaults, panel["title"]
        else:
            assert not any("__data.fields" in url for url in urls), panel["title"]


@pytest.mark.parametrize("name", BOARD_IDS)
def test_ratio_columns_of_tables_are_percent(name: str) -> None:
    for panel in _query_panels(BOARDS[name]):
        if panel["type"] != "table":
            continue
        renames = next(
            t["options"]["renameByName"] for t in panel["transformations"] if t["id"] == "organize"
        )
        units = {
            o["matcher"]["options"]: p["value"]
            for o in panel["fieldConfig"]["overrides"]
            if o["matcher"]["id"] == "byName"
            for p in o["properties"]
            if p["id"] == "unit"
        }
        for target in panel["targets"]:
            if any((s.name or "").endswith("_ratio") for s in selectors(target["expr"])):
                column = renames.get(f"Value #{target['refId']}", "Value")
                assert units.get(column) == "percentunit", (panel["title"], column)


@pytest.mark.parametrize(("name", "title", "target"), TARGETS, ids=TARGET_IDS)
def test_top_n_shows_at_most_n_series(name: str, title: str, target: Json) -> None:
    # On a range query topk ranks each step on its own: over an hour "top 10" draws dozens of series.
    if re.search(r"\b(topk|bottomk)\s*\(", target["expr"]) and not target.get("instant"):
        assert "@ end()" in target["expr"], target["expr"]


@pytest.mark.parametrize(("name", "title", "target"), TARGETS, ids=TARGET_IDS)
def test_per_broker_and_group_sums_keep_the_cluster(name: str, title: str, target: Json) -> None:
    for labels in re.findall(r"\bby \(([^)]*)\)", target["expr"]):
        names = {label.strip() for label in labels.split(",")}
        if names & {"broker_id", "group", "pod"}:
            assert DEFAULT_CLUSTER_LABEL in names, target["expr"]


@pytest.mark.parametrize("name", BOARD_IDS)
def test_cluster_variable_reads_the_target_label(name: str) -> None:
    variable = _variables(BOARDS[name])["cluster"]
    assert variable["query"] == f"label_values(broker_lag_exporter_build_info, {DEFAULT_CLUSTER_LABEL})"
    assert variable["allValue"] == ".*"  # series without the label still match "All"


def test_cluster_label_is_configurable() -> None:
    grafana.set_cluster_label("kafka_cluster")
    try:
        board = DASHBOARDS["brokers-at-a-glance.json"]()
    finally:
        grafana.set_cluster_label(DEFAULT_CLUSTER_LABEL)
    text = json.dumps(board)
    assert 'kafka_cluster=~\\"$cluster\\"' in text
    assert "by (kafka_cluster, broker_id)" in text
    assert not re.search(rf"(?<!\w){DEFAULT_CLUSTER_LABEL}=~", text)
    with pytest.raises(ValueError, match="label name"):
        grafana.set_cluster_label("kafka-cluster")


def test_exporter_health_shows_the_exporters_own_memory_and_cpu() -> None:
    exprs = " ".join(t["expr"] for t in _targets_of(BOARDS["exporter-health.json"]))
    assert "process_resident_memory_bytes{" in exprs
    assert "rate(process_cpu_seconds_total{" in exprs


def _targets_of(board: Json) -> Iterator[Json]:
    for panel in _query_panels(board):
        yield from panel["targets"]
