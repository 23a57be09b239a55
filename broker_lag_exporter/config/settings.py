"""Settings: the sections composed into one frozen object, read from flags, environment and YAML."""

import argparse
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from broker_lag_exporter.config.flags import ENV_PREFIX, add_options, env_name, flag, given
from broker_lag_exporter.config.sections import (
    ExportOptions,
    JvmOptions,
    KafkaOptions,
    KubeOptions,
    LogOptions,
    PollOptions,
    RiskOptions,
    Section,
    WebOptions,
)

__all__ = ["ENV_PREFIX", "ConfigError", "LintSettings", "Settings", "load", "load_settings", "sections_of"]
S = TypeVar("S", bound=Section)
L = TypeVar("L", bound=BaseSettings)


class ConfigError(Exception):
    """Settings are invalid; the message lists every problem."""


class SectionOf(Generic[S]):
    """A typed view of one section of composed settings: `settings.kafka` is its KafkaOptions."""

    def __init__(self, kind: type[S]) -> None:
        self.kind = kind

    def __get__(self, settings: BaseSettings, owner: type[BaseSettings] | None = None) -> S:
        # Already validated as part of the whole: construct, do not validate again.
        return self.kind.model_construct(**{name: getattr(settings, name) for name in self.kind.model_fields})


class _Flat(BaseSettings):
    """Flags, environment and YAML are flat: a section changes no option's name."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        ignored_types=(SectionOf,),
    )


# Bases in reverse: pydantic lists the fields of the last base first, so --help and the
# docs read Kafka, polling, export, web, JVM, Kubernetes, risk, logging.
class Settings(
    LogOptions,
    RiskOptions,
    KubeOptions,
    JvmOptions,
    WebOptions,
    ExportOptions,
    PollOptions,
    KafkaOptions,
    _Flat,
):
    """Every option of `serve` and `once`; see docs/configuration.md."""

    model_config = _Flat.model_config
    kafka = SectionOf(KafkaOptions)
    poll = SectionOf(PollOptions)
    export = SectionOf(ExportOptions)
    web = SectionOf(WebOptions)
    jvm = SectionOf(JvmOptions)
    kube = SectionOf(KubeOptions)
    risk = SectionOf(RiskOptions)
    log = SectionOf(LogOptions)


class LintSettings(LogOptions, RiskOptions, KubeOptions, _Flat):
    """The options of `lint`: it reads manifests and talks to no broker, so it needs no servers."""

    model_config = _Flat.model_config
    kube = SectionOf(KubeOptions)
    risk = SectionOf(RiskOptions)
    log = SectionOf(LogOptions)


def load_settings(
    cli_args: list[str] | None = None,
    *,
    config_file: Path | None = None,
    secrets_dir: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings: flags, then environment, secrets folder, config file and defaults.

    Raises ConfigError listing every invalid field at once.
    """
    return load(Settings, cli_args, config_file=config_file, secrets_dir=secrets_dir, **overrides)


def sections_of(kind: type[BaseSettings]) -> list[type[Section]]:
    """Return the sections a settings class composes, in the order --help and the docs show them."""
    return [b for b in reversed(kind.__bases__) if issubclass(b, Section)]


def parse_flags(kind: type[BaseSettings], cli_args: list[str]) -> dict[str, Any]:
    """Return the options given as flags, by field name; argparse exits on a malformed command line."""
    parser = argparse.ArgumentParser(prog=kind.__name__)
    add_options(parser, sections_of(kind))
    return given(parser.parse_args(cli_args), sections_of(kind))


def load(
    kind: type[L],
    cli_args: list[str] | None,
    *,
    config_file: Path | None,
    secrets_dir: Path | None = None,
    **overrides: Any,
) -> L:
    """Build any settings class from flags, environment, a secrets folder and a YAML file, in that order.

    Flags and `overrides` are both init values, so they beat the rest. In the secrets folder (a
    mounted Kubernetes Secret) each file is named after an option's environment variable, e.g.
    `BROKER_LAG_SASL_PASSWORD`, and holds its value.
    """

    class _Loaded(kind):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources = [init_settings, env_settings]
            if secrets_dir is not None:
                sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir))
            if config_file is not None:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
            return tuple(sources)

    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist")
    if secrets_dir is not None and not secrets_dir.is_dir():
        raise ConfigError(f"secrets folder {secrets_dir} does not exist")
    try:
        if cli_args is not None:
            overrides = {**overrides, **parse_flags(kind, cli_args)}
        loaded: L = _Loaded(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None
    return loaded


def format_errors(exc: ValidationError) -> str:
    """Render every validation problem on its own line, naming the option."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        if len(err["loc"]) == 1 and isinstance(err["loc"][0], str):
            # Name the option as the user may have typed it.
            where += f" ({flag(where)}, {env_name(where)})"
        lines.append(f"  {where}: {err['msg']}")
    return f"{len(lines)} configuration problem(s):\n" + "\n".join(lines)
