#!/bin/sh
# The kernel GPIO test, inside the VM that scripts/gpio-vm.sh boots (busybox, Debian's kernel,
# gpio-sim built as a module). Drives the real lane-agent through libgpiod against a gpio-sim
# chip and prints one line per result on standard output (the VM's second serial port):
#   PASS name: what held          FAIL name: what did not
#   MEASURE name: a measurement (documented in docs/BOARDS.md, "Tested against a kernel")
#   DONE fails=N                  the last line
# The host script (scripts/gpio-vm.sh) fails the run on any FAIL or a missing DONE.
set -u
L=/lane
A=$L/bin/lane-agent
S=$L/bin/lane-sim
T=$L/bin/vmtool
P=$L/Boards/kernel-gpio.yaml
fails=0

check() { # name, status (0 = held), sentence
    if [ "$2" -eq 0 ]; then echo "PASS $1: $3"; else echo "FAIL $1: $3"; fails=$((fails + 1)); fi
}
measure() { echo "MEASURE $*"; }
# Waits up to $2 seconds for a file ($1) to contain a pattern ($3).
wait_for() {
    n=0
    while [ $n -lt $(($2 * 10)) ]; do
        grep -q -- "$3" "$1" 2>/dev/null && return 0
        usleep 100000; n=$((n + 1))
    done
    return 1
}

# Waits up to $3 seconds for line $1 to read $2.
wait_value() {
    n=0
    while [ $n -lt $(($3 * 10)) ]; do
        [ "$(value $1)" = "$2" ] && return 0
        usleep 100000; n=$((n + 1))
    done
    return 1
}

# --- the chip: 8 named lines, labelled as a board's pin controller would be ----------------
names="beam-entry beam-exit gamma-light neutron-light fault-light siren camera heartbeat"
G=/sys/kernel/config/gpio-sim/lane
mkdir $G $G/bank0
echo 8 > $G/bank0/num_lines
echo lane-gpio > $G/bank0/label
i=0
for n in $names; do mkdir $G/bank0/line$i; echo $n > $G/bank0/line$i/name; i=$((i + 1)); done
echo 1 > $G/live
D=/sys/devices/platform/$(cat $G/dev_name)/$(cat $G/bank0/chip_name)
offset() { i=0; for n in $names; do [ "$n" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done; }
value() { cat $D/sim_gpio$(offset $1)/value; }
pullfile() { echo $D/sim_gpio$(offset $1)/pull; }
outputs() { for n in gamma-light neutron-light fault-light siren camera heartbeat; do printf '%s=%s ' $n $(value $n); done; }
requested() { grep -c "lane-agent" /sys/kernel/debug/gpio; }
# The receivers are active low: idle (beam clear) is high.
echo pull-up > $(pullfile beam-entry)
echo pull-up > $(pullfile beam-exit)
measure chip: "$(cat $G/bank0/chip_name) label lane-gpio at $D"

# --- a wrong profile: clear errors naming the entry ------------------------------------------
variant() { sed "$1" $P > $L/Boards/$2.yaml; }
variant 's/^  chip: lane-gpio/  chip: no-such-chip/' no-chip
variant 's/^  beams: \[beam-entry, beam-exit\]/  beams: [beam-entry, no-such-line]/' no-line
variant 's/^    siren: siren/    siren: no-such-siren/' no-output
out=$($A run --board $L/Boards/no-chip.yaml --duration 1 2>&1); rc=$?
echo "$out" | grep -q "gpio.chip: GPIO chip 'no-such-chip' not found"
check missing-chip $(( $? | (rc == 0) )) "a profile naming a chip the kernel does not have stops the agent (status $rc) with: $(echo "$out" | grep -m1 gpio)"
out=$($A run --board $L/Boards/no-line.yaml --duration 1 2>&1); rc=$?
echo "$out" | grep -q "gpio.beams\[1\]: GPIO chip 'lane-gpio' has no line 'no-such-line'"
check missing-line $(( $? | (rc == 0) )) "a beam on a line the chip does not have stops the agent (status $rc) with: $(echo "$out" | grep -m1 gpio)"
out=$($A run --board $L/Boards/no-output.yaml --duration 1 2>&1); rc=$?
echo "$out" | grep -q "gpio.outputs.siren: GPIO chip 'lane-gpio' has no line 'no-such-siren'"
check missing-output $(( $? | (rc == 0) )) "an output on a missing line stops the agent (status $rc) with: $(echo "$out" | grep -m1 gpio)"
[ "$(requested)" -eq 0 ]
check released-after-error $? "after those errors no line is left requested"

# --- the panels: lane-sim over Modbus TCP inside the VM --------------------------------------
$S serve --scenario $L/quiet.yaml --tcp-port 1502 --gpio-socket /tmp/sim-gpio.sock --control-socket /tmp/ctl.sock > /tmp/sim.log 2>&1 &
sim=$!
n=0; while [ ! -S /tmp/ctl.sock ] && [ $n -lt 300 ]; do usleep 100000; n=$((n + 1)); done
check simulator-up $([ -S /tmp/ctl.sock ]; echo $?) "lane-sim serves the panels (up after $((n / 10)) s)"

out=$($A check-board $P --on-target 2>&1); rc=$?
echo "$out" | sed 's/^/CHECKBOARD /'
echo "$out" | grep -q "chip 'lane-gpio': beams on line 'beam-entry' and line 'beam-exit'"
check check-board $(( $? | rc )) "check-board --on-target finds the chip by label and every line by name, free (status $rc)"

# --- the agent: lines requested, safe levels, busy lines -------------------------------------
start_agent() { # $1: name of the run
    $A run --board $P > /tmp/$1.jsonl 2> /tmp/$1.log &
    agent=$!
    n=0; while [ "$(requested)" -lt 8 ] && [ $n -lt 300 ]; do usleep 20000; n=$((n + 1)); done
}
start_agent run1
early="$(outputs)"
dbg=$(grep lane-agent /sys/kernel/debug/gpio)
echo "$dbg" | sed 's/^/DEBUGFS /'
echo "$dbg" | grep "beam-entry" | grep -q " in .*ACTIVE LOW"
r1=$?
echo "$dbg" | grep "beam-exit" | grep -q " in .*ACTIVE LOW"
r2=$?
check beams-requested $((r1 | r2)) "both beams are requested as active-low inputs (their edge events are proven by the speed check below)"
n_out=$(echo "$dbg" | grep -c " out ")
check outputs-requested $([ "$n_out" -eq 6 ]; echo $?) "the 6 outputs are requested as outputs ($n_out found)"
[ "$early" = "gamma-light=0 neutron-light=0 fault-light=1 siren=0 camera=0 heartbeat=0 " ] || \
    [ "$early" = "gamma-light=0 neutron-light=0 fault-light=1 siren=0 camera=0 heartbeat=1 " ]
check safe-at-start $? "at start the outputs are at their safe levels (fault lamp on, the rest off): $early"

out=$($A run --board $P --duration 2 --journal /tmp/j-busy --vm250-port 1602 2>&1); rc=$?
echo "$out" | grep -q "gpio.beams\[0\] (line 'beam-entry'): cannot request edge events: Device or resource busy (held by lane-agent)"
check line-busy $(( $? | (rc == 0) )) "a second agent on the same lines stops (status $rc) with: $(echo "$out" | grep -m1 gpio)"

wait_for /tmp/run1.log 120 "lane fault-free"
check background-learned $? "the lane learns its background and clears its faults"
usleep 300000
check fault-lamp-off $([ "$(value fault-light)" = 0 ]; echo $?) "with the lane fault-free the agent turns the fault lamp off (read back on the chip: $(value fault-light))"
hb=$($T watch $D/sim_gpio$(offset heartbeat)/value 2000)
measure heartbeat-running: "$hb (2 s sampled every 2 ms)"
toggles=$(echo "$hb" | cut -d' ' -f2); steady=$(echo "$hb" | cut -d' ' -f4)
check heartbeat $([ "$toggles" -ge 10 ] && [ "$steady" -lt 500 ]; echo $?) "the heartbeat line toggles while ticks run ($toggles toggles in 2 s, longest steady $steady ms)"

# --- a truck: two timed beam edges; the speed from the kernel's timestamps -------------------
e0=$($T pull $(pullfile beam-entry) pull-down)
usleep 680000
e1=$($T pull $(pullfile beam-exit) pull-down)
sleep 3
$T pull $(pullfile beam-entry) pull-up > /dev/null
usleep 680000
$T pull $(pullfile beam-exit) pull-up > /dev/null
wait_for /tmp/run1.jsonl 30 '"occupancy"'
check decision $? "the occupancy the beams made ends in a decision"
dec=$(head -n1 /tmp/run1.jsonl)
speed=$(echo "$dec" | sed -n 's/.*"speedMps":\([0-9.]*\).*/\1/p')
set -- $e0 $e1
verdict=$(awk -v s="$speed" -v a0=$1 -v a1=$2 -v b0=$3 -v b1=$4 'BEGIN {
    lo = 1.5e6 / (b1 - a0); hi = 1.5e6 / (b0 - a1); mid = 1.5e6 / ((b0 + b1) / 2 - (a0 + a1) / 2)
    err = (s - mid) / mid; if (err < 0) err = -err
    printf "%s %.4f %.4f %.4f %.3f", (err <= 0.01 ? "ok" : "off"), mid, lo, hi, err * 100 }')
set -- $verdict
measure speed: "agent ${speed:-none} m/s; from the write times $2 m/s (between $3 and $4), error $5 %"
check speed $([ "$1" = ok ]; echo $?) "the speed from the two edges' kernel timestamps is within 1 % (agent $speed m/s, edges $2 m/s, $5 %)"
echo "$dec" | grep -q '"gammaAlarm":false'
check clear $? "a truck without a source is cleared"

# --- an alarm: outputs read back, then the agent is killed with the siren on -----------------
$T pull $(pullfile beam-entry) pull-down > /dev/null
usleep 680000
$T pull $(pullfile beam-exit) pull-down > /dev/null
sleep 1
$T ctl /tmp/ctl.sock checksource all 3000 > /dev/null
wait_for /tmp/run1.log 30 "GAMMA"
check alarm $? "a check source held against the panels while the beams are blocked raises a gamma alarm"
usleep 300000
during="$(outputs)"
measure outputs-during-alarm: "$during"
[ "$(value siren)" = 1 ] && [ "$(value gamma-light)" = 1 ]
check alarm-outputs $? "the siren and the gamma light read back on on the chip during the alarm: $during"
kill -KILL $agent
wait $agent 2>/dev/null
after="$(outputs)"
measure after-sigkill: "$after; lines requested by lane-agent: $(requested)"
hb=$($T watch $D/sim_gpio$(offset heartbeat)/value 1500)
measure heartbeat-after-sigkill: "$hb"
toggles=$(echo "$hb" | cut -d' ' -f2)
check relay-drops-on-kill $([ "$toggles" -eq 0 ]; echo $?) "after SIGKILL the heartbeat stops: no toggle in 1.5 s, so a relay with a 1 s timeout drops ($hb)"
check released-on-kill $([ "$(requested)" -eq 0 ]; echo $?) "the kernel releases a killed agent's lines"
$A safe-outputs --board $P > /tmp/safe.out 2>&1
check safe-outputs $? "lane-agent safe-outputs (the unit's ExecStopPost) can take the lines after a kill: $(cat /tmp/safe.out)"
measure after-safe-outputs: "$(outputs)"
$T ctl /tmp/ctl.sock checksource all 0 > /dev/null
$T pull $(pullfile beam-entry) pull-up > /dev/null
$T pull $(pullfile beam-exit) pull-up > /dev/null

# --- an orderly stop (SIGTERM from systemd, SIGINT from Ctrl-C) and a crash (SIGSEGV) ------
for how in TERM INT SEGV; do
    start_agent run-$how
    wait_value fault-light 0 120
    before="$(outputs)"
    $T watch $D/sim_gpio$(offset fault-light)/value 3000 > /tmp/watch-$how &
    watcher=$!
    usleep 200000
    kill -$how $agent
    wait $agent 2>/dev/null
    rc=$?
    wait $watcher
    watched=$(cat /tmp/watch-$how)
    measure "lines-$how:" "status $rc; before $before; after $(outputs); fault lamp sampled while stopping: $watched; requested: $(requested)"
    [ "$(requested)" -eq 0 ]
    check released-$how $? "after SIG$how the agent's lines are released (status $rc)"
    if [ $how != SEGV ]; then
        high=$(echo "$watched" | sed -n 's/.*high_ms \([0-9]*\).*/\1/p')
        check safe-on-$how $([ "$high" -gt 0 ]; echo $?) "on SIG$how the agent lights the fault lamp (its safe state) before it releases the lines (seen on for $high ms)"
    fi
done
measure term-log: "$(tail -n 3 /tmp/run-TERM.log | tr '\n' ' ')"

kill $sim 2>/dev/null
for f in /tmp/run1.log /tmp/sim.log; do tail -n 30 $f | sed "s|^|LOG $(basename $f) |"; done
echo "DONE fails=$fails"
