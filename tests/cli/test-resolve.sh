#!/bin/bash
# hostdev resolve / status / release against the identical-dongles fixture.
set -eu
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 is needed to check JSON output"

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
bash "$HOSTDEV_SRCDIR/tests/data/sys/make-dongles.sh" "$W/fx"
export HOSTDEV_SYSFS_ROOT=$W/fx/sys HOSTDEV_DEV_ROOT=$W/fx/dev HOSTDEV_STATE_DIR=$W/state TZ=UTC
CLAIM_TOOL=$HOSTDEV_BUILDDIR/tests/unit/claim-tool
[ -x "$CLAIM_TOOL" ] || fail "claim tool not built at $CLAIM_TOOL"

cat >"$W/vm-a.xml" <<'EOF'
<domain type='kvm'>
  <name>vm-a</name>
  <devices>
    <hostdev mode='subsystem' type='usb'>
      <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-C</serial></source>
    </hostdev>
    <hostdev mode='subsystem' type='usb'>
      <source><address bus='1' port='2'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='usb'>
      <source startupPolicy='optional'><vendor id='0x46f4'/><product id='0x0001'/><serial>GONE</serial></source>
    </hostdev>
  </devices>
</domain>
EOF
cat >"$W/any.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/></source>
</hostdev>
EOF
cat >"$W/missing.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-Z</serial></source>
</hostdev>
EOF
cat >"$W/b.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-B</serial></source>
</hostdev>
EOF

# all selected (optional-missing is not an error): exit 0, table
expect_exit 0 hd resolve "$W/vm-a.xml"
expect_match "^INDEX +SELECTOR +STATUS +DEVICE +OWNER" "$OUT"
expect_match "^0 +<source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-C</serial></source> +ok +usb_1_4_1 +-" "$OUT"
expect_match "^1 +<source><address bus='1' port='2'/></source> +ok +usb_1_2 +-" "$OUT"
expect_match "^2 .* +skipped +- +-" "$OUT"
expect_match "^hostdev: warning: hostdev #2: no USB device matches" "$ERR"

# --json: CONTRACT.md's shape exactly
expect_exit 0 hd resolve --json "$W/vm-a.xml"
printf '%s' "$OUT" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert [set(o) for o in r] == [{"index", "selector", "status", "device", "candidates", "owner"}] * 3, r
assert [o["index"] for o in r] == [0, 1, 2]
assert [o["status"] for o in r] == ["ok", "ok", "missing"], r
assert [o["device"] for o in r] == ["usb_1_4_1", "usb_1_2", None], r
assert r[0]["candidates"] == ["usb_1_4_1"] and r[2]["candidates"] == []
assert r[1]["selector"] == "<source><address bus='"'"'1'"'"' port='"'"'2'"'"'/></source>", r[1]
assert all(o["owner"] is None for o in r)
' || fail "resolve --json shape: $OUT"

# ambiguous: exit 1, every candidate with the <source> that selects it
expect_exit 1 hd resolve "$W/any.xml"
expect_match "^0 .* +ambiguous +- +-" "$OUT"
expect_match "^hostdev: error: hostdev #0: <source><vendor id='0x46f4'/><product id='0x0001'/></source> matches 4 USB devices" "$ERR"
for s in DONGLE-A DONGLE-B DONGLE-C DONGLE-D; do
        expect_match "select it with: <source><vendor id='0x46f4'/><product id='0x0001'/><serial>$s</serial></source>" "$ERR"
done
expect_match "usb_1_4_2: bus 1 device 6, port 1-4.2, 46f4:0001, serial 'DONGLE-D', product 'Sentinel HL', owner none" "$ERR"
expect_exit 1 hd resolve --json "$W/any.xml"
printf '%s' "$OUT" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r[0]["status"] == "ambiguous" and r[0]["device"] is None
assert r[0]["candidates"] == ["usb_1_1", "usb_1_2", "usb_1_4_1", "usb_1_4_2"], r
' || fail "ambiguous --json: $OUT"

# missing: exit 1
expect_exit 1 hd resolve "$W/missing.xml"
expect_match "no USB device matches" "$ERR"

# invalid input: exit 2 with FILE:LINE
printf "<hostdev mode='subsystem' type='usb'><source><vendor id='0204'/></source></hostdev>\n" >"$W/bad.xml"
expect_exit 2 hd resolve "$W/bad.xml"
expect_match "^hostdev: error: $W/bad.xml:1: " "$ERR"
expect_exit 2 hd resolve
expect_exit 2 hd resolve "$W/nonexistent.xml"

# colliding serials: the suggestion is the port path
bash "$HOSTDEV_SRCDIR/tests/data/sys/make-dongles.sh" "$W/fx" collide
cat >"$W/dup.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>0001</serial></source>
</hostdev>
EOF
expect_exit 1 hd resolve "$W/dup.xml"
expect_match "serial '0001' is not unique \(usb_1_4_1, usb_1_4_2 have it\)" "$ERR"
expect_match "select it with: <source><vendor id='0x46f4'/><product id='0x0001'/><address bus='1' port='4.1'/></source>" "$ERR"
# ... and that suggestion resolves to exactly that device
printf "<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/><address bus='1' port='4.1'/></source></hostdev>\n" >"$W/p41.xml"
expect_exit 0 hd resolve "$W/p41.xml"
expect_match " ok +usb_1_4_1 " "$OUT"
bash "$HOSTDEV_SRCDIR/tests/data/sys/make-dongles.sh" "$W/fx"

# claims: status, in_use for others, owner for the holder, release
expect_exit 0 hd status
expect_match "^no claims$" "$OUT"
"$CLAIM_TOOL" vm-b "$W/b.xml" --hold >"$W/holdb.out" 2>&1 &
HOLDB=$!
for t in $(seq 1 100); do grep -q '^claimed' "$W/holdb.out" && break; sleep 0.1; done
grep -q "^claimed usb:46f4:0001:serial:DONGLE-B usb_1_2$" "$W/holdb.out" || { kill $HOLDB; fail "claim: $(cat "$W/holdb.out")"; }
expect_exit 1 hd resolve "$W/vm-a.xml"
expect_match "^1 .* +in_use +usb_1_2 +vm-b" "$OUT"
expect_match "^hostdev: error: hostdev #1: device usb_1_2 \(46f4:0001 serial DONGLE-B\) is in use by domain vm-b since [0-9-]+ [0-9:]+$" "$ERR"
expect_exit 1 hd resolve --json "$W/vm-a.xml"
printf '%s' "$OUT" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r[1]["status"] == "in_use" and r[1]["device"] == "usb_1_2" and r[1]["owner"] == "vm-b", r
' || fail "in_use --json: $OUT"
# hostdev list shows the owner
expect_exit 0 hd list --json
printf '%s' "$OUT" | python3 -c '
import json, sys
owners = {d["name"]: d["owner"] for d in json.load(sys.stdin)}
assert owners["usb_1_2"] == "vm-b", owners
assert owners["usb_1_1"] is None and owners["usb_1_4_1"] is None, owners
' || fail "list --json owners: $OUT"
expect_exit 0 hd status
expect_match "^usb_1_2 +46f4:0001 serial DONGLE-B port 1-2 +vm-b +[0-9-]+ [0-9:]+ +claimed$" "$OUT"
# the holder dies: its claim is stale (shown so), the device is free for resolve and list
kill $HOLDB; wait $HOLDB 2>/dev/null || true
expect_exit 0 hd resolve "$W/vm-a.xml"
expect_match "^1 .* +ok +usb_1_2 +-" "$OUT"
expect_exit 0 hd list --json
printf '%s' "$OUT" | python3 -c '
import json, sys
owners = {d["name"]: d["owner"] for d in json.load(sys.stdin)}
assert owners["usb_1_2"] is None, owners
' || fail "list --json after the holder died: $OUT"
expect_exit 0 hd status
expect_match "^usb_1_2 +46f4:0001 serial DONGLE-B port 1-2 +vm-b +[0-9-]+ [0-9:]+ +claimed \(stale: domain process gone\)$" "$OUT"
expect_exit 0 hd status --json
printf '%s' "$OUT" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert len(r) == 1
c = r[0]
assert c["device"] == "usb_1_2" and c["domain"] == "vm-b" and c["state"] == "claimed" and c["alive"] is False, c
assert c["identity"] == {"vendor_id": 0x46f4, "product_id": 1, "serial": "DONGLE-B", "port": "1-2", "bus": 1, "device": 3}, c
' || fail "status --json: $OUT"
expect_exit 0 hd release vm-b
expect_match "^released usb_1_2 \(46f4:0001 serial DONGLE-B\) from vm-b$" "$OUT"
expect_exit 0 hd status
expect_match "^no claims$" "$OUT"
expect_exit 0 hd resolve "$W/vm-a.xml"
expect_exit 0 hd release vm-b
expect_match "domain vm-b holds no claims" "$ERR"
expect_exit 2 hd release

# a corrupted registry is reported and moved aside, never trusted
printf '{"version": 1, "claims": [' >"$W/state/registry.json"
expect_exit 0 hd status
expect_match "^hostdev: warning: registry .* was unreadable \(malformed JSON\); moved aside" "$ERR"
ls "$W/state" | grep -q '^registry.json.corrupt-' || fail "corrupt registry not moved aside"

# PCI on the host-side fixture: by address; an IOMMU group shared with a claimed device is in use
bash "$HOSTDEV_SRCDIR/tests/data/sys/pci-gen.sh" "$W/pci" >/dev/null
export HOSTDEV_SYSFS_ROOT=$W/pci/sys HOSTDEV_DEV_ROOT=$W/pci/dev HOSTDEV_STATE_DIR=$W/pstate
pcixml() { printf "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x0'/></source></hostdev>\n" "$1" "$2"; }
pcixml 1 1 >"$W/p1.xml"
pcixml 1 2 >"$W/p2.xml"
pcixml 0 0x1f >"$W/pmissing.xml"
expect_exit 0 hd resolve "$W/p1.xml"
expect_match " ok +pci_0000_01_01_0 +-" "$OUT"
expect_exit 1 hd resolve "$W/pmissing.xml"
expect_match "no PCI device at 0000:00:1f.0" "$ERR"
"$CLAIM_TOOL" vm-p "$W/p1.xml" --hold >"$W/hold.out" 2>&1 &
HOLDER=$!
for t in $(seq 1 100); do grep -q '^claimed' "$W/hold.out" && break; sleep 0.1; done
grep -q "^claimed pci:0000:01:01.0 pci_0000_01_01_0$" "$W/hold.out" || { kill $HOLDER; fail "PCI claim: $(cat "$W/hold.out")"; }
expect_exit 1 hd resolve "$W/p2.xml"
expect_match " in_use +pci_0000_01_02_0 +vm-p" "$OUT"
expect_match "device pci_0000_01_02_0 shares IOMMU group 4 with pci_0000_01_01_0 \(0000:01:01.0\), in use by domain vm-p" "$ERR"
expect_exit 1 "$CLAIM_TOOL" vm-q "$W/p2.xml"
expect_match "^hostdev: error: device pci_0000_01_02_0 shares IOMMU group 4 with pci_0000_01_01_0" "$ERR"
kill $HOLDER; wait $HOLDER 2>/dev/null || true
expect_exit 0 hd status
expect_match "^pci_0000_01_01_0 +0000:01:01.0 \(host driver e1000\) +vm-p " "$OUT"
expect_exit 0 hd release vm-p
expect_match "^released pci_0000_01_01_0 \(0000:01:01.0\) from vm-p$" "$OUT"
expect_exit 0 "$CLAIM_TOOL" vm-q "$W/p2.xml"
echo ok
