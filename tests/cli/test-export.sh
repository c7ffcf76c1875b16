#!/bin/bash
# hostdev export / unexport (USB/IP, dongle host side) against the identical-dongles fixture:
# the sysfs writes (match_busid, unbind, bind; unbind, del, drivers_probe), the claims of the
# domain "export" (an exported dongle is never given to a local VM, a dongle a VM holds is not
# exported), idempotence, list's usbip column, and the usage errors.
set -eu
. "$(dirname "$0")/lib.sh"
W=$(mktemp -d)
HOLD=
trap '[ -z "$HOLD" ] || kill "$HOLD" 2>/dev/null; rm -rf "$W"' EXIT
bash "$HOSTDEV_SRCDIR/tests/data/sys/make-dongles.sh" "$W/fx" >/dev/null
export HOSTDEV_SYSFS_ROOT=$W/fx/sys HOSTDEV_DEV_ROOT=$W/fx/dev HOSTDEV_STATE_DIR=$W/state TZ=UTC
CLAIM_TOOL=$HOSTDEV_BUILDDIR/tests/unit/claim-tool
[ -x "$CLAIM_TOOL" ] || fail "claim tool not built at $CLAIM_TOOL"
D=$W/fx/sys/bus/usb
# DONGLE-C is 1-4.1 on the generic usb driver in this fixture
[ "$(basename "$(readlink "$D/devices/1-4.1/driver")")" = usb ] || fail "fixture: 1-4.1 not on usb"
[ "$(cat "$D/devices/1-4.1/serial")" = DONGLE-C ] || fail "fixture: 1-4.1 is not DONGLE-C"

sel() { cat <<X
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>$1</serial></source>
</hostdev>
X
}
sel DONGLE-C >"$W/c.xml"
sel DONGLE-A >"$W/a.xml"

# usage and input errors: exit 2
expect_exit 2 hd export
expect_exit 2 hd export "$W/c.xml" extra
cat >"$W/remote.xml" <<'X'
<hostdev mode='subsystem' type='usb'>
  <source><serial>DONGLE-C</serial><remote host='192.0.2.10'/></source>
</hostdev>
X
expect_exit 2 hd export "$W/remote.xml"
expect_match "export runs on the host the device is plugged into" "$ERR"
cat >"$W/pci.xml" <<'X'
<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></source></hostdev>
X
expect_exit 2 hd unexport "$W/pci.xml"
expect_match "not a USB device" "$ERR"

# usbip-host not loaded: a clear message, and no claim is left behind
expect_exit 1 hd export "$W/c.xml"
expect_match "^hostdev: error: .*modprobe usbip-host" "$ERR"
expect_exit 0 hd status --json
[ "$(printf '%s' "$OUT" | tr -d ' \n')" = "[]" ] || fail "a failed export left a claim: $OUT"

# the driver's files (a plain fixture: the writes are recorded, nothing rebinds by itself)
: >"$D/drivers/usbip-host/match_busid"; : >"$D/drivers/usbip-host/bind"; : >"$D/drivers/usbip-host/unbind"
: >"$D/drivers/usb/unbind"; : >"$D/drivers_probe"

# ambiguous: refused with the candidates, nothing written
cat >"$W/any.xml" <<'X'
<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/></source></hostdev>
X
expect_exit 1 hd export "$W/any.xml"
expect_match "matches [0-9]+ USB devices" "$ERR"
[ ! -s "$D/drivers/usbip-host/match_busid" ] || fail "an ambiguous export wrote to match_busid"

expect_exit 0 hd export "$W/c.xml"
expect_match "^exported usb_1_4_1 \(46f4:0001 serial DONGLE-C, bus id 1-4.1\)" "$OUT"
[ "$(cat "$D/drivers/usbip-host/match_busid")" = "add 1-4.1" ] || fail "match_busid: $(cat "$D/drivers/usbip-host/match_busid")"
[ "$(cat "$D/drivers/usb/unbind")" = 1-4.1 ] || fail "not unbound from usb"
[ "$(cat "$D/drivers/usbip-host/bind")" = 1-4.1 ] || fail "not bound to usbip-host"
expect_exit 0 hd status
expect_match "export" "$OUT" "status"
expect_match "DONGLE-C" "$OUT" "status"

# claimed by the export: no local VM gets it (the fixture did not rebind it, the claim holds)
expect_exit 1 "$CLAIM_TOOL" vm-a "$W/c.xml"
expect_match "in use by domain export" "$ERR"

# the kernel's part: now bound to usbip-host
ln -sfn ../../../../../../bus/usb/drivers/usbip-host "$D/devices/1-4.1/driver" 2>/dev/null ||
        ln -sfn "$D/drivers/usbip-host" "$D/devices/1-4.1/driver"
[ "$(basename "$(readlink "$D/devices/1-4.1/driver")")" = usbip-host ] || fail "fixture link"
expect_exit 0 hd list --cap usb_device
expect_match "usb_1_4_1 .*usbip-host.* export .*usbip=exported" "$OUT" "list"
expect_exit 0 hd list --cap usb_device --json
printf '%s' "$OUT" | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d["name"] == "usb_1_4_1":
        assert d["usbip"] == {"exported": True} and d["owner"] == "export", d
    else:
        assert "usbip" not in d, d
' || fail "list --json usbip"
expect_exit 1 hd resolve "$W/c.xml"
expect_match "exported over USB/IP" "$ERR"
expect_exit 0 hd export "$W/c.xml"
expect_match "is exported already" "$OUT"

# the other way round: a dongle a VM holds is not exported
"$CLAIM_TOOL" vm-a "$W/a.xml" --hold >"$W/hold.out" 2>&1 &
HOLD=$!
for _ in $(seq 50); do grep -q claimed "$W/hold.out" 2>/dev/null && break; sleep 0.1; done
grep -q claimed "$W/hold.out" || fail "claim-tool did not claim DONGLE-A: $(cat "$W/hold.out")"
: >"$D/drivers/usbip-host/match_busid"
expect_exit 1 hd export "$W/a.xml"
expect_match "in use by domain vm-a" "$ERR"
[ ! -s "$D/drivers/usbip-host/match_busid" ] || fail "a held dongle was written to match_busid"
kill "$HOLD"; wait "$HOLD" 2>/dev/null || true; HOLD=

# unexport: unbind from usbip-host, del from match_busid, reprobe; the claim goes
expect_exit 0 hd unexport "$W/c.xml"
expect_match "^unexported usb_1_4_1" "$OUT"
[ "$(cat "$D/drivers/usbip-host/unbind")" = 1-4.1 ] || fail "not unbound from usbip-host"
[ "$(cat "$D/drivers/usbip-host/match_busid")" = "del 1-4.1" ] || fail "match_busid: $(cat "$D/drivers/usbip-host/match_busid")"
[ "$(cat "$D/drivers_probe")" = 1-4.1 ] || fail "not reprobed"
expect_exit 0 hd status --json
expect_nomatch '"export"' "$OUT" "status after unexport"
# (the fixture still says usbip-host: a second unexport finds it "exported" and unbinds again)
ln -sfn "$D/drivers/usb" "$D/devices/1-4.1/driver"
expect_exit 0 hd unexport "$W/c.xml"
expect_match "is not exported" "$OUT"
echo "PASS test-export"
