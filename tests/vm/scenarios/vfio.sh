#!/bin/bash
# vfio.sh: bind the free root-bus e1000 to vfio-pci by hand, pass it to an inner QEMU
# (-device vfio-pci), see it in that QEMU's query-pci, then give it back to e1000.
. "$VM_SRC/tests/vm/scenarios/lib.sh"
bdf=$VM_NIC_FREE
sysdev=/sys/bus/pci/devices/$bdf
group=$(pci_group "$bdf")

bind_to() { # bind_to DRIVER
	echo "$1" >"$sysdev/driver_override"
	if [ -e "$sysdev/driver" ]; then echo "$bdf" >"$sysdev/driver/unbind"; fi
	echo "$bdf" >/sys/bus/pci/drivers_probe
	echo >"$sysdev/driver_override"
}
restore() {
	[ -n "${INNER_QEMU_PID:-}" ] && kill "$INNER_QEMU_PID" 2>/dev/null && wait "$INNER_QEMU_PID" 2>/dev/null
	[ "$(pci_driver "$bdf")" = e1000 ] || bind_to e1000 || true
}
trap restore EXIT

step "before"
netdev=$(pci_netdev "$bdf")
[ -n "$netdev" ] || fail "$bdf has no netdev"
[ "$bdf" != "$VM_NIC_OWN" ] || fail "refusing to take the host's own NIC"
echo "$bdf: driver $(pci_driver "$bdf"), netdev $netdev, IOMMU group $group"

step "bind $bdf to vfio-pci (driver_override + unbind + drivers_probe)"
bind_to vfio-pci
[ "$(pci_driver "$bdf")" = vfio-pci ] || fail "$bdf driver is '$(pci_driver "$bdf")', want vfio-pci"
wait_for 10 test -c "/dev/vfio/$group" || fail "no /dev/vfio/$group"
[ -z "$(pci_netdev "$bdf")" ] || fail "$bdf still has a netdev"
ls -l "/dev/vfio/$group"
ok "$bdf bound to vfio-pci, /dev/vfio/$group present, $netdev gone"

step "inner QEMU with -device vfio-pci,host=$bdf"
sock=/tmp/inner-vfio.qmp
inner_qemu_start "$sock" -device "vfio-pci,host=$bdf,id=pt0"
qmp "$sock" query-pci >/tmp/query-pci.json
python3 - /tmp/query-pci.json <<'PY'
import json, sys
found = []
for bus in json.load(open(sys.argv[1])):
    for d in bus["devices"]:
        print("inner QEMU: %02x:%02x.%x %04x:%04x %s" % (bus["bus"], d["slot"], d["function"],
              d["id"]["vendor"], d["id"]["device"], d.get("qdev_id", "")))
        if d.get("qdev_id") == "pt0":
            found.append(d)
if not found or (found[0]["id"]["vendor"], found[0]["id"]["device"]) != (0x8086, 0x100e):
    sys.exit("FAIL: the inner QEMU's query-pci has no 8086:100e with id pt0")
print("ok: inner QEMU's query-pci shows pt0 = 8086:100e (the e1000 passed through)")
PY
echo "qom-get pt0.host: $(qmp "$sock" qom-get '{"path": "pt0", "property": "host"}')"
fuser "/dev/vfio/$group" >/dev/null 2>&1 || fail "nobody holds /dev/vfio/$group while the inner QEMU runs"
ok "/dev/vfio/$group held by the inner QEMU (pid $INNER_QEMU_PID)"
qmp "$sock" quit >/dev/null || true
wait_for 30 bash -c "! kill -0 $INNER_QEMU_PID 2>/dev/null" || fail "inner QEMU did not quit"
wait "$INNER_QEMU_PID" 2>/dev/null || true
INNER_QEMU_PID=

step "give $bdf back to e1000"
bind_to e1000
[ "$(pci_driver "$bdf")" = e1000 ] || fail "$bdf driver is '$(pci_driver "$bdf")', want e1000"
wait_for 10 test -n "$(pci_netdev "$bdf")" || true
wait_for 10 bash -c "ls /sys/bus/pci/devices/$bdf/net 2>/dev/null | grep -q ." || fail "no netdev back on $bdf"
ip -br link show dev "$(pci_netdev "$bdf")"
ok "$bdf back on e1000 with netdev $(pci_netdev "$bdf")"
