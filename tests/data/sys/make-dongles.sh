#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build a sysfs fixture with identical USB license dongles (46f4:0001), the "dongle conflict":
#   make-dongles.sh DIR [VARIANT...]   creates DIR/sys (HOSTDEV_SYSFS_ROOT) and DIR/dev.
#
# Layout (an xHCI controller at 0000:00:04.0; bus 1 = its USB2 half, bus 2 = its USB3 half;
# root-hub ports N of usb1 and usb2 are peers, i.e. the same physical connector):
#   usb1  1d6b:0002 root hub
#     1-1    46f4:0001 "Sentinel HL"  serial DONGLE-A   devnum 2
#     1-2    46f4:0001 "Sentinel HL"  serial DONGLE-B   devnum 3
#     1-4    05e3:0610 hub                              devnum 4
#       1-4.1  46f4:0001 "Sentinel HL" serial DONGLE-C  devnum 5
#       1-4.2  46f4:0001 "Sentinel HL" serial DONGLE-D  devnum 6
#   usb2  1d6b:0003 root hub
#     2-3    0781:5581 "Ultra" serial 4C530001 (USB3 stick; its USB2 name would be 1-3)
# VARIANTs:
#   collide   1-4.1 and 1-4.2 both have serial 0001 (cheap dongles with one serial)
#   noserial  1-2 has no serial attribute
#   usbip     1-1 is bound to usbip-host (exported over USB/IP)
#   unplug-a  1-1 is absent
#   move-a    DONGLE-A is on port 1-3 (devnum 7) instead of 1-1
set -eu
D=${1:?usage: make-dongles.sh DIR [collide|noserial|usbip|unplug-a|move-a]...}
shift
collide=0 noserial=0 usbip=0 unplug_a=0 move_a=0
for v in "$@"; do
        case $v in
        collide) collide=1 ;;
        noserial) noserial=1 ;;
        usbip) usbip=1 ;;
        unplug-a) unplug_a=1 ;;
        move-a) move_a=1 ;;
        *) echo "make-dongles.sh: unknown variant $v" >&2; exit 2 ;;
        esac
done
mkdir -p "$D"
D=$(cd "$D" && pwd)
S=$D/sys
rm -rf "$S" "$D/dev"
HC=$S/devices/pci0000:00/0000:00:04.0
mkdir -p "$HC" "$S/bus/pci/devices" "$S/bus/pci/drivers/xhci_hcd" "$S/bus/usb/devices" \
        "$S/bus/usb/drivers/usb" "$S/bus/usb/drivers/hub" "$S/bus/usb/drivers/usbip-host" \
        "$S/bus/usb/drivers/usbfs" "$D/dev/bus/usb"

# the host controller
echo 0x8086 >"$HC/vendor"
echo 0x1e31 >"$HC/device"
echo 0x8086 >"$HC/subsystem_vendor"
echo 0x7270 >"$HC/subsystem_device"
echo 0x0c0330 >"$HC/class"
echo -1 >"$HC/numa_node"
ln -sr "$S/bus/pci" "$HC/subsystem"
ln -sr "$S/bus/pci/drivers/xhci_hcd" "$HC/driver"
ln -sr "$HC" "$S/bus/pci/devices/0000:00:04.0"

# usbdev DIR BUS DEVNUM VENDOR PRODUCT CLASS SPEED VERSION DRIVER [PRODUCT_STRING [SERIAL]]
usbdev() {
        local d=$1 bus=$2 devnum=$3 ven=$4 prod=$5 class=$6 speed=$7 ver=$8 drv=$9
        local pstr=${10:-} serial=${11:-}
        mkdir -p "$d"
        echo "$bus" >"$d/busnum"
        echo "$devnum" >"$d/devnum"
        echo "$ven" >"$d/idVendor"
        echo "$prod" >"$d/idProduct"
        echo "$class" >"$d/bDeviceClass"
        echo 00 >"$d/bDeviceSubClass"
        echo 00 >"$d/bDeviceProtocol"
        echo "$speed" >"$d/speed"
        echo " $ver" >"$d/version"
        echo 1 >"$d/bNumInterfaces"
        [ -n "$pstr" ] && echo "$pstr" >"$d/product"
        [ -n "$serial" ] && echo "$serial" >"$d/serial"
        printf 'DEVTYPE=usb_device\nBUSNUM=%03d\nDEVNUM=%03d\nPRODUCT=%x/%x/100\n' \
                "$bus" "$devnum" "$((16#$ven))" "$((16#$prod))" >"$d/uevent"
        ln -sr "$S/bus/usb" "$d/subsystem"
        ln -sr "$S/bus/usb/drivers/$drv" "$d/driver"
        ln -sr "$d" "$S/bus/usb/devices/$(basename "$d")"
        mkdir -p "$D/dev/bus/usb/$(printf %03d "$bus")"
        : >"$D/dev/bus/usb/$(printf %03d "$bus")/$(printf %03d "$devnum")"
}

# usbif DEVDIR NAME CLASS DRIVER: one interface
usbif() {
        local i=$1/$2
        mkdir -p "$i"
        echo 00 >"$i/bInterfaceNumber"
        echo "$3" >"$i/bInterfaceClass"
        echo 00 >"$i/bInterfaceSubClass"
        echo 00 >"$i/bInterfaceProtocol"
        ln -sr "$S/bus/usb" "$i/subsystem"
        [ "$4" != - ] && ln -sr "$S/bus/usb/drivers/$4" "$i/driver"
        ln -sr "$i" "$S/bus/usb/devices/$2"
}

# ports HUBIFDIR PREFIX N: port directories PREFIX-port1..N
ports() {
        for n in $(seq 1 "$3"); do mkdir -p "$1/$2-port$n"; done
}

U1=$HC/usb1
U2=$HC/usb2
usbdev "$U1" 1 1 1d6b 0002 09 480 2.00 hub "xHCI Host Controller"
usbif "$U1" 1-0:1.0 09 hub
ports "$U1/1-0:1.0" usb1 4
usbdev "$U2" 2 1 1d6b 0003 09 5000 3.00 hub "xHCI Host Controller"
usbif "$U2" 2-0:1.0 09 hub
ports "$U2/2-0:1.0" usb2 4
for n in 1 2 3 4; do
        ln -sr "$U2/2-0:1.0/usb2-port$n" "$U1/1-0:1.0/usb1-port$n/peer"
        ln -sr "$U1/1-0:1.0/usb1-port$n" "$U2/2-0:1.0/usb2-port$n/peer"
done

# dongle DIR DEVNUM SERIAL DRIVER PORTDIR
dongle() {
        usbdev "$1" 1 "$2" 46f4 0001 00 12 2.00 "$4" "Sentinel HL" "$3"
        usbif "$1" "$(basename "$1"):1.0" 03 -
        ln -sr "$5" "$1/port"
}

serial_a=DONGLE-A serial_b=DONGLE-B serial_c=DONGLE-C serial_d=DONGLE-D
[ $collide = 1 ] && serial_c=0001 serial_d=0001
[ $noserial = 1 ] && serial_b=
drv_a=usb
[ $usbip = 1 ] && drv_a=usbip-host

if [ $unplug_a = 0 ] && [ $move_a = 0 ]; then
        dongle "$U1/1-1" 2 "$serial_a" $drv_a "$U1/1-0:1.0/usb1-port1"
fi
if [ $move_a = 1 ]; then
        dongle "$U1/1-3" 7 "$serial_a" $drv_a "$U1/1-0:1.0/usb1-port3"
fi
dongle "$U1/1-2" 3 "$serial_b" usb "$U1/1-0:1.0/usb1-port2"
usbdev "$U1/1-4" 1 4 05e3 0610 09 480 2.00 usb "USB2.0 Hub"
ln -sr "$U1/1-0:1.0/usb1-port4" "$U1/1-4/port"
usbif "$U1/1-4" 1-4:1.0 09 hub
ports "$U1/1-4/1-4:1.0" 1-4 4
dongle "$U1/1-4/1-4.1" 5 "$serial_c" usb "$U1/1-4/1-4:1.0/1-4-port1"
dongle "$U1/1-4/1-4.2" 6 "$serial_d" usb "$U1/1-4/1-4:1.0/1-4-port2"

if [ $move_a = 0 ]; then
        usbdev "$U2/2-3" 2 2 0781 5581 00 5000 3.20 usb "Ultra" 4C530001
        usbif "$U2/2-3" 2-3:1.0 08 -
        ln -sr "$U2/2-0:1.0/usb2-port3" "$U2/2-3/port"
fi
