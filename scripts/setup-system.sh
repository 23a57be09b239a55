#!/usr/bin/env bash
# Install the Debian packages the tests and the demo use: Prometheus, promtool, Alertmanager, amtool,
# openssl and Chromium (the status page's browser test). Name tools to install only those:
#   scripts/setup-system.sh              # everything `make test` needs
#   scripts/setup-system.sh prometheus   # what `make demo` adds
set -euo pipefail
declare -A package=(
  [prometheus]=prometheus [promtool]=prometheus
  [amtool]=prometheus-alertmanager
  [openssl]=openssl
  [chromium]="chromium fonts-dejavu-core"  # a font, so screenshots show text in bare containers
)
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(promtool amtool openssl chromium)
need=()
for tool in "${tools[@]}"; do
  [ -n "${package[$tool]:-}" ] || { echo "setup-system.sh: unknown tool $tool" >&2; exit 2; }
  # shellcheck disable=SC2206 # a tool may need more than one package
  command -v "$tool" >/dev/null || need+=(${package[$tool]})
done
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
export DEBIAN_FRONTEND=noninteractive
sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
$sudo_ apt-get update -qq
$sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages start system services we do not use; the tests run their own instances.
for svc in prometheus prometheus-alertmanager prometheus-node-exporter; do
  $sudo_ systemctl disable --now "$svc" >/dev/null 2>&1 || true
  $sudo_ service "$svc" stop >/dev/null 2>&1 || true
done
echo "installed: ${need[*]}"
