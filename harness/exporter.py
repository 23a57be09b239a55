"""The exporter as users run it: the `broker-lag-exporter serve` console script in its own process."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.process import Service, free_port, popen, tail, terminate, wait_until


class ExporterHarnessError(RuntimeError):
    """The exporter exited or never became ready."""


def console_script() -> str:
    """Return the `broker-lag-exporter` script next to this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "broker-lag-exporter"
    found = str(beside) if beside.is_file() else shutil.which("broker-lag-exporter")
    if found is None:
        raise ExporterHarnessError("broker-lag-exporter is not installed: run `make setup-python`")
    return found


class ExporterProcess(Service):
    """`broker-lag-exporter serve` on 127.0.0.1 and a free port, logging to a file."""

    def __init__(
        self, proc: subprocess.Popen[bytes], port: int, log: Path, tls: ssl.SSLContext | None = None
    ) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.tls = tls

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        bootstrap_servers: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        timeout: float = 60.0,
        tls: ssl.SSLContext | None = None,
    ) -> ExporterProcess:
        """Start `serve` and wait until /readyz says the first Kafka snapshot is in.

        ``tls`` is the client context to reach an exporter serving HTTPS (with a client
        certificate when it requires one).
        """
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log = workdir / "exporter.log"
        argv = [
            *(command or [console_script()]),
            "serve",
            "--bootstrap-servers",
            bootstrap_servers,
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(port),
            *args,
        ]
        with log.open("ab") as out:
            proc = popen(
                argv,
                stdout=out,
                cwd=workdir,
                env={**os.environ, "BROKER_LAG_LOG_FORMAT": "json", **(env or {})},
                death_signal=signal.SIGTERM,
            )
        exporter = cls(proc, port, log, tls)
        exporter._track()
        try:
            wait_until(exporter.ready, timeout=timeout, what="exporter /readyz")
        except (TimeoutError, ExporterHarnessError) as exc:
            exporter.stop()
            raise ExporterHarnessError(f"{exc}\n{exporter.log_tail()}") from None
        return exporter

    @property
    def address(self) -> str:
        """Return ``127.0.0.1:<port>``, the scrape target."""
        return f"127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, bytes]:
        """GET a path of the exporter; return status and body."""
        try:
            scheme = "https" if self.tls is not None else "http"
            url = f"{scheme}://{self.address}{path}"
            with urllib.request.urlopen(url, timeout=5, context=self.tls) as resp:  # noqa: S310
                return int(resp.status), resp.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read()

    def ready(self) -> bool:
        """Return whether /readyz answers 200; raise if the process died."""
        if self.proc.poll() is not None:
            raise ExporterHarnessError(f"exporter exited {self.proc.returncode}")
        try:
            return self.get("/readyz")[0] == 200
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        """Return the end of the exporter's log."""
        return tail(self.log, lines)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, SIGKILL after ``timeout``; return the exit code. Idempotent."""
        terminate(self.proc, timeout)
        self._untrack()
        return self.proc.returncode


__all__ = ["ExporterHarnessError", "ExporterProcess", "console_script"]
