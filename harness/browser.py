"""Headless Chromium (Debian's `chromium` package) for tests that look at pages as a browser renders them.

Each call starts a fresh browser with its own profile, no network but the page's
own, and returns the DOM after load (`dump_dom`) or writes a PNG (`screenshot`).
`elements` reads a dumped DOM back into tags, attributes and text.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from harness.process import tail

FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserHarnessError(RuntimeError):
    """Chromium is missing, failed, or took too long."""


def binary() -> str:
    """Return the path of chromium, or raise naming the setup script."""
    path = shutil.which("chromium")
    if path is None:
        raise BrowserHarnessError("chromium not found: run scripts/setup-system.sh")
    return path


class Chromium:
    """Runs headless Chromium once per call, each run with a new profile under `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._runs = itertools.count()

    def dump_dom(self, url: str, *, timeout: float = 60.0) -> str:
        """Return the page's DOM serialized after load (scripts, if any, have run)."""
        return self._run(["--dump-dom", url], timeout).decode()

    def screenshot(
        self, url: str, path: Path, *, width: int = 1280, height: int = 1000, timeout: float = 60.0
    ) -> Path:
        """Write a PNG of the page at `width` x `height` CSS pixels to `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run([f"--window-size={width},{height}", f"--screenshot={path}", url], timeout)
        if not path.is_file() or path.stat().st_size == 0:
            raise BrowserHarnessError(f"chromium wrote no screenshot to {path}")
        return path

    def _run(self, args: list[str], timeout: float) -> bytes:
        n = next(self._runs)
        profile = self.workdir / f"profile-{n}"
        out, log = self.workdir / f"run-{n}.out", self.workdir / f"run-{n}.log"
        profile.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as stdout, log.open("wb") as stderr:
            proc = subprocess.Popen(
                [binary(), *FLAGS, f"--user-data-dir={profile}", *args],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # Chromium forks helpers (zygote, renderer) into its session: stop them all.
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise BrowserHarnessError(f"chromium took over {timeout:.0f}s\n{tail(log)}") from None
        if code != 0:
            raise BrowserHarnessError(f"chromium exited {code}\n{tail(log)}")
        return out.read_bytes()


@dataclass
class Element:
    """One element of a parsed page: its tag, attributes and all the text inside it."""

    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        """Return the element's CSS classes."""
        return set(self.attrs.get("class", "").split())

    def find(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        """Return every descendant with this tag and class, in document order."""
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                found.append(child)
            found.extend(child.find(tag, cls))
        return found


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text += data


def parse(page: str) -> Element:
    """Return the document element tree of an HTML page."""
    parser = _Parser()
    parser.feed(page)
    parser.close()
    return parser.root


__all__ = ["FLAGS", "BrowserHarnessError", "Chromium", "Element", "binary", "parse"]
