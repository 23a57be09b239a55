"""Annotated value types of the options: parsing from flags and environment, and their checks."""

import os
import re
import socket
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import NoDecode

from broker_lag_exporter.model.broker_ids import parse_id_rule
from broker_lag_exporter.model.kube_parse import parse_selector_string
from broker_lag_exporter.web_auth import load_web_config

_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
TEMPLATE_FIELDS = frozenset({"host", "port", "id", "pod_ip"})


@dataclass(frozen=True, slots=True)
class Metavar:
    """How a value is written on the command line: `--flag METAVAR`; `sep` joins a list default."""

    text: str
    sep: str = ","


def split_csv(value: object) -> object:
    """Split `A,B,C` from a flag or variable; YAML lists pass through."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _check_servers(servers: list[str]) -> list[str]:
    if not servers:
        raise ValueError("at least one HOST:PORT is required")
    bad = [s for s in servers if not _HOST_PORT.match(s) or int(s.rsplit(":", 1)[1]) > 65535]
    if bad:
        raise ValueError(f"expected HOST:PORT, got {', '.join(map(repr, bad))}")
    return servers


def check_regex(pattern: str) -> str:
    """Return the pattern if it compiles; raise ValueError naming it otherwise."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL with a host, got {url!r}")
    return url


def _split_endpoints(value: object) -> object:
    """Accept `ID=URL[,ID=URL...]` from flags and environment; YAML gives a mapping."""
    if not isinstance(value, str):
        return value
    pairs = [part.strip().partition("=") for part in value.split(",") if part.strip()]
    bad = [key for key, sep, _ in pairs if not sep]
    if bad:
        raise ValueError(f"expected ID=URL pairs, got {', '.join(map(repr, bad))}")
    return {key.strip(): url.strip() for key, _, url in pairs}


def _check_endpoints(endpoints: dict[int, str]) -> dict[int, str]:
    for url in endpoints.values():
        _check_url(url)
    return endpoints


def _check_template(template: str) -> str:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"invalid template {template!r}: {exc}") from exc
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {sorted(unknown)}; use {{host}}, {{port}}, {{id}}, {{pod_ip}}"
        )
    _check_url(template.format(host="broker", port=9092, id=0, pod_ip="10.0.0.1"))
    return template


def pod_ordinal(name: str) -> int:
    """Return the ordinal a StatefulSet puts at the end of its pods' names (`exporter-2` -> 2)."""
    m = re.fullmatch(r".+-(\d+)", name)
    if m is None:
        raise ValueError(f"`auto` needs a pod name ending in -<ordinal>, got {name!r}")
    return int(m.group(1))


def _resolve_shard_index(value: object) -> object:
    # Read here, once, at start: the pod name is fixed for the life of a StatefulSet pod.
    if isinstance(value, str) and value.strip() == "auto":
        return pod_ordinal(os.environ.get("POD_NAME") or socket.gethostname())
    return value


def _split_semicolons(value: object) -> object:
    # Label selectors contain commas, so flags and environment separate them with ";".
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def _check_selectors(selectors: list[str]) -> list[str]:
    for selector in selectors:
        parse_selector_string(selector)
    return selectors


def _check_web_config(path: Path) -> Path:
    # Parsed and its files checked at start, so a bad file fails before serving, listing every problem.
    load_web_config(path)
    return path


def _check_id_rule(rule: str) -> str:
    parse_id_rule(rule)
    return rule


Servers = Annotated[
    list[str],
    NoDecode,
    Metavar("HOST:PORT,..."),
    BeforeValidator(split_csv),
    AfterValidator(_check_servers),
]
Regex = Annotated[str, Metavar("REGEX"), AfterValidator(check_regex)]
Seconds = Annotated[float, Metavar("SECONDS"), Field(gt=0)]
JvmEndpoints = Annotated[
    dict[int, str],
    NoDecode,
    Metavar("ID=URL,..."),
    BeforeValidator(_split_endpoints),
    AfterValidator(_check_endpoints),
]
UrlTemplate = Annotated[str, Metavar("URL"), AfterValidator(_check_template)]
CsvList = Annotated[list[str], NoDecode, Metavar("NAME,..."), BeforeValidator(split_csv)]
Selectors = Annotated[
    list[str],
    NoDecode,
    Metavar("SELECTOR;...", sep=";"),
    BeforeValidator(_split_semicolons),
    AfterValidator(_check_selectors),
]
IdRule = Annotated[str, Metavar("RULE"), AfterValidator(_check_id_rule)]
ShardIndex = Annotated[int, BeforeValidator(_resolve_shard_index), Field(ge=0)]
RegexList = Annotated[
    list[str],
    NoDecode,
    Metavar("REGEX,..."),
    BeforeValidator(split_csv),
    AfterValidator(lambda p: [check_regex(r) for r in p]),
]
WebConfigFile = Annotated[Path, AfterValidator(_check_web_config)]
