#!/bin/bash
# demo.sh: the readable transcript of what the test VM offers (tools/demo runs it).
# Other helpers extend it: three identical dongles to three guests by serial and by port,
# one replugged and re-attached.
. "$VM_SRC/tests/vm/scenarios/lib.sh"

step "five identical USB dongles ($VM_DONGLE_VID:$VM_DONGLE_PID), told apart by serial and port"
usb_table
echo
echo "as declared (tests/vm/hardware.sh):  QMP-id  serial  QEMU-port  sysfs"
printf '  %s\n' "${VM_DONGLES[@]}"
[ "$(usb_dongle_names | wc -l)" = ${#VM_DONGLES[@]} ] || fail "not all dongles present"

step "hostdev list --cap usb_device"
"$HOSTDEV_BIN" list --cap usb_device

step "the outer QEMU's view (vmctl hmp info usb)"
vmctl hmp info usb
ok "demo transcript complete"
