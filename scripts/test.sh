#!/usr/bin/env bash
# The test suite (Swift Testing), in three processes at once: `make test` runs it after
# `swift build --build-tests`. Swift Testing runs test bodies on the concurrency pool, as wide
# as the machine has cores, and the integration tests' bodies mostly wait (for real-time
# scenarios, processes, brokers): in one process on 2 cores the suite took 13 minutes with the
# CPUs half idle. Three processes run up to six bodies at once. The serialized suites (field
# faults, nothing lost, console, restart) are the longest chains, so they go to different shards;
# the third shard is everything else (the unit tests and any suite not named here).
#
#   scripts/test.sh              all shards; each shard's log in .build/test-logs/
#   scripts/test.sh ARGS...      one process, ARGS passed on (--filter X, --skip Y)
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
run --filter "$a" > "$logs/a.log" 2>&1 & pa=$!
run --filter "$b" > "$logs/b.log" 2>&1 & pb=$!
run --skip "$a" --skip "$b" > "$logs/c.log" 2>&1 & pc=$!
failed=0
for shard in a:$pa b:$pb c:$pc; do
    name=${shard%%:*}
    if wait "${shard##*:}"; then status=passed; else status=FAILED; failed=1; fi
    echo "test: shard $name $status after $(( $(date +%s) - start )) s: $(grep -E 'Test run with' "$logs/$name.log" | tail -n1)"
done
if [ $failed -ne 0 ]; then
    for name in a b c; do
        if grep -qE '^✘|recorded an issue|Fatal error|error:' "$logs/$name.log"; then
            echo "test: shard $name's failures ($logs/$name.log):"
            grep -E -A25 'recorded an issue|Fatal error|error:' "$logs/$name.log" | head -n 300
        fi
    done
    # A shard that crashed says so in its last lines.
    for name in a b c; do tail -n 5 "$logs/$name.log" | sed "s/^/test: shard $name ends: /"; done
    exit 1
fi
echo "test: all shards passed in $(( $(date +%s) - start )) s"
