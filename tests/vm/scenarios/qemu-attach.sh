#!/bin/bash
# attach-device / detach-device on a real kernel (in the test VM): a dongle is hotplugged into a
# running inner QEMU and unplugged again (appearing and disappearing in `info usb`); attaching
# the dongle another VM holds fails naming that VM and leaves both VMs untouched.
set -eu
. "$(dirname "$0")/qemu-lib.sh"
export HOSTDEV_STATE_DIR=/run/hostdev-scenario-qemu-attach
rm -rf "$HOSTDEV_STATE_DIR"
W=$(mktemp -d)
PA= PB=
trap '[ -z "$PA" ] || kill "$PA" 2>/dev/null; [ -z "$PB" ] || kill "$PB" 2>/dev/null; rm -rf "$W"' EXIT

command -v qemu-system-x86_64 >/dev/null || fail "no qemu-system-x86_64 in the guest"
dongle_dev DONGLE-C >/dev/null || fail "DONGLE-C missing in the guest"
dongle_xml DONGLE-C >"$W/c.xml"

step "two running inner VMs"
"${INNER_QEMU[@]}" -qmp "unix:$W/a.qmp,server=on,wait=off" >"$W/a.log" 2>&1 &
PA=$!
"${INNER_QEMU[@]}" -qmp "unix:$W/b.qmp,server=on,wait=off" >"$W/b.log" 2>&1 &
PB=$!
wait_for 120 test -S "$W/a.qmp" || fail "inner VM a did not start: $(cat "$W/a.log")"
wait_for 120 test -S "$W/b.qmp" || fail "inner VM b did not start: $(cat "$W/b.log")"
[ -z "$(usb_ids "$W/a.qmp")" ] || fail "VM a has USB devices at start"

step "attach DONGLE-C to vm-a"
run "$H" attach-device vm-a "$W/c.xml" --qmp "$W/a.qmp"
want_rc 0
wait_for 10 test "$(usb_ids "$W/a.qmp")" = "hostdev0 " || { info_usb "$W/a.qmp"; fail "DONGLE-C not in vm-a's info usb"; }
info_usb "$W/a.qmp"

step "attach DONGLE-C to vm-b: refused, both untouched"
run "$H" attach-device vm-b "$W/c.xml" --qmp "$W/b.qmp"
want_rc 1
printf '%s' "$ERR" | grep -q "in use by domain vm-a" || fail "the refusal does not name vm-a"
[ "$(usb_ids "$W/a.qmp")" = "hostdev0 " ] || fail "vm-a lost DONGLE-C"
[ -z "$(usb_ids "$W/b.qmp")" ] || fail "vm-b got a USB device"
run "$H" status --json
printf '%s' "$OUT" | grep -q '"vm-a"' || fail "status lost vm-a's claim"
if printf '%s' "$OUT" | grep -q '"vm-b"'; then fail "status shows a claim of vm-b"; fi

step "detach DONGLE-C from vm-a"
run "$H" detach-device vm-a "$W/c.xml"
want_rc 0
[ -z "$(usb_ids "$W/a.qmp")" ] || { info_usb "$W/a.qmp"; fail "DONGLE-C still in vm-a's info usb"; }
run "$H" status --json
[ "$(printf '%s' "$OUT" | tr -d ' \n')" = "[]" ] || fail "status not empty after detach"

step "now vm-b may have it"
run "$H" attach-device vm-b "$W/c.xml" --qmp "$W/b.qmp"
want_rc 0
[ "$(usb_ids "$W/b.qmp")" = "hostdev0 " ] || fail "DONGLE-C not in vm-b"
run "$H" detach-device vm-b "$W/c.xml" --qmp "$W/b.qmp"
want_rc 0
echo "PASS qemu-attach"
