"""The PromQL lexer tells metric names from functions, keywords, labels and variables."""

import pytest

from bundle.promql import PromQLSyntaxError, metric_names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('kafka_broker_up{broker_id="1"} == 0', {"kafka_broker_up"}),
        ("rate(a_total[$__rate_interval])", {"a_total"}),
        ("sum by (broker_id, group) (x)", {"x"}),
        ("sum(x) without (group)", {"x"}),
        ("a / ignoring (broker_id) group_left () (b > 0)", {"a", "b"}),
        ("a * on (job, instance) group_right (version) c", {"a", "c"}),
        ("a and on () b unless c or d", {"a", "b", "c", "d"}),
        ('topk(1, x{job=~"$job", instance=~"${instance:regex}"})', {"x"}),
        ("count(y == bool 1) offset 5m", {"y"}),
        ("max_over_time(a[1h:5m]) @ end()", {"a"}),
        ('{__name__="n", job="j"}', {"n"}),
        ("record:with:colons + 1e3 - Inf * NaN", {"record:with:colons"}),
        ("time() - last_success_seconds > 600", {"last_success_seconds"}),
        ('label_replace(a, "dst", "$1", "src", "(.*)")', {"a"}),
        ("# a comment\nsum(a) # trailing", {"a"}),
        ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))", {"h_bucket"}),
        ("vector(1)", set()),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


@pytest.mark.parametrize("expr", ["sumx(a)", "a ? b", 'sum(a{b="c"'])
def test_rejects_what_prometheus_would(expr: str) -> None:
    with pytest.raises(PromQLSyntaxError):
        metric_names(expr)
