"""Background polling: every source on its own interval and deadline, in parallel."""

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import structlog

from broker_lag_exporter.model.health import Health
from broker_lag_exporter.sources import Source, SourceError
from broker_lag_exporter.store import Store

log = structlog.get_logger(__name__)


async def poll_once(source: Source[Any], store: Store, deadline: float) -> bool:
    """Poll a source once under a deadline and record the outcome; return success."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(deadline):
            data = await source.collect()
    except (SourceError, TimeoutError) as exc:
        error = str(exc) or f"poll exceeded collect_timeout_seconds={deadline:g}"
        _record_failure(store, source.name, error, started)
        return False
    except Exception as exc:
        # A bug or an answer no one foresaw must cost this source one poll,
        # never the process and the other sources.
        log.exception("source raised unexpectedly", source=source.name)
        _record_failure(store, source.name, f"internal error: {type(exc).__name__}", started)
        return False
    duration = time.monotonic() - started
    if not store.health().get(source.name, Health()).up:
        log.info("source up", source=source.name, duration_seconds=round(duration, 3))
    store.record_success(source.name, data, duration)
    return True


def _record_failure(store: Store, name: str, error: str, started: float) -> None:
    health = store.health().get(name, Health())
    # Log once per change of state or message, not once per poll.
    if health.up or health.last_error != error:
        log.error("source failed", source=name, error=error)
    store.record_failure(name, error, time.monotonic() - started)


async def poll_forever(source: Source[Any], store: Store, interval: float, deadline: float) -> None:
    """Poll a source until cancelled, starting a poll every `interval` seconds."""
    store.register(source.name)
    while True:
        started = time.monotonic()
        await poll_once(source, store, deadline)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


async def supervise(pollers: asyncio.Task[None], stop: asyncio.Event, store: Store) -> bool:
    """Wait for `stop` or for the pollers to end; return False if they ended on their own.

    Pollers never return: if they do, figures would freeze while the probes
    said all is well. The store is marked dead (so /healthz fails) and the
    caller exits non-zero so that Kubernetes restarts the process.
    """
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({pollers, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not pollers.done():
        pollers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pollers
        return True
    error = None if pollers.cancelled() else pollers.exception()
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]  # name the cause, not the TaskGroup that carried it
    reason = f"pollers ended: {type(error).__name__}: {error}" if error else "pollers ended"
    log.critical("background polling died; exiting", error=reason, exc_info=error)
    store.die(reason)
    return False


async def run_pollers(sources: Sequence[Source[Any]], store: Store, interval: float, deadline: float) -> None:
    """Poll every source concurrently until cancelled, then close them."""
    try:
        async with asyncio.TaskGroup() as tg:
            for source in sources:
                tg.create_task(poll_forever(source, store, interval, deadline))
    finally:
        for source in sources:
            await source.close()
