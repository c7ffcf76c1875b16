#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# hostdev watch, the daemon binary end to end on the host (no hardware touched): a copy of the
# mini sysfs fixture, a stateful fake QEMU on a QMP socket (it keeps /machine/peripheral,
# answers device_add/device_del/qom-list/qom-get and sends DEVICE_DELETED), a claim made by
# `hostdev attach-device`, and uevents written into the daemon's injection FIFO
# (HOSTDEV_WATCH_INJECT), which go through the same code path as libudev's.
set -eu
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d)
FQ= WD=
trap '[ -z "$WD" ] || kill "$WD" 2>/dev/null; [ -z "$FQ" ] || kill "$FQ" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cp -a "$HOSTDEV_TEST_DATA/sys/mini" "$T/sys"
export HOSTDEV_SYSFS_ROOT=$T/sys HOSTDEV_STATE_DIR=$T/state
USB1=/devices/pci0000:00/0000:00:04.0/usb1

cat >"$T/fakeqemu.py" <<'PY'
import json, os, socket, sys, time
path, log = sys.argv[1], open(sys.argv[2], "a", buffering=1)
srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(4)
devs = {}  # qdev id -> properties
while True:
    c, _ = srv.accept()
    f, wf = c.makefile("r"), c.makefile("w")  # one text file for both would drop read-ahead on write
    while os.path.exists(path + ".hold"):  # a QEMU slow to greet: the test holds it
        time.sleep(0.02)
    def send(m):
        wf.write(json.dumps(m) + "\r\n"); wf.flush()
    send({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}})
    for line in f:
        log.write("<- %s" % line) if os.environ.get("FAKE_TRACE") else None
        m = json.loads(line); cmd = m.get("execute"); a = m.get("arguments", {}); rid = m.get("id")
        r = {}
        if cmd == "qom-list" and a.get("path") == "/machine/peripheral":
            r = [{"name": "type", "type": "string"}] + [{"name": k, "type": "child<%s>" % v["driver"]} for k, v in devs.items()]
        elif cmd == "qom-get":
            d = devs.get(a["path"].rsplit("/", 1)[1], {})
            r = d.get(a["property"], 0 if a["property"] != "hostdevice" else "")
        elif cmd == "device_add":
            if a["id"] in devs:
                send({"error": {"class": "GenericError", "desc": "Duplicate device ID '%s' for device" % a["id"]}, "id": rid}); continue
            devs[a["id"]] = dict(a)
            log.write("device_add %s\n" % json.dumps(a, sort_keys=True))
        elif cmd == "device_del":
            if a["id"] not in devs:
                send({"error": {"class": "DeviceNotFound", "desc": "Device '%s' not found" % a["id"]}, "id": rid}); continue
            del devs[a["id"]]
            log.write("device_del %s\n" % a["id"])
            send({"return": {}, "id": rid})
            send({"event": "DEVICE_DELETED", "data": {"device": a["id"], "path": "/machine/peripheral/" + a["id"]},
                  "timestamp": {"seconds": 0, "microseconds": 0}})
            continue
        elif cmd == "human-monitor-command":
            r = "".join("  Device 0.%d, Port 1, Speed 480 Mb/s, Product QEMU USB, ID: %s\r\n" % (i, k)
                        for i, k in enumerate(devs))
        send({"return": r, "id": rid} if rid is not None else {"return": r})
    c.close()
PY
python3 "$T/fakeqemu.py" "$T/vm-b.qmp" "$T/qemu.log" &
FQ=$!
for _ in $(seq 100); do [ -S "$T/vm-b.qmp" ] && break; sleep 0.1; done
[ -S "$T/vm-b.qmp" ] || fail "the fake QEMU did not start"

cat >"$T/b.xml" <<'X'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-B</serial></source>
</hostdev>
X
expect_exit 0 hd attach-device vm-b "$T/b.xml" --qmp "$T/vm-b.qmp"
grep -q '^device_add .*"id": "hostdev0"' "$T/qemu.log" || fail "attach-device did not device_add: $(cat "$T/qemu.log")"
: >"$T/qemu.log"

mkfifo "$T/inject"
# The first unplug comes while the daemon's first QMP connection is being made: the fake QEMU
# holds its greeting until the unplug has been seen.
: >"$T/vm-b.qmp.hold"
HOSTDEV_WATCH_INJECT=$T/inject HOSTDEV_WATCH_READY=$T/ready "$HOSTDEV_BIN" watch --verbose 2>"$T/watch.err" &
WD=$!
for _ in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.1; done
[ -e "$T/ready" ] || fail "hostdev watch did not start: $(cat "$T/watch.err")"
exec 9>"$T/inject"
ev() { # ev ACTION SYSPATH DEVNUM
        echo "ACTION=$1 DEVPATH=$USB1/$2 SUBSYSTEM=usb DEVTYPE=usb_device BUSNUM=1 DEVNUM=$3 PRODUCT=46f4/1/100" >&9
}
# As the kernel does, a device leaves sysfs before its "remove" and is there before its "add".
mkdir -p "$T/off/dev" "$T/off/links"
unplug() { # unplug PORT DEVNUM
        mv "$T/sys$USB1/$1" "$T/off/dev/"
        mv "$T/sys/bus/usb/devices/$1" "$T/sys/bus/usb/devices/$1":* "$T/off/links/"
        ev remove "$1" "$2"
}
plug() { # plug PORT DEVNUM
        mv "$T/off/dev/$1" "$T/sys$USB1/"
        mv "$T/off/links/$1" "$T/off/links/$1":* "$T/sys/bus/usb/devices/"
        echo "$2" >"$T/sys$USB1/$1/devnum"
        ev add "$1" "$2"
}
wait_log() { # wait_log FILE PATTERN
        for _ in $(seq 100); do grep -qE -- "$2" "$1" && return 0; sleep 0.1; done
        fail "no /$2/ in $1: $(cat "$1"); daemon: $(cat "$T/watch.err")"
}

# unplug before the daemon is connected (it has not reconciled yet): once connected, it removes
# the stale usb-host; the claim stays, unplugged
unplug 1-2 3
wait_log "$T/watch.err" 'unplugged usb_1_2 \(46f4:0001 serial DONGLE-B\) from vm-b \(device_del hostdev0 when connected\)'
[ ! -s "$T/qemu.log" ] || fail "the fake QEMU answered while held: $(cat "$T/qemu.log")"
rm "$T/vm-b.qmp.hold"
wait_log "$T/qemu.log" '^device_del hostdev0$'
wait_log "$T/watch.err" 'unplugged usb_1_2 \(46f4:0001 serial DONGLE-B\) (from|of) vm-b'
for _ in $(seq 50); do
        expect_exit 0 hd status --json
        printf '%s' "$OUT" | grep -q '"unplugged"' && break; sleep 0.1
done
expect_match '"unplugged"' "$OUT" "status after the unplug"

# replug with a new device number: back into vm-b with the same qdev id
plug 1-2 9
wait_log "$T/qemu.log" '^device_add .*"hostdevice": "[^"]*/bus/usb/001/009".*"id": "hostdev0"'
wait_log "$T/watch.err" '^re-attached usb_1_2 \(46f4:0001 serial DONGLE-B\) to vm-b in [0-9.]+ ms$'
for _ in $(seq 50); do
        expect_exit 0 hd status --json
        printf '%s' "$OUT" | grep -q '"attached"' && break; sleep 0.1
done
expect_match '"attached"' "$OUT" "status after the replug"

# again after a pause (the daemon has closed its idle QMP connection by then): a quick
# replug, remove and add back to back
sleep 1.2
: >"$T/qemu.log"
unplug 1-2 9
plug 1-2 12
wait_log "$T/qemu.log" '^device_add .*"hostdevice": "[^"]*/bus/usb/001/012".*"id": "hostdev0"'
[ "$(head -1 "$T/qemu.log")" = "device_del hostdev0" ] || fail "not device_del first: $(cat "$T/qemu.log")"
[ "$(wc -l <"$T/qemu.log")" = 2 ] || fail "more than one del+add: $(cat "$T/qemu.log")"

# an unclaimed dongle (DONGLE-A) coming and going: nothing happens
: >"$T/qemu.log"
unplug 1-1 2
plug 1-1 2
sleep 1
[ ! -s "$T/qemu.log" ] || fail "the daemon touched a VM for an unclaimed dongle: $(cat "$T/qemu.log")"

# the VM goes away: its claims are released (registry gc), nothing else happens
kill "$FQ"; wait "$FQ" 2>/dev/null || true; FQ=
wait_log "$T/watch.err" 'released usb_1_2 .* of vm-b \(domain is not running\)'
expect_exit 0 hd status --json
[ "$(printf '%s' "$OUT" | tr -d ' \n')" = "[]" ] || fail "claims left after the VM went away: $OUT"

# SIGTERM: a clean exit
kill -TERM "$WD"
set +e; wait "$WD"; rc=$?; set -e
WD=
[ "$rc" = 0 ] || fail "hostdev watch exited $rc on SIGTERM: $(cat "$T/watch.err")"
echo "--- daemon log"; grep -v '^debug:' "$T/watch.err"
echo "PASS test-watch"
