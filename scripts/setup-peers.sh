#!/usr/bin/env bash
# Builds the peers the benchmark compares against (DESIGN.md section 6) with this machine's Go, from the
# Go module proxy only, into the project cache:
#   $(cache_dir)/peers/<name>-<version>/bin/<binary>
# Idempotent: a marker written last makes reruns a no-op for a version already built.
#
# From source first: the Go module proxy refuses the two peers by name (it serves their dependencies),
# so when their source is present ($BLE_PEERS_SRC, else ../shared/peers beside the checkout, whose
# README lists the upstream commits) each is built there with `go build -o` into the cache; the version
# is its VERSION file, else a hash of its Go sources.
#
# Otherwise, which version: $PEER_KAFKA_EXPORTER_VERSION / $PEER_KMINION_VERSION if set, else the newest
# release the proxy lists (`go list -m -versions`), falling back to older releases while a build fails.
# When the proxy cannot be asked, the newest build already in the cache is used.
#
# stdout carries one tab-separated line per peer, for bench/peers.py (and people) to read:
#   <name>  ok           <version>  <binary>  <build seconds>
#   <name>  unavailable  <reason>
# Progress and build errors go to stderr. Exit status: 0 when every peer is built, 3 when one is not.
set -euo pipefail

cache="${BLE_CACHE_DIR:-$HOME/.cache/broker-lag-exporter}"
peers_dir="$cache/peers"
attempts=3 # releases tried, newest first, before a peer is declared unbuildable

# name | module paths, first that the proxy knows wins | binary | version variable
peers=(
  "kafka_exporter|github.com/danielqsj/kafka_exporter|kafka_exporter|PEER_KAFKA_EXPORTER_VERSION"
  "kminion|github.com/cloudhut/kminion/v2 github.com/redpanda-data/kminion/v2|kminion|PEER_KMINION_VERSION"
)

log() { echo "setup-peers: $*" >&2; }
# One line, no tabs: the reason travels in a tab-separated field.
oneline() { tr '\t\n' '  ' | sed -e 's/  */ /g' -e 's/^ //' -e 's/ $//'; }
unavailable() {
  log "$1: not available: $2"
  printf '%s\tunavailable\t%s\n' "$1" "$2"
  missing=1
}
# The go command's own words, shorter: "<module>: <proxy URL> answered 403 Forbidden (...)".
go_error() {
  grep -v '^go: downloading' | sed -E -e 's/^go: //' -e 's/^module //' \
    -e 's#: reading (https?://[^/]+)/[^ ]*: #: \1 answered #' -e 's/server response: (.*)$/(\1)/' -e "s/^([^ ]+: )\1/\1/" | oneline
}

cached_versions() { # built versions of a peer, newest first
  local name="$1" dir
  for dir in "$peers_dir/$name"-*/; do
    if [[ -f "$dir.complete" ]]; then basename "$dir" | sed "s/^$name-//"; fi
  done | sort -rV
}

build() { # name module version binary -> 0 and the binary under $peers_dir, or 1 with $build_error set
  local name="$1" module="$2" version="$3" binary="$4"
  local dest="$peers_dir/$name-$version" tmp started ms
  [[ -f "$dest/.complete" ]] && return 0
  tmp="$(mktemp -d "$peers_dir/.$name-$version.XXXXXX")"
  log "$name: building $module@$version with $(go env GOVERSION) (a few minutes on 2 cores)"
  started="$(date +%s%N)"
  # GOTOOLCHAIN=local: build with the machine's Go, never a downloaded toolchain.
  if ! build_error="$(GOBIN="$tmp/bin" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
    go install "$module@$version" 2>&1)"; then
    rm -rf "$tmp"
    build_error="$(go_error <<<"$build_error" | cut -c1-400)"
    return 1
  fi
  ms=$((($(date +%s%N) - started) / 1000000))
  [[ -x "$tmp/bin/$binary" ]] || {
    rm -rf "$tmp"
    build_error="go install produced no $binary"
    return 1
  }
  printf '%s\n' "$module@$version" >"$tmp/module"
  printf '%d.%d\n' $((ms / 1000)) $((ms % 1000 / 100)) >"$tmp/build-seconds"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  date -u +%FT%TZ >"$dest/.complete"
  log "$name: built in $(cat "$dest/build-seconds") s"
}

report_ok() { # name version binary
  local dest="$peers_dir/$1-$2"
  printf '%s\tok\t%s\t%s\t%s\n' "$1" "$2" "$dest/bin/$3" "$(cat "$dest/build-seconds" 2>/dev/null || echo nan)"
}

setup_peer() {
  local name="$1" modules="$2" binary="$3" pin="${!4:-}"
  local module="" versions="" list_error="" out version tried=0 cached
  if ! command -v go >/dev/null; then
    unavailable "$name" "go is not installed (scripts/setup-system.sh installs it)"
    return
  fi
  if [[ -n "$pin" && -f "$peers_dir/$name-$pin/.complete" ]]; then
    report_ok "$name" "$pin" "$binary"
    return
  fi
  for module in $modules; do
    if out="$(GOTOOLCHAIN=local go list -m -versions "$module" 2>&1)"; then
      # Releases only: "vX.Y.Z" without a pre-release suffix, newest first.
      versions="$(tr ' ' '\n' <<<"$out" | tail -n +2 | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | sort -rV || true)"
      list_error=""
      break
    fi
    list_error="${list_error:+$list_error; }$(go_error <<<"$out")"
  done
  if [[ -n "$list_error" ]]; then
    cached="$(cached_versions "$name" | head -n1)"
    if [[ -n "$cached" && -z "$pin" ]]; then
      log "$name: the module proxy cannot be asked ($list_error); using the cached build $cached"
      report_ok "$name" "$cached" "$binary"
    else
      unavailable "$name" "the Go module proxy does not serve it: $list_error"
    fi
    return
  fi
  if [[ -n "$pin" ]]; then
    versions="$pin"
  elif [[ -z "$versions" ]]; then
    unavailable "$name" "the Go module proxy lists no release of $module"
    return
  fi
  build_error=""
  for version in $versions; do
    ((tried += 1)) || true
    if build "$name" "$module" "$version" "$binary"; then
      report_ok "$name" "$version" "$binary"
      return
    fi
    log "$name: $module@$version does not build: $build_error"
    ((tried < attempts)) || break
  done
  unavailable "$name" "no release built (tried $tried, last $module@$version): $build_error"
}

source_root() { # the peers' source folder, or nothing
  local repo candidate
  if [[ -n "${BLE_PEERS_SRC:-}" ]]; then
    echo "$BLE_PEERS_SRC"
    return
  fi
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  # /work/main/../shared or a worktree's /work/wt/<name>/../../shared
  for candidate in "$repo/../shared/peers" "$repo/../../shared/peers"; do
    if [[ -d "$candidate" ]]; then
      (cd "$candidate" && pwd)
      return
    fi
  done
}

setup_from_source() { # name source-dir binary
  local name="$1" src="$2" binary="$3" version dest tmp started ms
  if [[ -f "$src/VERSION" ]]; then
    version="$(tr -d ' \n' <"$src/VERSION")"
  else
    version="src-$(find "$src" -name '*.go' -o -name go.sum | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-12)"
  fi
  dest="$peers_dir/$name-$version"
  if [[ ! -f "$dest/.complete" ]]; then
    tmp="$(mktemp -d "$peers_dir/.$name-$version.XXXXXX")"
    log "$name: building $src with $(go env GOVERSION) (a few minutes on 2 cores)"
    started="$(date +%s%N)"
    # The source folder may be read-only: only the binary is written, and only into the cache.
    if ! build_error="$(cd "$src" && GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
      go build -o "$tmp/bin/$binary" . 2>&1)"; then
      rm -rf "$tmp"
      unavailable "$name" "go build in $src failed: $(go_error <<<"$build_error" | cut -c1-400)"
      return
    fi
    ms=$((($(date +%s%N) - started) / 1000000))
    printf '%s\n' "$src" >"$tmp/module"
    printf '%d.%d\n' $((ms / 1000)) $((ms % 1000 / 100)) >"$tmp/build-seconds"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    date -u +%FT%TZ >"$dest/.complete"
    log "$name: built in $(cat "$dest/build-seconds") s"
  fi
  report_ok "$name" "$version" "$binary"
}

mkdir -p "$peers_dir"
# Serialise concurrent runs: two builds of one version would race on the final rename.
exec 9>"$peers_dir/.setup-peers.lock"
flock 9
missing=0
src_root="$(source_root)"
for spec in "${peers[@]}"; do
  IFS='|' read -r name modules binary pin_var <<<"$spec"
  if [[ -n "$src_root" && -d "$src_root/$name" ]] && command -v go >/dev/null; then
    setup_from_source "$name" "$src_root/$name" "$binary"
  else
    setup_peer "$name" "$modules" "$binary" "$pin_var"
  fi
done
exit $((missing ? 3 : 0))
