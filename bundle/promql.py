"""A PromQL lexer that finds the metric names an expression selects.

Not a full parser: it tokenizes (strings, numbers, durations, label matchers, Grafana
variables) and classifies each identifier by its context, which is enough to tell a
metric name from a function, keyword or label name. Syntax errors are the real
Prometheus' job (`promtool check rules`, `/api/v1/format_query`).
"""

import re
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


@dataclass(frozen=True, slots=True)
class Selector:
    """One vector selector: its metric name, label matchers, range and enclosing function."""

    name: str | None
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, unquoted value)
    range: str | None  # the text between [ and ] right after it, if any
    function: str | None  # the innermost function call around it, if any

    def matcher(self, label: str) -> tuple[str, str] | None:
        """Return (operator, value) of the label's matcher, if there is one."""
        return next(((op, value) for name, op, value in self.matchers if name == label), None)


def _matchers(tokens: list[Token], start: int, end: int) -> tuple[tuple[str, str, str], ...]:
    """Parse the `label op "value", ...` list between tokens[start] == '{' and tokens[end - 1] == '}'."""
    body = tokens[start + 1 : end - 1]
    found: list[tuple[str, str, str]] = []
    k = 0
    while k < len(body):
        label, op, value = (body[k : k + 3] + [Token("", "")] * 3)[:3]
        if label.kind != "ident" or op.text not in {"=", "!=", "=~", "!~"} or value.kind != "string":
            raise PromQLSyntaxError(f"malformed label matcher: {label.text}{op.text}{value.text}")
        found.append((label.text, op.text, value.text[1:-1]))
        k += 3
        if k < len(body) and body[k].text != ",":
            raise PromQLSyntaxError(f"expected ',' between label matchers, got {body[k].text!r}")
        k += 1
    return tuple(found)


def selectors(expr: str) -> list[Selector]:
    """Return every vector selector of the expression, in order."""
    tokens = tokenize(expr)
    found: list[Selector] = []
    calls: list[str | None] = []  # one entry per open parenthesis: the function it calls
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        prev = tokens[i - 1].text if i else ""
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if tok.text == "(":
            calls.append(prev if prev in FUNCTIONS or prev in AGGREGATIONS else None)
        elif tok.text == ")":
            if not calls:
                raise PromQLSyntaxError(f"unbalanced ')' in {expr!r}")
            calls.pop()
        elif tok.text == "[":  # a subquery's range: durations and variables only
            i = _skip_group(tokens, i, "[", "]")
            continue
        elif tok.kind == "ident" and tok.text in LABEL_LISTS and nxt == "(":
            i = _skip_group(tokens, i + 1, "(", ")")
            continue
        elif tok.kind == "ident" and nxt == "(" and tok.text not in KEYWORDS:
            if tok.text not in FUNCTIONS and tok.text not in AGGREGATIONS:
                raise PromQLSyntaxError(f"unknown function {tok.text!r} in {expr!r}")
        elif tok.text == "{" or (tok.kind == "ident" and _is_metric(tok.text)):
            i = _selector(tokens, i, calls[-1] if calls else None, found)
            continue
        i += 1
    if calls:
        raise PromQLSyntaxError(f"unbalanced '(' in {expr!r}")
    return found


def _is_metric(word: str) -> bool:
    return word not in KEYWORDS and word not in AGGREGATIONS and word.lower() not in LITERALS


def _selector(tokens: list[Token], i: int, function: str | None, found: list[Selector]) -> int:
    """Parse the selector starting at tokens[i]; append it and return the index after it."""
    name = tokens[i].text if tokens[i].kind == "ident" else None
    j = i + 1 if name else i
    matchers: tuple[tuple[str, str, str], ...] = ()
    if j < len(tokens) and tokens[j].text == "{":
        end = _skip_group(tokens, j, "{", "}")
        matchers, j = _matchers(tokens, j, end), end
    if name is None:
        name = next((value for label, op, value in matchers if label == "__name__" and op == "="), None)
    range_ = None
    if j < len(tokens) and tokens[j].text == "[":
        end = _skip_group(tokens, j, "[", "]")
        range_, j = "".join(t.text for t in tokens[j + 1 : end - 1]), end
    found.append(Selector(name, matchers, range_, function))
    return j


def metric_names(expr: str) -> frozenset[str]:
    """Return the metric names the expression selects (by name or `__name__` matcher)."""
    return frozenset(s.name for s in selectors(expr) if s.name is not None)


# Series Prometheus itself writes for every target: dashboards and alerts may use them.
PROMETHEUS_GENERATED = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
