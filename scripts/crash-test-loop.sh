#!/usr/bin/env bash
# Runs the SIGKILL crash-recovery test N times (default 20); each run picks new random kill points and
# prints its seed on failure. Usage: scripts/crash-test-loop.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
swift build --build-tests
failures=0
for run in $(seq 1 "$runs"); do
    if swift test --skip-build --filter CrashRecoveryTests >"/tmp/streamrec-crash-run-$run.log" 2>&1; then
        echo "run $run: passed"
    else
        failures=$((failures + 1))
        echo "run $run: FAILED (log: /tmp/streamrec-crash-run-$run.log)"
    fi
done
echo "$failures of $runs runs failed"
[ "$failures" -eq 0 ]
