# The test VM's hardware, declared in ONE place (see README.md for the table).
# Sourced by run-vm on the host (to build the QEMU command line and the control agent's
# dongle table) and by scenarios in the guest (for names, serials, ports, PCI addresses).
# Plain bash variables only: no side effects when sourced.

VM_MEM=2048                 # MiB
VM_SMP=${VM_SMP:-2}        # vCPUs (TCG threads; this host has 2 cores)
# The kernel: whichever Debian's linux-image-amd64 installed (its version moves with Debian's
# point releases), i.e. the newest /boot/vmlinuz-*-amd64 with its modules in /lib/modules.
vm_default_kver() {
	local k v best=
	for k in /boot/vmlinuz-*-amd64; do
		v=${k#/boot/vmlinuz-}
		[ -r "$k" ] && [ -d "/lib/modules/$v" ] || continue
		if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n1)" = "$v" ]; then
			best=$v
		fi
	done
	echo "${best:-none}"
}
VM_KVER=${VM_KVER:-$(vm_default_kver)}
VM_KERNEL=${VM_KERNEL:-/boot/vmlinuz-$VM_KVER}

# ---- USB: one qemu-xhci (id xhci, bus xhci.0), USB2 ports 1-8, USB3 ports 9-16 ----------
# In the guest the xhci gives usb bus 1 (USB2 root hub) and usb bus 2 (USB3 root hub).
# usb-storage is SuperSpeed-capable, so a dongle on QEMU port P is sysfs device 2-P; the
# usb-hub (full speed) on port 4 is 1-4 and the dongle behind it on port 4.1 is 1-4.1.
VM_USB_HUB_PORT=4           # a usb-hub (QEMU 0409:55aa) on port 4 = sysfs 1-4
# Dongles, all usb-storage = vendor:product 46f4:0001 (QEMU's default for usb-storage).
# "QMP-id serial QEMU-port sysfs-name": the QMP device id is also the blockdev node name
# prefix (ID-disk). vm_usb_sysfs_name PORT maps a QEMU port to the sysfs name.
VM_DONGLES=(
	"dongle-a DONGLE-A 1 2-1"
	"dongle-b DONGLE-B 2 2-2"
	"dongle-c DONGLE-C 3 2-3"
	"dup-1 DUP 5 2-5"
	"dup-2 DUP 4.1 1-4.1"
)
VM_DONGLE_VID=46f4
VM_DONGLE_PID=0001
VM_USB_FREE_PORTS="6 7 8 4.2 4.3 4.4"   # free for replugging

# vm_usb_sysfs_name PORT: the guest's sysfs name of a dongle plugged on QEMU port PORT.
vm_usb_sysfs_name() {
	case $1 in
	"$VM_USB_HUB_PORT".*) echo "1-$1" ;;
	*) echo "2-$1" ;;
	esac
}

# ---- PCI (q35; the pci-bridge on 00:05.0 gets secondary bus 01) --------------------------
VM_NIC_OWN=0000:00:03.0     # e1000, the "host's own NIC": has $VM_NIC_OWN_IP, never taken
VM_NIC_OWN_IP=192.168.100.1/24
VM_NIC_FREE=0000:00:04.0    # e1000 on the root bus, its own IOMMU group: the one to pass through
VM_BRIDGE=0000:00:05.0      # pci-bridge (conventional PCI): what is behind it shares a group
VM_NIC_BR1=0000:01:01.0     # e1000 behind the bridge
VM_NIC_BR2=0000:01:02.0     # e1000 behind the bridge
VM_SCSI_HBA=0000:00:06.0    # virtio-scsi-pci with one scsi-hd (serial SCSI-DISK, 16 MiB)
VM_HOSTDISK_PCI=0000:00:07.0  # virtio-blk (serial HOSTDISK): the "host's own" disk
VM_HOSTDISK_MNT=/mnt/hostdisk # ext4, mounted there in the guest: must never be taken
VM_VSERIAL_PCI=0000:00:08.0 # virtio-serial: port hostdev.ctl (control channel)
VM_XHCI_PCI=0000:00:0b.0    # qemu-xhci
VM_NIC_MACS=(52:54:00:12:34:03 52:54:00:12:34:04 52:54:00:12:34:11 52:54:00:12:34:12)

# vm_qemu_hw_args IMAGEDIR: print the hardware part of the QEMU command line, one argument
# per line. IMAGEDIR holds the backing images (created by run-vm).
vm_qemu_hw_args() {
	local img=$1 d name serial port
	printf '%s\n' \
		-M q35,kernel-irqchip=split -accel tcg -cpu max -m "$VM_MEM" -smp "$VM_SMP" \
		-device intel-iommu,intremap=on,caching-mode=on \
		-device qemu-xhci,id=xhci,p2=8,p3=8,addr=0x0b \
		-device usb-hub,bus=xhci.0,port="$VM_USB_HUB_PORT",id=hub
	for d in "${VM_DONGLES[@]}"; do
		read -r name serial port _ <<<"$d"
		printf '%s\n' \
			-blockdev "driver=raw,node-name=$name-disk,file.driver=file,file.filename=$img/$name.img" \
			-device "usb-storage,id=$name,drive=$name-disk,serial=$serial,bus=xhci.0,port=$port"
	done
	printf '%s\n' \
		-netdev user,id=n0,restrict=on -device e1000,netdev=n0,addr=0x03,mac=${VM_NIC_MACS[0]} \
		-netdev user,id=n1,restrict=on -device e1000,netdev=n1,addr=0x04,mac=${VM_NIC_MACS[1]} \
		-device pci-bridge,id=br0,chassis_nr=1,addr=0x05 \
		-netdev user,id=n2,restrict=on -device e1000,netdev=n2,bus=br0,addr=0x01,mac=${VM_NIC_MACS[2]} \
		-netdev user,id=n3,restrict=on -device e1000,netdev=n3,bus=br0,addr=0x02,mac=${VM_NIC_MACS[3]} \
		-device virtio-scsi-pci,id=scsi0,addr=0x06 \
		-blockdev "driver=raw,node-name=scsi-disk,file.driver=file,file.filename=$img/scsi.img" \
		-device scsi-hd,bus=scsi0.0,drive=scsi-disk,serial=SCSI-DISK,id=scsihd \
		-blockdev "driver=raw,node-name=hostdisk,file.driver=file,file.filename=$img/hostdisk.img" \
		-device virtio-blk-pci,drive=hostdisk,serial=HOSTDISK,addr=0x07
}

# vm_make_images IMAGEDIR: create the sparse backing images.
vm_make_images() {
	local img=$1 d name
	for d in "${VM_DONGLES[@]}"; do
		name=${d%% *}
		truncate -s 4M "$img/$name.img"
	done
	truncate -s 16M "$img/scsi.img"
	truncate -s 64M "$img/hostdisk.img"
}
