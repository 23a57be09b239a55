"""The pipeline: a join or risk rule that raises costs one refresh, never the last good assessment."""

from typing import Any

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.model.kafka import Broker, Group, KafkaSnapshot, Partition
from broker_lag_exporter.pipeline import Pipeline
from broker_lag_exporter.store import Store

SETTINGS = load_settings(bootstrap_servers="k:9092")


def snapshot(committed: Any) -> KafkaSnapshot:
    return KafkaSnapshot(
        brokers={0: Broker(0, "k", 9092)},
        controller_id=0,
        partitions={("t", 0): Partition(0, (0,), (0,))},
        end_offsets={("t", 0): 10},
        groups=(Group("g", 0, committed={("t", 0): committed}),),
    )


def test_a_join_that_raises_keeps_the_last_good_assessment():
    store = Store(60)
    pipeline = Pipeline(store, SETTINGS.export, SETTINGS.risk)
    store.subscribe(pipeline.refresh)
    store.record_success("kafka", snapshot(4), 0.1)
    good = pipeline.latest()
    assert good.facts.lag is not None
    assert good.facts.lag.groups[0].lag == 6
    # A value no source should produce, standing for any bug in the join.
    store.record_success("kafka", snapshot("4"), 0.1)
    assert pipeline.latest() is good
    assert pipeline.latest() is good  # scrapes do not re-run (nor re-count) the failed join
    assert store.internal_errors() == {"join": 1}
    store.record_success("kafka", snapshot(7), 0.1)
    fixed = pipeline.latest().facts.lag
    assert fixed is not None
    assert fixed.groups[0].lag == 3


def test_a_failure_before_any_success_serves_an_empty_assessment():
    store = Store(60)
    pipeline = Pipeline(store, SETTINGS.export, SETTINGS.risk)
    store.record_success("kafka", snapshot(None), 0.1)
    assert pipeline.latest().facts.kafka is None
    assert store.internal_errors() == {"join": 1}


def test_the_last_good_assessment_is_not_served_past_max_data_age():
    now = [1000.0]
    store = Store(60, clock=lambda: now[0])
    pipeline = Pipeline(store, SETTINGS.export, SETTINGS.risk)
    store.subscribe(pipeline.refresh)
    store.record_success("kafka", snapshot(4), 0.1)
    now[0] = 1030
    store.record_success("kafka", snapshot("4"), 0.1)  # every poll since fails to join
    assert pipeline.latest().facts.kafka is not None
    now[0] = 1061
    assert pipeline.latest().facts.kafka is None  # dropped, as the store drops data that old


def test_the_last_good_age_rises_while_joins_fail():
    now = [1000.0]
    store = Store(60, clock=lambda: now[0])
    pipeline = Pipeline(store, SETTINGS.export, SETTINGS.risk)
    store.subscribe(pipeline.refresh)
    assert pipeline.last_good_age() == 0
    store.record_success("kafka", snapshot("4"), 0.1)
    assert pipeline.last_good_age() is None  # nothing good yet: no age to tell
    store.record_success("kafka", snapshot(4), 0.1)
    assert pipeline.last_good_age() == 0
    now[0] = 1010
    store.record_success("kafka", snapshot("4"), 0.1)
    now[0] = 1025
    assert pipeline.last_good_age() == 25
    store.record_success("kafka", snapshot(7), 0.1)
    assert pipeline.last_good_age() == 0
