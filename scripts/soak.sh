#!/usr/bin/env bash
# The tick-timing soak (docs/PERFORMANCE.md): the release agent against the simulator for N
# minutes, optionally with stress-ng loading every core and the disk, optionally without real-time
# scheduling; prints the agent's own figures (ticks, missed, lateness and work percentiles,
# resident memory, tick allocations).
#   scripts/soak.sh [--minutes N] [--load] [--no-fifo] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=10 load=0 fifo=1 out=/tmp/lane-soak
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --load) load=1; shift ;;
    --no-fifo) fifo=0; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "soak: unknown option $1 (--minutes N, --load, --no-fifo, --out DIR)" >&2; exit 2 ;;
  esac
done
rm -rf "$out" && mkdir -p "$out"
swift build -c release --product lane-agent -Xswiftc -static-stdlib >/dev/null
swift build --product lane-sim >/dev/null
board="$out/board.yaml"
if [ $fifo = 1 ]; then cp Boards/sim.yaml "$board"; else sed '/^realtime:/,/^[^ ]/{/^realtime:/d;/^  /d}' Boards/sim.yaml > "$board"; fi
sed -i '/^console:/,$d' "$board"
port=$((20000 + RANDOM % 10000))
.build/debug/lane-sim serve --scenario HardwareSim/scenarios/demo.yaml --keep-running --tcp-port $port \
  --gpio-socket "$out/gpio.sock" > "$out/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true; [ -n "${stress:-}" ] && kill $stress 2>/dev/null || true' EXIT
sleep 1
if [ $load = 1 ]; then
  stress-ng --cpu "$(nproc)" --io 1 --vm 1 --vm-bytes 256M --timeout "$((minutes * 60))s" > "$out/stress.log" 2>&1 &
  stress=$!
fi
.build/release/lane-agent run --board "$board" --modbus-port $port --gpio-socket "$out/gpio.sock" --journal "$out/journal" \
  --vm250-port $((port + 1)) --duration $((minutes * 60)) > "$out/decisions.jsonl" 2> "$out/agent.log"
echo "soak: $minutes min, load $([ $load = 1 ] && echo "stress-ng --cpu $(nproc) --io 1 --vm 1" || echo none), $([ $fifo = 1 ] && echo "SCHED_FIFO 10 + locked memory" || echo "normal scheduling")"
grep -E "SCHED_FIFO|memory locked|tick lateness|tick thread:|start-up|stopped" "$out/agent.log" | sed 's/^\[lane-agent *[0-9.]*s\] /  /'
