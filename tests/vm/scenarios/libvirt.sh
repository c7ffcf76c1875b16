#!/bin/bash
# Issue 9, the Must show: libvirt domains get stable dongles. Two tiny TCG domains under a real
# libvirtd (qemu:///system) in the test VM; libvirt alone refuses two identical dongles
# ("Multiple USB devices for 46f4:1"); `hostdev attach-device --connect` gives each domain its
# dongle by serial (libvirt receives vendor/product + the current bus/device); `hostdev watch
# --connect` puts each replugged dongle back into its own domain (new device number in
# `virsh dumpxml`), follows a domain's stop/start, and a device libvirt gave on its own is
# reported as held.
set -eu
. "$(dirname "$0")/qemu-lib.sh"
. "$(dirname "$0")/watch-lib.sh"
export HOSTDEV_STATE_DIR=/run/hostdev-scenario-libvirt
rm -rf "$HOSTDEV_STATE_DIR"
URI=qemu:///system
W=$(mktemp -d)
WD= LV= LOGD=
V() { virsh -q -c "$URI" "$@"; }
step() { echo "--- [$(date +%T)] $*"; }
cleanup() {
        cp "$W"/*.log "${VM_OUT:-/nonexistent}/" 2>/dev/null || true
        [ -z "$WD" ] || kill "$WD" 2>/dev/null || true
        for d in vm-a vm-b; do V destroy "$d" >/dev/null 2>&1 || true; V undefine "$d" >/dev/null 2>&1 || true; done
        [ -z "$LV" ] || kill "$LV" 2>/dev/null || true
        [ -z "$LOGD" ] || kill "$LOGD" 2>/dev/null || true
        # the dongles back where hardware.sh says (scenarios share one boot)
        vmctl replug dongle-a port=1 off=0.1 >/dev/null 2>&1 || vmctl plug dongle-a port=1 >/dev/null 2>&1 || true
        vmctl replug dongle-b port=2 off=0.1 >/dev/null 2>&1 || vmctl plug dongle-b port=2 >/dev/null 2>&1 || true
        rm -rf "$W"
}
trap cleanup EXIT

# devnum SERIAL: "BUS DEVNUM" of the guest's dongle
busdev() { local s; s=$(guest_sysfs "$1") || return 1; echo "$(cat /sys/bus/usb/devices/$s/busnum) $(cat /sys/bus/usb/devices/$s/devnum)"; }
# holds DOMAIN SERIAL: the domain's live XML has the dongle's current bus/device
holds() {
        local bd; bd=$(busdev "$2") || return 1
        set -- "$1" $bd "$2"
        V dumpxml "$1" | tr -d '\n' | grep -Eq "<hostdev [^>]*type='usb'.*<address bus='$2' device='$3'/>" || return 1
        echo "  virsh dumpxml $1: <address bus='$2' device='$3'/> = $4"
}
dumped() { V dumpxml "$1" | sed -n '/<hostdev/,/<\/hostdev>/p'; }

step "libvirtd in the guest (virtlogd first; qemu as root, no namespaces)"
command -v libvirtd >/dev/null || fail "no libvirtd in the guest (Debian package libvirt-daemon-system)"
id libvirt-qemu >/dev/null 2>&1 || fail "no libvirt-qemu user (install libvirt-daemon-system on the host root)"
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /run/libvirt /var/cache/libvirt/qemu
cat >>/etc/libvirt/qemu.conf <<'EOF'
# tests/vm/scenarios/libvirt.sh (guest overlay only)
namespaces = [ ]
user = "root"
group = "root"
security_driver = "none"
remember_owner = 0
EOF
printf 'auth_unix_ro = "none"\nauth_unix_rw = "none"\n' >"$W/libvirtd.conf"
virtlogd >"$W/virtlogd.log" 2>&1 & # in the foreground of its own job, so its pid is ours to stop
LOGD=$!
libvirtd -f "$W/libvirtd.conf" >"$W/libvirtd.log" 2>&1 &
LV=$!
wait_for 60 virsh -q -c "$URI" version >/dev/null 2>&1 || { cat "$W/libvirtd.log"; fail "libvirtd did not answer on $URI"; }
for s in DONGLE-A DONGLE-B DONGLE-C; do guest_sysfs "$s" >/dev/null || fail "$s missing in the guest"; done

step "two tiny TCG domains"
for d in vm-a vm-b; do
        cat >"$W/$d.dom.xml" <<EOF
<domain type='qemu'>
  <name>$d</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' index='0' model='qemu-xhci'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
        V define "$W/$d.dom.xml" >/dev/null || fail "virsh define $d"
done
# --paused: the domains are running QEMUs (active, hotplug works) whose vCPUs do not spin in
# SeaBIOS, so two TCG guests inside the TCG test VM do not eat its two CPUs
for d in vm-a vm-b; do
        timeout 150 virsh -q -c "$URI" start --paused "$d" ||
                { tail -20 "/var/log/libvirt/qemu/$d.log" 2>/dev/null; cat "$W/libvirtd.log"; fail "virsh start $d"; }
done
V list

cat >"$W/plain.xml" <<'EOF'
<hostdev mode='subsystem' type='usb' managed='no'>
  <source>
    <vendor id='0x46f4'/>
    <product id='0x0001'/>
  </source>
</hostdev>
EOF
for s in A B C; do
        cat >"$W/$s.xml" <<EOF
<hostdev mode='subsystem' type='usb'>
  <source>
    <vendor id='0x46f4'/>
    <product id='0x0001'/>
    <serial>DONGLE-$s</serial>
  </source>
</hostdev>
EOF
done

step "before: libvirt alone, identical dongles by vendor/product"
set +e; V attach-device vm-a "$W/plain.xml" --live >"$W/before.out" 2>&1; rc=$?; set -e
echo "\$ virsh attach-device vm-a plain.xml --live -> $rc"; cat "$W/before.out"
[ "$rc" != 0 ] || fail "libvirt accepted an ambiguous vendor/product hostdev"
grep -q "Multiple USB devices for 46f4:1" "$W/before.out" || fail "not libvirt's 'Multiple USB devices' refusal"

step "after: hostdev attach-device --connect, by serial"
cat "$W/A.xml"
run "$H" attach-device --connect "$URI" vm-a "$W/A.xml"
want_rc 0
echo "$ERR" | grep -q "Multiple USB devices" && fail "libvirt's refusal in hostdev's run"
run "$H" attach-device --connect "$URI" vm-b "$W/B.xml"
want_rc 0
holds vm-a DONGLE-A || { dumped vm-a; fail "vm-a does not hold DONGLE-A"; }
holds vm-b DONGLE-B || { dumped vm-b; fail "vm-b does not hold DONGLE-B"; }
dumped vm-a
run "$H" attach-device --connect "$URI" vm-b "$W/A.xml"
want_rc 1
echo "$ERR" | grep -q "in use by domain vm-a" || fail "DONGLE-A was not refused to vm-b as in use by vm-a"
run "$H" status --connect "$URI"
want_rc 0

step "a device libvirt gave on its own is held (list/status)"
set -- $(busdev DONGLE-C)
cb=$1 cd=$2
cat >"$W/c-own.xml" <<EOF
<hostdev mode='subsystem' type='usb' managed='no'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><address bus='$cb' device='$cd'/></source>
</hostdev>
EOF
V attach-device vm-a "$W/c-own.xml" --live || fail "virsh attach-device of DONGLE-C by address"
run "$H" status --connect "$URI"
want_rc 0
echo "$OUT" | grep -q "serial DONGLE-C.*vm-a" || fail "status does not show DONGLE-C held by vm-a"
run "$H" list --cap usb_device
echo "$OUT" | grep "$(guest_sysfs DONGLE-C | sed 's/^/usb_/; s/[-.]/_/g')" | grep -q vm-a || fail "list does not show DONGLE-C's owner vm-a"
run "$H" attach-device --connect "$URI" vm-b "$W/C.xml"
want_rc 1
echo "$ERR" | grep -q "in use by domain vm-a" || fail "DONGLE-C (libvirt's own) was not refused to vm-b"
V detach-device vm-a "$W/c-own.xml" --live || fail "virsh detach-device DONGLE-C"

step "hostdev watch --connect $URI"
export HOSTDEV_WATCH_READY="$W/ready"
"$H" watch --connect "$URI" --verbose 2>"$W/watch.log" &
WD=$!
wait_for 30 test -e "$W/ready" || { cat "$W/watch.log"; fail "watch --connect did not start"; }
sleep 1
run "$H" status --connect "$URI"
echo "$OUT" | grep -q DONGLE-C && fail "DONGLE-C is still recorded as held after libvirt let it go"

replug() { # replug ID SERIAL ARGS...
        local before after
        before=$(busdev "$2")
        echo "\$ vmctl replug $1 ${*:3}   ($2 was bus/device $before)"
        vmctl replug "$1" "${@:3}" || fail "vmctl replug $1 failed"
        wait_for 30 guest_sysfs "$2" >/dev/null || fail "$2 did not come back in the guest"
        udevadm settle || true
        after=$(busdev "$2")
        echo "  $2 is now $(guest_sysfs "$2"), bus/device $after"
}
step "replug DONGLE-A (vm-a) on the same port"
replug dongle-a DONGLE-A off=0.5
wait_for 30 holds vm-a DONGLE-A || { cat "$W/watch.log"; dumped vm-a; fail "DONGLE-A is not back in vm-a"; }
dumped vm-a
step "replug DONGLE-B (vm-b) onto another port (6)"
replug dongle-b DONGLE-B port=6 off=0.5
wait_for 30 holds vm-b DONGLE-B || { cat "$W/watch.log"; dumped vm-b; fail "DONGLE-B is not back in vm-b"; }
dumped vm-b
[ "$(V dumpxml vm-a | grep -c "<hostdev ")" = 1 ] || { dumped vm-a; fail "vm-a holds stale or extra hostdevs"; }
[ "$(V dumpxml vm-b | grep -c "<hostdev ")" = 1 ] || { dumped vm-b; fail "vm-b holds stale or extra hostdevs"; }
holds vm-a DONGLE-B && fail "vm-a got DONGLE-B"
holds vm-b DONGLE-A && fail "vm-b got DONGLE-A"

step "vm-b stops: DONGLE-B stays reserved for it; vm-b starts: it gets DONGLE-B back"
V destroy vm-b
wait_for 20 sh -c "'$H' status | grep -q 'DONGLE-B.*vm-b.*claimed'" || { "$H" status; cat "$W/watch.log"; fail "DONGLE-B's claim did not go to 'claimed'"; }
"$H" status
run "$H" attach-device --connect "$URI" vm-a "$W/B.xml"
want_rc 1
echo "$ERR" | grep -q "in use by domain vm-b" || fail "DONGLE-B of the stopped vm-b was given to vm-a"
V start --paused vm-b
wait_for 40 holds vm-b DONGLE-B || { cat "$W/watch.log"; dumped vm-b; fail "DONGLE-B did not return to the restarted vm-b"; }
dumped vm-b

step "the daemon's log"
grep -vE "^debug: (\[[0-9.]+\] )?uevent" "$W/watch.log" || true
grep -q "re-attached .*DONGLE-A.* to vm-a" "$W/watch.log" || fail "no re-attach line for DONGLE-A"
grep -q "re-attached .*DONGLE-B.* to vm-b" "$W/watch.log" || fail "no re-attach line for DONGLE-B"
grep -q "Multiple USB devices" "$W/watch.log" && fail "libvirt's refusal in hostdev watch"
grep -qE "DONGLE-A.* to vm-b|DONGLE-B.* to vm-a" "$W/watch.log" && fail "a dongle went to the other domain"

step "detach-device --connect, then the daemon stops on SIGTERM"
run "$H" detach-device --connect "$URI" vm-a "$W/A.xml"
want_rc 0
holds vm-a DONGLE-A && fail "DONGLE-A still in vm-a after detach-device"
kill -TERM "$WD"
set +e; wait "$WD"; rc=$?; set -e
WD=
[ "$rc" = 0 ] || fail "hostdev watch --connect exited $rc on SIGTERM"
echo "PASS libvirt"
