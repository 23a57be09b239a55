"""The four shipped dashboards, as code: `python -m bundle` writes them to dashboards/."""

from collections.abc import Callable, Sequence

from bundle.grafana import (
    JSON,
    Panel,
    Query,
    by,
    dashboard,
    layout,
    on,
    query_variable,
    scope,
    scope_variables,
    sel,
    steps,
)

BROKER = 'broker_id=~"$broker_id"'
GROUP = 'group=~"$group"'
KEEP = (
    "${datasource:queryparam}&${cluster:queryparam}&${job:queryparam}&${instance:queryparam}"
    "&${__url_time_range}"
)


def _links(field: str) -> tuple[JSON, JSON]:
    """Return the links to the broker and group dashboards, reading ids from `field`."""
    return (
        {
            "title": "Broker drill-down",
            "url": f"/d/ble-broker/kafka-broker-drill-down?var-broker_id=${{{field}broker_id}}&{KEEP}",
        },
        {
            "title": "Consumer group",
            "url": f"/d/ble-group/kafka-consumer-group?var-group=${{{field}group}}&{KEEP}",
        },
    )


# Series carry labels; table-format frames carry none, only the row's fields.
TO_BROKER, TO_GROUP = _links("__field.labels.")
ROW_TO_BROKER, _ = _links("__data.fields.")
# 0/1 gauges shown as words and colors.
FINDING: JSON = {
    "mappings": [
        {
            "type": "value",
            "options": {
                "0": {"text": "ok", "color": "green", "index": 0},
                "1": {"text": "finding", "color": "red", "index": 1},
            },
        }
    ],
    "thresholds": steps("green", (1, "red")),
    "color": {"mode": "thresholds"},
}
UP_DOWN: JSON = {
    "mappings": [
        {
            "type": "value",
            "options": {
                "0": {"text": "down", "color": "red", "index": 0},
                "1": {"text": "up", "color": "green", "index": 1},
            },
        }
    ],
    # Below 1 (and no value at all) is red: a down exporter must not read as a green "0".
    "thresholds": steps("red", (1, "green")),
    "color": {"mode": "thresholds"},
}
# Off-heap over the container limit: the offheap_near_limit check's default is 0.7.
NEAR_LIMIT: JSON = {
    "thresholds": steps("green", (0.7, "orange"), (0.9, "red")),
    "color": {"mode": "thresholds"},
}
BAD_ABOVE_ZERO: JSON = {"thresholds": steps("green", (1, "red")), "color": {"mode": "thresholds"}}
RESTARTS: JSON = {"thresholds": steps("green", (1, "orange"), (3, "red")), "color": {"mode": "thresholds"}}


def columns(**by_name: JSON) -> list[JSON]:
    """Return field overrides by column name: {column: {property: value}}."""
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": key, "value": value} for key, value in props.items()],
        }
        for name, props in by_name.items()
    ]


def top(n: int, expr: str) -> str:
    """Return the n series of `expr` highest over the time range, as a range query can show them.

    `topk` alone ranks every step apart, so a range query draws many more than n series.
    """
    return f"{expr} and topk({n}, max_over_time({expr}[$__range] @ end()))"


# Time to catch up: +Inf when consumption does not outpace production, NaN when caught up.
CATCH_UP = {
    "mappings": [
        {
            "type": "range",
            "options": {
                "from": 1e15,
                "to": None,
                "result": {"text": "not catching up", "color": "red", "index": 0},
            },
        },
        {"type": "special", "options": {"match": "nan", "result": {"text": "caught up", "index": 1}}},
    ]
}


TIMESERIES_OPTIONS: JSON = {
    "legend": {
        "displayMode": "table",
        "placement": "right",
        "showLegend": True,
        "calcs": ["lastNotNull", "max"],
    },
    "tooltip": {"mode": "multi", "sort": "desc"},
}
STAT_OPTIONS: JSON = {
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "colorMode": "value",
    "graphMode": "area",
    "justifyMode": "auto",
    "orientation": "auto",
    "textMode": "auto",
}
HIDE_COLUMNS = {"Time": True, "__name__": True, "job": True}


def shards(expr: str) -> str:
    """Return `expr` added up over shards: each exports its own groups' lag (alerts do the same)."""
    return f"sum without (instance, pod) ({expr})"


def timeseries(
    title: str,
    description: str,
    unit: str,
    *queries: Query,
    width: int = 12,
    links: Sequence[JSON] = (),
    defaults: JSON | None = None,
) -> Panel:
    """Return a time series panel with a table legend sorted by value."""
    merged: JSON = {"custom": {"fillOpacity": 10, "showPoints": "never"}, **(defaults or {})}
    if links:
        merged["links"] = list(links)
    return Panel("timeseries", title, description, unit, queries, width, 8, TIMESERIES_OPTIONS, merged)


def stat(
    title: str,
    description: str,
    unit: str,
    *queries: Query,
    width: int = 4,
    text_mode: str = "auto",
    defaults: JSON | None = None,
    overrides: Sequence[JSON] = (),
) -> Panel:
    """Return a single-value panel of each query's last value; `defaults` go to fieldConfig.defaults."""
    options = STAT_OPTIONS | {"textMode": text_mode}
    return Panel(
        "stat", title, description, unit, queries, width, 4, options, dict(defaults or {}), (), overrides
    )


def table(
    title: str,
    description: str,
    unit: str,
    *queries: Query,
    width: int = 24,
    rename: dict[str, str] | None = None,
    defaults: JSON | None = None,
    overrides: Sequence[JSON] = (),
) -> Panel:
    """Return a table of instant queries merged on their labels; per-column settings go in `overrides`."""
    transformations: list[JSON] = [{"id": "merge", "options": {}}] if len(queries) > 1 else []
    transformations.append(
        {"id": "organize", "options": {"excludeByName": HIDE_COLUMNS, "renameByName": rename or {}}}
    )
    options: JSON = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"]}}
    return Panel(
        "table",
        title,
        description,
        unit,
        queries,
        width,
        8,
        options,
        defaults or {},
        transformations,
        overrides,
    )


def _risk_table(title: str, description: str, *matchers: str) -> Panel:
    return table(
        title,
        description,
        "none",
        Query(f"sort_desc({sel('kafka_broker_risk', *matchers)})", table=True),
        Query(f"sort_desc({sel('kafka_cluster_risk')})", table=True),
        width=12,
        rename={"Value #A": "broker finding", "Value #B": "cluster finding"},
        overrides=columns(**{"broker finding": FINDING, "cluster finding": FINDING}),
    )


def brokers_at_a_glance() -> JSON:
    """Return the overview: which broker holds the lag, and which brokers are at risk."""
    raw = sel("kafka_broker_consumer_lag_messages")
    lag = shards(raw)
    share = f"{lag} / ignoring (broker_id) group_left () sum without (broker_id) ({lag})"
    panels: list[Panel] = [
        stat(
            "Broker holding the most lag",
            "The broker leading the partitions with the most consumer lag (all groups). Lag is "
            "attributed to the leader because it serves the fetches: a slow broker shows here first.",
            "short",
            Query(f"topk(1, {lag})", "broker {{broker_id}}", instant=True),
            width=6,
            text_mode="value_and_name",
        ),
        stat(
            "Its share of all lag",
            "Fraction of all consumer lag on partitions led by the broker above. Near 100% on a "
            "multi-broker cluster means a broker problem, not a consumer problem.",
            "percentunit",
            Query(f"topk(1, {share})", "broker {{broker_id}}", instant=True),
            width=5,
        ),
        stat(
            "Total consumer lag",
            "Lag in messages of every exported consumer group, summed over all brokers.",
            "short",
            Query(f"sum({lag})"),
            width=4,
        ),
        stat(
            "Brokers up / down",
            "Brokers in cluster metadata (up) and brokers seen before but missing from it (down).",
            "none",
            Query(f"sum({sel('kafka_broker_up')})", "up"),
            Query(f"sum(1 - {sel('kafka_broker_up')})", "down"),
            width=5,
            overrides=[
                {
                    "matcher": {"id": "byFrameRefID", "options": "B"},
                    "properties": [{"id": k, "value": v} for k, v in BAD_ABOVE_ZERO.items()],
                }
            ],
        ),
        stat(
            "Risk findings",
            "Risk checks currently reporting a broker or the cluster (docs/risks.md).",
            "none",
            Query(f"sum({sel('kafka_broker_risk')}) + sum({sel('kafka_cluster_risk')})"),
            width=4,
            defaults=BAD_ABOVE_ZERO,
        ),
        timeseries(
            "Consumer lag per broker",
            "Lag in messages of all groups on the partitions each broker leads. Click a series to "
            "open the broker drill-down.",
            "short",
            Query(f"sum {by('broker_id')} ({lag})", "broker {{broker_id}}"),
            links=[TO_BROKER],
        ),
        timeseries(
            "Lag growth per broker",
            "Per-second change of each broker's lag (deriv over the rate interval, in messages per "
            "second): above zero the consumers fall further behind on that broker.",
            "short",
            # A sum of derivatives is the derivative of the sum: shards add up as they are.
            Query(f"sum {by('broker_id')} (deriv({raw}[$__rate_interval]))", "broker {{broker_id}}"),
        ),
        timeseries(
            "Worst lag in seconds per broker",
            "Age of the oldest unconsumed record of any group on the partitions each broker leads: "
            "how late the consumers reading from that broker are.",
            "s",
            Query(
                f"max {by('broker_id')} ({sel('kafka_broker_consumer_lag_seconds_max')})",
                "broker {{broker_id}}",
            ),
            width=24,
            links=[TO_BROKER],
        ),
        table(
            "Brokers",
            "One line per broker: presence in metadata, lag, leadership and replication health. "
            "Leader share is partitions led over all partitions; topics led is the "
            "broker's blast radius.",
            "short",
            # Every column without instance and pod, so the merge finds shard 0's rows and the lag.
            Query(shards(sel("kafka_broker_up")), table=True),
            Query(lag, table=True),
            Query(shards(sel("kafka_broker_leader_partitions")), table=True),
            Query(shards(sel("kafka_broker_leader_share_ratio")), table=True),
            Query(shards(sel("kafka_broker_topics_led")), table=True),
            Query(shards(sel("kafka_broker_under_replicated_partitions")), table=True),
            Query(shards(sel("kafka_broker_offline_partitions")), table=True),
            rename={
                "Value #A": "up",
                "Value #B": "lag",
                "Value #C": "partitions led",
                "Value #D": "leader share",
                "Value #E": "topics led",
                "Value #F": "under-replicated",
                "Value #G": "offline",
            },
            defaults={"links": [ROW_TO_BROKER]},
            overrides=columns(up=UP_DOWN, **{"leader share": {"unit": "percentunit"}}),
        ),
        timeseries(
            "Leader share per broker",
            "Partitions each broker leads divided by all partitions. Fair share is "
            "1 / brokers; far above it, one failure moves most leaderships at once.",
            "percentunit",
            Query(sel("kafka_broker_leader_share_ratio"), "broker {{broker_id}}"),
        ),
        timeseries(
            "Topics led per broker",
            "Topics with at least one partition led by the broker: the topics its failure touches.",
            "short",
            Query(sel("kafka_broker_topics_led"), "broker {{broker_id}}"),
        ),
        timeseries(
            "Broker up",
            "1 while the broker is in cluster metadata, 0 when it is known but missing (stopped, "
            "fenced or cut off from the controller).",
            "none",
            Query(sel("kafka_broker_up"), "broker {{broker_id}}"),
        ),
        timeseries(
            "Restarts in the recent window",
            "Container restarts of each broker's pod within the exporter's recent-restart window "
            "(--kube-recent-restart-window-seconds). Three or more is a crash loop.",
            "short",
            Query(sel("kafka_broker_pod_recent_restarts"), "broker {{broker_id}}"),
        ),
        timeseries(
            "Off-heap memory / container limit",
            "Each broker JVM's off-heap memory (non-heap plus direct buffers) over its container "
            "memory limit. Near 1 the kernel OOM-kills the broker; the offheap_near_limit check "
            "fires above --risk-offheap-limit-ratio.",
            "percentunit",
            Query(sel("kafka_broker_offheap_limit_ratio"), "broker {{broker_id}}"),
            defaults=NEAR_LIMIT,
        ),
        timeseries(
            "Under-replicated and offline partitions",
            "Partitions led by each broker with fewer in-sync replicas than replicas, and "
            "leaderless partitions last led by it.",
            "short",
            Query(sel("kafka_broker_under_replicated_partitions"), "under-replicated, broker {{broker_id}}"),
            Query(sel("kafka_broker_offline_partitions"), "offline, broker {{broker_id}}"),
        ),
        _risk_table(
            "Risk findings",
            "Every evaluated risk check per broker and for the cluster: 'finding' means the check "
            "reports a risk (docs/risks.md explains each check and its fix).",
        ),
        timeseries(
            "Preferred leader imbalance",
            "Partitions each broker leads although their preferred leader is another broker: "
            "leadership drift a preferred leader election would undo.",
            "short",
            Query(sel("kafka_broker_preferred_leader_imbalance"), "broker {{broker_id}}"),
        ),
    ]
    return dashboard(
        "ble-brokers",
        "Kafka brokers at a glance",
        "Which broker holds the consumer lag, and which brokers are at risk (broker-lag-exporter).",
        scope_variables(),
        layout(panels),
    )


def broker_drill_down() -> JSON:
    """Return one broker's lag, leadership and findings."""
    broker_variable = query_variable(
        "broker_id",
        f"label_values(kafka_broker_up{{{scope()}}}, broker_id)",
        label="Broker",
        multi=False,
    )

    def b(metric: str) -> str:
        return sel(metric, BROKER)

    panels: list[Panel] = [
        stat(
            "Up",
            "1 while the broker is in cluster metadata.",
            "none",
            Query(b("kafka_broker_up")),
            defaults=UP_DOWN,
        ),
        stat(
            "Consumer lag",
            "Lag in messages of all groups on partitions this broker leads.",
            "short",
            Query(shards(b("kafka_broker_consumer_lag_messages"))),
        ),
        stat(
            "Partitions led",
            "Partitions this broker leads.",
            "short",
            Query(b("kafka_broker_leader_partitions")),
        ),
        stat(
            "Leader share",
            "Partitions this broker leads over all partitions.",
            "percentunit",
            Query(b("kafka_broker_leader_share_ratio")),
        ),
        stat(
            "Topics led",
            "Topics with at least one partition led by this broker.",
            "short",
            Query(b("kafka_broker_topics_led")),
        ),
        stat(
            "Replicas",
            "Partitions with a replica on this broker, leader or follower.",
            "short",
            Query(b("kafka_broker_replica_partitions")),
        ),
        timeseries(
            "Consumer lag",
            "Lag in messages of all groups on partitions this broker leads.",
            "short",
            Query(shards(b("kafka_broker_consumer_lag_messages")), "broker {{broker_id}}"),
        ),
        timeseries(
            "Lag per consumer group on this broker",
            "The ten groups with the most lag on partitions this broker leads. One group alone "
            "points at its consumers; many groups together point at the broker.",
            "short",
            Query(top(10, b("kafka_broker_group_lag_messages")), "{{group}}"),
            links=[TO_GROUP],
        ),
        timeseries(
            "Leadership",
            "Partitions this broker leads and holds a replica of.",
            "short",
            Query(b("kafka_broker_leader_partitions"), "led"),
            Query(b("kafka_broker_replica_partitions"), "replicas"),
        ),
        timeseries(
            "Replication health",
            "Under-replicated partitions it leads, leaderless partitions it last led, and "
            "partitions it leads whose preferred leader is another broker.",
            "short",
            Query(b("kafka_broker_under_replicated_partitions"), "under-replicated"),
            Query(b("kafka_broker_offline_partitions"), "offline"),
            Query(b("kafka_broker_preferred_leader_imbalance"), "preferred leader elsewhere"),
        ),
        stat(
            "Pod ready",
            "1 while the broker's pod is Ready (from the Kubernetes API).",
            "none",
            Query(b("kafka_broker_pod_ready"), "{{pod}}"),
            defaults=UP_DOWN,
        ),
        stat(
            "Recent restarts",
            "Container restarts of the broker's pod within the exporter's recent-restart window.",
            "short",
            Query(b("kafka_broker_pod_recent_restarts")),
            defaults=RESTARTS,
        ),
        stat(
            "Off-heap",
            "Non-heap areas plus direct buffers of the broker JVM (read from its JMX exporter page).",
            "bytes",
            Query(b("kafka_broker_offheap_bytes")),
        ),
        stat(
            "Off-heap / limit",
            "Off-heap memory over the container memory limit; empty when the container has no limit.",
            "percentunit",
            Query(b("kafka_broker_offheap_limit_ratio")),
            defaults=NEAR_LIMIT,
        ),
        stat(
            "Memory limit",
            "Memory limit of the broker container: heap, off-heap and everything else must fit.",
            "bytes",
            Query(b("kafka_broker_pod_memory_limit_bytes")),
        ),
        stat(
            "Restarts in time range",
            "Container restarts of the broker's pod within the dashboard's time range.",
            "short",
            Query(f"sum(increase({b('kafka_broker_pod_restarts_total')}[$__range]))"),
        ),
        timeseries(
            "JVM memory",
            "The broker JVM's heap (used and max), non-heap, direct and mapped buffer pools, against "
            "the container limit. Off-heap = non-heap + direct; mapped is reclaimable page cache.",
            "bytes",
            Query(b("kafka_broker_jvm_memory_used_bytes"), "{{area}} used"),
            Query(b("kafka_broker_jvm_memory_max_bytes"), "{{area}} max"),
            Query(b("kafka_broker_jvm_buffer_pool_used_bytes"), "{{pool}} buffers"),
            Query(b("kafka_broker_pod_memory_limit_bytes"), "container limit"),
        ),
        timeseries(
            "Restarts",
            "Container restarts of the broker's pod per rate interval, and within the exporter's "
            "recent-restart window.",
            "short",
            Query(
                f"sum {by('pod')} (increase({b('kafka_broker_pod_restarts_total')}[$__rate_interval]))",
                "{{pod}}",
            ),
            Query(b("kafka_broker_pod_recent_restarts"), "recent window"),
        ),
        table(
            "Pod",
            "The broker's pod, node, zone and kubelet version, and the reason of its container's "
            "last termination (OOMKilled, Error...).",
            "none",
            Query(b("kafka_broker_pod_info"), table=True),
            Query(b("kafka_broker_pod_last_termination_info"), table=True),
            rename={"Value #A": "pod info", "Value #B": "last termination"},
        ),
        table(
            "Broker address",
            "Host, port and rack the broker registers in cluster metadata.",
            "none",
            Query(b("kafka_broker_metadata_info"), table=True),
            width=12,
        ),
        _risk_table(
            "Risk findings",
            "Risk checks evaluated for this broker and for the cluster; 'finding' means a risk "
            "(docs/risks.md).",
            BROKER,
        ),
    ]
    return dashboard(
        "ble-broker",
        "Kafka broker drill-down",
        "One Kafka broker: its lag by consumer group, leadership and risk findings (broker-lag-exporter).",
        [*scope_variables(), broker_variable],
        layout(panels),
    )


def consumer_group() -> JSON:
    """Return a consumer group's lag and the brokers it lags on."""
    group_variable = query_variable(
        "group", f"label_values(kafka_group_lag_messages{{{scope()}}}, group)", label="Consumer group"
    )

    def g(metric: str) -> str:
        return sel(metric, GROUP)

    panels: list[Panel] = [
        stat(
            "Lag",
            "Lag in messages of the selected groups over all partitions.",
            "short",
            Query(f"sum({g('kafka_group_lag_messages')})"),
        ),
        stat(
            "Members", "Members of the selected groups.", "short", Query(f"sum({g('kafka_group_members')})")
        ),
        stat(
            "Committed partitions",
            "Partitions with a committed offset.",
            "short",
            Query(f"sum({g('kafka_group_committed_partitions')})"),
        ),
        stat(
            "Uncommitted partitions",
            "Partitions assigned to a member but never committed: consumed, yet not counted as lag.",
            "short",
            Query(f"sum({g('kafka_group_uncommitted_partitions')})"),
        ),
        stat(
            "Brokers lagged on",
            "Brokers leading at least one partition where the selected groups lag.",
            "short",
            Query(f"count(sum {by('broker_id')} ({g('kafka_broker_group_lag_messages')}) > 0) or vector(0)"),
            width=8,
        ),
        timeseries(
            "Lag per broker",
            "The selected groups' lag on the partitions each broker leads: the brokers this group "
            "lags on. Click a series to open the broker drill-down.",
            "short",
            Query(f"sum {by('broker_id')} ({g('kafka_broker_group_lag_messages')})", "broker {{broker_id}}"),
            links=[TO_BROKER],
        ),
        timeseries(
            "Lag per group",
            "Lag in messages of each selected group over all its partitions.",
            "short",
            Query(g("kafka_group_lag_messages"), "{{group}}"),
        ),
        Panel(
            "bargauge",
            "Where the lag is now",
            "The selected groups' current lag per broker, largest first.",
            "short",
            [
                Query(
                    f"sort_desc(sum {by('broker_id')} ({g('kafka_broker_group_lag_messages')}))",
                    "broker {{broker_id}}",
                )
            ],
            12,
            8,
            {
                "displayMode": "gradient",
                "orientation": "horizontal",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "showUnfilled": True,
            },
            {"links": [TO_BROKER]},
        ),
        table(
            "Group state",
            "State, protocol and coordinator broker of each selected group.",
            "none",
            Query(g("kafka_group_info"), table=True),
            width=12,
        ),
        timeseries(
            "Lag per partition",
            "The twenty partitions with the most lag, labelled with their leader. Needs the "
            "exporter's --granularity partition; empty otherwise.",
            "short",
            Query(
                top(20, g("kafka_partition_lag_messages")),
                "{{group}} {{topic}}/{{partition}} (broker {{broker_id}})",
            ),
        ),
        table(
            "Risk findings",
            "Consumer-group risk checks evaluated for the selected groups (session timeout against the "
            "consumers' grace period, KEDA thresholds and replicas): 'finding' means a risk "
            "(docs/risks.md). Needs the Kubernetes source.",
            "none",
            Query(f"sort_desc({g('kafka_group_risk')})", table=True),
            width=12,
            rename={"Value": "finding"},
            overrides=columns(finding=FINDING),
        ),
        timeseries(
            "Groups with the most lag",
            "The ten groups with the most lag in the cluster, whatever the group selection. Click "
            "a series to open that group.",
            "short",
            Query(top(10, sel("kafka_group_lag_messages")), "{{group}}"),
            links=[TO_GROUP],
        ),
        *_group_topic_panels(g),
    ]
    return dashboard(
        "ble-group",
        "Kafka consumer group",
        "A consumer group's lag and the brokers it lags on (broker-lag-exporter).",
        [*scope_variables(), group_variable],
        layout(panels),
    )


def _group_topic_panels(g: Callable[[str], str]) -> list[Panel]:
    """Return the consumer group's lag in seconds, per-topic lag, rates, catch-up and rebalances."""
    consumed = (
        f"sum {by('group', 'topic')} (rate({g('kafka_group_topic_committed_offsets')}[$__rate_interval]))"
    )
    # Every shard exports the topics' end offsets: max, not sum, across exporters.
    produced = f"max {by('topic')} (rate({sel('kafka_topic_end_offsets')}[$__rate_interval]))"
    lag = f"sum {by('group', 'topic')} ({g('kafka_group_topic_lag_messages')})"
    return [
        stat(
            "Lag in seconds",
            "Age of the oldest record the selected groups have not consumed (exact: read from the "
            "record's timestamp), the worst over their partitions.",
            "s",
            Query(f"max({g('kafka_group_lag_seconds')})"),
            width=6,
        ),
        timeseries(
            "Lag in seconds per group",
            "Age of each selected group's oldest unconsumed record. A replay from earliest shows "
            "the age of the replayed data; a burst of new records does not move it.",
            "s",
            Query(g("kafka_group_lag_seconds"), "{{group}}"),
            width=18,
        ),
        timeseries(
            "Lag per topic",
            "Lag in messages of the selected groups on each topic (--granularity topic or partition).",
            "short",
            Query(lag, "{{group}} {{topic}}"),
        ),
        timeseries(
            "Lag in seconds per topic",
            "Age of the oldest unconsumed record per group and topic (--granularity topic or partition).",
            "s",
            Query(g("kafka_group_topic_lag_seconds"), "{{group}} {{topic}}"),
        ),
        timeseries(
            "Consumption and production rate",
            "Records per second committed by the selected groups on each topic (rate of the summed "
            "committed offsets) against records per second produced to those topics (rate of the "
            "summed end offsets). Consumption below production: the lag grows.",
            "ops",
            Query(consumed, "consumed {{group}} {{topic}}"),
            Query(f"{produced} and {on('topic')} {lag}", "produced {{topic}}"),
        ),
        table(
            "Time to catch up",
            "Lag divided by how much faster the group consumes than the topic is produced to, per "
            "group and topic. 'not catching up': consumption does not outpace production.",
            "s",
            Query(
                f"{lag} / clamp_min({consumed} - {on('topic')} group_left () {produced}, 0)",
                table=True,
            ),
            width=12,
            rename={"Value": "time to catch up"},
            overrides=columns(**{"time to catch up": CATCH_UP}),
        ),
        timeseries(
            "Rebalances",
            "Rebalances of the selected groups per hour, at the current rate (polls that saw a "
            "group's member set change or a rebalance start). docs/risks.md#rebalance_storm says "
            "when it is a storm.",
            "short",
            Query(
                f"3600 * sum {by('group')} (rate({g('kafka_group_rebalances_total')}[$__rate_interval]))",
                "{{group}}",
            ),
        ),
    ]


def exporter_health() -> JSON:
    """Return the exporter's own health: scrapes, sources, poll durations and errors."""
    requests = sel("broker_lag_exporter_kafka_requests")
    panels: list[Panel] = [
        stat(
            "Exporter up",
            "Prometheus' scrape of the exporter: 1 when it answered.",
            "none",
            Query(sel("up")),
            width=6,
            defaults=UP_DOWN,
        ),
        stat(
            "Sources up",
            "Sources whose last poll succeeded with fresh data, over all sources.",
            "percentunit",
            Query(f"avg({sel('broker_lag_exporter_source_up')})"),
            width=6,
            defaults={
                "thresholds": steps("red", (0.5, "orange"), (1, "green")),
                "color": {"mode": "thresholds"},
            },
        ),
        table(
            "Version",
            "The exporter's version per instance.",
            "none",
            Query(sel("broker_lag_exporter_build_info"), table=True),
            width=12,
        ),
        timeseries(
            "Source up",
            "1 while the source's last poll succeeded and its data is younger than --max-data-age-seconds.",
            "none",
            Query(sel("broker_lag_exporter_source_up"), "{{source}} {{instance}}"),
        ),
        timeseries(
            "Data age",
            "Seconds since each source's last successful poll; alerts fire past 10 minutes.",
            "s",
            Query(
                f"time() - {sel('broker_lag_exporter_source_last_success_timestamp_seconds')}",
                "{{source}} {{instance}}",
            ),
        ),
        timeseries(
            "Poll duration",
            "Duration of each source's last poll; compare with --poll-interval-seconds and "
            "--collect-timeout-seconds.",
            "s",
            Query(sel("broker_lag_exporter_source_duration_seconds"), "{{source}} {{instance}}"),
        ),
        timeseries(
            "Poll errors",
            "Failed polls per second, by source.",
            "short",
            Query(
                f"rate({sel('broker_lag_exporter_source_errors_total')}[$__rate_interval])",
                "{{source}} {{instance}}",
            ),
        ),
        timeseries(
            "Kafka requests per poll",
            "Requests the last Kafka poll sent (batched per broker, so it grows with brokers and "
            "groups, not partitions), and failed requests per minute over every poll (partial data "
            "is still served).",
            "short",
            Query(requests, "requests {{instance}}"),
            Query(
                "60 * sum by (job, instance) "
                f"(rate({sel('broker_lag_exporter_kafka_request_errors_total')}[$__rate_interval]))"
                f" or sum by (job, instance) (0 * {requests})",
                "failed per minute {{instance}}",
            ),
        ),
        timeseries(
            "Scrape duration",
            "How long Prometheus' scrape of /metrics took: the exporter serves the latest snapshot, "
            "so this stays in milliseconds however slow Kafka is.",
            "s",
            Query(sel("scrape_duration_seconds"), "{{instance}}"),
        ),
        timeseries(
            "Exporter memory",
            "Resident memory of the exporter process (prometheus_client's process collector). It "
            "grows with partitions and groups, then stays flat: steady growth is a leak.",
            "bytes",
            Query(sel("process_resident_memory_bytes"), "{{instance}}"),
        ),
        timeseries(
            "Exporter CPU",
            "CPU seconds the exporter process uses per second (1 = one core), over the rate "
            "interval: polls show as spikes every --poll-interval-seconds.",
            "short",
            Query(f"rate({sel('process_cpu_seconds_total')}[$__rate_interval])", "{{instance}}"),
        ),
        timeseries(
            "Cluster size seen",
            "Live brokers and partitions (after topic filters) in the exporter's latest metadata.",
            "short",
            Query(sel("kafka_cluster_brokers"), "brokers {{instance}}"),
            Query(sel("kafka_cluster_partitions"), "partitions {{instance}}"),
        ),
        timeseries(
            "JVM page reads",
            "1 while the exporter reads and understands each broker's JVM metrics page.",
            "none",
            Query(sel("broker_lag_exporter_jvm_scrape_up"), "broker {{broker_id}}"),
        ),
        timeseries(
            "JVM page read time",
            "Time to fetch and parse each broker's JVM metrics page in the last poll.",
            "s",
            Query(sel("broker_lag_exporter_jvm_scrape_duration_seconds"), "broker {{broker_id}}"),
        ),
        timeseries(
            "JVM page failures",
            "Failed reads of the brokers' JVM metrics pages per second, by reason.",
            "short",
            Query(
                f"sum {by('broker_id', 'reason')} (rate({sel('broker_lag_exporter_jvm_scrape_errors_total')}"
                "[$__rate_interval]))",
                "broker {{broker_id}}: {{reason}}",
            ),
        ),
    ]
    return dashboard(
        "ble-exporter",
        "broker-lag-exporter health",
        "Is the exporter up, are its sources fresh, how long do polls and scrapes take.",
        scope_variables(),
        layout(panels),
    )


DASHBOARDS = {
    "brokers-at-a-glance.json": brokers_at_a_glance,
    "broker-drill-down.json": broker_drill_down,
    "consumer-group.json": consumer_group,
    "exporter-health.json": exporter_health,
}
