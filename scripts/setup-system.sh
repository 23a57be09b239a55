#!/usr/bin/env bash
# Install the Debian packages the tests use (Prometheus, promtool, Alertmanager, amtool, openssl).
set -euo pipefail
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v openssl >/dev/null || need+=(openssl)
[ ${#need[@]} -eq 0 ] && exit 0
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
