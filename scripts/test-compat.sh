#!/usr/bin/env bash
# The compatibility run (`make test-compat`, not part of `make test`): the oracle and harness tests
# against each Kafka release users run, from Maven Central. Prints one line per release:
#   <version>  <passed>  <failed>  <seconds>
# and exits non-zero when any release failed. KAFKA_VERSIONS overrides the list.
set -uo pipefail
cd "$(dirname "$0")/.."
versions=${KAFKA_VERSIONS:-"3.7.2 3.9.1 4.0.2 4.1.1 4.2.2 4.3.1 4.4.0"}
py=${PYTHON:-.venv/bin/python}
status=0
printf '%-8s %-7s %-7s %s\n' kafka passed failed seconds
for version in $versions; do
    started=$(date +%s)
    log=$(mktemp)
    if ! BLE_KAFKA_VERSION=$version scripts/setup-kafka.sh >"$log" 2>&1; then
        printf '%-8s %-7s %-7s %s\n' "$version" - - "not resolvable from Maven Central"
        status=1
        continue
    fi
    BLE_KAFKA_VERSION=$version "$py" -m pytest -q -p no:cacheprovider \
        tests/integration/test_kafka_oracle.py tests/integration/test_kafka_harness.py >"$log" 2>&1
    code=$?
    summary=$(tail -n 1 "$log")
    passed=$(grep -o '[0-9]* passed' <<<"$summary" | cut -d' ' -f1)
    failed=$(grep -o '[0-9]* failed' <<<"$summary" | cut -d' ' -f1)
    printf '%-8s %-7s %-7s %s\n' "$version" "${passed:-0}" "${failed:-0}" "$(($(date +%s) - started))"
    if [[ $code -ne 0 ]]; then
        status=1
        grep -E '^(FAILED|ERROR)' "$log" | sed 's/^/    /'
    fi
    rm -f "$log"
done
exit $status
