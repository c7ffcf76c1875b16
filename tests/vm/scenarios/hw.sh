#!/bin/bash
# hw.sh: the test VM has the hardware tests/vm/hardware.sh declares, and hostdev sees it.
. "$VM_SRC/tests/vm/scenarios/lib.sh"

step "USB dongles (from sysfs)"
usb_table
for d in "${VM_DONGLES[@]}"; do
	read -r id serial port name <<<"$d"
	[ -d "/sys/bus/usb/devices/$name" ] || fail "$id: no USB device $name (QEMU port $port)"
	got="$(usb_attr "$name" idVendor):$(usb_attr "$name" idProduct) $(usb_attr "$name" serial)"
	[ "$got" = "$VM_DONGLE_VID:$VM_DONGLE_PID $serial" ] ||
		fail "$id: $name is '$got', want '$VM_DONGLE_VID:$VM_DONGLE_PID $serial'"
	[ "$(vm_usb_sysfs_name "$port")" = "$name" ] || fail "vm_usb_sysfs_name $port != $name"
	[ -c "/dev/bus/usb/$(printf %03d "$(usb_attr "$name" busnum)")/$(printf %03d "$(usb_attr "$name" devnum)")" ] ||
		fail "$id: no /dev/bus/usb node"
	ok "$id = $name, $VM_DONGLE_VID:$VM_DONGLE_PID serial $serial, /dev/bus/usb node present"
done
n=$(usb_dongle_names | wc -l)
[ "$n" = ${#VM_DONGLES[@]} ] || fail "$n dongles present, want ${#VM_DONGLES[@]}"
dups=$(usb_dongle_names DUP | tr '\n' ' ')
[ "$(echo $dups | wc -w)" = 2 ] || fail "want two dongles with serial DUP, have: $dups"
ok "${#VM_DONGLES[@]} identical $VM_DONGLE_VID:$VM_DONGLE_PID dongles; serial DUP on two ports: $dups"
[ "$(usb_attr 1-4 idVendor):$(usb_attr 1-4 idProduct)" = 0409:55aa ] || fail "no usb-hub at 1-4"
ok "usb-hub at 1-4, dup-2 behind it at 1-4.1"

step "hostdev list --cap usb_device (the build's $HOSTDEV_BIN)"
"$HOSTDEV_BIN" list --cap usb_device
"$HOSTDEV_BIN" list --cap usb_device --json >/tmp/list.json
python3 - /tmp/list.json "${VM_DONGLES[@]}" <<'PY'
import json, sys
devs = {d["name"]: d for d in json.load(open(sys.argv[1]))}
for spec in sys.argv[2:]:
    qid, serial, port, sysname = spec.split()
    name = "usb_" + sysname.replace("-", "_").replace(".", "_")
    d = devs.get(name)
    if d is None:
        sys.exit("FAIL: hostdev list has no %s (%s); it has %s" % (name, qid, sorted(devs)))
    got = (d.get("vendor_id"), d.get("product_id"), d.get("serial"))
    if got != (0x46f4, 0x0001, serial):
        sys.exit("FAIL: %s: hostdev list says %r, want (0x46f4, 1, %r)" % (name, got, serial))
    print("ok: hostdev list: %s serial %s" % (name, serial))
PY

step "IOMMU groups"
for g in /sys/kernel/iommu_groups/*; do
	devs=("$g"/devices/*)
	echo "group ${g##*/}: ${devs[*]##*/}"
done
g_own=$(pci_group "$VM_NIC_OWN") g_free=$(pci_group "$VM_NIC_FREE")
g_b1=$(pci_group "$VM_NIC_BR1") g_b2=$(pci_group "$VM_NIC_BR2")
[ "$g_b1" = "$g_b2" ] || fail "$VM_NIC_BR1 (group $g_b1) and $VM_NIC_BR2 (group $g_b2) should share a group"
ok "$VM_NIC_BR1 and $VM_NIC_BR2 (behind the pci-bridge) share group $g_b1"
for bdf in "$VM_NIC_OWN" "$VM_NIC_FREE"; do
	g=$(pci_group "$bdf")
	devs=("/sys/kernel/iommu_groups/$g"/devices/*)
	[ "${devs[*]##*/}" = "$bdf" ] || fail "$bdf is not alone in group $g (${devs[*]##*/})"
	[ "$(pci_driver "$bdf")" = e1000 ] || fail "$bdf not bound to e1000"
	ok "$bdf (e1000) alone in group $g"
done
[ "$g_own" != "$g_free" ] || fail "root-bus NICs share a group"
[ -c /dev/vfio/vfio ] || fail "no /dev/vfio/vfio"
ok "/dev/vfio/vfio present"

step "the host's own NIC and disk"
own=$(pci_netdev "$VM_NIC_OWN")
ip -br addr show dev "$own"
ip -br addr show dev "$own" | grep -qF "${VM_NIC_OWN_IP}" || fail "$own has no $VM_NIC_OWN_IP"
ok "$VM_NIC_OWN = $own has $VM_NIC_OWN_IP"
findmnt "$VM_HOSTDISK_MNT"
src=$(findmnt -n -o SOURCE "$VM_HOSTDISK_MNT") || fail "$VM_HOSTDISK_MNT not mounted"
[ "$(readlink -f "/sys/class/block/${src##*/}/device/../..")" = "$(readlink -f "/sys/bus/pci/devices/$VM_HOSTDISK_PCI")" ] ||
	[ "$(cat "/sys/class/block/${src##*/}/serial" 2>/dev/null)" = HOSTDISK ] ||
	fail "$VM_HOSTDISK_MNT is mounted from $src, not the virtio-blk HOSTDISK"
ok "$VM_HOSTDISK_MNT is mounted from $src (virtio-blk serial $(cat "/sys/class/block/${src##*/}/serial"))"

step "SCSI generic devices"
for sg in /sys/class/scsi_generic/*; do
	dev=$(readlink -f "$sg/device")
	echo "${sg##*/}: ${dev##*/} $(cat "$dev/vendor" | xargs) $(cat "$dev/model" | xargs) [/dev/${sg##*/}]"
done
found=
for sg in /sys/class/scsi_generic/*; do
	dev=$(readlink -f "$sg/device")
	case $dev in *"/$VM_SCSI_HBA/"*) [ -c "/dev/${sg##*/}" ] && found=${sg##*/} ;; esac
done
[ -n "$found" ] || fail "no sg device for the scsi-hd on virtio-scsi $VM_SCSI_HBA"
ok "scsi-hd on $VM_SCSI_HBA is /dev/$found"

step "summary"
echo "hardware as declared in tests/vm/hardware.sh"
