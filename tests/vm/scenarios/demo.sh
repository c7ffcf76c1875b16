#!/bin/bash
# demo.sh: the README's main job, as a readable transcript (tools/demo runs it; it is also a
# scenario of the VM suite, so every claim it prints is checked).
#
# Five identical USB dongles (46f4:0001) in the test VM. Three of them go to three VMs:
# vm-a and vm-b by serial, vm-c by physical port (QEMU port 3, sysfs 2-3).
# Then one dongle is pulled and put back into another port, and one is quickly replugged: each
# comes back to its own VM. At the end every claim is released.
set -eu
. "$(dirname "$0")/qemu-lib.sh"
. "$(dirname "$0")/watch-lib.sh"
step() { echo; echo "=== [${SECONDS}s] $*"; }
say() { echo "    $*"; }
export HOSTDEV_STATE_DIR=/run/hostdev-demo
rm -rf "$HOSTDEV_STATE_DIR"
W=$(mktemp -d)
PID_A= PID_B= PID_C=
cleanup() {
        for p in $PID_A $PID_B $PID_C; do kill "$p" 2>/dev/null || true; done
        cp "$W"/*.err "$VM_OUT"/ 2>/dev/null || true
        # put the dongles back where hardware.sh says (scenarios share one boot)
        put_back dongle-a DONGLE-A 1
        put_back dongle-c DONGLE-C 3
        rm -rf "$W"
}
trap cleanup EXIT
show() { echo "\$ $*"; "$@"; }

step "The host has five identical dongles, vendor:product $VM_DONGLE_VID:$VM_DONGLE_PID"
show "$H" list --cap usb_device

step "Asking for 'the 46f4:0001 dongle' is ambiguous"
say "libvirt stops here with: Multiple USB devices for 46f4:1, use <address> to specify one"
say "(and an <address bus= device=> breaks at the next replug). hostdev explains instead:"
cat >"$W/plain.xml" <<X
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x$VM_DONGLE_VID'/><product id='0x$VM_DONGLE_PID'/></source>
</hostdev>
X
run "$H" resolve "$W/plain.xml"
want_rc 1
printf '%s' "$ERR" | grep -q "<serial>DONGLE-A</serial>" || fail "no serial selector offered for DONGLE-A"
printf '%s' "$ERR" | grep -q "port='4.1'" || fail "no port selector offered for the dongle behind the hub"

step "Two dongles share the serial DUP (cheap dongles do that): hostdev offers their ports"
cat >"$W/dup.xml" <<X
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x$VM_DONGLE_VID'/><product id='0x$VM_DONGLE_PID'/><serial>DUP</serial></source>
</hostdev>
X
run "$H" resolve "$W/dup.xml"
want_rc 1
printf '%s' "$ERR" | grep -qi "not unique" || fail "the serial collision is not named"

step "Three VMs, three selectors: serial, serial, physical port"
dongle_xml DONGLE-A >"$W/vm-a.xml"
dongle_xml DONGLE-B >"$W/vm-b.xml"
cat >"$W/vm-c.xml" <<X
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x$VM_DONGLE_VID'/><product id='0x$VM_DONGLE_PID'/><address bus='2' port='3'/></source>
</hostdev>
X
for v in a b c; do
        echo "--- vm-$v.xml"; cat "$W/vm-$v.xml"
        run "$H" resolve "$W/vm-$v.xml"
        want_rc 0
done

step "Start them: hostdev run claims the dongle, starts QEMU with it, and watches for replugs"
INNER_QEMU+=(-S) # the inner guests need not execute: QEMU opens the host device all the same
for v in a b c; do
        echo "\$ hostdev run --name vm-$v vm-$v.xml -- qemu-system-x86_64 ... &"
        "$H" run --name "vm-$v" "$W/vm-$v.xml" -- "${INNER_QEMU[@]}" \
                -qmp "unix:$W/$v.mon,server=on,wait=off" >"$W/run-$v.out" 2>"$W/run-$v.err" &
        eval "PID_${v^^}=\$!"
done
for v in a b c; do
        wait_for 120 test -S "$W/$v.mon" || { cat "$W/run-$v.err"; fail "vm-$v did not start"; }
done
VMS=(vm-a="$W/a.mon:DONGLE-A" vm-b="$W/b.mon:DONGLE-B" vm-c="$W/c.mon:DONGLE-C")
vmcheck --timeout 60 --quiet "${VMS[@]}" || fail "the VMs do not hold their dongles"
show "$H" status

step "A fourth VM asks for DONGLE-B, which vm-b holds: refused, naming the holder"
run "$H" resolve "$W/vm-b.xml"
want_rc 1
printf '%s' "$ERR" | grep -q "in use by domain vm-b" || fail "the holder is not named"

replug() { # replug ID SERIAL ARGS...
        local before after
        before=$(guest_sysfs "$2")
        echo "\$ vmctl replug $1 ${*:3}     # $2 was at $before, device $(cat /sys/bus/usb/devices/$before/busnum):$(cat /sys/bus/usb/devices/$before/devnum)"
        vmctl replug "$1" "${@:3}" >/dev/null || fail "vmctl replug $1 failed"
        wait_for 30 guest_sysfs "$2" >/dev/null || fail "$2 did not come back in the guest"
        after=$(guest_sysfs "$2")
        say "$2 is back at $after, device $(cat /sys/bus/usb/devices/$after/busnum):$(cat /sys/bus/usb/devices/$after/devnum)"
}

step "Pull DONGLE-A and plug it into another port: it goes back to vm-a"
replug dongle-a DONGLE-A port=7 off=0.5
vmcheck --timeout 20 --quiet "${VMS[@]}" || fail "DONGLE-A did not follow to vm-a"
grep -h "re-attached" "$W/run-a.err" | sed 's/^/    /'
grep -q "re-attached .*DONGLE-A.* to vm-a in " "$W/run-a.err" || fail "no re-attach line for vm-a"
a_now=$(guest_sysfs DONGLE-A)
echo "--- the same vm-a.xml still selects the same physical dongle (now usb_${a_now//[-.]/_}), held by vm-a:"
run "$H" resolve "$W/vm-a.xml" --json
printf '%s' "$OUT" | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
sys.exit(0 if r["device"] == sys.argv[1] and r["owner"] == "vm-a" else 1)' "usb_${a_now//[-.]/_}" ||
        fail "vm-a.xml does not resolve to the moved dongle held by vm-a"

step "A quick replug (0.2 s off) of the dongle on port 2-3 (vm-c, chosen by port)"
replug dongle-c DONGLE-C off=0.2
vmcheck --timeout 20 "${VMS[@]}" || fail "the port-selected dongle did not come back to vm-c"
grep -h "re-attached" "$W/run-c.err" | sed 's/^/    /'

step "Shut the VMs down: every claim is released"
for v in a b c; do qmp "$W/$v.mon" quit >/dev/null || true; done
for v in A B C; do eval "p=\$PID_$v"; wait "$p" || fail "hostdev run vm-${v,,} failed"; eval "PID_$v="; done
show "$H" status
[ "$("$H" status --json | tr -d ' \n')" = "[]" ] || fail "claims left after shutdown"
echo
echo "demo: three identical dongles, three VMs, replugs followed - done"
