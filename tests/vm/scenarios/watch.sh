#!/bin/bash
# Issue 14, the Must show: three identical dongles (46f4:0001) assigned by serial to three
# inner QEMUs — vm-a and vm-b under `hostdev run` (its own re-attach loop), vm-c started
# separately, given its dongle with `hostdev attach-device`, and followed by the `hostdev watch`
# daemon. Each dongle is unplugged and replugged from outside (the VM's control channel): on
# the same port, onto another port, and a quick replug (0.1 s off): each returns to its own
# VM, never another's, as seen in each VM's `info usb` / qom hostbus+hostaddr and in QEMU's
# open /dev/bus/usb node. A dongle whose VM is off stays unclaimed and untouched. A
# startupPolicy='optional' dongle absent when its VM starts goes into it when it is plugged in.
set -eu
. "$(dirname "$0")/qemu-lib.sh"
. "$(dirname "$0")/watch-lib.sh"
step() { echo "--- [${SECONDS}s] $*"; }
export HOSTDEV_STATE_DIR=/run/hostdev-scenario-watch
rm -rf "$HOSTDEV_STATE_DIR"
W=$(mktemp -d)
RA= RB= QC= WD=
cleanup() {
        for p in $RA $RB $QC $WD; do kill "$p" 2>/dev/null || true; done
        cp "$W"/*.err "$W"/*.log "$W"/watch.log "$VM_OUT"/ 2>/dev/null || true
        # put the dongles back where hardware.sh says (scenarios share one boot)
        put_back dongle-a DONGLE-A 1
        put_back dongle-b DONGLE-B 2
        put_back dongle-c DONGLE-C 3
        rm -rf "$W"
}
trap cleanup EXIT

command -v qemu-system-x86_64 >/dev/null || fail "no qemu-system-x86_64 in the guest"
for s in DONGLE-A DONGLE-B DONGLE-C; do guest_sysfs "$s" >/dev/null || fail "$s missing in the guest"; done
dongle_xml DONGLE-A >"$W/a.xml"
dongle_xml DONGLE-B >"$W/b.xml"
dongle_xml DONGLE-C >"$W/c.xml"
# -S: the inner guests never run (usb-host opens its device at realize all the same); three
# TCG guests executing firmware would starve this 2-vCPU TCG VM
INNER_QEMU+=(-S)

stop_daemon() {
        kill -TERM "$WD"
        set +e; wait "$WD"; rc=$?; set -e
        WD=
        [ "$rc" = 0 ] || fail "hostdev watch exited $rc on SIGTERM"
}
start_daemon() {
        "$H" watch --verbose 2>>"$W/watch.log" &
        WD=$!
}

step "the daemon: hostdev watch"
start_daemon

step "vm-a and vm-b under hostdev run, vm-c started alone + attach-device"
"$H" run --name vm-a "$W/a.xml" -- "${INNER_QEMU[@]}" -qmp "unix:$W/a.mon,server=on,wait=off" \
        >"$W/run-a.out" 2>"$W/run-a.err" &
RA=$!
"$H" run --name vm-b "$W/b.xml" -- "${INNER_QEMU[@]}" -qmp "unix:$W/b.mon,server=on,wait=off" \
        >"$W/run-b.out" 2>"$W/run-b.err" &
RB=$!
"${INNER_QEMU[@]}" -qmp "unix:$W/c.qmp,server=on,wait=off" -qmp "unix:$W/c.mon,server=on,wait=off" \
        >"$W/c.log" 2>&1 &
QC=$!
wait_for 120 test -S "$W/a.mon" || { cat "$W/run-a.err"; fail "vm-a did not start"; }
wait_for 120 test -S "$W/b.mon" || { cat "$W/run-b.err"; fail "vm-b did not start"; }
wait_for 120 test -S "$W/c.qmp" || { cat "$W/c.log"; fail "vm-c did not start"; }
run "$H" attach-device vm-c "$W/c.xml" --qmp "$W/c.qmp"
want_rc 0
VMS=(vm-a="$W/a.mon:DONGLE-A" vm-b="$W/b.mon:DONGLE-B" vm-c="$W/c.mon:DONGLE-C")
vmcheck --timeout 30 "${VMS[@]}" || fail "the VMs do not hold their dongles at start"
run "$H" status
want_rc 0

replug() { # replug ID ARGS...: replug from outside, then show where each dongle is
        local before after
        before=$(guest_sysfs "$2")
        echo "\$ vmctl replug $1 ${*:3}   ($2 was $before, $(cat /sys/bus/usb/devices/$before/busnum):$(cat /sys/bus/usb/devices/$before/devnum))"
        vmctl replug "$1" "${@:3}" || fail "vmctl replug $1 failed"
        wait_for 30 guest_sysfs "$2" >/dev/null || fail "$2 did not come back in the guest"
        after=$(guest_sysfs "$2")
        echo "  $2 is now $after, $(cat /sys/bus/usb/devices/$after/busnum):$(cat /sys/bus/usb/devices/$after/devnum)"
}

# Reserved ports: while its VM runs, a claim's port is claimed through usbfs, so the host binds
# no driver to a dongle replugged there (usb-storage would, and QEMU would have to detach it).
# usb-storage's probe runs under the device's lock, which QEMU's open() of the node waits for:
# once a VM holds a dongle, its probe (if any) is in the kernel log.
mass_storage_probes() { dmesg | grep -c "USB Mass Storage device detected" || true; }
iface_driver() { # iface_driver SYSNAME: the host driver of its first interface, or "none"
        local l=/sys/bus/usb/devices/$1/$1:1.0/driver
        if [ -e "$l" ]; then basename "$(readlink "$l")"; else echo none; fi
}

step "same port: DONGLE-A (vm-a, hostdev run), 1 s off"
replug dongle-a DONGLE-A off=1
vmcheck --timeout 20 "${VMS[@]}" || fail "DONGLE-A did not return to vm-a (same port)"

step "another port: DONGLE-B (vm-b, hostdev run) from QEMU port 2 to port 6"
replug dongle-b DONGLE-B port=6 off=0.5
[ "$(guest_sysfs DONGLE-B)" = "$(vm_usb_sysfs_name 6 2>/dev/null || echo 2-6)" ] || fail "DONGLE-B is not on port 6"
vmcheck --timeout 20 "${VMS[@]}" || fail "DONGLE-B did not follow to vm-b on another port"

step "quick replug (0.1 s off): DONGLE-C (vm-c, the daemon)"
replug dongle-c DONGLE-C off=0.1
vmcheck --timeout 20 "${VMS[@]}" || fail "DONGLE-C did not return to vm-c after a quick replug"

# (where it is now: port 1 from hardware.sh, unless an earlier scenario of this boot moved it)
home=$(guest_sysfs DONGLE-A) || fail "DONGLE-A is not on the host"
home=${home#*-}
away=7; [ "$home" != 7 ] || away=8
step "quick replug onto another port (0.1 s off): DONGLE-A to port $away, then back to port $home"
replug dongle-a DONGLE-A port=$away off=0.1
vmcheck --timeout 20 --quiet "${VMS[@]}" || fail "DONGLE-A did not follow to port $away"
# the port it left stays reserved too (dongles come back to where they were): no host driver
n0=$(mass_storage_probes)
replug dongle-a DONGLE-A port="$home" off=0.1
vmcheck --timeout 20 --quiet "${VMS[@]}" || fail "DONGLE-A did not follow back to port $home"
n1=$(mass_storage_probes)
echo "usb-storage probes in the kernel log: $n0 before the move back to port $home, $n1 after"
[ "$n1" = "$n0" ] || fail "usb-storage bound to DONGLE-A back on port $home: the port it left was not kept reserved"

step "reserved port: DONGLE-C replugged on its own port (vm-c, the daemon) gets no host driver"
n0=$(mass_storage_probes)
replug dongle-c DONGLE-C off=0.3
vmcheck --timeout 20 --quiet "${VMS[@]}" || fail "DONGLE-C did not return to vm-c"
n1=$(mass_storage_probes)
echo "usb-storage probes in the kernel log: $n0 before, $n1 after"
[ "$n1" = "$n0" ] || fail "usb-storage bound to DONGLE-C on its reserved port"

step "reserved port: another device plugged there while DONGLE-C is out goes to the host's drivers"
portc=$(guest_sysfs DONGLE-C)
vmctl unplug dongle-c || fail "vmctl unplug dongle-c failed"
wait_for 20 sh -c '! grep -qx DONGLE-C /sys/bus/usb/devices/*/serial' || fail "DONGLE-C did not go away"
vmctl unplug dup-1 || fail "vmctl unplug dup-1 failed"
vmctl plug dup-1 port=3 || fail "vmctl plug dup-1 port=3 failed"
wait_for 20 sh -c "[ \"\$(cat /sys/bus/usb/devices/$portc/serial 2>/dev/null)\" = DUP ]" ||
        fail "dup-1 did not appear on $portc"
wait_for 20 sh -c "[ -e /sys/bus/usb/devices/$portc/$portc:1.0/driver ]" ||
        fail "the other device on vm-c's port got no host driver"
echo "the other device on $portc: host driver $(iface_driver "$portc")"
[ "$(iface_driver "$portc")" = usb-storage ] || fail "the other device on $portc is not with usb-storage"
wait_for 10 grep -q "on a reserved port is no claimed device: given to the host's drivers" "$W/watch.log" ||
        fail "the daemon did not say it gave the other device back"
vmctl unplug dup-1 || fail "vmctl unplug dup-1 failed"
vmctl plug dup-1 port=5 || fail "vmctl plug dup-1 port=5 failed"
# (usb-storage takes dup-1 on its own, unreserved port: count after that)
wait_for 20 sh -c "[ -e /sys/bus/usb/devices/2-5/2-5:1.0/driver ]" || fail "dup-1 got no host driver on port 5"
n0=$(mass_storage_probes)
vmctl plug dongle-c port=3 || fail "vmctl plug dongle-c failed"
vmcheck --timeout 20 --quiet "${VMS[@]}" || fail "DONGLE-C did not return to vm-c after the other device"
[ "$(mass_storage_probes)" = "$n0" ] || fail "usb-storage bound to DONGLE-C: its port was not reserved again"

step "vm-a is switched off: its dongle stays on the host, unclaimed, untouched"
porta=$(guest_sysfs DONGLE-A)
qmp "$W/a.mon" quit >/dev/null || true
set +e; wait "$RA"; rc=$?; set -e
RA=
[ "$rc" = 0 ] || { cat "$W/run-a.err"; fail "hostdev run vm-a exited $rc"; }
# its port is no longer reserved: the dongle is the host's again, with its host driver
wait_for 20 sh -c "[ -e /sys/bus/usb/devices/$porta/$porta:1.0/driver ]" ||
        fail "DONGLE-A got no host driver back when vm-a stopped"
echo "DONGLE-A on $porta after vm-a stopped: host driver $(iface_driver "$porta")"
[ "$(iface_driver "$porta")" = usb-storage ] || fail "DONGLE-A is not with usb-storage after vm-a stopped"
# no running domain's claim can take it: the daemon does not even read its serial (that read
# takes the device's lock, which the host's usb-storage probe holds at that moment)
unread="usb_$(printf %s "$porta" | tr -- '-.' '__') (46f4:0001, serial not read: no claim could take it)"
n0=$(grep -cF "$unread" "$W/watch.log" || true)
replug dongle-a DONGLE-A off=0.3
sleep 2 # the daemon and vm-b/vm-c's loops had their chance to (wrongly) take it
vmcheck --timeout 20 vm-b="$W/b.mon:DONGLE-B" vm-c="$W/c.mon:DONGLE-C" --free DONGLE-A ||
        fail "a dongle of a switched-off VM was taken"
n1=$(grep -cF "$unread" "$W/watch.log" || true)
[ "$n1" = $((n0 + 1)) ] || fail "the daemon read the serial of a dongle no claim could take" \
        "('$unread' $n0 times before the replug, $n1 after): $(grep "usb_${porta//[-.]/_} " "$W/watch.log" | tail -3)"
run "$H" status --json
want_rc 0
printf '%s' "$OUT" | grep -q DONGLE-A && fail "status still shows a claim on DONGLE-A"

step "startupPolicy='optional': vm-d starts while DONGLE-A is unplugged, gets it when it is plugged in"
vmctl unplug dongle-a || fail "vmctl unplug dongle-a failed"
wait_for 20 sh -c '! grep -qx DONGLE-A /sys/bus/usb/devices/*/serial' || fail "DONGLE-A did not go away"
sed "s/<source>/<source startupPolicy='optional'>/" "$W/a.xml" >"$W/d.xml"
"$H" run --name vm-d "$W/d.xml" -- "${INNER_QEMU[@]}" -qmp "unix:$W/d.mon,server=on,wait=off" \
        >"$W/run-d.out" 2>"$W/run-d.err" &
RA=$!
wait_for 120 test -S "$W/d.mon" || { cat "$W/run-d.err"; fail "vm-d did not start"; }
cat "$W/run-d.err"
grep -q "DONGLE-A is not there now (startupPolicy='optional'): claimed, attached as hostdev0 when it appears" \
        "$W/run-d.err" || fail "hostdev run did not claim the absent optional dongle"
run "$H" status
want_rc 0
printf '%s' "$OUT" | grep -q "vm-d.*unplugged" || fail "status does not show vm-d's claim as unplugged"
echo "\$ vmctl plug dongle-a port=1"
vmctl plug dongle-a port=1 || fail "vmctl plug dongle-a failed"
vmcheck --timeout 20 vm-d="$W/d.mon:DONGLE-A" vm-b="$W/b.mon:DONGLE-B" vm-c="$W/c.mon:DONGLE-C" ||
        fail "the optional DONGLE-A did not go into vm-d when it appeared"
grep -q "re-attached .*DONGLE-A.* to vm-d in " "$W/run-d.err" || fail "no attach line for DONGLE-A in vm-d"
qmp "$W/d.mon" quit >/dev/null || true
set +e; wait "$RA"; rc=$?; set -e
RA=
[ "$rc" = 0 ] || { cat "$W/run-d.err"; fail "hostdev run vm-d exited $rc"; }

# The daemon is not always there when a dongle goes: a restart (package upgrade), or an unplug
# before its first QMP connection. What it did not see, its start-up reconcile must find: the
# VM's usb-host of a device that is gone, or of an old device number after a replug.
usb_hosts() { # usb_hosts SOCKET: the ids of the VM's usb-host devices, sorted, one line
        qmp "$1" qom-list '{"path": "/machine/peripheral"}' | python3 -c 'import json, sys
print(" ".join(sorted(e["name"] for e in json.load(sys.stdin) if e["type"].startswith("child<usb-host"))))'
}
no_usb_host() { [ -z "$(usb_hosts "$1")" ]; }
log_count() { grep -c -- "$1" "$W/watch.log" || true; }

step "the daemon is down while DONGLE-C is unplugged: restarted, it removes vm-c's stale usb-host"
stop_daemon
echo "vm-c's usb-host devices with the daemon stopped: $(usb_hosts "$W/c.mon")"
[ -n "$(usb_hosts "$W/c.mon")" ] || fail "vm-c has no usb-host before the unplug"
vmctl unplug dongle-c || fail "vmctl unplug dongle-c failed"
wait_for 20 sh -c '! grep -qx DONGLE-C /sys/bus/usb/devices/*/serial' || fail "DONGLE-C did not go away"
gone="reconcile vm-c: .* holds a device that is gone; removing it"
n0=$(log_count "$gone")
start_daemon
wait_for 30 no_usb_host "$W/c.mon" || fail "vm-c still has a usb-host of the unplugged DONGLE-C: $(usb_hosts "$W/c.mon")"
[ "$(log_count "$gone")" -gt "$n0" ] || fail "no reconcile line for the stale usb-host: $(tail -5 "$W/watch.log")"
grep -- "$gone" "$W/watch.log" | tail -1
echo "\$ vmctl plug dongle-c port=3"
vmctl plug dongle-c port=3 || fail "vmctl plug dongle-c failed"
vmcheck --timeout 20 --quiet vm-b="$W/b.mon:DONGLE-B" vm-c="$W/c.mon:DONGLE-C" --free DONGLE-A ||
        fail "DONGLE-C did not return to vm-c after the daemon's restart"

step "the daemon is down while DONGLE-C is replugged: restarted, it gives vm-c the new device"
stop_daemon
replug dongle-c DONGLE-C off=0.3
stale="reconcile vm-c: .* holds [0-9]*:[0-9]*, the device is now "
n0=$(log_count "$stale")
start_daemon
vmcheck --timeout 20 --quiet vm-b="$W/b.mon:DONGLE-B" vm-c="$W/c.mon:DONGLE-C" --free DONGLE-A ||
        fail "DONGLE-C (replugged while the daemon was down) did not return to vm-c"
[ "$(log_count "$stale")" -gt "$n0" ] || fail "no reconcile line for the old device number: $(tail -5 "$W/watch.log")"
grep -- "$stale" "$W/watch.log" | tail -1

step "the daemon's and run's log lines"
echo "--- hostdev run vm-a:"; grep -E "attached|unplugged|queued|reconcile" "$W/run-a.err" || true
echo "--- hostdev run vm-b:"; grep -E "attached|unplugged|queued|reconcile" "$W/run-b.err" || true
echo "--- hostdev watch:"; grep -vE "^debug: .*(connected to|connection closed)" "$W/watch.log" || true
grep -q "re-attached .*DONGLE-A.* to vm-a in " "$W/run-a.err" || fail "no re-attach line for DONGLE-A"
grep -q "re-attached .*DONGLE-B.* to vm-b in " "$W/run-b.err" || fail "no re-attach line for DONGLE-B"
grep -q "re-attached .*DONGLE-C.* to vm-c in " "$W/watch.log" || fail "no re-attach line for DONGLE-C from the daemon"
if grep -qE "DONGLE-(A|B).*to vm-c|DONGLE-(A|C).*to vm-b|DONGLE-(B|C).*to vm-a" "$W/watch.log" "$W/run-a.err" "$W/run-b.err"; then
        fail "a dongle went to another VM"
fi

step "the daemon stops cleanly on SIGTERM"
stop_daemon
echo "PASS watch"
