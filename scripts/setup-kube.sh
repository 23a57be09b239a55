#!/usr/bin/env bash
# Build kube-apiserver and etcd for the integration tests from the Go module
# proxy (wrapper modules in harness/kube-build), into
#   ${BLE_CACHE_DIR:-$HOME/.cache/broker-lag-exporter}/kube-<k8s version>/bin/
# Idempotent and non-interactive: a binary that already exists is not rebuilt
# (etcd is also rebuilt when its pinned version changes). Uses the normal Go
# caches, so a rebuild after a wiped bin dir only relinks. Build output goes to
# stderr; the only line on stdout is the bin dir.
#
# Cold build on 2 cores: roughly 10 minutes for kube-apiserver, 2 for etcd.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod_dir="$repo/harness/kube-build"
etcd_mod_dir="$mod_dir/etcd"

k8s_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$mod_dir/go.mod")
etcd_version=$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" {print $3}' "$etcd_mod_dir/go.mod")
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
    echo "setup-kube: cannot read pinned versions from $mod_dir" >&2
    exit 1
fi

cache_root=${BLE_CACHE_DIR:-$HOME/.cache/broker-lag-exporter}
bin_dir="$cache_root/kube-$k8s_version/bin"
mkdir -p "$bin_dir"

have() {
    [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/etcd" ]] &&
        [[ "$(cat "$bin_dir/etcd.version" 2>/dev/null)" == "$etcd_version" ]]
}

if have; then
    echo "$bin_dir"
    exit 0
fi

# Serialise concurrent runs (parallel test workers): the second waits, then
# finds the binaries.
exec 9>"$bin_dir/.lock"
flock 9
if have; then
    echo "$bin_dir"
    exit 0
fi

go_bin=$(command -v go || true)
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then
    go_bin=/usr/local/go/bin/go
fi
if [[ -z "$go_bin" ]]; then
    echo "setup-kube: no Go toolchain (go not on PATH nor in /usr/local/go/bin)" >&2
    exit 1
fi

export CGO_ENABLED=0
tmp_suffix=".tmp.$$"
trap 'rm -f "$bin_dir"/*"$tmp_suffix"' EXIT

if [[ ! -x "$bin_dir/kube-apiserver" ]]; then
    minor=${k8s_version#v1.}
    minor=${minor%%.*}
    # Stamp the version the way the upstream release build does, so /version
    # reports it (otherwise v0.0.0-master+$Format...).
    ldflags="-s -w"
    ldflags+=" -X k8s.io/component-base/version.gitVersion=$k8s_version"
    ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
    ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
    ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
    echo "setup-kube: building kube-apiserver $k8s_version (slow the first time)" >&2
    start=$SECONDS
    (cd "$mod_dir" && "$go_bin" build -mod=mod -trimpath -buildvcs=false -ldflags="$ldflags" \
        -o "$bin_dir/kube-apiserver$tmp_suffix" k8s.io/kubernetes/cmd/kube-apiserver)
    mv -f "$bin_dir/kube-apiserver$tmp_suffix" "$bin_dir/kube-apiserver"
    echo "setup-kube: kube-apiserver built in $((SECONDS - start))s" >&2
fi

if [[ ! -x "$bin_dir/etcd" || "$(cat "$bin_dir/etcd.version" 2>/dev/null)" != "$etcd_version" ]]; then
    echo "setup-kube: building etcd $etcd_version" >&2
    start=$SECONDS
    (cd "$etcd_mod_dir" && "$go_bin" build -mod=mod -trimpath -buildvcs=false -ldflags="-s -w" \
        -o "$bin_dir/etcd$tmp_suffix" .)
    mv -f "$bin_dir/etcd$tmp_suffix" "$bin_dir/etcd"
    echo "$etcd_version" >"$bin_dir/etcd.version.tmp" && mv -f "$bin_dir/etcd.version.tmp" "$bin_dir/etcd.version"
    echo "setup-kube: etcd built in $((SECONDS - start))s" >&2
fi

echo "$bin_dir"
