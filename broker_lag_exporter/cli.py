"""Command line: `serve`, `once`, `lint`; every flag also works as a BROKER_LAG_* variable."""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from broker_lag_exporter import __version__, app
from broker_lag_exporter.config.settings import ENV_PREFIX, ConfigError, Settings, load_settings
from broker_lag_exporter.lint import run as lint
from broker_lag_exporter.logs import configure

PROG = "broker-lag-exporter"
EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Kafka consumer lag, leadership and risk, attributed to broker ids.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command. "
        f"Every option is also read from {ENV_PREFIX}<OPTION> (e.g. "
        f"{ENV_PREFIX}BOOTSTRAP_SERVERS); flags beat the environment, which beats --config.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (
        ("serve", "poll in the background and serve /metrics"),
        ("once", "poll once and print the exposition on stdout"),
    ):
        sub = commands.add_parser(name, help=text, add_help=False)
        sub.add_argument(
            "--config",
            type=Path,
            default=os.environ.get(f"{ENV_PREFIX}CONFIG"),
            help=f"YAML file of options (also {ENV_PREFIX}CONFIG)",
        )
    checks = commands.add_parser(
        "lint",
        help="run the Kubernetes risk checks over manifests (exit 1 on findings, 2 on unreadable input)",
        epilog="Risk settings (e.g. --risk-keda-lag-threshold-floor) apply as for serve.",
    )
    checks.add_argument("files", nargs="+", type=Path, metavar="FILE", help="YAML manifests")
    checks.add_argument("--format", choices=("text", "json"), default="text")
    checks.add_argument("--config", type=Path, default=os.environ.get(f"{ENV_PREFIX}CONFIG"))
    return parser


def _settings(command: str, config: Path | None, rest: Sequence[str]) -> Settings:
    return load_settings(list(rest), config_file=config, _cli_prog_name=f"{PROG} {command}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args, rest = _parser().parse_known_args(argv)
    if args.command == "lint":
        return lint.run(args.files, args.format, args.config, rest)
    try:
        settings = _settings(args.command, args.config, rest)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure(settings.log.log_format, settings.log.log_level)
    if args.command == "once":
        text, ok = asyncio.run(app.once(settings))
        sys.stdout.buffer.write(text)
        return 0 if ok else 1
    return asyncio.run(app.serve(settings))
