#!/bin/bash
# Issue 13, the Must show: a dongle on another host over USB/IP.
#
# In the test VM, two "hosts" share the kernel but not their network or their hostdev state:
#   the dongle host  "dh": network namespace dh (usbipd -D runs there), HOSTDEV_STATE_DIR=/run/hostdev-dh
#   the VM host      "hv": the test VM's own namespace,                 HOSTDEV_STATE_DIR=/run/hostdev-hv
# joined by a veth pair with addresses of a private test range (10.213.13.0/30, only on that
# pair, inside the test VM). The hostdev commands of both sides that follow USB events (`watch`,
# `run`) stay in the VM's initial network namespace: udevd's event rebroadcast (what libudev
# monitors) is only seen there; export/unexport run inside dh.
#
#  1. dh: DONGLE-C exported by serial (`hostdev export`): bound to usbip-host, claimed by "export".
#  2. hv: an inner QEMU under `hostdev run` gets it by serial + <remote>: imported through
#     vhci_hcd, QEMU holds the vhci device (not the local one with the same serial).
#  3. hv: a local selector with that serial selects nothing (the exported dongle is never
#     selected, the import is not a local device) — `hostdev resolve`.
#  4. a second VM asking for it is refused.
#  5. unplugged and replugged on another port of dh: dh's `hostdev watch` exports it again, hv's
#     run loop imports it again, it is back in the same VM.
#  6. dh's USB/IP side restarts (stub unbound, usbipd restarted, `hostdev export` again): back in
#     the same VM.
#  7. VM exit: the import is given back (vhci port free), the dongle stays exported on dh.
# Cleanup puts DONGLE-C back on port 3, bound to its usual driver.
set -eu
. "$(dirname "$0")/qemu-lib.sh"
SERIAL=DONGLE-C
DH_STATE=/run/hostdev-dh
HV_STATE=/run/hostdev-hv
DH_ADDR=10.213.13.2
HV_ADDR=10.213.13.1
W=$(mktemp -d)
RPID= WPID=
dh() { ip netns exec dh env HOSTDEV_STATE_DIR=$DH_STATE "$@"; }
hv() { env HOSTDEV_STATE_DIR=$HV_STATE "$@"; }
cleanup() {
        set +e
        [ -z "$RPID" ] || kill "$RPID" 2>/dev/null
        [ -z "$WPID" ] || kill "$WPID" 2>/dev/null
        sleep 1
        for d in /sys/bus/usb/drivers/usbip-host/*-*; do
                [ -e "$d" ] || continue
                b=${d##*/}
                echo "$b" >/sys/bus/usb/drivers/usbip-host/unbind
                echo "del $b" >/sys/bus/usb/drivers/usbip-host/match_busid
                echo "$b" >/sys/bus/usb/drivers_probe
        done 2>/dev/null
        ip netns pids dh 2>/dev/null | xargs -r kill 2>/dev/null
        ip netns del dh 2>/dev/null
        ip link del vhv 2>/dev/null
        # put DONGLE-C back where hardware.sh says (scenarios share one boot)
        vmctl unplug dongle-c >/dev/null 2>&1
        vmctl plug dongle-c port=3 >/dev/null 2>&1
        rm -rf "$W" "$DH_STATE" "$HV_STATE"
}
trap cleanup EXIT

# sysfs name of the non-vhci dongle with $SERIAL (the dongle host's), and of its vhci import
phys_of() { local d s; for d in /sys/bus/usb/devices/[12]-*; do [ -r "$d/serial" ] || continue; read -r s <"$d/serial"; [ "$s" = "$1" ] && { echo "${d##*/}"; return 0; }; done; return 1; }
vhci_of() {
        local d s
        for d in /sys/devices/platform/vhci_hcd.*/usb*/*-*; do
                [ -r "$d/serial" ] || continue
                read -r s <"$d/serial"
                [ "$s" = "$1" ] && { echo "${d##*/}"; return 0; }
        done
        return 1
}
usbdrv() { local l; l=$(readlink "/sys/bus/usb/devices/$1/driver" 2>/dev/null) && echo "${l##*/}" || echo none; }
exported() { local p; p=$(phys_of "$SERIAL") && [ "$(usbdrv "$p")" = usbip-host ]; }

# held_by_vm MON: QEMU (peer of the QMP socket) has the vhci import of $SERIAL open, and only it;
# `info usb` shows hostdev0
held_by_vm() {
        python3 - "$1" "$SERIAL" <<'PY'
import glob, json, os, socket, struct, sys
mon, serial = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX); s.connect(mon)
pid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
f = s.makefile("rw"); json.loads(f.readline())
def call(c, a=None):
    m = {"execute": c}
    if a is not None: m["arguments"] = a
    f.write(json.dumps(m) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: return r.get("return")
call("qmp_capabilities")
usb = call("human-monitor-command", {"command-line": "info usb"}) or ""
held = []
for fd in glob.glob("/proc/%d/fd/*" % pid):
    try: t = os.readlink(fd)
    except OSError: continue
    if t.startswith("/dev/bus/usb/"):
        bus, dev = int(t.split("/")[-2]), int(t.split("/")[-1])
        for d in glob.glob("/sys/bus/usb/devices/*"):
            try:
                if int(open(d + "/busnum").read()) == bus and int(open(d + "/devnum").read()) == dev:
                    ser = open(d + "/serial").read().strip() if os.path.exists(d + "/serial") else None
                    held.append((os.path.basename(d), ser, os.path.realpath(d)))
            except OSError: pass
print("info usb:", usb.replace("\r", "").strip(), "| held:", held)
ok = "ID: hostdev0" in usb and len(held) == 1 and held[0][1] == serial and "/vhci_hcd." in held[0][2]
sys.exit(0 if ok else 1)
PY
}

# ---- prerequisites: fail loudly -----------------------------------------------------------
command -v usbipd >/dev/null || fail "no usbipd in the guest (Debian package usbip)"
command -v qemu-system-x86_64 >/dev/null || fail "no qemu-system-x86_64 in the guest"
[ -d /sys/bus/usb/drivers/usbip-host ] || modprobe usbip-host || fail "no usbip-host module"
[ -e /sys/devices/platform/vhci_hcd.0/attach ] || modprobe vhci-hcd || fail "no vhci-hcd module"
[ -e /sys/devices/platform/vhci_hcd.0/attach ] || fail "vhci_hcd.0 has no attach file"
phys_of "$SERIAL" >/dev/null || fail "$SERIAL missing in the guest"
P0=$(phys_of "$SERIAL")
echo "$SERIAL is $P0 on driver $(usbdrv "$P0")"

step "two hosts: network namespace dh, a veth pair to the VM host, usbipd in dh"
ip netns add dh
ip link add vhv type veth peer name vdh netns dh
ip -n dh addr add $DH_ADDR/30 dev vdh
ip addr add $HV_ADDR/30 dev vhv
ip -n dh link set lo up; ip -n dh link set vdh up
ip link set vhv up
ping -c 1 -W 5 $DH_ADDR >/dev/null || fail "no route from the VM host to the dongle host"
ip netns exec dh usbipd -D
wait_for 20 ip netns exec dh sh -c 'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q ":0CA8 "' ||
        fail "usbipd does not listen on 3240 in dh"

cat >"$W/export.xml" <<X
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x$VM_DONGLE_VID'/><product id='0x$VM_DONGLE_PID'/><serial>$SERIAL</serial></source>
</hostdev>
X
cat >"$W/vm.xml" <<X
<hostdev mode='subsystem' type='usb'>
  <source>
    <vendor id='0x$VM_DONGLE_VID'/><product id='0x$VM_DONGLE_PID'/><serial>$SERIAL</serial>
    <remote host='$DH_ADDR' port='3240'/>
  </source>
</hostdev>
X
cat >"$W/local.xml" <<X
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x$VM_DONGLE_VID'/><product id='0x$VM_DONGLE_PID'/><serial>$SERIAL</serial></source>
</hostdev>
X

step "1. dh: hostdev export by serial"
run dh "$H" export "$W/export.xml"
want_rc 0
printf '%s' "$OUT" | grep -q "exported usb_${P0//[-.]/_}" || fail "export does not name $P0"
[ "$(usbdrv "$P0")" = usbip-host ] || fail "$P0 is on $(usbdrv "$P0"), not usbip-host"
run dh "$H" export "$W/export.xml"
want_rc 0
printf '%s' "$OUT" | grep -q "exported already" || fail "a second export is not idempotent"
run dh "$H" list --cap usb_device
printf '%s\n' "$OUT" | grep "usb_${P0//[-.]/_} " | grep -q "usbip=exported" || fail "list does not show $P0 exported"
printf '%s\n' "$OUT" | grep "usb_${P0//[-.]/_} " | grep -q " export " || fail "list does not show the export's claim"
run dh "$H" resolve "$W/local.xml"
want_rc 1
printf '%s' "$ERR" | grep -q "exported over USB/IP" || fail "dh: the exported dongle is selectable locally"

step "dh: hostdev watch (re-exports a replugged dongle)"
env HOSTDEV_STATE_DIR=$DH_STATE "$H" watch --verbose >"$W/dh-watch.log" 2>&1 &
WPID=$!

step "2. hv: hostdev run, the dongle by serial + <remote>"
run hv "$H" validate "$W/vm.xml"
want_rc 0
env HOSTDEV_STATE_DIR=$HV_STATE "$H" run --name vm-r "$W/vm.xml" -- "${INNER_QEMU[@]}" \
        -qmp "unix:$W/r.mon,server=on,wait=off" >"$W/run.out" 2>"$W/run.err" &
RPID=$!
wait_for 120 test -S "$W/r.mon" || { cat "$W/run.err"; fail "vm-r did not start"; }
V1=$(vhci_of "$SERIAL") || { cat "$W/run.err"; fail "no vhci import of $SERIAL"; }
echo "imported as $V1 ($(readlink -f /sys/bus/usb/devices/$V1))"
wait_for 30 held_by_vm "$W/r.mon" || { held_by_vm "$W/r.mon"; cat "$W/run.err"; fail "vm-r does not hold the import"; }
held_by_vm "$W/r.mon"
run hv "$H" list --cap usb_device --json
printf '%s' "$OUT" | python3 -c '
import json, sys
v = sys.argv[1]
for d in json.load(sys.stdin):
    if d["name"] == "usb_" + v.replace("-", "_").replace(".", "_"):
        u = d.get("usbip") or {}
        assert u.get("remote_host") == sys.argv[2] and u.get("remote_port") == 3240 and u.get("remote_busid") == sys.argv[3], d
        assert d["owner"] == "vm-r", d
        sys.exit(0)
sys.exit("no " + v)' "$V1" "$DH_ADDR" "$P0" || fail "hv list does not show the import with its remote host and bus id"

step "3. hv: a local selector with the same serial selects nothing (never the exported dongle)"
run hv "$H" resolve "$W/local.xml" --json
want_rc 1
printf '%s' "$OUT" | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
assert r["status"] == "missing" and r["device"] is None and r["candidates"] == [], r' ||
        fail "a local selector picked a device: $OUT"
run hv "$H" resolve "$W/local.xml"
printf '%s' "$ERR" | grep -q "usb_${P0//[-.]/_}.*exported over USB/IP" || fail "the refusal does not name the exported $P0"
run hv "$H" resolve "$W/vm.xml"
want_rc 1 # in use: vm-r holds it
printf '%s\n%s' "$OUT" "$ERR" | grep -q "usb_${V1//[-.]/_}" || fail "the remote selector does not resolve to the import $V1"
printf '%s' "$ERR" | grep -q "in use by domain vm-r" || fail "resolve does not name vm-r as the holder"

step "4. a second VM asking for it is refused"
run hv "$H" run --name vm-s "$W/vm.xml" -- "${INNER_QEMU[@]}"
want_rc 1
printf '%s' "$ERR" | grep -q "in use by domain vm-r" || fail "the refusal does not name vm-r"
held_by_vm "$W/r.mon" || fail "vm-r lost the dongle"

step "5. unplug + replug on another port of the dongle host"
vmctl replug dongle-c port=6 off=0.3 || fail "vmctl replug failed"
wait_for 60 exported || { cat "$W/dh-watch.log"; fail "the replugged dongle was not exported again"; }
P1=$(phys_of "$SERIAL")
echo "$SERIAL is now $P1 on $(usbdrv "$P1")"
[ "$P1" != "$P0" ] || fail "the dongle did not move"
wait_for 90 held_by_vm "$W/r.mon" || { held_by_vm "$W/r.mon"; cat "$W/run.err" "$W/dh-watch.log"; fail "not back in vm-r after the replug"; }
held_by_vm "$W/r.mon"
grep -E "exported .* again" "$W/dh-watch.log" || fail "dh watch did not log the re-export"

step "6. the dongle host's USB/IP side restarts: stub unbound, usbipd restarted, exported again"
echo "$P1" >/sys/bus/usb/drivers/usbip-host/unbind
for p in $(ip netns pids dh); do [ "$(cat /proc/$p/comm)" != usbipd ] || kill "$p"; done
not_imported() { ! vhci_of "$SERIAL" >/dev/null; }
wait_for 30 not_imported || fail "the import did not end when the stub was unbound"
ip netns exec dh usbipd -D
run dh "$H" export "$W/export.xml"
want_rc 0
[ "$(usbdrv "$P1")" = usbip-host ] || fail "$P1 not exported again"
wait_for 90 held_by_vm "$W/r.mon" || { held_by_vm "$W/r.mon"; cat "$W/run.err"; fail "not back in vm-r after the restart"; }
held_by_vm "$W/r.mon"

step "7. VM exit: the import is given back, the dongle stays exported"
qmp "$W/r.mon" quit >/dev/null || true
set +e; wait "$RPID"; RC=$?; set -e
RPID=
cat "$W/run.err"
[ "$RC" = 0 ] || fail "hostdev run exited $RC"
wait_for 20 sh -c "! grep -q ' 006 ' /sys/devices/platform/vhci_hcd.0/status" || { cat /sys/devices/platform/vhci_hcd.0/status; fail "the import is still attached"; }
vhci_of "$SERIAL" && fail "a vhci device with $SERIAL is still there"
exported || fail "the dongle is no longer exported on dh"
run hv "$H" status --json
[ "$(printf '%s' "$OUT" | tr -d ' \n')" = "[]" ] || fail "hv status not empty after exit"
ls "$HV_STATE/usbip" 2>/dev/null | grep -q port && fail "an import record is left in $HV_STATE/usbip"

step "dh: unexport gives the dongle back to its driver"
run dh "$H" unexport "$W/export.xml"
want_rc 0
[ "$(usbdrv "$P1")" = usb ] || fail "$P1 is on $(usbdrv "$P1") after unexport, not usb"
echo "PASS usbip"
