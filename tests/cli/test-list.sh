#!/bin/bash
# hostdev list / dumpxml on the fixture tree (tests/data/sys/mini) and on this machine's /sys
# (read only).
set -eu
. "$(dirname "$0")/lib.sh"
: "${HOSTDEV_TEST_DATA:?}"
command -v python3 >/dev/null || fail "python3 is needed to check the JSON"

STATE=$(mktemp -d)
trap 'rm -rf "$STATE"' EXIT
export HOSTDEV_STATE_DIR=$STATE/none # no registry: owners are null, nothing is created

export HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/mini

# --- list --json: parses, has every device, contract fields ---------------------------------
expect_exit 0 hd list --json
[ -z "$ERR" ] || fail "clean fixture gave warnings: $ERR"
printf '%s' "$OUT" | python3 -c '
import json, sys
devs = json.load(sys.stdin)
names = {d["name"]: d for d in devs}
for n in ("computer", "pci_0000_00_04_0", "usb_1_3_1", "net_eth0_52_54_00_12_34_56",
          "scsi_0_0_0_0", "scsi_generic_sg0", "block_sda", "scsi_host0"):
    assert n in names, n
for d in devs:
    for k in ("name", "parent", "capability", "sysfs_path", "driver", "owner"):
        assert k in d, (d["name"], k)
    assert d["owner"] is None
    assert d["parent"] is None or d["parent"] in names, d
p = names["pci_0000_01_00_0"]
assert (p["domain"], p["bus"], p["slot"], p["function"]) == (0, 1, 0, 0), p
assert p["vendor_id"] == 0x8086 and p["product_id"] == 0x10c9 and p["class"] == 0x020000, p
assert p["iommu_group"] == 2 and p["numa_node"] == 0 and p["driver"] == "igb", p
assert names["pci_0000_00_03_0"]["numa_node"] is None
n = names["net_eth0_52_54_00_12_34_56"]
assert n["interface"] == "eth0" and n["mac"] == "52:54:00:12:34:56", n
' || fail "list --json content"

# --- --cap usb_device: each dongle with its own serial and port path -------------------------
expect_exit 0 hd list --cap usb_device --json
printf '%s' "$OUT" | python3 -c '
import json, sys
devs = json.load(sys.stdin)
assert all(d["capability"] == "usb_device" for d in devs), devs
dongles = sorted((d["serial"], d["port"], d["bus"], d["device"], d["name"])
                 for d in devs if (d["vendor_id"], d["product_id"]) == (0x46f4, 1))
want = [("DONGLE-A", "1", 1, 2, "usb_1_1"), ("DONGLE-B", "2", 1, 3, "usb_1_2"),
        ("DONGLE-C", "3.1", 1, 5, "usb_1_3_1"), ("DONGLE-D", "3.2", 1, 6, "usb_1_3_2")]
assert dongles == want, dongles
for d in devs:
    for k in ("bus", "device", "port", "vendor_id", "product_id", "vendor", "product", "serial", "speed"):
        assert k in d, (d["name"], k)
    assert isinstance(d["vendor_id"], int) and isinstance(d["device"], int)
' || fail "list --cap usb_device --json"

expect_exit 0 hd list --cap net,storage --json
printf '%s' "$OUT" | python3 -c '
import json, sys
caps = sorted({d["capability"] for d in json.load(sys.stdin)})
assert caps == ["net", "storage"], caps
' || fail "list --cap net,storage"

expect_exit 2 hd list --cap bogus
expect_match "unknown capability 'bogus'" "$ERR"
expect_exit 2 hd list extra-arg

# --- table --------------------------------------------------------------------------------------
expect_exit 0 hd list --cap usb_device
expect_match '^NAME +CAP +DRIVER +IDS +OWNER' "$OUT" "table header"
expect_match 'usb_1_3_1 +usb_device +usb +46f4:0001 +- +bus=1 dev=5 port=3.1 serial=DONGLE-C' "$OUT" "table row"

# --- tree -----------------------------------------------------------------------------------------
expect_exit 0 hd list --tree
first=$(printf '%s\n' "$OUT" | head -1)
[ "$first" = computer ] || fail "tree does not start at computer: $first"
expect_match '^\|-- pci_0000_00_04_0 \(pci\) \[xhci_hcd\]$' "$OUT" "tree xhci"
expect_match '^\|   \|-- usb_usb1 \(usb_device\) \[usb\]$' "$OUT" "tree root hub"
expect_match '^\|   \|   `-- usb_1_3 \(usb_device\)' "$OUT" "tree hub"
expect_match '^\|   \|       \|-- usb_1_3_1 \(usb_device\)' "$OUT" "tree dongle behind hub"
expect_match '`-- scsi_generic_sg0 \(scsi_generic\)' "$OUT" "tree sg"
expect_exit 0 hd list --tree --cap scsi_generic
expect_match 'scsi_host0' "$OUT" "tree keeps ancestors"
expect_nomatch 'usb_1_1' "$OUT" "tree --cap filters"

# --- dumpxml ----------------------------------------------------------------------------------
expect_exit 0 hd dumpxml usb_1_3_2
expect_match "<name>usb_1_3_2</name>" "$OUT"
expect_match "<parent>usb_1_3</parent>" "$OUT"
expect_match "<bus>1</bus>" "$OUT"
expect_match "<device>6</device>" "$OUT"
expect_match "<serial>DONGLE-D</serial>" "$OUT"
expect_match "<port>3.2</port>" "$OUT"
expect_match "<vendor id='0x46f4'" "$OUT"
printf '%s' "$OUT" | python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.read())' \
        || fail "dumpxml output is not XML"

expect_exit 0 hd dumpxml pci_0000_02_01_0
expect_match "<capability type='pci'>" "$OUT"
expect_match "<parent>pci_0000_00_03_0</parent>" "$OUT"
expect_match "<iommuGroup number='5'>" "$OUT"
expect_match "<address domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>" "$OUT"
expect_match "<name>e1000</name>" "$OUT"

expect_exit 1 hd dumpxml usb_9_9
expect_match "^hostdev: error: no host device named 'usb_9_9'" "$ERR"
expect_exit 2 hd dumpxml
expect_exit 2 hd dumpxml a b

# --- a broken copy: warnings once each, the rest listed ---------------------------------------
BROKEN=$STATE/broken
mkdir -p "$BROKEN"
cp -a "$HOSTDEV_TEST_DATA/sys/mini/." "$BROKEN/"
echo garbage >"$BROKEN/devices/pci0000:00/0000:00:04.0/usb1/1-2/devnum"
rm "$BROKEN/devices/pci0000:00/0000:00:04.0/usb1/1-1/idVendor"
HOSTDEV_SYSFS_ROOT=$BROKEN expect_exit 0 hd list --cap usb_device --json
expect_match "^hostdev: warning: devices/.*/1-2/devnum: invalid number 'garbage'" "$ERR"
expect_match "hostdev: warning: devices/.*/1-1/idVendor: cannot read" "$ERR"
[ "$(printf '%s\n' "$ERR" | grep -c 'devnum')" = 1 ] || fail "warning repeated: $ERR"
printf '%s' "$OUT" | python3 -c '
import json, sys
d = {x["name"]: x for x in json.load(sys.stdin)}
assert d["usb_1_2"]["serial"] == "DONGLE-B" and d["usb_1_2"]["device"] == 0
assert d["usb_1_1"]["serial"] == "DONGLE-A" and d["usb_1_1"]["vendor_id"] == 0
' || fail "broken tree content"

# --- the test VM's captured sysfs: five identical dongles, told apart by serial and port --------
HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/vm-dongles expect_exit 0 hd list --cap usb_device --json
[ -z "$ERR" ] || fail "vm-dongles fixture gave warnings: $ERR"
printf '%s' "$OUT" | python3 -c '
import json, sys
devs = json.load(sys.stdin)
d = sorted((x["bus"], x["port"], x["serial"], x["device"], x["name"]) for x in devs
           if (x["vendor_id"], x["product_id"]) == (0x46f4, 1))
want = [(1, "4.1", "DUP", 3, "usb_1_4_1"), (2, "1", "DONGLE-A", 2, "usb_2_1"),
        (2, "2", "DONGLE-B", 3, "usb_2_2"), (2, "3", "DONGLE-C", 4, "usb_2_3"),
        (2, "5", "DUP", 5, "usb_2_5")]
assert d == want, d
' || fail "vm-dongles: dongles"
HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/vm-dongles expect_exit 0 hd dumpxml usb_1_4_1
expect_match "<serial>DUP</serial>" "$OUT"
expect_match "<port>4.1</port>" "$OUT"
expect_match "<parent>usb_1_4</parent>" "$OUT"

# what hostdev printed inside the guest itself (tests/data/sys/vm-dongles-guest, saved by
# vm-capture.sh) must come out of the captured tree byte for byte
G=$HOSTDEV_TEST_DATA/sys/vm-dongles-guest
V=$HOSTDEV_TEST_DATA/sys/vm-dongles
Vreal=$(cd "$V" && pwd -P)
got=$(HOSTDEV_SYSFS_ROOT=$V hd list --json | sed "s|\"$Vreal\"|\"/sys\"|; s|\"$Vreal/|\"/sys/|")
[ "$got" = "$(cat "$G/list.json")" ] || fail "vm-dongles list --json differs from the guest's"
got=$(HOSTDEV_SYSFS_ROOT=$V hd list --tree)
[ "$got" = "$(cat "$G/tree.txt")" ] || fail "vm-dongles list --tree differs from the guest's"
n=0
for f in "$G"/*.xml; do
        name=$(basename "$f" .xml)
        got=$(HOSTDEV_SYSFS_ROOT=$V hd dumpxml "$name" | sed "s|<path>$Vreal/|<path>/sys/|")
        [ "$got" = "$(cat "$f")" ] || fail "vm-dongles dumpxml $name differs from the guest's: $(diff <(echo "$got") "$f")"
        n=$((n + 1))
done
[ "$n" -gt 100 ] || fail "only $n guest XML files"

# --- this machine (read only) -------------------------------------------------------------------
unset HOSTDEV_SYSFS_ROOT
expect_exit 0 hd list --tree
[ "$(printf '%s\n' "$OUT" | head -1)" = computer ] || fail "real tree root"
expect_exit 0 hd list --json
REAL=$OUT
printf '%s' "$REAL" | python3 -c '
import json, os, sys
devs = json.load(sys.stdin)
names = {d["name"] for d in devs}
pci = sorted(os.listdir("/sys/bus/pci/devices")) if os.path.isdir("/sys/bus/pci/devices") else []
for a in pci:
    n = "pci_" + a.replace(":", "_").replace(".", "_")
    assert n in names, n
for i in os.listdir("/sys/class/net"):
    assert any(d["capability"] == "net" and d["interface"] == i for d in devs), i
# whole disks backed by hardware (libvirt lists no loop/zram/ram devices either)
disks = [b for b in os.listdir("/sys/class/block")
         if not os.path.exists(f"/sys/class/block/{b}/partition")
         and ("/devices/virtual/" not in os.path.realpath(f"/sys/class/block/{b}") or b.startswith("dm-"))]
for b in disks:
    assert any(d["capability"] == "storage" and d["name"].startswith("block_" + b.replace("-", "_"))
               for d in devs), b
assert len(pci) + len(disks) > 0, "this machine shows no PCI or block device"
' || fail "real /sys listing misses devices"

# --- capture this machine's /sys into a fixture: the listing and XML from it match the live one
CAP=$STATE/cap
bash "$HOSTDEV_SRCDIR/tests/capture-sysfs.sh" "$CAP" >/dev/null || fail "capture-sysfs.sh failed"
live=$(hd list --json | sed 's|"/sys"|"ROOT"|; s|"/sys/|"ROOT/|')
captured=$(HOSTDEV_SYSFS_ROOT=$CAP hd list --json 2>&1 | sed "s|\"$CAP\"|\"ROOT\"|; s|\"$CAP/|\"ROOT/|")
[ "$live" = "$captured" ] || fail "listing of the captured tree differs: $(diff <(echo "$live") <(echo "$captured") | head -20)"
for n in $(printf '%s' "$live" | python3 -c 'import json,sys; print(" ".join(d["name"] for d in json.load(sys.stdin) if d["capability"] in ("pci","net","storage")))'); do
        a=$(hd dumpxml "$n" | sed 's|<path>/sys/|<path>ROOT/|')
        b=$(HOSTDEV_SYSFS_ROOT=$CAP hd dumpxml "$n" | sed "s|<path>$CAP/|<path>ROOT/|")
        [ "$a" = "$b" ] || fail "dumpxml $n differs on the captured tree: $(diff <(echo "$a") <(echo "$b"))"
done
echo "test-list: all checks passed"
