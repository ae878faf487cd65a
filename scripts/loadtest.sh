#!/usr/bin/env bash
# The alarm station at national scale (docs/PERFORMANCE.md): PostgreSQL (a scratch cluster,
# durable commits as in production) and mosquitto on loopback, two lane-collector processes
# sharing the lanes (--share, --postgres), and `lane-collector loadgen` publishing the records of
# LANES simulated lanes for SECONDS. Prints one JSON line: the generator's figures (records per
# second, alarm latency to the store's acknowledgement) and each process's CPU (% of one core)
# and peak resident memory.
#
#   scripts/loadtest.sh LANES [SECONDS]        e.g. scripts/loadtest.sh 1000 60
set -euo pipefail
cd "$(dirname "$0")/.."
lanes=${1:?usage: scripts/loadtest.sh LANES [SECONDS]}
seconds=${2:-60}
bin=.build/release
[ -x $bin/lane-collector ] || swift build -c release --product lane-collector >&2
pgbin=/usr/lib/postgresql/15/bin
dir=$(mktemp -d /tmp/lane-load-XXXXXX)
chmod 755 "$dir"
as_pg=()
[ "$(id -u)" -eq 0 ] && { chown postgres: "$dir"; as_pg=(runuser -u postgres --); }
pgport=$((20000 + RANDOM % 10000)); mqport=$((30000 + RANDOM % 10000))
(cd /tmp && "${as_pg[@]}" $pgbin/initdb -D "$dir/pg" -A trust -U postgres -E UTF8 --no-instructions >/dev/null)
(cd /tmp && "${as_pg[@]}" $pgbin/pg_ctl -D "$dir/pg" -l "$dir/pg.log" -w -o "-p $pgport -k $dir -c listen_addresses=127.0.0.1 -c max_connections=50 -c shared_buffers=256MB" start >/dev/null)
printf 'listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n' "$mqport" > "$dir/mosquitto.conf"
mosquitto -c "$dir/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 &
mq=$!
cleanup() {
  kill "${c1:-}" "${c2:-}" "$mq" 2>/dev/null || true
  (cd /tmp && "${as_pg[@]}" $pgbin/pg_ctl -D "$dir/pg" -m fast stop >/dev/null 2>&1) || true
  if [ -n "${KEEP:-}" ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
psql -h 127.0.0.1 -p $pgport -U postgres -qc "CREATE DATABASE lanes" postgres
conn="host=127.0.0.1 port=$pgport user=postgres dbname=lanes"
sleep 0.5
$bin/lane-collector run --broker 127.0.0.1:$mqport --postgres "$conn" --share station 2> "$dir/c1.log" &
c1=$!
$bin/lane-collector run --broker 127.0.0.1:$mqport --postgres "$conn" --share station 2> "$dir/c2.log" &
c2=$!
sleep 2

# CPU ticks and peak RSS of a set of processes, sampled once a second.
ticks() { local t=0 p; for p in "$@"; do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
rss() { local r=0 p; for p in "$@"; do [ -r /proc/$p/status ] && r=$((r + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done; echo $r; }
# The postmaster (its pid file) and its children.
pgpids() {
  local pm; pm=$(head -1 "$dir/pg/postmaster.pid" 2>/dev/null) || return 0
  echo "$pm $(awk -v pm="$pm" '/^PPid:/ && $2 == pm {split(FILENAME, f, "/"); print f[3]}' /proc/[0-9]*/status 2>/dev/null | tr '\n' ' ')"
}
hz=$(getconf CLK_TCK)
start_c=$(ticks $c1 $c2); start_m=$(ticks $mq); start_p=$(ticks $(pgpids)); t0=$(date +%s.%N)
peak_c=0; peak_m=0; peak_p=0
(
  while sleep 1; do
    echo "$(rss $c1 $c2) $(rss $mq) $(rss $(pgpids))"
  done
) > "$dir/rss.log" &
sampler=$!
result=$($bin/lane-collector loadgen --broker 127.0.0.1:$mqport --lanes "$lanes" --seconds "$seconds")
kill $sampler 2>/dev/null || true
t1=$(date +%s.%N)
end_c=$(ticks $c1 $c2); end_m=$(ticks $mq); end_p=$(ticks $(pgpids))
read -r peak_c peak_m peak_p < <(awk 'BEGIN {a=0;b=0;c=0} {if ($1>a) a=$1; if ($2>b) b=$2; if ($3>c) c=$3} END {print a, b, c}' "$dir/rss.log")
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
cpu() { awk -v s="$1" -v e="$2" -v hz="$hz" -v w="$wall" 'BEGIN {printf "%d", 100 * (e - s) / hz / w}'; }
stored=$(psql -h 127.0.0.1 -p $pgport -U postgres -tAc "SELECT COUNT(*) FROM records" lanes)
echo "${result%\}},\"storedRows\":$stored,\"cpuPercent\":{\"collectors\":$(cpu $start_c $end_c),\"mosquitto\":$(cpu $start_m $end_m),\"postgres\":$(cpu $start_p $end_p)},\"peakRssMiB\":{\"collectors\":$((peak_c / 1024)),\"mosquitto\":$((peak_m / 1024)),\"postgres\":$((peak_p / 1024))}}"
