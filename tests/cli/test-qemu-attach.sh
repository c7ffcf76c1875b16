#!/bin/bash
# attach-device / detach-device against a scripted fake QMP peer (tests/cli/fake-qmp.py playing
# tests/data/qmp/cli-*.script), devices resolved in the fixture sysfs tests/data/sys/mini:
# success with the registry record, the next free qdev id, the conflict between two VMs (which
# leaves both untouched), QEMU refusing (nothing stays claimed), a device that does not show up
# (rolled back with device_del), detach with DEVICE_DELETED, and a guest that never lets go.
set -e
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 not found: it is a prerequisite of this test"

FAKE="python3 $(dirname "$0")/fake-qmp.py"
S=$HOSTDEV_TEST_DATA/qmp
X=$HOSTDEV_TEST_DATA/qemu-args
W=$(mktemp -d)
PID_A= PID_B=
cleanup() {
        [ -z "$PID_A" ] || kill "$PID_A" 2>/dev/null || true
        [ -z "$PID_B" ] || kill "$PID_B" 2>/dev/null || true
        rm -rf "$W"
}
trap cleanup EXIT
export HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/mini
export HOSTDEV_DEV_ROOT=/nonexistent-hostdev-dev
export HOSTDEV_STATE_DIR=$W/state

# One fake QMP peer per VM, alive for the whole test (hostdev records the peer's pid: a
# vanished peer is a dead VM whose claims are dropped), playing one script per connection.
start_fake() { # VM SCRIPT...
        local vm=$1; shift
        local scripts=()
        for s in "$@"; do scripts+=("$S/$s.script"); done
        $FAKE "$W/$vm.qmp" "${scripts[@]}" >"$W/$vm.out" 2>"$W/$vm.err" &
        eval "PID_${vm#vm-}=$!"
        for _ in $(seq 200); do
                grep -q ready "$W/$vm.out" 2>/dev/null && return 0
                sleep 0.05
        done
        fail "fake QMP peer of $vm did not start: $(cat "$W/$vm.err")"
}
played() { # VM SCRIPT: the peer played exactly that script
        local vm=$1 s=$2
        for _ in $(seq 200); do
                grep -qx "played $s" "$W/$vm.out" && return 0
                [ -s "$W/$vm.err" ] && fail "fake QMP peer of $vm: $(cat "$W/$vm.err")"
                sleep 0.05
        done
        fail "fake QMP peer of $vm did not finish $s: $(cat "$W/$vm.err")"
}
start_fake vm-a cli-attach-usb cli-attach-second-id cli-detach-usb cli-detach-refused
start_fake vm-b cli-no-touch cli-attach-refused cli-attach-not-listed

cat >"$W/dongle-c.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source>
    <vendor id='0x46f4'/>
    <product id='0x0001'/>
    <serial>DONGLE-C</serial>
  </source>
</hostdev>
EOF

# 1. attach DONGLE-B to vm-a
expect_exit 0 hd attach-device vm-a "$X/usb-serial.xml" --qmp "$W/vm-a.qmp"
played vm-a cli-attach-usb
expect_match "attached usb_1_2 to vm-a as hostdev0" "$ERR$OUT"
expect_exit 0 hd status --json
expect_match '"domain": ?"vm-a"' "$OUT" "status after attach"
expect_match '"state": ?"attached"' "$OUT" "status after attach"
python3 - "$HOSTDEV_STATE_DIR/registry.json" <<'EOF' || fail "registry record after attach"
import json, sys
r = json.load(open(sys.argv[1]))
(c,) = r["claims"]
assert c["domain"] == "vm-a" and c["qemu_id"] == "hostdev0", c
assert c["state"] == "attached", c
assert c["usb"]["bus"] == 1 and c["usb"]["devnum"] == 3, c["usb"]
(d,) = r["domains"]
assert d["name"] == "vm-a" and d["qmp_socket"].endswith("vm-a.qmp"), d
assert d["pid"] > 0, d  # the QMP peer's pid (SO_PEERCRED): claims die with it
assert r["journal"] == [], r["journal"]
EOF

# 2. the same dongle for vm-b: refused, naming vm-a; vm-b's QEMU is not asked to do anything
expect_exit 1 hd attach-device vm-b "$X/usb-serial.xml" --qmp "$W/vm-b.qmp"
played vm-b cli-no-touch
expect_match "^hostdev: error: .*in use by domain vm-a" "$ERR" "conflict message"
[ "$(printf '%s\n' "$ERR" | grep -c '^hostdev: error:')" = 1 ] || fail "one error line expected: $ERR"
expect_exit 0 hd status --json
expect_match '"vm-a"' "$OUT" "vm-a keeps its dongle"
expect_nomatch '"vm-b"' "$OUT" "vm-b got nothing"

# 3. a second dongle for vm-a gets the next free id
expect_exit 0 hd attach-device vm-a "$W/dongle-c.xml" --qmp "$W/vm-a.qmp"
played vm-a cli-attach-second-id
expect_match "as hostdev1" "$ERR$OUT"

# 4. QEMU refuses: exit 1 with QEMU's reason, the claim is gone again
cat >"$W/dongle-a.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-A</serial></source>
</hostdev>
EOF
expect_exit 1 hd attach-device vm-b "$W/dongle-a.xml" --qmp "$W/vm-b.qmp"
played vm-b cli-attach-refused
expect_match "QEMU refused device_add: failed to open" "$ERR"
expect_exit 0 hd status --json
expect_nomatch 'DONGLE-A' "$OUT" "refused dongle released"

# 5. device_add answered but the device is not in /machine/peripheral: rolled back
expect_exit 1 hd attach-device vm-b "$W/dongle-a.xml" --qmp "$W/vm-b.qmp"
played vm-b cli-attach-not-listed
expect_match "does not list it" "$ERR"
expect_exit 0 hd status --json
expect_nomatch 'DONGLE-A' "$OUT" "unlisted dongle released"

# 6. detach DONGLE-B from vm-a (socket taken from the record), DEVICE_DELETED after another event
expect_exit 0 hd detach-device vm-a "$X/usb-serial.xml"
played vm-a cli-detach-usb
expect_match "detached usb_1_2 from vm-a" "$ERR$OUT"
expect_exit 0 hd status --json
expect_nomatch 'DONGLE-B' "$OUT" "DONGLE-B released"
expect_match 'DONGLE-C' "$OUT" "DONGLE-C still held"

# 7. the guest never releases DONGLE-C: exit 1, the claim stays
HOSTDEV_UNPLUG_TIMEOUT_MS=300 expect_exit 1 hd detach-device vm-a "$W/dongle-c.xml" --qmp "$W/vm-a.qmp"
played vm-a cli-detach-refused
expect_match "did not release hostdev1 within 0.3 s" "$ERR"
expect_exit 0 hd status --json
expect_match 'DONGLE-C' "$OUT" "DONGLE-C still held after a refused unplug"

# 8. detach of a device the domain does not hold; usage errors
expect_exit 1 hd detach-device vm-b "$W/dongle-c.xml" --qmp "$W/nothing.qmp"
expect_match "domain vm-b holds no device" "$ERR"
expect_exit 2 hd attach-device vm-a "$W/dongle-c.xml"
expect_exit 2 hd attach-device vm-a --qmp "$W/x.qmp"
echo '<hostdev type="usb" vendor="0204"/>' >"$W/bad.xml"
expect_exit 2 hd attach-device vm-a "$W/bad.xml" --qmp "$W/x.qmp"
expect_exit 1 hd attach-device vm-a "$W/dongle-a.xml" --qmp "$W/no-such.qmp"
expect_match "cannot connect to QMP socket" "$ERR"
echo ok
