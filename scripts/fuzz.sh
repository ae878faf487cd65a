#!/bin/sh
# Fuzzing with libFuzzer (docs/FUZZING.md).
#
#   scripts/fuzz.sh build                   build lane-fuzz with -sanitize=fuzzer (.build/fuzz)
#   scripts/fuzz.sh run TARGET SECONDS      fuzz one target, seeded from Fuzz/corpus/TARGET
#   scripts/fuzz.sh smoke SECONDS           every target for SECONDS each (make test: a few)
#
# New inputs go to .build/fuzz-corpus/TARGET (the committed corpus is not changed: copy in what
# is worth keeping); a crash is written to .build/fuzz-artifacts/ and the script fails, naming
# it. Reproduce one with the ordinary build: .build/debug/lane-fuzz TARGET FILE.
set -eu
cd "$(dirname "$0")/.."
TARGETS="records trace replay console-line console-command profile modbus-reply gpio-line collector station-ack ocr-message"
BIN=.build/fuzz/release/lane-fuzz

build() {
    # -sanitize=fuzzer instruments every module for coverage and links libFuzzer (whose driver
    # lane-fuzz calls); lld, because gold fails on the fuzzer's objects.
    swift build --scratch-path .build/fuzz -c release --product lane-fuzz -j 2 \
        -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld >&2
}

run() {
    target=$1 seconds=$2
    mkdir -p .build/fuzz-corpus/"$target" .build/fuzz-artifacts
    cp -n Fuzz/corpus/"$target"/* .build/fuzz-corpus/"$target"/ 2>/dev/null || true
    echo "fuzz: $target for $seconds s" >&2
 # The Swift runtime's backtracer would take the crash before libFuzzer saves the input.
    if ! SWIFT_BACKTRACE=enable=no "$BIN" "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix=.build/fuzz-artifacts/"$target"- -print_final_stats=1 \
        .build/fuzz-corpus/"$target" 2> .build/fuzz-artifacts/"$target".log; then
        tail -40 .build/fuzz-artifacts/"$target".log >&2
        echo "fuzz: $target FAILED; the input is in .build/fuzz-artifacts/$target-*" >&2
        return 1
    fi
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov:" .build/fuzz-artifacts/"$target".log | tail -3 >&2
}

case "${1:-}" in
build) build ;;
run) [ -x "$BIN" ] || build; run "$2" "$3" ;;
smoke)
    [ -x "$BIN" ] || build
    failed=0
    for t in $TARGETS; do run "$t" "${2:-10}" || failed=1; done
    exit $failed ;;
*) echo "usage: scripts/fuzz.sh build | run TARGET SECONDS | smoke SECONDS" >&2; exit 2 ;;
esac
