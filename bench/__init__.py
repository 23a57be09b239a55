"""Benchmark: a real broker with many topics and groups; prints figures, asserts nothing."""
