"""What every harness service shares: free ports, waiting, log tails, and never leaving processes behind."""

from __future__ import annotations

import atexit
import ctypes
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self, TypeVar

_T = TypeVar("_T")
_PR_SET_PDEATHSIG = 1


def free_ports(count: int) -> list[int]:
    """Return distinct free loopback ports (all held open until picked, so none repeats)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    """Return one free loopback port."""
    return free_ports(1)[0]


def wait_until(
    probe: Callable[[], _T | None],
    *,
    timeout: float,
    interval: float = 0.2,
    what: str = "condition",
) -> _T:
    """Poll ``probe`` until it returns a truthy value; return it or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a log, or say that there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def popen(
    args: Sequence[str],
    *,
    stdout: IO[bytes] | int,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    death_signal: signal.Signals = signal.SIGKILL,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session that the kernel signals if the test process dies.

    PDEATHSIG follows the *thread* that forked, so it is only set from the main
    thread: a child started from a pool thread would otherwise die with it. The
    own session keeps a terminal's Ctrl-C away from the child; Python stops it.
    """

    def die_with_parent() -> None:  # runs in the child between fork and exec
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)

    main = threading.current_thread() is threading.main_thread()
    return subprocess.Popen(
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,
        preexec_fn=die_with_parent if main else None,  # noqa: PLW1509
    )


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; always reaps."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _Stoppable(Protocol):
    def stop(self) -> object: ...


_LIVE: set[_Stoppable] = set()
_LIVE_LOCK = threading.Lock()


class Service:
    """A harness service: a context manager that stops it, and stopped at interpreter exit."""

    def stop(self) -> object:
        """Stop every process of the service; must be idempotent."""
        raise NotImplementedError

    def _track(self) -> None:
        """Register the service so the exit hook stops it if the tests do not."""
        with _LIVE_LOCK:
            _LIVE.add(self)

    def _untrack(self) -> None:
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    """Never leave servers behind, whatever the tests did."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for service in live:
        service.stop()
