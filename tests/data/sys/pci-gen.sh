#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build the host-side PCI fixture: pci-gen.sh DIR creates DIR/sys (HOSTDEV_SYSFS_ROOT),
# DIR/proc (HOSTDEV_PROC_ROOT) and DIR/dev (HOSTDEV_DEV_ROOT). Used by the fake kernel of the
# unit tests (tests/unit/fakekernel.c) and by CLI tests; a generator keeps the symlinks right.
#
#   0000:00:00.0  host bridge 8086:1237           group 0  no driver
#   0000:00:02.0  e1000 8086:100e, eth0           group 1  e1000   eth0 has 10.0.2.15 routes + fec0::2
#   0000:00:03.0  e1000, eth1                     group 2  e1000   free (link-local only)
#   0000:00:04.0  PCI bridge 1b36:0001            group 4  none
#     0000:01:01.0  e1000, eth2 (no reset attr)   group 4  e1000   free
#     0000:01:02.0  e1000, eth3                   group 4  e1000   free
#   0000:00:05.0  virtio-blk 1af4:1001, vda       group 3  virtio-pci  vda1 mounted on /
#   0000:00:06.0  VGA 1234:1111 drm/card0, fb0    group 5  bochs-drm   fbcon bound
#   0000:00:07.0  virtio-blk, vdb                 group 6  virtio-pci  vdb is swap
#   0000:00:08.0  e1000, eth4                     (no IOMMU group)
#   0000:00:09.0  e1000, eth5 enslaved to br0     group 7  e1000   br0 carries a route
#   0000:00:0a.0  virtio-blk, vdc                 group 8  virtio-pci  vdc1 under dm-0 on /home
#   0000:00:0b.0  virtio-blk, vdd                 group 9  virtio-pci  btrfs on /srv (0:40)
#   0000:00:0c.0  e1000, eth6, SR-IOV PF          group 10 e1000   sriov_numvfs 2
set -eu
D=${1:?usage: pci-gen.sh DIR}
mkdir -p "$D"
D=$(cd "$D" && pwd)
S=$D/sys
P=$D/proc
mkdir -p "$S/devices/pci0000:00" "$S/devices/virtual/net" "$S/bus/pci/devices" "$S/bus/pci/drivers" \
        "$S/kernel/iommu_groups" "$S/class/net" "$S/class/block" "$S/class/graphics" "$S/class/drm" \
        "$S/class/vtconsole" "$S/dev/block" "$S/dev/char" "$P/self" "$P/net" "$D/dev/vfio"
: >"$S/bus/pci/drivers_probe"
: >"$S/bus/pci/rescan"
echo 0 >"$S/bus/pci/drivers_autoprobe"
: >"$D/dev/vfio/vfio"

for drv in e1000 vfio-pci pci-stub virtio-pci bochs-drm; do
        mkdir -p "$S/bus/pci/drivers/$drv"
        for f in bind unbind new_id remove_id; do : >"$S/bus/pci/drivers/$drv/$f"; done
done

# pcidev PARENT_REL ADDR VENDOR DEVICE CLASS GROUP DRIVER RESET(yes/no)
pcidev() {
        local parent=$1 addr=$2 ven=$3 dev=$4 class=$5 group=$6 drv=$7 reset=$8
        local d=$S/devices/$parent/$addr
        mkdir -p "$d"
        echo "$ven" >"$d/vendor"
        echo "$dev" >"$d/device"
        echo "$ven" >"$d/subsystem_vendor"
        echo 0x1100 >"$d/subsystem_device"
        echo "$class" >"$d/class"
        echo 0x03 >"$d/revision"
        echo '(null)' >"$d/driver_override"
        echo -1 >"$d/numa_node"
        echo 1 >"$d/enable"
        printf 'PCI_CLASS=%X\nPCI_ID=%s:%s\nPCI_SUBSYS_ID=%s:1100\nPCI_SLOT_NAME=%s\n' "$((class))" \
                "${ven#0x}" "${dev#0x}" "${ven#0x}" "$addr" >"$d/uevent"
        ln -sr "$S/bus/pci" "$d/subsystem"
        ln -sr "$d" "$S/bus/pci/devices/$addr"
        if [ "$group" != - ]; then
                mkdir -p "$S/kernel/iommu_groups/$group/devices"
                ln -sr "$S/kernel/iommu_groups/$group" "$d/iommu_group"
                ln -sr "$d" "$S/kernel/iommu_groups/$group/devices/$addr"
        fi
        if [ "$drv" != - ]; then
                ln -sr "$S/bus/pci/drivers/$drv" "$d/driver"
                ln -sr "$d" "$S/bus/pci/drivers/$drv/$addr"
        fi
        if [ "$reset" = yes ]; then
                : >"$d/reset"
                echo "flr bus" >"$d/reset_method"
        fi
}

# netdev PCIDIR_REL SUBDIR IFNAME MAC
netdev() {
        local d=$S/devices/$1${2:+/$2}/net/$3
        mkdir -p "$d"
        echo "$4" >"$d/address"
        echo up >"$d/operstate"
        echo 1500 >"$d/mtu"
        printf 'INTERFACE=%s\n' "$3" >"$d/uevent"
        ln -sr "$d" "$S/class/net/$3"
}

# blockdev DEVDIR NAME MAJ:MIN [PART MAJ:MIN]
blockdev() {
        local d=$1/block/$2
        mkdir -p "$d"
        echo "$3" >"$d/dev"
        echo 131072 >"$d/size"
        echo 0 >"$d/removable"
        echo 0 >"$d/ro"
        ln -sr "$d" "$S/class/block/$2"
        ln -sr "$d" "$S/dev/block/$3"
        if [ $# -ge 5 ]; then
                mkdir -p "$d/$4"
                echo "$5" >"$d/$4/dev"
                echo 129024 >"$d/$4/size"
                echo 1 >"$d/$4/partition"
                ln -sr "$d/$4" "$S/class/block/$4"
                ln -sr "$d/$4" "$S/dev/block/$5"
        fi
}

R=pci0000:00
pcidev $R 0000:00:00.0 0x8086 0x1237 0x060000 0 - no
pcidev $R 0000:00:02.0 0x8086 0x100e 0x020000 1 e1000 yes
netdev $R/0000:00:02.0 "" eth0 52:54:00:12:34:02
pcidev $R 0000:00:03.0 0x8086 0x100e 0x020000 2 e1000 yes
netdev $R/0000:00:03.0 "" eth1 52:54:00:12:34:03
pcidev $R 0000:00:04.0 0x1b36 0x0001 0x060400 4 - no
mkdir -p "$S/devices/$R/0000:00:04.0/pci_bus/0000:01"
pcidev $R/0000:00:04.0 0000:01:01.0 0x8086 0x100e 0x020000 4 e1000 no
netdev $R/0000:00:04.0/0000:01:01.0 "" eth2 52:54:00:12:34:11
pcidev $R/0000:00:04.0 0000:01:02.0 0x8086 0x100e 0x020000 4 e1000 yes
netdev $R/0000:00:04.0/0000:01:02.0 "" eth3 52:54:00:12:34:12
pcidev $R 0000:00:05.0 0x1af4 0x1001 0x010000 3 virtio-pci yes
mkdir -p "$S/devices/$R/0000:00:05.0/virtio1"
blockdev "$S/devices/$R/0000:00:05.0/virtio1" vda 253:0 vda1 253:1
pcidev $R 0000:00:06.0 0x1234 0x1111 0x030000 5 bochs-drm no
echo 1 >"$S/devices/$R/0000:00:06.0/boot_vga"
mkdir -p "$S/devices/$R/0000:00:06.0/drm/card0" "$S/devices/$R/0000:00:06.0/graphics/fb0"
echo 226:0 >"$S/devices/$R/0000:00:06.0/drm/card0/dev"
echo 29:0 >"$S/devices/$R/0000:00:06.0/graphics/fb0/dev"
ln -sr "$S/devices/$R/0000:00:06.0/drm/card0" "$S/class/drm/card0"
ln -sr "$S/devices/$R/0000:00:06.0/graphics/fb0" "$S/class/graphics/fb0"
for v in 0 1; do mkdir -p "$S/devices/virtual/vtconsole/vtcon$v"; ln -sr "$S/devices/virtual/vtconsole/vtcon$v" "$S/class/vtconsole/vtcon$v"; done
echo "(S) dummy device" >"$S/devices/virtual/vtconsole/vtcon0/name"
echo 0 >"$S/devices/virtual/vtconsole/vtcon0/bind"
echo "(M) frame buffer device" >"$S/devices/virtual/vtconsole/vtcon1/name"
echo 1 >"$S/devices/virtual/vtconsole/vtcon1/bind"
pcidev $R 0000:00:07.0 0x1af4 0x1001 0x010000 6 virtio-pci no
mkdir -p "$S/devices/$R/0000:00:07.0/virtio2"
blockdev "$S/devices/$R/0000:00:07.0/virtio2" vdb 253:16
pcidev $R 0000:00:08.0 0x8086 0x100e 0x020000 - e1000 no
netdev $R/0000:00:08.0 "" eth4 52:54:00:12:34:08
pcidev $R 0000:00:09.0 0x8086 0x100e 0x020000 7 e1000 no
netdev $R/0000:00:09.0 "" eth5 52:54:00:12:34:09
mkdir -p "$S/devices/virtual/net/br0"
echo 52:54:00:aa:bb:cc >"$S/devices/virtual/net/br0/address"
ln -sr "$S/devices/virtual/net/br0" "$S/class/net/br0"
ln -sr "$S/devices/virtual/net/br0" "$S/devices/$R/0000:00:09.0/net/eth5/master"

# 0000:00:0a.0: virtio-blk vdc whose vdc1 holds the LVM volume dm-0, mounted on /home
pcidev $R 0000:00:0a.0 0x1af4 0x1001 0x010000 8 virtio-pci no
mkdir -p "$S/devices/$R/0000:00:0a.0/virtio3"
blockdev "$S/devices/$R/0000:00:0a.0/virtio3" vdc 253:32 vdc1 253:33
mkdir -p "$S/devices/virtual/block"
blockdev "$S/devices/virtual" dm-0 254:0
mkdir -p "$S/devices/virtual/block/dm-0/slaves"
ln -sr "$S/devices/$R/0000:00:0a.0/virtio3/block/vdc/vdc1" "$S/devices/virtual/block/dm-0/slaves/vdc1"
# 0000:00:0b.0: virtio-blk vdd with btrfs on /srv (mountinfo shows an anonymous 0:N device)
pcidev $R 0000:00:0b.0 0x1af4 0x1001 0x010000 9 virtio-pci no
mkdir -p "$S/devices/$R/0000:00:0b.0/virtio4"
blockdev "$S/devices/$R/0000:00:0b.0/virtio4" vdd 253:48

# 0000:00:0c.0: an SR-IOV physical function with 2 VFs enabled
pcidev $R 0000:00:0c.0 0x8086 0x100e 0x020000 10 e1000 no
netdev $R/0000:00:0c.0 "" eth6 52:54:00:12:34:0c
echo 7 >"$S/devices/$R/0000:00:0c.0/sriov_totalvfs"
echo 2 >"$S/devices/$R/0000:00:0c.0/sriov_numvfs"

cat >"$P/self/mountinfo" <<'MI'
22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=1000k,nr_inodes=250,mode=755
25 22 0:25 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=200k,mode=755
30 22 254:0 / /home rw,relatime shared:20 - ext4 /dev/mapper/vg-home rw
31 22 0:40 / /srv rw,relatime shared:21 - btrfs /dev/vdd rw,space_cache=v2,subvolid=5,subvol=/
MI
cat >"$P/swaps" <<'SW'
Filename				Type		Size		Used		Priority
/dev/vdb                                partition	1048572		0		-2
SW
cat >"$P/net/route" <<'RT'
Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT                                                       
eth0	00000000	0202000A	0003	0	0	100	00000000	0	0	0                                                                               
eth0	0002000A	00000000	0001	0	0	100	00FFFFFF	0	0	0                                                                               
br0	0000A8C0	00000000	0001	0	0	0	00FFFFFF	0	0	0                                                                               
RT
cat >"$P/net/if_inet6" <<'I6'
00000000000000000000000000000001 01 80 10 80       lo
fec00000000000000000000000000002 02 40 00 80     eth0
fe80000000000000505400fffe123402 02 40 20 80     eth0
fe80000000000000505400fffe123403 03 40 20 80     eth1
I6
cat >"$P/net/ipv6_route" <<'R6'
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 00200001       lo
R6
