"""Real Kafka (KRaft) clusters on loopback, for integration tests and the demo.

The jars come from Maven Central through ``scripts/setup-kafka.sh`` (pom in
``harness/maven``), cached outside the clone; :meth:`KafkaCluster.start` runs the
script, which returns at once when the jars are already there.

Usage::

    with KafkaCluster.start(3, workdir=tmp_path, jmx=True) as kafka:
        kafka.create_topic("orders", assignment=[[0, 1, 2], [1, 2, 0]])
        kafka.produce("orders", 10, partition=0)
        kafka.commit_offsets("billing", {("orders", 0): 4})
        kafka.describe_groups()      # oracle: ConsumerGroupCommand
        kafka.describe_topics()      # oracle: TopicCommand
        kafka.kill(0); kafka.restart(0)

Cluster shape: every node is a combined broker+controller (``process.roles=broker,controller``)
with node id ``0..n-1`` (the StatefulSet ordinals), a static quorum
(``controller.quorum.voters``) and one PLAINTEXT listener on 127.0.0.1. Topics are
never auto-created. Brokers heartbeat every 500 ms and are fenced after 4 s, so a
killed node loses its leaderships within seconds; override with ``broker_props``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness.cache import cache_dir
from harness.kafka import clients
from harness.kafka.oracle import (
    GroupOffsetRow,
    QuorumStatus,
    TopicPartitionRow,
    parse_group_describe,
    parse_quorum_status,
    parse_topic_describe,
)
from harness.kafka.wire import BrokerMetadata, fetch_metadata, probe
from harness.process import Service, free_ports, popen, tail, terminate, wait_until

HARNESS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = HARNESS_DIR.parent
SETUP_SCRIPT = REPO_ROOT / "scripts" / "setup-kafka.sh"
POM = HARNESS_DIR / "maven" / "pom.xml"

#: Broker JVM: small heap, serial GC and C1 only, so three nodes start fast on two cores.
BROKER_JVM_OPTS: tuple[str, ...] = (
    "-Xmx384m",
    "-Xms32m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
)
#: Kafka's CLI tools as oracles: short-lived, so even smaller.
TOOL_JVM_OPTS: tuple[str, ...] = (
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
)

_LOG4J_BROKER = """\
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
"""

# Tools print their result on stdout: keep their logging on stderr, warnings only.
_LOG4J_TOOLS = """\
status = error
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
"""

# The agent's built-in JVM collectors serve jvm_memory_used_bytes and
# jvm_buffer_pool_used_bytes; one MBean rule keeps the page small.
_JMX_CONFIG = """\
lowercaseOutputName: true
includeObjectNames: ["kafka.server:type=KafkaServer,name=BrokerState"]
rules:
  - pattern: 'kafka.server<type=KafkaServer, name=BrokerState><>Value'
    name: kafka_server_brokerstate
    type: GAUGE
"""


class KafkaHarnessError(RuntimeError):
    """A Kafka node failed to set up, start or stop."""


class KafkaToolError(KafkaHarnessError):
    """A Kafka CLI tool exited non-zero or timed out."""

    def __init__(self, main_class: str, returncode: int | None, stdout: str, stderr: str) -> None:
        super().__init__(
            f"{main_class} exited {returncode}:\n{stderr[-4000:]}\n--- stdout ---\n{stdout[-2000:]}"
        )
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


@dataclass
class _Node:
    """One combined broker+controller process and its directory."""

    node_id: int
    broker_port: int
    controller_port: int
    jmx_port: int | None
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def properties(self) -> Path:
        return self.dir / "server.properties"

    @property
    def server_log(self) -> Path:
        return self.dir / "server.log"

    @property
    def stdout_log(self) -> Path:
        return self.dir / "stdout.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# ---------------------------------------------------------------- install


def kafka_version() -> str:
    """Return the Kafka version under test: ``BLE_KAFKA_VERSION`` (`make test-compat`), else the pom's."""
    if override := os.environ.get("BLE_KAFKA_VERSION"):
        return override
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if match is None:
        raise KafkaHarnessError(f"no <kafka.version> in {POM}")
    return match.group(1)


@cache
def kafka_home() -> Path:
    """Run ``setup-kafka.sh`` (a no-op when cached) and return the dir holding ``lib/``."""
    env = {**os.environ, "BLE_CACHE_DIR": str(cache_dir())}
    proc = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise KafkaHarnessError(f"setup-kafka.sh failed:\n{proc.stderr[-4000:]}")
    lib = Path(proc.stdout.strip().splitlines()[-1])
    if not (lib / f"kafka_2.13-{kafka_version()}.jar").is_file():
        raise KafkaHarnessError(f"setup-kafka.sh printed {lib}, which lacks the Kafka jar")
    return lib.parent


def _classpath(home: Path) -> str:
    return str(home / "lib" / "*")


# Tools that moved between the releases the compatibility run covers: newest name -> older name.
_MOVED = {
    "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand": "kafka.admin.ConsumerGroupCommand",
    "org.apache.kafka.tools.consumer.ConsoleConsumer": "kafka.tools.ConsoleConsumer",
}


@cache
def _classes(home: Path) -> frozenset[str]:
    """Return the class names of Kafka's own jars (broker and tools)."""
    names: set[str] = set()
    for jar in (*home.glob("lib/kafka_2.13-*.jar"), *home.glob("lib/kafka-tools-*.jar")):
        with zipfile.ZipFile(jar) as archive:
            names.update(n[:-6].replace("/", ".") for n in archive.namelist() if n.endswith(".class"))
    return frozenset(names)


def main_class(home: Path, name: str) -> str:
    """Return the tool's class in this Kafka release (older releases kept some in the Scala jar)."""
    return name if name in _classes(home) or name not in _MOVED else _MOVED[name]


def version_tuple(version: str) -> tuple[int, ...]:
    """Return ``3.9.1`` as ``(3, 9, 1)``."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


# ---------------------------------------------------------------- processes


def _popen(args: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return popen(args, stdout=out, cwd=cwd)


def _node_tail(node: _Node) -> str:
    return (
        f"--- node {node.node_id} {node.server_log} ---\n{tail(node.server_log)}\n"
        f"--- node {node.node_id} {node.stdout_log} ---\n{tail(node.stdout_log, 20)}"
    )


def _random_cluster_id() -> str:
    """Make what ``StorageTool random-uuid`` prints: 16 random bytes, url-safe base64.

    Made here to save a JVM start; like Kafka's Uuid.randomUuid it never starts with '-'.
    """
    while True:
        encoded = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not encoded.startswith("-"):
            return encoded


# ---------------------------------------------------------------- the cluster


class KafkaCluster(Service):
    """A running KRaft cluster of combined broker+controller nodes on 127.0.0.1."""

    def __init__(self, nodes: list[_Node], *, workdir: Path, home: Path, cluster_id: str) -> None:
        self._nodes = {n.node_id: n for n in nodes}
        self.workdir = workdir
        self.home = home
        self.cluster_id = cluster_id
        self.startup_seconds = 0.0
        self._tools_log4j = workdir / "tools-log4j2.properties"
        self.jvm_opts = BROKER_JVM_OPTS

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def start(
        cls,
        nodes: int = 1,
        *,
        workdir: Path,
        jmx: bool = False,
        broker_props: Mapping[str, str] | None = None,
        timeout: float = 90.0,
        jvm_opts: Sequence[str] = BROKER_JVM_OPTS,
    ) -> KafkaCluster:
        """Format and start ``nodes`` nodes (ids 0..n-1); wait until all serve metadata.

        ``workdir/node-<id>`` is wiped first. A port lost to a race between picking
        and binding is retried once with fresh ports. ``jvm_opts`` replaces the small
        test heap, e.g. for the benchmark's 100,000 partitions.
        """
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        home = kafka_home()
        for attempt in range(2):
            cluster = cls._create(nodes, workdir, home, jmx=jmx, broker_props=broker_props or {})
            cluster.jvm_opts = tuple(jvm_opts)
            try:
                cluster._boot(timeout)
            except KafkaHarnessError as exc:
                cluster.stop(timeout=5)
                if attempt == 0 and "Address already in use" in str(exc):
                    continue
                raise
            return cluster
        raise AssertionError("unreachable")

    @classmethod
    def _create(
        cls,
        count: int,
        workdir: Path,
        home: Path,
        *,
        jmx: bool,
        broker_props: Mapping[str, str],
    ) -> KafkaCluster:
        workdir.mkdir(parents=True, exist_ok=True)
        ports = iter(free_ports(count * (3 if jmx else 2)))
        nodes = [
            _Node(i, next(ports), next(ports), next(ports) if jmx else None, workdir / f"node-{i}")
            for i in range(count)
        ]
        cluster = cls(nodes, workdir=workdir, home=home, cluster_id=_random_cluster_id())
        cluster._tools_log4j.write_text(_LOG4J_TOOLS)
        for node in nodes:
            shutil.rmtree(node.dir, ignore_errors=True)
            node.dir.mkdir(parents=True)
            cluster._write_node_config(node, broker_props)
        return cluster

    def _server_properties(self, node: _Node, overrides: Mapping[str, str]) -> dict[str, str]:
        n = len(self._nodes)
        rf = str(min(3, n))
        voters = ",".join(f"{m.node_id}@127.0.0.1:{m.controller_port}" for m in self._nodes.values())
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port},"
            f"CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(node.dir / "data"),
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "offsets.topic.num.partitions": "3",
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.num.partitions": "3",
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.num.partitions": "3",
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Fewer threads and a small cleaner buffer (default 128 MiB of heap) for 384 MiB heaps.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
            # KIP-848 members get their assignment on a heartbeat (default every 5 s).
            "group.consumer.min.heartbeat.interval.ms": "500",
            "group.consumer.heartbeat.interval.ms": "500",
            # A killed node is fenced (and loses its leaderships) within seconds.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "4000",
        }
        if version_tuple(kafka_version()) < (4, 0):
            # KIP-848 groups were early access before 4.0: switched on explicitly.
            props["group.coordinator.rebalance.protocols"] = "classic,consumer"
            if version_tuple(kafka_version()) < (3, 8):
                props["group.coordinator.new.enable"] = "true"
        props.update(overrides)
        return props

    def _write_node_config(self, node: _Node, overrides: Mapping[str, str]) -> None:
        props = self._server_properties(node, overrides)
        node.properties.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (node.dir / "log4j2.properties").write_text(_LOG4J_BROKER.format(log=node.server_log))
        if node.jmx_port is not None:
            (node.dir / "jmx.yaml").write_text(_JMX_CONFIG)

    def _boot(self, timeout: float) -> None:
        t0 = time.monotonic()
        self._format_storage()
        for node in self._nodes.values():
            self._spawn(node)
        self._wait_ready(list(self._nodes.values()), set(self._nodes), t0 + timeout)
        self.startup_seconds = time.monotonic() - t0

    def _format_storage(self) -> None:
        """``StorageTool format`` for all nodes at once (one JVM each, in parallel)."""
        procs = [
            (
                node,
                subprocess.Popen(
                    self._java(
                        TOOL_JVM_OPTS,
                        "kafka.tools.StorageTool",
                        "format",
                        "-t",
                        self.cluster_id,
                        "-c",
                        str(node.properties),
                    ),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    cwd=node.dir,
                ),
            )
            for node in self._nodes.values()
        ]
        failures = []
        try:
            for node, proc in procs:
                out, _ = proc.communicate(timeout=120)
                if proc.returncode != 0:
                    failures.append(f"node {node.node_id}: {out.decode(errors='replace')[-2000:]}")
        finally:
            for _, proc in procs:
                terminate(proc, timeout=0)
        if failures:
            raise KafkaHarnessError("StorageTool format failed:\n" + "\n".join(failures))

    def _java(self, jvm_opts: Sequence[str], tool: str, *args: str) -> list[str]:
        return [
            "java",
            *jvm_opts,
            f"-Dlog4j2.configurationFile={self._tools_log4j}",
            "-cp",
            _classpath(self.home),
            main_class(self.home, tool),
            *args,
        ]

    def _spawn(self, node: _Node) -> None:
        agent: list[str] = []
        if node.jmx_port is not None:
            jar = self.home / "jmx_prometheus_javaagent.jar"
            agent = [f"-javaagent:{jar}=127.0.0.1:{node.jmx_port}:{node.dir / 'jmx.yaml'}"]
        args = [
            "java",
            *self.jvm_opts,
            *agent,
            f"-Dlog4j2.configurationFile={node.dir / 'log4j2.properties'}",
            "-cp",
            _classpath(self.home),
            "kafka.Kafka",
            str(node.properties),
        ]
        self._track()  # the exit hook stops whatever is registered
        node.proc = _popen(args, node.stdout_log, node.dir)

    def _wait_ready(self, nodes: list[_Node], want: set[int], deadline: float) -> None:
        """Until each node's own Metadata lists the ``want`` ids (registered and unfenced).

        A broker only serves requests once it is unfenced, so its answer is proof enough.
        """
        pending = list(nodes)
        while pending:
            for node in list(pending):
                if node.proc is None or node.proc.poll() is not None:
                    code = None if node.proc is None else node.proc.returncode
                    raise KafkaHarnessError(
                        f"node {node.node_id} exited with {code} while starting\n{_node_tail(node)}"
                    )
                meta = probe(self.broker_address(node.node_id))
                if meta is not None and want <= set(meta.brokers):
                    pending.remove(node)
            if pending and time.monotonic() > deadline:
                tails = "\n".join(_node_tail(n) for n in pending)
                raise KafkaHarnessError(f"nodes {[n.node_id for n in pending]} not ready in time\n{tails}")
            if pending:
                time.sleep(0.2)

    def kill(self, node_id: int) -> None:
        """SIGKILL one node and reap it (as an OOM kill or a lost pod would)."""
        proc = self._node(node_id).proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def restart(self, node_id: int, *, timeout: float = 60.0) -> None:
        """Start a node again on its storage and ports (stopping it first if running)."""
        node = self._node(node_id)
        terminate(node.proc, timeout=10)
        self._spawn(node)
        self._wait_ready([node], {node_id}, time.monotonic() + timeout)

    def stop(self, *, timeout: float = 2.0) -> None:
        """SIGTERM every node, SIGKILL what is left after ``timeout``; idempotent.

        The grace is short on purpose: brokers finish in well under a second, but
        when all nodes stop at once each raft client waits 5 s for a quorum that is
        going away too, and the data is thrown away anyway.
        """
        running = [n.proc for n in self._nodes.values() if n.proc is not None]
        for proc in running:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self._untrack()

    # ------------------------------------------------------------ addresses

    def _node(self, node_id: int) -> _Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id}; nodes are {self.node_ids}") from None

    @property
    def node_ids(self) -> tuple[int, ...]:
        """Node ids, 0..n-1."""
        return tuple(self._nodes)

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:p0,127.0.0.1:p1,...`` for every node, running or not."""
        return ",".join(self.broker_address(i) for i in self._nodes)

    def _live_bootstrap(self) -> str:
        """Only running nodes: tools given a dead address first waste time on it."""
        live = [self.broker_address(i) for i, n in self._nodes.items() if n.running]
        if not live:
            raise KafkaHarnessError("no node is running")
        return ",".join(live)

    def broker_address(self, node_id: int) -> str:
        """``127.0.0.1:<port>`` of a node's PLAINTEXT listener."""
        return f"127.0.0.1:{self._node(node_id).broker_port}"

    def controller_address(self, node_id: int) -> str:
        """``127.0.0.1:<port>`` of a node's CONTROLLER listener."""
        return f"127.0.0.1:{self._node(node_id).controller_port}"

    def jmx_url(self, node_id: int) -> str:
        """Return the JMX exporter agent's ``/metrics`` URL (needs ``jmx=True``)."""
        port = self._node(node_id).jmx_port
        if port is None:
            raise KafkaHarnessError("cluster was started without jmx=True")
        return f"http://127.0.0.1:{port}/metrics"

    def pid(self, node_id: int) -> int:
        """Return the node's JVM pid; raise if it is not running."""
        node = self._node(node_id)
        if node.proc is None or not node.running:
            raise KafkaHarnessError(f"node {node_id} is not running")
        return node.proc.pid

    def is_running(self, node_id: int) -> bool:
        """Whether the node's JVM is alive."""
        return self._node(node_id).running

    def log_path(self, node_id: int) -> Path:
        """Return the node's log4j file (WARN and above, plus startup lines)."""
        return self._node(node_id).server_log

    def rss_bytes(self) -> dict[int, int]:
        """Resident memory of each running node's JVM."""
        result: dict[int, int] = {}
        for node_id in self._nodes:
            with contextlib.suppress(KafkaHarnessError, OSError):
                status = Path(f"/proc/{self.pid(node_id)}/status").read_text()
                kib = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
                if kib:
                    result[node_id] = int(kib.group(1)) * 1024
        return result

    def metadata(self, node_id: int, topics: Sequence[str] = ()) -> BrokerMetadata:
        """One node's view of the cluster, via a raw Metadata v1 request."""
        return fetch_metadata(self.broker_address(node_id), topics)

    # ------------------------------------------------------------ tools as oracles

    def run_tool(self, main_class: str, *args: str, timeout: float = 60.0, stdin: str | None = None) -> str:
        """Run one of Kafka's CLI classes with a small heap; return stdout, raise on failure."""
        return self._run_tool(main_class, args, timeout, stdin).stdout

    def run_tool_stderr(self, main_class: str, *args: str, timeout: float = 60.0) -> str:
        """Like :meth:`run_tool`, for tools that report on stderr (ConsoleConsumer's count)."""
        return self._run_tool(main_class, args, timeout, None).stderr

    def _run_tool(
        self, main_class: str, args: Sequence[str], timeout: float, stdin: str | None
    ) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                self._java(TOOL_JVM_OPTS, main_class, *args),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=self.workdir,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaToolError(main_class, None, _text(exc.stdout), _text(exc.stderr)) from exc
        if proc.returncode != 0:
            raise KafkaToolError(main_class, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def create_topic(
        self,
        name: str,
        *,
        partitions: int = 1,
        replication_factor: int = 1,
        assignment: Sequence[Sequence[int]] | None = None,
        configs: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Create a topic with TopicCommand; wait until every running node knows its leaders.

        With ``assignment`` (one replica list per partition) the first replica of
        each list is the preferred leader, and partitions/replication_factor are ignored.
        """
        args = ["--bootstrap-server", self._live_bootstrap(), "--create", "--topic", name]
        if assignment is not None:
            args += ["--replica-assignment", ",".join(":".join(map(str, r)) for r in assignment)]
            partitions = len(assignment)
        else:
            args += ["--partitions", str(partitions)]
            args += ["--replication-factor", str(replication_factor)]
        for key, value in (configs or {}).items():
            args += ["--config", f"{key}={value}"]
        self.run_tool("org.apache.kafka.tools.TopicCommand", *args)
        self.wait_for_topic(name, partitions, timeout=timeout)

    def wait_for_topic(self, name: str, partitions: int, *, timeout: float = 30.0) -> None:
        """Until every running node's metadata has a leader for each partition."""

        def known() -> bool:
            for node_id, node in self._nodes.items():
                if not node.running:
                    continue
                meta = probe(self.broker_address(node_id), [name])
                if meta is None or any(meta.leaders.get((name, p)) is None for p in range(partitions)):
                    return False
            return True

        wait_until(known, timeout=timeout, what=f"leaders of topic {name}")

    def delete_topic(self, name: str, *, timeout: float = 30.0) -> None:
        """Delete a topic with TopicCommand; wait until no running node's metadata lists it."""
        self.run_tool(
            "org.apache.kafka.tools.TopicCommand",
            "--bootstrap-server",
            self._live_bootstrap(),
            "--delete",
            "--topic",
            name,
        )

        def gone() -> bool:
            for node_id, node in self._nodes.items():
                meta = probe(self.broker_address(node_id), [name]) if node.running else None
                if node.running and (meta is None or any(t == name for t, _ in meta.leaders)):
                    return False
            return True

        wait_until(gone, timeout=timeout, what=f"topic {name} gone from metadata")

    def delete_group(self, group: str) -> None:
        """Delete a group without members (its committed offsets with it) with ConsumerGroupCommand."""
        self.run_tool(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server",
            self._live_bootstrap(),
            "--delete",
            "--group",
            group,
        )

    def delete_records(self, before: Mapping[tuple[str, int], int]) -> None:
        """Delete records below each given offset (the log start moves there) with DeleteRecordsCommand."""
        spec = self.workdir / f"delete-records-{secrets.token_hex(4)}.json"
        partitions = [{"topic": t, "partition": p, "offset": o} for (t, p), o in before.items()]
        spec.write_text(json.dumps({"version": 1, "partitions": partitions}))
        self.run_tool(
            "org.apache.kafka.tools.DeleteRecordsCommand",
            "--bootstrap-server",
            self._live_bootstrap(),
            "--offset-json-file",
            str(spec),
        )

    def describe_topics(self) -> dict[tuple[str, int], TopicPartitionRow]:
        """Every partition (internal topics included) as ``kafka-topics --describe`` shows it."""
        out = self.run_tool(
            "org.apache.kafka.tools.TopicCommand",
            "--bootstrap-server",
            self._live_bootstrap(),
            "--describe",
        )
        return parse_topic_describe(out)

    def describe_groups(self) -> list[GroupOffsetRow]:
        """Return committed offsets and lag of all groups, from ConsumerGroupCommand."""
        out = self.run_tool(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server",
            self._live_bootstrap(),
            "--describe",
            "--all-groups",
        )
        return parse_group_describe(out)

    def quorum_status(self) -> QuorumStatus:
        """Return the KRaft quorum (leader = active controller) from MetadataQuorumCommand."""
        out = self.run_tool(
            "org.apache.kafka.tools.MetadataQuorumCommand",
            "--bootstrap-server",
            self._live_bootstrap(),
            "describe",
            "--status",
        )
        return parse_quorum_status(out)

    def elect_preferred_leaders(self, partitions: Sequence[tuple[str, int]] | None = None) -> str:
        """Move leadership back to the preferred replicas (of all partitions, or those given).

        Returns the tool's report; partitions already led by their preferred
        replica are reported, not treated as failures.
        """
        target = ["--all-topic-partitions"]
        if partitions is not None:
            # --topic needs --partition too; a JSON file takes any number of partitions.
            spec = self.workdir / f"elect-{secrets.token_hex(4)}.json"
            spec.write_text(json.dumps({"partitions": [{"topic": t, "partition": p} for t, p in partitions]}))
            target = ["--path-to-json-file", str(spec)]
        return self.run_tool(
            "org.apache.kafka.tools.LeaderElectionCommand",
            "--bootstrap-server",
            self._live_bootstrap(),
            "--election-type",
            "PREFERRED",
            *target,
        )

    # ------------------------------------------------------------ traffic

    def produce(self, topic: str, count: int, partition: int | None = None, *, prefix: str = "m") -> None:
        """Produce ``count`` records (acks=all) with aiokafka; to one partition if given."""
        clients.run_coroutine(clients.produce(self._live_bootstrap(), topic, count, partition, prefix))

    def commit_offsets(self, group: str, offsets: Mapping[tuple[str, int], int]) -> None:
        """Commit offsets for a classic group that then has no members (aiokafka)."""
        clients.run_coroutine(clients.commit(self._live_bootstrap(), group, offsets))

    def commit_offsets_new_protocol(
        self, group: str, topic: str, max_messages: int, *, timeout: float = 60.0
    ) -> int:
        """Have a KIP-848 group (``group.protocol=consumer``) consume and commit; return the count.

        Runs ConsoleConsumer, which commits its position on close; it reads from
        the start of each partition without a committed offset. If fewer than
        ``max_messages`` arrive within ``timeout`` it still exits 0 and commits
        what it read, so check the returned count.
        """
        stderr = self.run_tool_stderr(
            "org.apache.kafka.tools.consumer.ConsoleConsumer",
            "--bootstrap-server",
            self._live_bootstrap(),
            "--topic",
            topic,
            "--group",
            group,
            "--consumer-property",
            "group.protocol=consumer",
            "--from-beginning",
            "--max-messages",
            str(max_messages),
            "--timeout-ms",
            str(int(timeout * 1000)),
            timeout=timeout + 30,
        )
        match = re.search(r"Processed a total of (\d+) messages", stderr)
        if match is None:
            raise KafkaHarnessError(f"ConsoleConsumer printed no message count:\n{stderr[-2000:]}")
        return int(match.group(1))


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
