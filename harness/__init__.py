"""Test harness: real components (Kafka, kube-apiserver, Prometheus) started by the tests."""
