#!/bin/bash
# Helpers shared by the qemu-*.sh VM scenarios (sourced in the guest): inner QEMU, QMP queries.
: "${VM_HW:?run inside tests/vm/run-vm}"
. "$VM_HW"
H=${HOSTDEV_BIN:?}

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
drv() { local l; l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && basename "$l" || echo none; }
run() { local of ef; of=$(mktemp); ef=$(mktemp); set +e; "$@" >"$of" 2>"$ef"; RC=$?; set -e
        OUT=$(cat "$of"); ERR=$(cat "$ef"); rm -f "$of" "$ef"; echo "\$ $* -> $RC"; [ -z "$OUT" ] || echo "$OUT"; [ -z "$ERR" ] || echo "$ERR"; }
want_rc() { [ "$RC" = "$1" ] || fail "exit $RC, want $1"; }
wait_for() { # wait_for SECONDS CMD...
        local t=$(($1 * 10)); shift
        while ! "$@"; do t=$((t - 1)); [ $t -gt 0 ] || return 1; sleep 0.1; done
}
# The inner QEMU: minimal, TCG, one xHCI for the dongles (bus usb.0), nothing else.
INNER_QEMU=(qemu-system-x86_64 -M q35 -accel tcg -nodefaults -display none -m 128
            -device qemu-xhci,id=usb)

# qmp SOCKET EXECUTE [ARGS-JSON]: print the "return" value as JSON (exit 1 on a QMP error).
qmp() {
        python3 - "$@" <<'PY'
import json, socket, sys, time
path, cmd = sys.argv[1], sys.argv[2]
args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("cannot connect to %s" % path)
f = s.makefile("rw")
json.loads(f.readline())
def call(c, a=None):
    m = {"execute": c}
    if a is not None:
        m["arguments"] = a
    f.write(json.dumps(m) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r:
            return r["return"]
        if "error" in r:
            sys.exit("QMP %s: %s" % (c, r["error"]["desc"]))
call("qmp_capabilities")
print(json.dumps(call(cmd, args)))
PY
}
# info_usb SOCKET: HMP `info usb` of the inner QEMU
info_usb() { qmp "$1" human-monitor-command '{"command-line": "info usb"}' | python3 -c 'import json,sys; print(json.load(sys.stdin))'; }
# usb_ids SOCKET: the qdev ids in `info usb`, sorted, one line
usb_ids() { info_usb "$1" | tr -d '\r' | sed -n 's/.*ID: \([^ ,]*\).*/\1/p' | sort | tr '\n' ' '; }
# pci_ids SOCKET: the qdev ids of the inner guest's PCI devices with vendor:device, one per line
pci_ids() {
        qmp "$1" query-pci | python3 -c '
import json, sys
for bus in json.load(sys.stdin):
    for d in bus["devices"]:
        print(d.get("qdev_id", ""), "%04x:%04x" % (d["id"]["vendor"], d["id"]["device"]))'
}
# put_back ID SERIAL PORT: the dongle back on its QEMU port from hardware.sh (the scenarios of one
# run share one boot): replugged there if it is on another port, plugged in if it is out.
put_back() {
        local d now=
        for d in /sys/bus/usb/devices/*; do
                if [ "$(cat "$d/serial" 2>/dev/null)" = "$2" ]; then now=$(basename "$d"); break; fi
        done
        [ -n "$now" ] && [ "${now#*-}" = "$3" ] && return 0
        vmctl replug "$1" port="$3" off=0.1 >/dev/null 2>&1 || vmctl plug "$1" port="$3" >/dev/null 2>&1 || true
}

# dongle_dev SERIAL: "BUS DEVNUM" of the guest's dongle with that serial
dongle_dev() {
        local d
        for d in /sys/bus/usb/devices/*; do
                [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] || continue
                echo "$(cat "$d/busnum") $(cat "$d/devnum")"
                return 0
        done
        return 1
}
dongle_xml() { # dongle_xml SERIAL
        cat <<X
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x$VM_DONGLE_VID'/><product id='0x$VM_DONGLE_PID'/><serial>$1</serial></source>
</hostdev>
X
}
