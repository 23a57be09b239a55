"""Command-line flags built from the options sections: one per field, with its metavar, help and variable."""

import argparse
import textwrap
import types
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from broker_lag_exporter.config.sections import Section
from broker_lag_exporter.config.values import Metavar

ENV_PREFIX = "BROKER_LAG_"  # settings.py re-exports it
# Plain types read well under a generic name; the value types of config/values.py declare their own.
_PLAIN = {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH", SecretStr: "SECRET"}


def flag(name: str) -> str:
    """Return the flag of an option field."""
    return "--" + name.replace("_", "-")


def env_name(name: str) -> str:
    """Return the environment variable of an option field."""
    return ENV_PREFIX + name.upper()


class HelpFormatter(argparse.HelpFormatter):
    """Wrap help at spaces only: flags, selectors and paths in it stay whole (and searchable)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)


def add_options(
    parser: argparse.ArgumentParser, sections: Sequence[type[Section]], only: Collection[str] | None = None
) -> None:
    """Add one argument group per section and one flag per field (or per field in `only`).

    Flags not given stay unset, so the environment and the config file still apply.
    """
    for section in sections:
        group = parser.add_argument_group(_title(section))
        for name, field in section.model_fields.items():
            if only is None or name in only:
                _add(group, name, field)


def given(args: argparse.Namespace, sections: Sequence[type[Section]]) -> dict[str, Any]:
    """Return the options given as flags, by field name, as the strings (or booleans) typed."""
    names = {name for section in sections for name in section.model_fields}
    return {name: value for name, value in vars(args).items() if name in names}


def _title(section: type[Section]) -> str:
    doc = (section.__doc__ or section.__name__).strip().splitlines()[0]
    return doc.rstrip(".")


def _add(group: argparse._ArgumentGroup, name: str, field: FieldInfo) -> None:
    kinds = list(_leaves(field.annotation))
    meta = _metavar(field)
    help_text = _help(name, field, meta)
    if bool in kinds:
        group.add_argument(
            flag(name),
            dest=name,
            action=argparse.BooleanOptionalAction,
            default=argparse.SUPPRESS,
            help=help_text,
        )
        return
    choices = [c for kind in kinds if get_origin(kind) is Literal for c in get_args(kind)]
    if choices:
        group.add_argument(flag(name), dest=name, choices=choices, default=argparse.SUPPRESS, help=help_text)
        return
    text = meta.text if meta else next((_PLAIN[k] for k in kinds if k in _PLAIN), "VALUE")
    group.add_argument(flag(name), dest=name, metavar=text, default=argparse.SUPPRESS, help=help_text)


def _leaves(annotation: Any) -> Iterator[Any]:
    """Yield the types an annotation allows, through Optional and Annotated (None left out)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _leaves(get_args(annotation)[0])
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            yield from _leaves(arg)
    elif annotation is not type(None):
        yield annotation


def _metavar(field: FieldInfo) -> Metavar | None:
    """Return the last Metavar declared on the field or inside its (Optional) type: the field's wins."""
    found = [m for m in field.metadata if isinstance(m, Metavar)]
    found = [*_nested(field.annotation), *found]
    return found[-1] if found else None


def _nested(annotation: Any) -> list[Metavar]:
    if get_origin(annotation) is Annotated:
        return [m for m in get_args(annotation)[1:] if isinstance(m, Metavar)]
    return [m for arg in get_args(annotation) for m in _nested(arg)]


def _help(name: str, field: FieldInfo, meta: Metavar | None) -> str:
    # argparse %-formats help strings; the docs' Markdown backticks are noise in a terminal.
    text = (field.description or "").replace("`", "").replace("%", "%%")
    shown = _default(field, meta.sep if meta else ",")
    default = "required" if field.is_required() else (f"default: {shown}" if shown else "")
    return f"{text} [{', '.join(p for p in (env_name(name), default) if p)}]"


def _default(field: FieldInfo, sep: str) -> str:
    """Return the default as it would be typed on the command line; empty when unset."""
    if field.is_required():
        return ""
    value = field.get_default(call_default_factory=True)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return sep.join(map(str, value))
    return "" if value is None else str(value).replace("%", "%%")
