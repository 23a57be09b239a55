#!/usr/bin/env bash
# Build Helm v3 from its Go module (the only way it reaches this machine) into
#   ${BLE_CACHE_DIR:-$HOME/.cache/broker-lag-exporter}/helm-<version>/bin/helm
# Idempotent; build output goes to stderr; stdout prints the binary's path.
set -euo pipefail

helm_version=v3.22.0
cache_root=${BLE_CACHE_DIR:-$HOME/.cache/broker-lag-exporter}
helm_bin="$cache_root/helm-$helm_version/bin"
mkdir -p "$helm_bin"

exec 9>"$cache_root/.setup-helm.lock"
flock 9

go_bin=$(command -v go || true)
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then
    go_bin=/usr/local/go/bin/go
fi

if [[ ! -x "$helm_bin/helm" ]]; then
    [[ -n "$go_bin" ]] || { echo "setup-helm: no Go toolchain" >&2; exit 1; }
    echo "setup-helm: building helm $helm_version (slow the first time)" >&2
    CGO_ENABLED=0 GOBIN="$helm_bin" GOFLAGS=-mod=mod \
        "$go_bin" install "helm.sh/helm/v3/cmd/helm@$helm_version" >&2
fi
echo "$helm_bin/helm"
