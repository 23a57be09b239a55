"""JVM memory: page parsing for every naming scheme, endpoint discovery, the join, the risk rule, families."""

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from broker_lag_exporter.app import JvmTargets, build_registry
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.join.memory import join_memory, limit_ratio, offheap_bytes
from broker_lag_exporter.metrics.catalogue import BY_NAME, RUNTIME_PREFIXES
from broker_lag_exporter.model.jvm import SCRAPE_FAILURES, JvmMemory, JvmScrape, JvmSnapshot
from broker_lag_exporter.model.kafka import Broker, KafkaSnapshot
from broker_lag_exporter.model.kube import KubeSnapshot, Pod, PodStatus
from broker_lag_exporter.risk.memory import offheap_near_limit
from broker_lag_exporter.sources.jvm import PageError, parse_memory, resolve_endpoints
from broker_lag_exporter.store import Store

PAGES = Path(__file__).parents[1] / "sources" / "jvm_pages"
MIB = 1024 * 1024
TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@pytest.mark.parametrize(
    ("page", "content_type", "expected"),
    [
        pytest.param(
            "jmx_exporter_1_0_1.prom",
            TEXT,
            JvmMemory(38350088.0, 389283840.0, 53617768.0, 35450.0, 20971516.0),
            id="jmx_exporter-1.0.1-real-page",
        ),
        pytest.param(
            "jmx_exporter_0_x.prom",
            TEXT,
            JvmMemory(402653184.0, 1073741824.0, 134217728.0, 268435456.0, 41943040.0),
            id="jmx_exporter-0.x",
        ),
        pytest.param(
            "strimzi_0_x_agent.prom",
            TEXT,
            JvmMemory(1610612736.0, 2147483648.0, 167772160.0, 1073741824.0, 134217728.0),
            id="strimzi-0.x-agent-with-kafka-rules",
        ),
        pytest.param(
            "strimzi_openmetrics.prom",
            OPENMETRICS,
            JvmMemory(2147483648.0, 4294967296.0, 201326592.0, 536870912.0, 67108864.0),
            id="strimzi-1.x-openmetrics",
        ),
    ],
)
def test_parses_every_naming_scheme(page, content_type, expected):
    assert parse_memory((PAGES / page).read_bytes(), content_type) == expected


def _page(*lines: str) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


GOOD = (
    'jvm_memory_used_bytes{area="heap"} 100',
    'jvm_memory_used_bytes{area="nonheap"} 20',
    'jvm_buffer_pool_used_bytes{pool="direct"} 3',
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(_page(*GOOD), JvmMemory(100, None, 20, 3, None), id="no-max-no-mapped"),
        pytest.param(
            _page(*GOOD, 'jvm_memory_max_bytes{area="heap"} -1'),
            JvmMemory(100, None, 20, 3, None),
            id="max-minus-one-is-unknown",
        ),
        pytest.param(
            _page(*GOOD, "jvm_buffer_pool_used_bytes{pool=\"mapped - 'non-volatile memory'\"} 7"),
            JvmMemory(100, None, 20, 3, None),
            id="non-volatile-mapped-is-not-mapped",
        ),
        pytest.param(
            _page(
                'jvm_memory_used_bytes{area="heap",id="G1 Eden Space"} 60',
                'jvm_memory_used_bytes{area="heap",id="G1 Old Gen"} 40',
                'jvm_memory_used_bytes{area="nonheap",id="Metaspace"} 20',
                'jvm_buffer_pool_used_bytes{pool="direct"} 3',
            ),
            JvmMemory(100, None, 20, 3, None),
            id="per-pool-series-are-summed",
        ),
        pytest.param(
            _page(
                'jvm_memory_bytes_used{area="heap"} 1',
                *GOOD,
            ),
            JvmMemory(100, None, 20, 3, None),
            id="1.x-name-wins-over-0.x",
        ),
    ],
)
def test_parse_edge_cases(body, expected):
    assert parse_memory(body) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        pytest.param(b"<html><body>login</body></html>\n", "text/html", "not_prometheus_text", id="html"),
        pytest.param(b"<!doctype html>\n<p>oops</p>\n", TEXT, "not_prometheus_text", id="html-as-text"),
        pytest.param(b'{"heap": 1}\n', "application/json", "not_prometheus_text", id="json"),
        pytest.param(
            _page('jvm_memory_used_bytes{area="heap"} lots', *GOOD[1:]),
            TEXT,
            "not_prometheus_text",
            id="bad-value",
        ),
        pytest.param(_page(*GOOD)[:-9], TEXT, "truncated", id="cut-mid-line"),
        pytest.param(_page(*GOOD), OPENMETRICS, "truncated", id="openmetrics-without-eof"),
        pytest.param(_page(*GOOD[:2]), TEXT, "missing_series", id="no-direct-pool"),
        pytest.param(_page("process_cpu_seconds_total 1"), TEXT, "missing_series", id="no-jvm-at-all"),
        pytest.param(b"", TEXT, "missing_series", id="empty"),
        pytest.param(
            _page('jvm_memory_used_bytes{area="heap"} NaN', *GOOD[1:]),
            TEXT,
            "missing_series",
            id="nan-is-missing",
        ),
    ],
)
def test_bad_pages_name_their_reason(body, content_type, reason):
    with pytest.raises(PageError) as caught:
        parse_memory(body, content_type)
    assert caught.value.reason == reason
    assert caught.value.reason in SCRAPE_FAILURES


BROKERS = (Broker(0, "kafka-0.kafka", 9092), Broker(1, "kafka-1.kafka", 9093), Broker(2, "fd00::2", 9092))


@pytest.mark.parametrize(
    ("static", "template", "expected"),
    [
        pytest.param({}, None, {}, id="nothing-configured"),
        pytest.param(
            {},
            "http://{host}:9404/metrics",
            {
                0: "http://kafka-0.kafka:9404/metrics",
                1: "http://kafka-1.kafka:9404/metrics",
                2: "http://[fd00::2]:9404/metrics",
            },
            id="template-per-broker-ipv6-bracketed",
        ),
        pytest.param(
            {},
            "http://jvm-{id}.internal:{port}/m",
            {
                0: "http://jvm-0.internal:9092/m",
                1: "http://jvm-1.internal:9093/m",
                2: "http://jvm-2.internal:9092/m",
            },
            id="template-id-and-port",
        ),
        pytest.param(
            {1: "http://override:1/metrics", 7: "http://absent-from-metadata:1/metrics"},
            "http://{host}:9404/metrics",
            {
                0: "http://kafka-0.kafka:9404/metrics",
                1: "http://override:1/metrics",
                2: "http://[fd00::2]:9404/metrics",
                7: "http://absent-from-metadata:1/metrics",
            },
            id="static-map-wins-and-adds",
        ),
        pytest.param({3: "http://a:1/"}, None, {3: "http://a:1/"}, id="static-only"),
    ],
)
def test_resolve_endpoints(static, template, expected):
    assert resolve_endpoints(static, template, BROKERS) == expected


def test_template_without_kafka_snapshot_finds_nothing():
    assert resolve_endpoints({}, "http://{host}:9404/metrics", ()) == {}


POD_IPS = {0: "10.1.0.5", 2: "fd00::9", 5: "10.1.0.7"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param(
            "http://{pod_ip}:9404/metrics",
            {
                0: "http://10.1.0.5:9404/metrics",
                2: "http://[fd00::9]:9404/metrics",
                5: "http://10.1.0.7:9404/metrics",
            },
            id="pod-ip-per-broker-with-a-pod",
        ),
        pytest.param(
            "http://{host}:9404/metrics?ip={pod_ip}",
            {
                0: "http://kafka-0.kafka:9404/metrics?ip=10.1.0.5",
                2: "http://[fd00::2]:9404/metrics?ip=[fd00::9]",
            },
            id="needs-both-skips-brokers-lacking-either",
        ),
        pytest.param(
            "http://{host}:9404/metrics",
            {
                0: "http://kafka-0.kafka:9404/metrics",
                1: "http://kafka-1.kafka:9404/metrics",
                2: "http://[fd00::2]:9404/metrics",
            },
            id="pods-ignored-when-template-names-no-pod",
        ),
    ],
)
def test_resolve_endpoints_from_pod_ips(template, expected):
    assert resolve_endpoints({}, template, BROKERS, POD_IPS) == expected


async def test_jvm_targets_read_latest_kafka_and_kubernetes_snapshots():
    store = Store(max_age_seconds=60)
    settings = load_settings(bootstrap_servers="127.0.0.1:9092", jvm_url_template="http://{pod_ip}:9404/m")
    find = JvmTargets(store, settings).current
    assert find() == {}
    pods = {
        0: Pod("kafka", "kafka-0", status=PodStatus(ip="10.1.0.5")),
        1: Pod("kafka", "kafka-1", status=PodStatus(ip="")),
    }
    store.record_success("kubernetes", KubeSnapshot(broker_pods=pods), 0.1)
    assert find() == {0: "http://10.1.0.5:9404/m"}


MEMORY = JvmMemory(heap_used=300 * MIB, heap_max=512 * MIB, nonheap_used=100 * MIB, direct_used=250 * MIB)


def test_offheap_is_nonheap_plus_direct_without_mapped():
    with_mapped = JvmMemory(1, None, 100, 250, mapped_used=10_000)
    assert offheap_bytes(with_mapped) == 350


@pytest.mark.parametrize(
    ("offheap", "limit", "expected"),
    [
        pytest.param(350.0, None, None, id="no-limit"),
        pytest.param(350.0, 0, None, id="zero-limit"),
        pytest.param(350.0, 1000, 0.35, id="ratio"),
        pytest.param(1500.0, 1000, 1.5, id="over-the-limit"),
    ],
)
def test_limit_ratio(offheap, limit, expected):
    assert limit_ratio(offheap, limit) == expected


def _snapshot(**scrapes: JvmScrape) -> JvmSnapshot:
    return JvmSnapshot({int(k.removeprefix("b")): v for k, v in scrapes.items()})


def test_join_keeps_read_brokers_and_joins_limits():
    snap = _snapshot(
        b0=JvmScrape("u0", MEMORY),
        b1=JvmScrape("u1", None, "timeout"),
        b2=JvmScrape("u2", MEMORY),
    )
    view = join_memory(snap, limits={0: 1024 * MIB, 1: 1024 * MIB})
    assert [r.broker_id for r in view.brokers] == [0, 2]
    b0, b2 = view.brokers
    assert (b0.offheap_bytes, b0.limit_bytes, b0.limit_ratio) == (350 * MIB, 1024 * MIB, 350 / 1024)
    assert (b2.offheap_bytes, b2.limit_bytes, b2.limit_ratio) == (350 * MIB, None, None)


SETTINGS = load_settings(bootstrap_servers="127.0.0.1:9092")


@pytest.mark.parametrize(
    ("limit_mib", "firing"),
    [
        pytest.param(1000, False, id="35%-fine"),
        pytest.param(500, False, id="exactly-70%-fine"),
        pytest.param(499, True, id="just-above-70%"),
        pytest.param(300, True, id="over-the-limit"),
    ],
)
def test_offheap_near_limit(limit_mib, firing):
    view = join_memory(_snapshot(b4=JvmScrape("u", MEMORY)), {4: limit_mib * MIB})
    (finding,) = offheap_near_limit(Facts(memory=view), SETTINGS)
    assert (finding.check, finding.scope, finding.subject, finding.firing) == (
        "offheap_near_limit",
        "broker",
        "4",
        firing,
    )
    assert "350 MiB" in finding.reason


def test_offheap_near_limit_threshold_is_a_setting():
    view = join_memory(_snapshot(b4=JvmScrape("u", MEMORY)), {4: 1000 * MIB})
    strict = load_settings(bootstrap_servers="127.0.0.1:9092", risk_offheap_limit_ratio=0.3)
    assert [f.firing for f in offheap_near_limit(Facts(memory=view), strict)] == [True]


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(Facts(), id="no-jvm-source"),
        pytest.param(Facts(memory=join_memory(_snapshot(b0=JvmScrape("u", MEMORY)), {})), id="no-limit"),
        pytest.param(
            Facts(memory=join_memory(_snapshot(b0=JvmScrape("u", None, "timeout")), {0: MIB})),
            id="page-unreadable",
        ),
    ],
)
def test_offheap_near_limit_not_evaluated_without_inputs(facts):
    assert list(offheap_near_limit(facts, SETTINGS)) == []


def _registry() -> CollectorRegistry:
    store = Store(max_age_seconds=60, clock=lambda: 1_700_000_000.0)
    store.record_success(
        "kafka",
        KafkaSnapshot(
            brokers={0: BROKERS[0], 1: BROKERS[1]}, controller_id=0, partitions={}, end_offsets={}, groups=()
        ),
        0.1,
    )
    jvm = JvmSnapshot(
        {
            0: JvmScrape("u0", JvmMemory(300.0, 512.0, 100.0, 250.0, 40.0), duration_seconds=0.02),
            1: JvmScrape("u1", None, "http_status", "HTTP 500", 0.01),
        },
        failures_total={(1, "http_status"): 3, (1, "timeout"): 1},
    )
    store.record_success("jvm", jvm, 0.05)
    return build_registry(store, SETTINGS)


def test_families_render_each_part_and_health():
    reg = _registry()

    def value(name: str, **labels: str) -> float | None:
        return reg.get_sample_value(name, labels)

    assert value("kafka_broker_offheap_bytes", broker_id="0") == 350.0
    assert value("kafka_broker_jvm_memory_used_bytes", broker_id="0", area="heap") == 300.0
    assert value("kafka_broker_jvm_memory_used_bytes", broker_id="0", area="nonheap") == 100.0
    assert value("kafka_broker_jvm_memory_max_bytes", broker_id="0", area="heap") == 512.0
    assert value("kafka_broker_jvm_buffer_pool_used_bytes", broker_id="0", pool="direct") == 250.0
    assert value("kafka_broker_jvm_buffer_pool_used_bytes", broker_id="0", pool="mapped") == 40.0
    # No container limit known: no ratio rather than a made-up one.
    assert value("kafka_broker_offheap_limit_ratio", broker_id="0") is None
    assert value("kafka_broker_offheap_bytes", broker_id="1") is None
    assert value("broker_lag_exporter_jvm_scrape_up", broker_id="0") == 1
    assert value("broker_lag_exporter_jvm_scrape_up", broker_id="1") == 0
    assert value("broker_lag_exporter_jvm_scrape_errors_total", broker_id="1", reason="http_status") == 3
    assert value("broker_lag_exporter_jvm_scrape_errors_total", broker_id="0", reason="timeout") == 0
    assert value("broker_lag_exporter_source_up", source="jvm") == 1
    assert value("kafka_broker_up", broker_id="1") == 1


def test_families_match_the_catalogue():
    seen = set()
    for family in text_string_to_metric_families(generate_latest(_registry()).decode()):
        if family.name.startswith(RUNTIME_PREFIXES):
            continue
        name = family.name + ("_total" if family.type == "counter" else "")
        spec = BY_NAME[name]
        for sample in family.samples:
            assert set(sample.labels) == set(spec.labels), sample
        if spec.source == "jvm" and family.samples:
            seen.add(name)
    jvm_specs = {s.name for s in BY_NAME.values() if s.source == "jvm"}
    # Only the ratio needs Kubernetes; every other JVM family is rendered here.
    assert seen == jvm_specs - {"kafka_broker_offheap_limit_ratio"}


@pytest.mark.prometheus
def test_promtool_accepts_the_jvm_families():
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run scripts/setup-system.sh"
    out = subprocess.run(
        [promtool, "check", "metrics"], input=generate_latest(_registry()), capture_output=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
