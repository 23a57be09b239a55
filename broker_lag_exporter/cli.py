"""Command line: `serve`, `once`, `lint`; every flag also works as a BROKER_LAG_* variable."""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from broker_lag_exporter import __version__, app
from broker_lag_exporter.config.flags import HelpFormatter, add_options, given
from broker_lag_exporter.config.sections import KubeOptions, RiskOptions, Section, WebOptions
from broker_lag_exporter.config.settings import ENV_PREFIX, ConfigError, Settings, load, sections_of
from broker_lag_exporter.lint import run as lint
from broker_lag_exporter.logs import configure
from broker_lag_exporter.risk.checks import unknown_checks

PROG = "broker-lag-exporter"
EXIT_CONFIG = 2
# Each command shows only the options it reads: `once` serves no HTTP, `lint` reads manifests only.
SECTIONS: dict[str, list[type[Section]]] = {
    "serve": sections_of(Settings),
    "once": [s for s in sections_of(Settings) if s is not WebOptions],
    "lint": [KubeOptions, RiskOptions],
}
# lint reads manifests, not the API: of the Kubernetes options only which pods are brokers matters.
ONLY: dict[str, set[str] | None] = {
    "serve": None,
    "once": None,
    "lint": {"kube_broker_selectors", "kube_broker_container", *RiskOptions.model_fields},
}


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
    texts = {
        "serve": "poll in the background and serve /metrics",
        "once": "poll once and print the exposition on stdout",
        "lint": "run the Kubernetes risk checks over manifests",
    }
    for name, text in texts.items():
        sub = commands.add_parser(
            name,
            help=text,
            formatter_class=HelpFormatter,
            description=text[0].upper() + text[1:] + ".",
            epilog=f"Flags beat {ENV_PREFIX}* variables, which beat the --config file.",
        )
        if name == "lint":
            _lint_arguments(sub)
        sub.add_argument(
            "--config",
            type=Path,
            metavar="PATH",
            default=os.environ.get(f"{ENV_PREFIX}CONFIG"),
            help=f"YAML file of options, keys as the option names with _ [{ENV_PREFIX}CONFIG]",
        )
        if name != "lint":
            sub.add_argument(
                "--secrets-dir",
                type=Path,
                metavar="PATH",
                default=os.environ.get(f"{ENV_PREFIX}SECRETS_DIR"),
                help="folder of files named like the options' variables (e.g. BROKER_LAG_SASL_PASSWORD), "
                f"each holding that option's value: a mounted Secret [{ENV_PREFIX}SECRETS_DIR]",
            )
        add_options(sub, SECTIONS[name], ONLY[name])
    return parser


def _lint_arguments(sub: argparse.ArgumentParser) -> None:
    sub.epilog = (
        "Exit status: 0 clean, 1 findings, 2 unreadable input or settings, 3 when the files hold no "
        "broker, consumer or ScaledObject to check (see --allow-empty). " + (sub.epilog or "")
    )
    sub.add_argument("files", nargs="+", type=Path, metavar="FILE", help="YAML manifests")
    sub.add_argument(
        "--format", choices=("text", "json"), default="text", help="report format [default: text]"
    )
    sub.add_argument(
        "--allow-empty",
        action="store_true",
        help="exit 0 rather than 3 when the files hold no broker, consumer or ScaledObject to check",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = _parser().parse_args(argv)
    options = given(args, SECTIONS[args.command])
    if args.command == "lint":
        return lint.run(args.files, args.format, args.config, options, allow_empty=args.allow_empty)
    try:
        settings = load(Settings, None, config_file=args.config, secrets_dir=args.secrets_dir, **options)
        unknown_checks(settings.risk_disable_checks)
    except (ConfigError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure(settings.log.log_format, settings.log.log_level)
    if args.command == "once":
        text, ok = asyncio.run(app.once(settings))
        sys.stdout.buffer.write(text)
        return 0 if ok else 1
    return asyncio.run(app.serve(settings))
