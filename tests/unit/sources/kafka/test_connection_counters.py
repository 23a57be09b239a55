"""Request error counters: per poll for the log, and for the whole run for the exported counter."""

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.sources.kafka.client import KafkaConnection


def test_error_totals_survive_each_new_poll():
    settings = load_settings(bootstrap_servers="127.0.0.1:9092")
    conn = KafkaConnection(settings.kafka, settings.poll)
    conn.count_error("list_offsets", 2)
    conn.reset_counters()
    conn.count_error("list_offsets")
    conn.count_error("offset_fetch", 3)
    assert conn.errors == {"list_offsets": 1, "offset_fetch": 3}
    assert conn.errors_total == {"list_offsets": 3, "offset_fetch": 3}
