# Helpers for test-VM scenarios (run in the guest by tests/vm/run-vm). Source it:
#   . "$VM_SRC/tests/vm/scenarios/lib.sh"
# It sources hardware.sh (VM_DONGLES, VM_NIC_*, ...) and sets -euo pipefail.
set -euo pipefail
: "${VM_SRC:?not in the test VM (run through tests/vm/run-vm)}"
# shellcheck source=../hardware.sh
. "$VM_SRC/tests/vm/hardware.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
step() { echo; echo "== [${SECONDS}s] $*"; }

# Under TCG every exec costs ~0.1 s: these helpers use bash builtins only.
# usb_attr NAME ATTR: a sysfs attribute of /sys/bus/usb/devices/NAME (empty if absent).
usb_attr() {
	local v=
	[ -r "/sys/bus/usb/devices/$1/$2" ] && read -r v <"/sys/bus/usb/devices/$1/$2"
	printf '%s\n' "$v"
}

# usb_dongle_names [SERIAL]: sysfs names of the 46f4:0001 devices (with that serial), sorted.
usb_dongle_names() {
	local d v p s
	for d in /sys/bus/usb/devices/*; do   # glob order is sorted
		[ -r "$d/idVendor" ] || continue
		read -r v <"$d/idVendor"; read -r p <"$d/idProduct"
		[ "$v:$p" = "$VM_DONGLE_VID:$VM_DONGLE_PID" ] || continue
		if [ $# -gt 0 ]; then
			s=; [ -r "$d/serial" ] && read -r s <"$d/serial"
			[ "$s" = "$1" ] || continue
		fi
		echo "${d##*/}"
	done
}

# link_name PATH: the last component of where the symlink PATH points (empty if none).
link_name() { (cd -P "$1" 2>/dev/null && echo "${PWD##*/}") || true; }

# usb_table: a readable table of the dongles present now.
usb_table() {
	local n
	printf '%-8s %-10s %-10s %-4s %-4s %s\n' SYSFS ID SERIAL BUS DEV DRIVER-OF-INTERFACE
	for n in $(usb_dongle_names); do
		printf '%-8s %-10s %-10s %-4s %-4s %s\n' "$n" \
			"$(usb_attr "$n" idVendor):$(usb_attr "$n" idProduct)" "$(usb_attr "$n" serial)" \
			"$(usb_attr "$n" busnum)" "$(usb_attr "$n" devnum)" \
			"$(link_name "/sys/bus/usb/devices/$n:1.0/driver")"
	done
}

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds; 1 after SECONDS.
wait_for() {
	local limit=$1 end
	shift
	end=$(($(date +%s) + limit))
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# pci_group BDF: the IOMMU group number of a PCI device.
pci_group() { link_name "/sys/bus/pci/devices/$1/iommu_group"; }
# pci_driver BDF: its bound driver (empty if none).
pci_driver() { link_name "/sys/bus/pci/devices/$1/driver"; }
# pci_netdev BDF: its network interface name (empty if none).
pci_netdev() { ls "/sys/bus/pci/devices/$1/net" 2>/dev/null | head -1 || true; }

# inner_qemu_start SOCKET [QEMU-ARGS...]: start a second QEMU (TCG, no disk) with a QMP
# socket, in the background (pid in $INNER_QEMU_PID, log in $INNER_QEMU_LOG); waits for QMP.
inner_qemu_start() {
	local sock=$1
	shift
	INNER_QEMU_LOG=$(mktemp /tmp/inner-qemu.XXXXXX.log)
	qemu-system-x86_64 -accel tcg -M q35 -m 256 -nodefaults -display none -S \
		-qmp "unix:$sock,server=on,wait=off" "$@" >"$INNER_QEMU_LOG" 2>&1 &
	INNER_QEMU_PID=$!
	wait_for 60 test -S "$sock" || { cat "$INNER_QEMU_LOG" >&2; fail "inner QEMU did not start"; }
}

# qmp SOCKET COMMAND [ARGUMENTS-JSON]: run one QMP command, print the "return" as JSON.
# Exit 1 (message on stderr) on a QMP error.
qmp() {
	python3 - "$@" <<'PY'
import json, socket, sys
path, cmd = sys.argv[1], sys.argv[2]
args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(path)
f = s.makefile("rw")
def send(o):
    f.write(json.dumps(o) + "\n"); f.flush()
def reply():
    while True:
        m = json.loads(f.readline())
        if "event" not in m:
            return m
json.loads(f.readline())
send({"execute": "qmp_capabilities"}); reply()
o = {"execute": cmd}
if args is not None:
    o["arguments"] = args
send(o); r = reply()
if "error" in r:
    print("qmp %s: %s" % (cmd, r["error"]["desc"]), file=sys.stderr); sys.exit(1)
print(json.dumps(r["return"]))
PY
}
