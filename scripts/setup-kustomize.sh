#!/usr/bin/env bash
# Install what the deploy/ tests need, from the Go module proxy, into
#   ${BLE_CACHE_DIR:-$HOME/.cache/broker-lag-exporter}/
#   kustomize-<version>/bin/kustomize              built with the machine's Go
#   prometheus-operator-<version>/crds/*.yaml      the ServiceMonitor and PrometheusRule CRDs
# Idempotent: what exists is kept. Build output goes to stderr; stdout prints the two paths.
set -euo pipefail

kustomize_version=v5.8.1
operator_version=v0.85.0
cache_root=${BLE_CACHE_DIR:-$HOME/.cache/broker-lag-exporter}
kustomize_bin="$cache_root/kustomize-$kustomize_version/bin"
crd_dir="$cache_root/prometheus-operator-$operator_version/crds"
mkdir -p "$kustomize_bin" "$crd_dir"

exec 9>"$cache_root/.setup-kustomize.lock"
flock 9

go_bin=$(command -v go || true)
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then
    go_bin=/usr/local/go/bin/go
fi

if [[ ! -x "$kustomize_bin/kustomize" ]]; then
    [[ -n "$go_bin" ]] || { echo "setup-kustomize: no Go toolchain" >&2; exit 1; }
    echo "setup-kustomize: building kustomize $kustomize_version" >&2
    CGO_ENABLED=0 GOBIN="$kustomize_bin" GOFLAGS=-mod=mod \
        "$go_bin" install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version" >&2
fi

wanted=(monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml)
missing=0
for crd in "${wanted[@]}"; do [[ -s "$crd_dir/$crd" ]] || missing=1; done
if [[ $missing -eq 1 ]]; then
    [[ -n "$go_bin" ]] || { echo "setup-kustomize: no Go toolchain" >&2; exit 1; }
    echo "setup-kustomize: fetching prometheus-operator $operator_version CRDs" >&2
    # `go mod download` needs a module to run in; a throwaway one keeps the repo untouched.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && "$go_bin" mod init ble-crds >/dev/null 2>&1)
    dir=$(cd "$tmp" && "$go_bin" mod download -json \
        "github.com/prometheus-operator/prometheus-operator@$operator_version" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    for crd in "${wanted[@]}"; do
        install -m 0644 "$dir/example/prometheus-operator-crd/$crd" "$crd_dir/$crd"
    done
fi

echo "$kustomize_bin/kustomize"
echo "$crd_dir"
