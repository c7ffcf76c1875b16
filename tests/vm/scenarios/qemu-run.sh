#!/bin/bash
# hostdev run on a real kernel (in the test VM): an inner QEMU gets two identical dongles
# (46f4:0001) chosen by serial and the free e1000 by PCI address (managed). `info usb` and
# query-pci inside that QEMU show exactly those; when QEMU exits the e1000 is back on e1000 and
# `hostdev status` is empty.
set -eu
. "$(dirname "$0")/qemu-lib.sh"
export HOSTDEV_STATE_DIR=/run/hostdev-scenario-qemu-run
rm -rf "$HOSTDEV_STATE_DIR"
W=$(mktemp -d)
RPID=
trap '[ -z "$RPID" ] || kill -9 "$RPID" 2>/dev/null; rm -rf "$W"' EXIT

# ---- prerequisites: fail loudly -----------------------------------------------------------
command -v qemu-system-x86_64 >/dev/null || fail "no qemu-system-x86_64 in the guest"
command -v python3 >/dev/null || fail "no python3 in the guest"
dongle_dev DONGLE-A >/dev/null || fail "DONGLE-A missing in the guest"
dongle_dev DONGLE-B >/dev/null || fail "DONGLE-B missing in the guest"
[ -e "/sys/bus/pci/devices/$VM_NIC_FREE/iommu_group" ] || fail "no IOMMU group for $VM_NIC_FREE"
[ -d /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci || fail "no vfio-pci driver"
[ "$(drv "$VM_NIC_FREE")" = e1000 ] || fail "$VM_NIC_FREE not on e1000 at start"
# (no process substitution: the guest has no /dev/fd)
set -- $(dongle_dev DONGLE-A)
abus=$1 adev=$2
pa=${VM_NIC_FREE#0000:}
cat >"$W/vm-inner.xml" <<X
<domain type='kvm'>
  <name>vm-inner</name>
  <devices>
$(dongle_xml DONGLE-A)
$(dongle_xml DONGLE-B)
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x${pa:0:2}' slot='0x${pa:3:2}' function='0x${pa:6:1}'/></source>
    </hostdev>
  </devices>
</domain>
X

step "qemu-args (looks only)"
run "$H" qemu-args "$W/vm-inner.xml"
want_rc 0
printf '%s' "$OUT" | grep -q "\"hostdevice\":\"/dev/bus/usb/$(printf %03d "$abus")/$(printf %03d "$adev")\"" || fail "DONGLE-A not by its device node"
printf '%s' "$OUT" | grep -q "\"host\":\"$VM_NIC_FREE\"" || fail "e1000 not by its address"
[ "$(drv "$VM_NIC_FREE")" = e1000 ] || fail "qemu-args changed the host"

step "hostdev run"
"$H" run "$W/vm-inner.xml" -- "${INNER_QEMU[@]}" >"$W/run.out" 2>"$W/run.err" &
RPID=$!
Q=$HOSTDEV_STATE_DIR/vm-inner.qmp
wait_for 120 test -S "$Q" || { cat "$W/run.err"; fail "the inner QEMU's QMP socket did not appear"; }
[ "$(drv "$VM_NIC_FREE")" = vfio-pci ] || fail "$VM_NIC_FREE is on $(drv "$VM_NIC_FREE") while the VM runs"
ids=$(usb_ids "$Q")
echo "info usb ids: $ids"
[ "$ids" = "hostdev0 hostdev1 " ] || { info_usb "$Q"; fail "info usb shows '$ids', want hostdev0 hostdev1"; }
pci=$(pci_ids "$Q")
echo "$pci"
printf '%s\n' "$pci" | grep -qx "hostdev2 8086:100e" || fail "query-pci lacks the e1000 as hostdev2"
[ "$(printf '%s\n' "$pci" | grep -c '^hostdev')" = 1 ] || fail "query-pci shows other passed-through devices"
run "$H" status --json
want_rc 0
[ "$(printf '%s' "$OUT" | grep -o '"vm-inner"' | wc -l)" = 3 ] || fail "status does not show 3 claims of vm-inner"

step "a second VM wanting DONGLE-B is refused"
dongle_xml DONGLE-B >"$W/b.xml"
run "$H" run --name vm-other "$W/b.xml" -- "${INNER_QEMU[@]}"
want_rc 1
printf '%s' "$ERR" | grep -q "in use by domain vm-inner" || fail "the refusal does not name vm-inner"
[ "$(usb_ids "$Q")" = "hostdev0 hostdev1 " ] || fail "vm-inner lost a dongle"

step "QEMU exits: everything given back"
qmp "$Q" quit >/dev/null || true
set +e; wait "$RPID"; RC=$?; set -e
RPID=
cat "$W/run.err"
[ "$RC" = 0 ] || fail "hostdev run exited $RC"
wait_for 20 test "$(drv "$VM_NIC_FREE")" = e1000 || fail "$VM_NIC_FREE is on $(drv "$VM_NIC_FREE") after QEMU exit, not e1000"
run "$H" status --json
want_rc 0
[ "$(printf '%s' "$OUT" | tr -d ' \n')" = "[]" ] || fail "status not empty after exit"
echo "PASS qemu-run"
