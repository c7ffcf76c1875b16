#!/bin/bash
# replug.sh: the outside unplugs and replugs dongles (QMP device_del/device_add through
# vmctl); the guest sees a new device number on the same port, then the new port path.
. "$VM_SRC/tests/vm/scenarios/lib.sh"

# devnum_is NAME SERIAL NOT-DEVNUM: NAME present with SERIAL and a devnum other than NOT-DEVNUM
devnum_is_new() {
	[ "$(usb_attr "$1" serial)" = "$2" ] && [ -n "$(usb_attr "$1" devnum)" ] &&
		[ "$(usb_attr "$1" devnum)" != "$3" ]
}
gone() { [ ! -e "/sys/bus/usb/devices/$1" ]; }

step "before"
usb_table
vmctl list

step "replug dongle-b on the same port (2)"
old=$(usb_attr 2-2 devnum)
[ "$(usb_attr 2-2 serial)" = DONGLE-B ] || fail "2-2 is not DONGLE-B"
echo "2-2 DONGLE-B devnum $old"
vmctl replug dongle-b off=0.5
wait_for 30 devnum_is_new 2-2 DONGLE-B "$old" || fail "DONGLE-B did not come back on 2-2 with a new devnum"
udevadm settle --timeout=30
new=$(usb_attr 2-2 devnum)
echo "2-2 DONGLE-B devnum $new"
ok "DONGLE-B replugged on 2-2: devnum $old -> $new"

step "replug dongle-b onto port 6"
vmctl replug dongle-b port=6
wait_for 30 devnum_is_new 2-6 DONGLE-B "" || fail "DONGLE-B did not appear on 2-6"
wait_for 10 gone 2-2 || fail "2-2 still present"
udevadm settle --timeout=30
usb_table
[ "$(usb_dongle_names DONGLE-B)" = 2-6 ] || fail "DONGLE-B is at '$(usb_dongle_names DONGLE-B)', want 2-6"
ok "DONGLE-B now at port path 2-6 (devnum $(usb_attr 2-6 devnum)), 2-2 is empty"

step "replug dup-2 from behind the hub (4.1) to 4.2"
vmctl replug dup-2 port=4.2
wait_for 30 devnum_is_new 1-4.2 DUP "" || fail "DUP did not appear on 1-4.2"
wait_for 10 gone 1-4.1 || fail "1-4.1 still present"
udevadm settle --timeout=30
ok "dup-2 now at 1-4.2; serial DUP at: $(usb_dongle_names DUP | tr '\n' ' ')"

step "the outside's view (host step info-usb, run on the host)"
vmctl host info-usb

step "put them back where hardware.sh says"
if vmctl plug dongle-b port=2 2>/dev/null; then fail "plugging an already plugged dongle worked"; fi
vmctl unplug dongle-b
wait_for 10 gone 2-6 || fail "2-6 still present after unplug"
ok "unplugged: DONGLE-B is nowhere ($(usb_dongle_names DONGLE-B | wc -l) devices)"
vmctl plug dongle-b port=2
vmctl replug dup-2 port=4.1
wait_for 30 devnum_is_new 2-2 DONGLE-B "" || fail "DONGLE-B not back on 2-2"
wait_for 30 devnum_is_new 1-4.1 DUP "" || fail "dup-2 not back on 1-4.1"
udevadm settle --timeout=30
usb_table
vmctl list
ok "back to the declared layout"
