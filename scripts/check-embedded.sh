#!/usr/bin/env bash
# The house rule: LaneCore builds in Embedded Swift with no allocations (and imports no
# Foundation and no C). Compiles it for this host and for aarch64 and armv7 bare metal. Shifts in
# LaneCore are masking shifts (&<< &>>) between same-type operands, and integer conversions go
# through IntegerConversions.swift (i64, u64, int, u32): the generic ones go through
# BinaryInteger.words on 32-bit targets (Swift 6.3.1) and allocate.
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -rnE '^\s*import\s+(Foundation|Glibc|C[A-Z][A-Za-z]+)' Sources/LaneCore; then
  echo "check-embedded: LaneCore must not import Foundation or C modules" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for target in "" aarch64-none-none-elf armv7-none-none-eabi; do
  swiftc ${target:+-target $target} -enable-experimental-feature Embedded -no-allocations -wmo -parse-as-library \
    -module-name LaneCore -c $(find Sources/LaneCore -name "*.swift" | sort) -o "$out/LaneCore.o"
  # -no-allocations does not see everything: a settable computed property's modify coroutine
  # once left an undefined swift_coroFrameAlloc. Only the C library's memory and random
  # primitives (and the ARM EABI helpers) may stay undefined.
  if nm -u "$out/LaneCore.o" | grep -E ' U (swift_|_swift)'; then
    echo "check-embedded: LaneCore needs the Swift runtime above (it would allocate or not link) for ${target:-this host}" >&2
    exit 1
  fi
  echo "check-embedded: LaneCore builds in Embedded Swift, -no-allocations, for ${target:-this host}, calling no Swift runtime"
done
