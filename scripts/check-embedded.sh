#!/usr/bin/env bash
# The house rule: LaneCore builds in Embedded Swift with no allocations (and imports no
# Foundation and no C). Compiles it for this host and for aarch64 bare metal. Shifts in
# LaneCore are masking shifts (&<< &>>): smart shifts on 64-bit integers allocate on 32-bit targets.
# armv7 still fails: conversions to and from 64-bit integers (Int64(UInt32) ...) go through
# BinaryInteger.words there (Swift 6.3.1); see the real-time and ARM issue.
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -rnE '^\s*import\s+(Foundation|Glibc|C[A-Z][A-Za-z]+)' Sources/LaneCore; then
  echo "check-embedded: LaneCore must not import Foundation or C modules" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for target in "" aarch64-none-none-elf; do
  swiftc ${target:+-target $target} -enable-experimental-feature Embedded -no-allocations -wmo -parse-as-library \
    -module-name LaneCore -c $(find Sources/LaneCore -name "*.swift" | sort) -o "$out/LaneCore.o"
  echo "check-embedded: LaneCore builds in Embedded Swift, -no-allocations, for ${target:-this host}"
done
