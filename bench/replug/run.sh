#!/bin/bash
# The replug benchmark (issue 14): hostdev's re-attach vs QEMU's own usb-host autoscan, in the
# test VM. Usage:
#   bench/replug/run.sh [--build DIR] [--replugs N] [--moves N] [--synthetic N] [--verbose]
# Defaults: the build in ./build, 50 same-port replugs (off 0.1-3 s), 20 moves to another port
# and back, 1000 synthetic uevent pairs through the daemon. Prints, side by side from the one
# run: how many came back, p50, p99, max; the daemon's VmRSS; and, from host-cpu.py, how long the
# test VM's QEMU threads waited for one of this host's CPUs. Takes ~10-20 minutes (TCG).
# The daemon runs at its systemd unit's scheduling policy and Nice= (BENCH_DAEMON_SCHED=other|fifo:N|rr:N
# and BENCH_DAEMON_NICE=N override). BENCH_HOST_DRIVER=none has the guest's usb-storage ignore the
# stand-in dongles (46f4:0001), as a host has no driver for most license dongles; the default,
# usb-storage, lets it probe them and attach a disk at each replug (of DONGLE-B: A's port is reserved).
# BENCH_GUEST_IDLE=poll boots the test VM with idle=poll: its idle vCPUs spin instead of halting
# (README: under TCG a halted vCPU is slow to wake); the default, halt, is the kernel's own idle.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build}
export BENCH_REPLUGS=${BENCH_REPLUGS:-50} BENCH_MOVES=${BENCH_MOVES:-20} BENCH_SYNTHETIC=${BENCH_SYNTHETIC:-1000}
BENCH_VERBOSE=
while [ $# -gt 0 ]; do
        case $1 in
        --build) BUILD=$2; shift 2 ;;
        --replugs) BENCH_REPLUGS=$2; shift 2 ;;
        --moves) BENCH_MOVES=$2; shift 2 ;;
        --synthetic) BENCH_SYNTHETIC=$2; shift 2 ;;
        --verbose) BENCH_VERBOSE=1; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--build DIR] [--replugs N] [--moves N] [--synthetic N] [--verbose]" >&2; exit 2 ;;
        esac
done
[ -x "$BUILD/hostdev" ] || { echo "no $BUILD/hostdev: build first (meson setup build && meson compile -C build)" >&2; exit 1; }
# run-vm passes no environment of ours into the guest: hand the knobs over through the build dir
printf 'BENCH_REPLUGS=%d\nBENCH_MOVES=%d\nBENCH_SYNTHETIC=%d\nBENCH_VERBOSE=%s\nBENCH_DAEMON_NICE=%s\nBENCH_DAEMON_SCHED=%s\nBENCH_HOST_DRIVER=%s\n' "$BENCH_REPLUGS" \
        "$BENCH_MOVES" "$BENCH_SYNTHETIC" "$BENCH_VERBOSE" "${BENCH_DAEMON_NICE:-}" "${BENCH_DAEMON_SCHED:-}" "${BENCH_HOST_DRIVER:-}" \
        >"$BUILD/bench-replug.env"
export VM_SCENARIO_TIMEOUT=${VM_SCENARIO_TIMEOUT:-3600} VM_TIMEOUT=${VM_TIMEOUT:-3900}
case ${BENCH_GUEST_IDLE:-halt} in
halt) ;;
poll) export VM_APPEND="${VM_APPEND:+$VM_APPEND }idle=poll" ;;
*) echo "BENCH_GUEST_IDLE: '$BENCH_GUEST_IDLE' (halt or poll)" >&2; exit 2 ;;
esac
"$SRC/tests/vm/run-vm" --build "$BUILD" "$SRC/bench/replug/guest.sh" &
vm=$!
trap 'kill "$vm" 2>/dev/null' INT TERM
# the host's side: how long the VM's threads waited for a host CPU (printed when the VM is gone)
python3 "$SRC/bench/replug/host-cpu.py" --parent "$vm" ${BENCH_HOST_MAIN_NICE:+--main-loop-nice "$BENCH_HOST_MAIN_NICE"} &
hc=$!
rc=0
wait "$vm" || rc=$?
wait "$hc" || true
exit "$rc"
