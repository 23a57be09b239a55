"""Risk rules over hostile inputs: any annotation, env value or topic config never raises."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.model.kafka import KafkaSnapshot, Partition
from broker_lag_exporter.model.kube import Container, Pod, PodSpec, PodStatus
from broker_lag_exporter.risk.consumers import session_timeout_ms
from broker_lag_exporter.risk.engine import assess

SETTINGS = load_settings(bootstrap_servers="k:9092")
DIGITS = re.compile("[0-9]+")


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=12))
def test_session_timeout_is_a_number_of_ascii_digits_or_none(raw):
    pod = Pod(
        "apps",
        "p",
        annotations={"broker-lag-exporter.io/session-timeout-ms": raw},
        spec=PodSpec(containers=(Container("app"),)),
        status=PodStatus("Running", ip="10.0.0.1"),
    )
    expected = int(raw.strip()) if DIGITS.fullmatch(raw.strip()) else None
    assert session_timeout_ms(pod, SETTINGS.risk) == expected


@settings(max_examples=150, deadline=None)
@given(
    configs=st.dictionaries(
        st.sampled_from(["min.insync.replicas", "unclean.leader.election.enable"]), st.text(max_size=8)
    )
)
def test_topic_rules_never_raise_on_any_config_value(configs):
    kafka = KafkaSnapshot(
        {}, 0, {("t", 0): Partition(0, (0, 1), (0, 1))}, {}, (), topic_configs={"t": configs}
    )
    findings = {f.check for f in assess(Facts(kafka=kafka), SETTINGS.risk).findings}
    assert "topic_replication_factor_one" in findings
