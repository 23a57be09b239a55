"""Tests of broker_lag_exporter.sources."""
