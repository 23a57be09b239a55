"""The kubernetes source: broker pods, nodes, disruption budgets and KEDA ScaledObjects."""

from broker_lag_exporter.sources.kubernetes.source import KubernetesSource

__all__ = ["KubernetesSource"]
