"""A PromQL lexer that finds the metric names an expression selects.

Not a full parser: it tokenizes (strings, numbers, durations, label matchers, Grafana
variables) and classifies each identifier by its context, which is enough to tell a
metric name from a function, keyword or label name. Syntax errors are the real
Prometheus' job (`promtool check rules`, `/api/v1/format_query`).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTIONS = _words(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
    clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
    days_in_month deg delta deriv end exp floor histogram_count histogram_fraction
    histogram_quantile histogram_sum holt_winters hour idelta increase irate label_join
    label_replace last_over_time ln log10 log2 max_over_time min_over_time minute month pi
    predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh
    sort sort_desc sqrt start stddev_over_time stdvar_over_time sum_over_time tan tanh time
    timestamp vector year"""
)
AGGREGATIONS = _words("sum avg count min max group stddev stdvar topk bottomk quantile count_values")
KEYWORDS = _words("and or unless atan2 bool offset by without on ignoring group_left group_right")
# Keywords followed by a parenthesised list of label names.
LABEL_LISTS = _words("by without on ignoring group_left group_right")
LITERALS = frozenset({"inf", "nan"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<variable>\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[A-Za-z_][A-Za-z0-9_:]*\]\])
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=@,:(){}\[\]])
    """,
    re.VERBOSE,
)


class PromQLSyntaxError(ValueError):
    """The expression cannot be tokenized or uses an unknown function."""


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme: its kind (a group name of the lexer) and text."""

    kind: str
    text: str


def tokenize(expr: str) -> list[Token]:
    """Split an expression into tokens, dropping whitespace and comments."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise PromQLSyntaxError(f"unexpected {expr[pos : pos + 10]!r} at {pos} in {expr!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group()))
        pos = match.end()
    return tokens


def _skip_group(tokens: list[Token], i: int, open_: str, close: str) -> int:
    """Return the index after the bracket group that starts at `i`."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].text == open_:
            depth += 1
        elif tokens[j].text == close:
            depth -= 1
            if depth == 0:
                return j + 1
    raise PromQLSyntaxError(f"unbalanced {open_!r}")


def _matcher_names(tokens: list[Token], start: int, end: int) -> Iterator[str]:
    """Yield the values of `__name__="..."` matchers inside a `{...}` block."""
    for j in range(start, end - 2):
        if tokens[j].text == "__name__" and tokens[j + 1].text == "=":
            yield tokens[j + 2].text[1:-1]


def metric_names(expr: str) -> frozenset[str]:
    """Return the metric names the expression selects (by name or `__name__` matcher)."""
    tokens = tokenize(expr)
    names: set[str] = set()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if tok.text == "[":  # a range or subquery: durations and variables only
            i = _skip_group(tokens, i, "[", "]")
            continue
        if tok.text == "{":
            end = _skip_group(tokens, i, "{", "}")
            names.update(_matcher_names(tokens, i, end))
            i = end
            continue
        if tok.kind == "ident":
            word = tok.text
            if word in LABEL_LISTS and nxt == "(":
                i = _skip_group(tokens, i + 1, "(", ")")
                continue
            if nxt == "(" and word not in KEYWORDS:
                if word not in FUNCTIONS and word not in AGGREGATIONS:
                    raise PromQLSyntaxError(f"unknown function {word!r} in {expr!r}")
            elif word not in KEYWORDS and word not in AGGREGATIONS and word.lower() not in LITERALS:
                names.add(word)
        i += 1
    return frozenset(names)


# Series Prometheus itself writes for every target: dashboards and alerts may use them.
PROMETHEUS_GENERATED = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
