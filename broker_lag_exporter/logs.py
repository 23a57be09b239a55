"""structlog setup: JSON for machines, console for people."""

import logging
import sys

import structlog


def configure(fmt: str, level: str) -> None:
    """Configure structlog once at start-up; `fmt` is auto, json or console."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if fmt == "console" else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Library loggers go through the same renderer. aiokafka logs every failed
    # connection attempt on every poll; the kafka source translates those errors
    # and logs each change once, so aiokafka is kept to its critical messages.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(processor=renderer))
    logging.basicConfig(handlers=[handler], level=logging.WARNING, force=True)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
