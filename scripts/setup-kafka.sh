#!/usr/bin/env bash
# Resolves a real Kafka (KRaft) distribution from Maven Central into the project cache (the pom's
# version, or BLE_KAFKA_VERSION for the compatibility run, `make test-compat`):
#   $(cache_dir)/kafka-<version>/lib/*.jar                     broker + tools classpath
#   $(cache_dir)/kafka-<version>/jmx_prometheus_javaagent.jar  JVM metrics agent
# Idempotent: a marker file written last makes reruns a no-op. Prints the lib dir.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pom="$repo_root/harness/maven/pom.xml"
cache="${BLE_CACHE_DIR:-$HOME/.cache/broker-lag-exporter}"

# Read the versions from the pom with sed so a cached rerun needs no JVM at all.
pom_prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$pom" | head -n1; }
kafka_version="${BLE_KAFKA_VERSION:-$(pom_prop kafka.version)}"
jmx_version="$(pom_prop jmx.exporter.version)"
[[ -n "$kafka_version" && -n "$jmx_version" ]] || { echo "setup-kafka: cannot read versions from $pom" >&2; exit 1; }

dest="$cache/kafka-$kafka_version"
marker="$dest/.complete"
# The marker records the pom's hash, so editing the pom (e.g. log4j version) re-resolves.
want="$(sha256sum "$pom" | cut -d' ' -f1)"
[[ "$kafka_version" == "$(pom_prop kafka.version)" ]] || want="$want $kafka_version"

if [[ -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
  echo "$dest/lib"
  exit 0
fi

mkdir -p "$cache"
# Serialise concurrent runs (several test sessions on a fresh machine).
exec 9>"$cache/.setup-kafka.lock"
flock 9
if [[ -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
  echo "$dest/lib"
  exit 0
fi

tmp="$(mktemp -d "$cache/.kafka-$kafka_version.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Maven's output goes to stderr: stdout carries only the lib dir, for callers to read.
# The broker/tools classpath: compile+runtime scope (the agent is 'provided' and stays out).
mvn -B -q -Dstyle.color=never -f "$pom" -Dkafka.version="$kafka_version" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$tmp/lib" >&2
mvn -B -q -Dstyle.color=never -f "$pom" -Dkafka.version="$kafka_version" dependency:copy-dependencies \
  -DincludeScope=provided -DincludeArtifactIds=jmx_prometheus_javaagent \
  -Dmdep.stripVersion=true -DoutputDirectory="$tmp/agent" >&2
mv "$tmp/agent/jmx_prometheus_javaagent.jar" "$tmp/jmx_prometheus_javaagent.jar"
rmdir "$tmp/agent"
ls "$tmp/lib"/kafka_2.13-"$kafka_version".jar >/dev/null

rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$want" >"$marker"
echo "$dest/lib"
