"""Prometheus output: the metric catalogue and the collector that renders the joined view."""
