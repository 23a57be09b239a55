"""The package's shape: imports point downstream only, and CONTRIBUTING.md's tree is true."""

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "broker_lag_exporter"

# What each part may import, besides itself, the package root (version) and the options sections.
# Data flows model -> sources -> store/poller, and model -> join -> risk -> metrics, status and lint.
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "sources": {"model", "tls"},
    "store": {"model"},
    "poller": {"model", "store", "sources"},
    "join": {"model"},
    "risk": {"model", "join"},
    "pipeline": {"model", "store", "join", "risk"},
    "metrics": {"model", "join", "risk"},
    "lint": {"model", "join", "risk", "config"},
    "status": {"model", "join", "risk"},
    "server": {"model", "store", "status", "tls", "web_auth"},
    "logs": set(),
    "config": {"model", "tls", "web_auth"},
    "tls": set(),
    "web_auth": {"tls"},
}
WIDE = {"app", "cli", "__main__"}
ALWAYS = {"", "config.sections"}


def _part(module: str) -> str:
    return module.removeprefix("broker_lag_exporter").lstrip(".").split(".")[0]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return {n for n in names if n == "broker_lag_exporter" or n.startswith("broker_lag_exporter.")}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_downstream_only(path):
    part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if part in WIDE or part == "__init__":
        return
    allowed = ALLOWED[part] | {part}
    for module in _imports(path):
        inner = module.removeprefix("broker_lag_exporter").lstrip(".")
        if inner in ALWAYS or inner.startswith("config.sections"):
            continue
        assert _part(module) in allowed, f"{path.relative_to(ROOT)} imports {module} (upstream of {part})"


def test_every_part_of_the_package_has_a_rule():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()}
    assert parts - {"__init__"} <= set(ALLOWED) | WIDE


def _tree_paths() -> set[str]:
    """Return every path CONTRIBUTING.md's layout block names (folders end with '/')."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    paths: set[str] = set()
    stack: list[tuple[int, str]] = []  # (indent, folder) of the folders the line is inside
    for line in block.splitlines():
        m = re.match(r"^( *)(\S+)", line)
        # A description's continuation line holds words, not file or folder names.
        if not m or not all(re.fullmatch(r"[\w.-]+(/|\.\w+)", n) for n in m.group(2).split(",")):
            continue
        indent, names = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        prefix = "".join(folder for _, folder in stack)
        for name in names.split(","):
            if name:
                paths.add(prefix + name)
        if names.endswith("/"):
            stack.append((indent, names))
    return paths


def test_contributing_tree_matches_the_files_git_tracks():
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    named = _tree_paths()
    missing = sorted(p for p in named if not any(t == p or t.startswith(p) for t in tracked))
    assert not missing, f"CONTRIBUTING.md names what git does not have: {missing}"
    modules = [t for t in tracked if t.startswith("broker_lag_exporter/") and t.endswith(".py")]
    entry_points = ("__init__.py", "__main__.py")
    unlisted = sorted(m for m in modules if m not in named and not m.endswith(entry_points))
    assert not unlisted, f"modules CONTRIBUTING.md's tree leaves out: {unlisted}"
