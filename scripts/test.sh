#!/usr/bin/env bash
# The test suite (Swift Testing): `make test` runs it after `swift build --build-tests`.
# Swift Testing runs test bodies on the concurrency pool, as wide as the machine has cores, and
# the integration tests' bodies mostly wait (real-time scenarios, processes, brokers): in one
# process on 2 cores the suite took 13 minutes with the CPUs half idle. So it runs in two
# phases: first the unit tests alone (they keep both cores busy; beside them the real-time
# integration tests missed their deadlines: agents started 2 s late, panels timed out, and even
# at nice 19 a clean-clone run lost Modbus connections in four suites, 2026-12-02), then the
# integration tests in three processes at once, up to six bodies waiting together. The
# serialized suites (field faults, nothing lost) are the longest chains, so they go to different
# shards; the third integration shard is every other suite (and any suite not named here).
#
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE=.build/debug/LaneControllerPackageTests.xctest
[ -x "$BUNDLE" ] || { echo "test: $BUNDLE is not built (swift build --build-tests)" >&2; exit 1; }
run() { "$BUNDLE" --testing-library swift-testing "$@"; }
if [ $# -gt 0 ]; then run "$@"; exit $?; fi

a='IntegrationTests\.(FieldFaultTests|ConsoleTests|UplinkTests|AllocationTests)'
b='IntegrationTests\.(NothingLostTests|RestartTests|EndToEndTests|SupervisionTests|UplinkSecurityTests|SealedUplinkTests|BrokerACLTests|StorageFaultTests)'
logs=.build/test-logs
mkdir -p "$logs"
start=$(date +%s)
failed=0
report() { # name, status
    if [ "$2" -eq 0 ]; then status=passed; else status=FAILED; failed=1; fi
    echo "test: $1 $status after $(( $(date +%s) - start )) s: $(grep -aE 'Test run with' "$logs/$1.log" | tail -n1)"
}
run --skip IntegrationTests > "$logs/unit.log" 2>&1
report unit $?
run --filter "$a" > "$logs/a.log" 2>&1 & pa=$!
run --filter "$b" > "$logs/b.log" 2>&1 & pb=$!
run --filter IntegrationTests --skip "$a" --skip "$b" > "$logs/c.log" 2>&1 & pc=$!
wait $pa; report a $?
wait $pb; report b $?
wait $pc; report c $?
if [ $failed -ne 0 ]; then
    for name in unit a b c; do
        if grep -aqE 'recorded an issue|Fatal error|error:' "$logs/$name.log"; then
            echo "test: $name's failures ($logs/$name.log):"
            grep -aE -A25 'recorded an issue|Fatal error|error:' "$logs/$name.log" | head -n 300
        fi
    done
    # A shard that crashed says so in its last lines.
    for name in unit a b c; do tail -n 5 "$logs/$name.log" | sed "s/^/test: $name ends: /"; done
    exit 1
fi
echo "test: all passed in $(( $(date +%s) - start )) s"
