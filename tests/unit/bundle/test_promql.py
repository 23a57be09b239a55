"""The PromQL lexer tells metric names from functions, keywords, labels and variables."""

import pytest

from bundle.promql import PromQLSyntaxError, Selector, metric_names, selectors


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


def test_selectors_carry_matchers_range_and_enclosing_function() -> None:
    expr = (
        'sum by (broker_id) (rate(errors_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))'
        ' / on (job) group_left () deriv(lag{job="a"}[5m:1m]) + {__name__="n"}'
    )
    first, second, third = selectors(expr)
    assert first == Selector(
        "errors_total", (("job", "=~", "$job"), ("instance", "=~", "$instance")), "$__rate_interval", "rate"
    )
    assert first.matcher("instance") == ("=~", "$instance")
    assert first.matcher("group") is None
    assert (second.name, second.range, second.function) == ("lag", "5m:1m", "deriv")
    assert (third.name, third.range, third.function) == ("n", None, None)


@pytest.mark.parametrize("expr", ['a{b~"c"}', "sum(a))", "sum((a)", 'a{b="c" d="e"}'])
def test_selectors_reject_malformed_expressions(expr: str) -> None:
    with pytest.raises(PromQLSyntaxError):
        selectors(expr)
