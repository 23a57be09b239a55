"""Tests against real Kafka, kube-apiserver, Prometheus and JVM agents started by the harness."""
