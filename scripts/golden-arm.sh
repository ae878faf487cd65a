#!/usr/bin/env bash
# Builds LaneCore in Embedded Swift (-no-allocations) for x86_64 and aarch64, links each into the
# C golden-vector harness (Debian's gcc and aarch64-linux-gnu-gcc, PIE), runs the aarch64 one
# under qemu-user, and checks that both give the same decisions, bit for bit, on the golden traces.
# armv7 is not built: see docs/BOARDS.md (Swift 6.3.1's Embedded stdlib allocates on 64-bit
# integer conversions for 32-bit targets).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/golden-arm}
mkdir -p "$out"
sources=$(find Sources/LaneCore -name '*.swift' | sort)
flags=(-enable-experimental-feature Embedded -no-allocations -wmo -parse-as-library -module-name LaneCore -O)
swiftc -target x86_64-unknown-linux-gnu "${flags[@]}" -c $sources Tools/golden-harness/Exports.swift -o "$out/lanecore-x86_64.o"
swiftc -target aarch64-none-none-elf "${flags[@]}" -c $sources Tools/golden-harness/Exports.swift -o "$out/lanecore-aarch64.o"
gcc -O1 -fPIE -pie Tools/golden-harness/harness.c "$out/lanecore-x86_64.o" -o "$out/golden-x86_64"
aarch64-linux-gnu-gcc -O1 -fPIE -pie Tools/golden-harness/harness.c "$out/lanecore-aarch64.o" -o "$out/golden-aarch64"
status=0
for trace in Tests/Golden/*.trace.jsonl; do
  name=$(basename "$trace" .trace.jsonl)
  .build/debug/lane-sim vectors --trace "$trace" --out "$out/$name.bin"
  "$out/golden-x86_64" "$out/$name.bin" > "$out/$name.x86_64.txt"
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/golden-aarch64" "$out/$name.bin" > "$out/$name.aarch64.txt"
  if cmp -s "$out/$name.x86_64.txt" "$out/$name.aarch64.txt"; then
    echo "golden-arm: $name: $(wc -l < "$out/$name.x86_64.txt") decisions identical on x86_64 and aarch64"
  else
    echo "golden-arm: $name: aarch64 differs from x86_64" >&2
    diff "$out/$name.x86_64.txt" "$out/$name.aarch64.txt" >&2 || true
    status=1
  fi
done
exit $status
