#!/bin/bash
# Replug benchmark, run INSIDE the test VM by bench/replug/run.sh (through tests/vm/run-vm).
# Sets up the two inner QEMUs and the daemon, then runs measure.py. Knobs (environment):
#   BENCH_REPLUGS (50)  BENCH_MOVES (20)  BENCH_SYNTHETIC (1000)
#   BENCH_HOST_DRIVER (usb-storage): usb-storage = the guest's usb-storage probes each replugged
#   stand-in that is not on a reserved port and attaches a SCSI disk; none = it ignores 46f4:0001,
#   as a host has no driver for most license dongles (README: no measurable gain)
set -eu
. "$VM_SRC/tests/vm/scenarios/qemu-lib.sh"
[ ! -f "$VM_BUILD/bench-replug.env" ] || . "$VM_BUILD/bench-replug.env"
export HOSTDEV_STATE_DIR=/run/hostdev-bench
rm -rf "$HOSTDEV_STATE_DIR"
W=$(mktemp -d)
QH= QA= WD=
QUIRKS=/sys/module/usb_storage/parameters/quirks
quirks0=$(cat "$QUIRKS" 2>/dev/null || true)
cleanup() {
        for p in $QH $QA $WD; do kill "$p" 2>/dev/null || true; done
        [ ! -w "$QUIRKS" ] || echo "$quirks0" >"$QUIRKS"
        put_back dongle-a DONGLE-A 1
        put_back dongle-b DONGLE-B 2
        rm -rf "$W"
}
trap cleanup EXIT

# The dongles here are usb-storage devices (QEMU lets a test give those a serial). Most license
# dongles are vendor-specific devices the host has no driver for; a stand-in that usb-storage
# probes costs the guest a SCSI scan and udev's disk rules at each replug, at the moment the
# other dongle's replug is measured (both are plugged together). BENCH_HOST_DRIVER=none sets the
# quirk flag "i" (Documentation/admin-guide/kernel-parameters.txt, usb-storage.quirks): its probe
# then gives up at once.
host_driver=${BENCH_HOST_DRIVER:-usb-storage}
case $host_driver in
none) [ -w "$QUIRKS" ] || fail "no $QUIRKS: is usb-storage loaded?"
      echo "46f4:0001:i" >"$QUIRKS" ;;
usb-storage) ;;
*) fail "BENCH_HOST_DRIVER: '$host_driver' (none or usb-storage)" ;;
esac
ignored() { dmesg | grep -c 'usb-storage.*device ignored' || true; }
disks() { dmesg | grep -c 'Attached SCSI removable disk' || true; }
ignored0=$(ignored) disks0=$(disks)
echo "the stand-in dongles' host driver: $host_driver (usb-storage quirks: '$(cat "$QUIRKS")')"
case " $(cat /proc/cmdline) " in
*" idle=poll "*) echo "the guest's idle vCPUs: poll (idle=poll, BENCH_GUEST_IDLE=poll)" ;;
*) echo "the guest's idle vCPUs: halt (the kernel's default idle)" ;;
esac
dongle_dev DONGLE-A >/dev/null || fail "DONGLE-A missing"
dongle_dev DONGLE-B >/dev/null || fail "DONGLE-B missing"
set -- $(dongle_dev DONGLE-B)
bbus=$1
bport=$(basename "$(dirname "$(grep -l '^DONGLE-B$' /sys/bus/usb/devices/*/serial)")")
bport=${bport#*-}

# Both inner guests run (no -S): QEMU's usb-host autoscan only scans while the VM is running.
# What they run is a firmware of one instruction pair, cli; hlt at the reset vector (the last
# 16 bytes of a 64 KiB -bios image): a running VM whose vCPU sleeps, as an idle guest's does
# under KVM. SeaBIOS idling after "No bootable device" takes its timer interrupts, which under
# TCG in this TCG guest cost each inner QEMU 9-10% of a vCPU; with this firmware, ~3%.
python3 -c 'import sys; b = bytearray(65536); b[0xfff0:0xfff4] = b"\xfa\xf4\xeb\xfd"; sys.stdout.buffer.write(b)' >"$W/halt.bin"
INNER_QEMU+=(-bios "$W/halt.bin")
# thread names (the bench's scheduler trace finds QEMU's monitor I/O thread by its name)
INNER_QEMU+=(-name debug-threads=on)
mkfifo "$W/inject"
# The daemon runs as its systemd unit runs it: at the unit's CPUSchedulingPolicy= and
# CPUSchedulingPriority= (BENCH_DAEMON_SCHED=other|fifo:N|rr:N overrides) and Nice=
# (BENCH_DAEMON_NICE=N overrides).
UNIT=$VM_SRC/data/hostdev-watch.service.in
unit_val() { sed -n "s/^$1=//p" "$UNIT"; }
unit_policy=$(unit_val CPUSchedulingPolicy) unit_prio=$(unit_val CPUSchedulingPriority) unit_nice=$(unit_val Nice)
sched=${BENCH_DAEMON_SCHED:-${unit_policy:+$unit_policy:$unit_prio}}
sched=${sched:-other}
nice_val=${BENCH_DAEMON_NICE:-$unit_nice}
case $sched in
other) chrt_args=(-o 0) ;;
fifo:[0-9]*) chrt_args=(-R -f "${sched#fifo:}") ;;
rr:[0-9]*) chrt_args=(-R -r "${sched#rr:}") ;;
*) fail "BENCH_DAEMON_SCHED / the unit's CPUSchedulingPolicy: '$sched' (other, fifo:N or rr:N)" ;;
esac
HOSTDEV_WATCH_INJECT=$W/inject nice -n "${nice_val:-0}" chrt "${chrt_args[@]}" "$H" watch --verbose 2>"$W/watch.log" &
WD=$!
"${INNER_QEMU[@]}" -qmp "unix:$W/h.qmp,server=on,wait=off" >"$W/h.log" 2>&1 &
QH=$!
"${INNER_QEMU[@]}" -qmp "unix:$W/a.qmp,server=on,wait=off" \
        -device "usb-host,bus=usb.0,hostbus=$bbus,hostport=$bport,id=autoscan" >"$W/a.log" 2>&1 &
QA=$!
wait_for 120 test -S "$W/h.qmp" || fail "hostdev's QEMU did not start: $(cat "$W/h.log")"
wait_for 120 test -S "$W/a.qmp" || fail "autoscan's QEMU did not start: $(cat "$W/a.log")"
dongle_xml DONGLE-A >"$W/a.xml"
"$H" attach-device bench-h "$W/a.xml" --qmp "$W/h.qmp" || fail "attach-device failed"
echo "daemon: scheduling $sched, nice ${nice_val:-0} (hostdev-watch.service:" \
        "CPUSchedulingPolicy=$unit_policy CPUSchedulingPriority=$unit_prio Nice=$unit_nice);" \
        "running as: $(chrt -p "$WD" | tr '\n' ' ')nice $(ps -o ni= -p "$WD")"
echo "hostdev side: DONGLE-A in QEMU pid $QH (attach-device + hostdev watch pid $WD)"
echo "autoscan side: DONGLE-B in QEMU pid $QA (-device usb-host,hostbus=$bbus,hostport=$bport)"
# autoscan's first scan: does it hold DONGLE-B before we start?
set -- $(dongle_dev DONGLE-B)
held=no
for _ in $(seq 100); do
        if ls -l /proc/$QA/fd 2>/dev/null | grep -q "/dev/bus/usb/$(printf %03d "$1")/$(printf %03d "$2")"; then held=yes; break; fi
        sleep 0.1
done
echo "autoscan QEMU holds DONGLE-B at start: $held"
qmp "$W/a.qmp" human-monitor-command '{"command-line": "info usb"}' || true
# The instrument's clock is the guest kernel's tracer (kprobes, measure.py "the clock"): nothing
# of the bench wakes up while a replug is measured (measure.py sleeps from the plugs until a
# second later). The rest of it (Python: the control channel, reading the trace, the checks of
# /proc/PID/fd) runs at SCHED_IDLE, so that it never takes a vCPU from the daemon or a QEMU.
# Both sides alike.
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing ||
        fail "cannot mount tracefs on /sys/kernel/tracing"
chrt -i 0 python3 "$VM_SRC/bench/replug/measure.py" --replugs "${BENCH_REPLUGS:-50}" --moves "${BENCH_MOVES:-20}" \
        --synthetic "${BENCH_SYNTHETIC:-1000}" ${BENCH_VERBOSE:+--verbose} --hostdev-qemu "$QH" --autoscan-qemu "$QA" \
        --daemon "$WD" --daemon-log "$W/watch.log" --fifo "$W/inject" | tee "$VM_OUT/bench-replug.txt"
rc=${PIPESTATUS[0]}
echo "--- the guest's usb-storage during the run: $(($(ignored) - ignored0)) probes of a stand-in ignored," \
        "$(($(disks) - disks0)) SCSI disks attached (BENCH_HOST_DRIVER=$host_driver)"
echo "--- autoscan QEMU: info usb now, and its log"
qmp "$W/a.qmp" human-monitor-command '{"command-line": "info usb"}' || true
cat "$W/a.log" || true
echo "--- when the daemon's loop was busy for more than 50 ms (a uevent arriving then waits):"
grep -o 'loop busy .*' "$W/watch.log" | sed 's/busy [0-9.]* ms/busy N ms/' | sort | uniq -c || true
grep -o 'loop busy [0-9.]* ms' "$W/watch.log" | awk '{print $3}' | sort -n | tail -3 | tr '\n' ' '; echo
grep -o 'slow: .*' "$W/watch.log" | sed 's/ [0-9.]* ms//' | sort | uniq -c || true
grep -o 'slow: .*' "$W/watch.log" | sort -t' ' -k4 -n | tail -5 || true
echo "--- the daemon's log (last lines):"
grep -v '^debug:' "$W/watch.log" | tail -5
cp "$W/watch.log" "$VM_OUT/watch.log" 2>/dev/null || true
exit "$rc"
