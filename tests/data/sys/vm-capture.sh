#!/bin/bash
# Scenario for tests/vm/run-vm: capture the test VM's sysfs (4 dongles 46f4:0001, a hub, e1000s
# behind a pci-bridge, virtio-scsi, intel-iommu) into $VM_OUT/sys, to become the fixture
# tests/data/sys/vm-dongles:
#   tests/vm/run-vm --build BUILD --out DIR tests/data/sys/vm-capture.sh
#   rm -rf tests/data/sys/vm-dongles && cp -a DIR/results/01/files/sys tests/data/sys/vm-dongles
# and the guest's own view for comparison (tests/data/sys/vm-dongles-guest, checked by
# tests/cli/test-list.sh): list --json, list --tree and dumpxml of every device:
#   cp DIR/results/01/files/{list.json,tree.txt} DIR/results/01/files/xml/*.xml tests/data/sys/vm-dongles-guest/
set -eu
: "${VM_OUT:?run inside tests/vm/run-vm}"
mkdir -p "$VM_OUT"
bash "$VM_SRC/tests/capture-sysfs.sh" "$VM_OUT/sys" /sys
export HOSTDEV_STATE_DIR=/run/hostdev-capture
"$HOSTDEV_BIN" list --json >"$VM_OUT/list.json"
"$HOSTDEV_BIN" list --tree >"$VM_OUT/tree.txt"
mkdir -p "$VM_OUT/xml"
for n in $(python3 -c 'import json,sys; print(" ".join(d["name"] for d in json.load(open(sys.argv[1]))))' "$VM_OUT/list.json"); do
        "$HOSTDEV_BIN" dumpxml "$n" >"$VM_OUT/xml/$n.xml"
done
cat "$VM_OUT/tree.txt"
